/* qn_bench -- throughput of the query node's data path on synthetic data:
 *   1. building + encoding and decoding Insert messages (dim-d float vectors,
 * Int64 PK, Int64 tag) in batches of --batch rows;
 *   2. applying them to a shard (growing segments, PK map, MVCC);
 *   3. FLAT search latency, nq = 1, top-10, without and with a filter that
 *      keeps 10% of the rows, at the newest timestamp;
 *   4. count(*) latency.
 *
 *   qn_bench [--rows N] [--dim D] [--batch B] [--queries Q]
 * Prints a table; never fails on a number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/msg/msg.h"
#include "querynode/query.h"
#include "querynode/search.h"
#include "querynode/shard.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t rows = 100000, dim = 128, batch = 1000, nqueries = 200;
static qv_field_spec fields[3] = {
    {.id = 100, .name = "pk", .type = QV_DT_INT64},
    {.id = 101, .name = "vec", .type = QV_DT_FLOAT_VECTOR},
    {.id = 102, .name = "tag", .type = QV_DT_INT64},
};

/* One encoded Insert of rows [done, done + n). */
static int make_insert(size_t done, size_t n, qv_buf *b, qv_err *err)
{
    qv_column *c[3];
    for (int f = 0; f < 3; f++)
        if (qv_column_create(&fields[f], &c[f], err))
            return -1;
    float *v = qv_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n * dim; i++)
        v[i] = frand();
    int bad = qv_column_append_fixed(c[1], v, n) != QV_OK;
    free(v);
    for (size_t i = 0; i < n && !bad; i++) {
        int64_t pk = (int64_t)(done + i), tag = pk % 10;
        bad = qv_column_append_fixed(c[0], &pk, 1) ||
              qv_column_append_fixed(c[2], &tag, 1);
    }
    qv_col_view views[3];
    int64_t ids[3] = {100, 101, 102};
    for (int f = 0; f < 3; f++) {
        qv_column_publish(c[f]);
        views[f] = qv_column_view(c[f]);
    }
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = 1000 + done,
                .collection_id = 1,
                .vchannel = "p0_1v0",
                .partition_id = 1,
                .segment_id = 1 + (int64_t)(done / 50000),
                .pk_field_id = 100,
                .rows = n,
                .nfields = 3,
                .field_ids = ids,
                .cols = views};
    bad = bad || qv_msg_encode(&m, b, err) != QV_OK;
    for (int f = 0; f < 3; f++)
        qv_column_free(c[f]);
    return bad ? -1 : 0;
}

/* Encodes, decodes and applies every batch; prints the write table. */
static int load(qv_shard *sh, qv_err *err)
{
    double t_enc = 0, t_dec = 0, t_apply = 0;
    size_t bytes = 0;
    for (size_t done = 0; done < rows; done += batch) {
        size_t n = rows - done < batch ? rows - done : batch;
        qv_buf b = QV_BUF_INIT;
        double t0 = now_s();
        if (make_insert(done, n, &b, err))
            return -1;
        double t1 = now_s();
        qv_msg d;
        if (qv_msg_decode(b.data, b.len, &d, err))
            return -1;
        double t2 = now_s();
        if (qv_shard_apply(sh, &d, err))
            return -1;
        double t3 = now_s();
        t_enc += t1 - t0;
        t_dec += t2 - t1;
        t_apply += t3 - t2;
        bytes += b.len;
        qv_msg_release(&d);
        qv_buf_release(&b);
    }
    double r = (double)rows, mb = (double)bytes / 1e6;
    printf("| step | rows/s | MB/s |\n| --- | --- | --- |\n");
    printf("| build + encode Insert (%zu rows/msg, dim %zu) | %.0f | %.0f |\n",
           batch, dim, r / t_enc, mb / t_enc);
    printf("| decode Insert | %.0f | %.0f |\n", r / t_dec, mb / t_dec);
    printf("| apply to shard | %.0f | %.0f |\n\n", r / t_apply, mb / t_apply);
    return 0;
}

/* One read of the given mode (0 search, 1 filtered search, 2 count). */
static int read_once(qv_shard *sh, int mode, const float *q,
                     const qv_expr_plan *plan, qv_err *err)
{
    qv_shard_snap snap;
    qv_shard_acquire(sh, &snap);
    int rc = 0;
    if (mode < 2) {
        qv_search_req r = {.field_id = 101,
                           .metric = QV_METRIC_L2,
                           .nq = 1,
                           .queries = q,
                           .topk = 10,
                           .filter = mode ? plan : NULL,
                           .ts = QV_TS_MAX - 1};
        qv_search_result res;
        rc = qv_shard_search(&snap, &r, &res, err) ? -1 : 0;
        if (!rc)
            qv_search_result_release(&res);
    } else {
        qv_query_req r = {.count_only = true, .ts = QV_TS_MAX - 1};
        qv_query_result res;
        rc = qv_shard_query(&snap, &r, &res, err) ? -1 : 0;
    }
    qv_shard_snap_release(&snap);
    return rc;
}

static int reads(qv_shard *sh, qv_err *err)
{
    qv_expr_field xf[2] = {
        {.id = 100, .name = "pk", .type = QV_DT_INT64, .is_primary = true},
        {.id = 102, .name = "tag", .type = QV_DT_INT64}};
    qv_expr_schema xs = {xf, 2};
    qv_expr_plan *plan;
    if (qv_expr_parse("tag == 3", 8, &xs, NULL, 0, &plan, err))
        return -1;
    float *q = qv_xmalloc(dim * sizeof(float));
    double *lat = qv_xmalloc(nqueries * sizeof(double));
    printf("| read (%zu rows, 1 thread) | p50 ms | p99 ms | QPS |\n"
           "| --- | --- | --- | --- |\n",
           rows);
    static const char *name[3] = {"search top-10", "search top-10, tag == 3",
                                  "count(*)"};
    int rc = 0;
    for (int mode = 0; mode < 3 && !rc; mode++) {
        double total = 0;
        for (size_t i = 0; i < nqueries && !rc; i++) {
            for (size_t j = 0; j < dim; j++)
                q[j] = frand();
            double t0 = now_s();
            rc = read_once(sh, mode, q, plan, err);
            lat[i] = (now_s() - t0) * 1e3;
            total += lat[i];
        }
        qsort(lat, nqueries, sizeof *lat, cmp_d);
        printf("| %s | %.2f | %.2f | %.0f |\n", name[mode], lat[nqueries / 2],
               lat[nqueries * 99 / 100], (double)nqueries / (total / 1e3));
    }
    free(q);
    free(lat);
    qv_expr_plan_free(plan);
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--rows"))
            rows = v;
        else if (!strcmp(argv[i], "--dim"))
            dim = v;
        else if (!strcmp(argv[i], "--batch"))
            batch = v;
        else if (!strcmp(argv[i], "--queries"))
            nqueries = v;
    }
    if (!rows || !dim || !batch || !nqueries) {
        (void)fprintf(stderr, "qn_bench: numbers must be positive\n");
        return 2;
    }
    fields[1].dim = (uint32_t)dim;
    qv_shard_config cfg = {.collection_id = 1,
                           .vchannel = "p0_1v0",
                           .schema = {fields, 3, 100},
                           .expected_rows = rows};
    qv_shard *sh;
    qv_err err;
    if (qv_shard_create(&cfg, &sh, &err) || load(sh, &err) || reads(sh, &err)) {
        (void)fprintf(stderr, "qn_bench: %s\n", err.msg);
        return 1;
    }
    qv_shard_free(sh);
    return 0;
}
