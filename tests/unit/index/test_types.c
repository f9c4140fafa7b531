/* Behaviour every index type shares, run over each (type, metric) pair on
 * small generated data: recall against the naive loop, filters, range
 * search, files (round trip, corruption, truncation, version) and
 * parameter errors. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/pool.h"
#include "ixtest.h"

#define N  2000
#define NQ 40
#define K  10

typedef struct tcase {
    qv_index_type type;
    qv_metric metric;
    size_t dim;
    double min_recall; /* with nprobe = 16 of nlist = 32 */
} tcase;

static tcase cases[] = {
    {QV_INDEX_FLAT, QV_METRIC_L2, 24, 0.99},
    {QV_INDEX_FLAT, QV_METRIC_IP, 24, 0.99},
    {QV_INDEX_IVF_FLAT, QV_METRIC_L2, 24, 0.95},
    {QV_INDEX_IVF_FLAT, QV_METRIC_IP, 24, 0.90},
    {QV_INDEX_IVF_FLAT, QV_METRIC_COSINE, 24, 0.95},
    {QV_INDEX_IVF_SQ8, QV_METRIC_L2, 24, 0.90},
    {QV_INDEX_IVF_SQ8, QV_METRIC_IP, 24, 0.85},
    {QV_INDEX_IVF_SQ8, QV_METRIC_COSINE, 24, 0.90},
    {QV_INDEX_IVF_PQ, QV_METRIC_L2, 24, 0.60},
    {QV_INDEX_IVF_PQ, QV_METRIC_IP, 24, 0.50},
    {QV_INDEX_IVF_PQ, QV_METRIC_COSINE, 24, 0.60},
    {QV_INDEX_BIN_FLAT, QV_METRIC_HAMMING, 128, 0.99},
    {QV_INDEX_BIN_FLAT, QV_METRIC_JACCARD, 128, 0.99},
    {QV_INDEX_BIN_IVF_FLAT, QV_METRIC_HAMMING, 128, 0.50},
    {QV_INDEX_BIN_IVF_FLAT, QV_METRIC_JACCARD, 128, 0.50},
};

typedef struct fixture {
    tcase c;
    void *x, *q;
    size_t row;
    qv_index *ix;
} fixture;

