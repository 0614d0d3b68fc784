/*
 * l_regex.c: `schedtest.regex`, POSIX extended regular expressions.
 *
 *   local regex = require "schedtest.regex"
 *   local re = assert(regex.compile("^perf_.*steady$"))
 *   re:match("perf_pingpong_steady")   --> true
 */
#include "lua/luax.h"

#include "schedtest/regex.h"

#define REGEX_TYPE "schedtest.Regex"

typedef struct {
    st_regex *re; /* NULL once closed */
} l_regex;

static l_regex *checkregex(lua_State *L)
{
    l_regex *r = luaL_checkudata(L, 1, REGEX_TYPE);
    if (!r->re)
        luaL_error(L, "attempt to use a closed " REGEX_TYPE);
    return r;
}

/* compile(pattern) -> Regex | nil, msg, "EINVAL" */
static int l_regex_compile(lua_State *L)
{
    const char *pattern = luaL_checkstring(L, 1);
    l_regex *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->re = NULL; /* closed until compiled */
    luaL_setmetatable(L, REGEX_TYPE);
    int rc = st_regex_compile(&r->re, pattern);
    if (rc < 0)
        return luax_pushfail(L, rc);
    return 1;
}

/* re:match(text) -> boolean */
static int l_regex_match(lua_State *L)
{
    l_regex *r = checkregex(L);
    lua_pushboolean(L, st_regex_match(r->re, luaL_checkstring(L, 2)));
    return 1;
}

static int l_regex_gc(lua_State *L)
{
    l_regex *r = luaL_checkudata(L, 1, REGEX_TYPE);
    st_regex_free(r->re);
    r->re = NULL;
    return 0;
}

/* Regex methods */
static const luaL_Reg regex_methods[] = {
    {"match", l_regex_match},
    {NULL, NULL}
};

/* Regex metamethods */
static const luaL_Reg regex_metamethods[] = {
    {"__gc", l_regex_gc},
    {"__close", l_regex_gc},
    {NULL, NULL}
};

/* module functions */
static const luaL_Reg regex_funcs[] = {
    {"compile", l_regex_compile},
    {NULL, NULL}
};

int luaopen_schedtest_regex(lua_State *L)
{
    luax_registertype(L, REGEX_TYPE, regex_methods, regex_metamethods);
    luaL_newlib(L, regex_funcs);
    return 1;
}
