/* compact.c -- merging flushed segments (compact.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/seglog.h"
#include "datanode/compact.h"
#include "datanode/flush.h"
#include "querynode/sealed.h"
#include "querynode/search.h"

/* The survivors as the flush writer reads them: gathered columns plus
 * their insert and hide timestamps. */
typedef struct merged {
    qv_ts *ins, *hide;
} merged;

static void m_mask(const void *seg, qv_ts R, size_t rows, qv_bitset *ex)
{
    const merged *m = seg;
    qv_bitset_clear_all(ex);
    for (size_t r = 0; r < rows; r++)
        if (m->ins[r] > R || m->hide[r] <= R)
            qv_bitset_set(ex, r);
}
static qv_ts m_row_ts(const void *seg, size_t row)
{
    return ((const merged *)seg)->ins[row];
}
static qv_ts m_row_hide(const void *seg, size_t row)
{
    return ((const merged *)seg)->hide[row];
}
static void m_release(void *seg, qv_seg_snap *snap)
{
    (void)seg;
    (void)snap;
}
static const qv_seg_ops merged_ops = {m_mask, m_row_ts, m_row_hide, m_release};

static qv_code check_req(const qv_compact_req *r, qv_err *err)
{
    if (!r || !r->os || !r->schema || r->ninputs == 0)
        return qv_fail(err, QV_E_INVALID,
                       "compact: no object store, schema or input segment");
    for (size_t i = 0; i < r->ninputs; i++)
        if (r->inputs[i].partition_id != r->partition_id)
            return qv_fail(err, QV_E_INVALID,
                           "compact: segment %lld is in partition %lld, not "
                           "%lld",
                           (long long)r->inputs[i].segment_id,
                           (long long)r->inputs[i].partition_id,
                           (long long)r->partition_id);
    bool pk = false;
    for (size_t f = 0; f < r->schema->nfields; f++)
        pk |= r->schema->fields[f].id == r->schema->pk_field_id;
    if (!pk)
        return qv_fail(err, QV_E_INVALID, "compact: schema has no primary key");
    return QV_OK;
}

static qv_code load_inputs(const qv_compact_req *r, qv_sealed **in,
                           uint64_t *rows, qv_err *err)
{
    *rows = 0;
    for (size_t i = 0; i < r->ninputs; i++) {
        qv_sealed_source src = {r->os,
                                r->collection_id,
                                r->partition_id,
                                r->inputs[i].segment_id,
                                r->inputs[i].log_id,
                                NULL};
        qv_code rc = qv_sealed_load(&src, r->schema, &in[i], err);
        if (rc)
            return qv_err_prefix(err, "compact: input segment %lld",
                                 (long long)r->inputs[i].segment_id);
        *rows += qv_sealed_rows(in[i]);
    }
    return QV_OK;
}

/* Applies one L0 delete log object (a missing one is skipped). */
static qv_code apply_l0_object(const qv_compact_req *r, qv_sealed **in,
                               int64_t part, int64_t log, qv_err *err)
{
    char *key =
        qv_seglog_key(QV_SEGLOG_DELTA, r->collection_id, part, 0, 0, log);
    qv_buf b = QV_BUF_INIT;
    qv_code rc = objstore_get(r->os, key, &b, err);
    if (qv_code_primary(rc) == QV_E_NOT_FOUND) {
        rc = QV_OK;
    } else if (!rc) {
        qv_delta d;
        rc =
            qv_delta_decode(b.data ? (const void *)b.data : "", b.len, &d, err);
        if (!rc) {
            for (size_t i = 0; i < r->ninputs; i++)
                qv_sealed_apply_delta(in[i], &d);
            qv_delta_release(&d);
        }
    }
    if (rc)
        qv_err_prefix(err, "compact: L0 delete log %s", key);
    qv_buf_release(&b);
    free(key);
    return rc;
}

static qv_code apply_l0(const qv_compact_req *r, qv_sealed **in, qv_err *err)
{
    qv_code rc = QV_OK;
    for (size_t i = 0; i < r->nl0 && !rc; i++) {
        const qv_compact_seg *l = &r->l0[i];
        if (l->partition_id != -1 && l->partition_id != r->partition_id)
            continue; /* deletes of another partition */
        rc = apply_l0_object(r, in, r->partition_id, l->log_id, err);
        if (!rc && r->partition_id != -1)
            rc = apply_l0_object(r, in, -1, l->log_id, err);
    }
    return rc;
}

/* Newest version of a key wins across the inputs, as inside one segment
 * (ties on the insert timestamp: the later input). */
static void resolve_across(qv_sealed **in, size_t n)
{
    qv_rows rows = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t nr = qv_sealed_rows(in[i]);
        for (size_t r = 0; r < nr; r++) {
            qv_pk pk = qv_sealed_pk(in[i], r);
            qv_ts a = qv_sealed_row_ts(in[i], r);
            for (size_t j = i + 1; j < n; j++) {
                if (!qv_sealed_may_contain(in[j], &pk))
                    continue;
                rows.n = 0;
                qv_sealed_find(in[j], &pk, &rows);
                for (size_t q = 0; q < rows.n; q++) {
                    qv_ts b = qv_sealed_row_ts(in[j], (size_t)rows.v[q]);
                    if (a <= b)
                        qv_sealed_hide(in[i], r, b);
                    else
                        qv_sealed_hide(in[j], (size_t)rows.v[q], a);
                }
            }
        }
    }
    qv_rows_release(&rows);
}

