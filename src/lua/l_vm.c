/*
 * l_vm.c: `schedtest.vm`, run a scheduler scenario in a VM.
 *
 *   run(opts)    -> result table (interfaces.md §4) | nil, msg, code
 *   start(opts)  -> schedtest.VM handle | nil, msg, code
 *   argv(opts)   -> { "qemu-system-x86_64", ... } (what start would exec)
 *
 * opts.clock = "host" (default) | "virtual" (TCG's instruction counter,
 * opts.shift: 2^shift ns per instruction), opts.seed = 0..2^32-1 (qemu's
 * -seed and the agent's; drawn at random when absent).  The result's
 * host table records clock, icount_shift and seed.
 *   accel([opts]) -> "kvm"|"tcg", why   (auto resolved once per process)
 *   qemu_version() -> "QEMU emulator version ..." | nil, msg, code
 *   spec(opts)   -> the scenario text the guest agent reads
 *   LIMITS, WORK_TYPES, POLICIES, OPS, WORK_PARAMS: from scenario.h
 *
 * run, start and spec first call schedtest.scenario.complete(opts): the
 * defaults are decided there, once, and this binding only checks the
 * completed table and copies it into a st_scenario (a field complete()
 * did not fill raises, naming it).  The image is the core's
 * (guest_image.c); the text is the core's (scenario.c).
 *
 *   handle:poll([ms]) -> finished (boolean) | nil, msg, "EINTR"
 *   handle:console()  -> console text that arrived since the last call
 *   handle:wait()     -> result table | nil, msg, "EINTR"
 *   handle:kill(), handle:pid(), handle:workdir(), handle:outcome()
 *   handle:close()    -> kills qemu if running, removes the work files
 *
 * The result table comes back for every VM outcome (passed, failed,
 * panic, hang, truncated, start_failed): a failing run is data, not an
 * exception.  nil, msg, code is for failures before a VM ran (kernel not
 * found, initramfs, options).  Ctrl-C while waiting kills qemu and returns
 * nil, msg, "EINTR".
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/fold.h"
#include "schedtest/fs.h"
#include "schedtest/guest_image.h"
#include "schedtest/kernel.h"
#include "schedtest/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VM_TYPE "schedtest.VM"

/* {====================================================================
 * Result tree -> Lua
 * ===================================================================== */

static void push_node(lua_State *L, const st_fold_node *n)
{
    luaL_checkstack(L, 4, "result too deep");
    switch (n->type) {
    case ST_FOLD_BOOL: lua_pushboolean(L, n->v.b); break;
    case ST_FOLD_INT: lua_pushinteger(L, (lua_Integer)n->v.i); break;
    case ST_FOLD_NUM: lua_pushnumber(L, n->v.n); break;
    case ST_FOLD_STR: lua_pushstring(L, n->v.s); break;
    case ST_FOLD_ARR:
        lua_createtable(L, (int)n->n, 0);
        for (size_t i = 0; i < n->n; i++) {
            push_node(L, n->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case ST_FOLD_OBJ:
        lua_createtable(L, 0, (int)n->n);
        for (size_t i = 0; i < n->n; i++) {
            push_node(L, n->items[i]);
            lua_setfield(L, -2, n->items[i]->key);
        }
        break;
    }
}

/* }==================================================================== */

/* {====================================================================
 * Options -> st_scenario
 *
 * The options were completed by schedtest.scenario.complete (every
 * default is decided there); this only checks types and bounds and
 * copies.  A missing field is misuse: the error names it.
 * ===================================================================== */

/* Longest duration, timeout or total run in seconds: what the launcher
 * holds (ST_VM_MAX_MS, a day). */
#define MAX_SECONDS (ST_VM_MAX_MS / 1000)

/* Raise "bad argument #1 to 'f' (<message>)": the options are always the
 * first argument. */
static int opt_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return luaL_argerror(L, 1, msg);
}

/* Raise naming "<where>" for a key of table t not in `keys`. */
static void check_keys(lua_State *L, int t, const char *where,
                       const char *const keys[])
{
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        int known = 0;
        for (int i = 0; keys[i] && lua_type(L, -2) == LUA_TSTRING; i++)
            known |= strcmp(keys[i], lua_tostring(L, -2)) == 0;
        if (!known) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; keys[i]; i++) {
                luaL_addstring(&b, i ? ", " : "");
                luaL_addstring(&b, keys[i]);
            }
            luaL_pushresult(&b);
            char name[128]; /* "cgroups[1]." names cgroups[1] */
            snprintf(name, sizeof name, "%s", where);
            size_t n = strlen(name);
            if (n && name[n - 1] == '.')
                name[n - 1] = '\0';
            const char *list = lua_tostring(L, -1);
            const char *key = luaL_tolstring(L, -3, NULL); /* the key */
            opt_error(L, "%s: unknown option '%s' (expected one of: %s)",
                      name, key, list);
        }
    }
}

/* Push t[key]; raise naming "<where><key>" when it is nil. */
static void get_req(lua_State *L, int t, const char *where, const char *key)
{
    if (lua_getfield(L, t, key) == LUA_TNIL)
        opt_error(L, "%s%s: missing", where, key);
}

/*
 * Seconds in t[key] as milliseconds, 0 to a day.  Checked before the
 * conversion: a double beyond INT_MAX does not convert to an int
 * (undefined; INT_MIN on x86, which once showed up as a bogus 30 s
 * hang).  NaN fails the comparison too.
 */
static int req_ms(lua_State *L, int t, const char *where, const char *key)
{
    get_req(L, t, where, key);
    int isnum;
    double s = lua_tonumberx(L, -1, &isnum);
    if (!isnum || !(s >= 0 && s <= MAX_SECONDS))
        opt_error(L, "%s%s: expected seconds from 0 to %d (a day), got %f",
                  where, key, MAX_SECONDS, (lua_Number)(isnum ? s : -1));
    lua_pop(L, 1);
    return (int)(s * 1000);
}

