/* Compaction: the merged output of flushed segments (with the channel's
 * L0 delete logs applied) answers exactly like the live shard at every
 * read timestamp inside the retention window; versions hidden before the
 * purge timestamp are gone. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/msg/seglog.h"
#include "datanode/compact.h"
#include "datanode/flush.h"
#include "querynode/query.h"
#include "querynode/sealed.h"
#include "querynode/search.h"
#include "tests/lib/proc.h"

static char *dir;
static objstore *os;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-compact-", &dir, NULL), QV_OK);
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

TestSuite(compact, .init = setup, .fini = teardown);

static void flush_seg(qv_shard *s, int64_t seg, int64_t log)
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
}

/* Writes an L0 delete log of keys [lo, hi] at ts. */
static void put_l0(int64_t part, int64_t log, int64_t lo, int64_t hi, qv_ts ts)
{
    qv_column *c;
    cr_assert_eq(qv_column_create(&qn_fields[0], &c, NULL), QV_OK);
    size_t n = (size_t)(hi - lo + 1);
    int64_t *t = qv_xmalloc(n * sizeof *t);
    for (int64_t k = lo; k <= hi; k++) {
        cr_assert_eq(qv_column_append_fixed(c, &k, 1), QV_OK);
        t[k - lo] = (int64_t)ts;
    }
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_delta_encode(&v, t, &b, NULL), QV_OK);
    char *key = qv_seglog_key(QV_SEGLOG_DELTA, QN_COLL, part, 0, 0, log);
    cr_assert_eq(objstore_put(os, key, b.data, b.len, NULL), QV_OK);
    free(key);
    qv_buf_release(&b);
    free(t);
    qv_column_free(c);
}

static void range(int64_t *out, int64_t lo, int64_t hi)
{
    for (int64_t k = lo; k <= hi; k++)
        out[k - lo] = k;
}

/* The history (partition 1):
 *   100  pks 1..300 -> seg 1;  seg 1 flushed (log 11)
 *   200  pks 301..600 -> seg 2;  250 pks 1..20 again -> seg 2
 *   300  delete 50..99 (flushed seg 1: L0 log 21, part -1) and 310..320
 *   seg 2 flushed (log 12)
 *   400  pks 601..700 -> seg 3;  500 delete 301..330 (L0 log 22, part 1)
 *   600  upsert 610 (delete + insert at one ts) in seg 3; seg 3 flushed
 *   650  delete 1..5 (L0 log 23), 700 delete 700 (L0 log 24), part -1 */
static qv_shard *history(void)
{
    qv_shard *s = qn_shard();
    int64_t k[400];
    range(k, 1, 300);
    qn_apply_insert(s, k, 300, 100, 1);
    flush_seg(s, 1, 11);
    range(k, 301, 600);
    qn_apply_insert(s, k, 300, 200, 2);
    range(k, 1, 20);
    qn_apply_insert(s, k, 20, 250, 2);
    range(k, 50, 99);
    qn_apply_delete(s, k, 50, 300);
    put_l0(-1, 21, 50, 99, 300);
    range(k, 310, 320);
    qn_apply_delete(s, k, 11, 300);
    flush_seg(s, 2, 12);
    range(k, 601, 700);
    qn_apply_insert(s, k, 100, 400, 3);
    range(k, 301, 330);
    qn_apply_delete(s, k, 30, 500);
    put_l0(1, 22, 301, 330, 500);
    int64_t u = 610;
    qn_apply_delete(s, &u, 1, 600);
    qn_apply_insert(s, &u, 1, 600, 3);
    flush_seg(s, 3, 13);
    range(k, 1, 5);
    qn_apply_delete(s, k, 5, 650);
    int64_t last = 700;
    qn_apply_delete(s, &last, 1, 700);
    put_l0(-1, 23, 1, 5, 650);
    put_l0(-1, 24, 700, 700, 700);
    return s;
}

static const qv_compact_seg inputs[3] = {{1, 1, 11}, {2, 1, 12}, {3, 1, 13}};
static const qv_compact_seg l0s[4] = {
    {0, -1, 21}, {0, 1, 22}, {0, -1, 23}, {0, -1, 24}};

static qv_compact_result compact(qv_ts purge, int64_t out_seg, int64_t out_log)
{
    qv_compact_req rq = {.os = os,
                         .collection_id = QN_COLL,
                         .partition_id = 1,
                         .schema = &qn_schema,
                         .inputs = inputs,
                         .ninputs = 3,
                         .l0 = l0s,
                         .nl0 = 4,
                         .purge_before = purge,
                         .output_segment_id = out_seg,
                         .output_log_id = out_log};
    qv_compact_result res;
    qv_err err;
    cr_assert_eq(qv_compact_run(&rq, &res, &err), QV_OK, "%s", err.msg);
    return res;
}

