/* Garbage collection (coord/coord_gc.h) over records and objects made by
 * the test: compacted and dropped segments after the retention window,
 * compaction inputs kept while their output is unindexed, dropped
 * collections, partitions and indexes, orphans and the grace period. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hts.h"
#include "common/metrics/metrics.h"
#include "coord/catalog.h"
#include "coord/coord_gc.h"
#include "coord/segmeta.h"
#include "tests/lib/proc.h"

#define ROOT  "quiver/"
#define HOUR  3600000ull
#define T0    1800000000000ull /* a wall clock, Unix ms */
#define ST(x) QUIVER__INTERNAL__SEGMENT_STATE__SEG_##x

static char *dir;
static metakv *kv;
static objstore *os;
static uint64_t wall; /* the objects' real mtime, roughly */

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-gc-", &dir, NULL), QV_OK);
    char *m = qv_xasprintf("%s/meta", dir), *o = qv_xasprintf("%s/obj", dir);
    metakv_config mc = {.dir = m};
    objstore_config oc = {.root = o, .no_fsync = true};
    qv_err err;
    cr_assert_eq(metakv_open("local", &mc, &kv, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(objstore_open("fs", &oc, &os, &err), QV_OK, "%s", err.msg);
    free(m);
    free(o);
    wall = qv_wall_ms(qv_clock_system());
}

static void teardown(void)
{
    objstore_close(os);
    metakv_close(kv);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
    qv_metrics_reset();
}

TestSuite(gc, .init = setup, .fini = teardown);

static void put_obj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put_obj(const char *fmt, ...)
{
    char key[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    cr_assert_eq(objstore_put(os, key, "data", 4, NULL), QV_OK, "%s", key);
}

static bool has_obj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool has_obj(const char *fmt, ...)
{
    char key[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    objstore_stat st;
    return objstore_head(os, key, &st, NULL) == QV_OK;
}

static size_t count_objs(const char *prefix)
{
    objstore_list_page pg;
    cr_assert_eq(objstore_list(os, prefix, NULL, 0, &pg, NULL), QV_OK);
    size_t n = pg.count;
    objstore_list_page_release(&pg);
    return n;
}

/* A flushed L1 segment: record + its four objects (one field). */
static void seg(int64_t coll, int64_t part, int64_t id, int64_t log,
                uint64_t rows, int state, uint64_t dropped_ms,
                const int64_t *from, size_t nfrom)
{
    qv_seg_info s = QUIVER__INTERNAL__SEGMENT_INFO__INIT;
    s.id = id;
    s.collection_id = coll;
    s.partition_id = part;
    s.vchannel = (char *)"p0_v0";
    s.log_id = log;
    s.rows = rows;
    s.bytes = 1000;
    s.state = state;
    s.dropped_ts = dropped_ms ? qv_ts_compose(dropped_ms, 0) : 0;
    s.compacted_from = (int64_t *)from;
    s.n_compacted_from = nfrom;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key(ROOT, coll, id, key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &s.base, NULL), QV_OK);
    put_obj("insert_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/100/%" PRId64, coll,
            part, id, log);
    put_obj("insert_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/1/%" PRId64, coll,
            part, id, log);
    put_obj("delta_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64, coll,
            part, id, log);
    put_obj("stats_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/100/%" PRId64, coll,
            part, id, log);
}

static bool seg_objs(int64_t coll, int64_t part, int64_t id, int64_t log)
{
    return has_obj("insert_log/%" PRId64 "/%" PRId64 "/%" PRId64
                   "/100/%" PRId64,
                   coll, part, id, log) &&
           has_obj("stats_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/100/%" PRId64,
                   coll, part, id, log);
}

static bool seg_rec(int64_t coll, int64_t id)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_seg_info *s;
    qv_code rc = qv_segmeta_get_segment(kv, ROOT, coll, id, &a, &s, NULL);
    qv_arena_release(&a);
    return rc == QV_OK;
}

static void index_rec(int64_t coll, int64_t id, int64_t field, bool dropped,
                      uint64_t drop_ms)
{
    qv_index_info x = QUIVER__INTERNAL__INDEX_INFO__INIT;
    x.id = id;
    x.collection_id = coll;
    x.field_id = field;
    x.index_name = (char *)"vec";
    x.state = dropped ? QUIVER__INTERNAL__META_STATE__META_DROPPED
                      : QUIVER__INTERNAL__META_STATE__META_CREATED;
    x.drop_ts = drop_ms ? qv_ts_compose(drop_ms, 0) : 0;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_index_key(ROOT, coll, id, key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &x.base, NULL), QV_OK);
}

