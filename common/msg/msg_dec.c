/* msg_dec.c -- the bounds-checked decoder of log messages (README.md).
 *
 * Order of checks: length of the fixed header, magic, version, declared
 * total length, checksum, type, vchannel, then the body of the type: exact
 * sizes, column image table (each image at the next 64-byte boundary,
 * zero padding, inside the message),
 * each image through the column loader, row counts, field ids, the PK
 * column.  Nothing is trusted before it is checked.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/msg_int.h"

typedef struct msg_priv {
    void *copy;          /* aligned copy of misaligned input, or NULL */
    char *vchannel;      /* NUL-terminated copy */
    qv_column **columns; /* loaded images (borrow the bytes) */
    qv_col_view *views;  /* their views */
    int64_t *field_ids;  /* field id of each column */
    int64_t *segments;   /* Flush ids (aligned copy) */
    size_t ncolumns;
} msg_priv;

static void priv_free(msg_priv *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncolumns; i++)
        qv_column_free(p->columns[i]);
    free(p->columns);
    free(p->views);
    free(p->field_ids);
    free(p->segments);
    free(p->vchannel);
    qv_aligned_free(p->copy);
    free(p);
}

void qv_msg_release(qv_msg *m)
{
    if (!m)
        return;
    priv_free(m->priv);
    memset(m, 0, sizeof *m);
}

static qv_code bad(qv_err *err, const char *what)
{
    return qv_fail(err, QV_E_CORRUPT, "log message: %s", what);
}

qv_code qv_msg_peek(const void *bytes, size_t len, qv_msg_type *type, qv_ts *ts,
                    int64_t *collection_id, char *vchannel, size_t cap,
                    qv_err *err)
{
    const uint8_t *p = bytes;
    if (len < MSG_HDR)
        return bad(err, "shorter than its header");
    if (msg__get32(p) != MSG_MAGIC)
        return bad(err, "bad magic");
    if ((p[4] | (p[5] << 8)) != QV_MSG_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "log message: unsupported version %u",
                       (unsigned)(p[4] | (p[5] << 8)));
    uint32_t vl = msg__get32(p + MSG_OFF_VCLEN);
    if (vl > QV_MSG_VCHANNEL_MAX || vl > len - MSG_HDR || vl + 1 > cap)
        return bad(err, "bad vchannel length");
    *type = (qv_msg_type)(p[6] | (p[7] << 8));
    *ts = msg__get64(p + MSG_OFF_TS);
    *collection_id = (int64_t)msg__get64(p + MSG_OFF_COLL);
    memcpy(vchannel, p + MSG_HDR, vl);
    vchannel[vl] = '\0';
    return QV_OK;
}

/* Loads the image at table entry t into column i of the message. */
static qv_code load_image(const uint8_t *base, size_t total, const uint8_t *t,
                          size_t *prev_end, msg_priv *pv, qv_err *err)
{
    uint64_t off = msg__get64(t), len = msg__get64(t + 8);
    if (off != ALIGN64(*prev_end) || off > total || len > total - off)
        return bad(err, "column image not where the layout puts it");
    for (size_t i = *prev_end; i < off; i++)
        if (base[i])
            return bad(err, "padding before a column image is not zero");
    if (len == 0)
        return bad(err, "empty column image");
    *prev_end = (size_t)(off + len);
    qv_column *c;
    qv_err e;
    qv_code rc =
        qv_column_load(base + off, (size_t)len, QV_COLUMN_NO_VERIFY, &c, &e);
    if (rc)
        return qv_fail(err,
                       qv_code_primary(rc) == QV_E_CORRUPT ? rc : QV_E_CORRUPT,
                       "log message: column %zu: %s", pv->ncolumns, e.msg);
    size_t i = pv->ncolumns++;
    pv->columns[i] = c;
    pv->views[i] = qv_column_view(c);
    pv->field_ids[i] = qv_column_field_id(c);
    return QV_OK;
}

static bool view_is_pk(const qv_col_view *v)
{
    return (v->type == QV_DT_INT64 || v->type == QV_DT_VARCHAR) && !v->valid;
}

