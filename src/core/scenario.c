/*
 * scenario.c: the scenario wire format (include/schedtest/scenario.h),
 * its one writer, its one reader and the checks both run.
 *
 * Plain libc on purpose: this file is compiled into the core library and
 * into the static guest agent, so the host and the guest read one
 * definition of every directive.  Errors go to the caller's buffer, not
 * to error.c (the agent has none); core callers turn them into
 * st_error_set(ST_EINVAL, ...).
 *
 * Text: "schedtest-scenario 1", then one directive per line, then "end".
 * Scalars are "name value"; lists are a count line ("cgroups 2") followed
 * by exactly that many item lines; records are "name key=value ..." with
 * every key present once.  A step record's `ops` and a payload record's
 * `nargs` count the "op" / "payload_arg" lines that follow it.  Strings
 * are percent-encoded (bytes <= ' ', >= 0x7f and '%'); "-" is the empty
 * string and "%2D" a lone dash.  The field tables below drive both the
 * writer and the reader, so the two cannot disagree on a name or a bound.
 */
#include "schedtest/scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest duration or timeout in ms: a day, what the launcher holds
 * (ST_VM_MAX_MS; vm.h is not part of the agent). */
#define SCN_MAX_MS (24 * 60 * 60 * 1000)
#define SCN_MAX_WEIGHT 10000

/* {====================================================================
 * Names
 * ===================================================================== */

static const char *const work_names[] = {
#define ST_X(e, k, s) k,
    ST_WORK_TYPES(ST_X)
#undef ST_X
};

static const char *const work_suite_names[] = {
#define ST_X(e, k, s) s,
    ST_WORK_TYPES(ST_X)
#undef ST_X
};

static const char *const policy_names[] = {
#define ST_X(e, s) s,
    ST_SCHED_POLICIES(ST_X)
#undef ST_X
};

static const char *const op_names[] = {
#define ST_X(e, s, doc) s,
    ST_SCN_OPS(ST_X)
#undef ST_X
};

const char *st_work_name(st_work w)
{
    return (unsigned)w < ST_WORK_COUNT ? work_names[w] : NULL;
}

const char *st_work_suite_name(st_work w)
{
    return (unsigned)w < ST_WORK_COUNT ? work_suite_names[w] : NULL;
}

int st_work_from_name(const char *name)
{
    for (int i = 0; name && i < ST_WORK_COUNT; i++)
        if (!strcmp(name, work_names[i]) || !strcmp(name, work_suite_names[i]))
            return i;
    return -1;
}

const char *st_policy_name(st_sched_policy p)
{
    return (unsigned)p < ST_POLICY_COUNT ? policy_names[p] : NULL;
}

int st_policy_from_name(const char *name)
{
    for (int i = 0; name && i < ST_POLICY_COUNT; i++)
        if (!strcmp(name, policy_names[i]))
            return i;
    return -1;
}

const char *st_op_name(st_scn_op_kind k)
{
    return (unsigned)k < ST_OP_COUNT ? op_names[k] : NULL;
}

int st_op_from_name(const char *name)
{
    for (int i = 0; name && i < ST_OP_COUNT; i++)
        if (!strcmp(name, op_names[i]))
            return i;
    return -1;
}

/* }==================================================================== */

/* {====================================================================
 * Field tables: one per record, shared by the writer and the reader
 * ===================================================================== */

typedef enum { F_INT, F_STR, F_WORK, F_POLICY, F_OP } ftype;

typedef struct {
    const char *key;
    ftype type;
    size_t off;
    size_t size;   /* F_STR: the buffer's size */
    long min, max; /* F_INT */
} field;

#define MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
#define F_I(T, k, m, lo, hi) {k, F_INT, offsetof(T, m), 0, lo, hi}
#define F_S(T, k, m) {k, F_STR, offsetof(T, m), MEMBER_SIZE(T, m), 0, 0}
#define F_E(T, k, m, ty) {k, ty, offsetof(T, m), 0, 0, 0}
#define F_END {NULL, F_INT, 0, 0, 0, 0}

#define ATTR_FIELDS(T)                                    \
    F_E(T, "policy", attrs.policy, F_POLICY),             \
    F_I(T, "priority", attrs.priority, 0, 99),            \
    F_I(T, "nice", attrs.nice, -20, 19),                  \
    F_S(T, "affinity", attrs.affinity),                   \
    F_S(T, "comm", attrs.comm)

