/* Tests of the HNSW index on small generated data: recall against a naive
 * exact loop for every float metric, filters (graph walk and exact scan),
 * range search, get_vectors, custom labels, files (round trip, corruption,
 * forged graphs), parameter validation, determinism and concurrent search.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/pool.h"
#include "index/index_impl.h"
#include "../index/ixtest.h"

#define N  2000
#define D  24
#define NQ 50
#define K  10

static qv_index *build_p(qv_metric m, const float *x, size_t n, const char *mm,
                         const char *efc, const char *thr,
                         const int64_t *labels)
{
    qv_kv kv[3] = {
        {"M", mm}, {"efConstruction", efc}, {"num_build_thread", thr}};
    qv_params p = {kv, 3};
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(QV_INDEX_HNSW, m, D, &p, &ix, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, n, x, labels, &err), QV_OK, "%s", err.msg);
    return ix;
}

static qv_index *build(qv_metric m, const float *x, size_t n)
{
    return build_p(m, x, n, "12", "100", "2", NULL);
}

static void search(const qv_index *ix, const float *q, size_t nq, size_t k,
                   const char *ef, const char *mode, const qv_bitset *f,
                   qv_pool *pool, float *dist, int64_t *lab)
{
    qv_kv kv[2] = {{"ef", ef}, {"hnsw_filter_mode", mode}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p, .filter = f, .pool = pool};
    qv_err err;
    cr_assert_eq(qv_index_search(ix, nq, q, k, &a, dist, lab, &err), QV_OK,
                 "%s", err.msg);
}

/* Recall@K of the index against the naive loop, plus sortedness and
 * distance checks of every returned row. */
static double recall_vs_naive(const qv_index *ix, qv_metric m, const float *x,
                              const float *q, const char *ef, const char *mode,
                              const qv_bitset *f)
{
    float dist[NQ * K];
    int64_t lab[NQ * K], truth[NQ * K];
    double td[K];
    search(ix, q, NQ, K, ef, mode, f, NULL, dist, lab);
    bool larger = qv_metric_larger_is_closer(m);
    for (size_t i = 0; i < NQ; i++) {
        ixt_naive(m, x, N, D, q + i * D, K, f, truth + i * K, td);
        for (size_t j = 0; j < K; j++) {
            int64_t l = lab[i * K + j];
            if (l < 0)
                continue;
            cr_assert(l < N);
            if (f)
                cr_assert(!qv_bitset_test(f, (size_t)l),
                          "excluded row %lld returned", (long long)l);
            double want = ixt_dist(m, x + l * D, q + i * D, D);
            cr_assert_float_eq(dist[i * K + j], want, 1e-3 * (fabs(want) + 1));
            if (j > 0) {
                float a = dist[i * K + j - 1], b = dist[i * K + j];
                cr_assert(larger ? a >= b : a <= b, "results not sorted");
            }
        }
    }
    return ixt_recall(lab, truth, NQ, K);
}

static void recall_for(qv_metric m)
{
    float *x = ixt_data(N, D, 1);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 2);
    qv_index *ix = build(m, x, N);
    cr_assert_eq(qv_index_ntotal(ix), N);
    double r = recall_vs_naive(ix, m, x, q, "64", "0", NULL);
    cr_assert(r >= 0.95, "recall %f", r);
    double lo = recall_vs_naive(ix, m, x, q, "10", "0", NULL);
    cr_assert(lo <= r + 1e-9, "recall must not fall as ef grows");
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(index_hnsw, recall_l2)
{
    recall_for(QV_METRIC_L2);
}

Test(index_hnsw, recall_ip)
{
    recall_for(QV_METRIC_IP);
}

Test(index_hnsw, recall_cosine)
{
    recall_for(QV_METRIC_COSINE);
}

static qv_bitset random_filter(double keep, uint64_t seed)
{
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, N), QV_OK);
    uint64_t s = seed;
    for (size_t i = 0; i < N; i++)
        if ((double)ixt_rand(&s) / 4294967296.0 >= keep)
            qv_bitset_set(&f, i);
    return f;
}

