/* storage_bench.c -- storage_bench: append throughput and latency of the
 * write logs, then (when linked in) the object-store section.
 *
 * For each log backend and payload (1 KiB, 1 MiB) it appends N records to
 * one channel, one wal_append() at a time, in batches of 1 record (every
 * append waits for durability alone) and of --wal-batch records, plus one
 * run with 4 threads appending single records to the same channel (their
 * appends share fsyncs / produce requests), and
 * reports records/s, MB/s (10^6 bytes per second) and the p50/p99 latency
 * of one wal_append() call.  Throughput is the median of --wal-reps
 * repetitions (min-max in brackets); latencies pool every repetition.
 *
 * Backends:
 *   local          segment files, fdatasync before every append returns
 *   local-nosync   the same with WAL_SYNC_NEVER (what the fsyncs cost)
 *   kafka          qv_kafka_broker (librdkafka's mock cluster) on
 *                  127.0.0.1, idempotent producer, acks=all
 * The mock broker keeps only the last ~5 MiB of each partition (older
 * messages are dropped silently), so the kafka runs move to a fresh
 * channel (topic) after every 4 MiB: each partition holds everything
 * written to it, and the timings include no eviction.  Records over the
 * 1 MB Kafka message limit (the 1 MiB ones) are split into two messages.
 *
 * Options: --wal-backends local,local-nosync,kafka  --wal-reps 3
 *          --wal-batch 64  --wal-small-count 4000  --wal-large-count 64
 *          --wal-dir DIR (local log parent, default $TMPDIR or /tmp)
 *          --only wal|objstore (one section)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/storage/storage_bench.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/wal/wal.h"
#include "tests/lib/kafka_broker.h"

#define KIB                ((size_t)1 << 10)
#define MIB                ((size_t)1 << 20)
#define KAFKA_ROTATE_BYTES ((size_t)4 << 20)

typedef struct wb_opts {
    char backends[64];
    int reps;
    int batch;
    int small_count;
    int large_count;
    const char *dir;
} wb_opts;

static void parse_opts(int argc, char **argv, wb_opts *o)
{
    (void)snprintf(o->backends, sizeof(o->backends),
                   "local,local-nosync,kafka");
    o->reps = 3;
    o->batch = 64;
    o->small_count = 4000;
    o->large_count = 64;
    o->dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i + 1 < argc; i++) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!a || !v)
            break;
        if (strcmp(a, "--wal-backends") == 0)
            (void)snprintf(o->backends, sizeof(o->backends), "%s", v);
        else if (strcmp(a, "--wal-reps") == 0)
            o->reps = atoi(v);
        else if (strcmp(a, "--wal-batch") == 0)
            o->batch = atoi(v);
        else if (strcmp(a, "--wal-small-count") == 0)
            o->small_count = atoi(v);
        else if (strcmp(a, "--wal-large-count") == 0)
            o->large_count = atoi(v);
        else if (strcmp(a, "--wal-dir") == 0)
            o->dir = v;
        else
            continue;
        i++;
    }
    if (o->reps < 1 || o->reps > 99)
        o->reps = 3;
    if (o->batch < 1 || o->batch > 4096)
        o->batch = 64;
    if (o->small_count < 1)
        o->small_count = 4000;
    if (o->large_count < 1)
        o->large_count = 64;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *ns, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(ns, n, sizeof(uint64_t), cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)ns[i] / 1e6;
}

/* One measured configuration: `count` records of `size` bytes appended in
 * batches of `batch`; lat receives one latency per append call. */
typedef struct run_cfg {
    wal *w;
    size_t size;
    int count;
    int batch;
    int threads;         /* appenders on one channel */
    size_t rotate_bytes; /* 0 = one channel (always so with threads > 1) */
    int run_id;
} run_cfg;

/* One appender's share of a run. */
typedef struct loop_arg {
    const run_cfg *c;
    const wal_record *recs;
    int count;
    uint64_t *lat;
    size_t nlat;
    int failed;
} loop_arg;

