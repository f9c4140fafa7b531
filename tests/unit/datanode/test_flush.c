/* Flushing a growing segment to the object store and loading it back as a
 * sealed segment: the same rows, visibility and search results. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/msg/seglog.h"
#include "datanode/flush.h"
#include "querynode/query.h"
#include "querynode/sealed.h"
#include "querynode/search.h"
#include "tests/lib/proc.h"

static char *dir;
static objstore *os;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-flush-", &dir, NULL), QV_OK);
    char *root = qv_xasprintf("%s/objects", dir);
    objstore_config c = {.root = root, .no_fsync = true};
    qv_err err;
    cr_assert_eq(objstore_open("fs", &c, &os, &err), QV_OK, "%s", err.msg);
    free(root);
}

static void teardown(void)
{
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(flush, .init = setup, .fini = teardown);

/* Segment 1: pks 1..500 at 100, pks 1..10 again at 200, pks 20..29
 * deleted at 300, pk 600 at 400. */
static qv_shard *build(void)
{
    qv_shard *s = qn_shard();
    int64_t pks[500];
    for (int i = 0; i < 500; i++)
        pks[i] = i + 1;
    qn_apply_insert(s, pks, 500, 100, 1);
    qn_apply_insert(s, pks, 10, 200, 1);
    qn_apply_delete(s, pks + 19, 10, 300);
    int64_t last = 600;
    qn_apply_insert(s, &last, 1, 400, 1);
    return s;
}

static qv_sealed *flush_and_load(qv_shard *s, const char *cache)
{
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    cr_assert_eq(g.n, 1);
    qv_flush_target t = {os, QN_COLL, 77};
    qv_flush_result res;
    qv_err err;
    cr_assert_eq(qv_flush_segment(&t, &qn_schema, &g.snaps[0], &res, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(res.rows, 511);
    cr_assert_eq(res.deletes, 20, "10 superseded + 10 deleted");
    cr_assert_eq(res.objects, 4 + 1 + 1 + 1);
    qv_shard_snap_release(&g);
    qv_sealed_source src = {os, QN_COLL, 1, 1, 77, cache};
    qv_sealed *sealed;
    cr_assert_eq(qv_sealed_load(&src, &qn_schema, &sealed, &err), QV_OK, "%s",
                 err.msg);
    return sealed;
}

static void sealed_shard_snap(qv_sealed *x, qv_shard_snap *out)
{
    out->schema = &qn_schema;
    out->n = 1;
    out->snaps = QV_NEW(qv_seg_snap);
    qv_sealed_snap(x, &out->snaps[0]);
}

static void assert_same_query(qv_shard_snap *a, qv_shard_snap *b, qv_ts R)
{
    int64_t outf[3] = {QN_VEC, QN_TAG, QN_NAME};
    qv_query_req q = {.output_fields = outf, .noutput = 3, .ts = R};
    qv_query_result ra, rb;
    cr_assert_eq(qv_shard_query(a, &q, &ra, NULL), QV_OK);
    cr_assert_eq(qv_shard_query(b, &q, &rb, NULL), QV_OK);
    cr_assert_eq(ra.count, rb.count, "at %llu: %llu vs %llu rows",
                 (unsigned long long)R, (unsigned long long)ra.count,
                 (unsigned long long)rb.count);
    for (size_t c = 0; c < ra.ncols; c++) {
        qv_col_view va = qv_column_view(ra.cols[c]);
        qv_col_view vb = qv_column_view(rb.cols[c]);
        for (size_t r = 0; r < va.rows; r++) {
            cr_assert_eq(qv_col_is_valid(&va, r), qv_col_is_valid(&vb, r));
            if (qv_dtype_is_varwidth(va.type)) {
                size_t la, lb;
                const uint8_t *pa = qv_col_var(&va, r, &la);
                const uint8_t *pb = qv_col_var(&vb, r, &lb);
                cr_assert(la == lb && memcmp(pa, pb, la) == 0);
            } else {
                cr_assert(memcmp(qv_col_fixed(&va, r), qv_col_fixed(&vb, r),
                                 va.width) == 0);
            }
        }
    }
    qv_query_result_release(&ra);
    qv_query_result_release(&rb);
}

Test(flush, sealed_copy_answers_like_the_growing_one)
{
    qv_shard *s = build();
    qv_sealed *x = flush_and_load(s, NULL);
    cr_assert_eq(qv_sealed_rows(x), 511);
    qv_shard_snap g, sn;
    qv_shard_acquire(s, &g);
    sealed_shard_snap(x, &sn);
    qv_ts at[] = {50, 100, 150, 200, 299, 300, 399, 400, 1000};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        assert_same_query(&g, &sn, at[i]);
    qv_query_req cnt = {.count_only = true, .ts = 1000};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&sn, &cnt, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 491);
    float q[QN_DIM];
    qn_vec_of(1234, q);
    qv_search_req sr = {.field_id = QN_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = q,
                        .topk = 20,
                        .ts = 1000};
    qv_search_result a, b;
    cr_assert_eq(qv_shard_search(&g, &sr, &a, NULL), QV_OK);
    cr_assert_eq(qv_shard_search(&sn, &sr, &b, NULL), QV_OK);
    cr_assert_eq(a.counts[0], 20);
    cr_assert_eq(b.counts[0], 20);
    for (size_t j = 0; j < 20; j++) {
        cr_assert_eq(a.hits[j].pk.i, b.hits[j].pk.i);
        cr_assert_eq(a.hits[j].ts, b.hits[j].ts);
        cr_assert_float_eq(a.hits[j].distance, b.hits[j].distance, 1e-6);
    }
    qv_search_result_release(&a);
    qv_search_result_release(&b);
    qv_shard_snap_release(&sn);
    qv_shard_snap_release(&g);
    qv_sealed_unref(x);
    qv_shard_free(s);
}

Test(flush, mapped_load_and_forwarded_deletes)
{
    qv_shard *s = build();
    char *cache = qv_xasprintf("%s/cache", dir);
    cr_assert_eq(mkdir(cache, 0755), 0);
    qv_sealed *x = flush_and_load(s, cache);
    qv_pk k = qv_pk_int(5), none = qv_pk_int(100000);
    cr_assert(qv_sealed_may_contain(x, &k));
    cr_assert(!qv_sealed_may_contain(x, &none));
    cr_assert_eq(qv_sealed_delete(x, &k, 500), 1, "only the newest version");
    qv_shard_snap sn;
    sealed_shard_snap(x, &sn);
    qv_query_req cnt = {.count_only = true, .ts = 1000};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&sn, &cnt, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 490);
    cnt.ts = 450;
    cr_assert_eq(qv_shard_query(&sn, &cnt, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 491);
    qv_shard_snap_release(&sn);
    qv_sealed_unref(x);
    qv_shard_free(s);
    free(cache);
}

Test(flush, damaged_column_object_is_refused)
{
    qv_shard *s = build();
    qv_sealed *x = flush_and_load(s, NULL);
    qv_sealed_unref(x);
    char *key = qv_seglog_key(QV_SEGLOG_INSERT, QN_COLL, 1, 1, QN_VEC, 77);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(os, key, &b, NULL), QV_OK);
    b.data[b.len - 3] ^= 0x40;
    cr_assert_eq(objstore_put(os, key, b.data, b.len, NULL), QV_OK);
    qv_sealed_source src = {os, QN_COLL, 1, 1, 77, NULL};
    qv_err err;
    qv_code rc = qv_sealed_load(&src, &qn_schema, &x, &err);
    cr_assert_eq(rc, QV_E_CORRUPT_CHECKSUM, "%s", err.msg);
    /* a missing object is NOT_FOUND, not a crash */
    cr_assert_eq(objstore_delete(os, key, NULL), QV_OK);
    rc = qv_sealed_load(&src, &qn_schema, &x, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_NOT_FOUND, "%s", err.msg);
    qv_buf_release(&b);
    free(key);
    qv_shard_free(s);
}

