/*
 * response.c — the response half of the public API (lanes_send and friends),
 * callable from the loop or a pool thread: they only write into the request.
 * Serialization of the head happens later, on the loop thread, which owns
 * the cached Date line (lanes_response_head).
 */
#include "app/response.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>
#include <string.h>

#include "app/rt.h"
#include "http/head.h"

int lanes_send(lanes_req *req, int status, const char *content_type, const void *body, size_t len)
{
    /* 1xx are interim answers, never final ones (100 Continue is the
     * server's business): a handler must answer 200..599. */
    if (!req || status < 200 || status > 599)
        return -EINVAL;
    size_t ct_len = content_type ? strlen(content_type) : 0;
    if (ct_len >= sizeof req->content_type || (ct_len && strpbrk(content_type, "\r\n")))
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    if (len && lanes_buf_append(&req->res_body, body, len) < 0)
        return -ENOMEM;
    /* memcpy, not snprintf: this runs for every answer (callgrind: snprintf
     * was ~12% of GET /'s user instructions with the head's). */
    memcpy(req->content_type, content_type ? content_type : "", ct_len);
    req->content_type[ct_len] = '\0';
    req->status = status;
    req->responded = 1;
    return 0;
}

int lanes_json(lanes_req *req, int status, const char *json)
{
    return lanes_send(req, status, "application/json", json, json ? strlen(json) : 0);
}

/* The body was written straight into res_body by the caller (rc is how that
 * went): make it the JSON answer. */
static int json_body_done(lanes_req *req, int status, int rc)
{
    if (rc < 0)
        return rc;
    memcpy(req->content_type, "application/json", sizeof "application/json");
    req->status = status;
    req->responded = 1;
    return 0;
}

/*
 * lanes_jsonf — printf for JSON that cannot be injected. A value can only
 * enter the text as a JSON value, never as raw text: %s writes a complete JSON
 * string (quotes included, escaped; invalid UTF-8 becomes U+FFFD; NULL writes
 * null), numbers are written as JSON numbers (NaN and infinities as null).
 * Whatever a client sends, the value cannot close a string or open a key.
 *
 * Why this design rather than a %j/%q directive with %s refused at compile
 * time: the printf format attribute keeps checking every argument's type
 * (a %q would need the check turned off), and C has no portable way to scan
 * a format string at compile time. What printf would let turn a value into
 * non-JSON text is refused when the call runs: a %s inside a JSON string of
 * the format (the old "\"%s\"" spelling), %c, %x, %o, %p, %n, %a and the
 * '+', ' ', '#', '0' flags ("+1", "0042" and "1." are not JSON numbers).
 * A refused call answers 500 naming the route and the reason (logged once),
 * so the mistake shows on the first request that reaches it, in any test.
 */
typedef struct {
    int left, width, prec;     /* prec -1: none */
    char len[3];               /* "", "hh", "h", "l", "ll", "z", "j", "t", "L" */
    char conv;
} jspec;

/* Parses the directive after '%'; *pp ends past it. NULL or a reason. */
static const char *parse_spec(const char **pp, jspec *sp, va_list *ap)
{
    const char *p = *pp;
    memset(sp, 0, sizeof *sp);
    sp->prec = -1;
    for (; strchr("-+ #0'", *p) && *p; p++) {
        if (*p != '-')
            return "flags + space # 0 ' make text that is not a JSON number";
        sp->left = 1;
    }
    if (*p == '*') {
        sp->width = va_arg(*ap, int);
        p++;
    } else {
        for (; *p >= '0' && *p <= '9'; p++)
            sp->width = sp->width * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        sp->prec = 0;
        if (*p == '*') {
            sp->prec = va_arg(*ap, int);
            p++;
        } else {
            for (; *p >= '0' && *p <= '9'; p++)
                sp->prec = sp->prec * 10 + (*p - '0');
        }
    }
    size_t ln = 0;
    while (strchr("hlzjtL", *p) && *p && ln < 2)
        sp->len[ln++] = *p++;
    sp->conv = *p ? *p++ : '\0';
    *pp = p;
    if (sp->width < 0 || sp->width > 64 || sp->prec > 64)
        return "width or precision out of range (0..64)";
    if (!strchr("diufFeEgGs", sp->conv) || !sp->conv)
        return "only %d %i %u %f %e %g %s and %% may be used in JSON";
    if (sp->conv == 's' && sp->len[0])
        return "%s takes a char string (no length modifier)";
    return NULL;
}

