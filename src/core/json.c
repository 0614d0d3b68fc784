/*
 * json.c: strict in-place JSON parser into an arena tree, and serde_json's
 * pretty output format.
 */
#include "schedtest/json.h"

#include "schedtest/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====================================================================
 * Arena: blocks of nodes, reset (not freed) between documents.
 * ===================================================================== */

typedef struct block {
    struct block *next;
    size_t cap, used; /* in nodes */
    st_json nodes[];
} block;

struct st_json_parser {
    block *blocks;      /* current block first */
    block *spare;       /* blocks kept from previous documents */
    st_json *stack;     /* pending values of open containers */
    size_t sp, stack_cap;
    int max_depth;
    int lazy;
    st_json_skip_fn skip;
    void *skip_ctx;
    const char *start;
    const char *cur;
    const char *end;
    size_t err_off;
    char err_reason[160];
};

int st_json_parser_new(st_json_parser **out)
{
    st_json_parser *p = calloc(1, sizeof *p);
    if (!p)
        return st_error_set(ST_ENOMEM, "json: out of memory");
    p->max_depth = ST_JSON_MAX_DEPTH;
    *out = p;
    return 0;
}

static void free_blocks(block *b)
{
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
}

void st_json_parser_free(st_json_parser *p)
{
    if (!p)
        return;
    free_blocks(p->blocks);
    free_blocks(p->spare);
    free(p->stack);
    free(p);
}

void st_json_parser_set_max_depth(st_json_parser *p, int depth)
{
    p->max_depth = depth > 0 ? depth : 1;
}

void st_json_parser_set_skip(st_json_parser *p, st_json_skip_fn fn,
                             void *ctx)
{
    p->skip = fn;
    p->skip_ctx = ctx;
}

void st_json_parser_set_lazy_numbers(st_json_parser *p, int lazy)
{
    p->lazy = lazy;
}

double st_json_number(const st_json *v)
{
    if (v->type == ST_JSON_INT)
        return (double)v->u.i;
    if (v->type != ST_JSON_FLOAT)
        return NAN;
    if (v->n == 0)
        return v->u.d;
    /* lazy: the validated text is still in the buffer, and is followed by
     * a character that cannot continue a number */
    return strtod(v->u.s, NULL);
}

size_t st_json_parser_error_offset(const st_json_parser *p)
{
    return p->err_off;
}

const char *st_json_parser_error_reason(const st_json_parser *p)
{
    return p->err_reason;
}

/* Move every block to the spare list for reuse. */
static void arena_reset(st_json_parser *p)
{
    while (p->blocks) {
        block *b = p->blocks;
        p->blocks = b->next;
        b->used = 0;
        b->next = p->spare;
        p->spare = b;
    }
}

static st_json *arena_alloc(st_json_parser *p, size_t n)
{
    block *b = p->blocks;
    if (b && b->cap - b->used >= n) {
        st_json *r = b->nodes + b->used;
        b->used += n;
        return r;
    }
    /* Take a spare block big enough, else allocate one. */
    block **pp = &p->spare;
    while (*pp && (*pp)->cap < n)
        pp = &(*pp)->next;
    if (*pp) {
        b = *pp;
        *pp = b->next;
    } else {
        size_t cap = n > 4096 ? n : 4096;
        b = malloc(sizeof *b + cap * sizeof(st_json));
        if (!b)
            return NULL;
        b->cap = cap;
    }
    b->used = n;
    b->next = p->blocks;
    p->blocks = b;
    return b->nodes;
}
/* }==================================================================== */

/* {====================================================================
 * Parser
 * ===================================================================== */

static int fail(st_json_parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(st_json_parser *p, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err_reason, sizeof p->err_reason, fmt, ap);
    va_end(ap);
    p->err_off = (size_t)(at - p->start);
    return st_error_set(ST_EPARSE, "byte %zu: %s", p->err_off,
                        p->err_reason);
}