/* Integer t[key] in lo..hi, checked before it is narrowed to an int. */
static int req_int(lua_State *L, int t, const char *where, const char *key,
                   lua_Integer lo, lua_Integer hi)
{
    get_req(L, t, where, key);
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        opt_error(L, "%s%s: expected a whole number, got %s", where, key,
                  luaL_typename(L, -1));
    if (v < lo || v > hi)
        opt_error(L, "%s%s: expected %I to %I, got %I", where, key, lo, hi,
                  v);
    lua_pop(L, 1);
    return (int)v;
}

static int req_bool(lua_State *L, int t, const char *where, const char *key)
{
    get_req(L, t, where, key);
    if (!lua_isboolean(L, -1))
        opt_error(L, "%s%s: expected true or false, got %s", where, key,
                  luaL_typename(L, -1));
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* t[key] (a string or a number) copied into out[size]; returns the
 * string, which lives as long as the options table. */
static const char *req_str(lua_State *L, int t, const char *where,
                           const char *key, char *out, size_t size)
{
    get_req(L, t, where, key);
    if (!lua_isstring(L, -1))
        opt_error(L, "%s%s: expected a string, got %s", where, key,
                  luaL_typename(L, -1));
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (out && len >= size)
        opt_error(L, "%s%s: '%s' is longer than %d bytes", where, key, s,
                  (int)size - 1);
    if (out)
        memcpy(out, s, len + 1);
    lua_pop(L, 1);
    return s;
}

/* Push t[key] as a list of at most `max` items; returns its length. */
static int req_list(lua_State *L, int t, const char *where, const char *key,
                    int max)
{
    get_req(L, t, where, key);
    if (!lua_istable(L, -1))
        opt_error(L, "%s%s: expected a list, got %s", where, key,
                  luaL_typename(L, -1));
    lua_Unsigned n = lua_rawlen(L, -1);
    if (n > (lua_Unsigned)max)
        opt_error(L, "%s%s: %I items; at most %d", where, key,
                  (lua_Integer)n, max);
    return (int)n;
}

/* Push item i of the list at `list`, a table; `what` names it. */
static int list_item(lua_State *L, int list, int i, const char *what)
{
    if (lua_rawgeti(L, list, i) != LUA_TTABLE)
        opt_error(L, "%s[%d]: expected a table", what, i);
    return lua_gettop(L);
}

/* The list of strings at t[key] into `out` (at most max, each size). */
static int req_strings(lua_State *L, int t, const char *where,
                       const char *key, char (*out)[ST_SCN_PATH_MAX], int max)
{
    int n = req_list(L, t, where, key, max);
    int list = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        char k[32];
        snprintf(k, sizeof k, "[%d]", i);
        lua_rawgeti(L, list, i);
        if (!lua_isstring(L, -1))
            opt_error(L, "%s%s%s: expected a string", where, key, k);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (len >= ST_SCN_PATH_MAX)
            opt_error(L, "%s%s%s: longer than %d bytes", where, key, k,
                      ST_SCN_PATH_MAX - 1);
        memcpy(out[i - 1], s, len + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return n;
}

/* An enum from its name; -1 names the field and the choices. */
static int req_enum(lua_State *L, int t, const char *where, const char *key,
                    int (*from)(const char *), const char *(*name)(int),
                    int count)
{
    char v[ST_SCN_NAME_MAX];
    req_str(L, t, where, key, v, sizeof v);
    int e = from(v);
    if (e >= 0)
        return e;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < count; i++) {
        luaL_addstring(&b, i ? ", " : "");
        luaL_addstring(&b, name(i));
    }
    luaL_pushresult(&b);
    return opt_error(L, "%s%s: unknown %s '%s' (expected one of %s)", where,
                     key, key, v, lua_tostring(L, -1));
}

static const char *work_suite(int w) { return st_work_suite_name((st_work)w); }
static const char *policy_name(int p)
{
    return st_policy_name((st_sched_policy)p);
}
static const char *op_name(int k) { return st_op_name((st_scn_op_kind)k); }

static const char *const param_keys[] = {
#define ST_X(f, doc) #f,
    ST_WORK_PARAMS(ST_X)
#undef ST_X
    NULL
};

/* Every work parameter of the table at t[key]. */
static void req_params(lua_State *L, int t, const char *where,
                       st_work_params *p)
{
    get_req(L, t, where, "params");
    int pt = lua_gettop(L);
    char w[64];
    snprintf(w, sizeof w, "%sparams", where);
    check_keys(L, pt, w, param_keys);
    snprintf(w, sizeof w, "%sparams.", where);
    st_work_params tmp;
#define ST_X(f, doc) tmp.f = (uint32_t)req_int(L, pt, w, #f, 0, \
                                               ST_SCN_MAX_PARAM);
    ST_WORK_PARAMS(ST_X)
#undef ST_X
    if (p)
        *p = tmp;
    lua_pop(L, 1);
}

static void req_attrs(lua_State *L, int t, const char *where,
                      st_task_attrs *a)
{
    a->policy = (st_sched_policy)req_enum(L, t, where, "policy",
                                          st_policy_from_name, policy_name,
                                          ST_POLICY_COUNT);
    a->priority = req_int(L, t, where, "priority", 0, 99);
    a->nice = req_int(L, t, where, "nice", -20, 19);
    req_str(L, t, where, "affinity", a->affinity, sizeof a->affinity);
    req_str(L, t, where, "comm", a->comm, sizeof a->comm);
}

static const char *const cgroup_keys[] = {
    "name", "workers", "work", "cpuset", "weight", "fanout", "params",
    "policy", "priority", "nice", "affinity", "comm", NULL};

