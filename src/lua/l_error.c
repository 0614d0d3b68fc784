/*
 * l_error.c: `schedtest.error`, the error-code table shared with C.
 *
 *   local E = require "schedtest.error"
 *   E.codes.ENOENT      --> -4
 *   E.name(-4)          --> "ENOENT"
 *   E.describe("ENOENT")--> "no such file or directory"
 */
#include "lua/luax.h"

#include "schedtest/error.h"

#include <string.h>

/* Accept a code as its stable name or its number. */
static int checkcode(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *name = lua_tostring(L, idx);
        int code = st_error_from_name(name);
        if (code == ST_ERROR && strcmp(name, "ERROR") != 0)
            luaL_argerror(L, idx, lua_pushfstring(L, "unknown error code "
                                                  "'%s'", name));
        return code;
    }
    return (int)luaL_checkinteger(L, idx);
}

/* name(code) -> "ENOENT" or nil for an unknown number. */
static int l_error_name(lua_State *L)
{
    const char *name = st_error_name(checkcode(L, 1));
    if (name)
        lua_pushstring(L, name);
    else
        lua_pushnil(L);
    return 1;
}

/* describe(code_or_name) -> one-line description, or nil. */
static int l_error_describe(lua_State *L)
{
    const char *desc = st_error_describe(checkcode(L, 1));
    if (desc)
        lua_pushstring(L, desc);
    else
        lua_pushnil(L);
    return 1;
}

static const luaL_Reg error_funcs[] = {
    {"name", l_error_name},
    {"describe", l_error_describe},
    {NULL, NULL}
};

int luaopen_schedtest_error(lua_State *L)
{
    luaL_newlib(L, error_funcs);
    lua_createtable(L, 0, st_error_count());
    for (int i = 0; i < st_error_count(); i++) {
        int code = st_error_at(i);
        lua_pushinteger(L, code);
        lua_setfield(L, -2, st_error_name(code));
    }
    lua_setfield(L, -2, "codes"); /* name -> number */
    return 1;
}
