/*
 * cli.c — see cli.h. Every limit has a flag and a default; a bad value is an
 * error with a message, never silently clamped.
 */
#include "app/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lanes/jobstore.h"
#include "util/log.h"

static const char usage[] =
    "usage: %s [options]\n"
    "\n"
    "Serves this app's routes; each route runs in the lane it names (loop, thread,\nprocess, job).\n"
    "\n"
    "  --host ADDR                 address to bind (default 127.0.0.1; :: for IPv6)\n"
    "  --port N                    TCP port, 0 = any free one (default 8000)\n"
    "  --threads N                 thread-pool size for LANES_THREAD routes and\n"
    "                              offloads (default 40, as Starlette)\n"
    "  --backlog N                 listen backlog (default 2048)\n"
    "  --timeout-keep-alive S      close idle keep-alive connections after S seconds (default 5)\n"
    "  --timeout-header S          the request head must arrive within S seconds (default 10)\n"
    "  --graceful-timeout S        on SIGTERM/SIGINT, wait at most S seconds for\n"
    "                              in-flight requests (default 30)\n"
    "  --drain-delay S             on SIGTERM/SIGINT, keep serving S seconds with /healthz\n"
    "                              answering 503 before draining, so load balancers stop\n"
    "                              sending first; a second signal skips it (default 0)\n"
    "  --limit-concurrency N       answer 503 beyond N requests in flight (default: no limit)\n"
    "  --max-header-bytes N        request head size limit, answers 431 (default 16k)\n"
    "  --max-headers N             request header count limit, answers 431 (default 100)\n"
    "  --max-body-bytes N          request body limit, answers 413 (default 1m)\n"
    "  --max-uri-bytes N           request target limit, answers 414 (default 8k)\n"
    "  --stack-size N              stack of each LOOP coroutine (default 256k)\n"
    "  --access-log, --no-access-log   one line per request on stderr (default on)\n"
    "\n"
    "Workers (a master process forks and supervises them when N > 1):\n"
    "  --workers N|auto            worker processes (default 1: no master; auto = CPUs)\n"
    "  --max-requests N            recycle a worker after N requests (default 0: never)\n"
    "  --max-requests-jitter N     add 0..N to each worker's --max-requests (default 0)\n"
    "  --timeout S                 kill a worker whose event loop is silent S seconds (default 30)\n"
    "  --no-reuse-port             share one listening socket instead of one\n"
    "                              SO_REUSEPORT socket per worker\n"
    "\n"
    "PROCESS and JOB lanes:\n"
    "  --procs N                   helper processes per worker (default: CPU count)\n"
    "  --proc-max-tasks N          recycle a helper after N tasks (default 0: never)\n"
    "  --jobs-db PATH              SQLite job store, shared by all workers (default lanes-jobs.db)\n"
    "  --jobs STORE                job store: sqlite:PATH (as --jobs-db) or\n"
    "                              redis://HOST:PORT[/DB], shared by many machines\n"
    "  --job-ttl S                 Redis: forget a job S seconds after its last change (default 86400)\n"
    "  --role both|http|jobs       http: serve and enqueue, run no jobs; jobs: run job\n"
    "                              runners only, no HTTP listener (default both)\n"
    "  --job-retries N             runs of a job whose runner died before it is failed (default 3)\n"
    "  --job-runners N             job runner threads per worker (default 2)\n"
    "  --job-lease S               seconds a claimed job is reserved for its runner (default 30)\n"
    "\n"
    "Observability:\n"
    "  --block-warn S              log when the event loop does not turn for S seconds (default 0.1)\n"
    "  --stats S                   print a stats line every S seconds (default off)\n"
    "  --no-docs                   no /docs and /openapi.json\n"
    "  --no-metrics                no /metrics\n"
    "  --no-healthz                no /healthz\n"
    "  --log-level LEVEL           error, warning, info, debug (default info)\n"
    "  --version                   print the version\n"
    "  -h, --help                  this text\n"
    "\n"
    "Sizes take k and m suffixes (16k, 1m). Durations are seconds (0.5).\n";

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

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024, end++;
    if (*end || v > hi / mult || v * mult < lo)
        return -EINVAL;
    *out = (size_t)(v * mult);
    return 0;
}

