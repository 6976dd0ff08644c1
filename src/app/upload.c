/*
 * upload.c — see upload.h. Runs wherever the handler runs (loop, pool thread,
 * helper process, job runner) and touches only its request.
 *
 * Two passes over the body: the first counts parts and the bytes their names
 * and text values need, so the text buffer is sized once and every pointer
 * handed out stays valid until the request ends; the second fills it and
 * spools the big file parts.
 */
#include "app/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/request.h"
#include "http/multipart.h"
#include "util/buf.h"

#define MAX_PARTS 256

typedef struct {
    lanes_upload up;
    int is_file;
} part;

struct lanes_form {
    int state;                  /* 0: not parsed, 1: parsed, <0: refused (status) */
    lanes_buf text;             /* names, filenames, content types, text values, NUL after each */
    part *parts;
    int nparts, cap;
    lanes_form_field *fields;   /* the text parts, in order */
    int nfields;
};

typedef struct {
    lanes_form *f;
    size_t need;                /* pass 1: bytes of text */
    int n;
    int fill;                   /* pass 2 */
    int spool_err;
} pass;

static const char *put(lanes_buf *b, const char *s, size_t n)
{
    const char *at = b->data + b->len;
    lanes_buf_append(b, s, n);   /* reserved in advance: cannot fail or move */
    lanes_buf_append(b, "", 1);
    return at;
}

/* An unnamed file holding data[0..n): O_TMPFILE where the file system has it,
 * else a named one unlinked at once. The fd, or -errno. */
static int spool(const char *data, size_t n)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/lanes-upload-XXXXXX", dir);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
            return -errno;
        unlink(tmpl);
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            return -e;
        }
        off += (size_t)w;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int on_part(void *ctx, const lanes_mp_part *p)
{
    pass *ps = ctx;
    int big = p->filename && p->len > LANES_SPOOL_MIN;
    if (!ps->fill) {
        ps->need += p->name_len + 1 + (p->filename ? p->filename_len + 1 : 0) + p->content_type_len + 1 +
                    (p->filename ? (big ? 32 : 0) : p->len + 1);
        ps->n++;
        return 0;
    }
    lanes_form *f = ps->f;
    part *pt = &f->parts[f->nparts++];
    memset(pt, 0, sizeof *pt);
    pt->up.fd = -1;
    pt->up.name = put(&f->text, p->name, p->name_len);
    pt->up.content_type = put(&f->text, p->content_type ? p->content_type : "", p->content_type_len);
    pt->up.size = p->len;
    if (!p->filename) {
        lanes_form_field *fl = &f->fields[f->nfields++];
        fl->name = pt->up.name;
        fl->value = put(&f->text, p->data, p->len);
        fl->len = p->len;
        return 0;
    }
    pt->is_file = 1;
    pt->up.filename = put(&f->text, p->filename, p->filename_len);
    if (!big) {
        pt->up.data = p->data;   /* in the request's body, valid until it ends */
        return 0;
    }
    int fd = spool(p->data, p->len);
    if (fd < 0) {
        ps->spool_err = fd;
        return fd;
    }
    pt->up.fd = fd;
    char path[32];
    int k = snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    pt->up.path = put(&f->text, path, (size_t)k);
    return 0;
}

static int refuse(lanes_req *req, lanes_form *f, int status, const char *what, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s%s", what, why ? why : "");
    lanes_req_refuse(req, status, msg);
    f->state = -status;
    return status;
}