static void to_cgroup(lua_State *L, int c, const char *w, st_scn_cgroup *cg)
{
    check_keys(L, c, w, cgroup_keys);
    req_str(L, c, w, "name", cg->name, sizeof cg->name);
    cg->workers = req_int(L, c, w, "workers", 1, ST_SCN_MAX_WORKERS);
    cg->work = (st_work)req_enum(L, c, w, "work", st_work_from_name,
                                 work_suite, ST_WORK_COUNT);
    req_str(L, c, w, "cpuset", cg->cpuset, sizeof cg->cpuset);
    cg->weight = req_int(L, c, w, "weight", 0, 10000);
    cg->fanout = req_int(L, c, w, "fanout", 0, ST_SCN_MAX_WORKERS);
    req_params(L, c, w, &cg->params);
    req_attrs(L, c, w, &cg->attrs);
}

static const char *const op_keys[] = {"kind", "target", "value", NULL};

static void to_step(lua_State *L, int t, const char *w, st_scn_step *st)
{
    static const char *const keys[] = {"duration", "label", "ops", NULL};
    check_keys(L, t, w, keys);
    st->ms = req_ms(L, t, w, "duration");
    req_str(L, t, w, "label", st->label, sizeof st->label);
    st->nops = req_list(L, t, w, "ops", ST_SCN_MAX_OPS);
    int list = lua_gettop(L);
    for (int k = 0; k < st->nops; k++) {
        char ow[96];
        snprintf(ow, sizeof ow, "%sops[%d].", w, k + 1);
        int op = list_item(L, list, k + 1, "ops");
        check_keys(L, op, ow, op_keys);
        st_scn_op *o = &st->ops[k];
        o->kind = (st_scn_op_kind)req_enum(L, op, ow, "kind", st_op_from_name,
                                           op_name, ST_OP_COUNT);
        req_str(L, op, ow, "target", o->target, sizeof o->target);
        req_str(L, op, ow, "value", o->value, sizeof o->value);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static const char *const payload_keys[] = {
    "name", "binary", "args", "cgroup", "from_phase", "interrupt_at_end",
    "timeout", "policy", "priority", "nice", "affinity", "comm", NULL};

static void to_payload(lua_State *L, int t, const char *w, st_scn_payload *p,
                       const char **host)
{
    check_keys(L, t, w, payload_keys);
    req_str(L, t, w, "name", p->name, sizeof p->name);
    *host = req_str(L, t, w, "binary", NULL, 0);
    p->nargs = req_strings(L, t, w, "args", p->args,
                           ST_SCN_MAX_PAYLOAD_ARGS);
    req_str(L, t, w, "cgroup", p->cgroup, sizeof p->cgroup);
    p->from_phase = req_int(L, t, w, "from_phase", 0, ST_SCN_MAX_STEPS);
    p->interrupt_at_end = req_bool(L, t, w, "interrupt_at_end");
    p->timeout_ms = req_ms(L, t, w, "timeout");
    req_attrs(L, t, w, &p->attrs);
}

static void to_scheduler(lua_State *L, int o, st_scenario *s,
                         st_guest_image *img)
{
    if (lua_getfield(L, o, "scheduler") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        opt_error(L, "scheduler: table {binary=, args=} expected");
    int t = lua_gettop(L);
    static const char *const keys[] = {"binary", "args", "name",
                                       "from_phase", "sched_ext", NULL};
    check_keys(L, t, "scheduler", keys);
    img->scheduler = req_str(L, t, "scheduler.", "binary", NULL, 0);
    s->nsched_args = req_strings(L, t, "scheduler.", "args", s->sched_args,
                                 ST_SCN_MAX_SCHED_ARGS);
    /* from_phase: the scheduler joins at that phase (1 = the first
     * step), so one run measures the built-in scheduler first. */
    s->sched_from_phase = req_int(L, t, "scheduler.", "from_phase", 0,
                                  ST_SCN_MAX_STEPS);
    /* sched_ext = false: a user-space tuner, attached once alive */
    s->sched_not_scx = !req_bool(L, t, "scheduler.", "sched_ext");
    lua_pop(L, 1);
}

/* The records of list t[key] through `fill`, into `base` (stride). */
#define EACH_ITEM(L, t, key, max, count, body)                            \
    do {                                                                   \
        count = req_list(L, t, "", key, max);                              \
        int list_ = lua_gettop(L);                                         \
        for (int i_ = 0; i_ < count; i_++) {                               \
            char w[48];                                                    \
            snprintf(w, sizeof w, "%s[%d].", key, i_ + 1);                 \
            int item = list_item(L, list_, i_ + 1, key);                   \
            body;                                                          \
            lua_pop(L, 1);                                                 \
        }                                                                  \
        lua_pop(L, 1);                                                     \
    } while (0)

/*
 * The scenario of the completed options at `o` into `s` (zeroed), the
 * host files it needs into `img` (strings owned by the options table).
 * Raises on misuse, including a scenario st_scenario_check refuses.
 */
static void to_scenario(lua_State *L, int o, st_scenario *s,
                        st_guest_image *img)
{
    memset(s, 0, sizeof *s);
    s->duration_ms = req_ms(L, o, "", "duration");
    s->settle_ms = req_ms(L, o, "", "settle");
    s->attach_timeout_ms = req_ms(L, o, "", "attach_timeout");
    s->monitor_ms = req_int(L, o, "", "monitor_ms", 1, 60000);
    req_params(L, o, "", NULL); /* the cgroups carry them; check anyway */
    to_scheduler(L, o, s, img);
    EACH_ITEM(L, o, "cgroups", ST_SCN_MAX_CGROUPS, s->ncg,
              to_cgroup(L, item, w, &s->cg[i_]));
    EACH_ITEM(L, o, "writes", ST_SCN_MAX_WRITES, s->nwrites, {
        req_str(L, item, w, "path", s->writes[i_].path, ST_SCN_PATH_MAX);
        req_str(L, item, w, "value", s->writes[i_].value, ST_SCN_PATH_MAX);
    });
    EACH_ITEM(L, o, "steps", ST_SCN_MAX_STEPS, s->nsteps,
              to_step(L, item, w, &s->steps[i_]));
    EACH_ITEM(L, o, "payloads", ST_SCN_MAX_PAYLOADS, s->npayloads,
              to_payload(L, item, w, &s->payloads[i_], &img->payloads[i_]));
    req_str(L, o, "", "fault", s->fault, sizeof s->fault);
    req_str(L, o, "", "fault_stage", s->fault_stage, sizeof s->fault_stage);
    /* guest paths first: the check wants the scheduler's */
    if (st_guest_image_place(s, img) < 0)
        opt_error(L, "%s", st_error_last());
    char err[512];
    if (st_scenario_check(s, err, sizeof err) < 0)
        opt_error(L, "%s", err);
}

static const char *const run_opts[] = {
    "kernel", "topology", "memory_mb", "scheduler", "duration", "cgroups",
    "steps", "sysctls", "kargs", "accel", "timeouts", "writes", "features",
    "params", "fault", "fault_stage", "qemu", "machine", "settle",
    "attach_timeout", "monitor_ms", "files", "test_name", "clock", "shift",
    "seed", "payloads", NULL};

/*
 * Replace the options at index 1 with schedtest.scenario.complete(opts)
 * (the one place defaults are decided), after checking their names.
 */
static void complete_options(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luax_checkoptions(L, 1, run_opts);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "schedtest.scenario");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "complete");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    lua_replace(L, 1);
    lua_pop(L, 1);
}

/* A scenario as a full userdata: 450 KB is not for the C stack, and a
 * raise frees it with the rest of the stack. */
static st_scenario *new_scenario(lua_State *L)
{
    return lua_newuserdatauv(L, sizeof(st_scenario), 0);
}

/* }==================================================================== */

/* {====================================================================
 * Launch options
 * ===================================================================== */

typedef struct {
    st_vm *vm;
    st_fs_scratch scratch; /* our directory (initramfs, VM files) */
    double prepare_ms; /* kernel resolution + initramfs, before qemu */
    char kversion[128]; /* from the bzImage header */
} l_vm;

/* Optional launch option t[key] in seconds (`def` when absent) as ms,
 * for the option the error calls `name`; bounds as req_ms. */
static int ms_field(lua_State *L, int argi, int t, const char *key,
                    double def, const char *name)
{
    double s = luax_optfieldnumber(L, t, key, def);
    if (!(s >= 0 && s <= MAX_SECONDS))
        luaL_argerror(L, argi, lua_pushfstring(L, "%s: expected seconds from "
                      "0 to %d (a day), got %f", name, MAX_SECONDS,
                      (lua_Number)s));
    return (int)(s * 1000);
}

/* Optional integer launch option t[key] (`def` when absent), checked
 * against lo..hi before it is narrowed to an int. */
static int int_field(lua_State *L, int argi, int t, const char *key,
                     lua_Integer def, lua_Integer lo, lua_Integer hi,
                     const char *name)
{
    lua_Integer v = luax_optfieldinteger(L, t, key, def);
    if (v < lo || v > hi)
        luaL_argerror(L, argi, lua_pushfstring(L, "%s: expected %I to %I, "
                      "got %I", name, lo, hi, v));
    return (int)v;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static st_vm_accel check_accel(lua_State *L, int o)
{
    const char *a = luax_optfieldstring(L, o, "accel", "auto");
    if (strcmp(a, "auto") == 0)
        return ST_VM_ACCEL_AUTO;
    if (strcmp(a, "kvm") == 0)
        return ST_VM_ACCEL_KVM;
    if (strcmp(a, "tcg") == 0)
        return ST_VM_ACCEL_TCG;
    luaL_argerror(L, o, lua_pushfstring(L, "accel '%s': expected auto, kvm "
                  "or tcg", a));
    return ST_VM_ACCEL_AUTO;
}

/* Largest topology count: keeps llcs * cores * threads inside an int;
 * qemu refuses far smaller machines itself. */
#define MAX_COUNT 1024

static int has_field(lua_State *L, int t, const char *key)
{
    int present = lua_getfield(L, t, key) != LUA_TNIL;
    lua_pop(L, 1);
    return present;
}

/*
 * clock = "host"|"virtual" (default host), shift (virtual clock only,
 * default ST_VM_DEFAULT_SHIFT), seed (default: drawn at start).  The
 * virtual clock with accel = "kvm" is misuse: icount exists only in TCG.
 */
static void check_clock(lua_State *L, int o, st_vm_opts *opts,
                        st_vm_accel accel)
{
    const char *c = luax_optfieldstring(L, o, "clock", "host");
    if (strcmp(c, "virtual") == 0)
        opts->clock = ST_VM_CLOCK_VIRTUAL;
    else if (strcmp(c, "host") == 0)
        opts->clock = ST_VM_CLOCK_HOST;
    else
        luaL_argerror(L, o, lua_pushfstring(L, "clock '%s': expected host "
                      "or virtual", c));
    if (has_field(L, o, "shift") && opts->clock != ST_VM_CLOCK_VIRTUAL)
        luaL_argerror(L, o, "shift applies to clock = \"virtual\" only");
    lua_Integer shift = luax_optfieldinteger(L, o, "shift",
                                             ST_VM_DEFAULT_SHIFT);
    if (shift < 0 || shift > ST_VM_MAX_SHIFT)
        luaL_argerror(L, o, lua_pushfstring(L, "shift %d: expected 0 to %d "
                      "(2^shift ns per guest instruction)", (int)shift,
                      ST_VM_MAX_SHIFT));
    opts->icount_shift = (int)shift;
    int has_seed = has_field(L, o, "seed");
    lua_Integer seed = luax_optfieldinteger(L, o, "seed", -1);
    if (has_seed && (seed < 0 || seed > ST_VM_MAX_SEED))
        luaL_argerror(L, o, lua_pushfstring(L, "seed %I: expected 0 to %I",
                      seed, (lua_Integer)ST_VM_MAX_SEED));
    opts->seed = seed;
    if (opts->clock == ST_VM_CLOCK_VIRTUAL && accel == ST_VM_ACCEL_KVM)
        luaL_argerror(L, o, "clock = \"virtual\" needs TCG (qemu's "
                      "instruction counter); it cannot run with accel = "
                      "\"kvm\"");
}

static void check_topology(lua_State *L, int o, st_vm_topology *t)
{
    memset(t, 0, sizeof *t);
    t->numa = t->llcs = t->cores = t->threads = 1;
    int ty = lua_getfield(L, o, "topology");
    if (ty == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        if (sscanf(s, "%dn%dl%dc%dt", &t->numa, &t->llcs, &t->cores,
                   &t->threads) != 4)
            luaL_argerror(L, o, lua_pushfstring(L, "topology '%s': expected "
                          "like 1n2l4c1t", s));
    } else if (ty == LUA_TTABLE) {
        int tt = lua_gettop(L);
        static const char *const keys[] = {"numa", "llcs", "cores", "threads",
                                           NULL};
        luax_checkoptions(L, tt, keys);
        t->numa = int_field(L, o, tt, "numa", 1, 1, MAX_COUNT, "topology.numa");
        t->llcs = int_field(L, o, tt, "llcs", 1, 1, MAX_COUNT, "topology.llcs");
        t->cores = int_field(L, o, tt, "cores", 1, 1, MAX_COUNT,
                             "topology.cores");
        t->threads = int_field(L, o, tt, "threads", 1, 1, MAX_COUNT,
                               "topology.threads");
    } else if (ty != LUA_TNIL)
        luaL_argerror(L, o, "topology: table {numa,llcs,cores,threads} or "
                      "string '1n2l4c1t' expected");
    lua_pop(L, 1);
    if (t->numa < 1 || t->llcs < 1 || t->cores < 1 || t->threads < 1 ||
        t->numa > MAX_COUNT || t->llcs > MAX_COUNT || t->cores > MAX_COUNT ||
        t->threads > MAX_COUNT)
        luaL_argerror(L, o, lua_pushfstring(L, "topology: every count must "
                      "be 1 to %d", MAX_COUNT));
    if (t->llcs % t->numa)
        luaL_argerror(L, o, lua_pushfstring(L, "topology: llcs (%d, in total) "
                      "must be a multiple of numa (%d)", t->llcs, t->numa));
}

/* Guest memory in MiB: a TiB, so that qemu's "-m" and the per-node
 * split stay inside an int. */
#define MAX_MEMORY_MB (1 << 20)

static void check_timeouts(lua_State *L, int o, st_vm_timeouts *t)
{
    memset(t, 0, sizeof *t);
    if (lua_getfield(L, o, "timeouts") == LUA_TTABLE) {
        int tt = lua_gettop(L);
        static const char *const keys[] = {"boot", "setup", "run", "silence",
                                           "grace", NULL};
        luax_checkoptions(L, tt, keys);
        t->boot = ms_field(L, o, tt, "boot", 0, "timeouts.boot");
        t->setup = ms_field(L, o, tt, "setup", 0, "timeouts.setup");
        t->run = ms_field(L, o, tt, "run", 0, "timeouts.run");
        t->silence = ms_field(L, o, tt, "silence", 0, "timeouts.silence");
        t->grace = ms_field(L, o, tt, "grace", 0, "timeouts.grace");
    } else if (!lua_isnil(L, -1))
        luaL_argerror(L, o, "timeouts: table expected");
    lua_pop(L, 1);
}

/* Kernel words: a string or an array of words. */
static void push_kargs(lua_State *L, int o)
{
    int ty = lua_getfield(L, o, "kargs");
    if (ty == LUA_TTABLE) {
        luaL_Buffer b;
        int t = lua_gettop(L);
        luaL_buffinit(L, &b);
        for (lua_Integer i = 1; lua_rawgeti(L, t, i) != LUA_TNIL; i++) {
            if (i > 1)
                luaL_addchar(&b, ' ');
            luaL_addvalue(&b);
        }
        lua_pop(L, 1);
        luaL_pushresult(&b);
        lua_remove(L, t);
    } else if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushliteral(L, "");
    } else if (ty != LUA_TSTRING)
        luaL_argerror(L, o, "kargs: string or array of strings expected");
}

/* Path of the static guest agent next to the schedtest binary. */
static int agent_path(lua_State *L, char *out, size_t size)
{
    const char *env = getenv("SCHEDTEST_AGENT");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUAX_REG_HOST);
    const char *exe = NULL;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "exe");
        exe = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", exe ? exe : "build/schedtest");
    lua_pop(L, 1);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(out, size, "%s/schedtest-agent", dir);
    if (access(out, R_OK) == 0)
        return 0;
    snprintf(out, size, "%s/../lib/schedtest/schedtest-agent", dir);
    return access(out, R_OK) == 0 ? 0 : -1;
}

