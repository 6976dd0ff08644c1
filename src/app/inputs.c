/*
 * inputs.c — see inputs.h. Values are found where the route declares them:
 * path (the router's match), query (decoded once into qbuf), header (the
 * message's header table, case-insensitive, every occurrence), cookie (the
 * Cookie headers, decoded once into cookies). Nothing here allocates per
 * lookup; the query and cookie tables are built on first use.
 *
 * Error items follow FastAPI/pydantic v2 (type, loc, msg, input), so clients
 * written against FastAPI's 422 read these the same way.
 */
#include "app/inputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/params.h"
#include "app/upload.h"

/* ---- query -------------------------------------------------------------------- */

/* Decodes the whole query once into qbuf, so every lanes_query() pointer stays
 * valid until the request ends (qbuf is never reallocated afterwards). */
static void parse_query(lanes_req *req)
{
    req->q_parsed = 1;
    req->nq = 0;
    if (req->msg.query_len == 0)
        return;
    size_t pairs = 1;
    for (size_t i = 0; i < req->msg.query_len; i++)
        pairs += req->msg.query[i] == '&';
    if ((int)pairs > req->qcap) {
        lanes_qpair *np = realloc(req->qpairs, pairs * sizeof *np);
        if (!np)
            return;
        req->qpairs = np;
        req->qcap = (int)pairs;
    }
    lanes_buf_reset(&req->qbuf);
    if (lanes_buf_reserve(&req->qbuf, req->msg.query_len + 2 * pairs + 1) < 0)
        return;
    const char *p = req->msg.query, *end = req->msg.query + req->msg.query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *nend = eq ? eq : stop;
        if (nend > p) {
            char *dst = req->qbuf.data + req->qbuf.len;
            size_t room = req->qbuf.cap - req->qbuf.len;
            long nl = lanes_pct_decode(p, (size_t)(nend - p), dst, room, 1);
            if (nl >= 0) {
                uint32_t name_off = (uint32_t)req->qbuf.len;
                req->qbuf.len += (size_t)nl + 1;
                dst = req->qbuf.data + req->qbuf.len;
                room = req->qbuf.cap - req->qbuf.len;
                const char *v = eq ? eq + 1 : stop;
                long vl = lanes_pct_decode(v, (size_t)(stop - v), dst, room, 1);
                if (vl >= 0) {
                    req->qpairs[req->nq].name = name_off;
                    req->qpairs[req->nq].value = (uint32_t)req->qbuf.len;
                    req->qbuf.len += (size_t)vl + 1;
                    req->nq++;
                } else {
                    req->qbuf.len = name_off;   /* malformed value: skip the pair */
                    char name[128];
                    snprintf(name, sizeof name, "%s", req->qbuf.data + name_off);
                    lanes_req_invalid(req, "query", name, "value_error",
                                      "Invalid percent-encoding", NULL);
                }
            }
        }
        p = stop + 1;
    }
}

/* ---- cookies ------------------------------------------------------------------ */

/* "a=1; b=\"2\"" from every Cookie header into cookies as "a\0001\0b\0002\0".
 * Pairs without '=' are skipped (browsers send none); quotes around a value
 * are removed (RFC 6265 4.1.1); no percent-decoding, as Starlette does. */
static void parse_cookies(lanes_req *req)
{
    req->c_parsed = 1;
    lanes_buf *b = &req->cookies;
    lanes_buf_reset(b);
    const lanes_http_msg *m = &req->msg;
    for (uint32_t i = 0; i < m->nhdrs; i++) {
        if (strcasecmp(m->head.data + m->hdrs[i].name, "cookie") != 0)
            continue;
        const char *p = m->head.data + m->hdrs[i].value;
        while (*p) {
            const char *semi = strchr(p, ';');
            const char *e = semi ? semi : p + strlen(p);
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq) {
                const char *n = p, *ne = eq, *v = eq + 1, *ve = e;
                while (n < ne && (*n == ' ' || *n == '\t'))
                    n++;
                while (ne > n && (ne[-1] == ' ' || ne[-1] == '\t'))
                    ne--;
                while (v < ve && (*v == ' ' || *v == '\t'))
                    v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"')
                    v++, ve--;
                if (ne > n && (lanes_buf_append(b, n, (size_t)(ne - n)) < 0 || lanes_buf_append(b, "", 1) < 0 ||
                               lanes_buf_append(b, v, (size_t)(ve - v)) < 0 || lanes_buf_append(b, "", 1) < 0))
                    return;
            }
            p = semi ? semi + 1 : e;
        }
    }
}

