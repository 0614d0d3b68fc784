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
 *   spec(opts)   -> the scenario spec text the guest agent reads
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
#include "schedtest/initramfs.h"
#include "schedtest/kernel.h"
#include "schedtest/vm.h"

#include <errno.h>
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
 * Options -> scenario spec text (the agent's format: src/guest/agent.c)
 * ===================================================================== */

static const char *const work_names[][2] = {
    {"CpuSpin", "cpu_spin"},         {"SpinWait", "spin_wait"},
    {"YieldHeavy", "yield_heavy"},   {"PipeIo", "pipe_pingpong"},
    {"FutexFanOut", "futex_fanout"}, {"Bursty", "bursty"},
    {"Mixed", "mix"},
};

static const char *check_work(lua_State *L, int idx, const char *w)
{
    for (size_t i = 0; i < sizeof work_names / sizeof work_names[0]; i++)
        if (strcmp(w, work_names[i][0]) == 0 || strcmp(w, work_names[i][1]) == 0)
            return work_names[i][0];
    luaL_argerror(L, idx, lua_pushfstring(L, "unknown work type '%s' "
                  "(expected CpuSpin|cpu_spin, SpinWait|spin_wait, "
                  "YieldHeavy|yield_heavy, PipeIo|pipe_pingpong, "
                  "FutexFanOut|futex_fanout, Bursty|bursty, Mixed|mix)", w));
    return NULL;
}

/* A token that goes into a space-separated spec line. */
static const char *word(lua_State *L, int idx, const char *what, const char *s)
{
    if (!*s || strpbrk(s, " \t\n\r"))
        luaL_argerror(L, idx, lua_pushfstring(L, "%s '%s': must be one "
                      "word (no spaces)", what, s));
    return s;
}

/* Longest duration, timeout or total run in seconds: what the launcher
 * holds (ST_VM_MAX_MS, a day). */
#define MAX_SECONDS (ST_VM_MAX_MS / 1000)

/*
 * Seconds in field `key` of the table at `t` (`def` when absent) as
 * milliseconds, for the option the error calls `name` (argument `argi`).
 * Checked before the conversion: a double beyond INT_MAX does not convert
 * to an int (undefined; INT_MIN on x86, which once showed up as a bogus
 * 30 s hang).  NaN fails the comparison too.
 */
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

/* Integer field `key` of the table at `t` (`def` when absent), checked
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

/* Like int_field for an optional field: 0 when absent. */
static int opt_int_field(lua_State *L, int argi, int t, const char *key,
                         lua_Integer lo, lua_Integer hi, const char *name)
{
    int absent = lua_getfield(L, t, key) == LUA_TNIL;
    lua_pop(L, 1);
    return absent ? 0 : int_field(L, argi, t, key, 0, lo, hi, name);
}

/* Value of t[k] as a string (numbers converted), or NULL. */
static const char *field_str(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = lua_isnil(L, -1) ? NULL : luaL_tolstring(L, -1, NULL);
    if (s)
        lua_replace(L, -2);
    /* leave the value on the stack: it anchors s; caller pops */
    return s;
}

/* "sysctl key value" lines from a {key=value} map or {"key=value"} list. */
/* The spec text under construction: one table entry per piece. */
typedef struct {
    lua_State *L;
    int t;          /* absolute index of the table of pieces */
    lua_Integer n;  /* pieces so far */
} spec_buf;

static void spec_add(spec_buf *s, const char *piece)
{
    lua_pushstring(s->L, piece);
    lua_rawseti(s->L, s->t, ++s->n);
}

static void add_sysctls(lua_State *L, spec_buf *b, int t, int argi,
                        const char *dir)
{
    if (lua_isnil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        char line[1024];
        if (lua_type(L, -2) == LUA_TNUMBER) {
            const char *kv = luaL_checkstring(L, -1);
            const char *eq = strchr(kv, '=');
            if (!eq)
                luaL_argerror(L, argi, lua_pushfstring(L, "sysctl '%s': "
                              "expected key=value", kv));
            snprintf(line, sizeof line, "%s %.*s %s\n", dir, (int)(eq - kv),
                     kv, eq + 1);
        } else {
            lua_pushvalue(L, -2);
            const char *k = lua_tostring(L, -1);
            const char *v = luaL_tolstring(L, -2, NULL);
            snprintf(line, sizeof line, "%s %s %s\n", dir, word(L, argi, "sysctl", k), v);
            lua_pop(L, 2);
        }
        spec_add(b, line);
        lua_pop(L, 1);
    }
}

static void add_writes(lua_State *L, spec_buf *b, int t, const char *dir)
{
    if (lua_isnil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pushvalue(L, -2);
        const char *k = lua_tostring(L, -1);
        const char *v = luaL_tolstring(L, -2, NULL);
        char line[1024];
        snprintf(line, sizeof line, "%s %s %s\n", dir, k, v);
        lua_pop(L, 3);
        spec_add(b, line);
    }
}

static const char *const run_opts[] = {
    "kernel", "topology", "memory_mb", "scheduler", "duration", "cgroups",
    "steps", "sysctls", "kargs", "accel", "timeouts", "writes", "features",
    "params", "fault", "qemu", "machine", "settle", "attach_timeout",
    "monitor_ms", "files", "test_name", "clock", "shift", "seed", NULL};

/* Build the spec text from the options table at `o`; pushes it. */
static void build_spec(lua_State *L, int o)
{
    /* Lines collect in a table: a luaL_Buffer would break as soon as it
     * grows while option tables sit above it on the stack. */
    lua_newtable(L);
    spec_buf b = {L, lua_gettop(L), 0};
    char line[1024];
    snprintf(line, sizeof line, "duration_ms %d\n",
             ms_field(L, o, o, "duration", 2.0, "duration"));
    spec_add(&b, line);
    snprintf(line, sizeof line, "settle_ms %d\n",
             ms_field(L, o, o, "settle", 0.3, "settle"));
    spec_add(&b, line);
    snprintf(line, sizeof line, "attach_timeout_ms %d\n",
             ms_field(L, o, o, "attach_timeout", 20, "attach_timeout"));
    spec_add(&b, line);
    snprintf(line, sizeof line, "monitor_ms %d\n",
             int_field(L, o, o, "monitor_ms", 100, 1, 60000, "monitor_ms"));
    spec_add(&b, line);

    lua_getfield(L, o, "params");
    if (!lua_isnil(L, -1)) {
        int p = lua_gettop(L);
        static const char *const keys[] = {"spin_us", "sleep_us", "burst_us",
                                           "work_us", NULL};
        luax_checkoptions(L, p, keys);
        spec_add(&b, "param");
        for (int i = 0; keys[i]; i++) {
            if (lua_getfield(L, p, keys[i]) != LUA_TNIL) {
                char name[32];
                snprintf(name, sizeof name, "params.%s", keys[i]);
                /* the agent reads them with atoi */
                snprintf(line, sizeof line, " %s=%d", keys[i],
                         int_field(L, o, p, keys[i], 0, 0, INT_MAX, name));
                spec_add(&b, line);
            }
            lua_pop(L, 1);
        }
        spec_add(&b, "\n");
    }
    lua_pop(L, 1);

    lua_getfield(L, o, "sysctls");
    add_sysctls(L, &b, lua_gettop(L), o, "sysctl");
    lua_pop(L, 1);
    lua_getfield(L, o, "writes");
    add_writes(L, &b, lua_gettop(L), "write");
    lua_pop(L, 1);
    lua_getfield(L, o, "features");
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
            snprintf(line, sizeof line, "write /sys/kernel/debug/sched/features %s\n",
                     word(L, o, "feature", luaL_checkstring(L, -1)));
            spec_add(&b, line);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, o, "scheduler");
    if (lua_istable(L, -1)) {
        int s = lua_gettop(L);
        static const char *const keys[] = {"binary", "args", "name",
                                           "from_phase", "sched_ext", NULL};
        luax_checkoptions(L, s, keys);
        /* from_phase: the scheduler joins at that phase (1 = the first
         * step), so one run measures the built-in scheduler first. */
        lua_Integer from = luax_optfieldinteger(L, s, "from_phase", 0);
        if (from < 0 || from > 16)
            luaL_argerror(L, o, "scheduler.from_phase must be a phase index "
                          "(0 = BASELINE, k = the k-th step, at most 16)");
        if (from > 0) {
            snprintf(line, sizeof line, "scheduler_from_phase %lld\n",
                     (long long)from);
            spec_add(&b, line);
        }
        /* sched_ext = false: a user-space tuner, attached once alive */
        if (!luax_optfieldboolean(L, s, "sched_ext", 1))
            spec_add(&b, "scheduler_not_scx 1\n");
        const char *bin = luax_optfieldstring(L, s, "binary", NULL);
        if (!bin)
            luaL_argerror(L, o, "scheduler.binary is required");
        char *copy = strdup(bin);
        snprintf(line, sizeof line, "scheduler /schedtest/sched/%s\n",
                 basename(copy));
        free(copy);
        spec_add(&b, line);
        lua_getfield(L, s, "args");
        if (!lua_isnil(L, -1)) {
            luaL_checktype(L, -1, LUA_TTABLE);
            for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
                snprintf(line, sizeof line, "sched_arg %s\n",
                         luaL_checkstring(L, -1));
                spec_add(&b, line);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnil(L, -1))
        luaL_argerror(L, o, "scheduler: table {binary=, args=} expected");
    lua_pop(L, 1);

    lua_getfield(L, o, "cgroups");
    if (!lua_isnil(L, -1)) {
        int cgs = lua_gettop(L);
        luaL_checktype(L, cgs, LUA_TTABLE);
        for (lua_Integer i = 1; lua_rawgeti(L, cgs, i) != LUA_TNIL; i++) {
            int c = lua_gettop(L);
            static const char *const keys[] = {"name", "workers", "work",
                                               "cpuset", "affinity", "weight",
                                               "fanout", NULL};
            luax_checkoptions(L, c, keys);
            char defname[32];
            snprintf(defname, sizeof defname, "cg%lld", (long long)i - 1);
            const char *name = luax_optfieldstring(L, c, "name", defname);
            const char *work = check_work(L, o, luax_optfieldstring(L, c, "work", "CpuSpin"));
            lua_Integer workers = luax_optfieldinteger(L, c, "workers", 1);
            if (workers < 1 || workers > 256)
                luaL_argerror(L, o, "cgroups[i].workers must be 1..256");
            if (strcmp(work, "PipeIo") == 0 && workers % 2)
                luaL_argerror(L, o, lua_pushfstring(L, "cgroup '%s': PipeIo "
                              "(pipe ping-pong) needs an even worker count", name));
            int n = snprintf(line, sizeof line, "cgroup name=%s workers=%lld work=%s",
                             word(L, o, "cgroup name", name), (long long)workers, work);
            const char *cpuset = field_str(L, c, "cpuset");
            if (cpuset)
                n += snprintf(line + n, sizeof line - (size_t)n, " cpuset=%s",
                              word(L, o, "cpuset", cpuset));
            lua_pop(L, 1);
            const char *aff = field_str(L, c, "affinity");
            if (aff)
                n += snprintf(line + n, sizeof line - (size_t)n, " affinity=%s",
                              word(L, o, "affinity", aff));
            lua_pop(L, 1);
            int w = opt_int_field(L, o, c, "weight", 1, 10000,
                                  "cgroups[i].weight");
            if (w > 0)
                n += snprintf(line + n, sizeof line - (size_t)n, " weight=%d", w);
            int f = opt_int_field(L, o, c, "fanout", 1, 256,
                                  "cgroups[i].fanout");
            if (f > 0)
                n += snprintf(line + n, sizeof line - (size_t)n, " fanout=%d", f);
            snprintf(line + n, sizeof line - (size_t)n, "\n");
            spec_add(&b, line);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, o, "steps");
    if (!lua_isnil(L, -1)) {
        int sts = lua_gettop(L);
        luaL_checktype(L, sts, LUA_TTABLE);
        for (lua_Integer i = 1; lua_rawgeti(L, sts, i) != LUA_TNIL; i++) {
            int s = lua_gettop(L);
            static const char *const keys[] = {"duration", "label", "writes",
                                               "sysctls", "cpusets", "weights",
                                               NULL};
            luax_checkoptions(L, s, keys);
            char deflabel[32], name[48];
            snprintf(deflabel, sizeof deflabel, "Step[%lld]", (long long)i - 1);
            snprintf(name, sizeof name, "steps[%lld].duration", (long long)i);
            snprintf(line, sizeof line, "step ms=%d label=%s\n",
                     ms_field(L, o, s, "duration", 1.0, name),
                     word(L, o, "step label",
                          luax_optfieldstring(L, s, "label", deflabel)));
            spec_add(&b, line);
            lua_getfield(L, s, "writes");
            add_writes(L, &b, lua_gettop(L), "step_write");
            lua_pop(L, 1);
            lua_getfield(L, s, "sysctls");
            if (!lua_isnil(L, -1)) {
                /* step sysctls become writes under /proc/sys */
                luaL_checktype(L, -1, LUA_TTABLE);
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                    lua_pushvalue(L, -2);
                    char path[512];
                    snprintf(path, sizeof path, "/proc/sys/%s", lua_tostring(L, -1));
                    for (char *p = path + 10; *p; p++)
                        if (*p == '.')
                            *p = '/';
                    snprintf(line, sizeof line, "step_write %s %s\n", path,
                             luaL_tolstring(L, -2, NULL));
                    lua_pop(L, 3);
                    spec_add(&b, line);
                }
            }
            lua_pop(L, 1);
            lua_getfield(L, s, "cpusets");
            add_writes(L, &b, lua_gettop(L), "step_cpuset");
            lua_pop(L, 1);
            lua_getfield(L, s, "weights");
            add_writes(L, &b, lua_gettop(L), "step_weight");
            lua_pop(L, 1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    const char *fault = luax_optfieldstring(L, o, "fault", NULL);
    if (fault) {
        snprintf(line, sizeof line, "fault %s\n", word(L, o, "fault", fault));
        spec_add(&b, line);
    }
    luaL_Buffer out;
    luaL_buffinit(L, &out);
    for (lua_Integer i = 1; i <= b.n; i++) {
        lua_rawgeti(L, b.t, i);
        luaL_addvalue(&out);
    }
    luaL_pushresult(&out);
    lua_remove(L, b.t);
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

/* Modules shipped with a cache kernel: <dir>/modules/modules.order;
 * their "module <path>" spec lines go to `lines` (size bytes). */
static int add_modules(st_initramfs *ir, char *lines, size_t size,
                       const char *kernel_path)
{
    char dir[4096], order[4200];
    lines[0] = '\0';
    snprintf(dir, sizeof dir, "%s", kernel_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(order, sizeof order, "%s/modules/modules.order", dir);
    FILE *f = fopen(order, "r");
    if (!f)
        return 0;
    char name[256];
    int rc = 0;
    size_t used = 0;
    while (rc == 0 && fscanf(f, "%255s", name) == 1) {
        char host[4600], guest[300];
        snprintf(host, sizeof host, "%s/modules/%s", dir, name);
        snprintf(guest, sizeof guest, "/lib/modules/%s", name);
        rc = st_initramfs_add_file(ir, guest, host, 0644);
        if (used < size)
            used += (size_t)snprintf(lines + used, size - used, "module %s\n",
                                     guest);
    }
    fclose(f);
    return rc;
}

/* The planned length of the run, BASELINE plus every step, in ms: each
 * checked by ms_field, the sum (in 64 bits) against a day. */
static int run_hint(lua_State *L, int o)
{
    int64_t total = ms_field(L, o, o, "duration", 2.0, "duration");
    if (lua_getfield(L, o, "steps") == LUA_TTABLE) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
            char name[48];
            snprintf(name, sizeof name, "steps[%lld].duration", (long long)i);
            total += ms_field(L, o, lua_gettop(L), "duration", 1.0, name);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (total > ST_VM_MAX_MS)
        luaL_argerror(L, o, lua_pushfstring(L, "duration and steps add up to "
                      "%I ms; a run takes at most %d s (a day)",
                      (lua_Integer)total, MAX_SECONDS));
    return (int)total;
}

/*
 * Everything start() needs before qemu: resolve the kernel, build the
 * initramfs in a fresh scratch directory (`*scratch`, locked, so a sweep
 * by a later run can tell it is in use; the caller removes it), fill
 * `opts`.  On failure pushes nil, msg, code and returns the count (3);
 * returns 0 on success with the strings anchored on the stack.
 */
static int prepare(lua_State *L, int o, st_vm_opts *opts,
                   st_fs_scratch *scratch, char **kernel_path,
                   char *kversion, size_t kvsize)
{
    luax_checkoptions(L, o, run_opts);
    memset(opts, 0, sizeof *opts);
    check_topology(L, o, &opts->topo);
    check_timeouts(L, o, &opts->timeouts);
    opts->accel = check_accel(L, o);
    check_clock(L, o, opts, opts->accel);
    opts->memory_mb = int_field(L, o, o, "memory_mb", 512, 1, MAX_MEMORY_MB,
                                "memory_mb");
    opts->qemu = luax_optfieldstring(L, o, "qemu", NULL);
    opts->machine = luax_optfieldstring(L, o, "machine", NULL);
    opts->run_hint_ms = run_hint(L, o);
    opts->interrupted = luax_interrupted;
    /* Every check that raises comes before anything is allocated: a
     * raise from here on would leak the kernel path, the initramfs and
     * the temporary directory. */
    build_spec(L, o); /* anchored on the stack */
    int spec = lua_gettop(L);
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

    st_initramfs *ir = NULL;
    st_fs_scratch sc = ST_FS_SCRATCH_INIT;
    rc = st_fs_scratch_new(&sc, ST_FS_SCRATCH_VM);
    const char *dir = sc.path;
    if (rc == 0)
        rc = st_initramfs_new(&ir);
    char modlines[2048] = "";
    if (rc == 0)
        rc = st_initramfs_add_chardev(ir, "/dev/console", 0600, 5, 1);
    if (rc == 0)
        rc = st_initramfs_add_file(ir, "/init", agent, 0755);
    if (rc == 0)
        rc = add_modules(ir, modlines, sizeof modlines, *kernel_path);
    if (rc == 0 && lua_getfield(L, o, "scheduler") == LUA_TTABLE) {
        const char *bin = luax_optfieldstring(L, -1, "binary", NULL);
        if (bin) {
            char *copy = strdup(bin), guest[512];
            snprintf(guest, sizeof guest, "/schedtest/sched/%s", basename(copy));
            free(copy);
            rc = st_initramfs_add_binary_with_libs(ir, guest, bin, 0755);
        }
    }
    lua_pop(L, 1);
    if (rc == 0 && lua_getfield(L, o, "files") == LUA_TTABLE) {
        lua_pushnil(L);
        while (rc == 0 && lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            rc = st_initramfs_add_file(ir, lua_tostring(L, -1),
                                       luaL_checkstring(L, -2), 0);
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    if (rc == 0) {
        lua_pushstring(L, modlines);
        lua_pushvalue(L, spec);
        lua_concat(L, 2);
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        rc = st_initramfs_add_bytes(ir, "/schedtest/spec", text, len, 0644);
        lua_pop(L, 1);
    }
    char irpath[4200];
    if (rc == 0) {
        snprintf(irpath, sizeof irpath, "%s/initramfs.cpio", dir);
        rc = st_initramfs_write(ir, irpath, 0);
    }
    st_initramfs_free(ir);
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
                const char *w = check_work(L, o, luax_optfieldstring(L, -1, "work", "CpuSpin"));
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
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
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
            int n = prepare(L, lua_gettop(L), &opts, &scratch, &kpath,
                            NULL, 0);
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

static int l_vm_spec(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luax_checkoptions(L, 1, run_opts);
    build_spec(L, 1);
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

int luaopen_schedtest_vm(lua_State *L)
{
    luax_registertype(L, VM_TYPE, vm_methods, vm_meta);
    luaL_newlib(L, vm_funcs);
    lua_pushinteger(L, (lua_Integer)ST_VM_MAX_SEED);
    lua_setfield(L, -2, "MAX_SEED"); /* the largest seed a run takes */
    return 1;
}