/* The planned length of the run, BASELINE plus every step, in ms (each
 * already within a day), the sum (in 64 bits) against a day. */
static int run_hint(lua_State *L, const st_scenario *s)
{
    int64_t total = s->duration_ms;
    for (int i = 0; i < s->nsteps; i++)
        total += s->steps[i].ms;
    if (total > ST_VM_MAX_MS)
        luaL_argerror(L, 1, lua_pushfstring(L, "duration and steps add up to "
                      "%I ms; a run takes at most %d s (a day)",
                      (lua_Integer)total, MAX_SECONDS));
    return (int)total;
}

/* files = { [guest] = host } as a NULL-terminated guest, host, ...
 * array in a userdata on the stack; the strings belong to the table. */
static const char *const *push_files(lua_State *L, int o)
{
    int n = 0;
    if (lua_getfield(L, o, "files") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
            n++;
    }
    int t = lua_gettop(L);
    const char **a = lua_newuserdatauv(L, sizeof *a * (size_t)(2 * n + 1),
                                       0);
    int i = 0;
    for (lua_pushnil(L); n > 0 && lua_next(L, t); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            opt_error(L, "files: expected { [guest path] = host path }");
        a[i++] = lua_tostring(L, -2);
        a[i++] = lua_tostring(L, -1);
    }
    a[i] = NULL;
    lua_remove(L, t); /* the userdata stays; the table is in the options */
    return a;
}

