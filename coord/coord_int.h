/* coord_int.h -- coord internals shared by coord.c, svc_dispatch.c and the
 * svc_*.c CoordService handlers.  Not part of the public API.
 *
 * Handlers are qv_rpc_unary_fn with user_data = the qv_coord.  Each one
 * enters the active state with qv_coord__enter() (a standby answers gRPC
 * UNAVAILABLE so the caller re-resolves), works on the catalog and builds
 * its reply in the call's arena.  Application errors travel in the reply's
 * common.Status with gRPC OK, as on the public API.
 */
#ifndef QV_COORD_INT_H
#define QV_COORD_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/rpc/rpc_server.h"
#include "common/session/kept_session.h"
#include "common/session/session.h"
#include "coord/catalog.h"
#include "coord/coord.h"
#include "coord/tso.h"
#include "internal/coord.pb-c.h"
#include "milvus/milvus.pb-c.h"

#define QV_COORD_SERVICE "/quiver.internal.CoordService/"

typedef Milvus__Proto__Common__Status qv_pb_status;

struct qv_coord {
    qv_coord_options opts; /* strings point at the copies below */
    char *root, *host, *advertise;
    qv_rpc_server *srv;
    qv_session *session; /* owned by the campaign thread */
    pthread_t thread;
    bool thread_started;
    volatile bool stopping;
    /* Active state: tso and catalog are non-NULL only while active.
     * Handlers hold mu for reading; the campaign thread switches state
     * holding it for writing. */
    pthread_rwlock_t mu;
    qv_tso *tso;
    qv_catalog *catalog;
    atomic_bool active;
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv; /* signalled when active changes */
    /* Live sessions seen while active (coord_sessions.c). */
    pthread_mutex_t sess_mu;
    struct qv__sess *sessions; /* guarded by sess_mu */
    /* Data path (coord_data.c, coord_load.c).  data_mu guards the growing
     * segments, the proxies' time tick reports, the pchannels to tick and
     * the last tick; load_mu the query node assignments. */
    pthread_mutex_t data_mu, load_mu;
    struct qv__cseg *segs;
    bool segs_loaded; /* segs read from meta KV this term (coord_data.c) */
    /* The last QV_SEALED_RING sealed segments and their collections
     * (coord_data.c, data_mu): GetFlushState without a collection reads
     * their records directly instead of listing every segment. */
#define QV_SEALED_RING 4096
    int64_t sealed_seg[QV_SEALED_RING], sealed_coll[QV_SEALED_RING];
    size_t sealed_next;
    struct qv__report *reports;
    struct qv__pch *pchs;
    qv_ts last_tick;
    struct qv__load *loads;
    pthread_t ticker;
    bool ticker_started;
    /* The index build scheduler's thread (coord_build.c). */
    pthread_t builder;
    bool builder_started;
    uint64_t build_next_ms;  /* coord_build.c: when the next round runs */
    struct qv__maint *maint; /* compaction jobs and GC (coord_compact.c) */
    /* Datanode keeper (coord_dn.c): its own thread, started by the first
     * qv_coord__keep_datanodes(); the counters are that thread's. */
    pthread_t dn_thread;
    atomic_bool dn_started;
    uint64_t dn_rounds, dn_last_trim_ms;
};

/* Data path internals (coord_data.c, coord_load.c).  use_pchannel needs
 * data_mu held. */
void qv_coord__use_pchannel(qv_coord *c, const char *pch);
void qv_coord__tick(qv_coord *c);
void qv_coord__keep_loads(qv_coord *c);
/* Datanode placement, release and log trimming (coord_dn.c): the ticker
 * calls keep, which starts the keeper's own thread (RPCs to a hung
 * datanode never delay the ticks); stop joins it (after the ticker). */
void qv_coord__keep_datanodes(qv_coord *c);
void qv_coord__dn_stop(qv_coord *c);
/* Idle and age seal policies (coord_data.c); ticker. */
void qv_coord__seal_policies(qv_coord *c);
void qv_coord__data_clear(qv_coord *c);
/* The collection of a recently sealed segment: false if not remembered. */
bool qv_coord__sealed_coll(qv_coord *c, int64_t seg, int64_t *coll);
void qv_coord__loads_clear(qv_coord *c);
/* Log trimming (coord_dn.c) and query nodes (coord_load.c): where the
 * query node assigned vchannel `shard` of collection coll has consumed
 * it (`loaded`: coll has a load record, listed before load_mu was taken).
 * NONE: no query node consumes it (not loaded, or loaded with no live
 * recorded node); UNKNOWN: one does (its session key in `session`, or ""
 * when already known alive) but has not said where; AT: its last
 * SyncSegments answer said *pos.  load_mu held. */
typedef enum qv_qn_pos {
    QV_QN_POS_NONE = 0,
    QV_QN_POS_UNKNOWN,
    QV_QN_POS_AT,
} qv_qn_pos;
qv_qn_pos qv_coord__load_consumed(qv_coord *c, int64_t coll, bool loaded,
                                  size_t shard, char *session, size_t cap,
                                  uint64_t *pos);
/* Ids of the named partitions of info (QV_E_PARTITION_NOT_FOUND). */
qv_code qv_coord__partition_ids(const qv_coll_info *info, char **names,
                                size_t n, int64_t *out, qv_err *err);

/* Sessions (coord_sessions.c), driven by the campaign thread while
 * active: open lists "<root>session/" and opens a watch after it; follow
 * waits up to wait_ms for changes (reopening after errors); clear forgets
 * them all. */
