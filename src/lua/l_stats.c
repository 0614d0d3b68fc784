/*
 * l_stats.c: `schedtest.stats`, the statistics of the core for Lua.
 *
 * Samples are Lua arrays of numbers.  A non-number element or a wrong
 * argument raises; data a statistic cannot answer (NaN, too few values,
 * constant samples where a test needs a variance) returns
 * `nil, message, "EDOMAIN"`.  Fields that are undefined for the input
 * (var of one value) are absent (nil), never NaN.
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Array at `idx` as a malloc'ed double array (stored in a userdata box so
 * a raise cannot leak it). [-0, +1, e] */
static double *check_sample(lua_State *L, int idx, size_t *n)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = luaL_len(L, idx);
    double *x = lua_newuserdatauv(L, (size_t)(len > 0 ? len : 1) * sizeof *x,
                                  0);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, idx, i) != LUA_TNUMBER)
            luaL_error(L, "bad argument #%d: element %d is a %s, expected a "
                          "number",
                       idx, (int)i, luaL_typename(L, -1));
        x[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    *n = (size_t)len;
    return x;
}

static void setnum(lua_State *L, const char *key, double v)
{
    if (isnan(v))
        return; /* undefined: leave the field nil */
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

static void setstr(lua_State *L, const char *key, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

/* describe(x) -> {n, mean, var, sd, min, max, median, mad, cv, spread_pct} */
static int l_stats_describe(lua_State *L)
{
    lua_settop(L, 1); /* sample boxes go above the arguments */
    size_t n;
    double *x = check_sample(L, 1, &n);
    st_stats_desc d;
    int rc = st_stats_describe(&d, x, n);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)d.n);
    lua_setfield(L, -2, "n");
    setnum(L, "mean", d.mean);
    setnum(L, "var", d.var);
    setnum(L, "sd", d.sd);
    setnum(L, "min", d.min);
    setnum(L, "max", d.max);
    setnum(L, "median", d.median);
    setnum(L, "mad", d.mad);
    setnum(L, "cv", d.cv);
    setnum(L, "spread_pct", d.spread_pct);
    return 1;
}

/* quantile(x, p) -> number; quantile(x, {p1, p2}) -> {q1, q2} (R type 7) */
static int l_stats_quantile(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t n;
    double *x = check_sample(L, 1, &n);
    double q;
    if (lua_istable(L, 2)) {
        size_t np;
        double *p = check_sample(L, 2, &np);
        lua_createtable(L, (int)np, 0);
        for (size_t i = 0; i < np; i++) {
            int rc = st_stats_quantile(&q, x, n, p[i]);
            if (rc < 0)
                return luax_pushfail(L, rc);
            lua_pushnumber(L, q);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 1;
    }
    int rc = st_stats_quantile(&q, x, n, luaL_checknumber(L, 2));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushnumber(L, q);
    return 1;
}

static int push_ttest(lua_State *L, int rc, const st_stats_ttest *t)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 7);
    setnum(L, "t", t->t);
    setnum(L, "dof", t->dof);
    setnum(L, "p", t->p);
    setnum(L, "p_less", t->p_less);
    setnum(L, "p_greater", t->p_greater);
    setnum(L, "diff", t->diff);
    setstr(L, "note", t->note);
    return 1;
}

/* welch(a, b) -> {t, dof, p, p_less, p_greater, diff, note?} */
static int l_stats_welch(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    st_stats_ttest t;
    return push_ttest(L, st_stats_welch(&t, a, na, b, nb), &t);
}

static void check_paired(lua_State *L, size_t na, size_t nb)
{
    if (na != nb)
        luaL_error(L, "paired samples differ in length (%d and %d)", (int)na,
                   (int)nb);
}

/* paired_t(a, b) -> {t, dof, p, p_less, p_greater, diff, note?} */
static int l_stats_paired_t(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    check_paired(L, na, nb);
    st_stats_ttest t;
    return push_ttest(L, st_stats_paired_t(&t, a, b, na), &t);
}

/* disjoint(a, b) -> boolean */
static int l_stats_disjoint(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    int d;
    int rc = st_stats_disjoint(&d, a, na, b, nb);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushboolean(L, d);
    return 1;
}

