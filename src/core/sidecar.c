/*
 * sidecar.c: ktstr-compatible sidecar files (schema, pretty serialization,
 * variant hash, run directories, pre-clear, atomic publication).
 */
#include "schedtest/sidecar.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* {====================================================================
 * SipHash-1-3 (streaming over the concatenated inputs)
 * ===================================================================== */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct {
    uint64_t v0, v1, v2, v3;
    uint8_t tail[8];
    size_t ntail;
    uint64_t total;
} sip13;

static void sip_round(sip13 *s)
{
    s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
    s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
    s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static void sip_init(sip13 *s, uint64_t k0, uint64_t k1)
{
    s->v0 = k0 ^ 0x736f6d6570736575ULL;
    s->v1 = k1 ^ 0x646f72616e646f6dULL;
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    s->ntail = 0;
    s->total = 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void sip_block(sip13 *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    s->v0 ^= m;
}

static void sip_write(sip13 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    while (len) {
        s->tail[s->ntail++] = *p++;
        len--;
        if (s->ntail == 8) {
            sip_block(s, le64(s->tail));
            s->ntail = 0;
        }
    }
}

static uint64_t sip_finish(sip13 *s)
{
    uint64_t b = s->total << 56;
    for (size_t i = 0; i < s->ntail; i++)
        b |= (uint64_t)s->tail[i] << (8 * i);
    sip_block(s, b);
    s->v2 ^= 0xff;
    sip_round(s);
    sip_round(s);
    sip_round(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t st_sidecar_siphash13(uint64_t k0, uint64_t k1, const void *data,
                              size_t len)
{
    sip13 s;
    sip_init(&s, k0, k1);
    sip_write(&s, data, len);
    return sip_finish(&s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sip_str0(sip13 *s, const char *str)
{
    if (str)
        sip_write(s, str, strlen(str));
    sip_write(s, "", 1);
}

static int sip_sorted(sip13 *s, const char *const *v, size_t n)
{
    if (!n)
        return 0;
    const char **copy = malloc(n * sizeof *copy);
    if (!copy)
        return st_error_set(ST_ENOMEM, "sidecar: out of memory");
    memcpy(copy, v, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, cmp_str);
    for (size_t i = 0; i < n; i++)
        sip_str0(s, copy[i]);
    free(copy);
    return 0;
}

int st_sidecar_variant_hash(uint64_t *out, const st_sidecar_variant *v)
{
    sip13 s;
    int rc;
    sip_init(&s, 0, 0);
    sip_str0(&s, v->topology);
    sip_str0(&s, v->scheduler);
    sip_write(&s, "\xfc", 1);
    if (v->payload)
        sip_str0(&s, v->payload);
    sip_str0(&s, v->work_type);
    sip_write(&s, "\xfe", 1);
    for (size_t i = 0; i < v->nflags; i++)
        sip_str0(&s, v->flags[i]);
    sip_write(&s, "\xfd", 1);
    if ((rc = sip_sorted(&s, v->sysctls, v->nsysctls)) < 0)
        return rc;
    sip_write(&s, "\xff", 1);
    if ((rc = sip_sorted(&s, v->kargs, v->nkargs)) < 0)
        return rc;
    *out = sip_finish(&s);
    return 0;
}

static const char *jstr(const st_json *obj, const char *key)
{
    const st_json *v = st_json_get(obj, key);
    return v && v->type == ST_JSON_STRING ? v->u.s : NULL;
}

/* Strings of an array field, into a malloc'ed vector. */
static int jstrings(const char ***out, size_t *n, const st_json *obj,
                    const char *key)
{
    const st_json *v = st_json_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!v || v->type != ST_JSON_ARRAY || v->n == 0)
        return 0;
    *out = malloc(v->n * sizeof **out);
    if (!*out)
        return st_error_set(ST_ENOMEM, "sidecar: out of memory");
    for (uint32_t i = 0; i < v->n; i++)
        if (v->u.items[i].type == ST_JSON_STRING)
            (*out)[(*n)++] = v->u.items[i].u.s;
    return 0;
}

int st_sidecar_variant_hash_json(uint64_t *out, const st_json *sc)
{
    st_sidecar_variant v = {
        .topology = jstr(sc, "topology"),
        .scheduler = jstr(sc, "scheduler"),
        .payload = jstr(sc, "payload"),
        .work_type = jstr(sc, "work_type"),
    };
    const char **flags = NULL, **sys = NULL, **kargs = NULL;
    int rc;
    if ((rc = jstrings(&flags, &v.nflags, sc, "active_flags")) < 0 ||
        (rc = jstrings(&sys, &v.nsysctls, sc, "sysctls")) < 0 ||
        (rc = jstrings(&kargs, &v.nkargs, sc, "kargs")) < 0)
        goto out;
    v.flags = flags;
    v.sysctls = sys;
    v.kargs = kargs;
    rc = st_sidecar_variant_hash(out, &v);
out:
    free(flags);
    free(sys);
    free(kargs);
    return rc;
}
/* }==================================================================== */

/* {====================================================================
 * Names and places
 * ===================================================================== */

int st_sidecar_file_name(char **out, const char *test_name, uint64_t hash)
{
    if (!test_name || !*test_name || strchr(test_name, '/'))
        return st_error_set(ST_EINVAL, "sidecar: test_name '%s' cannot be "
                            "a file name (empty or contains '/')",
                            test_name ? test_name : "");
    if (asprintf(out, "%s-%016llx.ktstr.json", test_name,
                 (unsigned long long)hash) < 0)
        return st_error_set(ST_ENOMEM, "sidecar: out of memory");
    return 0;
}

int st_sidecar_run_dir_name(char **out, const char *kernel,
                            const char *commit)
{
    if (!kernel || !*kernel)
        kernel = "unknown";
    if (!commit || !*commit)
        commit = "unknown";
    if (strchr(kernel, '/') || strchr(commit, '/'))
        return st_error_set(ST_EINVAL, "sidecar: kernel '%s' / commit '%s' "
                            "cannot be part of a directory name (contains "
                            "'/')", kernel, commit);
    if (asprintf(out, "%s-%s", kernel, commit) < 0)
        return st_error_set(ST_ENOMEM, "sidecar: out of memory");
    return 0;
}

int st_sidecar_is_sidecar_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0 &&
           strstr(name, ".ktstr.") != NULL;
}

const char *st_sidecar_dir_override(void)
{
    const char *env = getenv("SCHEDTEST_SIDECAR_DIR");
    if (!env || !*env)
        env = getenv("KTSTR_SIDECAR_DIR");
    return env && *env ? env : NULL;
}

int st_sidecar_runs_root(char **out, const char *cwd)
{
    const char *env = getenv("SCHEDTEST_RUNS_ROOT");
    if (!env || !*env)
        env = getenv("KTSTR_RUNS_ROOT");
    if (env && *env) {
        *out = strdup(env);
        return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
    }
    char *dir = cwd ? strdup(cwd) : getcwd(NULL, 0);
    if (!dir)
        return st_error_set_errno(ST_EIO, errno, "sidecar: current "
                                  "directory");
    char *start = strdup(dir);
    if (!start) {
        free(dir);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    /* Walk up to the nearest .git (a directory, or a file in worktrees). */
    for (;;) {
        char *probe;
        if (asprintf(&probe, "%s/.git", dir) < 0) {
            free(dir);
            free(start);
            return st_error_set(ST_ENOMEM, "out of memory");
        }
        int found = access(probe, F_OK) == 0;
        free(probe);
        if (found)
            break;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            /* no project: the starting directory */
            free(dir);
            dir = start;
            start = NULL;
            break;
        }
        *slash = '\0';
    }
    free(start);
    int rc = asprintf(out, "%s/target/ktstr", dir) < 0
                 ? st_error_set(ST_ENOMEM, "out of memory") : 0;
    free(dir);
    return rc;
}
/* }==================================================================== */

/* {====================================================================
 * Schema (ktstr struct order) and serialization
 * ===================================================================== */

enum kind { K_STR, K_INT, K_FLOAT, K_BOOL, K_OBJ, K_ARR, K_MAP, K_ANY };
enum presence {
    REQ,  /* non-Option: a default is written when absent */
    OPT,  /* Option: null when absent */
    OMIT  /* skip_serializing_if = "Option::is_none" */
};

typedef struct field field;
typedef struct {
    const char *name;
    const field *fields;
} schema;

struct field {
    const char *key;
    unsigned char kind;
    unsigned char presence;
    unsigned char elem;        /* K_ARR / K_MAP element kind */
    const schema *sub;         /* K_OBJ, or elements that are K_OBJ */
    const char *def;           /* REQ strings: default text, NULL = error */
};

#define END {NULL, 0, 0, 0, NULL, NULL}
#define S(k) {k, K_STR, REQ, 0, NULL, NULL}
#define SO(k) {k, K_STR, OPT, 0, NULL, NULL}
#define SX(k) {k, K_STR, OMIT, 0, NULL, NULL}
#define I(k) {k, K_INT, REQ, 0, NULL, NULL}
#define IO(k) {k, K_INT, OPT, 0, NULL, NULL}
#define IX(k) {k, K_INT, OMIT, 0, NULL, NULL}
#define F(k) {k, K_FLOAT, REQ, 0, NULL, NULL}
#define FO(k) {k, K_FLOAT, OPT, 0, NULL, NULL}
#define FX(k) {k, K_FLOAT, OMIT, 0, NULL, NULL}
#define B(k) {k, K_BOOL, REQ, 0, NULL, NULL}
#define OBJ(k, p, s) {k, K_OBJ, p, 0, &s, NULL}
#define ARR(k, e, s) {k, K_ARR, REQ, e, s, NULL}
#define MAP(k, p, e) {k, K_MAP, p, e, NULL, NULL}
#define ANY(k, p) {k, K_ANY, p, 0, NULL, NULL}

static const field f_metric[] = {
    S("name"), F("value"), ANY("polarity", REQ), S("unit"), S("source"),
    S("stream"), END
};
static const schema s_metric = {"Metric", f_metric};

static const field f_payload[] = {
    I("payload_index"), ARR("metrics", K_OBJ, &s_metric), IO("exit_code"),
    END
};
static const schema s_payload = {"PayloadMetrics", f_payload};

static const field f_cgroup[] = {
    I("num_workers"), I("num_cpus"), F("avg_off_cpu_pct"),
    F("min_off_cpu_pct"), F("max_off_cpu_pct"), F("spread"),
    I("max_gap_ms"), I("max_gap_cpu"), I("total_migrations"),
    F("migration_ratio"), F("p99_wake_latency_us"),
    F("median_wake_latency_us"), F("wake_latency_cv"),
    I("total_iterations"), F("mean_run_delay_us"), F("worst_run_delay_us"),
    F("page_locality"), F("cross_node_migration_ratio"),
    FO("wake_latency_tail_ratio"), F("iterations_per_worker"),
    MAP("ext_metrics", REQ, K_FLOAT), END
};
static const schema s_cgroup = {"CgroupStats", f_cgroup};

static const field f_phase[] = {
    I("step_index"), S("label"), MAP("metrics", REQ, K_FLOAT),
    I("sample_count"), END
};
static const schema s_phase = {"PhaseBucket", f_phase};

static const field f_stats[] = {
    ARR("cgroups", K_OBJ, &s_cgroup), I("total_workers"), I("total_cpus"),
    I("total_migrations"), F("worst_spread"), I("worst_gap_ms"),
    I("worst_gap_cpu"), F("worst_migration_ratio"),
    F("worst_p99_wake_latency_us"), F("worst_median_wake_latency_us"),
    F("worst_wake_latency_cv"), I("total_iterations"),
    F("worst_mean_run_delay_us"), F("worst_run_delay_us"),
    F("worst_page_locality"), F("worst_cross_node_migration_ratio"),
    FO("worst_wake_latency_tail_ratio"), F("worst_iterations_per_worker"),
    MAP("ext_metrics", REQ, K_FLOAT), ARR("phases", K_OBJ, &s_phase), END
};
static const schema s_stats = {"ScenarioStats", f_stats};

static const field f_events[] = {
    I("total_fallback"), F("fallback_rate"), I("max_fallback_burst"),
    I("total_dispatch_offline"), I("total_dispatch_keep_last"),
    F("keep_last_rate"), I("total_enq_skip_exiting"), END
};
static const schema s_events = {"ScxEventDeltas", f_events};

static const field f_schedstat[] = {
    I("total_run_delay"), F("run_delay_rate"), I("total_pcount"),
    I("total_sched_count"), F("sched_count_rate"), I("total_yld_count"),
    I("total_sched_goidle"), I("total_ttwu_count"), I("total_ttwu_local"),
    END
};
static const schema s_schedstat = {"SchedstatDeltas", f_schedstat};

static const field f_monitor[] = {
    I("total_samples"), F("max_imbalance_ratio"), I("max_local_dsq_depth"),
    B("stall_detected"), F("avg_imbalance_ratio"), F("avg_nr_running"),
    F("avg_local_dsq_depth"), OBJ("event_deltas", OMIT, s_events),
    OBJ("schedstat_deltas", OMIT, s_schedstat),
    ANY("prog_stats_deltas", OMIT), END
};
static const schema s_monitor = {"MonitorSummary", f_monitor};

static const field f_event[] = {
    I("elapsed_ms"), S("label"), SX("op_kind"), SX("detail"),
    IX("total_iterations"), END
};
static const schema s_event = {"StimulusEvent", f_event};

static const field f_verifier[] = {S("name"), I("verified_insns"), END};
static const schema s_verifier = {"VerifierStat", f_verifier};

static const field f_kvm[] = {ARR("per_vcpu", K_MAP, NULL), END};
static const schema s_kvm = {"KvmStats", f_kvm};

static const field f_heap[] = {
    IX("active_bytes"), IX("allocated_bytes"), IX("resident_bytes"),
    IX("mapped_bytes"), IX("narenas"), END
};
static const schema s_heap = {"HeapState", f_heap};

static const field f_host[] = {
    SO("cpu_model"), SO("cpu_vendor"), IO("total_memory_kb"),
    IO("hugepages_total"), IO("hugepages_free"), IO("hugepages_size_kb"),
    SO("thp_enabled"), SO("thp_defrag"), MAP("sched_tunables", OPT, K_STR),
    IO("online_cpus"), IO("numa_nodes"), MAP("cpufreq_governor", OPT, K_STR),
    SO("kernel_name"), SO("kernel_release"), SO("arch"),
    SO("kernel_cmdline"), OBJ("heap_state", OMIT, s_heap), END
};
static const schema s_host = {"HostContext", f_host};

static const field f_pda[] = {
    S("metric"), ANY("direction", OPT), FO("max_regression_pct"),
    FO("min_abs"), IO("phase"), END
};
static const schema s_pda = {"PerfDeltaAssertion", f_pda};

static const field f_sidecar[] = {
    S("test_name"), S("topology"), S("scheduler"), SO("scheduler_commit"),
    SO("resolve_source"), SO("project_commit"), SO("payload"),
    ARR("metrics", K_OBJ, &s_payload), B("passed"), B("skipped"),
    B("inconclusive"), B("expected_failure"), OBJ("stats", REQ, s_stats),
    OBJ("monitor", OPT, s_monitor), I("periodic_fired"),
    I("periodic_target"), I("vcpus"), I("cpu_budget"), FX("host_dilation"),
    {"throughput_denomination", K_STR, REQ, 0, NULL, "wall"},
    ARR("stimulus_events", K_OBJ, &s_event), S("work_type"),
    ARR("verifier_stats", K_OBJ, &s_verifier), OBJ("kvm_stats", OPT, s_kvm),
    ARR("sysctls", K_STR, NULL), ARR("kargs", K_STR, NULL),
    SO("kernel_version"), SO("kernel_commit"), S("timestamp"), S("run_id"),
    OBJ("host", OPT, s_host), IO("cleanup_duration_ms"), SO("run_source"),
    ARR("perf_delta_assertions", K_OBJ, &s_pda), END
};
static const schema s_sidecar = {"Sidecar", f_sidecar};

typedef struct {
    st_buf *b;
    char path[512]; /* dotted path of the value being written, for errors */
} writer;

static void nl(st_buf *b, int indent)
{
    st_buf_addc(b, '\n');
    for (int i = 0; i < indent; i++)
        st_buf_add(b, "  ", 2);
}

/* Start member `key` of an object: "{" or ",", newline, "key": . */
static void open_member(writer *w, int *first, const char *key, size_t n,
                        int indent)
{
    st_buf_adds(w->b, *first ? "{" : ",");
    *first = 0;
    nl(w->b, indent + 1);
    st_json_write_string(w->b, key, n);
    st_buf_add(w->b, ": ", 2);
}

/* End an object whose members were opened with open_member. */
static void close_object(writer *w, int first, int indent)
{
    if (first) {
        st_buf_adds(w->b, "{}");
    } else {
        nl(w->b, indent);
        st_buf_addc(w->b, '}');
    }
}

static int bad(writer *w, const char *expected, const st_json *v)
{
    return st_error_set(ST_EINVAL, "sidecar field '%s': %s expected, got %s",
                        w->path, expected, st_json_type_name(v->type));
}

static int write_value(writer *w, const st_json *v, int kind, int elem,
                       const schema *sub, int indent);
static int write_object(writer *w, const st_json *obj, const schema *sc,
                        int indent);

/* Generic value, keys of objects sorted (maps and unknown objects). */
static int write_any(writer *w, const st_json *v, int indent);

static int cmp_member(const void *a, const void *b)
{
    const st_json *x = *(const st_json *const *)a;
    const st_json *y = *(const st_json *const *)b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->u.s, y->u.s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Pointers to the key nodes of obj, sorted by key bytes. */
static const st_json **sorted_keys(const st_json *obj)
{
    const st_json **keys = malloc((obj->n ? obj->n : 1) * sizeof *keys);
    if (!keys)
        return NULL;
    for (uint32_t i = 0; i < obj->n; i++)
        keys[i] = &obj->u.items[2 * i];
    qsort(keys, obj->n, sizeof *keys, cmp_member);
    return keys;
}

static size_t path_push(writer *w, const char *key)
{
    size_t len = strlen(w->path);
    snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "",
             key);
    return len;
}

static size_t path_push_index(writer *w, uint32_t i)
{
    size_t len = strlen(w->path);
    snprintf(w->path + len, sizeof w->path - len, "[%u]", i);
    return len;
}

/* A map: keys sorted, values of kind `elem`; null / non-finite skipped. */
static int write_map(writer *w, const st_json *v, int elem, int indent)
{
    if (v->type != ST_JSON_OBJECT && !(v->type == ST_JSON_ARRAY && !v->n))
        return bad(w, "object", v);
    const st_json **keys = v->type == ST_JSON_OBJECT ? sorted_keys(v) : NULL;
    if (v->type == ST_JSON_OBJECT && !keys)
        return st_error_set(ST_ENOMEM, "sidecar: out of memory");
    uint32_t n = v->type == ST_JSON_OBJECT ? v->n : 0;
    int first = 1, rc = 0;
    for (uint32_t i = 0; i < n; i++) {
        const st_json *val = keys[i] + 1;
        if (val->type == ST_JSON_NULL ||
            (val->type == ST_JSON_FLOAT && !isfinite(val->u.d)))
            continue;
        open_member(w, &first, keys[i]->u.s, keys[i]->n, indent);
        size_t mark = path_push(w, keys[i]->u.s);
        rc = write_value(w, val, elem, 0, NULL, indent + 1);
        w->path[mark] = '\0';
        if (rc < 0)
            break;
    }
    free(keys);
    if (rc < 0)
        return rc;
    close_object(w, first, indent);
    return 0;
}

static int write_any(writer *w, const st_json *v, int indent)
{
    if (v->type == ST_JSON_OBJECT)
        return write_map(w, v, K_ANY, indent);
    if (v->type == ST_JSON_ARRAY) {
        if (!v->n) {
            st_buf_adds(w->b, "[]");
            return 0;
        }
        st_buf_addc(w->b, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                st_buf_addc(w->b, ',');
            nl(w->b, indent + 1);
            size_t mark = path_push_index(w, i);
            int rc = write_any(w, &v->u.items[i], indent + 1);
            w->path[mark] = '\0';
            if (rc < 0)
                return rc;
        }
        nl(w->b, indent);
        st_buf_addc(w->b, ']');
        return 0;
    }
    st_json_write_pretty(w->b, v, indent);
    return 0;
}

static int write_value(writer *w, const st_json *v, int kind, int elem,
                       const schema *sub, int indent)
{
    switch (kind) {
    case K_STR:
        if (v->type != ST_JSON_STRING)
            return bad(w, "string", v);
        st_json_write_string(w->b, v->u.s, v->n);
        return 0;
    case K_INT:
        if (v->type == ST_JSON_INT) {
            st_json_write_int(w->b, v->u.i);
            return 0;
        }
        /* integral floats become integers: serde's u64 rejects "3.0" */
        if (v->type == ST_JSON_FLOAT && v->u.d == floor(v->u.d) &&
            fabs(v->u.d) < 9.2e18) {
            st_json_write_int(w->b, (int64_t)v->u.d);
            return 0;
        }
        return bad(w, "integer", v);
    case K_FLOAT:
        if (v->type == ST_JSON_INT)
            st_json_write_double(w->b, (double)v->u.i);
        else if (v->type == ST_JSON_FLOAT)
            st_json_write_double(w->b, v->u.d);
        else
            return bad(w, "number", v);
        return 0;
    case K_BOOL:
        if (v->type != ST_JSON_TRUE && v->type != ST_JSON_FALSE)
            return bad(w, "boolean", v);
        st_buf_adds(w->b, v->type == ST_JSON_TRUE ? "true" : "false");
        return 0;
    case K_OBJ:
        if (v->type != ST_JSON_OBJECT && !(v->type == ST_JSON_ARRAY && !v->n))
            return bad(w, "object", v);
        return write_object(w, v, sub, indent);
    case K_MAP:
        return write_map(w, v, elem, indent);
    case K_ARR:
        /* an empty Lua table may arrive as an empty object */
        if (v->type == ST_JSON_OBJECT && v->n == 0) {
            st_buf_adds(w->b, "[]");
            return 0;
        }
        if (v->type != ST_JSON_ARRAY)
            return bad(w, "array", v);
        if (!v->n) {
            st_buf_adds(w->b, "[]");
            return 0;
        }
        st_buf_addc(w->b, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                st_buf_addc(w->b, ',');
            nl(w->b, indent + 1);
            size_t mark = path_push_index(w, i);
            /* the only arrays of maps (kvm per_vcpu) hold u64 */
            int rc = write_value(w, &v->u.items[i], elem, K_INT, sub,
                                 indent + 1);
            w->path[mark] = '\0';
            if (rc < 0)
                return rc;
        }
        nl(w->b, indent);
        st_buf_addc(w->b, ']');
        return 0;
    default:
        return write_any(w, v, indent);
    }
}

static const field *find_field(const schema *sc, const char *key)
{
    for (const field *f = sc->fields; f->key; f++)
        if (strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

static int write_object(writer *w, const st_json *obj, const schema *sc,
                        int indent)
{
    int first = 1;
    int rc;
    /* Schema fields in struct order. */
    for (const field *f = sc->fields; f->key; f++) {
        const st_json *v = obj->type == ST_JSON_OBJECT
                               ? st_json_get(obj, f->key) : NULL;
        int absent = !v || v->type == ST_JSON_NULL;
        if (absent && f->presence == OMIT)
            continue;
        size_t mark = path_push(w, f->key);
        open_member(w, &first, f->key, strlen(f->key), indent);
        if (absent) {
            rc = 0;
            if (f->kind == K_ARR) {
                st_buf_adds(w->b, "[]");
            } else if (f->presence == OPT) {
                st_buf_adds(w->b, "null");
            } else if (f->kind == K_MAP) {
                st_buf_adds(w->b, "{}");
            } else if (f->kind == K_INT) {
                st_buf_adds(w->b, "0");
            } else if (f->kind == K_FLOAT) {
                /* serde_json writes a NaN f64 as null: absent is NaN */
                st_buf_adds(w->b, "null");
            } else if (f->kind == K_BOOL) {
                st_buf_adds(w->b, "false");
            } else if (f->kind == K_STR && f->def) {
                st_json_write_string(w->b, f->def, strlen(f->def));
            } else if (f->kind == K_OBJ) {
                st_json empty = {.type = ST_JSON_OBJECT};
                rc = write_object(w, &empty, f->sub, indent + 1);
            } else {
                rc = st_error_set(ST_EINVAL, "sidecar field '%s' (%s) is "
                                  "required", w->path, sc->name);
            }
        } else {
            rc = write_value(w, v, f->kind, f->elem, f->sub, indent + 1);
        }
        w->path[mark] = '\0';
        if (rc < 0)
            return rc;
    }
    /* Extra keys, sorted: schedtest's additions that ktstr ignores. */
    if (obj->type == ST_JSON_OBJECT && obj->n) {
        const st_json **keys = sorted_keys(obj);
        if (!keys)
            return st_error_set(ST_ENOMEM, "sidecar: out of memory");
        rc = 0;
        for (uint32_t i = 0; i < obj->n && rc == 0; i++) {
            const st_json *val = keys[i] + 1;
            if (find_field(sc, keys[i]->u.s) || val->type == ST_JSON_NULL)
                continue;
            open_member(w, &first, keys[i]->u.s, keys[i]->n, indent);
            size_t mark = path_push(w, keys[i]->u.s);
            rc = write_any(w, val, indent + 1);
            w->path[mark] = '\0';
        }
        free(keys);
        if (rc < 0)
            return rc;
    }
    close_object(w, first, indent);
    return 0;
}

int st_sidecar_serialize(st_buf *out, const st_json *sidecar)
{
    if (!sidecar || sidecar->type != ST_JSON_OBJECT)
        return st_error_set(ST_EINVAL, "sidecar: a sidecar must be an "
                            "object");
    writer w = {.b = out};
    int rc = write_object(&w, sidecar, &s_sidecar, 0);
    if (rc == 0 && out->failed)
        rc = st_error_set(ST_ENOMEM, "sidecar: out of memory");
    return rc;
}
/* }==================================================================== */

/* {====================================================================
 * Writing: pre-clear under a lock, atomic publication
 * ===================================================================== */

static pthread_mutex_t preclear_mu = PTHREAD_MUTEX_INITIALIZER;
static char **precleared;
static size_t nprecleared;

void st_sidecar_reset_preclear(void)
{
    pthread_mutex_lock(&preclear_mu);
    for (size_t i = 0; i < nprecleared; i++)
        free(precleared[i]);
    free(precleared);
    precleared = NULL;
    nprecleared = 0;
    pthread_mutex_unlock(&preclear_mu);
}

static int seen_dir(const char *dir)
{
    for (size_t i = 0; i < nprecleared; i++)
        if (strcmp(precleared[i], dir) == 0)
            return 1;
    return 0;
}

static int remember_dir(const char *dir)
{
    char **n = realloc(precleared, (nprecleared + 1) * sizeof *n);
    if (!n)
        return st_error_set(ST_ENOMEM, "out of memory");
    precleared = n;
    if (!(precleared[nprecleared] = strdup(dir)))
        return st_error_set(ST_ENOMEM, "out of memory");
    nprecleared++;
    return 0;
}

/* flock with a 30 s timeout, like ktstr. */
static int lock_file(int *fd_out, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "sidecar: lock file %s", path);
    for (int i = 0; i < 3000; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fd_out = fd;
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return st_error_set_errno(ST_EIO, e, "sidecar: flock %s", path);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(fd);
    return st_error_set(ST_EBUSY, "sidecar: %s is held by another writer "
                        "for more than 30 s", path);
}

/* Remove every *.ktstr.json directly in dir (not in subdirectories). */
static int wipe_sidecars(const char *dir)
{
    char **names;
    size_t n;
    int rc = st_fs_list(&names, &n, dir);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!st_sidecar_is_sidecar_name(names[i]))
            continue;
        char *p;
        if (asprintf(&p, "%s/%s", dir, names[i]) < 0) {
            rc = st_error_set(ST_ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(p) < 0 &&
            errno != ENOENT)
            rc = st_error_set_errno(ST_EIO, errno, "sidecar: pre-clear %s",
                                    p);
        free(p);
    }
    st_fs_list_free(names);
    return rc;
}

static const char *run_epoch(void)
{
    const char *e = getenv("SCHEDTEST_RUN_EPOCH");
    if (!e || !*e)
        e = getenv("KTSTR_RUN_EPOCH");
    return e && *e ? e : NULL;
}

/*
 * Pre-clear `dir` (leaf name `leaf` under runs_root) if this invocation has
 * not done so yet.  Without an epoch the gate is per process; with one, a
 * sentinel {runs_root}/.locks/{leaf}.epoch holding the epoch makes it per
 * invocation across processes.  Both are decided under the exclusive lock,
 * so two writers of one invocation never wipe each other's files.
 */
static int preclear(const char *runs_root, const char *leaf,
                    const char *dir)
{
    int rc = 0;
    pthread_mutex_lock(&preclear_mu);
    const char *epoch = run_epoch();
    if (!epoch && seen_dir(dir))
        goto out;
    char *locks = NULL, *lockp = NULL, *sentp = NULL;
    if (asprintf(&locks, "%s/.locks", runs_root) < 0 ||
        asprintf(&lockp, "%s/%s.lock", locks, leaf) < 0 ||
        asprintf(&sentp, "%s/%s.epoch", locks, leaf) < 0) {
        rc = st_error_set(ST_ENOMEM, "out of memory");
        goto free_paths;
    }
    if ((rc = st_fs_mkdir_p(locks, 0755)) < 0)
        goto free_paths;
    int fd = -1;
    if ((rc = lock_file(&fd, lockp)) < 0)
        goto free_paths;
    int wipe = 1;
    if (epoch) {
        char *cur = NULL;
        size_t len;
        if (st_fs_read_file(&cur, &len, sentp) == 0) {
            wipe = strcmp(cur, epoch) != 0;
            free(cur);
        }
        st_error_clear();
    }
    if (wipe) {
        rc = wipe_sidecars(dir);
        if (rc == 0 && epoch)
            rc = st_fs_write_atomic(sentp, epoch, strlen(epoch), 0644);
    }
    if (rc == 0 && !epoch)
        rc = remember_dir(dir);
    flock(fd, LOCK_UN);
    close(fd);
free_paths:
    free(locks);
    free(lockp);
    free(sentp);
out:
    pthread_mutex_unlock(&preclear_mu);
    return rc;
}

int st_sidecar_write(char **path_out, const st_json *sc,
                     const st_sidecar_write_opts *opts)
{
    st_sidecar_write_opts none = {0};
    if (!opts)
        opts = &none;
    if (!sc || sc->type != ST_JSON_OBJECT)
        return st_error_set(ST_EINVAL, "sidecar: a sidecar must be an "
                            "object");
    int rc;
    char *root = NULL, *leaf = NULL, *dir = NULL, *file = NULL,
         *path = NULL;
    st_buf b;
    st_buf_init(&b);
    uint64_t hash;
    if ((rc = st_sidecar_serialize(&b, sc)) < 0)
        goto out;
    st_buf_addc(&b, '\0'); /* keep a NUL after the text */
    b.len--;
    if ((rc = st_sidecar_variant_hash_json(&hash, sc)) < 0)
        goto out;
    if ((rc = st_sidecar_file_name(&file, jstr(sc, "test_name"), hash)) < 0)
        goto out;
    const char *explicit_dir = opts->dir ? opts->dir
                                         : st_sidecar_dir_override();
    if (explicit_dir) {
        /* operator-owned directory: no pre-clear, no lock */
        if (!(dir = strdup(explicit_dir))) {
            rc = st_error_set(ST_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = st_fs_mkdir_p(dir, 0755)) < 0)
            goto out;
    } else {
        if (opts->runs_root) {
            if (!(root = strdup(opts->runs_root))) {
                rc = st_error_set(ST_ENOMEM, "out of memory");
                goto out;
            }
        } else if ((rc = st_sidecar_runs_root(&root, NULL)) < 0) {
            goto out;
        }
        const char *kernel = opts->kernel ? opts->kernel
                                          : jstr(sc, "kernel_version");
        const char *commit = opts->project_commit
                                 ? opts->project_commit
                                 : jstr(sc, "project_commit");
        if ((rc = st_sidecar_run_dir_name(&leaf, kernel, commit)) < 0)
            goto out;
        if (asprintf(&dir, "%s/%s", root, leaf) < 0) {
            rc = st_error_set(ST_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = st_fs_mkdir_p(dir, 0755)) < 0)
            goto out;
        char *canon = NULL;
        if ((rc = st_fs_realpath(&canon, dir)) < 0)
            goto out;
        rc = preclear(root, leaf, canon);
        free(canon);
        if (rc < 0)
            goto out;
    }
    if (asprintf(&path, "%s/%s", dir, file) < 0) {
        rc = st_error_set(ST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = st_fs_write_atomic(path, b.data, b.len, 0644)) < 0)
        goto out;
    *path_out = path;
    path = NULL;
out:
    st_buf_free(&b);
    free(root);
    free(leaf);
    free(dir);
    free(file);
    free(path);
    return rc;
}
/* }==================================================================== */

/* {====================================================================
 * Typed accessors of registry metrics (mirrors lua/schedtest/registry.lua)
 * ===================================================================== */

const st_sidecar_field st_sidecar_fields[] = {
    {"worst_spread", "stats.worst_spread"},
    {"worst_gap_ms", "stats.worst_gap_ms"},
    {"total_migrations", "stats.total_migrations"},
    {"worst_migration_ratio", "stats.worst_migration_ratio"},
    {"max_imbalance_ratio", "monitor.max_imbalance_ratio"},
    {"avg_imbalance_ratio", "monitor.avg_imbalance_ratio"},
    {"max_dsq_depth", "monitor.max_local_dsq_depth"},
    {"avg_dsq_depth", "monitor.avg_local_dsq_depth"},
    {"total_fallback", "monitor.event_deltas.total_fallback"},
    {"total_keep_last", "monitor.event_deltas.total_dispatch_keep_last"},
    {"total_run_delay", "monitor.schedstat_deltas.total_run_delay"},
    {"total_pcount", "monitor.schedstat_deltas.total_pcount"},
    {"total_sched_count", "monitor.schedstat_deltas.total_sched_count"},
    {"total_yld_count", "monitor.schedstat_deltas.total_yld_count"},
    {"total_sched_goidle", "monitor.schedstat_deltas.total_sched_goidle"},
    {"total_ttwu_count", "monitor.schedstat_deltas.total_ttwu_count"},
    {"total_ttwu_local", "monitor.schedstat_deltas.total_ttwu_local"},
    {"avg_nr_running", "monitor.avg_nr_running"},
    {"worst_p99_wake_latency_us", "stats.worst_p99_wake_latency_us"},
    {"worst_median_wake_latency_us", "stats.worst_median_wake_latency_us"},
    {"worst_wake_latency_cv", "stats.worst_wake_latency_cv"},
    {"worst_mean_run_delay_us", "stats.worst_mean_run_delay_us"},
    {"worst_run_delay_us", "stats.worst_run_delay_us"},
    {"worst_wake_latency_tail_ratio", "stats.worst_wake_latency_tail_ratio"},
    {"total_iterations", "stats.total_iterations"},
    {"worst_iterations_per_worker", "stats.worst_iterations_per_worker"},
    {"worst_page_locality", "stats.worst_page_locality"},
    {"worst_cross_node_migration_ratio",
     "stats.worst_cross_node_migration_ratio"},
    {NULL, NULL}
};

const st_sidecar_rate st_sidecar_rates[] = {
    {"total_run_delay_ns_per_sched", "total_run_delay", "total_pcount"},
    {"ttwu_local_fraction", "total_ttwu_local", "total_ttwu_count"},
    {"sched_goidle_fraction", "total_sched_goidle", "total_sched_count"},
    {"iteration_rate", "total_phase_iterations", "total_phase_duration_sec"},
    {"iterations_per_cpu_sec", "total_iterations_pooled",
     "total_cpu_time_sec"},
    {"hardirq_rate", "total_hardirqs", "total_phase_wall_sec"},
    {"net_rx_softirq_rate", "total_softirq_net_rx", "total_phase_wall_sec"},
    {"irq_time_fraction", "total_irq_time_ns", "total_phase_wall_ns"},
    {"schbench_msg_run_delay_ns_per_sched", "total_schbench_msg_run_delay_ns",
     "total_schbench_msg_pcount"},
    {"schbench_worker_run_delay_ns_per_sched",
     "total_schbench_worker_run_delay_ns", "total_schbench_worker_pcount"},
    {"taobench_total_ops_per_sec", "total_taobench_ops",
     "total_taobench_wall_sec"},
    {"taobench_fast_ops_per_sec", "total_taobench_fast_ops",
     "total_taobench_wall_sec"},
    {"taobench_slow_ops_per_sec", "total_taobench_slow_ops",
     "total_taobench_wall_sec"},
    {"taobench_hit_fraction", "total_taobench_fast_ops",
     "total_taobench_ops"},
    {NULL, NULL, NULL}
};
/* }==================================================================== */