static long long signed_arg(const char *l, va_list *ap)
{
    if (!strcmp(l, "ll"))
        return va_arg(*ap, long long);
    if (!strcmp(l, "l"))
        return va_arg(*ap, long);
    if (!strcmp(l, "z"))
        return va_arg(*ap, ssize_t);
    if (!strcmp(l, "j"))
        return va_arg(*ap, intmax_t);
    if (!strcmp(l, "t"))
        return va_arg(*ap, ptrdiff_t);
    int v = va_arg(*ap, int);   /* char and short arrive promoted */
    return !strcmp(l, "hh") ? (signed char)v : !strcmp(l, "h") ? (short)v : v;
}

static unsigned long long unsigned_arg(const char *l, va_list *ap)
{
    if (!strcmp(l, "ll"))
        return va_arg(*ap, unsigned long long);
    if (!strcmp(l, "l"))
        return va_arg(*ap, unsigned long);
    if (!strcmp(l, "z"))
        return va_arg(*ap, size_t);
    if (!strcmp(l, "j"))
        return va_arg(*ap, uintmax_t);
    if (!strcmp(l, "t"))
        return (unsigned long long)va_arg(*ap, ptrdiff_t);
    unsigned v = va_arg(*ap, unsigned);
    return !strcmp(l, "hh") ? (unsigned char)v : !strcmp(l, "h") ? (unsigned short)v : v;
}

/* Appends one converted value. The va_arg types mirror printf's rules. */
static int put_value(lanes_buf *b, const jspec *sp, va_list *ap)
{
    char fmt[16];
    int w = sp->width, pr = sp->prec;
    const char *l = sp->len;
    if (sp->conv == 's') {
        const char *s = va_arg(*ap, const char *);
        if (!s)
            return lanes_buf_puts(b, "null");
        size_t n = pr >= 0 ? strnlen(s, (size_t)pr) : strlen(s);
        int rc = lanes_buf_puts(b, "\"");
        if (rc == 0)
            rc = lanes_buf_json_escape(b, s, n);
        return rc ? rc : lanes_buf_puts(b, "\"");
    }
    if (strchr("fFeEgG", sp->conv)) {
        double v = l[0] == 'L' ? (double)va_arg(*ap, long double) : va_arg(*ap, double);
        if (!isfinite(v))
            return lanes_buf_puts(b, "null");
        snprintf(fmt, sizeof fmt, "%%%s*.*%c", sp->left ? "-" : "", sp->conv);
        return lanes_buf_printf(b, fmt, w, pr < 0 ? 6 : pr, v);
    }
    int is_signed = sp->conv != 'u';
    long long sv = is_signed ? signed_arg(l, ap) : 0;
    unsigned long long uv = is_signed ? 0 : unsigned_arg(l, ap);
    /* A precision on an integer pads with zeros ("%.3d" -> "007"): not JSON. */
    if (pr >= 0)
        pr = -1;
    snprintf(fmt, sizeof fmt, "%%%s*ll%c", sp->left ? "-" : "", is_signed ? 'd' : 'u');
    return is_signed ? lanes_buf_printf(b, fmt, w, sv) : lanes_buf_printf(b, fmt, w, uv);
}