Test(index_hnsw, filtered_graph_walk_returns_only_allowed_rows)
{
    float *x = ixt_data(N, D, 3);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 4);
    qv_index *ix = build(QV_METRIC_L2, x, N);
    qv_bitset f = random_filter(0.3, 5);
    double r = recall_vs_naive(ix, QV_METRIC_L2, x, q, "64", "1", &f);
    cr_assert(r >= 0.9, "filtered graph recall %f", r);
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(index_hnsw, filtered_exact_scan_is_exact)
{
    float *x = ixt_data(N, D, 6);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 7);
    qv_index *ix = build(QV_METRIC_IP, x, N);
    qv_bitset f = random_filter(0.02, 8); /* ~40 rows */
    cr_assert_eq(recall_vs_naive(ix, QV_METRIC_IP, x, q, "16", "2", &f), 1.0);
    /* The automatic rule picks the exact scan for so few rows. */
    cr_assert_eq(recall_vs_naive(ix, QV_METRIC_IP, x, q, "16", "0", &f), 1.0);
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(index_hnsw, filter_excluding_everything_pads_results)
{
    float *x = ixt_data(N, D, 9);
    qv_index *ix = build(QV_METRIC_L2, x, N);
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, N), QV_OK);
    qv_bitset_set_all(&f);
    float dist[K];
    int64_t lab[K];
    for (int mode = 0; mode <= 2; mode++) {
        char ms[4];
        snprintf(ms, sizeof(ms), "%d", mode);
        search(ix, x, 1, K, "20", ms, &f, NULL, dist, lab);
        for (size_t j = 0; j < K; j++) {
            cr_assert_eq(lab[j], -1);
            cr_assert(isinf(dist[j]) && dist[j] > 0);
        }
    }
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(x);
}

Test(index_hnsw, finds_itself_and_pads_beyond_ntotal)
{
    float *x = ixt_data(30, D, 10);
    qv_index *ix = build(QV_METRIC_L2, x, 30);
    float dist[40];
    int64_t lab[40];
    search(ix, x + 7 * D, 1, 40, "40", "0", NULL, NULL, dist, lab);
    cr_assert_eq(lab[0], 7);
    cr_assert_float_eq(dist[0], 0.0f, 1e-4);
    for (size_t j = 0; j < 30; j++)
        cr_assert(lab[j] >= 0);
    for (size_t j = 30; j < 40; j++)
        cr_assert_eq(lab[j], -1);
    qv_index_free(ix);
    free(x);
}

Test(index_hnsw, empty_index_returns_no_rows)
{
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_HNSW, QV_METRIC_L2, D, NULL, &ix, NULL),
        QV_OK);
    float q[D] = {0};
    float dist[K];
    int64_t lab[K];
    search(ix, q, 1, K, "16", "0", NULL, NULL, dist, lab);
    cr_assert_eq(lab[0], -1);
    qv_index_free(ix);
}

Test(index_hnsw, incremental_adds_keep_recall)
{
    float *x = ixt_data(N, D, 11);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 12);
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_HNSW, QV_METRIC_L2, D, NULL, &ix, NULL),
        QV_OK);
    for (size_t b = 0; b < N; b += 500)
        cr_assert_eq(qv_index_add(ix, 500, x + b * D, NULL, NULL), QV_OK);
    cr_assert_eq(qv_index_ntotal(ix), N);
    double r = recall_vs_naive(ix, QV_METRIC_L2, x, q, "64", "0", NULL);
    cr_assert(r >= 0.95, "recall %f", r);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(index_hnsw, custom_labels_search_filter_and_get_vectors)
{
    float *x = ixt_data(N, D, 13);
    int64_t *labels = malloc(N * sizeof(int64_t));
    for (size_t i = 0; i < N; i++)
        labels[i] = (int64_t)(3 * i + 1000);
    qv_index *ix = build_p(QV_METRIC_L2, x, N, "8", "60", "1", labels);
    float dist[K];
    int64_t lab[K];
    search(ix, x + 5 * D, 1, K, "32", "0", NULL, NULL, dist, lab);
    cr_assert_eq(lab[0], labels[5]);
    /* The filter is over labels. */
    qv_bitset f;
    cr_assert_eq(qv_bitset_init(&f, 3 * N + 1000), QV_OK);
    qv_bitset_set(&f, (size_t)labels[5]);
    search(ix, x + 5 * D, 1, K, "32", "1", &f, NULL, dist, lab);
    for (size_t j = 0; j < K; j++)
        cr_assert_neq(lab[j], labels[5]);
    qv_bitset_release(&f);
    float out[2 * D];
    int64_t want[2] = {labels[9], labels[1999]};
    cr_assert_eq(qv_index_get_vectors(ix, 2, want, out, NULL), QV_OK);
    cr_assert_arr_eq(out, x + 9 * D, D * sizeof(float));
    cr_assert_arr_eq(out + D, x + 1999 * D, D * sizeof(float));
    int64_t missing = 1001;
    qv_err err;
    cr_assert_eq(qv_index_get_vectors(ix, 1, &missing, out, &err),
                 QV_E_NOT_FOUND);
    qv_index_free(ix);
    free(labels);
    free(x);
}

