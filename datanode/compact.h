/* compact.h -- merging flushed L1 segments of one (collection, partition,
 * vchannel) into one output segment (DESIGN §5 time travel, §4 segments).
 *
 * qv_compact_run() loads every input (querynode/sealed.h: rows, insert
 * timestamps, hide timestamps from its own delete log), applies the given
 * channel-level (L0) delete logs, resolves versions across the inputs
 * ("newest version of a key wins", as a query node does across segments),
 * then keeps every row that may still be visible at some read timestamp
 * R >= purge_before:
 *
 *   row r is visible at R  iff  ins[r] <= R < hide[r]
 *   r is dropped           iff  hide[r] <= purge_before  (or hide[r] <=
 *                               ins[r]: never visible at all)
 *
 * and writes the survivors, in input order, with the flush format
 * (datanode/flush.h): column files with their insert timestamps, a delete
 * log holding (pk, hide) of every survivor hidden at some time (so time
 * travel to any R >= purge_before answers exactly as the inputs did), and
 * PK statistics.  Versions newer than purge_before are never dropped.
 *
 * L0 logs are read at delta_log/{coll}/{part}/0/{log} for the inputs'
 * partition and for part -1 (every partition); a missing one is skipped.
 * The L0 logs stay where they are: query nodes apply them to the output
 * too, which changes nothing (deletes are idempotent).
 *
 * Ordering rule (as for flush): every object of the output is uploaded
 * before anything is recorded; the coord records the output and marks the
 * inputs compacted in one meta KV transaction.  A failed or repeated run
 * leaves at most orphan objects under the output's keys (GC removes them);
 * a rerun with the same output ids rewrites the same bytes.
 *
 * Memory: the inputs are held in memory while the output is built (a
 * compaction's inputs are bounded by the coord's plan size).
 * Threading: qv_compact_run is reentrant; the objstore is thread-safe.
 */
#ifndef QV_DN_COMPACT_H
#define QV_DN_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "common/hts.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "querynode/growing.h"

/* One flushed segment (an input) or one L0 delete log. */
typedef struct qv_compact_seg {
    int64_t segment_id; /* L0: unused (its objects use segment 0) */
    int64_t partition_id;
    int64_t log_id;
} qv_compact_seg;

typedef struct qv_compact_req {
    objstore *os;
    int64_t collection_id;
    int64_t partition_id; /* of every input */
    const qv_seg_schema *schema;
    const qv_compact_seg *inputs; /* 1.. segments, merged in this order */
    size_t ninputs;
    const qv_compact_seg *l0; /* channel delete logs to apply */
    size_t nl0;
    qv_ts purge_before; /* now - retention; 0 = purge nothing */
    int64_t output_segment_id;
    int64_t output_log_id;
} qv_compact_req;

typedef struct qv_compact_result {
    uint64_t input_rows;
    uint64_t rows;    /* written */
    uint64_t purged;  /* input rows dropped */
    uint64_t deletes; /* delete log entries of the output */
    uint64_t bytes;   /* written */
    size_t objects;
    qv_ts min_ts, max_ts; /* insert ts range of the output (0, 0 if empty) */
} qv_compact_result;

/* Runs one compaction (rules above).  QV_E_INVALID for a request that
 * names no input or no schema; errors of loading an input (missing or
 * damaged objects) and of writing the output are passed on, naming the
 * segment. */
qv_code qv_compact_run(const qv_compact_req *req, qv_compact_result *out,
                       qv_err *err) QV_MUST_USE;

#endif
