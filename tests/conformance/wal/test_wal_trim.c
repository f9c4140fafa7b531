/* Conformance of wal_trim (both backends): records at or above the trim
 * position stay readable, positions below the new earliest one are
 * QV_E_COMPACTED, trimming past the end or below the start is harmless,
 * and appends and reads go on afterwards.  The local log deletes whole
 * segment files only (small segments here); Kafka moves the log start
 * offset to the position exactly -- except on the test broker
 * (librdkafka 2.0.2's mock cluster has no DeleteRecords), where the case
 * checks that the trim fails with QV_E_UNSUPPORTED and loses nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/conformance/wal/wal_fixture.h"

#define N    300
#define CUT  190
#define WAIT 5000

static void append_n(wal *w, const char *ch, int from, int n, wal_pos *pos)
{
    qv_err err = {0};
    for (int i = from; i < from + n; i++) {
        char buf[128];
        int len = snprintf(buf, sizeof buf, "record %04d %080d", i, i);
        wal_record r = {buf, (size_t)len};
        cr_assert_eq(wal_append(w, ch, &r, 1, &pos[i], &err), QV_OK, "%s",
                     err.msg);
    }
}

static void expect_from(wal *w, const char *ch, wal_pos from, int first,
                        int last, const wal_pos *pos)
{
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, ch, from, &r, &err), QV_OK, "%s", err.msg);
    for (int i = first; i <= last; i++) {
        wal_entry e;
        cr_assert_eq(wal_reader_next(r, WAIT, &e, &err), QV_OK, "%s", err.msg);
        char want[128];
        int len = snprintf(want, sizeof want, "record %04d %080d", i, i);
        cr_assert_eq(e.pos, pos[i], "record %d at %llu, want %llu", i,
                     (unsigned long long)e.pos, (unsigned long long)pos[i]);
        cr_assert_eq(e.len, (size_t)len);
        cr_assert(memcmp(e.data, want, e.len) == 0, "record %d differs", i);
    }
    wal_reader_close(r);
}

static void trim_body(wal_fx *fx)
{
    wal *w = fx->w;
    static wal_pos pos[N + 50];
    qv_err err = {0};
    append_n(w, "trim", 0, N, pos);
    wal_pos e0, end0;
    cr_assert_eq(wal_bounds(w, "trim", &e0, &end0, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(e0, pos[0]);
    /* below the start: nothing happens */
    cr_assert_eq(wal_trim(w, "trim", pos[0], &err), QV_OK, "%s", err.msg);
    qv_code rc = wal_trim(w, "trim", pos[CUT], &err);
    if (rc == QV_E_UNSUPPORTED && strcmp(fx->backend, "kafka") == 0) {
        /* librdkafka 2.0.2's mock broker has no DeleteRecords: the error
         * says so, and nothing is lost */
        cr_assert(strstr(err.msg, "delete records") && strstr(err.msg, "trim"),
                  "%s", err.msg);
        expect_from(w, "trim", WAL_EARLIEST, 0, N - 1, pos);
        /* asked once: the next call says so at once */
        cr_assert_eq(wal_trim(w, "trim", pos[CUT], &err), QV_E_UNSUPPORTED);
        cr_assert(strstr(err.msg, "does not support"), "%s", err.msg);
        return;
    }
    cr_assert_eq(rc, QV_OK, "%s", err.msg);
    wal_pos e1, end1;
    cr_assert_eq(wal_bounds(w, "trim", &e1, &end1, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(end1, end0);
    cr_assert(e1 <= pos[CUT], "trimmed past the position: %llu > %llu",
              (unsigned long long)e1, (unsigned long long)pos[CUT]);
    cr_assert(e1 > pos[0], "nothing was trimmed (earliest %llu)",
              (unsigned long long)e1);
    if (strcmp(fx->backend, "kafka") == 0)
        cr_assert_eq(e1, pos[CUT]);
    /* everything at or above the position is intact */
    expect_from(w, "trim", pos[CUT], CUT, N - 1, pos);
    int first = 0;
    while (first < CUT && pos[first] != e1)
        first++;
    cr_assert_eq(pos[first], e1, "earliest %llu is no record's position",
                 (unsigned long long)e1);
    expect_from(w, "trim", WAL_EARLIEST, first, N - 1, pos);
    wal_reader *r;
    cr_assert_eq(wal_reader_open(w, "trim", pos[0], &r, &err), QV_E_COMPACTED,
                 "%s", err.msg);
    /* past the end: capped; the log goes on */
    cr_assert_eq(wal_trim(w, "trim", end0 + 1000, &err), QV_OK, "%s", err.msg);
    wal_pos e2, end2;
    cr_assert_eq(wal_bounds(w, "trim", &e2, &end2, &err), QV_OK, "%s", err.msg);
    cr_assert(e2 <= end0 && e2 >= e1);
    cr_assert_eq(end2, end0);
    append_n(w, "trim", N, 20, pos);
    expect_from(w, "trim", pos[N], N, N + 19, pos);
    /* bad arguments */
    cr_assert_eq(wal_trim(w, "trim", WAL_EARLIEST, &err), QV_E_INVALID);
    cr_assert_eq(wal_trim(w, "bad/name", 1, &err), QV_E_INVALID);
}

static const wal_options small_segments = {.segment_bytes = 4096};

Test(wal_local, trim_releases_records_below_a_position, .timeout = 60)
{
    wal_fx fx;
    wal_fx_init(&fx, "local", &small_segments);
    trim_body(&fx);
    /* the trim survives a restart */
    wal_pos e1, e2, end;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(fx.w, "trim", &e1, &end, &err), QV_OK);
    wal_fx_reopen(&fx);
    cr_assert_eq(wal_bounds(fx.w, "trim", &e2, &end, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(e2, e1);
    wal_fx_destroy(&fx);
}

Test(wal_kafka, trim_releases_records_below_a_position, .timeout = 60)
{
    wal_fx fx;
    wal_fx_init(&fx, "kafka", NULL);
    trim_body(&fx);
    wal_fx_destroy(&fx);
}
