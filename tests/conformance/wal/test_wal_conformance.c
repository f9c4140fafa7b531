/* Conformance suite of the write log: every case runs against both
 * backends, "local" (segment files in a temp dir) and "kafka" (a
 * qv_kafka_broker on 127.0.0.1 started and stopped per test).
 *
 * The Kafka mock keeps only the last ~5 MiB per partition, so every case
 * keeps each channel's volume well under that (the largest writes ~3 MiB),
 * except the two retention cases at the end, which write 7 MiB on purpose.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "tests/conformance/wal/wal_fixture.h"

#define WAIT_MS 5000

typedef void (*wal_case_fn)(wal_fx *fx);

static void run_case(const char *backend, wal_case_fn fn,
                     const wal_options *opt)
{
    wal_fx fx;
    wal_fx_init(&fx, backend, opt);
    fn(&fx);
    wal_fx_destroy(&fx);
}

/* Defines one case and registers it for both backends. */
#define WAL_CASE(name)                                                         \
    static void name##_body(wal_fx *fx);                                       \
    Test(wal_local, name, .timeout = 60)                                       \
    {                                                                          \
        run_case("local", name##_body, NULL);                                  \
    }                                                                          \
    Test(wal_kafka, name, .timeout = 60)                                       \
    {                                                                          \
        run_case("kafka", name##_body, NULL);                                  \
    }                                                                          \
    static void name##_body(wal_fx *fx)

static void append_strs(wal *w, const char *ch, const char *const *s, size_t n,
                        wal_pos *pos)
{
    wal_record recs[64];
    cr_assert(n <= 64);
    for (size_t i = 0; i < n; i++)
        recs[i] = (wal_record){s[i], strlen(s[i])};
    qv_err err = {0};
    cr_assert_eq(wal_append(w, ch, recs, n, pos, &err), QV_OK, "%s", err.msg);
}

static void expect_next(wal_reader *r, const void *data, size_t len,
                        wal_pos pos)
{
    wal_entry e;
    qv_err err = {0};
    cr_assert_eq(wal_reader_next(r, WAIT_MS, &e, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(e.len, len, "record length %zu, want %zu", e.len, len);
    cr_assert(len == 0 || memcmp(e.data, data, len) == 0);
    cr_assert_not_null(e.data);
    if (pos != WAL_LATEST)
        cr_assert_eq(e.pos, pos, "position %llu, want %llu",
                     (unsigned long long)e.pos, (unsigned long long)pos);
}

static void expect_str(wal_reader *r, const char *s, wal_pos pos)
{
    expect_next(r, s, strlen(s), pos);
}

static void expect_no_record(wal_reader *r, uint32_t wait_ms)
{
    wal_entry e;
    qv_err err = {0};
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    qv_code rc = wal_reader_next(r, wait_ms, &e, &err);
    uint64_t took = qv_mono_ms(qv_clock_system()) - t0;
    cr_assert_eq(rc, QV_E_TIMEOUT, "got %s (%s)", qv_code_name(rc), err.msg);
    cr_assert(took + 5 >= wait_ms && took < wait_ms + 2000,
              "waited %llu ms for a %u ms wait", (unsigned long long)took,
              wait_ms);
}

static wal_reader *open_reader(wal *w, const char *ch, wal_pos from)
{
    wal_reader *r = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, ch, from, &r, &err), QV_OK, "%s", err.msg);
    return r;
}

WAL_CASE(append_then_read_from_earliest)
{
    const char *s[] = {"alpha", "beta", "gamma"};
    wal_pos pos[3];
    append_strs(fx->w, "ch1", s, 3, pos);
    cr_assert(pos[0] < pos[1] && pos[1] < pos[2]);
    wal_pos earliest, end;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(fx->w, "ch1", &earliest, &end, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(earliest, pos[0]);
    cr_assert_gt(end, pos[2]);
    wal_reader *r = open_reader(fx->w, "ch1", WAL_EARLIEST);
    for (int i = 0; i < 3; i++)
        expect_str(r, s[i], pos[i]);
    expect_no_record(r, 100);
    wal_reader_close(r);
}

WAL_CASE(positions_grow_across_batches)
{
    wal_pos last = 0;
    for (int b = 0; b < 5; b++) {
        const char *s[] = {"x", "y"};
        wal_pos pos[2];
        append_strs(fx->w, "grow", s, 2, pos);
        cr_assert(b == 0 || pos[0] > last);
        cr_assert_gt(pos[1], pos[0]);
        last = pos[1];
        wal_pos end;
        qv_err err = {0};
        cr_assert_eq(wal_latest(fx->w, "grow", &end, &err), QV_OK);
        cr_assert_eq(end, last + 1);
    }
}

WAL_CASE(new_channel_is_empty)
{
    wal_pos earliest = 99, end = 99;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(fx->w, "fresh", &earliest, &end, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(earliest, end);
    wal_reader *r = open_reader(fx->w, "fresh", WAL_EARLIEST);
    expect_no_record(r, 150);
    wal_reader_close(r);
}

WAL_CASE(empty_records_round_trip)
{
    wal_record recs[3] = {{NULL, 0}, {"mid", 3}, {"", 0}};
    wal_pos pos[3];
    qv_err err = {0};
    cr_assert_eq(wal_append(fx->w, "empty", recs, 3, pos, &err), QV_OK, "%s",
                 err.msg);
    wal_reader *r = open_reader(fx->w, "empty", WAL_EARLIEST);
    expect_next(r, NULL, 0, pos[0]);
    expect_next(r, "mid", 3, pos[1]);
    expect_next(r, NULL, 0, pos[2]);
    wal_reader_close(r);
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = qv_xmalloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* 3 MiB in one record: over Kafka's 1 MB message limit, so the kafka
 * backend splits it; about 3 MiB stays under the mock's 5 MiB. */
WAL_CASE(large_record_round_trips)
{
    size_t n = (size_t)3 << 20;
    uint8_t *big = pattern(n, 7);
    wal_record recs[2] = {{big, n}, {"after", 5}};
    wal_pos pos[2];
    qv_err err = {0};
    cr_assert_eq(wal_append(fx->w, "big", recs, 2, pos, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_gt(pos[1], pos[0]);
    wal_reader *r = open_reader(fx->w, "big", WAL_EARLIEST);
    expect_next(r, big, n, pos[0]);
    expect_next(r, "after", 5, pos[1]);
    wal_reader_close(r);
    free(big);
}

/* A 2 MiB batch of 64 KiB records: more than one broker message set. */
WAL_CASE(big_batch_of_small_records)
{
    enum { N = 32, SZ = 64 << 10 };
    wal_record recs[N];
    uint8_t *bufs[N];
    for (int i = 0; i < N; i++) {
        bufs[i] = pattern(SZ, (uint32_t)i + 100);
        recs[i] = (wal_record){bufs[i], SZ};
    }
    wal_pos pos[N];
    qv_err err = {0};
    cr_assert_eq(wal_append(fx->w, "batch", recs, N, pos, &err), QV_OK, "%s",
                 err.msg);
    wal_reader *r = open_reader(fx->w, "batch", WAL_EARLIEST);
    for (int i = 0; i < N; i++) {
        cr_assert(i == 0 || pos[i] > pos[i - 1]);
        expect_next(r, bufs[i], SZ, pos[i]);
    }
    wal_reader_close(r);
    for (int i = 0; i < N; i++)
        free(bufs[i]);
}

WAL_CASE(many_channels_stay_separate)
{
    enum { CH = 12, PER = 4 };
    char name[32], val[64];
    for (int k = 0; k < PER; k++) {
        for (int c = 0; c < CH; c++) {
            (void)snprintf(name, sizeof(name), "chan-%02d", c);
            (void)snprintf(val, sizeof(val), "%s/%d", name, k);
            const char *s[] = {val};
            append_strs(fx->w, name, s, 1, NULL);
        }
    }
    for (int c = 0; c < CH; c++) {
        (void)snprintf(name, sizeof(name), "chan-%02d", c);
        wal_reader *r = open_reader(fx->w, name, WAL_EARLIEST);
        for (int k = 0; k < PER; k++) {
            (void)snprintf(val, sizeof(val), "%s/%d", name, k);
            expect_str(r, val, WAL_LATEST);
        }
        expect_no_record(r, 50);
        wal_reader_close(r);
    }
}

WAL_CASE(reader_from_a_position)
{
    const char *s[] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    wal_pos pos[6];
    append_strs(fx->w, "seek", s, 6, pos);
    wal_reader *r = open_reader(fx->w, "seek", pos[3]);
    for (int i = 3; i < 6; i++)
        expect_str(r, s[i], pos[i]);
    wal_reader_close(r);
    /* The end position itself is valid: it waits for the next record. */
    wal_pos end;
    qv_err err = {0};
    cr_assert_eq(wal_latest(fx->w, "seek", &end, &err), QV_OK);
    r = open_reader(fx->w, "seek", end);
    const char *t[] = {"r6"};
    wal_pos p6;
    append_strs(fx->w, "seek", t, 1, &p6);
    cr_assert_eq(p6, end);
    expect_str(r, "r6", end);
    wal_reader_close(r);
}

WAL_CASE(reader_past_the_end_is_refused)
{
    const char *s[] = {"a"};
    append_strs(fx->w, "past", s, 1, NULL);
    wal_pos end;
    qv_err err = {0};
    cr_assert_eq(wal_latest(fx->w, "past", &end, &err), QV_OK);
    wal_reader *r = NULL;
    qv_code rc = wal_reader_open(fx->w, "past", end + 5, &r, &err);
    cr_assert_eq(rc, QV_E_RANGE, "got %s", qv_code_name(rc));
    cr_assert_null(r);
    cr_assert(strstr(err.msg, "past") != NULL, "message: %s", err.msg);
}

WAL_CASE(reader_at_latest_sees_only_later_records)
{
    const char *old[] = {"old1", "old2"};
    append_strs(fx->w, "late", old, 2, NULL);
    wal_reader *r = open_reader(fx->w, "late", WAL_LATEST);
    expect_no_record(r, 200);
    const char *s[] = {"new1", "new2"};
    wal_pos pos[2];
    append_strs(fx->w, "late", s, 2, pos);
    expect_str(r, "new1", pos[0]);
    expect_str(r, "new2", pos[1]);
    wal_reader_close(r);
}

typedef struct delayed_append {
    wal *w;
    const char *ch;
    uint32_t delay_ms;
    wal_pos pos;
    qv_code rc;
} delayed_append;

static void *delayed_append_main(void *arg)
{
    delayed_append *d = arg;
    qv_sleep_ms(d->delay_ms);
    wal_record rec = {"wake", 4};
    d->rc = wal_append(d->w, d->ch, &rec, 1, &d->pos, NULL);
    return NULL;
}

WAL_CASE(waiting_reader_sees_a_concurrent_append)
{
    const char *s[] = {"first"};
    append_strs(fx->w, "wait", s, 1, NULL);
    wal_reader *r = open_reader(fx->w, "wait", WAL_EARLIEST);
    expect_str(r, "first", WAL_LATEST);
    delayed_append d = {fx->w, "wait", 300, 0, QV_E_INTERNAL};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, delayed_append_main, &d), 0);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    wal_entry e;
    qv_err err = {0};
    cr_assert_eq(wal_reader_next(r, WAIT_MS, &e, &err), QV_OK, "%s", err.msg);
    uint64_t took = qv_mono_ms(qv_clock_system()) - t0;
    pthread_join(th, NULL);
    cr_assert_eq(d.rc, QV_OK);
    cr_assert_eq(e.len, 4);
    cr_assert(memcmp(e.data, "wake", 4) == 0);
    cr_assert_eq(e.pos, d.pos);
    cr_assert(took >= 250, "returned after %llu ms, before the append",
              (unsigned long long)took);
    wal_reader_close(r);
}

enum { TH = 4, BATCHES = 40 };

typedef struct appender {
    wal *w;
    int id;
    qv_code rc;
    wal_pos pos[BATCHES][2];
    char msg[256];
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    char v0[32], v1[32];
    for (int b = 0; b < BATCHES; b++) {
        (void)snprintf(v0, sizeof(v0), "t%d-b%03d-0", a->id, b);
        (void)snprintf(v1, sizeof(v1), "t%d-b%03d-1", a->id, b);
        wal_record recs[2] = {{v0, strlen(v0)}, {v1, strlen(v1)}};
        qv_err err = {0};
        a->rc = wal_append(a->w, "conc", recs, 2, a->pos[b], &err);
        if (a->rc != QV_OK) {
            memcpy(a->msg, err.msg, sizeof(a->msg));
            break;
        }
    }
    return NULL;
}

/* Four threads append 40 two-record batches each to one channel: all 320
 * records arrive, each thread's in its order, each batch contiguous, and
 * the returned positions match what readers see. */
WAL_CASE(concurrent_appends_keep_order_and_lose_nothing)
{
    appender a[TH];
    pthread_t th[TH];
    for (int i = 0; i < TH; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].w = fx->w;
        a[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, appender_main, &a[i]), 0);
    }
    for (int i = 0; i < TH; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(a[i].rc, QV_OK, "thread %d: %s", i, a[i].msg);
    }
    wal_reader *r = open_reader(fx->w, "conc", WAL_EARLIEST);
    int next_batch[TH] = {0};
    wal_pos prev = 0;
    for (int k = 0; k < TH * BATCHES; k++) {
        wal_entry e;
        qv_err err = {0};
        cr_assert_eq(wal_reader_next(r, WAIT_MS, &e, &err), QV_OK,
                     "record %d: %s", k * 2, err.msg);
        int t, b, part;
        char txt[32];
        cr_assert(e.len < sizeof(txt));
        memcpy(txt, e.data, e.len);
        txt[e.len] = 0;
        cr_assert_eq(sscanf(txt, "t%d-b%d-%d", &t, &b, &part), 3, "%s", txt);
        cr_assert(t >= 0 && t < TH && part == 0, "%s", txt);
        cr_assert_eq(b, next_batch[t], "thread %d: batch %d after %d", t, b,
                     next_batch[t] - 1);
        cr_assert_eq(e.pos, a[t].pos[b][0]);
        cr_assert(k == 0 || e.pos > prev);
        wal_pos p0 = e.pos;
        cr_assert_eq(wal_reader_next(r, WAIT_MS, &e, &err), QV_OK, "%s",
                     err.msg);
        char want[32];
        (void)snprintf(want, sizeof(want), "t%d-b%03d-1", t, b);
        cr_assert_eq(e.len, strlen(want));
        cr_assert(memcmp(e.data, want, e.len) == 0, "batch split: %.*s",
                  (int)e.len, (const char *)e.data);
        cr_assert_eq(e.pos, a[t].pos[b][1]);
        cr_assert_gt(e.pos, p0);
        prev = e.pos;
        next_batch[t]++;
    }
    for (int t = 0; t < TH; t++)
        cr_assert_eq(next_batch[t], BATCHES);
    expect_no_record(r, 100);
    wal_reader_close(r);
}

WAL_CASE(two_readers_read_independently)
{
    const char *s[] = {"p", "q", "r"};
    wal_pos pos[3];
    append_strs(fx->w, "two", s, 3, pos);
    wal_reader *r1 = open_reader(fx->w, "two", WAL_EARLIEST);
    wal_reader *r2 = open_reader(fx->w, "two", pos[1]);
    expect_str(r1, "p", pos[0]);
    expect_str(r2, "q", pos[1]);
    expect_str(r1, "q", pos[1]);
    expect_str(r2, "r", pos[2]);
    expect_str(r1, "r", pos[2]);
    wal_reader_close(r1);
    wal_reader_close(r2);
}

WAL_CASE(bad_arguments_fail_clearly)
{
    qv_err err = {0};
    wal_record rec = {"v", 1};
    const char *bad[] = {"", ".", "..", "a/b", "sp ace", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(wal_append(fx->w, bad[i], &rec, 1, NULL, &err),
                     QV_E_INVALID, "name '%s' accepted", bad[i]);
        cr_assert(strstr(err.msg, "channel") != NULL, "%s", err.msg);
    }
    char longname[WAL_CHANNEL_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    cr_assert_eq(wal_append(fx->w, longname, &rec, 1, NULL, &err),
                 QV_E_INVALID);
    cr_assert_eq(wal_append(fx->w, "ok", &rec, 0, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "empty batch") != NULL, "%s", err.msg);
    wal_record nodata = {NULL, 3};
    cr_assert_eq(wal_append(fx->w, "ok", &nodata, 1, NULL, &err), QV_E_INVALID);
    wal_reader *r = NULL;
    cr_assert_eq(wal_reader_open(fx->w, "a/b", WAL_EARLIEST, &r, &err),
                 QV_E_INVALID);
    cr_assert_eq(wal_bounds(fx->w, "", NULL, NULL, &err), QV_E_INVALID);
    /* Nothing was written by the failed calls. */
    wal_pos e0, e1;
    cr_assert_eq(wal_bounds(fx->w, "ok", &e0, &e1, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(e0, e1);
}

static void record_limit_body(wal_fx *fx)
{
    qv_err err = {0};
    uint8_t buf[2048] = {0};
    wal_record ok = {buf, 1024}, big = {buf, 1025};
    cr_assert_eq(wal_append(fx->w, "lim", &ok, 1, NULL, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(wal_append(fx->w, "lim", &big, 1, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "lim") && strstr(err.msg, "1025"), "%s", err.msg);
}

Test(wal_local, record_over_the_limit_is_refused)
{
    wal_options o = {.max_record_bytes = 1024};
    run_case("local", record_limit_body, &o);
}

Test(wal_kafka, record_over_the_limit_is_refused)
{
    wal_options o = {.max_record_bytes = 1024};
    run_case("kafka", record_limit_body, &o);
}

/* The fault decorator over each backend fails exactly the planned call. */
WAL_CASE(fault_decorator_fails_the_nth_append)
{
    wal_options o = {.inner = fx->w};
    wal *f = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_open("fault", &o, &f, &err), QV_OK, "%s", err.msg);
    fx->w = f; /* the decorator owns the inner wal now */
    wal_fault_plan plan = {.ops = WAL_FAULT_APPEND, .fail_nth = 2};
    cr_assert_eq(wal_fault_set(f, &plan, &err), QV_OK);
    const char *s1[] = {"one"}, *s2[] = {"two"}, *s3[] = {"three"};
    wal_pos p1, p3;
    append_strs(f, "flt", s1, 1, &p1);
    wal_record rec = {"two", 3};
    cr_assert_eq(wal_append(f, "flt", &rec, 1, NULL, &err), QV_E_UNAVAILABLE);
    cr_assert(strstr(err.msg, "injected") && strstr(err.msg, "flt"), "%s",
              err.msg);
    (void)s2;
    append_strs(f, "flt", s3, 1, &p3);
    wal_reader *r = open_reader(f, "flt", WAL_EARLIEST);
    expect_str(r, "one", p1);
    expect_str(r, "three", p3);
    wal_reader_close(r);
    uint64_t calls, fails;
    wal_fault_counts(f, &calls, &fails);
    cr_assert_eq(calls, 3);
    cr_assert_eq(fails, 1);
}

/* ---- retention ---------------------------------------------------------
 * These two cases deliberately write past retention: 7 MiB per channel,
 * more than the mock Kafka broker keeps (~5 MiB per partition), and more
 * than the 1 MiB retention the local log gets here. */

static const wal_options local_retention = {.segment_bytes = 256 << 10,
                                            .retention_bytes = 1 << 20};

#define RET_REC   (64 << 10)
#define RET_COUNT 112 /* 7 MiB */

static void write_past_retention(wal *w, const char *ch, int from, int count)
{
    uint8_t *buf = qv_xmalloc(RET_REC);
    for (int i = from; i < from + count; i += 8) {
        wal_record recs[8];
        for (int k = 0; k < 8; k++) {
            memset(buf, 0, 8);
            recs[k] = (wal_record){buf, RET_REC};
        }
        qv_err err = {0};
        cr_assert_eq(wal_append(w, ch, recs, 8, NULL, &err), QV_OK, "%s",
                     err.msg);
    }
    free(buf);
}

static void retention_compacts_body(wal_fx *fx)
{
    write_past_retention(fx->w, "ret", 0, RET_COUNT);
    wal_pos earliest, end;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(fx->w, "ret", &earliest, &end, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_gt(earliest, 0, "nothing was dropped");
    cr_assert_lt(earliest, end);
    wal_reader *r = NULL;
    cr_assert_eq(wal_reader_open(fx->w, "ret", 0, &r, &err), QV_E_COMPACTED);
    cr_assert(strstr(err.msg, "'ret'"), "%s", err.msg);
    r = open_reader(fx->w, "ret", WAL_EARLIEST);
    wal_entry e;
    wal_pos want = earliest;
    int n = 0;
    while (wal_reader_next(r, 1000, &e, &err) == QV_OK) {
        cr_assert_eq(e.pos, want);
        cr_assert_eq(e.len, RET_REC);
        want = e.pos + 1;
        n++;
    }
    cr_assert_eq(err.code, QV_E_TIMEOUT, "%s", err.msg);
    cr_assert_eq(want, end, "read %d records up to %llu of %llu", n,
                 (unsigned long long)want, (unsigned long long)end);
    wal_reader_close(r);
}

Test(wal_local, retention_makes_old_positions_compacted, .timeout = 60)
{
    run_case("local", retention_compacts_body, &local_retention);
}

Test(wal_kafka, retention_makes_old_positions_compacted, .timeout = 60)
{
    run_case("kafka", retention_compacts_body, NULL);
}

/* A reader that falls behind retention gets QV_E_COMPACTED after the
 * records it still had, never a silent jump over the gap. */
static void reader_behind_body(wal_fx *fx)
{
    write_past_retention(fx->w, "behind", 0, 8);
    wal_reader *r = open_reader(fx->w, "behind", WAL_EARLIEST);
    wal_entry e;
    qv_err err = {0};
    cr_assert_eq(wal_reader_next(r, WAIT_MS, &e, &err), QV_OK, "%s", err.msg);
    wal_pos prev = e.pos;
    write_past_retention(fx->w, "behind", 8, RET_COUNT);
    qv_code rc;
    while ((rc = wal_reader_next(r, 2000, &e, &err)) == QV_OK) {
        cr_assert_eq(e.pos, prev + 1, "jumped from %llu to %llu",
                     (unsigned long long)prev, (unsigned long long)e.pos);
        prev = e.pos;
    }
    cr_assert_eq(rc, QV_E_COMPACTED, "got %s: %s", qv_code_name(rc), err.msg);
    wal_reader_close(r);
}

Test(wal_local, reader_behind_retention_is_told, .timeout = 60)
{
    run_case("local", reader_behind_body, &local_retention);
}

Test(wal_kafka, reader_behind_retention_is_told, .timeout = 60)
{
    run_case("kafka", reader_behind_body, NULL);
}
