/*
 * options.c — parses lanes-load's flags and URLs and builds the request bytes.
 *
 * Every check that can be made before the run is made here, so a typo costs a
 * clear message and exit status 2, never a half-started run. It must never send
 * anything: the only network call is resolving the host the user typed.
 */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void lanes_load_usage(FILE *out)
{
    fputs(
        "Usage: lanes-load [options] URL\n"
        "\n"
        "Load (hey-compatible where hey has the flag):\n"
        "  -n N                 requests to send (default 200 when neither -n nor -z)\n"
        "  -c N                 concurrent connections (default 50)\n"
        "  -z DUR               run for this long (10s, 500ms, 1m); with -n, whichever ends first\n"
        "  -q QPS               rate limit per connection (closed loop)\n"
        "  -m METHOD            HTTP method (default GET)\n"
        "  -H 'Name: value'     extra header, repeatable\n"
        "  -d BODY              request body\n"
        "  -D FILE              request body from a file\n"
        "  -T TYPE              Content-Type (default text/html when a body is sent)\n"
        "  -t DUR               per-request timeout, bare number = seconds (default 20; 0 = none, needs -z)\n"
        "  --disable-keepalive  one request per connection\n"
        "  --threads N          event-loop threads (default 1)\n"
        "  --rate R             open loop: R requests/s in total at fixed intended times;\n"
        "                       latency counts from the intended time (coordinated omission\n"
        "                       corrected); -c is then the most connections in use\n"
        "\n"
        "Output:\n"
        "  --json               print the report as one JSON object instead of text\n"
        "  --timeline FILE      CSV, one row per request, probe and resource sample\n"
        "  --timeline-max N     keep at most N request rows (default 1000000)\n"
        "\n"
        "Probe (is the server still answering others?):\n"
        "  --probe URL          request URL on a separate connection and thread during the run\n"
        "  --probe-every DUR    interval between probes (default 50ms)\n"
        "  --probe-stall DUR    a probe slower than this means the load blocks the server\n"
        "                       (default 250ms)\n"
        "\n"
        "Resources of the server (from /proc, the process and all its children):\n"
        "  --pid PID            sample this process\n"
        "  --spawn 'CMD'        start CMD with sh -c 'exec CMD', wait until the URL's port\n"
        "                       accepts, sample it, stop it (SIGTERM, then SIGKILL) at the end\n"
        "  --spawn-wait DUR     how long to wait for the port (default 10s)\n"
        "  --spawn-log FILE     the spawned server's stdout and stderr (default /dev/null)\n"
        "  --sample-every DUR   interval between samples, 1ms..10s (default 100ms); finer\n"
        "                       catches short peaks, each sample walks /proc once\n"
        "\n"
        "Only the address given in URL (and --probe URL) is ever contacted.\n"
        "\n"
        "Exit status: 0 run completed with at least one response (5xx included);\n"
        "  1 no response at all (refused, unreachable, all timed out...);\n"
        "  2 bad flag, value or URL; 3 setup failed (resolve, --spawn, --pid, files).\n",
        out);
}

int lanes_load_parse_duration(const char *s, double *seconds)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -EINVAL;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1;
    else if (strcmp(end, "ms") == 0)
        mult = 1e-3;
    else if (strcmp(end, "us") == 0 || strcmp(end, "µs") == 0)
        mult = 1e-6;
    else if (strcmp(end, "m") == 0)
        mult = 60;
    else if (strcmp(end, "h") == 0)
        mult = 3600;
    else
        return -EINVAL;
    *seconds = v * mult;
    return 0;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

