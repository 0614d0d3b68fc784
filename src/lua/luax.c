/*
 * luax.c: binding helpers and the protected call path.
 */
#include "lua/luax.h"

#include "schedtest/error.h"

#include <signal.h>
#include <string.h>

/* __tostring of every registered type: "schedtest.Pool (0x...)". */
static int type_tostring(lua_State *L)
{
    const char *name = "userdata";
    if (luaL_getmetafield(L, 1, "__name") == LUA_TSTRING)
        name = lua_tostring(L, -1);
    lua_pushfstring(L, "%s (%p)", name, lua_topointer(L, 1));
    return 1;
}

void luax_registertype(lua_State *L, const char *name,
                       const luaL_Reg *methods, const luaL_Reg *metamethods)
{
    luaL_newmetatable(L, name); /* sets __name */
    lua_pushcfunction(L, type_tostring);
    lua_setfield(L, -2, "__tostring");
    if (metamethods)
        luaL_setfuncs(L, metamethods, 0); /* may override __tostring */
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index"); /* metatable.__index = methods */
    }
    lua_pop(L, 1);
}

int luax_pushfail(lua_State *L, int code)
{
    const char *msg = st_error_last();
    const char *name = st_error_name(code);
    if (st_error_last_code() != code || msg[0] == '\0')
        msg = st_error_describe(code) ? st_error_describe(code) : "error";
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, name ? name : "ERROR");
    return 3;
}

int luax_result(lua_State *L, int rc)
{
    if (rc < 0)
        return luax_pushfail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

void luax_checkoptions(lua_State *L, int idx, const char *const allowed[])
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1); /* value */
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -1);
            for (int i = 0; allowed[i]; i++)
                if (strcmp(allowed[i], key) == 0)
                    known = 1;
        }
        if (!known) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; allowed[i]; i++) {
                if (i)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[i]);
            }
            luaL_pushresult(&b);
            const char *list = lua_tostring(L, -1);
            const char *key = luaL_tolstring(L, -2, NULL);
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "unknown option '%s' "
                                          "(expected one of: %s)", key, list));
        }
    }
}

/* Push field `key` of the table at idx and return its type. */
static int getfield(lua_State *L, int idx, const char *key)
{
    return lua_getfield(L, idx, key);
}

static void fielderror(lua_State *L, int idx, const char *key,
                       const char *expected)
{
    luaL_argerror(L, idx, lua_pushfstring(L, "option '%s': %s expected, "
                                          "got %s", key, expected,
                                          luaL_typename(L, -1)));
}

lua_Integer luax_optfieldinteger(lua_State *L, int idx, const char *key,
                                 lua_Integer def)
{
    idx = lua_absindex(L, idx);
    if (getfield(L, idx, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        fielderror(L, idx, key, "integer");
    lua_pop(L, 1);
    return v;
}

lua_Number luax_optfieldnumber(lua_State *L, int idx, const char *key,
                               lua_Number def)
{
    idx = lua_absindex(L, idx);
    if (getfield(L, idx, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    int isnum;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum)
        fielderror(L, idx, key, "number");
    lua_pop(L, 1);
    return v;
}

/*
 * The string stays valid while the options table holds it; callers copy it
 * if they need it longer.
 */
const char *luax_optfieldstring(lua_State *L, int idx, const char *key,
                                const char *def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TSTRING)
        fielderror(L, idx, key, "string");
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    return s;
}

int luax_optfieldboolean(lua_State *L, int idx, const char *key, int def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TBOOLEAN)
        fielderror(L, idx, key, "boolean");
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* {====================================================================
 * The protected call path (lua.c's docall).
 *
 * `signal_L` is the one static lua_State pointer in the program: a signal
 * handler cannot receive it any other way.  It is set only while a
 * luax_pcall is running and restored on return, so nesting works.
 * ===================================================================== */

static lua_State *volatile signal_L;
static volatile sig_atomic_t got_signal; /* 0, SIGINT, SIGTERM or SIGHUP */

/* The signals that stop a run; each one unwinds Lua the same way. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP (int)(sizeof stop_signals / sizeof stop_signals[0])

int luax_interrupted(void)
{
    return got_signal != 0;
}

int luax_interrupt_signal(void)
{
    return got_signal;
}

void luax_clear_interrupted(void)
{
    got_signal = 0;
}

int luax_raise_interrupted(lua_State *L)
{
    lua_sethook(L, NULL, 0, 0);
    return luaL_error(L, "interrupted!");
}

/* Hook set by the signal handler: raise at the next Lua instruction. */
static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luax_raise_interrupted(L);
}

static void on_stop_signal(int sig)
{
    /* A request to terminate outranks a Ctrl-C that came first: the exit
     * status and message must say why the run really ended, and the REPL
     * must see that it is to quit, not just drop the chunk. */
    if (got_signal == 0 || got_signal == SIGINT)
        got_signal = sig;
    if (signal_L)
        lua_sethook(signal_L, interrupt_hook,
                    LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/*
 * Install on_stop_signal for every stop signal, saving the previous
 * actions in `old`.  No SA_RESTART: a blocking read or wait returns EINTR
 * so the code around it can notice.  A SIGHUP ignored at start-up stays
 * ignored: that is what `nohup schedtest ...` asks for.
 */
static void catch_stop_signals(struct sigaction old[NSTOP])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSTOP; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    for (int i = 0; i < NSTOP; i++) {
        sigaction(stop_signals[i], NULL, &old[i]);
        if (stop_signals[i] == SIGHUP && old[i].sa_handler == SIG_IGN)
            continue;
        sigaction(stop_signals[i], &sa, NULL);
    }
}

static void restore_stop_signals(const struct sigaction old[NSTOP])
{
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &old[i], NULL);
}

/* Message handler: message (honouring __tostring) plus a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") &&
            lua_type(L, -1) == LUA_TSTRING)
            return 1; /* an error object that knows how to print itself */
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int luax_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs; /* function index */
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);

    struct sigaction old[NSTOP];
    lua_State *prev_L = signal_L;
    signal_L = L;
    catch_stop_signals(old);

    int status = lua_pcall(L, nargs, nresults, base);

    restore_stop_signals(old);
    signal_L = prev_L;
    lua_remove(L, base);
    return status;
}
/* }==================================================================== */
