/*
 * main.c: the schedtest host.  It sets up one Lua state (standard libraries,
 * preloaded C modules, search paths) and hands argv to the Lua dispatcher
 * `schedtest.cli`, which runs commands, user files, -e code and the REPL.
 * Everything it runs goes through luax_pcall, the one protected path.
 */
#include "lua/luax.h"

#include "schedtest/schedtest.h"

#include <lualib.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGNAME "schedtest"

/* Exit statuses of the host itself (a command chooses its own); a stop
 * signal n gives the shell convention 128 + n (130 SIGINT, 143 SIGTERM,
 * 129 SIGHUP). */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_SIGNAL_BASE = 128 };

static void print_error(const char *msg)
{
    fprintf(stderr, "%s: %s\n", PROGNAME, msg);
    fflush(stderr);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Find the directory holding lua/schedtest and scripts/: the install layout
 * (PREFIX/bin/schedtest -> PREFIX/share/schedtest) first, then the source
 * tree seen from a binary under build/ (build/schedtest, build/san/...).
 */
static int find_root(const char *exe_dir, char *out)
{
    static const char *const candidates[] = {
        "/../share/schedtest", "/..", "/../..", "/../../..", NULL
    };
    char base[PATH_MAX], probe[PATH_MAX];
    for (int i = 0; candidates[i]; i++) {
        int n = snprintf(base, sizeof base, "%s%s", exe_dir, candidates[i]);
        if (n < 0 || (size_t)n >= sizeof base)
            continue;
        n = snprintf(probe, sizeof probe, "%s/lua/schedtest/cli.lua", base);
        if (n < 0 || (size_t)n >= sizeof probe || !is_file(probe))
            continue;
        return realpath(base, out) ? 0 : -1;
    }
    return -1;
}

/*
 * package.path = each SCHEDTEST_LUA_PATH directory, then root/lua, then
 * whatever Lua's defaults (and LUA_PATH_5_4 / LUA_PATH) gave.  Also record
 * the script directories (D/scripts for each user directory, then
 * root/scripts) in the host table at the top of the stack.
 */
static void setup_paths(lua_State *L, const char *root)
{
    const char *user = getenv("SCHEDTEST_LUA_PATH");
    int nscripts = 0, nparts = 0;

    lua_newtable(L); /* script_dirs */
    int dirs = lua_gettop(L);
    while (user && *user) {
        const char *end = strchr(user, ':');
        int len = end ? (int)(end - user) : (int)strlen(user);
        if (len > 0) {
            lua_pushfstring(L, "%s/scripts", lua_pushlstring(L, user, len));
            lua_remove(L, -2);
            lua_rawseti(L, dirs, ++nscripts);
            lua_pushlstring(L, user, len);
            lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", lua_tostring(L, -1),
                            lua_tostring(L, -1));
            lua_remove(L, -2);
            nparts++;
        }
        user = end ? end + 1 : NULL;
    }
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;", root, root);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_remove(L, -2);
    lua_concat(L, nparts + 2);
    lua_getglobal(L, "package");
    lua_insert(L, -2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1); /* package */

    lua_pushfstring(L, "%s/scripts", root);
    lua_rawseti(L, dirs, ++nscripts);
    lua_setfield(L, -2, "script_dirs");
}

/* Record exe, root and search paths under LUAX_REG_HOST. */
static int setup_host(lua_State *L)
{
    char exe[PATH_MAX], root[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        print_error("cannot resolve /proc/self/exe");
        return -1;
    }
    exe[n] = '\0';
    char exe_dir[PATH_MAX];
    memcpy(exe_dir, exe, (size_t)n + 1);
    char *slash = strrchr(exe_dir, '/');
    if (slash)
        *slash = '\0';
    if (find_root(exe_dir, root) < 0) {
        fprintf(stderr, "%s: cannot find the schedtest Lua library "
                "(lua/schedtest/cli.lua) near %s; reinstall with "
                "`make install` or run build/schedtest from the source "
                "tree\n", PROGNAME, exe_dir);
        return -1;
    }
    lua_newtable(L);
    lua_pushstring(L, exe);
    lua_setfield(L, -2, "exe");
    lua_pushstring(L, root);
    lua_setfield(L, -2, "root");
    setup_paths(L, root);
    lua_setfield(L, LUA_REGISTRYINDEX, LUAX_REG_HOST);
    return 0;
}

/*
 * pmain(argc, argv): runs under lua_pcall so that even set-up errors
 * (out of memory) are caught.  Pushes the exit status.
 */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);

    luaL_checkversion(L);
    luaL_openlibs(L);
    if (setup_host(L) < 0) {
        lua_pushinteger(L, EXIT_USAGE);
        return 1;
    }
    luax_preload(L);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "schedtest.cli");
    int status = luax_pcall(L, 1, 1);
    if (status == LUA_OK) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc, 1);
        lua_pushstring(L, argv[0]);
        lua_rawseti(L, -2, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        status = luax_pcall(L, 1, 1);
    }
    if (status != LUA_OK) {
        print_error(lua_tostring(L, -1));
        lua_pushinteger(L, luax_interrupted()
                               ? EXIT_SIGNAL_BASE + luax_interrupt_signal()
                               : EXIT_ERROR);
        return 1;
    }
    /* cli.main returns the exit status: integer, or true/nil for 0. */
    int code;
    if (lua_isinteger(L, -1))
        code = (int)lua_tointeger(L, -1);
    else if (lua_isnil(L, -1) || lua_toboolean(L, -1))
        code = EXIT_OK;
    else
        code = EXIT_ERROR;
    lua_pushinteger(L, code);
    return 1;
}

/* Last resort: an error outside any protected call. */
static int on_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: fatal: unprotected Lua error: %s\n", PROGNAME,
            msg ? msg : "(not a string)");
    return 0; /* lua then aborts */
}

int main(int argc, char **argv)
{
    if (st_init() < 0) {
        print_error(st_error_last());
        return EXIT_ERROR;
    }
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        print_error("cannot create Lua state: not enough memory");
        return EXIT_ERROR;
    }
    lua_atpanic(L, on_panic);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int code;
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        print_error(lua_tostring(L, -1));
        code = EXIT_ERROR;
    } else {
        code = (int)lua_tointeger(L, -1);
    }
    fflush(stdout);
    lua_close(L); /* runs pending __gc / closes */
    st_shutdown();
    return code;
}