static const field top_fields[] = {
    F_I(st_scenario, "duration_ms", duration_ms, 0, SCN_MAX_MS),
    F_I(st_scenario, "settle_ms", settle_ms, 0, SCN_MAX_MS),
    F_I(st_scenario, "attach_timeout_ms", attach_timeout_ms, 0, SCN_MAX_MS),
    F_I(st_scenario, "monitor_ms", monitor_ms, 1, 60000),
    F_S(st_scenario, "scheduler", scheduler),
    F_I(st_scenario, "sched_from_phase", sched_from_phase, 0,
        ST_SCN_MAX_STEPS),
    F_I(st_scenario, "sched_not_scx", sched_not_scx, 0, 1),
    F_S(st_scenario, "fault", fault),
    F_S(st_scenario, "fault_stage", fault_stage),
    F_END
};

static const field write_fields[] = {
    F_S(st_scn_write, "path", path),
    F_S(st_scn_write, "value", value),
    F_END
};

#define PARAM_FIELD(f, doc) \
    F_I(st_scn_cgroup, #f, params.f, 0, ST_SCN_MAX_PARAM),

static const field cgroup_fields[] = {
    F_S(st_scn_cgroup, "name", name),
    F_I(st_scn_cgroup, "workers", workers, 1, ST_SCN_MAX_WORKERS),
    F_E(st_scn_cgroup, "work", work, F_WORK),
    F_S(st_scn_cgroup, "cpuset", cpuset),
    F_I(st_scn_cgroup, "weight", weight, 0, SCN_MAX_WEIGHT),
    F_I(st_scn_cgroup, "fanout", fanout, 0, ST_SCN_MAX_WORKERS),
    ST_WORK_PARAMS(PARAM_FIELD)
    ATTR_FIELDS(st_scn_cgroup),
    F_END
};

static const field step_fields[] = {
    F_I(st_scn_step, "ms", ms, 0, SCN_MAX_MS),
    F_S(st_scn_step, "label", label),
    F_I(st_scn_step, "ops", nops, 0, ST_SCN_MAX_OPS),
    F_END
};

static const field op_fields[] = {
    F_E(st_scn_op, "kind", kind, F_OP),
    F_S(st_scn_op, "target", target),
    F_S(st_scn_op, "value", value),
    F_END
};

static const field payload_fields[] = {
    F_S(st_scn_payload, "name", name),
    F_S(st_scn_payload, "path", path),
    F_S(st_scn_payload, "cgroup", cgroup),
    F_I(st_scn_payload, "from_phase", from_phase, 0, ST_SCN_MAX_STEPS),
    F_I(st_scn_payload, "interrupt_at_end", interrupt_at_end, 0, 1),
    F_I(st_scn_payload, "timeout_ms", timeout_ms, 0, SCN_MAX_MS),
    F_I(st_scn_payload, "nargs", nargs, 0, ST_SCN_MAX_PAYLOAD_ARGS),
    ATTR_FIELDS(st_scn_payload),
    F_END
};

/*
 * Lists of the scenario: "<count> N" then N "<item>" lines.  `fields`
 * NULL: the item is one string of `size` bytes at `base + i * size`.
 */
typedef struct {
    const char *count, *item;
    size_t count_off, base_off, size;
    int max;
    const field *fields;
} list_desc;

#define LIST(c, it, n, arr, max, f) \
    {c, it, offsetof(st_scenario, n), offsetof(st_scenario, arr), \
     sizeof(((st_scenario *)0)->arr[0]), max, f}

static const list_desc lists[] = {
    LIST("sched_args", "sched_arg", nsched_args, sched_args,
         ST_SCN_MAX_SCHED_ARGS, NULL),
    LIST("modules", "module", nmodules, modules, ST_SCN_MAX_MODULES, NULL),
    LIST("writes", "write", nwrites, writes, ST_SCN_MAX_WRITES, write_fields),
    LIST("cgroups", "cgroup", ncg, cg, ST_SCN_MAX_CGROUPS, cgroup_fields),
    LIST("steps", "step", nsteps, steps, ST_SCN_MAX_STEPS, step_fields),
    LIST("payloads", "payload", npayloads, payloads, ST_SCN_MAX_PAYLOADS,
         payload_fields),
};
#define NLISTS (int)(sizeof lists / sizeof lists[0])

static int *int_at(void *base, size_t off)
{
    return (int *)((char *)base + off);
}

/* }==================================================================== */

/* {====================================================================
 * Checks
 * ===================================================================== */

static int failf(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && size)
        vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* A NUL inside the buffer: a string that fits. */
static int fits(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* A cgroup name: a single path component of letters, digits, '_', '-',
 * '.' (not "." or ".."), so "/sys/fs/cgroup/<name>" stays inside. */
static int cgroup_name_ok(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' ||
              (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* A cpu list "0-3,5": digits, ',' and '-' only, never empty. */
static int cpu_list_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == ',' || *s == '-'))
            return 0;
    return 1;
}

/* Every field of a record within its bounds; `what` names the record. */
static int check_fields(const void *rec, const field *f, const char *what,
                        char *err, size_t errsize)
{
    for (; f->key; f++) {
        const char *p = (const char *)rec + f->off;
        int v = 0;
        if (f->type != F_STR)
            memcpy(&v, p, sizeof v);
        switch (f->type) {
        case F_INT:
            if (v < f->min || v > f->max)
                return failf(err, errsize, "%s.%s: %d is out of range "
                             "(%ld to %ld)", what, f->key, v, f->min, f->max);
            break;
        case F_STR:
            if (!fits(p, f->size))
                return failf(err, errsize, "%s.%s: longer than %zu bytes",
                             what, f->key, f->size - 1);
            break;
        case F_WORK:
            if ((unsigned)v >= ST_WORK_COUNT)
                return failf(err, errsize, "%s.%s: no work type %d", what,
                             f->key, v);
            break;
        case F_POLICY:
            if ((unsigned)v >= ST_POLICY_COUNT)
                return failf(err, errsize, "%s.%s: no policy %d", what,
                             f->key, v);
            break;
        case F_OP:
            if ((unsigned)v >= ST_OP_COUNT)
                return failf(err, errsize, "%s.%s: no operation %d", what,
                             f->key, v);
            break;
        }
    }
    return 0;
}

static int check_attrs(const st_task_attrs *a, const char *what, char *err,
                       size_t errsize)
{
    int rt = a->policy == ST_POLICY_FIFO || a->policy == ST_POLICY_RR;
    if (rt && (a->priority < 1 || a->priority > 99))
        return failf(err, errsize, "%s.priority: %s needs a priority from "
                     "1 to 99, got %d", what, st_policy_name(a->policy),
                     a->priority);
    if (!rt && a->priority != 0)
        return failf(err, errsize, "%s.priority: only fifo and rr take a "
                     "priority (policy %s)", what, st_policy_name(a->policy));
    if (a->nice != 0 && a->policy != ST_POLICY_NORMAL &&
        a->policy != ST_POLICY_BATCH)
        return failf(err, errsize, "%s.nice: only normal and batch take a "
                     "nice value (policy %s)", what,
                     st_policy_name(a->policy));
    if (a->affinity[0] && !cpu_list_ok(a->affinity))
        return failf(err, errsize, "%s.affinity: '%s' is not a cpu list",
                     what, a->affinity);
    for (const char *c = a->comm; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            return failf(err, errsize, "%s.comm: not printable", what);
    return 0;
}

static int check_cgroups(const st_scenario *s, char *err, size_t errsize)
{
    int workers = 0;
    for (int i = 0; i < s->ncg; i++) {
        const st_scn_cgroup *c = &s->cg[i];
        char what[32];
        snprintf(what, sizeof what, "cgroups[%d]", i + 1);
        if (check_fields(c, cgroup_fields, what, err, errsize) < 0 ||
            check_attrs(&c->attrs, what, err, errsize) < 0)
            return -1;
        if (!cgroup_name_ok(c->name))
            return failf(err, errsize, "%s.name: '%s' is not a cgroup name",
                         what, c->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->cg[j].name, c->name))
                return failf(err, errsize, "%s.name: '%s' is declared "
                             "twice", what, c->name);
        if (c->cpuset[0] && !cpu_list_ok(c->cpuset))
            return failf(err, errsize, "%s.cpuset: '%s' is not a cpu list",
                         what, c->cpuset);
        if (c->work == ST_WORK_PIPE_IO && c->workers % 2)
            return failf(err, errsize, "%s.workers: pipe_pingpong pairs "
                         "workers; %d is odd", what, c->workers);
        workers += c->workers;
    }
    if (workers > ST_SCN_MAX_WORKERS)
        return failf(err, errsize, "cgroups: %d workers in total; at most %d",
                     workers, ST_SCN_MAX_WORKERS);
    return 0;
}

/* The cgroups that exist while the steps run, and where each declared
 * cgroup's workers are; replayed step by step by check_op. */
typedef struct {
    char names[2 * ST_SCN_MAX_CGROUPS + ST_SCN_MAX_STEPS * ST_SCN_MAX_OPS]
              [ST_SCN_NAME_MAX];
    int n;
    int where[ST_SCN_MAX_CGROUPS]; /* index into names */
    int attached;
} cg_state;

static int find_name(const cg_state *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (st->names[i][0] && !strcmp(st->names[i], name))
            return i;
    return -1;
}

static int declared(const st_scenario *s, const char *name)
{
    for (int i = 0; i < s->ncg; i++)
        if (!strcmp(s->cg[i].name, name))
            return i;
    return -1;
}

/* One operation against the state before it; updates the state. */
static int check_op(const st_scenario *s, cg_state *st, const st_scn_op *op,
                    const char *what, char *err, size_t errsize)
{
    const char *t = op->target, *v = op->value;
    int at = find_name(st, t), d = declared(s, t);
    switch (op->kind) {
    case ST_OP_WRITE:
        if (t[0] != '/')
            return failf(err, errsize, "%s.target: '%s' is not an absolute "
                         "guest path", what, t);
        return 0;
    case ST_OP_CPUSET:
    case ST_OP_WEIGHT:
        if (at < 0)
            return failf(err, errsize, "%s.target: no cgroup '%s' at this "
                         "step", what, t);
        if (op->kind == ST_OP_CPUSET && !cpu_list_ok(v))
            return failf(err, errsize, "%s.value: '%s' is not a cpu list",
                         what, v);
        if (op->kind == ST_OP_WEIGHT && (atoi(v) < 1 ||
                                         atoi(v) > SCN_MAX_WEIGHT))
            return failf(err, errsize, "%s.value: '%s' is not a weight "
                         "(1 to %d)", what, v, SCN_MAX_WEIGHT);
        return 0;
    case ST_OP_CGROUP_ADD:
        if (!cgroup_name_ok(t) || at >= 0)
            return failf(err, errsize, "%s.target: '%s' %s", what, t,
                         at >= 0 ? "exists already" : "is not a cgroup name");
        if (v[0] && !cpu_list_ok(v))
            return failf(err, errsize, "%s.value: '%s' is not a cpu list",
                         what, v);
        snprintf(st->names[st->n++], ST_SCN_NAME_MAX, "%s", t);
        return 0;
    case ST_OP_CGROUP_REMOVE:
        if (at < 0)
            return failf(err, errsize, "%s.target: no cgroup '%s' at this "
                         "step", what, t);
        for (int i = 0; i < s->ncg; i++)
            if (st->where[i] == at)
                return failf(err, errsize, "%s.target: cgroup '%s' still "
                             "holds the workers of '%s'", what, t,
                             s->cg[i].name);
        st->names[at][0] = '\0';
        return 0;
    case ST_OP_MOVE:
        if (d < 0)
            return failf(err, errsize, "%s.target: '%s' is not a declared "
                         "cgroup", what, t);
        if (find_name(st, v) < 0)
            return failf(err, errsize, "%s.value: no cgroup '%s' at this "
                         "step", what, v);
        st->where[d] = find_name(st, v);
        return 0;
    case ST_OP_AFFINITY:
        if (d < 0)
            return failf(err, errsize, "%s.target: '%s' is not a declared "
                         "cgroup", what, t);
        if (!cpu_list_ok(v))
            return failf(err, errsize, "%s.value: '%s' is not a cpu list",
                         what, v);
        return 0;
    case ST_OP_DETACH:
    case ST_OP_ATTACH:
        if (!s->scheduler[0])
            return failf(err, errsize, "%s: no scheduler to %s", what,
                         st_op_name(op->kind));
        if (st->attached == (op->kind == ST_OP_ATTACH))
            return failf(err, errsize, "%s: the scheduler is %s already",
                         what, st->attached ? "attached" : "detached");
        st->attached = op->kind == ST_OP_ATTACH;
        return 0;
    case ST_OP_COUNT:
        break;
    }
    return failf(err, errsize, "%s.kind: no operation %d", what, op->kind);
}

/* Step `i` (0-based) against the state the steps before it left. */
static int check_step(const st_scenario *s, cg_state *st, int i, char *err,
                      size_t errsize)
{
    const st_scn_step *step = &s->steps[i];
    char what[64];
    snprintf(what, sizeof what, "steps[%d]", i + 1);
    if (check_fields(step, step_fields, what, err, errsize) < 0)
        return -1;
    if (!step->label[0])
        return failf(err, errsize, "%s.label: empty", what);
    if (s->scheduler[0] && s->sched_from_phase == i + 1)
        st->attached = 1; /* it joins before this step's ops */
    for (int k = 0; k < step->nops; k++) {
        const st_scn_op *op = &step->ops[k];
        char opwhat[96];
        snprintf(opwhat, sizeof opwhat, "%s.ops[%d] (%s)", what, k + 1,
                 st_op_name(op->kind) ? st_op_name(op->kind) : "?");
        if (check_fields(op, op_fields, opwhat, err, errsize) < 0 ||
            check_op(s, st, op, opwhat, err, errsize) < 0)
            return -1;
    }
    return 0;
}

/* The steps in order, replaying which cgroups exist and whether the
 * scheduler is attached, so an operation names what exists by then. */
static int check_steps(const st_scenario *s, char *err, size_t errsize)
{
    cg_state *st = calloc(1, sizeof *st); /* 35 KB: not on the stack */
    if (!st)
        return failf(err, errsize, "out of memory");
    for (int i = 0; i < s->ncg; i++) {
        snprintf(st->names[i], ST_SCN_NAME_MAX, "%s", s->cg[i].name);
        st->where[i] = i;
    }
    st->n = s->ncg;
    st->attached = s->scheduler[0] && s->sched_from_phase == 0;
    int rc = 0;
    for (int i = 0; i < s->nsteps && rc == 0; i++)
        rc = check_step(s, st, i, err, errsize);
    free(st);
    return rc;
}

static int check_payloads(const st_scenario *s, char *err, size_t errsize)
{
    for (int i = 0; i < s->npayloads; i++) {
        const st_scn_payload *p = &s->payloads[i];
        char what[32];
        snprintf(what, sizeof what, "payloads[%d]", i + 1);
        if (check_fields(p, payload_fields, what, err, errsize) < 0 ||
            check_attrs(&p->attrs, what, err, errsize) < 0)
            return -1;
        if (!p->name[0])
            return failf(err, errsize, "%s.name: empty", what);
        if (p->path[0] != '/')
            return failf(err, errsize, "%s.path: '%s' is not an absolute "
                         "guest path", what, p->path);
        if (p->cgroup[0] && declared(s, p->cgroup) < 0)
            return failf(err, errsize, "%s.cgroup: no declared cgroup '%s'",
                         what, p->cgroup);
        if (p->from_phase > s->nsteps)
            return failf(err, errsize, "%s.from_phase: %d, but the test has "
                         "%d steps", what, p->from_phase, s->nsteps);
        for (int a = 0; a < p->nargs; a++)
            if (!fits(p->args[a], ST_SCN_PATH_MAX))
                return failf(err, errsize, "%s.args[%d]: longer than %d "
                             "bytes", what, a + 1, ST_SCN_PATH_MAX - 1);
    }
    return 0;
}

static int check_lists(const st_scenario *s, char *err, size_t errsize)
{
    for (int l = 0; l < NLISTS; l++) {
        int n = *int_at((void *)s, lists[l].count_off);
        if (n < 0 || n > lists[l].max)
            return failf(err, errsize, "%s: %d; at most %d", lists[l].count,
                         n, lists[l].max);
    }
    for (int i = 0; i < s->nsched_args; i++)
        if (!fits(s->sched_args[i], ST_SCN_PATH_MAX))
            return failf(err, errsize, "sched_args[%d]: longer than %d "
                         "bytes", i + 1, ST_SCN_PATH_MAX - 1);
    for (int i = 0; i < s->nmodules; i++)
        if (!fits(s->modules[i], ST_SCN_PATH_MAX))
            return failf(err, errsize, "modules[%d]: longer than %d bytes",
                         i + 1, ST_SCN_PATH_MAX - 1);
    for (int i = 0; i < s->nwrites; i++) {
        char what[32];
        snprintf(what, sizeof what, "writes[%d]", i + 1);
        if (check_fields(&s->writes[i], write_fields, what, err, errsize) < 0)
            return -1;
        if (s->writes[i].path[0] != '/')
            return failf(err, errsize, "%s.path: '%s' is not an absolute "
                         "guest path", what, s->writes[i].path);
    }
    return 0;
}

int st_scenario_check(const st_scenario *s, char *err, size_t errsize)
{
    if (check_fields(s, top_fields, "scenario", err, errsize) < 0 ||
        check_lists(s, err, errsize) < 0)
        return -1;
    if (s->sched_from_phase > s->nsteps)
        return failf(err, errsize, "sched_from_phase: %d, but the test has "
                     "%d steps", s->sched_from_phase, s->nsteps);
    if (s->scheduler[0] && s->scheduler[0] != '/')
        return failf(err, errsize, "scheduler: '%s' is not an absolute guest "
                     "path", s->scheduler);
    if (check_cgroups(s, err, errsize) < 0 || check_steps(s, err, errsize) < 0)
        return -1;
    return check_payloads(s, err, errsize);
}

/* }==================================================================== */

/* {====================================================================
 * Writer
 * ===================================================================== */

static void put_str(FILE *f, const char *s)
{
    if (!*s) {
        fputc('-', f);
        return;
    }
    if (!strcmp(s, "-")) {
        fputs("%2D", f);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '%')
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
    }
}

