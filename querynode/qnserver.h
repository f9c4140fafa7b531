/* qnserver.h -- the query node process role: serves
 * quiver.internal.QueryNodeService (proto/internal/querynode.proto) with
 * one delegator (querynode/delegator.h) per watched vchannel.
 *
 * The coord assigns vchannels (WatchChannels, idempotent; ReleaseChannels
 * drops a collection's) with a checkpoint and an initial target per
 * vchannel.  The sync worker (qn_sync.c) loads the initial target's sealed
 * segments from the object store, then starts the delegator at the
 * checkpoint with them (reads of the channel wait meanwhile); the
 * delegator consumes its pchannel from there into growing segments and
 * advances tsafe at every time tick.  SyncSegments brings newer targets:
 * the worker loads new segments, hands them off from their growing copies
 * (or adds them), attaches indexes (qn_index.c) and drops segments no
 * longer listed.  A load that would pass the memory limit is refused with
 * a clear error the coord surfaces in load progress.
 * Proxies send per-shard Search and Query: the handler waits (bounded)
 * until tsafe reaches the request's guarantee timestamp, reads at the tsafe
 * reached (or at travel_ts when that is set and not newer), and answers
 * hits/rows with their columns as column file images.
 *
 * The node registers "<root>session/querynode-<id>" with its address so
 * the coord can find it, and registers a new one whenever it is lost.
 *
 * Ownership: borrows the metakv, the wal and the objstore (they must
 * outlive it); owns its RPC server, session, collections and delegators.
 * Threading: create/start/stop/destroy from one thread; handlers run on the
 * RPC workers; the collection table is guarded by a rwlock (reads share
 * it, watch/release take it exclusively); one sync worker thread loads
 * sealed segments (qn_int.h).
 */
#ifndef QV_QNSERVER_H
#define QV_QNSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "common/wal/wal.h"

typedef struct qv_qnode qv_qnode;

typedef struct qv_qnode_options {
    metakv *kv;            /* borrowed; required */
    wal *log;              /* borrowed; required */
    const char *root;      /* meta KV key root; NULL = "quiver/" */
    const char *host;      /* listen host; NULL = "0.0.0.0" */
    int port;              /* 0 = ephemeral */
    const char *advertise; /* NULL/"" = host:port (127.0.0.1 for 0.0.0.0) */
    size_t workers;        /* handler threads; 0 = 4 */
    int64_t session_ttl_s; /* 0 = 10 */
    objstore *os;          /* borrowed; sealed segments and indexes (NULL:
                              a target with segments is an error) */
    const char *cache_dir; /* NULL/"": sealed segments held in memory;
                              else column files cached there and mapped */
    uint64_t memory_limit; /* bytes; 0 = 90% of the machine's memory */
} qv_qnode_options;

qv_code qv_qnode_create(const qv_qnode_options *opts, qv_qnode **out,
                        qv_err *err) QV_MUST_USE;
/* Serves and registers the session. */
qv_code qv_qnode_start(qv_qnode *q, qv_err *err) QV_MUST_USE;
int qv_qnode_port(const qv_qnode *q);
/* Number of vchannels being served (for tests). */
size_t qv_qnode_channels(qv_qnode *q);
/* Rows applied from the log and rows of serving sealed segments, summed
 * over every channel (tests, metrics). */
void qv_qnode_rows(qv_qnode *q, uint64_t *log_rows, uint64_t *sealed_rows);
/* Stops serving, revokes the session and stops every delegator. */
void qv_qnode_stop(qv_qnode *q);
void qv_qnode_destroy(qv_qnode *q);

#endif
