/* qn_fixture.h -- the query node fixture shared by test_qn_sync.c and
 * test_qn_index.c: a temp directory with an fs object store, a local log
 * and an LMDB meta KV; helpers that write log records, run a datanode
 * consumer over the log (real flushed segments and L0 logs), start a query
 * node over gRPC and build its WatchChannels / SyncSegments requests.
 * Results live on `arena`, released by qf_teardown(). */
#ifndef QV_QN_FIXTURE_H
#define QV_QN_FIXTURE_H

#include "../querynode/qn_helpers.h"
#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "common/msg/msg.h"
#include "common/objstore/objstore.h"
#include "common/rpc/rpc_client.h"
#include "common/wal/wal.h"
#include "datanode/channel.h"
#include "internal/querynode.pb-c.h"
#include "querynode/qnserver.h"

#define QN    "/quiver.internal.QueryNodeService/"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define PCH   "p0"

extern char *dir;
extern objstore *os;
extern wal *w;
extern wal *tw; /* where append_msg writes (w unless a test says) */
extern metakv *kv;
extern qv_arena arena;

typedef struct commits {
    int64_t next_id;
    size_t n;
    qv_dn_commit c[8];
} commits;

typedef struct node {
    qv_qnode *q;
    qv_rpc_channel *ch;
} node;

void qf_setup(const char *prefix);
void qf_teardown(void);
void append_msg(const qv_msg *m);
void append_insert(int64_t first, size_t n, qv_ts ts, int64_t seg);
void append_seal(int64_t seg, qv_ts ts);
void append_tick(qv_ts ts);
qv_code alloc_id(void *p, int64_t *id, qv_err *err);
qv_code on_commit(void *p, const qv_dn_commit *c, qv_err *err);
void flush_all(commits *cm);
void node_start_cached(node *n, uint64_t memory_limit, const char *cache_dir);
void node_start(node *n, uint64_t memory_limit);
void node_stop(node *n);
Milvus__Proto__Schema__CollectionSchema *schema(void);
Quiver__Internal__SegmentInfo *seg_info(const qv_dn_commit *c);
Quiver__Internal__SegmentInfo *l0_info(const qv_dn_commit *c);
Quiver__Internal__SyncSegmentsRequest *mk_target(const commits *cm, size_t n,
                                                 uint64_t version);
Milvus__Proto__Common__Status *
watch(node *n, Quiver__Internal__SyncSegmentsRequest *t, wal_pos from);
Quiver__Internal__SyncSegmentsResponse *
sync_once(node *n, Quiver__Internal__SyncSegmentsRequest *t);

#endif
