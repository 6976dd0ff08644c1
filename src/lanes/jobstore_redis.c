/*
 * jobstore_redis.c — the job store for many machines: Redis (one instance),
 * reached through hiredis. Every lanes process that names the same
 * redis://HOST:PORT/DB shares one queue, whatever machine it runs on.
 *
 * Data model (every key starts with "lanes:", so apps can share a Redis):
 *   lanes:job:{id}      a hash per job: the request, state, attempts,
 *                       lease_until, runner, times, result or error, and
 *                       `entry`, the id of its current stream entry.
 *                       Expires --job-ttl seconds after its last change.
 *   lanes:stream        a stream of job ids, read by the consumer group
 *                       "runners"; an entry lives until its job leaves
 *                       the queued/running states (then XACK + XDEL).
 *   lanes:recent        job ids scored by creation time, for GET /jobs
 *                       (the newest 10000; expired ids are dropped lazily).
 *   lanes:state:{name}  job ids per state, scored by their expiry time, so
 *                       counts for /metrics are exact and forget expired jobs.
 *
 * Every change of a job's state is one Lua script, so it is atomic: a claim
 * only takes a queued job whose current entry it was handed, and complete or
 * fail only apply while the attempt that ran is still the job's (else
 * -ESTALE), so a job is never "done" twice. The scripts run EVALSHA after a
 * SCRIPT LOAD per connection; a restarted Redis (NOSCRIPT) gets them again.
 *
 * Leases: a claimed entry stays pending in the group, owned by its runner's
 * consumer. The lease keeper's renewal moves lease_until and re-claims the
 * entry for the same consumer (XCLAIM ... JUSTID), which resets its idle
 * time. So an entry idle longer than the lease belongs to a dead runner: a
 * sweep (XAUTOCLAIM, at most once a second per connection) hands it to the
 * requeue script, which re-checks lease_until and queues the job again as a
 * fresh entry, or fails it once it is out of retries.
 *
 * This file must never be called on the event-loop thread (ops.remote):
 * connect and command timeouts are a second, during which a thread waits.
 * While Redis is unreachable every call fails fast (a network errno) and the
 * connection is retried with backoff; the outage is logged once per interval.
 * Redis Cluster is not supported (scripts build their own key names).
 */
#include "lanes/jobstore.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define KEY_PREFIX "lanes:"
#define GROUP "runners"
#define SWEEPER "lanes-sweeper"    /* consumer that holds entries while the requeue script looks at them */
#define TIMEOUT_S 1                /* connect and command timeout: a dead host costs a thread 1 s at most */
#define BLOCK_MS "150"             /* an empty claim waits this long for new work */
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 2.0
#define DOWN_LOG_EVERY_MS 10000
#define SWEEP_EVERY_MAX_S 1.0
#define SWEEP_PAGE "64"
#define DEFAULT_TTL 86400
#define MAX_ARGS 16

/* ---- the scripts ------------------------------------------------------------------------ */

/* ARGV[1] is the key prefix, ARGV[2] the TTL in seconds; the rest per script. */
#define LUA_PRELUDE                                                                    \
    "local P = ARGV[1]\n"                                                              \
    "local TTL = tonumber(ARGV[2])\n"                                                  \
    "local S = P .. 'stream'\n"                                                        \
    "local G = '" GROUP "'\n"                                                          \
    "local function job(id) return P .. 'job:' .. id end\n"                            \
    "local function moved(id, from, to)\n"                                             \
    "  local t = redis.call('TIME')\n"                                                 \
    "  if from then redis.call('ZREM', P .. 'state:' .. from, id) end\n"               \
    "  redis.call('ZADD', P .. 'state:' .. to, tonumber(t[1]) + TTL, id)\n"            \
    "  redis.call('EXPIRE', job(id), TTL)\n"                                           \
    "end\n"                                                                            \
    "local function drop_entry(e)\n"                                                   \
    "  if e then redis.call('XACK', S, G, e); redis.call('XDEL', S, e) end\n"          \
    "end\n"

enum { SC_SUBMIT, SC_CLAIM, SC_REQUEUE, SC_RENEW, SC_FINISH, SC_CANCEL, SC_LIST, SC_COUNT, SC_N };

