/*
 * l_sidecar.c: `schedtest.sidecar`, reading and writing ktstr sidecars.
 *
 * Lua tables map onto JSON trees: integers stay integers, floats stay
 * floats (the writer still coerces per the schema), arrays decoded from
 * JSON carry the `sidecar.array_mt` metatable so an empty array written
 * back stays `[]`.  JSON null becomes nil.
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/json.h"
#include "schedtest/sidecar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MT "schedtest.json.array"
#define MAX_DEPTH 64

/* {====================================================================
 * JSON tree <-> Lua
 * ===================================================================== */

static void push_json(lua_State *L, const st_json *v, int depth)
{
    switch (v->type) {
    case ST_JSON_NULL: lua_pushnil(L); break;
    case ST_JSON_FALSE: lua_pushboolean(L, 0); break;
    case ST_JSON_TRUE: lua_pushboolean(L, 1); break;
    case ST_JSON_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
    case ST_JSON_FLOAT: lua_pushnumber(L, v->u.d); break;
    case ST_JSON_STRING: lua_pushlstring(L, v->u.s, v->n); break;
    case ST_JSON_ARRAY:
        luaL_checkstack(L, 4, "JSON too deep");
        lua_createtable(L, (int)v->n, 0);
        for (uint32_t i = 0; i < v->n; i++) {
            push_json(L, &v->u.items[i], depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        luaL_setmetatable(L, ARRAY_MT);
        break;
    case ST_JSON_OBJECT:
        luaL_checkstack(L, 4, "JSON too deep");
        lua_createtable(L, 0, (int)v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            const st_json *k = &v->u.items[2 * i];
            if (v->u.items[2 * i + 1].type == ST_JSON_NULL)
                continue;
            lua_pushlstring(L, k->u.s, k->n);
            push_json(L, &v->u.items[2 * i + 1], depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
}

void luax_pushjson(lua_State *L, const struct st_json *v)
{
    luaL_newmetatable(L, ARRAY_MT); /* make sure it exists */
    lua_pop(L, 1);
    push_json(L, v, 0);
}

/* Is the table at idx a sequence 1..n with n >= 1 (or marked array)? */
static int is_array(lua_State *L, int idx, lua_Integer *n)
{
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, ARRAY_MT);
        int marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (marked) {
            *n = (lua_Integer)lua_rawlen(L, idx);
            return 1;
        }
    }
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            lua_Integer k = lua_tointeger(L, -1);
            if (k > max)
                max = k;
            count++;
        } else {
            lua_pop(L, 1);
            return 0;
        }
    }
    *n = max;
    return count > 0 && count == max;
}

/* Convert the value at idx; errors are raised (misuse). */
static void to_json(lua_State *L, int idx, st_json_arena *a, st_json *out,
                    int depth)
{
    idx = lua_absindex(L, idx);
    memset(out, 0, sizeof *out);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        out->type = ST_JSON_NULL;
        return;
    case LUA_TBOOLEAN:
        out->type = lua_toboolean(L, idx) ? ST_JSON_TRUE : ST_JSON_FALSE;
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            out->type = ST_JSON_INT;
            out->u.i = (int64_t)lua_tointeger(L, idx);
        } else {
            out->type = ST_JSON_FLOAT;
            out->u.d = lua_tonumber(L, idx);
        }
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        out->type = ST_JSON_STRING;
        out->n = (uint32_t)n;
        if (!(out->u.s = st_json_arena_str(a, s, n)))
            luaL_error(L, "out of memory");
        return;
    }
    case LUA_TTABLE:
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* sidecar.null */
            out->type = ST_JSON_NULL;
            return;
        }
        /* fall through */
    default:
        luaL_error(L, "cannot write a %s value as JSON", luaL_typename(L, idx));
        return;
    }
    if (depth > MAX_DEPTH)
        luaL_error(L, "table nested deeper than %d levels (a cycle?)",
                   MAX_DEPTH);
    luaL_checkstack(L, 6, "table too deep");
    lua_Integer n;
    if (is_array(L, idx, &n)) {
        out->type = ST_JSON_ARRAY;
        out->n = (uint32_t)n;
        if (n && !(out->u.items = st_json_arena_nodes(a, (size_t)n)))
            luaL_error(L, "out of memory");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            to_json(L, -1, a, &out->u.items[i - 1], depth + 1);
            lua_pop(L, 1);
        }
        return;
    }
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "JSON object keys must be strings (got a %s key)",
                       luaL_typename(L, -1));
        count++;
    }
    out->type = ST_JSON_OBJECT;
    out->n = (uint32_t)count;
    if (count && !(out->u.items = st_json_arena_nodes(a, 2 * count)))
        luaL_error(L, "out of memory");
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        to_json(L, -1, a, &out->u.items[2 * i], depth + 1);
        lua_pop(L, 1);
        to_json(L, -1, a, &out->u.items[2 * i + 1], depth + 1);
        lua_pop(L, 1);
        i++;
    }
}

