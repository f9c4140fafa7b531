/* coord_gc.h -- garbage collection of segment, index and collection data
 * (DESIGN §3, §5 retention; docs/architecture.md "Compaction and GC").
 *
 * One round (qv_gc_run) reads the metadata and removes, from the object
 * store first and then from meta KV:
 *   - segments COMPACTED or DROPPED longer than the retention window ago
 *     (dropped_ts): their insert, delta and stats logs, the index files of
 *     their builds, their SegmentIndex records, then the SegmentInfo.  A
 *     compaction input stays while its output is FLUSHED but not yet
 *     indexed for every live index (query nodes serve the inputs instead,
 *     CONTRACT.md TARGET RULE);
 *   - segments of dropped partitions: marked DROPPED (dropped_ts = the
 *     round's time) when first seen, collected a retention window later;
 *   - dropped collections (catalog state DROPPED, drop_ts older than the
 *     window): every segment, index and build, the channel checkpoints and
 *     datanode assignments, every object under the collection's prefixes,
 *     then the catalog record (a compare-and-delete on its revision);
 *   - dropped indexes (IndexInfo DROPPED, drop_ts older than the window):
 *     index_files/{build}/ of each of its builds, the SegmentIndex records,
 *     then the IndexInfo;
 *   - orphans (scan_orphans): objects under insert_log/, delta_log/,
 *     stats_log/ and index_files/ that no record names (segment, L0 log id,
 *     build id; a segment key with another log id than the recorded one)
 *     and whose last modification is older than the grace period (a
 *     datanode uploads before it commits; the grace covers that gap).
 *     Metadata is read before objects are listed, so an object written
 *     after the read is young and kept.
 *
 * Nothing newer than the retention window is removed, so time travel
 * inside the window still finds every version (compaction keeps them in
 * its output; GC keeps the inputs until the window has passed).
 *
 * Metrics (common/metrics): quiver_gc_bytes_live and
 * quiver_gc_bytes_pending (gauges, from the records' byte counts after the
 * round), quiver_gc_objects_deleted_total and quiver_gc_runs_total.
 *
 * Threading: one round at a time per meta root (the coord's maintenance
 * thread runs it); metakv and objstore are thread-safe.
 */
#ifndef QV_COORD_GC_H
#define QV_COORD_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"

typedef struct qv_gc_options {
    metakv *kv;
    const char *root; /* meta KV root ("quiver/") */
    objstore *os;
    uint64_t now_ms;          /* the round's wall clock, Unix ms */
    uint64_t retention_ms;    /* time travel window */
    uint64_t orphan_grace_ms; /* objects younger than this are never orphans */
    bool scan_orphans;
    uint64_t build_min_rows; /* segments with fewer rows need no index; 0 =
                                1024 */
} qv_gc_options;

typedef struct qv_gc_stats {
    uint64_t segments_removed;    /* SegmentInfo records removed */
    uint64_t segments_marked;     /* segments of dropped partitions marked */
    uint64_t builds_removed;      /* SegmentIndex records removed */
    uint64_t indexes_removed;     /* IndexInfo records removed */
    uint64_t collections_removed; /* catalog records removed */
    uint64_t objects_deleted;     /* every object deleted, orphans included */
    uint64_t orphans_deleted;
    uint64_t bytes_live;    /* FLUSHED segments and finished builds */
    uint64_t bytes_pending; /* segments waiting for collection */
} qv_gc_stats;

/* One round (rules above).  Stops at the first meta KV or object store
 * error (the next round retries: every step is idempotent). */
qv_code qv_gc_run(const qv_gc_options *o, qv_gc_stats *st,
                  qv_err *err) QV_MUST_USE;

#endif
