/*
 * test_sidecar.c: SipHash-1-3, the variant hash, names, the runs root,
 * serialization order and the write path (pre-clear, explicit dir).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/json.h"
#include "schedtest/sidecar.h"

/* Published SipHash-1-3 vectors with the all-zero key (the digest crate's
 * sip-hash tests; CPython's siphash13 hash of the same bytes agrees). */
static void test_sidecar__siphash13_vectors(void **state)
{
    (void)state;
    assert_true(st_sidecar_siphash13(0, 0, "", 0) == 0xd1fba762150c532cULL);
    assert_true(st_sidecar_siphash13(0, 0, "siphash", 7) ==
                0x8264ceeccb16bcbeULL);
    assert_true(st_sidecar_siphash13(0, 0, "digest-sip_hash", 15) ==
                0xce31007e34130c0aULL);
    /* 8 and 16 bytes: full blocks, no tail (values from CPython). */
    assert_true(st_sidecar_siphash13(0, 0, "abcdefgh", 8) ==
                0x3f7b849c0b8e35eaULL);
    assert_true(st_sidecar_siphash13(0, 0, "abcdefghijklmnop", 16) ==
                0x94f60d3d29e6a312ULL);
}

static void test_sidecar__variant_hash_rules(void **state)
{
    (void)state;
    const char *s1[] = {"b=2", "a=1"}, *s2[] = {"a=1", "b=2"};
    st_sidecar_variant v = {.topology = "1n2l4c1t", .scheduler = "scx",
                            .work_type = "SpinWait", .sysctls = s1,
                            .nsysctls = 2};
    uint64_t h1, h2, h3;
    assert_int_equal(st_sidecar_variant_hash(&h1, &v), 0);
    v.sysctls = s2;
    assert_int_equal(st_sidecar_variant_hash(&h2, &v), 0);
    assert_true(h1 == h2); /* sysctls are hashed sorted */
    v.payload = "schbench";
    assert_int_equal(st_sidecar_variant_hash(&h3, &v), 0);
    assert_true(h3 != h2);
    /* the exact byte stream of spec §1.1 */
    const char stream[] = "1n2l4c1t\0scx\0\xfc" "schbench\0SpinWait\0\xfe\xfd"
                          "a=1\0b=2\0\xff";
    assert_true(h3 == st_sidecar_siphash13(0, 0, stream, sizeof stream - 1));
    char *name;
    assert_int_equal(st_sidecar_file_name(&name, "t", 0xabcULL), 0);
    assert_string_equal(name, "t-0000000000000abc.ktstr.json");
    free(name);
    assert_int_equal(st_sidecar_file_name(&name, "a/b", 1), ST_EINVAL);
}

static void test_sidecar__names(void **state)
{
    (void)state;
    char *n;
    assert_int_equal(st_sidecar_run_dir_name(&n, "6.14", "abc1234"), 0);
    assert_string_equal(n, "6.14-abc1234");
    free(n);
    assert_int_equal(st_sidecar_run_dir_name(&n, NULL, ""), 0);
    assert_string_equal(n, "unknown-unknown");
    free(n);
    assert_true(st_sidecar_is_sidecar_name("x-00.ktstr.json"));
    assert_false(st_sidecar_is_sidecar_name("x.json"));
    assert_false(st_sidecar_is_sidecar_name("x.ktstr.json.tmp"));
}

static void test_sidecar__runs_root(void **state)
{
    (void)state;
    char *tmp, *r, *sub, *git;
    assert_int_equal(st_fs_mkdtemp(&tmp, "st-root-"), 0);
    assert_true(asprintf(&sub, "%s/a/b", tmp) > 0);
    assert_true(asprintf(&git, "%s/.git", tmp) > 0);
    assert_int_equal(st_fs_mkdir_p(sub, 0755), 0);
    assert_int_equal(st_fs_mkdir_p(git, 0755), 0);
    unsetenv("SCHEDTEST_RUNS_ROOT");
    unsetenv("KTSTR_RUNS_ROOT");
    assert_int_equal(st_sidecar_runs_root(&r, sub), 0);
    char *want;
    assert_true(asprintf(&want, "%s/target/ktstr", tmp) > 0);
    assert_string_equal(r, want);
    free(r);
    setenv("KTSTR_RUNS_ROOT", "/k", 1);
    assert_int_equal(st_sidecar_runs_root(&r, sub), 0);
    assert_string_equal(r, "/k");
    free(r);
    setenv("SCHEDTEST_RUNS_ROOT", "/s", 1);
    assert_int_equal(st_sidecar_runs_root(&r, sub), 0);
    assert_string_equal(r, "/s");
    free(r);
    unsetenv("SCHEDTEST_RUNS_ROOT");
    unsetenv("KTSTR_RUNS_ROOT");
    st_fs_remove_tree(tmp);
    free(tmp);
    free(sub);
    free(git);
    free(want);
}

static st_json_parser *P;

static st_json *parse(char *buf)
{
    st_json *r;
    assert_int_equal(st_json_parse(&r, P, buf, strlen(buf)), 0);
    return r;
}

