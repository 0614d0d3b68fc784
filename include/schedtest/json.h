/**
 * @file schedtest/json.h
 * @brief A strict, fast JSON parser into a compact tree, and the pieces of
 *        serde_json's `to_string_pretty` output format.
 *
 * The parser is RFC 8259 strict (no NaN/Infinity, no comments, no trailing
 * commas, UTF-8 validated, lone surrogates rejected), bounded in nesting
 * depth, and reports the byte offset of the first error.  It works in place:
 * strings are unescaped inside the caller's buffer, so parsing allocates only
 * the tree nodes, from an arena that is reused across documents.  That is
 * what lets the pool parse tens of thousands of sidecars quickly.
 */
#ifndef SCHEDTEST_JSON_H
#define SCHEDTEST_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ST_JSON_NULL,
    ST_JSON_FALSE,
    ST_JSON_TRUE,
    ST_JSON_INT,    /* no fraction, no exponent, fits in int64 */
    ST_JSON_FLOAT,  /* everything else numeric (finite) */
    ST_JSON_STRING,
    ST_JSON_ARRAY,
    ST_JSON_OBJECT
} st_json_type;

/*
 * One node.  Arrays hold `n` nodes in `u.items`; objects hold `n` members as
 * 2n nodes (key string, value) in `u.items`.  Strings are NUL-terminated and
 * may contain NUL bytes (use `n`).  FLOAT nodes have n == 0 and the value
 * in u.d, except with lazy numbers (see st_json_parser_set_lazy_numbers).
 */
typedef struct st_json st_json;
struct st_json {
    uint8_t type;
    uint32_t n;
    uint32_t off; /* byte offset of the value in the input */
    union {
        int64_t i;
        double d;
        const char *s;
        st_json *items;
    } u;
};

/** Padding the parser needs after the last input byte (a NUL is written). */
#define ST_JSON_PADDING 1

/** Default nesting limit (arrays + objects). */
#define ST_JSON_MAX_DEPTH 64

typedef struct st_json_parser st_json_parser;

/** A reusable parser: keep one per thread and parse many documents. */
int st_json_parser_new(st_json_parser **out);
void st_json_parser_free(st_json_parser *p);

/** Change the nesting limit (default ST_JSON_MAX_DEPTH). */
void st_json_parser_set_max_depth(st_json_parser *p, int depth);

/**
 * Members to skip: called for each object key while not already skipping,
 * with the nesting depth (1 = members of the root object), the key of the
 * member whose value is the enclosing object (NULL at the root or inside
 * arrays) and the key.  Returning non-zero drops the member from the tree;
 * its value is still validated as strictly as everything else.
 */
typedef int (*st_json_skip_fn)(void *ctx, int depth, const char *parent_key,
                               const char *key, size_t n);
void st_json_parser_set_skip(st_json_parser *p, st_json_skip_fn fn,
                             void *ctx);

/**
 * Lazy numbers: floats that need more than the exact fast path keep their
 * text (n > 0, u.s) and are converted by st_json_number() when read.
 * Overflow is still detected while parsing.  For readers that use few of
 * the numbers they parse (the pool).
 */
void st_json_parser_set_lazy_numbers(st_json_parser *p, int lazy);

/**
 * The value of an INT or FLOAT node as a double (NaN for other types);
 * the only correct way to read FLOAT nodes of a lazy parser.
 */
double st_json_number(const st_json *v);

/**
 * Parse `buf[0..len)` in place.  `buf` must be writable and have
 * ST_JSON_PADDING spare bytes after `len`.  The tree stays valid until the
 * next parse with the same parser (or its free) and while `buf` lives.
 * On error returns ST_EPARSE with the message "byte N: reason" and
 * st_json_parser_error_offset() giving N.
 */
int st_json_parse(st_json **root, st_json_parser *p, char *buf, size_t len);

/** Byte offset of the last parse error. */
size_t st_json_parser_error_offset(const st_json_parser *p);

/** Reason of the last parse error, without the offset ("unexpected ..."). */
const char *st_json_parser_error_reason(const st_json_parser *p);

/** Member `key` of object `obj` (linear search), or NULL. */
const st_json *st_json_get(const st_json *obj, const char *key);

/** Human name of a node type ("string", "object", ...). */
const char *st_json_type_name(int type);

/* ---- building trees (for writers) ------------------------------------ */

/** An allocator for trees built by hand; everything is freed at once. */
typedef struct st_json_arena st_json_arena;

int st_json_arena_new(st_json_arena **out);
void st_json_arena_free(st_json_arena *a);
/** `n` zeroed nodes, or NULL when out of memory. */
st_json *st_json_arena_nodes(st_json_arena *a, size_t n);
/** A NUL-terminated copy of s[0..n), or NULL when out of memory. */
char *st_json_arena_str(st_json_arena *a, const char *s, size_t n);

/* ---- output -------------------------------------------------------- */

/** A growable output buffer. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed; /* set when an allocation failed; later appends are no-ops */
} st_buf;

void st_buf_init(st_buf *b);
void st_buf_free(st_buf *b);
void st_buf_add(st_buf *b, const char *s, size_t n);
void st_buf_addc(st_buf *b, char c);
void st_buf_adds(st_buf *b, const char *s);

/** A JSON string literal, escaped the way serde_json escapes. */
void st_json_write_string(st_buf *b, const char *s, size_t n);

/**
 * A finite f64 the way serde_json (ryu) prints it: the shortest text that
 * reads back to the same double, "1.0" for integral values, exponent form
 * outside [1e-5, 1e16).  Non-finite values print as "null" (serde_json's
 * choice).
 */
void st_json_write_double(st_buf *b, double d);

/** An integer. */
void st_json_write_int(st_buf *b, int64_t v);

/**
 * Write a whole tree in serde_json's to_string_pretty layout (2-space
 * indent, `"key": value`, `[]` / `{}` for empty containers), keys in the
 * order they appear in the tree.
 */
void st_json_write_pretty(st_buf *b, const st_json *v, int indent);

#endif