int lanes_load_parse_url(const char *url, lanes_load_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!url || !*url)
        return fail(err, errlen, "missing URL");
    if (has_ctl(url))
        return fail(err, errlen, "malformed URL '%s': spaces or control characters", url);
    if (strncasecmp(url, "https://", 8) == 0)
        return fail(err, errlen, "https is not supported: '%s' (lanes-load speaks plain HTTP/1.1)", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return fail(err, errlen, "malformed URL '%s': expected http://host[:port][/path]", url);
    const char *p = url + 7;
    const char *hend;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend)
            return fail(err, errlen, "malformed URL '%s': unclosed '[' in host", url);
        if ((size_t)(hend - p - 1) >= sizeof t->host || hend == p + 1)
            return fail(err, errlen, "malformed URL '%s': bad IPv6 host", url);
        memcpy(t->host, p + 1, (size_t)(hend - p - 1));
        hend++;
    } else {
        hend = p + strcspn(p, ":/?#");
        if (hend == p)
            return fail(err, errlen, "malformed URL '%s': empty host", url);
        if ((size_t)(hend - p) >= sizeof t->host)
            return fail(err, errlen, "malformed URL '%s': host too long", url);
        memcpy(t->host, p, (size_t)(hend - p));
        if (strchr(t->host, '@'))
            return fail(err, errlen, "malformed URL '%s': user info is not supported", url);
    }
    const char *rest = hend;
    long port = 80;
    if (*rest == ':') {
        char *pend;
        errno = 0;
        port = strtol(rest + 1, &pend, 10);
        if (errno || pend == rest + 1 || port < 1 || port > 65535 || (*pend && !strchr("/?#", *pend)))
            return fail(err, errlen, "malformed URL '%s': bad port", url);
        rest = pend;
    } else if (*rest && !strchr("/?#", *rest)) {
        return fail(err, errlen, "malformed URL '%s'", url);
    }
    snprintf(t->port, sizeof t->port, "%ld", port);
    size_t plen = strcspn(rest, "#");
    if (plen + 2 >= sizeof t->path)
        return fail(err, errlen, "URL path too long");
    if (plen == 0 || rest[0] != '/') {
        t->path[0] = '/';
        memcpy(t->path + 1, rest, plen);
    } else {
        memcpy(t->path, rest, plen);
    }
    bool v6 = strchr(t->host, ':') != NULL;
    if (port == 80)
        snprintf(t->hostport, sizeof t->hostport, v6 ? "[%s]" : "%s", t->host);
    else
        snprintf(t->hostport, sizeof t->hostport, v6 ? "[%s]:%ld" : "%s:%ld", t->host, port);
    return 0;
}

/* The first address getaddrinfo gives: one address, the one the user named. */
static int resolve(lanes_load_target *t, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", t->host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addrlen = res->ai_addrlen;
    char ip[64] = "?";
    const void *a = res->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                               : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, ip, sizeof ip);
    snprintf(t->addr_text, sizeof t->addr_text, res->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, t->port);
    freeaddrinfo(res);
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo)
        return -EINVAL;
    *out = v;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (!buf)
        return -ENOMEM;
    *data = buf;
    *len = n;
    return 0;
}

static bool header_given(const lanes_load_opts *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < o->nheaders; i++)
        if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return true;
    return false;
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap : 512);
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -EINVAL;
    return append(buf, len, cap, tmp, (size_t)n);
}

/* The bytes of one request, built once: the hot path only ever writes them. */
static int build_request(const lanes_load_opts *o, const lanes_load_target *t, bool with_body, char **out,
                         size_t *out_len)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    const char *method = with_body ? o->method : "GET";
    int rc = appendf(&b, &len, &cap, "%s %s HTTP/1.1\r\n", method, t->path);
    if (!rc && !(with_body && header_given(o, "Host")))
        rc = appendf(&b, &len, &cap, "Host: %s\r\n", t->hostport);
    if (!rc && !(with_body && header_given(o, "User-Agent")))
        rc = appendf(&b, &len, &cap, "User-Agent: lanes-load/0.1\r\n");
    if (with_body) {
        bool body = o->body_len > 0;
        if (!rc && (body || o->content_type) && !header_given(o, "Content-Type"))
            rc = appendf(&b, &len, &cap, "Content-Type: %s\r\n", o->content_type ? o->content_type : "text/html");
        bool wants_len = body || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
        if (!rc && wants_len && !header_given(o, "Content-Length"))
            rc = appendf(&b, &len, &cap, "Content-Length: %zu\r\n", o->body_len);
        for (int i = 0; !rc && i < o->nheaders; i++)
            rc = appendf(&b, &len, &cap, "%s\r\n", o->headers[i]);
    }
    if (!rc && o->disable_keepalive && !(with_body && header_given(o, "Connection")))
        rc = appendf(&b, &len, &cap, "Connection: close\r\n");
    if (!rc)
        rc = append(&b, &len, &cap, "\r\n", 2);
    if (!rc && with_body && o->body_len)
        rc = append(&b, &len, &cap, o->body, o->body_len);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = len;
    return 0;
}

static int check_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n"))
        return -EINVAL;
    for (const char *p = h; p < colon; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -EINVAL;
    return 0;
}

enum {
    OPT_KEEPALIVE = 256,
    OPT_THREADS,
    OPT_RATE,
    OPT_JSON,
    OPT_TIMELINE,
    OPT_TIMELINE_MAX,
    OPT_PROBE,
    OPT_PROBE_EVERY,
    OPT_PROBE_STALL,
    OPT_PID,
    OPT_SPAWN,
    OPT_SPAWN_WAIT,
    OPT_SPAWN_LOG,
    OPT_SAMPLE_EVERY,
};

