/* Sealed segments searched through their vector index: attach while a
 * reader holds a snapshot, filters, deletes and MVCC, range search, search
 * parameters, damaged and mismatched index files, mapped segments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "querynode/query.h"
#include "si_helpers.h"

#define N  3000
#define NA 2000
#define K  10
#define NQ 8

static si_env e;

static void setup(void)
{
    si_setup(&e, N, NA, 0);
}
static void setup_mapped(void)
{
    si_setup(&e, N, NA, 1);
}
static void teardown(void)
{
    si_teardown(&e);
}

TestSuite(sidx, .init = setup, .fini = teardown);
TestSuite(sidx_mapped, .init = setup_mapped, .fini = teardown);

static float l2(const float *a, const float *b)
{
    float s = 0;
    for (int d = 0; d < SI_DIM; d++)
        s += (a[d] - b[d]) * (a[d] - b[d]);
    return s;
}

typedef int (*pred)(int64_t pk);
static int all(int64_t pk)
{
    (void)pk;
    return 1;
}
static int tag3(int64_t pk)
{
    return pk % 10 == 3;
}
static int tag_lt8(int64_t pk)
{
    return pk % 10 < 8;
}

/* The kth smallest L2 distance of the rows passing p and visible at R. */
static float kth(const float *q, qv_ts R, pred p, size_t k)
{
    float *d = qv_xmalloc(N * sizeof(float));
    size_t m = 0;
    for (size_t r = 0; r < N; r++)
        if (si_visible(&e, r, R) && p((int64_t)r + 1))
            d[m++] = l2(q, e.x + r * SI_DIM);
    float best = INFINITY;
    for (size_t i = 0; i < k && i < m; i++) { /* selection, k small */
        size_t b = i;
        for (size_t j = i + 1; j < m; j++)
            if (d[j] < d[b])
                b = j;
        float t = d[i];
        d[i] = d[b];
        d[b] = t;
        best = d[i];
    }
    free(d);
    return best;
}

static qv_search_result search(qv_shard_snap *sn, const float *qs, size_t nq,
                               size_t k, qv_ts R, const qv_expr_plan *f,
                               const qv_params *p)
{
    qv_search_req sr = {.field_id = SI_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = nq,
                        .queries = qs,
                        .topk = k,
                        .filter = f,
                        .ts = R,
                        .params = p};
    qv_search_result r;
    qv_err err;
    cr_assert_eq(qv_shard_search(sn, &sr, &r, &err), QV_OK, "%s", err.msg);
    return r;
}

static float *queries(size_t nq)
{
    float *q = qv_xmalloc(nq * SI_DIM * sizeof(float));
    uint8_t b[SI_BITS / 8];
    for (size_t j = 0; j < nq; j++)
        si_query(j, q + j * SI_DIM, b);
    return q;
}

/* Checks every hit (visible at R, passes p) and returns the recall
 * against the exact top-k (a hit counts when it is within the kth exact
 * distance). */
static double check_hits(const qv_search_result *r, const float *qs, qv_ts R,
                         pred p)
{
    size_t good = 0, want = 0;
    for (size_t q = 0; q < r->nq; q++) {
        float kd = kth(qs + q * SI_DIM, R, p, r->k);
        want += r->k;
        for (size_t j = 0; j < r->counts[q]; j++) {
            const qv_hit *h = &r->hits[q * r->k + j];
            size_t row = (size_t)h->row;
            cr_assert(si_visible(&e, row, R), "row %zu not visible at %llu",
                      row, (unsigned long long)R);
            cr_assert(p((int64_t)row + 1), "row %zu fails the filter", row);
            cr_assert_eq(h->pk.i, (int64_t)row + 1);
            good += l2(qs + q * SI_DIM, e.x + row * SI_DIM) <= kd * 1.0001f;
        }
    }
    return (double)good / (double)want;
}