static void build_rec(int64_t coll, int64_t seg_id, int64_t index_id,
                      int64_t build, bool finished)
{
    qv_seg_index b = QUIVER__INTERNAL__SEGMENT_INDEX__INIT;
    b.build_id = build;
    b.collection_id = coll;
    b.partition_id = 1;
    b.segment_id = seg_id;
    b.index_id = index_id;
    b.state = finished ? QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED
                       : QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS;
    b.serialized_bytes = 500;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_segidx_key(ROOT, coll, seg_id, index_id, key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &b.base, NULL), QV_OK);
    put_obj("index_files/%" PRId64 "/%" PRId64 "/index", build, seg_id);
}

static void coll_rec(int64_t id, bool dropped, uint64_t drop_ms,
                     const int64_t *parts, size_t nparts)
{
    qv_coll_info c = QUIVER__INTERNAL__COLLECTION_INFO__INIT;
    c.id = id;
    c.db_id = 1;
    c.name = (char *)"c";
    c.state = dropped ? QUIVER__INTERNAL__META_STATE__META_DROPPED
                      : QUIVER__INTERNAL__META_STATE__META_CREATED;
    c.drop_ts = drop_ms ? qv_ts_compose(drop_ms, 0) : 0;
    Quiver__Internal__PartitionInfo pi[4], *pp[4];
    for (size_t i = 0; i < nparts; i++) {
        quiver__internal__partition_info__init(&pi[i]);
        pi[i].id = parts[i];
        pi[i].name = (char *)"p";
        pp[i] = &pi[i];
    }
    c.partitions = pp;
    c.n_partitions = nparts;
    char *vch = (char *)"p0_v0";
    c.virtual_channels = &vch;
    c.n_virtual_channels = 1;
    char key[QV_SEGMETA_KEY_MAX];
    snprintf(key, sizeof key, ROOT "meta/coll/1/%" PRId64, id);
    cr_assert_eq(qv_segmeta_put(kv, key, &c.base, NULL), QV_OK);
}

static qv_gc_stats run(uint64_t now, bool orphans)
{
    qv_gc_options o = {.kv = kv,
                       .root = ROOT,
                       .os = os,
                       .now_ms = now,
                       .retention_ms = HOUR,
                       .orphan_grace_ms = HOUR,
                       .scan_orphans = orphans};
    qv_gc_stats st;
    qv_err err;
    cr_assert_eq(qv_gc_run(&o, &st, &err), QV_OK, "%s", err.msg);
    return st;
}

static const int64_t part1[] = {1};

Test(gc, compacted_segments_go_after_the_window)
{
    coll_rec(7, false, 0, part1, 1);
    seg(7, 1, 10, 100, 50, ST(COMPACTED), T0, NULL, 0);
    seg(7, 1, 11, 101, 50, ST(COMPACTED), T0 + HOUR / 2, NULL, 0);
    int64_t from[] = {10, 11};
    seg(7, 1, 12, 102, 100, ST(FLUSHED), 0, from, 2);
    /* 59 min after: nothing is old enough */
    qv_gc_stats st = run(T0 + HOUR - 60000, false);
    cr_assert_eq(st.segments_removed, 0);
    cr_assert_eq(st.bytes_live, 1000);
    cr_assert_eq(st.bytes_pending, 2000);
    cr_assert(seg_objs(7, 1, 10, 100));
    /* an hour after the first: it goes, the second stays */
    st = run(T0 + HOUR, false);
    cr_assert_eq(st.segments_removed, 1);
    cr_assert_eq(st.objects_deleted, 4);
    cr_assert_eq(st.bytes_pending, 1000);
    cr_assert(!seg_objs(7, 1, 10, 100));
    cr_assert(!has_obj("delta_log/7/1/10/100"));
    cr_assert(!seg_rec(7, 10));
    cr_assert(seg_objs(7, 1, 11, 101) && seg_rec(7, 11));
    cr_assert(seg_objs(7, 1, 12, 102) && seg_rec(7, 12));
    st = run(T0 + 2 * HOUR, false);
    cr_assert_eq(st.segments_removed, 1);
    cr_assert(!seg_rec(7, 11));
    cr_assert_eq(count_objs("insert_log/7/"), 2, "only the output's");
    cr_assert_eq(st.bytes_pending, 0);
    /* metrics */
    qv_metric_family *pend =
        qv_metrics_gauge("quiver_gc_bytes_pending", "", NULL);
    qv_metric_family *del =
        qv_metrics_counter("quiver_gc_objects_deleted_total", "", NULL);
    cr_assert_float_eq(qv_metric_value(pend, NULL), 0, 1e-9);
    cr_assert_float_eq(qv_metric_value(del, NULL), 8, 1e-9);
}

