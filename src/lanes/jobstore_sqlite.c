/*
 * jobstore_sqlite.c — the embedded job store: one SQLite file in WAL mode,
 * shared by every worker process (and thread) that opens it.
 *
 * Each lanes_jobconn is one sqlite3 connection with its statements prepared
 * once; it is opened in multi-thread mode, so it must be used by one thread
 * at a time (the callers guarantee that), never by two at once.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL file when
 * the INSERT returns, so a crash or kill -9 of the process loses nothing; a
 * power loss may lose the last commits (synchronous=FULL would fsync each
 * one, at about a millisecond per submission on ordinary disks).
 *
 * A claim is one short write transaction (BEGIN IMMEDIATE): requeue expired
 * leases, then UPDATE ... RETURNING the oldest queued job. Idle runners first
 * ask a read-only question, so polling never takes the write lock for nothing.
 */
#include "lanes/jobstore.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

enum {
    ST_INSERT,
    ST_PROBE,
    ST_EXPIRE_FAIL,
    ST_EXPIRE_REQUEUE,
    ST_CLAIM,
    ST_RENEW,
    ST_COMPLETE,
    ST_FAIL,
    ST_GET,
    ST_CANCEL,
    ST_STATE,
    ST_LIST,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

/* Column lists are spelled once so get() and list() read the same order. */
#define JOB_COLUMNS "id, route, method, target, headers, body, state, attempts, lease_until, runner, " \
                    "created, started, finished, result_status, result_type, result_body, error"

static const char *const sql_text[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO jobs (id, route, method, target, headers, body, state, attempts, created) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?7)",
    [ST_PROBE] = "SELECT 1 FROM jobs WHERE state = 'queued' "
                 "OR (state = 'running' AND lease_until < ?1) LIMIT 1",
    [ST_EXPIRE_FAIL] = "UPDATE jobs SET state = 'failed', finished = ?1, lease_until = NULL, "
                       "error = 'runner died ' || attempts || ' times (lease expired)' "
                       "WHERE state = 'running' AND lease_until < ?1 AND attempts > ?2",
    [ST_EXPIRE_REQUEUE] = "UPDATE jobs SET state = 'queued', lease_until = NULL "
                          "WHERE state = 'running' AND lease_until < ?1",
    [ST_CLAIM] = "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ?2, "
                 "runner = ?3, started = ?1 "
                 "WHERE rowid = (SELECT rowid FROM jobs WHERE state = 'queued' "
                 "ORDER BY created, rowid LIMIT 1) "
                 "RETURNING " JOB_COLUMNS,
    [ST_RENEW] = "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
    [ST_COMPLETE] = "UPDATE jobs SET state = 'done', finished = ?3, lease_until = NULL, "
                    "result_status = ?4, result_type = ?5, result_body = ?6 "
                    "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
    [ST_FAIL] = "UPDATE jobs SET state = 'failed', finished = ?3, lease_until = NULL, error = ?4 "
                "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
    [ST_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
    [ST_CANCEL] = "UPDATE jobs SET state = 'cancelled', finished = ?2 WHERE id = ?1 AND state = 'queued'",
    [ST_STATE] = "SELECT state FROM jobs WHERE id = ?1",
    [ST_LIST] = "SELECT id, route, method, NULL, NULL, NULL, state, attempts, lease_until, runner, "
                "created, started, finished, result_status, result_type, NULL, error "
                "FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY created DESC, rowid DESC LIMIT ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  id TEXT PRIMARY KEY,"
    "  route TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  headers BLOB,"
    "  body BLOB,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  lease_until REAL,"
    "  runner TEXT,"
    "  created REAL NOT NULL,"
    "  started REAL,"
    "  finished REAL,"
    "  result_status INTEGER,"
    "  result_type TEXT,"
    "  result_body BLOB,"
    "  error TEXT);"
    "CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);"
    "CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created);";

struct lanes_jobconn {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
};

/* SQLite result codes as the errno-style codes the rest of lanes speaks. */
static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_READONLY: return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH: return -EACCES;
    case SQLITE_CANTOPEN: return -ENOENT;
    case SQLITE_CONSTRAINT: return -EEXIST;
    default: return -EIO;
    }
}

/* Logs what SQLite said, so an operator sees "database is locked" or "disk
 * I/O error" and the file, not just an errno. */
