/*
 * router.c — a trie over path segments (see router.h).
 *
 * Built once by lanes_router_add before the server starts; afterwards it is
 * only read, by many threads at once, so lanes_router_match must never write
 * to the router, allocate or lock. Adding routes while matching is not allowed.
 *
 * Paths are split on raw '/' (so "%2F" inside a parameter value does not split
 * it) into segments: "/" is one empty segment, "/items/" is "items" then an
 * empty segment, so "/items" and "/items/" are different paths and nothing
 * redirects between them (FastAPI with redirect_slashes off). A literal child
 * beats the parameter child at the same depth; if the literal branch fails
 * deeper, the search backtracks into the parameter branch. Every trie node sits
 * at one depth and the request segment at that depth is fixed, so each node is
 * visited at most once: matching is linear in the size of the trie, whatever
 * the request.
 */
#include "app/router.h"
#include "app/params.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the recursion of a match, which may run on a small coroutine stack. */
#define MAX_SEGMENTS 128

typedef struct route {
    unsigned method_bit;
    char *pattern;
    void *data;
    int nparams;
    const char *names[LANES_MAX_PARAMS];
    lanes_ptype types[LANES_MAX_PARAMS];
    char *namebuf;
} route;

typedef struct rnode rnode;
struct rnode {
    char *lit;              /* decoded literal of the segment leading here */
    size_t litlen;
    rnode **kids;           /* literal children */
    size_t nkids, kidcap;
    rnode *param;           /* the parameter child, shared by every name/type */
    rnode *rest;            /* the {x:path} child: takes the rest of the path; always a leaf */
    route *by_method[LANES_NMETHODS];
    unsigned mask;          /* methods with a route ending here */
};

struct lanes_router {
    rnode root;             /* before the first segment; never a terminal */
    route **routes;         /* registration order */
    size_t nroutes, cap;
};

/* ---- methods (names and bits: http/message.h) ----------------------------- */

static int method_index(unsigned bit)
{
    for (int i = 0; i < LANES_NMETHODS; i++)
        if (bit == 1u << i)
            return i;
    return -1;
}

/* ---- building -------------------------------------------------------------- */

lanes_router *lanes_router_new(void)
{
    return calloc(1, sizeof(lanes_router));
}

static void node_free(rnode *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    if (n->param) {
        node_free(n->param);
        free(n->param);
    }
    if (n->rest) {
        node_free(n->rest);
        free(n->rest);
    }
    free(n->lit);
}

static void route_free(route *rt)
{
    free(rt->pattern);
    free(rt->namebuf);
    free(rt);
}

void lanes_router_free(lanes_router *r)
{
    if (!r)
        return;
    node_free(&r->root);
    for (size_t i = 0; i < r->nroutes; i++)
        route_free(r->routes[i]);
    free(r->routes);
    free(r);
}

