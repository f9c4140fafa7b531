/* proxy_int.h -- proxy internals shared by proxy.c, dispatch.c and the
 * rpc_<method>.c handlers.  Not part of the public API.
 *
 * Handlers are qv_rpc_unary_fn with user_data = the qv_proxy.  They build
 * replies in the call's arena and always set `status` (the SDK
 * dereferences it unconditionally).
 */
#ifndef QV_PROXY_INT_H
#define QV_PROXY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/hts.h"
#include "common/rpc/rpc_server.h"
#include "milvus/common.pb-c.h"
#include "milvus/milvus.pb-c.h"
#include "common/session/kept_session.h"
#include "proto/rpc_status.h"
#include "proxy/coord_link.h"
#include "proxy/meta_cache.h"
#include "proxy/proxy.h"

#define QV_MILVUS_SERVICE    "/milvus.proto.milvus.MilvusService/"
#define QV_TELEMETRY_SERVICE "/milvus.proto.milvus.ClientTelemetryService/"

struct qv_proxy {
    qv_proxy_options opts; /* strings point at the copies below */
    char *host, *version, *deploy_mode;
    char *meta_root, *advertise;
    qv_rpc_server *srv;
    atomic_llong next_identifier; /* Connect: per-connection ids */
    qv_coord_link *link;          /* NULL without meta KV */
    qv_meta_cache *cache;         /* describe replies */
    /* The kept session (proxy_session.c); NULL without meta KV. */
    qv_kept_session *session;
    /* Time ticks (proxy_tt.c): writes in flight, guarded by tt_mu; the
     * reporter thread reports a bound to the coord every 50 ms. */
    pthread_mutex_t tt_mu;
    pthread_cond_t tt_cv;
    struct qv_inflight *inflight;
    qv_ts tt_last_alloc; /* the newest timestamp the reporter allocated */
    bool tt_ready;       /* a report was accepted */
    bool tt_stop;
    pthread_t tt_thread;
    bool tt_started;
    /* Last acknowledged write per collection (rpc_read.c), tt_mu. */
    struct {
        int64_t coll;
        qv_ts ts;
    } * lw;
};

/* One write in flight (proxy_tt.c): registered before its timestamp is
 * allocated, so the reporter never reports past it.  lb: a timestamp
 * allocated before registration (the write's ts will be greater). */
typedef struct qv_inflight {
    struct qv_inflight *next;
    qv_ts lb, ts; /* ts 0 = not allocated yet */
} qv_inflight;

/* Registers f; waits (bounded by the call) until the reporter has had a
 * report accepted, so the coord's ticks include this proxy. */
qv_code qv_proxy__dml_begin(qv_proxy *p, qv_rpc_call *call, qv_inflight *f,
                            qv_err *err);
void qv_proxy__dml_set_ts(qv_proxy *p, qv_inflight *f, qv_ts ts);
void qv_proxy__dml_end(qv_proxy *p, qv_inflight *f);
void qv_proxy__tt_start(qv_proxy *p);
void qv_proxy__tt_stop(qv_proxy *p);
/* A Strong read's guarantee: a fresh timestamp, reported with a request
 * to tick at once (proxy_tt.c). */
qv_code qv_proxy__strong_ts(qv_proxy *p, qv_rpc_call *call, qv_ts *ts,
                            qv_err *err);
/* Records an acknowledged write (Bounded and Session reads cover it). */
void qv_proxy__note_write(qv_proxy *p, int64_t coll, qv_ts ts);
/* A fresh timestamp from the coord. */
qv_code qv_proxy__alloc_ts(qv_proxy *p, qv_rpc_call *call, qv_ts *ts,
                           qv_err *err);

/* Registers the proxy's session and starts its keeper (proxy_session.c);
 * stop ends both (idempotent). */
qv_code qv_proxy__session_start(qv_proxy *p, qv_err *err);
void qv_proxy__session_stop(qv_proxy *p);

/* One RPC of the dispatch table. */
typedef qv_rpc_unary_def qv_proxy_rpc;