static qv_code alloc_cols(msg_priv *pv, size_t n)
{
    pv->columns = QV_NEW_ARRAY(qv_column *, n);
    pv->views = QV_NEW_ARRAY(qv_col_view, n);
    pv->field_ids = QV_NEW_ARRAY(int64_t, n);
    return QV_OK;
}

static qv_code dec_insert(const uint8_t *base, size_t total, size_t b,
                          qv_msg *m, msg_priv *pv, qv_err *err)
{
    if (total - b < INS_FIXED)
        return bad(err, "insert body too short");
    const uint8_t *p = base + b;
    m->partition_id = (int64_t)msg__get64(p);
    m->segment_id = (int64_t)msg__get64(p + 8);
    m->shard = msg__get32(p + 16);
    uint32_t nf = msg__get32(p + 20);
    m->pk_field_id = (int64_t)msg__get64(p + 24);
    uint64_t rows = msg__get64(p + 32);
    uint32_t flags = msg__get32(p + 40);
    if (nf == 0 || nf > QV_MSG_MAX_FIELDS)
        return bad(err, "bad insert field count");
    if ((flags & ~INS_FLAG_ROWID) || msg__get32(p + 44))
        return bad(err, "unknown insert flags");
    if (rows > total)
        return bad(err, "insert row count cannot fit");
    size_t table = b + INS_FIXED;
    size_t after = table + 16 * (size_t)nf;
    if (after > total)
        return bad(err, "insert field table outside the message");
    if (flags & INS_FLAG_ROWID) {
        if (8 * rows > total - after)
            return bad(err, "insert row ids outside the message");
        m->row_ids = (const int64_t *)(const void *)(base + after);
        after += 8 * (size_t)rows;
    }
    m->rows = (size_t)rows;
    alloc_cols(pv, nf);
    size_t prev = after;
    bool has_pk = false;
    for (size_t i = 0; i < nf; i++) {
        qv_code rc =
            load_image(base, total, base + table + 16 * i, &prev, pv, err);
        if (rc)
            return rc;
        if (pv->views[i].rows != m->rows)
            return bad(err, "insert column row count differs");
        for (size_t j = 0; j < i; j++)
            if (pv->field_ids[j] == pv->field_ids[i])
                return bad(err, "insert field appears twice");
        if (pv->field_ids[i] == m->pk_field_id) {
            if (!view_is_pk(&pv->views[i]))
                return bad(err, "insert primary key column has a bad type");
            has_pk = true;
        }
    }
    if (!has_pk)
        return bad(err, "insert has no primary key column");
    if (prev != total)
        return bad(err, "trailing bytes after the last column");
    m->nfields = nf;
    m->cols = pv->views;
    m->field_ids = pv->field_ids;
    return QV_OK;
}

static qv_code dec_delete(const uint8_t *base, size_t total, size_t b,
                          qv_msg *m, msg_priv *pv, qv_err *err)
{
    if (total - b < DEL_FIXED)
        return bad(err, "delete body too short");
    const uint8_t *p = base + b;
    m->partition_id = (int64_t)msg__get64(p);
    m->shard = msg__get32(p + 8);
    m->pk_field_id = (int64_t)msg__get64(p + 16);
    uint64_t rows = msg__get64(p + 24);
    if (msg__get32(p + 12))
        return bad(err, "delete reserved bytes are set");
    alloc_cols(pv, 1);
    size_t prev = b + DEL_FIXED;
    qv_code rc = load_image(base, total, p + 32, &prev, pv, err);
    if (rc)
        return rc;
    if (pv->views[0].rows != rows || pv->field_ids[0] != m->pk_field_id ||
        !view_is_pk(&pv->views[0]))
        return bad(err, "delete key column does not match its header");
    if (prev != total)
        return bad(err, "trailing bytes after the key column");
    m->rows = (size_t)rows;
    m->nfields = 1;
    m->cols = pv->views;
    m->field_ids = pv->field_ids;
    return QV_OK;
}

