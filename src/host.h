/*
 * host.h: what the host program (main.c, repl.c) offers the bindings.
 */
#ifndef SCHEDTEST_HOST_H
#define SCHEDTEST_HOST_H

#include <lua.h>

typedef struct {
    const char *prompt;       /* first line of a chunk */
    const char *prompt2;      /* continuation lines */
    const char *history_path; /* NULL: no persistent history */
    int history_size;         /* lines kept in the history file */
} st_repl_opts;

/*
 * Read-eval loop.  Reads lines (readline on a terminal, plain stdin
 * otherwise) and calls the Lua function at `handler` with the chunk read so
 * far, through luax_pcall.  The handler returns "incomplete" to ask for
 * another line; anything else ends the chunk.  Ctrl-C at the prompt drops
 * the pending chunk; Ctrl-C while the handler runs raises "interrupted!"
 * inside it.  Returns at end of input (Ctrl-D), or on SIGTERM/SIGHUP (at
 * the prompt or in a chunk) with luax_interrupted() still set.
 */
void st_repl_run(lua_State *L, int handler, const st_repl_opts *opts);

#endif
