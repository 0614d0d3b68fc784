/*
 * l_git.c: `schedtest.git`, repositories, labels, baselines, snapshots and
 * plain checkouts (docs/lua-api.md#schedtestgit).
 *
 *   local git = require "schedtest.git"
 *   local repo <close> = assert(git.open("."))
 *   local base = assert(repo:resolve_baseline{})
 *   local co <close> = assert(repo:checkout(base.commit, dir))
 */
#include "lua/luax.h"

#include "schedtest/error.h"
#include "schedtest/git.h"

#include <stdlib.h>

#define REPO "schedtest.Repo"
#define CHECKOUT "schedtest.Checkout"

typedef struct {
    st_git_repo *repo;
} l_repo;

typedef struct {
    st_git_checkout *co;
} l_checkout;

static st_git_repo *checkrepo(lua_State *L)
{
    l_repo *u = luaL_checkudata(L, 1, REPO);
    if (!u->repo)
        luaL_error(L, "attempt to use a closed " REPO);
    return u->repo;
}

static st_git_checkout *checkco(lua_State *L)
{
    l_checkout *u = luaL_checkudata(L, 1, CHECKOUT);
    if (!u->co)
        luaL_error(L, "attempt to use a closed " CHECKOUT);
    return u->co;
}

/* ---- module functions -------------------------------------------------- */

/* open([path="."]) -> Repo | nil, msg, code */
static int l_git_open(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, ".");
    l_repo *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->repo = NULL;
    luaL_setmetatable(L, REPO);
    int rc = st_git_open(&u->repo, path);
    if (rc < 0)
        return luax_pushfail(L, rc);
    return 1;
}

/* project_commit([dir="."]) -> label | nil, msg, code */
static int l_git_project_commit(lua_State *L)
{
    char label[ST_GIT_LABELSZ];
    int rc = st_git_project_commit(label, luaL_optstring(L, 1, "."));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, label);
    return 1;
}

/* sweep(glob) -> number removed | nil, msg, code */
static int l_git_sweep(lua_State *L)
{
    size_t n;
    int rc = st_git_sweep(&n, luaL_checkstring(L, 1));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ---- Repo ---------------------------------------------------------------- */

static int l_repo_close(lua_State *L)
{
    l_repo *u = luaL_checkudata(L, 1, REPO);
    st_git_close(u->repo);
    u->repo = NULL;
    return 0;
}

/* repo:workdir() -> "/path/to/root/" or nil for a bare repository */
static int l_repo_workdir(lua_State *L)
{
    const char *wd = st_git_workdir(checkrepo(L));
    if (wd)
        lua_pushstring(L, wd);
    else
        lua_pushnil(L);
    return 1;
}

/* repo:head_label([{env=true}]) -> label, full_id | nil, msg, code */
static int l_repo_head_label(lua_State *L)
{
    static const char *const opts[] = {"env", NULL};
    st_git_repo *repo = checkrepo(L);
    int use_env = 1;
    if (!lua_isnoneornil(L, 2)) {
        luax_checkoptions(L, 2, opts);
        use_env = luax_optfieldboolean(L, 2, "env", 1);
    }
    char label[ST_GIT_LABELSZ], full[ST_GIT_HEXSZ];
    int rc = st_git_head_label(label, full, repo, use_env);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, label);
    if (full[0])
        lua_pushstring(L, full);
    else
        lua_pushnil(L);
    return 2;
}

/* repo:is_dirty() -> boolean (tracked files only) */
static int l_repo_is_dirty(lua_State *L)
{
    lua_pushboolean(L, st_git_is_dirty(checkrepo(L)));
    return 1;
}

/*
 * repo:resolve_baseline{base=, base_ref=, default_branch="main",
 *                       github_base_ref=os.getenv("GITHUB_BASE_REF")}
 *   -> {commit=, label=, head=, head_label=, how=, source=, worktree_only=}
 *    | nil, msg, code
 * github_base_ref=false ignores the environment.
 */