static qv_seg_index *hnsw(int64_t build)
{
    qv_index *ix =
        si_build(&e, QV_INDEX_HNSW, QV_METRIC_L2, "M=16,efConstruction=80");
    qv_seg_index *x = si_store_load(&e, ix, build, SI_VEC, NULL);
    qv_index_free(ix);
    return x;
}

Test(sidx, attach_while_a_reader_holds_a_snapshot)
{
    qv_shard_snap old, cur;
    si_snap(&e, &old);
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(e.seg, hnsw(11), &err), QV_OK, "%s",
                 err.msg);
    int64_t b[2] = {0};
    cr_assert_eq(qv_sealed_index_builds(e.seg, b, 2), 1);
    cr_assert_eq(b[0], 11);
    cr_assert_null(qv_seg_snap_index(&old.snaps[0], SI_VEC),
                   "an older snapshot keeps the segment as it was");
    si_snap(&e, &cur);
    cr_assert_not_null(qv_seg_snap_index(&cur.snaps[0], SI_VEC));
    cr_assert_null(qv_seg_snap_index(&cur.snaps[0], SI_BVEC));
    float *qs = queries(NQ);
    qv_params p = si_params("ef=64");
    qv_search_result a = search(&old, qs, NQ, K, 1000, NULL, &p);
    cr_assert_eq(check_hits(&a, qs, 1000, all), 1.0, "FLAT is exact");
    /* detach while cur is held: cur still searches its index */
    cr_assert_eq(qv_sealed_index_detach(e.seg, SI_VEC), 1);
    cr_assert_eq(qv_sealed_index_builds(e.seg, b, 2), 0);
    qv_search_result c = search(&cur, qs, NQ, K, 1000, NULL, &p);
    cr_assert_not_null(qv_seg_snap_index(&cur.snaps[0], SI_VEC));
    double rc = check_hits(&c, qs, 1000, all);
    cr_assert_geq(rc, 0.9, "recall %.3f", rc);
    qv_search_result_release(&a);
    qv_search_result_release(&c);
    qv_shard_snap_release(&old);
    qv_shard_snap_release(&cur);
    free(qs);
}

static void filters_and_mvcc(qv_index_type t, const char *build,
                             const char *search_params)
{
    qv_index *ix = si_build(&e, t, QV_METRIC_L2, build);
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(
                     e.seg, si_store_load(&e, ix, 12, SI_VEC, NULL), &err),
                 QV_OK, "%s", err.msg);
    qv_index_free(ix);
    qv_shard_snap sn;
    si_snap(&e, &sn);
    cr_assert_not_null(qv_seg_snap_index(&sn.snaps[0], SI_VEC));
    float *qs = queries(NQ);
    qv_params p = si_params(search_params);
    const char *texts[] = {NULL, "tag == 3", "tag < 8"};
    pred preds[] = {all, tag3, tag_lt8};
    qv_ts Rs[] = {150, 250, 1000};
    for (size_t f = 0; f < 3; f++) {
        qv_expr_plan *pl = texts[f] ? si_filter(texts[f]) : NULL;
        for (size_t i = 0; i < 3; i++) {
            qv_search_result r = search(&sn, qs, NQ, K, Rs[i], pl, &p);
            double rec = check_hits(&r, qs, Rs[i], preds[f]);
            cr_assert_geq(rec, 0.8, "%s filter '%s' at %llu: recall %.3f",
                          qv_index_type_name(t), texts[f] ? texts[f] : "none",
                          (unsigned long long)Rs[i], rec);
            for (size_t q = 0; q < NQ; q++)
                cr_assert_eq(r.counts[q], K);
            qv_search_result_release(&r);
        }
        qv_expr_plan_free(pl);
    }
    qv_shard_snap_release(&sn);
    free(qs);
}

Test(sidx, hnsw_filters_deletes_and_older_timestamps)
{
    filters_and_mvcc(QV_INDEX_HNSW, "M=16,efConstruction=80", "ef=64");
}

