/* rpc_server_int.h -- server internals shared by rpc_server.c (lifecycle,
 * completion-queue thread) and rpc_call.c (per-call state machine).
 *
 * A call context (qv_rpc_call) is reference counted: one reference per
 * outstanding gRPC batch, plus one while a worker owns the call.  The last
 * unref reports the call to on_call_done and frees it.  Refs and flags that
 * more than one thread touches are atomics.
 */
#ifndef QV_RPC_SERVER_INT_H
#define QV_RPC_SERVER_INT_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/pool.h"
#include "common/rpc/rpc_internal.h"
#include "common/rpc/rpc_server.h"

typedef struct reg_method {
    char *name;
    qv_rpc_method m;
} reg_method;

struct qv_rpc_server {
    qv_rpc_server_opts opts; /* strings point at the copies below */
    char *host;
    char *tls_cert, *tls_key, *tls_ca;
    char addr[300]; /* "host:port" as bound */
    grpc_server *server;
    grpc_completion_queue *cq; /* == cqs[0]: shutdown notification */
    /* inline_unary: one queue per draining thread (a call completes on the
     * queue it was requested on); otherwise one queue, cqs[0] */
    grpc_completion_queue **cqs;
    size_t n_cqs;
    qv_pool *pool;
    pthread_t cq_thread;
    bool thread_running; /* guarded by life_mu */
    /* inline_unary: the threads draining cqs[i] (they run handlers) */
    pthread_t *extra_threads;
    struct cq_drainer *drainers;
    size_t n_extra;
    atomic_bool notified; /* the shutdown tag came back */
    bool started;
    bool destroyed_grpc; /* server and cq destroyed */
    int port;
    reg_method *methods; /* sorted by name at start */
    size_t n_methods, cap_methods;
    pthread_mutex_t life_mu;    /* serialises start/shutdown/destroy */
    atomic_bool stop_requested; /* set under stop_mu, with stop_cv */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv; /* the idle supervisor waits here */
    atomic_bool cancel_all; /* grace period over: calls are cancelled */
    atomic_long inflight;   /* accepted calls not yet freed */
    int shutdown_tag;       /* address used as the shutdown tag */
    /* in-process calls (rpc_local.c): running count, guarded by the
     * registry's lock; listed = reachable through the registry */
    long local_calls;
    bool local_listed;
};

typedef enum tag_kind {
    TAG_NEW,   /* grpc_server_request_call completed */
    TAG_READ,  /* request message received */
    TAG_SEND,  /* a streamed reply was sent */
    TAG_FINAL, /* the status batch completed */
    TAG_CLOSE, /* RECV_CLOSE_ON_SERVER: the call is over on the wire */
} tag_kind;

typedef struct call_tag {
    tag_kind kind;
    qv_rpc_call *call;
} call_tag;

struct qv_rpc_call {
    qv_rpc_server *srv;
    grpc_call *call;
    grpc_completion_queue *cq; /* the queue its batches complete on */
    bool defer_request;        /* on_read requests the queue's next call */
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *in;
    const reg_method *m; /* NULL for unknown methods */
    call_tag t_new, t_read, t_send, t_final, t_close;
    atomic_int refs;
    atomic_bool client_cancelled; /* from RECV_CLOSE_ON_SERVER */
    int close_cancelled;          /* written by gRPC */
    bool md_sent;                 /* initial metadata sent (owner thread) */
    atomic_int status_sent;       /* gRPC status in the final batch */
    atomic_bool final_ok;
    int64_t start_ns;
    qv_arena arena; /* owner thread: the worker while the handler runs */
    char *peer;
    /* streaming sends: the worker waits for TAG_SEND */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool send_done, send_ok;
    /* in-process call (rpc_local.c): no grpc_call; metadata is the
     * caller's, details.deadline the deadline */
    bool local;
    const qv_rpc_md *lmd;
    size_t n_lmd;
};

/* Posts one grpc_server_request_call (CQ thread or start). */
void qv_rpc__call_request_new(qv_rpc_server *s, grpc_completion_queue *cq);
/* Advances the call owning tag t (CQ thread). */
void qv_rpc__call_on_event(call_tag *t, bool ok);
/* The registered method called name, or NULL. */
const reg_method *qv_rpc__find_method(const qv_rpc_server *s, const char *name,
                                      size_t len);

/* ---- in-process calls (rpc_local.c) ---- */
/* Lists a started server without TLS so that in-process clients can call
 * its handlers directly. */
void qv_rpc__local_add(qv_rpc_server *s);
/* Unlists s, then waits until no in-process call runs on it (cancelling
 * them once the grace period is over). */
void qv_rpc__local_remove(qv_rpc_server *s);

#endif
