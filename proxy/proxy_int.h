/* proxy_int.h -- proxy internals shared by proxy.c, dispatch.c and the
 * rpc_<method>.c handlers.  Not part of the public API.
 *
 * Handlers are qv_rpc_unary_fn with user_data = the qv_proxy.  They build
 * replies in the call's arena and always set `status` (the SDK
 * dereferences it unconditionally).
 */
#ifndef QV_PROXY_INT_H
#define QV_PROXY_INT_H

#include <stdatomic.h>

#include "common/rpc/rpc_server.h"
#include "milvus/common.pb-c.h"
#include "milvus/milvus.pb-c.h"
#include "proto/rpc_status.h"
#include "proxy/proxy.h"

#define QV_MILVUS_SERVICE    "/milvus.proto.milvus.MilvusService/"
#define QV_TELEMETRY_SERVICE "/milvus.proto.milvus.ClientTelemetryService/"

struct qv_proxy {
    qv_proxy_options opts; /* strings point at the copies below */
    char *host, *version, *deploy_mode;
    qv_rpc_server *srv;
    atomic_llong next_identifier; /* Connect: per-connection ids */
};

/* One RPC of the dispatch table. */
typedef struct qv_proxy_rpc {
    const char *name; /* full method path */
    const ProtobufCMessageDescriptor *req_desc;
    qv_rpc_unary_fn fn;
} qv_proxy_rpc;

extern const qv_proxy_rpc qv_proxy__rpcs[];
extern const size_t qv_proxy__n_rpcs;

/* A Status in arena a for code c (QV_OK: success) with reason (borrowed;
 * NULL = ""). */
Milvus__Proto__Common__Status *
qv_proxy__status(qv_arena *a, qv_code c, qv_subject what, const char *reason);

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

#endif
