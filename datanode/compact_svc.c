/* compact_svc.c -- DataNodeService/Compact: runs one compaction plan of
 * the coord (coord/coord_compact.c) with datanode/compact.h and answers
 * the output segment's record.  The coord records it (and marks the
 * inputs compacted) in one meta KV transaction; nothing is recorded
 * here, so a plan that fails or whose answer is lost leaves only orphan
 * objects under the output's keys, which GC removes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "datanode/compact.h"
#include "datanode/server_int.h"
#include "proto/convert_fielddata.h"
#include "proto/rpc_status.h"

typedef Quiver__Internal__SegmentInfo seg_info;

#define LV(x) QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_##x

static qv_code check(const Quiver__Internal__CompactRequest *rq, qv_err *err)
{
    if (!rq->schema || rq->n_inputs == 0 || rq->output_segment_id <= 0 ||
        rq->output_log_id <= 0)
        return qv_fail(err, QV_E_INVALID,
                       "compact: schema, inputs and output ids are required");
    const seg_info *a = rq->inputs[0];
    for (size_t i = 0; i < rq->n_inputs; i++) {
        const seg_info *s = rq->inputs[i];
        if (s->collection_id != rq->collection_id ||
            s->partition_id != a->partition_id ||
            strcmp(s->vchannel, a->vchannel) != 0 || s->level != LV(L1))
            return qv_fail(err, QV_E_INVALID,
                           "compact: segment %" PRId64
                           " is not an L1 segment of collection %" PRId64
                           ", partition %" PRId64 ", vchannel '%s'",
                           s->id, rq->collection_id, a->partition_id,
                           a->vchannel);
    }
    return QV_OK;
}

/* The request's schema as segment field specs (borrowing its names). */
static qv_code specs_of(const Milvus__Proto__Schema__CollectionSchema *sc,
                        qv_field_spec **out, int64_t *pk, qv_err *err)
{
    qv_field_spec *f = QV_NEW_ARRAY(qv_field_spec, sc->n_fields + 1);
    qv_code rc = QV_OK;
    *pk = -1;
    for (size_t i = 0; i < sc->n_fields && !rc; i++) {
        rc = qv_field_spec_from_schema(sc->fields[i], &f[i], err);
        if (sc->fields[i]->is_primary_key)
            *pk = sc->fields[i]->fieldid;
    }
    if (!rc && *pk < 0)
        rc = qv_fail(err, QV_E_INVALID, "compact: schema has no primary key");
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return QV_OK;
}

static qv_code run(qv_dnode *d, const Quiver__Internal__CompactRequest *rq,
                   qv_arena *a, seg_info **out, qv_err *err)
{
    qv_code rc = check(rq, err);
    qv_field_spec *specs = NULL;
    int64_t pk = 0;
    if (!rc)
        rc = specs_of(rq->schema, &specs, &pk, err);
    if (rc)
        return rc;
    size_t n = rq->n_inputs;
    qv_compact_seg *in = QV_NEW_ARRAY(qv_compact_seg, n);
    qv_compact_seg *l0 = QV_NEW_ARRAY(qv_compact_seg, rq->n_l0 + 1);
    for (size_t i = 0; i < n; i++)
        in[i] = (qv_compact_seg){rq->inputs[i]->id, rq->inputs[i]->partition_id,
                                 rq->inputs[i]->log_id};
    for (size_t i = 0; i < rq->n_l0; i++)
        l0[i] = (qv_compact_seg){rq->l0[i]->id, rq->l0[i]->partition_id,
                                 rq->l0[i]->log_id};
    qv_seg_schema schema = {specs, rq->schema->n_fields, pk};
    qv_compact_req cr = {.os = d->opts.os,
                         .collection_id = rq->collection_id,
                         .partition_id = rq->inputs[0]->partition_id,
                         .schema = &schema,
                         .inputs = in,
                         .ninputs = n,
                         .l0 = l0,
                         .nl0 = rq->n_l0,
                         .purge_before = rq->purge_before_ts,
                         .output_segment_id = rq->output_segment_id,
                         .output_log_id = rq->output_log_id};
    qv_compact_result res;
    rc = qv_compact_run(&cr, &res, err);
    if (!rc) {
        seg_info *o = qv_arena_alloc(a, sizeof *o);
        quiver__internal__segment_info__init(o);
        o->id = rq->output_segment_id;
        o->collection_id = rq->collection_id;
        o->partition_id = rq->inputs[0]->partition_id;
        o->vchannel = rq->inputs[0]->vchannel;
        o->shard = rq->inputs[0]->shard;
        o->level = LV(L1);
        o->log_id = rq->output_log_id;
        o->rows = res.rows;
        o->deleted_rows = res.deletes;
        o->bytes = res.bytes;
        o->min_ts = res.min_ts;
        o->max_ts = res.max_ts;
        o->n_compacted_from = n;
        o->compacted_from = qv_arena_alloc(a, n * sizeof(int64_t));
        for (size_t i = 0; i < n; i++)
            o->compacted_from[i] = rq->inputs[i]->id;
        o->n_field_ids = schema.nfields;
        o->field_ids =
            qv_arena_alloc(a, (schema.nfields + 1) * sizeof(int64_t));
        for (size_t i = 0; i < schema.nfields; i++)
            o->field_ids[i] = specs[i].id;
        *out = o;
        QV_LOG(QV_LOG_INFO, "datanode",
               "compaction %" PRId64 ": %zu segments, %" PRIu64
               " rows -> segment %" PRId64 ", %" PRIu64 " rows (%" PRIu64
               " purged, %" PRIu64 " kept for time travel, %zu L0 logs)",
               rq->plan_id, n, res.input_rows, o->id, res.rows, res.purged,
               res.deletes, rq->n_l0);
    }
    free(in);
    free(l0);
    free(specs);
    return rc;
}

qv_code qv_dn__compact(qv_rpc_call *call, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_dnode *d = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__CompactResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__compact_response__init(r);
    qv_code rc = atomic_load(&d->stopping)
                     ? qv_fail(err, QV_E_UNAVAILABLE, "datanode is stopping")
                     : run(d, (const void *)req, a, &r->output, err);
    r->status = qv_arena_alloc(a, sizeof *r->status);
    milvus__proto__common__status__init(r->status);
    qv_rpc_status_fill(r->status, rc, QV_SUBJ_NONE,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    *resp = &r->base;
    return QV_OK;
}
