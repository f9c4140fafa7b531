/* msg_enc.c -- shape checks and the encoder of log messages (README.md).
 */
#include <stdlib.h>
#include <string.h>

#include "common/bitset.h"
#include "common/hash.h"
#include "common/msg/msg_int.h"

const char *qv_msg_type_name(qv_msg_type t)
{
    switch (t) {
    case QV_MSG_TIME_TICK:
        return "TimeTick";
    case QV_MSG_INSERT:
        return "Insert";
    case QV_MSG_DELETE:
        return "Delete";
    case QV_MSG_SEGMENT_OPEN:
        return "SegmentOpen";
    case QV_MSG_SEGMENT_SEAL:
        return "SegmentSeal";
    case QV_MSG_FLUSH:
        return "Flush";
    case QV_MSG_DROP_COLLECTION:
        return "DropCollection";
    case QV_MSG_DROP_PARTITION:
        return "DropPartition";
    }
    return "Unknown";
}

size_t msg__image_size(const qv_col_view *v)
{
    bool var = qv_dtype_is_varwidth(v->type);
    size_t vlen = v->valid ? QV_BITSET_WORDS(v->rows) * 8 : 0;
    size_t olen = var ? (v->rows + 1) * 8 : 0;
    size_t dlen = var ? (size_t)(v->offsets[v->rows] - v->offsets[0])
                      : v->rows * v->width;
    size_t ooff = ALIGN64(IMG_HDR + vlen);
    size_t doff = ALIGN64(ooff + olen);
    return doff + dlen;
}

uint32_t msg__crc(const uint8_t *p, size_t total)
{
    uint32_t c = qv_crc32c(0, p, MSG_OFF_CRC);
    return qv_crc32c(c, p + MSG_OFF_VCLEN, total - MSG_OFF_VCLEN);
}

