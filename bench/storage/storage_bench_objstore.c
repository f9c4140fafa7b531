/* storage_bench_objstore.c -- put/get throughput of the object stores.
 *
 * For each backend ("fs" with fsync on, "fs-nosync" to show what the
 * fsyncs cost, "s3") and payload (1 KiB, 1 MiB)
 * it puts N distinct objects one after another, then gets them all, and
 * reports MB/s (10^6 bytes per second) and operations per second, the
 * median of --objstore-reps repetitions (min-max in brackets), as a
 * Markdown table on stdout.
 *
 * S3 runs against $QV_BENCH_S3_ENDPOINT (with QV_BENCH_S3_BUCKET,
 * QV_BENCH_S3_ACCESS_KEY, QV_BENCH_S3_SECRET_KEY) when set; otherwise it
 * starts s3rver 3.7.1 on 127.0.0.1 (tests/lib/s3_server.h; no verifier),
 * so the figures include s3rver's own cost: a Node.js server writing every
 * object to a file plus metadata.
 *
 * Options: --objstore-backends fs,fs-nosync,s3  --objstore-reps 3
 *          --objstore-small-count 500  --objstore-large-count 32
 *          --objstore-dir DIR (fs root parent, default $TMPDIR or /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/storage/storage_bench.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/objstore/objstore.h"
#include "tests/lib/s3_server.h"

#define MIB ((size_t)1 << 20)

typedef struct ob_opts {
    char backends[64];
    int reps;
    int small_count;
    int large_count;
    const char *dir;
} ob_opts;

static void parse_opts(int argc, char **argv, ob_opts *o)
{
    snprintf(o->backends, sizeof(o->backends), "fs,fs-nosync,s3");
    o->reps = 3;
    o->small_count = 500;
    o->large_count = 32;
    o->dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i + 1 < argc; i++) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--objstore-backends") == 0)
            snprintf(o->backends, sizeof(o->backends), "%s", v);
        else if (strcmp(a, "--objstore-reps") == 0)
            o->reps = atoi(v);
        else if (strcmp(a, "--objstore-small-count") == 0)
            o->small_count = atoi(v);
        else if (strcmp(a, "--objstore-large-count") == 0)
            o->large_count = atoi(v);
        else if (strcmp(a, "--objstore-dir") == 0)
            o->dir = v;
        else
            continue;
        i++;
    }
    if (o->reps < 1 || o->reps > 99)
        o->reps = 3;
    if (o->small_count < 1)
        o->small_count = 500;
    if (o->large_count < 1)
        o->large_count = 32;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One repetition: put n objects of size len under prefix, then get them.
 * Returns seconds spent in puts and gets, or -1 on an error. */
static int run_once(objstore *os, const char *prefix, int n, size_t len,
                    const char *data, double *put_s, double *get_s)
{
    const qv_clock *c = qv_clock_system();
    char key[128];
    qv_err err = {0};
    uint64_t t0 = qv_mono_ns(c);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s/%06d", prefix, i);
        if (objstore_put(os, key, data, len, &err) != QV_OK) {
            fprintf(stderr, "storage_bench: %s\n", err.msg);
            return -1;
        }
    }
    uint64_t t1 = qv_mono_ns(c);
    qv_buf b = QV_BUF_INIT;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s/%06d", prefix, i);
        qv_buf_reset(&b);
        if (objstore_get(os, key, &b, &err) != QV_OK || b.len != len) {
            fprintf(stderr, "storage_bench: get '%s': %s\n", key, err.msg);
            qv_buf_release(&b);
            return -1;
        }
    }
    uint64_t t2 = qv_mono_ns(c);
    qv_buf_release(&b);
    *put_s = (double)(t1 - t0) / 1e9;
    *get_s = (double)(t2 - t1) / 1e9;
    uint64_t deleted;
    if (objstore_delete_prefix(os, prefix, &deleted, &err) != QV_OK) {
        fprintf(stderr, "storage_bench: cleanup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void report(const char *backend, const char *label, const char *what,
                   int n, size_t len, double *secs, int reps)
{
    double mbps[100], ops[100];
    for (int r = 0; r < reps; r++) {
        mbps[r] = (double)n * (double)len / secs[r] / 1e6;
        ops[r] = (double)n / secs[r];
    }
    qsort(mbps, (size_t)reps, sizeof(double), cmp_double);
    qsort(ops, (size_t)reps, sizeof(double), cmp_double);
    printf("| %s | %s | %s | %d | %.2f [%.2f-%.2f] | %.0f [%.0f-%.0f] |\n",
           backend, label, what, n, mbps[reps / 2], mbps[0], mbps[reps - 1],
           ops[reps / 2], ops[0], ops[reps - 1]);
    fflush(stdout);
}

static int bench_store(const char *backend, objstore *os, const ob_opts *o)
{
    static const struct {
        const char *label;
        size_t len;
    } sizes[] = {{"1KiB", 1024}, {"1MiB", MIB}};
    char *data = qv_xmalloc(MIB);
    for (size_t i = 0; i < MIB; i++)
        data[i] = (char)(i * 131 + 7);
    int rc = 0;
    for (size_t s = 0; s < 2 && rc == 0; s++) {
        int n = s == 0 ? o->small_count : o->large_count;
        double put_s[100], get_s[100];
        for (int r = 0; r < o->reps && rc == 0; r++) {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "bench/%s/%d", sizes[s].label, r);
            rc = run_once(os, prefix, n, sizes[s].len, data, &put_s[r],
                          &get_s[r]);
        }
        if (rc == 0) {
            report(backend, sizes[s].label, "put", n, sizes[s].len, put_s,
                   o->reps);
            report(backend, sizes[s].label, "get", n, sizes[s].len, get_s,
                   o->reps);
        }
    }
    free(data);
    return rc;
}