static const char *const script_text[SC_N] = {
    /* id, route, method, target, headers, body, created -> entry id */
    [SC_SUBMIT] = LUA_PRELUDE
        "local id = ARGV[3]\n"
        "local h = job(id)\n"
        "if redis.call('EXISTS', h) == 1 then return redis.error_reply('EEXIST job id taken') end\n"
        "local e = redis.call('XADD', S, '*', 'id', id)\n"
        "redis.call('HSET', h, 'route', ARGV[4], 'method', ARGV[5], 'target', ARGV[6], 'headers', ARGV[7],\n"
        "  'body', ARGV[8], 'state', 'queued', 'attempts', '0', 'created', ARGV[9], 'entry', e)\n"
        "moved(id, false, 'queued')\n"
        "local R = P .. 'recent'\n"
        "redis.call('ZADD', R, ARGV[9], id)\n"
        "if redis.call('ZCARD', R) > 10000 then redis.call('ZREMRANGEBYRANK', R, 0, -10001) end\n"
        "return e\n",
    /* id, entry, now, lease_until, runner -> the job's fields, or nil (skip the entry) */
    [SC_CLAIM] = LUA_PRELUDE
        "local id, e = ARGV[3], ARGV[4]\n"
        "local h = job(id)\n"
        "local v = redis.call('HMGET', h, 'state', 'entry', 'runner')\n"
        "if v[2] ~= e or (v[1] ~= 'queued' and v[1] ~= 'running') then drop_entry(e) return false end\n"
        /* Running under this very runner, which is idle since it asks: its
         * claim's reply was lost, or its result could not be stored. Run it
         * again now rather than after the lease; another's: the sweep judges. */
        "if v[1] == 'running' and v[3] ~= ARGV[7] then return false end\n"
        "redis.call('HINCRBY', h, 'attempts', 1)\n"
        "redis.call('HSET', h, 'state', 'running', 'lease_until', ARGV[6], 'runner', ARGV[7], 'started', ARGV[5])\n"
        "moved(id, v[1], 'running')\n"
        "return redis.call('HGETALL', h)\n",
    /* id, entry, now, max_retries -> 0 left alone, 1 queued again, 2 failed */
    [SC_REQUEUE] = LUA_PRELUDE
        "local id, e, now, max = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])\n"
        "local h = job(id)\n"
        "local v = redis.call('HMGET', h, 'state', 'entry', 'lease_until', 'attempts')\n"
        "if v[2] ~= e or (v[1] ~= 'queued' and v[1] ~= 'running') then drop_entry(e) return 0 end\n"
        "if v[1] == 'running' then\n"
        "  if tonumber(v[3] or '0') >= now then return 0 end\n"
        "  local n = tonumber(v[4] or '0')\n"
        "  if n > max then\n"
        "    redis.call('HSET', h, 'state', 'failed', 'finished', ARGV[5],\n"
        "      'error', 'runner died ' .. n .. ' times (lease expired)')\n"
        "    redis.call('HDEL', h, 'lease_until')\n"
        "    moved(id, 'running', 'failed')\n"
        "    drop_entry(e)\n"
        "    return 2\n"
        "  end\n"
        "  moved(id, 'running', 'queued')\n"
        "end\n"
        "drop_entry(e)\n"
        "local ne = redis.call('XADD', S, '*', 'id', id)\n"
        "redis.call('HSET', h, 'state', 'queued', 'entry', ne)\n"
        "redis.call('HDEL', h, 'lease_until')\n"
        "return 1\n",
    /* id, attempt, until -> 1 or ESTALE */
    [SC_RENEW] = LUA_PRELUDE
        "local id = ARGV[3]\n"
        "local h = job(id)\n"
        "local v = redis.call('HMGET', h, 'state', 'attempts', 'entry', 'runner')\n"
        "if v[1] ~= 'running' or v[2] ~= ARGV[4] then return redis.error_reply('ESTALE claim lost') end\n"
        "redis.call('HSET', h, 'lease_until', ARGV[5])\n"
        "moved(id, 'running', 'running')\n"
        "if v[3] and v[4] then redis.call('XCLAIM', S, G, v[4], 0, v[3], 'JUSTID') end\n"
        "return 1\n",
    /* id, attempt, now, done|failed, status, type, body, reason -> 1 or ESTALE */
    [SC_FINISH] = LUA_PRELUDE
        "local id = ARGV[3]\n"
        "local h = job(id)\n"
        "local v = redis.call('HMGET', h, 'state', 'attempts', 'entry')\n"
        "if v[1] ~= 'running' or v[2] ~= ARGV[4] then return redis.error_reply('ESTALE claim lost') end\n"
        "if ARGV[6] == 'done' then\n"
        "  redis.call('HSET', h, 'state', 'done', 'finished', ARGV[5], 'result_status', ARGV[7],\n"
        "    'result_type', ARGV[8], 'result_body', ARGV[9])\n"
        "else\n"
        "  redis.call('HSET', h, 'state', 'failed', 'finished', ARGV[5], 'error', ARGV[10])\n"
        "end\n"
        "redis.call('HDEL', h, 'lease_until')\n"
        "moved(id, 'running', ARGV[6])\n"
        "drop_entry(v[3])\n"
        "return 1\n",
    /* id, now -> 1 cancelled, 0 unknown, or the state it is in */
    [SC_CANCEL] = LUA_PRELUDE
        "local id = ARGV[3]\n"
        "local h = job(id)\n"
        "local v = redis.call('HMGET', h, 'state', 'entry')\n"
        "if not v[1] then return 0 end\n"
        "if v[1] ~= 'queued' then return v[1] end\n"
        "redis.call('HSET', h, 'state', 'cancelled', 'finished', ARGV[4])\n"
        "moved(id, 'queued', 'cancelled')\n"
        "drop_entry(v[2])\n"
        "return 1\n",
    /* state or '', limit -> newest first: {id, LIST_FIELDS...} */
    [SC_LIST] = LUA_PRELUDE
        "local want, limit = ARGV[3], tonumber(ARGV[4])\n"
        "local R = P .. 'recent'\n"
        "local out, gone, start = {}, {}, 0\n"
        "while #out < limit do\n"
        "  local ids = redis.call('ZREVRANGE', R, start, start + 255)\n"
        "  if #ids == 0 then break end\n"
        "  for _, id in ipairs(ids) do\n"
        "    local v = redis.call('HMGET', job(id), 'state', 'route', 'method', 'attempts', 'lease_until',\n"
        "      'runner', 'created', 'started', 'finished', 'result_status', 'result_type', 'error')\n"
        "    if not v[1] then gone[#gone + 1] = id\n"
        "    elseif want == '' or v[1] == want then\n"
        "      table.insert(v, 1, id)\n"
        "      out[#out + 1] = v\n"
        "      if #out >= limit then break end\n"
        "    end\n"
        "  end\n"
        "  start = start + 256\n"
        "end\n"
        "for _, id in ipairs(gone) do redis.call('ZREM', R, id) end\n"
        "return out\n",
    /* -> counts per state, expired jobs forgotten first */
    [SC_COUNT] = LUA_PRELUDE
        "local now = tonumber(redis.call('TIME')[1])\n"
        "local out = {}\n"
        "for i, st in ipairs({'queued', 'running', 'done', 'failed', 'cancelled'}) do\n"
        "  local k = P .. 'state:' .. st\n"
        "  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. now)\n"
        "  out[i] = redis.call('ZCARD', k)\n"
        "end\n"
        "return out\n",
};