/* Arena owned by a to-be-closed userdata so errors never leak it. */
static int arena_gc(lua_State *L)
{
    st_json_arena **a = lua_touserdata(L, 1);
    st_json_arena_free(*a);
    *a = NULL;
    return 0;
}

static st_json *table_arg(lua_State *L, int idx)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    st_json_arena **a = lua_newuserdatauv(L, sizeof *a, 0);
    *a = NULL;
    if (luaL_newmetatable(L, "schedtest.json.arena")) {
        lua_pushcfunction(L, arena_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    if (st_json_arena_new(a) < 0)
        luaL_error(L, "out of memory");
    st_json *root = st_json_arena_nodes(*a, 1);
    if (!root)
        luaL_error(L, "out of memory");
    to_json(L, idx, *a, root, 0);
    return root; /* valid while the arena userdata is on the stack */
}
/* }==================================================================== */

static int cmp_pair(const void *a, const void *b)
{
    const st_json *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->u.s, y->u.s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static void sort_keys(st_json *v)
{
    if (v->type == ST_JSON_OBJECT) {
        qsort(v->u.items, v->n, 2 * sizeof(st_json), cmp_pair);
        for (uint32_t i = 0; i < v->n; i++)
            sort_keys(&v->u.items[2 * i + 1]);
    } else if (v->type == ST_JSON_ARRAY) {
        for (uint32_t i = 0; i < v->n; i++)
            sort_keys(&v->u.items[i]);
    }
}

/* to_json(value) -> pretty JSON text (keys sorted; sidecar.null is null;
 * an empty table is {}, a table marked with sidecar.array is []) */
static int l_to_json(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "v");
    st_json *root = table_arg(L, lua_gettop(L));
    /* unwrap {v = value} */
    st_json *v = &root->u.items[1];
    sort_keys(v);
    st_buf b;
    st_buf_init(&b);
    st_json_write_pretty(&b, v, 0);
    if (b.failed) {
        st_buf_free(&b);
        return luaL_error(L, "out of memory");
    }
    lua_pushlstring(L, b.data, b.len);
    st_buf_free(&b);
    return 1;
}

/* decode(text) -> table */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char *buf = malloc(len + ST_JSON_PADDING);
    if (!buf)
        return luaL_error(L, "out of memory");
    memcpy(buf, text, len);
    st_json_parser *p;
    int rc = st_json_parser_new(&p);
    st_json *root = NULL;
    if (rc == 0)
        rc = st_json_parse(&root, p, buf, len);
    if (rc == 0)
        luax_pushjson(L, root);
    st_json_parser_free(p);
    free(buf);
    return rc < 0 ? luax_pushfail(L, rc) : 1;
}

int luax_readjson(lua_State *L, const char *path)
{
    char *buf;
    size_t len;
    int rc = st_fs_read_file(&buf, &len, path);
    if (rc < 0)
        return luax_pushfail(L, rc);
    st_json_parser *p;
    st_json *root = NULL;
    rc = st_json_parser_new(&p);
    if (rc == 0 && (rc = st_json_parse(&root, p, buf, len)) < 0)
        st_error_set(rc, "%s: %s", path, st_error_last());
    if (rc == 0)
        luax_pushjson(L, root);
    st_json_parser_free(p);
    free(buf);
    return rc < 0 ? luax_pushfail(L, rc) : 1;
}

/* read(path) -> table */
static int l_read(lua_State *L)
{
    return luax_readjson(L, luaL_checkstring(L, 1));
}

/* encode(tbl) -> text in ktstr's pretty layout */
static int l_encode(lua_State *L)
{
    st_json *root = table_arg(L, 1);
    st_buf b;
    st_buf_init(&b);
    int rc = st_sidecar_serialize(&b, root);
    if (rc == 0)
        lua_pushlstring(L, b.data, b.len);
    st_buf_free(&b);
    return rc < 0 ? luax_pushfail(L, rc) : 1;
}

