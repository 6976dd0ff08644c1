/*
 * options.h — lanes-load's command line: flags (hey-compatible where hey has
 * them), target URLs, and the request bytes built once before the run.
 *
 * It must never touch the network: resolving the host is the one exception, and
 * it only ever resolves the host the user typed.
 */
#ifndef LANES_LOAD_OPTIONS_H
#define LANES_LOAD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Exit statuses, also listed in --help and docs/LOAD.md. */
enum {
    LANES_LOAD_EXIT_OK = 0,        /* run completed, at least one response (any status) */
    LANES_LOAD_EXIT_NO_RESPONSE = 1, /* run ended without a single response */
    LANES_LOAD_EXIT_USAGE = 2,     /* bad flag, value or URL */
    LANES_LOAD_EXIT_SETUP = 3,     /* cannot resolve, spawn, sample or write a file */
};

#define LANES_LOAD_DEFAULT_N 200   /* hey's default when neither -n nor -z is given */

typedef struct {
    char host[256];               /* as typed, without brackets */
    char hostport[300];           /* value of the Host header */
    char port[8];
    char path[2048];              /* path + query, at least "/" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char addr_text[80];           /* resolved address, for messages */
} lanes_load_target;

typedef struct {
    const char *url;
    lanes_load_target target;
    long n;                       /* requests; 0 = no count bound */
    int c;                        /* connections */
    int threads;                  /* event-loop threads */
    double duration;              /* -z seconds; 0 = none */
    double q;                     /* -q per-connection rate; 0 = none */
    double rate;                  /* --rate total open-loop rate; 0 = closed loop */
    const char *method;
    const char *headers[64];
    int nheaders;
    char *body;
    size_t body_len;
    const char *content_type;
    double timeout;               /* seconds; 0 = none (only with -z) */
    bool disable_keepalive;
    bool json;
    const char *timeline;
    long timeline_max;

    const char *probe_url;
    lanes_load_target probe;
    double probe_every;
    double probe_stall;

    int pid;
    const char *spawn;
    const char *spawn_log;
    double spawn_wait;
    double sample_every;          /* seconds between resource samples */

    char *request;                /* the load request, built once */
    size_t request_len;
    char *probe_request;
    size_t probe_request_len;
    bool head;                    /* HEAD: responses carry no body */
} lanes_load_opts;

/* Parses argv into o. 0 = run; 1 = --help was printed (exit 0); -EINVAL with a
 * message in err otherwise. Resolves the host names too (-EHOSTUNREACH then). */
int lanes_load_opts_parse(lanes_load_opts *o, int argc, char **argv, char *err, size_t errlen);
void lanes_load_opts_free(lanes_load_opts *o);
void lanes_load_usage(FILE *out);

/* "10s", "500ms", "1m", "2h", "250us", or a bare number of seconds. */
int lanes_load_parse_duration(const char *s, double *seconds);
/* http://host[:port][/path] only. Fills host, port, path, hostport. */
int lanes_load_parse_url(const char *url, lanes_load_target *t, char *err, size_t errlen);

#endif
