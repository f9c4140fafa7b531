/* metakv_etcd_int.h -- internals shared by the etcd meta KV files:
 * metakv_etcd.c (endpoints, auth, retries, KV/txn/lease calls) and
 * metakv_etcd_watch.c (watch streams that survive reconnects).
 */
#ifndef QV_METAKV_ETCD_INT_H
#define QV_METAKV_ETCD_INT_H

#include <pthread.h>

#include "common/arena.h"
#include "common/metakv/metakv_int.h"
#include "common/rpc/rpc_client.h"
#include "etcd/rpc.pb-c.h"

typedef struct etcd_ep {
    char *target; /* "host:port" */
    qv_rpc_channel *ch;
} etcd_ep;

typedef struct etcd_kv {
    metakv base;
    etcd_ep *eps;
    size_t n_eps;
    char *username; /* NULL = no auth */
    char *password;
    pthread_mutex_t mu; /* guards cur, healthy, token */
    size_t cur;         /* endpoint calls go to first */
    bool healthy;       /* the last call on cur reached etcd */
    char *token;        /* auth token, NULL until authenticated */
} etcd_kv;

static inline etcd_kv *E(metakv *kv)
{
    return (etcd_kv *)kv;
}

/* One attempt of a call on one endpoint.  md/n_md carry the auth token;
 * *status receives the gRPC status (0 = OK). */
typedef qv_code (*etcd_attempt_fn)(etcd_kv *ek, etcd_ep *ep,
                                   const qv_rpc_md *md, size_t n_md,
                                   int64_t timeout_ms, void *ctx, int *status,
                                   qv_err *err);

/* Runs attempt until it succeeds, with failover over the endpoints and
 * backoff while etcd is unreachable (idempotent calls only), within the
 * store's timeout; re-authenticates once when the token is refused.
 * Errors are mapped (compacted, lease not found, permission) and prefixed
 * with "etcd <endpoint>: <op> '<subject>'". */
qv_code metakv__etcd_run(etcd_kv *ek, const char *op, const char *subject,
                         bool idempotent, etcd_attempt_fn attempt, void *ctx,
                         qv_err *err);

/* metakv__etcd_run with an explicit overall timeout. */
qv_code metakv__etcd_run_for(etcd_kv *ek, uint32_t timeout_ms, const char *op,
                             const char *subject, bool idempotent,
                             etcd_attempt_fn attempt, void *ctx, qv_err *err);
/* The current revision with the given timeout: also makes sure a channel
 * is connected (gRPC only connects while some call waits on it). */
qv_code metakv__etcd_probe(metakv *kv, uint32_t timeout_ms, int64_t *rev,
                           qv_err *err);

/* Makes sure an endpoint answers (a user without read access to "\0"
 * counts as answered). */
qv_code metakv__etcd_reach(metakv *kv, uint32_t timeout_ms, qv_err *err);
/* The store revision, read with a count-only Range over the prefix (a
 * user allowed to watch the prefix may read it). */
qv_code metakv__etcd_prefix_rev(metakv *kv, const void *prefix,
                                size_t prefix_len, int64_t *rev, qv_err *err);

/* The current revision (cheap Range). */
qv_code metakv__etcd_revision(metakv *kv, int64_t *rev, qv_err *err);

/* Milliseconds left until a monotonic deadline (never negative). */
int64_t metakv__etcd_left_ms(uint64_t deadline_ms);

/* Copies the auth metadata ("token") into md (1 entry) under the lock;
 * returns the number of entries.  tokbuf holds the token's copy. */
size_t metakv__etcd_auth_md(etcd_kv *ek, qv_rpc_md *md, char *tokbuf,
                            size_t cap);

qv_code metakv__etcd_watch_open(metakv *kv, const void *prefix,
                                size_t prefix_len, int64_t from_rev,
                                metakv_watch **out, qv_err *err);
qv_code metakv__etcd_watch_next(metakv_watch *w, uint32_t wait_ms,
                                metakv_events *out, qv_err *err);
void metakv__etcd_watch_close(metakv_watch *w);

#endif