static int parse_seconds(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* --jobs sqlite:PATH | redis://HOST:PORT[/DB]. A bad URL is refused here,
 * with the reason, rather than when the first worker starts. */
static int apply_jobs(lanes_config *cfg, const char *val, const char **why)
{
    *why = "expected sqlite:PATH or redis://HOST:PORT[/DB]";
    if (!strncmp(val, "sqlite:", 7)) {
        if (!val[7] || strlen(val + 7) >= sizeof cfg->jobs_db)
            return *why = "path too long or empty", -EINVAL;
        strcpy(cfg->jobs_db, val + 7);
        cfg->jobs_redis = 0;
        return 0;
    }
    if (strncmp(val, "redis://", 8) != 0)
        return -EINVAL;
    lanes_redis_url url;
    if (lanes_redis_url_parse(val, &url, why) < 0)
        return -EINVAL;
    if (strlen(val) >= sizeof cfg->jobs_db)
        return *why = "URL too long", -EINVAL;
    strcpy(cfg->jobs_db, val);
    cfg->jobs_redis = 1;
    return 0;
}

/* Applies one flag that takes a value. Returns 0, or -EINVAL with *why set. */
static int apply(lanes_config *cfg, const char *flag, const char *val, const char **why)
{
    long l;
    int rc = -EINVAL;
    *why = "bad value";
    if (!strcmp(flag, "--host")) {
        if (strlen(val) >= sizeof cfg->host || !*val)
            return *why = "host too long or empty", -EINVAL;
        strcpy(cfg->host, val);
        return 0;
    } else if (!strcmp(flag, "--port")) {
        *why = "expected a port 0..65535";
        if ((rc = parse_long(val, 0, 65535, &l)) == 0)
            cfg->port = (int)l;
    } else if (!strcmp(flag, "--threads")) {
        *why = "expected 1..4096";
        if ((rc = parse_long(val, 1, 4096, &l)) == 0)
            cfg->threads = (int)l;
    } else if (!strcmp(flag, "--backlog")) {
        *why = "expected 1..65535";
        if ((rc = parse_long(val, 1, 65535, &l)) == 0)
            cfg->backlog = (int)l;
    } else if (!strcmp(flag, "--limit-concurrency")) {
        *why = "expected 0 (none) .. 10000000";
        if ((rc = parse_long(val, 0, 10000000, &l)) == 0)
            cfg->limit_concurrency = (int)l;
    } else if (!strcmp(flag, "--timeout-keep-alive")) {
        *why = "expected seconds, 0.001..86400";
        rc = parse_seconds(val, 0.001, 86400, &cfg->keepalive_timeout);
    } else if (!strcmp(flag, "--timeout-header")) {
        *why = "expected seconds, 0.001..86400";
        rc = parse_seconds(val, 0.001, 86400, &cfg->header_timeout);
    } else if (!strcmp(flag, "--graceful-timeout")) {
        *why = "expected seconds, 0..86400";
        rc = parse_seconds(val, 0, 86400, &cfg->graceful_timeout);
    } else if (!strcmp(flag, "--drain-delay")) {
        *why = "expected seconds, 0..3600";
        rc = parse_seconds(val, 0, 3600, &cfg->drain_delay);
    } else if (!strcmp(flag, "--max-header-bytes")) {
        *why = "expected a size, 1k..1m";
        rc = parse_size(val, 1024, 1024 * 1024, &cfg->max_header);
    } else if (!strcmp(flag, "--max-headers")) {
        *why = "expected 1..10000";
        rc = parse_size(val, 1, 10000, &cfg->max_headers);
    } else if (!strcmp(flag, "--max-body-bytes")) {
        *why = "expected a size, 0..1024m";
        rc = parse_size(val, 0, (size_t)1024 * 1024 * 1024, &cfg->max_body);
    } else if (!strcmp(flag, "--max-uri-bytes")) {
        *why = "expected a size, 16..1m";
        rc = parse_size(val, 16, 1024 * 1024, &cfg->max_uri);
    } else if (!strcmp(flag, "--stack-size")) {
        *why = "expected a size, 16k..64m";
        rc = parse_size(val, 16 * 1024, (size_t)64 * 1024 * 1024, &cfg->coro_stack);
    } else if (!strcmp(flag, "--log-level")) {
        *why = "expected error, warning, info or debug";
        int lv = lanes_log_parse_level(val);
        if (lv >= 0)
            cfg->log_level = lv, rc = 0;
    } else if (!strcmp(flag, "--workers")) {
        *why = "expected 1..256 or auto";
        if (!strcmp(val, "auto")) {
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            cfg->workers = n > 0 ? (int)n : 1;
            rc = 0;
        } else if ((rc = parse_long(val, 1, 256, &l)) == 0) {
            cfg->workers = (int)l;
        }
    } else if (!strcmp(flag, "--max-requests")) {
        *why = "expected 0..1000000000";
        if ((rc = parse_long(val, 0, 1000000000, &l)) == 0)
            cfg->max_requests = l;
    } else if (!strcmp(flag, "--max-requests-jitter")) {
        *why = "expected 0..1000000000";
        if ((rc = parse_long(val, 0, 1000000000, &l)) == 0)
            cfg->max_requests_jitter = l;
    } else if (!strcmp(flag, "--timeout")) {
        *why = "expected seconds, 0.1..86400";
        rc = parse_seconds(val, 0.1, 86400, &cfg->worker_timeout);
    } else if (!strcmp(flag, "--procs")) {
        *why = "expected 0..256";
        if ((rc = parse_long(val, 0, 256, &l)) == 0)
            cfg->procs = (int)l;
    } else if (!strcmp(flag, "--proc-max-tasks")) {
        *why = "expected 0..1000000000";
        if ((rc = parse_long(val, 0, 1000000000, &l)) == 0)
            cfg->proc_max_tasks = l;
    } else if (!strcmp(flag, "--jobs-db")) {
        if (strlen(val) >= sizeof cfg->jobs_db || !*val)
            return *why = "path too long or empty", -EINVAL;
        strcpy(cfg->jobs_db, val);
        cfg->jobs_redis = 0;
        return 0;
    } else if (!strcmp(flag, "--jobs")) {
        return apply_jobs(cfg, val, why);
    } else if (!strcmp(flag, "--job-ttl")) {
        *why = "expected whole seconds, 1..31536000";
        if ((rc = parse_long(val, 1, 31536000, &l)) == 0)
            cfg->job_ttl = l;
    } else if (!strcmp(flag, "--role")) {
        *why = "expected both, http or jobs";
        int role = !strcmp(val, "both") ? LANES_ROLE_BOTH : !strcmp(val, "http") ? LANES_ROLE_HTTP
                 : !strcmp(val, "jobs") ? LANES_ROLE_JOBS : -1;
        if (role >= 0)
            cfg->role = role, rc = 0;
    } else if (!strcmp(flag, "--job-retries")) {
        *why = "expected 0..1000";
        if ((rc = parse_long(val, 0, 1000, &l)) == 0)
            cfg->job_retries = (int)l;
    } else if (!strcmp(flag, "--job-runners")) {
        *why = "expected 0..256";
        if ((rc = parse_long(val, 0, 256, &l)) == 0)
            cfg->job_runners = (int)l;
    } else if (!strcmp(flag, "--job-lease")) {
        *why = "expected seconds, 0.1..86400";
        rc = parse_seconds(val, 0.1, 86400, &cfg->job_lease);
    } else if (!strcmp(flag, "--block-warn")) {
        *why = "expected seconds, 0.001..3600";
        rc = parse_seconds(val, 0.001, 3600, &cfg->block_warn);
    } else if (!strcmp(flag, "--stats")) {
        *why = "expected seconds, 0 (off) or 0.1..3600";
        rc = parse_seconds(val, 0, 3600, &cfg->stats_interval);
        if (rc == 0 && cfg->stats_interval > 0 && cfg->stats_interval < 0.1)
            rc = -EINVAL;
    } else {
        *why = "unknown option";
        return -ENOENT;
    }
    return rc;
}

int lanes_cli_parse(lanes_config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    const char *prog = argc > 0 ? argv[0] : "lanes";
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fprintf(out, usage, prog);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            fprintf(out, "lanes %s\n", LANES_VERSION);
            return 1;
        }
        if (!strcmp(arg, "--access-log")) {
            cfg->access_log = 1;
            continue;
        }
        if (!strcmp(arg, "--no-access-log")) {
            cfg->access_log = 0;
            continue;
        }
        if (!strcmp(arg, "--no-reuse-port")) {
            cfg->reuse_port = 0;
            continue;
        }
        if (!strcmp(arg, "--no-docs")) {
            cfg->docs = 0;
            continue;
        }
        if (!strcmp(arg, "--no-metrics")) {
            cfg->metrics = 0;
            continue;
        }
        if (!strcmp(arg, "--no-healthz")) {
            cfg->healthz = 0;
            continue;
        }
        /* --flag=value or --flag value */
        char flag[64];
        const char *val;
        char *eq = strchr(arg, '=');
        if (eq && (size_t)(eq - arg) < sizeof flag) {
            memcpy(flag, arg, (size_t)(eq - arg));
            flag[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
            val = i + 1 < argc ? argv[i + 1] : NULL;
            if (val && strncmp(flag, "--", 2) == 0)
                i++;
        }
        const char *why;
        if (strncmp(flag, "--", 2) != 0) {
            fprintf(err, "%s: unexpected argument '%s' (see --help)\n", prog, arg);
            return -EINVAL;
        }
        if (!val) {
            lanes_config scratch = *cfg;   /* probe only: is the flag known? */
            if (apply(&scratch, flag, "", &why) == -ENOENT)
                fprintf(err, "%s: unknown option '%s' (see --help)\n", prog, flag);
            else
                fprintf(err, "%s: option %s needs a value (see --help)\n", prog, flag);
            return -EINVAL;
        }
        int rc = apply(cfg, flag, val ? val : "", &why);
        if (rc < 0) {
            if (rc == -ENOENT)
                fprintf(err, "%s: unknown option '%s' (see --help)\n", prog, flag);
            else
                fprintf(err, "%s: %s '%s': %s\n", prog, flag, val ? val : "", why);
            return -EINVAL;
        }
    }
    return 0;
}
