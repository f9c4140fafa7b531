/* sealed.h -- a sealed segment loaded from the object store: column files
 * used in place (mapped from a local cache file, or held in memory), its
 * insert timestamps, the hide timestamps from its delete log, and its PK
 * statistics.  Search and query read it through the same qv_seg_snap as a
 * growing segment (growing.h), so one search code serves both.
 *
 * Load (qv_sealed_load) fetches the objects of common/msg/seglog.h,
 * verifies every column file (magic, version, sizes, checksums), checks
 * that types, dims and row counts agree with the schema, then derives
 * hide timestamps: the newest version of a PK inside the segment wins
 * (as in a growing segment), and each delete log entry (pk, d) hides the
 * rows of pk with insert ts < d.
 *
 * Ownership: reference counted (load returns one reference).  Columns
 * borrow the loaded bytes or mappings, which the segment owns.
 * Threading: immutable after load except hide timestamps, which one writer
 * may lower (qv_sealed_delete: deletes forwarded after load) while readers
 * read them as relaxed atomics, as in growing segments.
 */
#ifndef QV_SEALED_H
#define QV_SEALED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/pk.h"
#include "common/msg/seglog.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "querynode/growing.h"

typedef struct qv_sealed qv_sealed;

typedef struct qv_sealed_source {
    objstore *os;
    int64_t collection_id, partition_id, segment_id;
    int64_t log_id;        /* the flush's log id (object key suffix) */
    const char *cache_dir; /* NULL: hold objects in memory; else download
                              column files there and map them */
} qv_sealed_source;

qv_code qv_sealed_load(const qv_sealed_source *src, const qv_seg_schema *schema,
                       qv_sealed **out, qv_err *err) QV_MUST_USE;
void qv_sealed_ref(qv_sealed *s);
void qv_sealed_unref(qv_sealed *s);

size_t qv_sealed_rows(const qv_sealed *s);
/* False if pk is certainly not in the segment (min/max, bloom). */
bool qv_sealed_may_contain(const qv_sealed *s, const qv_pk *pk);
int64_t qv_sealed_id(const qv_sealed *s);
int64_t qv_sealed_partition(const qv_sealed *s);
qv_ts qv_sealed_row_ts(const qv_sealed *s, size_t row);
qv_ts qv_sealed_row_hide(const qv_sealed *s, size_t row);
/* hide_ts[row] = min(hide_ts[row], ts) (one writer). */
void qv_sealed_hide(qv_sealed *s, size_t row, qv_ts ts);
/* Appends the rows holding pk (ascending) to out; returns how many. */
size_t qv_sealed_find(const qv_sealed *s, const qv_pk *pk, qv_rows *out);
/* The key of a row (VarChar bytes borrowed from the segment). */
qv_pk qv_sealed_pk(const qv_sealed *s, size_t row);
/* Applies every entry (pk, d) of a channel-level (L0) delete log: rows of
 * pk with insert ts < d are hidden from d.  Returns rows newly hidden.
 * One writer (before the segment serves, or the shard's writer). */
size_t qv_sealed_apply_delta(qv_sealed *s, const qv_delta *d);
/* A delete (pk, ts) forwarded after load; returns rows newly hidden. */
size_t qv_sealed_delete(qv_sealed *s, const qv_pk *pk, qv_ts ts);
/* A snapshot for search/query; takes a reference that snap->ops->release
 * drops.  snap->attach holds a reference to the current attachment. */
void qv_sealed_snap(qv_sealed *s, qv_seg_snap *snap);

/* True when every row is visible at R: none inserted after R and none
 * hidden at or before R (O(1); search skips the MVCC mask then). */
bool qv_sealed_all_visible(const qv_sealed *s, qv_ts R);
/* True when the columns are mapped from local files (cache_dir). */
bool qv_sealed_mapped(const qv_sealed *s);

/* ---- attachments ---------------------------------------------------------
 * Search structures loaded after the segment (vector indexes,
 * querynode/sealed_index.h) are attached to a serving segment without a
 * gap: qv_sealed_attach_set swaps them in under a small lock; each
 * snapshot takes a reference to the attachment current when it was taken
 * and keeps it until released, so a reader sees the segment with or
 * without it, never half of it; the last holder of a replaced attachment
 * destroys it.  The owner embeds qv_sealed_attach first in its struct. */
typedef struct qv_sealed_attach {
    _Atomic(int) refs;
    void (*destroy)(struct qv_sealed_attach *a);
} qv_sealed_attach;

void qv_sealed_attach_ref(qv_sealed_attach *a);
void qv_sealed_attach_unref(qv_sealed_attach *a); /* NULL: no-op */
/* Replaces the attachment: the segment takes over the caller's reference
 * to a (NULL detaches) and drops its reference to the previous one. */
void qv_sealed_attach_set(qv_sealed *s, qv_sealed_attach *a);
/* A new reference to the current attachment, or NULL. */
qv_sealed_attach *qv_sealed_attach_get(qv_sealed *s);

#endif