static void *append_loop(void *p)
{
    loop_arg *a = p;
    const run_cfg *c = a->c;
    const qv_clock *clk = qv_clock_system();
    char ch[64];
    int chan_no = 0;
    size_t in_chan = 0;
    (void)snprintf(ch, sizeof(ch), "bench-%d-%d", c->run_id, chan_no);
    for (int done = 0; done < a->count;) {
        int n = a->count - done < c->batch ? a->count - done : c->batch;
        size_t bytes = (size_t)n * c->size;
        if (c->rotate_bytes && c->threads == 1 &&
            in_chan + bytes > c->rotate_bytes && in_chan > 0) {
            (void)snprintf(ch, sizeof(ch), "bench-%d-%d", c->run_id, ++chan_no);
            in_chan = 0;
        }
        qv_err err = {0};
        uint64_t t = qv_mono_ns(clk);
        if (wal_append(c->w, ch, a->recs, (size_t)n, NULL, &err) != QV_OK) {
            (void)fprintf(stderr, "storage_bench: %s\n", err.msg);
            a->failed = 1;
            break;
        }
        a->lat[a->nlat++] = qv_mono_ns(clk) - t;
        in_chan += bytes;
        done += n;
    }
    return NULL;
}

/* Creates the run's channels (long-lived in real use) before timing. */
static int create_channels(const run_cfg *c)
{
    size_t per_chan =
        c->rotate_bytes && c->threads == 1 ? c->rotate_bytes / c->size : 0;
    int nchan =
        per_chan ? (int)(((size_t)c->count + per_chan - 1) / per_chan) + 1 : 1;
    for (int i = 0; i < nchan; i++) {
        qv_err err = {0};
        char ch[64];
        (void)snprintf(ch, sizeof(ch), "bench-%d-%d", c->run_id, i);
        if (wal_latest(c->w, ch, NULL, &err) != QV_OK) {
            (void)fprintf(stderr, "storage_bench: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* Returns elapsed seconds, or a negative value on failure; appends the
 * latency of every call to lat. */
static double run_once(const run_cfg *c, const uint8_t *payload, uint64_t *lat,
                       size_t *nlat)
{
    if (create_channels(c) != 0)
        return -1;
    wal_record *recs = qv_xcalloc((size_t)c->batch, sizeof(wal_record));
    for (int i = 0; i < c->batch; i++)
        recs[i] = (wal_record){payload, c->size};
    int nt = c->threads;
    loop_arg *args = qv_xcalloc((size_t)nt, sizeof(loop_arg));
    pthread_t *th = qv_xcalloc((size_t)nt, sizeof(pthread_t));
    for (int i = 0; i < nt; i++) {
        args[i].c = c;
        args[i].recs = recs;
        args[i].count = c->count / nt + (i < c->count % nt);
        args[i].lat = qv_xcalloc((size_t)args[i].count + 1, sizeof(uint64_t));
    }
    const qv_clock *clk = qv_clock_system();
    uint64_t t0 = qv_mono_ns(clk);
    int started = 0;
    for (; started < nt; started++) {
        if (pthread_create(&th[started], NULL, append_loop, &args[started]))
            break;
    }
    int failed = started < nt;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(qv_mono_ns(clk) - t0) / 1e9;
    for (int i = 0; i < nt; i++) {
        failed |= args[i].failed;
        memcpy(lat + *nlat, args[i].lat, args[i].nlat * sizeof(uint64_t));
        *nlat += args[i].nlat;
        free(args[i].lat);
    }
    free(args);
    free(th);
    free(recs);
    return failed ? -1 : secs;
}

/* Runs one row of the table (reps repetitions) and prints it. */
static int bench_row(const char *backend, const wb_opts *o, run_cfg *c,
                     const uint8_t *payload)
{
    size_t calls =
        ((size_t)c->count + (size_t)c->batch - 1) / (size_t)c->batch +
        (size_t)c->threads;
    uint64_t *lat = qv_xcalloc(calls * (size_t)o->reps, sizeof(uint64_t));
    double *rps = qv_xcalloc((size_t)o->reps, sizeof(double));
    size_t nlat = 0;
    int rc = 0;
    for (int r = 0; r < o->reps && rc == 0; r++) {
        c->run_id++;
        double secs = run_once(c, payload, lat, &nlat);
        if (secs <= 0)
            rc = 1;
        else
            rps[r] = (double)c->count / secs;
    }
    if (rc == 0) {
        qsort(rps, (size_t)o->reps, sizeof(double), cmp_dbl);
        double med = rps[o->reps / 2];
        double mb = (double)c->size / 1e6;
        printf("| %s | %s | %d | %d | %d | %.0f [%.0f-%.0f] | "
               "%.1f [%.1f-%.1f] | %.3f | %.3f |\n",
               backend, c->size >= MIB ? "1 MiB" : "1 KiB", c->batch,
               c->threads, c->count, med, rps[0], rps[o->reps - 1], med * mb,
               rps[0] * mb, rps[o->reps - 1] * mb, pct_ms(lat, nlat, 0.50),
               pct_ms(lat, nlat, 0.99));
        (void)fflush(stdout);
    }
    free(lat);
    free(rps);
    return rc;
}

static int bench_backend(const char *label, wal *w, const wb_opts *o,
                         size_t rotate)
{
    uint8_t *payload = qv_xmalloc(MIB);
    for (size_t i = 0; i < MIB; i++)
        payload[i] = (uint8_t)(i * 131u + 7u);
    int rc = 0;
    struct {
        size_t size;
        int count;
        int batch;
        int threads;
    } rows[] = {
        {KIB, o->small_count, 1, 1},
        {KIB, o->small_count, 1, 4},
        {KIB, o->small_count * 4, o->batch, 1},
        {MIB, o->large_count, 1, 1},
        {MIB, o->large_count, 4, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && rc == 0; i++) {
        run_cfg c = {.w = w,
                     .size = rows[i].size,
                     .count = rows[i].count,
                     .batch = rows[i].batch,
                     .threads = rows[i].threads,
                     .rotate_bytes = rotate,
                     .run_id = (int)i * 1000};
        rc = bench_row(label, o, &c, payload);
    }
    free(payload);
    return rc;
}

static int bench_local(const wb_opts *o, int nosync)
{
    char *dir = NULL;
    qv_err err = {0};
    char *tmpl = qv_xasprintf("%s/qv-walbench-XXXXXX", o->dir);
    if (!mkdtemp(tmpl)) {
        (void)fprintf(stderr,
                      "storage_bench: cannot create a directory in '%s'\n",
                      o->dir);
        free(tmpl);
        return 1;
    }
    dir = tmpl;
    wal_options wo = {.dir = dir,
                      .sync = nosync ? WAL_SYNC_NEVER : WAL_SYNC_ALWAYS,
                      .timeout_ms = 60000};
    wal *w;
    int rc = 1;
    if (wal_open("local", &wo, &w, &err) == QV_OK) {
        rc = bench_backend(nosync ? "local-nosync" : "local", w, o, 0);
        wal_close(w);
    } else {
        (void)fprintf(stderr, "storage_bench: %s\n", err.msg);
    }
    if (qv_test_rmtree(dir, &err) != QV_OK)
        (void)fprintf(stderr, "storage_bench: cleanup: %s\n", err.msg);
    free(dir);
    return rc;
}

static int bench_kafka(const wb_opts *o)
{
    qv_kafka_broker b;
    qv_err err = {0};
    if (qv_kafka_broker_start(&b, 1, &err) != QV_OK) {
        (void)fprintf(stderr, "storage_bench: %s\n", err.msg);
        return 1;
    }
    wal_options wo = {.bootstrap = b.bootstrap, .timeout_ms = 30000};
    wal *w;
    int rc = 1;
    if (wal_open("kafka", &wo, &w, &err) == QV_OK) {
        rc = bench_backend("kafka", w, o, KAFKA_ROTATE_BYTES);
        wal_close(w);
    } else {
        (void)fprintf(stderr, "storage_bench: %s\n", err.msg);
    }
    qv_kafka_broker_destroy(&b);
    return rc;
}

int storage_bench_wal(int argc, char **argv)
{
    wb_opts o;
    parse_opts(argc, argv, &o);
    printf("\n## Write log: append throughput and latency\n\n");
    printf("Local logs under %s; kafka: qv_kafka_broker on 127.0.0.1 "
           "(mock cluster, ~5 MiB kept per partition: a new channel every "
           "4 MiB). Throughput: median [min-max] of %d runs; latency of one "
           "append call, pooled.\n\n",
           o.dir, o.reps);
    printf("| backend | payload | batch | threads | records | records/s | "
           "MB/s | p50 ms | p99 ms |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    (void)fflush(stdout);
    char list[80];
    (void)snprintf(list, sizeof(list), ",%s,", o.backends);
    int rc = 0;
    if (strstr(list, ",local,"))
        rc |= bench_local(&o, 0);
    if (strstr(list, ",local-nosync,"))
        rc |= bench_local(&o, 1);
    if (strstr(list, ",kafka,"))
        rc |= bench_kafka(&o);
    return rc;
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    int rc = 0;
    printf("# storage_bench\n");
    if (!only || strcmp(only, "wal") == 0)
        rc |= storage_bench_wal(argc, argv);
#ifdef QV_BENCH_HAVE_OBJSTORE
    if (!only || strcmp(only, "objstore") == 0)
        rc |= storage_bench_objstore(argc, argv);
#endif
    return rc;
}
