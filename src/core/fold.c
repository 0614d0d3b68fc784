/*
 * fold.c: guest records -> ScenarioStats, MonitorSummary, phase buckets.
 *
 * Definitions follow ktstr (ktstr-spec.md §1.5 and §5; 0.4.9 assert.rs and
 * the newer stats_types.rs): see schedtest/fold.h.
 */
#include "schedtest/fold.h"

#include "schedtest/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====================================================================
 * The value tree
 * ===================================================================== */

static st_fold_node *node_new(st_fold_type t)
{
    st_fold_node *n = calloc(1, sizeof *n);
    if (n)
        n->type = t;
    return n;
}

st_fold_node *st_fold_obj(void) { return node_new(ST_FOLD_OBJ); }
st_fold_node *st_fold_arr(void) { return node_new(ST_FOLD_ARR); }

st_fold_node *st_fold_num(double v)
{
    st_fold_node *n = node_new(ST_FOLD_NUM);
    if (n)
        n->v.n = v;
    return n;
}

st_fold_node *st_fold_int(long long v)
{
    st_fold_node *n = node_new(ST_FOLD_INT);
    if (n)
        n->v.i = v;
    return n;
}

st_fold_node *st_fold_str(const char *s)
{
    st_fold_node *n = node_new(ST_FOLD_STR);
    if (n && !(n->v.s = strdup(s ? s : ""))) {
        free(n);
        return NULL;
    }
    return n;
}

st_fold_node *st_fold_bool(int b)
{
    st_fold_node *n = node_new(ST_FOLD_BOOL);
    if (n)
        n->v.b = !!b;
    return n;
}

void st_fold_free(st_fold_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        st_fold_free(node->items[i]);
    free(node->items);
    if (node->type == ST_FOLD_STR)
        free(node->v.s);
    free(node->key);
    free(node);
}

static int append(st_fold_node *parent, st_fold_node *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        st_fold_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items)
            return st_error_set(ST_ENOMEM, "fold: out of memory");
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

int st_fold_push(st_fold_node *arr, st_fold_node *child)
{
    if (!child)
        return st_error_set(ST_ENOMEM, "fold: out of memory");
    int rc = append(arr, child);
    if (rc < 0)
        st_fold_free(child);
    return rc;
}

int st_fold_set(st_fold_node *obj, const char *key, st_fold_node *child)
{
    if (!child)
        return st_error_set(ST_ENOMEM, "fold: out of memory");
    free(child->key);
    child->key = strdup(key);
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->items[i]->key, key) == 0) {
            st_fold_free(obj->items[i]);
            obj->items[i] = child;
            return 0;
        }
    int rc = append(obj, child);
    if (rc < 0)
        st_fold_free(child);
    return rc;
}

int st_fold_set_num(st_fold_node *o, const char *k, double v)
{
    return st_fold_set(o, k, st_fold_num(v));
}

int st_fold_set_int(st_fold_node *o, const char *k, long long v)
{
    return st_fold_set(o, k, st_fold_int(v));
}

int st_fold_set_str(st_fold_node *o, const char *k, const char *s)
{
    return st_fold_set(o, k, st_fold_str(s));
}

int st_fold_set_bool(st_fold_node *o, const char *k, int b)
{
    return st_fold_set(o, k, st_fold_bool(b));
}

st_fold_node *st_fold_get(const st_fold_node *obj, const char *key)
{
    if (!obj || obj->type != ST_FOLD_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->items[i]->key, key) == 0)
            return obj->items[i];
    return NULL;
}

/* }==================================================================== */

/* {====================================================================
 * Record payloads: "key value" lines, keys may repeat
 * ===================================================================== */

typedef struct {
    char *key;
    char *val;
} kvline;

typedef struct {
    char *text; /* owned copy, split in place */
    kvline *lines;
    size_t n;
} record;

static int record_parse(record *r, const char *payload, size_t len)
{
    r->text = malloc(len + 1);
    r->lines = NULL;
    r->n = 0;
    if (!r->text)
        return st_error_set(ST_ENOMEM, "fold: out of memory");
    memcpy(r->text, payload, len);
    r->text[len] = '\0';
    size_t cap = 0;
    for (char *p = r->text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            if (r->n == cap) {
                cap = cap ? cap * 2 : 32;
                kvline *l = realloc(r->lines, cap * sizeof *l);
                if (!l)
                    return st_error_set(ST_ENOMEM, "fold: out of memory");
                r->lines = l;
            }
            char *sp = strchr(p, ' ');
            if (sp)
                *sp = '\0';
            r->lines[r->n].key = p;
            r->lines[r->n].val = sp ? sp + 1 : p + strlen(p);
            r->n++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (r->n == 0 || strcmp(r->lines[0].key, "type") != 0)
        return st_error_set(ST_EPARSE, "guest record without a 'type' line");
    return 0;
}

static void record_free(record *r)
{
    free(r->text);
    free(r->lines);
}

static const char *rget(const record *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->lines[i].key, key) == 0)
            return r->lines[i].val;
    return NULL;
}