static void test_sidecar__serialize_schema_order(void **state)
{
    (void)state;
    char buf[] = "{\"zz_extra\": 1, \"run_id\": \"r\", \"timestamp\": \"t\", "
                 "\"work_type\": \"w\", \"scheduler\": \"s\", \"topology\": "
                 "\"1n1l1c1t\", \"test_name\": \"x\", \"passed\": true, "
                 "\"skipped\": false, \"vcpus\": 4.0, \"host_dilation\": null,"
                 " \"stats\": {\"worst_spread\": 3, \"ext_metrics\": "
                 "{\"b\": 2, \"a\": 1.5}}}";
    st_json *r = parse(buf);
    st_buf b;
    st_buf_init(&b);
    assert_int_equal(st_sidecar_serialize(&b, r), 0);
    const char *t = b.data;
    /* struct order, then extras */
    const char *keys[] = {"\"test_name\": \"x\"", "\"topology\"",
                          "\"scheduler_commit\": null", "\"metrics\": []",
                          "\"stats\": {", "\"cgroups\": []",
                          "\"worst_spread\": 3.0", "\"ext_metrics\": {\n"
                          "      \"a\": 1.5,\n      \"b\": 2.0\n    }",
                          "\"monitor\": null", "\"vcpus\": 4,",
                          "\"throughput_denomination\": \"wall\"",
                          "\"perf_delta_assertions\": []", "\"zz_extra\": 1"};
    const char *at = t;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *f = strstr(at, keys[i]);
        if (!f)
            fail_msg("missing or out of order: %s\n%s", keys[i], t);
        at = f;
    }
    assert_null(strstr(t, "host_dilation")); /* omitted when None */
    /* reparse + reserialize is identical */
    char *copy = strdup(t);
    st_json *r2 = parse(copy);
    st_buf b2;
    st_buf_init(&b2);
    assert_int_equal(st_sidecar_serialize(&b2, r2), 0);
    assert_string_equal(b2.data, b.data);
    free(copy);
    st_buf_free(&b);
    st_buf_free(&b2);
    char bad[] = "{\"test_name\": 3}";
    st_buf_init(&b);
    assert_int_equal(st_sidecar_serialize(&b, parse(bad)), ST_EINVAL);
    assert_non_null(strstr(st_error_last(), "test_name"));
    st_buf_free(&b);
}

static int count_files(const char *dir)
{
    char **names;
    size_t n;
    if (st_fs_list(&names, &n, dir) < 0)
        return -1;
    st_fs_list_free(names);
    return (int)n;
}

static void test_sidecar__write_preclear_and_dir(void **state)
{
    (void)state;
    char *tmp;
    assert_int_equal(st_fs_mkdtemp(&tmp, "st-write-"), 0);
    char doc[] = "{\"test_name\": \"a\", \"topology\": \"t\", \"scheduler\": "
                 "\"s\", \"work_type\": \"w\", \"timestamp\": \"x\", "
                 "\"run_id\": \"r\", \"passed\": true, \"skipped\": false, "
                 "\"stats\": {}, \"kernel_version\": \"6.1\", "
                 "\"project_commit\": \"abc1234\"}";
    st_json *r = parse(doc);
    char *stale, *rundir;
    assert_true(asprintf(&rundir, "%s/6.1-abc1234", tmp) > 0);
    assert_true(asprintf(&stale, "%s/old-1.ktstr.json", rundir) > 0);
    assert_int_equal(st_fs_mkdir_p(rundir, 0755), 0);
    assert_int_equal(st_fs_write_atomic(stale, "{}", 2, 0644), 0);
    st_sidecar_reset_preclear();
    unsetenv("SCHEDTEST_SIDECAR_DIR");
    unsetenv("KTSTR_SIDECAR_DIR");
    unsetenv("SCHEDTEST_RUN_EPOCH");
    unsetenv("KTSTR_RUN_EPOCH");
    st_sidecar_write_opts o = {.runs_root = tmp};
    char *path;
    assert_int_equal(st_sidecar_write(&path, r, &o), 0);
    assert_int_equal(access(stale, F_OK), -1); /* pre-cleared */
    assert_int_equal(access(path, F_OK), 0);
    free(path);
    /* a second write of this invocation keeps the first */
    assert_int_equal(st_fs_write_atomic(stale, "{}", 2, 0644), 0);
    assert_int_equal(st_sidecar_write(&path, r, &o), 0);
    assert_int_equal(access(stale, F_OK), 0);
    free(path);
    /* a new invocation (epoch) wipes again, once */
    setenv("SCHEDTEST_RUN_EPOCH", "e2", 1);
    assert_int_equal(st_sidecar_write(&path, r, &o), 0);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(st_fs_write_atomic(stale, "{}", 2, 0644), 0);
    free(path);
    assert_int_equal(st_sidecar_write(&path, r, &o), 0);
    assert_int_equal(access(stale, F_OK), 0);
    free(path);
    unsetenv("SCHEDTEST_RUN_EPOCH");
    /* lock file lives in .locks */
    char *lock;
    assert_true(asprintf(&lock, "%s/.locks/6.1-abc1234.lock", tmp) > 0);
    assert_int_equal(access(lock, F_OK), 0);
    /* explicit directory: no pre-clear */
    char *own;
    assert_true(asprintf(&own, "%s/own", tmp) > 0);
    setenv("SCHEDTEST_SIDECAR_DIR", own, 1);
    assert_int_equal(st_sidecar_write(&path, r, &o), 0);
    assert_int_equal(strncmp(path, own, strlen(own)), 0);
    assert_int_equal(count_files(own), 1);
    free(path);
    unsetenv("SCHEDTEST_SIDECAR_DIR");
    st_fs_remove_tree(tmp);
    free(tmp);
    free(stale);
    free(rundir);
    free(lock);
    free(own);
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
        cmocka_unit_test(test_sidecar__siphash13_vectors),
        cmocka_unit_test(test_sidecar__variant_hash_rules),
        cmocka_unit_test(test_sidecar__names),
        cmocka_unit_test(test_sidecar__runs_root),
        cmocka_unit_test(test_sidecar__serialize_schema_order),
        cmocka_unit_test(test_sidecar__write_preclear_and_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