static int fail_rc(lanes_jobconn *c, const char *what, int rc)
{
    lanes_log(LANES_LOG_WARN, "job store %s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
    return map_rc(rc);
}

static sqlite3_stmt *stmt(lanes_jobconn *c, int which)
{
    sqlite3_stmt *s = c->st[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Runs a statement that returns no rows; the number of changed rows or < 0. */
static int exec_stmt(lanes_jobconn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail_rc(c, what, rc);
    return sqlite3_changes(c->db);
}

static void sqlite_close(lanes_jobconn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

static int try_pragmas(lanes_jobconn *c, char **err)
{
    /* journal_mode answers with a row; exec ignores it. synchronous is per
     * connection and must be set on every one. */
    int rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, err);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, schema, NULL, NULL, err);
    return rc;
}

static int set_pragmas(lanes_jobconn *c, double busy_timeout)
{
    /* Workers that start together race to switch a new file to WAL and to
     * create the schema. SQLite answers BUSY at once, without calling the
     * busy handler, where waiting could deadlock (a reader upgrading to a
     * writer): one worker of two then failed to start with "database is
     * locked". Retry for up to the busy timeout. */
    char *err = NULL;
    int rc, waited_ms = 0, limit_ms = (int)(busy_timeout * 1000.0);
    for (;;) {
        rc = try_pragmas(c, &err);
        if (map_rc(rc) != -EBUSY || waited_ms >= limit_ms)
            break;
        sqlite3_free(err);
        err = NULL;
        int ms = 5 + (int)(((uintptr_t)c >> 4) % 16);   /* differs per connection */
        sqlite3_sleep(ms);
        waited_ms += ms;
    }
    if (rc != SQLITE_OK) {
        lanes_log(LANES_LOG_ERROR, "job store %s: %s", c->path, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return map_rc(rc);
    }
    return 0;
}

static int sqlite_open(const char *where, double busy_timeout, int flags, lanes_jobconn **out)
{
    *out = NULL;
    if (!where || !*where)
        return -EINVAL;
    lanes_jobconn *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(where))) {
        free(c);
        return -ENOMEM;
    }
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(where, &c->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        lanes_log(LANES_LOG_ERROR, "job store %s: cannot open: %s", where,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        int e = map_rc(rc);
        sqlite_close(c);
        return e;
    }
    sqlite3_busy_timeout(c->db, (int)(busy_timeout * 1000.0));
    if ((rc = set_pragmas(c, busy_timeout)) < 0) {
        sqlite_close(c);
        return rc;
    }
    /* A checkpoint copies the WAL back into the database and fsyncs: tens
     * of milliseconds that must not land on the loop thread. The runners'
     * connections do them as they commit claims and results. */
    if (flags & LANES_JOBCONN_LIGHT)
        sqlite3_wal_autocheckpoint(c->db, 0);
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(c->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL);
        if (rc != SQLITE_OK) {
            int e = fail_rc(c, "prepare", rc);
            sqlite_close(c);
            return e;
        }
    }
    *out = c;
    return 0;
}

static int sqlite_submit(lanes_jobconn *c, const lanes_job *j)
{
    sqlite3_stmt *s = stmt(c, ST_INSERT);
    sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, j->route ? j->route : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, j->method ? j->method : "GET", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, j->target ? j->target : "/", -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 5, j->headers, j->headers_len, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 6, j->body, j->body_len, SQLITE_STATIC);
    sqlite3_bind_double(s, 7, j->created);
    int n = exec_stmt(c, s, "insert");
    return n < 0 ? n : 0;
}

/* ---- reading rows ------------------------------------------------------------ */

static int dup_text(sqlite3_stmt *s, int col, char **out)
{
    *out = NULL;
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!t)
        return sqlite3_column_type(s, col) == SQLITE_NULL ? 0 : -ENOMEM;
    *out = strdup((const char *)t);
    return *out ? 0 : -ENOMEM;
}

static int dup_blob(sqlite3_stmt *s, int col, void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return 0;
    const void *b = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (n <= 0)
        return 0;
    *out = malloc((size_t)n + 1);   /* +1: a NUL after text-like payloads */
    if (!*out)
        return -ENOMEM;
    memcpy(*out, b, (size_t)n);
    ((char *)*out)[n] = '\0';
    *len = (size_t)n;
    return 0;
}

