/* seglog.c -- object keys of flushed segments and the delete log format
 * (seglog.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/msg/msg_int.h"
#include "common/msg/seglog.h"

#define DL_MAGIC 0x4c445651u /* "QVDL" */
#define DL_HDR   64

char *qv_seglog_key(qv_seglog_kind kind, int64_t coll, int64_t part,
                    int64_t seg, int64_t field, int64_t log)
{
    switch (kind) {
    case QV_SEGLOG_INSERT:
        return qv_xasprintf("insert_log/%lld/%lld/%lld/%lld/%lld",
                            (long long)coll, (long long)part, (long long)seg,
                            (long long)field, (long long)log);
    case QV_SEGLOG_DELTA:
        return qv_xasprintf("delta_log/%lld/%lld/%lld/%lld", (long long)coll,
                            (long long)part, (long long)seg, (long long)log);
    case QV_SEGLOG_STATS:
        return qv_xasprintf("stats_log/%lld/%lld/%lld/%lld/%lld",
                            (long long)coll, (long long)part, (long long)seg,
                            (long long)field, (long long)log);
    }
    return qv_xstrdup("");
}

static uint32_t dl_crc(const uint8_t *p, size_t len)
{
    uint32_t c = qv_crc32c(0, p, 48);
    return qv_crc32c(c, p + DL_HDR, len - DL_HDR);
}

qv_code qv_delta_encode(const qv_col_view *pks, const int64_t *ts, qv_buf *out,
                        qv_err *err)
{
    if ((pks->type != QV_DT_INT64 && pks->type != QV_DT_VARCHAR) || pks->valid)
        return qv_fail(err, QV_E_INVALID,
                       "delete log: keys must be Int64 or VarChar without "
                       "nulls");
    qv_col_view tv = {.type = QV_DT_INT64,
                      .width = 8,
                      .rows = pks->rows,
                      .data = (const uint8_t *)ts};
    size_t start = out->len;
    uint8_t hdr[DL_HDR];
    memset(hdr, 0, sizeof hdr);
    if (qv_buf_append(out, hdr, sizeof hdr))
        return qv_fail(err, QV_E_NOMEM, "delete log: out of memory");
    size_t off[2], len[2];
    const qv_col_view *v[2] = {pks, &tv};
    for (int i = 0; i < 2; i++) {
        size_t at = ALIGN64(out->len - start);
        static const uint8_t zero[64];
        if (qv_buf_append(out, zero, at - (out->len - start)))
            return qv_fail(err, QV_E_NOMEM, "delete log: out of memory");
        qv_code rc = qv_column_file_encode(v[i], i, out, err);
        if (rc)
            return rc;
        off[i] = at;
        len[i] = out->len - start - at;
    }
    uint8_t *p = (uint8_t *)out->data + start;
    msg__put32(p, DL_MAGIC);
    msg__put32(p + 4, 1);
    msg__put64(p + 8, pks->rows);
    msg__put64(p + 16, off[0]);
    msg__put64(p + 24, len[0]);
    msg__put64(p + 32, off[1]);
    msg__put64(p + 40, len[1]);
    msg__put32(p + 48, dl_crc(p, out->len - start));
    return QV_OK;
}

static qv_code dl_bad(qv_err *err, const char *what)
{
    return qv_fail(err, QV_E_CORRUPT, "delete log: %s", what);
}

qv_code qv_delta_decode(const void *bytes, size_t len, qv_delta *out,
                        qv_err *err)
{
    const uint8_t *p = bytes;
    if ((uintptr_t)bytes % 8)
        return qv_fail(err, QV_E_INVALID, "delete log: not 8-byte aligned");
    if (len < DL_HDR || msg__get32(p) != DL_MAGIC)
        return dl_bad(err, "bad magic or too short");
    if (msg__get32(p + 4) != 1)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "delete log: unsupported version %u", msg__get32(p + 4));
    for (size_t i = 52; i < DL_HDR; i++)
        if (p[i])
            return dl_bad(err, "reserved bytes are set");
    if (msg__get32(p + 48) != dl_crc(p, len))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "delete log: checksum mismatch");
    uint64_t n = msg__get64(p + 8);
    qv_delta d;
    memset(&d, 0, sizeof d);
    qv_column **cols[2] = {&d.cpk, &d.cts};
    size_t prev = DL_HDR;
    for (size_t i = 0; i < 2; i++) {
        uint64_t o = msg__get64(p + 16 + 16 * i),
                 l = msg__get64(p + 24 + 16 * i);
        if (o != ALIGN64(prev) || o > len || l > len - o || l == 0) {
            qv_delta_release(&d);
            return dl_bad(err, "column image out of place");
        }
        qv_err e;
        if (qv_column_load(p + o, (size_t)l, QV_COLUMN_NO_VERIFY, cols[i],
                           &e)) {
            qv_delta_release(&d);
            return qv_fail(err, QV_E_CORRUPT, "delete log: %s", e.msg);
        }
        prev = (size_t)(o + l);
    }
    d.pks = qv_column_view(d.cpk);
    d.ts = qv_column_view(d.cts);
    if (prev != len || d.pks.rows != n || d.ts.rows != n || d.pks.valid ||
        d.ts.valid || d.ts.type != QV_DT_INT64 ||
        (d.pks.type != QV_DT_INT64 && d.pks.type != QV_DT_VARCHAR)) {
        qv_delta_release(&d);
        return dl_bad(err, "columns do not match the header");
    }
    d.n = (size_t)n;
    *out = d;
    return QV_OK;
}

void qv_delta_release(qv_delta *d)
{
    qv_column_free(d->cpk);
    qv_column_free(d->cts);
    memset(d, 0, sizeof *d);
}
