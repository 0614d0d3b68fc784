/*
 * test_json.c: the strict in-place parser and serde_json's number format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedtest/error.h"
#include "schedtest/json.h"

static st_json_parser *P;

static int parse(const char *text, st_json **root)
{
    size_t n = strlen(text);
    static char buf[1 << 16];
    memcpy(buf, text, n);
    return st_json_parse(root, P, buf, n);
}

static void expect_error(const char *text, size_t off, const char *reason)
{
    st_json *r;
    int rc = parse(text, &r);
    if (rc != ST_EPARSE)
        fail_msg("accepted: %s", text);
    assert_int_equal(st_json_parser_error_offset(P), off);
    if (!strstr(st_json_parser_error_reason(P), reason))
        fail_msg("reason '%s' lacks '%s'", st_json_parser_error_reason(P),
                 reason);
}

static void test_json__values_and_types(void **state)
{
    (void)state;
    st_json *r;
    assert_int_equal(parse(" {\"a\": [1, -2, 3.5, 1e3, true, false, null,"
                           " \"x\\n\\u00e9\\ud83d\\ude00\"], \"b\": {}} ",
                           &r), 0);
    assert_int_equal(r->type, ST_JSON_OBJECT);
    assert_int_equal(r->n, 2);
    const st_json *a = st_json_get(r, "a");
    assert_int_equal(a->n, 8);
    assert_int_equal(a->u.items[0].type, ST_JSON_INT);
    assert_int_equal(a->u.items[1].u.i, -2);
    assert_int_equal(a->u.items[2].type, ST_JSON_FLOAT);
    assert_true(a->u.items[2].u.d == 3.5);
    assert_int_equal(a->u.items[3].type, ST_JSON_FLOAT);
    assert_true(a->u.items[3].u.d == 1000.0);
    assert_int_equal(a->u.items[4].type, ST_JSON_TRUE);
    assert_int_equal(a->u.items[6].type, ST_JSON_NULL);
    assert_string_equal(a->u.items[7].u.s, "x\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(st_json_get(r, "b")->type, ST_JSON_OBJECT);
    assert_null(st_json_get(r, "c"));
}

static void test_json__numbers_exact(void **state)
{
    (void)state;
    const char *cases[] = {"0.1", "17508213019.0", "1.7976931348623157e308",
                           "5e-324", "123456789012345678901234567890",
                           "0.30000000000000004", "-0.0", "2.2250738585072014e-308",
                           "9007199254740993", "1.00000000000000011102230246251565404236316680908203125"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        st_json *r;
        char t[128];
        snprintf(t, sizeof t, "[%s]", cases[i]);
        assert_int_equal(parse(t, &r), 0);
        const st_json *v = &r->u.items[0];
        double want = strtod(cases[i], NULL);
        if (v->type == ST_JSON_INT)
            assert_true((double)v->u.i == want);
        else
            assert_true(v->u.d == want && signbit(v->u.d) == signbit(want));
    }
    st_json *r;
    assert_int_equal(parse("[9223372036854775807, -9223372036854775808, "
                           "9223372036854775808]", &r), 0);
    assert_int_equal(r->u.items[0].type, ST_JSON_INT);
    assert_true(r->u.items[0].u.i == INT64_MAX);
    assert_true(r->u.items[1].u.i == INT64_MIN);
    assert_int_equal(r->u.items[2].type, ST_JSON_FLOAT);
}

static void test_json__strict_errors_with_offsets(void **state)
{
    (void)state;
    expect_error("", 0, "empty document");
    expect_error("{\"a\": 1", 7, "truncated");
    expect_error("{\"a\": NaN}", 6, "NaN and Infinity");
    expect_error("[Infinity]", 1, "NaN and Infinity");
    expect_error("[-Infinity]", 1, "NaN and Infinity");
    expect_error("[1e999]", 1, "out of range");
    expect_error("[01]", 2, "leading zero");
    expect_error("[1,]", 3, "where a value");
    expect_error("{\"a\" 1}", 5, "expected ':'");
    expect_error("{\"a\": 1,}", 8, "key string");
    expect_error("[\"\xff\"]", 2, "invalid UTF-8");
    expect_error("[\"\xed\xa0\x80\"]", 2, "invalid UTF-8");
    expect_error("[\"\\ud800\"]", 2, "surrogate");
    expect_error("[\"a\tb\"]", 3, "control character");
    expect_error("[\"\\x\"]", 2, "unknown escape");
    expect_error("[1] x", 4, "trailing");
    expect_error("[tru]", 1, "invalid literal");
    expect_error("// c\n[]", 0, "unexpected '/'");
}

static void test_json__depth_limit(void **state)
{
    (void)state;
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    expect_error(deep, 64, "nesting deeper than 64");
    deep[64] = ']';
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    st_json *r;
    assert_int_equal(parse(deep, &r), 0);
}

static void test_json__embedded_nul_is_an_error(void **state)
{
    (void)state;
    char buf[16] = "[1,\0 2]";
    st_json *r;
    assert_int_equal(st_json_parse(&r, P, buf, 7), ST_EPARSE);
    assert_int_equal(st_json_parser_error_offset(P), 3);
}

static void check_double(double d, const char *want)
{
    st_buf b;
    st_buf_init(&b);
    st_json_write_double(&b, d);
    assert_string_equal(b.data, want);
    st_buf_free(&b);
}

/* serde_json (ryu) output for these values. */
static void test_json__double_format_like_serde(void **state)
{
    (void)state;
    check_double(1.0, "1.0");
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(0.1, "0.1");
    check_double(3.5, "3.5");
    check_double(-2.25, "-2.25");
    check_double(17508213019.0, "17508213019.0");
    check_double(1e15, "1000000000000000.0");
    check_double(1e16, "1e16");
    check_double(1.5e16, "1.5e16");
    check_double(123456789012345680.0, "1.2345678901234568e17");
    check_double(0.0001, "0.0001");
    check_double(0.00001, "0.00001");
    check_double(0.000001, "1e-6");
    check_double(1.5e-7, "1.5e-7");
    check_double(0.30000000000000004, "0.30000000000000004");
    check_double(5e-324, "5e-324");
    check_double(1.7976931348623157e308, "1.7976931348623157e308");
    check_double(NAN, "null");
    check_double(INFINITY, "null");
}

static void test_json__pretty_layout(void **state)
{
    (void)state;
    st_json *r;
    assert_int_equal(parse("{\"a\":[1,2.0,{}],\"b\":{\"c\":\"\\u0001\"},"
                           "\"d\":[]}", &r), 0);
    st_buf b;
    st_buf_init(&b);
    st_json_write_pretty(&b, r, 0);
    assert_string_equal(b.data, "{\n  \"a\": [\n    1,\n    2.0,\n    {}\n"
                        "  ],\n  \"b\": {\n    \"c\": \"\\u0001\"\n  },\n"
                        "  \"d\": []\n}");
    st_buf_free(&b);
}

static int setup(void **state)
{
    (void)state;
    return st_json_parser_new(&P);
}

static int teardown(void **state)
{
    (void)state;
    st_json_parser_free(P);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__values_and_types),
        cmocka_unit_test(test_json__numbers_exact),
        cmocka_unit_test(test_json__strict_errors_with_offsets),
        cmocka_unit_test(test_json__depth_limit),
        cmocka_unit_test(test_json__embedded_nul_is_an_error),
        cmocka_unit_test(test_json__double_format_like_serde),
        cmocka_unit_test(test_json__pretty_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