static double rnum(const record *r, const char *key)
{
    const char *v = rget(r, key);
    return v ? strtod(v, NULL) : 0.0;
}

/* Space-separated numbers of `key` into a malloc'ed array. */
static double *rlist(const record *r, const char *key, size_t *n)
{
    *n = 0;
    const char *v = rget(r, key);
    if (!v)
        return NULL;
    size_t cap = 16;
    double *a = malloc(cap * sizeof *a);
    char *end;
    for (const char *p = v; a;) {
        double d = strtod(p, &end);
        if (end == p)
            break;
        if (*n == cap) {
            double *b = realloc(a, (cap *= 2) * sizeof *a);
            if (!b) {
                free(a);
                return NULL;
            }
            a = b;
        }
        a[(*n)++] = d;
        p = end;
    }
    return a;
}

/* }==================================================================== */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double st_fold_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    double r = ceil((double)n * p);
    size_t i = r < 1 ? 0 : (size_t)r - 1;
    return sorted[i < n ? i : n - 1];
}

/* A growable pool of samples. */
typedef struct {
    double *v;
    size_t n, cap;
} pool;

static void pool_add(pool *p, const double *v, size_t n)
{
    if (n == 0)
        return; /* memcpy with an empty, still NULL pool is undefined */
    if (p->n + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->n + n)
            cap *= 2;
        double *b = realloc(p->v, cap * sizeof *b);
        if (!b)
            return;
        p->v = b;
        p->cap = cap;
    }
    memcpy(p->v + p->n, v, n * sizeof *v);
    p->n += n;
}

/* median, p99, p999, max, cv of a pool (values as given, sorted here). */
typedef struct {
    double median, p99, p999, max, mean, cv;
    size_t n;
} dist;

static dist pool_dist(pool *p)
{
    dist d = {0};
    d.n = p->n;
    if (p->n == 0)
        return d;
    qsort(p->v, p->n, sizeof *p->v, cmp_double);
    d.median = st_fold_percentile(p->v, p->n, 0.5);
    d.p99 = st_fold_percentile(p->v, p->n, 0.99);
    d.p999 = st_fold_percentile(p->v, p->n, 0.999);
    d.max = p->v[p->n - 1];
    double s = 0, s2 = 0;
    for (size_t i = 0; i < p->n; i++)
        s += p->v[i];
    d.mean = s / (double)p->n;
    for (size_t i = 0; i < p->n; i++)
        s2 += (p->v[i] - d.mean) * (p->v[i] - d.mean);
    d.cv = d.mean > 0 ? sqrt(s2 / (double)p->n) / d.mean : 0.0;
    return d;
}

#define MAXCG 64

typedef struct {
    const char *name;
    int workers;
    double off_sum, off_min, off_max;
    int off_n;
    double max_gap_ms;
    int max_gap_cpu;
    double migrations, iterations, cpu_ns, run_delay_sum, run_delay_max;
    unsigned char cpus[1024];
    pool wake, timer, request;
} cgacc;

/* Worker report -> a raw table (ktstr's WorkerReport field names). */
/*
 * A step's operation as a stimulus event: "op <ms> <kind> <label>
 * <target> <value>" (the agent's apply_step) -> {elapsed_ms, label,
 * op_kind, detail = "target value"}.  NULL for a malformed line.
 */
static st_fold_node *op_event(const char *line)
{
    unsigned long long ms;
    char kind[32], label[64];
    int used = 0;
    if (sscanf(line, "%llu %31s %63s %n", &ms, kind, label, &used) != 3 ||
        !used)
        return NULL;
    st_fold_node *e = st_fold_obj();
    st_fold_set_int(e, "elapsed_ms", (long long)ms);
    st_fold_set_str(e, "label", label);
    st_fold_set_str(e, "op_kind", kind);
    st_fold_set_str(e, "detail", line + used);
    return e;
}

