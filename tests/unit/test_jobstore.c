/*
 * test_jobstore.c — unit tests of the SQLite job store (src/lanes/jobstore_sqlite.c)
 * through the jobstore.h interface, against a fresh file in a temporary
 * directory: submit, claim order, leases and their expiry, the retry limit,
 * fencing of stale claims, cancel, list, two connections sharing one file,
 * and the cost of one submission (printed, not asserted: the machine is noisy).
 *
 * Time is passed in explicitly, so lease expiry is tested without sleeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lanes/jobstore.h"

static const lanes_jobstore_ops *ops = &lanes_jobstore_sqlite;

typedef struct {
    char dir[64];
    char path[128];
    lanes_jobconn *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/lanes-jobstore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/jobs.db", f->dir);
    if (ops->open(f->path, 5.0, 0, &f->c) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ops->close(f->c);
    char p[160];
    static const char *const suffix[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Submits a job with the given target at time `created`; its id goes to id. */
static void submit(lanes_jobconn *c, const char *target, double created, char id[LANES_JOB_ID_LEN + 1])
{
    static const char headers[] = "content-type\0text/plain\0x-n\0001\0";
    lanes_job j = { 0 };
    assert_int_equal(lanes_job_new_id(j.id), 0);
    j.route = "POST /t";
    j.method = "POST";
    j.target = (char *)target;
    j.headers = (char *)headers;
    j.headers_len = sizeof headers - 1;
    j.body = (void *)"payload\0with nul";
    j.body_len = 16;
    j.created = created;
    assert_int_equal(ops->submit(c, &j), 0);
    memcpy(id, j.id, sizeof j.id);
}

static int claim(lanes_jobconn *c, double now, double lease, int retries, lanes_job *out)
{
    lanes_job_claim how = { .runner = "test:1/0", .now = now, .lease = lease, .max_retries = retries };
    return ops->claim(c, &how, out);
}

