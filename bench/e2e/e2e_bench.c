/* e2e_bench.c -- Quiver end to end: a C client of the public MilvusService
 * measuring the server (insert throughput, flush, index build and load,
 * search QPS/latency/recall at nq=1), and in the same run the index
 * library's own build time and QPS on the same data and params.
 *
 * Usage: see usage() below and bench/README.md ("End to end").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/e2e/e2e_run.h"
#include "common/log.h"

/* Ctrl-C or a ctest timeout: stop what the bench started and remove its
 * temp dir, with async-signal-safe calls only (kill, waitpid, execv). */
static e2e_servers *g_servers;

static void on_signal(int sig)
{
    e2e_servers *s = g_servers;
    if (s && s->pid > 0) {
        (void)kill(s->pid, SIGTERM);
        (void)waitpid(s->pid, NULL, 0);
    }
    if (s && s->workdir[0] && !s->keep) {
        static char rm[] = "rm", rf[] = "-rf";
        char *const argv[] = {rm, rf, s->workdir, NULL};
        (void)execv("/bin/rm", argv);
    }
    _exit(128 + sig);
}

static void usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: e2e_bench [--address HOST:PORT | --spawn standalone|cluster]\n"
        "  [--quick] [--data DIR] [--n ROWS] [--nq QUERIES] [--batch ROWS]\n"
        "  [--insert-threads T] [--n768 ROWS] [--index HNSW|FLAT] [--M 16]\n"
        "  [--efc 200] [--ef 16,32,64,128,256] [--threads 1,2,4]\n"
        "  [--seconds S] [--topk 10] [--shards N] [--consistency LEVEL]\n"
        "  [--target-recall 0.95] [--min-recall R] [--timeout S]\n"
        "  [--no-lib] [--no-768] [--keep] [--search-only] [--quiver PATH]\n"
        "  [--kafka-broker PATH] [--cluster-script PATH]\n"
        "Measures a running server at --address (default 127.0.0.1:19530),\n"
        "or one it starts itself with --spawn (temp data dir, free ports,\n"
        "stopped at the end).\n"
        "--quick: a small smoke run (20K vectors, short points).\n"
        "--keep leaves the collections; --search-only (with --address)\n"
        "then measures search on them again without inserting.\n");
}

