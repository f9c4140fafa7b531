/* msg.h -- the records of a vchannel's write log: inserts, deletes, time
 * ticks and the control messages every consumer must agree on (DESIGN §2).
 *
 * One log record holds one message.  Every message names its type, its
 * hybrid timestamp and its vchannel (empty for a pchannel-wide time tick);
 * the format (field tables in common/msg/README.md) is versioned, covered
 * by one crc32c, and carries column data as column file images
 * (common/column/README.md), so the decoder reuses the column loader's
 * checks for every field type.
 *
 * Timestamps.  Every row of an Insert and every key of a Delete has the
 * message's timestamp: one request = one timestamp (an Upsert writes its
 * Delete and its Insert with the same timestamp).
 *
 * Encoding: fill a qv_msg (views and arrays borrowed for the call) and call
 * qv_msg_encode(); an Insert too big for one log record is cut by row
 * ranges with qv_msg_insert_split().
 * Decoding: qv_msg_decode() checks every byte and returns a qv_msg whose
 * arrays and column views point into the record bytes (which must stay
 * alive and unchanged until qv_msg_release) or, when the bytes are not
 * 8-byte aligned, into a private aligned copy.  Damaged input gives
 * QV_E_CORRUPT (or a detail code), never a crash.
 *
 * Threading: pure functions; a decoded qv_msg is immutable and may be read
 * by any number of threads; qv_msg_release needs them to be done.
 */
#ifndef QV_MSG_H
#define QV_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/column/column.h"
#include "common/hts.h"
#include "common/status.h"

#define QV_MSG_VERSION      1
#define QV_MSG_VCHANNEL_MAX 255
#define QV_MSG_MAX_FIELDS   1024  /* fields of one Insert */
#define QV_MSG_MAX_SEGMENTS 65536 /* segment ids of one Flush */

/* Message types.  Append only; numbers are part of the format. */
typedef enum qv_msg_type {
    QV_MSG_TIME_TICK = 1,       /* no message with ts <= this one follows */
    QV_MSG_INSERT = 2,          /* rows of one segment */
    QV_MSG_DELETE = 3,          /* primary keys */
    QV_MSG_SEGMENT_OPEN = 4,    /* a growing segment starts */
    QV_MSG_SEGMENT_SEAL = 5,    /* a segment takes no more rows */
    QV_MSG_FLUSH = 6,           /* the listed segments are sealed by Flush */
    QV_MSG_DROP_COLLECTION = 7, /* the collection is gone */
    QV_MSG_DROP_PARTITION = 8,  /* one partition is gone */
} qv_msg_type;

/* Why a segment was sealed (SegmentSeal). */
typedef enum qv_seal_reason {
    QV_SEAL_SIZE = 1,
    QV_SEAL_ROWS = 2,
    QV_SEAL_AGE = 3,
    QV_SEAL_IDLE = 4,
    QV_SEAL_FLUSH = 5,
    QV_SEAL_DROP = 6,
} qv_seal_reason;

#define QV_PARTITION_ALL (-1) /* Delete: every partition */

/* A message.  Which members mean something depends on the type:
 *
 *   member         Tick Insert Delete Open Seal Flush DropColl DropPart
 *   partition_id         x      x      x    x                   x
 *   segment_id           x             x    x
 *   shard                x      x      x
 *   seal_reason                             x
 *   pk_field_id          x      x
 *   rows                 x      x (keys)
 *   row_ids              x (or NULL)
 *   nfields/cols         x      1 (PK column)
 *   segments                                     x
 *
 * Others are zero.  For an Insert, cols[i] is the column of field
 * field_ids[i] with `rows` rows and one of the fields is the primary key
 * (Int64 or VarChar, no NULLs).  For a Delete, cols[0] is the PK column
 * (field pk_field_id) and nfields is 1. */
typedef struct qv_msg {
    qv_msg_type type;
    qv_ts ts;
    int64_t collection_id;
    const char *vchannel; /* NUL-terminated; "" = every vchannel of the
                             pchannel (time ticks) */
    int64_t partition_id;
    int64_t segment_id;
    uint32_t shard;
    uint32_t seal_reason;
    int64_t pk_field_id;
    size_t rows;
    const int64_t *row_ids; /* NULL or rows entries */
    size_t nfields;
    const int64_t *field_ids;
    const qv_col_view *cols;
    size_t nsegments;
    const int64_t *segments;

    void *priv; /* decoder state; NULL for messages the caller built */
} qv_msg;

/* "TimeTick", "Insert", ...; "Unknown" for other values. */
const char *qv_msg_type_name(qv_msg_type t);

/* Appends the encoded message to out.  Checks the message's shape (the
 * table above, row counts of every column, distinct field ids, the PK
 * column's type and NULLs, vchannel length and characters) and fails with
 * QV_E_INVALID naming what is wrong. */
qv_code qv_msg_encode(const qv_msg *m, qv_buf *out, qv_err *err) QV_MUST_USE;

/* Exact encoded size of m, or 0 when m's shape is invalid. */
size_t qv_msg_encoded_size(const qv_msg *m);

/* Decodes one message.  On success *out must be released with
 * qv_msg_release(); until then it may point into bytes (see the header
 * comment).  QV_E_CORRUPT* on damaged input. */
qv_code qv_msg_decode(const void *bytes, size_t len, qv_msg *out,
                      qv_err *err) QV_MUST_USE;
void qv_msg_release(qv_msg *m);

/* Reads only the fixed header (type, ts, collection, vchannel) without
 * checking the body or the checksum: for routing before a full decode.
 * vchannel receives a NUL-terminated copy (cap >= QV_MSG_VCHANNEL_MAX+1). */
qv_code qv_msg_peek(const void *bytes, size_t len, qv_msg_type *type, qv_ts *ts,
                    int64_t *collection_id, char *vchannel, size_t cap,
                    qv_err *err) QV_MUST_USE;

/* A list of encoded messages (the parts of a split insert). */
typedef struct qv_msg_parts {
    qv_buf *bufs;
    size_t n;
} qv_msg_parts;
void qv_msg_parts_release(qv_msg_parts *p);

/* Encodes the Insert m as one or more messages of at most max_bytes each,
 * cutting it into consecutive row ranges (every part repeats the header;
 * row order is kept).  A single row that cannot fit is QV_E_INVALID naming
 * the row.  On success *out holds the parts (release them). */
qv_code qv_msg_insert_split(const qv_msg *m, size_t max_bytes,
                            qv_msg_parts *out, qv_err *err) QV_MUST_USE;

/* A view of rows [first, first + n) of v.  Only the validity bitmap may
 * need new memory (when first % 64 != 0): *scratch receives it (free with
 * free(); NULL when none was needed). */
qv_code qv_col_view_slice(const qv_col_view *v, size_t first, size_t n,
                          qv_col_view *out, uint64_t **scratch) QV_MUST_USE;

#endif
