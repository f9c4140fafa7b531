/* channel.h -- a datanode's consumer of one vchannel: reads the pchannel
 * from a checkpoint, buffers the vchannel's rows per segment (with the
 * query node's apply rules, querynode/shard.h), and when a segment is
 * sealed (SegmentSeal, or Flush naming it) writes it to the object store
 * (flush.h) together with an L0 delete log of every explicit delete seen
 * since the previous commit, then hands the result to `commit` (which
 * records segment and checkpoint in meta KV, in one transaction).
 *
 * A seal takes effect at the first pchannel time tick at or past its
 * timestamp: an insert assigned to the segment before the seal has a
 * smaller timestamp, so it is in the log by then even when it landed
 * after the seal record (a proxy's append racing a Flush).  Records of
 * segments already flushed -- committed by this consumer, or listed in
 * opts.flushed when it restarts from a checkpoint inside their span -- are
 * skipped, so no segment is flushed twice.  A Flush makes a commit at the
 * first tick past it even when it seals nothing (its checkpoint's tick
 * then says everything up to the Flush is recorded).
 *
 * Checkpoint: after a commit, the position from which a restarted consumer
 * must replay so that nothing is lost: the first log position of the
 * oldest segment still buffered, or the position after the record that
 * caused the commit when none is.  Deletes before it are all in L0 logs.
 *
 * L0 delete logs: delta_log/{coll}/{part}/0/{log} (segment 0 = channel
 * level; part -1 for deletes of every partition), QVDL format
 * (common/msg/seglog.h).  Query nodes apply them to the sealed segments
 * of the channel (qv_sealed_apply_delta).
 *
 * Ownership: borrows the wal and the objstore; owns its reader and shard.
 * Threading: one thread drives a channel (qv_dn_channel_poll); flushes run
 * inline on it (a per-channel FIFO by construction).
 */
#ifndef QV_DN_CHANNEL_H
#define QV_DN_CHANNEL_H

#include <stdint.h>

#include "common/objstore/objstore.h"
#include "common/status.h"
#include "common/wal/wal.h"
#include "querynode/shard.h"

/* What one commit records. */
typedef struct qv_dn_commit {
    int64_t segment_id; /* flushed segment (with rows == 0 and log_id == 0
                           when it was sealed empty: no objects), or 0 when
                           only L0 was written */
    int64_t partition_id;
    int64_t log_id; /* of the segment's objects */
    uint64_t rows;
    uint64_t bytes;       /* object bytes of the segment */
    uint64_t hidden;      /* rows hidden at flush (delete log entries) */
    qv_ts min_ts, max_ts; /* insert timestamps of its rows */
    int64_t l0_log_id;    /* 0 when no delete was pending */
    uint64_t l0_deletes;
    qv_ts l0_min_ts, l0_max_ts; /* delete timestamps of the L0 log */
    wal_pos checkpoint;         /* replay from here after a restart */
    qv_ts tick; /* the time tick the commit was made at: every seal and
                   Flush with a timestamp up to it is recorded */
} qv_dn_commit;

typedef struct qv_dn_channel_opts {
    wal *log;             /* borrowed */
    const char *pchannel; /* the log channel holding the vchannel */
    wal_pos from;         /* checkpoint to start from */
    qv_shard_config shard;
    objstore *os; /* borrowed */
    /* A new unique log id (the coord's id allocator). */
    qv_code (*alloc_id)(void *ctx, int64_t *id, qv_err *err);
    /* Records the commit in meta KV; an error stops the channel (the
     * objects written stay orphans until GC). */
    qv_code (*commit)(void *ctx, const qv_dn_commit *c, qv_err *err);
    void *ctx;
    /* Segments of this vchannel already flushed (copied at open). */
    const int64_t *flushed;
    size_t nflushed;
} qv_dn_channel_opts;

typedef struct qv_dn_channel qv_dn_channel;

qv_code qv_dn_channel_open(const qv_dn_channel_opts *opts, qv_dn_channel **out,
                           qv_err *err) QV_MUST_USE;
/* Reads and applies records until none arrives within wait_ms or max
 * records were handled; flushes and commits as seals arrive.  Returns
 * QV_OK also when it simply ran out of records; an error (a damaged
 * record, a failed flush or commit) leaves the channel failed: later polls
 * return the same error. */
qv_code qv_dn_channel_poll(qv_dn_channel *ch, uint32_t wait_ms, size_t max,
                           qv_err *err) QV_MUST_USE;
/* Rows buffered (not yet flushed) and the last committed checkpoint. */
uint64_t qv_dn_channel_buffered(qv_dn_channel *ch);
wal_pos qv_dn_channel_checkpoint(qv_dn_channel *ch);
void qv_dn_channel_close(qv_dn_channel *ch);

#endif