static int parse_list(const char *s, int *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 100000)
            return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static int parse_consistency(const char *s)
{
    static const char *const names[] = {"strong", "session", "bounded",
                                        "eventually"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

static void defaults(e2e_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data = QV_E2E_SHARED_DATA;
    o->quiver = QV_E2E_BUILD_DIR "/quiver";
    o->broker = QV_E2E_BUILD_DIR "/tests/kafka_broker/qv_kafka_broker";
    o->script = QV_E2E_SOURCE_DIR "/bench/e2e/cluster.sh";
    o->batch = 5000;
    o->insert_threads = 2;
    o->n768 = 50000;
    o->index_type = "HNSW";
    o->M = 16;
    o->efc = 200;
    o->nef = parse_list("16,32,64,128,256", o->efs, E2E_MAX_POINTS);
    o->nthreads = parse_list("1,2,4", o->threads, E2E_MAX_POINTS);
    o->seconds = 5;
    o->topk = 10;
    o->shards = 1;
    o->consistency = 2; /* Bounded: the SDK's default */
    o->target_recall = 0.95;
    o->timeout_s = 1800;
}

static void quick(e2e_opts *o)
{
    o->n = 20000;
    o->nq = 200;
    o->batch = 2000;
    o->n768 = 2000;
    o->nef = parse_list("32,64", o->efs, E2E_MAX_POINTS);
    o->nthreads = parse_list("1,2", o->threads, E2E_MAX_POINTS);
    o->seconds = 0.5;
    o->timeout_s = 300;
    if (o->min_recall == 0)
        o->min_recall = 0.8;
}

/* Returns 0 to run, 1 after --help, 2 after a usage error. */
static int parse(int argc, char **argv, e2e_opts *o)
{
    defaults(o);
    bool set_n = false, set_n768 = false, set_shards = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0)
            quick(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool flag = true;
        if (strcmp(a, "--quick") == 0)
            o->quick = true;
        else if (strcmp(a, "--no-lib") == 0)
            o->no_lib = true;
        else if (strcmp(a, "--no-768") == 0)
            o->no_768 = true;
        else if (strcmp(a, "--keep") == 0)
            o->keep = true;
        else if (strcmp(a, "--search-only") == 0)
            o->search_only = o->keep = o->no_768 = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout), 1;
        else
            flag = false;
        if (flag)
            continue;
        if (!v) {
            (void)fprintf(stderr, "e2e_bench: %s needs a value\n", a);
            return usage(stderr), 2;
        }
        i++;
        int bad = 0;
        if (strcmp(a, "--address") == 0)
            o->address = v;
        else if (strcmp(a, "--spawn") == 0)
            o->spawn = v;
        else if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--quiver") == 0)
            o->quiver = v;
        else if (strcmp(a, "--kafka-broker") == 0)
            o->broker = v;
        else if (strcmp(a, "--cluster-script") == 0)
            o->script = v;
        else if (strcmp(a, "--index") == 0)
            o->index_type = v;
        else if (strcmp(a, "--n") == 0)
            o->n = strtoul(v, NULL, 10), set_n = true;
        else if (strcmp(a, "--nq") == 0)
            o->nq = strtoul(v, NULL, 10);
        else if (strcmp(a, "--batch") == 0)
            bad = (o->batch = strtoul(v, NULL, 10)) == 0;
        else if (strcmp(a, "--insert-threads") == 0)
            bad = (o->insert_threads = atoi(v)) < 1;
        else if (strcmp(a, "--n768") == 0)
            o->n768 = strtoul(v, NULL, 10), set_n768 = true;
        else if (strcmp(a, "--M") == 0)
            bad = (o->M = atoi(v)) < 2;
        else if (strcmp(a, "--efc") == 0)
            bad = (o->efc = atoi(v)) < 1;
        else if (strcmp(a, "--ef") == 0)
            bad = (o->nef = parse_list(v, o->efs, E2E_MAX_POINTS)) <= 0;
        else if (strcmp(a, "--threads") == 0)
            bad =
                (o->nthreads = parse_list(v, o->threads, E2E_MAX_POINTS)) <= 0;
        else if (strcmp(a, "--seconds") == 0)
            bad = (o->seconds = atof(v)) <= 0;
        else if (strcmp(a, "--topk") == 0)
            bad =
                (o->topk = strtoul(v, NULL, 10)) < 1 || o->topk > E2E_MAX_TOPK;
        else if (strcmp(a, "--shards") == 0)
            bad = (o->shards = atoi(v)) < 1, set_shards = true;
        else if (strcmp(a, "--consistency") == 0)
            bad = (o->consistency = parse_consistency(v)) < 0;
        else if (strcmp(a, "--target-recall") == 0)
            bad = (o->target_recall = atof(v)) <= 0;
        else if (strcmp(a, "--min-recall") == 0)
            o->min_recall = atof(v);
        else if (strcmp(a, "--timeout") == 0)
            bad = (o->timeout_s = atoi(v)) < 1;
        else {
            (void)fprintf(stderr, "e2e_bench: unknown option %s\n", a);
            return usage(stderr), 2;
        }
        if (bad) {
            (void)fprintf(stderr, "e2e_bench: bad value for %s: %s\n", a, v);
            return 2;
        }
    }
    if (o->address && o->spawn) {
        (void)fprintf(stderr,
                      "e2e_bench: give --address or --spawn, not both\n");
        return usage(stderr), 2;
    }
    if (!o->address && !o->spawn)
        o->address = "127.0.0.1:19530"; /* Milvus's default port */
    if (o->spawn && strcmp(o->spawn, "standalone") != 0 &&
        strcmp(o->spawn, "cluster") != 0) {
        (void)fprintf(stderr, "e2e_bench: --spawn standalone or cluster\n");
        return 2;
    }
    /* The cluster's write log is the Kafka test broker, which keeps only
     * the last ~5 MiB of each partition (tests/kafka_broker): keep every
     * shard's share of the rows under that unless told otherwise. */
    if (o->spawn && strcmp(o->spawn, "cluster") == 0) {
        if (!set_shards)
            o->shards = 4;
        if (!set_n && (o->n == 0 || o->n > 25000))
            o->n = 25000;
        if (!set_n768 && o->n768 > 4000)
            o->n768 = 4000;
    }
    return 0;
}

