/* svc_seginfo.c -- CoordService GetPersistentSegmentInfo: the segments of a
 * collection as recorded in meta KV (coord/segmeta.h).  Listed: FLUSHED
 * segments (L1 with their rows, L0 delete logs with level L0 and 0 rows);
 * compaction inputs and dropped segments are history kept for time travel
 * and GC, not persistent segments, and are left out (as Milvus does). */
#include <inttypes.h>

#include "coord/coord_int.h"
#include "coord/segmeta.h"

#define M(x) Milvus__Proto__Milvus__##x

QV_COORD_HANDLER(qv_coord__get_persistent_segment_info)
{
    qv_coord *c = ud;
    const M(GetPersistentSegmentInfoRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetPersistentSegmentInfoResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_persistent_segment_info_response__init(r);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (!rc) {
        qv_coll_info *info;
        rc = qv_catalog_get_collection(cat, qv_coord__db(rq->dbname),
                                       rq->collectionname, 0, a, &info, err);
        qv_seg_info **segs = NULL;
        size_t n = 0;
        if (!rc)
            rc = qv_segmeta_list_segments(c->opts.kv, c->root, info->id, NULL,
                                          a, &segs, &n, err);
        r->infos = qv_arena_alloc(a, (n ? n : 1) * sizeof *r->infos);
        for (size_t i = 0; !rc && i < n; i++) {
            const qv_seg_info *s = segs[i];
            if (s->state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED)
                continue;
            bool l0 = s->level == QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0;
            M(PersistentSegmentInfo) *p = qv_arena_alloc(a, sizeof *p);
            milvus__proto__milvus__persistent_segment_info__init(p);
            p->segmentid = s->id;
            p->collectionid = s->collection_id;
            p->partitionid = s->partition_id;
            p->num_rows = l0 ? 0 : (int64_t)s->rows;
            p->state = MILVUS__PROTO__COMMON__SEGMENT_STATE__Flushed;
            p->level = l0 ? MILVUS__PROTO__COMMON__SEGMENT_LEVEL__L0
                          : MILVUS__PROTO__COMMON__SEGMENT_LEVEL__L1;
            r->infos[r->n_infos++] = p;
        }
        qv_coord__leave(c);
    }
    r->status = qv_coord__status(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}
