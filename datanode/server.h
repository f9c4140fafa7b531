/* server.h -- the datanode process role: serves
 * quiver.internal.DataNodeService (proto/internal/datanode.proto) with one
 * consumer thread (datanode/channel.h) per watched vchannel.
 *
 * The coord assigns vchannels (coord/coord_dn.c): WatchDataChannels starts
 * a consumer at the given checkpoint for every vchannel not consumed yet
 * (idempotent), ReleaseDataChannels stops them, GetDataChannelStates
 * reports rows buffered, the last committed checkpoint and the error of a
 * failed channel.  Each consumer writes sealed segments and L0 delete logs
 * to the object store and records them with the coord's CommitSegment
 * (found through "<root>session/coord-active", proxy/coord_link.h); log ids
 * come from the coord's AllocID.  A channel that fails (damaged record,
 * object store or coord unreachable, commit refused) keeps its error for
 * GetDataChannelStates and restarts from its last committed checkpoint
 * after a backoff (doubling from retry_min_ms to retry_max_ms); one whose
 * commit is refused because another datanode is now the vchannel's
 * assignee stops for good.
 *
 * The node registers "<root>session/datanode-<id>" with its address (and a
 * new session whenever it is lost); commits carry the session key, which
 * the coord checks against the vchannel's assignee.
 *
 * Ownership: borrows the metakv, the wal and the objstore (all must outlive
 * it); owns its RPC server, session, coord link and channels.
 * Threading: create/start/stop/destroy from one thread; handlers run on the
 * RPC workers; the channel table is guarded by a mutex, each channel's
 * state by its own.
 */
#ifndef QV_DN_SERVER_H
#define QV_DN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "common/wal/wal.h"

typedef struct qv_dnode qv_dnode;

typedef struct qv_dnode_options {
    metakv *kv;                /* borrowed; required */
    wal *log;                  /* borrowed; required */
    objstore *os;              /* borrowed; required */
    const char *root;          /* meta KV key root; NULL = "quiver/" */
    const char *host;          /* listen host; NULL = "0.0.0.0" */
    int port;                  /* 0 = ephemeral */
    const char *advertise;     /* NULL/"" = host:port (127.0.0.1 for 0.0.0.0) */
    size_t workers;            /* handler threads; 0 = 4 */
    int64_t session_ttl_s;     /* 0 = 10 */
    uint32_t retry_min_ms;     /* first restart delay of a failed channel;
                                  0 = 500 */
    uint32_t retry_max_ms;     /* cap of the doubling delay; 0 = 10000 */
    uint32_t coord_timeout_ms; /* bound of one AllocID / CommitSegment
                                  (coord failovers included); 0 = 30000 */
} qv_dnode_options;

qv_code qv_dnode_create(const qv_dnode_options *opts, qv_dnode **out,
                        qv_err *err) QV_MUST_USE;
/* Serves and registers the session. */
qv_code qv_dnode_start(qv_dnode *d, qv_err *err) QV_MUST_USE;
int qv_dnode_port(const qv_dnode *d);
/* Number of vchannels being consumed (for tests). */
size_t qv_dnode_channels(qv_dnode *d);
/* Stops serving, revokes the session and stops every channel. */
void qv_dnode_stop(qv_dnode *d);
void qv_dnode_destroy(qv_dnode *d);

#endif
