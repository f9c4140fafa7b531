/* rpc_flush.c -- GetFlushState, forwarded to the coord (coord/
 * svc_segment.c): flushed once every listed segment is recorded in meta
 * KV, i.e. a datanode wrote it to the object store and committed it.
 * Flush itself is forwarded by rpc_ddl.c; the SDK's flushSync polls this
 * until it answers flushed. */
#include "proxy/proxy_int.h"

QV_PROXY_HANDLER(qv_proxy__get_flush_state)
{
    qv_proxy *p = ud;
    Milvus__Proto__Milvus__GetFlushStateRequest *rq = (void *)req;
    const ProtobufCMessageDescriptor *rd =
        &milvus__proto__milvus__get_flush_state_response__descriptor;
    /* the request lives in the call's arena and is ours to complete */
    if (rq->collection_name && rq->collection_name[0]) {
        qv_code rc =
            qv_proxy__check_name("collection", rq->collection_name, err);
        if (rc) {
            *resp = qv_proxy__reply(qv_rpc_call_arena(call), rd, rc, err);
            return QV_OK;
        }
        rq->db_name = (char *)qv_proxy__db(call, rq->db_name);
    }
    qv_code rc =
        qv_proxy__forward(p, call, "GetFlushState", &rq->base, rd, resp, err);
    if (rc)
        *resp = qv_proxy__reply(qv_rpc_call_arena(call), rd, rc, err);
    return QV_OK;
}