/* The order of the fields SC_LIST returns after the id. */
static const char *const list_fields[] = { "state", "route", "method", "attempts", "lease_until", "runner",
                                           "created", "started", "finished", "result_status", "result_type",
                                           "error" };

struct lanes_jobconn {
    redisContext *ctx;            /* NULL while disconnected */
    lanes_redis_url url;
    char where[300];              /* the URL, for log lines */
    char sha[SC_N][48];
    long ttl;
    double retry_at;              /* monotonic: no reconnect before this */
    double backoff;
    int down_err;                 /* why the last connect failed */
    double next_sweep;            /* monotonic */
    long long lease_ms;           /* of the last claim: the idle time that marks a dead runner */
    int check_own;                /* look at entries delivered to this runner but not claimed */
};

/* ---- time and the outage log -------------------------------------------------------------- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Process-wide on purpose: every connection of the process (runners, keeper,
 * API threads) notices the same outage at once, and the operator should read
 * one line per interval, not one per connection and request. */
static atomic_llong down_logged_ms;
static atomic_int down_reported;

static void note_down(const lanes_jobconn *c, const char *why)
{
    long long now = (long long)(mono_now() * 1e3);
    long long last = atomic_load(&down_logged_ms);
    if (last && now - last < DOWN_LOG_EVERY_MS)
        return;
    if (!atomic_compare_exchange_strong(&down_logged_ms, &last, now))
        return;
    atomic_store(&down_reported, 1);
    lanes_log(LANES_LOG_ERROR, "job store %s unreachable: %s (job submissions and /jobs answer 503 until it "
              "is back; reconnecting with backoff)", c->where, why);
}

static void note_up(const lanes_jobconn *c)
{
    if (atomic_exchange(&down_reported, 0)) {
        atomic_store(&down_logged_ms, 0);
        lanes_log(LANES_LOG_INFO, "job store %s reachable again", c->where);
    }
}

/* ---- the URL ------------------------------------------------------------------------------ */

static int parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 9)
        return -EINVAL;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '-' || ch == '_';
}

int lanes_redis_url_parse(const char *url, lanes_redis_url *out, const char **why)
{
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof *out);
    out->port = 6379;
    *why = "expected redis://HOST:PORT[/DB]";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return -EINVAL;
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(end - p)))
        return *why = "user names and passwords are not supported", -EINVAL;
    const char *host = p, *host_end, *colon;
    if (*p == '[') {                                   /* [v6]:port */
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end)
            return *why = "missing ']' after an IPv6 address", -EINVAL;
        colon = host_end + 1 < end ? host_end + 1 : NULL;
        if (colon && *colon != ':')
            return *why = "expected ':' after ']'", -EINVAL;
        for (const char *q = host; q < host_end; q++)
            if (!(host_char_ok(*q) || *q == ':'))
                return *why = "bad character in the IPv6 address", -EINVAL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        for (const char *q = host; q < host_end; q++)
            if (!host_char_ok(*q))
                return *why = "bad character in the host name", -EINVAL;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0)
        return *why = "missing host", -EINVAL;
    if (hlen >= sizeof out->host)
        return *why = "host name too long", -EINVAL;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    if (colon && parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &out->port) < 0)
        return *why = "port must be 1..65535", -EINVAL;
    if (*end == '?' || *end == '#')
        return *why = "query strings and fragments are not supported", -EINVAL;
    if (*end == '/' && end[1] && parse_int(end + 1, strlen(end + 1), 0, 65535, &out->db) < 0)
        return *why = "database must be a number 0..65535", -EINVAL;
    return 0;
}

/* ---- connection ------------------------------------------------------------------------------ */

/* hiredis reports I/O trouble as text; errno still says what happened right
 * after the failing call, so callers pass it in. */
