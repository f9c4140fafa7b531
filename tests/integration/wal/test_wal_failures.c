/* Failure tests of the write log.
 *
 * Kafka: a qv_kafka_broker on 127.0.0.1 is stopped (or frozen with SIGSTOP)
 * while the log is in use: appends must fail with a clear error within their
 * timeout and nothing may crash; once the broker is back, appends succeed
 * again.  The mock broker keeps ~5 MiB per partition and nothing across a
 * restart, so volumes are tiny and a restarted broker starts empty.
 *
 * Local: a child process appends and is killed with SIGKILL; reopening the
 * log yields exactly the acknowledged records.  Truncating the last segment
 * in the middle of a record drops exactly that record's batch.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/wal/wal.h"
#include "tests/lib/kafka_broker.h"

#define APPEND_TIMEOUT_MS 2000

static uint64_t now_ms(void)
{
    return qv_mono_ms(qv_clock_system());
}

static qv_code append_str(wal *w, const char *ch, const char *s, wal_pos *pos,
                          qv_err *err)
{
    wal_record rec = {s, strlen(s)};
    return wal_append(w, ch, &rec, 1, pos, err);
}

/* Appends until it works or deadline_ms passes; returns the last code. */
static qv_code append_until_ok(wal *w, const char *ch, const char *s,
                               uint64_t deadline_ms, qv_err *err)
{
    qv_code rc;
    do {
        rc = append_str(w, ch, s, NULL, err);
        if (rc == QV_OK)
            break;
        qv_sleep_ms(100);
    } while (now_ms() < deadline_ms);
    return rc;
}

static void check_outage_error(qv_code rc, const qv_err *err,
                               const qv_kafka_broker *b, uint64_t took)
{
    cr_assert(rc == QV_E_TIMEOUT || rc == QV_E_UNAVAILABLE,
              "append during outage: %s (%s)", qv_code_name(rc), err->msg);
    cr_assert(took <= APPEND_TIMEOUT_MS + 3000,
              "append took %llu ms with a %d ms timeout",
              (unsigned long long)took, APPEND_TIMEOUT_MS);
    cr_assert(strstr(err->msg, "kafka") && strstr(err->msg, "'f1'") &&
                  strstr(err->msg, b->bootstrap),
              "error does not name backend, channel and broker: %s", err->msg);
}

Test(wal_kafka_failure, broker_stop_fails_appends_then_restart_recovers,
     .timeout = 90)
{
    qv_kafka_broker b;
    qv_err err = {0};
    cr_assert_eq(qv_kafka_broker_start(&b, 1, &err), QV_OK, "%s", err.msg);
    wal_options o = {.bootstrap = b.bootstrap, .timeout_ms = APPEND_TIMEOUT_MS};
    wal *w;
    cr_assert_eq(wal_open("kafka", &o, &w, &err), QV_OK, "%s", err.msg);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(append_str(w, "f1", "before", NULL, &err), QV_OK, "%s",
                     err.msg);
    wal_reader *r;
    cr_assert_eq(wal_reader_open(w, "f1", WAL_EARLIEST, &r, &err), QV_OK, "%s",
                 err.msg);

    cr_assert_eq(qv_kafka_broker_stop(&b, &err), QV_OK, "%s", err.msg);
    for (int i = 0; i < 2; i++) {
        uint64_t t0 = now_ms();
        qv_code rc = append_str(w, "f1", "during", NULL, &err);
        check_outage_error(rc, &err, &b, now_ms() - t0);
    }
    /* Reads and bounds fail (or time out) within their limits too. */
    uint64_t t0 = now_ms();
    wal_entry e;
    qv_code rc;
    int reads = 0;
    while ((rc = wal_reader_next(r, 300, &e, &err)) == QV_OK)
        reads++; /* records fetched before the stop may still be queued */
    cr_assert_leq(reads, 5);
    cr_assert_neq(rc, QV_OK);
    cr_assert_lt(now_ms() - t0, 300 * 7 + 3000);
    /* A channel never used before needs its topic created: that too is
     * bounded by the one timeout. */
    t0 = now_ms();
    rc = append_str(w, "f2", "new", NULL, &err);
    cr_assert(rc == QV_E_TIMEOUT || rc == QV_E_UNAVAILABLE, "%s (%s)",
              qv_code_name(rc), err.msg);
    cr_assert_leq(now_ms() - t0, APPEND_TIMEOUT_MS + 3000);
    cr_assert(strstr(err.msg, "'f2'") && strstr(err.msg, b.bootstrap), "%s",
              err.msg);
    t0 = now_ms();
    cr_assert_neq(wal_latest(w, "f1", NULL, &err), QV_OK);
    cr_assert_leq(now_ms() - t0, APPEND_TIMEOUT_MS + 3000);
    wal_reader_close(r);

    cr_assert_eq(qv_kafka_broker_restart(&b, &err), QV_OK, "%s", err.msg);
    rc = append_until_ok(w, "f1", "after", now_ms() + 20000, &err);
    cr_assert_eq(rc, QV_OK, "append after restart: %s", err.msg);
    /* The restarted (in-memory) broker is empty: "after" is in it. */
    cr_assert_eq(wal_reader_open(w, "f1", WAL_EARLIEST, &r, &err), QV_OK, "%s",
                 err.msg);
    int found = 0;
    while (wal_reader_next(r, 1000, &e, &err) == QV_OK)
        found |= e.len == 5 && memcmp(e.data, "after", 5) == 0;
    cr_assert(found, "record appended after the restart not read back");
    wal_reader_close(r);
    wal_close(w);
    qv_kafka_broker_destroy(&b);
}

