/* qn_sealed_bench -- a sealed segment searched through its HNSW index on
 * the query node, per request, against the index library's own search of
 * the same index: nq = 1, top-10, at the same ef (so the same recall).
 *
 * The segment is real: rows go through a shard, datanode/flush.h writes
 * them to a filesystem object store, querynode/sealed.h loads them (in
 * memory, or mapped with --mapped), the index is built with the library,
 * serialized, stored under index_files/ and loaded and attached with
 * querynode/sealed_index.h.  A query node request here is what the Search
 * handler (querynode/qn_read.c) does short of gRPC: snapshot the shard,
 * search (mask, index, merge), gather the PK column of the hits, encode
 * it as a column image, release.
 *
 *   qn_sealed_bench [--data DIR] [--set localsift|siftsmall] [--rows N]
 *                   [--ef E] [--M M] [--efc C] [--queries Q] [--mapped 1]
 * Prints a markdown table (1 and 2 threads, p50 / p99 / QPS, recall@10
 * against the set's ground truth when every base row is loaded).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/index/bench_data.h"
#include "common/alloc.h"
#include "common/column/column.h"
#include "datanode/flush.h"
#include "querynode/sealed_index.h"
#include "querynode/search.h"
#include "querynode/shard.h"

static const char *data_dir = "/work/shared/data", *set = "localsift";
static size_t nrows = 0, ef = 64, M = 16, efc = 200, nqueries = 1000;
static int mapped = 0;

static qv_field_spec fields[3] = {
    {.id = 100, .name = "pk", .type = QV_DT_INT64},
    {.id = 101, .name = "vec", .type = QV_DT_FLOAT_VECTOR},
    {.id = 102, .name = "tag", .type = QV_DT_INT64},
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Resident set size of this process in MiB (/proc/self/statm). */
static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        (void)fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static int fail(const qv_err *err)
{
    (void)fprintf(stderr, "qn_sealed_bench: %s\n", err->msg);
    return 1;
}

/* Rows [0, n) into a shard as one segment (ts 1000), flushed and loaded. */
static int make_segment(objstore *os, const bench_vecs *b, size_t n,
                        const char *cache, qv_sealed **out, qv_err *err)
{
    qv_seg_schema sch = {fields, 3, 100};
    qv_shard_config cfg = {.collection_id = 1,
                           .vchannel = "p0_1v0",
                           .schema = sch,
                           .expected_rows = n};
    qv_shard *sh;
    if (qv_shard_create(&cfg, &sh, err))
        return -1;
    int rc = 0;
    for (size_t done = 0; done < n && !rc; done += 10000) {
        size_t m = n - done < 10000 ? n - done : 10000;
        qv_column *c[3];
        qv_col_view v[3];
        int64_t ids[3] = {100, 101, 102};
        for (int f = 0; f < 3; f++)
            rc |= qv_column_create(&fields[f], &c[f], err) != QV_OK;
        rc |= qv_column_append_fixed(c[1], b->x + done * b->d, m) != QV_OK;
        for (size_t i = 0; i < m; i++) {
            int64_t pk = (int64_t)(done + i), tag = pk % 10;
            rc |= qv_column_append_fixed(c[0], &pk, 1) != QV_OK;
            rc |= qv_column_append_fixed(c[2], &tag, 1) != QV_OK;
        }
        for (int f = 0; f < 3; f++) {
            qv_column_publish(c[f]);
            v[f] = qv_column_view(c[f]);
        }
        qv_msg msg = {.type = QV_MSG_INSERT,
                      .ts = 1000,
                      .collection_id = 1,
                      .vchannel = "p0_1v0",
                      .partition_id = 1,
                      .segment_id = 1,
                      .pk_field_id = 100,
                      .rows = m,
                      .nfields = 3,
                      .field_ids = ids,
                      .cols = v};
        rc = rc || qv_shard_apply(sh, &msg, err) != QV_OK;
        for (int f = 0; f < 3; f++)
            qv_column_free(c[f]);
    }
    qv_shard_snap g;
    qv_shard_acquire(sh, &g);
    qv_flush_target t = {os, 1, 5};
    qv_flush_result fr;
    rc = rc || qv_flush_segment(&t, &sch, &g.snaps[0], &fr, err) != QV_OK;
    qv_shard_snap_release(&g);
    qv_shard_free(sh);
    qv_sealed_source src = {os, 1, 1, 1, 5, cache};
    return rc || qv_sealed_load(&src, &sch, out, err) ? -1 : 0;
}

