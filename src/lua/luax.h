/*
 * luax.h: helpers shared by every binding (src/lua/l_*.c) and the host.
 *
 * Conventions (../../docs/lua-api.md):
 *  - misuse (bad argument, closed handle) raises a Lua error;
 *  - environmental failure returns `nil, message, code`, where code is the
 *    stable name of an ST_E* value ("ENOENT", "EVMBOOT", ...).
 */
#ifndef SCHEDTEST_LUAX_H
#define SCHEDTEST_LUAX_H

#include <lua.h>
#include <lauxlib.h>

/* Registry keys shared across modules; each is a table or value. */
#define LUAX_REG_HOST "schedtest.host.info" /* table built by the host */

/*
 * Build the metatable for a userdata type `name` ("schedtest.Pool"):
 * __name, __index -> methods, __tostring "name (0x...)", plus `metamethods`
 * (typically __gc and __close sharing one idempotent close).  Leaves the
 * stack unchanged.
 */
void luax_registertype(lua_State *L, const char *name,
                       const luaL_Reg *methods, const luaL_Reg *metamethods);

/*
 * Push the failure triple for `code`: nil, st_error_last() (or the code's
 * description when no message was recorded), and the code's stable name.
 * [-0, +3, m]; returns 3 so bindings can `return luax_pushfail(L, rc);`.
 */
int luax_pushfail(lua_State *L, int code);

/* `rc` >= 0 pushes true (1 result); otherwise luax_pushfail. */
int luax_result(lua_State *L, int rc);

/*
 * Check that the table at `idx` has only keys listed in the NULL-terminated
 * `allowed` array; an unknown key raises "unknown option 'x' (expected one
 * of ...)" naming the function argument.
 */
void luax_checkoptions(lua_State *L, int idx, const char *const allowed[]);

/* Optional typed fields of the options table at `idx`. [-0, +0, e] */
lua_Integer luax_optfieldinteger(lua_State *L, int idx, const char *key,
                                 lua_Integer def);
lua_Number luax_optfieldnumber(lua_State *L, int idx, const char *key,
                               lua_Number def);
const char *luax_optfieldstring(lua_State *L, int idx, const char *key,
                                const char *def);
int luax_optfieldboolean(lua_State *L, int idx, const char *key, int def);

/*
 * The one protected path from C into Lua: call the function below `nargs`
 * arguments with a traceback message handler, with SIGINT, SIGTERM and
 * SIGHUP turned into the Lua error "interrupted!" for the duration of the
 * call (so `<close>` variables and __gc run before the process exits).
 * The previous actions of all three are restored on return, so calls
 * nest.  Returns the lua_pcall status; on error the message (with
 * traceback) is on the stack.
 */
int luax_pcall(lua_State *L, int nargs, int nresults);

/* Non-zero once a stop signal arrived inside luax_pcall (cleared by the
 * host); C loops waiting on children poll it. */
int luax_interrupted(void);
/* Which one: SIGINT, SIGTERM or SIGHUP (a later SIGTERM/SIGHUP replaces
 * a SIGINT, never the reverse); 0 when none arrived. */
int luax_interrupt_signal(void);
void luax_clear_interrupted(void);
/* Raise the "interrupted!" error now, dropping the hook the signal handler
 * may have left pending (for C code that saw the signal first). */
int luax_raise_interrupted(lua_State *L);

/* Openers of the preloaded C modules; see preload.c. */
int luaopen_schedtest_error(lua_State *L);
int luaopen_schedtest_host(lua_State *L);
int luaopen_schedtest_fs(lua_State *L);
int luaopen_schedtest_regex(lua_State *L);
int luaopen_schedtest_proc(lua_State *L);
int luaopen_schedtest_git(lua_State *L);
int luaopen_schedtest_kernel(lua_State *L);
int luaopen_schedtest_initramfs(lua_State *L);
int luaopen_schedtest_sidecar(lua_State *L);
int luaopen_schedtest_pool(lua_State *L);

/* JSON trees (l_sidecar.c): push one as Lua values (arrays carry the
 * schedtest.json.array metatable, null is nil); read and decode a file,
 * pushing the table or the failure triple (returns the result count). */
struct st_json;
void luax_pushjson(lua_State *L, const struct st_json *v);
int luax_readjson(lua_State *L, const char *path);
int luaopen_schedtest_stats(lua_State *L);
int luaopen_schedtest_vm(lua_State *L);

/* Put every luaopen_schedtest_* into package.preload. [-0, +0, e] */
void luax_preload(lua_State *L);

#endif