/* SIGSTOP takes effect thread by thread: waits (bounded) until every
 * thread of pid shows state 'T' in /proc, so the broker answers nothing
 * more. */
static void wait_all_threads_stopped(pid_t pid)
{
    char dir[64];
    (void)snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    for (int tries = 0; tries < 500; tries++) {
        DIR *d = opendir(dir);
        cr_assert_not_null(d, "cannot list %s", dir);
        int running = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char *p = qv_xasprintf("%s/%s/stat", dir, de->d_name);
            FILE *f = fopen(p, "r");
            free(p);
            char line[512] = {0};
            if (!f)
                continue;
            if (fgets(line, sizeof(line), f)) {
                const char *close = strrchr(line, ')');
                running |= !close || close[1] != ' ' || close[2] != 'T';
            }
            (void)fclose(f);
        }
        closedir(d);
        if (!running)
            return;
        qv_sleep_ms(2);
    }
    cr_assert_fail("broker threads did not stop");
}

Test(wal_kafka_failure, frozen_broker_times_out_then_keeps_acked_records,
     .timeout = 90)
{
    qv_kafka_broker b;
    qv_err err = {0};
    cr_assert_eq(qv_kafka_broker_start(&b, 1, &err), QV_OK, "%s", err.msg);
    wal_options o = {.bootstrap = b.bootstrap, .timeout_ms = APPEND_TIMEOUT_MS};
    wal *w;
    cr_assert_eq(wal_open("kafka", &o, &w, &err), QV_OK, "%s", err.msg);
    char v[32];
    for (int i = 0; i < 10; i++) {
        (void)snprintf(v, sizeof(v), "acked-%d", i);
        cr_assert_eq(append_str(w, "f1", v, NULL, &err), QV_OK, "%s", err.msg);
    }
    qv_proc_signal(&b.proc, SIGSTOP);
    wait_all_threads_stopped(b.proc.pid);
    uint64_t t0 = now_ms();
    qv_code rc = append_str(w, "f1", "frozen", NULL, &err);
    check_outage_error(rc, &err, &b, now_ms() - t0);
    qv_proc_signal(&b.proc, SIGCONT);
    rc = append_until_ok(w, "f1", "thawed", now_ms() + 20000, &err);
    cr_assert_eq(rc, QV_OK, "append after thaw: %s", err.msg);

    /* Every acknowledged record is still there, in order. */
    wal_reader *r;
    cr_assert_eq(wal_reader_open(w, "f1", WAL_EARLIEST, &r, &err), QV_OK, "%s",
                 err.msg);
    int next = 0, thawed = 0;
    wal_entry e;
    while (wal_reader_next(r, 1000, &e, &err) == QV_OK) {
        (void)snprintf(v, sizeof(v), "acked-%d", next);
        if (next < 10 && e.len == strlen(v) && memcmp(e.data, v, e.len) == 0)
            next++;
        thawed |= e.len == 6 && memcmp(e.data, "thawed", 6) == 0;
    }
    cr_assert_eq(next, 10, "acked records lost: read %d of 10", next);
    cr_assert(thawed);
    wal_reader_close(r);
    wal_close(w);
    qv_kafka_broker_destroy(&b);
}