Test(index_hnsw, get_vectors_returns_rows)
{
    float *x = ixt_data(100, D, 14);
    qv_index *ix = build(QV_METRIC_L2, x, 100);
    int64_t want[3] = {0, 42, 99};
    float out[3 * D];
    cr_assert_eq(qv_index_get_vectors(ix, 3, want, out, NULL), QV_OK);
    for (size_t i = 0; i < 3; i++)
        cr_assert_arr_eq(out + i * D, x + want[i] * D, D * sizeof(float));
    int64_t bad = 100;
    cr_assert_eq(qv_index_get_vectors(ix, 1, &bad, out, NULL), QV_E_NOT_FOUND);
    qv_index_free(ix);
    free(x);
}

/* ---- range search ---------------------------------------------------- */

static void range_for(qv_metric m, double radius, bool with_filter,
                      const char *mode, double min_recall)
{
    float *x = ixt_data(N, D, 15);
    float *q = ixt_queries(x, N, D, 10, 0.5f, 16);
    qv_index *ix = build(m, x, N);
    bool larger = qv_metric_larger_is_closer(m);
    char rs[32], fs[32];
    double rf = larger ? radius * 4 : radius / 4;
    snprintf(rs, sizeof(rs), "%g", radius);
    snprintf(fs, sizeof(fs), "%g", rf);
    qv_kv kv[4] = {{"radius", rs},
                   {"range_filter", fs},
                   {"ef", "64"},
                   {"hnsw_filter_mode", mode}};
    qv_params p = {kv, 4};
    qv_bitset f = random_filter(0.5, 17);
    qv_search_args a = {.params = &p, .filter = with_filter ? &f : NULL};
    qv_range_result r;
    qv_err err;
    cr_assert_eq(qv_index_range_search(ix, 10, q, &a, &r, &err), QV_OK, "%s",
                 err.msg);
    size_t want_total = 0, found_total = 0;
    for (size_t i = 0; i < 10; i++) {
        for (size_t e = r.lims[i]; e < r.lims[i + 1]; e++) {
            int64_t l = r.labels[e];
            double d = ixt_dist(m, x + l * D, q + i * D, D);
            cr_assert_float_eq(r.distances[e], d, 1e-3 * (fabs(d) + 1));
            if (larger)
                cr_assert(r.distances[e] > radius && r.distances[e] <= rf);
            else
                cr_assert(r.distances[e] < radius && r.distances[e] >= rf);
            if (with_filter)
                cr_assert(!qv_bitset_test(&f, (size_t)l));
        }
        for (size_t row = 0; row < N; row++) {
            if (with_filter && qv_bitset_test(&f, row))
                continue;
            double d = ixt_dist(m, x + row * D, q + i * D, D);
            if (larger ? (d > radius && d <= rf) : (d < radius && d >= rf))
                want_total++;
        }
        found_total += r.lims[i + 1] - r.lims[i];
    }
    cr_assert(want_total > 20, "test radius too small (%zu)", want_total);
    cr_assert(found_total <= want_total);
    cr_assert(found_total >= min_recall * want_total, "range recall %zu / %zu",
              found_total, want_total);
    qv_range_result_release(&r);
    qv_bitset_release(&f);
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(index_hnsw, range_search_l2_graph_walk)
{
    range_for(QV_METRIC_L2, 6.0, false, "1", 0.9);
    range_for(QV_METRIC_L2, 6.0, true, "1", 0.9);
}

Test(index_hnsw, range_search_auto_and_exact)
{
    /* Large IP ranges: the automatic plan scans, so it is exact. */
    range_for(QV_METRIC_IP, 12.0, true, "0", 1.0);
    range_for(QV_METRIC_L2, 6.0, true, "2", 1.0);
    range_for(QV_METRIC_COSINE, 0.8, false, "0", 0.9);
}

/* ---- params ----------------------------------------------------------- */

static void bad_build(const char *key, const char *value, const char *needle)
{
    qv_kv kv[1] = {{key, value}};
    qv_params p = {kv, 1};
    qv_index *ix = NULL;
    qv_err err;
    cr_assert_eq(qv_index_create(QV_INDEX_HNSW, QV_METRIC_L2, D, &p, &ix, &err),
                 QV_E_INVALID, "%s=%s accepted", key, value);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg,
              needle);
}

