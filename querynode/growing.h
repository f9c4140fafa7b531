/* growing.h -- a growing segment: the rows of one segment that arrive
 * through the write log, kept in memory columns, with the insert timestamp
 * and MVCC "hidden from" timestamp of every row and a PK -> rows map.
 *
 * Visibility (querynode/README.md): row r is visible at read timestamp R
 * when ins_ts[r] <= R < hide_ts[r].  hide_ts starts at QV_TS_MAX and only
 * ever decreases (qv_growing_hide): a delete (pk, d) sets it to d on the
 * rows of pk with ins_ts < d; a newer version of the same PK sets it to the
 * newer version's insert timestamp.
 *
 * Ownership: a segment is created by its shard (querynode/shard.h) and
 * shared with readers by reference count (qv_growing_ref/unref); the last
 * unref frees it.  Columns, views and masks a reader takes stay valid while
 * it holds a reference and the pin (qv_growing_pin/unpin).
 *
 * Threading: one writer (the shard's applier thread) calls insert, hide,
 * seal and reclaim; any number of readers call snapshot, mask, row_ts and
 * lookups at the same time.  Rows become visible to readers all at once
 * when an insert publishes them (qv_growing_rows() is the published count).
 * hide_ts words are relaxed atomics: a reader at R <= the shard's tsafe
 * sees every change made by messages with ts <= R (DESIGN §2, README).
 */
#ifndef QV_GROWING_H
#define QV_GROWING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/column/column.h"
#include "common/column/pk.h"
#include "common/hts.h"
#include "common/msg/msg.h"
#include "common/status.h"

/* The fields of a collection as segments store them.  Borrowed by
 * qv_growing_create (columns copy what they keep). */
typedef struct qv_seg_schema {
    const qv_field_spec *fields;
    size_t nfields;
    int64_t pk_field_id;
} qv_seg_schema;

/* Most rows one growing segment holds. */
#define QV_GROWING_MAX_ROWS ((size_t)1 << 28)

typedef struct qv_growing qv_growing;

struct qv_seg_snap;

/* What search and query need from any kind of segment (growing here,
 * sealed in querynode/sealed.h), so one search code serves both. */
typedef struct qv_seg_ops {
    /* MVCC mask at R over rows [0, rows): bit SET = not visible */
    void (*mask)(const void *seg, qv_ts R, size_t rows, qv_bitset *exclude);
    /* insert timestamp of a row, and the timestamp it is hidden from */
    qv_ts (*row_ts)(const void *seg, size_t row);
    qv_ts (*row_hide)(const void *seg, size_t row);
    /* ends the reader's use: unpins and drops the reference */
    void (*release)(void *seg, struct qv_seg_snap *snap);
} qv_seg_ops;

/* A reader's view of a segment: published rows and one view per schema
 * field (in schema order).  Valid until ops->release(seg, snap). */
typedef struct qv_seg_snap {
    const qv_seg_ops *ops;
    void *seg; /* the segment (qv_growing or qv_sealed) */
    int64_t segment_id;
    int64_t partition_id;
    size_t rows;
    size_t nfields;
    const int64_t *field_ids; /* schema order */
    qv_col_view *cols;        /* nfields views, each with >= rows rows */
    size_t pk_index;          /* index of the PK field in cols */
    /* sealed segments: what was attached (vector indexes, sealed.h) when
     * the snapshot was taken -- a reference that release drops; NULL for
     * growing segments and sealed ones with nothing attached */
    struct qv_sealed_attach *attach;
} qv_seg_snap;

/* Creates an empty segment with reference count 1.  expected_rows (0 =
 * none) reserves column room up front so that growth never copies. */
qv_code qv_growing_create(const qv_seg_schema *schema, int64_t segment_id,
                          int64_t partition_id, size_t expected_rows,
                          qv_growing **out, qv_err *err) QV_MUST_USE;
void qv_growing_ref(qv_growing *g);
void qv_growing_unref(qv_growing *g);

int64_t qv_growing_id(const qv_growing *g);
int64_t qv_growing_partition(const qv_growing *g);
size_t qv_growing_rows(const qv_growing *g); /* published rows */
bool qv_growing_sealed(const qv_growing *g);
size_t qv_growing_memory_size(const qv_growing *g);

/* ---- writer ----------------------------------------------------------- */

/* Appends the rows of an Insert message (every row gets m->ts, hidden from
 * QV_TS_MAX) and publishes them.  Message fields are matched to the
 * schema by id: a missing field takes its default (or NULL); a field the
 * schema lacks, or one whose type, element type, dim or nullability
 * differs, is QV_E_INVALID and nothing is appended.  If appending fails
 * midway (out of memory) the segment refuses every later insert
 * (QV_E_INTERNAL): its columns no longer agree.  *first receives the
 * offset of the first new row. */
qv_code qv_growing_insert(qv_growing *g, const qv_msg *m, size_t *first,
                          qv_err *err) QV_MUST_USE;
/* hide_ts[row] = min(hide_ts[row], ts). */
void qv_growing_hide(qv_growing *g, size_t row, qv_ts ts);
/* Applies a delete (pk, ts): hides the rows of pk with insert ts < ts;
 * returns how many rows it hid for the first time at or before ts. */
size_t qv_growing_delete(qv_growing *g, const qv_pk *pk, qv_ts ts);
void qv_growing_seal(qv_growing *g);
/* Frees column buffers retired by growth if no reader holds a pin. */
void qv_growing_reclaim(qv_growing *g);

/* ---- readers ---------------------------------------------------------- */

/* Pins the segment's buffers (a shared lock) and fills snap; unpin when
 * done with every view.  snap->cols is allocated: qv_growing_unpin frees
 * it.  snap->ops->release unpins and unrefs (for a snap that holds a
 * reference of its own, as qv_shard_acquire's do). */
void qv_growing_pin(qv_growing *g, qv_seg_snap *snap);
void qv_growing_unpin(qv_growing *g, qv_seg_snap *snap);
/* Fills exclude (an initialised bitset of exactly `rows` bits, rows <=
 * published rows) with the MVCC mask at R: bit SET = row not visible. */
void qv_growing_mask(const qv_growing *g, qv_ts R, size_t rows,
                     qv_bitset *exclude);
qv_ts qv_growing_row_ts(const qv_growing *g, size_t row);
qv_ts qv_growing_row_hide(const qv_growing *g, size_t row);
/* Appends the rows holding pk (ascending) to out; returns how many. */
size_t qv_growing_find(qv_growing *g, const qv_pk *pk, qv_rows *out);

#endif
