/* Tests of FLAT (the oracle): exactness against a naive loop on every
 * float metric and on every plan (kernels, BLAS batches, filter gather),
 * filters, range search, get_vectors, files and errors. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/pool.h"
#include "ixtest.h"

#define N 3000
#define D 37

static qv_index *build(qv_metric m, const float *x, size_t n)
{
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(QV_INDEX_FLAT, m, D, NULL, &ix, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, n, x, NULL, &err), QV_OK, "%s", err.msg);
    return ix;
}

/* Checks nq queries against the naive loop: same distances, and labels
 * equal wherever the naive distances are not tied. */
static void check_exact(qv_index *ix, qv_metric m, const float *x,
                        const float *q, size_t nq, size_t k,
                        const qv_bitset *filter, qv_pool *pool)
{
    float *dist = malloc(nq * k * sizeof(float));
    int64_t *lab = malloc(nq * k * sizeof(int64_t));
    int64_t *tl = malloc(k * sizeof(int64_t));
    double *td = malloc(k * sizeof(double));
    qv_search_args a = {.filter = filter, .pool = pool};
    qv_err err;
    cr_assert_eq(qv_index_search(ix, nq, q, k, &a, dist, lab, &err), QV_OK,
                 "%s", err.msg);
    for (size_t i = 0; i < nq; i++) {
        ixt_naive(m, x, N, D, q + i * D, k, filter, tl, td);
        for (size_t j = 0; j < k; j++) {
            double tol = 1e-3 * (fabs(td[j]) + 1);
            if (tl[j] < 0) {
                cr_assert_eq(lab[i * k + j], -1);
                continue;
            }
            cr_assert_float_eq(dist[i * k + j], td[j], tol,
                               "q %zu rank %zu: %f vs %f", i, j,
                               dist[i * k + j], td[j]);
            if (filter)
                cr_assert(!qv_bitset_test(filter, lab[i * k + j]));
        }
        cr_assert(ixt_recall(lab + i * k, tl, 1, k) >= 0.9);
    }
    free(dist);
    free(lab);
    free(tl);
    free(td);
}

static void exact_for(qv_metric m)
{
    float *x = ixt_data(N, D, 1), *q = ixt_queries(x, N, D, 60, 0.5f, 2);
    qv_index *ix = build(m, x, N);
    qv_pool *pool;
    cr_assert_eq(qv_pool_create(2, 64, "t", &pool, NULL), QV_OK);
    check_exact(ix, m, x, q, 3, 10, NULL, NULL);  /* kernel plan */
    check_exact(ix, m, x, q, 60, 10, NULL, pool); /* BLAS plan */
    check_exact(ix, m, x, q, 60, 1, NULL, NULL);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, N), QV_OK);
    for (size_t i = 0; i < N; i++)
        if (i % 3)
            qv_bitset_set(&f, i);
    check_exact(ix, m, x, q, 60, 10, &f, pool); /* filtered BLAS */
    check_exact(ix, m, x, q, 5, 10, &f, pool);  /* kernels, gather */
    qv_bitset_clear_all(&f);
    for (size_t i = 0; i < N; i += 20)
        qv_bitset_set(&f, i);
    check_exact(ix, m, x, q, 5, 10, &f, pool); /* kernels, 95 % pass */
    qv_bitset_set_all(&f);
    for (size_t i = 0; i < N; i += 101)
        qv_bitset_clear(&f, i);
    check_exact(ix, m, x, q, 60, 50, &f, pool); /* gather: 30 pass */
    qv_bitset_release(&f);
    qv_pool_destroy(pool);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(flat, l2_matches_naive_on_every_plan)
{
    exact_for(QV_METRIC_L2);
}
Test(flat, ip_matches_naive_on_every_plan)
{
    exact_for(QV_METRIC_IP);
}
Test(flat, cosine_matches_naive_on_every_plan)
{
    exact_for(QV_METRIC_COSINE);
}

Test(flat, pads_with_minus_one_when_fewer_rows_qualify)
{
    float *x = ixt_data(5, D, 3);
    qv_index *ix = build(QV_METRIC_L2, x, 5);
    float dist[8];
    int64_t lab[8];
    cr_assert_eq(qv_index_search(ix, 1, x, 8, NULL, dist, lab, NULL), QV_OK);
    cr_assert_eq(lab[0], 0);
    cr_assert_float_eq(dist[0], 0.0f, 1e-4);
    cr_assert_eq(lab[5], -1);
    cr_assert(isinf(dist[7]));
    qv_index_free(ix);
    free(x);
}