/* ---- values by place ------------------------------------------------------------ */

/* The next value of name in place in, from *cur on (an index into that
 * place's table, or a byte offset into the cookies); moves *cur past it.
 * NULL at the end. Walking a list this way is linear in the request. */
static const char *next_value(lanes_req *req, int in, const char *name, size_t *cur)
{
    if (in == LANES_IN_QUERY) {
        if (!req->q_parsed)
            parse_query(req);
        while (*cur < (size_t)req->nq) {
            const lanes_qpair *q = &req->qpairs[(*cur)++];
            if (strcmp(req->qbuf.data + q->name, name) == 0)
                return req->qbuf.data + q->value;
        }
        return NULL;
    }
    if (in == LANES_IN_HEADER) {
        const lanes_http_msg *m = &req->msg;
        while (*cur < m->nhdrs) {
            const lanes_hdr *h = &m->hdrs[(*cur)++];
            if (strcasecmp(m->head.data + h->name, name) == 0)
                return m->head.data + h->value;
        }
        return NULL;
    }
    if (in == LANES_IN_COOKIE) {
        if (!req->c_parsed)
            parse_cookies(req);
        while (*cur < req->cookies.len) {
            const char *cn = req->cookies.data + *cur;
            const char *cv = cn + strlen(cn) + 1;
            *cur = (size_t)(cv - req->cookies.data) + strlen(cv) + 1;
            if (strcmp(cn, name) == 0)
                return cv;
        }
        return NULL;
    }
    if (*cur > 0)
        return NULL;
    *cur = 1;
    return lanes_path_param(req, name);
}

/* The idx-th value of name in place in (NULL if there are fewer); *count
 * (if given) gets how many there are. */
static const char *value_at(lanes_req *req, int in, const char *name, int idx, int *count)
{
    const char *found = NULL, *v;
    size_t cur = 0;
    int n = 0;
    while ((v = next_value(req, in, name, &cur))) {
        if (n++ == idx) {
            found = v;
            if (!count)
                break;
        }
    }
    if (count)
        *count = n;
    return found;
}

static const lanes_pdecl *find_decl(const lanes_route_def *r, int in, const char *name)
{
    for (int i = 0; r && i < r->ndecl; i++) {
        const lanes_pdecl *d = &r->decl[i];
        if (d->in == in && (in == LANES_IN_HEADER ? strcasecmp(d->name, name) : strcmp(d->name, name)) == 0)
            return d;
    }
    return NULL;
}

/* ---- 422 items ------------------------------------------------------------------ */

static void invalid_type(lanes_req *req, int in, const char *name, int index, const lanes_pdecl *d,
                         int type, const char *input)
{
    const char *loc = lanes_in_name(in);
    switch (type) {
    case LANES_PT_INT:
        lanes_req_invalid_at(req, loc, name, index, "int_parsing",
                             "Input should be a valid integer, unable to parse string as an integer", input);
        return;
    case LANES_PT_DOUBLE:
        lanes_req_invalid_at(req, loc, name, index, "float_parsing",
                             "Input should be a valid number, unable to parse string as a number", input);
        return;
    case LANES_PT_BOOL:
        lanes_req_invalid_at(req, loc, name, index, "bool_parsing",
                             "Input should be a valid boolean, unable to interpret input", input);
        return;
    case LANES_PT_ENUM: {
        /* pydantic: "Input should be 'a', 'b' or 'c'" */
        char msg[LANES_DECL_TEXT + 64];
        size_t o = (size_t)snprintf(msg, sizeof msg, "Input should be ");
        for (int k = 0; d && k < d->nchoices && o < sizeof msg; k++)
            o += (size_t)snprintf(msg + o, sizeof msg - o, "%s'%s'",
                                  k == 0 ? "" : k == d->nchoices - 1 ? " or " : ", ", lanes_pdecl_choice(d, k));
        lanes_req_invalid_at(req, loc, name, index, "enum", msg, input);
        return;
    }
    }
}