static qv_sealed *load(int64_t seg, int64_t log, bool with_l0)
{
    qv_sealed_source src = {os, QN_COLL, 1, seg, log, NULL};
    qv_sealed *x;
    qv_err err;
    cr_assert_eq(qv_sealed_load(&src, &qn_schema, &x, &err), QV_OK, "%s",
                 err.msg);
    for (size_t i = 0; with_l0 && i < 4; i++) {
        char *key = qv_seglog_key(QV_SEGLOG_DELTA, QN_COLL, l0s[i].partition_id,
                                  0, 0, l0s[i].log_id);
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(objstore_get(os, key, &b, NULL), QV_OK);
        qv_delta d;
        cr_assert_eq(qv_delta_decode(b.data, b.len, &d, NULL), QV_OK);
        qv_sealed_apply_delta(x, &d);
        qv_delta_release(&d);
        qv_buf_release(&b);
        free(key);
    }
    return x;
}

static void one_seg_snap(qv_sealed *x, qv_shard_snap *out)
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
    cr_assert_gt(ra.count, 0);
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
                                 va.width) == 0,
                          "at %llu: column %zu row %zu differs",
                          (unsigned long long)R, c, r);
            }
        }
    }
    qv_query_result_release(&ra);
    qv_query_result_release(&rb);
}

static void assert_same_search(qv_shard_snap *a, qv_shard_snap *b, qv_ts R,
                               int64_t near)
{
    float q[QN_DIM];
    qn_vec_of(near, q);
    qv_search_req sr = {.field_id = QN_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = q,
                        .topk = 30,
                        .ts = R};
    qv_search_result x, y;
    cr_assert_eq(qv_shard_search(a, &sr, &x, NULL), QV_OK);
    cr_assert_eq(qv_shard_search(b, &sr, &y, NULL), QV_OK);
    cr_assert_eq(x.counts[0], 30);
    cr_assert_eq(y.counts[0], 30);
    for (size_t j = 0; j < 30; j++) {
        cr_assert_eq(x.hits[j].pk.i, y.hits[j].pk.i, "at %llu hit %zu",
                     (unsigned long long)R, j);
        cr_assert_eq(x.hits[j].ts, y.hits[j].ts);
        cr_assert_float_eq(x.hits[j].distance, y.hits[j].distance, 1e-6);
    }
    qv_search_result_release(&x);
    qv_search_result_release(&y);
}

static uint64_t count(qv_shard_snap *s, qv_ts R)
{
    qv_query_req q = {.count_only = true, .ts = R};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(s, &q, &r, NULL), QV_OK);
    return r.count;
}

static void assert_same_at(qv_shard *live, qv_sealed *x, const qv_ts *at,
                           size_t n)
{
    qv_shard_snap g, c;
    qv_shard_acquire(live, &g);
    one_seg_snap(x, &c);
    for (size_t i = 0; i < n; i++) {
        assert_same_query(&g, &c, at[i]);
        cr_assert_eq(count(&g, at[i]), count(&c, at[i]));
        assert_same_search(&g, &c, at[i], 3);
        assert_same_search(&g, &c, at[i], 315);
        assert_same_search(&g, &c, at[i], 612);
    }
    qv_shard_snap_release(&c);
    qv_shard_snap_release(&g);
}

Test(compact, output_answers_like_the_inputs_inside_the_window)
{
    qv_shard *s = history();
    qv_compact_result r = compact(350, 100, 31);
    cr_assert_eq(r.input_rows, 300 + 320 + 101);
    /* 1..20 of seg 1 hidden at 250 by seg 2's versions, 50..99 deleted at
     * 300 by L0, 310..320 deleted at 300 inside seg 2 */
    cr_assert_eq(r.purged, 20 + 50 + 11);
    cr_assert_eq(r.rows, 721 - 81);
    cr_assert_eq(r.min_ts, 100);
    cr_assert_eq(r.max_ts, 600);
    /* hidden after 350: 301..309, 321..330 (500), 610 (600), 1..5 (650),
     * 700 (700) */
    cr_assert_eq(r.deletes, 9 + 10 + 1 + 5 + 1);
    qv_ts at[] = {350, 399, 400, 450, 500, 599, 600, 649, 650, 699, 700, 9999};
    qv_sealed *x = load(100, 31, false);
    cr_assert_eq(qv_sealed_rows(x), 640);
    assert_same_at(s, x, at, sizeof at / sizeof at[0]);
    qv_sealed_unref(x);
    /* a query node applies the channel's L0 logs to the output too */
    x = load(100, 31, true);
    assert_same_at(s, x, at, sizeof at / sizeof at[0]);
    /* counts at the ends of the window */
    qv_shard_snap c;
    one_seg_snap(x, &c);
    cr_assert_eq(count(&c, 350), 600 - 50 - 11);
    cr_assert_eq(count(&c, 9999), 700 - 50 - 30 - 5 - 1);
    qv_shard_snap_release(&c);
    qv_sealed_unref(x);
    qv_shard_free(s);
}

