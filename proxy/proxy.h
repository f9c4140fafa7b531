/* proxy.h -- the proxy role: the public MilvusService on :19530.
 *
 * The proxy is stateless (DESIGN §1): it owns an RPC server and answers
 * MilvusService and ClientTelemetryService calls through one handler per
 * RPC (rpc_<method>.c, listed in dispatch.c).  Application errors travel in
 * common.Status with gRPC OK; gRPC status codes are for transport and
 * authentication failures (notes/sdk-compat.md §1.7).
 *
 * DDL and metadata RPCs are validated here (names, required fields, the
 * database from the request, the `dbname` header or "default") and
 * forwarded to the active coord's CoordService, found through meta KV
 * (coord_link.h); collection descriptions are cached with invalidation
 * (meta_cache.h).  With a meta KV the proxy also registers its session
 * "<root>session/proxy-<id>".  Without one (tests of the handshake) DDL
 * answers "not ready".
 *
 * Lifecycle: create -> start -> (serve) -> stop -> destroy.  stop is
 * graceful (in-flight calls finish within a bound); destroy stops first
 * if needed.
 *
 * Threading: create/start/stop/destroy from one thread; handlers run on
 * the RPC server's worker pool.
 */
#ifndef QV_PROXY_H
#define QV_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/rpc/rpc_server.h"
#include "common/status.h"
#include "common/wal/wal.h"

typedef struct qv_proxy qv_proxy;

/* Optional health probe for CheckHealth: returns QV_OK when healthy, or a
 * code with err->msg as the reason reported to the client. */
typedef qv_code (*qv_proxy_health_fn)(void *user_data, qv_err *err);

typedef struct qv_proxy_options {
    const char *host;          /* listen host; NULL = "0.0.0.0" */
    int port;                  /* 0 = ephemeral (see qv_proxy_port) */
    size_t workers;            /* handler threads; 0 = number of CPUs */
    const char *version;       /* GetVersion; NULL = the build's version */
    const char *deploy_mode;   /* ServerInfo.deploy_mode; NULL = "STANDALONE" */
    int64_t max_recv_bytes;    /* 0 = 512 MiB (at least 256 MiB for SDKs) */
    int64_t shutdown_grace_ms; /* 0 = 5000 */
    qv_rpc_call_done_fn on_call_done; /* metrics hook, may be NULL */
    void *on_call_done_data;
    qv_proxy_health_fn health; /* may be NULL: always healthy */
    void *health_data;
    /* TLS on the public port (off when NULL): PEM certificate chain and
     * key; with tls_client_ca_file, clients must present a certificate
     * signed by it (mutual TLS).  Files are read at start. */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_client_ca_file;
    /* Metadata: the meta KV (borrowed; must outlive the proxy; NULL = no
     * coord), its key root (NULL = "quiver/"), the session TTL (0 = 10 s)
     * and the address other processes reach this proxy at (NULL = host:port
     * with 127.0.0.1 for a wildcard host). */
    metakv *kv;
    const char *meta_root;
    int64_t session_ttl_s;
    const char *advertise;
    /* Data path: the write log (borrowed; NULL = writes answer "not
     * ready"), the largest log record (0 = 1000000, under Kafka's default
     * message.max.bytes) and how long reads wait for tsafe (0 = 10000). */
    wal *log;
    size_t max_record_bytes;
    uint32_t read_wait_ms;
    /* Time travel window (common.dataRetention): older travel timestamps
     * are refused.  0 = 1 h.  Process-wide: the last proxy created sets
     * it. */
    uint64_t retention_ms;
} qv_proxy_options;

/* Creates the proxy and registers its handlers (not listening yet).  The
 * strings in opts are copied. */
qv_code qv_proxy_create(const qv_proxy_options *opts, qv_proxy **out,
                        qv_err *err) QV_MUST_USE;
/* Binds and serves.  A busy port fails with a message naming the
 * address. */
qv_code qv_proxy_start(qv_proxy *p, qv_err *err) QV_MUST_USE;
/* The bound port after a successful start, else 0. */
int qv_proxy_port(const qv_proxy *p);
/* Graceful stop; idempotent. */
void qv_proxy_stop(qv_proxy *p);
/* Stops if needed and frees.  NULL is a no-op. */
void qv_proxy_destroy(qv_proxy *p);

#endif
