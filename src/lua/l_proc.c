/*
 * l_proc.c: `schedtest.proc`, running programs from an argv.
 *
 *   local proc = require "schedtest.proc"
 *   local r = assert(proc.run({ "make", "-j2" }, { cwd = dir,
 *                               stdout = "capture", stderr = "stdout" }))
 *   if not r.ok then io.stderr:write(r.stdout) end
 *
 *   local h <close> = assert(proc.start({ "schedtest", "test" }, opts))
 *   while not h:poll(0.1) do ... end   -- or h:wait()
 *   local r = h:wait()                 -- the table run() returns
 *
 * `private_tmp = true` gives the child a TMPDIR of its own inside a locked
 * scratch directory, removed afterwards: what a killed compiler leaves
 * there is swept with the rest of a killed run's scratch.
 *
 * Ctrl-C (or SIGTERM, SIGHUP) while a child runs (in run(), or in a
 * handle's poll()/wait()) stops the child (its whole process group) and
 * the result says `interrupted = true`.  Closing a handle whose child still runs stops
 * it the same way.
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/proc.h"

#include <stdlib.h>
#include <string.h>

static int stop_on_interrupt(void *payload)
{
    (void)payload;
    return luax_interrupted();
}

/*
 * Where an output goes: "inherit" (NULL), "capture" (a file in `tmpdir`
 * named `name`, read back afterwards), "stdout" (stderr only; checked by
 * the caller) or a path.
 */
static const char *output_target(const char *v, const char *tmpdir,
                                 const char *name, char *buf, size_t size,
                                 int *capture)
{
    *capture = 0;
    if (strcmp(v, "inherit") == 0)
        return NULL;
    if (strcmp(v, "capture") == 0) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
        *capture = 1;
        return buf;
    }
    if (strcmp(v, "stdout") == 0)
        return "=stdout";
    return v;
}

/* Push the captured file's contents (or "" when missing) as field `key`. */
static void push_capture(lua_State *L, const char *path, const char *key)
{
    char *data;
    size_t len;
    if (st_fs_read_file(&data, &len, path) == 0) {
        lua_pushlstring(L, data, len);
        free(data);
    } else {
        lua_pushliteral(L, "");
    }
    lua_setfield(L, -2, key);
}

/* A child's options with what must outlive st_proc_start: the capture
 * directory and which outputs go there. */
typedef struct {
    st_proc_opts o;
    st_fs_scratch tmp;
    char out_path[4096], err_path[4096];
    char tmpdir_env[4200]; /* "TMPDIR=<scratch>" under private_tmp */
    int cap_out, cap_err;
} launch;

/*
 * Check run()/start()'s arguments (argv at 1, options at 2) and fill `l`.
 * The argv and env strings stay anchored on the stack until the caller
 * returns.  Returns 0, or the failure triple's count when the capture
 * directory cannot be made.
 */
static int parse_launch(lua_State *L, launch *l)
{
    static const char *const allowed[] = {
        "cwd", "env", "stdin", "stdout", "stderr", "timeout", "private_tmp",
        NULL
    };
    memset(l, 0, sizeof *l);
    l->tmp = (st_fs_scratch)ST_FS_SCRATCH_INIT;
    luaL_checktype(L, 1, LUA_TTABLE);
    int nargs = (int)luaL_len(L, 1);
    luaL_argcheck(L, nargs > 0, 1, "empty argv");
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    luax_checkoptions(L, 2, allowed);

    const char **argv = lua_newuserdatauv(L, sizeof *argv * (nargs + 1), 0);
    for (int i = 1; i <= nargs; i++) {
        lua_geti(L, 1, i);
        argv[i - 1] = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    argv[nargs] = NULL;

    int nenv = 0;
    const char **env = NULL;
    int env_tab = lua_gettop(L) + 1;
    if (lua_getfield(L, 2, "env") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, env_tab)) {
            nenv++;
            lua_pop(L, 1);
        }
        env = lua_newuserdatauv(L, sizeof *env * (nenv + 2), 0);
        lua_newtable(L); /* anchors the "K=V" strings */
        int anchor = lua_gettop(L);
        int i = 0;
        lua_pushnil(L);
        while (lua_next(L, env_tab)) {
            const char *k = luaL_checkstring(L, -2);
            const char *v = luaL_tolstring(L, -1, NULL);
            env[i++] = lua_pushfstring(L, "%s=%s", k, v);
            lua_rawseti(L, anchor, i);
            lua_pop(L, 2); /* tostring'ed value, value */
        }
        env[i] = NULL;
    } else if (!lua_isnil(L, -1)) {
        return luaL_argerror(L, 2, "option 'env' must be a table");
    } else {
        env = lua_newuserdatauv(L, sizeof *env * 2, 0);
        env[0] = NULL;
    }
    int private_tmp = luax_optfieldboolean(L, 2, "private_tmp", 0);

    /* Every option is read (and may raise) before the scratch directory
     * exists: nothing below raises, so nothing can leak it. */
    l->o.argv = argv;
    l->o.env_set = env;
    l->o.cwd = luax_optfieldstring(L, 2, "cwd", NULL);
    l->o.stdin_path = luax_optfieldstring(L, 2, "stdin", NULL);
    l->o.timeout_s = luax_optfieldnumber(L, 2, "timeout", 0);
    l->o.should_stop = stop_on_interrupt;
    const char *so = luax_optfieldstring(L, 2, "stdout", "inherit");
    const char *se = luax_optfieldstring(L, 2, "stderr", "inherit");
    if (strcmp(so, "stdout") == 0)
        return luaL_error(L, "option 'stdout' cannot be \"stdout\"");

    if (private_tmp || strcmp(so, "capture") == 0 ||
        strcmp(se, "capture") == 0) {
        int rc = st_fs_scratch_new(&l->tmp, ST_FS_SCRATCH_PROC);
        if (rc < 0)
            return luax_pushfail(L, rc);
    }
    if (private_tmp) { /* env has room for one more entry */
        snprintf(l->tmpdir_env, sizeof l->tmpdir_env, "TMPDIR=%s",
                 l->tmp.path);
        int i = 0;
        while (env[i])
            i++;
        env[i] = l->tmpdir_env;
        env[i + 1] = NULL;
    }
    l->o.stdout_path = output_target(so, l->tmp.path, "out", l->out_path,
                                     sizeof l->out_path, &l->cap_out);
    l->o.stderr_path = output_target(se, l->tmp.path, "err", l->err_path,
                                     sizeof l->err_path, &l->cap_err);
    return 0;
}

