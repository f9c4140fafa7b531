/* indexnode.h -- the indexnode process role: serves
 * quiver.internal.IndexNodeService (proto/internal/indexnode.proto).
 *
 * The coord's build scheduler (coord/coord_build.c) sends BuildIndex for
 * one (segment, index) at a time, at most as many as the node reports free
 * slots.  A build is queued and runs on one of `slots` worker threads
 * (indexnode/build.h), each build using up to `threads` threads; BuildIndex
 * answers at once.  The node keeps every build it was given (state
 * IN_PROGRESS, then FINISHED with its index file, FAILED = permanent,
 * RETRY = a transient failure) until the coord collects it with QueryBuilds
 * and forgets it with DropBuilds.  BuildIndex of a build id it already holds
 * is a no-op; with no free slot it answers QV_E_RANGE.  Nothing is kept
 * across restarts: a restarted node's session is new, so the coord reissues
 * what the old one held.
 *
 * The node registers "<root>session/indexnode-<id>" (JSON with its
 * address) and registers a new one whenever it is lost.
 *
 * Ownership: borrows the metakv and the objstore (both must outlive it).
 * Threading: create/start/stop/destroy from one thread; handlers run on the
 * RPC workers; the build table is guarded by one mutex.
 */
#ifndef QV_INDEXNODE_H
#define QV_INDEXNODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"

typedef struct qv_inode qv_inode;

typedef struct qv_inode_options {
    metakv *kv;            /* borrowed; required */
    objstore *os;          /* borrowed; required */
    const char *root;      /* meta KV key root; NULL = "quiver/" */
    const char *host;      /* listen host; NULL = "0.0.0.0" */
    int port;              /* 0 = ephemeral */
    const char *advertise; /* NULL/"" = host:port (127.0.0.1 for 0.0.0.0) */
    size_t workers;        /* RPC handler threads; 0 = 2 */
    int64_t session_ttl_s; /* 0 = 10 */
    uint32_t slots;        /* builds at once; 0 = 1 */
    uint32_t threads;      /* threads per build; 0 = CPU count */
} qv_inode_options;

qv_code qv_inode_create(const qv_inode_options *opts, qv_inode **out,
                        qv_err *err) QV_MUST_USE;
/* Serves, starts the build workers and registers the session. */
qv_code qv_inode_start(qv_inode *n, qv_err *err) QV_MUST_USE;
int qv_inode_port(const qv_inode *n);
/* The current session key ("<root>session/indexnode-<id>") into buf; ""
 * when not registered.  The key changes when a lost session is replaced. */
void qv_inode_session_key(qv_inode *n, char *buf, size_t cap);
/* Stops serving, revokes the session, waits for running builds. */
void qv_inode_stop(qv_inode *n);
void qv_inode_destroy(qv_inode *n);

#endif