/* ---- the check before the handler -------------------------------------------------- */

static void check_decl(lanes_req *req, const lanes_pdecl *d)
{
    int n;
    const char *v = value_at(req, d->in, d->name, 0, &n);
    if (n == 0) {
        if (d->required)
            lanes_req_invalid(req, lanes_in_name(d->in), d->name, "missing", "Field required", NULL);
        return;
    }
    if (!d->list) {
        if (lanes_pdecl_check(d, v) < 0)
            invalid_type(req, d->in, d->name, -1, d, d->type, v);
        return;
    }
    size_t cur = 0;
    const char *item;
    for (int i = 0; (item = next_value(req, d->in, d->name, &cur)); i++)
        if (lanes_pdecl_check(d, item) < 0)
            invalid_type(req, d->in, d->name, i, d, d->type, item);
}

int lanes_req_validate(lanes_req *req)
{
    const lanes_route_def *r = req->route;
    /* Every typed path parameter, not only the first that fails. */
    for (int i = 0; i < req->match.nparams; i++) {
        const lanes_param *p = &req->match.params[i];
        long long li;
        double d;
        int b;
        int bad = (p->type == LANES_PT_INT && lanes_parse_int(p->value, &li) < 0) ||
                  (p->type == LANES_PT_DOUBLE && lanes_parse_double(p->value, &d) < 0) ||
                  (p->type == LANES_PT_BOOL && lanes_parse_bool(p->value, &b) < 0);
        if (bad)
            invalid_type(req, LANES_IN_PATH, p->name, -1, NULL, p->type, p->value);
    }
    for (int i = 0; i < r->ndecl; i++)
        check_decl(req, &r->decl[i]);
    if (r->nfiles > 0 && lanes_form_check(req) < 0)
        return -EINVAL;   /* 400 or 415, recorded: it replaces any 422 */
    return req->errors.len ? -EINVAL : 0;
}

/* ---- typed accessors ----------------------------------------------------------------- */

static const char *type_word(int type)
{
    switch (type) {
    case LANES_PT_INT: return "int";
    case LANES_PT_DOUBLE: return "double";
    case LANES_PT_BOOL: return "bool";
    case LANES_PT_ENUM: return "enum";
    case LANES_PT_PATH: return "path";
    }
    return "str";
}

/* What a typed getter reads: the value, else the declared default, else NULL
 * (*def_used: the value came from the declaration). *ok = 0 after a
 * programmer error (recorded as misuse). want: the getter's type; STR reads
 * any declared type as text. */
