/* flush.c -- flushed segment writer (flush.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/msg.h"
#include "common/msg/seglog.h"
#include "datanode/flush.h"

static qv_code put(const qv_flush_target *t, char *key, qv_buf *b,
                   qv_flush_result *res, qv_err *err)
{
    qv_code rc = objstore_put(t->os, key, b->data ? b->data : "", b->len, err);
    if (!rc) {
        res->bytes += b->len;
        res->objects++;
    }
    free(key);
    qv_buf_reset(b);
    return rc;
}

static long field_index(const qv_seg_snap *s, int64_t fid)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (s->field_ids[i] == fid)
            return (long)i;
    return -1;
}

/* Column files of the user fields and of the insert timestamps. */
static qv_code put_columns(const qv_flush_target *t,
                           const qv_seg_schema *schema, const qv_seg_snap *s,
                           qv_buf *b, qv_flush_result *res, qv_err *err)
{
    qv_code rc = QV_OK;
    for (size_t i = 0; i < schema->nfields && !rc; i++) {
        int64_t fid = schema->fields[i].id;
        long k = field_index(s, fid);
        if (k < 0)
            return qv_fail(err, QV_E_INVALID,
                           "flush segment %lld: no column for field %lld",
                           (long long)s->segment_id, (long long)fid);
        qv_col_view v;
        uint64_t *scratch;
        if (qv_col_view_slice(&s->cols[k], 0, s->rows, &v, &scratch))
            return qv_fail(err, QV_E_NOMEM, "flush: cannot slice a column");
        rc = qv_column_file_encode(&v, fid, b, err);
        free(scratch);
        if (!rc)
            rc = put(t,
                     qv_seglog_key(QV_SEGLOG_INSERT, t->collection_id,
                                   s->partition_id, s->segment_id, fid,
                                   t->log_id),
                     b, res, err);
    }
    if (rc)
        return rc;
    int64_t *ts = qv_try_alloc(s->rows ? s->rows : 1, sizeof(int64_t));
    if (!ts)
        return qv_fail(err, QV_E_NOMEM, "flush: %zu timestamps", s->rows);
    for (size_t r = 0; r < s->rows; r++)
        ts[r] = (int64_t)s->ops->row_ts(s->seg, r);
    qv_col_view tv = {.type = QV_DT_INT64,
                      .width = 8,
                      .rows = s->rows,
                      .data = (const uint8_t *)ts};
    rc = qv_column_file_encode(&tv, QV_FIELD_TIMESTAMP, b, err);
    free(ts);
    if (!rc)
        rc = put(t,
                 qv_seglog_key(QV_SEGLOG_INSERT, t->collection_id,
                               s->partition_id, s->segment_id,
                               QV_FIELD_TIMESTAMP, t->log_id),
                 b, res, err);
    return rc;
}

/* The delete log: (pk, hide ts) of every row hidden so far. */
static qv_code put_deltas(const qv_flush_target *t, const qv_seg_schema *schema,
                          const qv_seg_snap *s, qv_buf *b, qv_flush_result *res,
                          qv_err *err)
{
    const qv_col_view *pkv = &s->cols[s->pk_index];
    int64_t *rows = qv_try_alloc(s->rows ? s->rows : 1, sizeof(int64_t));
    int64_t *ts = qv_try_alloc(s->rows ? s->rows : 1, sizeof(int64_t));
    qv_column *keys = NULL;
    if (!rows || !ts) {
        free(rows);
        free(ts);
        return qv_fail(err, QV_E_NOMEM, "flush: deletes of %zu rows", s->rows);
    }
    qv_code rc = QV_OK;
    size_t n = 0;
    for (size_t r = 0; r < s->rows; r++) {
        qv_ts h = s->ops->row_hide(s->seg, r);
        if (h != QV_TS_MAX) {
            rows[n] = (int64_t)r;
            ts[n++] = (int64_t)h;
        }
    }
    qv_field_spec spec = {.id = schema->pk_field_id,
                          .name = "pk",
                          .type = pkv->type,
                          .max_length = QV_MAX_VARCHAR_LEN};
    if (!rc)
        rc = qv_column_create(&spec, &keys, err);
    if (!rc)
        rc = qv_column_append_rows(keys, pkv, rows, n, err);
    if (!rc) {
        qv_column_publish(keys);
        qv_col_view kv = qv_column_view(keys);
        rc = qv_delta_encode(&kv, ts, b, err);
    }
    if (!rc) {
        res->deletes = n;
        rc = put(t,
                 qv_seglog_key(QV_SEGLOG_DELTA, t->collection_id,
                               s->partition_id, s->segment_id, 0, t->log_id),
                 b, res, err);
    }
    qv_column_free(keys);
    free(rows);
    free(ts);
    return rc;
}

static qv_code put_stats(const qv_flush_target *t, const qv_seg_schema *schema,
                         const qv_seg_snap *s, qv_buf *b, qv_flush_result *res,
                         qv_err *err)
{
    qv_col_view v = s->cols[s->pk_index];
    v.rows = s->rows;
    qv_pk_stats st;
    qv_code rc = qv_pk_stats_build(&v, &st, err);
    if (rc)
        return rc;
    rc = qv_pk_stats_encode(&st, b, err);
    qv_pk_stats_release(&st);
    if (!rc)
        rc = put(t,
                 qv_seglog_key(QV_SEGLOG_STATS, t->collection_id,
                               s->partition_id, s->segment_id,
                               schema->pk_field_id, t->log_id),
                 b, res, err);
    return rc;
}

qv_code qv_flush_segment(const qv_flush_target *t, const qv_seg_schema *schema,
                         const qv_seg_snap *snap, qv_flush_result *out,
                         qv_err *err)
{
    qv_flush_result res = {.rows = snap->rows};
    qv_buf b = QV_BUF_INIT;
    qv_code rc = put_columns(t, schema, snap, &b, &res, err);
    if (!rc)
        rc = put_deltas(t, schema, snap, &b, &res, err);
    if (!rc)
        rc = put_stats(t, schema, snap, &b, &res, err);
    qv_buf_release(&b);
    if (!rc)
        *out = res;
    return rc;
}