static int push_slow(st_json_parser *p, const st_json *v)
{
    {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 256;
        st_json *s = realloc(p->stack, cap * sizeof *s);
        if (!s)
            return st_error_set(ST_ENOMEM, "json: out of memory");
        p->stack = s;
        p->stack_cap = cap;
    }
    p->stack[p->sp++] = *v;
    return 0;
}

static inline int push(st_json_parser *p, const st_json *v)
{
    if (__builtin_expect(p->sp < p->stack_cap, 1)) {
        p->stack[p->sp++] = *v;
        return 0;
    }
    return push_slow(p, v);
}

static inline const char *skip_ws(const char *c)
{
    for (;;) {
        /* pretty-printed input is mostly runs of indentation spaces; the
         * NUL sentinel after the input stops the 8-byte compare early */
        while (c[0] == ' ' && c[1] == ' ' && c[2] == ' ' && c[3] == ' ' &&
               c[4] == ' ' && c[5] == ' ' && c[6] == ' ' && c[7] == ' ')
            c += 8;
        if (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t')
            c++;
        else
            return c;
    }
}

static const char *describe_char(char buf[16], const st_json_parser *p,
                                 const char *c)
{
    if (c >= p->end)
        return "end of input";
    unsigned char ch = (unsigned char)*c;
    if (ch >= 0x20 && ch < 0x7f)
        snprintf(buf, 16, "'%c'", ch);
    else
        snprintf(buf, 16, "byte 0x%02x", ch);
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *c)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)c[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *put_utf8(char *w, unsigned cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    return w;
}

/*
 * Length of the valid UTF-8 sequence at c (first byte >= 0x80), or 0.
 * Overlongs, surrogates and code points above U+10FFFF are invalid.
 */
static int utf8_seq(const unsigned char *c, const unsigned char *end)
{
    unsigned char b0 = c[0];
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        return (end - c >= 2 && (c[1] & 0xc0) == 0x80) ? 2 : 0;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        if (end - c < 3 || (c[1] & 0xc0) != 0x80 || (c[2] & 0xc0) != 0x80)
            return 0;
        if (b0 == 0xe0 && c[1] < 0xa0)
            return 0; /* overlong */
        if (b0 == 0xed && c[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        if (end - c < 4 || (c[1] & 0xc0) != 0x80 || (c[2] & 0xc0) != 0x80 ||
            (c[3] & 0xc0) != 0x80)
            return 0;
        if (b0 == 0xf0 && c[1] < 0x90)
            return 0;
        if (b0 == 0xf4 && c[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),                                 /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' */
    R16(1), R16(1),                                 /* 0x30-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: '\\' */
    R16(1), R16(1),                                 /* 0x60-0x7f */
    R16(0), R16(0), R16(0), R16(0),                 /* 0x80-0xbf */
    R16(0), R16(0), R16(0), R16(0)                  /* 0xc0-0xff */
#undef R16
};

/*
 * Parse the string whose opening quote is at c[-1]; unescape in place.
 * Sets *out, *len and returns the position after the closing quote, or NULL
 * after recording the error.
 */
static const char *parse_string(st_json_parser *p, const char *c,
                                const char **out, uint32_t *len)
{
    const char *s = c;
    const unsigned char *end = (const unsigned char *)p->end;
    /* Fast path: no escapes.  plain[b] is 1 for bytes that need no
     * attention (printable ASCII other than '"' and '\\'); NUL is not
     * plain, so the sentinel ends the scan. */
    const unsigned char *u = (const unsigned char *)c;
    for (;;) {
        while (plain[u[0]] && plain[u[1]] && plain[u[2]] && plain[u[3]])
            u += 4;
        while (plain[*u])
            u++;
        if (u >= end) {
            fail(p, (const char *)u, "unterminated string (started at "
                 "byte %zu)", (size_t)(s - 1 - p->start));
            return NULL;
        }
        if (*u >= 0x80) {
            int n = utf8_seq(u, end);
            if (!n) {
                fail(p, (const char *)u, "invalid UTF-8 byte 0x%02x in "
                     "string", *u);
                return NULL;
            }
            u += n;
            continue;
        }
        break;
    }
    if (*u == '"') {
        *(char *)u = '\0';
        *out = s;
        *len = (uint32_t)((const char *)u - s);
        return (const char *)u + 1;
    }
    /* Slow path: escapes; write position w trails read position u. */
    char *w = (char *)u;
    for (;;) {
        if (u >= end) {
            fail(p, (const char *)u, "unterminated string (started at "
                 "byte %zu)", (size_t)(s - 1 - p->start));
            return NULL;
        }
        unsigned char ch = *u;
        if (ch == '"') {
            *w = '\0';
            *out = s;
            *len = (uint32_t)(w - s);
            return (const char *)u + 1;
        }
        if (ch < 0x20) {
            fail(p, (const char *)u, "control character 0x%02x in string "
                 "(must be escaped)", ch);
            return NULL;
        }
        if (ch >= 0x80) {
            int n = utf8_seq(u, end);
            if (!n) {
                fail(p, (const char *)u, "invalid UTF-8 byte 0x%02x in "
                     "string", ch);
                return NULL;
            }
            memmove(w, u, (size_t)n);
            w += n;
            u += n;
            continue;
        }
        if (ch != '\\') {
            *w++ = (char)ch;
            u++;
            continue;
        }
        if (u + 1 >= end) {
            fail(p, (const char *)u, "unterminated escape");
            return NULL;
        }
        unsigned char e = u[1];
        const unsigned char *esc = u;
        u += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            int cp = end - u >= 4 ? read_hex4((const char *)u) : -1;
            if (cp < 0) {
                fail(p, (const char *)esc, "bad \\u escape (4 hex digits "
                     "expected)");
                return NULL;
            }
            u += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = (end - u >= 6 && u[0] == '\\' && u[1] == 'u')
                             ? read_hex4((const char *)u + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    fail(p, (const char *)esc, "lone UTF-16 surrogate "
                         "\\u%04x", cp);
                    return NULL;
                }
                u += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(p, (const char *)esc, "lone UTF-16 surrogate \\u%04x",
                     cp);
                return NULL;
            }
            /* \u escapes take >= 6 input bytes for <= 4 output bytes. */
            w = put_utf8(w, (unsigned)cp);
            break;
        }
        default:
            fail(p, (const char *)esc, "unknown escape '\\%c'",
                 e >= 0x20 && e < 0x7f ? e : '?');
            return NULL;
        }
    }
}

static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * Parse a number at c.  Integers that fit int64 are INT; others are FLOAT.
 * Clinger's fast path (mantissa < 2^53, |exp10| <= 22) is exact; anything
 * else goes to strtod.
 */
static const char *parse_number(st_json_parser *p, const char *c,
                                st_json *v)
{
    const char *s = c;
    int neg = 0;
    if (*c == '-') {
        neg = 1;
        c++;
    }
    uint64_t mant = 0;
    int digits = 0;   /* significant digits accumulated in mant */
    int dropped = 0;  /* integer digits beyond 19 (scale by 10 each) */
    if (*c == '0') {
        c++;
        if (*c >= '0' && *c <= '9') {
            fail(p, c, "leading zero in number");
            return NULL;
        }
    } else if (*c >= '1' && *c <= '9') {
        while (*c >= '0' && *c <= '9') {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*c - '0');
                digits++;
            } else {
                dropped++;
            }
            c++;
        }
    } else {
        char b[16];
        fail(p, c, "invalid number: digit expected, got %s",
             describe_char(b, p, c));
        return NULL;
    }
    int is_float = 0;
    int exp10 = dropped;
    if (*c == '.') {
        c++;
        is_float = 1;
        if (!(*c >= '0' && *c <= '9')) {
            fail(p, c, "invalid number: digit expected after '.'");
            return NULL;
        }
        while (*c >= '0' && *c <= '9') {
            if (digits < 19 && !(mant == 0 && *c == '0' && digits == 0)) {
                mant = mant * 10 + (uint64_t)(*c - '0');
                digits++;
                exp10--;
            } else if (digits < 19) {
                exp10--; /* leading zero of the fraction */
            } else {
                /* beyond 19 significant digits: only strtod can round */
                dropped++;
            }
            c++;
        }
    }
    if (*c == 'e' || *c == 'E') {
        c++;
        is_float = 1;
        int eneg = 0;
        if (*c == '+' || *c == '-') {
            eneg = *c == '-';
            c++;
        }
        if (!(*c >= '0' && *c <= '9')) {
            fail(p, c, "invalid number: digit expected in exponent");
            return NULL;
        }
        int e = 0;
        while (*c >= '0' && *c <= '9') {
            if (e < 100000)
                e = e * 10 + (*c - '0');
            c++;
        }
        exp10 += eneg ? -e : e;
    }
    v->off = (uint32_t)(s - p->start);
    if (!is_float && dropped == 0) {
        if (!neg && mant <= (uint64_t)INT64_MAX) {
            v->type = ST_JSON_INT;
            v->u.i = (int64_t)mant;
            return c;
        }
        if (neg && mant <= (uint64_t)INT64_MAX + 1) {
            v->type = ST_JSON_INT;
            v->u.i = mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN
                                                     : -(int64_t)mant;
            return c;
        }
    }
    v->type = ST_JSON_FLOAT;
    v->n = 0;
    if (dropped == 0 && mant < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        v->u.d = neg ? -d : d;
        return c;
    }
    /* Lazy mode: keep the text when the value is surely finite (below
     * 1e308); only overflow candidates are converted now, to stay strict. */
    if (p->lazy && mant != 0 && digits + exp10 < 308) {
        v->u.s = s;
        v->n = (uint32_t)(c - s);
        return c;
    }
    if (p->lazy && mant == 0 && dropped == 0) {
        v->u.d = neg ? -0.0 : 0.0;
        return c;
    }
    /* strtod stops exactly where the validated grammar ended. */
    char *endp;
    double d = strtod(s, &endp);
    if (endp != c) {
        fail(p, s, "invalid number");
        return NULL;
    }
    if (isinf(d)) {
        fail(p, s, "number out of range (overflows a double)");
        return NULL;
    }
    v->u.d = d;
    return c;
}

