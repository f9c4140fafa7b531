/* rpc_internal.h -- helpers shared by the RPC server and client files.
 * Not part of the public API.  Threading: all functions are thread-safe. */
#ifndef QV_RPC_INTERNAL_H
#define QV_RPC_INTERNAL_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

/* Packs m into a new byte buffer (caller: grpc_byte_buffer_destroy).
 * Returns NULL when the message is too big to allocate. */
grpc_byte_buffer *qv_rpc__pack(const ProtobufCMessage *m);

/* Unpacks bb as desc into arena (NULL: default allocator).  Fails with
 * QV_E_INVALID when the bytes do not parse, QV_E_NOMEM when too big. */
qv_code qv_rpc__unpack(const ProtobufCMessageDescriptor *desc,
                       grpc_byte_buffer *bb, qv_arena *arena,
                       ProtobufCMessage **out, qv_err *err);

/* Absolute realtime deadline ms from now; ms < 0 gives infinite future. */
gpr_timespec qv_rpc__deadline_in(int64_t ms);
/* Milliseconds from now until t (INT64_MAX for infinite, negative when
 * passed). */
int64_t qv_rpc__ms_until(gpr_timespec t);

/* Copies a slice into a NUL-terminated arena string. */
char *qv_rpc__slice_dup(qv_arena *a, grpc_slice s);

/* ---- client side ---- */
#include "common/rpc/rpc_client.h"

#define QV_RPC_IDLE_CQS 16

struct qv_rpc_channel {
    char *target;
    char *key; /* cache key: target plus TLS settings */
    grpc_channel *ch;
    int refs; /* guarded by the cache lock in rpc_client.c */
    struct qv_rpc_channel *next;
    /* Idle pluck queues for unary calls, reused so that a call does not
     * create and destroy a queue (and, with the poll engine, its wake-up
     * fd); all their tags were plucked.  Destroyed with the channel. */
    pthread_mutex_t cq_mu;
    grpc_completion_queue *idle_cq[QV_RPC_IDLE_CQS];
    int n_idle_cq;
};

/* Adds a reference to an open channel (streams hold one). */
void qv_rpc__channel_ref(qv_rpc_channel *ch);

/* Fills md[0..n) from opts (at most QV_RPC_MAX_MD entries are used). */
#define QV_RPC_MAX_MD 16
size_t qv_rpc__md_fill(const qv_rpc_call_opts *opts, grpc_metadata *md);
/* Initial-metadata flags for opts (wait-for-ready unless fail-fast). */
uint32_t qv_rpc__md_flags(const qv_rpc_call_opts *opts);

/* Turns a finished call's status into a qv_code + message naming the
 * method and target.  When the deadline passed while the channel was not
 * connected, reports QV_E_UNAVAILABLE. */
qv_code qv_rpc__status_fail(qv_rpc_channel *ch, const char *method,
                            grpc_status_code st, grpc_slice details,
                            const char *error_string, qv_err *err);

/* TLS credentials (rpc_tls.c); *out is written on success only. */
qv_code qv_rpc__channel_creds(const qv_rpc_tls *tls,
                              grpc_channel_credentials **out, qv_err *err);
struct qv_rpc_server_opts;
qv_code qv_rpc__server_creds(const struct qv_rpc_server_opts *o,
                             grpc_server_credentials **out, qv_err *err);

/* In-process shortcut (rpc_local.c): when enabled and ch's target is a
 * server of this process with a unary handler for method, runs it here,
 * sets *rc (and *resp, err) and returns true; else returns false. */
bool qv_rpc__local_unary(qv_rpc_channel *ch, const char *method,
                         const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_desc,
                         qv_arena *arena, ProtobufCMessage **resp,
                         const qv_rpc_call_opts *opts, qv_code *rc,
                         qv_err *err);

/* Shuts down and destroys a pluck queue whose tags were all plucked. */
void qv_rpc__cq_destroy(grpc_completion_queue *cq);

/* grpc_init() with the polling engine of rpc_init.c chosen (linking this
 * file is what installs its constructor). */
void qv_rpc__grpc_init(void);

#endif