static int ctx_err(const redisContext *ctx, int saved_errno)
{
    switch (ctx->err) {
    case REDIS_ERR_IO:
        if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == EINPROGRESS)
            return -ETIMEDOUT;
        return saved_errno > 0 ? -saved_errno : -EIO;
    case REDIS_ERR_EOF: return -ECONNRESET;
    case REDIS_ERR_OOM: return -ENOMEM;
    case REDIS_ERR_OTHER: return -EHOSTUNREACH;   /* name resolution, mostly */
    default: return -EIO;
    }
}

static void drop(lanes_jobconn *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

/* The connection broke mid-command: forget it; the next call reconnects at
 * once (a Redis restart costs one failed request, not a backoff period). */
static int io_failed(lanes_jobconn *c, int saved_errno)
{
    int rc = ctx_err(c->ctx, saved_errno);
    note_down(c, c->ctx->errstr);
    drop(c);
    c->retry_at = 0;
    return rc;
}

/* Maps a Redis error reply to an errno and logs what is not routine. */
static int reply_err(const lanes_jobconn *c, const redisReply *r)
{
    const char *s = r->str ? r->str : "";
    if (!strncmp(s, "ESTALE", 6))
        return -ESTALE;
    if (!strncmp(s, "BUSYGROUP", 9))
        return -EALREADY;
    if (!strncmp(s, "EEXIST", 6))
        return -EEXIST;
    if (!strncmp(s, "LOADING", 7))
        return -EAGAIN;
    if (!strncmp(s, "BUSY", 4))
        return -EBUSY;
    if (!strncmp(s, "READONLY", 8))
        return -EROFS;
    if (!strncmp(s, "OOM", 3))
        return -ENOSPC;
    if (!strncmp(s, "NOAUTH", 6) || !strncmp(s, "WRONGPASS", 9) || !strncmp(s, "NOPERM", 6))
        return -EACCES;
    lanes_log(LANES_LOG_WARN, "job store %s: %s", c->where, s);
    return -EIO;
}

/* One command on a live connection. Returns the reply, or NULL with *err
 * set (an error reply is turned into *err and freed, except the two the
 * callers repair themselves, which come back as -ENOEXEC / -ENOSR). */
static redisReply *command(lanes_jobconn *c, int argc, const char **argv, const size_t *lens, int *err)
{
    *err = 0;
    if (!c->ctx) {
        *err = -ENOTCONN;
        return NULL;
    }
    errno = 0;
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, lens);
    if (!r) {
        *err = io_failed(c, errno);
        return NULL;
    }
    if (r->type != REDIS_REPLY_ERROR)
        return r;
    if (r->str && !strncmp(r->str, "NOSCRIPT", 8))
        *err = -ENOEXEC;
    else if (r->str && !strncmp(r->str, "NOGROUP", 7))
        *err = -ENOSR;
    else
        *err = reply_err(c, r);
    freeReplyObject(r);
    return NULL;
}

static int simple(lanes_jobconn *c, const char *a0, const char *a1, const char *a2, const char *a3,
                  const char *a4, const char *a5)
{
    const char *argv[6] = { a0, a1, a2, a3, a4, a5 };
    int argc = 0;
    while (argc < 6 && argv[argc])
        argc++;
    int err;
    redisReply *r = command(c, argc, argv, NULL, &err);
    if (r)
        freeReplyObject(r);
    return err;
}

static int make_group(lanes_jobconn *c)
{
    /* From id 0: jobs submitted before any runner made the group (a fresh or
     * emptied Redis) must still be delivered. */
    int rc = simple(c, "XGROUP", "CREATE", KEY_PREFIX "stream", GROUP, "0", "MKSTREAM");
    if (rc == -EALREADY)   /* BUSYGROUP: it exists, which is what we want */
        rc = 0;
    return rc;
}

static int load_scripts(lanes_jobconn *c)
{
    for (int i = 0; i < SC_N; i++) {
        const char *argv[3] = { "SCRIPT", "LOAD", script_text[i] };
        int err;
        redisReply *r = command(c, 3, argv, NULL, &err);
        if (!r)
            return err;
        if (r->type != REDIS_REPLY_STRING || r->len >= sizeof c->sha[i]) {
            freeReplyObject(r);
            return -EPROTO;
        }
        memcpy(c->sha[i], r->str, r->len);
        c->sha[i][r->len] = '\0';
        freeReplyObject(r);
    }
    return 0;
}

static int connect_now(lanes_jobconn *c)
{
    struct timeval tv = { .tv_sec = TIMEOUT_S, .tv_usec = 0 };
    errno = 0;
    redisContext *ctx = redisConnectWithTimeout(c->url.host, c->url.port, tv);
    int saved = errno;
    if (!ctx)
        return -ENOMEM;
    if (ctx->err) {
        int rc = ctx_err(ctx, saved);
        note_down(c, ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        redisFree(ctx);
        return -EIO;
    }
    c->ctx = ctx;
    int rc = 0;
    if (c->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->url.db);
        rc = simple(c, "SELECT", db, NULL, NULL, NULL, NULL);
    }
    if (rc == 0)
        rc = make_group(c);
    if (rc == 0)
        rc = load_scripts(c);
    if (rc < 0) {
        drop(c);
        return rc;
    }
    c->check_own = 1;   /* a read may have been delivered just before the connection broke */
    note_up(c);
    return 0;
}