Test(compact, purge_nothing_keeps_all_history)
{
    qv_shard *s = history();
    qv_compact_result r = compact(0, 101, 32);
    cr_assert_eq(r.purged, 0);
    cr_assert_eq(r.rows, 721);
    qv_ts at[] = {100, 150, 200, 249, 250, 299, 300, 400, 600, 650, 700};
    qv_sealed *x = load(101, 32, false);
    assert_same_at(s, x, at, sizeof at / sizeof at[0]);
    qv_sealed_unref(x);
    qv_shard_free(s);
}

Test(compact, output_compacts_again)
{
    qv_shard *s = history();
    compact(0, 101, 32);
    qv_compact_seg in2[1] = {{101, 1, 32}};
    qv_compact_req rq = {.os = os,
                         .collection_id = QN_COLL,
                         .partition_id = 1,
                         .schema = &qn_schema,
                         .inputs = in2,
                         .ninputs = 1,
                         .purge_before = 650,
                         .output_segment_id = 102,
                         .output_log_id = 33};
    qv_compact_result r;
    qv_err err;
    cr_assert_eq(qv_compact_run(&rq, &r, &err), QV_OK, "%s", err.msg);
    /* everything hidden by 650 is gone: 1..20 old, 50..99, 310..320,
     * 301..330 (500), 610 old (600), 1..5 (650) */
    cr_assert_eq(r.purged, 20 + 50 + 30 + 1 + 5);
    qv_ts at[] = {650, 699, 700, 800};
    qv_sealed *x = load(102, 33, false);
    assert_same_at(s, x, at, sizeof at / sizeof at[0]);
    qv_sealed_unref(x);
    qv_shard_free(s);
}

Test(compact, everything_purged_gives_an_empty_output)
{
    qv_shard *s = qn_shard();
    int64_t k[10];
    range(k, 1, 10);
    qn_apply_insert(s, k, 10, 100, 1);
    qn_apply_delete(s, k, 10, 200);
    flush_seg(s, 1, 11);
    qv_compact_seg in[1] = {{1, 1, 11}};
    qv_compact_req rq = {.os = os,
                         .collection_id = QN_COLL,
                         .partition_id = 1,
                         .schema = &qn_schema,
                         .inputs = in,
                         .ninputs = 1,
                         .purge_before = 300,
                         .output_segment_id = 5,
                         .output_log_id = 55};
    qv_compact_result r;
    qv_err err;
    cr_assert_eq(qv_compact_run(&rq, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(r.rows, 0);
    cr_assert_eq(r.purged, 10);
    qv_sealed *x = load(5, 55, false);
    cr_assert_eq(qv_sealed_rows(x), 0);
    qv_sealed_unref(x);
    qv_shard_free(s);
}

Test(compact, bad_requests_and_missing_inputs_fail_cleanly)
{
    qv_compact_req rq = {.os = os,
                         .collection_id = QN_COLL,
                         .partition_id = 1,
                         .schema = &qn_schema,
                         .output_segment_id = 5,
                         .output_log_id = 55};
    qv_compact_result r;
    qv_err err;
    cr_assert_eq(qv_compact_run(&rq, &r, &err), QV_E_INVALID);
    qv_compact_seg wrong[1] = {{1, 2, 11}};
    rq.inputs = wrong;
    rq.ninputs = 1;
    cr_assert_eq(qv_compact_run(&rq, &r, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "partition") != NULL, "%s", err.msg);
    qv_compact_seg missing[1] = {{42, 1, 11}};
    rq.inputs = missing;
    qv_code rc = qv_compact_run(&rq, &r, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_NOT_FOUND, "%s", err.msg);
    cr_assert(strstr(err.msg, "segment 42") != NULL, "%s", err.msg);
    /* a damaged L0 log is an error, not silently skipped */
    qv_shard *s = qn_shard();
    int64_t k[3] = {1, 2, 3};
    qn_apply_insert(s, k, 3, 100, 1);
    flush_seg(s, 1, 11);
    qv_shard_free(s);
    char *key = qv_seglog_key(QV_SEGLOG_DELTA, QN_COLL, 1, 0, 0, 77);
    cr_assert_eq(objstore_put(os, key, "garbage!", 8, NULL), QV_OK);
    free(key);
    qv_compact_seg ok[1] = {{1, 1, 11}};
    qv_compact_seg bad_l0[1] = {{0, 1, 77}};
    rq.inputs = ok;
    rq.l0 = bad_l0;
    rq.nl0 = 1;
    rc = qv_compact_run(&rq, &r, &err);
    cr_assert_neq(rc, QV_OK);
    cr_assert(strstr(err.msg, "L0") != NULL, "%s", err.msg);
}