static int l_repo_resolve_baseline(lua_State *L)
{
    static const char *const keys[] = {"base", "base_ref", "default_branch",
                                       "github_base_ref", NULL};
    st_git_repo *repo = checkrepo(L);
    st_git_baseline_opts o = {0};
    o.github_base_ref = getenv("GITHUB_BASE_REF");
    if (!lua_isnoneornil(L, 2)) {
        luax_checkoptions(L, 2, keys);
        o.base = luax_optfieldstring(L, 2, "base", NULL);
        o.base_ref = luax_optfieldstring(L, 2, "base_ref", NULL);
        o.default_branch = luax_optfieldstring(L, 2, "default_branch", NULL);
        int t = lua_getfield(L, 2, "github_base_ref");
        if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))
            o.github_base_ref = NULL;
        else if (t != LUA_TNIL)
            o.github_base_ref =
                luax_optfieldstring(L, 2, "github_base_ref", NULL);
        lua_pop(L, 1);
    }
    st_git_baseline b;
    int rc = st_git_resolve_baseline(&b, repo, &o);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, b.commit);
    lua_setfield(L, -2, "commit");
    lua_pushstring(L, b.label);
    lua_setfield(L, -2, "label");
    lua_pushstring(L, b.head);
    lua_setfield(L, -2, "head");
    lua_pushstring(L, b.head_label);
    lua_setfield(L, -2, "head_label");
    lua_pushstring(L, b.how);
    lua_setfield(L, -2, "how");
    lua_pushboolean(L, b.worktree_only);
    lua_setfield(L, -2, "worktree_only");
    lua_pushstring(L, b.source);
    lua_setfield(L, -2, "source");
    return 1;
}

/* repo:tree(spec) -> tree id | nil, msg, code */
static int l_repo_tree(lua_State *L)
{
    st_git_repo *repo = checkrepo(L);
    char id[ST_GIT_HEXSZ];
    int rc = st_git_resolve_tree(id, repo, luaL_checkstring(L, 2));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, id);
    return 1;
}

/* repo:snapshot() -> tree id, number of changed paths | nil, msg, code */
static int l_repo_snapshot(lua_State *L)
{
    st_git_repo *repo = checkrepo(L);
    char id[ST_GIT_HEXSZ];
    size_t changes;
    int rc = st_git_snapshot(id, &changes, repo);
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushstring(L, id);
    lua_pushinteger(L, (lua_Integer)changes);
    return 2;
}

static int cancelled(void)
{
    return luax_interrupted();
}

/* repo:checkout(tree_or_commit, dir [, {wait=false}]) -> Checkout
 *                                                     | nil, msg, code */
static int l_repo_checkout(lua_State *L)
{
    static const char *const keys[] = {"wait", NULL};
    st_git_repo *repo = checkrepo(L);
    const char *spec = luaL_checkstring(L, 2);
    const char *dir = luaL_checkstring(L, 3);
    st_git_checkout_opts o = {.cancelled = cancelled};
    if (!lua_isnoneornil(L, 4)) {
        luax_checkoptions(L, 4, keys);
        o.wait = luax_optfieldboolean(L, 4, "wait", 0);
    }
    /* The userdata exists before the directory does, so that if anything
     * raises between here and the caller's <close> variable (Ctrl-C turns
     * into an error at the next hook), __gc still removes the checkout. */
    l_checkout *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->co = NULL;
    luaL_setmetatable(L, CHECKOUT);
    int rc = st_git_checkout_open(&u->co, repo, spec, dir, &o);
    if (rc < 0)
        return luax_pushfail(L, rc);
    return 1;
}

/* repo:show(spec, path) -> contents of path at spec | nil, msg, code */
static int l_repo_show(lua_State *L)
{
    st_git_repo *repo = checkrepo(L);
    char *data;
    size_t len;
    int rc = st_git_read_file(&data, &len, repo, luaL_checkstring(L, 2),
                              luaL_checkstring(L, 3));
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushlstring(L, data, len);
    free(data);
    return 1;
}