static void put_value(FILE *f, const void *rec, const field *fd)
{
    const char *p = (const char *)rec + fd->off;
    int v = 0;
    if (fd->type != F_STR)
        memcpy(&v, p, sizeof v);
    switch (fd->type) {
    case F_INT: fprintf(f, "%d", v); break;
    case F_STR: put_str(f, p); break;
    case F_WORK: fputs(st_work_name((st_work)v), f); break;
    case F_POLICY: fputs(st_policy_name((st_sched_policy)v), f); break;
    case F_OP: fputs(st_op_name((st_scn_op_kind)v), f); break;
    }
}

static void put_record(FILE *f, const char *name, const void *rec,
                       const field *fd)
{
    fputs(name, f);
    for (; fd->key; fd++) {
        fprintf(f, " %s=", fd->key);
        put_value(f, rec, fd);
    }
    fputc('\n', f);
}

static void put_list(FILE *f, const st_scenario *s, const list_desc *l)
{
    int n = *int_at((void *)s, l->count_off);
    fprintf(f, "%s %d\n", l->count, n);
    for (int i = 0; i < n; i++) {
        const char *item = (const char *)s + l->base_off + (size_t)i * l->size;
        if (!l->fields) {
            fprintf(f, "%s ", l->item);
            put_str(f, item);
            fputc('\n', f);
            continue;
        }
        put_record(f, l->item, item, l->fields);
        if (l->fields == step_fields) {
            const st_scn_step *st = (const st_scn_step *)item;
            for (int k = 0; k < st->nops; k++)
                put_record(f, "op", &st->ops[k], op_fields);
        } else if (l->fields == payload_fields) {
            const st_scn_payload *p = (const st_scn_payload *)item;
            for (int a = 0; a < p->nargs; a++) {
                fputs("payload_arg ", f);
                put_str(f, p->args[a]);
                fputc('\n', f);
            }
        }
    }
}

