/**
 * @file schedtest/fold.h
 * @brief Folding guest reports into ktstr's ScenarioStats / MonitorSummary.
 *
 * The guest agent sends text records (src/guest/frame.h); folding turns
 * the worker reports into per-cgroup stats and ScenarioStats, the monitor
 * record into a MonitorSummary, the phase record into phase buckets, with
 * ktstr's definitions (ktstr-spec.md §1.5, §5): spread = max - min
 * off-CPU %, migration ratio = migrations / iterations, wake latency
 * median / p99 by nearest rank over the samples pooled across the
 * cgroup's workers, CV = stddev / mean of the same pool, tail ratio =
 * p99 / median, run delay mean / worst over workers, scenario "worst_*"
 * over cgroups.
 *
 * The result is a small value tree (objects keep insertion order) that a
 * binding turns into a Lua table and the sidecar writer into JSON.
 */
#ifndef SCHEDTEST_FOLD_H
#define SCHEDTEST_FOLD_H

#include <stddef.h>

typedef enum {
    ST_FOLD_BOOL,
    ST_FOLD_INT,
    ST_FOLD_NUM,
    ST_FOLD_STR,
    ST_FOLD_ARR,
    ST_FOLD_OBJ
} st_fold_type;

typedef struct st_fold_node st_fold_node;
struct st_fold_node {
    st_fold_type type;
    char *key;              /* member name inside an object, else NULL */
    union {
        int b;
        long long i;
        double n;
        char *s;
    } v;
    st_fold_node **items;   /* ARR / OBJ children, in order */
    size_t n, cap;
};

/* Constructors return NULL only when out of memory. */
st_fold_node *st_fold_obj(void);
st_fold_node *st_fold_arr(void);
st_fold_node *st_fold_num(double v);
st_fold_node *st_fold_int(long long v);
st_fold_node *st_fold_str(const char *s);
st_fold_node *st_fold_bool(int b);

/** Append `child` to an array, or set it as member `key` of an object
 * (replacing a member of the same name).  Takes ownership of `child`. */
int st_fold_push(st_fold_node *arr, st_fold_node *child);
int st_fold_set(st_fold_node *obj, const char *key, st_fold_node *child);

/* Shorthands for st_fold_set with a new scalar. */
int st_fold_set_num(st_fold_node *obj, const char *key, double v);
int st_fold_set_int(st_fold_node *obj, const char *key, long long v);
int st_fold_set_str(st_fold_node *obj, const char *key, const char *s);
int st_fold_set_bool(st_fold_node *obj, const char *key, int b);

/** Member `key` of an object, or NULL. */
st_fold_node *st_fold_get(const st_fold_node *obj, const char *key);

void st_fold_free(st_fold_node *node);

/** Nearest-rank percentile (value at ceil(n*p)-1 of the sorted copy). */
double st_fold_percentile(const double *sorted, size_t n, double p);

/**
 * Fold `n` record payloads (each "type X\nkey value\n...") into an object
 * with: stats (ScenarioStats, phases inside), monitor (MonitorSummary or
 * absent), phases, stimulus_events, workers, sched_ext, guest, agent
 * (the result record: status, reason).  Unknown record types are ignored;
 * ST_EPARSE for a record that cannot be read.
 */
int st_fold_records(st_fold_node **out, const char *const *payloads,
                    const size_t *lens, size_t n);

#endif