static void fx_build(fixture *f, const tcase *c)
{
    f->c = *c;
    bool bin = qv_metric_is_binary(c->metric);
    f->row = bin ? c->dim / 8 : c->dim * sizeof(float);
    if (bin) {
        f->x = ixt_bits(N, c->dim / 8, 21);
        f->q = malloc(NQ * f->row);
        /* queries: rows with a few bits flipped */
        for (size_t i = 0; i < NQ; i++) {
            memcpy((uint8_t *)f->q + i * f->row,
                   (uint8_t *)f->x + (i * 37 % N) * f->row, f->row);
            ((uint8_t *)f->q)[i * f->row] ^= 0x5a;
        }
    } else {
        f->x = ixt_data(N, c->dim, 21);
        f->q = ixt_queries(f->x, N, c->dim, NQ, 0.5f, 22);
    }
    qv_kv kv[] = {{"nlist", "32"}, {"m", "8"}};
    qv_params p = {kv, 2};
    qv_err err;
    cr_assert_eq(qv_index_create(c->type, c->metric, c->dim, &p, &f->ix, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_train(f->ix, N, f->x, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_add(f->ix, N, f->x, NULL, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(qv_index_ntotal(f->ix), N);
}

static void fx_free(fixture *f)
{
    qv_index_free(f->ix);
    free(f->x);
    free(f->q);
}

static void search(const qv_index *ix, const void *q, size_t nq,
                   const char *nprobe, const qv_bitset *filter, float *d,
                   int64_t *l)
{
    qv_kv kv[] = {{"nprobe", nprobe}};
    qv_params p = {kv, 1};
    qv_search_args a = {.params = &p, .filter = filter};
    qv_err err;
    cr_assert_eq(qv_index_search(ix, nq, q, K, &a, d, l, &err), QV_OK, "%s",
                 err.msg);
}

/* Tie-aware recall@K: a returned row counts when its true distance is at
 * least as close as the K-th true neighbour's (integer Hamming distances
 * tie often). */
static double recall_vs_naive(fixture *f, const qv_index *ix,
                              const char *nprobe, const qv_bitset *filter)
{
    float d[NQ * K];
    int64_t l[NQ * K], t[K];
    double td[K];
    bool larger = qv_metric_larger_is_closer(f->c.metric);
    bool bin = qv_metric_is_binary(f->c.metric);
    size_t hit = 0, valid = 0;
    search(ix, f->q, NQ, nprobe, filter, d, l);
    for (size_t i = 0; i < NQ; i++) {
        const void *q = (uint8_t *)f->q + i * f->row;
        ixt_naive(f->c.metric, f->x, N, f->c.dim, q, K, filter, t, td);
        size_t last = 0;
        for (size_t j = 0; j < K; j++)
            if (t[j] >= 0) {
                valid++;
                last = j;
            }
        double kth = td[last], eps = 1e-5 * (fabs(kth) + 1);
        for (size_t j = 0; j < K; j++) {
            if (l[i * K + j] < 0)
                continue;
            size_t r = (size_t)l[i * K + j];
            double v = bin ? ixt_bdist(f->c.metric,
                                       (uint8_t *)f->x + r * f->row, q, f->row)
                           : ixt_dist(f->c.metric, (float *)f->x + r * f->c.dim,
                                      q, f->c.dim);
            hit += larger ? v >= kth - eps : v <= kth + eps;
        }
    }
    return valid ? (double)hit / (double)valid : 1.0;
}

ParameterizedTestParameters(types, recall_filter_files)
{
    return cr_make_param_array(tcase, cases, sizeof(cases) / sizeof(*cases));
}

ParameterizedTest(tcase *c, types, recall_filter_files)
{
    fixture f;
    fx_build(&f, c);
    double r = recall_vs_naive(&f, f.ix, "16", NULL);
    cr_assert_geq(r, c->min_recall, "%s/%s recall %.3f",
                  qv_index_type_name(c->type), qv_metric_name(c->metric), r);

    /* filter: half the rows excluded, then almost all */
    qv_bitset fl;
    cr_assert_eq(qv_bitset_init(&fl, N), QV_OK);
    for (size_t i = 0; i < N; i += 2)
        qv_bitset_set(&fl, i);
    float d[NQ * K];
    int64_t l[NQ * K];
    search(f.ix, f.q, NQ, "16", &fl, d, l);
    for (size_t i = 0; i < NQ * K; i++)
        cr_assert(l[i] < 0 || !qv_bitset_test(&fl, l[i]), "excluded row");
    double rf = recall_vs_naive(&f, f.ix, "16", &fl);
    cr_assert_geq(rf, c->min_recall - 0.05, "filtered recall %.3f", rf);
    qv_bitset_set_all(&fl);
    for (size_t i = 0; i < N; i += 97)
        qv_bitset_clear(&fl, i);
    search(f.ix, f.q, NQ, "1", &fl, d, l);
    size_t got = 0;
    for (size_t i = 0; i < NQ * K; i++) {
        cr_assert(l[i] < 0 || !qv_bitset_test(&fl, l[i]), "excluded row");
        got += l[i] >= 0;
    }
    /* 21 rows pass: every query sees K of them (all lists probed) */
    cr_assert_eq(got, NQ * K, "selective filter lost rows: %zu", got);

    /* serialize -> load (aligned and misaligned) -> identical results */
    qv_buf b = QV_BUF_INIT;
    qv_err err;
    cr_assert_eq(qv_index_serialize(f.ix, &b, &err), QV_OK, "%s", err.msg);
    uint8_t *al = qv_try_aligned_alloc(b.len + 64, 1);
    memcpy(al, b.data, b.len);
    memcpy(al + 65 - 1 + 0, al, 0); /* keep al aligned; misaligned below */
    qv_index *ld, *ld2;
    cr_assert_eq(qv_index_load(al, b.len, &ld, &err), QV_OK, "%s", err.msg);
    uint8_t *mis = malloc(b.len + 1);
    memcpy(mis + 1, b.data, b.len);
    cr_assert_eq(qv_index_load(mis + 1, b.len, &ld2, &err), QV_OK, "%s",
                 err.msg);
    float d2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K];
    search(f.ix, f.q, NQ, "8", NULL, d, l1);
    search(ld, f.q, NQ, "8", NULL, d2, l2);
    cr_assert_eq(memcmp(l1, l2, sizeof(l1)), 0, "loaded labels differ");
    cr_assert_eq(memcmp(d, d2, sizeof(d)), 0, "loaded distances differ");
    search(ld2, f.q, NQ, "8", NULL, d2, l2);
    cr_assert_eq(memcmp(l1, l2, sizeof(l1)), 0);
    cr_assert_eq(qv_index_type_of(ld), c->type);
    cr_assert_eq(qv_index_ntotal(ld), N);
    cr_assert_eq(qv_index_add(ld, 1, f.x, NULL, &err), QV_E_UNSUPPORTED);
    cr_assert_gt(qv_index_memory_size(f.ix), qv_index_memory_size(ld));

    /* get_vectors returns the stored rows where the index keeps them */
    int64_t want[2] = {5, 1234};
    uint8_t out[2 * 512];
    qv_code gv = qv_index_get_vectors(ld, 2, want, out, &err);
    if (c->type == QV_INDEX_IVF_SQ8 || c->type == QV_INDEX_IVF_PQ) {
        cr_assert_eq(gv, QV_E_UNSUPPORTED);
    } else {
        cr_assert_eq(gv, QV_OK, "%s", err.msg);
        if (c->metric != QV_METRIC_COSINE)
            cr_assert_eq(
                memcmp(out + f.row, (uint8_t *)f.x + 1234 * f.row, f.row), 0);
    }
    qv_index_free(ld);
    qv_index_free(ld2);
    free(mis);

    /* damaged files: every single-byte change in a sample of positions,
     * every truncation length in a sample, and a wrong version */
    for (size_t pos = 0; pos < b.len; pos += 1 + b.len / 97) {
        al[pos] ^= 0x41;
        cr_assert_neq(qv_index_load(al, b.len, &ld, &err), QV_OK,
                      "byte %zu flipped was accepted", pos);
        cr_assert_eq(qv_code_primary(err.code), QV_E_CORRUPT);
        al[pos] ^= 0x41;
    }
    for (size_t len = 0; len < b.len; len += 1 + b.len / 53)
        cr_assert_eq(qv_index_load(al, len, &ld, &err), QV_E_CORRUPT);
    al[4] = 9;
    cr_assert_eq(qv_index_load(al, b.len, &ld, &err), QV_E_CORRUPT_VERSION);
    cr_assert(strstr(err.msg, "version"), "%s", err.msg);
    qv_aligned_free(al);
    qv_buf_release(&b);
    qv_bitset_release(&fl);
    fx_free(&f);
}

ParameterizedTestParameters(types, range_search_matches_brute_force)
{
    return cr_make_param_array(tcase, cases, sizeof(cases) / sizeof(*cases));
}

/* With every list probed (nprobe = nlist), IVF_FLAT and the flat indexes
 * are exact: range results must equal brute force.  Quantized indexes are
 * checked for sanity: what they return lies in the range by their own
 * distances and overlaps the true set. */
ParameterizedTest(tcase *c, types, range_search_matches_brute_force)
{
    fixture f;
    fx_build(&f, c);
    bool bin = qv_metric_is_binary(c->metric);
    /* radius = the 20th nearest distance of the first query */
    float d[20 * 4];
    int64_t l[20 * 4];
    qv_kv kv0[] = {{"nprobe", "32"}};
    qv_params p0 = {kv0, 1};
    qv_search_args a0 = {.params = &p0};
    cr_assert_eq(qv_index_search(f.ix, 1, f.q, 20, &a0, d, l, NULL), QV_OK);
    double radius = d[19];
    if (c->metric == QV_METRIC_HAMMING)
        radius += 0.5;
    else if (qv_metric_larger_is_closer(c->metric))
        radius -= 1e-3;
    else
        radius += 1e-3;
    char rs[32];
    snprintf(rs, sizeof(rs), "%.6f", radius);
    qv_kv kv[] = {{"radius", rs}, {"nprobe", "32"}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p};
    qv_range_result rr;
    qv_err err;
    cr_assert_eq(qv_index_range_search(f.ix, 1, f.q, &a, &rr, &err), QV_OK,
                 "%s", err.msg);
    size_t got = rr.lims[1] - rr.lims[0];
    cr_assert_geq(got, 10, "range search returned %zu rows", got);
    size_t truth = 0, hit = 0;
    for (size_t r = 0; r < N; r++) {
        double v =
            bin ? ixt_bdist(c->metric, (uint8_t *)f.x + r * f.row, f.q, f.row)
                : ixt_dist(c->metric, (float *)f.x + r * c->dim, f.q, c->dim);
        bool in =
            qv_metric_larger_is_closer(c->metric) ? v > radius : v < radius;
        truth += in;
        for (size_t j = 0; in && j < got; j++)
            hit += rr.labels[j] == (int64_t)r;
    }
    bool exact = c->type == QV_INDEX_FLAT || c->type == QV_INDEX_IVF_FLAT ||
                 c->type == QV_INDEX_BIN_FLAT ||
                 c->type == QV_INDEX_BIN_IVF_FLAT;
    if (exact) {
        cr_assert_eq(hit, truth, "%zu of %zu", hit, truth);
        cr_assert_eq(got, truth);
    } else {
        cr_assert_geq((double)hit, 0.5 * (double)truth, "%zu of %zu", hit,
                      truth);
    }
    qv_range_result_release(&rr);
    fx_free(&f);
}

Test(types, parameters_are_validated_with_key_and_range)
{
    qv_index *ix;
    qv_err err;
    qv_kv bad_nlist[] = {{"nlist", "0"}};
    qv_params p = {bad_nlist, 1};
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_FLAT, QV_METRIC_L2, 8, &p, &ix, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "nlist") && strstr(err.msg, "65536"), "%s",
              err.msg);
    qv_kv bad_m[] = {{"m", "3"}};
    p.kv = bad_m;
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_PQ, QV_METRIC_L2, 8, &p, &ix, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "m must divide"), "%s", err.msg);
    qv_kv bad_bits[] = {{"nbits", "12"}};
    p.kv = bad_bits;
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_PQ, QV_METRIC_L2, 8, &p, &ix, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "nbits"), "%s", err.msg);
    qv_kv bad_np[] = {{"nprobe", "abc"}};
    p.kv = bad_np;
    cr_assert_eq(qv_index_check_search_params(QV_INDEX_IVF_SQ8, &p, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "nprobe"), "%s", err.msg);
    qv_kv bad_r[] = {{"radius", "x"}};
    p.kv = bad_r;
    cr_assert_eq(qv_index_check_search_params(QV_INDEX_FLAT, &p, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "radius"), "%s", err.msg);
    cr_assert_eq(qv_index_create(QV_INDEX_BIN_FLAT, QV_METRIC_HAMMING, 12, NULL,
                                 &ix, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "multiple of 8"), "%s", err.msg);
    cr_assert_eq(qv_index_create(QV_INDEX_BIN_IVF_FLAT, QV_METRIC_L2, 16, NULL,
                                 &ix, &err),
                 QV_E_INVALID);
    /* train needs enough rows; add needs training */
    qv_kv nl[] = {{"nlist", "64"}};
    p.kv = nl;
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_SQ8, QV_METRIC_L2, 4, &p, &ix, &err),
        QV_OK);
    float x[40 * 4] = {0};
    cr_assert(qv_index_needs_training(ix));
    cr_assert_eq(qv_index_add(ix, 40, x, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "trained"), "%s", err.msg);
    cr_assert_eq(qv_index_train(ix, 40, x, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "nlist=64"), "%s", err.msg);
    qv_index_free(ix);
}

