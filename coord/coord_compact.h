/* coord_compact.h -- compaction planning and execution in the coord
 * (docs/architecture.md "Compaction and GC"; CONTRACT.md flow step 6).
 *
 * Planning (qv_compact_plan, a pure function over one collection's
 * SegmentInfo records): per (partition, vchannel), over the FLUSHED L1
 * segments of live partitions that no running plan holds,
 *   - merge: segments with rows < min_rows (manual: every segment) are
 *     grouped, in id order, into outputs of at most max_rows rows and at
 *     most QV_COMPACT_MAX_INPUTS inputs; a group of two or more is a plan;
 *   - single: a segment left out of every merge whose estimated deleted
 *     ratio exceeds deleted_ratio (manual: any pending delete) is rewritten
 *     alone.  The estimate counts the rows the segment keeps only for
 *     time travel (deleted_rows, once flushed_ts <= purge_before) and the
 *     entries of the channel's L0 delete logs (for its partition or all)
 *     committed after the segment was and old enough to purge (min_ts <=
 *     purge_before) -- cheap, read from the records only, and an
 *     overestimate when deletes hit other segments.
 * Every plan also lists the channel's FLUSHED L0 logs, which the datanode
 * applies to the inputs.
 *
 * Execution (coord_compact.c, the coord's maintenance thread): a plan's
 * inputs are re-read, output segment and log ids allocated, purge_before =
 * a fresh TSO timestamp - retention, and one datanode runs
 * DataNodeService/Compact (datanode/compact.h).  The swap is ONE meta KV
 * transaction, guarded by the inputs' revisions: inputs COMPACTED with
 * dropped_ts, output FLUSHED with compacted_from.  An input changed
 * meanwhile fails the plan (its output objects become orphans for GC); a
 * plan waits up to a minute for a datanode, and one whose datanode cannot
 * be reached (UNAVAILABLE, TIMEOUT) runs again, three attempts in all.
 * Query nodes switch to an output only once it is indexed (coord_load.c).
 *
 * Jobs (ManualCompaction, and each automatic round) live in the active
 * coord's memory: GetCompactionState(WithPlans) answers from them; an id
 * the coord does not know (a job of a previous active coord) is reported
 * Completed with no plans, since nothing of it can still be running.
 *
 * Threading: qv_compact_plan is pure; the job list is guarded by the
 * maintenance state's mutex.
 */
#ifndef QV_COORD_COMPACT_H
#define QV_COORD_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/hts.h"
#include "coord/segmeta.h"

#define QV_COMPACT_MAX_INPUTS 64

typedef struct qv_compact_params {
    uint64_t min_rows;    /* auto: segments below this are merged */
    uint64_t max_rows;    /* most rows of one output */
    double deleted_ratio; /* auto: single rewrite above this (0.2) */
    qv_ts purge_before;   /* now - retention */
    bool manual;
    const int64_t *busy; /* segment ids held by running plans */
    size_t nbusy;
} qv_compact_params;

typedef struct qv_compact_group {
    int64_t partition_id;
    const char *vchannel; /* borrowed from the records */
    qv_seg_info **inputs; /* id order */
    size_t ninputs;
    qv_seg_info **l0; /* the channel's L0 logs */
    size_t nl0;
    uint64_t rows; /* rows of the inputs */
} qv_compact_group;

/* Plans over segs (one collection, any order, every state and level);
 * parts (n > 0) = the live partitions, others are skipped.  Groups and
 * their arrays live on a. */
size_t qv_compact_plan(qv_seg_info *const *segs, size_t n, const int64_t *parts,
                       size_t nparts, const qv_compact_params *p, qv_arena *a,
                       qv_compact_group **out);

#endif