static qv_code dec_small(const uint8_t *base, size_t total, size_t b, qv_msg *m,
                         msg_priv *pv, qv_err *err)
{
    const uint8_t *p = base + b;
    size_t n = total - b;
    switch (m->type) {
    case QV_MSG_TIME_TICK:
    case QV_MSG_DROP_COLLECTION:
        return n == 0 ? QV_OK : bad(err, "unexpected body");
    case QV_MSG_DROP_PARTITION:
        if (n != 8)
            return bad(err, "drop partition body size");
        m->partition_id = (int64_t)msg__get64(p);
        return QV_OK;
    case QV_MSG_SEGMENT_OPEN:
    case QV_MSG_SEGMENT_SEAL:
        if (n != SEG_FIXED)
            return bad(err, "segment message body size");
        m->partition_id = (int64_t)msg__get64(p);
        m->segment_id = (int64_t)msg__get64(p + 8);
        m->shard = msg__get32(p + 16);
        m->seal_reason = msg__get32(p + 20);
        if (m->type == QV_MSG_SEGMENT_OPEN && m->seal_reason)
            return bad(err, "segment open reserved bytes are set");
        return QV_OK;
    case QV_MSG_FLUSH: {
        if (n < 8)
            return bad(err, "flush body too short");
        uint64_t k = msg__get64(p);
        if (k > QV_MSG_MAX_SEGMENTS || n != 8 + 8 * k)
            return bad(err, "flush segment count");
        pv->segments = QV_NEW_ARRAY(int64_t, k ? k : 1);
        memcpy(pv->segments, p + 8, 8 * k);
        m->nsegments = (size_t)k;
        m->segments = pv->segments;
        return QV_OK;
    }
    default:
        return bad(err, "unknown message type");
    }
}

/* Checks the fixed header; *body = offset of the body. */
static qv_code dec_head(const uint8_t *p, size_t len, qv_msg *m, size_t *body,
                        msg_priv *pv, qv_err *err)
{
    char vc[QV_MSG_VCHANNEL_MAX + 1] = {0};
    qv_code rc = qv_msg_peek(p, len, &m->type, &m->ts, &m->collection_id, vc,
                             sizeof vc, err);
    if (rc)
        return rc;
    if (msg__get64(p + MSG_OFF_TOTAL) != len)
        return bad(err, "length differs from the header");
    if (msg__get32(p + MSG_OFF_CRC) != msg__crc(p, len))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "log message: checksum mismatch");
    if (msg__get64(p + 40))
        return bad(err, "reserved header bytes are set");
    size_t vl = strlen(vc);
    if (vl != msg__get32(p + MSG_OFF_VCLEN))
        return bad(err, "vchannel holds a NUL byte");
    for (size_t i = 0; i < vl; i++) {
        char c = vc[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return bad(err, "vchannel has a bad character");
    }
    *body = MSG_HDR + ALIGN8(vl);
    if (*body > len)
        return bad(err, "vchannel outside the message");
    for (size_t i = MSG_HDR + vl; i < *body; i++)
        if (p[i])
            return bad(err, "vchannel padding is not zero");
    pv->vchannel = qv_xstrdup(vc);
    m->vchannel = pv->vchannel;
    return QV_OK;
}

qv_code qv_msg_decode(const void *bytes, size_t len, qv_msg *out, qv_err *err)
{
    msg_priv *pv = QV_NEW(msg_priv);
    const uint8_t *p = bytes;
    if (len && ((uintptr_t)bytes % 8)) {
        pv->copy = qv_try_aligned_alloc(1, len);
        if (!pv->copy) {
            free(pv);
            return qv_fail(err, QV_E_NOMEM,
                           "cannot copy a log message of %zu bytes", len);
        }
        memcpy(pv->copy, bytes, len);
        p = pv->copy;
    }
    qv_msg m;
    memset(&m, 0, sizeof m);
    size_t b = 0;
    qv_code rc = dec_head(p, len, &m, &b, pv, err);
    if (!rc) {
        if (m.type == QV_MSG_INSERT)
            rc = dec_insert(p, len, b, &m, pv, err);
        else if (m.type == QV_MSG_DELETE)
            rc = dec_delete(p, len, b, &m, pv, err);
        else
            rc = dec_small(p, len, b, &m, pv, err);
    }
    if (rc) {
        priv_free(pv);
        return rc;
    }
    m.priv = pv;
    *out = m;
    return QV_OK;
}