/* Fills j from a row in JOB_COLUMNS order. */
static int read_row(sqlite3_stmt *s, lanes_job *j)
{
    memset(j, 0, sizeof *j);
    const unsigned char *id = sqlite3_column_text(s, 0);
    snprintf(j->id, sizeof j->id, "%s", id ? (const char *)id : "");
    void *headers = NULL;
    int rc = 0;
    rc |= dup_text(s, 1, &j->route);
    rc |= dup_text(s, 2, &j->method);
    rc |= dup_text(s, 3, &j->target);
    rc |= dup_blob(s, 4, &headers, &j->headers_len);
    j->headers = headers;
    rc |= dup_blob(s, 5, &j->body, &j->body_len);
    const unsigned char *st = sqlite3_column_text(s, 6);
    int state = lanes_job_state_parse(st ? (const char *)st : "");
    j->state = state < 0 ? LANES_JOB_FAILED : (lanes_job_state)state;
    j->attempts = sqlite3_column_int(s, 7);
    j->lease_until = sqlite3_column_double(s, 8);
    rc |= dup_text(s, 9, &j->runner);
    j->created = sqlite3_column_double(s, 10);
    j->started = sqlite3_column_double(s, 11);
    j->finished = sqlite3_column_double(s, 12);
    j->result_status = sqlite3_column_int(s, 13);
    rc |= dup_text(s, 14, &j->result_type);
    rc |= dup_blob(s, 15, &j->result_body, &j->result_len);
    rc |= dup_text(s, 16, &j->error);
    if (rc) {
        lanes_job_clear(j);
        return -ENOMEM;
    }
    return 0;
}

/* ---- claims and leases --------------------------------------------------------- */

static int expire(lanes_jobconn *c, double now, int max_retries, int *requeued, int *failed)
{
    sqlite3_stmt *s = stmt(c, ST_EXPIRE_FAIL);
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int(s, 2, max_retries);
    int nf = exec_stmt(c, s, "expire (fail)");
    if (nf < 0)
        return nf;
    s = stmt(c, ST_EXPIRE_REQUEUE);
    sqlite3_bind_double(s, 1, now);
    int nq = exec_stmt(c, s, "expire (requeue)");
    if (nq < 0)
        return nq;
    if (nf > 0)
        lanes_log(LANES_LOG_WARN, "job store %s: %d job(s) failed: their runners died more than %d time(s)",
                  c->path, nf, max_retries);
    if (requeued)
        *requeued = nq;
    if (failed)
        *failed = nf;
    return 0;
}

static int in_transaction(lanes_jobconn *c, int which, const char *what)
{
    int n = exec_stmt(c, stmt(c, which), what);
    return n < 0 ? n : 0;
}

static int sqlite_requeue_expired(lanes_jobconn *c, double now, int max_retries, int *requeued, int *failed)
{
    int rc = in_transaction(c, ST_BEGIN, "begin");
    if (rc < 0)
        return rc;
    rc = expire(c, now, max_retries, requeued, failed);
    if (rc == 0)
        rc = in_transaction(c, ST_COMMIT, "commit");
    if (rc < 0)
        in_transaction(c, ST_ROLLBACK, "rollback");
    return rc;
}

/* Read-only: is there anything a claim could take? */
static int claimable(lanes_jobconn *c, double now)
{
    sqlite3_stmt *s = stmt(c, ST_PROBE);
    sqlite3_bind_double(s, 1, now);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fail_rc(c, "probe", rc);
}

static int take_oldest(lanes_jobconn *c, const lanes_job_claim *how, lanes_job *out)
{
    sqlite3_stmt *s = stmt(c, ST_CLAIM);
    sqlite3_bind_double(s, 1, how->now);
    sqlite3_bind_double(s, 2, how->now + how->lease);
    sqlite3_bind_text(s, 3, how->runner ? how->runner : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int e = read_row(s, out);
        /* RETURNING rows are all computed before the first is handed out;
         * stepping to the end finishes the statement. */
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            lanes_job_clear(out);
            return fail_rc(c, "claim", rc);
        }
        return e < 0 ? e : 1;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : fail_rc(c, "claim", rc);
}

static int sqlite_claim(lanes_jobconn *c, const lanes_job_claim *how, lanes_job *out)
{
    memset(out, 0, sizeof *out);
    int rc = claimable(c, how->now);
    if (rc <= 0)
        return rc;
    if ((rc = in_transaction(c, ST_BEGIN, "begin")) < 0)
        return rc;
    rc = expire(c, how->now, how->max_retries, NULL, NULL);
    int got = rc < 0 ? rc : take_oldest(c, how, out);
    if (got >= 0 && (rc = in_transaction(c, ST_COMMIT, "commit")) < 0) {
        if (got == 1)
            lanes_job_clear(out);
        got = rc;
    }
    if (got < 0)
        in_transaction(c, ST_ROLLBACK, "rollback");
    return got;
}

static int sqlite_renew(lanes_jobconn *c, const char *id, int attempt, double until)
{
    sqlite3_stmt *s = stmt(c, ST_RENEW);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, attempt);
    sqlite3_bind_double(s, 3, until);
    int n = exec_stmt(c, s, "renew");
    return n < 0 ? n : n == 0 ? -ESTALE : 0;
}

