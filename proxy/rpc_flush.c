/* rpc_flush.c -- GetFlushState.  Flush (forwarded to the coord) seals the
 * collection's growing segments with SegmentSeal and Flush messages that
 * are durable in the write log before it answers; with no datanode yet,
 * nothing more has to happen for those segments, so the state asked about
 * is always "flushed" (the SDK's flushSync polls until it is). */
#include "proxy/proxy_int.h"

QV_PROXY_HANDLER(qv_proxy__get_flush_state)
{
    (void)req;
    (void)ud;
    (void)err;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__GetFlushStateResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_flush_state_response__init(r);
    r->status = qv_proxy__status(a, QV_OK, QV_SUBJ_NONE, NULL);
    r->flushed = 1;
    *resp = &r->base;
    return QV_OK;
}
