/*
 * multipart.c — see multipart.h. Every search is bounded by the body's end;
 * nothing is read past len and nothing is written.
 *
 * A body is: a preamble (ignored), then for each part the delimiter line
 * "--" boundary [blanks] CRLF, the part's header lines, an empty line, its
 * bytes, then CRLF before the next delimiter; the last delimiter is
 * "--" boundary "--" (what follows it, the epilogue, is ignored).
 */
#include "http/multipart.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define MAX_PART_HEADERS 16

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -EINVAL;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int bchar(unsigned char c)
{
    /* RFC 2046 bcharsnospace, plus space inside. */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("'()+_,-./:=? ", c));
}

int lanes_mp_boundary(const char *ct, const char **b, size_t *blen, const char **why)
{
    if (!ct)
        return -ENOENT;
    while (is_blank(*ct))
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0 || (ct[19] && ct[19] != ';' && !is_blank(ct[19])))
        return -ENOENT;
    const char *p = ct + 19;
    while (*p) {
        while (*p == ';' || is_blank(*p))
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t nlen = (size_t)(p - name);
        while (nlen && is_blank(name[nlen - 1]))
            nlen--;
        if (*p != '=')
            continue;
        p++;
        const char *v = p, *ve;
        if (*p == '"') {
            v = ++p;
            while (*p && *p != '"')
                p++;
            if (*p != '"')
                return fail(why, "unterminated quoted boundary in Content-Type");
            ve = p++;
        } else {
            while (*p && *p != ';' && !is_blank(*p))
                p++;
            ve = p;
        }
        if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
            size_t n = (size_t)(ve - v);
            if (n == 0 || n > LANES_MP_BOUNDARY_MAX)
                return fail(why, "the multipart boundary must be 1 to 70 characters");
            for (size_t i = 0; i < n; i++)
                if (!bchar((unsigned char)v[i]))
                    return fail(why, "invalid character in the multipart boundary");
            *b = v;
            *blen = n;
            return 0;
        }
    }
    return fail(why, "multipart/form-data without a boundary parameter");
}

/* After a delimiter's "--boundary": blanks then CRLF (another part follows,
 * 1), or "--" (the close delimiter, 0). *pos moves past it. */
static int delimiter_end(const char *s, size_t len, size_t *pos, const char **why)
{
    size_t i = *pos;
    if (len - i >= 2 && s[i] == '-' && s[i + 1] == '-') {
        *pos = i + 2;
        return 0;
    }
    while (i < len && is_blank(s[i]))
        i++;
    if (len - i < 2)
        return fail(why, "multipart body truncated after a boundary");
    if (s[i] != '\r' || s[i + 1] != '\n')
        return fail(why, "multipart boundary line not ended by CRLF");
    *pos = i + 2;
    return 1;
}

/* The value of parameter pname in a Content-Disposition value [p, e):
 * quoted (a backslash escapes the next byte, kept as is) or a token. */
static int disp_param(const char *p, const char *e, const char *pname, const char **v, size_t *vlen)
{
    size_t pn = strlen(pname);
    while (p < e) {
        while (p < e && (*p == ';' || is_blank(*p)))
            p++;
        const char *name = p;
        while (p < e && *p != '=' && *p != ';')
            p++;
        const char *ne = p;
        while (ne > name && is_blank(ne[-1]))
            ne--;
        if (p >= e || *p != '=')
            continue;
        p++;
        while (p < e && is_blank(*p))
            p++;
        const char *vs, *ve;
        if (p < e && *p == '"') {
            vs = ++p;
            while (p < e && *p != '"')
                p += (*p == '\\' && p + 1 < e) ? 2 : 1;
            if (p >= e)
                return -EINVAL;
            ve = p++;
        } else {
            vs = p;
            while (p < e && *p != ';' && !is_blank(*p))
                p++;
            ve = p;
        }
        if ((size_t)(ne - name) == pn && strncasecmp(name, pname, pn) == 0) {
            *v = vs;
            *vlen = (size_t)(ve - vs);
            return 0;
        }
    }
    return -ENOENT;
}