typedef struct {
    size_t base;   /* stack index of the first element */
    int is_object;
    int skip;      /* validated only, not stored */
    uint32_t off;
    const char *key; /* member key this container is the value of */
} frame;

static int parse_doc(st_json_parser *p, st_json **root)
{
    frame frames_small[ST_JSON_MAX_DEPTH];
    frame *frames = frames_small;
    frame *heap_frames = NULL;
    if (p->max_depth > ST_JSON_MAX_DEPTH) {
        heap_frames = malloc((size_t)p->max_depth * sizeof *frames);
        if (!heap_frames)
            return st_error_set(ST_ENOMEM, "json: out of memory");
        frames = heap_frames;
    }
    int depth = 0;
    int rc = 0;
    const char *c = skip_ws(p->cur);
    st_json v;
    char b[16];
    int skip_next = 0, nskip = 0, sk;
    const char *cur_key = NULL, *vkey;

    p->sp = 0;
    /* State: expecting a value. */
value:
    sk = skip_next || nskip;
    skip_next = 0;
    vkey = cur_key;
    cur_key = NULL;
    c = skip_ws(c);
    if (c >= p->end) {
        rc = fail(p, c, depth ? "unexpected end of input (truncated "
                  "document?)" : "empty document");
        goto out;
    }
    memset(&v, 0, sizeof v);
    v.off = (uint32_t)(c - p->start);
    switch (*c) {
    case '{':
    case '[':
        if (depth >= p->max_depth) {
            rc = fail(p, c, "nesting deeper than %d levels", p->max_depth);
            goto out;
        }
        frames[depth].base = p->sp;
        frames[depth].is_object = *c == '{';
        frames[depth].off = v.off;
        frames[depth].skip = sk;
        frames[depth].key = vkey;
        nskip += sk;
        depth++;
        c = skip_ws(c + 1);
        if (frames[depth - 1].is_object) {
            if (*c == '}') {
                c++;
                goto close;
            }
            goto key;
        }
        if (*c == ']') {
            c++;
            goto close;
        }
        goto value;
    case '"': {
        const char *s;
        uint32_t n;
        c = parse_string(p, c + 1, &s, &n);
        if (!c) {
            rc = ST_EPARSE;
            goto out;
        }
        v.type = ST_JSON_STRING;
        v.u.s = s;
        v.n = n;
        break;
    }
    case 't':
        if (p->end - c >= 4 && memcmp(c, "true", 4) == 0) {
            v.type = ST_JSON_TRUE;
            c += 4;
            break;
        }
        goto bad_literal;
    case 'f':
        if (p->end - c >= 5 && memcmp(c, "false", 5) == 0) {
            v.type = ST_JSON_FALSE;
            c += 5;
            break;
        }
        goto bad_literal;
    case 'n':
        if (p->end - c >= 4 && memcmp(c, "null", 4) == 0) {
            v.type = ST_JSON_NULL;
            c += 4;
            break;
        }
        goto bad_literal;
    case 'N':
    case 'I':
        rc = fail(p, c, "NaN and Infinity are not JSON numbers");
        goto out;
    default:
        if (*c == '-' || (*c >= '0' && *c <= '9')) {
            if (c[0] == '-' && c[1] == 'I') {
                rc = fail(p, c, "NaN and Infinity are not JSON numbers");
                goto out;
            }
            c = parse_number(p, c, &v);
            if (!c) {
                rc = ST_EPARSE;
                goto out;
            }
            break;
        }
        rc = fail(p, c, "unexpected %s where a value was expected",
                  describe_char(b, p, c));
        goto out;
    }
    if (!sk && (rc = push(p, &v)) < 0)
        goto out;
    goto after;

bad_literal:
    rc = fail(p, c, "invalid literal (true, false or null expected)");
    goto out;

key:
    c = skip_ws(c);
    if (*c != '"' || c >= p->end) {
        rc = fail(p, c, c >= p->end ? "unexpected end of input (truncated "
                  "document?)" : "unexpected %s where a key string was "
                  "expected", describe_char(b, p, c));
        goto out;
    }
    {
        const char *s;
        uint32_t n;
        memset(&v, 0, sizeof v);
        v.off = (uint32_t)(c - p->start);
        c = parse_string(p, c + 1, &s, &n);
        if (!c) {
            rc = ST_EPARSE;
            goto out;
        }
        v.type = ST_JSON_STRING;
        v.u.s = s;
        v.n = n;
        if (!nskip) {
            if (p->skip && p->skip(p->skip_ctx, depth, frames[depth - 1].key,
                                   s, n)) {
                skip_next = 1; /* the key is not stored either */
            } else {
                if ((rc = push(p, &v)) < 0)
                    goto out;
                cur_key = s;
            }
        }
    }
    c = skip_ws(c);
    if (*c != ':' || c >= p->end) {
        rc = fail(p, c, "expected ':' after key, got %s",
                  describe_char(b, p, c));
        goto out;
    }
    c++;
    goto value;

after:
    if (depth == 0)
        goto done;
    c = skip_ws(c);
    if (c >= p->end) {
        rc = fail(p, c, "unexpected end of input (truncated document?)");
        goto out;
    }
    if (*c == ',') {
        c++;
        if (frames[depth - 1].is_object)
            goto key;
        goto value;
    }
    if (*c == (frames[depth - 1].is_object ? '}' : ']')) {
        c++;
        goto close;
    }
    rc = fail(p, c, "expected ',' or '%c', got %s",
              frames[depth - 1].is_object ? '}' : ']',
              describe_char(b, p, c));
    goto out;

close: {
        frame *f = &frames[--depth];
        if (f->skip) {
            nskip--;
            goto after;
        }
        size_t count = p->sp - f->base;
        memset(&v, 0, sizeof v);
        v.type = f->is_object ? ST_JSON_OBJECT : ST_JSON_ARRAY;
        v.off = f->off;
        v.n = (uint32_t)(f->is_object ? count / 2 : count);
        if (count) {
            st_json *items = arena_alloc(p, count);
            if (!items) {
                rc = st_error_set(ST_ENOMEM, "json: out of memory");
                goto out;
            }
            memcpy(items, p->stack + f->base, count * sizeof *items);
            v.u.items = items;
        }
        p->sp = f->base;
        if ((rc = push(p, &v)) < 0)
            goto out;
        goto after;
    }

done:
    c = skip_ws(c);
    if (c < p->end) {
        rc = fail(p, c, "trailing %s after the document",
                  describe_char(b, p, c));
        goto out;
    }
    {
        st_json *r = arena_alloc(p, 1);
        if (!r) {
            rc = st_error_set(ST_ENOMEM, "json: out of memory");
            goto out;
        }
        *r = p->stack[0];
        *root = r;
    }
out:
    free(heap_frames);
    return rc;
}

