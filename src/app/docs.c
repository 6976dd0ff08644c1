/*
 * docs.c — the /docs page and its Swagger UI assets (see docs.h).
 *
 * Assets are read from disk on each request (the page cache makes that cheap)
 * rather than cached in memory: a handler has no state of its own to keep a
 * cache in, and /docs is not a hot path. These handlers run in the THREAD
 * lane, because they touch the disk; they must never serve a file whose name
 * is not in the allow-list below, whatever the request says.
 */
#include "app/docs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/openapi.h"
#include "app/request.h"
#include "app/rt.h"
#include "util/buf.h"

/* Larger than any file swagger-ui-dist ships (the bundle is ~1.5 MB). */
#define MAX_ASSET (16 * 1024 * 1024)

static const struct {
    const char *name;
    const char *content_type;
} assets[] = {
    { "swagger-ui.css", "text/css; charset=utf-8" },
    { "swagger-ui-bundle.js", "text/javascript; charset=utf-8" },
    { "swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8" },
    { "favicon-16x16.png", "image/png" },
    { "favicon-32x32.png", "image/png" },
};

static const char *swagger_dir(void)
{
    const char *d = getenv("LANES_SWAGGER_UI_DIR");
    return d && *d ? d : LANES_SWAGGER_UI_DEFAULT;
}

/* The page needs both of these; a half-installed package gets the plain page. */
static int swagger_present(void)
{
    char path[4096];
    const char *dir = swagger_dir();
    snprintf(path, sizeof path, "%s/swagger-ui-bundle.js", dir);
    if (access(path, R_OK) != 0)
        return 0;
    snprintf(path, sizeof path, "%s/swagger-ui.css", dir);
    return access(path, R_OK) == 0;
}

/* A page being built: the first append that fails is remembered, so a page
 * that ran out of memory half-way is never sent as if it were whole. */
typedef struct {
    lanes_buf b;
    int err;
} page;

static void put(page *p, const char *s)
{
    if (!p->err && lanes_buf_puts(&p->b, s) < 0)
        p->err = -ENOMEM;
}

/* Appends s with the five HTML-special characters escaped (safe in text and
 * in quoted attribute values). */
static void put_esc(page *p, const char *s)
{
    for (; *s && !p->err; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        }
        if (rep)
            put(p, rep);
        else if (lanes_buf_append(&p->b, s, 1) < 0)
            p->err = -ENOMEM;
    }
}

static void send_page(lanes_req *req, page *p)
{
    if (p->err)
        lanes_error(req, 500, "could not build the docs page");
    else
        lanes_send(req, 200, "text/html; charset=utf-8", p->b.data, p->b.len);
    lanes_buf_free(&p->b);
}

static void page_head(page *p, const lanes_app *app, const char *extra_head)
{
    lanes_buf_init(&p->b);
    p->err = 0;
    put(p, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>");
    put_esc(p, lanes_openapi_title(app));
    put(p, " - docs</title>\n");
    put(p, extra_head);
    put(p, "</head>\n<body>\n");
}

/* ---- Swagger UI -------------------------------------------------------------- */

static void swagger_page(lanes_req *req)
{
    page p;
    page_head(&p, req->rt->app, "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
                  "<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n");
    put(&p, "<div id=\"swagger-ui\"></div>\n"
            "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
            "<script>\n"
            /* validatorUrl null: no badge fetched from the Internet. */
            "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui',\n"
            "  deepLinking: true, validatorUrl: null,\n"
            "  presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'});\n"
            "</script>\n</body>\n</html>\n");
    send_page(req, &p);
}

/* ---- the built-in page ---------------------------------------------------------- */

static void route_row(page *p, const lanes_route_def *r)
{
    put(p, "<tr><td>");
    put_esc(p, r->method);
    put(p, "</td><td><code>");
    /* Only a GET without path parameters can be followed as a plain link. */
    int link = !strcmp(r->method, "GET") && !strchr(r->pattern, '{');
    if (link) {
        put(p, "<a href=\"");
        put_esc(p, r->pattern);
        put(p, "\">");
    }
    put_esc(p, r->pattern);
    put(p, link ? "</a></code>" : "</code>");
    for (int i = 0, nq = 0; i < r->ndecl; i++) {
        if (r->decl[i].in != LANES_IN_QUERY)
            continue;
        char tn[LANES_DECL_TEXT + 16];
        lanes_pdecl_type_name(&r->decl[i], tn, sizeof tn);
        put(p, nq++ ? ", " : " ?");
        put_esc(p, r->decl[i].name);
        put(p, ":");
        put_esc(p, tn);
    }
    put(p, "</td><td class=\"lane\">");
    put_esc(p, lanes_lane_name(r->lane));
    put(p, "</td><td>");
    put_esc(p, r->summary ? r->summary : "");
    put(p, "</td></tr>\n");
}

static void plain_page(lanes_req *req)
{
    const lanes_app *app = req->rt->app;
    page p;
    page_head(&p, app, "<style>body{font-family:sans-serif;margin:2em}"
                  "table{border-collapse:collapse}td,th{padding:.3em .8em;"
                  "border-bottom:1px solid #ddd;text-align:left}.lane{font-weight:bold}"
                  "</style>\n");
    put(&p, "<h1>");
    put_esc(&p, lanes_openapi_title(app));
    put(&p, "</h1>\n<p>Swagger UI is not installed (run scripts/deps.sh, or set "
            "LANES_SWAGGER_UI_DIR to a swagger-ui-dist directory). The machine-"
            "readable description is at <a href=\"/openapi.json\">/openapi.json</a>."
            "</p>\n<table>\n<tr><th>method</th><th>path</th><th>lane</th>"
            "<th>summary</th></tr>\n");
    for (int i = 0; i < app->nroutes; i++)
        if (!lanes_openapi_is_doc_route(app->routes[i]))
            route_row(&p, app->routes[i]);
    put(&p, "</table>\n</body>\n</html>\n");
    send_page(req, &p);
}

void lanes_docs_page(lanes_req *req)
{
    if (swagger_present())
        swagger_page(req);
    else
        plain_page(req);
}

/* ---- assets ------------------------------------------------------------------ */

/* Reads a whole regular file of at most MAX_ASSET bytes. 0, or a negative errno. */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
    } else if (!S_ISREG(st.st_mode) || st.st_size > MAX_ASSET) {
        rc = -EINVAL;
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = -ENOMEM;
    }
    size_t n = 0;
    while (rc == 0 && n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;   /* shrank under us */
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

void lanes_docs_asset(lanes_req *req)
{
    const char *name = lanes_path_param(req, "file");
    const char *ctype = NULL;
    for (size_t i = 0; name && i < sizeof assets / sizeof assets[0]; i++)
        if (!strcmp(name, assets[i].name))
            ctype = assets[i].content_type;
    if (!ctype) {
        lanes_error(req, 404, "Not Found");
        return;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", swagger_dir(), name) >= (int)sizeof path) {
        lanes_error(req, 404, "Not Found");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len);
    if (rc < 0) {
        lanes_error(req, rc == -ENOENT ? 404 : 500,
                    rc == -ENOENT ? "Not Found" : "could not read the Swagger UI asset");
        return;
    }
    /* Unversioned URLs: a short lifetime, so an upgraded package shows soon. */
    lanes_set_header(req, "Cache-Control", "public, max-age=3600");
    lanes_send(req, 200, ctype, data, len);
    free(data);
}
