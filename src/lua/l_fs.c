/*
 * l_fs.c: `schedtest.fs`, file-system helpers for scripts.
 *
 * Every function returns its result, or `nil, message, code` when the
 * file system says no (luv style).
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"

#include <stdlib.h>
#include <unistd.h>

#define LOCK "schedtest.Lock"

/* list(dir) -> { name, ... } sorted, without "." and ".." */
static int l_fs_list(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    char **names;
    size_t n;
    int rc = st_fs_list(&names, &n, dir);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    st_fs_list_free(names);
    return 1;
}

/* stat(path [, follow=true]) -> {type=, size=, mtime=, mode=} */
static int l_fs_stat(lua_State *L)
{
    static const char *const types[] = {"file", "directory", "link",
                                        "other"};
    const char *path = luaL_checkstring(L, 1);
    int follow = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    st_fs_info info;
    int rc = st_fs_stat(&info, path, follow);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, types[info.type]);
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)info.size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, info.mtime);
    lua_setfield(L, -2, "mtime");
    lua_pushinteger(L, info.mode);
    lua_setfield(L, -2, "mode");
    return 1;
}

/* mkdir_p(path) -> true */
static int l_fs_mkdir_p(lua_State *L)
{
    return luax_result(L, st_fs_mkdir_p(luaL_checkstring(L, 1), 0777));
}

/* remove_tree(path) -> true; a missing path is fine */
static int l_fs_remove_tree(lua_State *L)
{
    return luax_result(L, st_fs_remove_tree(luaL_checkstring(L, 1)));
}

/* Push a malloc'ed string and free it, or fail. */
static int push_owned(lua_State *L, int rc, char *s)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

/* realpath(path) -> absolute canonical path */
static int l_fs_realpath(lua_State *L)
{
    char *out = NULL;
    int rc = st_fs_realpath(&out, luaL_checkstring(L, 1));
    return push_owned(L, rc, out);
}

/* cwd() -> the process's working directory (not $PWD, which a parent
 * may have left stale) */
static int l_fs_cwd(lua_State *L)
{
    char *out = NULL;
    int rc = st_fs_cwd(&out);
    return push_owned(L, rc, out);
}

/* tempdir([prefix="schedtest-"]) -> new directory under $TMPDIR */
static int l_fs_tempdir(lua_State *L)
{
    char *out = NULL;
    int rc = st_fs_mkdtemp(&out, luaL_optstring(L, 1, "schedtest-"));
    return push_owned(L, rc, out);
}

/* sweep_scratch([prefix]) -> number of stale scratch directories removed
 * (every schedtest kind when prefix is nil) */
static int l_fs_sweep_scratch(lua_State *L)
{
    size_t removed;
    int rc = st_fs_sweep_scratch(luaL_optstring(L, 1, NULL), &removed);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushinteger(L, (lua_Integer)removed);
    return 1;
}

/* write_atomic(path, data [, mode=0644]) -> true */
static int l_fs_write_atomic(lua_State *L)
{
    size_t len;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    lua_Integer mode = luaL_optinteger(L, 3, 0644);
    return luax_result(L, st_fs_write_atomic(path, data, len,
                                             (mode_t)mode));
}

/* read_file(path) -> contents */
static int l_fs_read_file(lua_State *L)
{
    char *data;
    size_t len;
    int rc = st_fs_read_file(&data, &len, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushlstring(L, data, len);
    free(data);
    return 1;
}

/* lock(path [, {wait=false, note=""}]) -> lock | nil, msg, "EBUSY"
 * An exclusive flock held until lock:release() (also __close and __gc). */
static int l_fs_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int wait = 0;
    const char *note = NULL;
    if (!lua_isnoneornil(L, 2)) {
        static const char *const allowed[] = {"wait", "note", NULL};
        luaL_checktype(L, 2, LUA_TTABLE);
        luax_checkoptions(L, 2, allowed);
        wait = luax_optfieldboolean(L, 2, "wait", 0);
        note = luax_optfieldstring(L, 2, "note", NULL);
    }
    int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
    *fd = -1;
    luaL_setmetatable(L, LOCK);
    int rc = st_fs_lock(fd, path, wait, note);
    if (rc < 0)
        return luax_pushfail(L, rc);
    return 1;
}

/* lock:release() -> true; idempotent */
static int l_lock_release(lua_State *L)
{
    int *fd = luaL_checkudata(L, 1, LOCK);
    if (*fd >= 0)
        close(*fd); /* closing the descriptor drops the flock */
    *fd = -1;
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg lock_methods[] = {
    {"release", l_lock_release},
    {NULL, NULL}
};

static const luaL_Reg lock_meta[] = {
    {"__gc", l_lock_release},
    {"__close", l_lock_release},
    {NULL, NULL}
};

static const luaL_Reg fs_funcs[] = {
    {"list", l_fs_list},
    {"stat", l_fs_stat},
    {"mkdir_p", l_fs_mkdir_p},
    {"remove_tree", l_fs_remove_tree},
    {"realpath", l_fs_realpath},
    {"cwd", l_fs_cwd},
    {"tempdir", l_fs_tempdir},
    {"sweep_scratch", l_fs_sweep_scratch},
    {"write_atomic", l_fs_write_atomic},
    {"read_file", l_fs_read_file},
    {"lock", l_fs_lock},
    {NULL, NULL}
};

int luaopen_schedtest_fs(lua_State *L)
{
    luax_registertype(L, LOCK, lock_methods, lock_meta);
    luaL_newlib(L, fs_funcs);
    return 1;
}