qv_code qv_coord__sessions_open(qv_coord *c, metakv_watch **w, qv_err *err);
void qv_coord__sessions_follow(qv_coord *c, metakv_watch **w, uint32_t wait_ms);
void qv_coord__sessions_clear(qv_coord *c);

/* Compaction and GC (coord_compact.c): the maintenance thread runs
 * compaction plans, automatic compaction and GC rounds while active. */
qv_code qv_coord__maint_start(qv_coord *c, qv_err *err);
void qv_coord__maint_stop(qv_coord *c);
void qv_coord__maint_free(qv_coord *c);

/* One RPC of the dispatch table. */
typedef qv_rpc_unary_def qv_coord_rpc;

extern const qv_coord_rpc qv_coord__rpcs[];
extern const size_t qv_coord__n_rpcs;

/* Takes the read lock if this coord is active: *cat (and *tso if not NULL)
 * are usable until qv_coord__leave().  A standby fails with
 * QV_E_UNAVAILABLE (the lock is not held then). */
qv_code qv_coord__enter(qv_coord *c, qv_catalog **cat, qv_tso **tso,
                        qv_err *err);
void qv_coord__leave(qv_coord *c);

/* A Status in arena a for rc (QV_OK = success) with err's message. */
qv_pb_status *qv_coord__status(qv_arena *a, qv_code rc, const qv_err *err);

/* The request's database: db_name if set, else "default". */
const char *qv_coord__db(const char *db_name);

/* Handlers (svc_*.c), all with the qv_rpc_unary_fn signature. */
#define QV_COORD_HANDLER(fn)                                                   \
    qv_code fn(qv_rpc_call *call, const ProtobufCMessage *req,                 \
               ProtobufCMessage **resp, void *ud, qv_err *err)
QV_COORD_HANDLER(qv_coord__alloc_timestamp);
QV_COORD_HANDLER(qv_coord__alloc_id);
QV_COORD_HANDLER(qv_coord__create_database);
QV_COORD_HANDLER(qv_coord__drop_database);
QV_COORD_HANDLER(qv_coord__list_databases);
QV_COORD_HANDLER(qv_coord__alter_database);
QV_COORD_HANDLER(qv_coord__describe_database);
QV_COORD_HANDLER(qv_coord__create_collection);
QV_COORD_HANDLER(qv_coord__drop_collection);
QV_COORD_HANDLER(qv_coord__describe_collection);
QV_COORD_HANDLER(qv_coord__show_collections);
QV_COORD_HANDLER(qv_coord__alter_collection);
QV_COORD_HANDLER(qv_coord__rename_collection);
QV_COORD_HANDLER(qv_coord__create_partition);
QV_COORD_HANDLER(qv_coord__drop_partition);
QV_COORD_HANDLER(qv_coord__show_partitions);
QV_COORD_HANDLER(qv_coord__create_alias);
QV_COORD_HANDLER(qv_coord__drop_alias);
QV_COORD_HANDLER(qv_coord__alter_alias);
QV_COORD_HANDLER(qv_coord__describe_alias);
QV_COORD_HANDLER(qv_coord__list_aliases);
QV_COORD_HANDLER(qv_coord__assign_segments);
QV_COORD_HANDLER(qv_coord__report_time_tick);
QV_COORD_HANDLER(qv_coord__get_shard_leaders);
QV_COORD_HANDLER(qv_coord__load_collection);
QV_COORD_HANDLER(qv_coord__release_collection);
QV_COORD_HANDLER(qv_coord__get_load_state);
QV_COORD_HANDLER(qv_coord__get_loading_progress);
QV_COORD_HANDLER(qv_coord__load_partitions);
QV_COORD_HANDLER(qv_coord__release_partitions);
QV_COORD_HANDLER(qv_coord__get_replicas);
QV_COORD_HANDLER(qv_coord__flush);
QV_COORD_HANDLER(qv_coord__commit_segment);  /* svc_segment.c */
QV_COORD_HANDLER(qv_coord__get_flush_state); /* svc_segment.c */

/* Indexes (svc_index.c, coord_build.c): the build scheduler's thread
 * (started and joined with the coord) and the build progress of one
 * index. */
#define QV_BUILD_MAX_ATTEMPTS 3
typedef struct qv_index_progress {
    int64_t total, indexed, pending; /* rows of FLUSHED L1 segments */
    int state;                       /* common.IndexState */
    const char *fail_reason;         /* a FAILED build's, or NULL */
} qv_index_progress;
void qv_coord__builds_start(qv_coord *c);
void qv_coord__builds_stop(qv_coord *c);
uint64_t qv_coord__index_min_rows(const qv_coord *c);
qv_code qv_coord__index_progress(qv_coord *c,
                                 const Quiver__Internal__IndexInfo *ii,
                                 qv_arena *a, qv_index_progress *out,
                                 qv_err *err);
QV_COORD_HANDLER(qv_coord__create_index);
QV_COORD_HANDLER(qv_coord__describe_index);
QV_COORD_HANDLER(qv_coord__get_index_statistics);
QV_COORD_HANDLER(qv_coord__drop_index);
QV_COORD_HANDLER(qv_coord__get_index_state);
QV_COORD_HANDLER(qv_coord__get_index_build_progress);
QV_COORD_HANDLER(qv_coord__alter_index);

QV_COORD_HANDLER(qv_coord__manual_compaction);           /* coord_compact.c */
QV_COORD_HANDLER(qv_coord__get_compaction_state);        /* coord_compact.c */
QV_COORD_HANDLER(qv_coord__get_compaction_plans);        /* coord_compact.c */
QV_COORD_HANDLER(qv_coord__get_persistent_segment_info); /* svc_seginfo.c */

#endif
