/*
 * fuzz_sidecar.c: libFuzzer target for the sidecar JSON parser and writer
 * (`make fuzz`).  Invariants checked on every input:
 *  - the parser never reads out of bounds and fails cleanly;
 *  - a parsed tree printed with st_json_write_pretty parses back, and
 *    printing that gives the same text (parser and printer agree);
 *  - lazy-number parsing and skipped members accept exactly what eager
 *    parsing accepts (same error offset), and lazy numbers have the same
 *    values;
 *  - when the writer accepts a tree as a sidecar, its output parses and
 *    re-serializes byte for byte (write -> read -> write is identical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schedtest/json.h"
#include "schedtest/sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static st_json_parser *P, *Q, *L, *K;

/* An arbitrary but deterministic skip rule, to exercise skipped subtrees. */
static int skip_some(void *ctx, int depth, const char *parent,
                     const char *key, size_t n)
{
    (void)ctx;
    return (n % 2 == 1) || (parent && depth > 1 && parent[0] == 's') ||
           (n && key[0] == 'c');
}

static char *copy(const void *d, size_t n)
{
    char *b = malloc(n + ST_JSON_PADDING);
    if (!b)
        abort();
    memcpy(b, d, n);
    return b;
}

static void same_numbers(const st_json *a, const st_json *b)
{
    if (a->type != b->type || (a->type != ST_JSON_FLOAT && a->n != b->n))
        abort();
    if (a->type == ST_JSON_FLOAT) {
        double x = st_json_number(a), y = st_json_number(b);
        if (memcmp(&x, &y, sizeof x) != 0)
            abort();
    } else if (a->type == ST_JSON_ARRAY) {
        for (uint32_t i = 0; i < a->n; i++)
            same_numbers(&a->u.items[i], &b->u.items[i]);
    } else if (a->type == ST_JSON_OBJECT) {
        for (uint32_t i = 0; i < 2 * a->n; i++)
            same_numbers(&a->u.items[i], &b->u.items[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!P && (st_json_parser_new(&P) || st_json_parser_new(&Q) ||
               st_json_parser_new(&L) || st_json_parser_new(&K)))
        abort();
    st_json_parser_set_lazy_numbers(L, 1);
    st_json_parser_set_lazy_numbers(K, 1);
    st_json_parser_set_skip(K, skip_some, NULL);
    char *buf = copy(data, size), *lbuf = copy(data, size);
    char *kbuf = copy(data, size);
    st_json *root, *lroot, *kroot;
    int rc = st_json_parse(&root, P, buf, size);
    int lrc = st_json_parse(&lroot, L, lbuf, size);
    int krc = st_json_parse(&kroot, K, kbuf, size);
    /* lazy numbers and skipping never change what is accepted, nor where
     * the first error is */
    if ((rc == 0) != (lrc == 0) || (rc == 0) != (krc == 0))
        abort();
    if (rc != 0 && (st_json_parser_error_offset(P) !=
                    st_json_parser_error_offset(L) ||
                    st_json_parser_error_offset(P) !=
                    st_json_parser_error_offset(K)))
        abort();
    free(kbuf);
    if (rc != 0) {
        if (st_json_parser_error_offset(P) > size)
            abort();
        free(buf);
        free(lbuf);
        return 0;
    }
    same_numbers(root, lroot);

    st_buf a, b;
    st_buf_init(&a);
    st_buf_init(&b);
    st_json_write_pretty(&a, root, 0);
    char *again = copy(a.data, a.len);
    st_json *r2;
    if (st_json_parse(&r2, Q, again, a.len) != 0)
        abort();
    st_json_write_pretty(&b, r2, 0);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    free(again);
    st_buf_free(&a);
    st_buf_free(&b);

    if (root->type == ST_JSON_OBJECT) {
        st_buf_init(&a);
        if (st_sidecar_serialize(&a, root) == 0) {
            again = copy(a.data, a.len);
            if (st_json_parse(&r2, Q, again, a.len) != 0)
                abort();
            st_buf_init(&b);
            if (st_sidecar_serialize(&b, r2) != 0)
                abort();
            if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
                abort();
            st_buf_free(&b);
            free(again);
        }
        st_buf_free(&a);
        uint64_t h;
        (void)st_sidecar_variant_hash_json(&h, root);
    }
    free(buf);
    free(lbuf);
    return 0;
}
