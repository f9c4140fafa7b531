/* qn_index.c -- attaching the indexes a SyncSegments target lists to the
 * sealed segments the sync worker serves (qn_int.h).
 *
 * For each listed SegmentIndex (a FINISHED build) of a vector field: if
 * the segment does not carry that build yet, its index file (the first of
 * `files`, index/index.h serialize output) is loaded from the object store
 * (mapped from the node's cache directory when it has one) and attached
 * (querynode/sealed_index.h): searches that start afterwards use it,
 * searches under way keep the snapshot they took.  Indexes of scalar
 * fields count as attached without loading: filters evaluate the columns.
 * Builds attached earlier whose field the target no longer indexes are
 * detached (a dropped index).  Idempotent: a round that finds everything
 * attached loads nothing.
 *
 * Threading: called by the sync worker only (one thread), with q->mu
 * held for reading.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "querynode/qn_int.h"
#include "querynode/sealed_index.h"

#define MAX_INDEXES 64

static const qv_field_spec *field_spec(const qn_coll *c, int64_t id)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (c->specs[i].id == id)
            return &c->specs[i];
    return NULL;
}

static bool has_build(const int64_t *b, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == id)
            return true;
    return false;
}

/* Detaches attached builds of fields the target no longer indexes. */
static void drop_unlisted(qv_sealed *x, const qn_coll *c,
                          const Quiver__Internal__SegmentTarget *st)
{
    int64_t builds[MAX_INDEXES];
    size_t n = qv_sealed_index_builds(x, builds, MAX_INDEXES);
    if (n == 0)
        return;
    for (size_t f = 0; f < c->nfields; f++) {
        int64_t fid = c->specs[f].id;
        if (!qv_dtype_is_vector(c->specs[f].type))
            continue;
        bool listed = false;
        for (size_t i = 0; i < st->n_indexes && !listed; i++)
            listed = st->indexes[i]->field_id == fid;
        if (!listed && qv_sealed_index_detach(x, fid))
            QV_LOG(QV_LOG_INFO, "querynode",
                   "segment %lld: index of field %lld detached",
                   (long long)qv_sealed_id(x), (long long)fid);
    }
}

qv_code qv_qn__attach_indexes(qv_qnode *q, qn_coll *c, qv_sealed *x,
                              const Quiver__Internal__SegmentTarget *st,
                              bool *attached, qv_err *err)
{
    *attached = false;
    drop_unlisted(x, c, st);
    if (!q->opts.os)
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "segment %lld: no object store to load indexes from",
                       (long long)qv_sealed_id(x));
    int64_t builds[MAX_INDEXES];
    size_t nb = qv_sealed_index_builds(x, builds, MAX_INDEXES);
    qv_code first = QV_OK;
    size_t done = 0;
    for (size_t i = 0; i < st->n_indexes; i++) {
        const Quiver__Internal__SegmentIndex *si = st->indexes[i];
        const qv_field_spec *f = field_spec(c, si->field_id);
        if (!f || !qv_dtype_is_vector(f->type) ||
            has_build(builds, nb, si->build_id)) {
            done++; /* scalar (not used by search), or attached already */
            continue;
        }
        qv_code rc;
        qv_err e = {0};
        if (si->n_files == 0 || !si->files[0] || !si->files[0][0]) {
            rc = qv_fail(&e, QV_E_CORRUPT, "index build %lld lists no file",
                         (long long)si->build_id);
        } else {
            qv_seg_index_source src = {.os = q->opts.os,
                                       .key = si->files[0],
                                       .build_id = si->build_id,
                                       .index_id = si->index_id,
                                       .field_id = si->field_id,
                                       .cache_dir = q->cache_dir};
            qv_seg_index *ix;
            rc = qv_seg_index_load(&src, &ix, &e);
            if (!rc)
                rc = qv_sealed_index_attach(x, ix, &e);
        }
        if (rc) {
            if (!first) {
                first = rc;
                qv_fail(err, rc, "segment %lld: %s", (long long)qv_sealed_id(x),
                        e.msg);
            }
            continue;
        }
        QV_LOG(QV_LOG_INFO, "querynode",
               "segment %lld: index build %lld of field %lld attached",
               (long long)qv_sealed_id(x), (long long)si->build_id,
               (long long)si->field_id);
        done++;
    }
    *attached = done == st->n_indexes;
    return first;
}