/* A live connection, or the reason there is none. While Redis is down this
 * costs nothing until the backoff allows the next attempt. */
static int ensure(lanes_jobconn *c)
{
    if (c->ctx)
        return 0;
    double now = mono_now();
    if (now < c->retry_at)
        return c->down_err;
    int rc = connect_now(c);
    if (rc < 0) {
        c->down_err = rc;
        c->retry_at = now + c->backoff;
        c->backoff = c->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : c->backoff * 2;
        return rc;
    }
    c->backoff = BACKOFF_MIN_S;
    return 0;
}

/* Runs script `which` with args after the prefix and TTL. A Redis that lost
 * its script cache (restart, SCRIPT FLUSH) gets the scripts again. */
static redisReply *script(lanes_jobconn *c, int which, int nargs, const char **args, const size_t *lens, int *err)
{
    if ((*err = ensure(c)) < 0)
        return NULL;
    const char *argv[MAX_ARGS];
    size_t alen[MAX_ARGS];
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", c->ttl);
    argv[0] = "EVALSHA";
    argv[2] = "0";
    argv[3] = KEY_PREFIX;
    argv[4] = ttl;
    for (int i = 0; i < nargs && 5 + i < MAX_ARGS; i++) {
        argv[5 + i] = args[i];
        alen[5 + i] = lens ? lens[i] : strlen(args[i]);
    }
    for (int tries = 0; tries < 2; tries++) {
        argv[1] = c->sha[which];
        for (int i = 0; i < 5; i++)
            alen[i] = strlen(argv[i]);
        redisReply *r = command(c, 5 + nargs, argv, alen, err);
        if (r || *err != -ENOEXEC)
            return r;
        if ((*err = load_scripts(c)) < 0)
            return NULL;
    }
    *err = -EIO;
    return NULL;
}

static void redis_close(lanes_jobconn *c)
{
    if (!c)
        return;
    drop(c);
    free(c);
}

/* Never fails because Redis is down: a server must start (and serve its
 * other routes) before its Redis does. Only a bad URL is an error here. */
static int redis_open(const char *where, double busy_timeout, int flags, lanes_jobconn **out)
{
    (void)busy_timeout;   /* Redis has no locks to wait for; TIMEOUT_S bounds each call */
    (void)flags;
    *out = NULL;
    lanes_jobconn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    const char *why;
    if (lanes_redis_url_parse(where, &c->url, &why) < 0) {
        lanes_log(LANES_LOG_ERROR, "job store '%s': %s", where ? where : "", why);
        free(c);
        return -EINVAL;
    }
    snprintf(c->where, sizeof c->where, "%s", where);
    c->ttl = DEFAULT_TTL;
    c->backoff = BACKOFF_MIN_S;
    ensure(c);
    *out = c;
    return 0;
}

static void redis_set_ttl(lanes_jobconn *c, long ttl)
{
    if (ttl > 0)
        c->ttl = ttl;
}

/* ---- reading replies into records ------------------------------------------------------------- */

static int dup_bytes(const redisReply *v, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (!v || v->type != REDIS_REPLY_STRING)
        return 0;
    *out = malloc(v->len + 1);   /* +1: a NUL after text-like payloads */
    if (!*out)
        return -ENOMEM;
    memcpy(*out, v->str, v->len);
    (*out)[v->len] = '\0';
    if (len)
        *len = v->len;
    return 0;
}

static double num(const redisReply *v)
{
    if (v && v->type == REDIS_REPLY_STRING)
        return strtod(v->str, NULL);
    if (v && v->type == REDIS_REPLY_INTEGER)
        return (double)v->integer;
    return 0;
}

static int set_field(lanes_job *j, const char *k, const redisReply *v)
{
    char *s = NULL;
    if (!strcmp(k, "route"))
        return dup_bytes(v, &j->route, NULL);
    if (!strcmp(k, "method"))
        return dup_bytes(v, &j->method, NULL);
    if (!strcmp(k, "target"))
        return dup_bytes(v, &j->target, NULL);
    if (!strcmp(k, "headers"))
        return dup_bytes(v, &j->headers, &j->headers_len);
    if (!strcmp(k, "body")) {
        int rc = dup_bytes(v, &s, &j->body_len);
        j->body = s;
        return rc;
    }
    if (!strcmp(k, "result_body")) {
        int rc = dup_bytes(v, &s, &j->result_len);
        j->result_body = s;
        return rc;
    }
    if (!strcmp(k, "runner"))
        return dup_bytes(v, &j->runner, NULL);
    if (!strcmp(k, "result_type"))
        return dup_bytes(v, &j->result_type, NULL);
    if (!strcmp(k, "error"))
        return dup_bytes(v, &j->error, NULL);
    if (!strcmp(k, "state")) {
        int st = v && v->type == REDIS_REPLY_STRING ? lanes_job_state_parse(v->str) : -EINVAL;
        j->state = st < 0 ? LANES_JOB_FAILED : (lanes_job_state)st;
    } else if (!strcmp(k, "attempts")) {
        j->attempts = (int)num(v);
    } else if (!strcmp(k, "lease_until")) {
        j->lease_until = num(v);
    } else if (!strcmp(k, "created")) {
        j->created = num(v);
    } else if (!strcmp(k, "started")) {
        j->started = num(v);
    } else if (!strcmp(k, "finished")) {
        j->finished = num(v);
    } else if (!strcmp(k, "result_status")) {
        j->result_status = (int)num(v);
    }
    return 0;
}