Test(index_hnsw, build_params_are_validated)
{
    bad_build("M", "1", "M must be an integer in [2, 2048]");
    bad_build("M", "2049", "M");
    bad_build("M", "x", "M");
    bad_build("efConstruction", "0", "efConstruction");
    bad_build("efConstruction", "-5", "efConstruction");
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_HNSW, QV_METRIC_HAMMING, 64, NULL, &ix, NULL),
        QV_E_INVALID);
}

Test(index_hnsw, search_params_are_validated)
{
    float *x = ixt_data(100, D, 18);
    qv_index *ix = build(QV_METRIC_L2, x, 100);
    float dist[K];
    int64_t lab[K];
    qv_err err;
    const char *bad[][2] = {{"ef", "0"},
                            {"ef", "abc"},
                            {"ef", "5"}, /* < topk */
                            {"hnsw_filter_mode", "3"}};
    for (size_t i = 0; i < 4; i++) {
        qv_kv kv[1] = {{bad[i][0], bad[i][1]}};
        qv_params p = {kv, 1};
        qv_search_args a = {.params = &p};
        cr_assert_eq(qv_index_search(ix, 1, x, K, &a, dist, lab, &err),
                     QV_E_INVALID, "%s=%s accepted", bad[i][0], bad[i][1]);
        cr_assert(strstr(err.msg, bad[i][0]), "%s", err.msg);
    }
    qv_kv ok[1] = {{"ef", "10"}};
    qv_params p = {ok, 1};
    cr_assert_eq(qv_index_check_search_params(QV_INDEX_HNSW, &p, NULL), QV_OK);
    qv_kv no[1] = {{"ef", "-1"}};
    p.kv = no;
    cr_assert_eq(qv_index_check_search_params(QV_INDEX_HNSW, &p, NULL),
                 QV_E_INVALID);
    qv_index_free(ix);
    free(x);
}

Test(index_hnsw, autoindex_is_hnsw_with_milvus_defaults)
{
    qv_index *ix;
    cr_assert_eq(qv_index_create(QV_INDEX_AUTOINDEX, QV_METRIC_COSINE, D, NULL,
                                 &ix, NULL),
                 QV_OK);
    cr_assert_eq(qv_index_type_of(ix), QV_INDEX_HNSW);
    cr_assert(strstr(ix->params_text, "M=18\n"));
    cr_assert(strstr(ix->params_text, "efConstruction=240\n"));
    qv_index_free(ix);
}

/* ---- files and determinism ------------------------------------------- */

static void *serialize(const qv_index *ix, size_t *len)
{
    qv_buf b = QV_BUF_INIT;
    qv_err err;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK, "%s", err.msg);
    void *out = qv_try_aligned_alloc(b.len, 1);
    memcpy(out, b.data, b.len);
    *len = b.len;
    qv_buf_release(&b);
    return out;
}

