/**
 * @file schedtest/sidecar.h
 * @brief ktstr-compatible sidecar files: schema, serialization in
 *        serde_json's pretty format, variant hash, run directories, the runs
 *        root, pre-clear and atomic publication.
 *
 * docs/sidecar-format.md documents the format field by field.
 */
#ifndef SCHEDTEST_SIDECAR_H
#define SCHEDTEST_SIDECAR_H

#include <stddef.h>
#include <stdint.h>

#include "schedtest/json.h"

/** Standard SipHash-1-3 of data[0..len) with key (k0, k1). */
uint64_t st_sidecar_siphash13(uint64_t k0, uint64_t k1, const void *data,
                              size_t len);

/** The inputs of the variant hash (spec §1.1); NULL strings are absent. */
typedef struct {
    const char *topology, *scheduler, *payload, *work_type;
    const char *const *flags;
    size_t nflags;
    const char *const *sysctls; /* hashed sorted */
    size_t nsysctls;
    const char *const *kargs;   /* hashed sorted */
    size_t nkargs;
} st_sidecar_variant;

/**
 * ktstr's sidecar variant hash: SipHash-1-3, keys (0,0), over topology\0
 * scheduler\0 0xfc [payload\0] work_type\0 0xfe flags\0... 0xfd
 * sorted-sysctls\0... 0xff sorted-kargs\0...
 */
int st_sidecar_variant_hash(uint64_t *out, const st_sidecar_variant *v);

/** The variant of a sidecar tree (fields topology, scheduler, ...). */
int st_sidecar_variant_hash_json(uint64_t *out, const st_json *sidecar);

/** "{test_name}-{hash:016x}.ktstr.json"; free *out. */
int st_sidecar_file_name(char **out, const char *test_name, uint64_t hash);

/** "{kernel}-{commit}", "unknown" for a NULL or empty part; free *out. */
int st_sidecar_run_dir_name(char **out, const char *kernel,
                            const char *commit);

/** ktstr's predicate: extension "json" and ".ktstr." in the file name. */
int st_sidecar_is_sidecar_name(const char *name);

/**
 * The runs root: $SCHEDTEST_RUNS_ROOT, else $KTSTR_RUNS_ROOT (non-empty),
 * else {project root}/target/ktstr where the project root is the nearest
 * directory holding .git walking up from `cwd` (NULL = the current
 * directory), else {cwd}/target/ktstr.  Free *out.
 */
int st_sidecar_runs_root(char **out, const char *cwd);

/**
 * The operator's sidecar directory: $SCHEDTEST_SIDECAR_DIR, else
 * $KTSTR_SIDECAR_DIR (each only when non-empty), else NULL.  Writers put
 * sidecars there with no pre-clear and no lock; bare `stats` reads it.
 */
const char *st_sidecar_dir_override(void);

/**
 * Serialize a sidecar tree the way ktstr's serde_json::to_string_pretty
 * does: schema keys in ktstr's struct order (null for an absent Option,
 * [] for an absent Vec), then any extra keys sorted bytewise; integers for
 * integer fields, shortest round-trip floats with ".0" for float fields.
 * Fails with ST_EINVAL naming the key when a field has the wrong type or a
 * required string is missing.
 */
int st_sidecar_serialize(st_buf *out, const st_json *sidecar);

/** Options of st_sidecar_write; every field may be NULL. */
typedef struct {
    const char *runs_root;      /* default: st_sidecar_runs_root() */
    const char *dir;            /* explicit directory: no pre-clear, no lock
                                   (default: $SCHEDTEST_SIDECAR_DIR) */
    const char *kernel;         /* default: the sidecar's kernel_version */
    const char *project_commit; /* default: the sidecar's project_commit */
} st_sidecar_write_opts;

/**
 * Write one sidecar: compute its directory and file name, pre-clear the run
 * directory on this invocation's first write to it (under an exclusive
 * flock on {runs_root}/.locks/{dir}.lock; with $SCHEDTEST_RUN_EPOCH or
 * $KTSTR_RUN_EPOCH set, the pre-clear happens once per epoch across
 * processes), then publish atomically.  *path_out (free it) is the file.
 */
int st_sidecar_write(char **path_out, const st_json *sidecar,
                     const st_sidecar_write_opts *opts);

/** Forget which run dirs this process pre-cleared (tests only). */
void st_sidecar_reset_preclear(void);

/** Typed-field accessor of a registry metric: name -> dotted JSON path. */
typedef struct {
    const char *name;
    const char *path; /* "stats.worst_spread", "monitor.event_deltas.x" */
} st_sidecar_field;

/** Rate metric derived as num/den (registry kind Rate). */
typedef struct {
    const char *name, *num, *den;
} st_sidecar_rate;

/** The built-in typed accessors and rates (NULL-name terminated). */
extern const st_sidecar_field st_sidecar_fields[];
extern const st_sidecar_rate st_sidecar_rates[];

#endif
