/* Recall of HNSW on real data with fixed seeds: siftsmall (L2, 10K x 128)
 * and fiori-minilm-384 (COSINE, 384-d text embeddings), against the
 * shipped exact ground truth and against FLAT (unfiltered and filtered).
 * The asserted figures are what the defaults reach with margin; the
 * measured values are printed. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/bitset.h"
#include "index/index.h"

#define K 10

typedef struct vecs {
    size_t n, d;
    float *f;
    int32_t *i;
} vecs;

static vecs read_vecs(const char *path, bool ints)
{
    FILE *fp = fopen(path, "rb");
    cr_assert(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    int32_t d;
    cr_assert_eq(fread(&d, 4, 1, fp), 1);
    vecs v = {.d = (size_t)d};
    v.n = (size_t)len / (4 + 4 * (size_t)d);
    void *out = malloc(v.n * v.d * 4);
    fseek(fp, 0, SEEK_SET);
    for (size_t r = 0; r < v.n; r++) {
        cr_assert_eq(fread(&d, 4, 1, fp), 1);
        cr_assert_eq((size_t)d, v.d);
        cr_assert_eq(fread((char *)out + r * v.d * 4, 4, v.d, fp), v.d);
    }
    fclose(fp);
    if (ints)
        v.i = out;
    else
        v.f = out;
    return v;
}

static double recall_gt(const int64_t *lab, const vecs *gt, size_t nq)
{
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < K; j++)
            for (size_t t = 0; t < K; t++)
                if (lab[i * K + t] == gt->i[i * gt->d + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

static double overlap(const int64_t *a, const int64_t *b, size_t nq)
{
    size_t hit = 0, tot = 0;
    for (size_t i = 0; i < nq * K; i++) {
        if (b[i] < 0)
            continue;
        tot++;
        for (size_t t = (i / K) * K; t < (i / K + 1) * K; t++)
            if (a[t] == b[i]) {
                hit++;
                break;
            }
    }
    return tot ? (double)hit / (double)tot : 1.0;
}

static qv_index *build(qv_index_type t, qv_metric m, const vecs *base,
                       const char *M, const char *efc)
{
    qv_kv kv[3] = {{"M", M}, {"efConstruction", efc}, {"seed", "42"}};
    qv_params p = {kv, 3};
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(t, m, base->d, t == QV_INDEX_HNSW ? &p : NULL,
                                 &ix, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, base->n, base->f, NULL, &err), QV_OK, "%s",
                 err.msg);
    return ix;
}

static void search(const qv_index *ix, const vecs *q, const char *ef,
                   const qv_bitset *f, int64_t *lab)
{
    float *dist = malloc(q->n * K * sizeof(float));
    qv_kv kv[1] = {{"ef", ef}};
    qv_params p = {kv, 1};
    qv_search_args a = {.params = &p, .filter = f, .pool = qv_pool_shared()};
    qv_err err;
    cr_assert_eq(qv_index_search(ix, q->n, q->f, K, &a, dist, lab, &err), QV_OK,
                 "%s", err.msg);
    free(dist);
}

Test(recall_hnsw, siftsmall_l2)
{
    vecs base =
        read_vecs(QV_SHARED_DATA "/siftsmall/siftsmall_base.fvecs", false);
    vecs q =
        read_vecs(QV_SHARED_DATA "/siftsmall/siftsmall_query.fvecs", false);
    vecs gt = read_vecs(QV_SHARED_DATA "/siftsmall/siftsmall_groundtruth.ivecs",
                        true);
    qv_index *ix = build(QV_INDEX_HNSW, QV_METRIC_L2, &base, "16", "200");
    qv_index *flat = build(QV_INDEX_FLAT, QV_METRIC_L2, &base, NULL, NULL);
    int64_t *lab = malloc(q.n * K * sizeof(int64_t));
    int64_t *truth = malloc(q.n * K * sizeof(int64_t));
    static const char *efs[] = {"16", "32", "64", "128"};
    static const double min_recall[] = {0.93, 0.97, 0.99, 0.995};
    for (size_t i = 0; i < 4; i++) {
        search(ix, &q, efs[i], NULL, lab);
        double r = recall_gt(lab, &gt, q.n);
        printf("siftsmall HNSW M=16 efC=200 ef=%s recall@10 %.4f\n", efs[i], r);
        cr_assert(r >= min_recall[i], "ef=%s recall %.4f < %.3f", efs[i], r,
                  min_recall[i]);
    }
    /* Filtered (half the rows excluded) against filtered FLAT. */
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, base.n), QV_OK);
    for (size_t i = 0; i < base.n; i += 2)
        qv_bitset_set(&f, i);
    search(ix, &q, "64", &f, lab);
    search(flat, &q, "64", &f, truth);
    double r = overlap(lab, truth, q.n);
    printf("siftsmall HNSW 50%% filtered ef=64 recall@10 %.4f\n", r);
    cr_assert(r >= 0.98, "filtered recall %.4f", r);
    for (size_t i = 0; i < q.n * K; i++)
        cr_assert(lab[i] < 0 || !qv_bitset_test(&f, (size_t)lab[i]));
    /* 1% pass: the exact scan is exact. */
    qv_bitset_clear_all(&f);
    qv_bitset_set_all(&f);
    for (size_t i = 0; i < base.n; i += 100)
        qv_bitset_clear(&f, i);
    search(ix, &q, "64", &f, lab);
    search(flat, &q, "64", &f, truth);
    cr_assert_eq(overlap(lab, truth, q.n), 1.0);
    qv_bitset_release(&f);
    free(lab);
    free(truth);
    qv_index_free(ix);
    qv_index_free(flat);
    free(base.f);
    free(q.f);
    free(gt.i);
}

Test(recall_hnsw, fiori_cosine)
{
    vecs base = read_vecs(QV_SHARED_DATA "/fiori-minilm-384/base.fvecs", false);
    vecs q = read_vecs(QV_SHARED_DATA "/fiori-minilm-384/query.fvecs", false);
    vecs gt =
        read_vecs(QV_SHARED_DATA "/fiori-minilm-384/groundtruth.ivecs", true);
    int64_t *lab = malloc(q.n * K * sizeof(int64_t));
    int64_t *truth = malloc(q.n * K * sizeof(int64_t));
    qv_index *flat = build(QV_INDEX_FLAT, QV_METRIC_COSINE, &base, NULL, NULL);
    search(flat, &q, "10", NULL, truth);
    double rf = recall_gt(truth, &gt, q.n);
    cr_assert(rf >= 0.99, "flat recall %.4f", rf);
    qv_metric ms[2] = {QV_METRIC_COSINE, QV_METRIC_IP};
    for (size_t m = 0; m < 2; m++) {
        qv_index *ix = build(QV_INDEX_HNSW, ms[m], &base, "16", "200");
        search(ix, &q, "10", NULL, lab);
        double r10 = recall_gt(lab, &gt, q.n);
        search(ix, &q, "64", NULL, lab);
        double r64 = recall_gt(lab, &gt, q.n);
        printf("fiori %s HNSW recall@10 ef=10 %.4f ef=64 %.4f\n",
               m ? "IP" : "COSINE", r10, r64);
        cr_assert(r10 >= 0.90, "ef=10 recall %.4f", r10);
        cr_assert(r64 >= 0.99, "ef=64 recall %.4f", r64);
        qv_index_free(ix);
    }
    free(lab);
    free(truth);
    qv_index_free(flat);
    free(base.f);
    free(q.f);
    free(gt.i);
}