int st_scenario_write(const st_scenario *s, char **out, size_t *len,
                      char *err, size_t errsize)
{
    *out = NULL;
    *len = 0;
    if (st_scenario_check(s, err, errsize) < 0)
        return -1;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return failf(err, errsize, "out of memory");
    fprintf(f, "schedtest-scenario %d\n", ST_SCN_VERSION);
    for (const field *fd = top_fields; fd->key; fd++) {
        fprintf(f, "%s ", fd->key);
        put_value(f, s, fd);
        fputc('\n', f);
    }
    for (int l = 0; l < NLISTS; l++)
        put_list(f, s, &lists[l]);
    fputs("end\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return failf(err, errsize, "out of memory");
    }
    *out = buf;
    *len = n;
    return 0;
}

/* }==================================================================== */

/* {====================================================================
 * Reader
 * ===================================================================== */

typedef struct {
    st_scenario *s;
    int line;
    char *err;
    size_t errsize;
    unsigned seen_top;   /* bit per top_fields entry */
    unsigned seen_list;  /* bit per lists entry */
    int list;            /* the list whose items follow, or -1 */
    int list_left;       /* its items still to come */
    const char *child;   /* "op" / "payload_arg" lines to come, or NULL */
    int child_left;
    int child_done;      /* of the current record */
} parser;

