/* rpc_compact.c -- ManualCompaction, GetCompactionState and
 * GetCompactionStateWithPlans: checked here, answered by the coord
 * (coord/coord_compact.c).
 *
 * ManualCompaction names its collection by id (the SDKs describe the
 * collection first) or by name; the request's database (db_name, else the
 * `dbname` header, else "default") is filled in for the coord, which looks
 * an id up in every database when it is not found there.  Failures on the
 * way to the coord are answered with a Status in a reply of the RPC's type.
 */
#include <string.h>

#include "proxy/proxy_int.h"

#define M(x)    Milvus__Proto__Milvus__##x
#define RESP(x) &milvus__proto__milvus__##x##__descriptor

static qv_code forward(qv_proxy *p, qv_rpc_call *call, const char *method,
                       const ProtobufCMessage *rq,
                       const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **resp, qv_code rc, qv_err *err)
{
    if (!rc)
        rc = qv_proxy__forward(p, call, method, rq, desc, resp, err);
    if (rc)
        *resp = qv_proxy__reply(qv_rpc_call_arena(call), desc, rc, err);
    return QV_OK;
}

qv_code qv_proxy__manual_compaction(qv_rpc_call *call,
                                    const ProtobufCMessage *req,
                                    ProtobufCMessage **resp, void *ud,
                                    qv_err *err)
{
    M(ManualCompactionRequest) *rq = (M(ManualCompactionRequest) *)req;
    qv_code rc = QV_OK;
    if (rq->collection_name[0])
        rc = qv_proxy__check_name("collection", rq->collection_name, err);
    else if (rq->collectionid <= 0)
        rc = qv_fail(err, QV_E_INVALID,
                     "ManualCompaction: collection name or id is required");
    if (!rc && (rq->collection_name[0] || rq->db_name[0]))
        rq->db_name = (char *)qv_proxy__db(call, rq->db_name);
    return forward(ud, call, "ManualCompaction", req,
                   RESP(manual_compaction_response), resp, rc, err);
}

qv_code qv_proxy__get_compaction_state(qv_rpc_call *call,
                                       const ProtobufCMessage *req,
                                       ProtobufCMessage **resp, void *ud,
                                       qv_err *err)
{
    const M(GetCompactionStateRequest) *rq = (const void *)req;
    qv_code rc = rq->compactionid > 0
                     ? QV_OK
                     : qv_fail(err, QV_E_INVALID,
                               "GetCompactionState: compactionID is required");
    return forward(ud, call, "GetCompactionState", req,
                   RESP(get_compaction_state_response), resp, rc, err);
}

qv_code qv_proxy__get_compaction_plans(qv_rpc_call *call,
                                       const ProtobufCMessage *req,
                                       ProtobufCMessage **resp, void *ud,
                                       qv_err *err)
{
    const M(GetCompactionPlansRequest) *rq = (const void *)req;
    qv_code rc = rq->compactionid > 0
                     ? QV_OK
                     : qv_fail(err, QV_E_INVALID,
                               "GetCompactionStateWithPlans: compactionID is "
                               "required");
    return forward(ud, call, "GetCompactionStateWithPlans", req,
                   RESP(get_compaction_plans_response), resp, rc, err);
}

/* GetPersistentSegmentInfo (coord/svc_seginfo.c): the collection's
 * flushed segments. */
qv_code qv_proxy__get_persistent_segment_info(qv_rpc_call *call,
                                              const ProtobufCMessage *req,
                                              ProtobufCMessage **resp, void *ud,
                                              qv_err *err)
{
    M(GetPersistentSegmentInfoRequest) *rq =
        (M(GetPersistentSegmentInfoRequest) *)req;
    qv_code rc = qv_proxy__check_name("collection", rq->collectionname, err);
    rq->dbname = (char *)qv_proxy__db(call, rq->dbname);
    return forward(ud, call, "GetPersistentSegmentInfo", req,
                   RESP(get_persistent_segment_info_response), resp, rc, err);
}
