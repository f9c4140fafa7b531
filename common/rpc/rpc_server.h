/* rpc_server.h -- gRPC server on the gRPC C core with protobuf-c messages.
 *
 * Handlers are registered per full method name ("/pkg.Service/Method") as
 * unary or server-streaming.  The server unpacks the request (into the
 * call's arena, so handlers never free it), runs the handler on a worker
 * pool, packs the reply and sends the status.  Unknown methods get
 * UNIMPLEMENTED.  A handler error (a qv_code) becomes a gRPC status through
 * proto/rpc_status.c, with err->msg as the status details.
 *
 * Threads: one completion-queue thread advances every call's state machine
 * and never blocks; handlers run on the worker pool.  When the pool's queue
 * is full a call is answered RESOURCE_EXHAUSTED instead of waiting.  With
 * opts.inline_unary, `workers` threads (at most 64) each drain a
 * completion queue of their own and run unary handlers themselves; a queue
 * holds one pending call request, renewed when its handler returns, so a
 * call goes to a free thread or waits in gRPC (streaming handlers keep the
 * pool).  gRPC's polling engine is chosen in rpc_init.c.
 *
 * Deadlines: gRPC cancels a call whose deadline passes; a handler can see
 * it with qv_rpc_call_ms_left() / qv_rpc_call_expired() and should stop
 * early.  Calls that are already past their deadline when a worker picks
 * them up are answered DEADLINE_EXCEEDED without running the handler.
 *
 * Shutdown: qv_rpc_server_shutdown() stops accepting calls, lets in-flight
 * calls finish for up to opts.shutdown_grace_ms, then cancels the rest and
 * waits for their handlers to return (handlers must therefore be bounded:
 * check qv_rpc_call_expired() in long loops).
 *
 * Channel settings follow what the Milvus SDKs need (notes/sdk-compat.md
 * §1.2, §9): keepalive pings allowed without calls, minimum ping interval
 * 5 s, receive/send limits from the options (default 512 MiB), and no
 * SO_REUSEPORT (a second server on a busy port fails with a clear error).
 *
 * Ownership: the server owns its pool, threads and calls.  Everything a
 * handler gets from a qv_rpc_call lives until the call completes.
 */
#ifndef QV_RPC_SERVER_H
#define QV_RPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct qv_rpc_server qv_rpc_server;
typedef struct qv_rpc_call qv_rpc_call;

typedef enum qv_rpc_kind {
    QV_RPC_UNARY = 0,
    QV_RPC_SERVER_STREAM = 1,
} qv_rpc_kind;

/* Unary handler: on success sets *resp to a reply message (allocate it in
 * qv_rpc_call_arena(); it is packed after the handler returns) and returns
 * QV_OK.  On failure returns the code and fills err; no reply is sent. */
typedef qv_code (*qv_rpc_unary_fn)(qv_rpc_call *call,
                                   const ProtobufCMessage *req,
                                   ProtobufCMessage **resp, void *user_data,
                                   qv_err *err);
/* Server-streaming handler: sends replies with qv_rpc_call_send() and
 * returns the final status (QV_OK or an error with err filled). */
typedef qv_code (*qv_rpc_stream_fn)(qv_rpc_call *call,
                                    const ProtobufCMessage *req,
                                    void *user_data, qv_err *err);

typedef struct qv_rpc_method {
    const char *name; /* full path, e.g. "/milvus.proto.milvus.MilvusService/
                         Connect"; copied at registration */
    qv_rpc_kind kind;
    const ProtobufCMessageDescriptor *req_desc;
    qv_rpc_unary_fn unary;   /* QV_RPC_UNARY */
    qv_rpc_stream_fn stream; /* QV_RPC_SERVER_STREAM */
    void *user_data;
} qv_rpc_method;

/* One row of a service's table of unary methods. */
typedef struct qv_rpc_unary_def {
    const char *name; /* full method path */
    const ProtobufCMessageDescriptor *req_desc;
    qv_rpc_unary_fn fn;
} qv_rpc_unary_def;

/* Observability hook, called once per finished call on a server thread
 * (the completion-queue thread or a worker; keep it short, non-blocking and
 * thread-safe).  method is the registered name,
 * or "unknown" for unregistered methods (bounded label cardinality);
 * grpc_status is the status the client saw (CANCELLED if it went away,
 * DEADLINE_EXCEEDED if the deadline passed). */
typedef void (*qv_rpc_call_done_fn)(const char *method, int grpc_status,
                                    int64_t duration_ns, void *user_data);

