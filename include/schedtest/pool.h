/**
 * @file schedtest/pool.h
 * @brief A pool of sidecars loaded into compact columnar storage.
 *
 * st_pool_open walks a runs root (or one run directory): the sidecars in
 * it, in each run directory below it, and one level of subdirectories
 * below those.  Every sidecar is parsed in C; what comparisons need is kept
 * per row: interned dimension strings, status flags, one double column per
 * metric (NaN where absent), per-phase metrics and declared perf-delta
 * gates.  Files that fail are skipped and listed with path, byte offset
 * and reason; the rest loads.
 */
#ifndef SCHEDTEST_POOL_H
#define SCHEDTEST_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_pool st_pool;

/** Dimensions, in `list-values` order (spec §3.4, §4). */
typedef enum {
    ST_DIM_TEST,
    ST_DIM_KERNEL,
    ST_DIM_COMMIT,
    ST_DIM_KERNEL_COMMIT,
    ST_DIM_SOURCE,
    ST_DIM_RESOLVE_SOURCE,
    ST_DIM_CPU_BUDGET,
    ST_DIM_SCHEDULER,
    ST_DIM_TOPOLOGY,
    ST_DIM_WORK_TYPE,
    ST_DIM_THROUGHPUT_DENOMINATION,
    ST_DIM_RUN_DIR,
    ST_DIM_TIMESTAMP,
    ST_DIM_RUN_ID,
    ST_DIM_ARCH, /* host.arch: not a pairing dimension, used by stats list */
    ST_DIM_COUNT
} st_pool_dim;

/** Number of public dimensions (ST_DIM_ARCH and later are row extras). */
#define ST_POOL_NDIMS ST_DIM_ARCH

enum {
    ST_POOL_PASSED = 1,
    ST_POOL_SKIPPED = 2,
    ST_POOL_INCONCLUSIVE = 4,
    ST_POOL_EXPECTED_FAILURE = 8
};

typedef struct {
    const char *run_source;  /* replaces every row's run_source ("archive") */
    uint64_t max_file_size;  /* bytes; 0 = 16 MiB */
    int max_depth;           /* JSON nesting limit; 0 = 64 */
    int threads;             /* threads reading files, the calling one
                                included; 0 = online CPUs (max 8),
                                1 = the calling thread alone */
} st_pool_opts;

typedef struct {
    const char *path;
    int64_t offset; /* byte offset in the file, -1 when not about content */
    const char *reason;
    int code;       /* ST_E* */
} st_pool_error;

typedef struct {
    int step_index;
    uint32_t label;   /* string id */
    uint32_t first;   /* index of the first metric (st_pool_phase_metric) */
    uint32_t count;
} st_pool_phase;

typedef struct {
    uint32_t metric;       /* string id */
    uint32_t direction;    /* string id, 0 = null */
    double max_regression_pct; /* NaN = null */
    double min_abs;            /* NaN = null */
    int phase;                 /* -1 = null */
} st_pool_assertion;

/** Load every sidecar under `root`.  Fails only when root is unusable. */
int st_pool_open(st_pool **out, const char *root, const st_pool_opts *opts);
void st_pool_free(st_pool *p);

/** Rows (valid sidecars). */
size_t st_pool_count(const st_pool *p);

/** Name of a dimension ("test", ...), and the reverse (-1 if unknown). */
const char *st_pool_dim_name(int dim);
int st_pool_dim_from_name(const char *name);

/** String id of a row's dimension; 0 means "not recorded". */
uint32_t st_pool_dim_id(const st_pool *p, size_t row, int dim);

/** The interned string of an id (NULL for 0). */
const char *st_pool_string(const st_pool *p, uint32_t id);

/** Number of interned strings + 1 (ids are 1..n-1). */
uint32_t st_pool_string_count(const st_pool *p);

/** ST_POOL_PASSED | ... of a row. */
unsigned st_pool_status(const st_pool *p, size_t row);

/** The sidecar file of a row. */
const char *st_pool_path(const st_pool *p, size_t row);

/** Metric columns: count, name, index by name (-1), value (NaN absent).
 * st_pool_column is NULL for a metric no row has a value for. */
size_t st_pool_metric_count(const st_pool *p);
const char *st_pool_metric_name(const st_pool *p, size_t m);
long st_pool_metric_index(const st_pool *p, const char *name);
double st_pool_value(const st_pool *p, size_t row, size_t m);
const double *st_pool_column(const st_pool *p, size_t m);

/** Per-phase buckets of a row. */
size_t st_pool_phases(const st_pool *p, size_t row,
                      const st_pool_phase **out);
/** i-th phase metric: name string id and value. */
void st_pool_phase_metric(const st_pool *p, uint32_t i, uint32_t *name,
                          double *value);

/** Declared perf-delta gates of a row. */
size_t st_pool_assertions(const st_pool *p, size_t row,
                          const st_pool_assertion **out);

/** Files that failed, and the walk counts. */
size_t st_pool_error_count(const st_pool *p);
const st_pool_error *st_pool_error_at(const st_pool *p, size_t i);
/** Sidecar-named entries seen (valid + failed). */
size_t st_pool_walked(const st_pool *p);

#endif
