/*
 * l_pool.c: `schedtest.pool`, the in-memory pool of sidecars.
 *
 * A schedtest.Pool userdata is either the pool itself (owning the C pool)
 * or a view: an array of row indices into it, referencing the owner through
 * its user value so the data is never copied.  Row tables are built on
 * demand, never stored.
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/pool.h"
#include "schedtest/sidecar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POOL_T "schedtest.Pool"

typedef struct lpool lpool;
struct lpool {
    lpool *base;     /* the owner (itself for the pool) */
    st_pool *pool;   /* owner only; NULL once closed */
    uint32_t n;
    int all;         /* 1: rows 0..n-1, idx unused */
    uint32_t idx[];  /* view rows */
};

static lpool *check(lua_State *L, int i)
{
    lpool *lp = luaL_checkudata(L, i, POOL_T);
    if (!lp->base->pool)
        luaL_error(L, "attempt to use a closed %s", POOL_T);
    return lp;
}

static inline uint32_t row_of(const lpool *lp, uint32_t i)
{
    return lp->all ? i : lp->idx[i];
}

/* New view of `count` rows over the owner of the pool at index `owner`. */
static lpool *new_view(lua_State *L, int owner, uint32_t count)
{
    owner = lua_absindex(L, owner);
    lpool *src = lua_touserdata(L, owner);
    lpool *v = lua_newuserdatauv(L, sizeof *v + count * sizeof(uint32_t), 1);
    v->base = src->base;
    v->pool = NULL;
    v->n = count;
    v->all = 0;
    /* keep the owner alive: the owner is src itself or src's user value */
    if (src->base == src)
        lua_pushvalue(L, owner);
    else
        lua_getiuservalue(L, owner, 1);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, POOL_T);
    return v;
}

/* open(root [, opts]) -> pool */
static int l_open(lua_State *L)
{
    static const char *const allowed[] = {"run_source", "max_file_size",
                                          "max_depth", "threads", NULL};
    const char *root = luaL_checkstring(L, 1);
    st_pool_opts o = {0};
    if (!lua_isnoneornil(L, 2)) {
        luax_checkoptions(L, 2, allowed);
        o.run_source = luax_optfieldstring(L, 2, "run_source", NULL);
        o.max_file_size = (uint64_t)luax_optfieldinteger(L, 2,
                                                         "max_file_size", 0);
        o.max_depth = (int)luax_optfieldinteger(L, 2, "max_depth", 0);
        o.threads = (int)luax_optfieldinteger(L, 2, "threads", 0);
        luaL_argcheck(L, o.threads >= 0, 2, "threads must be >= 0");
    }
    st_pool *p;
    int rc = st_pool_open(&p, root, &o);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lpool *lp = lua_newuserdatauv(L, sizeof *lp, 1);
    lp->base = lp;
    lp->pool = p;
    lp->n = (uint32_t)st_pool_count(p);
    lp->all = 1;
    luaL_setmetatable(L, POOL_T);
    return 1;
}

static int l_close(lua_State *L)
{
    lpool *lp = luaL_checkudata(L, 1, POOL_T);
    if (lp->base == lp && lp->pool) {
        st_pool_free(lp->pool);
        lp->pool = NULL;
    }
    return 0;
}

static int l_len(lua_State *L)
{
    lua_pushinteger(L, check(L, 1)->n);
    return 1;
}

static int l_tostring(lua_State *L)
{
    lpool *lp = luaL_checkudata(L, 1, POOL_T);
    if (!lp->base->pool)
        lua_pushfstring(L, "%s (closed)", POOL_T);
    else
        lua_pushfstring(L, "%s (%d rows%s)", POOL_T, (int)lp->n,
                        lp->base == lp ? "" : ", view");
    return 1;
}