static const struct option long_opts[] = {
    {"disable-keepalive", no_argument, NULL, OPT_KEEPALIVE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeline", required_argument, NULL, OPT_TIMELINE},
    {"timeline-max", required_argument, NULL, OPT_TIMELINE_MAX},
    {"probe", required_argument, NULL, OPT_PROBE},
    {"probe-every", required_argument, NULL, OPT_PROBE_EVERY},
    {"probe-stall", required_argument, NULL, OPT_PROBE_STALL},
    {"pid", required_argument, NULL, OPT_PID},
    {"spawn", required_argument, NULL, OPT_SPAWN},
    {"spawn-wait", required_argument, NULL, OPT_SPAWN_WAIT},
    {"spawn-log", required_argument, NULL, OPT_SPAWN_LOG},
    {"sample-every", required_argument, NULL, OPT_SAMPLE_EVERY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void set_defaults(lanes_load_opts *o)
{
    memset(o, 0, sizeof *o);
    o->c = 50;
    o->threads = 1;
    o->method = "GET";
    o->timeout = 20;
    o->timeline_max = 1000000;
    o->probe_every = 0.05;
    o->probe_stall = 0.25;
    o->spawn_wait = 10;
    o->spawn_log = "/dev/null";
    o->sample_every = 0.1;
}

/* One flag; returns 0, 1 for --help, or -EINVAL with err set. */
static int apply_flag(lanes_load_opts *o, int ch, const char *arg, const char *flag, char *err, size_t errlen)
{
    long l;
    switch (ch) {
    case 'n':
        if (parse_long(arg, 1, LONG_MAX / 2, &l))
            return fail(err, errlen, "-n: expected a positive number of requests, got '%s'", arg);
        o->n = l;
        return 0;
    case 'c':
        if (parse_long(arg, 1, 100000, &l))
            return fail(err, errlen, "-c: expected 1..100000 connections, got '%s'", arg);
        o->c = (int)l;
        return 0;
    case 'z':
        if (lanes_load_parse_duration(arg, &o->duration) || o->duration <= 0)
            return fail(err, errlen, "-z: expected a duration like 10s, 500ms or 1m, got '%s'", arg);
        return 0;
    case 'q':
        if (parse_double(arg, 0, &o->q))
            return fail(err, errlen, "-q: expected a rate per connection, got '%s'", arg);
        return 0;
    case 'm':
        if (!*arg || strpbrk(arg, " \t\r\n"))
            return fail(err, errlen, "-m: bad method '%s'", arg);
        o->method = arg;
        return 0;
    case 'H':
        if (check_header(arg))
            return fail(err, errlen, "-H: expected 'Name: value', got '%s'", arg);
        if (o->nheaders == (int)(sizeof o->headers / sizeof o->headers[0]))
            return fail(err, errlen, "-H: too many headers");
        o->headers[o->nheaders++] = arg;
        return 0;
    case 'd':
        free(o->body);
        o->body = strdup(arg);
        o->body_len = strlen(arg);
        return o->body ? 0 : -ENOMEM;
    case 'D':
        free(o->body);
        o->body = NULL;
        if (read_file(arg, &o->body, &o->body_len))
            return fail(err, errlen, "-D: cannot read '%s': %s", arg, strerror(errno));
        return 0;
    case 'T':
        if (strpbrk(arg, "\r\n"))
            return fail(err, errlen, "-T: bad content type");
        o->content_type = arg;
        return 0;
    case 't':
        if (lanes_load_parse_duration(arg, &o->timeout))
            return fail(err, errlen, "-t: expected a timeout in seconds or a duration, got '%s'", arg);
        return 0;
    case OPT_KEEPALIVE:
        o->disable_keepalive = true;
        return 0;
    case OPT_THREADS:
        if (parse_long(arg, 1, 256, &l))
            return fail(err, errlen, "--threads: expected 1..256, got '%s'", arg);
        o->threads = (int)l;
        return 0;
    case OPT_RATE:
        if (parse_double(arg, 0, &o->rate) || o->rate <= 0)
            return fail(err, errlen, "--rate: expected requests per second > 0, got '%s'", arg);
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_TIMELINE:
        o->timeline = arg;
        return 0;
    case OPT_TIMELINE_MAX:
        if (parse_long(arg, 1, 100000000, &l))
            return fail(err, errlen, "--timeline-max: expected 1..100000000, got '%s'", arg);
        o->timeline_max = l;
        return 0;
    case OPT_PROBE:
        o->probe_url = arg;
        return 0;
    case OPT_PROBE_EVERY:
        if (lanes_load_parse_duration(arg, &o->probe_every) || o->probe_every < 0.001)
            return fail(err, errlen, "--probe-every: expected a duration >= 1ms, got '%s'", arg);
        return 0;
    case OPT_PROBE_STALL:
        if (lanes_load_parse_duration(arg, &o->probe_stall) || o->probe_stall <= 0)
            return fail(err, errlen, "--probe-stall: expected a duration, got '%s'", arg);
        return 0;
    case OPT_PID:
        if (parse_long(arg, 1, INT_MAX, &l))
            return fail(err, errlen, "--pid: expected a process id, got '%s'", arg);
        o->pid = (int)l;
        return 0;
    case OPT_SPAWN:
        if (!*arg)
            return fail(err, errlen, "--spawn: empty command");
        o->spawn = arg;
        return 0;
    case OPT_SPAWN_WAIT:
        if (lanes_load_parse_duration(arg, &o->spawn_wait) || o->spawn_wait <= 0)
            return fail(err, errlen, "--spawn-wait: expected a duration, got '%s'", arg);
        return 0;
    case OPT_SPAWN_LOG:
        o->spawn_log = arg;
        return 0;
    case OPT_SAMPLE_EVERY:
        /* Below 1 ms the /proc walk itself would be much of the interval (and
         * a core's worth of load on a small machine); above 10 s the idle
         * wait before the load (2.5 intervals, see main.c) would be most of
         * the run. The 1e-9 lets "1ms" through its binary rounding. */
        if (lanes_load_parse_duration(arg, &o->sample_every) || o->sample_every < 0.001 - 1e-9 ||
            o->sample_every > 10 + 1e-9)
            return fail(err, errlen, "--sample-every: expected a duration from 1ms to 10s, got '%s'", arg);
        return 0;
    case 'h':
        lanes_load_usage(stdout);
        return 1;
    default:
        return fail(err, errlen, "unknown or incomplete option '%s' (see --help)", flag ? flag : "?");
    }
}

/* Cross-flag rules, checked once everything is known. */
static int check_combination(lanes_load_opts *o, char *err, size_t errlen)
{
    if (o->q > 0 && o->rate > 0)
        return fail(err, errlen, "-q (closed loop, per connection) and --rate (open loop) exclude each other");
    if (o->timeout == 0 && o->duration == 0)
        return fail(err, errlen, "-t 0 (no timeout) needs -z, or the run could wait forever");
    if (o->pid && o->spawn)
        return fail(err, errlen, "--pid and --spawn exclude each other");
    if (o->n == 0 && o->duration == 0)
        o->n = LANES_LOAD_DEFAULT_N;
    if (o->threads > o->c)
        o->threads = o->c;
    if (!strcasecmp(o->method, "HEAD"))
        o->head = true;
    return 0;
}

int lanes_load_opts_parse(lanes_load_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    set_defaults(o);
    opterr = 0;
    optind = 1;
    for (;;) {
        int prev = optind;
        int ch = getopt_long_only(argc, argv, ":n:c:z:q:m:H:d:D:T:t:h", long_opts, NULL);
        if (ch == -1)
            break;
        const char *flag = prev < argc ? argv[prev] : NULL;
        if (ch == ':')
            return fail(err, errlen, "option '%s' needs a value", flag ? flag : "?");
        int rc = apply_flag(o, ch, optarg, flag, err, errlen);
        if (rc)
            return rc;
    }
    if (optind >= argc)
        return fail(err, errlen, "missing URL (see --help)");
    if (optind + 1 < argc)
        return fail(err, errlen, "one URL only; unexpected '%s'", argv[optind + 1]);
    o->url = argv[optind];
    int rc = lanes_load_parse_url(o->url, &o->target, err, errlen);
    if (!rc && o->probe_url)
        rc = lanes_load_parse_url(o->probe_url, &o->probe, err, errlen);
    if (!rc)
        rc = check_combination(o, err, errlen);
    if (!rc)
        rc = build_request(o, &o->target, true, &o->request, &o->request_len);
    if (!rc && o->probe_url)
        rc = build_request(o, &o->probe, false, &o->probe_request, &o->probe_request_len);
    if (rc)
        return rc == -ENOMEM ? fail(err, errlen, "out of memory") : rc;
    rc = resolve(&o->target, err, errlen);
    if (!rc && o->probe_url)
        rc = resolve(&o->probe, err, errlen);
    return rc;
}

void lanes_load_opts_free(lanes_load_opts *o)
{
    free(o->body);
    free(o->request);
    free(o->probe_request);
    o->body = o->request = o->probe_request = NULL;
}
