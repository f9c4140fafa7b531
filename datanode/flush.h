/* flush.h -- writing a segment to the object store as a flushed segment:
 * one column file per field plus the insert timestamps, a delete log of
 * the rows hidden so far, and PK statistics (keys and formats in
 * common/msg/seglog.h).  querynode/sealed.h loads the result.
 *
 * The datanode buffers a segment's rows with the same apply rules as a
 * query node's shard (querynode/shard.h), so both derive identical rows
 * and hide timestamps from the log; at seal/flush it writes the segment's
 * snapshot with qv_flush_segment().
 *
 * Ordering rule (datanode/README.md): upload every object first, then
 * record the segment (and the channel checkpoint) in meta KV; a crash in
 * between leaves orphans that GC removes, never a recorded segment with
 * missing objects.  Re-running a flush with the same log id rewrites the
 * same keys with the same bytes.
 *
 * Threading: qv_flush_segment reads a pinned snapshot; run it on one of the
 * datanode's per-channel flush workers.  The objstore is thread-safe.
 */
#ifndef QV_FLUSH_H
#define QV_FLUSH_H

#include <stddef.h>
#include <stdint.h>

#include "common/objstore/objstore.h"
#include "common/status.h"
#include "querynode/growing.h"

typedef struct qv_flush_target {
    objstore *os;
    int64_t collection_id;
    int64_t log_id; /* unique per flush (from the coord's id allocator) */
} qv_flush_target;

typedef struct qv_flush_result {
    uint64_t rows;
    uint64_t deletes; /* delete log entries */
    uint64_t bytes;   /* written */
    size_t objects;
} qv_flush_result;

/* Writes rows [0, snap->rows) of the snapshot.  schema must be the one the
 * segment was built with. */
qv_code qv_flush_segment(const qv_flush_target *t, const qv_seg_schema *schema,
                         const qv_seg_snap *snap, qv_flush_result *out,
                         qv_err *err) QV_MUST_USE;

#endif
