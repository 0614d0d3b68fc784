/*
 * l_kernel.c: `schedtest.kernel`, kernel resolution and the kernel cache.
 *
 *   resolve(spec)      -> {path=, version=, source=, config=, sched_ext=,
 *                          cache_dir=, name=, kind=} | nil, msg, code
 *   list()             -> { info, ... } (cache entries, sorted by name)
 *   image_version(path) -> "6.12.117" | nil, msg, code
 *   config_sched_ext(config_path) -> boolean | nil, msg, code
 *   cache_dir()        -> "~/.cache/schedtest/kernels" (expanded)
 *   cache_root()       -> "~/.cache/schedtest" (expanded)
 *
 * Building and fetching kernels is policy and lives in Lua
 * (lua/schedtest/kernels.lua, scripts/kernel.lua).
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/kernel.h"

#include <stdlib.h>

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (!value)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void push_info(lua_State *L, const st_kernel_info *k)
{
    lua_createtable(L, 0, 8);
    set_string(L, "path", k->path);
    set_string(L, "boot_path", k->boot_path);
    set_string(L, "version", k->version);
    set_string(L, "source", st_kernel_source_name(k->source));
    set_string(L, "config", k->config);
    lua_pushboolean(L, k->sched_ext);
    lua_setfield(L, -2, "sched_ext");
    set_string(L, "cache_dir", k->cache_dir);
    set_string(L, "name", k->name);
    set_string(L, "kind", k->kind);
}

static int l_kernel_resolve(lua_State *L)
{
    st_kernel_info *k;
    int rc = st_kernel_resolve(&k, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    push_info(L, k);
    st_kernel_info_free(k);
    return 1;
}

static int l_kernel_list(lua_State *L)
{
    st_kernel_info **list;
    size_t n;
    int rc = st_kernel_list(&list, &n);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_info(L, list[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    st_kernel_list_free(list, n);
    return 1;
}

static int l_kernel_image_version(lua_State *L)
{
    char *v;
    int rc = st_kernel_image_version(&v, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, v);
    free(v);
    return 1;
}

/* A core answer that is 1, 0 or a negative error code. */
static int push_flag(lua_State *L, int rc)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushboolean(L, rc);
    return 1;
}

static int l_kernel_config_sched_ext(lua_State *L)
{
    return push_flag(L, st_kernel_config_sched_ext(luaL_checkstring(L, 1)));
}

static int l_kernel_pvh_entry(lua_State *L)
{
    return push_flag(L, st_kernel_pvh_entry(luaL_checkstring(L, 1)));
}

static int l_kernel_payload(lua_State *L)
{
    st_kernel_payload pl;
    int rc = st_kernel_payload_of(&pl, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)pl.offset);
    lua_setfield(L, -2, "offset");
    lua_pushinteger(L, (lua_Integer)pl.length);
    lua_setfield(L, -2, "length");
    lua_pushstring(L, pl.format);
    lua_setfield(L, -2, "format");
    return 1;
}

static int push_dir(lua_State *L, int (*get)(char **))
{
    char *d;
    int rc = get(&d);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, d);
    free(d);
    return 1;
}

static int l_kernel_cache_dir(lua_State *L)
{
    return push_dir(L, st_kernel_cache_dir);
}

static int l_kernel_cache_root(lua_State *L)
{
    return push_dir(L, st_kernel_cache_root);
}

static const luaL_Reg kernel_funcs[] = {
    {"resolve", l_kernel_resolve},
    {"list", l_kernel_list},
    {"image_version", l_kernel_image_version},
    {"config_sched_ext", l_kernel_config_sched_ext},
    {"pvh_entry", l_kernel_pvh_entry},
    {"payload", l_kernel_payload},
    {"cache_dir", l_kernel_cache_dir},
    {"cache_root", l_kernel_cache_root},
    {NULL, NULL}
};

int luaopen_schedtest_kernel(lua_State *L)
{
    luaL_newlib(L, kernel_funcs);
    return 1;
}