static st_fold_node *worker_node(const record *r)
{
    st_fold_node *w = st_fold_obj();
    if (!w)
        return NULL;
    static const char *const ints[][2] = {
        {"work_units", "work_units"}, {"iterations", "iterations"},
        {"cpu_ns", "cpu_time_ns"}, {"wall_ns", "wall_time_ns"},
        {"off_cpu_ns", "off_cpu_ns"}, {"migrations", "migration_count"},
        {"max_gap_cpu", "max_gap_cpu"},
        {"run_delay_ns", "schedstat_run_delay_ns"},
        {"run_count", "schedstat_run_count"},
        {"sched_cpu_ns", "schedstat_cpu_time_ns"},
        {"wake_total", "wake_sample_total"},
        {"timer_total", "timer_sample_total"},
        {"request_total", "request_sample_total"},
    };
    st_fold_set_str(w, "cgroup", rget(r, "cgroup"));
    st_fold_set_int(w, "index", (long long)rnum(r, "index"));
    st_fold_set_str(w, "work_type", rget(r, "work"));
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        st_fold_set_int(w, ints[i][1], (long long)rnum(r, ints[i][0]));
    st_fold_set_int(w, "max_gap_ms", (long long)(rnum(r, "max_gap_ns") / 1e6));
    st_fold_set_int(w, "max_gap_at_ms",
                    (long long)(rnum(r, "max_gap_at_ns") / 1e6));
    st_fold_set_bool(w, "completed", rnum(r, "completed") != 0);
    st_fold_set_bool(w, "is_messenger", rnum(r, "is_messenger") != 0);
    static const char *const lists[][2] = {
        {"cpus_used", "cpus_used"}, {"wake", "resume_latencies_ns"},
        {"timer", "timer_latencies_ns"}, {"request", "request_latencies_ns"},
        {"phase_iterations", "phase_iterations"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        size_t n;
        double *v = rlist(r, lists[i][0], &n);
        st_fold_node *a = st_fold_arr();
        for (size_t k = 0; a && k < n; k++)
            st_fold_push(a, st_fold_int((long long)v[k]));
        st_fold_set(w, lists[i][1], a);
        free(v);
    }
    return w;
}

static cgacc *cg_find(cgacc *cg, int *ncg, const char *name)
{
    for (int i = 0; i < *ncg; i++)
        if (strcmp(cg[i].name, name) == 0)
            return &cg[i];
    if (*ncg >= MAXCG)
        return NULL;
    cgacc *c = &cg[(*ncg)++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->off_min = INFINITY;
    c->off_max = -INFINITY;
    return c;
}

static void cg_add(cgacc *c, const record *r)
{
    c->workers++;
    double wall = rnum(r, "wall_ns"), off = rnum(r, "off_cpu_ns");
    if (wall > 0) {
        double pct = off / wall * 100.0;
        c->off_sum += pct;
        c->off_n++;
        c->off_min = fmin(c->off_min, pct);
        c->off_max = fmax(c->off_max, pct);
    }
    double gap = floor(rnum(r, "max_gap_ns") / 1e6);
    if (c->workers == 1 || gap > c->max_gap_ms) {
        c->max_gap_ms = gap;
        c->max_gap_cpu = (int)rnum(r, "max_gap_cpu");
    }
    c->migrations += rnum(r, "migrations");
    c->iterations += rnum(r, "iterations");
    c->cpu_ns += rnum(r, "sched_cpu_ns") > 0 ? rnum(r, "sched_cpu_ns")
                                             : rnum(r, "cpu_ns");
    double rd = rnum(r, "run_delay_ns") / 1000.0;
    c->run_delay_sum += rd;
    c->run_delay_max = fmax(c->run_delay_max, rd);
    size_t n;
    double *v = rlist(r, "cpus_used", &n);
    for (size_t i = 0; i < n; i++)
        if (v[i] >= 0 && v[i] < 1024)
            c->cpus[(int)v[i]] = 1;
    free(v);
    v = rlist(r, "wake", &n);
    if (v)
        pool_add(&c->wake, v, n);
    free(v);
    v = rlist(r, "timer", &n);
    if (v)
        pool_add(&c->timer, v, n);
    free(v);
    v = rlist(r, "request", &n);
    if (v)
        pool_add(&c->request, v, n);
    free(v);
}

/* Scenario-wide accumulators for the "worst_*" twins. */
typedef struct {
    double spread, gap_ms, migration_ratio, p99, median, cv, run_delay,
        mean_run_delay, tail, ipw, ipcs;
    int gap_cpu, have;
    double workers, cpus, migrations, iterations, cpu_ns;
} worst;

static st_fold_node *cg_node(cgacc *c, worst *w, pool *all_wake,
                             pool *all_timer, pool *all_request)
{
    st_fold_node *o = st_fold_obj();
    if (!o)
        return NULL;
    int ncpu = 0;
    st_fold_node *used = st_fold_arr();
    for (int i = 0; i < 1024; i++)
        if (c->cpus[i]) {
            ncpu++;
            st_fold_push(used, st_fold_int(i));
        }
    pool_add(all_wake, c->wake.v, c->wake.n);
    pool_add(all_timer, c->timer.v, c->timer.n);
    pool_add(all_request, c->request.v, c->request.n);
    dist wd = pool_dist(&c->wake);
    double spread = c->off_n ? c->off_max - c->off_min : 0.0;
    double mig_ratio = c->iterations > 0 ? c->migrations / c->iterations : 0;
    double med_us = wd.median / 1000.0, p99_us = wd.p99 / 1000.0;
    double tail = wd.median > 0 ? wd.p99 / wd.median : 0.0;
    double ipw = c->workers ? c->iterations / c->workers : 0.0;
    double ipcs = c->cpu_ns > 0 ? c->iterations / (c->cpu_ns / 1e9) : 0.0;
    double mean_rd = c->workers ? c->run_delay_sum / c->workers : 0.0;

    st_fold_set_str(o, "cgroup_name", c->name);
    st_fold_set_int(o, "num_workers", c->workers);
    st_fold_set(o, "cpus_used", used);
    st_fold_set_int(o, "num_cpus", ncpu);
    if (c->off_n) {
        st_fold_set_num(o, "avg_off_cpu_pct", c->off_sum / c->off_n);
        st_fold_set_num(o, "min_off_cpu_pct", c->off_min);
        st_fold_set_num(o, "max_off_cpu_pct", c->off_max);
        st_fold_set_num(o, "spread", spread);
    }
    st_fold_set_int(o, "max_gap_ms", (long long)c->max_gap_ms);
    st_fold_set_int(o, "max_gap_cpu", c->max_gap_cpu);
    st_fold_set_int(o, "total_migrations", (long long)c->migrations);
    st_fold_set_num(o, "migration_ratio", mig_ratio);
    st_fold_set_num(o, "p99_wake_latency_us", p99_us);
    st_fold_set_num(o, "median_wake_latency_us", med_us);
    st_fold_set_num(o, "wake_latency_cv", wd.cv);
    st_fold_set_int(o, "total_iterations", (long long)c->iterations);
    st_fold_set_int(o, "total_cpu_time_ns", (long long)c->cpu_ns);
    st_fold_set_num(o, "mean_run_delay_us", mean_rd);
    st_fold_set_num(o, "worst_run_delay_us", c->run_delay_max);
    st_fold_set_num(o, "page_locality", 0.0);
    st_fold_set_num(o, "cross_node_migration_ratio", 0.0);
    st_fold_set_num(o, "wake_latency_tail_ratio", tail);
    st_fold_set_num(o, "iterations_per_worker", ipw);
    st_fold_node *ext = st_fold_obj();
    st_fold_set_num(ext, "iterations_per_cpu_sec", ipcs);
    if (c->timer.n) {
        dist td = pool_dist(&c->timer);
        st_fold_set_num(ext, "median_timer_latency_us", td.median / 1000.0);
        st_fold_set_num(ext, "p99_timer_latency_us", td.p99 / 1000.0);
    }
    if (c->request.n) {
        dist rq = pool_dist(&c->request);
        st_fold_set_num(ext, "request_p50_latency_us", rq.median / 1000.0);
        st_fold_set_num(ext, "request_p99_latency_us", rq.p99 / 1000.0);
    }
    st_fold_set(o, "ext_metrics", ext);

    if (!w->have || spread > w->spread)
        w->spread = spread;
    if (!w->have || c->max_gap_ms > w->gap_ms) {
        w->gap_ms = c->max_gap_ms;
        w->gap_cpu = c->max_gap_cpu;
    }
    w->migration_ratio = fmax(w->migration_ratio, mig_ratio);
    w->p99 = fmax(w->p99, p99_us);
    w->median = fmax(w->median, med_us);
    w->cv = fmax(w->cv, wd.cv);
    w->run_delay = fmax(w->run_delay, c->run_delay_max);
    w->mean_run_delay = fmax(w->mean_run_delay, mean_rd);
    w->tail = fmax(w->tail, tail);
    w->ipw = w->have ? fmin(w->ipw, ipw) : ipw;
    w->ipcs = w->have ? fmin(w->ipcs, ipcs) : ipcs;
    w->have = 1;
    w->workers += c->workers;
    w->migrations += c->migrations;
    w->iterations += c->iterations;
    w->cpu_ns += c->cpu_ns;
    return o;
}

static void cg_free(cgacc *c)
{
    free(c->wake.v);
    free(c->timer.v);
    free(c->request.v);
}

/* "phase <idx> <label> <dur_ns> <iters> <user_ns> <sys_ns> <run_delay>
 *  <pcount> <avg_nr_running>" lines -> PhaseBucket array. */
static st_fold_node *phases_node(const record *r, double *dur_sec,
                                 double *iters, double *user, double *sys)
{
    st_fold_node *a = st_fold_arr();
    for (size_t i = 0; a && i < r->n; i++) {
        if (strcmp(r->lines[i].key, "phase") != 0)
            continue;
        int idx;
        char label[64];
        unsigned long long dur, it, u, s, rd, pc;
        double nr;
        if (sscanf(r->lines[i].val, "%d %63s %llu %llu %llu %llu %llu %llu %lf",
                   &idx, label, &dur, &it, &u, &s, &rd, &pc, &nr) != 9)
            continue;
        st_fold_node *b = st_fold_obj();
        st_fold_set_int(b, "step_index", idx);
        st_fold_set_str(b, "label", label);
        st_fold_node *m = st_fold_obj();
        double sec = (double)dur / 1e9;
        st_fold_set_num(m, "total_phase_iterations", (double)it);
        st_fold_set_num(m, "total_phase_duration_sec", sec);
        st_fold_set_num(m, "iteration_rate", sec > 0 ? (double)it / sec : 0);
        st_fold_set_num(m, "user_time_ns", (double)u);
        st_fold_set_num(m, "system_time_ns", (double)s);
        st_fold_set_num(m, "total_run_delay", (double)rd);
        st_fold_set_num(m, "total_pcount", (double)pc);
        if (pc)
            st_fold_set_num(m, "total_run_delay_ns_per_sched",
                            (double)rd / (double)pc);
        st_fold_set_num(m, "avg_nr_running", nr);
        st_fold_set(b, "metrics", m);
        st_fold_set_int(b, "sample_count", 1);
        st_fold_set_num(b, "duration_ms", (double)dur / 1e6);
        st_fold_push(a, b);
        *dur_sec += sec;
        *iters += (double)it;
        *user += (double)u;
        *sys += (double)s;
    }
    return a;
}

static st_fold_node *monitor_node(const record *r, st_fold_node *ext)
{
    st_fold_node *m = st_fold_obj();
    if (!m)
        return NULL;
    st_fold_set_int(m, "total_samples", (long long)rnum(r, "total_samples"));
    st_fold_set_num(m, "max_imbalance_ratio", rnum(r, "max_imbalance_ratio"));
    st_fold_set_int(m, "max_local_dsq_depth", 0);
    st_fold_set_bool(m, "stall_detected", rnum(r, "stall_detected") != 0);
    st_fold_set_num(m, "avg_imbalance_ratio", rnum(r, "avg_imbalance_ratio"));
    st_fold_set_num(m, "avg_nr_running", rnum(r, "avg_nr_running"));
    st_fold_set_num(m, "avg_local_dsq_depth", 0.0);
    if (rget(r, "stall_reason"))
        st_fold_set_str(m, "stall_reason", rget(r, "stall_reason"));
    size_t n;
    double *v = rlist(r, "schedstat", &n);
    if (v && n == 7) {
        /* run_delay pcount sched yld goidle ttwu ttwu_local */
        st_fold_node *s = st_fold_obj();
        st_fold_set_int(s, "total_run_delay", (long long)v[0]);
        st_fold_set_num(s, "run_delay_rate", v[1] > 0 ? v[0] / v[1] : 0.0);
        st_fold_set_int(s, "total_pcount", (long long)v[1]);
        st_fold_set_int(s, "total_sched_count", (long long)v[2]);
        st_fold_set_num(s, "sched_count_rate", 0.0);
        st_fold_set_int(s, "total_yld_count", (long long)v[3]);
        st_fold_set_int(s, "total_sched_goidle", (long long)v[4]);
        st_fold_set_int(s, "total_ttwu_count", (long long)v[5]);
        st_fold_set_int(s, "total_ttwu_local", (long long)v[6]);
        st_fold_set(m, "schedstat_deltas", s);
        static const char *const names[] = {
            "total_run_delay", "total_pcount", "total_sched_count",
            "total_yld_count", "total_sched_goidle", "total_ttwu_count",
            "total_ttwu_local"};
        for (int i = 0; i < 7; i++)
            st_fold_set_num(ext, names[i], v[i]);
        if (v[1] > 0)
            st_fold_set_num(ext, "total_run_delay_ns_per_sched", v[0] / v[1]);
        if (v[5] > 0)
            st_fold_set_num(ext, "ttwu_local_fraction", v[6] / v[5]);
        if (v[2] > 0)
            st_fold_set_num(ext, "sched_goidle_fraction", v[4] / v[2]);
    }
    free(v);
    st_fold_set_num(ext, "avg_nr_running", rnum(r, "avg_nr_running"));
    /* raw samples: "s <t_ms> <nr cpu0> <nr cpu1> ..." */
    st_fold_node *samples = st_fold_arr();
    for (size_t i = 0; samples && i < r->n; i++) {
        if (strcmp(r->lines[i].key, "s") != 0)
            continue;
        st_fold_node *row = st_fold_arr();
        char *end;
        for (const char *p = r->lines[i].val; row;) {
            double d = strtod(p, &end);
            if (end == p)
                break;
            st_fold_push(row, st_fold_int((long long)d));
            p = end;
        }
        st_fold_push(samples, row);
    }
    st_fold_set(m, "samples", samples);
    return m;
}

/* Repeated "key line" entries as an array of strings. */
static st_fold_node *lines_node(const record *r, const char *key)
{
    st_fold_node *a = st_fold_arr();
    for (size_t i = 0; a && i < r->n; i++)
        if (strcmp(r->lines[i].key, key) == 0)
            st_fold_push(a, st_fold_str(r->lines[i].val));
    return a;
}

/* ktstr's verifier_stats from the agent's "bpf_prog INSNS NAME" lines. */
static st_fold_node *verifier_node(const record *r)
{
    st_fold_node *a = st_fold_arr();
    for (size_t i = 0; a && i < r->n; i++) {
        if (strcmp(r->lines[i].key, "bpf_prog") != 0)
            continue;
        unsigned long long insns;
        int name_at = 0;
        if (sscanf(r->lines[i].val, "%llu %n", &insns, &name_at) != 1 ||
            !r->lines[i].val[name_at])
            continue;
        st_fold_node *v = st_fold_obj();
        st_fold_set_str(v, "name", r->lines[i].val + name_at);
        st_fold_set_int(v, "verified_insns", (long long)insns);
        st_fold_push(a, v);
    }
    return a;
}

static st_fold_node *sched_node(const record *r)
{
    st_fold_node *s = st_fold_obj();
    const char *bin = rget(r, "binary");
    st_fold_set_str(s, "binary", bin && strcmp(bin, "-") ? bin : "");
    st_fold_set_bool(s, "attached", rnum(r, "attached") != 0);
    st_fold_set_str(s, "state", rget(r, "state"));
    const char *ops = rget(r, "ops");
    if (ops && strcmp(ops, "-") != 0)
        st_fold_set_str(s, "ops", ops);
    if (rget(r, "exit_reason"))
        st_fold_set_str(s, "exit_reason", rget(r, "exit_reason"));
    st_fold_set(s, "output", lines_node(r, "output"));
    st_fold_set(s, "kmsg", lines_node(r, "kmsg"));
    return s;
}

/* Number of distinct strings in `v[0..n)`. */
static int distinct(char **v, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(v[i], v[j]) == 0;
        d += !seen;
    }
    return d;
}

static st_fold_node *guest_node(const record *r)
{
    st_fold_node *g = st_fold_obj();
    st_fold_set_str(g, "kernel", rget(r, "kernel"));
    st_fold_set_int(g, "cpus", (long long)rnum(r, "cpus"));
    st_fold_set_num(g, "uptime_ms", rnum(r, "uptime_ms"));
    st_fold_set_num(g, "init_uptime_ms", rnum(r, "init_uptime_ms"));
    st_fold_set_str(g, "clocksource", rget(r, "clocksource") ? rget(r, "clocksource") : "");
    st_fold_set_bool(g, "sched_ext", rnum(r, "sched_ext") != 0);
    st_fold_node *cpus = st_fold_arr();
    char *llc[1024], *core[1024], *pkg[1024], *thr[1024];
    int n = 0, nodes = 0;
    for (size_t i = 0; i < r->n && n < 1024; i++) {
        if (strcmp(r->lines[i].key, "cpu") == 0) {
            int id, node;
            char p[32], d[32], c[32], l[128], t[128];
            if (sscanf(r->lines[i].val, "%d %31s %31s %31s %d %127s %127s", &id,
                       p, d, c, &node, l, t) != 7)
                continue;
            st_fold_node *o = st_fold_obj();
            st_fold_set_int(o, "cpu", id);
            st_fold_set_int(o, "package", atoi(p));
            st_fold_set_int(o, "die", atoi(d));
            st_fold_set_int(o, "core", atoi(c));
            st_fold_set_int(o, "node", node);
            st_fold_set_str(o, "llc", l);
            st_fold_set_str(o, "thread_siblings", t);
            st_fold_push(cpus, o);
            char key[80];
            snprintf(key, sizeof key, "%s/%s", p, c);
            core[n] = strdup(key);
            pkg[n] = strdup(p);
            llc[n] = strdup(l);
            thr[n] = strdup(t);
            n++;
        } else if (strcmp(r->lines[i].key, "node") == 0)
            nodes++;
    }
    st_fold_set(g, "cpu_topology", cpus);
    st_fold_set_int(g, "numa_nodes", nodes ? nodes : 1);
    st_fold_set_int(g, "packages", distinct(pkg, n));
    /* no L3 in sysfs: count packages as LLCs, like qemu's per-socket L3 */
    st_fold_set_int(g, "llcs", n && strcmp(llc[0], "-") ? distinct(llc, n)
                                                       : distinct(pkg, n));
    st_fold_set_int(g, "cores", distinct(core, n));
    st_fold_set_int(g, "threads_per_core",
                    n && distinct(core, n) ? n / distinct(core, n) : 1);
    st_fold_set(g, "nodes", lines_node(r, "node"));
    for (int i = 0; i < n; i++) {
        free(core[i]);
        free(pkg[i]);
        free(llc[i]);
        free(thr[i]);
    }
    return g;
}

int st_fold_records(st_fold_node **out, const char *const *payloads,
                    const size_t *lens, size_t n)
{
    *out = NULL;
    record *recs = calloc(n ? n : 1, sizeof *recs);
    cgacc *cg = calloc(MAXCG, sizeof *cg);
    st_fold_node *res = st_fold_obj();
    int rc = 0;
    size_t parsed = 0;
    if (!recs || !cg || !res) {
        rc = st_error_set(ST_ENOMEM, "fold: out of memory");
        goto out;
    }
    for (; parsed < n; parsed++)
        if ((rc = record_parse(&recs[parsed], payloads[parsed], lens[parsed])) < 0) {
            parsed++;
            goto out;
        }

    int ncg = 0;
    st_fold_node *workers = st_fold_arr();
    st_fold_node *ext = st_fold_obj();
    st_fold_node *phases = NULL, *monitor = NULL;
    double dur_sec = 0, ph_iters = 0, user = 0, sys = 0;
    for (size_t i = 0; i < n; i++) {
        const record *r = &recs[i];
        const char *type = r->lines[0].val;
        if (strcmp(type, "worker") == 0) {
            const char *name = rget(r, "cgroup");
            cgacc *c = cg_find(cg, &ncg, name ? name : "");
            if (c)
                cg_add(c, r);
            st_fold_push(workers, worker_node(r));
        } else if (strcmp(type, "phases") == 0) {
            st_fold_free(phases);
            phases = phases_node(r, &dur_sec, &ph_iters, &user, &sys);
        } else if (strcmp(type, "monitor") == 0) {
            st_fold_free(monitor);
            monitor = monitor_node(r, ext);
        } else if (strcmp(type, "events") == 0) {
            st_fold_node *ev = st_fold_arr();
            for (size_t k = 0; k < r->n; k++) {
                if (strcmp(r->lines[k].key, "op") == 0) {
                    st_fold_node *e = op_event(r->lines[k].val);
                    if (e)
                        st_fold_push(ev, e);
                    continue;
                }
                if (strcmp(r->lines[k].key, "event") != 0)
                    continue;
                unsigned long long ms, it;
                char label[64];
                if (sscanf(r->lines[k].val, "%llu %63s %llu", &ms, label, &it) != 3)
                    continue;
                st_fold_node *e = st_fold_obj();
                st_fold_set_int(e, "elapsed_ms", (long long)ms);
                st_fold_set_str(e, "label", label);
                st_fold_set_str(e, "op_kind", "phase");
                st_fold_set_int(e, "total_iterations", (long long)it);
                st_fold_push(ev, e);
            }
            st_fold_set(res, "stimulus_events", ev);
        } else if (strcmp(type, "sched") == 0) {
            st_fold_set(res, "sched_ext", sched_node(r));
            st_fold_set(res, "verifier_stats", verifier_node(r));
        } else if (strcmp(type, "hello") == 0) {
            st_fold_set(res, "guest", guest_node(r));
        } else if (strcmp(type, "result") == 0) {
            st_fold_node *a = st_fold_obj();
            st_fold_set_str(a, "status", rget(r, "status"));
            if (rget(r, "reason"))
                st_fold_set_str(a, "reason", rget(r, "reason"));
            st_fold_set(res, "agent", a);
        }
    }

    /* ScenarioStats */
    st_fold_node *stats = st_fold_obj();
    st_fold_node *cgs = st_fold_arr();
    worst w = {0};
    pool all_wake = {0}, all_timer = {0}, all_request = {0};
    unsigned char allcpu[1024] = {0};
    for (int i = 0; i < ncg; i++) {
        st_fold_push(cgs, cg_node(&cg[i], &w, &all_wake, &all_timer, &all_request));
        for (int k = 0; k < 1024; k++)
            allcpu[k] |= cg[i].cpus[k];
    }
    int total_cpus = 0;
    for (int k = 0; k < 1024; k++)
        total_cpus += allcpu[k];
    st_fold_set(stats, "cgroups", cgs);
    st_fold_set_int(stats, "total_workers", (long long)w.workers);
    st_fold_set_int(stats, "total_cpus", total_cpus);
    st_fold_set_int(stats, "total_migrations", (long long)w.migrations);
    st_fold_set_int(stats, "total_iterations", (long long)w.iterations);
    st_fold_set_num(stats, "worst_spread", w.spread);
    st_fold_set_int(stats, "worst_gap_ms", (long long)w.gap_ms);
    st_fold_set_int(stats, "worst_gap_cpu", w.gap_cpu);
    st_fold_set_num(stats, "worst_migration_ratio", w.migration_ratio);
    st_fold_set_num(stats, "worst_p99_wake_latency_us", w.p99);
    st_fold_set_num(stats, "worst_median_wake_latency_us", w.median);
    st_fold_set_num(stats, "worst_wake_latency_cv", w.cv);
    st_fold_set_num(stats, "worst_run_delay_us", w.run_delay);
    st_fold_set_num(stats, "worst_mean_run_delay_us", w.mean_run_delay);
    st_fold_set_num(stats, "worst_page_locality", 0.0);
    st_fold_set_num(stats, "worst_cross_node_migration_ratio", 0.0);
    if (w.iterations >= 100)
        st_fold_set_num(stats, "worst_wake_latency_tail_ratio", w.tail);
    st_fold_set_num(stats, "worst_iterations_per_worker", w.ipw);

    /* ext_metrics: registry names without a typed field */
    st_fold_set_num(ext, "worst_iterations_per_cpu_sec", w.ipcs);
    st_fold_set_num(ext, "total_cpu_time_sec", w.cpu_ns / 1e9);
    st_fold_set_num(ext, "total_iterations_pooled", w.iterations);
    if (w.cpu_ns > 0)
        st_fold_set_num(ext, "iterations_per_cpu_sec", w.iterations / (w.cpu_ns / 1e9));
    st_fold_set_num(ext, "total_phase_iterations", ph_iters);
    st_fold_set_num(ext, "total_phase_duration_sec", dur_sec);
    if (dur_sec > 0)
        st_fold_set_num(ext, "iteration_rate", ph_iters / dur_sec);
    st_fold_set_num(ext, "user_time_ns", user);
    st_fold_set_num(ext, "system_time_ns", sys);
    if (all_timer.n) {
        dist td = pool_dist(&all_timer);
        st_fold_set_num(ext, "worst_median_timer_latency_us", td.median / 1000.0);
        st_fold_set_num(ext, "worst_p99_timer_latency_us", td.p99 / 1000.0);
        st_fold_set_num(ext, "worst_p999_timer_latency_us", td.p999 / 1000.0);
        st_fold_set_num(ext, "worst_timer_latency_us", td.max / 1000.0);
    }
    if (all_request.n) {
        dist rq = pool_dist(&all_request);
        st_fold_set_num(ext, "request_p50_latency_us", rq.median / 1000.0);
        st_fold_set_num(ext, "request_p99_latency_us", rq.p99 / 1000.0);
    }
    free(all_wake.v);
    free(all_timer.v);
    free(all_request.v);
    st_fold_set(stats, "ext_metrics", ext);
    if (!phases)
        phases = st_fold_arr();
    st_fold_node *ph_copy = st_fold_arr();
    /* stats.phases and result.phases are the same buckets: share by
     * rebuilding (the tree has single ownership) */
    for (size_t i = 0; phases && i < phases->n; i++) {
        st_fold_node *b = phases->items[i];
        st_fold_node *c = st_fold_obj();
        st_fold_set_int(c, "step_index", st_fold_get(b, "step_index")->v.i);
        st_fold_set_str(c, "label", st_fold_get(b, "label")->v.s);
        st_fold_node *m = st_fold_obj(), *bm = st_fold_get(b, "metrics");
        for (size_t k = 0; bm && k < bm->n; k++)
            st_fold_set_num(m, bm->items[k]->key, bm->items[k]->v.n);
        st_fold_set(c, "metrics", m);
        st_fold_set_int(c, "sample_count", 1);
        st_fold_push(ph_copy, c);
    }
    st_fold_set(stats, "phases", ph_copy);
    st_fold_set(res, "stats", stats);
    if (monitor)
        st_fold_set(res, "monitor", monitor);
    st_fold_set(res, "phases", phases);
    st_fold_set(res, "workers", workers);
    if (!st_fold_get(res, "stimulus_events"))
        st_fold_set(res, "stimulus_events", st_fold_arr());
    for (int i = 0; i < ncg; i++)
        cg_free(&cg[i]);
out:
    if (recs)
        for (size_t i = 0; i < parsed; i++)
            record_free(&recs[i]);
    free(recs);
    free(cg);
    if (rc < 0) {
        st_fold_free(res);
        return rc;
    }
    *out = res;
    return 0;
}