Test(index_hnsw, build_is_deterministic_for_any_thread_count)
{
    float *x = ixt_data(N, D, 19);
    qv_index *a = build_p(QV_METRIC_L2, x, N, "10", "80", "1", NULL);
    qv_index *b = build_p(QV_METRIC_L2, x, N, "10", "80", "2", NULL);
    qv_index *c = build_p(QV_METRIC_L2, x, N, "10", "80", "3", NULL);
    size_t la, lb, lc;
    void *fa = serialize(a, &la), *fb = serialize(b, &lb),
         *fc = serialize(c, &lc);
    cr_assert_eq(la, lb);
    cr_assert_eq(la, lc);
    cr_assert(memcmp(fa, fb, la) == 0, "1 vs 2 threads differ");
    cr_assert(memcmp(fa, fc, la) == 0, "1 vs 3 threads differ");
    /* Another seed gives another graph. */
    qv_kv kv[2] = {{"M", "10"}, {"seed", "7"}};
    qv_params p = {kv, 2};
    qv_index *d;
    cr_assert_eq(qv_index_create(QV_INDEX_HNSW, QV_METRIC_L2, D, &p, &d, NULL),
                 QV_OK);
    cr_assert_eq(qv_index_add(d, N, x, NULL, NULL), QV_OK);
    size_t ld;
    void *fd = serialize(d, &ld);
    cr_assert(ld != la || memcmp(fa, fd, la) != 0);
    qv_aligned_free(fa);
    qv_aligned_free(fb);
    qv_aligned_free(fc);
    qv_aligned_free(fd);
    qv_index_free(a);
    qv_index_free(b);
    qv_index_free(c);
    qv_index_free(d);
    free(x);
}

static void round_trip(const int64_t *labels)
{
    float *x = ixt_data(N, D, 20);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 21);
    qv_index *ix = build_p(QV_METRIC_COSINE, x, N, "12", "100", "2", labels);
    size_t len;
    void *file = serialize(ix, &len);
    qv_index *lo;
    qv_err err;
    cr_assert_eq(qv_index_load(file, len, &lo, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_ntotal(lo), N);
    cr_assert_eq(qv_index_metric(lo), QV_METRIC_COSINE);
    cr_assert(qv_index_memory_size(lo) < qv_index_memory_size(ix) / 10,
              "a loaded index must not copy its arrays");
    float d1[NQ * K], d2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K];
    qv_bitset f = random_filter(0.4, 22);
    for (int filt = 0; filt < 2; filt++) {
        search(ix, q, NQ, K, "40", "0", filt ? &f : NULL, NULL, d1, l1);
        search(lo, q, NQ, K, "40", "0", filt ? &f : NULL, NULL, d2, l2);
        cr_assert_arr_eq(l1, l2, sizeof(l1));
        cr_assert_arr_eq(d1, d2, sizeof(d1));
    }
    float v[D];
    int64_t want = labels ? labels[3] : 3;
    cr_assert_eq(qv_index_get_vectors(lo, 1, &want, v, NULL), QV_OK);
    cr_assert_eq(qv_index_add(lo, 1, x, NULL, &err), QV_E_UNSUPPORTED);
    qv_bitset_release(&f);
    qv_index_free(lo);
    qv_index_free(ix);
    qv_aligned_free(file);
    free(x);
    free(q);
}

Test(index_hnsw, serialize_load_gives_identical_results)
{
    round_trip(NULL);
}

Test(index_hnsw, serialize_load_keeps_custom_labels)
{
    int64_t *labels = malloc(N * sizeof(int64_t));
    for (size_t i = 0; i < N; i++)
        labels[i] = (int64_t)(N - i) * 5;
    round_trip(labels);
    free(labels);
}

/* Finds the offset of section tag in a serialized index. */
static size_t section_of(const uint8_t *f, uint32_t tag, size_t *slen)
{
    uint32_t nsec;
    memcpy(&nsec, f + 40, 4);
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = f + 64 + i * 24;
        uint32_t t;
        uint64_t off, len;
        memcpy(&t, e, 4);
        memcpy(&off, e + 8, 8);
        memcpy(&len, e + 16, 8);
        if (t == tag) {
            *slen = (size_t)len;
            return (size_t)off;
        }
    }
    cr_assert_fail("section not found");
    return 0;
}

/* Rewrites the checksum so that only our own validation can object. */
static void reseal(uint8_t *f, size_t len)
{
    uint32_t crc = qv_crc32c(0, f, len - 8);
    memcpy(f + len - 8, &crc, 4);
}