/* write(tbl [, opts]) -> path */
static int l_write(lua_State *L)
{
    static const char *const allowed[] = {"runs_root", "dir", "kernel",
                                          "project_commit", NULL};
    st_sidecar_write_opts o = {0};
    if (!lua_isnoneornil(L, 2)) {
        luax_checkoptions(L, 2, allowed);
        o.runs_root = luax_optfieldstring(L, 2, "runs_root", NULL);
        o.dir = luax_optfieldstring(L, 2, "dir", NULL);
        o.kernel = luax_optfieldstring(L, 2, "kernel", NULL);
        o.project_commit = luax_optfieldstring(L, 2, "project_commit", NULL);
    }
    st_json *root = table_arg(L, 1);
    char *path = NULL;
    int rc = st_sidecar_write(&path, root, &o);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, path);
    free(path);
    return 1;
}

static void push_hex(lua_State *L, uint64_t h)
{
    char t[17];
    snprintf(t, sizeof t, "%016llx", (unsigned long long)h);
    lua_pushstring(L, t);
}

/* variant_hash(tbl) -> "016x" */
static int l_variant_hash(lua_State *L)
{
    st_json *root = table_arg(L, 1);
    uint64_t h;
    int rc = st_sidecar_variant_hash_json(&h, root);
    if (rc < 0)
        return luax_pushfail(L, rc);
    push_hex(L, h);
    return 1;
}

/* file_name(tbl) -> "{test_name}-{hash}.ktstr.json" */
static int l_file_name(lua_State *L)
{
    st_json *root = table_arg(L, 1);
    uint64_t h;
    int rc = st_sidecar_variant_hash_json(&h, root);
    if (rc < 0)
        return luax_pushfail(L, rc);
    const st_json *tn = st_json_get(root, "test_name");
    char *name = NULL;
    rc = st_sidecar_file_name(&name, tn && tn->type == ST_JSON_STRING
                                         ? tn->u.s : NULL, h);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

/* run_dir_name(kernel, commit) */
static int l_run_dir_name(lua_State *L)
{
    char *name = NULL;
    int rc = st_sidecar_run_dir_name(&name, luaL_optstring(L, 1, NULL),
                                     luaL_optstring(L, 2, NULL));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

/* runs_root([cwd]) */
static int l_runs_root(lua_State *L)
{
    char *root = NULL;
    int rc = st_sidecar_runs_root(&root, luaL_optstring(L, 1, NULL));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, root);
    free(root);
    return 1;
}

/* dir_override() -> $SCHEDTEST_SIDECAR_DIR / $KTSTR_SIDECAR_DIR or nil */
static int l_dir_override(lua_State *L)
{
    const char *dir = st_sidecar_dir_override();
    if (dir)
        lua_pushstring(L, dir);
    else
        lua_pushnil(L);
    return 1;
}

static int l_is_sidecar_name(lua_State *L)
{
    lua_pushboolean(L, st_sidecar_is_sidecar_name(luaL_checkstring(L, 1)));
    return 1;
}

/* siphash13(data [, k0, k1]) -> "016x" */
static int l_siphash13(lua_State *L)
{
    size_t n;
    const char *d = luaL_checklstring(L, 1, &n);
    uint64_t k0 = (uint64_t)luaL_optinteger(L, 2, 0);
    uint64_t k1 = (uint64_t)luaL_optinteger(L, 3, 0);
    push_hex(L, st_sidecar_siphash13(k0, k1, d, n));
    return 1;
}

/* array(t) -> t marked as a JSON array (so an empty t writes []) */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, ARRAY_MT);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"decode", l_decode},
    {"read", l_read},
    {"encode", l_encode},
    {"write", l_write},
    {"variant_hash", l_variant_hash},
    {"file_name", l_file_name},
    {"run_dir_name", l_run_dir_name},
    {"runs_root", l_runs_root},
    {"dir_override", l_dir_override},
    {"is_sidecar_name", l_is_sidecar_name},
    {"siphash13", l_siphash13},
    {"array", l_array},
    {"to_json", l_to_json},
    {NULL, NULL}
};

int luaopen_schedtest_sidecar(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_MT);
    lua_pushliteral(L, "schedtest.json.array");
    lua_setfield(L, -2, "__name");
    luaL_newlib(L, funcs);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "array_mt");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
