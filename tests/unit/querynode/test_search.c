/* FLAT search over a shard: equality with a brute-force computation, the
 * filter and MVCC masks, merge dedupe. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "qn_helpers.h"
#include "querynode/search.h"

#define NSEG  3
#define NROWS 400 /* per segment */
#define K     10
#define NQ    5

static const qv_expr_field xfields[] = {
    {.id = QN_PK, .name = "pk", .type = QV_DT_INT64, .is_primary = true},
    {.id = QN_TAG, .name = "tag", .type = QV_DT_INT64},
    {.id = QN_NAME, .name = "name", .type = QV_DT_VARCHAR, .nullable = true},
};

static qv_expr_plan *parse(const char *text)
{
    qv_expr_schema sch = {xfields, 3};
    qv_expr_plan *p;
    qv_err err;
    cr_assert_eq(qv_expr_parse(text, strlen(text), &sch, NULL, 0, &p, &err),
                 QV_OK, "%s", err.msg);
    return p;
}

/* Rows inserted: pk = seg * NROWS + i + 1 at ts 100 + seg; every 5th pk
 * deleted at ts 200. */
static qv_shard *build(void)
{
    qv_shard *s = qn_shard();
    int64_t pks[NROWS];
    for (int g = 0; g < NSEG; g++) {
        for (int i = 0; i < NROWS; i++)
            pks[i] = g * NROWS + i + 1;
        qn_apply_insert(s, pks, NROWS, 100 + (qv_ts)g, 10 + g);
    }
    int64_t del[NSEG * NROWS / 5];
    size_t nd = 0;
    for (int64_t pk = 1; pk <= NSEG * NROWS; pk++)
        if (pk % 5 == 0)
            del[nd++] = pk;
    qn_apply_delete(s, del, nd, 200);
    return s;
}

static bool visible(int64_t pk, qv_ts R)
{
    int g = (int)((pk - 1) / NROWS);
    if (R < 100 + (qv_ts)g)
        return false;
    return !(pk % 5 == 0 && R >= 200);
}

static float dist(qv_metric m, const float *q, const float *x)
{
    float l2 = 0, ip = 0, nq = 0, nx = 0;
    for (int d = 0; d < QN_DIM; d++) {
        l2 += (q[d] - x[d]) * (q[d] - x[d]);
        ip += q[d] * x[d];
        nq += q[d] * q[d];
        nx += x[d] * x[d];
    }
    if (m == QV_METRIC_L2)
        return l2;
    if (m == QV_METRIC_IP)
        return ip;
    return ip / (sqrtf(nq) * sqrtf(nx));
}

typedef struct ref {
    float d;
    int64_t pk;
} ref;
static int g_larger;
static int ref_cmp(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->d != y->d)
        return (g_larger ? x->d < y->d : x->d > y->d) ? 1 : -1;
    return (x->pk > y->pk) - (x->pk < y->pk);
}

static void check_against_brute_force(qv_metric metric, qv_ts R,
                                      const char *filter, int tag_mod)
{
    qv_shard *s = build();
    float q[NQ * QN_DIM];
    for (int i = 0; i < NQ; i++)
        qn_vec_of(100000 + i, q + i * QN_DIM);
    qv_expr_plan *plan = filter ? parse(filter) : NULL;
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = metric,
                         .nq = NQ,
                         .queries = q,
                         .topk = K,
                         .filter = plan,
                         .ts = R};
    qv_search_result res;
    qv_err err;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, &err), QV_OK, "%s",
                 err.msg);
    g_larger = qv_metric_larger_is_closer(metric);
    ref *all = qv_xmalloc(NSEG * NROWS * sizeof *all);
    for (int qi = 0; qi < NQ; qi++) {
        size_t n = 0;
        for (int64_t pk = 1; pk <= NSEG * NROWS; pk++) {
            if (!visible(pk, R) || (tag_mod >= 0 && pk % 10 != tag_mod))
                continue;
            float x[QN_DIM];
            qn_vec_of(pk, x);
            all[n++] = (ref){dist(metric, q + qi * QN_DIM, x), pk};
        }
        qsort(all, n, sizeof *all, ref_cmp);
        size_t want = n < K ? n : K;
        cr_assert_eq(res.counts[qi], want, "query %d: %zu hits, want %zu", qi,
                     res.counts[qi], want);
        for (size_t j = 0; j < want; j++) {
            const qv_hit *h = &res.hits[qi * K + j];
            cr_assert_eq(h->pk.i, all[j].pk,
                         "query %d rank %zu: pk %lld, "
                         "want %lld",
                         qi, j, (long long)h->pk.i, (long long)all[j].pk);
            cr_assert_float_eq(h->distance, all[j].d,
                               1e-3f * (1 + fabsf(all[j].d)));
        }
    }
    free(all);
    qv_search_result_release(&res);
    qv_shard_snap_release(&snap);
    qv_expr_plan_free(plan);
    qv_shard_free(s);
}

