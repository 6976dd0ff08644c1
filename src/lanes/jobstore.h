/*
 * jobstore.h — the durable job store behind the JOB lane, as an interface: a
 * table of functions a backend fills in (SQLite, Redis), plus the job record
 * they exchange. jobs.c talks only to this interface.
 *
 * A connection (lanes_jobconn) belongs to one thread at a time: SQLite
 * connections must not be used by two threads at once, nor may a hiredis
 * context. Every operation takes "now" (seconds since the
 * epoch) from the caller, so leases can be tested without sleeping.
 *
 * Life of a job: queued -> running (claimed, with a lease) -> done | failed,
 * or queued -> cancelled. A running job whose lease ran out (its runner died:
 * the runners renew leases while they live) goes back to queued, or to failed
 * once it has been started more than max_retries + 1 times.
 *
 * This header never does I/O itself.
 */
#ifndef LANES_JOBSTORE_H
#define LANES_JOBSTORE_H

#include <stddef.h>

#define LANES_JOB_ID_LEN 32        /* 128 random bits as lower-case hex */

typedef enum {
    LANES_JOB_QUEUED = 0,
    LANES_JOB_RUNNING,
    LANES_JOB_DONE,
    LANES_JOB_FAILED,
    LANES_JOB_CANCELLED,
} lanes_job_state;

/* One job as stored. Strings and blobs are owned by the record (malloc'd)
 * and freed by lanes_job_clear(); a field the store did not fill is NULL/0. */
typedef struct {
    char id[LANES_JOB_ID_LEN + 1];
    char *route;                   /* route label, "GET /fib/{n:int}/job" */
    char *method;                  /* "GET" */
    char *target;                  /* origin-form "/fib/30/job?x=1" */
    char *headers;                 /* "name\0value\0" pairs */
    size_t headers_len;
    void *body;
    size_t body_len;
    lanes_job_state state;
    int attempts;                  /* times it was claimed */
    double lease_until;            /* running: the claim holds until then */
    char *runner;                  /* who claimed it last, "host:pid/n" */
    double created, started, finished;   /* 0 = not yet */
    int result_status;             /* 0 = no result */
    char *result_type;
    void *result_body;
    size_t result_len;
    char *error;                   /* failed: why */
} lanes_job;

/* How a runner claims: who it is, for how long, and how many reruns a job
 * whose runners died may get before it is failed. */
typedef struct {
    const char *runner;
    double now;
    double lease;                  /* seconds */
    int max_retries;
} lanes_job_claim;

typedef struct lanes_jobconn lanes_jobconn;

/* SQLite: no WAL checkpoints (their fsyncs) on this connection's commits. */
#define LANES_JOBCONN_LIGHT 1

typedef struct {
    const char *name;
    /* A store across the network (Redis): any operation may wait up to about
     * a second (its timeouts), so the loop thread never calls one; and claim
     * itself waits briefly (a fraction of a second) for new work, so runners
     * need not sleep between empty claims. 0 for a local file (SQLite). */
    int remote;
    /* Opens one connection to the store at where (a file path for SQLite),
     * creating the store if needed. busy_timeout: seconds to wait for a lock
     * held by another connection before giving up with -EBUSY. flags:
     * LANES_JOBCONN_LIGHT for a connection that must stay quick (the loop
     * thread's): it leaves the store's housekeeping to the others. */
    int (*open)(const char *where, double busy_timeout, int flags, lanes_jobconn **out);
    void (*close)(lanes_jobconn *c);
    /* Stores job (id, route, method, target, headers, body, created) as
     * queued. Returns only once the job is durable: 0, -EEXIST, -EBUSY... */
    int (*submit)(lanes_jobconn *c, const lanes_job *job);
    /* First requeues expired claims (requeue_expired), then takes the oldest
     * queued job: running, attempts + 1, lease_until = now + lease. Fills out
     * with the stored request. 1 = claimed, 0 = nothing to do, < 0 error. */
    int (*claim)(lanes_jobconn *c, const lanes_job_claim *how, lanes_job *out);
    /* Extends the lease of claim number `attempt` of job id. -ESTALE when
     * that claim is no longer the job's (lease lost, job finished). */
    int (*renew)(lanes_jobconn *c, const char *id, int attempt, double until);
    /* Records the handler's answer: done. -ESTALE as for renew. */
    int (*complete)(lanes_jobconn *c, const char *id, int attempt, int status,
                    const char *content_type, const void *body, size_t len, double now);
    /* Records that the job failed, with reason. -ESTALE as for renew. */
    int (*fail_job)(lanes_jobconn *c, const char *id, int attempt, const char *reason, double now);
    /* Running jobs whose lease ended before now: back to queued, or failed
     * ("runner died N times (lease expired)") once attempts > max_retries.
     * Counts go to *requeued and *failed when not NULL. */
    int (*requeue_expired)(lanes_jobconn *c, double now, int max_retries, int *requeued, int *failed);
    /* The whole record of job id: 0 or -ENOENT. */
    int (*get)(lanes_jobconn *c, const char *id, lanes_job *out);
    /* Cancels job id if it is still queued: 0. Otherwise -ENOENT (unknown) or
     * -EBUSY (it has started or ended; *state tells which). */
    int (*cancel)(lanes_jobconn *c, const char *id, double now, lanes_job_state *state);
    /* The most recent jobs first, at most limit, only those in state when
     * state >= 0. Records carry no request or result bodies. *out is an array
     * for lanes_job_list_free(). */
    int (*list)(lanes_jobconn *c, int state, int limit, lanes_job **out, int *n);
    /* How many jobs are in each state (indexed by lanes_job_state), for
     * /metrics. 0 or a negative errno. */
    int (*count)(lanes_jobconn *c, long counts[LANES_JOB_CANCELLED + 1]);
    /* Optional (NULL when the store keeps jobs forever, as SQLite does): a job
     * is forgotten ttl seconds after its last change of state. */
    void (*set_ttl)(lanes_jobconn *c, long ttl);
} lanes_jobstore_ops;

/* The embedded default: one SQLite file in WAL mode (jobstore_sqlite.c). */
extern const lanes_jobstore_ops lanes_jobstore_sqlite;
/* Many machines: a Redis stream with a consumer group (jobstore_redis.c).
 * open() takes a redis://HOST:PORT[/DB] URL and succeeds while Redis is down:
 * operations then fail fast with a network errno until it is back. */
extern const lanes_jobstore_ops lanes_jobstore_redis;

/* A parsed redis://HOST[:PORT][/DB] URL (PORT defaults to 6379, DB to 0;
 * HOST may be [v6-address]). */
typedef struct {
    char host[256];
    int port;
    int db;
} lanes_redis_url;

/* 0, or -EINVAL with *why saying what is wrong (static text). */
int lanes_redis_url_parse(const char *url, lanes_redis_url *out, const char **why);

/* ---- helpers shared by backends and the lane (jobstore.c) ---- */

const char *lanes_job_state_name(lanes_job_state s);
/* "queued" -> LANES_JOB_QUEUED ...; -EINVAL for anything else. */
int lanes_job_state_parse(const char *name);
/* Frees what the record owns and zeroes it. */
void lanes_job_clear(lanes_job *j);
void lanes_job_list_free(lanes_job *jobs, int n);
/* 32 hex digits from the kernel's random source. 0 or a negative errno. */
int lanes_job_new_id(char id[LANES_JOB_ID_LEN + 1]);
/* True when s looks like an id (32 lower-case hex digits). */
int lanes_job_id_valid(const char *s);

#endif
