/* Recall of sealed segments searched through their index, per index type:
 * the query node's answer at a timestamp with nothing excluded is the
 * index library's own answer (same rows), so recall@10 against the exact
 * ground truth is the library's; with a filter and deletes, the query
 * node's answer equals the library's with the same exclusion bitset built
 * by hand.  Label `recall` (builds five indexes over 20K rows). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "si_helpers.h"

#define N  20000
#define K  10
#define NQ 50

static si_env e;
static void setup(void)
{
    si_setup(&e, N, N / 2, 0);
}
static void teardown(void)
{
    si_teardown(&e);
}
TestSuite(sidx_recall, .init = setup, .fini = teardown, .timeout = 600);

static float dist(bool bin, size_t r, const float *q, const uint8_t *bq)
{
    if (bin) {
        const uint8_t *b = e.b + r * SI_BITS / 8;
        int h = 0;
        for (int i = 0; i < SI_BITS / 8; i++)
            h += __builtin_popcount((unsigned)(b[i] ^ bq[i]));
        return (float)h;
    }
    float s = 0;
    for (int d = 0; d < SI_DIM; d++) {
        float t = q[d] - e.x[r * SI_DIM + d];
        s += t * t;
    }
    return s;
}

/* Recall of labels (k per query) against the exact kth distance among
 * rows not excluded. */
static double recall(bool bin, const int64_t *labels, const float *qs,
                     const uint8_t *bqs, const qv_bitset *ex)
{
    size_t good = 0;
    float *d = qv_xmalloc(N * sizeof(float));
    for (size_t q = 0; q < NQ; q++) {
        size_t m = 0;
        for (size_t r = 0; r < N; r++)
            if (!ex || !qv_bitset_test(ex, r))
                d[m++] = dist(bin, r, qs + q * SI_DIM, bqs + q * SI_BITS / 8);
        float kd = 0;
        for (size_t i = 0; i < K; i++) { /* selection of the k smallest */
            size_t b = i;
            for (size_t j = i + 1; j < m; j++)
                if (d[j] < d[b])
                    b = j;
            float t = d[i];
            d[i] = d[b];
            d[b] = t;
            kd = d[i];
        }
        for (size_t j = 0; j < K; j++) {
            int64_t l = labels[q * K + j];
            good += l >= 0 && dist(bin, (size_t)l, qs + q * SI_DIM,
                                   bqs + q * SI_BITS / 8) <= kd * 1.0001f;
        }
    }
    free(d);
    return (double)good / (NQ * K);
}