static int l_dims(lua_State *L)
{
    check(L, 1);
    lua_createtable(L, ST_POOL_NDIMS, 0);
    for (int d = 0; d < ST_POOL_NDIMS; d++) {
        lua_pushstring(L, st_pool_dim_name(d));
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int checkdim(lua_State *L, int i, int allow_extra)
{
    const char *name = luaL_checkstring(L, i);
    int d = st_pool_dim_from_name(name);
    if (d < 0 || (!allow_extra && d >= ST_POOL_NDIMS))
        luaL_argerror(L, i, lua_pushfstring(L, "unknown dimension '%s' (see "
                                            "pool:dims())", name));
    return d;
}

/* Push the value of a string id for dimension d (cpu_budget: integer). */
static void push_dimval(lua_State *L, const st_pool *p, int d, uint32_t id)
{
    const char *s = st_pool_string(p, id);
    if (!s)
        lua_pushnil(L);
    else if (d == ST_DIM_CPU_BUDGET)
        lua_pushinteger(L, (lua_Integer)strtoll(s, NULL, 10));
    else
        lua_pushstring(L, s);
}

static int cmp_ids_str(const void *a, const void *b, void *ctx)
{
    const st_pool *p = ctx;
    return strcmp(st_pool_string(p, *(const uint32_t *)a),
                  st_pool_string(p, *(const uint32_t *)b));
}

static int cmp_ids_num(const void *a, const void *b, void *ctx)
{
    const st_pool *p = ctx;
    long long x = strtoll(st_pool_string(p, *(const uint32_t *)a), NULL, 10);
    long long y = strtoll(st_pool_string(p, *(const uint32_t *)b), NULL, 10);
    return (x > y) - (x < y);
}

/* values(dim) -> sorted distinct values, has_unrecorded */
static int l_values(lua_State *L)
{
    lpool *lp = check(L, 1);
    int d = checkdim(L, 2, 1);
    const st_pool *p = lp->base->pool;
    uint32_t ns = st_pool_string_count(p);
    uint8_t *seen = calloc(ns ? ns : 1, 1);
    uint32_t *ids = malloc((ns ? ns : 1) * sizeof *ids);
    if (!seen || !ids) {
        free(seen);
        free(ids);
        return luaL_error(L, "out of memory");
    }
    uint32_t k = 0;
    int unrecorded = 0;
    for (uint32_t i = 0; i < lp->n; i++) {
        uint32_t id = st_pool_dim_id(p, row_of(lp, i), d);
        if (!id)
            unrecorded = 1;
        else if (!seen[id]) {
            seen[id] = 1;
            ids[k++] = id;
        }
    }
    qsort_r(ids, k, sizeof *ids,
            d == ST_DIM_CPU_BUDGET ? cmp_ids_num : cmp_ids_str, (void *)p);
    lua_createtable(L, (int)k, 0);
    for (uint32_t i = 0; i < k; i++) {
        push_dimval(L, p, d, ids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    free(seen);
    free(ids);
    lua_pushboolean(L, unrecorded);
    return 2;
}

static const struct {
    const char *name;
    unsigned flag;
} statuses[] = {
    {"passed", ST_POOL_PASSED},
    {"skipped", ST_POOL_SKIPPED},
    {"inconclusive", ST_POOL_INCONCLUSIVE},
    {"expected_failure", ST_POOL_EXPECTED_FAILURE},
};

/* Does `v` (at idx) equal the value of string id for dim d? */
static int value_matches(lua_State *L, int idx, const st_pool *p, int d,
                         uint32_t id)
{
    const char *s = st_pool_string(p, id);
    if (lua_isnil(L, idx))
        return s == NULL;
    if (!s)
        return 0;
    if (d == ST_DIM_CPU_BUDGET) {
        int isnum;
        lua_Integer want = lua_tointegerx(L, idx, &isnum);
        return isnum && want == strtoll(s, NULL, 10);
    }
    size_t n;
    const char *w = lua_tolstring(L, idx, &n);
    return w && n == strlen(s) && memcmp(w, s, n) == 0;
}

/*
 * filter{dim = value | {values...} | function(value) -> bool, passed = b,
 * ...} -> view of the rows matching every key.  Predicates run once per
 * distinct value, not once per row.
 */
static int l_filter(lua_State *L)
{
    lpool *lp = check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const st_pool *p = lp->base->pool;
    uint32_t ns = st_pool_string_count(p);
    /* per dimension: accept[id] for ids 0..ns-1; NULL = unconstrained */
    uint8_t *accept[ST_DIM_COUNT] = {0};
    unsigned status_mask = 0, status_want = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "filter keys must be dimension names");
        const char *key = lua_tostring(L, -2);
        int st = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(key, statuses[i].name) == 0)
                st = i;
        if (st >= 0) {
            luaL_argcheck(L, lua_isboolean(L, -1), 2,
                          "status filters take a boolean");
            status_mask |= statuses[st].flag;
            if (lua_toboolean(L, -1))
                status_want |= statuses[st].flag;
            lua_pop(L, 1);
            continue;
        }
        int d = st_pool_dim_from_name(key);
        if (d < 0)
            luaL_error(L, "filter: unknown dimension '%s' (see pool:dims())",
                       key);
        uint8_t *acc = lua_newuserdatauv(L, ns ? ns : 1, 0);
        /* keep the buffer anchored in the registry-free way: leave it on
         * the stack below the key; rotate so lua_next still works */
        lua_insert(L, -3);
        accept[d] = acc;
        int vt = lua_type(L, -1);
        for (uint32_t id = 0; id < ns; id++) {
            int ok = 0;
            if (vt == LUA_TFUNCTION) {
                lua_pushvalue(L, -1);
                push_dimval(L, p, d, id);
                lua_call(L, 1, 1);
                ok = lua_toboolean(L, -1);
                lua_pop(L, 1);
            } else if (vt == LUA_TTABLE) {
                lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
                for (lua_Integer j = 1; j <= len && !ok; j++) {
                    lua_rawgeti(L, -1, j);
                    ok = value_matches(L, -1, p, d, id);
                    lua_pop(L, 1);
                }
            } else if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
                ok = value_matches(L, -1, p, d, id);
            } else {
                luaL_error(L, "filter: '%s' takes a value, a list of values "
                           "or a function", key);
            }
            acc[id] = (uint8_t)ok;
        }
        lua_pop(L, 1); /* value; the key stays for lua_next */
    }
    uint32_t count = 0;
    uint32_t *tmp = malloc((lp->n ? lp->n : 1) * sizeof *tmp);
    if (!tmp)
        return luaL_error(L, "out of memory");
    for (uint32_t i = 0; i < lp->n; i++) {
        uint32_t r = row_of(lp, i);
        if ((st_pool_status(p, r) & status_mask) != status_want)
            continue;
        int ok = 1;
        for (int d = 0; d < ST_DIM_COUNT && ok; d++)
            if (accept[d] && !accept[d][st_pool_dim_id(p, r, d)])
                ok = 0;
        if (ok)
            tmp[count++] = r;
    }
    lpool *v = new_view(L, 1, count);
    memcpy(v->idx, tmp, count * sizeof *tmp);
    free(tmp);
    return 1;
}