static void test_ids(void **state)
{
    (void)state;
    char a[LANES_JOB_ID_LEN + 1], b[LANES_JOB_ID_LEN + 1];
    assert_int_equal(lanes_job_new_id(a), 0);
    assert_int_equal(lanes_job_new_id(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_true(lanes_job_id_valid(a));
    assert_string_not_equal(a, b);
    assert_false(lanes_job_id_valid("abc"));
    assert_false(lanes_job_id_valid("0123456789abcdef0123456789abcdeG"));
    assert_false(lanes_job_id_valid("0123456789ABCDEF0123456789abcdef"));
    assert_false(lanes_job_id_valid(NULL));
    assert_int_equal(lanes_job_state_parse("running"), LANES_JOB_RUNNING);
    assert_int_equal(lanes_job_state_parse("nope"), -EINVAL);
    assert_string_equal(lanes_job_state_name(LANES_JOB_CANCELLED), "cancelled");
}

static void test_submit_get(void **state)
{
    fixture *f = *state;
    char id[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/t?x=1", 100.0, id);
    lanes_job j;
    assert_int_equal(ops->get(f->c, id, &j), 0);
    assert_string_equal(j.id, id);
    assert_int_equal(j.state, LANES_JOB_QUEUED);
    assert_int_equal(j.attempts, 0);
    assert_string_equal(j.method, "POST");
    assert_string_equal(j.target, "/t?x=1");
    assert_string_equal(j.route, "POST /t");
    assert_int_equal(j.body_len, 16);
    assert_memory_equal(j.body, "payload\0with nul", 16);
    assert_int_equal(j.headers_len, 30);
    assert_memory_equal(j.headers, "content-type\0text/plain\0x-n\0001\0", 30);
    assert_true(j.created == 100.0);
    assert_true(j.started == 0 && j.finished == 0);
    assert_int_equal(j.result_status, 0);
    assert_null(j.error);
    lanes_job_clear(&j);

    /* the same id twice is refused, not overwritten */
    lanes_job dup = { 0 };
    memcpy(dup.id, id, sizeof dup.id);
    dup.created = 1;
    assert_int_equal(ops->submit(f->c, &dup), -EEXIST);
    assert_int_equal(ops->get(f->c, "00000000000000000000000000000000", &j), -ENOENT);
}

static void test_claim_order_and_complete(void **state)
{
    fixture *f = *state;
    char a[LANES_JOB_ID_LEN + 1], b[LANES_JOB_ID_LEN + 1], c[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/b", 200.0, b);
    submit(f->c, "/a", 100.0, a);   /* older, though inserted later */
    submit(f->c, "/c", 300.0, c);

    lanes_job j;
    assert_int_equal(claim(f->c, 1000.0, 30, 3, &j), 1);
    assert_string_equal(j.id, a);
    assert_string_equal(j.target, "/a");
    assert_int_equal(j.state, LANES_JOB_RUNNING);
    assert_int_equal(j.attempts, 1);
    assert_true(j.lease_until == 1030.0);
    assert_string_equal(j.runner, "test:1/0");
    assert_memory_equal(j.body, "payload\0with nul", 16);
    lanes_job_clear(&j);

    assert_int_equal(claim(f->c, 1000.0, 30, 3, &j), 1);
    assert_string_equal(j.id, b);
    lanes_job_clear(&j);
    assert_int_equal(claim(f->c, 1000.0, 30, 3, &j), 1);
    assert_string_equal(j.id, c);
    lanes_job_clear(&j);
    assert_int_equal(claim(f->c, 1000.0, 30, 3, &j), 0);

    const char res[] = "{\"ok\":true}";
    assert_int_equal(ops->complete(f->c, a, 1, 201, "application/json", res, sizeof res - 1, 1001.0), 0);
    /* a second completion of the same claim finds nothing running */
    assert_int_equal(ops->complete(f->c, a, 1, 200, "text/plain", "x", 1, 1002.0), -ESTALE);
    assert_int_equal(ops->fail_job(f->c, b, 1, "boom", 1003.0), 0);
    /* a completion with an empty body */
    assert_int_equal(ops->complete(f->c, c, 1, 204, "", NULL, 0, 1004.0), 0);

    assert_int_equal(ops->get(f->c, a, &j), 0);
    assert_int_equal(j.state, LANES_JOB_DONE);
    assert_int_equal(j.result_status, 201);
    assert_string_equal(j.result_type, "application/json");
    assert_int_equal(j.result_len, sizeof res - 1);
    assert_memory_equal(j.result_body, res, sizeof res - 1);
    assert_true(j.started == 1000.0 && j.finished == 1001.0);
    lanes_job_clear(&j);
    assert_int_equal(ops->get(f->c, b, &j), 0);
    assert_int_equal(j.state, LANES_JOB_FAILED);
    assert_string_equal(j.error, "boom");
    assert_int_equal(j.result_status, 0);
    lanes_job_clear(&j);
    assert_int_equal(ops->get(f->c, c, &j), 0);
    assert_int_equal(j.state, LANES_JOB_DONE);
    assert_int_equal(j.result_status, 204);
    assert_int_equal(j.result_len, 0);
    lanes_job_clear(&j);
}

static void test_lease_expiry_and_retries(void **state)
{
    fixture *f = *state;
    char id[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/x", 10.0, id);
    lanes_job j;
    const int retries = 2;   /* up to 3 runs */

    assert_int_equal(claim(f->c, 100.0, 10, retries, &j), 1);
    assert_int_equal(j.attempts, 1);
    lanes_job_clear(&j);
    /* lease still held: nobody else gets it */
    assert_int_equal(claim(f->c, 109.0, 10, retries, &j), 0);
    /* renewing moves the deadline */
    assert_int_equal(ops->renew(f->c, id, 1, 125.0), 0);
    assert_int_equal(claim(f->c, 120.0, 10, retries, &j), 0);
    /* the runner died: after the lease the job runs again */
    assert_int_equal(claim(f->c, 126.0, 10, retries, &j), 1);
    assert_string_equal(j.id, id);
    assert_int_equal(j.attempts, 2);
    lanes_job_clear(&j);
    /* the first runner comes back late: its claim is stale */
    assert_int_equal(ops->complete(f->c, id, 1, 200, "text/plain", "late", 4, 127.0), -ESTALE);
    assert_int_equal(ops->renew(f->c, id, 1, 500.0), -ESTALE);
    assert_int_equal(ops->fail_job(f->c, id, 1, "late", 127.0), -ESTALE);

    assert_int_equal(claim(f->c, 200.0, 10, retries, &j), 1);
    assert_int_equal(j.attempts, 3);
    lanes_job_clear(&j);
    /* third death: no more runs, failed with the reason */
    assert_int_equal(claim(f->c, 300.0, 10, retries, &j), 0);
    assert_int_equal(ops->get(f->c, id, &j), 0);
    assert_int_equal(j.state, LANES_JOB_FAILED);
    assert_string_equal(j.error, "runner died 3 times (lease expired)");
    assert_true(j.finished == 300.0);
    lanes_job_clear(&j);
}

static void test_requeue_expired(void **state)
{
    fixture *f = *state;
    char a[LANES_JOB_ID_LEN + 1], b[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/a", 1.0, a);
    submit(f->c, "/b", 2.0, b);
    lanes_job j;
    assert_int_equal(claim(f->c, 10.0, 5, 0, &j), 1);   /* a, retries 0 */
    lanes_job_clear(&j);
    assert_int_equal(claim(f->c, 10.0, 50, 0, &j), 1);  /* b, longer lease */
    lanes_job_clear(&j);
    int rq = -1, fl = -1;
    assert_int_equal(ops->requeue_expired(f->c, 11.0, 0, &rq, &fl), 0);
    assert_int_equal(rq, 0);
    assert_int_equal(fl, 0);
    assert_int_equal(ops->requeue_expired(f->c, 16.0, 0, &rq, &fl), 0);
    assert_int_equal(fl, 1);          /* a: died once, no retries allowed */
    assert_int_equal(rq, 0);
    assert_int_equal(ops->requeue_expired(f->c, 61.0, 1, &rq, &fl), 0);
    assert_int_equal(rq, 1);          /* b: died once, one retry allowed */
    assert_int_equal(fl, 0);
    assert_int_equal(ops->get(f->c, a, &j), 0);
    assert_int_equal(j.state, LANES_JOB_FAILED);
    assert_string_equal(j.error, "runner died 1 times (lease expired)");
    lanes_job_clear(&j);
    assert_int_equal(ops->get(f->c, b, &j), 0);
    assert_int_equal(j.state, LANES_JOB_QUEUED);
    assert_int_equal(j.attempts, 1);
    lanes_job_clear(&j);
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    char a[LANES_JOB_ID_LEN + 1], b[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/a", 1.0, a);
    submit(f->c, "/b", 2.0, b);
    lanes_job_state st = LANES_JOB_QUEUED;
    assert_int_equal(ops->cancel(f->c, a, 5.0, &st), 0);
    assert_int_equal(st, LANES_JOB_CANCELLED);
    assert_int_equal(ops->cancel(f->c, a, 6.0, &st), -EBUSY);
    assert_int_equal(st, LANES_JOB_CANCELLED);
    /* a cancelled job is never claimed */
    lanes_job j;
    assert_int_equal(claim(f->c, 10.0, 30, 3, &j), 1);
    assert_string_equal(j.id, b);
    lanes_job_clear(&j);
    assert_int_equal(claim(f->c, 10.0, 30, 3, &j), 0);
    assert_int_equal(ops->cancel(f->c, b, 11.0, &st), -EBUSY);
    assert_int_equal(st, LANES_JOB_RUNNING);
    assert_int_equal(ops->cancel(f->c, "ffffffffffffffffffffffffffffffff", 11.0, &st), -ENOENT);
    assert_int_equal(ops->get(f->c, a, &j), 0);
    assert_int_equal(j.state, LANES_JOB_CANCELLED);
    assert_true(j.finished == 5.0);
    lanes_job_clear(&j);
}

static void test_list(void **state)
{
    fixture *f = *state;
    char ids[5][LANES_JOB_ID_LEN + 1];
    for (int i = 0; i < 5; i++)
        submit(f->c, "/l", 10.0 + i, ids[i]);
    lanes_job j;
    assert_int_equal(claim(f->c, 100.0, 30, 3, &j), 1);   /* ids[0] */
    lanes_job_clear(&j);

    lanes_job *jobs;
    int n;
    assert_int_equal(ops->list(f->c, -1, 50, &jobs, &n), 0);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(jobs[i].id, ids[4 - i]);   /* newest first */
    assert_null(jobs[0].body);
    assert_null(jobs[0].target);
    assert_string_equal(jobs[0].route, "POST /t");
    lanes_job_list_free(jobs, n);

    assert_int_equal(ops->list(f->c, -1, 2, &jobs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(jobs[1].id, ids[3]);
    lanes_job_list_free(jobs, n);

    assert_int_equal(ops->list(f->c, LANES_JOB_RUNNING, 50, &jobs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(jobs[0].id, ids[0]);
    assert_int_equal(jobs[0].state, LANES_JOB_RUNNING);
    lanes_job_list_free(jobs, n);

    assert_int_equal(ops->list(f->c, LANES_JOB_DONE, 50, &jobs, &n), 0);
    assert_int_equal(n, 0);
    lanes_job_list_free(jobs, n);
}

/* Two connections on one file (what two workers or a runner and the loop
 * have): what one commits the other sees, and a job is claimed once. */
static void test_two_connections(void **state)
{
    fixture *f = *state;
    lanes_jobconn *other;
    assert_int_equal(ops->open(f->path, 5.0, 0, &other), 0);
    char ids[20][LANES_JOB_ID_LEN + 1];
    for (int i = 0; i < 20; i++)
        submit(i % 2 ? f->c : other, "/two", 1.0 + i, ids[i]);
    int seen[20] = { 0 };
    lanes_job j;
    for (int round = 0; round < 20; round++) {
        lanes_jobconn *c = round % 2 ? other : f->c;
        assert_int_equal(claim(c, 50.0, 30, 3, &j), 1);
        int found = 0;
        for (int i = 0; i < 20; i++)
            if (strcmp(ids[i], j.id) == 0) {
                assert_int_equal(seen[i], 0);
                seen[i] = 1;
                found = 1;
            }
        assert_true(found);
        lanes_job_clear(&j);
    }
    assert_int_equal(claim(f->c, 50.0, 30, 3, &j), 0);
    assert_int_equal(claim(other, 50.0, 30, 3, &j), 0);
    ops->close(other);
}

/* Reopening the file finds what was committed (what a restart does). */
static void test_reopen(void **state)
{
    fixture *f = *state;
    char id[LANES_JOB_ID_LEN + 1];
    submit(f->c, "/keep", 1.0, id);
    ops->close(f->c);
    assert_int_equal(ops->open(f->path, 5.0, 0, &f->c), 0);
    lanes_job j;
    assert_int_equal(claim(f->c, 2.0, 30, 3, &j), 1);
    assert_string_equal(j.id, id);
    assert_string_equal(j.target, "/keep");
    lanes_job_clear(&j);
}

/*
 * Workers of one server start together and open the same new file: each must
 * get a working store. (SQLite answers BUSY without waiting where waiting
 * could deadlock, and one of two workers once failed to start with "database
 * is locked".) Rounds of 8 children released at once through a pipe.
 */
static void test_concurrent_first_open(void **state)
{
    (void)state;
    enum { ROUNDS = 10, KIDS = 8 };
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/lanes-jobstore-XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (int round = 0; round < ROUNDS; round++) {
        snprintf(path, sizeof path, "%s/race%d.db", dir, round);
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t kids[KIDS];
        for (int k = 0; k < KIDS; k++) {
            kids[k] = fork();
            assert_true(kids[k] >= 0);
            if (kids[k] == 0) {
                char b;
                close(go[1]);
                if (read(go[0], &b, 1) != 0)   /* EOF: all released at once */
                    _exit(3);
                lanes_jobconn *c = NULL;
                if (ops->open(path, 5.0, 0, &c) != 0)
                    _exit(1);
                lanes_job j = { 0 };
                if (lanes_job_new_id(j.id) != 0)
                    _exit(2);
                j.route = "GET /t";
                j.method = "GET";
                j.target = "/t";
                j.created = 1.0;
                int rc = ops->submit(c, &j);
                ops->close(c);
                _exit(rc == 0 ? 0 : 2);
            }
        }
        close(go[0]);
        close(go[1]);
        int failed = 0;
        for (int k = 0; k < KIDS; k++) {
            int st = 0;
            assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        assert_int_equal(failed, 0);
        static const char *const suffix[] = { "", "-wal", "-shm" };
        char p2[160];
        for (int i = 0; i < 3; i++) {
            snprintf(p2, sizeof p2, "%s%s", path, suffix[i]);
            unlink(p2);
        }
    }
    rmdir(dir);
}

static void test_open_errors(void **state)
{
    (void)state;
    lanes_jobconn *c = (lanes_jobconn *)1;
    assert_int_equal(ops->open("/nonexistent-dir-lanes/x/jobs.db", 1.0, 0, &c), -ENOENT);
    assert_null(c);
    assert_int_equal(ops->open("", 1.0, 0, &c), -EINVAL);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What a submission costs the loop thread: one INSERT + commit in WAL mode. */
static void test_submit_cost(void **state)
{
    fixture *f = *state;
    enum { N = 2000 };
    char id[LANES_JOB_ID_LEN + 1];
    double t0 = now_mono();
    for (int i = 0; i < N; i++)
        submit(f->c, "/cost?n=12345", (double)i, id);
    double per = (now_mono() - t0) / N;
    lanes_job *jobs;
    int n;
    assert_int_equal(ops->list(f->c, LANES_JOB_QUEUED, N + 10, &jobs, &n), 0);
    assert_int_equal(n, N);
    lanes_job_list_free(jobs, n);
    double t1 = now_mono();
    lanes_job j;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(claim(f->c, 1e6, 30, 3, &j), 1);
        lanes_job_clear(&j);
    }
    double per_claim = (now_mono() - t1) / 200;
    printf("# job store: %.1f us per submission (INSERT+commit, WAL, synchronous=NORMAL, %d jobs), "
           "%.1f us per claim\n", per * 1e6, N, per_claim * 1e6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test_setup_teardown(test_submit_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_order_and_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_expiry_and_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requeue_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_concurrent_first_open),
        cmocka_unit_test_setup_teardown(test_submit_cost, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
