/* rpc_client.h -- gRPC client on the gRPC C core with protobuf-c messages.
 *
 * A channel is one HTTP/2 connection (re-established by gRPC core when it
 * drops) to a target "host:port".  Channels are shared through a process-wide
 * cache keyed by target: qv_rpc_channel_open() on a target that is already
 * open returns the same channel with its reference count raised, and the
 * channel is destroyed when the last reference is closed.
 *
 * Calls:
 *  - qv_rpc_unary(): one request, one reply, with a deadline; calls marked
 *    QV_RPC_IDEMPOTENT are retried with exponential backoff (and jitter)
 *    while the server is UNAVAILABLE, within the same overall deadline.
 *  - qv_rpc_stream_open(): server streaming (one request, many replies).
 *  - qv_rpc_bidi_open(): bidirectional streaming (etcd Watch,
 *    LeaseKeepAlive): send and receive independently, half-close or cancel.
 *
 * Messages are packed and unpacked here; callers see typed protobuf-c
 * messages.  Replies are unpacked into the caller's arena when one is given
 * (nothing to free: releasing the arena frees them), otherwise with the
 * default allocator (free with protobuf_c_message_free_unpacked(m, NULL)).
 *
 * Errors: every function returns a qv_code and fills err with a message that
 * names the method and the target, e.g.
 *   "rpc '/etcdserverpb.KV/Put' to '127.0.0.1:2379': UNAVAILABLE: ...".
 * gRPC status codes map to qv_code in proto/rpc_status.c (UNAVAILABLE ->
 * QV_E_UNAVAILABLE, DEADLINE_EXCEEDED -> QV_E_TIMEOUT, CANCELLED ->
 * QV_E_CANCELLED, ...); opts->status_out receives the raw gRPC status.
 *
 * Threading: channels and qv_rpc_unary() may be used from any number of
 * threads at once.  A stream belongs to one user, but its send side and its
 * receive side may each be driven by a different thread (at most one send
 * and one receive in flight); qv_rpc_stream_cancel() may be called from any
 * thread at any time.
 */
#ifndef QV_RPC_CLIENT_H
#define QV_RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct qv_rpc_channel qv_rpc_channel;
typedef struct qv_rpc_stream qv_rpc_stream;

/* One request metadata entry (a gRPC header).  Keys are lowercase ASCII;
 * values are plain ASCII (no "-bin" keys). */
typedef struct qv_rpc_md {
    const char *key;
    const char *value;
} qv_rpc_md;

enum qv_rpc_call_flags {
    /* Safe to resend: retried while the server is UNAVAILABLE. */
    QV_RPC_IDEMPOTENT = 1 << 0,
    /* Fail at once when the target cannot be reached.  By default a call
     * waits (until its deadline; streams without a deadline: at most
     * QV_RPC_DEFAULT_TIMEOUT_MS to open) for the channel to connect, so a
     * backend that restarts is ridden out.  A call that times out while the
     * target is unreachable fails with QV_E_UNAVAILABLE. */
    QV_RPC_FAIL_FAST = 1 << 1,
};

#define QV_RPC_DEFAULT_TIMEOUT_MS 10000

/* Per-call options; a NULL opts means all defaults. */
typedef struct qv_rpc_call_opts {
    /* Overall deadline of the call, retries included.  0 = default
     * (QV_RPC_DEFAULT_TIMEOUT_MS for unary calls, none for streams);
     * negative = no deadline. */
    int64_t timeout_ms;
    unsigned flags;      /* enum qv_rpc_call_flags */
    int max_attempts;    /* idempotent calls; 0 = default (5) */
    const qv_rpc_md *md; /* request metadata (at most 16), may be NULL */
    size_t n_md;
    int *status_out; /* if not NULL: the final gRPC status code (0 = OK) */
} qv_rpc_call_opts;

/* Opens (or shares) the channel to target ("host:port", or gRPC's
 * "ipv4:host:port" to skip name resolution).  The channel keeps gRPC core
 * initialised while it exists.  Receive and send limits are unlimited;
 * keepalive pings every 30 s are allowed without calls; host names are
 * re-resolved at most every second after a failure. */
qv_code qv_rpc_channel_open(const char *target, qv_rpc_channel **out,
                            qv_err *err) QV_MUST_USE;

/* TLS settings of a channel; paths of PEM files, read at open. */
typedef struct qv_rpc_tls {
    const char *ca_file;     /* roots to verify the server; NULL = system */
    const char *cert_file;   /* client certificate (mutual TLS) or NULL */
    const char *key_file;    /* its private key (with cert_file) or NULL */
    const char *server_name; /* name to verify instead of the target host,
                                or NULL */
} qv_rpc_tls;