/* Fills j from a flat field/value array (HGETALL). */
static int read_hash(const redisReply *r, const char *id, lanes_job *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (set_field(j, k->str, r->element[i + 1]) < 0) {
            lanes_job_clear(j);
            return -ENOMEM;
        }
    }
    return 0;
}

/* ---- submit ---------------------------------------------------------------------------------- */

static int redis_submit(lanes_jobconn *c, const lanes_job *j)
{
    char created[32];
    snprintf(created, sizeof created, "%.6f", j->created);
    const char *args[7] = { j->id, j->route ? j->route : "", j->method ? j->method : "GET",
                            j->target ? j->target : "/", j->headers ? j->headers : "",
                            j->body ? j->body : "", created };
    size_t lens[7] = { strlen(args[0]), strlen(args[1]), strlen(args[2]), strlen(args[3]),
                       j->headers ? j->headers_len : 0, j->body ? j->body_len : 0, strlen(created) };
    int err;
    redisReply *r = script(c, SC_SUBMIT, 7, args, lens, &err);
    if (!r)
        return err;
    freeReplyObject(r);
    return 0;
}

/* ---- claims and leases ---------------------------------------------------------------------------- */

/* Finds the job id in a stream entry [entry-id, [field, value, ...]]. */
static int entry_job(const redisReply *e, const char **entry, const char **id)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return -EPROTO;
    const redisReply *f = e->element[1];
    *entry = e->element[0]->str;
    if (f->type != REDIS_REPLY_ARRAY)
        return -ENOENT;   /* deleted while pending */
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && !strcmp(f->element[i]->str, "id") &&
            f->element[i + 1]->type == REDIS_REPLY_STRING && lanes_job_id_valid(f->element[i + 1]->str)) {
            *id = f->element[i + 1]->str;
            return 0;
        }
    return -ENOENT;
}

/* One page of entries idle longer than min_idle_ms goes through the requeue
 * script. Returns the next cursor's "is there more" (1), 0 at the end, < 0. */
static int sweep_page(lanes_jobconn *c, char *cursor, size_t cap, long long min_idle_ms, double now,
                      int max_retries, int *requeued, int *failed)
{
    char idle[24], snow[32], smax[16];
    snprintf(idle, sizeof idle, "%lld", min_idle_ms);
    snprintf(snow, sizeof snow, "%.6f", now);
    snprintf(smax, sizeof smax, "%d", max_retries);
    const char *argv[8] = { "XAUTOCLAIM", KEY_PREFIX "stream", GROUP, SWEEPER, idle, cursor, "COUNT", SWEEP_PAGE };
    int err;
    redisReply *r = command(c, 8, argv, NULL, &err);
    if (!r)
        return err == -ENOSR ? make_group(c) : err;
    int more = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        snprintf(cursor, cap, "%s", r->element[0]->str);
        more = strcmp(cursor, "0-0") != 0;
        const redisReply *list = r->element[1];
        for (size_t i = 0; i < list->elements && err == 0; i++) {
            const char *entry, *id;
            if (entry_job(list->element[i], &entry, &id) < 0)
                continue;
            const char *args[4] = { id, entry, snow, smax };
            redisReply *s = script(c, SC_REQUEUE, 4, args, NULL, &err);
            if (s && s->type == REDIS_REPLY_INTEGER) {
                *requeued += s->integer == 1;
                *failed += s->integer == 2;
            }
            if (s)
                freeReplyObject(s);
        }
    }
    freeReplyObject(r);
    return err < 0 ? err : more;
}

static int sweep(lanes_jobconn *c, long long min_idle_ms, double now, int max_retries, int *requeued, int *failed)
{
    char cursor[64] = "0-0";
    int nq = 0, nf = 0, rc = 0;
    for (int pages = 0; pages < 16; pages++)   /* bounded: the next sweep goes on */
        if ((rc = sweep_page(c, cursor, sizeof cursor, min_idle_ms, now, max_retries, &nq, &nf)) <= 0)
            break;
    if (nf > 0)
        lanes_log(LANES_LOG_WARN, "job store %s: %d job(s) failed: their runners died more than %d time(s)",
                  c->where, nf, max_retries);
    if (requeued)
        *requeued = nq;
    if (failed)
        *failed = nf;
    return rc < 0 ? rc : 0;
}

static int redis_requeue_expired(lanes_jobconn *c, double now, int max_retries, int *requeued, int *failed)
{
    if (requeued)
        *requeued = 0;
    if (failed)
        *failed = 0;
    int rc = ensure(c);
    return rc < 0 ? rc : sweep(c, c->lease_ms, now, max_retries, requeued, failed);
}