/*
 * Everything start() needs before qemu: the scenario of the completed
 * options at `o`, the kernel, the initramfs in a fresh scratch directory
 * (`*scratch`, locked, so a sweep by a later run can tell it is in use;
 * the caller removes it), `opts`.  On failure pushes nil, msg, code and
 * returns the count (3); returns 0 on success with the strings anchored
 * on the stack.
 */
static int prepare(lua_State *L, int o, st_vm_opts *opts,
                   st_fs_scratch *scratch, char **kernel_path,
                   char *kversion, size_t kvsize)
{
    memset(opts, 0, sizeof *opts);
    check_topology(L, o, &opts->topo);
    check_timeouts(L, o, &opts->timeouts);
    opts->accel = check_accel(L, o);
    check_clock(L, o, opts, opts->accel);
    opts->memory_mb = int_field(L, o, o, "memory_mb", 512, 1, MAX_MEMORY_MB,
                                "memory_mb");
    opts->qemu = luax_optfieldstring(L, o, "qemu", NULL);
    opts->machine = luax_optfieldstring(L, o, "machine", NULL);
    opts->interrupted = luax_interrupted;
    /* Every check that raises comes before anything is allocated: a
     * raise from here on would leak the kernel path, the initramfs and
     * the temporary directory. */
    st_scenario *scn = new_scenario(L); /* anchored on the stack */
    st_guest_image img;
    memset(&img, 0, sizeof img);
    to_scenario(L, o, scn, &img);
    opts->run_hint_ms = run_hint(L, scn);
    img.files = push_files(L, o); /* anchored */
    push_kargs(L, o); /* anchored on the stack */
    opts->kargs = lua_tostring(L, -1);

    const char *kspec = luax_optfieldstring(L, o, "kernel", NULL);
    if (!kspec)
        luaL_argerror(L, o, "kernel is required (a bzImage, a kernel tree or "
                      "a cache name; see `schedtest kernel list`)");
    st_kernel_info *k;
    int rc = st_kernel_resolve(&k, kspec);
    if (rc < 0)
        return luax_pushfail(L, rc);
    *kernel_path = strdup(k->boot_path);
    if (kversion)
        snprintf(kversion, kvsize, "%s", k->version ? k->version : "");
    st_kernel_info_free(k);

    char agent[4096];
    if (agent_path(L, agent, sizeof agent) < 0) {
        free(*kernel_path);
        return luax_pushfail(L, st_error_set(ST_ENOENT, "guest agent not found "
                             "(%s); run `make` (it builds build/schedtest-agent) "
                             "or set SCHEDTEST_AGENT", agent));
    }
    img.agent = agent;
    img.kernel = *kernel_path;

    st_fs_scratch sc = ST_FS_SCRATCH_INIT;
    char irpath[4200];
    rc = st_guest_image_place(scn, &img); /* now with the modules */
    if (rc == 0)
        rc = st_fs_scratch_new(&sc, ST_FS_SCRATCH_VM);
    if (rc == 0) {
        snprintf(irpath, sizeof irpath, "%s/initramfs.cpio", sc.path);
        rc = st_guest_image_write(scn, &img, irpath);
    }
    if (rc < 0) {
        st_fs_scratch_remove(&sc);
        free(*kernel_path);
        lua_pop(L, 1); /* kargs */
        return luax_pushfail(L, rc);
    }
    lua_pushstring(L, irpath); /* anchored */
    opts->initramfs = lua_tostring(L, -1);
    opts->kernel = *kernel_path;
    *scratch = sc;
    return 0;
}

