/* Tests of common/wal/wal_local.c (segment files, recovery, retention,
 * sync policies) and of the registry and fault decorator in wal.c and
 * wal_fault.c.  Everything runs in a fresh temp directory. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/wal/wal.h"
#include "common/wal/wal_internal.h"
#include "tests/lib/proc.h"

static char *dir;

static void setup(void)
{
    qv_err err = {0};
    cr_assert_eq(qv_test_mkdtemp("qv-walu-", &dir, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    qv_test_rmtree(dir, NULL);
    free(dir);
}

TestSuite(wal_local, .init = setup, .fini = teardown, .timeout = 30);

static wal *open_local(const wal_options *o)
{
    wal_options opt = o ? *o : (wal_options){0};
    opt.dir = dir;
    wal *w = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_open("local", &opt, &w, &err), QV_OK, "%s", err.msg);
    return w;
}

static void append_n(wal *w, const char *ch, int from, int n, int per_batch)
{
    char buf[64][32];
    wal_record recs[64];
    cr_assert(per_batch <= 64);
    for (int i = from; i < from + n; i += per_batch) {
        int k = 0;
        for (; k < per_batch && i + k < from + n; k++) {
            (void)snprintf(buf[k], sizeof(buf[k]), "rec-%06d", i + k);
            recs[k] = (wal_record){buf[k], strlen(buf[k])};
        }
        wal_pos pos[64];
        qv_err err = {0};
        cr_assert_eq(wal_append(w, ch, recs, (size_t)k, pos, &err), QV_OK, "%s",
                     err.msg);
        cr_assert_eq(pos[0], (wal_pos)i, "dense positions");
    }
}

/* Reads from `from` until the log ends; checks every record is
 * "rec-<pos>" and returns how many were read. */
static int read_all(wal *w, const char *ch, wal_pos from)
{
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, ch, from, &r, &err), QV_OK, "%s", err.msg);
    int n = 0;
    wal_entry e;
    qv_code rc;
    while ((rc = wal_reader_next(r, 0, &e, &err)) == QV_OK) {
        char want[32];
        (void)snprintf(want, sizeof(want), "rec-%06llu",
                       (unsigned long long)e.pos);
        cr_assert_eq(e.len, strlen(want));
        cr_assert(memcmp(e.data, want, e.len) == 0);
        if (from != WAL_EARLIEST)
            cr_assert_eq(e.pos, from + (wal_pos)n);
        n++;
    }
    cr_assert_eq(rc, QV_E_TIMEOUT, "%s", err.msg);
    wal_reader_close(r);
    return n;
}

static char *seg_file(const char *ch, wal_pos base)
{
    return qv_xasprintf("%s/%s/%020llu.seg", dir, ch, (unsigned long long)base);
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static int count_segments(const char *ch)
{
    char *d = qv_xasprintf("%s/%s", dir, ch);
    DIR *dd = opendir(d);
    free(d);
    cr_assert_not_null(dd);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dd)) != NULL)
        n += strstr(de->d_name, ".seg") != NULL;
    closedir(dd);
    return n;
}

Test(wal_local, records_survive_reopen_with_same_positions)
{
    wal *w = open_local(NULL);
    append_n(w, "c", 0, 10, 3);
    wal_close(w);
    w = open_local(NULL);
    wal_pos e0, e1;
    cr_assert_eq(wal_bounds(w, "c", &e0, &e1, NULL), QV_OK);
    cr_assert_eq(e0, 0);
    cr_assert_eq(e1, 10);
    append_n(w, "c", 10, 5, 5);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 15);
    cr_assert_eq(read_all(w, "c", 12), 3);
    wal_close(w);
}

Test(wal_local, torn_tail_is_truncated_on_open)
{
    wal *w = open_local(NULL);
    append_n(w, "c", 0, 6, 2);
    wal_close(w);
    char *p = seg_file("c", 0);
    long good = file_size(p);
    /* Garbage after the last record, as a crash mid-write leaves. */
    int fd = open(p, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "\x05\x00\x00\x00garbage", 11), 11);
    close(fd);
    w = open_local(NULL);
    cr_assert_eq(file_size(p), good, "tail not cut");
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 6);
    append_n(w, "c", 6, 2, 2);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 8);
    wal_close(w);
    free(p);
}