Test(flush, delete_log_round_trip_and_damage)
{
    qv_field_spec f = {
        .id = 100, .name = "pk", .type = QV_DT_VARCHAR, .max_length = 16};
    qv_column *c;
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_var(c, "ab", 2), QV_OK);
    cr_assert_eq(qv_column_append_var(c, "xyz", 3), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    int64_t ts[2] = {10, 20};
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_delta_encode(&v, ts, &b, NULL), QV_OK);
    qv_delta d;
    cr_assert_eq(qv_delta_decode(b.data, b.len, &d, NULL), QV_OK);
    cr_assert_eq(d.n, 2);
    size_t n;
    const uint8_t *p = qv_col_var(&d.pks, 1, &n);
    cr_assert(n == 3 && memcmp(p, "xyz", 3) == 0);
    cr_assert_eq(qv_col_i64(&d.ts, 1), 20);
    qv_delta_release(&d);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 1;
        cr_assert_neq(qv_delta_decode(b.data, b.len, &d, NULL), QV_OK,
                      "byte %zu", i);
        b.data[i] ^= 1;
    }
    qv_buf_release(&b);
    qv_column_free(c);
}

static qv_sealed *flush_segment(qv_shard *s, int64_t seg, int64_t log)
{
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    const qv_seg_snap *ss = NULL;
    for (size_t i = 0; i < g.n; i++)
        if (g.snaps[i].segment_id == seg)
            ss = &g.snaps[i];
    cr_assert_not_null(ss);
    qv_flush_target t = {os, QN_COLL, log};
    qv_flush_result res;
    qv_err err;
    cr_assert_eq(qv_flush_segment(&t, &qn_schema, ss, &res, &err), QV_OK, "%s",
                 err.msg);
    qv_shard_snap_release(&g);
    qv_sealed_source src = {os, QN_COLL, 1, seg, log, NULL};
    qv_sealed *x;
    cr_assert_eq(qv_sealed_load(&src, &qn_schema, &x, &err), QV_OK, "%s",
                 err.msg);
    return x;
}