static l_vm *check_vm(lua_State *L)
{
    l_vm *v = luaL_checkudata(L, 1, VM_TYPE);
    if (!v->vm)
        luaL_error(L, "attempt to use a closed " VM_TYPE);
    return v;
}

/* Kill qemu if running, remove the work files; idempotent. */
static void release(l_vm *v)
{
    if (v->vm) {
        st_vm_free(v->vm);
        v->vm = NULL;
    }
    if (getenv("SCHEDTEST_KEEP_VM"))
        st_fs_scratch_keep(&v->scratch);
    else
        st_fs_scratch_remove(&v->scratch);
}

static int vm_close(lua_State *L)
{
    release(luaL_checkudata(L, 1, VM_TYPE));
    return 0;
}

/*
 * Push the folded result, completed from the options at `o` (0: none):
 * work_type (one name, or "Mixed"), test_name, scheduler.  Returns the
 * number of values pushed (1, or 3 for a failure).
 */
static int push_result(lua_State *L, l_vm *v, int o)
{
    st_fold_node *r;
    int rc = st_vm_result(&r, v->vm);
    if (rc < 0)
        return luax_pushfail(L, rc);
    push_node(L, r);
    st_fold_free(r);
    /* host-side costs: everything before qemu, and all but the run */
    long wl = st_vm_stage_ms(v->vm, "workload");
    long coll = st_vm_stage_ms(v->vm, "collect");
    double total = v->prepare_ms + (double)st_vm_wall_ms(v->vm);
    lua_pushinteger(L, (lua_Integer)v->prepare_ms);
    lua_setfield(L, -2, "prepare_ms");
    if (v->kversion[0]) {
        lua_pushstring(L, v->kversion);
        lua_setfield(L, -2, "kernel_version");
        if (lua_getfield(L, -1, "host") == LUA_TTABLE) {
            lua_pushstring(L, v->kversion);
            lua_setfield(L, -2, "guest_kernel");
        }
        lua_pop(L, 1);
    }
    lua_pushinteger(L, (lua_Integer)total);
    lua_setfield(L, -2, "total_ms");
    if (wl >= 0) {
        lua_pushinteger(L, (lua_Integer)(v->prepare_ms + (double)wl));
        lua_setfield(L, -2, "launch_to_workload_ms");
    }
    if (wl >= 0 && coll >= wl) {
        lua_pushinteger(L, coll - wl);
        lua_setfield(L, -2, "run_ms");
        lua_pushinteger(L, (lua_Integer)(total - (double)(coll - wl)));
        lua_setfield(L, -2, "overhead_ms");
    }
    if (o > 0) {
        const char *wt = NULL;
        if (lua_getfield(L, o, "cgroups") == LUA_TTABLE) {
            for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
                const char *w = st_work_name((st_work)st_work_from_name(
                    luax_optfieldstring(L, -1, "work", "")));
                if (w)
                    wt = !wt || strcmp(wt, w) == 0 ? w : "Mixed";
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushstring(L, wt ? wt : "CpuSpin");
        lua_setfield(L, -2, "work_type");
        const char *tn = luax_optfieldstring(L, o, "test_name", NULL);
        if (tn) {
            lua_pushstring(L, tn);
            lua_setfield(L, -2, "test_name");
        }
        if (lua_getfield(L, o, "scheduler") == LUA_TTABLE) {
            const char *bin = luax_optfieldstring(L, -1, "name",
                              luax_optfieldstring(L, -1, "binary", "eevdf"));
            char *copy = strdup(bin);
            lua_pushstring(L, basename(copy));
            free(copy);
        } else
            lua_pushliteral(L, "eevdf");
        lua_setfield(L, -3, "scheduler");
        lua_pop(L, 1);
    }
    return 1;
}

/* start(opts) -> handle; run(opts) -> result (the handle is released) */
static int start_impl(lua_State *L, int run)
{
    lua_settop(L, 1);
    complete_options(L);
    l_vm *v = lua_newuserdatauv(L, sizeof *v, 1);
    memset(v, 0, sizeof *v);
    v->scratch = (st_fs_scratch)ST_FS_SCRATCH_INIT;
    luaL_setmetatable(L, VM_TYPE);
    st_vm_opts opts;
    char *kernel = NULL;
    double t0 = mono_ms();
    int n = prepare(L, 1, &opts, &v->scratch, &kernel, v->kversion,
                    sizeof v->kversion);
    if (n > 0)
        return n;
    v->prepare_ms = mono_ms() - t0;
    opts.workdir = v->scratch.path;
    int rc = st_vm_start(&v->vm, &opts);
    free(kernel);
    if (rc < 0) {
        release(v);
        return luax_pushfail(L, rc);
    }
    if (!run) {
        /* keep the options for the result's work_type / scheduler */
        lua_pushvalue(L, 1);
        lua_setiuservalue(L, 2, 1);
        lua_settop(L, 2);
        return 1;
    }
    rc = st_vm_wait(v->vm);
    if (rc < 0)
        n = luax_pushfail(L, rc);
    else
        n = push_result(L, v, 1);
    release(v);
    return n;
}

static int l_vm_start(lua_State *L) { return start_impl(L, 0); }
static int l_vm_run(lua_State *L) { return start_impl(L, 1); }

static int m_poll(lua_State *L)
{
    l_vm *v = check_vm(L);
    double s = luaL_optnumber(L, 2, 0);
    if (!(s >= 0 && s <= MAX_SECONDS))
        luaL_argerror(L, 2, lua_pushfstring(L, "expected seconds to wait from "
                      "0 to %d, got %f", MAX_SECONDS, (lua_Number)s));
    int rc = st_vm_poll(v->vm, (int)(s * 1000));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushboolean(L, rc == 1);
    return 1;
}

static int m_console(lua_State *L)
{
    l_vm *v = check_vm(L);
    char *s;
    size_t len;
    int rc = st_vm_console_read(v->vm, &s, &len);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushlstring(L, s, len);
    free(s);
    return 1;
}

static int m_wait(lua_State *L)
{
    l_vm *v = check_vm(L);
    int rc = st_vm_wait(v->vm);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_getiuservalue(L, 1, 1);
    int o = lua_istable(L, -1) ? lua_gettop(L) : 0;
    return push_result(L, v, o);
}

static int m_kill(lua_State *L)
{
    st_vm_kill(check_vm(L)->vm);
    return 0;
}

static int m_pid(lua_State *L)
{
    lua_pushinteger(L, st_vm_pid(check_vm(L)->vm));
    return 1;
}

static int m_workdir(lua_State *L)
{
    lua_pushstring(L, st_vm_workdir(check_vm(L)->vm));
    return 1;
}

static int m_outcome(lua_State *L)
{
    l_vm *v = check_vm(L);
    lua_pushstring(L, st_vm_outcome_name(st_vm_get_outcome(v->vm)));
    lua_pushstring(L, st_vm_reason(v->vm));
    return 2;
}

/* argv(opts) -> the qemu argv start() would use (accel resolved as tcg
 * for "auto", without probing) */
static int l_vm_argv(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    st_vm_opts opts;
    memset(&opts, 0, sizeof opts);
    check_topology(L, 1, &opts.topo);
    opts.memory_mb = int_field(L, 1, 1, "memory_mb", 512, 1, MAX_MEMORY_MB,
                               "memory_mb");
    opts.qemu = luax_optfieldstring(L, 1, "qemu", NULL);
    opts.machine = luax_optfieldstring(L, 1, "machine", NULL);
    opts.kernel = luax_optfieldstring(L, 1, "kernel", "bzImage");
    opts.initramfs = luax_optfieldstring(L, 1, "initramfs", "initramfs.cpio");
    st_vm_accel a = check_accel(L, 1);
    check_clock(L, 1, &opts, a);
    push_kargs(L, 1);
    opts.kargs = lua_tostring(L, -1);
    char **argv;
    int rc = st_vm_argv(&argv, &opts, a == ST_VM_ACCEL_KVM ? a : ST_VM_ACCEL_TCG,
                        "console.log", "results.bin");
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_newtable(L);
    for (int i = 0; argv[i]; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    st_vm_argv_free(argv);
    return 1;
}

/* accel{kernel=...} -> "kvm"|"tcg", why */
static int l_vm_accel(lua_State *L)
{
    const char *kernel = NULL, *initramfs = NULL, *qemu = NULL;
    char *kpath = NULL;
    st_fs_scratch scratch = ST_FS_SCRATCH_INIT;
    st_vm_opts opts;
    if (lua_istable(L, 1)) {
        qemu = luax_optfieldstring(L, 1, "qemu", NULL);
        if (luax_optfieldstring(L, 1, "kernel", NULL)) {
            lua_newtable(L);
            lua_pushstring(L, luax_optfieldstring(L, 1, "kernel", NULL));
            lua_setfield(L, -2, "kernel");
            lua_insert(L, 1); /* the probe's own options; 2 anchors qemu */
            complete_options(L);
            int n = prepare(L, 1, &opts, &scratch, &kpath, NULL, 0);
            if (n > 0)
                return n;
            kernel = kpath;
            initramfs = opts.initramfs;
        }
    }
    st_vm_accel a;
    char *why = NULL;
    int rc;
    if (!kernel && access("/dev/kvm", R_OK | W_OK) == 0)
        rc = st_error_set(ST_EINVAL, "vm.accel: /dev/kvm exists: give "
                          "{kernel=} so a probe boot can test it");
    else
        rc = st_vm_resolve_accel(&a, &why, qemu, kernel ? kernel : "",
                                 initramfs ? initramfs : "");
    free(kpath);
    st_fs_scratch_remove(&scratch);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, st_vm_accel_name(a));
    lua_pushstring(L, why ? why : "");
    free(why);
    return 2;
}

static int l_vm_qemu_version(lua_State *L)
{
    char *v;
    int rc = st_vm_qemu_version(&v, luaL_optstring(L, 1, NULL));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, v);
    free(v);
    return 1;
}