Test(wal_local, record_cut_mid_payload_drops_its_whole_batch)
{
    wal *w = open_local(NULL);
    append_n(w, "c", 0, 4, 2);
    append_n(w, "c", 4, 3, 3); /* batch of three */
    wal_close(w);
    char *p = seg_file("c", 0);
    long sz = file_size(p);
    cr_assert_eq(truncate(p, sz - 4), 0); /* inside the 7th record */
    w = open_local(NULL);
    wal_pos end;
    cr_assert_eq(wal_latest(w, "c", &end, NULL), QV_OK);
    cr_assert_eq(end, 4, "partial batch served (end %llu)",
                 (unsigned long long)end);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 4);
    wal_close(w);
    free(p);
}

Test(wal_local, corrupted_byte_in_the_tail_is_never_served)
{
    wal *w = open_local(NULL);
    append_n(w, "c", 0, 5, 1);
    wal_close(w);
    char *p = seg_file("c", 0);
    long sz = file_size(p);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    char b;
    cr_assert_eq(pread(fd, &b, 1, sz - 2), 1);
    b ^= 0x20;
    cr_assert_eq(pwrite(fd, &b, 1, sz - 2), 1);
    close(fd);
    w = open_local(NULL);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 4);
    wal_close(w);
    free(p);
}

Test(wal_local, segments_roll_and_readers_cross_them)
{
    wal_options o = {.segment_bytes = 256};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 100, 4);
    cr_assert_gt(count_segments("c"), 5);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), 100);
    cr_assert_eq(read_all(w, "c", 57), 43);
    cr_assert_eq(read_all(w, "c", 100), 0);
    wal_close(w);
    w = open_local(&o);
    append_n(w, "c", 100, 8, 8);
    cr_assert_eq(read_all(w, "c", 33), 75);
    wal_close(w);
}

Test(wal_local, retention_by_size_drops_old_segments)
{
    wal_options o = {.segment_bytes = 256, .retention_bytes = 1024};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 200, 4);
    wal_pos e0, e1;
    cr_assert_eq(wal_bounds(w, "c", &e0, &e1, NULL), QV_OK);
    cr_assert_gt(e0, 0);
    cr_assert_eq(e1, 200);
    cr_assert_leq(count_segments("c"), 6);
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, "c", 0, &r, &err), QV_E_COMPACTED);
    cr_assert(strstr(err.msg, "'c'"), "%s", err.msg);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), (int)(200 - e0));
    wal_close(w);
}

Test(wal_local, reader_behind_retention_gets_compacted)
{
    wal_options o = {.segment_bytes = 256, .retention_bytes = 600};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 8, 4);
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, "c", 0, &r, &err), QV_OK);
    wal_entry e;
    cr_assert_eq(wal_reader_next(r, 0, &e, &err), QV_OK);
    append_n(w, "c", 8, 200, 4); /* segments 0.. are dropped meanwhile */
    qv_code rc;
    int n = 1;
    while ((rc = wal_reader_next(r, 0, &e, &err)) == QV_OK)
        n++;
    cr_assert_eq(rc, QV_E_COMPACTED, "got %s after %d records: %s",
                 qv_code_name(rc), n, err.msg);
    wal_reader_close(r);
    wal_close(w);
}

Test(wal_local, retention_by_age_uses_segment_mtime)
{
    qv_fake_clock fc;
    qv_fake_clock_init(&fc, (uint64_t)time(NULL) * 1000u);
    wal_options o = {
        .segment_bytes = 256, .retention_ms = 60000, .clock = &fc.base};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 40, 4);
    int before = count_segments("c");
    cr_assert_gt(before, 3);
    wal_pos e0;
    cr_assert_eq(wal_bounds(w, "c", &e0, NULL, NULL), QV_OK);
    cr_assert_eq(e0, 0, "nothing is old yet");
    qv_fake_clock_advance_ms(&fc, 120000);
    append_n(w, "c", 40, 8, 4); /* rolls a segment: retention runs */
    cr_assert_eq(wal_bounds(w, "c", &e0, NULL, NULL), QV_OK);
    cr_assert_gt(e0, 30, "old segments kept (earliest %llu)",
                 (unsigned long long)e0);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), (int)(48 - e0));
    wal_close(w);
}