/* XREADGROUP for runner: from ">" (new entries, waiting BLOCK_MS for one) or
 * from "0" (the entries already delivered to runner and not acknowledged).
 * Returns the reply's entry list in *list (inside *r), or NULL when none. */
static int read_group(lanes_jobconn *c, const char *runner, int own, redisReply **r, const redisReply **list)
{
    const char *argv[11] = { "XREADGROUP", "GROUP", GROUP, runner, "COUNT", own ? "16" : "1", "BLOCK", BLOCK_MS,
                             "STREAMS", KEY_PREFIX "stream", ">" };
    if (own) {   /* no BLOCK: the history answers at once */
        argv[6] = "STREAMS";
        argv[7] = KEY_PREFIX "stream";
        argv[8] = "0";
    }
    int err;
    *list = NULL;
    *r = command(c, own ? 9 : 11, argv, NULL, &err);
    if (!*r)
        return err == -ENOSR ? make_group(c) : err;
    /* [[stream, [[entry, [field, value...]], ...]]], or nil after BLOCK */
    const redisReply *x = *r;
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 1 && x->element[0]->type == REDIS_REPLY_ARRAY &&
        x->element[0]->elements == 2 && x->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        *list = x->element[0]->element[1];
    return 0;
}

/* The claim script on one delivered entry: 1 claimed (out filled), 0 skip. */
static int take(lanes_jobconn *c, const lanes_job_claim *how, double mono, const redisReply *e, lanes_job *out)
{
    const char *entry = NULL, *id = NULL;
    int rc = entry_job(e, &entry, &id);
    if (rc < 0) {
        if (rc == -ENOENT && entry)   /* not a job entry, or deleted: nothing to claim */
            simple(c, "XACK", KEY_PREFIX "stream", GROUP, entry, NULL, NULL);
        return 0;
    }
    /* The read may have waited for the entry: start the clock (and the
     * lease) when it came, on the caller's time base. */
    double at = how->now + (mono_now() - mono);
    char now[32], until[32];
    snprintf(now, sizeof now, "%.6f", at);
    snprintf(until, sizeof until, "%.6f", at + how->lease);
    const char *args[5] = { id, entry, now, until, how->runner && *how->runner ? how->runner : "lanes" };
    int err;
    redisReply *r = script(c, SC_CLAIM, 5, args, NULL, &err);
    if (!r) {
        c->check_own = 1;   /* the entry stays delivered to us: look at it again next time */
        return err;
    }
    rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
        rc = read_hash(r, id, out) < 0 ? -ENOMEM : 1;
    freeReplyObject(r);
    return rc;
}

/* Entries delivered to this runner that it never claimed (the claim script
 * failed: Redis went away between the read and the script). */
static int take_own(lanes_jobconn *c, const lanes_job_claim *how, double mono, const char *runner, lanes_job *out)
{
    redisReply *r;
    const redisReply *list;
    int rc = read_group(c, runner, 1, &r, &list);
    if (rc < 0 || !r)
        return rc;
    c->check_own = 0;
    for (size_t i = 0; list && i < list->elements && rc == 0; i++)
        rc = take(c, how, mono, list->element[i], out);
    freeReplyObject(r);
    if (rc == 1)
        c->check_own = 1;   /* there may be more */
    return rc;
}

static int redis_claim(lanes_jobconn *c, const lanes_job_claim *how, lanes_job *out)
{
    memset(out, 0, sizeof *out);
    int rc = ensure(c);
    if (rc < 0)
        return rc;
    c->lease_ms = (long long)(how->lease * 1000.0);
    double mono = mono_now();
    if (mono >= c->next_sweep) {
        double every = how->lease / 2 < SWEEP_EVERY_MAX_S ? how->lease / 2 : SWEEP_EVERY_MAX_S;
        c->next_sweep = mono + every;
        if ((rc = sweep(c, c->lease_ms, how->now, how->max_retries, NULL, NULL)) < 0)
            return rc;
    }
    const char *runner = how->runner && *how->runner ? how->runner : "lanes";
    if (c->check_own && (rc = take_own(c, how, mono, runner, out)) != 0)
        return rc;
    /* A few entries may be skipped (cancelled, expired): try the next. */
    for (int tries = 0; tries < 8; tries++) {
        redisReply *r;
        const redisReply *list;
        if ((rc = read_group(c, runner, 0, &r, &list)) < 0)
            return rc;
        if (!r)
            return 0;
        rc = list && list->elements == 1 ? take(c, how, mono, list->element[0], out) : 0;
        int empty = !list || list->elements == 0;
        freeReplyObject(r);
        if (rc != 0 || empty)
            return rc;
    }
    return 0;
}

static int redis_renew(lanes_jobconn *c, const char *id, int attempt, double until)
{
    char sa[16], su[32];
    snprintf(sa, sizeof sa, "%d", attempt);
    snprintf(su, sizeof su, "%.6f", until);
    const char *args[3] = { id, sa, su };
    int err;
    redisReply *r = script(c, SC_RENEW, 3, args, NULL, &err);
    if (r)
        freeReplyObject(r);
    return err;
}