static int bench_fs(const ob_opts *o, bool no_fsync)
{
    char *root = qv_xasprintf("%s/qv-objbench-%ld", o->dir, (long)getpid());
    objstore_config c = {.root = root, .no_fsync = no_fsync};
    objstore *os;
    qv_err err = {0};
    int rc = -1;
    if (objstore_open("fs", &c, &os, &err) == QV_OK) {
        rc = bench_store(no_fsync ? "fs-nosync" : "fs", os, o);
        objstore_close(os);
    } else {
        fprintf(stderr, "storage_bench: %s\n", err.msg);
    }
    char *cmd = qv_xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "storage_bench: cannot remove '%s'\n", root);
    free(cmd);
    free(root);
    return rc;
}

static int bench_s3(const ob_opts *o)
{
    const char *ep = getenv("QV_BENCH_S3_ENDPOINT");
    qv_s3_server srv;
    memset(&srv, 0, sizeof(srv));
    objstore_config c = {.path_style = true, .timeout_ms = 60000};
    qv_err err = {0};
    if (ep && ep[0]) {
        c.endpoint = ep;
        c.bucket = getenv("QV_BENCH_S3_BUCKET");
        c.access_key = getenv("QV_BENCH_S3_ACCESS_KEY");
        c.secret_key = getenv("QV_BENCH_S3_SECRET_KEY");
        c.region = getenv("QV_BENCH_S3_REGION");
    } else {
        if (qv_s3_server_start(&srv, NULL, &err) != QV_OK) {
            printf("| s3 | - | skipped: %s | | | |\n", err.msg);
            return 0;
        }
        c.endpoint = srv.endpoint;
        c.bucket = srv.bucket;
        c.access_key = QV_S3_SERVER_KEY;
        c.secret_key = QV_S3_SERVER_KEY;
    }
    objstore *os;
    int rc = -1;
    if (objstore_open("s3", &c, &os, &err) == QV_OK) {
        rc = bench_store("s3", os, o);
        objstore_close(os);
    } else {
        fprintf(stderr, "storage_bench: %s\n", err.msg);
    }
    qv_s3_server_destroy(&srv);
    return rc;
}

int storage_bench_objstore(int argc, char **argv)
{
    ob_opts o;
    parse_opts(argc, argv, &o);
    int rc = 0;
    printf("\n## Object store: put/get throughput\n\n");
    const char *ep = getenv("QV_BENCH_S3_ENDPOINT");
    printf("One object per call, one call at a time; fs under %s; s3 at %s; "
           "median of %d runs [min-max].\n\n",
           o.dir, ep && ep[0] ? ep : "s3rver 3.7.1 on 127.0.0.1 (no verifier)",
           o.reps);
    printf("| backend | payload | op | objects | MB/s | ops/s |\n");
    printf("|---|---|---|---|---|---|\n");
    fflush(stdout);
    char list[80];
    snprintf(list, sizeof(list), ",%s,", o.backends);
    if (strstr(list, ",fs,"))
        rc |= bench_fs(&o, false);
    if (strstr(list, ",fs-nosync,"))
        rc |= bench_fs(&o, true);
    if (strstr(list, ",s3,"))
        rc |= bench_s3(&o);
    return rc ? 1 : 0;
}