/* Survivors (rules in compact.h) as (input, row) pairs with timestamps. */
static qv_code pick(const qv_compact_req *r, qv_sealed **in, uint64_t total,
                    uint32_t **seg, int64_t **row, merged *m, size_t *n,
                    qv_err *err)
{
    size_t cap = total ? (size_t)total : 1;
    *seg = qv_try_alloc(cap, sizeof **seg);
    *row = qv_try_alloc(cap, sizeof **row);
    m->ins = qv_try_alloc(cap, sizeof *m->ins);
    m->hide = qv_try_alloc(cap, sizeof *m->hide);
    if (!*seg || !*row || !m->ins || !m->hide)
        return qv_fail(err, QV_E_NOMEM, "compact: %llu rows",
                       (unsigned long long)total);
    size_t k = 0;
    for (size_t i = 0; i < r->ninputs; i++) {
        size_t nr = qv_sealed_rows(in[i]);
        for (size_t j = 0; j < nr; j++) {
            qv_ts ins = qv_sealed_row_ts(in[i], j);
            qv_ts hide = qv_sealed_row_hide(in[i], j);
            if (hide <= r->purge_before || hide <= ins)
                continue;
            (*seg)[k] = (uint32_t)i;
            (*row)[k] = (int64_t)j;
            m->ins[k] = ins;
            m->hide[k++] = hide;
        }
    }
    *n = k;
    return QV_OK;
}

/* Gathers the survivors' columns and writes them as the output. */
static qv_code write_output(const qv_compact_req *r, qv_sealed **in,
                            const uint32_t *seg, const int64_t *row, merged *m,
                            size_t n, qv_compact_result *res, qv_err *err)
{
    const qv_seg_schema *sc = r->schema;
    qv_shard_snap all = {.schema = sc, .n = r->ninputs};
    all.snaps = QV_NEW_ARRAY(qv_seg_snap, r->ninputs);
    for (size_t i = 0; i < r->ninputs; i++)
        qv_sealed_snap(in[i], &all.snaps[i]);
    int64_t *fids = QV_NEW_ARRAY(int64_t, sc->nfields ? sc->nfields : 1);
    size_t pk_index = 0;
    for (size_t f = 0; f < sc->nfields; f++) {
        fids[f] = sc->fields[f].id;
        if (fids[f] == sc->pk_field_id)
            pk_index = f;
    }
    qv_column **cols = NULL;
    qv_code rc =
        qv_shard_gather(&all, seg, row, n, fids, sc->nfields, &cols, err);
    qv_shard_snap_release(&all);
    if (rc) {
        free(fids);
        return qv_err_prefix(err, "compact: gathering rows");
    }
    qv_col_view *views =
        QV_NEW_ARRAY(qv_col_view, sc->nfields ? sc->nfields : 1);
    for (size_t f = 0; f < sc->nfields; f++)
        views[f] = qv_column_view(cols[f]);
    qv_seg_snap out = {.ops = &merged_ops,
                       .seg = m,
                       .segment_id = r->output_segment_id,
                       .partition_id = r->partition_id,
                       .rows = n,
                       .nfields = sc->nfields,
                       .field_ids = fids,
                       .cols = views,
                       .pk_index = pk_index};
    qv_flush_target t = {r->os, r->collection_id, r->output_log_id};
    qv_flush_result fr;
    rc = qv_flush_segment(&t, sc, &out, &fr, err);
    if (!rc) {
        res->rows = fr.rows;
        res->deletes = fr.deletes;
        res->bytes = fr.bytes;
        res->objects = fr.objects;
    } else {
        qv_err_prefix(err, "compact: writing segment %lld",
                      (long long)r->output_segment_id);
    }
    for (size_t f = 0; f < sc->nfields; f++)
        qv_column_free(cols[f]);
    free(cols);
    free(views);
    free(fids);
    return rc;
}

qv_code qv_compact_run(const qv_compact_req *req, qv_compact_result *out,
                       qv_err *err)
{
    qv_code rc = check_req(req, err);
    if (rc)
        return rc;
    qv_sealed **in = QV_NEW_ARRAY(qv_sealed *, req->ninputs);
    qv_compact_result res = {0};
    uint32_t *seg = NULL;
    int64_t *row = NULL;
    merged m = {NULL, NULL};
    size_t n = 0;
    rc = load_inputs(req, in, &res.input_rows, err);
    if (!rc)
        rc = apply_l0(req, in, err);
    if (!rc) {
        resolve_across(in, req->ninputs);
        rc = pick(req, in, res.input_rows, &seg, &row, &m, &n, err);
    }
    if (!rc)
        rc = write_output(req, in, seg, row, &m, n, &res, err);
    if (!rc) {
        res.purged = res.input_rows - n;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || m.ins[i] < res.min_ts)
                res.min_ts = m.ins[i];
            if (m.ins[i] > res.max_ts)
                res.max_ts = m.ins[i];
        }
        *out = res;
    }
    for (size_t i = 0; i < req->ninputs; i++)
        qv_sealed_unref(in[i]);
    free(in);
    free(seg);
    free(row);
    free(m.ins);
    free(m.hide);
    return rc;
}