static int finish(lanes_jobconn *c, const char *id, int attempt, double now, const char *state, int status,
                  const char *type, const void *body, size_t len, const char *reason)
{
    char sa[16], sn[32], ss[16];
    snprintf(sa, sizeof sa, "%d", attempt);
    snprintf(sn, sizeof sn, "%.6f", now);
    snprintf(ss, sizeof ss, "%d", status);
    const char *args[8] = { id, sa, sn, state, ss, type ? type : "", body ? body : "", reason ? reason : "" };
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(args[i]);
    lens[6] = body ? len : 0;
    int err;
    redisReply *r = script(c, SC_FINISH, 8, args, lens, &err);
    if (r)
        freeReplyObject(r);
    return err;
}

static int redis_complete(lanes_jobconn *c, const char *id, int attempt, int status,
                          const char *content_type, const void *body, size_t len, double now)
{
    return finish(c, id, attempt, now, "done", status, content_type, body, len, NULL);
}

static int redis_fail(lanes_jobconn *c, const char *id, int attempt, const char *reason, double now)
{
    return finish(c, id, attempt, now, "failed", 0, NULL, NULL, 0, reason ? reason : "failed");
}

/* ---- reading jobs ------------------------------------------------------------------------------------ */

static int redis_get(lanes_jobconn *c, const char *id, lanes_job *out)
{
    memset(out, 0, sizeof *out);
    int rc = ensure(c);
    if (rc < 0)
        return rc;
    char key[64];
    snprintf(key, sizeof key, KEY_PREFIX "job:%s", id);
    const char *argv[2] = { "HGETALL", key };
    redisReply *r = command(c, 2, argv, NULL, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        rc = -ENOENT;
    else
        rc = read_hash(r, id, out);
    freeReplyObject(r);
    return rc;
}

static int redis_cancel(lanes_jobconn *c, const char *id, double now, lanes_job_state *state)
{
    char sn[32];
    snprintf(sn, sizeof sn, "%.6f", now);
    const char *args[2] = { id, sn };
    int err;
    redisReply *r = script(c, SC_CANCEL, 2, args, NULL, &err);
    if (!r)
        return err;
    int rc;
    if (r->type == REDIS_REPLY_INTEGER) {
        rc = r->integer == 1 ? 0 : -ENOENT;
        if (rc == 0 && state)
            *state = LANES_JOB_CANCELLED;
    } else {
        int st = r->type == REDIS_REPLY_STRING ? lanes_job_state_parse(r->str) : -EINVAL;
        if (state)
            *state = st < 0 ? LANES_JOB_FAILED : (lanes_job_state)st;
        rc = -EBUSY;
    }
    freeReplyObject(r);
    return rc;
}

static int read_list_row(const redisReply *row, lanes_job *j)
{
    memset(j, 0, sizeof *j);
    size_t nf = sizeof list_fields / sizeof list_fields[0];
    if (row->type != REDIS_REPLY_ARRAY || row->elements != nf + 1 || row->element[0]->type != REDIS_REPLY_STRING)
        return -EPROTO;
    snprintf(j->id, sizeof j->id, "%s", row->element[0]->str);
    for (size_t i = 0; i < nf; i++)
        if (set_field(j, list_fields[i], row->element[i + 1]) < 0) {
            lanes_job_clear(j);
            return -ENOMEM;
        }
    return 0;
}

static int redis_list(lanes_jobconn *c, int state, int limit, lanes_job **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (limit <= 0)
        return 0;
    char sl[16];
    snprintf(sl, sizeof sl, "%d", limit);
    const char *args[2] = { state >= 0 ? lanes_job_state_name((lanes_job_state)state) : "", sl };
    int err;
    redisReply *r = script(c, SC_LIST, 2, args, NULL, &err);
    if (!r)
        return err;
    int rc = 0, count = 0;
    lanes_job *jobs = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        jobs = calloc(r->elements, sizeof *jobs);
        if (!jobs)
            rc = -ENOMEM;
        for (size_t i = 0; jobs && i < r->elements && rc == 0; i++)
            if ((rc = read_list_row(r->element[i], &jobs[count])) == 0)
                count++;
    }
    freeReplyObject(r);
    if (rc < 0) {
        lanes_job_list_free(jobs, count);
        return rc;
    }
    *out = jobs;
    *n = count;
    return 0;
}

static int redis_count(lanes_jobconn *c, long counts[LANES_JOB_CANCELLED + 1])
{
    for (int i = 0; i <= LANES_JOB_CANCELLED; i++)
        counts[i] = 0;
    int err;
    redisReply *r = script(c, SC_COUNT, 0, NULL, NULL, &err);
    if (!r)
        return err;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && i <= LANES_JOB_CANCELLED; i++)
        counts[i] = (long)num(r->element[i]);
    freeReplyObject(r);
    return 0;
}

const lanes_jobstore_ops lanes_jobstore_redis = {
    .name = "redis",
    .remote = 1,
    .open = redis_open,
    .close = redis_close,
    .submit = redis_submit,
    .claim = redis_claim,
    .renew = redis_renew,
    .complete = redis_complete,
    .fail_job = redis_fail,
    .requeue_expired = redis_requeue_expired,
    .get = redis_get,
    .cancel = redis_cancel,
    .list = redis_list,
    .count = redis_count,
    .set_ttl = redis_set_ttl,
};