int st_json_parse(st_json **root, st_json_parser *p, char *buf, size_t len)
{
    if (len > UINT32_MAX)
        return st_error_set(ST_ERANGE, "json: document larger than 4 GiB");
    arena_reset(p);
    buf[len] = '\0'; /* sentinel: every scan loop stops at NUL */
    p->start = buf;
    p->cur = buf;
    p->end = buf + len;
    p->err_off = 0;
    p->err_reason[0] = '\0';
    /* A NUL inside the document must be an error, not an early stop: the
     * scanners treat NUL as "not whitespace / not a digit", which falls
     * into an error path that reports it as a byte. */
    return parse_doc(p, root);
}

const st_json *st_json_get(const st_json *obj, const char *key)
{
    if (!obj || obj->type != ST_JSON_OBJECT)
        return NULL;
    for (uint32_t i = 0; i < obj->n; i++)
        if (strcmp(obj->u.items[2 * i].u.s, key) == 0)
            return &obj->u.items[2 * i + 1];
    return NULL;
}

const char *st_json_type_name(int type)
{
    switch (type) {
    case ST_JSON_NULL: return "null";
    case ST_JSON_FALSE:
    case ST_JSON_TRUE: return "boolean";
    case ST_JSON_INT: return "integer";
    case ST_JSON_FLOAT: return "float";
    case ST_JSON_STRING: return "string";
    case ST_JSON_ARRAY: return "array";
    case ST_JSON_OBJECT: return "object";
    }
    return "?";
}
/* }==================================================================== */

