/*
 * pool.c: load sidecars into compact columnar storage.
 *
 * One reusable read buffer and one reusable JSON parser serve every file;
 * strings are interned once; metric values go straight into per-metric
 * double columns.  No per-file allocation beyond the columns' growth.
 */
#include "schedtest/pool.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/json.h"
#include "schedtest/sidecar.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_FILE (16u << 20)

/* {====================================================================
 * Small helpers: a string arena and an open-addressing string map
 * ===================================================================== */

typedef struct sblock {
    struct sblock *next;
    size_t used, cap;
    char data[];
} sblock;

typedef struct {
    sblock *head;
} sarena;

static char *sarena_dup(sarena *a, const char *s, size_t n)
{
    sblock *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 65536 ? n + 1 : 65536;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    char *d = b->data + b->used;
    memcpy(d, s, n);
    d[n] = '\0';
    b->used += n + 1;
    return d;
}

static void sarena_free(sarena *a)
{
    while (a->head) {
        sblock *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

typedef struct {
    const char *key;
    uint32_t len;
    uint32_t hash;
    int32_t val;
} sentry;

typedef struct {
    sentry *e;
    uint32_t cap, n; /* cap is a power of two */
} smap;

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Slot of key (found or the empty slot where it would go). */
static sentry *smap_slot(const smap *m, const char *s, size_t n, uint32_t h)
{
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        sentry *e = &m->e[i];
        if (!e->key ||
            (e->hash == h && e->len == n && memcmp(e->key, s, n) == 0))
            return e;
    }
}

static int smap_get(const smap *m, const char *s, size_t n)
{
    if (!m->cap)
        return -1;
    sentry *e = smap_slot(m, s, n, hash_bytes(s, n));
    return e->key ? e->val : -1;
}

static int smap_grow(smap *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 64;
    sentry *ne = calloc(cap, sizeof *ne);
    if (!ne)
        return -1;
    smap old = *m;
    m->e = ne;
    m->cap = cap;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.e[i].key)
            *smap_slot(m, old.e[i].key, old.e[i].len, old.e[i].hash) =
                old.e[i];
    free(old.e);
    return 0;
}

/* Insert key (which must outlive the map) -> val; key must be absent. */
static int smap_put(smap *m, const char *s, size_t n, int32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && smap_grow(m) < 0)
        return -1;
    uint32_t h = hash_bytes(s, n);
    sentry *e = smap_slot(m, s, n, h);
    e->key = s;
    e->len = (uint32_t)n;
    e->hash = h;
    e->val = val;
    m->n++;
    return 0;
}

#define VEC_PUSH(arr, n, cap, v)                                          \
    ((n) < (cap) || vec_grow((void **)&(arr), &(cap), sizeof *(arr)) == 0 \
         ? ((arr)[(n)++] = (v), 0) : -1)

static int vec_grow(void **arr, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}
/* }==================================================================== */

/* {====================================================================
 * The pool
 * ===================================================================== */

typedef struct {
    uint32_t name;
    double val;
} pmetric;

/* Trie node for typed accessors: children map key -> encoded value:
 * >= 0 child node index, <= -2 metric column -(m + 2) (-1 = absent). */
typedef struct {
    smap children;
} tnode;

enum topkey {
    T_TEST_NAME, T_TOPOLOGY, T_SCHEDULER, T_RESOLVE_SOURCE,
    T_PROJECT_COMMIT, T_PASSED, T_SKIPPED, T_INCONCLUSIVE,
    T_EXPECTED_FAILURE, T_STATS, T_MONITOR, T_CPU_BUDGET,
    T_THROUGHPUT_DENOMINATION, T_WORK_TYPE, T_KERNEL_VERSION,
    T_KERNEL_COMMIT, T_TIMESTAMP, T_RUN_ID, T_HOST, T_RUN_SOURCE,
    T_PERF_DELTA_ASSERTIONS, T_COUNT
};

static const char *const topnames[T_COUNT] = {
    "test_name", "topology", "scheduler", "resolve_source",
    "project_commit", "passed", "skipped", "inconclusive",
    "expected_failure", "stats", "monitor", "cpu_budget",
    "throughput_denomination", "work_type", "kernel_version",
    "kernel_commit", "timestamp", "run_id", "host", "run_source",
    "perf_delta_assertions"
};

/* Keys without which a file is not a sidecar (present since ktstr 0.4.9,
 * non-Option there).  Everything else is optional for readers. */
static const int required[] = {
    T_TEST_NAME, T_TOPOLOGY, T_SCHEDULER, T_PASSED, T_SKIPPED, T_STATS,
    T_WORK_TYPE, T_TIMESTAMP, T_RUN_ID
};

struct st_pool {
    st_pool_opts opts;
    /* strings */
    sarena strs;
    smap intern;
    const char **str;
    size_t nstr, capstr;
    /* rows */
    size_t nrows, caprows;
    uint32_t *dims;       /* nrows * ST_DIM_COUNT */
    uint8_t *status;
    const char **paths;
    uint32_t *phase_start, *phase_n;
    uint32_t *assert_start, *assert_n;
    /* metrics */
    smap metric_ix;
    const char **mnames;
    size_t nmetrics, capmetrics;
    double **cols;
    /* phases and assertions */
    st_pool_phase *phases;
    size_t nphases, capphases;
    pmetric *pm;
    size_t npm, cappm;
    long *rate_m, *rate_a, *rate_b;
    size_t nrates;
    st_pool_assertion *asserts;
    size_t nasserts, capasserts;
    /* errors */
    st_pool_error *errors;
    size_t nerrors, caperrors;
    size_t walked;
    /* loading state */
    tnode *nodes;
    size_t nnodes, capnodes;
    smap top;
    char errbuf[512];
};

static int oom(void)
{
    return st_error_set(ST_ENOMEM, "pool: out of memory");
}

