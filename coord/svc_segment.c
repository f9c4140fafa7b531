/* svc_segment.c -- CommitSegment (datanode -> coord) and GetFlushState.
 *
 * CommitSegment records what one datanode commit produced (a flushed L1
 * segment and/or an L0 delete log) and the vchannel's new checkpoint in
 * one meta KV transaction (qv_segmeta_commit_put): a checkpoint behind the
 * recorded one, or a node that is not the vchannel's assignee
 * (coord_dn.c), is refused with QV_E_CONFLICT.  flushed_ts is a fresh TSO
 * timestamp.
 *
 * GetFlushState(segmentIDs): flushed = every listed segment is recorded
 * (any state), so the SDK's flushSync returns once the datanode committed
 * every segment the Flush sealed.  With no segment ids but a collection
 * and flush_ts (as Milvus): flushed = every vchannel's checkpoint was made
 * at a time tick at or past flush_ts (the datanode commits at the first
 * tick past a Flush, so everything up to it is recorded). */
#include <string.h>

#include "coord/coord_int.h"
#include "coord/segmeta.h"

QV_COORD_HANDLER(qv_coord__commit_segment)
{
    qv_coord *c = ud;
    const Quiver__Internal__CommitSegmentRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    qv_ts ts = 0;
    rc = qv_tso_alloc(tso, 1, &ts, err);
    if (!rc && !rq->checkpoint)
        rc = qv_fail(err, QV_E_INVALID, "commit segment: no checkpoint");
    if (!rc) {
        qv_segmeta_commit cm = {
            .node = rq->node && rq->node[0] ? rq->node : NULL,
            .coll = rq->collection_id,
            .vchannel = rq->vchannel,
            .segment = rq->segment,
            .l0 = rq->l0,
            .checkpoint = rq->checkpoint,
            .flushed_ts = ts,
        };
        /* the request lives in the call's arena and is ours to complete */
        rq->checkpoint->collection_id = rq->collection_id;
        if (!rq->checkpoint->vchannel || !rq->checkpoint->vchannel[0])
            rq->checkpoint->vchannel = rq->vchannel;
        rc = qv_segmeta_commit_put(c->opts.kv, c->root, &cm, err);
    }
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

/* Every vchannel of info has a checkpoint made at a tick >= flush_ts. */
static qv_code channels_flushed(qv_coord *c, const qv_coll_info *info,
                                uint64_t flush_ts, qv_arena *a, bool *flushed,
                                qv_err *err)
{
    *flushed = true;
    for (size_t i = 0; i < info->n_virtual_channels && *flushed; i++) {
        qv_checkpoint *k = NULL;
        qv_code rc = qv_segmeta_get_checkpoint(
            c->opts.kv, c->root, info->virtual_channels[i], a, &k, err);
        if (rc)
            return rc;
        *flushed = k && k->ts >= flush_ts;
    }
    return QV_OK;
}

/* When every id is a segment this coord sealed recently (what the SDK's
 * flushSync asks about), reads their records one by one rather than
 * listing every segment: returns true with *flushed and *rc set. */
static bool recent_flushed(qv_coord *c, const int64_t *ids, size_t n,
                           qv_arena *a, bool *flushed, qv_code *rc, qv_err *err)
{
    if (n == 0 || n > 256)
        return false;
    int64_t *colls = qv_arena_alloc(a, n * sizeof *colls);
    for (size_t i = 0; i < n; i++)
        if (!qv_coord__sealed_coll(c, ids[i], &colls[i]))
            return false;
    *flushed = true;
    *rc = QV_OK;
    for (size_t i = 0; i < n && *flushed && !*rc; i++) {
        qv_seg_info *s = NULL;
        qv_err e2 = {0};
        qv_code g = qv_segmeta_get_segment(c->opts.kv, c->root, colls[i],
                                           ids[i], a, &s, &e2);
        if (g == QV_E_NOT_FOUND)
            *flushed = false;
        else if (g)
            *rc = qv_fail(err, g, "%s", e2.msg);
    }
    return true;
}

QV_COORD_HANDLER(qv_coord__get_flush_state)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetFlushStateRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__GetFlushStateResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_flush_state_response__init(r);
    *resp = &r->base;
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    int64_t coll = 0;
    qv_coll_info *info = NULL;
    if (rq->collection_name && rq->collection_name[0]) {
        rc = qv_catalog_get_collection(cat, qv_coord__db(rq->db_name),
                                       rq->collection_name, 0, a, &info, err);
        if (!rc)
            coll = info->id;
    }
    bool flushed = false;
    if (!rc && rq->n_segmentids == 0 && rq->flush_ts && info)
        rc = channels_flushed(c, info, rq->flush_ts, a, &flushed, err);
    else if (!rc && !coll &&
             recent_flushed(c, rq->segmentids, rq->n_segmentids, a, &flushed,
                            &rc, err))
        ; /* every id was a recently sealed segment */
    else if (!rc)
        rc = qv_segmeta_flushed(c->opts.kv, c->root, coll, rq->segmentids,
                                rq->n_segmentids, &flushed, err);
    qv_coord__leave(c);
    r->status = qv_coord__status(a, rc, err);
    r->flushed = !rc && flushed;
    return QV_OK;
}
