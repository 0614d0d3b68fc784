/*
 * l_initramfs.c: `schedtest.initramfs`, guest images from Lua.
 *
 *   local ir <close> = initramfs.new()
 *   ir:add_file("/init", "build/guest/agent", 0755)
 *   ir:add_binary("/bin/scx_simple", path)   -- plus its shared libraries
 *   ir:add_bytes("/spec.json", json, 0644)
 *   ir:add_dir("/proc", 0555); ir:add_symlink(p, target)
 *   ir:add_chardev("/dev/console", 0600, 5, 1)
 *   ir:write(out, {gzip = false})
 *   initramfs.elf_deps(path) -> { host path, ... }  (interpreter first)
 *
 * Environmental failures (missing file, EELF) return nil, msg, code.
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/initramfs.h"

#define INITRAMFS_T "schedtest.Initramfs"

typedef struct {
    st_initramfs *ir;
} l_initramfs;

static st_initramfs *check_ir(lua_State *L)
{
    l_initramfs *u = luaL_checkudata(L, 1, INITRAMFS_T);
    if (!u->ir)
        luaL_error(L, "attempt to use a closed %s", INITRAMFS_T);
    return u->ir;
}

static int l_initramfs_new(lua_State *L)
{
    /* The userdata exists before the resource, so an error leaks nothing. */
    l_initramfs *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->ir = NULL;
    luaL_setmetatable(L, INITRAMFS_T);
    int rc = st_initramfs_new(&u->ir);
    if (rc < 0)
        return luax_pushfail(L, rc);
    return 1;
}

static mode_t optmode(lua_State *L, int idx, lua_Integer def)
{
    lua_Integer m = luaL_optinteger(L, idx, def);
    luaL_argcheck(L, m >= 0 && m <= 07777, idx, "mode must be 0..0o7777");
    return (mode_t)m;
}

static int l_add_file(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    return luax_result(L, st_initramfs_add_file(ir, luaL_checkstring(L, 2),
                                                luaL_checkstring(L, 3),
                                                optmode(L, 4, 0)));
}

static int l_add_binary(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    return luax_result(L, st_initramfs_add_binary_with_libs(
                              ir, luaL_checkstring(L, 2),
                              luaL_checkstring(L, 3), optmode(L, 4, 0755)));
}

static int l_add_bytes(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    return luax_result(L, st_initramfs_add_bytes(ir, luaL_checkstring(L, 2),
                                                 data, len,
                                                 optmode(L, 4, 0644)));
}

static int l_add_dir(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    return luax_result(L, st_initramfs_add_dir(ir, luaL_checkstring(L, 2),
                                               optmode(L, 3, 0755)));
}

static int l_add_symlink(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    return luax_result(L, st_initramfs_add_symlink(ir, luaL_checkstring(L, 2),
                                                   luaL_checkstring(L, 3)));
}

static int l_add_chardev(lua_State *L)
{
    st_initramfs *ir = check_ir(L);
    const char *path = luaL_checkstring(L, 2);
    mode_t mode = optmode(L, 3, 0600);
    lua_Integer major = luaL_checkinteger(L, 4);
    lua_Integer minor = luaL_checkinteger(L, 5);
    luaL_argcheck(L, major >= 0 && major < 4096, 4, "bad major number");
    luaL_argcheck(L, minor >= 0 && minor < (1 << 20), 5, "bad minor number");
    return luax_result(L, st_initramfs_add_chardev(ir, path, mode,
                                                   (unsigned)major,
                                                   (unsigned)minor));
}

static int l_write(lua_State *L)
{
    static const char *const opts[] = {"gzip", NULL};
    st_initramfs *ir = check_ir(L);
    const char *path = luaL_checkstring(L, 2);
    int flags = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        luax_checkoptions(L, 3, opts);
        if (luax_optfieldboolean(L, 3, "gzip", 0))
            flags |= ST_INITRAMFS_GZIP;
    }
    return luax_result(L, st_initramfs_write(ir, path, flags));
}

static int l_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)st_initramfs_count(check_ir(L)));
    return 1;
}

static int l_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)st_initramfs_content_bytes(check_ir(L)));
    return 1;
}

/* Idempotent: __gc, __close and :close() share it. */
static int l_close(lua_State *L)
{
    l_initramfs *u = luaL_checkudata(L, 1, INITRAMFS_T);
    st_initramfs_free(u->ir);
    u->ir = NULL;
    return 0;
}

static int l_initramfs_elf_deps(lua_State *L)
{
    char **deps;
    size_t n;
    int rc = st_initramfs_elf_deps(&deps, &n, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, deps[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    st_initramfs_deps_free(deps);
    return 1;
}

static const luaL_Reg methods[] = {
    {"add_file", l_add_file},
    {"add_binary", l_add_binary},
    {"add_bytes", l_add_bytes},
    {"add_dir", l_add_dir},
    {"add_symlink", l_add_symlink},
    {"add_chardev", l_add_chardev},
    {"write", l_write},
    {"count", l_count},
    {"bytes", l_bytes},
    {"close", l_close},
    {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
    {"__gc", l_close},
    {"__close", l_close},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"new", l_initramfs_new},
    {"elf_deps", l_initramfs_elf_deps},
    {NULL, NULL}
};

int luaopen_schedtest_initramfs(lua_State *L)
{
    luax_registertype(L, INITRAMFS_T, methods, metamethods);
    luaL_newlib(L, funcs);
    return 1;
}