static bool vchannel_ok(const char *s, size_t *len)
{
    size_t n = strnlen(s, QV_MSG_VCHANNEL_MAX + 1);
    if (n > QV_MSG_VCHANNEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    *len = n;
    return true;
}

static bool pk_type_ok(qv_dtype t)
{
    return t == QV_DT_INT64 || t == QV_DT_VARCHAR;
}

/* The PK column must be Int64/VarChar without NULL rows. */
static bool pk_col_ok(const qv_col_view *v)
{
    if (!pk_type_ok(v->type))
        return false;
    for (size_t r = 0; v->valid && r < v->rows; r++)
        if (qv_col_is_null(v, r))
            return false;
    return true;
}

static qv_code check_insert(const qv_msg *m, qv_err *err)
{
    if (m->nfields == 0 || m->nfields > QV_MSG_MAX_FIELDS || !m->cols ||
        !m->field_ids)
        return qv_fail(err, QV_E_INVALID,
                       "insert message: %zu fields (1..%d allowed)", m->nfields,
                       QV_MSG_MAX_FIELDS);
    bool has_pk = false;
    for (size_t i = 0; i < m->nfields; i++) {
        const qv_col_view *v = &m->cols[i];
        if (v->rows != m->rows)
            return qv_fail(err, QV_E_INVALID,
                           "insert message: field %lld has %zu rows, "
                           "message has %zu",
                           (long long)m->field_ids[i], v->rows, m->rows);
        if (!qv_dtype_valid(v->type) ||
            (!qv_dtype_is_varwidth(v->type) && v->width == 0))
            return qv_fail(err, QV_E_INVALID,
                           "insert message: field %lld has bad type %d",
                           (long long)m->field_ids[i], (int)v->type);
        for (size_t j = 0; j < i; j++)
            if (m->field_ids[j] == m->field_ids[i])
                return qv_fail(err, QV_E_INVALID,
                               "insert message: field %lld appears twice",
                               (long long)m->field_ids[i]);
        if (m->field_ids[i] == m->pk_field_id) {
            if (!pk_col_ok(v))
                return qv_fail(err, QV_E_INVALID,
                               "insert message: primary key field %lld "
                               "must be Int64 or VarChar without nulls",
                               (long long)m->pk_field_id);
            has_pk = true;
        }
    }
    if (!has_pk)
        return qv_fail(err, QV_E_INVALID,
                       "insert message: no column for primary key "
                       "field %lld",
                       (long long)m->pk_field_id);
    return QV_OK;
}

qv_code msg__check(const qv_msg *m, qv_err *err)
{
    size_t vl;
    if (!m->vchannel || !vchannel_ok(m->vchannel, &vl))
        return qv_fail(err, QV_E_INVALID,
                       "%s message: bad vchannel name (1..%d of "
                       "[A-Za-z0-9._-])",
                       qv_msg_type_name(m->type), QV_MSG_VCHANNEL_MAX);
    switch (m->type) {
    case QV_MSG_TIME_TICK:
    case QV_MSG_DROP_COLLECTION:
    case QV_MSG_DROP_PARTITION:
    case QV_MSG_SEGMENT_OPEN:
    case QV_MSG_SEGMENT_SEAL:
        return QV_OK;
    case QV_MSG_INSERT:
        return check_insert(m, err);
    case QV_MSG_DELETE:
        if (m->nfields != 1 || !m->cols || m->cols[0].rows != m->rows ||
            !pk_col_ok(&m->cols[0]))
            return qv_fail(err, QV_E_INVALID,
                           "delete message: needs one Int64 or VarChar "
                           "key column of %zu rows without nulls",
                           m->rows);
        return QV_OK;
    case QV_MSG_FLUSH:
        if (m->nsegments > QV_MSG_MAX_SEGMENTS ||
            (m->nsegments && !m->segments))
            return qv_fail(err, QV_E_INVALID,
                           "flush message: %zu segments (at most %d)",
                           m->nsegments, QV_MSG_MAX_SEGMENTS);
        return QV_OK;
    }
    return qv_fail(err, QV_E_INVALID, "message: unknown type %d", (int)m->type);
}

/* Offset of the first column image of an Insert/Delete body at `body`. */
static size_t images_start(const qv_msg *m, size_t body)
{
    if (m->type == QV_MSG_DELETE)
        return ALIGN64(body + DEL_FIXED);
    size_t p = body + INS_FIXED + 16 * m->nfields;
    if (m->row_ids)
        p += 8 * m->rows;
    return ALIGN64(p);
}

static size_t head_size(const qv_msg *m)
{
    return MSG_HDR + ALIGN8(strlen(m->vchannel));
}

size_t qv_msg_encoded_size(const qv_msg *m)
{
    if (msg__check(m, NULL))
        return 0;
    size_t body = head_size(m);
    switch (m->type) {
    case QV_MSG_TIME_TICK:
    case QV_MSG_DROP_COLLECTION:
        return body;
    case QV_MSG_DROP_PARTITION:
        return body + 8;
    case QV_MSG_SEGMENT_OPEN:
    case QV_MSG_SEGMENT_SEAL:
        return body + SEG_FIXED;
    case QV_MSG_FLUSH:
        return body + 8 + 8 * m->nsegments;
    case QV_MSG_INSERT:
    case QV_MSG_DELETE: {
        size_t p = images_start(m, body);
        size_t nimg = m->type == QV_MSG_DELETE ? 1 : m->nfields;
        for (size_t i = 0; i < nimg; i++) {
            p = ALIGN64(p);
            p += msg__image_size(&m->cols[i]);
        }
        return p;
    }
    }
    return 0;
}

/* Writes column images at 64-aligned offsets from p0 and their (offset,
 * length) entries into table.  Returns the end offset. */
static qv_code put_images(const qv_msg *m, qv_buf *out, size_t start, size_t p,
                          size_t table, size_t nimg, qv_err *err)
{
    for (size_t i = 0; i < nimg; i++) {
        size_t at = ALIGN64(p);
        size_t cur = out->len - start;
        if (at > cur) {
            static const uint8_t zero[IMG_ALIGN];
            if (qv_buf_append(out, zero, at - cur))
                return qv_fail(err, QV_E_NOMEM, "cannot encode message");
        }
        int64_t fid =
            m->type == QV_MSG_DELETE ? m->pk_field_id : m->field_ids[i];
        qv_code rc = qv_column_file_encode(&m->cols[i], fid, out, err);
        if (rc)
            return rc;
        size_t len = out->len - start - at;
        uint8_t *t = (uint8_t *)out->data + start + table + 16 * i;
        msg__put64(t, at);
        msg__put64(t + 8, len);
        p = at + len;
    }
    return QV_OK;
}

/* Fixed part of the body, up to (not including) the column images. */
static void put_body_fixed(const qv_msg *m, uint8_t *b)
{
    switch (m->type) {
    case QV_MSG_DROP_PARTITION:
        msg__put64(b, (uint64_t)m->partition_id);
        break;
    case QV_MSG_SEGMENT_OPEN:
    case QV_MSG_SEGMENT_SEAL:
        msg__put64(b, (uint64_t)m->partition_id);
        msg__put64(b + 8, (uint64_t)m->segment_id);
        msg__put32(b + 16, m->shard);
        msg__put32(b + 20, m->type == QV_MSG_SEGMENT_SEAL ? m->seal_reason : 0);
        break;
    case QV_MSG_FLUSH:
        msg__put64(b, m->nsegments);
        for (size_t i = 0; i < m->nsegments; i++)
            msg__put64(b + 8 + 8 * i, (uint64_t)m->segments[i]);
        break;
    case QV_MSG_INSERT:
        msg__put64(b, (uint64_t)m->partition_id);
        msg__put64(b + 8, (uint64_t)m->segment_id);
        msg__put32(b + 16, m->shard);
        msg__put32(b + 20, (uint32_t)m->nfields);
        msg__put64(b + 24, (uint64_t)m->pk_field_id);
        msg__put64(b + 32, m->rows);
        msg__put32(b + 40, m->row_ids ? INS_FLAG_ROWID : 0);
        if (m->row_ids && m->rows)
            memcpy(b + INS_FIXED + 16 * m->nfields, m->row_ids, 8 * m->rows);
        break;
    case QV_MSG_DELETE:
        msg__put64(b, (uint64_t)m->partition_id);
        msg__put32(b + 8, m->shard);
        msg__put64(b + 16, (uint64_t)m->pk_field_id);
        msg__put64(b + 24, m->rows);
        break;
    case QV_MSG_TIME_TICK:
    case QV_MSG_DROP_COLLECTION:
        break;
    }
}

qv_code qv_msg_encode(const qv_msg *m, qv_buf *out, qv_err *err)
{
    qv_code rc = msg__check(m, err);
    if (rc)
        return rc;
    size_t total = qv_msg_encoded_size(m);
    size_t body = head_size(m);
    bool cols = m->type == QV_MSG_INSERT || m->type == QV_MSG_DELETE;
    size_t fixed = cols ? images_start(m, body) : total;
    size_t start = out->len;
    if (qv_buf_reserve(out, total))
        return qv_fail(err, QV_E_NOMEM, "cannot encode %s message of %zu bytes",
                       qv_msg_type_name(m->type), total);
    uint8_t *p = (uint8_t *)out->data + start;
    memset(p, 0, fixed);
    size_t vl = strlen(m->vchannel);
    msg__put32(p, MSG_MAGIC);
    p[4] = QV_MSG_VERSION & 0xff;
    p[5] = QV_MSG_VERSION >> 8;
    p[6] = (uint8_t)m->type;
    p[7] = (uint8_t)((unsigned)m->type >> 8);
    msg__put32(p + MSG_OFF_VCLEN, (uint32_t)vl);
    msg__put64(p + MSG_OFF_TOTAL, total);
    msg__put64(p + MSG_OFF_TS, m->ts);
    msg__put64(p + MSG_OFF_COLL, (uint64_t)m->collection_id);
    memcpy(p + MSG_HDR, m->vchannel, vl);
    put_body_fixed(m, p + body);
    out->len = start + fixed;
    if (cols) {
        size_t table = body + (m->type == QV_MSG_DELETE ? 32 : INS_FIXED);
        size_t nimg = m->type == QV_MSG_DELETE ? 1 : m->nfields;
        rc = put_images(m, out, start, fixed, table, nimg, err);
        if (rc) {
            out->len = start;
            return rc;
        }
    }
    p = (uint8_t *)out->data + start;
    if (out->len - start != total) {
        out->len = start;
        return qv_fail(err, QV_E_INTERNAL,
                       "%s message: encoded size differs from the plan",
                       qv_msg_type_name(m->type));
    }
    msg__put32(p + MSG_OFF_CRC, msg__crc(p, total));
    out->data[out->len] = '\0';
    return QV_OK;
}