Test(sidx, ivf_filters_deletes_and_older_timestamps)
{
    filters_and_mvcc(QV_INDEX_IVF_FLAT, "nlist=32", "nprobe=8");
}

/* Exact range answer over visible rows: rows with lo <= d < hi, sorted. */
static size_t exact_range(const float *q, qv_ts R, float lo, float hi,
                          size_t *rows, float *dist)
{
    size_t m = 0;
    for (size_t r = 0; r < N; r++) {
        float d = l2(q, e.x + r * SI_DIM);
        if (si_visible(&e, r, R) && d >= lo && d < hi) {
            size_t j = m++;
            while (j > 0 && dist[j - 1] > d) {
                dist[j] = dist[j - 1];
                rows[j] = rows[j - 1];
                j--;
            }
            dist[j] = d;
            rows[j] = r;
        }
    }
    return m;
}

/* radius / range_filter half-way between exact distances 30/31 and 5/6 */
static void range_bounds(const float *q, float *radius, float *rf)
{
    size_t *rows = qv_xmalloc(N * sizeof(size_t));
    float *d = qv_xmalloc(N * sizeof(float));
    size_t m = exact_range(q, 1000, 0, INFINITY, rows, d);
    cr_assert_gt(m, 40);
    *radius = (d[29] + d[30]) / 2;
    *rf = (d[4] + d[5]) / 2;
    free(rows);
    free(d);
}

static void assert_range(qv_shard_snap *sn, const float *q, float radius,
                         float rf, bool with_rf, size_t k)
{
    char js[128];
    if (with_rf)
        snprintf(js, sizeof js, "{\"radius\": %.9g, \"range_filter\": %.9g}",
                 radius, rf);
    else
        snprintf(js, sizeof js, "{\"radius\": %.9g}", radius);
    qv_search_req sr = {.field_id = SI_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = q,
                        .topk = k,
                        .ts = 1000};
    qv_params p;
    qv_err err;
    cr_assert_eq(qv_search_params_parse(js, strlen(js), &sr, &p, &err), QV_OK,
                 "%s", err.msg);
    cr_assert(sr.has_range);
    qv_search_result r;
    cr_assert_eq(qv_shard_search(sn, &sr, &r, &err), QV_OK, "%s", err.msg);
    size_t *rows = qv_xmalloc(N * sizeof(size_t));
    float *d = qv_xmalloc(N * sizeof(float));
    size_t m = exact_range(q, 1000, with_rf ? rf : 0, radius, rows, d);
    size_t want = m < k ? m : k;
    cr_assert_eq(r.counts[0], want, "%zu hits, exact %zu (k %zu)", r.counts[0],
                 m, k);
    for (size_t j = 0; j < want; j++) {
        cr_assert_eq((size_t)r.hits[j].row, rows[j], "hit %zu", j);
        cr_assert(fabsf(r.hits[j].distance - d[j]) <= 1e-3f * (1 + d[j]));
    }
    free(rows);
    free(d);
    qv_search_result_release(&r);
    qv_search_params_free(&p);
}

Test(sidx, flat_range_search_equals_the_exact_answer)
{
    float *qs = queries(3);
    qv_shard_snap before, after;
    si_snap(&e, &before);
    qv_index *ix = si_build(&e, QV_INDEX_FLAT, QV_METRIC_L2, "");
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(
                     e.seg, si_store_load(&e, ix, 13, SI_VEC, NULL), &err),
                 QV_OK, "%s", err.msg);
    qv_index_free(ix);
    si_snap(&e, &after);
    cr_assert_not_null(qv_seg_snap_index(&after.snaps[0], SI_VEC));
    for (size_t q = 0; q < 3; q++) {
        float radius, rf;
        range_bounds(qs + q * SI_DIM, &radius, &rf);
        qv_shard_snap *sns[] = {&before, &after};
        for (int s = 0; s < 2; s++) {
            assert_range(sns[s], qs + q * SI_DIM, radius, rf, false, 1000);
            assert_range(sns[s], qs + q * SI_DIM, radius, rf, true, 1000);
            assert_range(sns[s], qs + q * SI_DIM, radius, rf, true, 7);
        }
    }
    qv_shard_snap_release(&before);
    qv_shard_snap_release(&after);
    free(qs);
}