/* spec(opts) -> the scenario text the guest agent would read (guest
 * paths placed, no modules: no kernel is resolved) */
static int l_vm_spec(lua_State *L)
{
    lua_settop(L, 1);
    complete_options(L);
    st_scenario *scn = new_scenario(L);
    st_guest_image img;
    memset(&img, 0, sizeof img);
    to_scenario(L, 1, scn, &img);
    char err[512], *text;
    size_t len;
    if (st_scenario_write(scn, &text, &len, err, sizeof err) < 0)
        return opt_error(L, "%s", err);
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

static const luaL_Reg vm_funcs[] = {
    {"run", l_vm_run},
    {"start", l_vm_start},
    {"argv", l_vm_argv},
    {"accel", l_vm_accel},
    {"qemu_version", l_vm_qemu_version},
    {"spec", l_vm_spec},
    {NULL, NULL}
};

static const luaL_Reg vm_methods[] = {
    {"poll", m_poll},
    {"console", m_console},
    {"wait", m_wait},
    {"kill", m_kill},
    {"pid", m_pid},
    {"workdir", m_workdir},
    {"outcome", m_outcome},
    {"close", vm_close},
    {NULL, NULL}
};

static const luaL_Reg vm_meta[] = {
    {"__gc", vm_close},
    {"__close", vm_close},
    {NULL, NULL}
};

/* vm.LIMITS: the scenario's limits (scenario.h), so the suite checks
 * them up front instead of keeping copies. */
static void push_limits(lua_State *L)
{
    static const struct { const char *name; int v; } limits[] = {
        {"cgroups", ST_SCN_MAX_CGROUPS}, {"workers", ST_SCN_MAX_WORKERS},
        {"steps", ST_SCN_MAX_STEPS}, {"ops", ST_SCN_MAX_OPS},
        {"writes", ST_SCN_MAX_WRITES}, {"modules", ST_SCN_MAX_MODULES},
        {"sched_args", ST_SCN_MAX_SCHED_ARGS},
        {"payloads", ST_SCN_MAX_PAYLOADS},
        {"payload_args", ST_SCN_MAX_PAYLOAD_ARGS},
        {"param", ST_SCN_MAX_PARAM},
        /* string buffers in bytes, with the NUL: at most N-1 characters */
        {"name_max", ST_SCN_NAME_MAX}, {"comm_max", ST_SCN_COMM_MAX},
        {"path_max", ST_SCN_PATH_MAX},
    };
    lua_createtable(L, 0, (int)(sizeof limits / sizeof limits[0]));
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        lua_pushinteger(L, limits[i].v);
        lua_setfield(L, -2, limits[i].name);
    }
}