Test(index_hnsw, damaged_files_are_rejected)
{
    float *x = ixt_data(300, D, 23);
    qv_index *ix = build(QV_METRIC_L2, x, 300);
    size_t len;
    uint8_t *file = serialize(ix, &len);
    uint8_t *copy = qv_try_aligned_alloc(len, 1);
    qv_index *lo = NULL;
    qv_err err;
    /* Truncated and bit-flipped files fail the common checks. */
    memcpy(copy, file, len);
    cr_assert_eq(qv_code_primary(qv_index_load(copy, len - 100, &lo, &err)),
                 QV_E_CORRUPT);
    copy[len / 2] ^= 0x40;
    cr_assert_eq(qv_code_primary(qv_index_load(copy, len, &lo, &err)),
                 QV_E_CORRUPT);
    /* Forged graphs with a valid checksum fail the graph validation. */
    size_t sl;
    size_t off = section_of(file, QV_FOURCC('H', 'L', 'K', '0'), &sl);
    uint32_t bad_id = 300, bad_cnt = 1000;
    memcpy(copy, file, len);
    memcpy(copy + off + 4, &bad_id, 4);
    reseal(copy, len);
    cr_assert_eq(qv_index_load(copy, len, &lo, &err), QV_E_CORRUPT);
    cr_assert(strstr(err.msg, "links to bad node"), "%s", err.msg);
    memcpy(copy, file, len);
    memcpy(copy + off, &bad_cnt, 4);
    reseal(copy, len);
    cr_assert_eq(qv_index_load(copy, len, &lo, &err), QV_E_CORRUPT);
    off = section_of(file, QV_FOURCC('H', 'L', 'V', 'L'), &sl);
    memcpy(copy, file, len);
    copy[off + 17] = 60;
    reseal(copy, len);
    cr_assert_eq(qv_index_load(copy, len, &lo, &err), QV_E_CORRUPT);
    off = section_of(file, QV_FOURCC('H', 'N', 'S', 'M'), &sl);
    memcpy(copy, file, len);
    copy[off + 8] = 13; /* M differs from the params */
    reseal(copy, len);
    cr_assert_eq(qv_index_load(copy, len, &lo, &err), QV_E_CORRUPT);
    /* The untouched file still loads. */
    memcpy(copy, file, len);
    cr_assert_eq(qv_index_load(copy, len, &lo, &err), QV_OK, "%s", err.msg);
    qv_index_free(lo);
    qv_aligned_free(copy);
    qv_aligned_free(file);
    qv_index_free(ix);
    free(x);
}

/* ---- concurrency ------------------------------------------------------ */

typedef struct conc_arg {
    const qv_index *ix;
    const float *q;
    const int64_t *want;
    int bad;
} conc_arg;

static void conc_search(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    conc_arg *c = arg;
    for (size_t i = b; i < e; i++) {
        float dist[NQ * K];
        int64_t lab[NQ * K];
        qv_kv kv[1] = {{"ef", "48"}};
        qv_params p = {kv, 1};
        qv_search_args a = {.params = &p};
        if (qv_index_search(c->ix, NQ, c->q, K, &a, dist, lab, NULL) ||
            memcmp(lab, c->want, sizeof(lab)) != 0)
            __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
    }
}

Test(index_hnsw, concurrent_searches_agree)
{
    float *x = ixt_data(N, D, 24);
    float *q = ixt_queries(x, N, D, NQ, 0.5f, 25);
    qv_index *ix = build(QV_METRIC_L2, x, N);
    float dist[NQ * K];
    int64_t want[NQ * K], got[NQ * K];
    search(ix, q, NQ, K, "48", "0", NULL, NULL, dist, want);
    qv_pool *pool;
    cr_assert_eq(qv_pool_create(3, 64, "t", &pool, NULL), QV_OK);
    /* One batch split over the pool. */
    search(ix, q, NQ, K, "48", "0", NULL, pool, dist, got);
    cr_assert_arr_eq(got, want, sizeof(got));
    /* Many independent searches at once. */
    conc_arg c = {.ix = ix, .q = q, .want = want};
    qv_pool_parallel_for(pool, 16, 1, conc_search, &c);
    cr_assert_eq(c.bad, 0);
    qv_pool_destroy(pool);
    qv_index_free(ix);
    free(x);
    free(q);
}