static void run(qv_index_type t, qv_metric m, const char *build,
                const char *sparams, double floor)
{
    bool bin = qv_metric_is_binary(m);
    int64_t field = bin ? SI_BVEC : SI_VEC;
    qv_index *built = si_build(&e, t, m, build);
    qv_seg_index *x = si_store_load(&e, built, 21, field, NULL);
    qv_index_free(built);
    qv_seg_index_ref(x);
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(e.seg, x, &err), QV_OK, "%s", err.msg);
    const qv_index *ix = qv_seg_index_index(x);
    float *qs = qv_xmalloc(NQ * SI_DIM * sizeof(float));
    uint8_t *bqs = qv_xmalloc(NQ * SI_BITS / 8);
    for (size_t q = 0; q < NQ; q++)
        si_query(q, qs + q * SI_DIM, bqs + q * SI_BITS / 8);
    qv_params p = si_params(sparams);
    const void *queries = bin ? (const void *)bqs : (const void *)qs;
    qv_bitset ex;
    cr_assert_eq(qv_bitset_init(&ex, N), QV_OK);
    qv_expr_plan *pl = si_filter("tag < 5");
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: R = 250, nothing excluded; pass 1: R = 1000 with the
         * deletes of every 7th key and the filter tag < 5 */
        qv_ts R = pass ? 1000 : 250;
        qv_bitset_clear_all(&ex);
        for (size_t r = 0; pass && r < N; r++)
            if (!si_visible(&e, r, R) || ((int64_t)r + 1) % 10 >= 5)
                qv_bitset_set(&ex, r);
        float *ld = qv_xmalloc(NQ * K * sizeof(float));
        int64_t *ll = qv_xmalloc(NQ * K * sizeof(int64_t));
        qv_search_args a = {&p, pass ? &ex : NULL, NULL};
        cr_assert_eq(qv_index_search(ix, NQ, queries, K, &a, ld, ll, &err),
                     QV_OK, "%s", err.msg);
        qv_shard_snap sn;
        si_snap(&e, &sn);
        qv_search_req sr = {.field_id = field,
                            .metric = m,
                            .nq = NQ,
                            .queries = queries,
                            .topk = K,
                            .filter = pass ? pl : NULL,
                            .ts = R,
                            .params = &p};
        qv_search_result res;
        cr_assert_eq(qv_shard_search(&sn, &sr, &res, &err), QV_OK, "%s",
                     err.msg);
        int64_t *ql = qv_xmalloc(NQ * K * sizeof(int64_t));
        /* the same answer: equal distances position by position (rows
         * may differ only among equal distances) */
        for (size_t q = 0; q < NQ; q++)
            for (size_t j = 0; j < K; j++) {
                const qv_hit *h = &res.hits[q * K + j];
                ql[q * K + j] = j < res.counts[q] ? h->row : -1;
                cr_assert_eq(ql[q * K + j] < 0, ll[q * K + j] < 0);
                if (ql[q * K + j] < 0)
                    continue;
                cr_assert_eq(h->distance, ld[q * K + j],
                             "%s query %zu hit %zu: %g vs library %g",
                             qv_index_type_name(t), q, j, h->distance,
                             ld[q * K + j]);
                if (h->row != ll[q * K + j]) {
                    float a = dist(bin, (size_t)h->row, qs + q * SI_DIM,
                                   bqs + q * SI_BITS / 8);
                    float b = dist(bin, (size_t)ll[q * K + j], qs + q * SI_DIM,
                                   bqs + q * SI_BITS / 8);
                    cr_assert(a == b || (!bin && a <= b * 1.0001f &&
                                         b <= a * 1.0001f),
                              "%s query %zu hit %zu: row %lld vs %lld",
                              qv_index_type_name(t), q, j, (long long)h->row,
                              (long long)ll[q * K + j]);
                }
            }
        double rl = recall(bin, ll, qs, bqs, pass ? &ex : NULL);
        double rq = recall(bin, ql, qs, bqs, pass ? &ex : NULL);
        cr_log_info("%s %s: recall@10 query node %.3f, library %.3f",
                    qv_index_type_name(t), pass ? "filtered" : "plain", rq, rl);
        cr_assert_geq(rq, rl, "%s: %.3f < library %.3f", qv_index_type_name(t),
                      rq, rl);
        cr_assert_geq(rq, floor, "%s: recall %.3f", qv_index_type_name(t), rq);
        free(ql);
        free(ld);
        free(ll);
        qv_search_result_release(&res);
        qv_shard_snap_release(&sn);
    }
    qv_expr_plan_free(pl);
    qv_bitset_release(&ex);
    qv_seg_index_unref(x);
    free(qs);
    free(bqs);
}

Test(sidx_recall, ivf_flat)
{
    run(QV_INDEX_IVF_FLAT, QV_METRIC_L2, "nlist=128", "nprobe=2", 0.5);
}
Test(sidx_recall, ivf_sq8)
{
    run(QV_INDEX_IVF_SQ8, QV_METRIC_L2, "nlist=128", "nprobe=8", 0.7);
}
Test(sidx_recall, ivf_pq)
{
    run(QV_INDEX_IVF_PQ, QV_METRIC_L2, "nlist=128,m=8", "nprobe=16", 0.3);
}
Test(sidx_recall, hnsw)
{
    run(QV_INDEX_HNSW, QV_METRIC_L2, "M=8,efConstruction=40", "ef=10", 0.5);
}
Test(sidx_recall, bin_ivf_flat)
{
    run(QV_INDEX_BIN_IVF_FLAT, QV_METRIC_HAMMING, "nlist=64", "nprobe=8", 0.5);
}