Test(flat, explicit_labels_are_returned_and_filtered)
{
    float *x = ixt_data(100, D, 4);
    int64_t labels[100];
    for (int i = 0; i < 100; i++)
        labels[i] = 1000 + 2 * i;
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, D, NULL, &ix, NULL),
        QV_OK);
    cr_assert_eq(qv_index_add(ix, 100, x, labels, NULL), QV_OK);
    float dist[3];
    int64_t lab[3];
    cr_assert_eq(qv_index_search(ix, 1, x + 7 * D, 3, NULL, dist, lab, NULL),
                 QV_OK);
    cr_assert_eq(lab[0], 1014);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, 2000), QV_OK);
    qv_bitset_set(&f, 1014);
    qv_search_args a = {.filter = &f};
    cr_assert_eq(qv_index_search(ix, 1, x + 7 * D, 3, &a, dist, lab, NULL),
                 QV_OK);
    cr_assert_neq(lab[0], 1014);
    float v[D];
    int64_t want = 1014;
    cr_assert_eq(qv_index_get_vectors(ix, 1, &want, v, NULL), QV_OK);
    cr_assert_eq(memcmp(v, x + 7 * D, sizeof(v)), 0);
    want = 1015;
    cr_assert_eq(qv_index_get_vectors(ix, 1, &want, v, NULL), QV_E_NOT_FOUND);
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(x);
}

static void range_for(qv_metric m, double radius, double rf)
{
    float *x = ixt_data(N, D, 5), *q = ixt_queries(x, N, D, 4, 0.5f, 6);
    qv_index *ix = build(m, x, N);
    char rs[32], fs[32];
    snprintf(rs, sizeof(rs), "%g", radius);
    snprintf(fs, sizeof(fs), "%g", rf);
    qv_kv kv[] = {{"radius", rs}, {"range_filter", fs}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p};
    qv_range_result r;
    qv_err err;
    cr_assert_eq(qv_index_range_search(ix, 4, q, &a, &r, &err), QV_OK, "%s",
                 err.msg);
    size_t total = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t want_lo = 0, want_hi = 0; /* rows near a bound may go
                                             either way in float32 */
        for (size_t row = 0; row < N; row++) {
            double v = ixt_dist(m, x + row * D, q + i * D, D);
            bool in = m == QV_METRIC_L2 ? (v >= rf && v < radius)
                                        : (v > radius && v <= rf);
            bool near = fabs(v - radius) < 1e-4 * (fabs(v) + 1) ||
                        fabs(v - rf) < 1e-4 * (fabs(v) + 1);
            want_lo += in && !near;
            want_hi += in || near;
        }
        size_t got = r.lims[i + 1] - r.lims[i];
        cr_assert(got >= want_lo && got <= want_hi, "query %zu: %zu vs %zu", i,
                  got, want_lo);
        for (size_t j = r.lims[i]; j < r.lims[i + 1]; j++) {
            double v = ixt_dist(m, x + r.labels[j] * D, q + i * D, D);
            cr_assert_float_eq(r.distances[j], v, 1e-3 * (fabs(v) + 1));
            if (j > r.lims[i])
                cr_assert(m == QV_METRIC_L2
                              ? r.distances[j] >= r.distances[j - 1]
                              : r.distances[j] <= r.distances[j - 1]);
        }
        total += got;
    }
    cr_assert_gt(total, 0, "range search found nothing: vacuous test");
    qv_range_result_release(&r);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(flat, range_search_l2_matches_brute_force)
{
    range_for(QV_METRIC_L2, 40.0, 10.0);
}
Test(flat, range_search_ip_matches_brute_force)
{
    range_for(QV_METRIC_IP, 5.0, 40.0);
}
Test(flat, range_search_cosine_matches_brute_force)
{
    range_for(QV_METRIC_COSINE, 0.6, 0.95);
}

Test(flat, range_filter_on_wrong_side_is_rejected)
{
    float *x = ixt_data(10, D, 5);
    qv_index *ix = build(QV_METRIC_L2, x, 10);
    qv_kv kv[] = {{"radius", "1"}, {"range_filter", "2"}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p};
    qv_range_result r;
    qv_err err;
    cr_assert_eq(qv_index_range_search(ix, 1, x, &a, &r, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "range_filter"), "%s", err.msg);
    p.n = 0;
    cr_assert_eq(qv_index_range_search(ix, 1, x, &a, &r, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "radius"), "%s", err.msg);
    qv_index_free(ix);
    free(x);
}

Test(flat, wrong_metric_dim_and_topk_are_rejected)
{
    qv_index *ix;
    qv_err err;
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_HAMMING, 64, NULL, &ix, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "HAMMING"), "%s", err.msg);
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, 0, NULL, &ix, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "dim"), "%s", err.msg);
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, 4, NULL, &ix, &err),
        QV_OK);
    float q[4] = {0}, d[1];
    int64_t l[1];
    cr_assert_eq(qv_index_search(ix, 1, q, 0, NULL, d, l, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "topk"), "%s", err.msg);
    cr_assert_eq(qv_index_search(ix, 1, q, 1, NULL, d, l, &err), QV_OK);
    cr_assert_eq(l[0], -1);
    qv_index_free(ix);
}