static int push_rank(lua_State *L, int rc, const st_stats_rank *r,
                     const char *s1, const char *s2)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 8);
    setnum(L, s1, r->stat);
    setnum(L, s2, r->stat2);
    setnum(L, "z", r->z);
    setnum(L, "p", r->p);
    setnum(L, "p_less", r->p_less);
    setnum(L, "p_greater", r->p_greater);
    setstr(L, "method", r->method == ST_STATS_EXACT ? "exact" : "normal");
    setstr(L, "note", r->note);
    return 1;
}

/* mann_whitney(a, b) -> {u, u_b, z, p, p_less, p_greater, method, note?} */
static int l_stats_mann_whitney(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    st_stats_rank r;
    return push_rank(L, st_stats_mann_whitney(&r, a, na, b, nb), &r, "u",
                     "u_b");
}

/* wilcoxon(a, b) -> {w_plus, w_minus, n, z, p, p_less, p_greater, method} */
static int l_stats_wilcoxon(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    check_paired(L, na, nb);
    st_stats_rank r;
    int rc = st_stats_wilcoxon(&r, a, b, na);
    int n = push_rank(L, rc, &r, "w_plus", "w_minus");
    if (rc >= 0) {
        lua_pushinteger(L, (lua_Integer)r.n_used);
        lua_setfield(L, -2, "n");
    }
    return n;
}

/* bootstrap(a, b [, {stat="mean"|"median", level=0.95, resamples=10000,
 * seed=1}]) -> {estimate, lo, hi, resamples, stat, level, seed} */
static int l_stats_bootstrap(lua_State *L)
{
    lua_settop(L, 3); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"stat", "level", "resamples",
                                          "seed", NULL};
    static const char *const stats[] = {"mean", "median", NULL};
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    const char *stat = "mean";
    double level = 0.95;
    lua_Integer resamples = 10000, seed = 1;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        luax_checkoptions(L, 3, allowed);
        stat = luax_optfieldstring(L, 3, "stat", stat);
        level = luax_optfieldnumber(L, 3, "level", level);
        resamples = luax_optfieldinteger(L, 3, "resamples", resamples);
        seed = luax_optfieldinteger(L, 3, "seed", seed);
    }
    int which = -1;
    for (int i = 0; stats[i]; i++)
        if (strcmp(stat, stats[i]) == 0)
            which = i;
    if (which < 0)
        return luaL_error(L, "bad option 'stat': '%s' (expected 'mean' or "
                             "'median')", stat);
    if (resamples < 0)
        return luaL_error(L, "bad option 'resamples': must be positive");
    st_stats_ci ci;
    int rc = st_stats_bootstrap_rel(
        &ci, a, na, b, nb, which == 0 ? ST_STATS_MEAN : ST_STATS_MEDIAN,
        level, (size_t)resamples, (uint64_t)seed);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 7);
    setnum(L, "estimate", ci.estimate);
    setnum(L, "lo", ci.lo);
    setnum(L, "hi", ci.hi);
    lua_pushinteger(L, (lua_Integer)ci.resamples);
    lua_setfield(L, -2, "resamples");
    setstr(L, "stat", stats[which]);
    setnum(L, "level", level);
    lua_pushinteger(L, seed);
    lua_setfield(L, -2, "seed");
    return 1;
}

