/*
 * l_host.c: `schedtest.host`, facts about the running host program.
 *
 *   local host = require "schedtest.host"
 *   host.version, host.lua_version, host.libgit2_version, host.gsl_version
 *   host.root          -- directory holding lua/ and scripts/
 *   host.script_dirs   -- where `schedtest NAME` looks, in order
 *   host.exe           -- path of the schedtest binary
 *   host.repl(handler, {prompt=, prompt2=, history=, history_size=})
 *   host.isatty(fd)
 *   host.interrupted()  -- true once SIGINT/SIGTERM/SIGHUP arrived
 *   host.interrupt_signal()  -- 15, "SIGTERM" (or nil): which one
 */
#include "lua/luax.h"

#include "host.h"
#include "schedtest/git.h"
#include "schedtest/schedtest.h"
#include "schedtest/stats.h"

#include <signal.h>
#include <unistd.h>

/* repl(handler [, opts]): run the read-eval loop until end of input. */
static int l_host_repl(lua_State *L)
{
    static const char *const allowed[] = {
        "prompt", "prompt2", "history", "history_size", NULL
    };
    luaL_checktype(L, 1, LUA_TFUNCTION);
    st_repl_opts opts = {"> ", ">> ", NULL, 1000};
    if (!lua_isnoneornil(L, 2)) {
        luax_checkoptions(L, 2, allowed);
        opts.prompt = luax_optfieldstring(L, 2, "prompt", opts.prompt);
        opts.prompt2 = luax_optfieldstring(L, 2, "prompt2", opts.prompt2);
        opts.history_path = luax_optfieldstring(L, 2, "history", NULL);
        opts.history_size = (int)luax_optfieldinteger(L, 2, "history_size",
                                                      opts.history_size);
    }
    st_repl_run(L, 1, &opts);
    /* The loop ended on SIGTERM/SIGHUP (at the prompt or in a chunk):
     * unwind like any interrupted command, so the exit status says so. */
    if (luax_interrupted())
        return luax_raise_interrupted(L);
    return 0;
}

/* isatty(fd) -> boolean */
static int l_host_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* interrupted() -> true once a stop signal (Ctrl-C, SIGTERM, SIGHUP)
 * arrived while Lua code ran */
static int l_host_interrupted(lua_State *L)
{
    lua_pushboolean(L, luax_interrupted());
    return 1;
}

/* interrupt_signal() -> signo, name ("SIGINT", "SIGTERM", "SIGHUP") | nil */
static int l_host_interrupt_signal(lua_State *L)
{
    int sig = luax_interrupt_signal();
    const char *name = sig == SIGINT    ? "SIGINT"
                       : sig == SIGTERM ? "SIGTERM"
                       : sig == SIGHUP  ? "SIGHUP"
                                        : NULL;
    if (!name) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, sig);
    lua_pushstring(L, name);
    return 2;
}

static const luaL_Reg host_funcs[] = {
    {"interrupted", l_host_interrupted},
    {"interrupt_signal", l_host_interrupt_signal},
    {"repl", l_host_repl},
    {"isatty", l_host_isatty},
    {NULL, NULL}
};

int luaopen_schedtest_host(lua_State *L)
{
    luaL_newlib(L, host_funcs);
    lua_pushstring(L, st_version());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua_version");
    lua_pushstring(L, st_git_libgit2_version());
    lua_setfield(L, -2, "libgit2_version");
    lua_pushstring(L, st_stats_gsl_version());
    lua_setfield(L, -2, "gsl_version");

    /* Copy what the host recorded at start-up (paths). */
    if (lua_getfield(L, LUA_REGISTRYINDEX, LUAX_REG_HOST) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -5); /* module[key] = value */
        }
    }
    lua_pop(L, 1);
    return 1;
}