Test(types, untrained_and_empty_indexes_round_trip)
{
    qv_index *ix, *ld;
    qv_err err;
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_PQ, QV_METRIC_L2, 16, NULL, &ix, &err),
        QV_OK);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_load(b.data, b.len, &ld, &err), QV_OK, "%s", err.msg);
    cr_assert(qv_index_needs_training(ld));
    float q[16] = {0}, d[3];
    int64_t l[3];
    cr_assert_eq(qv_index_search(ld, 1, q, 3, NULL, d, l, &err), QV_OK);
    cr_assert_eq(l[0], -1);
    qv_index_free(ld);
    qv_index_free(ix);
    qv_buf_release(&b);
}

/* AUTOINDEX is HNSW with Milvus's defaults (M=18, efConstruction=240);
 * the caller's params override them.  Without HNSW built in, it is
 * refused with a clear error. */
Test(types, autoindex_is_hnsw_with_milvus_defaults)
{
    qv_index *ix;
    qv_err err;
    qv_code rc = qv_index_create(QV_INDEX_AUTOINDEX, QV_METRIC_COSINE, 8, NULL,
                                 &ix, &err);
    if (rc == QV_E_UNSUPPORTED) {
        cr_assert(strstr(err.msg, "HNSW"), "%s", err.msg);
        return;
    }
    cr_assert_eq(rc, QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_type_of(ix), QV_INDEX_HNSW);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK, "%s", err.msg);
    cr_assert_not_null(memmem(b.data, b.len, "M=18\n", 5));
    cr_assert_not_null(memmem(b.data, b.len, "efConstruction=240\n", 19));
    qv_index_free(ix);
    qv_buf_reset(&b);
    qv_kv kv[] = {{"M", "8"}};
    qv_params p = {kv, 1};
    cr_assert_eq(
        qv_index_create(QV_INDEX_AUTOINDEX, QV_METRIC_L2, 8, &p, &ix, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK, "%s", err.msg);
    cr_assert_not_null(memmem(b.data, b.len, "M=8\n", 4));
    qv_index_free(ix);
    qv_buf_release(&b);
}