typedef struct qv_rpc_server_opts {
    const char *host;          /* "127.0.0.1", "0.0.0.0", "[::]", "localhost" */
    int port;                  /* 0 = ephemeral (see qv_rpc_server_port) */
    size_t workers;            /* handler threads; 0 = number of CPUs */
    size_t queue_cap;          /* calls waiting for a worker; 0 = 1024 */
    int64_t max_recv_bytes;    /* 0 = 512 MiB; negative = unlimited */
    int64_t max_send_bytes;    /* 0 = 512 MiB; negative = unlimited */
    int64_t shutdown_grace_ms; /* 0 = 5000 */
    qv_rpc_call_done_fn on_call_done; /* may be NULL */
    void *on_call_done_data;
    /* TLS (off when both are NULL): PEM certificate chain and key. */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* With TLS: require client certificates signed by these PEM roots
     * (mutual TLS); NULL = no client certificates. */
    const char *tls_client_ca_file;
    /* Unary handlers run on the completion-queue threads (`workers` of
     * them, 0 = number of CPUs) instead of being handed to a worker: one
     * thread hand-off less per call.  No RESOURCE_EXHAUSTED queue: while
     * every thread runs a handler, new calls wait in gRPC.  Streaming
     * handlers still run on the worker pool. */
    bool inline_unary;
} qv_rpc_server_opts;

/* Makes every server created afterwards in this process use inline_unary.
 * QV_RPC_INLINE=0 in the environment keeps it off. */
void qv_rpc_server_inline_default(bool on);

/* Creates a server (not listening yet).  *out is written on success only;
 * destroy it with qv_rpc_server_destroy(). */
qv_code qv_rpc_server_create(const qv_rpc_server_opts *opts,
                             qv_rpc_server **out, qv_err *err) QV_MUST_USE;
/* Registers a handler; only before qv_rpc_server_start().  Fails with
 * QV_E_EXISTS for a duplicate name and QV_E_INVALID for a bad method. */
qv_code qv_rpc_server_register(qv_rpc_server *s, const qv_rpc_method *m,
                               qv_err *err) QV_MUST_USE;
/* Registers n unary methods, each with user_data ud. */
qv_code qv_rpc_server_register_unary(qv_rpc_server *s,
                                     const qv_rpc_unary_def *defs, size_t n,
                                     void *ud, qv_err *err) QV_MUST_USE;
/* Binds host:port and starts serving.  A busy port fails with
 * QV_E_UNAVAILABLE and a message naming the address; an unreadable TLS
 * file with QV_E_IO naming the file. */
qv_code qv_rpc_server_start(qv_rpc_server *s, qv_err *err) QV_MUST_USE;
/* The bound port (after a successful start), else 0. */
int qv_rpc_server_port(const qv_rpc_server *s);
/* Where peers reach a started server, into buf: `advertise` when it is set,
 * else the listen host (127.0.0.1 for 0.0.0.0 / ::) and the bound port. */
void qv_rpc_server_advertise(const qv_rpc_server *s, const char *advertise,
                             char *buf, size_t cap);
/* Graceful shutdown as described above; idempotent. */
void qv_rpc_server_shutdown(qv_rpc_server *s);
/* Shuts down if needed and frees everything.  NULL is a no-op. */
void qv_rpc_server_destroy(qv_rpc_server *s);

/* ---- what a handler can see of its call (any handler thread) ---- */

/* The first value of request metadata `key` (lowercase), NUL-terminated,
 * or NULL if absent.  E.g. "authorization", "dbname", "identifier". */
const char *qv_rpc_call_metadata(qv_rpc_call *c, const char *key);
/* The peer address, e.g. "ipv4:127.0.0.1:53120" (never NULL). */
const char *qv_rpc_call_peer(qv_rpc_call *c);
/* The method name as registered. */
const char *qv_rpc_call_method(const qv_rpc_call *c);
/* The call's arena: freed when the call completes. */
qv_arena *qv_rpc_call_arena(qv_rpc_call *c);
/* Milliseconds until the deadline (negative once passed); INT64_MAX when
 * the call has no deadline. */
int64_t qv_rpc_call_ms_left(const qv_rpc_call *c);
/* True once the deadline passed, the client cancelled or the server is
 * shutting down past its grace period. */
bool qv_rpc_call_expired(const qv_rpc_call *c);
/* Streaming handlers: sends one reply and waits until gRPC took it.  Fails
 * with QV_E_CANCELLED when the client went away or the call was cancelled
 * (the handler should then return). */
qv_code qv_rpc_call_send(qv_rpc_call *c, const ProtobufCMessage *msg,
                         qv_err *err) QV_MUST_USE;

#endif