/* One pattern segment after parsing. */
typedef struct {
    int is_param;
    const char *text;       /* literal: raw text; param: the name */
    size_t len;
    lanes_ptype type;
} pseg;

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Says why a pattern is refused, when the caller asked (why != NULL). */
static int refuse(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

#define PATH_TYPES "types: int, double, str, bool, path"

static int parse_param(const char *pattern, const char *s, size_t len, pseg *out, char *why, size_t cap)
{
    /* s is "{...}" */
    const char *in = s + 1;
    size_t inlen = len - 2;
    const char *colon = memchr(in, ':', inlen);
    size_t nlen = colon ? (size_t)(colon - in) : inlen;
    if (nlen == 0)
        return refuse(why, cap, "parameter without a name in %s", pattern);
    for (size_t i = 0; i < nlen; i++)
        if (!is_name_char(in[i]))
            return refuse(why, cap, "bad parameter name '%.*s' in %s (letters, digits and _ only)",
                          (int)nlen, in, pattern);
    out->is_param = 1;
    out->text = in;
    out->len = nlen;
    out->type = LANES_PT_STR;
    if (colon) {
        static const struct {
            const char *name;
            lanes_ptype type;
        } types[] = {
            { "int", LANES_PT_INT }, { "double", LANES_PT_DOUBLE }, { "str", LANES_PT_STR },
            { "bool", LANES_PT_BOOL }, { "path", LANES_PT_PATH },
        };
        const char *t = colon + 1;
        size_t tl = inlen - nlen - 1;
        size_t i;
        for (i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strlen(types[i].name) == tl && memcmp(t, types[i].name, tl) == 0)
                break;
        if (i == sizeof types / sizeof types[0])
            return refuse(why, cap, "unknown type '%.*s' in %s; " PATH_TYPES, (int)tl, t, pattern);
        out->type = types[i].type;
    }
    return 0;
}

/* Validates the whole pattern before touching the trie, so a bad pattern
 * changes nothing. Returns the segment count or -EINVAL (why says it). */
static int parse_pattern(const char *pattern, pseg *segs, int *nparams, char *why, size_t cap)
{
    if (!pattern || pattern[0] != '/')
        return refuse(why, cap, "pattern '%s' does not start with '/'", pattern ? pattern : "(null)");
    int n = 0, np = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= MAX_SEGMENTS)
            return refuse(why, cap, "more than %d segments in %s", MAX_SEGMENTS, pattern);
        if (n > 0 && segs[n - 1].is_param && segs[n - 1].type == LANES_PT_PATH)
            return refuse(why, cap, "{%.*s:path} takes the rest of the path: it must be the last segment of %s",
                          (int)segs[n - 1].len, segs[n - 1].text, pattern);
        pseg *sg = &segs[n];
        if (memchr(p, '?', len) || memchr(p, '#', len))
            return refuse(why, cap, "'?' or '#' in %s: a pattern is a path; declare query parameters "
                          "in lanes_route_opts.query", pattern);
        int open = memchr(p, '{', len) != NULL, close = memchr(p, '}', len) != NULL;
        if (open || close) {
            if (len < 2 || p[0] != '{' || p[len - 1] != '}' ||
                memchr(p + 1, '{', len - 2) || memchr(p + 1, '}', len - 2))
                return refuse(why, cap, "segment '%.*s' of %s: a parameter is a whole segment, {name} or {name:type}",
                              (int)len, p, pattern);
            if (np >= LANES_MAX_PARAMS)
                return refuse(why, cap, "more than %d parameters in %s", LANES_MAX_PARAMS, pattern);
            if (parse_param(pattern, p, len, sg, why, cap))
                return -EINVAL;
            for (int i = 0; i < n; i++)
                if (segs[i].is_param && segs[i].len == sg->len &&
                    memcmp(segs[i].text, sg->text, sg->len) == 0)
                    return refuse(why, cap, "duplicate parameter {%.*s} in %s", (int)sg->len, sg->text, pattern);
            np++;
        } else {
            sg->is_param = 0;
            sg->text = p;
            sg->len = len;
            sg->type = LANES_PT_STR;
        }
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    *nparams = np;
    return n;
}

/* Literals must decode (no bad or NUL escapes). 0, -EINVAL or -ENOMEM. */
static int check_literals(const char *pattern, const pseg *segs, int nsegs, char *why, size_t cap)
{
    char tmp[256];
    for (int i = 0; i < nsegs; i++) {
        if (segs[i].is_param)
            continue;
        char *d = segs[i].len < sizeof tmp ? tmp : malloc(segs[i].len + 1);
        if (!d)
            return -ENOMEM;
        long rc = lanes_pct_decode(segs[i].text, segs[i].len, d, segs[i].len + 1, 0);
        if (d != tmp)
            free(d);
        if (rc < 0)
            return refuse(why, cap, "bad percent-escape in segment '%.*s' of %s",
                          (int)segs[i].len, segs[i].text, pattern);
    }
    return 0;
}

void lanes_router_explain(const char *pattern, char *why, size_t cap)
{
    pseg segs[MAX_SEGMENTS];
    int np;
    if (!cap)
        return;
    why[0] = '\0';
    int n = parse_pattern(pattern, segs, &np, why, cap);
    if (n >= 0)
        check_literals(pattern, segs, n, why, cap);
}

static rnode *new_literal(const char *raw, size_t len)
{
    rnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->lit = malloc(len + 1);
    long dl = n->lit ? lanes_pct_decode(raw, len, n->lit, len + 1, 0) : -ENOMEM;
    if (dl < 0) {
        free(n->lit);
        free(n);
        return NULL;
    }
    n->litlen = (size_t)dl;
    return n;
}

static rnode *find_literal(const rnode *n, const char *lit, size_t len)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->litlen == len && memcmp(n->kids[i]->lit, lit, len) == 0)
            return n->kids[i];
    return NULL;
}

/* Literal child for raw text, created if missing. */
static int literal_child(rnode *n, const char *raw, size_t len, rnode **out)
{
    rnode *k = new_literal(raw, len);
    if (!k)
        return -ENOMEM;
    rnode *have = find_literal(n, k->lit, k->litlen);
    if (have) {
        node_free(k);
        free(k);
        *out = have;
        return 0;
    }
    if (n->nkids == n->kidcap) {
        size_t cap = n->kidcap ? n->kidcap * 2 : 4;
        rnode **kids = realloc(n->kids, cap * sizeof *kids);
        if (!kids) {
            node_free(k);
            free(k);
            return -ENOMEM;
        }
        n->kids = kids;
        n->kidcap = cap;
    }
    n->kids[n->nkids++] = k;
    *out = k;
    return 0;
}