static uint64_t count_at(qv_shard *s, qv_ts R)
{
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    qv_query_req q = {.count_only = true, .ts = R};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&g, &q, &r, NULL), QV_OK);
    qv_shard_snap_release(&g);
    return r.count;
}

/* The segment id serving the visible version of pk at R (-1: none). */
static int64_t serving(qv_shard *s, int64_t pk, qv_ts R)
{
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    int64_t seg = -1;
    for (size_t i = 0; i < g.n; i++) {
        const qv_seg_snap *ss = &g.snaps[i];
        qv_bitset m;
        cr_assert_eq(qv_bitset_init(&m, ss->rows ? ss->rows : 1), QV_OK);
        if (ss->rows)
            ss->ops->mask(ss->seg, R, ss->rows, &m);
        for (size_t r = 0; r < ss->rows; r++)
            if (!qv_bitset_test(&m, r) &&
                qv_col_i64(&ss->cols[ss->pk_index], r) == pk) {
                cr_assert_eq(seg, -1, "two visible versions of %lld",
                             (long long)pk);
                seg = ss->segment_id;
            }
        qv_bitset_release(&m);
    }
    qv_shard_snap_release(&g);
    return seg;
}

Test(flush, handoff_swaps_growing_for_sealed_without_gap_or_duplicate)
{
    qv_shard *s = qn_shard();
    int64_t pks[150];
    for (int i = 0; i < 150; i++)
        pks[i] = i + 1;
    qn_apply_insert(s, pks, 100, 100, 1);
    qn_apply_insert(s, pks + 100, 50, 110, 2);
    qv_msg seal = {.type = QV_MSG_SEGMENT_SEAL,
                   .ts = 120,
                   .collection_id = QN_COLL,
                   .vchannel = QN_VCH,
                   .partition_id = 1,
                   .segment_id = 1,
                   .seal_reason = QV_SEAL_ROWS};
    cr_assert_eq(qv_shard_apply(s, &seal, NULL), QV_OK);
    qv_sealed *x = flush_segment(s, 1, 501);
    int64_t five = 5, six = 6, seven = 7;
    qn_apply_delete(s, &five, 1, 200); /* after the flush */
    qv_err err;
    cr_assert_eq(qv_shard_handoff(s, x, &err), QV_OK, "%s", err.msg);
    qv_sealed_unref(x);
    qv_shard_stats st;
    qv_shard_stats_get(s, &st);
    cr_assert_eq(st.segments, 1);
    cr_assert_eq(st.sealed, 1);
    cr_assert_eq(count_at(s, 150), 150);
    cr_assert_eq(count_at(s, 250), 149, "the delete made after the flush");
    qn_apply_delete(s, &six, 1, 300); /* forwarded to the sealed copy */
    cr_assert_eq(count_at(s, 350), 148);
    qn_apply_insert(s, &seven, 1, 400, 2); /* newer version elsewhere */
    cr_assert_eq(count_at(s, 450), 148);
    cr_assert_eq(serving(s, 7, 350), 1);
    cr_assert_eq(serving(s, 7, 450), 2);
    cr_assert_eq(serving(s, 5, 150), 1);
    cr_assert_eq(serving(s, 5, 250), -1);
    /* a sealed copy of a segment that is still growing is refused */
    qv_sealed *y = flush_segment(s, 2, 502);
    cr_assert_eq(qv_shard_handoff(s, y, &err), QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "still growing") != NULL, "%s", err.msg);
    cr_assert_eq(qv_shard_add_sealed(s, y, &err), QV_E_EXISTS);
    qv_sealed_unref(y);
    qv_shard_free(s);
}

Test(flush, sealed_segment_added_at_start_resolves_versions)
{
    /* one shard flushes segment 1; a fresh shard (a restarted node) loads
     * it, then replays later inserts and deletes */
    qv_shard *a = qn_shard();
    int64_t pks[20];
    for (int i = 0; i < 20; i++)
        pks[i] = i + 1;
    qn_apply_insert(a, pks, 20, 100, 1);
    qv_sealed *x = flush_segment(a, 1, 601);
    qv_shard_free(a);
    qv_shard *s = qn_shard();
    int64_t three = 3, four = 4;
    qn_apply_insert(s, &three, 1, 300, 2); /* replayed: newer version */
    qn_apply_delete(s, &four, 1, 5000);    /* buffered, above tsafe */
    qv_err err;
    cr_assert_eq(qv_shard_add_sealed(s, x, &err), QV_OK, "%s", err.msg);
    qv_sealed_unref(x);
    cr_assert_eq(count_at(s, 200), 20);
    cr_assert_eq(count_at(s, 400), 20);
    cr_assert_eq(serving(s, 3, 200), 1);
    cr_assert_eq(serving(s, 3, 400), 2);
    cr_assert_eq(count_at(s, 6000), 19, "buffered delete reaches it");
    qv_shard_free(s);
}
