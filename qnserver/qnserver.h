/* qnserver.h -- the query node process role: serves
 * quiver.internal.QueryNodeService (proto/internal/querynode.proto) with
 * one delegator (querynode/delegator.h) per watched vchannel.
 *
 * The coord assigns vchannels (WatchChannels, idempotent; ReleaseChannels
 * drops a collection's).  Each delegator consumes its pchannel from the
 * earliest retained record into growing segments (there is no flushed
 * checkpoint to start from yet) and advances tsafe at every time tick.
 * Proxies send per-shard Search and Query: the handler waits (bounded)
 * until tsafe reaches the request's guarantee timestamp, reads at the tsafe
 * reached (or at travel_ts when that is set and not newer), and answers
 * hits/rows with their columns as column file images.
 *
 * The node registers "<root>session/querynode-<id>" with its address so
 * the coord can find it, and registers a new one whenever it is lost.
 *
 * Ownership: borrows the metakv and the wal (both must outlive it); owns
 * its RPC server, session, collections and delegators.
 * Threading: create/start/stop/destroy from one thread; handlers run on the
 * RPC workers; the collection table is guarded by a rwlock (reads share
 * it, watch/release take it exclusively).
 */
#ifndef QV_QNSERVER_H
#define QV_QNSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
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
} qv_qnode_options;

qv_code qv_qnode_create(const qv_qnode_options *opts, qv_qnode **out,
                        qv_err *err) QV_MUST_USE;
/* Serves and registers the session. */
qv_code qv_qnode_start(qv_qnode *q, qv_err *err) QV_MUST_USE;
int qv_qnode_port(const qv_qnode *q);
/* Number of vchannels being served (for tests). */
size_t qv_qnode_channels(qv_qnode *q);
/* Stops serving, revokes the session and stops every delegator. */
void qv_qnode_stop(qv_qnode *q);
void qv_qnode_destroy(qv_qnode *q);

#endif