Test(search, l2_equals_brute_force)
{
    check_against_brute_force(QV_METRIC_L2, 1000, NULL, -1);
}

Test(search, ip_equals_brute_force)
{
    check_against_brute_force(QV_METRIC_IP, 1000, NULL, -1);
}

Test(search, cosine_equals_brute_force_before_the_deletes)
{
    check_against_brute_force(QV_METRIC_COSINE, 150, NULL, -1);
}

Test(search, filtered_equals_brute_force)
{
    check_against_brute_force(QV_METRIC_L2, 1000, "tag == 3", 3);
}

Test(search, read_between_segment_timestamps_sees_only_older_rows)
{
    check_against_brute_force(QV_METRIC_L2, 101, NULL, -1);
}

Test(search, filtered_search_never_returns_excluded_rows)
{
    qv_shard *s = build();
    qv_expr_plan *plan = parse("tag in [2, 7] and pk > 100");
    float q[QN_DIM];
    qn_vec_of(5, q);
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = QV_METRIC_L2,
                         .nq = 1,
                         .queries = q,
                         .topk = 1000,
                         .filter = plan,
                         .ts = 1000};
    qv_search_result res;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, NULL), QV_OK);
    size_t eligible = 0;
    for (int64_t pk = 101; pk <= NSEG * NROWS; pk++)
        eligible += (pk % 10 == 2 || pk % 10 == 7) && visible(pk, 1000);
    cr_assert_eq(res.counts[0], eligible);
    for (size_t j = 0; j < res.counts[0]; j++) {
        int64_t pk = res.hits[j].pk.i;
        cr_assert(pk > 100 && (pk % 10 == 2 || pk % 10 == 7), "pk %lld",
                  (long long)pk);
        cr_assert(j == 0 || res.hits[j - 1].distance <= res.hits[j].distance);
    }
    qv_search_result_release(&res);
    qv_shard_snap_release(&snap);
    qv_expr_plan_free(plan);
    qv_shard_free(s);
}

Test(search, duplicate_pks_are_returned_once_newest_version)
{
    qv_shard *s = qn_shard();
    int64_t pk = 1;
    float v0[QN_DIM] = {0}, v1[QN_DIM] = {0};
    v1[0] = 5; /* the new version is farther from the query */
    qn_insert a, b;
    qn_insert_make(&a, &pk, 1, v0, 100, 1, 1);
    qn_insert_make(&b, &pk, 1, v1, 200, 2, 1);
    cr_assert_eq(qv_shard_apply(s, &a.m, NULL), QV_OK);
    cr_assert_eq(qv_shard_apply(s, &b.m, NULL), QV_OK);
    qn_insert_free(&a);
    qn_insert_free(&b);
    float q[QN_DIM] = {0};
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = QV_METRIC_L2,
                         .nq = 1,
                         .queries = q,
                         .topk = 5,
                         .ts = 300};
    qv_search_result res;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, NULL), QV_OK);
    cr_assert_eq(res.counts[0], 1);
    cr_assert_eq(res.hits[0].ts, 200);
    cr_assert_float_eq(res.hits[0].distance, 25.0f, 1e-5);
    qv_search_result_release(&res);
    req.ts = 150; /* time travel: the old version */
    cr_assert_eq(qv_shard_search(&snap, &req, &res, NULL), QV_OK);
    cr_assert_eq(res.counts[0], 1);
    cr_assert_eq(res.hits[0].ts, 100);
    cr_assert_float_eq(res.hits[0].distance, 0.0f, 1e-6);
    qv_search_result_release(&res);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(search, merge_dedupes_keys_newest_wins)
{
    qv_hit l1[3] = {{.distance = 1.0f,
                     .seg = 0,
                     .row = 0,
                     .ts = 100,
                     .pk = {QV_DT_INT64, 5, NULL, 0}},
                    {.distance = 2.0f,
                     .seg = 0,
                     .row = 1,
                     .ts = 100,
                     .pk = {QV_DT_INT64, 6, NULL, 0}},
                    {.distance = 3.0f,
                     .seg = 0,
                     .row = 2,
                     .ts = 100,
                     .pk = {QV_DT_INT64, 7, NULL, 0}}};
    qv_hit l2[2] = {{.distance = 1.5f,
                     .seg = 1,
                     .row = 0,
                     .ts = 300,
                     .pk = {QV_DT_INT64, 6, NULL, 0}},
                    {.distance = 4.0f,
                     .seg = 1,
                     .row = 1,
                     .ts = 50,
                     .pk = {QV_DT_INT64, 5, NULL, 0}}};
    const qv_hit *lists[2] = {l1, l2};
    size_t counts[2] = {3, 2};
    qv_hit out[3];
    size_t n = qv_hits_merge(lists, counts, 2, 3, false, out);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0].pk.i, 5);
    cr_assert_eq(out[0].ts, 100); /* newer than the ts-50 copy */
    cr_assert_eq(out[1].pk.i, 6);
    cr_assert_eq(out[1].ts, 300);
    cr_assert_float_eq(out[1].distance, 1.5f, 1e-6);
    cr_assert_eq(out[2].pk.i, 7);
}

