/* Recall of every index type and metric against exact ground truth on real
 * data: siftsmall (10K x 128, L2 and IP; its binary sign-codes for HAMMING
 * and JACCARD) and fiori-minilm-384 (678 x 384, COSINE).  Fixed seeds; the
 * asserted floors are what the default parameters reach, minus a small
 * margin.  Ground truth is the shipped file for siftsmall L2 and fiori,
 * FLAT / BIN_FLAT otherwise (FLAT itself is checked against the file). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "index/index.h"

#define K 10

static float *read_fvecs(const char *path, size_t *n, size_t *d)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    int32_t dim;
    cr_assert_eq(fread(&dim, 4, 1, f), 1);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t rows = (size_t)sz / (4 + 4 * (size_t)dim);
    float *x = malloc(rows * (size_t)dim * sizeof(float));
    for (size_t i = 0; i < rows; i++) {
        cr_assert_eq(fread(&dim, 4, 1, f), 1);
        cr_assert_eq(fread(x + i * dim, 4, (size_t)dim, f), (size_t)dim);
    }
    fclose(f);
    *n = rows;
    *d = (size_t)dim;
    return x;
}

static int64_t *read_gt(const char *path, size_t nq)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    int64_t *gt = malloc(nq * K * sizeof(int64_t));
    for (size_t i = 0; i < nq; i++) {
        int32_t k, row[100];
        cr_assert_eq(fread(&k, 4, 1, f), 1);
        cr_assert(k >= K && k <= 100);
        cr_assert_eq(fread(row, 4, (size_t)k, f), (size_t)k);
        for (size_t j = 0; j < K; j++)
            gt[i * K + j] = row[j];
    }
    fclose(f);
    return gt;
}

static double recall(const int64_t *got, const int64_t *gt, size_t nq)
{
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                if (got[i * K + a] == gt[i * K + b]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

static qv_index *build(qv_index_type t, qv_metric m, size_t d, const qv_kv *kv,
                       size_t nkv, const void *x, size_t n)
{
    qv_params p = {kv, nkv};
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(t, m, d, &p, &ix, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_train(ix, n, x, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, n, x, NULL, &err), QV_OK, "%s", err.msg);
    return ix;
}

static double run(const qv_index *ix, const void *q, size_t nq,
                  const char *nprobe, const int64_t *gt)
{
    float *d = malloc(nq * K * sizeof(float));
    int64_t *l = malloc(nq * K * sizeof(int64_t));
    qv_kv kv[] = {{"nprobe", nprobe}};
    qv_params p = {kv, 1};
    qv_search_args a = {.params = &p, .pool = qv_pool_shared()};
    qv_err err;
    cr_assert_eq(qv_index_search(ix, nq, q, K, &a, d, l, &err), QV_OK, "%s",
                 err.msg);
    double r = recall(l, gt, nq);
    free(d);
    free(l);
    return r;
}

typedef struct sift {
    float *x, *q;
    size_t n, nq, d;
    int64_t *gt;
} sift;

static void sift_load(sift *s)
{
    size_t d2;
    s->x = read_fvecs(QV_SHARED_DATA "/siftsmall/siftsmall_base.fvecs", &s->n,
                      &s->d);
    s->q = read_fvecs(QV_SHARED_DATA "/siftsmall/siftsmall_query.fvecs", &s->nq,
                      &d2);
    cr_assert_eq(d2, s->d);
    s->gt =
        read_gt(QV_SHARED_DATA "/siftsmall/siftsmall_groundtruth.ivecs", s->nq);
}

static void sift_free(sift *s)
{
    free(s->x);
    free(s->q);
    free(s->gt);
}

/* Exact top-K labels by FLAT (or BIN_FLAT) for metrics without a file. */
static int64_t *oracle(qv_index_type t, qv_metric m, size_t d, const void *x,
                       size_t n, const void *q, size_t nq)
{
    qv_index *ix = build(t, m, d, NULL, 0, x, n);
    float *dd = malloc(nq * K * sizeof(float));
    int64_t *l = malloc(nq * K * sizeof(int64_t));
    cr_assert_eq(qv_index_search(ix, nq, q, K, NULL, dd, l, NULL), QV_OK);
    free(dd);
    qv_index_free(ix);
    return l;
}