Test(sidx, search_params_parse)
{
    const char *js = "{\"ef\": 64, \"nprobe\": \"16\", \"radius\": 5.5, "
                     "\"range_filter\": 1, \"hints\": null, \"x\": [1]}";
    qv_search_req sr = {.metric = QV_METRIC_L2};
    qv_params p;
    qv_err err;
    cr_assert_eq(qv_search_params_parse(js, strlen(js), &sr, &p, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(p.n, 4);
    cr_assert_str_eq(p.kv[0].key, "ef");
    cr_assert_str_eq(p.kv[0].value, "64");
    cr_assert_str_eq(p.kv[1].value, "16");
    cr_assert(sr.has_range && sr.has_range_filter);
    cr_assert_float_eq(sr.radius, 5.5f, 1e-6);
    cr_assert_float_eq(sr.range_filter, 1.0f, 1e-6);
    cr_assert_eq(sr.params, &p);
    qv_search_params_free(&p);
    static const char *bad[] = {"[1, 2]", "{\"radius\": \"abc\"}", "{\"ef\":",
                                "{\"radius\": 1, \"range_filter\": 5}",
                                "{\"range_filter\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(
            qv_search_params_parse(bad[i], strlen(bad[i]), &sr, &p, &err),
            QV_E_INVALID, "%s", bad[i]);
    sr.metric = QV_METRIC_IP;
    const char *ip_bad = "{\"radius\": 0.5, \"range_filter\": 0.2}";
    const char *ip_ok = "{\"radius\": 0.5, \"range_filter\": 0.9}";
    cr_assert_eq(qv_search_params_parse(ip_bad, strlen(ip_bad), &sr, &p, &err),
                 QV_E_INVALID);
    cr_assert_eq(qv_search_params_parse(ip_ok, strlen(ip_ok), &sr, &p, &err),
                 QV_OK);
    qv_search_params_free(&p);
    cr_assert_eq(qv_search_params_parse("", 0, &sr, &p, &err), QV_OK);
    cr_assert(!sr.has_range && sr.params == NULL && p.n == 0);
}

Test(sidx, index_errors_reach_the_caller)
{
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(e.seg, hnsw(14), &err), QV_OK);
    qv_shard_snap sn;
    si_snap(&e, &sn);
    float *qs = queries(1);
    qv_params p = si_params("ef=5");
    qv_search_req sr = {.field_id = SI_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = qs,
                        .topk = K,
                        .ts = 1000,
                        .params = &p};
    qv_search_result r;
    cr_assert_eq(qv_shard_search(&sn, &sr, &r, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "ef"), "%s", err.msg);
    qv_shard_snap_release(&sn);
    free(qs);
}

Test(sidx, damaged_and_mismatched_index_files)
{
    qv_index *ix = si_build(&e, QV_INDEX_IVF_FLAT, QV_METRIC_L2, "nlist=16");
    qv_buf b;
    qv_buf_init(&b, QV_BUF_DEFAULT_CAP);
    qv_err err;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK);
    b.data[b.len / 2] ^= 0x40;
    const char *key = "index_files/15/1/index";
    cr_assert_eq(objstore_put(e.os, key, b.data, b.len, &err), QV_OK);
    qv_buf_release(&b);
    qv_seg_index_source src = {e.os, key, 15, 9, SI_VEC, NULL};
    qv_seg_index *x;
    qv_code rc = qv_seg_index_load(&src, &x, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%s", err.msg);
    src.key = "index_files/16/1/missing";
    cr_assert_eq(qv_code_primary(qv_seg_index_load(&src, &x, &err)),
                 QV_E_NOT_FOUND);
    /* a float index named for the binary field does not fit */
    x = si_store_load(&e, ix, 17, SI_BVEC, NULL);
    cr_assert_eq(qv_sealed_index_attach(e.seg, x, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "does not fit"), "%s", err.msg);
    cr_assert_eq(qv_sealed_index_builds(e.seg, NULL, 0), 0);
    qv_index_free(ix);
}

Test(sidx, another_metric_is_searched_exactly)
{
    qv_index *ix = si_build(&e, QV_INDEX_IVF_PQ, QV_METRIC_IP, "nlist=8,m=4");
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(
                     e.seg, si_store_load(&e, ix, 18, SI_VEC, NULL), &err),
                 QV_OK, "%s", err.msg);
    qv_index_free(ix);
    qv_shard_snap sn;
    si_snap(&e, &sn);
    float *qs = queries(NQ);
    qv_search_result r = search(&sn, qs, NQ, K, 1000, NULL, NULL);
    cr_assert_eq(check_hits(&r, qs, 1000, all), 1.0);
    qv_search_result_release(&r);
    qv_shard_snap_release(&sn);
    free(qs);
}