/* metric(name) -> {values aligned with rows, NaN when absent}, present */
static int l_metric(lua_State *L)
{
    lpool *lp = check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const st_pool *p = lp->base->pool;
    long m = st_pool_metric_index(p, name);
    lua_createtable(L, (int)lp->n, 0);
    lua_Integer present = 0;
    const double *col = m >= 0 ? st_pool_column(p, (size_t)m) : NULL;
    for (uint32_t i = 0; i < lp->n; i++) {
        double v = col ? col[row_of(lp, i)] : NAN;
        if (!isnan(v))
            present++;
        lua_pushnumber(L, v);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, present);
    return 2;
}

/* metrics() -> sorted names of metrics with a value in some row */
static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int l_metrics(lua_State *L)
{
    lpool *lp = check(L, 1);
    const st_pool *p = lp->base->pool;
    size_t nm = st_pool_metric_count(p), k = 0;
    const char **names = malloc((nm ? nm : 1) * sizeof *names);
    if (!names)
        return luaL_error(L, "out of memory");
    for (size_t m = 0; m < nm; m++) {
        const double *col = st_pool_column(p, m);
        for (uint32_t i = 0; col && i < lp->n; i++)
            if (!isnan(col[row_of(lp, i)])) {
                names[k++] = st_pool_metric_name(p, m);
                break;
            }
    }
    qsort(names, k, sizeof *names, cmp_cstr);
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(names);
    return 1;
}