static void check(const char *what, double r, double floor)
{
    fprintf(stderr, "recall@10 %-28s %.3f (floor %.2f)\n", what, r, floor);
    cr_assert_geq(r, floor, "%s: recall %.3f below %.2f", what, r, floor);
}

Test(recall, sift_l2_every_float_type, .timeout = 300)
{
    sift s;
    sift_load(&s);
    qv_index *flat = build(QV_INDEX_FLAT, QV_METRIC_L2, s.d, NULL, 0, s.x, s.n);
    check("FLAT L2 vs file", run(flat, s.q, s.nq, "1", s.gt), 0.999);
    qv_index_free(flat);
    qv_kv kv[] = {{"nlist", "128"}, {"m", "32"}};
    struct {
        qv_index_type t;
        const char *np;
        double floor;
    } c[] = {
        {QV_INDEX_IVF_FLAT, "8", 0.93}, {QV_INDEX_IVF_FLAT, "32", 0.995},
        {QV_INDEX_IVF_SQ8, "8", 0.92},  {QV_INDEX_IVF_SQ8, "32", 0.97},
        {QV_INDEX_IVF_PQ, "8", 0.75},   {QV_INDEX_IVF_PQ, "32", 0.78},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
        qv_index *ix = build(c[i].t, QV_METRIC_L2, s.d, kv, 2, s.x, s.n);
        char what[64];
        snprintf(what, sizeof(what), "%s L2 nprobe=%s",
                 qv_index_type_name(c[i].t), c[i].np);
        check(what, run(ix, s.q, s.nq, c[i].np, s.gt), c[i].floor);
        qv_index_free(ix);
    }
    sift_free(&s);
}

Test(recall, sift_ip_every_float_type, .timeout = 300)
{
    sift s;
    sift_load(&s);
    int64_t *gt = oracle(QV_INDEX_FLAT, QV_METRIC_IP, s.d, s.x, s.n, s.q, s.nq);
    qv_kv kv[] = {{"nlist", "128"}, {"m", "32"}};
    struct {
        qv_index_type t;
        const char *np;
        double floor;
    } c[] = {
        {QV_INDEX_IVF_FLAT, "32", 0.99},
        {QV_INDEX_IVF_SQ8, "32", 0.96},
        {QV_INDEX_IVF_PQ, "32", 0.68},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
        qv_index *ix = build(c[i].t, QV_METRIC_IP, s.d, kv, 2, s.x, s.n);
        char what[64];
        snprintf(what, sizeof(what), "%s IP nprobe=%s",
                 qv_index_type_name(c[i].t), c[i].np);
        check(what, run(ix, s.q, s.nq, c[i].np, gt), c[i].floor);
        qv_index_free(ix);
    }
    free(gt);
    sift_free(&s);
}

Test(recall, fiori_cosine_every_float_type, .timeout = 300)
{
    size_t n, nq, d, d2;
    float *x =
        read_fvecs(QV_SHARED_DATA "/fiori-minilm-384/base.fvecs", &n, &d);
    float *q =
        read_fvecs(QV_SHARED_DATA "/fiori-minilm-384/query.fvecs", &nq, &d2);
    int64_t *gt =
        read_gt(QV_SHARED_DATA "/fiori-minilm-384/groundtruth.ivecs", nq);
    qv_index *flat = build(QV_INDEX_FLAT, QV_METRIC_COSINE, d, NULL, 0, x, n);
    check("FLAT COSINE vs file", run(flat, q, nq, "1", gt), 0.999);
    qv_index_free(flat);
    qv_kv kv[] = {{"nlist", "16"}, {"m", "48"}};
    struct {
        qv_index_type t;
        const char *np;
        double floor;
    } c[] = {
        {QV_INDEX_IVF_FLAT, "4", 0.93},
        {QV_INDEX_IVF_SQ8, "4", 0.93},
        {QV_INDEX_IVF_PQ, "4", 0.80},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
        qv_index *ix = build(c[i].t, QV_METRIC_COSINE, d, kv, 2, x, n);
        char what[64];
        snprintf(what, sizeof(what), "%s COSINE nprobe=%s",
                 qv_index_type_name(c[i].t), c[i].np);
        check(what, run(ix, q, nq, c[i].np, gt), c[i].floor);
        qv_index_free(ix);
    }
    free(x);
    free(q);
    free(gt);
}

