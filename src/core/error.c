/*
 * error.c: the error-code table and the per-thread last-error buffer.
 */
#include "schedtest/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ST_ERROR_MSG_MAX 2048

static _Thread_local char last_message[ST_ERROR_MSG_MAX];
static _Thread_local int last_code = ST_OK;

struct code_entry {
    int code;
    const char *name;
    const char *desc;
};

static const struct code_entry code_table[] = {
#define ST__ENTRY(name, value, desc) {value, #name, desc},
    ST_ERROR_LIST(ST__ENTRY)
#undef ST__ENTRY
};

#define CODE_COUNT ((int)(sizeof code_table / sizeof code_table[0]))

static const struct code_entry *find_code(int code)
{
    for (int i = 0; i < CODE_COUNT; i++)
        if (code_table[i].code == code)
            return &code_table[i];
    return NULL;
}

const char *st_error_name(int code)
{
    const struct code_entry *e = find_code(code);
    return e ? e->name : NULL;
}

const char *st_error_describe(int code)
{
    const struct code_entry *e = find_code(code);
    return e ? e->desc : NULL;
}

int st_error_from_name(const char *name)
{
    for (int i = 0; name && i < CODE_COUNT; i++)
        if (strcmp(code_table[i].name, name) == 0)
            return code_table[i].code;
    return ST_ERROR;
}

int st_error_count(void)
{
    return CODE_COUNT;
}

int st_error_at(int i)
{
    return (i >= 0 && i < CODE_COUNT) ? code_table[i].code : ST_ERROR;
}

int st_error_setv(int code, const char *fmt, va_list ap)
{
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    last_code = code;
    return code;
}

int st_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_error_setv(code, fmt, ap);
    va_end(ap);
    return code;
}

int st_error_set_errno(int code, int errnum, const char *fmt, ...)
{
    char head[ST_ERROR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return st_error_set(code, "%s: %s", head, strerror(errnum));
}

int st_error_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return ST_ENOENT;
    case ENOMEM:
        return ST_ENOMEM;
    case EINVAL:
        return ST_EINVAL;
    case EEXIST:
        return ST_EEXIST;
    case EBUSY:
    case EWOULDBLOCK:
        return ST_EBUSY;
    case ETIMEDOUT:
        return ST_ETIMEDOUT;
    case EINTR:
        return ST_EINTR;
    case ERANGE:
        return ST_ERANGE;
    case ENOTSUP:
        return ST_ENOTSUP;
    case ENOSPC:
    case EDQUOT:
        return ST_ENOSPC;
    default:
        return ST_EIO;
    }
}

const char *st_error_last(void)
{
    return last_message;
}

int st_error_last_code(void)
{
    return last_code;
}

void st_error_clear(void)
{
    last_message[0] = '\0';
    last_code = ST_OK;
}