extern const qv_proxy_rpc qv_proxy__rpcs[];
extern const size_t qv_proxy__n_rpcs;

/* A Status in arena a for code c (QV_OK: success) with reason (borrowed;
 * NULL = ""). */
Milvus__Proto__Common__Status *
qv_proxy__status(qv_arena *a, qv_code c, qv_subject what, const char *reason);

/* An empty reply of type desc (a Status, or a message whose `status`
 * field is set) for rc/err, in arena a. */
ProtobufCMessage *qv_proxy__reply(qv_arena *a,
                                  const ProtobufCMessageDescriptor *desc,
                                  qv_code rc, const qv_err *err);

/* The database of a request: its db_name if set, else the `dbname`
 * header, else "default". */
const char *qv_proxy__db(qv_rpc_call *call, const char *db_name);

/* Forwards req to CoordService `method` within the call's deadline (at
 * most 60 s).  QV_E_NOT_READY when this proxy has no coord. */
qv_code qv_proxy__forward(qv_proxy *p, qv_rpc_call *call, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, qv_err *err);

/* Describes (db, name) through the cache; on success *out is a reply with
 * a success status.  Failures come back as a reply too (rc != QV_OK). */
qv_code qv_proxy__describe(qv_proxy *p, qv_rpc_call *call, const char *db,
                           const char *name, qv_describe_resp **out,
                           qv_err *err);

/* Name rules of Milvus (letters, digits, '_', not starting with a digit,
 * 1..255 characters); what = "collection", "partition", ... */
qv_code qv_proxy__check_name(const char *what, const char *name, qv_err *err);

/* Handlers (rpc_<method>.c). */
qv_code qv_proxy__connect(qv_rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_proxy__get_version(qv_rpc_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_proxy__check_health(qv_rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_proxy__client_heartbeat(qv_rpc_call *call,
                                   const ProtobufCMessage *req,
                                   ProtobufCMessage **resp, void *ud,
                                   qv_err *err);
/* The DDL RPCs that are validated here and answered by the coord
 * (rpc_ddl.c); the row is found by the call's method name. */
qv_code qv_proxy__ddl(qv_rpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_proxy__describe_collection(qv_rpc_call *call,
                                      const ProtobufCMessage *req,
                                      ProtobufCMessage **resp, void *ud,
                                      qv_err *err);
qv_code qv_proxy__has_collection(qv_rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *ud,
                                 qv_err *err);
qv_code qv_proxy__get_collection_statistics(qv_rpc_call *call,
                                            const ProtobufCMessage *req,
                                            ProtobufCMessage **resp, void *ud,
                                            qv_err *err);
qv_code qv_proxy__has_partition(qv_rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_proxy__get_partition_statistics(qv_rpc_call *call,
                                           const ProtobufCMessage *req,
                                           ProtobufCMessage **resp, void *ud,
                                           qv_err *err);
/* Data path (rpc_write.c, rpc_search.c, rpc_query.c, rpc_load.c). */
#define QV_PROXY_HANDLER(fn)                                                   \
    qv_code fn(qv_rpc_call *call, const ProtobufCMessage *req,                 \
               ProtobufCMessage **resp, void *ud, qv_err *err)
QV_PROXY_HANDLER(qv_proxy__insert);
QV_PROXY_HANDLER(qv_proxy__upsert);
QV_PROXY_HANDLER(qv_proxy__delete);
QV_PROXY_HANDLER(qv_proxy__search);
QV_PROXY_HANDLER(qv_proxy__query);
QV_PROXY_HANDLER(qv_proxy__get_flush_state);
/* The index RPCs (rpc_index.c), found by the call's method name. */
QV_PROXY_HANDLER(qv_proxy__index);

/* Compaction (rpc_compact.c). */
QV_PROXY_HANDLER(qv_proxy__manual_compaction);
QV_PROXY_HANDLER(qv_proxy__get_compaction_state);
QV_PROXY_HANDLER(qv_proxy__get_compaction_plans);
QV_PROXY_HANDLER(qv_proxy__get_persistent_segment_info);

#endif