Test(gc, inputs_stay_while_their_output_is_unindexed)
{
    coll_rec(7, false, 0, part1, 1);
    index_rec(7, 900, 101, false, 0);
    seg(7, 1, 10, 100, 5000, ST(COMPACTED), T0, NULL, 0);
    int64_t from[] = {10};
    seg(7, 1, 12, 102, 5000, ST(FLUSHED), 0, from, 1);
    build_rec(7, 12, 900, 77, false);
    qv_gc_stats st = run(T0 + 3 * HOUR, false);
    cr_assert_eq(st.segments_removed, 0);
    cr_assert(seg_rec(7, 10) && seg_objs(7, 1, 10, 100));
    build_rec(7, 12, 900, 77, true);
    st = run(T0 + 3 * HOUR, false);
    cr_assert_eq(st.segments_removed, 1);
    cr_assert(!seg_rec(7, 10));
    cr_assert_eq(st.bytes_live, 1000 + 500, "output + its index");
}

Test(gc, indexed_inputs_go_with_their_builds)
{
    coll_rec(7, false, 0, part1, 1);
    index_rec(7, 900, 101, false, 0);
    int64_t from[] = {10, 11, 12};
    for (int i = 0; i < 3; i++) {
        seg(7, 1, 10 + i, 100 + i, 2000, ST(COMPACTED), T0, NULL, 0);
        build_rec(7, 10 + i, 900, 70 + i, true);
    }
    seg(7, 1, 20, 200, 6000, ST(FLUSHED), 0, from, 3);
    build_rec(7, 20, 900, 80, true);
    qv_gc_stats st = run(T0 + HOUR, false);
    cr_assert_eq(st.segments_removed, 3);
    cr_assert_eq(st.builds_removed, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert(!seg_rec(7, 10 + i));
        cr_assert(!has_obj("index_files/%d/%d/index", 70 + i, 10 + i));
    }
    cr_assert(has_obj("index_files/80/20/index"));
    cr_assert(seg_rec(7, 20) && seg_objs(7, 1, 20, 200));
    cr_assert_eq(st.bytes_live, 1000 + 500);
}

Test(gc, dropped_collection_goes_whole)
{
    coll_rec(8, true, T0, part1, 1);
    seg(8, 1, 20, 200, 50, ST(FLUSHED), 0, NULL, 0);
    seg(8, 1, 21, 201, 50, ST(COMPACTED), T0 - 1000, NULL, 0);
    index_rec(8, 901, 101, false, 0);
    build_rec(8, 20, 901, 78, true);
    put_obj("delta_log/8/-1/0/555"); /* an L0 log */
    char key[QV_SEGMETA_KEY_MAX];
    qv_checkpoint ck = QUIVER__INTERNAL__CHANNEL_CHECKPOINT__INIT;
    ck.vchannel = (char *)"p0_v0";
    qv_segmeta_chkpt_key(ROOT, "p0_v0", key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &ck.base, NULL), QV_OK);
    /* a live collection next to it is untouched */
    coll_rec(9, false, 0, part1, 1);
    seg(9, 1, 30, 300, 50, ST(FLUSHED), 0, NULL, 0);

    qv_gc_stats st = run(T0 + HOUR / 2, false);
    cr_assert_eq(st.collections_removed, 0);
    cr_assert(seg_rec(8, 20));
    st = run(T0 + HOUR, false);
    cr_assert_eq(st.collections_removed, 1);
    cr_assert_eq(st.segments_removed, 2);
    cr_assert_eq(st.indexes_removed, 1);
    cr_assert_eq(st.builds_removed, 1);
    cr_assert_eq(count_objs("insert_log/8/"), 0);
    cr_assert_eq(count_objs("delta_log/8/"), 0);
    cr_assert_eq(count_objs("index_files/78/"), 0);
    metakv_kvs r = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, key, strlen(key), &r, NULL), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_get(kv, ROOT "meta/coll/1/8",
                            strlen(ROOT "meta/coll/1/8"), &r, NULL),
                 QV_E_NOT_FOUND);
    cr_assert_eq(metakv_get(kv, ROOT "meta/coll/1/9",
                            strlen(ROOT "meta/coll/1/9"), &r, NULL),
                 QV_OK);
    metakv_kvs_release(&r);
    cr_assert(seg_rec(9, 30) && seg_objs(9, 1, 30, 300));
}