Test(wal_local, corruption_in_an_old_segment_fails_the_read)
{
    wal_options o = {.segment_bytes = 256};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 40, 4);
    wal_close(w);
    char *p = seg_file("c", 0);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    char b;
    cr_assert_eq(pread(fd, &b, 1, WAL__SEG_HDR_BYTES + 12), 1);
    b ^= 1;
    cr_assert_eq(pwrite(fd, &b, 1, WAL__SEG_HDR_BYTES + 12), 1);
    close(fd);
    free(p);
    w = open_local(&o);
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(w, "c", WAL_EARLIEST, &r, &err), QV_OK);
    wal_entry e;
    cr_assert_eq(wal_reader_next(r, 0, &e, &err), QV_E_CORRUPT);
    cr_assert(strstr(err.msg, "checksum") && strstr(err.msg, "'c'"), "%s",
              err.msg);
    wal_reader_close(r);
    wal_close(w);
}

Test(wal_local, sync_policies_all_keep_data)
{
    wal_sync_policy pol[] = {WAL_SYNC_ALWAYS, WAL_SYNC_INTERVAL,
                             WAL_SYNC_NEVER};
    for (int i = 0; i < 3; i++) {
        char ch[16];
        (void)snprintf(ch, sizeof(ch), "p%d", i);
        wal_options o = {
            .sync = pol[i], .sync_interval_ms = 10, .segment_bytes = 512};
        wal *w = open_local(&o);
        append_n(w, ch, 0, 30, 3);
        qv_sleep_ms(30); /* let the interval flusher run */
        wal_close(w);
        w = open_local(&o);
        cr_assert_eq(read_all(w, ch, WAL_EARLIEST), 30);
        wal_close(w);
    }
    wal_options bad = {.sync = (wal_sync_policy)7, .dir = dir};
    wal *w = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_open("local", &bad, &w, &err), QV_E_INVALID);
}

Test(wal_local, registry_and_open_errors)
{
    wal *w = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_open("nope", NULL, &w, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
    cr_assert_eq(wal_open("local", NULL, &w, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "dir"), "%s", err.msg);
    cr_assert_eq(wal_open("kafka", NULL, &w, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "bootstrap"), "%s", err.msg);
    cr_assert_eq(wal_open("fault", NULL, &w, &err), QV_E_INVALID);
    cr_assert_null(w);
    cr_assert_not_null(wal_find("local"));
    cr_assert_eq(wal_register(wal_find("local"), &err), QV_E_EXISTS);
    wal_ops half = {.name = "half"};
    cr_assert_eq(wal_register(&half, &err), QV_E_INVALID);
    w = open_local(NULL);
    cr_assert_str_eq(wal_name(w), "local");
    cr_assert(wal_caps(w) & WAL_CAP_DENSE_POSITIONS);
    cr_assert_eq(wal_fault_set(w, NULL, &err), QV_E_INVALID);
    wal_close(w);
}

Test(wal_local, fault_plan_counts_latency_and_ranges)
{
    wal_options fo = {.inner = open_local(NULL)};
    wal *f = NULL;
    qv_err err = {0};
    cr_assert_eq(wal_open("fault", &fo, &f, &err), QV_OK);
    wal_fault_plan plan = {.ops = WAL_FAULT_APPEND | WAL_FAULT_READER_NEXT,
                           .fail_nth = 2,
                           .fail_count = 2,
                           .code = QV_E_TIMEOUT};
    cr_assert_eq(wal_fault_set(f, &plan, &err), QV_OK);
    wal_record rec = {"v", 1};
    cr_assert_eq(wal_append(f, "c", &rec, 1, NULL, &err), QV_OK);
    cr_assert_eq(wal_append(f, "c", &rec, 1, NULL, &err), QV_E_TIMEOUT);
    cr_assert_eq(wal_append(f, "c", &rec, 1, NULL, &err), QV_E_TIMEOUT);
    cr_assert_eq(wal_append(f, "c", &rec, 1, NULL, &err), QV_OK);
    wal_pos end;
    cr_assert_eq(wal_latest(f, "c", &end, &err), QV_OK); /* not counted */
    cr_assert_eq(end, 2);
    uint64_t calls, fails;
    wal_fault_counts(f, &calls, &fails);
    cr_assert_eq(calls, 4);
    cr_assert_eq(fails, 2);
    plan = (wal_fault_plan){.ops = WAL_FAULT_ALL, .latency_ms = 60};
    cr_assert_eq(wal_fault_set(f, &plan, &err), QV_OK);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    wal_reader *r;
    cr_assert_eq(wal_reader_open(f, "c", WAL_EARLIEST, &r, &err), QV_OK);
    wal_entry e;
    cr_assert_eq(wal_reader_next(r, 0, &e, &err), QV_OK);
    cr_assert_eq(e.pos, 0);
    cr_assert_geq(qv_mono_ms(qv_clock_system()) - t0, 120);
    wal_reader_close(r);
    plan = (wal_fault_plan){
        .ops = WAL_FAULT_READER_OPEN, .fail_nth = 1, .fail_count = UINT64_MAX};
    cr_assert_eq(wal_fault_set(f, &plan, &err), QV_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(wal_reader_open(f, "c", 0, &r, &err), QV_E_UNAVAILABLE);
    wal_close(f);
}

Test(wal_local, header_damaged_active_segment_is_rewritten_empty)
{
    wal_options o = {.segment_bytes = 200};
    wal *w = open_local(&o);
    append_n(w, "c", 0, 20, 4);
    wal_pos end;
    cr_assert_eq(wal_latest(w, "c", &end, NULL), QV_OK);
    wal_close(w);
    /* A crash right after creating the next segment: header torn. */
    char *p = seg_file("c", end);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "QVWAL", 5), 5);
    close(fd);
    w = open_local(&o);
    wal_pos e2;
    cr_assert_eq(wal_latest(w, "c", &e2, NULL), QV_OK);
    cr_assert_eq(e2, end);
    append_n(w, "c", (int)end, 4, 4);
    cr_assert_eq(read_all(w, "c", WAL_EARLIEST), (int)end + 4);
    wal_close(w);
    free(p);
}

