/* qn_int.h -- query node internals shared by qnserver.c (lifecycle,
 * channel assignment), qn_sync.c (sealed segments: SyncSegments and the
 * sync worker), qn_read.c (Search and Query handlers) and qn_index.c
 * (index attachment).
 *
 * Locking: q->mu (rwlock) guards the collection list: watch/release take
 * it exclusively; reads, SyncSegments and the sync worker share it.  Each
 * channel's `mu` guards its published state (delegator pointer, targets,
 * serving list, error); the sync worker is the only thread that loads,
 * hands off or drops sealed segments, so the worker-private fields need no
 * lock.
 */
#ifndef QV_QN_INT_H
#define QV_QN_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "common/msg/seglog.h"
#include "common/rpc/rpc_server.h"
#include "common/session/kept_session.h"
#include "internal/querynode.pb-c.h"
#include "milvus/schema.pb-c.h"
#include "querynode/qnserver.h"
#include "querynode/delegator.h"

#define QV_QN_SERVICE "/quiver.internal.QueryNodeService/"

typedef Quiver__Internal__SyncSegmentsRequest qn_target;

/* One object of a channel-level (L0) delete log (one per partition value),
 * loaded once per channel. */
typedef struct qn_l0 {
    struct qn_l0 *next;
    int64_t id;   /* the L0 SegmentInfo's id */
    int64_t part; /* the object's partition (-1: every partition) */
    void *bytes;  /* the object, 8-byte aligned; d borrows it */
    qv_delta d;
} qn_l0;

/* A sealed segment the worker loaded (pending: waiting for its hand-off)
 * or that serves (the worker's own reference, for index attachment). */
typedef struct qn_seg {
    int64_t id, partition;
    uint64_t rows, bytes;
    qv_sealed *x;
    bool indexed; /* every index listed for it is attached */
    bool warned;  /* a hand-off conflict that waiting will not end */
} qn_seg;

typedef struct qn_segs {
    qn_seg *v;
    size_t n, cap;
} qn_segs;

/* One watched vchannel. */
typedef struct qn_chan {
    char *vch, *pch;
    wal_pos from; /* the checkpoint the delegator starts at */

    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;  /* del started / a round processed a version */
    qv_delegator *del;  /* NULL until the initial target serves */
    qn_target *next;    /* newest target not taken by the worker (owned) */
    uint64_t version;   /* of the newest target received */
    uint64_t done;      /* newest version the worker processed */
    int64_t *serving, *indexed; /* published copies of the worker's lists */
    size_t nserving, nindexed;
    uint64_t memory;      /* bytes of the serving segments */
    uint64_t sealed_rows; /* rows of the serving segments */
    qv_code error;        /* last load error (QV_OK: none) */
    char error_msg[512];

    /* worker-private */
    qn_target *cur; /* the target being served (owned) */
    qn_l0 *l0s;
    qn_segs pending, served;
    bool settled; /* the last round left nothing to do for cur */
} qn_chan;

/* A watched collection: its schema and one channel per vchannel. */
typedef struct qn_coll {
    struct qn_coll *next;
    int64_t id;
    Milvus__Proto__Schema__CollectionSchema *schema; /* owns names */
    qv_field_spec *specs;
    size_t nfields;
    int64_t pk_field_id;
    size_t nch;
    qn_chan **chans;
} qn_coll;

struct qv_qnode {
    qv_qnode_options opts;
    char *root, *host, *advertise, *cache_dir;
    uint64_t memory_limit; /* resolved: bytes */
    qv_rpc_server *srv;
    qv_kept_session *session;
    pthread_t syncer;
    bool syncer_started;
    volatile bool stopping;
    pthread_rwlock_t mu; /* guards colls */
    qn_coll *colls;
    pthread_mutex_t kick_mu; /* wakes the sync worker */
    pthread_cond_t kick_cv;
    bool kicked;
};

/* The delegator of vchannel in collection coll, or NULL; mu held (read).
 * A channel that is still loading its initial target is waited for (up to
 * 10 s). */
qv_delegator *qv_qn__find(qv_qnode *q, int64_t coll, const char *vch,
                          qn_coll **c);
/* The channel, or NULL; mu held. */
qn_chan *qv_qn__chan(qv_qnode *q, int64_t coll, const char *vch, qn_coll **c);

qv_code qv_qn__search(qv_rpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, void *ud, qv_err *err);
/* SearchBatch: the shard requests one after the other on this thread, at
 * most QV_QN_MAX_BATCH of them; answers in request order. */
#define QV_QN_MAX_BATCH 1024
qv_code qv_qn__search_batch(qv_rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_qn__query(qv_rpc_call *call, const ProtobufCMessage *req,
                     ProtobufCMessage **resp, void *ud, qv_err *err);
/* QueryBatch: as SearchBatch, for Query. */
qv_code qv_qn__query_batch(qv_rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *ud, qv_err *err);

/* ---- qn_sync.c ----------------------------------------------------------- */

/* SyncSegments: records the target, wakes the worker, waits up to 2 s for
 * a round to process it and answers what serves. */
qv_code qv_qn__sync_segments(qv_rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *ud, qv_err *err);
/* A private copy of a target (NULL in: NULL). */
qn_target *qv_qn__target_copy(const qn_target *t);
void qv_qn__chan_free(qn_chan *ch);
/* Bytes the targets would add (segments of collection c) to what the node
 * serves: over the memory limit is QV_E_NOMEM with a message naming the
 * limit.  mu held. */
qv_code qv_qn__check_memory(qv_qnode *q, const qn_coll *c,
                            const qn_target *const *targets, size_t n,
                            qv_err *err);
void qv_qn__kick(qv_qnode *q);
void *qv_qn__sync_main(void *arg);

/* ---- qn_index.c (index attachment) --------------------------------------
 * Called by the sync worker for every serving sealed segment whose target
 * entry lists indexes (st->indexes with st->index_infos, same order), each
 * round until *attached is true: loads the listed builds from
 * q->opts.os, attaches them to x (querynode/sealed.h attachments) and sets
 * *attached when every listed index is attached.  Must be idempotent. */
qv_code qv_qn__attach_indexes(qv_qnode *q, qn_coll *c, qv_sealed *x,
                              const Quiver__Internal__SegmentTarget *st,
                              bool *attached, qv_err *err);

#endif