Test(search, bad_requests_fail_cleanly)
{
    qv_shard *s = build();
    float q[QN_DIM] = {0};
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = QV_METRIC_HAMMING,
                         .nq = 1,
                         .queries = q,
                         .topk = 5,
                         .ts = 300};
    qv_search_result res;
    qv_err err;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, &err), QV_E_INVALID);
    req.metric = QV_METRIC_L2;
    req.topk = QV_SEARCH_MAX_TOPK + 1;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "topk") != NULL);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(search, hits_gather_into_output_columns)
{
    qv_shard *s = build();
    float q[QN_DIM];
    qn_vec_of(777, q);
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = QV_METRIC_L2,
                         .nq = 1,
                         .queries = q,
                         .topk = 25,
                         .ts = 1000};
    qv_search_result res;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, NULL), QV_OK);
    size_t n = res.counts[0];
    cr_assert_eq(n, 25);
    uint32_t seg[25];
    int64_t rows[25];
    for (size_t j = 0; j < n; j++) {
        seg[j] = res.hits[j].seg;
        rows[j] = res.hits[j].row;
    }
    int64_t fields[3] = {QN_PK, QN_VEC, QN_NAME};
    qv_column **cols;
    qv_err err;
    cr_assert_eq(qv_shard_gather(&snap, seg, rows, n, fields, 3, &cols, &err),
                 QV_OK, "%s", err.msg);
    qv_col_view pk = qv_column_view(cols[0]);
    qv_col_view vec = qv_column_view(cols[1]);
    qv_col_view name = qv_column_view(cols[2]);
    cr_assert_eq(pk.rows, n);
    for (size_t j = 0; j < n; j++) {
        int64_t p = qv_col_i64(&pk, j);
        cr_assert_eq(p, res.hits[j].pk.i);
        float want[QN_DIM];
        qn_vec_of(p, want);
        cr_assert(memcmp(qv_col_fixed(&vec, j), want, sizeof want) == 0);
        cr_assert_eq(qv_col_is_null(&name, j), p % 7 == 3);
    }
    for (int f = 0; f < 3; f++)
        qv_column_free(cols[f]);
    free(cols);
    qv_search_result_release(&res);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(search, range_search_keeps_only_the_band)
{
    qv_shard *s = build();
    float q[QN_DIM];
    qn_vec_of(4242, q);
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = QN_VEC,
                         .metric = QV_METRIC_L2,
                         .nq = 1,
                         .queries = q,
                         .topk = 5000,
                         .ts = 1000,
                         .has_range = true,
                         .has_range_filter = true,
                         .radius = 300.0f,
                         .range_filter = 200.0f};
    qv_search_result res;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, NULL), QV_OK);
    size_t want = 0;
    for (int64_t pk = 1; pk <= NSEG * NROWS; pk++) {
        float x[QN_DIM];
        qn_vec_of(pk, x);
        float d = dist(QV_METRIC_L2, q, x);
        want += visible(pk, 1000) && d >= 200.0f && d < 300.0f;
    }
    cr_assert_gt(want, 0);
    cr_assert_eq(res.counts[0], want);
    for (size_t j = 0; j < res.counts[0]; j++)
        cr_assert(res.hits[j].distance >= 200.0f &&
                  res.hits[j].distance < 300.0f);
    qv_search_result_release(&res);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

