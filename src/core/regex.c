/*
 * regex.c: a thin owner of POSIX regex_t with ST_E* errors.
 */
#include "schedtest/regex.h"
#include "schedtest/error.h"

#include <regex.h>
#include <stdlib.h>

struct st_regex {
    regex_t re;
};

int st_regex_compile(st_regex **out, const char *pattern)
{
    *out = NULL;
    st_regex *r = malloc(sizeof *r);
    if (!r)
        return st_error_set(ST_ENOMEM, "out of memory compiling a regex");
    int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[256];
        regerror(rc, &r->re, why, sizeof why);
        free(r);
        return st_error_set(ST_EINVAL, "bad regular expression /%s/: %s",
                            pattern, why);
    }
    *out = r;
    return 0;
}

int st_regex_match(const st_regex *re, const char *text)
{
    return regexec(&re->re, text, 0, NULL, 0) == 0;
}

void st_regex_free(st_regex *re)
{
    if (!re)
        return;
    regfree(&re->re);
    free(re);
}
