/*
 * jsonload.c — see jsonload.h. yajl calls back once per token; each callback
 * adds a jansson value to the container on top of a stack. A callback that
 * refuses (duplicate key, NUL, too deep, no memory) cancels the parse with
 * its own reason. Runs on any thread; keeps no state between calls.
 */
#include "app/jsonload.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

typedef struct {
    json_t *root;
    json_t *stack[LANES_JSON_MAX_DEPTH];
    /* The pending key of each open object, copied: yajl hands out keys from
     * a buffer it reuses for the next escaped string. */
    char *keys;
    size_t keys_len, keys_cap;
    size_t key_at[LANES_JSON_MAX_DEPTH], key_len[LANES_JSON_MAX_DEPTH];
    int depth;
    char why[160];       /* set by a callback that cancels */
    size_t why_at;       /* where the refused byte is, when the callback knows; else SIZE_MAX */
    const char *data;    /* the whole text, parsed in one yajl_parse call */
    yajl_handle h;
    int has_u;           /* the text holds a "\\u": strings are checked for surrogates */
} builder;

static int refuse(builder *b, const char *why)
{
    snprintf(b->why, sizeof b->why, "%s", why);
    return 0;
}

/* Adds v (a new reference) to the open container, or makes it the root. */
static int add(builder *b, json_t *v)
{
    if (!v)
        return refuse(b, "out of memory");
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    json_t *top = b->stack[b->depth - 1];
    if (json_is_array(top)) {
        if (json_array_append_new(top, v) < 0)
            return refuse(b, "out of memory");
        return 1;
    }
    const char *key = b->keys + b->key_at[b->depth - 1];
    size_t klen = b->key_len[b->depth - 1];
    if (json_object_getn(top, key, klen)) {
        json_decref(v);
        char why[160];
        snprintf(why, sizeof why, "duplicate object key '%.*s'", klen > 100 ? 100 : (int)klen, key);
        return refuse(b, why);
    }
    if (json_object_setn_new(top, key, klen, v) < 0)   /* checks the key's UTF-8 too */
        return refuse(b, "invalid UTF-8 in an object key");
    return 1;
}

/*
 * Unpaired UTF-16 surrogate escapes. yajl decodes "\ud800" alone to "?" and
 * glues a high surrogate to whatever \u escape follows it, so the decoded
 * string cannot tell; the escapes in the raw token can. No parsing here: yajl
 * has lexed the token already and yajl_get_bytes_consumed() is just past its
 * closing quote, so the token is found by stepping back to the quote that
 * opened it (the first one not escaped) and only its \u escapes are read.
 */