/* Push the row table of pool row r (interfaces.md §2). */
static void push_row(lua_State *L, const st_pool *p, uint32_t r,
                     lua_Integer index)
{
    lua_createtable(L, 0, 28);
    for (int d = 0; d < ST_DIM_COUNT; d++) {
        uint32_t id = st_pool_dim_id(p, r, d);
        if (!id)
            continue;
        push_dimval(L, p, d, id);
        lua_setfield(L, -2, st_pool_dim_name(d));
    }
    unsigned s = st_pool_status(p, r);
    for (int i = 0; i < 4; i++) {
        lua_pushboolean(L, (s & statuses[i].flag) != 0);
        lua_setfield(L, -2, statuses[i].name);
    }
    lua_createtable(L, 0, 64);
    size_t nm = st_pool_metric_count(p);
    for (size_t m = 0; m < nm; m++) {
        double v = st_pool_value(p, r, m);
        if (isnan(v))
            continue;
        lua_pushnumber(L, v);
        lua_setfield(L, -2, st_pool_metric_name(p, m));
    }
    lua_setfield(L, -2, "metrics");
    const st_pool_assertion *as;
    size_t na = st_pool_assertions(p, r, &as);
    lua_createtable(L, (int)na, 0);
    for (size_t i = 0; i < na; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, st_pool_string(p, as[i].metric));
        lua_setfield(L, -2, "metric");
        if (as[i].direction) {
            lua_pushstring(L, st_pool_string(p, as[i].direction));
            lua_setfield(L, -2, "direction");
        }
        if (!isnan(as[i].max_regression_pct)) {
            lua_pushnumber(L, as[i].max_regression_pct);
            lua_setfield(L, -2, "max_regression_pct");
        }
        if (!isnan(as[i].min_abs)) {
            lua_pushnumber(L, as[i].min_abs);
            lua_setfield(L, -2, "min_abs");
        }
        if (as[i].phase >= 0) {
            lua_pushinteger(L, as[i].phase);
            lua_setfield(L, -2, "phase");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "perf_delta_assertions");
    const st_pool_phase *ph;
    size_t np = st_pool_phases(p, r, &ph);
    lua_createtable(L, (int)np, 0);
    for (size_t i = 0; i < np; i++) {
        lua_createtable(L, 0, 3);
        if (ph[i].step_index >= 0) {
            lua_pushinteger(L, ph[i].step_index);
            lua_setfield(L, -2, "step_index");
        }
        if (ph[i].label) {
            lua_pushstring(L, st_pool_string(p, ph[i].label));
            lua_setfield(L, -2, "label");
        }
        lua_createtable(L, 0, (int)ph[i].count);
        for (uint32_t j = 0; j < ph[i].count; j++) {
            uint32_t name;
            double v;
            st_pool_phase_metric(p, ph[i].first + j, &name, &v);
            lua_pushnumber(L, v);
            lua_setfield(L, -2, st_pool_string(p, name));
        }
        lua_setfield(L, -2, "metrics");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "phases");
    lua_pushstring(L, st_pool_path(p, r));
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, index);
    lua_setfield(L, -2, "index");
}

static lua_Integer check_index(lua_State *L, const lpool *lp, int i)
{
    lua_Integer k = luaL_checkinteger(L, i);
    luaL_argcheck(L, k >= 1 && k <= (lua_Integer)lp->n, i,
                  "row index out of range");
    return k;
}

/* get(i) -> row table of the i-th row (1-based, in this view) */
static int l_get(lua_State *L)
{
    lpool *lp = check(L, 1);
    lua_Integer k = check_index(L, lp, 2);
    push_row(L, lp->base->pool, row_of(lp, (uint32_t)(k - 1)), k);
    return 1;
}

static int rows_iter(lua_State *L)
{
    lpool *lp = check(L, lua_upvalueindex(1));
    lua_Integer k = lua_tointeger(L, lua_upvalueindex(2)) + 1;
    if (k > (lua_Integer)lp->n)
        return 0;
    lua_pushinteger(L, k);
    lua_replace(L, lua_upvalueindex(2));
    push_row(L, lp->base->pool, row_of(lp, (uint32_t)(k - 1)), k);
    lua_pushinteger(L, k);
    return 2;
}

/* rows() -> iterator of row tables (and their index) */
static int l_rows(lua_State *L)
{
    check(L, 1);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, rows_iter, 2);
    return 1;
}

/* row(i) -> the full decoded sidecar of the i-th row (re-read) */
static int l_row(lua_State *L)
{
    lpool *lp = check(L, 1);
    lua_Integer k = check_index(L, lp, 2);
    return luax_readjson(L, st_pool_path(lp->base->pool,
                                         row_of(lp, (uint32_t)(k - 1))));
}

/*
 * group_by(dim, ...) -> array of { key = {dim = value, ...}, view = view }
 * in order of first appearance.
 */