/* Builds the HNSW index of rows [0, n) and stores its file. */
static int make_index(objstore *os, const bench_vecs *b, size_t n,
                      double *build_s, qv_err *err)
{
    char m[16], c[16];
    (void)snprintf(m, sizeof m, "%zu", M);
    (void)snprintf(c, sizeof c, "%zu", efc);
    qv_kv kv[2] = {{"M", m}, {"efConstruction", c}};
    qv_params p = {kv, 2};
    qv_index *ix;
    double t0 = now_s();
    if (qv_index_create(QV_INDEX_HNSW, QV_METRIC_L2, b->d, &p, &ix, err) ||
        qv_index_add(ix, n, b->x, NULL, err))
        return -1;
    *build_s = now_s() - t0;
    qv_buf buf = QV_BUF_INIT;
    int rc = qv_index_serialize(ix, &buf, err) ||
             objstore_put(os, "index_files/9/1/index", buf.data, buf.len, err);
    qv_buf_release(&buf);
    qv_index_free(ix);
    malloc_trim(0); /* give the build's memory back before measuring RSS */
    return rc ? -1 : 0;
}

static int load_index(objstore *os, const char *cache, qv_seg_index **out,
                      qv_err *err)
{
    qv_seg_index_source src = {os, "index_files/9/1/index", 9, 8, 101, cache};
    return qv_seg_index_load(&src, out, err) ? -1 : 0;
}

typedef struct run {
    int mode; /* 0 library, 1 query node, 2 query node + filter tag < 9 */
    qv_shard *sh;
    const qv_index *ix;
    const bench_vecs *q;
    const qv_expr_plan *plan;
    size_t from, to;
    double *lat;
    int64_t *labels; /* nq * 10 */
    int rc;
} run;

static int qn_request(run *r, const float *q, int64_t *labels, qv_err *err)
{
    char ef_s[16];
    (void)snprintf(ef_s, sizeof ef_s, "%zu", ef);
    qv_kv kv[1] = {{"ef", ef_s}};
    qv_params p = {kv, 1};
    qv_shard_snap snap;
    qv_shard_acquire(r->sh, &snap);
    qv_search_req sr = {.field_id = 101,
                        .metric = QV_METRIC_L2,
                        .nq = 1,
                        .queries = q,
                        .topk = 10,
                        .filter = r->mode == 2 ? r->plan : NULL,
                        .ts = 2000,
                        .params = &p};
    qv_search_result res;
    int rc = qv_shard_search(&snap, &sr, &res, err) ? -1 : 0;
    if (!rc) {
        uint32_t segs[10];
        int64_t rows[10], fid = 100;
        for (size_t j = 0; j < 10; j++) {
            labels[j] = j < res.counts[0] ? res.hits[j].row : -1;
            segs[j] = res.hits[j].seg;
            rows[j] = res.hits[j].row;
        }
        qv_column **cols;
        rc = qv_shard_gather(&snap, segs, rows, res.counts[0], &fid, 1, &cols,
                             err)
                 ? -1
                 : 0;
        if (!rc) {
            qv_buf b = QV_BUF_INIT;
            qv_col_view v = qv_column_view(cols[0]);
            rc = qv_column_file_encode(&v, 100, &b, err) ? -1 : 0;
            qv_buf_release(&b);
            qv_column_free(cols[0]);
            free(cols);
        }
        qv_search_result_release(&res);
    }
    qv_shard_snap_release(&snap);
    return rc;
}