/* Loads localsift (the first o->n rows), its queries and the ground truth
 * (the shipped file for the whole set, else computed exactly). */
static qv_code load_data(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    char p[1024];
    (void)snprintf(p, sizeof p, "%s/localsift/base.bvecs", o->data);
    qv_code rc = e2e_vecs_read(p, o->n, &r->base, err);
    if (rc)
        return rc;
    (void)snprintf(p, sizeof p, "%s/localsift/query.bvecs", o->data);
    if ((rc = e2e_vecs_read(p, o->nq, &r->queries, err)))
        return rc;
    r->full_set = o->n == 0 || o->n >= E2E_LOCALSIFT_ROWS;
    if (r->full_set && r->base.n == E2E_LOCALSIFT_ROWS) {
        (void)snprintf(p, sizeof p, "%s/localsift/groundtruth.ivecs", o->data);
        rc = e2e_vecs_read(p, o->nq, &r->gt, err);
        (void)snprintf(r->gt_source, sizeof r->gt_source, "groundtruth.ivecs");
    } else {
        double t0 = e2e_now();
        rc = e2e_ground_truth(&r->base, &r->queries, o->topk, &r->gt, err);
        (void)snprintf(r->gt_source, sizeof r->gt_source,
                       "exact FLAT over the subset (%.1f s)", e2e_now() - t0);
    }
    return rc;
}

static qv_code start_servers(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    qv_code rc = QV_OK;
    if (o->spawn && strcmp(o->spawn, "standalone") == 0)
        rc = e2e_spawn_standalone(&r->servers, o->quiver, err);
    else if (o->spawn)
        rc = e2e_spawn_cluster(&r->servers, o->script, o->quiver, o->broker,
                               err);
    if (rc)
        return rc;
    r->servers.keep = o->keep;
    const char *addr = o->spawn ? r->servers.address : o->address;
    if ((rc = e2e_client_open(&r->c, addr, err)))
        return rc;
    if ((rc = e2e_wait_healthy(&r->c, 60000, err)))
        return rc;
    e2e_server_version(&r->c, r->version, sizeof r->version);
    return QV_OK;
}

int main(int argc, char **argv)
{
    e2e_opts o;
    int prc = parse(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    qv_log_set_level(QV_LOG_ERROR);
    e2e_run r;
    memset(&r, 0, sizeof r);
    g_servers = &r.servers;
    struct sigaction sa = {.sa_handler = on_signal};
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    qv_err err = {0};
    double t0 = e2e_now();
    qv_code rc = load_data(&o, &r, &err);
    if (rc) {
        (void)fprintf(stderr, "e2e_bench: data: %s\n", err.msg);
        return 1;
    }
    if ((rc = start_servers(&o, &r, &err))) {
        (void)fprintf(stderr, "e2e_bench: server: %s\n", err.msg);
        e2e_servers_dump_logs(&r.servers, 4000);
        e2e_servers_stop(&r.servers);
        e2e_run_free(&r);
        return 1;
    }
    e2e_print_header(&o, &r);
    rc = e2e_run_all(&o, &r, &err);
    if (rc) {
        (void)fprintf(stderr, "e2e_bench: FAILED: %s\n", err.msg);
        if (r.servers.mode[0])
            e2e_servers_dump_logs(&r.servers, 4000);
    }
    e2e_print_report(&o, &r);
    e2e_cleanup(&o, &r);
    e2e_client_close(&r.c);
    e2e_servers_stop(&r.servers);
    int exit_code = rc || r.failures ? 1 : 0;
    printf("\n(total %.0f s, exit %d)\n", e2e_now() - t0, exit_code);
    e2e_run_free(&r);
    return exit_code;
}