static int param_child(rnode *n, rnode **out)
{
    if (!n->param) {
        n->param = calloc(1, sizeof *n->param);
        if (!n->param)
            return -ENOMEM;
    }
    *out = n->param;
    return 0;
}

static int rest_child(rnode *n, rnode **out)
{
    if (!n->rest) {
        n->rest = calloc(1, sizeof *n->rest);
        if (!n->rest)
            return -ENOMEM;
    }
    *out = n->rest;
    return 0;
}

static route *route_new(unsigned bit, const char *pattern, void *data, const pseg *segs, int nsegs)
{
    route *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    size_t plen = strlen(pattern);
    rt->pattern = malloc(plen + 1);
    rt->namebuf = malloc(plen + 1);   /* names are shorter than the pattern */
    if (!rt->pattern || !rt->namebuf) {
        route_free(rt);
        return NULL;
    }
    memcpy(rt->pattern, pattern, plen + 1);
    rt->method_bit = bit;
    rt->data = data;
    char *w = rt->namebuf;
    for (int i = 0; i < nsegs; i++) {
        if (!segs[i].is_param)
            continue;
        memcpy(w, segs[i].text, segs[i].len);
        w[segs[i].len] = '\0';
        rt->names[rt->nparams] = w;
        rt->types[rt->nparams] = segs[i].type;
        rt->nparams++;
        w += segs[i].len + 1;
    }
    return rt;
}

int lanes_router_add(lanes_router *r, unsigned method_bit, const char *pattern, void *data)
{
    int mi = method_index(method_bit);
    if (!r || mi < 0)
        return -EINVAL;
    pseg segs[MAX_SEGMENTS];
    int nparams;
    int nsegs = parse_pattern(pattern, segs, &nparams, NULL, 0);
    if (nsegs < 0)
        return nsegs;
    /* Check literals decode before creating nodes (a failure after this point
     * can only be -ENOMEM, which leaves at most empty, unreachable-as-terminal
     * nodes behind). */
    int lrc = check_literals(pattern, segs, nsegs, NULL, 0);
    if (lrc < 0)
        return lrc;
    rnode *n = &r->root;
    for (int i = 0; i < nsegs; i++) {
        int rc = !segs[i].is_param ? literal_child(n, segs[i].text, segs[i].len, &n)
               : segs[i].type == LANES_PT_PATH ? rest_child(n, &n) : param_child(n, &n);
        if (rc)
            return rc;
    }
    if (n->by_method[mi])
        return -EEXIST;
    if (r->nroutes == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        route **rs = realloc(r->routes, cap * sizeof *rs);
        if (!rs)
            return -ENOMEM;
        r->routes = rs;
        r->cap = cap;
    }
    route *rt = route_new(method_bit, pattern, data, segs, nsegs);
    if (!rt)
        return -ENOMEM;
    r->routes[r->nroutes++] = rt;
    n->by_method[mi] = rt;
    n->mask |= method_bit;
    return 0;
}

void lanes_router_each(const lanes_router *r, lanes_router_visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < r->nroutes; i++)
        fn(ctx, r->routes[i]->method_bit, r->routes[i]->pattern, r->routes[i]->data);
}

/* ---- matching -------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} slice;

typedef struct {
    unsigned method_bit;
    const char *path;
    size_t len;
    slice caps[LANES_MAX_PARAMS];
    int ncaps;
    unsigned allowed;
    const route *found;
} mctx;

static int hexv(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The path was validated, so every '%' here is followed by two hex digits. */
static int segment_equals(const rnode *k, const char *seg, size_t len, int has_pct)
{
    if (!has_pct)
        return k->litlen == len && memcmp(k->lit, seg, len) == 0;
    size_t o = 0;
    for (size_t i = 0; i < len; o++) {
        unsigned char c = (unsigned char)seg[i];
        if (c == '%') {
            c = (unsigned char)(hexv((unsigned char)seg[i + 1]) * 16 + hexv((unsigned char)seg[i + 2]));
            i += 3;
        } else {
            i++;
        }
        if (o >= k->litlen || (unsigned char)k->lit[o] != c)
            return 0;
    }
    return o == k->litlen;
}

/* HEAD is answered by a GET route unless an explicit HEAD route exists. */
static const route *pick(const rnode *n, unsigned bit)
{
    int mi = method_index(bit);
    if (mi >= 0 && n->by_method[mi])
        return n->by_method[mi];
    if (bit == LANES_M_HEAD)
        return n->by_method[0];
    return NULL;
}

