/*
 * client.c — lanes-load's HTTP/1.1 client connection (see client.h).
 *
 * Errors are reported from the close callback, after the handle is really
 * closed, so the owner may start the next request at once without racing a
 * closing socket and without recursion when connects fail synchronously.
 * It must never allocate: handles, parser and request bytes are set up once.
 */
#include "client.h"

#include <errno.h>
#include <string.h>

enum { ST_CLOSED, ST_CONNECTING, ST_OPEN, ST_CLOSING };

static const char *const err_names[LANES_LOAD_ERR_KINDS] = {
    [LANES_LOAD_OK] = "ok",
    [LANES_LOAD_ERR_REFUSED] = "connection refused",
    [LANES_LOAD_ERR_CONNECT] = "connect failed",
    [LANES_LOAD_ERR_TIMEOUT] = "timeout",
    [LANES_LOAD_ERR_WRITE] = "write failed",
    [LANES_LOAD_ERR_READ] = "read failed",
    [LANES_LOAD_ERR_CLOSED_EARLY] = "closed before response",
    [LANES_LOAD_ERR_CLOSED_MID] = "closed mid-response",
    [LANES_LOAD_ERR_PARSE] = "bad response",
};

const char *lanes_load_err_name(int kind)
{
    return kind >= 0 && kind < LANES_LOAD_ERR_KINDS ? err_names[kind] : "unknown";
}

static void do_connect(lanes_load_client *c);

static int on_headers_complete(llhttp_t *p)
{
    lanes_load_client *c = p->data;
    /* 1 tells llhttp there is no body: the answer to HEAD has none. */
    return c->head ? 1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    lanes_load_client *c = p->data;
    c->complete = true;
    /* Stop right here: one request in flight, so bytes after the response are
     * not ours to parse. */
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

static void on_close(uv_handle_t *h)
{
    lanes_load_client *c = h->data;
    c->state = ST_CLOSED;
    if (c->shutdown)
        return;
    if (c->pending_err) {
        int err = c->pending_err;
        c->pending_err = 0;
        c->in_flight = false;
        c->want_send = false;
        c->done(c, 0, err);
        return;
    }
    if (c->want_send) {
        c->want_send = false;
        do_connect(c);
    }
}

static void close_conn(lanes_load_client *c)
{
    if (c->state == ST_CLOSED || c->state == ST_CLOSING)
        return;
    c->state = ST_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Ends the request in flight with an error, reported once closed. */
static void fail(lanes_load_client *c, int err)
{
    if (c->state == ST_CLOSING) {
        if (!c->pending_err)
            c->pending_err = err;
        return;
    }
    c->pending_err = err;
    if (c->state == ST_CLOSED) {
        /* Nothing to close (the connect never started): still report on the
         * next loop turn, through a zero-length close of a fresh handle. */
        uv_tcp_init(c->loop, &c->tcp);
        c->tcp.data = c;
    }
    c->state = ST_OPEN;
    close_conn(c);
}

static void on_write(uv_write_t *w, int status)
{
    lanes_load_client *c = w->data;
    if (status < 0 && status != UV_ECANCELED && c->state == ST_OPEN)
        fail(c, LANES_LOAD_ERR_WRITE);
}

static void write_request(lanes_load_client *c)
{
    uv_buf_t buf = uv_buf_init((char *)c->req, (unsigned)c->req_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == (int)c->req_len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        fail(c, LANES_LOAD_ERR_WRITE);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0;
    buf = uv_buf_init((char *)c->req + off, (unsigned)(c->req_len - off));
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0)
        fail(c, LANES_LOAD_ERR_WRITE);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    lanes_load_client *c = h->data;
    *buf = uv_buf_init(c->rbuf, (unsigned)c->rbuf_len);
}

static void finish_response(lanes_load_client *c, bool eof)
{
    int status = (int)c->parser.status_code;
    bool keep = !eof && c->keepalive && llhttp_should_keep_alive(&c->parser);
    c->complete = false;
    c->in_flight = false;
    c->served++;
    if (keep)
        llhttp_resume(&c->parser);
    else
        close_conn(c);
    c->done(c, status, LANES_LOAD_OK);
}

/* A keep-alive connection the server closed just as we reused it: not the
 * server's answer to this request, so send it once more on a new connection
 * (as browsers and Go's net/http do) instead of counting an error. */
static bool retry_on_fresh_connection(lanes_load_client *c)
{
    if (c->got_bytes || c->served == 0 || c->reused_retry)
        return false;
    c->reused_retry = true;
    c->want_send = true;
    close_conn(c);
    return true;
}

static void on_eof(lanes_load_client *c)
{
    if (!c->in_flight) {
        close_conn(c);
        return;
    }
    if (c->got_bytes) {
        /* A close-delimited body (HTTP/1.0 style) ends here legitimately. */
        llhttp_errno_t e = llhttp_finish(&c->parser);
        if (e == HPE_OK && c->complete) {
            finish_response(c, true);
            return;
        }
        if (e == HPE_PAUSED && c->complete) {
            finish_response(c, true);
            return;
        }
        fail(c, LANES_LOAD_ERR_CLOSED_MID);
        return;
    }
    if (!retry_on_fresh_connection(c))
        fail(c, LANES_LOAD_ERR_CLOSED_EARLY);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lanes_load_client *c = s->data;
    if (c->state != ST_OPEN)
        return;
    if (nread == UV_EOF) {
        on_eof(c);
        return;
    }
    if (nread < 0) {
        if (!c->in_flight)
            close_conn(c);
        else if (!retry_on_fresh_connection(c))
            fail(c, LANES_LOAD_ERR_READ);
        return;
    }
    if (nread == 0)
        return;
    if (!c->in_flight) {
        /* Bytes nobody asked for: the connection's framing is lost. */
        close_conn(c);
        return;
    }
    c->got_bytes = true;
    c->bytes += (uint64_t)nread;
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (c->complete) {
        finish_response(c, false);
        return;
    }
    if (e != HPE_OK)
        fail(c, LANES_LOAD_ERR_PARSE);
}

static void on_connect(uv_connect_t *req, int status)
{
    lanes_load_client *c = req->data;
    if (status == UV_ECANCELED || c->state != ST_CONNECTING)
        return;
    if (status < 0) {
        c->state = ST_OPEN;   /* so that fail() closes the handle */
        fail(c, status == UV_ECONNREFUSED ? LANES_LOAD_ERR_REFUSED : LANES_LOAD_ERR_CONNECT);
        return;
    }
    c->state = ST_OPEN;
    c->connects++;
    c->served = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &parser_settings);
    c->parser.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        fail(c, LANES_LOAD_ERR_READ);
        return;
    }
    write_request(c);
}