/* The header lines of a part, [s, e) without the empty line. */
static int part_headers(const char *s, const char *e, lanes_mp_part *p, const char **why)
{
    int n = 0, disposition = 0;
    while (s < e) {
        const char *eol = memmem(s, (size_t)(e - s), "\r\n", 2);
        const char *le = eol ? eol : e;
        if (++n > MAX_PART_HEADERS)
            return fail(why, "too many headers in a multipart part");
        const char *colon = memchr(s, ':', (size_t)(le - s));
        if (!colon || colon == s)
            return fail(why, "malformed header line in a multipart part");
        size_t nlen = (size_t)(colon - s);
        const char *v = colon + 1;
        while (v < le && is_blank(*v))
            v++;
        const char *ve = le;
        while (ve > v && is_blank(ve[-1]))
            ve--;
        if (nlen == 19 && strncasecmp(s, "Content-Disposition", 19) == 0) {
            if ((size_t)(ve - v) < 9 || strncasecmp(v, "form-data", 9) != 0 ||
                (v + 9 < ve && v[9] != ';' && !is_blank(v[9])))
                return fail(why, "a multipart part whose Content-Disposition is not form-data");
            if (disp_param(v + 9, ve, "name", &p->name, &p->name_len) < 0)
                return fail(why, "a multipart part without a name in its Content-Disposition");
            const char *fn;
            size_t fl;
            int rc = disp_param(v + 9, ve, "filename", &fn, &fl);
            if (rc == -EINVAL)
                return fail(why, "unterminated quoted string in a Content-Disposition");
            if (rc == 0) {
                p->filename = fn;
                p->filename_len = fl;
            }
            disposition = 1;
        } else if (nlen == 12 && strncasecmp(s, "Content-Type", 12) == 0) {
            p->content_type = v;
            p->content_type_len = (size_t)(ve - v);
        }
        s = eol ? eol + 2 : e;
    }
    if (!disposition)
        return fail(why, "a multipart part without Content-Disposition");
    return 0;
}

int lanes_mp_parse(const char *body, size_t len, const char *b, size_t blen, int max_parts,
                   lanes_mp_part_fn part, void *ctx, const char **why)
{
    char delim[LANES_MP_BOUNDARY_MAX + 4];
    if (!b || blen == 0 || blen > LANES_MP_BOUNDARY_MAX)
        return fail(why, "the multipart boundary must be 1 to 70 characters");
    /* "\r\n--" boundary: what ends a part's data. The first delimiter may
     * also start the body (no preamble), hence the search from delim + 2. */
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b, blen);
    size_t dlen = blen + 4, pos;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        const char *first = len ? memmem(body, len, delim, dlen) : NULL;
        if (!first)
            return fail(why, "multipart body without its opening boundary");
        pos = (size_t)(first - body) + dlen;
    }
    int nparts = 0;
    for (;;) {
        int more = delimiter_end(body, len, &pos, why);
        if (more < 0)
            return more;
        if (more == 0)
            return 0;   /* the close delimiter: the epilogue is ignored */
        if (nparts++ >= max_parts)
            return fail(why, "too many parts in the multipart body");
        lanes_mp_part p;
        memset(&p, 0, sizeof p);
        const char *hs = body + pos;
        const char *he;
        if (len - pos >= 2 && hs[0] == '\r' && hs[1] == '\n') {
            he = hs;   /* no header lines at all */
            pos += 2;
        } else {
            he = memmem(hs, len - pos, "\r\n\r\n", 4);
            if (!he)
                return fail(why, "multipart part headers not ended by an empty line (truncated?)");
            pos = (size_t)(he - body) + 4;
        }
        int rc = part_headers(hs, he, &p, why);
        if (rc < 0)
            return rc;
        const char *end = memmem(body + pos, len - pos, delim, dlen);
        if (!end)
            return fail(why, "multipart body without its closing boundary (truncated?)");
        p.data = body + pos;
        p.len = (size_t)(end - (body + pos));
        pos = (size_t)(end - body) + dlen;
        rc = part(ctx, &p);
        if (rc < 0)
            return rc;
    }
}