Test(sidx_mapped, mapped_segment_and_index_answer_output_vectors)
{
    char *cache = qv_xasprintf("%s/cache", e.dir);
    qv_index *ix =
        si_build(&e, QV_INDEX_HNSW, QV_METRIC_L2, "M=16,efConstruction=80");
    qv_seg_index *x = si_store_load(&e, ix, 19, SI_VEC, cache);
    qv_index_free(ix);
    cr_assert_eq(qv_seg_index_memory(x) < (size_t)N * SI_DIM * 4, 1,
                 "the mapped file is not counted as memory");
    qv_err err;
    cr_assert_eq(qv_sealed_index_attach(e.seg, x, &err), QV_OK, "%s", err.msg);
    qv_shard_snap sn;
    si_snap(&e, &sn);
    float *qs = queries(NQ);
    qv_params p = si_params("ef=64");
    qv_expr_plan *pl = si_filter("tag < 8");
    qv_search_result r = search(&sn, qs, NQ, K, 1000, pl, &p);
    double rec = check_hits(&r, qs, 1000, tag_lt8);
    cr_assert_geq(rec, 0.9, "recall %.3f", rec);
    size_t n = r.counts[0];
    uint32_t segs[K];
    int64_t rows[K];
    for (size_t j = 0; j < n; j++) {
        segs[j] = r.hits[j].seg;
        rows[j] = r.hits[j].row;
    }
    int64_t fid = SI_VEC;
    qv_column **cols;
    cr_assert_eq(qv_shard_gather(&sn, segs, rows, n, &fid, 1, &cols, &err),
                 QV_OK, "%s", err.msg);
    qv_col_view v = qv_column_view(cols[0]);
    for (size_t j = 0; j < n; j++)
        cr_assert(memcmp(qv_col_fixed(&v, j), e.x + rows[j] * SI_DIM,
                         SI_DIM * sizeof(float)) == 0);
    qv_column_free(cols[0]);
    free(cols);
    qv_expr_plan_free(pl);
    qv_search_result_release(&r);
    qv_shard_snap_release(&sn);
    free(qs);
    free(cache);
}

/* Grouping by tag (pk % 10): the exact answer is, per tag, its group_size
 * closest visible rows; the topk tags with the closest first rows. */