/* adjust(p, "bh"|"holm") -> adjusted array, same order */
static int l_stats_adjust(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    static const char *const methods[] = {"bh", "holm", NULL};
    size_t n;
    double *p = check_sample(L, 1, &n);
    int m = luaL_checkoption(L, 2, "bh", methods);
    double *out = lua_newuserdatauv(L, (n ? n : 1) * sizeof *out, 0);
    int rc = st_stats_adjust(out, p, n, m == 0 ? ST_STATS_BH : ST_STATS_HOLM);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, out[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

typedef struct {
    double cv, alpha, power;
    int sides;
} power_opts;

static void check_power_opts(lua_State *L, power_opts *o)
{
    lua_getfield(L, 1, "cv");
    if (!lua_isnumber(L, -1))
        luaL_error(L, "bad option 'cv': a number is required");
    o->cv = lua_tonumber(L, -1);
    lua_pop(L, 1);
    o->alpha = luax_optfieldnumber(L, 1, "alpha", 0.05);
    o->power = luax_optfieldnumber(L, 1, "power", 0.8);
    o->sides = (int)luax_optfieldinteger(L, 1, "sides", 2);
}

/* mde{n=, cv=, alpha=0.05, power=0.8, sides=2} -> relative change */
static int l_stats_mde(lua_State *L)
{
    lua_settop(L, 1); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"n", "cv", "alpha", "power",
                                          "sides", "paired", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    luax_checkoptions(L, 1, allowed);
    power_opts o;
    check_power_opts(L, &o);
    lua_Integer n = luax_optfieldinteger(L, 1, "n", 0);
    int paired = luax_optfieldboolean(L, 1, "paired", 0);
    double out;
    int rc = (paired ? st_stats_mde_paired : st_stats_mde)(
        &out, n > 0 ? (size_t)n : 0, o.cv, o.alpha, o.power, o.sides);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushnumber(L, out);
    return 1;
}

/* n_for{change=, cv=, alpha=0.05, power=0.8, sides=2, max_n=1000} -> n */
static int l_stats_n_for(lua_State *L)
{
    lua_settop(L, 1); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"change", "cv", "alpha", "power",
                                          "sides", "max_n", "paired", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    luax_checkoptions(L, 1, allowed);
    power_opts o;
    check_power_opts(L, &o);
    double change = luax_optfieldnumber(L, 1, "change", NAN);
    lua_Integer max_n = luax_optfieldinteger(L, 1, "max_n", 1000);
    int paired = luax_optfieldboolean(L, 1, "paired", 0);
    size_t out;
    int rc = (paired ? st_stats_n_for_paired : st_stats_n_for)(
        &out, change, o.cv, o.alpha, o.power, o.sides,
        max_n > 0 ? (size_t)max_n : 2);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushinteger(L, (lua_Integer)out);
    return 1;
}

/* Level option of an interval (default 0.95) from the table at `idx`. */
static double opt_level(lua_State *L, int idx, const char *const allowed[])
{
    if (lua_isnoneornil(L, idx))
        return 0.95;
    luaL_checktype(L, idx, LUA_TTABLE);
    luax_checkoptions(L, idx, allowed);
    return luax_optfieldnumber(L, idx, "level", 0.95);
}

static void setbool(lua_State *L, const char *key, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, key);
}

/* ratio_ci(a, b [, {level=0.95, method="log"|"fieller"}]) ->
 * {estimate, lo, hi, se?, dof, bounded, clamped, method, level} */
static int l_stats_ratio_ci(lua_State *L)
{
    lua_settop(L, 3); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"level", "method", NULL};
    static const char *const methods[] = {"log", "fieller", NULL};
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    double level = opt_level(L, 3, allowed);
    const char *method = lua_istable(L, 3)
        ? luax_optfieldstring(L, 3, "method", "log") : "log";
    int m = -1;
    for (int i = 0; methods[i]; i++)
        if (strcmp(method, methods[i]) == 0)
            m = i;
    if (m < 0)
        return luaL_error(L, "bad option 'method': '%s' (expected 'log' or "
                             "'fieller')", method);
    st_stats_ratio r;
    int rc = st_stats_ratio_ci(&r, a, na, b, nb, level,
                               m == 0 ? ST_STATS_RATIO_LOG
                                      : ST_STATS_RATIO_FIELLER);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 9);
    setnum(L, "estimate", r.estimate);
    lua_pushnumber(L, r.lo);
    lua_setfield(L, -2, "lo");
    lua_pushnumber(L, r.hi);
    lua_setfield(L, -2, "hi");
    setnum(L, "se", r.se);
    setnum(L, "dof", r.dof);
    setbool(L, "bounded", r.bounded);
    setbool(L, "clamped", r.clamped);
    setstr(L, "method", methods[m]);
    setnum(L, "level", level);
    return 1;
}

static int push_hl(lua_State *L, int rc, const st_stats_hl *h, double level)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 7);
    setnum(L, "estimate", h->estimate);
    lua_pushnumber(L, h->lo);
    lua_setfield(L, -2, "lo");
    lua_pushnumber(L, h->hi);
    lua_setfield(L, -2, "hi");
    setnum(L, "coverage", h->coverage);
    setbool(L, "attainable", h->attainable);
    setstr(L, "method", h->method == ST_STATS_EXACT ? "exact" : "normal");
    setnum(L, "level", level);
    return 1;
}

/* hodges_lehmann(a, b [, {level=0.95}]) ->
 * {estimate, lo, hi, coverage, attainable, method, level} */
