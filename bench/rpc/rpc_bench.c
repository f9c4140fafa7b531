/* rpc_bench.c -- the RPC layer over loopback: a C server (common/rpc) and
 * C clients in one process.  Prints a Markdown table:
 *   - unary latency (p50/p99) and throughput, one client thread,
 *   - unary throughput with N client threads on the shared channel,
 *   - server-streaming messages/s,
 *   - large-message round trips (8 MiB each way).
 * Usage: rpc_bench [--calls N] [--threads T] [--workers W] [--reps R]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.pb-c.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"
#include "common/rpc/rpc_server.h"

#define ECHO   "/qvbench.Bench/Echo"
#define STREAM "/qvbench.Bench/Stream"

typedef struct cfg {
    int calls, threads, workers, reps;
} cfg;

static char target[64];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static qv_code echo(qv_rpc_call *call, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)ud;
    (void)err;
    Qvbench__Reply *r = qv_arena_alloc(qv_rpc_call_arena(call), sizeof *r);
    qvbench__reply__init(r);
    r->payload = ((const Qvbench__Req *)req)->payload;
    *resp = &r->base;
    return QV_OK;
}

static qv_code stream(qv_rpc_call *call, const ProtobufCMessage *req, void *ud,
                      qv_err *err)
{
    (void)ud;
    const Qvbench__Req *rq = (const Qvbench__Req *)req;
    Qvbench__Reply r = QVBENCH__REPLY__INIT;
    for (int i = 0; i < rq->count; i++) {
        r.seq = i;
        qv_code rc = qv_rpc_call_send(call, &r.base, err);
        if (rc != QV_OK)
            return rc;
    }
    return QV_OK;
}

static void die(const char *what, const qv_err *err)
{
    fprintf(stderr, "rpc_bench: %s: %s\n", what, err->msg);
    exit(1);
}

/* One unary call with payload; returns seconds. */
static double one_call(qv_rpc_channel *ch, ProtobufCBinaryData payload)
{
    Qvbench__Req rq = QVBENCH__REQ__INIT;
    rq.payload = payload;
    qv_arena a;
    qv_arena_init(&a, 4096);
    ProtobufCMessage *m;
    qv_err err;
    double t0 = now_s();
    if (qv_rpc_unary(ch, ECHO, &rq.base, &qvbench__reply__descriptor, &a, &m,
                     NULL, &err) != QV_OK)
        die("unary call", &err);
    double dt = now_s() - t0;
    if (((Qvbench__Reply *)m)->payload.len != payload.len) {
        fprintf(stderr, "rpc_bench: payload size mismatch\n");
        exit(1);
    }
    qv_arena_release(&a);
    return dt;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct job {
    int calls;
} job;

static void *client_thread(void *arg)
{
    job *j = arg;
    qv_rpc_channel *ch;
    qv_err err;
    if (qv_rpc_channel_open(target, &ch, &err) != QV_OK)
        die("channel", &err);
    ProtobufCBinaryData p = {16, (uint8_t *)"0123456789abcdef"};
    for (int i = 0; i < j->calls; i++)
        (void)one_call(ch, p);
    qv_rpc_channel_close(ch);
    return NULL;
}

static void bench_unary(const cfg *c, qv_rpc_channel *ch)
{
    ProtobufCBinaryData p = {16, (uint8_t *)"0123456789abcdef"};
    double *lat = malloc((size_t)c->calls * sizeof *lat);
    for (int i = 0; i < 200; i++) /* warm up */
        (void)one_call(ch, p);
    double t0 = now_s();
    for (int i = 0; i < c->calls; i++)
        lat[i] = one_call(ch, p);
    double dt = now_s() - t0;
    qsort(lat, (size_t)c->calls, sizeof *lat, cmp_d);
    printf("| unary, 16 B, 1 client thread | %.0f calls/s | p50 %.0f us, "
           "p99 %.0f us |\n",
           c->calls / dt, lat[c->calls / 2] * 1e6,
           lat[(int)(c->calls * 0.99)] * 1e6);
    free(lat);

    pthread_t *t = malloc((size_t)c->threads * sizeof *t);
    job j = {c->calls / c->threads};
    t0 = now_s();
    for (int i = 0; i < c->threads; i++)
        pthread_create(&t[i], NULL, client_thread, &j);
    for (int i = 0; i < c->threads; i++)
        pthread_join(t[i], NULL);
    dt = now_s() - t0;
    printf("| unary, 16 B, %d client threads | %.0f calls/s | |\n", c->threads,
           (double)j.calls * c->threads / dt);
    free(t);
}

static void bench_stream(const cfg *c, qv_rpc_channel *ch)
{
    Qvbench__Req rq = QVBENCH__REQ__INIT;
    rq.count = c->calls * 20;
    qv_rpc_stream *s;
    qv_err err;
    double t0 = now_s();
    if (qv_rpc_stream_open(ch, STREAM, &rq.base, NULL, &s, &err) != QV_OK)
        die("stream", &err);
    int got = 0;
    ProtobufCMessage *m;
    qv_arena a;
    qv_arena_init(&a, 1 << 16);
    while (qv_rpc_stream_recv(s, &qvbench__reply__descriptor, NULL, &m, 10000,
                              &err) == QV_OK &&
           m) {
        protobuf_c_message_free_unpacked(m, NULL);
        got++;
    }
    double dt = now_s() - t0;
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    if (got != rq.count)
        die("stream ended early", &err);
    printf("| server stream, small messages | %.0f msgs/s | %d messages |\n",
           got / dt, got);
}

static void bench_large(const cfg *c, qv_rpc_channel *ch)
{
    size_t n = 8u << 20;
    uint8_t *buf = malloc(n);
    memset(buf, 0x5a, n);
    ProtobufCBinaryData p = {n, buf};
    int rounds = c->reps * 3;
    (void)one_call(ch, p);
    double t0 = now_s();
    for (int i = 0; i < rounds; i++)
        (void)one_call(ch, p);
    double dt = now_s() - t0;
    printf("| unary, 8 MiB each way | %.0f MiB/s | %.1f ms per round trip "
           "|\n",
           2.0 * 8 * rounds / dt, dt / rounds * 1e3);
    free(buf);
}

static int arg_int(int argc, char **argv, const char *name, int def)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return atoi(argv[i + 1]);
    }
    return def;
}

