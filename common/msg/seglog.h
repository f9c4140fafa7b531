/* seglog.h -- the objects a flushed segment consists of (DESIGN §3, §4):
 * their keys in the object store and the delete log format.
 *
 *   insert_log/{coll}/{part}/{seg}/{field}/{log}   one column file (QVCL,
 *       common/column/README.md) per user field, and one for system field
 *       1: the insert timestamps of the rows (Int64)
 *   delta_log/{coll}/{part}/{seg}/{log}            (pk, ts) pairs: the row
 *       of pk with insert ts < ts is hidden from ts on (QVDL, below)
 *   stats_log/{coll}/{part}/{seg}/{pk field}/{log} PK stats (QVPS: rows,
 *       min/max, bloom filter)
 *
 * Delete log (QVDL, version 1), all integers little-endian:
 *   0   4  magic "QVDL"        4  4  version (1)
 *   8   8  entries n           16 16 PK image: offset, length
 *   32 16  ts image: offset, length
 *   48  4  crc32c of bytes [0, 48) and [64, end)   52 12 reserved, 0
 *   64  .. PK column image (Int64 or VarChar, n rows, no NULLs), then the
 *          ts column image (Int64, n rows), each at a multiple of 64
 *
 * Threading: pure functions.
 */
#ifndef QV_SEGLOG_H
#define QV_SEGLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/column/column.h"
#include "common/status.h"

#define QV_FIELD_ROW_ID    0 /* system field: row id */
#define QV_FIELD_TIMESTAMP 1 /* system field: insert timestamp */

typedef enum qv_seglog_kind {
    QV_SEGLOG_INSERT = 1,
    QV_SEGLOG_DELTA = 2,
    QV_SEGLOG_STATS = 3,
} qv_seglog_kind;

/* The key of one object (field is ignored for QV_SEGLOG_DELTA).  Returns a
 * heap string the caller frees. */
char *qv_seglog_key(qv_seglog_kind kind, int64_t coll, int64_t part,
                    int64_t seg, int64_t field, int64_t log);

/* Appends a delete log of n entries: pk[i] hidden from ts[i]. */
qv_code qv_delta_encode(const qv_col_view *pks, const int64_t *ts, qv_buf *out,
                        qv_err *err) QV_MUST_USE;

/* A decoded delete log; columns borrow the bytes given to decode. */
typedef struct qv_delta {
    size_t n;
    qv_col_view pks;
    qv_col_view ts; /* Int64 */
    qv_column *cpk, *cts;
} qv_delta;

/* Checks and decodes a delete log (8-byte aligned bytes that must outlive
 * the result).  QV_E_CORRUPT* on damage. */
qv_code qv_delta_decode(const void *bytes, size_t len, qv_delta *out,
                        qv_err *err) QV_MUST_USE;
void qv_delta_release(qv_delta *d);

#endif