/* siftsmall as 128-bit sign codes (component above its column median). */
Test(recall, sift_binary_hamming_and_jaccard, .timeout = 300)
{
    sift s;
    sift_load(&s);
    size_t rb = s.d / 8;
    uint8_t *bx = calloc(s.n, rb), *bq = calloc(s.nq, rb);
    for (size_t j = 0; j < s.d; j++) {
        float thr = 0;
        for (size_t i = 0; i < s.n; i++)
            thr += s.x[i * s.d + j];
        thr /= (float)s.n;
        for (size_t i = 0; i < s.n; i++)
            if (s.x[i * s.d + j] > thr)
                bx[i * rb + j / 8] |= (uint8_t)(1u << (j % 8));
        for (size_t i = 0; i < s.nq; i++)
            if (s.q[i * s.d + j] > thr)
                bq[i * rb + j / 8] |= (uint8_t)(1u << (j % 8));
    }
    qv_metric ms[] = {QV_METRIC_HAMMING, QV_METRIC_JACCARD};
    for (size_t mi = 0; mi < 2; mi++) {
        int64_t *gt = oracle(QV_INDEX_BIN_FLAT, ms[mi], s.d, bx, s.n, bq, s.nq);
        qv_kv kv[] = {{"nlist", "64"}};
        qv_index *ix =
            build(QV_INDEX_BIN_IVF_FLAT, ms[mi], s.d, kv, 1, bx, s.n);
        char what[64];
        snprintf(what, sizeof(what), "BIN_IVF_FLAT %s nprobe=16",
                 qv_metric_name(ms[mi]));
        /* ties among integer distances cap label recall below 1 */
        check(what, run(ix, bq, s.nq, "16", gt),
              ms[mi] == QV_METRIC_HAMMING ? 0.88 : 0.95);
        qv_index_free(ix);
        free(gt);
    }
    free(bx);
    free(bq);
    sift_free(&s);
}

/* Filtered search keeps recall: half the rows excluded, then 99 %
 * (nprobe grows by 1 / sqrt(pass ratio)). */
Test(recall, sift_filtered_ivf_keeps_recall, .timeout = 300)
{
    sift s;
    sift_load(&s);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, s.n), QV_OK);
    qv_kv kv[] = {{"nlist", "128"}, {"m", "32"}};
    qv_index *flat = build(QV_INDEX_FLAT, QV_METRIC_L2, s.d, NULL, 0, s.x, s.n);
    qv_index *ivf =
        build(QV_INDEX_IVF_FLAT, QV_METRIC_L2, s.d, kv, 2, s.x, s.n);
    qv_index *sq8 = build(QV_INDEX_IVF_SQ8, QV_METRIC_L2, s.d, kv, 2, s.x, s.n);
    for (int pass_pct = 50; pass_pct >= 1; pass_pct -= 49) {
        qv_bitset_clear_all(&f);
        for (size_t i = 0; i < s.n; i++)
            if ((i * 7919) % 100 >= (size_t)pass_pct)
                qv_bitset_set(&f, i);
        float *d = malloc(s.nq * K * sizeof(float));
        int64_t *gt = malloc(s.nq * K * sizeof(int64_t));
        int64_t *l = malloc(s.nq * K * sizeof(int64_t));
        qv_kv np[] = {{"nprobe", "8"}};
        qv_params p = {np, 1};
        qv_search_args a = {.params = &p, .filter = &f};
        cr_assert_eq(qv_index_search(flat, s.nq, s.q, K, &a, d, gt, NULL),
                     QV_OK);
        const qv_index *ixs[] = {ivf, sq8};
        double floors[] = {pass_pct == 50 ? 0.93 : 0.99,
                           pass_pct == 50 ? 0.92 : 0.97};
        for (int t = 0; t < 2; t++) {
            cr_assert_eq(qv_index_search(ixs[t], s.nq, s.q, K, &a, d, l, NULL),
                         QV_OK);
            for (size_t i = 0; i < s.nq * K; i++)
                cr_assert(l[i] >= 0 && !qv_bitset_test(&f, l[i]));
            char what[64];
            snprintf(what, sizeof(what), "%s L2 %d%% pass np=8",
                     qv_index_type_name(qv_index_type_of(ixs[t])), pass_pct);
            check(what, recall(l, gt, s.nq), floors[t]);
        }
        free(d);
        free(gt);
        free(l);
    }
    qv_index_free(flat);
    qv_index_free(ivf);
    qv_index_free(sq8);
    qv_bitset_release(&f);
    sift_free(&s);
}
