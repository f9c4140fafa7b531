/* svc_alloc.c -- CoordService AllocTimestamp and AllocID: batches of
 * timestamps and IDs from the TSO (coord/tso.h). */
#include "coord/coord_int.h"

QV_COORD_HANDLER(qv_coord__alloc_timestamp)
{
    qv_coord *c = ud;
    const Quiver__Internal__AllocTimestampRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    uint32_t n = rq->count ? rq->count : 1;
    qv_ts first = 0;
    rc = qv_tso_alloc(tso, n, &first, err);
    qv_coord__leave(c);
    Quiver__Internal__AllocTimestampResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__alloc_timestamp_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc) {
        r->timestamp = first;
        r->count = n;
    }
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__alloc_id)
{
    qv_coord *c = ud;
    const Quiver__Internal__AllocIDRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    uint32_t n = rq->count ? rq->count : 1;
    int64_t first = 0;
    rc = qv_tso_alloc_ids(tso, n, &first, err);
    qv_coord__leave(c);
    Quiver__Internal__AllocIDResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__alloc_idresponse__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc) {
        r->id = first;
        r->count = n;
    }
    *resp = &r->base;
    return QV_OK;
}