/* Intern s[0..n): id >= 1, or 0 on allocation failure. */
static uint32_t intern(st_pool *p, const char *s, size_t n)
{
    int v = smap_get(&p->intern, s, n);
    if (v >= 0)
        return (uint32_t)v;
    char *d = sarena_dup(&p->strs, s, n);
    if (!d)
        return 0;
    uint32_t id = (uint32_t)p->nstr;
    if (VEC_PUSH(p->str, p->nstr, p->capstr, d) < 0 ||
        smap_put(&p->intern, d, n, (int32_t)id) < 0)
        return 0;
    return id;
}

static long add_metric(st_pool *p, const char *name, size_t n)
{
    int v = smap_get(&p->metric_ix, name, n);
    if (v >= 0)
        return v;
    char *d = sarena_dup(&p->strs, name, n);
    if (!d)
        return -1;
    if (p->nmetrics == p->capmetrics) {
        size_t nc = p->capmetrics ? p->capmetrics * 2 : 64;
        const char **nn = realloc(p->mnames, nc * sizeof *nn);
        if (!nn)
            return -1;
        p->mnames = nn;
        double **ncol = realloc(p->cols, nc * sizeof *ncol);
        if (!ncol)
            return -1;
        p->cols = ncol;
        p->capmetrics = nc;
    }
    /* The column itself is allocated by the first value (set_value):
     * most registry metrics are absent from most pools. */
    size_t m = p->nmetrics;
    p->mnames[m] = d;
    p->cols[m] = NULL;
    if (smap_put(&p->metric_ix, d, n, (int32_t)m) < 0)
        return -1;
    p->nmetrics++;
    return (long)m;
}

/* Give every per-row array and column room for nc rows (nc > caprows). */
static int grow_rows(st_pool *p, size_t nc)
{
#define GROW(field, per)                                                  \
    do {                                                                  \
        void *n_ = realloc(p->field, nc * (per) * sizeof *p->field);      \
        if (!n_)                                                          \
            return oom();                                                 \
        p->field = n_;                                                    \
    } while (0)
    GROW(dims, ST_DIM_COUNT);
    GROW(status, 1);
    GROW(paths, 1);
    GROW(phase_start, 1);
    GROW(phase_n, 1);
    GROW(assert_start, 1);
    GROW(assert_n, 1);
#undef GROW
    for (size_t m = 0; m < p->nmetrics; m++) {
        if (!p->cols[m])
            continue;
        double *c = realloc(p->cols[m], nc * sizeof *c);
        if (!c)
            return oom();
        for (size_t i = p->caprows; i < nc; i++)
            c[i] = NAN;
        p->cols[m] = c;
    }
    p->caprows = nc;
    return 0;
}

/* Make room for row index nrows. */
static int ensure_row(st_pool *p)
{
    if (p->nrows < p->caprows)
        return 0;
    return grow_rows(p, p->caprows ? p->caprows * 2 : 256);
}

static int add_error(st_pool *p, const char *path, int64_t off, int code,
                     const char *reason)
{
    st_pool_error e = {
        .path = sarena_dup(&p->strs, path, strlen(path)),
        .offset = off,
        .reason = sarena_dup(&p->strs, reason, strlen(reason)),
        .code = code,
    };
    if (!e.path || !e.reason || VEC_PUSH(p->errors, p->nerrors,
                                         p->caperrors, e) < 0)
        return oom();
    return 0;
}

/* Build the accessor trie from st_sidecar_fields, and the rate columns. */
static int build_accessors(st_pool *p)
{
    tnode root = {0};
    if (VEC_PUSH(p->nodes, p->nnodes, p->capnodes, root) < 0)
        return oom();
    for (const st_sidecar_field *f = st_sidecar_fields; f->name; f++) {
        long m = add_metric(p, f->name, strlen(f->name));
        if (m < 0)
            return oom();
        size_t node = 0;
        const char *seg = f->path;
        for (;;) {
            const char *dot = strchr(seg, '.');
            size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
            /* keys live in the string arena so they outlive the map */
            int v = smap_get(&p->nodes[node].children, seg, n);
            if (!dot) {
                if (v < 0) {
                    char *k = sarena_dup(&p->strs, seg, n);
                    if (!k || smap_put(&p->nodes[node].children, k, n,
                                       (int32_t)(-(m + 2))) < 0)
                        return oom();
                }
                break;
            }
            if (v < 0) {
                tnode child = {0};
                v = (int)p->nnodes;
                if (VEC_PUSH(p->nodes, p->nnodes, p->capnodes, child) < 0)
                    return oom();
                char *k = sarena_dup(&p->strs, seg, n);
                if (!k || smap_put(&p->nodes[node].children, k, n, v) < 0)
                    return oom();
            }
            node = (size_t)v;
            seg = dot + 1;
        }
    }
    size_t nr = 0;
    while (st_sidecar_rates[nr].name)
        nr++;
    p->rate_m = malloc((nr + 1) * sizeof *p->rate_m);
    p->rate_a = malloc((nr + 1) * sizeof *p->rate_a);
    p->rate_b = malloc((nr + 1) * sizeof *p->rate_b);
    if (!p->rate_m || !p->rate_a || !p->rate_b)
        return oom();
    for (size_t i = 0; i < nr; i++) {
        const st_sidecar_rate *r = &st_sidecar_rates[i];
        if ((p->rate_m[i] = add_metric(p, r->name, strlen(r->name))) < 0 ||
            (p->rate_a[i] = add_metric(p, r->num, strlen(r->num))) < 0 ||
            (p->rate_b[i] = add_metric(p, r->den, strlen(r->den))) < 0)
            return oom();
    }
    p->nrates = nr;
    for (int i = 0; i < T_COUNT; i++)
        if (smap_put(&p->top, topnames[i], strlen(topnames[i]), i) < 0)
            return oom();
    return 0;
}
/* }==================================================================== */

/* {====================================================================
 * Extraction of one sidecar
 * ===================================================================== */

typedef struct {
    st_pool *p;
    const char *path;
    size_t row;
    uint32_t dims[ST_DIM_COUNT];
    unsigned status;
    size_t phase0, pm0, assert0;
    int err_code;
    int64_t err_off;
} extract;

