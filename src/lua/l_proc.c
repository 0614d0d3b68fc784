/*
 * l_proc.c: `schedtest.proc`, running programs from an argv.
 *
 *   local proc = require "schedtest.proc"
 *   local r = assert(proc.run({ "make", "-j2" }, { cwd = dir,
 *                               stdout = "capture", stderr = "stdout" }))
 *   if not r.ok then io.stderr:write(r.stdout) end
 *
 * Ctrl-C (or SIGTERM, SIGHUP) while a child runs stops the child (its whole
 * process group) and the result says `interrupted = true`.
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
 * Where an output whose option says `v` goes: "inherit" (NULL), "capture"
 * (a file in `tmpdir` named `name`, read back afterwards), "stdout"
 * (stderr only; checked by the caller) or a path.
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

/* run(argv [, opts]) -> {ok, code, signal, timed_out, interrupted, wall,
 *                        stdout?, stderr?} | nil, msg, code */
static int l_proc_run(lua_State *L)
{
    static const char *const allowed[] = {
        "cwd", "env", "stdin", "stdout", "stderr", "timeout", NULL
    };
    luaL_checktype(L, 1, LUA_TTABLE);
    int nargs = (int)luaL_len(L, 1);
    luaL_argcheck(L, nargs > 0, 1, "empty argv");
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    luax_checkoptions(L, 2, allowed);

    /* argv and env strings stay anchored in tables on the stack. */
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
        env = lua_newuserdatauv(L, sizeof *env * (nenv + 1), 0);
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
    }

    /* Every option is read (and may raise) before the scratch directory
     * exists: nothing below raises, so nothing can leak it. */
    st_proc_opts o = {0};
    o.argv = argv;
    o.env_set = env;
    o.cwd = luax_optfieldstring(L, 2, "cwd", NULL);
    o.stdin_path = luax_optfieldstring(L, 2, "stdin", NULL);
    o.timeout_s = luax_optfieldnumber(L, 2, "timeout", 0);
    o.should_stop = stop_on_interrupt;
    const char *so = luax_optfieldstring(L, 2, "stdout", "inherit");
    const char *se = luax_optfieldstring(L, 2, "stderr", "inherit");
    if (strcmp(so, "stdout") == 0)
        return luaL_error(L, "option 'stdout' cannot be \"stdout\"");

    st_fs_scratch tmp = ST_FS_SCRATCH_INIT;
    if (strcmp(so, "capture") == 0 || strcmp(se, "capture") == 0) {
        int rc = st_fs_scratch_new(&tmp, ST_FS_SCRATCH_PROC);
        if (rc < 0)
            return luax_pushfail(L, rc);
    }
    char out_buf[4096], err_buf[4096];
    int cap_out, cap_err;
    o.stdout_path = output_target(so, tmp.path, "out", out_buf,
                                  sizeof out_buf, &cap_out);
    o.stderr_path = output_target(se, tmp.path, "err", err_buf,
                                  sizeof err_buf, &cap_err);

    st_proc_result r;
    int rc = st_proc_run(&r, &o);
    if (rc < 0) {
        st_fs_scratch_remove(&tmp);
        return luax_pushfail(L, rc);
    }
    lua_createtable(L, 0, 8);
    lua_pushboolean(L, r.exited && r.code == 0);
    lua_setfield(L, -2, "ok");
    if (r.exited) {
        lua_pushinteger(L, r.code);
        lua_setfield(L, -2, "code");
    } else if (r.signal) {
        lua_pushinteger(L, r.signal);
        lua_setfield(L, -2, "signal");
    }
    lua_pushboolean(L, r.timed_out);
    lua_setfield(L, -2, "timed_out");
    lua_pushboolean(L, r.stopped);
    lua_setfield(L, -2, "interrupted");
    lua_pushnumber(L, r.wall_s);
    lua_setfield(L, -2, "wall");
    if (cap_out)
        push_capture(L, out_buf, "stdout");
    if (cap_err)
        push_capture(L, err_buf, "stderr");
    st_fs_scratch_remove(&tmp);
    return 1;
}

static const luaL_Reg proc_funcs[] = {
    {"run", l_proc_run},
    {NULL, NULL}
};

int luaopen_schedtest_proc(lua_State *L)
{
    luaL_newlib(L, proc_funcs);
    return 1;
}