static void do_connect(lanes_load_client *c)
{
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->state = ST_CONNECTING;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, c->addr, on_connect);
    if (rc < 0) {
        c->state = ST_OPEN;
        fail(c, rc == UV_ECONNREFUSED ? LANES_LOAD_ERR_REFUSED : LANES_LOAD_ERR_CONNECT);
    }
}

void lanes_load_client_init(lanes_load_client *c, uv_loop_t *loop, const struct sockaddr *addr, const char *req,
                            size_t req_len, char *rbuf, size_t rbuf_len, lanes_load_done_cb done, void *data)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->addr = addr;
    c->req = req;
    c->req_len = req_len;
    c->rbuf = rbuf;
    c->rbuf_len = rbuf_len;
    c->keepalive = true;
    c->done = done;
    c->data = data;
    c->state = ST_CLOSED;
    c->connect_req.data = c;
    c->write_req.data = c;
}

void lanes_load_client_send(lanes_load_client *c, uint64_t now)
{
    if (c->shutdown || c->in_flight)
        return;
    c->in_flight = true;
    c->got_bytes = false;
    c->complete = false;
    c->reused_retry = false;
    c->t_send = now;
    switch (c->state) {
    case ST_OPEN:
        write_request(c);
        break;
    case ST_CLOSED:
        do_connect(c);
        break;
    default:   /* closing: connect again from the close callback */
        c->want_send = true;
        break;
    }
}

void lanes_load_client_expire(lanes_load_client *c, uint64_t now, uint64_t timeout_ns)
{
    if (!c->in_flight || c->shutdown || c->pending_err || c->state == ST_CLOSED)
        return;
    if (now > c->t_send && now - c->t_send > timeout_ns)
        fail(c, LANES_LOAD_ERR_TIMEOUT);
}

void lanes_load_client_shutdown(lanes_load_client *c)
{
    c->shutdown = true;
    c->in_flight = false;
    close_conn(c);
}