static int sqlite_complete(lanes_jobconn *c, const char *id, int attempt, int status,
                           const char *content_type, const void *body, size_t len, double now)
{
    sqlite3_stmt *s = stmt(c, ST_COMPLETE);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, attempt);
    sqlite3_bind_double(s, 3, now);
    sqlite3_bind_int(s, 4, status);
    sqlite3_bind_text(s, 5, content_type ? content_type : "", -1, SQLITE_STATIC);
    if (len)
        sqlite3_bind_blob64(s, 6, body, len, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(s, 6, 0);
    int n = exec_stmt(c, s, "complete");
    return n < 0 ? n : n == 0 ? -ESTALE : 0;
}

static int sqlite_fail(lanes_jobconn *c, const char *id, int attempt, const char *reason, double now)
{
    sqlite3_stmt *s = stmt(c, ST_FAIL);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, attempt);
    sqlite3_bind_double(s, 3, now);
    sqlite3_bind_text(s, 4, reason ? reason : "failed", -1, SQLITE_STATIC);
    int n = exec_stmt(c, s, "fail");
    return n < 0 ? n : n == 0 ? -ESTALE : 0;
}

static int sqlite_count(lanes_jobconn *c, long counts[LANES_JOB_CANCELLED + 1])
{
    for (int i = 0; i <= LANES_JOB_CANCELLED; i++)
        counts[i] = 0;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT state, COUNT(*) FROM jobs GROUP BY state", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return fail_rc(c, "count", rc);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        int st = lanes_job_state_parse(t ? (const char *)t : "");
        if (st >= 0 && st <= LANES_JOB_CANCELLED)
            counts[st] = (long)sqlite3_column_int64(s, 1);
    }
    int e = rc == SQLITE_DONE ? 0 : fail_rc(c, "count", rc);
    sqlite3_finalize(s);
    return e;
}

/* ---- reading jobs ------------------------------------------------------------------ */

static int sqlite_get(lanes_jobconn *c, const char *id, lanes_job *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = stmt(c, ST_GET);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int e = rc == SQLITE_ROW ? read_row(s, out) : rc == SQLITE_DONE ? -ENOENT : fail_rc(c, "get", rc);
    sqlite3_reset(s);
    return e;
}

static int sqlite_cancel(lanes_jobconn *c, const char *id, double now, lanes_job_state *state)
{
    sqlite3_stmt *s = stmt(c, ST_CANCEL);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, now);
    int n = exec_stmt(c, s, "cancel");
    if (n < 0)
        return n;
    if (n == 1) {
        if (state)
            *state = LANES_JOB_CANCELLED;
        return 0;
    }
    s = stmt(c, ST_STATE);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int e = -ENOENT;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        int st = lanes_job_state_parse(t ? (const char *)t : "");
        if (state)
            *state = st < 0 ? LANES_JOB_FAILED : (lanes_job_state)st;
        e = -EBUSY;
    } else if (rc != SQLITE_DONE) {
        e = fail_rc(c, "cancel", rc);
    }
    sqlite3_reset(s);
    return e;
}

static int sqlite_list(lanes_jobconn *c, int state, int limit, lanes_job **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (limit <= 0)
        return 0;
    sqlite3_stmt *s = stmt(c, ST_LIST);
    if (state >= 0)
        sqlite3_bind_text(s, 1, lanes_job_state_name((lanes_job_state)state), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, limit);
    lanes_job *jobs = NULL;
    int count = 0, cap = 0, rc, e = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            int ncap = cap ? cap * 2 : 16;
            lanes_job *nj = realloc(jobs, (size_t)ncap * sizeof *nj);
            if (!nj) {
                e = -ENOMEM;
                break;
            }
            jobs = nj;
            cap = ncap;
        }
        if ((e = read_row(s, &jobs[count])) < 0)
            break;
        count++;
    }
    if (e == 0 && rc != SQLITE_DONE)
        e = fail_rc(c, "list", rc);
    sqlite3_reset(s);
    if (e < 0) {
        lanes_job_list_free(jobs, count);
        return e;
    }
    *out = jobs;
    *n = count;
    return 0;
}

const lanes_jobstore_ops lanes_jobstore_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .submit = sqlite_submit,
    .claim = sqlite_claim,
    .renew = sqlite_renew,
    .complete = sqlite_complete,
    .fail_job = sqlite_fail,
    .requeue_expired = sqlite_requeue_expired,
    .get = sqlite_get,
    .cancel = sqlite_cancel,
    .list = sqlite_list,
    .count = sqlite_count,
};