static int l_stats_hodges_lehmann(lua_State *L)
{
    lua_settop(L, 3); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"level", NULL};
    size_t na, nb;
    double *a = check_sample(L, 1, &na), *b = check_sample(L, 2, &nb);
    double level = opt_level(L, 3, allowed);
    st_stats_hl h;
    return push_hl(L, st_stats_hodges_lehmann(&h, a, na, b, nb, level), &h,
                   level);
}

/* hodges_lehmann_one(d [, {level=0.95}]) -> the same fields (Walsh
 * averages, signed-rank interval) */
static int l_stats_hodges_lehmann_one(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    static const char *const allowed[] = {"level", NULL};
    size_t n;
    double *d = check_sample(L, 1, &n);
    double level = opt_level(L, 2, allowed);
    st_stats_hl h;
    return push_hl(L, st_stats_hodges_lehmann1(&h, d, n, level), &h, level);
}

/* gs_spend(t, alpha [, "obf"|"pocock"|"power" [, rho]]) -> cumulative
 * alpha at each information fraction */
static int l_stats_gs_spend(lua_State *L)
{
    lua_settop(L, 4); /* sample boxes go above the arguments */
    static const char *const kinds[] = {"obf", "pocock", "power", NULL};
    size_t k;
    double *t = check_sample(L, 1, &k);
    double alpha = luaL_checknumber(L, 2);
    int kind = luaL_checkoption(L, 3, "pocock", kinds);
    double rho = luaL_optnumber(L, 4, 1);
    double *out = lua_newuserdatauv(L, (k ? k : 1) * sizeof *out, 0);
    int rc = st_stats_gs_spend(out, t, k, alpha,
                               kind == 0 ? ST_STATS_SPEND_OBF
                               : kind == 1 ? ST_STATS_SPEND_POCOCK
                                           : ST_STATS_SPEND_POWER, rho);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lua_pushnumber(L, out[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* gs_bounds(t, alpha_cum) -> {z = {...}, nominal = {...}} */
static int l_stats_gs_bounds(lua_State *L)
{
    lua_settop(L, 2); /* sample boxes go above the arguments */
    size_t k, k2;
    double *t = check_sample(L, 1, &k);
    double *cum = check_sample(L, 2, &k2);
    if (k != k2)
        return luaL_error(L, "%d information fractions but %d cumulative "
                             "alphas", (int)k, (int)k2);
    double *z = lua_newuserdatauv(L, 2 * (k ? k : 1) * sizeof *z, 0);
    double *nominal = z + (k ? k : 1);
    int rc = st_stats_gs_bounds(z, nominal, t, cum, k);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 2);
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lua_pushnumber(L, z[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "z");
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lua_pushnumber(L, nominal[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "nominal");
    return 1;
}

/* t_quantile(p, dof) -> number */
static int l_stats_t_quantile(lua_State *L)
{
    double q;
    int rc = st_stats_t_quantile(&q, luaL_checknumber(L, 1),
                                 luaL_checknumber(L, 2));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushnumber(L, q);
    return 1;
}

/* t_sf(t, dof) -> P(T >= t) */
static int l_stats_t_sf(lua_State *L)
{
    double p;
    int rc = st_stats_t_sf(&p, luaL_checknumber(L, 1), luaL_checknumber(L, 2));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushnumber(L, p);
    return 1;
}

static int l_stats_gsl_version(lua_State *L)
{
    lua_pushstring(L, st_stats_gsl_version());
    return 1;
}

static const luaL_Reg funcs[] = {
    {"describe", l_stats_describe},
    {"quantile", l_stats_quantile},
    {"welch", l_stats_welch},
    {"paired_t", l_stats_paired_t},
    {"disjoint", l_stats_disjoint},
    {"mann_whitney", l_stats_mann_whitney},
    {"wilcoxon", l_stats_wilcoxon},
    {"bootstrap", l_stats_bootstrap},
    {"adjust", l_stats_adjust},
    {"mde", l_stats_mde},
    {"n_for", l_stats_n_for},
    {"t_quantile", l_stats_t_quantile},
    {"t_sf", l_stats_t_sf},
    {"ratio_ci", l_stats_ratio_ci},
    {"hodges_lehmann", l_stats_hodges_lehmann},
    {"hodges_lehmann_one", l_stats_hodges_lehmann_one},
    {"gs_spend", l_stats_gs_spend},
    {"gs_bounds", l_stats_gs_bounds},
    {"gsl_version", l_stats_gsl_version},
    {NULL, NULL}
};

int luaopen_schedtest_stats(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
