/* rpc_get_version.c -- MilvusService/GetVersion: the build's version
 * ("v0.1.0", semver with a leading "v" as Milvus reports it) or the one
 * configured in the proxy options. */
#include "proxy/proxy_int.h"

qv_code qv_proxy__get_version(qv_rpc_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)req;
    (void)err;
    qv_proxy *p = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__GetVersionResponse *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_version_response__init(r);
    r->status = qv_proxy__status(a, QV_OK, QV_SUBJ_NONE, NULL);
    r->version = p->version;
    *resp = &r->base;
    return QV_OK;
}