/* IVF range search probes nprobe lists, then keeps going through the next
 * closest lists until max_empty_result_buckets in a row add nothing. */
Test(types, ivf_range_search_goes_past_nprobe)
{
    tcase c = {QV_INDEX_IVF_FLAT, QV_METRIC_L2, 24, 0};
    fixture f;
    fx_build(&f, &c);
    float d[30];
    int64_t l[30];
    qv_kv kv0[] = {{"nprobe", "32"}};
    qv_params p0 = {kv0, 1};
    qv_search_args a0 = {.params = &p0};
    cr_assert_eq(qv_index_search(f.ix, 1, f.q, 30, &a0, d, l, NULL), QV_OK);
    char rs[32];
    snprintf(rs, sizeof(rs), "%.6f", d[29] + 1e-3);
    size_t got[3];
    const char *me[] = {"1", "2", "64"};
    for (int i = 0; i < 3; i++) {
        qv_kv kv[] = {{"radius", rs},
                      {"nprobe", "1"},
                      {"max_empty_result_buckets", me[i]}};
        qv_params p = {kv, 3};
        qv_search_args a = {.params = &p};
        qv_range_result r;
        qv_err err;
        cr_assert_eq(qv_index_range_search(f.ix, 1, f.q, &a, &r, &err), QV_OK,
                     "%s", err.msg);
        got[i] = r.lims[1];
        qv_range_result_release(&r);
    }
    cr_assert_leq(got[0], got[1]);
    cr_assert_leq(got[1], got[2]);
    cr_assert_eq(got[2], 30, "with a large max_empty every row in range");
    qv_kv bad[] = {{"max_empty_result_buckets", "0"}};
    qv_params pb = {bad, 1};
    qv_err err;
    cr_assert_eq(qv_index_check_search_params(QV_INDEX_IVF_FLAT, &pb, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "max_empty_result_buckets"), "%s", err.msg);
    fx_free(&f);
}