static const char *lookup(lanes_req *req, int in, const char *name, int want, int want_list, int *ok)
{
    const lanes_route_def *r = req->route;
    *ok = 1;
    if (!name) {
        lanes_req_misuse(req, "a %s parameter asked for with a NULL name", lanes_in_name(in));
        *ok = 0;
        return NULL;
    }
    if (in == LANES_IN_PATH) {
        int type = -1;
        for (int i = 0; i < req->match.nparams; i++)
            if (strcmp(req->match.params[i].name, name) == 0)
                type = req->match.params[i].type;
        if (type < 0) {
            lanes_req_misuse(req, "path parameter '%s' is not in the route's pattern", name);
            *ok = 0;
            return NULL;
        }
        /* Untyped ({id}) is text: any getter may read it, a bad value is a 422. */
        int fits = want == LANES_PT_STR || type == LANES_PT_STR || want == type ||
                   (want == LANES_PT_DOUBLE && type == LANES_PT_INT);
        if (!fits) {
            lanes_req_misuse(req, "path parameter '%s' is declared %s, read as %s", name, type_word(type),
                             type_word(want));
            *ok = 0;
            return NULL;
        }
        return lanes_path_param(req, name);
    }
    const lanes_pdecl *d = find_decl(r, in, name);
    if (!d) {
        if (r && r->declares[in]) {
            lanes_req_misuse(req, "%s parameter '%s' is not declared in lanes_route_opts.%s",
                             lanes_in_name(in), name, lanes_in_name(in));
            *ok = 0;
            return NULL;
        }
        return value_at(req, in, name, 0, NULL);   /* undeclared place: read ad hoc */
    }
    int fits = want == LANES_PT_STR || d->type == LANES_PT_STR || want == d->type ||
               (want == LANES_PT_DOUBLE && d->type == LANES_PT_INT);
    if (!fits || want_list != d->list) {
        lanes_req_misuse(req, "%s parameter '%s' is declared %s%s, read as %s%s", lanes_in_name(in), name,
                         d->list ? "a list of " : "", type_word(d->type), want_list ? "a list of " : "",
                         type_word(want));
        *ok = 0;
        return NULL;
    }
    const char *v = value_at(req, in, name, 0, NULL);
    return v ? v : lanes_pdecl_default(d);
}

static long long get_int(lanes_req *req, int in, const char *name, long long def)
{
    int ok;
    const char *v = lookup(req, in, name, LANES_PT_INT, 0, &ok);
    long long out;
    if (!v)
        return def;
    if (lanes_parse_int(v, &out) < 0) {
        invalid_type(req, in, name, -1, NULL, LANES_PT_INT, v);
        return def;
    }
    return out;
}

static double get_double(lanes_req *req, int in, const char *name, double def)
{
    int ok;
    const char *v = lookup(req, in, name, LANES_PT_DOUBLE, 0, &ok);
    double out;
    if (!v)
        return def;
    if (lanes_parse_double(v, &out) < 0) {
        invalid_type(req, in, name, -1, NULL, LANES_PT_DOUBLE, v);
        return def;
    }
    return out;
}

static int get_bool(lanes_req *req, int in, const char *name, int def)
{
    int ok;
    const char *v = lookup(req, in, name, LANES_PT_BOOL, 0, &ok);
    int out;
    if (!v)
        return def;
    if (lanes_parse_bool(v, &out) < 0) {
        invalid_type(req, in, name, -1, NULL, LANES_PT_BOOL, v);
        return def;
    }
    return out;
}

static const char *get_str(lanes_req *req, int in, const char *name, const char *def)
{
    int ok;
    const char *v = lookup(req, in, name, LANES_PT_STR, 0, &ok);
    return v ? v : def;
}

/* Fills out[0..max) with the values (converted by fill, if given). Returns
 * the count. Items of a declared list[int] were checked before the handler;
 * an undeclared or list[str] item that is not a number reads as 0. */
static int get_list(lanes_req *req, int in, const char *name, int want,
                    void (*fill)(void *out, int i, const char *v), void *out, int max)
{
    int ok, n;
    lookup(req, in, name, want, 1, &ok);
    if (!ok)
        return 0;
    size_t cur = 0;
    const char *v;
    for (n = 0; (v = next_value(req, in, name, &cur)); n++) {
        if (n >= max)
            continue;   /* counted, not stored */
        if (fill)
            fill(out, n, v);
        else
            ((const char **)out)[n] = v;
    }
    return n;
}

static void fill_int(void *out, int i, const char *v)
{
    long long x = 0;
    lanes_parse_int(v, &x);   /* checked before the handler ran */
    ((long long *)out)[i] = x;
}

