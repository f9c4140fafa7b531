/* shard.h -- the segments of one shard (vchannel) on a query node and the
 * rules that apply log messages to them.
 *
 * A shard holds the growing segments of its vchannel and the delete buffer
 * (explicit deletes newer than tsafe, for rows that arrive later in the log
 * with a smaller timestamp).  qv_shard_apply() is the one place where log
 * messages change segments:
 *   Insert      rows go to the growing segment named by the message (created
 *               on first sight if no SegmentOpen was seen, e.g. when the
 *               log is read from a checkpoint); then, per row, the older of
 *               two versions of one PK is hidden from the newer one's
 *               timestamp ("newest version wins", ties: later in the log),
 *               and buffered deletes newer than the row hide it;
 *   Delete      (pk, d) hides rows of pk with insert ts < d in every
 *               segment of the partition (or all), and is buffered;
 *   SegmentOpen creates the growing segment;  SegmentSeal / Flush mark
 *               segments sealed (rows that still arrive are kept and
 *               counted in stats.late_inserts);
 *   DropPartition / DropCollection remove segments.
 * Messages for another collection or vchannel are refused (QV_E_INVALID).
 *
 * Sealed segments (querynode/sealed.h) join a shard in two ways:
 *   qv_shard_handoff  replaces the growing copy of the same segment: the
 *               growing copy's hide timestamps (deletes and newer versions
 *               seen since the flush) are carried over row by row, then the
 *               two are swapped under the reader lock -- a reader sees one
 *               copy or the other, never both or neither;
 *   qv_shard_add_sealed  adds a segment that has no growing copy here
 *               (loaded at start from a checkpoint): versions of its keys
 *               are resolved against every other segment and the delete
 *               buffer, as for an insert.
 * Inserts naming a segment the shard serves sealed are skipped (counted in
 * stats.sealed_skipped): the sealed copy holds them (a consumer that
 * replays from a checkpoint inside the segment's span).
 * Deletes and inserts reach sealed segments through their PK statistics
 * (min/max + bloom): only segments that may hold the key are looked up.
 *
 * Ownership: the shard owns its segments and copies its schema.  Readers
 * take a qv_shard_snap (qv_shard_acquire): references to the segments that
 * existed then, pinned; qv_shard_snap_release drops them.  A snap must be
 * released before its shard is freed.
 *
 * Threading: apply, trim and reclaim are for one writer thread (the
 * delegator's consumer).  acquire/release may be called from any thread.
 */
#ifndef QV_SHARD_H
#define QV_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/hts.h"
#include "common/msg/msg.h"
#include "common/status.h"
#include "querynode/growing.h"
#include "querynode/sealed.h"

typedef struct qv_shard qv_shard;

typedef struct qv_shard_config {
    int64_t collection_id;
    const char *vchannel;
    qv_seg_schema schema; /* copied */
    size_t expected_rows; /* per growing segment; 0 = no reservation */
} qv_shard_config;

typedef struct qv_shard_stats {
    uint64_t inserts, deletes, rows, deleted_rows;
    uint64_t late_inserts;   /* rows for a sealed segment */
    uint64_t sealed_skipped; /* rows whose segment is served sealed */
    uint64_t segments;       /* growing segments held */
    uint64_t sealed;         /* sealed segments held */
    uint64_t delete_buffer;  /* buffered deletes */
} qv_shard_stats;

qv_code qv_shard_create(const qv_shard_config *cfg, qv_shard **out,
                        qv_err *err) QV_MUST_USE;
void qv_shard_free(qv_shard *s);
const qv_seg_schema *qv_shard_schema(const qv_shard *s);

/* Applies one decoded message (rules above). */
qv_code qv_shard_apply(qv_shard *s, const qv_msg *m, qv_err *err) QV_MUST_USE;
/* Called when tsafe reaches t: drops buffered deletes with ts <= t (no row
 * they could hide can still arrive) and reclaims unpinned column memory. */
void qv_shard_trim(qv_shard *s, qv_ts t);
void qv_shard_stats_get(qv_shard *s, qv_shard_stats *out);

/* Removes a segment (growing or sealed) from the shard, e.g. once a
 * datanode has flushed it; QV_E_NOT_FOUND if the shard does not hold it.
 * Writer thread only. */
qv_code qv_shard_drop_segment(qv_shard *s, int64_t segment_id,
                              qv_err *err) QV_MUST_USE;

/* Hand-off (rules above).  The shard takes a reference to x.  A growing
 * copy that is not sealed yet, or whose rows differ from x's (count or
 * insert timestamps), is QV_E_CONFLICT and nothing changes; without a
 * growing copy this is qv_shard_add_sealed.  Writer thread only. */
qv_code qv_shard_handoff(qv_shard *s, qv_sealed *x, qv_err *err) QV_MUST_USE;
/* Adds a sealed segment with no growing copy (rules above); takes a
 * reference.  QV_E_EXISTS if the shard already holds that segment id. */
qv_code qv_shard_add_sealed(qv_shard *s, qv_sealed *x, qv_err *err) QV_MUST_USE;

/* Adds x (a compaction output) and removes the sealed inputs[0..n) in one
 * step under the reader lock: readers see the inputs or the output.  Hide
 * timestamps the inputs gained since (same key and insert timestamp) carry
 * over; x's keys are resolved against the other segments as in add_sealed.
 * Takes a reference.  Writer thread only. */
qv_code qv_shard_replace(qv_shard *s, qv_sealed *x, const int64_t *inputs,
                         size_t ninputs, qv_err *err) QV_MUST_USE;

/* A reader's pinned set of segments. */
typedef struct qv_shard_snap {
    const qv_seg_schema *schema; /* the shard's; valid while it lives */
    size_t n;
    qv_seg_snap *snaps; /* n segments, each holding a reference */
} qv_shard_snap;

void qv_shard_acquire(qv_shard *s, qv_shard_snap *out);
void qv_shard_snap_release(qv_shard_snap *snap);

#endif