/* Explicit labels travel through IVF lists: results, filters, get_vectors
 * and files all speak labels, not row numbers. */
Test(types, ivf_keeps_explicit_labels)
{
    const size_t n = 600, d = 8;
    float *x = ixt_data(n, d, 51);
    int64_t *labels = malloc(n * sizeof(int64_t));
    for (size_t i = 0; i < n; i++)
        labels[i] = 5000 + 3 * (int64_t)i;
    qv_kv kv[] = {{"nlist", "8"}};
    qv_params p = {kv, 1};
    qv_index *ix, *ld;
    qv_err err;
    cr_assert_eq(
        qv_index_create(QV_INDEX_IVF_FLAT, QV_METRIC_L2, d, &p, &ix, &err),
        QV_OK);
    cr_assert_eq(qv_index_train(ix, n, x, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, n, x, labels, &err), QV_OK, "%s", err.msg);
    qv_kv sk[] = {{"nprobe", "8"}};
    qv_params sp = {sk, 1};
    qv_search_args a = {.params = &sp};
    float dist[2];
    int64_t lab[2];
    cr_assert_eq(qv_index_search(ix, 1, x + 77 * d, 2, &a, dist, lab, NULL),
                 QV_OK);
    cr_assert_eq(lab[0], 5000 + 3 * 77);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, 8000), QV_OK);
    qv_bitset_set(&f, 5000 + 3 * 77);
    a.filter = &f;
    cr_assert_eq(qv_index_search(ix, 1, x + 77 * d, 2, &a, dist, lab, NULL),
                 QV_OK);
    cr_assert_neq(lab[0], 5000 + 3 * 77);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK);
    cr_assert_eq(qv_index_load(b.data, b.len, &ld, &err), QV_OK, "%s", err.msg);
    int64_t want[3] = {5000 + 3 * 599, 5000, 5000 + 3 * 599};
    float v[3 * 8];
    cr_assert_eq(qv_index_get_vectors(ld, 3, want, v, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(memcmp(v, x + 599 * d, d * sizeof(float)), 0);
    cr_assert_eq(memcmp(v + d, x, d * sizeof(float)), 0);
    cr_assert_eq(memcmp(v + 2 * d, x + 599 * d, d * sizeof(float)), 0);
    want[1] = 5001;
    cr_assert_eq(qv_index_get_vectors(ld, 3, want, v, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "5001"), "%s", err.msg);
    qv_index_free(ld);
    qv_buf_release(&b);
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(labels);
    free(x);
}