Test(flat, names_parse_both_ways)
{
    qv_metric m;
    qv_index_type t;
    cr_assert_eq(qv_metric_parse("cosine", &m, NULL), QV_OK);
    cr_assert_eq(m, QV_METRIC_COSINE);
    cr_assert_str_eq(qv_metric_name(QV_METRIC_JACCARD), "JACCARD");
    cr_assert_eq(qv_index_type_parse("IVF_SQ8", &t, NULL), QV_OK);
    cr_assert_eq(t, QV_INDEX_IVF_SQ8);
    cr_assert_str_eq(qv_index_type_name(QV_INDEX_BIN_IVF_FLAT), "BIN_IVF_FLAT");
    qv_err err;
    cr_assert_eq(qv_index_type_parse("DISKANNX", &t, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "DISKANNX"));
}

Test(flat, converts_float16_bfloat16_int8)
{
    /* 1.0, -2.0, 0.5, 65504, smallest subnormal */
    uint16_t h[] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001};
    float out[5];
    cr_assert_eq(qv_vec_to_float(QV_ELEM_FLOAT16, 1, 5, h, out, NULL), QV_OK);
    cr_assert_eq(out[0], 1.0f);
    cr_assert_eq(out[1], -2.0f);
    cr_assert_eq(out[2], 0.5f);
    cr_assert_eq(out[3], 65504.0f);
    cr_assert_float_eq(out[4], 5.9604645e-8f, 1e-12);
    uint16_t b[] = {0x3f80, 0xc040}; /* 1.0, -3.0 */
    cr_assert_eq(qv_vec_to_float(QV_ELEM_BFLOAT16, 2, 1, b, out, NULL), QV_OK);
    cr_assert_eq(out[0], 1.0f);
    cr_assert_eq(out[1], -3.0f);
    int8_t i8[] = {-128, 127, 0};
    cr_assert_eq(qv_vec_to_float(QV_ELEM_INT8, 1, 3, i8, out, NULL), QV_OK);
    cr_assert_eq(out[0], -128.0f);
    cr_assert_eq(out[1], 127.0f);
    cr_assert_eq(qv_vec_to_float(QV_ELEM_BINARY, 1, 3, i8, out, NULL),
                 QV_E_INVALID);
}

/* Few queries on a big index with a pool: rows are split across threads
 * and the pieces merged; results must still equal the naive loop. */
Test(flat, split_search_over_rows_matches_naive)
{
    const size_t n = 20000, d = 16, k = 7;
    float *x = ixt_data(n, d, 41), *q = ixt_queries(x, n, d, 2, 0.3f, 42);
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, d, NULL, &ix, NULL),
        QV_OK);
    cr_assert_eq(qv_index_add(ix, n, x, NULL, NULL), QV_OK);
    qv_pool *pool;
    cr_assert_eq(qv_pool_create(3, 64, "t", &pool, NULL), QV_OK);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, n), QV_OK);
    for (size_t i = 0; i < n; i += 10) /* 90 % pass: gather, then split */
        qv_bitset_set(&f, i);
    const qv_bitset *filters[] = {NULL, &f};
    for (int fi = 0; fi < 2; fi++) {
        for (size_t nq = 1; nq <= 2; nq++) {
            float dist[2 * 7];
            int64_t lab[2 * 7], tl[7];
            double td[7];
            qv_search_args a = {.pool = pool, .filter = filters[fi]};
            cr_assert_eq(qv_index_search(ix, nq, q, k, &a, dist, lab, NULL),
                         QV_OK);
            for (size_t i = 0; i < nq; i++) {
                ixt_naive(QV_METRIC_L2, x, n, d, q + i * d, k, filters[fi], tl,
                          td);
                for (size_t r = 0; r < k; r++)
                    cr_assert_float_eq(dist[i * k + r], td[r],
                                       1e-3 * (td[r] + 1), "q%zu r%zu", i, r);
                cr_assert_eq(lab[i * k], tl[0]);
            }
        }
    }
    qv_bitset_release(&f);
    qv_pool_destroy(pool);
    qv_index_free(ix);
    free(x);
    free(q);
}

/* The OpenBLAS check: with OPENBLAS_CORETYPE exported (as ctest does) the
 * loaded core suits the CPU; without it, a misdetection names the fix. */
Test(flat, openblas_core_check_names_the_fix)
{
    char msg[256] = "";
    bool ok = qv_index_blas_check(msg, sizeof(msg));
    cr_assert_neq(msg[0], '\0');
    if (getenv("OPENBLAS_CORETYPE"))
        cr_assert(ok, "%s", msg);
    if (!ok)
        cr_assert(strstr(msg, "OPENBLAS_CORETYPE="), "%s", msg);
    cr_assert(qv_index_blas_check(NULL, 0) == ok);
}
