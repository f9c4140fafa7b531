/* e2e.h -- e2e_bench: Quiver measured end to end through its public
 * MilvusService (gRPC + protobuf-c, the same wire format as the SDKs), next
 * to the index library measured in-process on the same data and params.
 *
 * Files:
 *   e2e_bench.c   options and main
 *   e2e_run.c     the phases of a run (e2e_run.h)
 *   e2e_report.c  the tables and the SUMMARY line
 *   e2e_client.c  the MilvusService calls the bench makes (a shared channel,
 *                 and one connection per search thread)
 *   e2e_search.c  timed search loops with N client threads (server or
 *                 library), latency percentiles, recall
 *   e2e_data.c    texmex readers, random vectors, exact ground truth
 *   e2e_spawn.c   starting and stopping `quiver standalone` or the cluster
 *                 (cluster.sh) on 127.0.0.1
 *
 * Ownership: every function that returns an array or a struct with arrays
 * says who frees it; the bench is one process that frees what it allocates.
 * Threading: the search loops run worker threads that share one read-only
 * job description and the process-wide gRPC channel (safe to share, see
 * common/rpc/rpc_client.h); everything else runs on the main thread.
 */
#ifndef QV_E2E_H
#define QV_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc/rpc_client.h"
#include "common/status.h"
#include "index/index.h"

/* ---- data (e2e_data.c) ------------------------------------------------ */

typedef struct e2e_vecs {
    size_t n, d;
    float *x;     /* n x d floats (bvecs widened), or NULL */
    int32_t *ids; /* n x d ids (ivecs), or NULL */
} e2e_vecs;

/* Reads at most max_rows rows (0 = all) of a .fvecs, .bvecs or .ivecs
 * file.  The caller frees with e2e_vecs_free(). */
qv_code e2e_vecs_read(const char *path, size_t max_rows, e2e_vecs *out,
                      qv_err *err) QV_MUST_USE;
void e2e_vecs_free(e2e_vecs *v);

/* n x d uniform random floats in [0, 1) from a fixed seed. */
qv_code e2e_vecs_random(size_t n, size_t d, uint64_t seed, e2e_vecs *out,
                        qv_err *err) QV_MUST_USE;

/* Exact top-k (L2) of every query over base, as ids (an ivecs-like
 * e2e_vecs with d = k), computed with the library's FLAT index. */
qv_code e2e_ground_truth(const e2e_vecs *base, const e2e_vecs *queries,
                         size_t k, e2e_vecs *out, qv_err *err) QV_MUST_USE;

/* recall@k of one query: |ids[0..k) ∩ gt row q [0..k)| / k. */
double e2e_recall_one(const e2e_vecs *gt, size_t q, const int64_t *ids,
                      size_t k);

/* ---- the MilvusService client (e2e_client.c) --------------------------- */

typedef struct e2e_client {
    qv_rpc_channel *ch;
    char address[128];
    int64_t timeout_ms; /* per call */
} e2e_client;

/* Outcome of a call that reached the server: grpc = the gRPC status
 * (0 OK, 12 UNIMPLEMENTED, ...), code = the Milvus Status code, reason. */
typedef struct e2e_reply {
    int grpc;
    int code;
    char reason[256];
} e2e_reply;

#define E2E_GRPC_UNIMPLEMENTED 12

qv_code e2e_client_open(e2e_client *c, const char *address,
                        qv_err *err) QV_MUST_USE;
/* Like e2e_client_open, on a connection of its own (qv_rpc_channel_open_own):
 * what a separate client process has. */
qv_code e2e_client_open_own(e2e_client *c, const char *address,
                            qv_err *err) QV_MUST_USE;
void e2e_client_close(e2e_client *c);

/* Polls CheckHealth until it answers is_healthy or timeout_ms passes. */
qv_code e2e_wait_healthy(e2e_client *c, int64_t timeout_ms,
                         qv_err *err) QV_MUST_USE;
/* One GetVersion round trip (the RPC floor of every call). */
qv_code e2e_ping(e2e_client *c, qv_err *err) QV_MUST_USE;
/* The server's version string (GetVersion), "?" when it has none. */
void e2e_server_version(e2e_client *c, char *out, size_t cap);

/* Drops the collection if it exists (errors other than "not found" are
 * returned). */
qv_code e2e_drop_collection(e2e_client *c, const char *name,
                            qv_err *err) QV_MUST_USE;
/* Creates {id Int64 primary key, v FloatVector(dim)} with `shards` shards
 * and the given consistency level (Milvus enum: 0 Strong .. 3 Eventually). */
qv_code e2e_create_collection(e2e_client *c, const char *name, size_t dim,
                              int shards, int consistency,
                              qv_err *err) QV_MUST_USE;
/* Inserts rows with ids [first_id, first_id + n) and vectors x (n x dim). */
qv_code e2e_insert(e2e_client *c, const char *name, int64_t first_id, size_t n,
                   size_t dim, const float *x, qv_err *err) QV_MUST_USE;
/* Flush, then polls GetFlushState every 100 ms until flushed (bounded by
 * timeout_ms), like the SDK's flushSync.  *nseg = segment ids flushed. */
qv_code e2e_flush_sync(e2e_client *c, const char *name, int64_t timeout_ms,
                       size_t *nseg, qv_err *err) QV_MUST_USE;