static int type_error(extract *x, const st_json *v, const char *key,
                      const char *expected)
{
    snprintf(x->p->errbuf, sizeof x->p->errbuf,
             "key '%s': %s expected, got %s", key, expected,
             st_json_type_name(v->type));
    x->err_off = v->off;
    return x->err_code = ST_EPARSE;
}

static int set_value(extract *x, size_t m, double d, int only_if_absent)
{
    st_pool *p = x->p;
    if (!p->cols[m]) {
        double *col = malloc((p->caprows ? p->caprows : 1) * sizeof *col);
        if (!col)
            return oom();
        for (size_t i = 0; i < p->caprows; i++)
            col[i] = NAN;
        p->cols[m] = col;
    }
    double *cell = &p->cols[m][x->row];
    if (only_if_absent && !isnan(*cell))
        return 0;
    *cell = d;
    return 0;
}

/* A number, or null (absent); *ok = 0 for null. */
static int number_of(extract *x, const st_json *v, const char *key,
                     double *d, int *ok)
{
    *ok = 1;
    if (v->type == ST_JSON_INT)
        *d = (double)v->u.i;
    else if (v->type == ST_JSON_FLOAT)
        *d = st_json_number(v);
    else if (v->type == ST_JSON_NULL)
        *ok = 0;
    else
        return type_error(x, v, key, "a number");
    return 0;
}

static int dim_string(extract *x, const st_json *v, const char *key,
                      int dim)
{
    if (v->type == ST_JSON_NULL)
        return 0;
    if (v->type != ST_JSON_STRING)
        return type_error(x, v, key, "a string");
    uint32_t id = intern(x->p, v->u.s, v->n);
    if (!id)
        return oom();
    x->dims[dim] = id;
    return 0;
}

/* Walk `obj` along accessor trie node `node`. */
static int extract_typed(extract *x, size_t node, const st_json *obj)
{
    const smap *ch = &x->p->nodes[node].children;
    for (uint32_t i = 0; i < obj->n; i++) {
        const st_json *k = &obj->u.items[2 * i];
        const st_json *v = k + 1;
        int e = smap_get(ch, k->u.s, k->n);
        if (e == -1)
            continue; /* not an accessor path */
        if (e < 0) {
            double d;
            int ok, rc;
            if ((rc = number_of(x, v, k->u.s, &d, &ok)) < 0)
                return rc;
            if (ok && (rc = set_value(x, (size_t)(-e - 2), d, 0)) < 0)
                return rc;
        } else if (v->type == ST_JSON_OBJECT) {
            int rc = extract_typed(x, (size_t)e, v);
            if (rc < 0)
                return rc;
        } else if (v->type != ST_JSON_NULL) {
            return type_error(x, v, k->u.s, "an object");
        }
    }
    return 0;
}

static int extract_ext(extract *x, const st_json *obj)
{
    if (obj->type == ST_JSON_NULL)
        return 0;
    if (obj->type != ST_JSON_OBJECT)
        return type_error(x, obj, "ext_metrics", "an object");
    for (uint32_t i = 0; i < obj->n; i++) {
        const st_json *k = &obj->u.items[2 * i];
        double d;
        int ok, rc;
        if ((rc = number_of(x, k + 1, k->u.s, &d, &ok)) < 0)
            return rc;
        if (!ok)
            continue;
        long m = add_metric(x->p, k->u.s, k->n);
        if (m < 0)
            return oom();
        /* typed fields win over ext_metrics of the same name */
        if ((rc = set_value(x, (size_t)m, d, 1)) < 0)
            return rc;
    }
    return 0;
}

static int extract_phases(extract *x, const st_json *arr)
{
    st_pool *p = x->p;
    if (arr->type == ST_JSON_NULL)
        return 0;
    if (arr->type != ST_JSON_ARRAY)
        return type_error(x, arr, "phases", "an array");
    for (uint32_t i = 0; i < arr->n; i++) {
        const st_json *ph = &arr->u.items[i];
        if (ph->type != ST_JSON_OBJECT)
            return type_error(x, ph, "phases[]", "an object");
        st_pool_phase out = {.step_index = -1, .first = (uint32_t)p->npm};
        for (uint32_t j = 0; j < ph->n; j++) {
            const st_json *k = &ph->u.items[2 * j];
            const st_json *v = k + 1;
            if (strcmp(k->u.s, "step_index") == 0) {
                if (v->type != ST_JSON_INT || v->u.i < 0 || v->u.i > 65535)
                    return type_error(x, v, "step_index", "an integer "
                                      "0..65535");
                out.step_index = (int)v->u.i;
            } else if (strcmp(k->u.s, "label") == 0) {
                if (v->type == ST_JSON_STRING) {
                    if (!(out.label = intern(p, v->u.s, v->n)))
                        return oom();
                } else if (v->type != ST_JSON_NULL) {
                    return type_error(x, v, "label", "a string");
                }
            } else if (strcmp(k->u.s, "metrics") == 0) {
                if (v->type == ST_JSON_NULL)
                    continue;
                if (v->type != ST_JSON_OBJECT)
                    return type_error(x, v, "metrics", "an object");
                for (uint32_t m = 0; m < v->n; m++) {
                    const st_json *mk = &v->u.items[2 * m];
                    double d;
                    int ok, rc;
                    if ((rc = number_of(x, mk + 1, mk->u.s, &d, &ok)) < 0)
                        return rc;
                    if (!ok)
                        continue;
                    uint32_t id = intern(p, mk->u.s, mk->n);
                    if (!id)
                        return oom();
                    pmetric pmv = {id, d};
                    if (VEC_PUSH(p->pm, p->npm, p->cappm, pmv) < 0)
                        return oom();
                    out.count++;
                }
            }
        }
        if (VEC_PUSH(p->phases, p->nphases, p->capphases, out) < 0)
            return oom();
    }
    return 0;
}