static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15)
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* The raw token's opening quote, scanning back from its closing one at end. */
static const char *token_start(const char *data, const char *end)
{
    for (const char *q = end - 1; q >= data; q--) {
        if (*q != '"')
            continue;
        size_t bs = 0;
        while (q - 1 - (ptrdiff_t)bs >= data && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q;
    }
    return NULL;
}

/* Returns 1, or 0 having refused the first unpaired surrogate escape. */
static int check_surrogates(builder *b)
{
    if (!b->has_u)
        return 1;   /* most texts: one memmem up front, nothing per string */
    size_t used = yajl_get_bytes_consumed(b->h);
    if (used < 2 || b->data[used - 1] != '"')
        return 1;   /* not where a string token ends: nothing to check against */
    const char *end = b->data + used - 1;
    const char *p = token_start(b->data, end);
    if (!p)
        return 1;
    for (p++; p < end; p++) {
        if (*p != '\\')
            continue;
        p++;
        unsigned cu, lo;
        if (p >= end || *p != 'u' || end - p < 5 || hex4(p + 1, &cu) < 0)
            continue;   /* another escape, or one yajl refused already */
        if (cu >= 0xD800 && cu <= 0xDBFF && end - p >= 11 && p[5] == '\\' && p[6] == 'u' &&
            hex4(p + 7, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
            p += 10;   /* a pair: one code point past U+FFFF */
            continue;
        }
        if (cu >= 0xD800 && cu <= 0xDFFF) {
            char why[160];
            snprintf(why, sizeof why, "unpaired UTF-16 surrogate escape \\u%.4s in a string (a %s surrogate "
                     "must be %s)", p + 1, cu <= 0xDBFF ? "high" : "low",
                     cu <= 0xDBFF ? "followed by a low one" : "preceded by a high one");
            b->why_at = (size_t)(p - 1 - b->data);
            return refuse(b, why);
        }
        p += 4;
    }
    return 1;
}

static int on_null(void *ctx) { return add(ctx, json_null()); }
static int on_bool(void *ctx, int v) { return add(ctx, json_boolean(v)); }
static int on_integer(void *ctx, long long v) { return add(ctx, json_integer(v)); }

static int on_double(void *ctx, double v)
{
    return add(ctx, json_real(v));   /* yajl has refused inf (overflow) already */
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    /* A decoded "\u0000" would cut C strings short. */
    if (memchr(s, '\0', len))
        return refuse(ctx, "a string contains \\u0000 (NUL), which is not accepted");
    if (!check_surrogates(ctx))
        return 0;
    /* yajl checks the shape of UTF-8 sequences only; jansson's check also
     * refuses overlong forms, surrogates and code points past U+10FFFF. */
    json_t *v = json_stringn((const char *)s, len);
    if (!v)
        return refuse(ctx, "invalid UTF-8 in a string (an overlong form, a surrogate or past U+10FFFF)");
    return add(ctx, v);
}

static int open_container(builder *b, json_t *c)
{
    if (b->depth >= LANES_JSON_MAX_DEPTH) {
        json_decref(c);
        return refuse(b, "maximum nesting depth (512) exceeded");
    }
    if (!c || !add(b, json_incref(c))) {
        json_decref(c);
        return b->why[0] ? 0 : refuse(b, "out of memory");
    }
    json_decref(c);   /* the parent (or root) holds it now */
    b->key_at[b->depth] = b->keys_len;
    b->key_len[b->depth] = 0;
    b->stack[b->depth++] = c;
    return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, json_object()); }
static int on_start_array(void *ctx) { return open_container(ctx, json_array()); }

static int on_end(void *ctx)
{
    builder *b = ctx;
    b->depth--;
    b->keys_len = b->key_at[b->depth];   /* its keys are done with */
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    if (memchr(s, '\0', len))
        return refuse(b, "an object key contains \\u0000 (NUL), which is not accepted");
    if (!check_surrogates(b))
        return 0;
    size_t at = b->key_at[b->depth - 1];
    /* Allocated even for "": the key is read back through b->keys (fuzz_body
     * found the NULL + 0 of an empty first key). */
    if (!b->keys || at + len > b->keys_cap) {
        size_t cap = b->keys_cap ? b->keys_cap : 256;
        while (cap < at + len)
            cap *= 2;
        char *nk = realloc(b->keys, cap);
        if (!nk)
            return refuse(b, "out of memory");
        b->keys = nk;
        b->keys_cap = cap;
    }
    memcpy(b->keys + at, s, len);
    b->key_len[b->depth - 1] = len;
    b->keys_len = at + len;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static void locate(const char *data, size_t len, size_t pos, lanes_json_error *err)
{
    if (pos > len)
        pos = len;
    err->position = pos;
    err->line = 1;
    err->column = 1;
    for (size_t i = 0; i < pos; i++) {
        if (data[i] == '\n') {
            err->line++;
            err->column = 1;
        } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
            err->column++;
        }
    }
}

/* yajl's own message ("lexical error: invalid char in json text."), one line. */
static void yajl_text(yajl_handle h, const char *data, size_t len, char *out, size_t cap)
{
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)data, len);
    snprintf(out, cap, "%s", msg ? (const char *)msg : "invalid JSON");
    if (msg)
        yajl_free_error(h, msg);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '.'))
        out[--n] = '\0';
}

json_t *lanes_json_load(const char *data, size_t len, lanes_json_error *err)
{
    builder *b = malloc(sizeof *b);   /* 12 KiB of stacks: only the fields below need a start */
    if (b) {
        b->root = NULL;
        b->keys = NULL;
        b->keys_len = b->keys_cap = 0;
        b->depth = 0;
        b->why[0] = '\0';
        b->why_at = SIZE_MAX;
        b->data = data;
        b->has_u = len >= 2 && memmem(data, len, "\\u", 2) != NULL;
    }
    yajl_handle h = b ? yajl_alloc(&callbacks, NULL, b) : NULL;
    if (b)
        b->h = h;
    if (!h) {
        free(b);
        memset(err, 0, sizeof *err);
        snprintf(err->text, sizeof err->text, "out of memory");
        return NULL;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)data, len);
    size_t where = yajl_get_bytes_consumed(h);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        where = len;   /* the text ended too soon */
    }
    json_t *root = b->root;
    if (st != yajl_status_ok) {
        if (st == yajl_status_client_canceled && b->why_at != SIZE_MAX)
            where = b->why_at;   /* the byte itself, not the end of its token */
        locate(data, len, where, err);
        if (st == yajl_status_client_canceled)
            snprintf(err->text, sizeof err->text, "%s", b->why);
        else
            yajl_text(h, data, len, err->text, sizeof err->text);
        json_decref(root);
        root = NULL;
    }
    yajl_free(h);
    free(b->keys);
    free(b);
    return root;
}