Test(gc, dropped_partition_is_marked_then_collected)
{
    const int64_t parts[] = {1};
    coll_rec(7, false, 0, parts, 1);
    seg(7, 1, 10, 100, 50, ST(FLUSHED), 0, NULL, 0);
    seg(7, 2, 11, 101, 50, ST(FLUSHED), 0, NULL, 0); /* partition 2 gone */
    qv_gc_stats st = run(T0, false);
    cr_assert_eq(st.segments_marked, 1);
    cr_assert_eq(st.segments_removed, 0);
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_seg_info *s;
    cr_assert_eq(qv_segmeta_get_segment(kv, ROOT, 7, 11, &a, &s, NULL), QV_OK);
    cr_assert_eq(s->state, ST(DROPPED));
    cr_assert_eq(qv_ts_physical(s->dropped_ts), T0);
    qv_arena_release(&a);
    st = run(T0 + HOUR - 1, false);
    cr_assert_eq(st.segments_marked + st.segments_removed, 0);
    st = run(T0 + HOUR, false);
    cr_assert_eq(st.segments_removed, 1);
    cr_assert(!seg_objs(7, 2, 11, 101));
    cr_assert(seg_objs(7, 1, 10, 100));
}

Test(gc, dropped_index_files_go)
{
    coll_rec(7, false, 0, part1, 1);
    seg(7, 1, 10, 100, 5000, ST(FLUSHED), 0, NULL, 0);
    index_rec(7, 900, 101, true, T0);
    index_rec(7, 901, 102, false, 0);
    build_rec(7, 10, 900, 77, true);
    build_rec(7, 10, 901, 78, true);
    qv_gc_stats st = run(T0 + HOUR / 2, false);
    cr_assert_eq(st.indexes_removed, 0);
    cr_assert(has_obj("index_files/77/10/index"));
    st = run(T0 + HOUR, false);
    cr_assert_eq(st.indexes_removed, 1);
    cr_assert_eq(st.builds_removed, 1);
    cr_assert(!has_obj("index_files/77/10/index"));
    cr_assert(has_obj("index_files/78/10/index"));
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_index_info **x;
    size_t n;
    cr_assert_eq(qv_segmeta_list_indexes(kv, ROOT, 7, &a, &x, &n, NULL), QV_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(x[0]->id, 901);
    qv_arena_release(&a);
}

Test(gc, orphans_older_than_the_grace_period_go)
{
    coll_rec(7, false, 0, part1, 1);
    seg(7, 1, 10, 100, 50, ST(FLUSHED), 0, NULL, 0);
    /* an L0 log with a record, and objects no record names */
    qv_seg_info l0 = QUIVER__INTERNAL__SEGMENT_INFO__INIT;
    l0.id = 50;
    l0.collection_id = 7;
    l0.partition_id = -1;
    l0.level = QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0;
    l0.log_id = 555;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key(ROOT, 7, 50, key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &l0.base, NULL), QV_OK);
    put_obj("delta_log/7/-1/0/555");
    put_obj("delta_log/7/1/0/555");
    put_obj("delta_log/7/-1/0/556");      /* no record */
    put_obj("insert_log/7/1/10/100/999"); /* other log id */
    put_obj("insert_log/7/1/44/100/100"); /* no segment */
    put_obj("stats_log/7/1/44/100/100");
    put_obj("index_files/12345/10/index"); /* no build */
    index_rec(7, 900, 101, false, 0);
    build_rec(7, 10, 900, 78, true);
    build_rec(7, 10, 999, 79, true); /* its index record is gone */
    /* young objects are never orphans */
    qv_gc_stats st = run(wall + 60000, true);
    cr_assert_eq(st.orphans_deleted, 0);
    st = run(wall + HOUR + 60000, true);
    cr_assert_eq(st.orphans_deleted, 5);
    cr_assert(!has_obj("delta_log/7/-1/0/556"));
    cr_assert(!has_obj("insert_log/7/1/10/100/999"));
    cr_assert(!has_obj("insert_log/7/1/44/100/100"));
    cr_assert(!has_obj("index_files/12345/10/index"));
    cr_assert(has_obj("delta_log/7/-1/0/555"));
    cr_assert(has_obj("delta_log/7/1/0/555"));
    cr_assert(has_obj("index_files/78/10/index"));
    cr_assert(!has_obj("index_files/79/10/index"));
    cr_assert(seg_objs(7, 1, 10, 100));
    cr_assert(has_obj("delta_log/7/1/10/100"));
}

Test(gc, bad_options_are_refused)
{
    qv_gc_options o = {.kv = kv, .root = ROOT};
    qv_err err;
    cr_assert_eq(qv_gc_run(&o, NULL, &err), QV_E_INVALID);
}

Test(gc, orphans_when_no_record_exists_at_all)
{
    put_obj("insert_log/5/1/2/100/3");
    put_obj("index_files/9/2/index");
    put_obj("stats_log/5/1/2/100/3");
    qv_gc_stats st = run(wall + 2 * HOUR, true);
    cr_assert_eq(st.orphans_deleted, 3);
    cr_assert_eq(count_objs(""), 0);
}