/* A list of the `count` names name(0..count-1). */
static void push_names(lua_State *L, const char *(*name)(int), int count)
{
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        lua_pushstring(L, name(i));
        lua_rawseti(L, -2, i + 1);
    }
}

static const char *param_name(int i) { return param_keys[i]; }

static void push_work_types(lua_State *L)
{
    lua_createtable(L, ST_WORK_COUNT, 0);
    for (int i = 0; i < ST_WORK_COUNT; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, st_work_name((st_work)i));
        lua_setfield(L, -2, "name");
        lua_pushstring(L, st_work_suite_name((st_work)i));
        lua_setfield(L, -2, "suite");
        lua_rawseti(L, -2, i + 1);
    }
}

int luaopen_schedtest_vm(lua_State *L)
{
    luax_registertype(L, VM_TYPE, vm_methods, vm_meta);
    luaL_newlib(L, vm_funcs);
    lua_pushinteger(L, (lua_Integer)ST_VM_MAX_SEED);
    lua_setfield(L, -2, "MAX_SEED"); /* the largest seed a run takes */
    push_limits(L);
    lua_setfield(L, -2, "LIMITS");
    push_work_types(L); /* { {name = "CpuSpin", suite = "cpu_spin"}, ... } */
    lua_setfield(L, -2, "WORK_TYPES");
    push_names(L, policy_name, ST_POLICY_COUNT);
    lua_setfield(L, -2, "POLICIES");
    push_names(L, op_name, ST_OP_COUNT);
    lua_setfield(L, -2, "OPS");
    push_names(L, param_name, (int)(sizeof param_keys / sizeof *param_keys)
               - 1);
    lua_setfield(L, -2, "WORK_PARAMS");
    return 1;
}