/* Writes fmt with its values into b; NULL or the reason the format is refused. */
static const char *jsonf_write(lanes_buf *b, const char *fmt, va_list *ap, int *rc)
{
    int in_string = 0;
    for (const char *p = fmt; *p && *rc == 0;) {
        if (*p != '%') {
            /* Track the format's own JSON strings: a backslash escapes the next byte. */
            if (in_string && *p == '\\' && p[1]) {
                *rc = lanes_buf_append(b, p, 2);
                p += 2;
                continue;
            }
            if (*p == '"')
                in_string = !in_string;
            *rc = lanes_buf_append(b, p++, 1);
            continue;
        }
        p++;
        if (*p == '%') {
            *rc = lanes_buf_append(b, p++, 1);
            continue;
        }
        jspec sp;
        const char *why = parse_spec(&p, &sp, ap);
        if (why)
            return why;
        if (sp.conv == 's' && in_string)
            return "%s inside a JSON string: %s writes the whole string, quotes included";
        *rc = put_value(b, &sp, ap);
    }
    return NULL;
}

int lanes_jsonf(lanes_req *req, int status, const char *fmt, ...)
{
    if (!req || !fmt || status < 200 || status > 599)
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    va_list ap;
    va_start(ap, fmt);
    int rc = 0;
    const char *why = jsonf_write(&req->res_body, fmt, &ap, &rc);
    va_end(ap);
    if (why) {
        lanes_buf_reset(&req->res_body);
        lanes_req_misuse(req, "lanes_jsonf(\"%.60s\"): %s", fmt, why);
        return -EINVAL;
    }
    return json_body_done(req, status, rc);
}

int lanes_text(lanes_req *req, int status, const char *text)
{
    return lanes_send(req, status, "text/plain; charset=utf-8", text, text ? strlen(text) : 0);
}

int lanes_status(lanes_req *req, int status)
{
    return lanes_send(req, status, NULL, NULL, 0);
}

int lanes_error(lanes_req *req, int status, const char *msg)
{
    if (!req || status < 200 || status > 599)
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    int rc = lanes_buf_puts(&req->res_body, "{\"detail\":\"");
    if (rc == 0)
        rc = lanes_buf_json_escape(&req->res_body, msg ? msg : "", msg ? strlen(msg) : 0);
    if (rc == 0)
        rc = lanes_buf_puts(&req->res_body, "\"}");
    return json_body_done(req, status, rc);
}

void lanes_response_error(lanes_req *req, int status, const char *msg)
{
    if (lanes_error(req, status, msg) < 0) {
        /* Out of memory while saying what went wrong: say it without a body. */
        lanes_buf_reset(&req->res_body);
        req->content_type[0] = '\0';
        req->status = status;
        req->responded = 1;
    }
}

static int header_token_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c))
            return 0;
    }
    return 1;
}

int lanes_set_header(lanes_req *req, const char *name, const char *value)
{
    if (!req || !name || !value || !header_token_ok(name) || strpbrk(value, "\r\n"))
        return -EINVAL;
    return lanes_buf_printf(&req->res_headers, "%s: %s\r\n", name, value);
}

int lanes_json_jw(lanes_req *req, int status, lanes_jw *w)
{
    int rc = w->err;
    if (rc == 0 && w->depth != 0)
        rc = -EINVAL;   /* unbalanced: an object or array left open */
    if (rc == 0 && status >= 200 && status <= 599) {
        /* Hand the writer's buffer over instead of copying the body; the
         * writer takes res_body's old storage and frees it below. */
        lanes_buf old = req->res_body;
        req->res_body.data = w->buf;
        req->res_body.len = w->len;
        req->res_body.cap = w->cap;
        w->buf = old.data;
        if (!req->res_body.data)
            lanes_buf_init(&req->res_body);   /* an empty document: no storage yet */
        rc = json_body_done(req, status, 0);
    } else if (rc == 0) {
        rc = -EINVAL;
    }
    lanes_jw_free(w);
    return rc;
}

int lanes_response_head(lanes_req *req, int keep_alive, double process_time)
{
    lanes_http_head h = {
        .status = req->status,
        .content_type = req->content_type,
        .body_len = req->res_body.len,
        .process_time = process_time,
        .keep_alive = keep_alive,
        .http_major = req->msg.http_major,
        .http_minor = req->msg.http_minor,
        .date_line = lanes_http_date_line(&req->rt->date),
        .extra = req->res_headers.data,
        .extra_len = req->res_headers.len,
    };
    return lanes_http_head_write(&req->res_head, &h);
}