/* Like qv_rpc_channel_open over TLS.  Channels are shared only between
 * callers with the same target and the same TLS settings.  An unreadable
 * file fails with QV_E_IO naming it; a server whose certificate does not
 * verify makes calls fail with QV_E_UNAVAILABLE. */
qv_code qv_rpc_channel_open_tls(const char *target, const qv_rpc_tls *tls,
                                qv_rpc_channel **out, qv_err *err) QV_MUST_USE;

/* Like qv_rpc_channel_open() but never shared: the channel has its own
 * HTTP/2 connection (neither the cache nor gRPC core's subchannel pool
 * hand it to anyone else), as a separate client process would.  For
 * clients that want their calls spread over a server's threads: a server
 * reads each connection on one thread. */
qv_code qv_rpc_channel_open_own(const char *target, qv_rpc_channel **out,
                                qv_err *err);
/* Drops one reference; the last one destroys the channel.  Calls and
 * streams on it must be finished (or closed) first. */
void qv_rpc_channel_close(qv_rpc_channel *ch);
/* The target string; valid while the channel is open. */
const char *qv_rpc_channel_target(const qv_rpc_channel *ch);

/* A unary call of `method` (full path, e.g. "/etcdserverpb.KV/Range").
 * On success *resp is a reply of type resp_desc: in arena (may be NULL, see
 * the header comment).  *resp is written only on success. */
qv_code qv_rpc_unary(qv_rpc_channel *ch, const char *method,
                     const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc,
                     qv_arena *arena, ProtobufCMessage **resp,
                     const qv_rpc_call_opts *opts, qv_err *err) QV_MUST_USE;

/* In-process calls (off by default; `quiver standalone` turns them on):
 * a unary call whose target is a started, non-TLS qv_rpc_server of this
 * process (same port, same or loopback host) runs the handler on the
 * calling thread instead of going through gRPC.  The request and reply
 * are still packed and unpacked (nothing is shared with the handler);
 * statuses, error messages, deadlines, metadata and message limits are as
 * over gRPC; the handler sees the peer "local".  TLS channels and streams
 * always use gRPC.  The environment variable QV_RPC_LOCAL=0 keeps
 * them off even when enabled. */
void qv_rpc_local_enable(bool on);
bool qv_rpc_local_enabled(void);

/* Starts a server-streaming call: sends req and half-closes.  Read the
 * replies with qv_rpc_stream_recv(); always finish with
 * qv_rpc_stream_close(). */
qv_code qv_rpc_stream_open(qv_rpc_channel *ch, const char *method,
                           const ProtobufCMessage *req,
                           const qv_rpc_call_opts *opts, qv_rpc_stream **out,
                           qv_err *err) QV_MUST_USE;

/* Starts a bidirectional streaming call (nothing is sent yet). */
qv_code qv_rpc_bidi_open(qv_rpc_channel *ch, const char *method,
                         const qv_rpc_call_opts *opts, qv_rpc_stream **out,
                         qv_err *err) QV_MUST_USE;

/* Sends one message on a bidi stream and waits until gRPC has taken it
 * (flow control may make this wait; bounded by the call's deadline). */
qv_code qv_rpc_stream_send(qv_rpc_stream *s, const ProtobufCMessage *msg,
                           qv_err *err) QV_MUST_USE;
/* Half-closes the send side of a bidi stream (no more sends). */
qv_code qv_rpc_stream_close_send(qv_rpc_stream *s, qv_err *err) QV_MUST_USE;

/* Receives the next message, waiting at most wait_ms (negative = until the
 * call's deadline).
 *  - QV_OK with *msg set: a message (in arena if given, see above).
 *  - QV_OK with *msg == NULL: the stream ended with status OK.
 *  - QV_E_TIMEOUT with "wait" in the message: wait_ms passed and nothing
 *    arrived; the stream is still usable (call recv again).
 *  - any other error: the stream ended with that status (or failed). */
qv_code qv_rpc_stream_recv(qv_rpc_stream *s,
                           const ProtobufCMessageDescriptor *desc,
                           qv_arena *arena, ProtobufCMessage **msg,
                           int64_t wait_ms, qv_err *err) QV_MUST_USE;

/* Cancels the call: pending and later sends/receives fail with
 * QV_E_CANCELLED.  Safe from any thread, idempotent. */
void qv_rpc_stream_cancel(qv_rpc_stream *s);

/* Cancels the call if it is still running, waits (bounded) for gRPC to
 * hand back everything in flight and frees the stream.  NULL is a no-op. */
void qv_rpc_stream_close(qv_rpc_stream *s);

#endif