enum { GC_THREADS = 4, GC_BATCHES = 60 };

typedef struct gc_arg {
    wal *w;
    int id;
    qv_code rc;
    wal_pos pos[GC_BATCHES][2];
} gc_arg;

static void *gc_main(void *p)
{
    gc_arg *a = p;
    for (int b = 0; b < GC_BATCHES && a->rc == QV_OK; b++) {
        char v[2][32];
        wal_record recs[2];
        for (int k = 0; k < 2; k++) {
            (void)snprintf(v[k], sizeof(v[k]), "t%d-%03d-%d", a->id, b, k);
            recs[k] = (wal_record){v[k], strlen(v[k])};
        }
        a->rc = wal_append(a->w, "gc", recs, 2, a->pos[b], NULL);
    }
    return NULL;
}

/* Concurrent appenders share fdatasyncs (group commit) while segments roll
 * under them: every acknowledged record is there after a reopen, at the
 * position its append returned, each thread's in order. */
Test(wal_local, group_commit_with_rolls_keeps_every_record)
{
    wal_options o = {.segment_bytes = 300};
    wal *w = open_local(&o);
    gc_arg a[GC_THREADS];
    pthread_t th[GC_THREADS];
    for (int i = 0; i < GC_THREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].w = w;
        a[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, gc_main, &a[i]), 0);
    }
    for (int i = 0; i < GC_THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(a[i].rc, QV_OK);
    }
    wal_close(w);
    cr_assert_gt(count_segments("gc"), 10);
    w = open_local(&o);
    wal_reader *r;
    cr_assert_eq(wal_reader_open(w, "gc", WAL_EARLIEST, &r, NULL), QV_OK);
    int next[GC_THREADS] = {0};
    wal_entry e;
    int n = 0;
    while (wal_reader_next(r, 0, &e, NULL) == QV_OK) {
        int t, b, k;
        char txt[32];
        cr_assert(e.len < sizeof(txt));
        memcpy(txt, e.data, e.len);
        txt[e.len] = 0;
        cr_assert_eq(sscanf(txt, "t%d-%d-%d", &t, &b, &k), 3);
        cr_assert(t >= 0 && t < GC_THREADS);
        cr_assert_eq(b, next[t] / 2, "%s out of order", txt);
        cr_assert_eq(k, next[t] % 2, "%s out of order", txt);
        cr_assert_eq(e.pos, a[t].pos[b][k]);
        cr_assert_eq(e.pos, (wal_pos)n);
        next[t]++;
        n++;
    }
    cr_assert_eq(n, GC_THREADS * GC_BATCHES * 2);
    wal_reader_close(r);
    wal_close(w);
}