static int l_group_by(lua_State *L)
{
    lpool *lp = check(L, 1);
    int nd = lua_gettop(L) - 1;
    luaL_argcheck(L, nd >= 1 && nd <= ST_DIM_COUNT, 2,
                  "one or more dimension names expected");
    int dims[ST_DIM_COUNT];
    for (int i = 0; i < nd; i++)
        dims[i] = checkdim(L, i + 2, 1);
    const st_pool *p = lp->base->pool;
    /* group id per row via a Lua table keyed by the joined id string */
    uint32_t *gid = malloc((lp->n ? lp->n : 1) * sizeof *gid);
    uint32_t *first = malloc((lp->n ? lp->n : 1) * sizeof *first);
    uint32_t *size = calloc(lp->n ? lp->n : 1, sizeof *size);
    if (!gid || !first || !size) {
        free(gid);
        free(first);
        free(size);
        return luaL_error(L, "out of memory");
    }
    lua_newtable(L);
    int index = lua_gettop(L);
    uint32_t ng = 0;
    for (uint32_t i = 0; i < lp->n; i++) {
        uint32_t r = row_of(lp, i);
        uint32_t key[ST_DIM_COUNT];
        for (int j = 0; j < nd; j++)
            key[j] = st_pool_dim_id(p, r, dims[j]);
        lua_pushlstring(L, (const char *)key, (size_t)nd * sizeof *key);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, index) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushinteger(L, ng);
            lua_rawset(L, index);
            first[ng] = r;
            gid[i] = ng++;
        } else {
            gid[i] = (uint32_t)lua_tointeger(L, -1);
            lua_pop(L, 2);
        }
        size[gid[i]]++;
    }
    lua_createtable(L, (int)ng, 0);
    int result = lua_gettop(L);
    for (uint32_t g = 0; g < ng; g++) {
        lua_createtable(L, 0, 2);
        lua_createtable(L, 0, nd);
        for (int j = 0; j < nd; j++) {
            push_dimval(L, p, dims[j], st_pool_dim_id(p, first[g], dims[j]));
            lua_setfield(L, -2, st_pool_dim_name(dims[j]));
        }
        lua_setfield(L, -2, "key");
        lpool *v = new_view(L, 1, size[g]);
        uint32_t k = 0;
        for (uint32_t i = 0; i < lp->n; i++)
            if (gid[i] == g)
                v->idx[k++] = row_of(lp, i);
        lua_setfield(L, -2, "view");
        lua_rawseti(L, result, (lua_Integer)g + 1);
    }
    free(gid);
    free(first);
    free(size);
    return 1;
}

/* errors() -> { {path=, offset=, reason=, code=}, ... } */
static int l_errors(lua_State *L)
{
    lpool *lp = check(L, 1);
    const st_pool *p = lp->base->pool;
    size_t n = st_pool_error_count(p);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const st_pool_error *e = st_pool_error_at(p, i);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, e->path);
        lua_setfield(L, -2, "path");
        if (e->offset >= 0) {
            lua_pushinteger(L, e->offset);
            lua_setfield(L, -2, "offset");
        }
        lua_pushstring(L, e->reason);
        lua_setfield(L, -2, "reason");
        const char *code = st_error_name(e->code);
        lua_pushstring(L, code ? code : "ERROR");
        lua_setfield(L, -2, "code");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* walk() -> {walked=, valid=, errors=, io_errors=} of the whole pool */
static int l_walk(lua_State *L)
{
    lpool *lp = check(L, 1);
    const st_pool *p = lp->base->pool;
    size_t n = st_pool_error_count(p), io = 0;
    for (size_t i = 0; i < n; i++) {
        int c = st_pool_error_at(p, i)->code;
        if (c != ST_EPARSE && c != ST_ERANGE && c != ST_EINVAL)
            io++;
    }
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)st_pool_walked(p));
    lua_setfield(L, -2, "walked");
    lua_pushinteger(L, (lua_Integer)st_pool_count(p));
    lua_setfield(L, -2, "valid");
    lua_pushinteger(L, (lua_Integer)(n - io));
    lua_setfield(L, -2, "errors");
    lua_pushinteger(L, (lua_Integer)io);
    lua_setfield(L, -2, "io_errors");
    return 1;
}

/* accessors() -> { [metric] = "dotted.path" } built into the C pool */
static int l_accessors(lua_State *L)
{
    lua_newtable(L);
    for (const st_sidecar_field *f = st_sidecar_fields; f->name; f++) {
        lua_pushstring(L, f->path);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}

/* rates() -> { [metric] = {num=, den=} } derived by the C pool */
static int l_rates(lua_State *L)
{
    lua_newtable(L);
    for (const st_sidecar_rate *r = st_sidecar_rates; r->name; r++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, r->num);
        lua_setfield(L, -2, "num");
        lua_pushstring(L, r->den);
        lua_setfield(L, -2, "den");
        lua_setfield(L, -2, r->name);
    }
    return 1;
}

static const luaL_Reg methods[] = {
    {"dims", l_dims},
    {"values", l_values},
    {"filter", l_filter},
    {"metric", l_metric},
    {"metrics", l_metrics},
    {"group_by", l_group_by},
    {"rows", l_rows},
    {"get", l_get},
    {"row", l_row},
    {"errors", l_errors},
    {"walk", l_walk},
    {"close", l_close},
    {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
    {"__gc", l_close},
    {"__close", l_close},
    {"__len", l_len},
    {"__tostring", l_tostring},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"open", l_open},
    {"accessors", l_accessors},
    {"rates", l_rates},
    {NULL, NULL}
};

int luaopen_schedtest_pool(lua_State *L)
{
    luax_registertype(L, POOL_T, methods, metamethods);
    luaL_newlib(L, funcs);
    return 1;
}