static void remove_captures(launch *l)
{
    st_fs_scratch_remove(&l->tmp);
}

/* Push the result table of a finished child (captures read back). */
static void push_result(lua_State *L, const st_proc_result *r,
                        const launch *l)
{
    lua_createtable(L, 0, 8);
    lua_pushboolean(L, r->exited && r->code == 0);
    lua_setfield(L, -2, "ok");
    if (r->exited) {
        lua_pushinteger(L, r->code);
        lua_setfield(L, -2, "code");
    } else if (r->signal) {
        lua_pushinteger(L, r->signal);
        lua_setfield(L, -2, "signal");
    }
    lua_pushboolean(L, r->timed_out);
    lua_setfield(L, -2, "timed_out");
    lua_pushboolean(L, r->stopped);
    lua_setfield(L, -2, "interrupted");
    lua_pushnumber(L, r->wall_s);
    lua_setfield(L, -2, "wall");
    if (l->cap_out)
        push_capture(L, l->out_path, "stdout");
    if (l->cap_err)
        push_capture(L, l->err_path, "stderr");
}

/* run(argv [, opts]) -> {ok, code, signal, timed_out, interrupted, wall,
 *                        stdout?, stderr?} | nil, msg, code */
static int l_proc_run(lua_State *L)
{
    launch l;
    int n = parse_launch(L, &l);
    if (n > 0)
        return n;
    st_proc_result r;
    int rc = st_proc_run(&r, &l.o);
    if (rc < 0) {
        remove_captures(&l);
        return luax_pushfail(L, rc);
    }
    push_result(L, &r, &l);
    remove_captures(&l);
    return 1;
}

/* {====================================================================
 * start(): a child that runs while Lua goes on
 * ===================================================================== */

#define PROC_TYPE "schedtest.Proc"

typedef struct {
    st_proc *p;
    launch l;
} l_proc;

static l_proc *check_proc(lua_State *L)
{
    l_proc *h = luaL_checkudata(L, 1, PROC_TYPE);
    if (!h->p)
        luaL_error(L, "attempt to use a closed " PROC_TYPE);
    return h;
}

/* start(argv [, opts]) -> handle | nil, msg, code */
static int l_proc_start(lua_State *L)
{
    launch l;
    int n = parse_launch(L, &l);
    if (n > 0)
        return n;
    /* the handle exists before the child, so an error leaves no orphan */
    l_proc *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, PROC_TYPE);
    int rc = st_proc_start(&h->p, &l.o);
    if (rc < 0) {
        remove_captures(&l);
        return luax_pushfail(L, rc);
    }
    h->l = l;
    /* its strings are anchored by this call only; the child has them */
    memset(&h->l.o, 0, sizeof h->l.o);
    return 1;
}

/* handle:poll([seconds]) -> finished (Ctrl-C stops the child: finished) */
static int m_poll(lua_State *L)
{
    l_proc *h = check_proc(L);
    st_proc_result r;
    int ms = (int)(luaL_optnumber(L, 2, 0) * 1000);
    lua_pushboolean(L, st_proc_poll(h->p, &r, ms));
    return 1;
}

/* handle:wait() -> the result table of run() */
static int m_wait(lua_State *L)
{
    l_proc *h = check_proc(L);
    st_proc_result r;
    st_proc_wait(h->p, &r);
    push_result(L, &r, &h->l);
    return 1;
}

static int m_pid(lua_State *L)
{
    lua_pushinteger(L, st_proc_pid(check_proc(L)->p));
    return 1;
}

/* close(): stops the child's process group if it still runs; idempotent */
static int m_close(lua_State *L)
{
    l_proc *h = luaL_checkudata(L, 1, PROC_TYPE);
    if (h->p) {
        st_proc_free(h->p);
        h->p = NULL;
        remove_captures(&h->l);
    }
    return 0;
}

static const luaL_Reg proc_methods[] = {
    {"poll", m_poll},
    {"wait", m_wait},
    {"pid", m_pid},
    {"close", m_close},
    {NULL, NULL}
};

static const luaL_Reg proc_meta[] = {
    {"__gc", m_close},
    {"__close", m_close},
    {NULL, NULL}
};

/* }==================================================================== */

static const luaL_Reg proc_funcs[] = {
    {"run", l_proc_run},
    {"start", l_proc_start},
    {NULL, NULL}
};

int luaopen_schedtest_proc(lua_State *L)
{
    luax_registertype(L, PROC_TYPE, proc_methods, proc_meta);
    luaL_newlib(L, proc_funcs);
    return 1;
}