/* A shard with one sparse vector field. */
Test(search, sparse_ip_equals_brute_force)
{
    qv_field_spec f[2] = {
        {.id = 100, .name = "pk", .type = QV_DT_INT64},
        {.id = 101, .name = "sp", .type = QV_DT_SPARSE_FLOAT_VECTOR}};
    qv_shard_config cfg = {
        .collection_id = QN_COLL, .vchannel = QN_VCH, .schema = {f, 2, 100}};
    qv_shard *s;
    cr_assert_eq(qv_shard_create(&cfg, &s, NULL), QV_OK);
    qv_column *c[2], *qc;
    for (int i = 0; i < 2; i++)
        cr_assert_eq(qv_column_create(&f[i], &c[i], NULL), QV_OK);
    cr_assert_eq(qv_column_create(&f[1], &qc, NULL), QV_OK);
    /* row r: indexes r%7, r%7+3, 20 with values 1, r/10, -1 */
    for (int64_t r = 0; r < 200; r++) {
        uint32_t idx[3] = {(uint32_t)(r % 7), (uint32_t)(r % 7 + 3), 20};
        float val[3] = {1.0f, (float)r / 10.0f, -1.0f};
        uint8_t row[24];
        for (int k = 0; k < 3; k++) {
            memcpy(row + 8 * k, &idx[k], 4);
            memcpy(row + 8 * k + 4, &val[k], 4);
        }
        cr_assert_eq(qv_column_append_fixed(c[0], &r, 1), QV_OK);
        cr_assert_eq(qv_column_append_var(c[1], row, sizeof row), QV_OK);
    }
    uint8_t qrow[16];
    uint32_t qi[2] = {3, 5};
    float qvv[2] = {2.0f, 1.0f};
    for (int k = 0; k < 2; k++) {
        memcpy(qrow + 8 * k, &qi[k], 4);
        memcpy(qrow + 8 * k + 4, &qvv[k], 4);
    }
    cr_assert_eq(qv_column_append_var(qc, qrow, sizeof qrow), QV_OK);
    qv_col_view v[2];
    int64_t ids[2] = {100, 101};
    for (int i = 0; i < 2; i++) {
        qv_column_publish(c[i]);
        v[i] = qv_column_view(c[i]);
    }
    qv_column_publish(qc);
    qv_col_view qv = qv_column_view(qc);
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = 10,
                .collection_id = QN_COLL,
                .vchannel = QN_VCH,
                .partition_id = 1,
                .segment_id = 1,
                .pk_field_id = 100,
                .rows = 200,
                .nfields = 2,
                .field_ids = ids,
                .cols = v};
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &m, &err), QV_OK, "%s", err.msg);
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_search_req req = {.field_id = 101,
                         .metric = QV_METRIC_IP,
                         .nq = 1,
                         .sparse_queries = &qv,
                         .topk = 3,
                         .ts = 10};
    qv_search_result res;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, &err), QV_OK, "%s",
                 err.msg);
    /* score(r) = 2*[r%7==3 or r%7+3==3] + [r%7==5 or r%7+3==5]... computed */
    ref all[200];
    for (int64_t r = 0; r < 200; r++) {
        float sc = 0;
        uint32_t idx[3] = {(uint32_t)(r % 7), (uint32_t)(r % 7 + 3), 20};
        float val[3] = {1.0f, (float)r / 10.0f, -1.0f};
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 2; j++)
                if (idx[k] == qi[j])
                    sc += val[k] * qvv[j];
        all[r] = (ref){sc, r};
    }
    g_larger = 1;
    qsort(all, 200, sizeof *all, ref_cmp);
    cr_assert_eq(res.counts[0], 3);
    for (int j = 0; j < 3; j++) {
        cr_assert_float_eq(res.hits[j].distance, all[j].d, 1e-4);
        cr_assert_eq(res.hits[j].pk.i, all[j].pk);
    }
    qv_search_result_release(&res);
    req.metric = QV_METRIC_L2;
    cr_assert_eq(qv_shard_search(&snap, &req, &res, &err), QV_E_INVALID);
    qv_shard_snap_release(&snap);
    for (int i = 0; i < 2; i++)
        qv_column_free(c[i]);
    qv_column_free(qc);
    qv_shard_free(s);
}
