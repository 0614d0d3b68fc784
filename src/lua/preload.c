/*
 * preload.c: every C module of schedtest, put into package.preload so that
 * `require "schedtest.<name>"` finds the binding linked into the host
 * (linit.c's recipe).  Lua modules are never preloaded: they load from disk
 * so users can edit and override them.
 */
#include "lua/luax.h"

#include <lualib.h>

static const luaL_Reg preloaded[] = {
    {"schedtest.error", luaopen_schedtest_error},
    {"schedtest.host", luaopen_schedtest_host},
    {"schedtest.fs", luaopen_schedtest_fs},
    {"schedtest.regex", luaopen_schedtest_regex},
    {"schedtest.proc", luaopen_schedtest_proc},
    {"schedtest.git", luaopen_schedtest_git},
    {"schedtest.kernel", luaopen_schedtest_kernel},
    {"schedtest.initramfs", luaopen_schedtest_initramfs},
    {"schedtest.sidecar", luaopen_schedtest_sidecar},
    {"schedtest.pool", luaopen_schedtest_pool},
    {"schedtest.stats", luaopen_schedtest_stats},
    {"schedtest.vm", luaopen_schedtest_vm},
    {NULL, NULL}
};

void luax_preload(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *m = preloaded; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}