/* Three brokers, replication factor 3: channels spread their leaders over
 * the brokers and every one round-trips. */
Test(wal_kafka_failure, three_broker_cluster_round_trips, .timeout = 60)
{
    qv_kafka_broker b;
    qv_err err = {0};
    cr_assert_eq(qv_kafka_broker_start(&b, 3, &err), QV_OK, "%s", err.msg);
    cr_assert(strchr(b.bootstrap, ','), "one broker: %s", b.bootstrap);
    wal_options o = {.bootstrap = b.bootstrap,
                     .timeout_ms = APPEND_TIMEOUT_MS,
                     .replication_factor = 3};
    wal *w;
    cr_assert_eq(wal_open("kafka", &o, &w, &err), QV_OK, "%s", err.msg);
    char ch[16], v[32];
    for (int c = 0; c < 6; c++) {
        (void)snprintf(ch, sizeof(ch), "rf-%d", c);
        (void)snprintf(v, sizeof(v), "value-%d", c);
        wal_pos pos;
        cr_assert_eq(append_str(w, ch, v, &pos, &err), QV_OK, "%s", err.msg);
        wal_reader *r;
        cr_assert_eq(wal_reader_open(w, ch, pos, &r, &err), QV_OK, "%s",
                     err.msg);
        wal_entry e;
        cr_assert_eq(wal_reader_next(r, 5000, &e, &err), QV_OK, "%s", err.msg);
        cr_assert(e.len == strlen(v) && memcmp(e.data, v, e.len) == 0);
        wal_reader_close(r);
    }
    wal_close(w);
    cr_assert_eq(qv_kafka_broker_stop(&b, &err), QV_OK, "%s", err.msg);
    qv_kafka_broker_destroy(&b);
}

/* ---- local log: crash and torn tail ------------------------------------ */

#define BATCH 3

static char *tmpdir;

static void local_setup(void)
{
    qv_err err = {0};
    cr_assert_eq(qv_test_mkdtemp("qv-walcrash-", &tmpdir, &err), QV_OK);
}

static void local_teardown(void)
{
    qv_test_rmtree(tmpdir, NULL);
    free(tmpdir);
}

/* Child: appends batches of BATCH records "rec-<pos>" and writes the number
 * of acknowledged records to fd after each append; stops after max_batches
 * (then waits to be killed) or runs until killed when max_batches is 0. */
static void child_appender(int fd, int max_batches)
{
    wal_options o = {.dir = tmpdir, .segment_bytes = 4096};
    wal *w;
    if (wal_open("local", &o, &w, NULL) != QV_OK)
        _exit(3);
    int acked = 0;
    for (int b = 0; max_batches == 0 || b < max_batches; b++) {
        char buf[BATCH][32];
        wal_record recs[BATCH];
        for (int i = 0; i < BATCH; i++) {
            (void)snprintf(buf[i], sizeof(buf[i]), "rec-%06d", acked + i);
            recs[i] = (wal_record){buf[i], strlen(buf[i])};
        }
        if (wal_append(w, "crash", recs, BATCH, NULL, NULL) != QV_OK)
            _exit(4);
        acked += BATCH;
        if (write(fd, &acked, sizeof(acked)) != sizeof(acked))
            _exit(5);
    }
    for (;;)
        pause();
}

/* Forks the appender, lets it acknowledge at least `want` records, kills
 * it with SIGKILL and returns the last acknowledged count. */
static int run_and_kill(int max_batches, int want)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        child_appender(p[1], max_batches);
    }
    close(p[1]);
    int acked = 0, v;
    while (acked < want && read(p[0], &v, sizeof(v)) == sizeof(v))
        acked = v;
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st), "appender exited early (status 0x%x)", st);
    /* Counts written before the kill landed. */
    while (read(p[0], &v, sizeof(v)) == sizeof(v))
        acked = v;
    close(p[0]);
    return acked;
}

