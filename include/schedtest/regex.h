/**
 * @file schedtest/regex.h
 * @brief POSIX extended regular expressions, for test filters.
 */
#ifndef SCHEDTEST_REGEX_H
#define SCHEDTEST_REGEX_H

typedef struct st_regex st_regex;

/**
 * Compile `pattern` (POSIX ERE).  A bad pattern returns ST_EINVAL with the
 * compiler's reason and the pattern in the message.
 */
int st_regex_compile(st_regex **out, const char *pattern);

/** 1 when `text` matches anywhere, 0 when not. */
int st_regex_match(const st_regex *re, const char *text);

void st_regex_free(st_regex *re);

#endif
