/*
 * repl.c: the line-reading half of `schedtest repl` (lua.c's design).
 * Evaluation and printing belong to lua/schedtest/repl.lua, which hands
 * this loop its handler; this file only reads lines, keeps history and
 * deals with Ctrl-C.
 */
#include "host.h"
#include "lua/luax.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

/* Set by SIGINT while waiting at the prompt. */
static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_sigint(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

/*
 * SIGTERM or SIGHUP arrived (luax_pcall's handler, which the host's outer
 * call leaves installed at the prompt, recorded it): leave the loop.
 * SIGINT only drops the current chunk.
 */
static int quit_requested(void)
{
    int sig = luax_interrupt_signal();
    return sig != 0 && sig != SIGINT;
}

/* {====================================================================
 * Terminal input through readline's callback interface: we own the
 * select() loop, so a Ctrl-C at the prompt (EINTR) can drop the line and
 * start afresh without longjmp-ing out of readline.
 * ===================================================================== */

static char *callback_line;
static int callback_done;

static void on_line(char *line)
{
    callback_line = line; /* NULL at end of input */
    callback_done = 1;
    rl_callback_handler_remove();
}

static char *read_line_tty(const char *prompt)
{
    callback_line = NULL;
    callback_done = 0;
    rl_callback_handler_install(prompt, on_line);
    while (!callback_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(STDIN_FILENO, &fds);
        if (select(STDIN_FILENO + 1, &fds, NULL, NULL, NULL) < 0) {
            if (errno == EINTR && (prompt_interrupted ||
                                   quit_requested())) {
                rl_free_line_state();
                rl_callback_sigcleanup();
                rl_callback_handler_remove();
                fputc('\n', stdout);
                fflush(stdout);
                return NULL;
            }
            if (errno != EINTR)
                return NULL;
            continue;
        }
        rl_callback_read_char();
    }
    return callback_line;
}
/* }==================================================================== */

/* One line without its newline, or NULL at end of input / interrupt. */
static char *read_line(int tty, const char *prompt)
{
    if (tty)
        return read_line_tty(prompt);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        if (errno == EINTR && prompt_interrupted)
            clearerr(stdin);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

void st_repl_run(lua_State *L, int handler, const st_repl_opts *opts)
{
    int tty = isatty(STDIN_FILENO);
    handler = lua_absindex(L, handler);

    /* SIGINT at the prompt only sets a flag; no SA_RESTART, so the
     * pending read() returns EINTR. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);

    if (tty) {
        rl_readline_name = "schedtest";
        rl_catch_signals = 0; /* we handle SIGINT ourselves */
        if (opts->history_path) {
            stifle_history(opts->history_size);
            read_history(opts->history_path); /* missing file is fine */
        }
    }

    int pending = 0; /* lines in the current chunk */
    lua_pushnil(L);  /* slot for the accumulated chunk string */
    /* A SIGTERM landing between this check and the blocking read is seen
     * only at the next line of input; the window is a few instructions. */
    while (!quit_requested()) {
        prompt_interrupted = 0;
        char *line = read_line(tty, pending ? opts->prompt2 : opts->prompt);
        if (prompt_interrupted) {
            free(line);
            pending = 0;
            lua_pushnil(L);
            lua_replace(L, -2);
            if (!tty && feof(stdin))
                break;
            continue;
        }
        if (line == NULL)
            break;
        if (tty && line[0] != '\0')
            add_history(line);

        /* chunk = previous lines .. "\n" .. line */
        if (pending) {
            lua_pushliteral(L, "\n");
            lua_pushstring(L, line);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, line);
        }
        free(line);

        lua_pushvalue(L, handler);
        lua_pushvalue(L, -2);
        int status = luax_pcall(L, 1, 1);
        if (status != LUA_OK) {
            /* the handler itself failed: report and start afresh */
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            pending = 0;
        } else {
            const char *r = lua_tostring(L, -1);
            pending = (r && strcmp(r, "incomplete") == 0) ? pending + 1 : 0;
        }
        lua_pop(L, 1);
        fflush(stdout);
        fflush(stderr);
        if (quit_requested())
            break; /* keep the signal recorded for the caller */
        luax_clear_interrupted();
    }
    lua_pop(L, 1);
    if (tty) {
        fputc('\n', stdout);
        if (opts->history_path)
            write_history(opts->history_path);
    }
    sigaction(SIGINT, &old, NULL);
}