static int visit(const rnode *n, size_t pos, mctx *c);

/* Enters child k for the segment ending at end: a terminal if the path ends there. */
static int enter(const rnode *k, size_t end, mctx *c)
{
    if (end < c->len)
        return visit(k, end + 1, c);
    if (k->mask) {
        c->allowed |= k->mask;
        c->found = pick(k, c->method_bit);
    }
    return c->found != NULL;
}

/* Returns 1 when a route for the method was found; otherwise keeps collecting
 * the methods of every route whose path matched, for the 405 answer. */
static int visit(const rnode *n, size_t pos, mctx *c)
{
    const char *seg = c->path + pos;
    const char *slash = memchr(seg, '/', c->len - pos);
    size_t slen = slash ? (size_t)(slash - seg) : c->len - pos;
    size_t end = pos + slen;
    int has_pct = memchr(seg, '%', slen) != NULL;
    for (size_t i = 0; i < n->nkids; i++) {
        if (segment_equals(n->kids[i], seg, slen, has_pct)) {
            if (enter(n->kids[i], end, c))
                return 1;
            break;   /* sibling literals are distinct: no other can match */
        }
    }
    if (n->param && slen > 0 && c->ncaps < LANES_MAX_PARAMS) {
        c->caps[c->ncaps].p = seg;
        c->caps[c->ncaps].len = slen;
        c->ncaps++;
        if (enter(n->param, end, c))
            return 1;
        c->ncaps--;
    }
    /* Last resort, as in Starlette: {x:path} takes everything left. */
    if (n->rest && n->rest->mask && c->ncaps < LANES_MAX_PARAMS) {
        c->caps[c->ncaps].p = seg;
        c->caps[c->ncaps].len = c->len - pos;
        c->ncaps++;
        c->allowed |= n->rest->mask;
        c->found = pick(n->rest, c->method_bit);
        if (c->found)
            return 1;
        c->ncaps--;
    }
    return 0;
}

/* Rejects what no route may see: not absolute, NUL bytes, bad or NUL escapes. */
static int path_valid(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch == '\0')
            return 0;
        if (ch != '%')
            continue;
        if (len - i < 3)
            return 0;
        unsigned char h = (unsigned char)path[i + 1], l = (unsigned char)path[i + 2];
        int hv = (h >= '0' && h <= '9') || ((h | 0x20) >= 'a' && (h | 0x20) <= 'f');
        int lv = (l >= '0' && l <= '9') || ((l | 0x20) >= 'a' && (l | 0x20) <= 'f');
        if (!hv || !lv || (h == '0' && l == '0'))
            return 0;
        i += 2;
    }
    return 1;
}

static int check_type(lanes_ptype t, const char *v)
{
    long long i;
    double d;
    int i2;
    if (t == LANES_PT_INT)
        return lanes_parse_int(v, &i);
    if (t == LANES_PT_DOUBLE)
        return lanes_parse_double(v, &d);
    if (t == LANES_PT_BOOL)
        return lanes_parse_bool(v, &i2);
    return 0;
}

/* Decodes the captured values into scratch; -ENOSPC if it is too small. */
static int fill_match(const mctx *c, char *scratch, size_t cap, lanes_match *m)
{
    const route *rt = c->found;
    size_t off = 0;
    m->data = rt->data;
    m->pattern = rt->pattern;
    m->nparams = rt->nparams;
    m->bad_param = -1;
    for (int i = 0; i < rt->nparams; i++) {
        long n = lanes_pct_decode(c->caps[i].p, c->caps[i].len, scratch + off, cap - off, 0);
        if (n < 0)
            return n == -ENOSPC ? -ENOSPC : -EINVAL;
        m->params[i].name = rt->names[i];
        m->params[i].value = scratch + off;
        m->params[i].type = rt->types[i];
        off += (size_t)n + 1;
        if (m->bad_param < 0 && check_type(rt->types[i], m->params[i].value))
            m->bad_param = i;
    }
    return 0;
}

int lanes_router_match(const lanes_router *r, unsigned method_bit,
                       const char *path, size_t path_len,
                       char *scratch, size_t scratch_cap,
                       lanes_match *m, unsigned *allowed)
{
    if (!path_valid(path, path_len))
        return -EINVAL;
    mctx c = { .method_bit = method_bit, .path = path, .len = path_len };
    if (visit(&r->root, 1, &c))
        return fill_match(&c, scratch, scratch_cap, m);
    if (!c.allowed)
        return -ENOENT;
    if (c.allowed & LANES_M_GET)
        c.allowed |= LANES_M_HEAD;
    if (allowed)
        *allowed = c.allowed;
    return -EPERM;
}