static void assert_grouped(const qv_search_result *r, const float *q,
                           size_t topk, size_t gs, bool exact)
{
    float best[10];
    size_t *rows[10];
    float *dd[10];
    size_t n[10] = {0};
    for (int t = 0; t < 10; t++) {
        rows[t] = qv_xmalloc(N * sizeof(size_t));
        dd[t] = qv_xmalloc(N * sizeof(float));
    }
    for (size_t row = 0; row < N; row++) {
        if (!si_visible(&e, row, 1000))
            continue;
        int t = (int)(((int64_t)row + 1) % 10);
        float d = l2(q, e.x + row * SI_DIM);
        size_t j = n[t]++;
        while (j > 0 && dd[t][j - 1] > d) {
            dd[t][j] = dd[t][j - 1];
            rows[t][j] = rows[t][j - 1];
            j--;
        }
        dd[t][j] = d;
        rows[t][j] = row;
    }
    for (int t = 0; t < 10; t++)
        best[t] = dd[t][0];
    int order[10];
    for (int t = 0; t < 10; t++)
        order[t] = t;
    for (int a = 0; a < 10; a++) /* tags by their closest row */
        for (int b = a + 1; b < 10; b++)
            if (best[order[b]] < best[order[a]]) {
                int x = order[a];
                order[a] = order[b];
                order[b] = x;
            }
    cr_assert_eq(r->counts[0], topk * gs);
    for (size_t g = 0; g < topk; g++)
        for (size_t j = 0; j < gs; j++) {
            const qv_hit *h = &r->hits[g * gs + j];
            int t = (int)(h->pk.i % 10);
            if (exact) {
                cr_assert_eq(t, order[g], "group %zu is tag %d, want %d", g, t,
                             order[g]);
                cr_assert_eq((size_t)h->row, rows[t][j], "group %zu hit %zu", g,
                             j);
            }
            cr_assert_eq(h->group.i, t, "the hit carries its group value");
            cr_assert_eq(t, (int)(r->hits[g * gs].pk.i % 10),
                         "hits of a group are together");
        }
    for (int t = 0; t < 10; t++) {
        free(rows[t]);
        free(dd[t]);
    }
}

Test(sidx, group_by_field)
{
    float *qs = queries(1);
    qv_shard_snap sn;
    si_snap(&e, &sn);
    qv_search_req sr = {.field_id = SI_VEC,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = qs,
                        .topk = 3,
                        .ts = 1000,
                        .group_field_id = SI_TAG,
                        .group_size = 2};
    qv_search_result r;
    qv_err err;
    cr_assert_eq(qv_shard_search(&sn, &sr, &r, &err), QV_OK, "%s", err.msg);
    assert_grouped(&r, qs, 3, 2, true); /* exact (FLAT) */
    qv_search_result_release(&r);
    qv_shard_snap_release(&sn);
    /* through HNSW, strict: full groups */
    cr_assert_eq(qv_sealed_index_attach(e.seg, hnsw(20), &err), QV_OK);
    si_snap(&e, &sn);
    const char *js = "{\"ef\": 200, \"group_by_field_id\": \"102\", "
                     "\"group_size\": \"4\", \"strict_group_size\": \"true\"}";
    qv_params p;
    sr.group_field_id = 0;
    cr_assert_eq(qv_search_params_parse(js, strlen(js), &sr, &p, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(sr.group_field_id, SI_TAG);
    cr_assert_eq(sr.group_size, 4);
    cr_assert(sr.group_strict);
    sr.topk = 5;
    cr_assert_eq(qv_shard_search(&sn, &sr, &r, &err), QV_OK, "%s", err.msg);
    assert_grouped(&r, qs, 5, 4, false);
    qv_search_result_release(&r);
    /* refused: a vector field, range search */
    sr.group_field_id = SI_VEC;
    cr_assert_eq(qv_shard_search(&sn, &sr, &r, &err), QV_E_INVALID);
    sr.group_field_id = SI_TAG;
    sr.has_range = true;
    sr.radius = 100;
    cr_assert_eq(qv_shard_search(&sn, &sr, &r, &err), QV_E_INVALID);
    qv_search_params_free(&p);
    qv_shard_snap_release(&sn);
    free(qs);
}