static int extract_stats(extract *x, const st_json *stats, size_t node)
{
    if (stats->type != ST_JSON_OBJECT)
        return type_error(x, stats, "stats", "an object");
    for (uint32_t i = 0; i < stats->n; i++) {
        const st_json *k = &stats->u.items[2 * i];
        const st_json *v = k + 1;
        int rc = 0;
        if (strcmp(k->u.s, "ext_metrics") == 0)
            rc = extract_ext(x, v);
        else if (strcmp(k->u.s, "phases") == 0)
            rc = extract_phases(x, v);
        if (rc < 0)
            return rc;
    }
    return node ? extract_typed(x, node, stats) : 0;
}

static double opt_number(const st_json *v, int *bad)
{
    if (!v || v->type == ST_JSON_NULL)
        return NAN;
    if (v->type == ST_JSON_INT)
        return (double)v->u.i;
    if (v->type == ST_JSON_FLOAT)
        return st_json_number(v);
    *bad = 1;
    return NAN;
}

static int extract_asserts(extract *x, const st_json *arr)
{
    st_pool *p = x->p;
    if (arr->type == ST_JSON_NULL)
        return 0;
    if (arr->type != ST_JSON_ARRAY)
        return type_error(x, arr, "perf_delta_assertions", "an array");
    for (uint32_t i = 0; i < arr->n; i++) {
        const st_json *a = &arr->u.items[i];
        if (a->type != ST_JSON_OBJECT)
            return type_error(x, a, "perf_delta_assertions[]", "an object");
        st_pool_assertion out = {.phase = -1};
        const st_json *metric = st_json_get(a, "metric");
        if (!metric || metric->type != ST_JSON_STRING)
            return type_error(x, metric ? metric : a, "metric", "a string");
        if (!(out.metric = intern(p, metric->u.s, metric->n)))
            return oom();
        const st_json *dir = st_json_get(a, "direction");
        if (dir && dir->type == ST_JSON_STRING) {
            if (!(out.direction = intern(p, dir->u.s, dir->n)))
                return oom();
        } else if (dir && dir->type == ST_JSON_OBJECT && dir->n == 1) {
            /* {"TargetValue": x}: keep the variant name */
            const st_json *tk = &dir->u.items[0];
            if (!(out.direction = intern(p, tk->u.s, tk->n)))
                return oom();
        }
        int bad = 0;
        const st_json *v;
        out.max_regression_pct =
            opt_number(v = st_json_get(a, "max_regression_pct"), &bad);
        if (bad)
            return type_error(x, v, "max_regression_pct", "a number");
        out.min_abs = opt_number(v = st_json_get(a, "min_abs"), &bad);
        if (bad)
            return type_error(x, v, "min_abs", "a number");
        v = st_json_get(a, "phase");
        if (v && v->type == ST_JSON_INT && v->u.i >= 0 && v->u.i <= 65535)
            out.phase = (int)v->u.i;
        else if (v && v->type != ST_JSON_NULL)
            return type_error(x, v, "phase", "an integer 0..65535");
        if (VEC_PUSH(p->asserts, p->nasserts, p->capasserts, out) < 0)
            return oom();
    }
    return 0;
}