static void *run_main(void *arg)
{
    run *r = arg;
    qv_err err;
    char ef_s[16];
    (void)snprintf(ef_s, sizeof ef_s, "%zu", ef);
    qv_kv kv[1] = {{"ef", ef_s}};
    qv_params p = {kv, 1};
    qv_search_args a = {&p, NULL, NULL};
    for (size_t i = r->from; i < r->to && !r->rc; i++) {
        const float *q = r->q->x + (i % r->q->n) * r->q->d;
        float d[10];
        double t0 = now_s();
        if (r->mode == 0)
            r->rc = qv_index_search(r->ix, 1, q, 10, &a, d,
                                    r->labels + (i % r->q->n) * 10, &err)
                        ? -1
                        : 0;
        else
            r->rc = qn_request(r, q, r->labels + (i % r->q->n) * 10, &err);
        r->lat[i] = (now_s() - t0) * 1e3;
    }
    if (r->rc)
        (void)fail(&err);
    return NULL;
}

/* Runs nqueries requests on nt threads; prints one table row. */
static int measure(const char *name, run proto, int nt, const bench_dataset *ds,
                   size_t n)
{
    double *lat = qv_xmalloc(nqueries * sizeof(double));
    int64_t *labels = qv_xmalloc(proto.q->n * 10 * sizeof(int64_t));
    run r[2];
    pthread_t th[2];
    double t0 = now_s();
    for (int t = 0; t < nt; t++) {
        r[t] = proto;
        r[t].from = nqueries * (size_t)t / (size_t)nt;
        r[t].to = nqueries * (size_t)(t + 1) / (size_t)nt;
        r[t].lat = lat;
        r[t].labels = labels;
        pthread_create(&th[t], NULL, run_main, &r[t]);
    }
    int rc = 0;
    for (int t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        rc |= r[t].rc;
    }
    double wall = now_s() - t0;
    qsort(lat, nqueries, sizeof *lat, cmp_d);
    char rec[16] = "-";
    if (n == ds->base.n && proto.mode < 2 && nqueries >= proto.q->n)
        (void)snprintf(rec, sizeof rec, "%.4f", bench_recall(ds, labels, 10));
    printf("| %s | %d | %.3f | %.3f | %.0f | %s |\n", name, nt,
           lat[nqueries / 2], lat[nqueries * 99 / 100], (double)nqueries / wall,
           rec);
    free(lat);
    free(labels);
    return rc;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        size_t x = (size_t)strtoull(v, NULL, 10);
        if (!strcmp(k, "--data"))
            data_dir = v;
        else if (!strcmp(k, "--set"))
            set = v;
        else if (!strcmp(k, "--rows"))
            nrows = x;
        else if (!strcmp(k, "--ef"))
            ef = x;
        else if (!strcmp(k, "--M"))
            M = x;
        else if (!strcmp(k, "--efc"))
            efc = x;
        else if (!strcmp(k, "--queries"))
            nqueries = x;
        else if (!strcmp(k, "--mapped"))
            mapped = (int)x;
        else
            return -1;
    }
    return ef && M && efc && nqueries ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv)) {
        (void)fprintf(stderr, "usage: qn_sealed_bench [--data DIR] [--set S] "
                              "[--rows N] [--ef E] [--M M] [--efc C] "
                              "[--queries Q] [--mapped 1]\n");
        return 2;
    }
    bench_dataset ds;
    if (bench_dataset_load(data_dir, set, &ds)) {
        (void)fprintf(stderr, "qn_sealed_bench: cannot load %s from %s\n", set,
                      data_dir);
        return 1;
    }
    size_t n = nrows && nrows < ds.base.n ? nrows : ds.base.n;
    fields[1].dim = (uint32_t)ds.base.d;
    char tmpl[] = "/tmp/qn-sealed-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *root = qv_xasprintf("%s/objects", dir);
    char *cache = qv_xasprintf("%s/cache", dir);
    (void)mkdir(cache, 0700);
    objstore_config oc = {.root = root, .no_fsync = true};
    objstore *os;
    qv_err err;
    qv_sealed *x = NULL;
    qv_seg_index *si = NULL;
    qv_shard *sh = NULL;
    double build_s = 0;
    qv_seg_schema sch = {fields, 3, 100};
    qv_shard_config cfg = {
        .collection_id = 1, .vchannel = "p0_1v0", .schema = sch};
    if (objstore_open("fs", &oc, &os, &err) ||
        make_index(os, &ds.base, n, &build_s, &err))
        return fail(&err);
    double rss0 = rss_mib(), rss_seg = 0, rss_idx = 0;
    if (make_segment(os, &ds.base, n, mapped ? cache : NULL, &x, &err))
        return fail(&err);
    malloc_trim(0);
    rss_seg = rss_mib();
    if (load_index(os, mapped ? cache : NULL, &si, &err))
        return fail(&err);
    size_t idx_mem = qv_seg_index_memory(si);
    if (qv_sealed_index_attach(x, si, &err) ||
        qv_shard_create(&cfg, &sh, &err) || qv_shard_add_sealed(sh, x, &err))
        return fail(&err);
    rss_idx = rss_mib();
    qv_expr_field xf[2] = {
        {.id = 100, .name = "pk", .type = QV_DT_INT64, .is_primary = true},
        {.id = 102, .name = "tag", .type = QV_DT_INT64}};
    qv_expr_schema xs = {xf, 2};
    qv_expr_plan *plan;
    if (qv_expr_parse("tag < 9", 7, &xs, NULL, 0, &plan, &err))
        return fail(&err);
    qv_shard_snap snap;
    qv_shard_acquire(sh, &snap);
    const qv_index *ix =
        qv_seg_index_index(qv_seg_snap_index(&snap.snaps[0], 101));
    printf("%s, %zu rows, dim %zu, HNSW M=%zu efConstruction=%zu (built in "
           "%.1f s), ef=%zu, nq=1, top-10, %s segment\n\n",
           set, n, ds.base.d, M, efc, build_s, ef,
           mapped ? "mapped" : "in-memory");
    printf("RSS (MiB): before the segment %.0f (the benchmark's own copy "
           "of the vectors: %.0f), segment loaded +%.0f, index loaded and "
           "attached +%.0f (index memory counted by the library and the "
           "file: %.0f MiB)\n\n",
           rss0, (double)(ds.base.n * ds.base.d * 4) / 1048576.0,
           rss_seg - rss0, rss_idx - rss_seg, (double)idx_mem / 1048576.0);
    printf("| path | threads | p50 ms | p99 ms | QPS | recall@10 |\n"
           "| --- | --- | --- | --- | --- | --- |\n");
    run proto = {.sh = sh, .ix = ix, .q = &ds.query, .plan = plan};
    int rc = 0;
    static const char *names[3] = {
        "index library (qv_index_search)",
        "query node request (snapshot, search, PK gather + encode)",
        "query node request, filter tag < 9 (90% pass)"};
    for (int mode = 0; mode < 3 && !rc; mode++)
        for (int nt = 1; nt <= 2 && !rc; nt++) {
            proto.mode = mode;
            rc = measure(names[mode], proto, nt, &ds, n);
        }
    double rss_end = rss_mib();
    printf("\nRSS after the searches: %.0f MiB (+%.0f over the index "
           "attached)\n",
           rss_end, rss_end - rss_idx);
    qv_shard_snap_release(&snap);
    qv_expr_plan_free(plan);
    qv_shard_free(sh);
    qv_sealed_unref(x);
    objstore_close(os);
    bench_dataset_free(&ds);
    char *cmd = qv_xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    free(cmd);
    free(root);
    free(cache);
    return rc ? 1 : 0;
}