int main(int argc, char **argv)
{
    cfg c = {arg_int(argc, argv, "--calls", 20000),
             arg_int(argc, argv, "--threads", 4),
             arg_int(argc, argv, "--workers", 2),
             arg_int(argc, argv, "--reps", 3)};
    if (c.calls < 100 || c.threads < 1 || c.workers < 1 || c.reps < 1) {
        fprintf(stderr, "usage: rpc_bench [--calls N>=100] [--threads T] "
                        "[--workers W] [--reps R]\n");
        return 2;
    }
    qv_log_set_level(QV_LOG_WARN);
    qv_rpc_server_opts so = {.host = "127.0.0.1", .workers = (size_t)c.workers};
    qv_rpc_server *srv;
    qv_err err;
    qv_rpc_method m1 = {.name = ECHO,
                        .kind = QV_RPC_UNARY,
                        .req_desc = &qvbench__req__descriptor,
                        .unary = echo};
    qv_rpc_method m2 = {.name = STREAM,
                        .kind = QV_RPC_SERVER_STREAM,
                        .req_desc = &qvbench__req__descriptor,
                        .stream = stream};
    if (qv_rpc_server_create(&so, &srv, &err) != QV_OK ||
        qv_rpc_server_register(srv, &m1, &err) != QV_OK ||
        qv_rpc_server_register(srv, &m2, &err) != QV_OK ||
        qv_rpc_server_start(srv, &err) != QV_OK)
        die("server", &err);
    (void)snprintf(target, sizeof target, "127.0.0.1:%d",
                   qv_rpc_server_port(srv));
    qv_rpc_channel *ch;
    if (qv_rpc_channel_open(target, &ch, &err) != QV_OK)
        die("channel", &err);
    printf("## RPC layer over loopback (%d server workers)\n\n", c.workers);
    printf("| case | throughput | detail |\n|---|---|---|\n");
    bench_unary(&c, ch);
    bench_stream(&c, ch);
    bench_large(&c, ch);
    qv_rpc_channel_close(ch);
    qv_rpc_server_destroy(srv);
    return 0;
}
