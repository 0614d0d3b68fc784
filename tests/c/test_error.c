/*
 * test_error.c: the error-code table and the per-thread message buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "schedtest/error.h"

static void test_error__names_round_trip(void **state)
{
    (void)state;
    assert_true(st_error_count() > 10);
    for (int i = 0; i < st_error_count(); i++) {
        int code = st_error_at(i);
        const char *name = st_error_name(code);
        assert_non_null(name);
        assert_non_null(st_error_describe(code));
        assert_int_equal(st_error_from_name(name), code);
        /* codes are unique */
        for (int j = i + 1; j < st_error_count(); j++)
            assert_int_not_equal(code, st_error_at(j));
    }
}

static void test_error__stable_values(void **state)
{
    (void)state;
    /* Values are ABI: these must never change. */
    assert_int_equal(ST_OK, 0);
    assert_int_equal(ST_ENOENT, -4);
    assert_string_equal(st_error_name(ST_ENOENT), "ENOENT");
    assert_string_equal(st_error_name(ST_EVMBOOT), "EVMBOOT");
    assert_string_equal(st_error_name(ST_EGITREF), "EGITREF");
    assert_null(st_error_name(12345));
    assert_int_equal(st_error_from_name("NOPE"), ST_ERROR);
}

static void test_error__set_returns_code_and_keeps_message(void **state)
{
    (void)state;
    st_error_clear();
    assert_int_equal(st_error_last_code(), ST_OK);
    assert_string_equal(st_error_last(), "");
    int rc = st_error_set(ST_EPARSE, "%s: field %s", "a.json", "passed");
    assert_int_equal(rc, ST_EPARSE);
    assert_int_equal(st_error_last_code(), ST_EPARSE);
    assert_string_equal(st_error_last(), "a.json: field passed");
}

static void test_error__errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(st_error_from_errno(ENOENT), ST_ENOENT);
    assert_int_equal(st_error_from_errno(EEXIST), ST_EEXIST);
    assert_int_equal(st_error_from_errno(EACCES), ST_EIO);
    int rc = st_error_set_errno(ST_ENOENT, ENOENT, "open %s", "/x");
    assert_int_equal(rc, ST_ENOENT);
    assert_non_null(strstr(st_error_last(), "open /x: "));
    assert_non_null(strstr(st_error_last(), strerror(ENOENT)));
}

static void *other_thread(void *arg)
{
    (void)arg;
    st_error_set(ST_EBUSY, "from the other thread");
    return NULL;
}

static void test_error__per_thread(void **state)
{
    (void)state;
    st_error_set(ST_EIO, "mine");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, NULL);
    assert_string_equal(st_error_last(), "mine");
    assert_int_equal(st_error_last_code(), ST_EIO);
}

static void test_error__long_message_truncated_safely(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    st_error_set(ST_EINVAL, "%s", big);
    assert_true(strlen(st_error_last()) < sizeof big);
    assert_true(strlen(st_error_last()) > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__names_round_trip),
        cmocka_unit_test(test_error__stable_values),
        cmocka_unit_test(test_error__set_returns_code_and_keeps_message),
        cmocka_unit_test(test_error__errno_mapping),
        cmocka_unit_test(test_error__per_thread),
        cmocka_unit_test(test_error__long_message_truncated_safely),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