int lanes_form_parse(lanes_req *req)
{
    if (!req->form && !(req->form = calloc(1, sizeof *req->form))) {
        lanes_req_refuse(req, 503, "server out of memory");
        return 503;
    }
    lanes_form *f = req->form;
    if (f->state)
        return f->state < 0 ? -f->state : 0;
    const char *b, *why = NULL;
    size_t bl;
    int rc = lanes_mp_boundary(lanes_header(req, "content-type"), &b, &bl, &why);
    if (rc == -ENOENT)
        return refuse(req, f, 415, "Unsupported Media Type: this route reads a multipart/form-data body", NULL);
    if (rc < 0)
        return refuse(req, f, 400, "Bad multipart body: ", why);
    const char *body = req->msg.body.data ? req->msg.body.data : "";
    size_t len = req->msg.body.len;
    pass ps = { .f = f };
    rc = lanes_mp_parse(body, len, b, bl, MAX_PARTS, on_part, &ps, &why);
    if (rc < 0)
        return refuse(req, f, 400, "Bad multipart body: ", why);
    if (ps.n > f->cap) {
        part *np = realloc(f->parts, (size_t)ps.n * sizeof *np);
        lanes_form_field *nf = np ? realloc(f->fields, (size_t)ps.n * sizeof *nf) : NULL;
        if (np)
            f->parts = np;
        if (!np || !nf)
            return refuse(req, f, 503, "server out of memory", NULL);
        f->fields = nf;
        f->cap = ps.n;
    }
    lanes_buf_reset(&f->text);
    if (lanes_buf_reserve(&f->text, ps.need + 1) < 0)
        return refuse(req, f, 503, "server out of memory", NULL);
    ps.fill = 1;
    rc = lanes_mp_parse(body, len, b, bl, MAX_PARTS, on_part, &ps, &why);
    if (rc < 0) {
        if (ps.spool_err)
            return refuse(req, f, 503, "cannot spool an upload: ", strerror(-ps.spool_err));
        return refuse(req, f, 400, "Bad multipart body: ", why);
    }
    f->state = 1;
    return 0;
}

typedef struct {
    const lanes_route_def *r;
    unsigned found;             /* bit i: files[i] is present */
} check_ctx;

static int mark_file(void *ctx, const lanes_mp_part *p)
{
    check_ctx *c = ctx;
    if (!p->filename)
        return 0;
    for (int i = 0; i < c->r->nfiles; i++) {
        const char *n = c->r->files[i].name;
        if (strlen(n) == p->name_len && memcmp(n, p->name, p->name_len) == 0)
            c->found |= 1u << i;
    }
    return 0;
}

int lanes_form_check(lanes_req *req)
{
    const lanes_route_def *r = req->route;
    const char *b, *why = NULL;
    size_t bl;
    char msg[200];
    int rc = lanes_mp_boundary(lanes_header(req, "content-type"), &b, &bl, &why);
    if (rc == -ENOENT) {
        lanes_req_refuse(req, 415, "Unsupported Media Type: this route reads a multipart/form-data body");
        return -EINVAL;
    }
    check_ctx c = { .r = r };
    if (rc == 0)
        rc = lanes_mp_parse(req->msg.body.data ? req->msg.body.data : "", req->msg.body.len, b, bl, MAX_PARTS,
                            mark_file, &c, &why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "Bad multipart body: %s", why ? why : "malformed");
        lanes_req_refuse(req, 400, msg);
        return -EINVAL;
    }
    for (int i = 0; i < r->nfiles; i++)
        if (r->files[i].required && !(c.found & (1u << i)))
            lanes_req_invalid(req, "body", r->files[i].name, "missing", "Field required", NULL);
    return 0;
}

void lanes_form_reset(lanes_form *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->nparts; i++)
        if (f->parts[i].up.fd >= 0)
            close(f->parts[i].up.fd);
    f->nparts = 0;
    f->nfields = 0;
    f->state = 0;
    lanes_buf_trim(&f->text, 64 * 1024);
}

void lanes_form_free(lanes_form *f)
{
    if (!f)
        return;
    lanes_form_reset(f);
    lanes_buf_free(&f->text);
    free(f->parts);
    free(f->fields);
    free(f);
}

int lanes_file(lanes_req *req, const char *name, lanes_upload *out)
{
    if (!req || !name || !out)
        return -EINVAL;
    if (lanes_form_parse(req))
        return -EINVAL;
    for (int i = 0; i < req->form->nparts; i++) {
        const part *p = &req->form->parts[i];
        if (p->is_file && strcmp(p->up.name, name) == 0) {
            *out = p->up;
            return 0;
        }
    }
    return -ENOENT;
}

int lanes_form_fields(lanes_req *req, const lanes_form_field **fields)
{
    if (!req || !fields)
        return -EINVAL;
    *fields = NULL;
    if (lanes_form_parse(req))
        return -EINVAL;
    *fields = req->form->fields;
    return req->form->nfields;
}
