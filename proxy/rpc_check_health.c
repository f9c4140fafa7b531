/* rpc_check_health.c -- MilvusService/CheckHealth: isHealthy from the
 * options' health probe (healthy when there is none) and, with a meta KV,
 * whether an active coord is known, with the failing check's message as
 * the reason when unhealthy.  The Status is success either
 * way, as in Milvus: unhealthy is an answer, not a failed call. */
#include "proxy/proxy_int.h"

qv_code qv_proxy__check_health(qv_rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)req;
    (void)err;
    qv_proxy *p = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__CheckHealthResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__check_health_response__init(r);
    r->status = qv_proxy__status(a, QV_OK, QV_SUBJ_NONE, NULL);
    r->ishealthy = 1;
    qv_err herr;
    qv_err_clear(&herr);
    bool sick =
        p->opts.health && p->opts.health(p->opts.health_data, &herr) != QV_OK;
    if (!sick && p->link)
        sick = qv_coord_link_check(p->link, &herr) != QV_OK;
    if (sick) {
        r->ishealthy = 0;
        r->reasons = qv_arena_alloc(a, sizeof *r->reasons);
        r->reasons[0] =
            qv_arena_strdup(a, herr.msg[0] ? herr.msg : "unhealthy");
        r->n_reasons = 1;
    }
    *resp = &r->base;
    return QV_OK;
}
