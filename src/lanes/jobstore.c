/*
 * jobstore.c — the backend-independent half of jobstore.h: state names, job
 * ids, freeing records. No store access here; that is each backend's job.
 */
#include "lanes/jobstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const state_names[] = { "queued", "running", "done", "failed", "cancelled" };

const char *lanes_job_state_name(lanes_job_state s)
{
    if ((unsigned)s < sizeof state_names / sizeof state_names[0])
        return state_names[s];
    return "unknown";
}

int lanes_job_state_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(name, state_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

void lanes_job_clear(lanes_job *j)
{
    free(j->route);
    free(j->method);
    free(j->target);
    free(j->headers);
    free(j->body);
    free(j->runner);
    free(j->result_type);
    free(j->result_body);
    free(j->error);
    memset(j, 0, sizeof *j);
}

void lanes_job_list_free(lanes_job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        lanes_job_clear(&jobs[i]);
    free(jobs);
}

int lanes_job_new_id(char id[LANES_JOB_ID_LEN + 1])
{
    unsigned char raw[LANES_JOB_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[LANES_JOB_ID_LEN] = '\0';
    return 0;
}

int lanes_job_id_valid(const char *s)
{
    size_t i = 0;
    for (; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s && i == LANES_JOB_ID_LEN;
}