/* Reads the whole channel, checks record i is "rec-<i>", returns count. */
static int read_back(wal *w)
{
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, "crash", WAL_EARLIEST, &r, &err), QV_OK,
                 "%s", err.msg);
    wal_entry e;
    int n = 0;
    qv_code rc;
    while ((rc = wal_reader_next(r, 0, &e, &err)) == QV_OK) {
        char want[32];
        (void)snprintf(want, sizeof(want), "rec-%06d", n);
        cr_assert_eq(e.pos, (wal_pos)n);
        cr_assert(e.len == strlen(want) && memcmp(e.data, want, e.len) == 0,
                  "record %d damaged", n);
        n++;
    }
    cr_assert_eq(rc, QV_E_TIMEOUT, "%s", err.msg);
    wal_reader_close(r);
    return n;
}

static wal *reopen(void)
{
    wal_options o = {.dir = tmpdir, .segment_bytes = 4096};
    wal *w;
    qv_err err = {0};
    cr_assert_eq(wal_open("local", &o, &w, &err), QV_OK, "%s", err.msg);
    return w;
}

TestSuite(wal_local_crash, .init = local_setup, .fini = local_teardown,
          .timeout = 60);

Test(wal_local_crash, sigkill_between_appends_keeps_exactly_the_acked)
{
    int acked = run_and_kill(40, 40 * BATCH);
    cr_assert_eq(acked, 40 * BATCH);
    wal *w = reopen();
    cr_assert_eq(read_back(w), acked);
    wal_close(w);
}

Test(wal_local_crash, sigkill_during_appends_keeps_whole_batches)
{
    int acked = run_and_kill(0, 300);
    wal *w = reopen();
    int n = read_back(w);
    /* Every acknowledged record survives; the batch in flight at the kill
     * is either wholly there or wholly gone. */
    cr_assert(n == acked || n == acked + BATCH, "read %d, acked %d", n, acked);
    wal_close(w);
}

/* Path of the segment file with the highest base (the active one). */
static char *last_segment(void)
{
    char *d = qv_xasprintf("%s/crash", tmpdir);
    DIR *dd = opendir(d);
    cr_assert_not_null(dd, "cannot list %s", d);
    char best[64] = {0};
    struct dirent *de;
    while ((de = readdir(dd)) != NULL) {
        if (strstr(de->d_name, ".seg") && strlen(de->d_name) < sizeof(best) &&
            strcmp(de->d_name, best) > 0)
            memcpy(best, de->d_name, strlen(de->d_name) + 1);
    }
    closedir(dd);
    cr_assert(best[0], "no segment in %s", d);
    char *p = qv_xasprintf("%s/%s", d, best);
    free(d);
    return p;
}

Test(wal_local_crash, truncated_last_record_drops_exactly_its_batch)
{
    int acked = run_and_kill(30, 30 * BATCH);
    char *seg = last_segment();
    struct stat st;
    cr_assert_eq(stat(seg, &st), 0);
    /* Cut 4 bytes into the last record's payload ("rec-000089"). */
    cr_assert_eq(truncate(seg, st.st_size - 6), 0);
    wal *w = reopen();
    cr_assert_eq(read_back(w), acked - BATCH);
    wal_pos end;
    cr_assert_eq(wal_latest(w, "crash", &end, NULL), QV_OK);
    cr_assert_eq(end, (wal_pos)(acked - BATCH));
    /* The log goes on from there. */
    char buf[BATCH][32];
    wal_record recs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        (void)snprintf(buf[i], sizeof(buf[i]), "rec-%06d", acked - BATCH + i);
        recs[i] = (wal_record){buf[i], strlen(buf[i])};
    }
    wal_pos pos[BATCH];
    cr_assert_eq(wal_append(w, "crash", recs, BATCH, pos, NULL), QV_OK);
    cr_assert_eq(pos[0], end);
    cr_assert_eq(read_back(w), acked);
    wal_close(w);
    free(seg);
}