/* CreateIndex on field "v": index_type, metric L2 and the params JSON
 * (e.g. {"M":16,"efConstruction":200}).  The call's outcome is in *r
 * (UNIMPLEMENTED and refusals are not errors of this function). */
qv_code e2e_create_index(e2e_client *c, const char *name,
                         const char *index_type, const char *params_json,
                         e2e_reply *r, qv_err *err) QV_MUST_USE;

typedef struct e2e_index_state {
    bool exists;     /* DescribeIndex found an index */
    int state;       /* common.IndexState: 3 Finished, 4 Failed */
    int64_t indexed; /* indexed_rows */
    int64_t total;   /* total_rows */
    int64_t pending; /* pending_index_rows */
    char fail[256];  /* index_state_fail_reason */
    e2e_reply reply; /* the call's outcome */
} e2e_index_state;

qv_code e2e_describe_index(e2e_client *c, const char *name,
                           e2e_index_state *out, qv_err *err) QV_MUST_USE;

qv_code e2e_load(e2e_client *c, const char *name, qv_err *err) QV_MUST_USE;
qv_code e2e_release(e2e_client *c, const char *name, qv_err *err) QV_MUST_USE;
/* GetLoadingProgress (0..100). */
qv_code e2e_loading_progress(e2e_client *c, const char *name, int64_t *out,
                             qv_err *err) QV_MUST_USE;
/* count(*) at Strong consistency. */
qv_code e2e_count(e2e_client *c, const char *name, int64_t *out,
                  qv_err *err) QV_MUST_USE;

/* A prepared nq=1 search: the request is packed per call from these. */
typedef struct e2e_search_req {
    const char *collection;
    size_t dim, topk;
    int ef; /* <= 0: no search params */
    int consistency;
} e2e_search_req;

/* One nq=1 search of query q; ids (topk entries, -1 padded) receive the
 * primary keys of the hits. */
qv_code e2e_search_one(e2e_client *c, const e2e_search_req *rq, const float *q,
                       int64_t *ids, qv_err *err) QV_MUST_USE;

/* ---- timed search loops (e2e_search.c) -------------------------------- */

/* One search of query row q into ids (topk entries) by client thread
 * `thread` (0-based); 0 on success. */
typedef int (*e2e_search_fn)(void *ctx, int thread, size_t q, int64_t *ids);

typedef struct e2e_point {
    int threads;
    double qps;
    double p50_ms, p99_ms, mean_ms;
    size_t calls;
    size_t errors;
    double recall; /* recall@k over the measured calls (NAN: no gt) */
    double srv_ms; /* mean Search latency the proxy itself measured
                      (its /metrics histogram); NAN when unknown */
    double cpu_ms; /* CPU ms per call of the side measured (the server's
                      processes, or this process for the library); NAN
                      when unknown */
} e2e_point;

/* Runs `threads` threads calling fn(ctx, q, ...) over the nq queries (each
 * thread starts at a different query and wraps around) for at least
 * min_seconds and at least one full pass over the queries (min_calls =
 * nq when 0).  Recall is taken from every call against gt (may be NULL). */
qv_code e2e_search_timed(e2e_search_fn fn, void *ctx, int threads, size_t nq,
                         size_t topk, const e2e_vecs *gt, double min_seconds,
                         size_t min_calls, e2e_point *out,
                         qv_err *err) QV_MUST_USE;

/* Monotonic seconds. */
double e2e_now(void);

/* ---- servers (e2e_spawn.c) -------------------------------------------- */

typedef struct e2e_servers {
    char mode[16];     /* "standalone", "cluster" or "" (nothing started) */
    char address[64];  /* the proxy's 127.0.0.1:port */
    char workdir[256]; /* temp dir: data, logs (removed by stop) */
    int pid;           /* standalone: the quiver process */
    int http_port;     /* the proxy's /metrics port (0: unknown) */
    char script[512];  /* cluster: the cluster.sh that started it */
    char roles[256];   /* cluster: which roles run */
    bool keep;         /* keep workdir on stop */
} e2e_servers;

/* Starts `quiver standalone` (quiver_bin) on free ports with a fresh data
 * directory and waits until its MilvusService is healthy. */
qv_code e2e_spawn_standalone(e2e_servers *s, const char *quiver_bin,
                             qv_err *err) QV_MUST_USE;
/* Runs `script start <workdir> <quiver_bin> <kafka_broker_bin>` and reads
 * the proxy address and the roles it started from the workdir. */
qv_code e2e_spawn_cluster(e2e_servers *s, const char *script,
                          const char *quiver_bin, const char *broker_bin,
                          qv_err *err) QV_MUST_USE;
/* Stops what was started (SIGTERM, bounded wait, SIGKILL) and removes the
 * workdir.  No-op when nothing was started. */
void e2e_servers_stop(e2e_servers *s);
/* CPU seconds (user + system) used so far by the started quiver
 * process(es); NAN when the bench did not start them. */
double e2e_servers_cpu_s(const e2e_servers *s);
/* The proxy's Search latency histogram so far (sum of seconds, count),
 * read from its /metrics; QV_E_UNAVAILABLE when the port is unknown. */
qv_code e2e_servers_search_stats(const e2e_servers *s, double *sum,
                                 double *count, qv_err *err) QV_MUST_USE;
/* CPU seconds used so far by this process. */
double e2e_self_cpu_s(void);
/* Prints the last `bytes` of the servers' logs to stderr. */
void e2e_servers_dump_logs(const e2e_servers *s, size_t bytes);

#endif