static int extract_row(extract *x, const st_json *root)
{
    st_pool *p = x->p;
    if (root->type != ST_JSON_OBJECT) {
        snprintf(p->errbuf, sizeof p->errbuf, "a sidecar is a JSON object, "
                 "this document is %s", st_json_type_name(root->type));
        x->err_off = root->off;
        return x->err_code = ST_EPARSE;
    }
    unsigned seen = 0;
    int stats_node = smap_get(&p->nodes[0].children, "stats", 5);
    for (uint32_t i = 0; i < root->n; i++) {
        const st_json *k = &root->u.items[2 * i];
        const st_json *v = k + 1;
        int t = smap_get(&p->top, k->u.s, k->n);
        if (t < 0)
            continue; /* unknown keys are ignored */
        seen |= 1u << t;
        int rc = 0;
        unsigned flag = 0;
        switch (t) {
        case T_TEST_NAME: rc = dim_string(x, v, k->u.s, ST_DIM_TEST); break;
        case T_TOPOLOGY: rc = dim_string(x, v, k->u.s, ST_DIM_TOPOLOGY);
            break;
        case T_SCHEDULER: rc = dim_string(x, v, k->u.s, ST_DIM_SCHEDULER);
            break;
        case T_RESOLVE_SOURCE:
            rc = dim_string(x, v, k->u.s, ST_DIM_RESOLVE_SOURCE);
            break;
        case T_PROJECT_COMMIT:
            rc = dim_string(x, v, k->u.s, ST_DIM_COMMIT);
            break;
        case T_THROUGHPUT_DENOMINATION:
            rc = dim_string(x, v, k->u.s, ST_DIM_THROUGHPUT_DENOMINATION);
            break;
        case T_WORK_TYPE: rc = dim_string(x, v, k->u.s, ST_DIM_WORK_TYPE);
            break;
        case T_KERNEL_VERSION:
            rc = dim_string(x, v, k->u.s, ST_DIM_KERNEL);
            break;
        case T_KERNEL_COMMIT:
            rc = dim_string(x, v, k->u.s, ST_DIM_KERNEL_COMMIT);
            break;
        case T_TIMESTAMP: rc = dim_string(x, v, k->u.s, ST_DIM_TIMESTAMP);
            break;
        case T_RUN_ID: rc = dim_string(x, v, k->u.s, ST_DIM_RUN_ID); break;
        case T_RUN_SOURCE: rc = dim_string(x, v, k->u.s, ST_DIM_SOURCE);
            break;
        case T_PASSED: flag = ST_POOL_PASSED; goto boolean;
        case T_SKIPPED: flag = ST_POOL_SKIPPED; goto boolean;
        case T_INCONCLUSIVE: flag = ST_POOL_INCONCLUSIVE; goto boolean;
        case T_EXPECTED_FAILURE: flag = ST_POOL_EXPECTED_FAILURE;
        boolean:
            if (v->type == ST_JSON_TRUE)
                x->status |= flag;
            else if (v->type != ST_JSON_FALSE)
                rc = type_error(x, v, k->u.s, "a boolean");
            break;
        case T_CPU_BUDGET:
            if (v->type == ST_JSON_INT && v->u.i >= 0 &&
                v->u.i <= UINT32_MAX) {
                char t2[24];
                int n = snprintf(t2, sizeof t2, "%lld", (long long)v->u.i);
                if (!(x->dims[ST_DIM_CPU_BUDGET] = intern(p, t2, (size_t)n)))
                    rc = oom();
            } else if (v->type != ST_JSON_NULL) {
                rc = type_error(x, v, k->u.s, "an integer 0..4294967295");
            }
            break;
        case T_STATS:
            rc = extract_stats(x, v, stats_node > 0 ? (size_t)stats_node : 0);
            break;
        case T_MONITOR: {
            int node = smap_get(&p->nodes[0].children, "monitor", 7);
            if (v->type == ST_JSON_OBJECT && node > 0)
                rc = extract_typed(x, (size_t)node, v);
            else if (v->type != ST_JSON_NULL && v->type != ST_JSON_OBJECT)
                rc = type_error(x, v, k->u.s, "an object or null");
            break;
        }
        case T_HOST: {
            if (v->type == ST_JSON_OBJECT) {
                const st_json *arch = st_json_get(v, "arch");
                if (arch)
                    rc = dim_string(x, arch, "host.arch", ST_DIM_ARCH);
            } else if (v->type != ST_JSON_NULL) {
                rc = type_error(x, v, k->u.s, "an object or null");
            }
            break;
        }
        case T_PERF_DELTA_ASSERTIONS:
            rc = extract_asserts(x, v);
            break;
        }
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        if (!(seen & (1u << required[i]))) {
            snprintf(p->errbuf, sizeof p->errbuf, "missing required key "
                     "'%s'", topnames[required[i]]);
            x->err_off = root->off;
            return x->err_code = ST_EPARSE;
        }
    }
    /* Rates are always re-derived from their components. */
    for (size_t i = 0; i < p->nrates; i++) {
        long m = p->rate_m[i], a = p->rate_a[i], b = p->rate_b[i];
        if (!p->cols[a] || !p->cols[b])
            continue;
        double num = p->cols[a][x->row], den = p->cols[b][x->row];
        if (isfinite(num) && isfinite(den) && den != 0) {
            int rc = set_value(x, (size_t)m, num / den, 0);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
/* }==================================================================== */

/*
 * What the pool never looks at is validated but not stored: unknown
 * top-level keys, the per-cgroup stats and the host context (but arch).
 */
static int skip_member(void *ctx, int depth, const char *parent,
                       const char *key, size_t n)
{
    st_pool *p = ctx;
    if (depth == 1)
        return smap_get(&p->top, key, n) < 0;
    /* called for every key of every sidecar: first letters before strcmp */
    if (depth == 2 && parent) {
        if (parent[0] == 's' && strcmp(parent, "stats") == 0)
            return n == 7 && memcmp(key, "cgroups", 7) == 0;
        if (parent[0] == 'h' && strcmp(parent, "host") == 0)
            return !(n == 4 && memcmp(key, "arch", 4) == 0);
    }
    return 0;
}

/* {====================================================================
 * Reading files and walking directories
 * ===================================================================== */

/*
 * A reader turns one file into a parsed tree or a per-file error.  It
 * touches no pool state, so several can run in worker threads while the
 * main thread extracts rows in walk order.
 */
typedef struct {
    st_json_parser *parser;
    char *buf;
    size_t bufcap;
    uint64_t max;
    /* result */
    int ok;
    st_json *root;
    int code;
    int64_t off;
    char reason[320];
} reader;

static int reader_init(reader *r, const st_pool *p)
{
    memset(r, 0, sizeof *r);
    r->max = p->opts.max_file_size ? p->opts.max_file_size
                                   : DEFAULT_MAX_FILE;
    int rc = st_json_parser_new(&r->parser);
    if (rc < 0)
        return rc;
    if (p->opts.max_depth)
        st_json_parser_set_max_depth(r->parser, p->opts.max_depth);
    st_json_parser_set_lazy_numbers(r->parser, 1);
    st_json_parser_set_skip(r->parser, skip_member, (void *)p);
    return 0;
}

static void reader_free(reader *r)
{
    st_json_parser_free(r->parser);
    free(r->buf);
}

static int grow_buf(reader *r, size_t want)
{
    if (want <= r->bufcap)
        return 0;
    size_t nc = r->bufcap ? r->bufcap : 65536;
    while (nc < want)
        nc *= 2;
    char *nb = realloc(r->buf, nc);
    if (!nb)
        return ST_ENOMEM;
    r->buf = nb;
    r->bufcap = nc;
    return 0;
}

static int rfail(reader *r, int code, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int rfail(reader *r, int code, int64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->ok = 0;
    r->code = code;
    r->off = off;
    return 0;
}

/*
 * Read and parse one sidecar, `path` relative to `dirfd`.  Small files
 * take three syscalls (open, read, close): a short read of a regular file
 * means end of file, and only a file that fills the buffer is fstat'ed
 * (size limit).  O_NONBLOCK keeps a FIFO named like a sidecar from hanging
 * the walk.  Returns ST_ENOMEM or 0; per-file failures are in r->ok /
 * code / off / reason.
 */
static int reader_load(reader *r, int dirfd, const char *path)
{
    r->ok = 0;
    if (grow_buf(r, 65536) < 0)
        return ST_ENOMEM;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
                    O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return rfail(r, st_error_from_errno(e), -1, "cannot open: %s%s",
                     strerror(e), e == ELOOP ? " (symbolic link loop)" : "");
    }
    size_t got = 0;
    int checked = 0;
    for (;;) {
        size_t room = r->bufcap - ST_JSON_PADDING - 1 - got;
        ssize_t n = read(fd, r->buf + got, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            if (e == EISDIR)
                return rfail(r, ST_EINVAL, -1, "is a directory named like "
                             "a sidecar, not a sidecar file");
            if (e == EAGAIN)
                return rfail(r, ST_EINVAL, -1, "not a regular file");
            return rfail(r, st_error_from_errno(e), (int64_t)got, "%s",
                         strerror(e));
        }
        got += (size_t)n;
        if ((size_t)n < room)
            break; /* short read: end of file */
        if (!checked) {
            struct stat st;
            checked = 1;
            if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return rfail(r, ST_EINVAL, -1, "not a regular file");
            }
            if ((uint64_t)st.st_size > r->max) {
                close(fd);
                return rfail(r, ST_ERANGE, -1, "file is %lld bytes, larger "
                             "than the %llu-byte sidecar limit",
                             (long long)st.st_size,
                             (unsigned long long)r->max);
            }
            if (grow_buf(r, (size_t)st.st_size + 4096) < 0) {
                close(fd);
                return ST_ENOMEM;
            }
        } else if (got > r->max) {
            close(fd);
            return rfail(r, ST_ERANGE, -1, "file grew beyond the sidecar "
                         "size limit while reading");
        } else if (grow_buf(r, r->bufcap * 2) < 0) {
            close(fd);
            return ST_ENOMEM;
        }
    }
    close(fd);
    if (got == 0)
        return rfail(r, ST_EPARSE, 0, "empty file");
    int rc = st_json_parse(&r->root, r->parser, r->buf, got);
    if (rc == ST_ENOMEM)
        return rc;
    if (rc < 0)
        return rfail(r, ST_EPARSE,
                     (int64_t)st_json_parser_error_offset(r->parser), "%s",
                     st_json_parser_error_reason(r->parser));
    r->ok = 1;
    return 0;
}

/* Turn a reader's result into a row or an error entry (main thread). */
static int ingest(st_pool *p, const char *path, uint32_t run_dir,
                  const reader *rd)
{
    if (!rd->ok)
        return add_error(p, path, rd->off, rd->code, rd->reason);
    int rc;
    if ((rc = ensure_row(p)) < 0)
        return rc;
    extract x = {
        .p = p, .path = path, .row = p->nrows, .phase0 = p->nphases,
        .pm0 = p->npm, .assert0 = p->nasserts,
    };
    rc = extract_row(&x, rd->root);
    if (rc < 0) {
        /* undo the partial row */
        for (size_t m = 0; m < p->nmetrics; m++) /* failures are rare: */
            if (p->cols[m])                      /* no bookkeeping */
                p->cols[m][x.row] = NAN;
        p->nphases = x.phase0;
        p->npm = x.pm0;
        p->nasserts = x.assert0;
        if (rc == ST_ENOMEM || !x.err_code)
            return rc;
        return add_error(p, path, x.err_off, x.err_code, p->errbuf);
    }
    x.dims[ST_DIM_RUN_DIR] = run_dir;
    if (p->opts.run_source) {
        x.dims[ST_DIM_SOURCE] = intern(p, p->opts.run_source,
                                       strlen(p->opts.run_source));
        if (!x.dims[ST_DIM_SOURCE])
            return oom();
    }
    size_t r = p->nrows;
    memcpy(p->dims + r * ST_DIM_COUNT, x.dims, sizeof x.dims);
    p->status[r] = (uint8_t)x.status;
    p->paths[r] = path;
    p->phase_start[r] = (uint32_t)x.phase0;
    p->phase_n[r] = (uint32_t)(p->nphases - x.phase0);
    p->assert_start[r] = (uint32_t)x.assert0;
    p->assert_n[r] = (uint32_t)(p->nasserts - x.assert0);
    p->nrows++;
    return 0;
}

static char *join(const char *a, const char *b)
{
    char *s;
    return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

typedef struct {
    const char *path; /* in the pool's string arena */
    uint32_t run_dir;
    uint32_t dir;      /* index in joblist.dirs */
    size_t name_off;   /* path + name_off is the name within dir */
} job;

typedef struct {
    job *v;
    size_t n, cap;
    const char **dirs; /* directories holding sidecars, in the arena */
    size_t ndirs, capdirs;
} joblist;

/*
 * Each reading thread keeps the directory of its last file open and opens
 * sidecars relative to it: the kernel then resolves one name per file
 * instead of the whole path (jobs come in walk order, so consecutive files
 * share a directory).  When the directory cannot be opened the full path
 * is used, so the file's own error is what gets reported.
 */
typedef struct {
    int fd;
    uint32_t dir;
} dircache;

#define DIRCACHE_INIT {-1, UINT32_MAX}

static int load_job(reader *r, dircache *dc, const joblist *jobs,
                    const job *j)
{
    if (dc->dir != j->dir) {
        if (dc->fd >= 0)
            close(dc->fd);
        dc->fd = open(jobs->dirs[j->dir], O_PATH | O_DIRECTORY | O_CLOEXEC);
        dc->dir = j->dir;
    }
    if (dc->fd < 0)
        return reader_load(r, AT_FDCWD, j->path);
    return reader_load(r, dc->fd, j->path + j->name_off);
}

static void dircache_close(dircache *dc)
{
    if (dc->fd >= 0)
        close(dc->fd);
    dc->fd = -1;
    dc->dir = UINT32_MAX;
}

/*
 * Walk `dir` at `depth` (0 = the root given by the caller), collecting
 * sidecar-named entries as jobs; other directories not starting with '.'
 * are walked while depth < 2.  `run_dir` is the string id of the top-level
 * run directory.
 */
static int walk(st_pool *p, joblist *jobs, const char *dir, int depth,
                uint32_t run_dir)
{
    char **names;
    size_t n;
    uint32_t dir_ix = UINT32_MAX; /* registered with the first sidecar */
    int rc = st_fs_list(&names, &n, dir);
    if (rc < 0) {
        if (depth == 0)
            return rc;
        char why[200];
        snprintf(why, sizeof why, "cannot list directory: %s",
                 st_error_last());
        st_error_clear();
        return add_error(p, dir, -1, rc, why);
    }
    for (size_t i = 0; i < n && rc >= 0; i++) {
        const char *name = names[i];
        if (name[0] == '.')
            continue; /* .locks/ and hidden files */
        char *path = join(dir, name);
        if (!path) {
            rc = oom();
            break;
        }
        if (st_sidecar_is_sidecar_name(name)) {
            if (dir_ix == UINT32_MAX) {
                const char *d = sarena_dup(&p->strs, dir, strlen(dir));
                dir_ix = (uint32_t)jobs->ndirs;
                if (!d || VEC_PUSH(jobs->dirs, jobs->ndirs, jobs->capdirs,
                                   d) < 0) {
                    free(path);
                    rc = oom();
                    break;
                }
            }
            job j = {sarena_dup(&p->strs, path, strlen(path)), run_dir,
                     dir_ix, strlen(dir) + 1};
            if (!j.path || VEC_PUSH(jobs->v, jobs->n, jobs->cap, j) < 0)
                rc = oom();
        } else if (depth < 2) {
            struct stat st;
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                uint32_t rd = run_dir;
                if (depth == 0 && !(rd = intern(p, name, strlen(name))))
                    rc = oom();
                else
                    rc = walk(p, jobs, path, depth + 1, rd);
            }
        }
        free(path);
    }
    st_fs_list_free(names);
    return rc;
}

/* {--------------------------------------------------------------------
 * Parallel reading: batches of BATCH consecutive files are read and parsed
 * into a ring of slots; the calling thread ingests batch b from slot
 * b % nslots, so rows keep walk order.  The calling thread also reads:
 * while the batch it must ingest next is not ready, it fills the next
 * unclaimed batch itself instead of sleeping.  So `threads` readers need
 * only threads - 1 helper threads, and on a machine with as many cores as
 * readers no thread waits for a core.  Batches keep the synchronisation to
 * one handoff per BATCH files.
 * --------------------------------------------------------------------- */

#define BATCH 16

typedef struct {
    reader rd[BATCH];
    int rc[BATCH];
    size_t ticket; /* the batch allowed to fill this slot next */
    int full;
    int ninit;
} slot;

typedef struct {
    st_pool *p;
    const joblist *jobs;
    slot *slots;
    size_t nslots, nbatches;
    size_t next;   /* next batch to claim */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} ring;

/* Read batch b into its slot (claimed by the caller, mutex not held). */
static void fill_batch(ring *g, size_t b, dircache *dc)
{
    slot *s = &g->slots[b % g->nslots];
    size_t first = b * BATCH;
    for (size_t k = 0; k < BATCH && first + k < g->jobs->n; k++)
        s->rc[k] = load_job(&s->rd[k], dc, g->jobs, &g->jobs->v[first + k]);
    pthread_mutex_lock(&g->mu);
    s->full = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void *worker(void *arg)
{
    ring *g = arg;
    dircache dc = DIRCACHE_INIT;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        size_t b = g->next++;
        if (b >= g->nbatches || g->stop) {
            pthread_mutex_unlock(&g->mu);
            break;
        }
        slot *s = &g->slots[b % g->nslots];
        while (!g->stop && (s->full || s->ticket != b))
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
        if (g->stop)
            break;
        fill_batch(g, b, &dc);
    }
    dircache_close(&dc);
    return NULL;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* Wait until batch b is in its slot, reading other batches meanwhile. */
static slot *await_batch(ring *g, size_t b, dircache *dc)
{
    slot *s = &g->slots[b % g->nslots];
    pthread_mutex_lock(&g->mu);
    while (!s->full) {
        /* The next unclaimed batch can be read here if its slot is free;
         * unclaimed means nobody else is filling that slot. */
        size_t c = g->next;
        slot *t = &g->slots[c % g->nslots];
        if (c < g->nbatches && t->ticket == c && !t->full) {
            g->next++;
            pthread_mutex_unlock(&g->mu);
            fill_batch(g, c, dc);
            pthread_mutex_lock(&g->mu);
            continue;
        }
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return s;
}

static int load_parallel(st_pool *p, const joblist *jobs, int nreaders)
{
    int nhelpers = nreaders - 1;
    ring g = {.p = p, .jobs = jobs, .nslots = (size_t)nreaders * 2,
              .nbatches = (jobs->n + BATCH - 1) / BATCH};
    int rc = 0, started = 0;
    g.slots = calloc(g.nslots, sizeof *g.slots);
    pthread_t *th = calloc((size_t)nhelpers, sizeof *th);
    if (!g.slots || !th) {
        free(g.slots);
        free(th);
        return oom();
    }
    for (size_t i = 0; i < g.nslots && rc == 0; i++) {
        g.slots[i].ticket = i;
        for (; g.slots[i].ninit < BATCH && rc == 0; g.slots[i].ninit++)
            if ((rc = reader_init(&g.slots[i].rd[g.slots[i].ninit], p)) < 0)
                break;
    }
    if (rc < 0)
        goto out;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    /* if no helper starts, the calling thread reads everything alone */
    for (; started < nhelpers; started++)
        if (pthread_create(&th[started], NULL, worker, &g) != 0)
            break;
    dircache dc = DIRCACHE_INIT;
    for (size_t b = 0; b < g.nbatches && rc == 0; b++) {
        slot *s = await_batch(&g, b, &dc);
        size_t first = b * BATCH;
        for (size_t k = 0; k < BATCH && first + k < jobs->n && rc == 0; k++) {
            const job *j = &jobs->v[first + k];
            p->walked++;
            rc = s->rc[k] < 0 ? oom()
                              : ingest(p, j->path, j->run_dir, &s->rd[k]);
        }
        pthread_mutex_lock(&g.mu);
        s->full = 0;
        s->ticket = b + g.nslots;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
    }
    dircache_close(&dc);
    pthread_mutex_lock(&g.mu);
    g.stop = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
out:
    for (size_t i = 0; i < g.nslots; i++)
        for (int k = 0; k < g.slots[i].ninit; k++)
            reader_free(&g.slots[i].rd[k]);
    free(g.slots);
    free(th);
    return rc;
}

static int load_serial(st_pool *p, const joblist *jobs)
{
    reader rd;
    dircache dc = DIRCACHE_INIT;
    int rc = reader_init(&rd, p);
    for (size_t j = 0; j < jobs->n && rc == 0; j++) {
        p->walked++;
        rc = load_job(&rd, &dc, jobs, &jobs->v[j]);
        if (rc == 0)
            rc = ingest(p, jobs->v[j].path, jobs->v[j].run_dir, &rd);
        else
            rc = oom();
    }
    dircache_close(&dc);
    reader_free(&rd);
    return rc;
}
/* }-------------------------------------------------------------------- */

int st_pool_open(st_pool **out, const char *root, const st_pool_opts *opts)
{
    st_pool *p = calloc(1, sizeof *p);
    if (!p)
        return oom();
    if (opts)
        p->opts = *opts;
    int rc;
    const char *none = NULL;
    if (VEC_PUSH(p->str, p->nstr, p->capstr, none) < 0) { /* id 0 */
        rc = oom();
        goto fail;
    }
    if ((rc = build_accessors(p)) < 0)
        goto fail;
    struct stat st;
    if (stat(root, &st) < 0) {
        rc = st_error_set_errno(st_error_from_errno(errno), errno,
                                "pool: %s", root);
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = st_error_set(ST_EINVAL, "pool: %s is not a directory (give a "
                          "runs root or a run directory)", root);
        goto fail;
    }
    /* Sidecars directly in root belong to the run dir named like root. */
    const char *base = strrchr(root, '/');
    base = base && base[1] ? base + 1 : root;
    uint32_t rootname = intern(p, base, strlen(base));
    if (!rootname) {
        rc = oom();
        goto fail;
    }
    joblist jobs = {0};
    if ((rc = walk(p, &jobs, root, 0, rootname)) < 0) {
        free(jobs.v);
        free(jobs.dirs);
        goto fail;
    }
    /* One allocation per column up front: growing by doubling would copy
     * every column log2(n) times and fault its pages in again. */
    if (jobs.n > p->caprows && (rc = grow_rows(p, jobs.n)) < 0) {
        free(jobs.v);
        free(jobs.dirs);
        goto fail;
    }
    int nthreads = p->opts.threads ? p->opts.threads : online_cpus();
    if (nthreads > 8)
        nthreads = 8;
    /* threads pay off only with enough files to keep them busy */
    if (nthreads > 1 && (p->opts.threads > 1 || jobs.n >= 64))
        rc = load_parallel(p, &jobs, nthreads);
    else
        rc = load_serial(p, &jobs);
    free(jobs.v);
    free(jobs.dirs);
    if (rc < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    st_pool_free(p);
    return rc;
}

void st_pool_free(st_pool *p)
{
    if (!p)
        return;
    sarena_free(&p->strs);
    free(p->intern.e);
    free(p->str);
    free(p->dims);
    free(p->status);
    free(p->paths);
    free(p->phase_start);
    free(p->phase_n);
    free(p->assert_start);
    free(p->assert_n);
    free(p->metric_ix.e);
    free(p->mnames);
    for (size_t m = 0; m < p->nmetrics; m++)
        free(p->cols[m]);
    free(p->cols);
    free(p->phases);
    free(p->pm);
    free(p->rate_m);
    free(p->rate_a);
    free(p->rate_b);
    free(p->asserts);
    free(p->errors);
    for (size_t i = 0; i < p->nnodes; i++)
        free(p->nodes[i].children.e);
    free(p->nodes);
    free(p->top.e);
    free(p);
}
/* }==================================================================== */

/* {====================================================================
 * Accessors
 * ===================================================================== */

static const char *const dimnames[ST_DIM_COUNT] = {
    "test", "kernel", "commit", "kernel_commit", "source", "resolve_source",
    "cpu_budget", "scheduler", "topology", "work_type",
    "throughput_denomination", "run_dir", "timestamp", "run_id", "arch"
};

size_t st_pool_count(const st_pool *p) { return p->nrows; }

const char *st_pool_dim_name(int dim)
{
    return dim >= 0 && dim < ST_DIM_COUNT ? dimnames[dim] : NULL;
}

int st_pool_dim_from_name(const char *name)
{
    for (int i = 0; i < ST_DIM_COUNT; i++)
        if (strcmp(dimnames[i], name) == 0)
            return i;
    return -1;
}

uint32_t st_pool_dim_id(const st_pool *p, size_t row, int dim)
{
    return p->dims[row * ST_DIM_COUNT + (size_t)dim];
}

const char *st_pool_string(const st_pool *p, uint32_t id)
{
    return id && id < p->nstr ? p->str[id] : NULL;
}

uint32_t st_pool_string_count(const st_pool *p)
{
    return (uint32_t)p->nstr;
}

unsigned st_pool_status(const st_pool *p, size_t row)
{
    return p->status[row];
}

const char *st_pool_path(const st_pool *p, size_t row)
{
    return p->paths[row];
}

size_t st_pool_metric_count(const st_pool *p) { return p->nmetrics; }

const char *st_pool_metric_name(const st_pool *p, size_t m)
{
    return m < p->nmetrics ? p->mnames[m] : NULL;
}

long st_pool_metric_index(const st_pool *p, const char *name)
{
    return smap_get(&p->metric_ix, name, strlen(name));
}

double st_pool_value(const st_pool *p, size_t row, size_t m)
{
    return p->cols[m] ? p->cols[m][row] : NAN;
}

const double *st_pool_column(const st_pool *p, size_t m)
{
    return p->cols[m];
}

size_t st_pool_phases(const st_pool *p, size_t row,
                      const st_pool_phase **out)
{
    *out = p->phases + p->phase_start[row];
    return p->phase_n[row];
}

void st_pool_phase_metric(const st_pool *p, uint32_t i, uint32_t *name,
                          double *value)
{
    *name = p->pm[i].name;
    *value = p->pm[i].val;
}

size_t st_pool_assertions(const st_pool *p, size_t row,
                          const st_pool_assertion **out)
{
    *out = p->asserts + p->assert_start[row];
    return p->assert_n[row];
}

size_t st_pool_error_count(const st_pool *p) { return p->nerrors; }

const st_pool_error *st_pool_error_at(const st_pool *p, size_t i)
{
    return i < p->nerrors ? &p->errors[i] : NULL;
}

size_t st_pool_walked(const st_pool *p) { return p->walked; }
/* }==================================================================== */
