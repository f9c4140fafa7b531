/* delegator.h -- the shard leader of one vchannel on a query node: a
 * consumer thread reads the vchannel's pchannel from the write log,
 * applies the vchannel's messages to its shard (querynode/shard.h) and
 * advances tsafe; readers wait for tsafe and read the shard at a timestamp.
 *
 * Ordering (querynode/README.md): records are applied in log order.  A
 * TimeTick T (pchannel-wide, or naming this vchannel) means no message with
 * ts <= T follows, so once every record before it is applied tsafe becomes
 * T (tsafe never decreases).  Records of other vchannels are skipped by
 * their header alone.  A record that fails to decode or apply stops the
 * consumer: the delegator turns "failed", keeps the error, and every wait
 * returns it (it never serves a shard that lost a message).  So does a
 * read that finds the log trimmed past records not read yet
 * (QV_E_COMPACTED; the error names the vchannel, the position and the
 * remedy: release and load the collection again, which the coord does by
 * itself when the node reports it, querynode/qn_sync.c).  The coord never
 * trims past qv_delegator_checkpoint() of a live query node, which
 * reports it in every SyncSegments answer (coord/coord_dn.c), so that
 * takes a trim by hand or the log's own retention.
 *
 * Ownership: the delegator owns its shard, its log reader and its thread;
 * the wal handle is borrowed and must outlive the delegator.
 * Threading: start/stop from one owner thread; wait_tsafe, tsafe, shard
 * acquire (through qv_delegator_shard), handoff and add_sealed from any
 * thread.  The consumer applies each record under `apply_mu`, which
 * handoff/add_sealed take too, so the shard keeps one writer at a time.
 */
#ifndef QV_DELEGATOR_H
#define QV_DELEGATOR_H

#include <stdint.h>

#include "common/hts.h"
#include "common/status.h"
#include "common/wal/wal.h"
#include "querynode/shard.h"

typedef struct qv_delegator qv_delegator;

typedef struct qv_delegator_opts {
    wal *log;              /* borrowed */
    const char *pchannel;  /* the log channel holding the vchannel */
    wal_pos from;          /* first position to read (a checkpoint) */
    qv_shard_config shard; /* collection, vchannel, schema */
    uint32_t poll_ms;      /* log read wait per round; default 50 */
    uint64_t max_lag_ms;   /* waits for a guarantee further than this
                              ahead of tsafe fail at once; default 86400000 */
    /* Sealed segments the shard serves before the first record is read
     * (a start from a checkpoint: the flushed segments of the channel);
     * each is added with qv_shard_add_sealed (references taken). */
    qv_sealed *const *sealed;
    size_t nsealed;
} qv_delegator_opts;

/* Creates the shard, opens the log reader and starts the consumer. */
qv_code qv_delegator_start(const qv_delegator_opts *opts, qv_delegator **out,
                           qv_err *err) QV_MUST_USE;
/* Stops the consumer, waking every waiter with QV_E_CANCELLED, and frees
 * everything.  Readers must have released their snapshots. */
void qv_delegator_stop(qv_delegator *d);

qv_ts qv_delegator_tsafe(qv_delegator *d);
/* QV_OK while the consumer is healthy, else the error that stopped it
 * (its message into msg, cap bytes). */
qv_code qv_delegator_failure(qv_delegator *d, char *msg, size_t cap);
/* Position just after the last time tick applied (where a new consumer
 * could resume with nothing lost), and the tick itself.  Before the first
 * tick: the start position (WAL_EARLIEST if it started there). */
void qv_delegator_checkpoint(qv_delegator *d, wal_pos *pos, qv_ts *tick);

/* Waits until tsafe >= guarantee or timeout_ms pass.  On success *reached
 * is the tsafe reached (read at it: DESIGN §5).  QV_E_TIMEOUT names the
 * vchannel, the guarantee and the tsafe reached; a failed or stopped
 * delegator returns its error (QV_E_CANCELLED when stopped). */
qv_code qv_delegator_wait_tsafe(qv_delegator *d, qv_ts guarantee,
                                uint32_t timeout_ms, qv_ts *reached,
                                qv_err *err) QV_MUST_USE;

/* The shard, for qv_shard_acquire (the delegator keeps ownership). */
qv_shard *qv_delegator_shard(qv_delegator *d);

/* qv_shard_handoff / qv_shard_add_sealed run between two log records (the
 * consumer is held off meanwhile), from any thread. */
qv_code qv_delegator_handoff(qv_delegator *d, qv_sealed *x,
                             qv_err *err) QV_MUST_USE;
qv_code qv_delegator_add_sealed(qv_delegator *d, qv_sealed *x,
                                qv_err *err) QV_MUST_USE;
/* qv_shard_replace (a compaction output for its inputs) and
 * qv_shard_drop_segment, between two log records. */
qv_code qv_delegator_replace(qv_delegator *d, qv_sealed *x,
                             const int64_t *inputs, size_t ninputs,
                             qv_err *err) QV_MUST_USE;
qv_code qv_delegator_drop_segment(qv_delegator *d, int64_t segment_id,
                                  qv_err *err) QV_MUST_USE;
/* The shard's statistics, read between two log records. */
void qv_delegator_stats(qv_delegator *d, qv_shard_stats *out);

#endif