static int perr(parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return failf(p->err, p->errsize, "line %d: %s", p->line, msg);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode token `tok` into `out` (size bytes); `what` names it. */
static int get_str(parser *p, const char *tok, char *out, size_t size,
                   const char *what)
{
    size_t n = 0;
    if (!*tok)
        return perr(p, "%s: missing value", what);
    if (!strcmp(tok, "-")) {
        out[0] = '\0';
        return 0;
    }
    for (const char *c = tok; *c; c++) {
        int ch = (unsigned char)*c;
        if (ch == '%') {
            int hi = hexval(c[1]), lo = hi < 0 ? -1 : hexval(c[2]);
            if (hi < 0 || lo < 0)
                return perr(p, "%s: bad percent escape in '%s'", what, tok);
            ch = hi * 16 + lo;
            c += 2;
            if (ch == 0)
                return perr(p, "%s: NUL byte in '%s'", what, tok);
        }
        if (n + 1 >= size)
            return perr(p, "%s: longer than %zu bytes", what, size - 1);
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return 0;
}

static int get_int(parser *p, const char *tok, long min, long max, int *out,
                   const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (!*tok || *end || errno)
        return perr(p, "%s: expected a whole number, got '%s'", what, tok);
    if (v < min || v > max)
        return perr(p, "%s: %ld is out of range (%ld to %ld)", what, v, min,
                    max);
    *out = (int)v;
    return 0;
}

static int get_value(parser *p, void *rec, const field *fd, const char *tok,
                     const char *what)
{
    char *at = (char *)rec + fd->off;
    int v;
    switch (fd->type) {
    case F_INT:
        return get_int(p, tok, fd->min, fd->max, (int *)at, what);
    case F_STR:
        return get_str(p, tok, at, fd->size, what);
    case F_WORK:
        v = st_work_from_name(tok);
        break;
    case F_POLICY:
        v = st_policy_from_name(tok);
        break;
    case F_OP:
        v = st_op_from_name(tok);
        break;
    default:
        v = -1;
    }
    if (v < 0)
        return perr(p, "%s: unknown value '%s'", what, tok);
    *(int *)at = v;
    return 0;
}

/* "key=value ..." tokens of record `name` into `rec`; every key once. */
static int get_record(parser *p, const char *name, char *rest, void *rec,
                      const field *fields)
{
    unsigned long long seen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(rest, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return perr(p, "%s: expected key=value, got '%s'", name, tok);
        *eq = '\0';
        int i = 0;
        while (fields[i].key && strcmp(fields[i].key, tok))
            i++;
        if (!fields[i].key)
            return perr(p, "%s: unknown field '%s'", name, tok);
        if (seen & (1ull << i))
            return perr(p, "%s: field '%s' given twice", name, tok);
        seen |= 1ull << i;
        char what[96];
        snprintf(what, sizeof what, "%s.%s", name, tok);
        if (get_value(p, rec, &fields[i], eq + 1, what) < 0)
            return -1;
    }
    for (int i = 0; fields[i].key; i++)
        if (!(seen & (1ull << i)))
            return perr(p, "%s: missing field '%s'", name, fields[i].key);
    return 0;
}

/* An item line of the list p->list. */
static int get_item(parser *p, char *rest)
{
    const list_desc *l = &lists[p->list];
    int *count = int_at(p->s, l->count_off);
    char *item = (char *)p->s + l->base_off + (size_t)(*count) * l->size;
    (*count)++;
    p->list_left--;
    if (!l->fields)
        return get_str(p, rest, item, l->size, l->item);
    if (get_record(p, l->item, rest, item, l->fields) < 0)
        return -1;
    p->child_done = 0;
    if (l->fields == step_fields) {
        p->child = "op";
        p->child_left = ((st_scn_step *)item)->nops;
    } else if (l->fields == payload_fields) {
        p->child = "payload_arg";
        p->child_left = ((st_scn_payload *)item)->nargs;
    }
    return 0;
}

/* An "op" or "payload_arg" line of the record just read. */
static int get_child(parser *p, char *rest)
{
    const list_desc *l = &lists[p->list];
    int n = *int_at(p->s, l->count_off) - 1;
    int k = p->child_done++;
    p->child_left--;
    if (l->fields == step_fields)
        return get_record(p, "op", rest, &p->s->steps[n].ops[k], op_fields);
    return get_str(p, rest, p->s->payloads[n].args[k], ST_SCN_PATH_MAX,
                   "payload_arg");
}

static int get_top(parser *p, const char *d, char *rest)
{
    for (int i = 0; top_fields[i].key; i++) {
        if (strcmp(top_fields[i].key, d))
            continue;
        if (p->seen_top & (1u << i))
            return perr(p, "'%s' given twice", d);
        p->seen_top |= 1u << i;
        return get_value(p, p->s, &top_fields[i], rest, d);
    }
    for (int l = 0; l < NLISTS; l++) {
        if (strcmp(lists[l].count, d))
            continue;
        if (p->seen_list & (1u << l))
            return perr(p, "'%s' given twice", d);
        p->seen_list |= 1u << l;
        if (get_int(p, rest, 0, lists[l].max, &p->list_left, d) < 0)
            return -1;
        p->list = l;
        return 0;
    }
    return perr(p, "unknown directive '%s'", d);
}

/* One line after the version line; 1 when it was "end". */
static int get_line(parser *p, char *line)
{
    char *rest = strchr(line, ' ');
    if (rest)
        *rest++ = '\0';
    else
        rest = line + strlen(line);
    if (p->child_left > 0) {
        if (strcmp(line, p->child))
            return perr(p, "expected %d more '%s' line(s), got '%s'",
                        p->child_left, p->child, line);
        return get_child(p, rest);
    }
    if (p->list >= 0 && p->list_left > 0) {
        if (strcmp(line, lists[p->list].item))
            return perr(p, "expected %d more '%s' line(s), got '%s'",
                        p->list_left, lists[p->list].item, line);
        return get_item(p, rest);
    }
    if (!strcmp(line, "end"))
        return 1;
    return get_top(p, line, rest);
}

static int check_complete(parser *p)
{
    for (int i = 0; top_fields[i].key; i++)
        if (!(p->seen_top & (1u << i)))
            return perr(p, "missing directive '%s'", top_fields[i].key);
    for (int l = 0; l < NLISTS; l++)
        if (!(p->seen_list & (1u << l)))
            return perr(p, "missing directive '%s'", lists[l].count);
    return 0;
}

static int parse_lines(parser *p, char *text)
{
    char *next = text;
    int ended = 0;
    while (next && *next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        p->line++;
        if (ended)
            return perr(p, "text after 'end'");
        if (p->line == 1) {
            int v;
            if (sscanf(line, "schedtest-scenario %d", &v) != 1)
                return perr(p, "expected 'schedtest-scenario %d', got '%.40s'",
                            ST_SCN_VERSION, line);
            if (v != ST_SCN_VERSION)
                return perr(p, "scenario version %d; this reader knows "
                            "version %d", v, ST_SCN_VERSION);
            continue;
        }
        int rc = get_line(p, line);
        if (rc < 0)
            return -1;
        ended = rc == 1;
    }
    if (!ended) {
        p->line++;
        return perr(p, "the text ends before 'end' (truncated?)");
    }
    return check_complete(p);
}

int st_scenario_parse(st_scenario *s, const char *text, char *err,
                      size_t errsize)
{
    memset(s, 0, sizeof *s);
    char *copy = strdup(text);
    if (!copy)
        return failf(err, errsize, "out of memory");
    parser p = {s, 0, err, errsize, 0, 0, -1, 0, NULL, 0, 0};
    int rc = parse_lines(&p, copy);
    free(copy);
    if (rc < 0)
        return -1;
    return st_scenario_check(s, err, errsize);
}

/* }==================================================================== */