/* Push a NULL-terminated string array as a Lua list. */
static void push_list(lua_State *L, const char *const *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* repo:changed_paths(a [, b="HEAD"] [, {worktree=false}]) -> {path...} */
static int l_repo_changed_paths(lua_State *L)
{
    static const char *const keys[] = {"worktree", NULL};
    st_git_repo *repo = checkrepo(L);
    const char *a = luaL_checkstring(L, 2);
    const char *b = luaL_optstring(L, 3, NULL);
    int worktree = 0;
    if (!lua_isnoneornil(L, 4)) {
        luax_checkoptions(L, 4, keys);
        worktree = luax_optfieldboolean(L, 4, "worktree", 0);
    }
    char **v;
    size_t n;
    int rc = st_git_changed_paths(&v, &n, repo, a, b, worktree);
    if (rc < 0)
        return luax_pushfail(L, rc);
    push_list(L, (const char *const *)v, n);
    st_git_strv_free(v);
    return 1;
}

/* ---- Checkout ------------------------------------------------------------ */

/* co:close() -> true | nil, msg, code; idempotent (also __close, __gc) */
static int l_co_close(lua_State *L)
{
    l_checkout *u = luaL_checkudata(L, 1, CHECKOUT);
    st_git_checkout *co = u->co;
    u->co = NULL;
    if (!co) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return luax_result(L, st_git_checkout_close(co));
}

static int l_co_path(lua_State *L)
{
    lua_pushstring(L, st_git_checkout_path(checkco(L)));
    return 1;
}

static int l_co_tree(lua_State *L)
{
    lua_pushstring(L, st_git_checkout_tree(checkco(L)));
    return 1;
}

static int l_co_files(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)st_git_checkout_files(checkco(L)));
    return 1;
}

/* co:skipped() -> {submodule path...} */
static int l_co_skipped(lua_State *L)
{
    const char *const *v;
    size_t n = st_git_checkout_skipped(checkco(L), &v);
    push_list(L, v, n);
    return 1;
}

static const luaL_Reg repo_methods[] = {
    {"close", l_repo_close},
    {"workdir", l_repo_workdir},
    {"head_label", l_repo_head_label},
    {"is_dirty", l_repo_is_dirty},
    {"resolve_baseline", l_repo_resolve_baseline},
    {"tree", l_repo_tree},
    {"snapshot", l_repo_snapshot},
    {"checkout", l_repo_checkout},
    {"changed_paths", l_repo_changed_paths},
    {"show", l_repo_show},
    {NULL, NULL}
};

static const luaL_Reg repo_meta[] = {
    {"__gc", l_repo_close},
    {"__close", l_repo_close},
    {NULL, NULL}
};

static const luaL_Reg co_methods[] = {
    {"close", l_co_close},
    {"path", l_co_path},
    {"tree", l_co_tree},
    {"files", l_co_files},
    {"skipped", l_co_skipped},
    {NULL, NULL}
};

static const luaL_Reg co_meta[] = {
    {"__gc", l_co_close},
    {"__close", l_co_close},
    {NULL, NULL}
};

static const luaL_Reg git_funcs[] = {
    {"open", l_git_open},
    {"project_commit", l_git_project_commit},
    {"sweep", l_git_sweep},
    {NULL, NULL}
};

/* The module's reference on libgit2, held by a registry sentinel and
 * released when the state closes.  Finalizers run in reverse order of
 * marking (manual §2.5.3): the sentinel, marked when the module loads,
 * runs after every repository's and checkout's. */
static int l_git_release(lua_State *L)
{
    (void)L;
    st_git_global_shutdown();
    return 0;
}

int luaopen_schedtest_git(lua_State *L)
{
    if (st_git_global_init() < 0)
        return luaL_error(L, "%s", st_error_last());
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_git_release);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "schedtest.git.libgit2");
    luax_registertype(L, REPO, repo_methods, repo_meta);
    luax_registertype(L, CHECKOUT, co_methods, co_meta);
    luaL_newlib(L, git_funcs);
    lua_pushstring(L, st_git_libgit2_version());
    lua_setfield(L, -2, "libgit2_version");
    return 1;
}