static void fill_double(void *out, int i, const char *v)
{
    double x = 0;
    if (lanes_parse_double(v, &x) < 0) {
        long long li = 0;
        lanes_parse_int(v, &li);
        x = (double)li;
    }
    ((double *)out)[i] = x;
}

/* ---- the public getters ----------------------------------------------------------------- */

long long lanes_path_int(lanes_req *req, const char *name) { return get_int(req, LANES_IN_PATH, name, 0); }
double lanes_path_double(lanes_req *req, const char *name) { return get_double(req, LANES_IN_PATH, name, 0); }
int lanes_path_bool(lanes_req *req, const char *name) { return get_bool(req, LANES_IN_PATH, name, 0); }
const char *lanes_path_str(lanes_req *req, const char *name) { return get_str(req, LANES_IN_PATH, name, NULL); }

const char *lanes_path_param(const lanes_req *req, const char *name)
{
    for (int i = 0; name && i < req->match.nparams; i++)
        if (strcmp(req->match.params[i].name, name) == 0)
            return req->match.params[i].value;
    return NULL;
}

const char *lanes_query(lanes_req *req, const char *name)
{
    return name ? value_at(req, LANES_IN_QUERY, name, 0, NULL) : NULL;
}

long long lanes_query_int(lanes_req *req, const char *name, long long def)
{
    return get_int(req, LANES_IN_QUERY, name, def);
}

double lanes_query_double(lanes_req *req, const char *name, double def)
{
    return get_double(req, LANES_IN_QUERY, name, def);
}

const char *lanes_query_str(lanes_req *req, const char *name, const char *def)
{
    return get_str(req, LANES_IN_QUERY, name, def);
}

int lanes_query_bool(lanes_req *req, const char *name, int def)
{
    return get_bool(req, LANES_IN_QUERY, name, def);
}

int lanes_query_list(lanes_req *req, const char *name, const char **out, int max)
{
    return get_list(req, LANES_IN_QUERY, name, LANES_PT_STR, NULL, out, max);
}

int lanes_query_ints(lanes_req *req, const char *name, long long *out, int max)
{
    return get_list(req, LANES_IN_QUERY, name, LANES_PT_INT, fill_int, out, max);
}

int lanes_query_doubles(lanes_req *req, const char *name, double *out, int max)
{
    return get_list(req, LANES_IN_QUERY, name, LANES_PT_DOUBLE, fill_double, out, max);
}

const char *lanes_header_str(lanes_req *req, const char *name, const char *def)
{
    return get_str(req, LANES_IN_HEADER, name, def);
}

long long lanes_header_int(lanes_req *req, const char *name, long long def)
{
    return get_int(req, LANES_IN_HEADER, name, def);
}

double lanes_header_double(lanes_req *req, const char *name, double def)
{
    return get_double(req, LANES_IN_HEADER, name, def);
}

int lanes_header_bool(lanes_req *req, const char *name, int def)
{
    return get_bool(req, LANES_IN_HEADER, name, def);
}

int lanes_header_list(lanes_req *req, const char *name, const char **out, int max)
{
    return get_list(req, LANES_IN_HEADER, name, LANES_PT_STR, NULL, out, max);
}

const char *lanes_cookie(lanes_req *req, const char *name)
{
    return name ? value_at(req, LANES_IN_COOKIE, name, 0, NULL) : NULL;
}

const char *lanes_cookie_str(lanes_req *req, const char *name, const char *def)
{
    return get_str(req, LANES_IN_COOKIE, name, def);
}

long long lanes_cookie_int(lanes_req *req, const char *name, long long def)
{
    return get_int(req, LANES_IN_COOKIE, name, def);
}

double lanes_cookie_double(lanes_req *req, const char *name, double def)
{
    return get_double(req, LANES_IN_COOKIE, name, def);
}

int lanes_cookie_bool(lanes_req *req, const char *name, int def)
{
    return get_bool(req, LANES_IN_COOKIE, name, def);
}