/* {====================================================================
 * Output
 * ===================================================================== */

void st_buf_init(st_buf *b)
{
    memset(b, 0, sizeof *b);
}

void st_buf_free(st_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void st_buf_add(st_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void st_buf_addc(st_buf *b, char c)
{
    st_buf_add(b, &c, 1);
}

void st_buf_adds(st_buf *b, const char *s)
{
    st_buf_add(b, s, strlen(s));
}

void st_json_write_string(st_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    st_buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
            u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
            esc = u;
        }
        if (esc) {
            st_buf_add(b, s + i - run, run);
            run = 0;
            st_buf_adds(b, esc);
        } else {
            run++;
        }
    }
    st_buf_add(b, s + n - run, run);
    st_buf_addc(b, '"');
}

void st_json_write_int(st_buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    st_buf_add(b, t, (size_t)n);
}

/*
 * Shortest decimal digits that read back to d (d > 0, finite), and the
 * decimal exponent: d = 0.DIGITS x 10^kk.  %.*e rounds correctly, so the
 * first precision that round-trips is the shortest representation.
 */
static int shortest_digits(double d, char digits[32], int *kk)
{
    char t[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    /* t = "D.DDDDe[+-]XX" */
    int n = 0;
    const char *c = t;
    for (; *c && *c != 'e'; c++)
        if (*c != '.')
            digits[n++] = *c;
    int e = atoi(c + 1);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *kk = e + 1;
    return n;
}

void st_json_write_double(st_buf *b, double d)
{
    if (!isfinite(d)) {
        st_buf_adds(b, "null");
        return;
    }
    if (signbit(d))
        st_buf_addc(b, '-');
    d = fabs(d);
    if (d == 0) {
        st_buf_adds(b, "0.0");
        return;
    }
    char dg[32];
    int kk;
    int k = shortest_digits(d, dg, &kk);
    /* ryu's format64 layout (what serde_json prints). */
    if (k <= kk && kk <= 16) {
        st_buf_add(b, dg, (size_t)k);
        for (int i = k; i < kk; i++)
            st_buf_addc(b, '0');
        st_buf_adds(b, ".0");
    } else if (0 < kk && kk <= 16) {
        st_buf_add(b, dg, (size_t)kk);
        st_buf_addc(b, '.');
        st_buf_add(b, dg + kk, (size_t)(k - kk));
    } else if (-5 < kk && kk <= 0) {
        st_buf_adds(b, "0.");
        for (int i = kk; i < 0; i++)
            st_buf_addc(b, '0');
        st_buf_add(b, dg, (size_t)k);
    } else {
        char t[16];
        st_buf_addc(b, dg[0]);
        if (k > 1) {
            st_buf_addc(b, '.');
            st_buf_add(b, dg + 1, (size_t)(k - 1));
        }
        int n = snprintf(t, sizeof t, "e%d", kk - 1);
        st_buf_add(b, t, (size_t)n);
    }
}

static void newline_indent(st_buf *b, int indent)
{
    st_buf_addc(b, '\n');
    for (int i = 0; i < indent; i++)
        st_buf_add(b, "  ", 2);
}

void st_json_write_pretty(st_buf *b, const st_json *v, int indent)
{
    switch (v->type) {
    case ST_JSON_NULL: st_buf_adds(b, "null"); break;
    case ST_JSON_FALSE: st_buf_adds(b, "false"); break;
    case ST_JSON_TRUE: st_buf_adds(b, "true"); break;
    case ST_JSON_INT: st_json_write_int(b, v->u.i); break;
    case ST_JSON_FLOAT: st_json_write_double(b, v->u.d); break;
    case ST_JSON_STRING: st_json_write_string(b, v->u.s, v->n); break;
    case ST_JSON_ARRAY:
        if (v->n == 0) {
            st_buf_adds(b, "[]");
            break;
        }
        st_buf_addc(b, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                st_buf_addc(b, ',');
            newline_indent(b, indent + 1);
            st_json_write_pretty(b, &v->u.items[i], indent + 1);
        }
        newline_indent(b, indent);
        st_buf_addc(b, ']');
        break;
    case ST_JSON_OBJECT:
        if (v->n == 0) {
            st_buf_adds(b, "{}");
            break;
        }
        st_buf_addc(b, '{');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                st_buf_addc(b, ',');
            newline_indent(b, indent + 1);
            const st_json *k = &v->u.items[2 * i];
            st_json_write_string(b, k->u.s, k->n);
            st_buf_add(b, ": ", 2);
            st_json_write_pretty(b, &v->u.items[2 * i + 1], indent + 1);
        }
        newline_indent(b, indent);
        st_buf_addc(b, '}');
        break;
    }
}
/* }==================================================================== */

/* {====================================================================
 * Hand-built trees
 * ===================================================================== */

typedef struct chunk {
    struct chunk *next;
    max_align_t align[];
} chunk;

struct st_json_arena {
    chunk *chunks;
};

int st_json_arena_new(st_json_arena **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : st_error_set(ST_ENOMEM, "json: out of memory");
}

void st_json_arena_free(st_json_arena *a)
{
    if (!a)
        return;
    while (a->chunks) {
        chunk *n = a->chunks->next;
        free(a->chunks);
        a->chunks = n;
    }
    free(a);
}

static void *arena_raw(st_json_arena *a, size_t bytes)
{
    chunk *c = calloc(1, sizeof *c + bytes);
    if (!c)
        return NULL;
    c->next = a->chunks;
    a->chunks = c;
    return c->align;
}

st_json *st_json_arena_nodes(st_json_arena *a, size_t n)
{
    return arena_raw(a, (n ? n : 1) * sizeof(st_json));
}

char *st_json_arena_str(st_json_arena *a, const char *s, size_t n)
{
    char *d = arena_raw(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}
/* }==================================================================== */
