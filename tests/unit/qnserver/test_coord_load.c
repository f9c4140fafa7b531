/* The coord's load path against a recording query node over real gRPC:
 * WatchChannels carries the checkpoint and the target of the TARGET RULE
 * (flushed L1 segments with rows, compaction outputs without their builds
 * replaced by their inputs, L0 logs, finished builds of live indexes);
 * targets are versioned and re-sent when they change; loading progress
 * follows what the node reports (serving, indexed) and its errors;
 * partition loads, GetShardLeaders and GetReplicas. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/hts.h"
#include "common/rpc/rpc_client.h"
#include "common/rpc/rpc_server.h"
#include "common/session/session.h"
#include "coord/coord.h"
#include "coord/segmeta.h"
#include "internal/coord.pb-c.h"
#include "internal/querynode.pb-c.h"
#include "milvus/milvus.pb-c.h"

#define SVC "/quiver.internal.CoordService/"
#define QN  "/quiver.internal.QueryNodeService/"
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static wal *log_;
static qv_coord *co;
static qv_arena arena;

/* ---- the recording query node -------------------------------------------- */

typedef Quiver__Internal__SyncSegmentsRequest target;

static struct fake {
    pthread_mutex_t mu;
    qv_rpc_server *srv;
    qv_session *sess;
    Quiver__Internal__WatchChannelsRequest *watch; /* last, owned */
    target *sync;                                  /* last, owned */
    size_t nwatch, nsync, nrelease;
    bool serve_all, index_all; /* what SyncSegments answers */
    const char *error;         /* non-NULL: a load error (code 3) */
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static ProtobufCMessage *copy_msg(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = qv_xmalloc(len + 1);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c =
        protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    return c;
}

static Milvus__Proto__Common__Status *ok_status(qv_arena *a)
{
    Milvus__Proto__Common__Status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    return st;
}

static qv_code fk_watch(qv_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)ud;
    (void)err;
    pthread_mutex_lock(&fk.mu);
    if (fk.watch)
        protobuf_c_message_free_unpacked(&fk.watch->base, NULL);
    fk.watch = (void *)copy_msg(req);
    fk.nwatch++;
    pthread_mutex_unlock(&fk.mu);
    *resp = &ok_status(qv_rpc_call_arena(call))->base;
    return QV_OK;
}

static qv_code fk_release(qv_rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)req;
    (void)ud;
    (void)err;
    pthread_mutex_lock(&fk.mu);
    fk.nrelease++;
    pthread_mutex_unlock(&fk.mu);
    *resp = &ok_status(qv_rpc_call_arena(call))->base;
    return QV_OK;
}

static qv_code fk_sync(qv_rpc_call *call, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)ud;
    (void)err;
    qv_arena *a = qv_rpc_call_arena(call);
    const target *t = (const void *)req;
    Quiver__Internal__SyncSegmentsResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__sync_segments_response__init(r);
    r->status = ok_status(a);
    pthread_mutex_lock(&fk.mu);
    if (fk.sync)
        protobuf_c_message_free_unpacked(&fk.sync->base, NULL);
    fk.sync = (void *)copy_msg(req);
    fk.nsync++;
    r->version = t->version;
    r->serving = qv_arena_alloc(a, (t->n_segments + 1) * sizeof(int64_t));
    r->indexed = qv_arena_alloc(a, (t->n_segments + 1) * sizeof(int64_t));
    for (size_t i = 0; fk.serve_all && i < t->n_segments; i++) {
        r->serving[r->n_serving++] = t->segments[i]->segment->id;
        if (fk.index_all && t->segments[i]->n_indexes)
            r->indexed[r->n_indexed++] = t->segments[i]->segment->id;
    }
    if (fk.error) {
        r->status->code = 3;
        r->status->reason = qv_arena_strdup(a, fk.error);
    }
    pthread_mutex_unlock(&fk.mu);
    *resp = &r->base;
    return QV_OK;
}

static void fake_start(void)
{
    qv_rpc_server_opts so = {.host = "127.0.0.1", .workers = 2};
    qv_err err = {0};
    cr_assert_eq(qv_rpc_server_create(&so, &fk.srv, &err), QV_OK);
    qv_rpc_method m[3] = {
        {QN "WatchChannels", QV_RPC_UNARY,
         &quiver__internal__watch_channels_request__descriptor, fk_watch, NULL,
         NULL},
        {QN "ReleaseChannels", QV_RPC_UNARY,
         &quiver__internal__release_channels_request__descriptor, fk_release,
         NULL, NULL},
        {QN "SyncSegments", QV_RPC_UNARY,
         &quiver__internal__sync_segments_request__descriptor, fk_sync, NULL,
         NULL},
    };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qv_rpc_server_register(fk.srv, &m[i], &err), QV_OK);
    cr_assert_eq(qv_rpc_server_start(fk.srv, &err), QV_OK, "%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_rpc_server_port(fk.srv));
    qv_session_options o = {
        .role = "querynode", .server_id = 77, .address = addr, .ttl_s = 5};
    cr_assert_eq(qv_session_register(kv, &o, &fk.sess, &err), QV_OK, "%s",
                 err.msg);
}

static void fake_stop(void)
{
    qv_session_close(fk.sess);
    qv_rpc_server_destroy(fk.srv);
    if (fk.watch)
        protobuf_c_message_free_unpacked(&fk.watch->base, NULL);
    if (fk.sync)
        protobuf_c_message_free_unpacked(&fk.sync->base, NULL);
    fk.watch = NULL;
    fk.sync = NULL;
    fk.nwatch = fk.nsync = fk.nrelease = 0;
    fk.serve_all = fk.index_all = false;
    fk.error = NULL;
}

/* ---- coord --------------------------------------------------------------- */

static void start_coord(void)
{
    qv_err err = {0};
    qv_coord_options o = {.kv = kv,
                          .host = "127.0.0.1",
                          .session_ttl_s = 5,
                          .log = log_,
                          .tick_ms = 20,
                          .pchannels = 2};
    cr_assert_eq(qv_coord_create(&o, &co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(co, 10000, &err), QV_OK, "%s", err.msg);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-cload-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    metakv_config cfg = {.dir = dir};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
    start_coord();
    fake_start();
}

static void teardown(void)
{
    qv_coord_destroy(co);
    fake_stop();
    wal_close(log_);
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(coord_load, .init = setup, .fini = teardown, .timeout = 60);

static void call(const char *m, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *d, void *out)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(qv_coord_address(co), &ch, &err), QV_OK);
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    cr_assert_eq(qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err),
                 QV_OK, "%s: %s", m, err.msg);
    qv_rpc_channel_close(ch);
}

static Milvus__Proto__Common__Status *call_status(const char *m,
                                                  const ProtobufCMessage *req)
{
    Milvus__Proto__Common__Status *st = NULL;
    call(m, req, &milvus__proto__common__status__descriptor, &st);
    return st;
}

typedef struct coll {
    int64_t id, part_default, part_p1;
    const char *vch;
} coll;

/* Collection "c" (one shard) with partition "p1". */
static coll create(void)
{
    Milvus__Proto__Schema__FieldSchema f[2], *fs[2] = {&f[0], &f[1]};
    milvus__proto__schema__field_schema__init(&f[0]);
    milvus__proto__schema__field_schema__init(&f[1]);
    Milvus__Proto__Common__KeyValuePair dim, *dp = &dim;
    milvus__proto__common__key_value_pair__init(&dim);
    dim.key = "dim";
    dim.value = "2";
    f[0].name = "id";
    f[0].data_type = DT(Int64);
    f[0].is_primary_key = 1;
    f[1].name = "v";
    f[1].data_type = DT(FloatVector);
    f[1].type_params = &dp;
    f[1].n_type_params = 1;
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = "c";
    s.fields = fs;
    s.n_fields = 2;
    uint8_t buf[512];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = "c";
    rq.shards_num = 1;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    cr_assert_eq(call_status("CreateCollection", &rq.base)->code, 0);
    Milvus__Proto__Milvus__CreatePartitionRequest cp =
        MILVUS__PROTO__MILVUS__CREATE_PARTITION_REQUEST__INIT;
    cp.collection_name = "c";
    cp.partition_name = "p1";
    cr_assert_eq(call_status("CreatePartition", &cp.base)->code, 0);
    Milvus__Proto__Milvus__DescribeCollectionRequest d =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    d.collection_name = "c";
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    call("DescribeCollection", &d.base,
         &milvus__proto__milvus__describe_collection_response__descriptor, &r);
    Milvus__Proto__Milvus__ShowPartitionsRequest sp =
        MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
    sp.collection_name = "c";
    Milvus__Proto__Milvus__ShowPartitionsResponse *pr = NULL;
    call("ShowPartitions", &sp.base,
         &milvus__proto__milvus__show_partitions_response__descriptor, &pr);
    cr_assert_eq(pr->n_partitionids, 2);
    coll c = {.id = r->collectionid, .vch = r->virtual_channel_names[0]};
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(pr->partition_names[i], "p1") == 0)
            c.part_p1 = pr->partitionids[i];
        else
            c.part_default = pr->partitionids[i];
    }
    return c;
}

static void put_seg(const coll *c, int64_t id, int64_t part, uint64_t rows,
                    int state, int level, const int64_t *from, size_t nfrom)
{
    Quiver__Internal__SegmentInfo s = QUIVER__INTERNAL__SEGMENT_INFO__INIT;
    s.id = id;
    s.collection_id = c->id;
    s.partition_id = part;
    s.vchannel = (char *)c->vch;
    s.level = level;
    s.log_id = id + 1000;
    s.rows = rows;
    s.state = state;
    s.compacted_from = (int64_t *)from;
    s.n_compacted_from = nfrom;
    if (state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED)
        s.dropped_ts = qv_ts_compose(qv_wall_ms(qv_clock_system()), 0);
    char k[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key("quiver/", c->id, id, k, sizeof k);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, k, &s.base, &err), QV_OK, "%s", err.msg);
}

static void put_index(const coll *c, int64_t index_id)
{
    Quiver__Internal__IndexInfo ii = QUIVER__INTERNAL__INDEX_INFO__INIT;
    ii.id = index_id;
    ii.collection_id = c->id;
    ii.field_id = 101;
    ii.index_name = "v";
    char k[QV_SEGMETA_KEY_MAX];
    qv_segmeta_index_key("quiver/", c->id, index_id, k, sizeof k);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, k, &ii.base, &err), QV_OK, "%s", err.msg);
}

static void put_build(const coll *c, int64_t seg, int64_t index_id,
                      int64_t build)
{
    Quiver__Internal__SegmentIndex si = QUIVER__INTERNAL__SEGMENT_INDEX__INIT;
    si.build_id = build;
    si.collection_id = c->id;
    si.segment_id = seg;
    si.index_id = index_id;
    si.field_id = 101;
    si.state = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
    char k[QV_SEGMETA_KEY_MAX];
    qv_segmeta_segidx_key("quiver/", c->id, seg, index_id, k, sizeof k);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, k, &si.base, &err), QV_OK, "%s", err.msg);
}

static void put_checkpoint(const coll *c, const char *pch, uint64_t pos)
{
    Quiver__Internal__ChannelCheckpoint ck =
        QUIVER__INTERNAL__CHANNEL_CHECKPOINT__INIT;
    ck.vchannel = (char *)c->vch;
    ck.pchannel = (char *)pch;
    ck.position = pos;
    ck.collection_id = c->id;
    char k[QV_SEGMETA_KEY_MAX];
    qv_segmeta_chkpt_key("quiver/", c->vch, k, sizeof k);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, k, &ck.base, &err), QV_OK, "%s", err.msg);
}

static Milvus__Proto__Milvus__GetLoadingProgressResponse *progress(void)
{
    Milvus__Proto__Milvus__GetLoadingProgressRequest r =
        MILVUS__PROTO__MILVUS__GET_LOADING_PROGRESS_REQUEST__INIT;
    r.collection_name = "c";
    Milvus__Proto__Milvus__GetLoadingProgressResponse *p = NULL;
    call("GetLoadingProgress", &r.base,
         &milvus__proto__milvus__get_loading_progress_response__descriptor, &p);
    return p;
}

static bool has(const target *t, int64_t id)
{
    for (size_t i = 0; i < t->n_segments; i++)
        if (t->segments[i]->segment->id == id)
            return true;
    return false;
}

#define FLUSHED   QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED
#define COMPACTED QUIVER__INTERNAL__SEGMENT_STATE__SEG_COMPACTED
#define L1        QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1
#define L0        QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0

/* 10: flushed, 100 rows, indexed by build 900 of index 500 (small: it
 * needs none); 11: flushed, 0 rows; 12, 15: compacted into 14 (5000
 * rows, no build yet); 13: an L0 log; 16: flushed in p1. */
static coll populate(void)
{
    coll c = create();
    put_index(&c, 500);
    put_seg(&c, 10, c.part_default, 100, FLUSHED, L1, NULL, 0);
    put_build(&c, 10, 500, 900);
    put_seg(&c, 11, c.part_default, 0, FLUSHED, L1, NULL, 0);
    put_seg(&c, 12, c.part_default, 2000, COMPACTED, L1, NULL, 0);
    put_seg(&c, 15, c.part_default, 3000, COMPACTED, L1, NULL, 0);
    int64_t from[2] = {12, 15};
    put_seg(&c, 14, c.part_default, 5000, FLUSHED, L1, from, 2);
    put_seg(&c, 13, -1, 7, FLUSHED, L0, NULL, 0);
    put_seg(&c, 16, c.part_p1, 40, FLUSHED, L1, NULL, 0);
    return c;
}

Test(coord_load, watch_carries_checkpoint_and_target_and_progress_follows)
{
    coll c = populate();
    put_checkpoint(&c, "quiver-dml_0", 42);
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    cr_assert_eq(call_status("LoadCollection", &l.base)->code, 0);
    pthread_mutex_lock(&fk.mu);
    cr_assert_eq(fk.nwatch, 1);
    Quiver__Internal__WatchChannelsRequest *w = fk.watch;
    cr_assert_eq(w->n_checkpoints, 1);
    cr_assert_eq(w->checkpoints[0]->position, 42);
    cr_assert_eq(w->n_targets, 1);
    target *t = w->targets[0];
    cr_assert_str_eq(t->vchannel, c.vch);
    cr_assert_eq(t->n_segments, 4, "10, 12, 15 (inputs of 14), 16");
    cr_assert(has(t, 10) && has(t, 12) && has(t, 15) && has(t, 16));
    cr_assert(!has(t, 11) && !has(t, 14) && !has(t, 13));
    cr_assert_eq(t->n_l0, 1);
    cr_assert_eq(t->l0[0]->id, 13);
    for (size_t i = 0; i < t->n_segments; i++) {
        const Quiver__Internal__SegmentTarget *st = t->segments[i];
        bool ten = st->segment->id == 10;
        cr_assert_eq(st->n_indexes, ten ? 1 : 0);
        if (ten) {
            cr_assert_eq(st->indexes[0]->build_id, 900);
            cr_assert_eq(st->index_infos[0]->id, 500);
        }
    }
    uint64_t v1 = t->version;
    cr_assert_gt(v1, 0);
    pthread_mutex_unlock(&fk.mu);

    /* nothing serves yet */
    Milvus__Proto__Milvus__GetLoadingProgressResponse *p = progress();
    cr_assert_eq(p->status->code, 0, "%s", p->status->reason);
    cr_assert_eq(p->progress, 0);
    /* all serve, the index is not attached: rows 100 of (100*2 + 5040) */
    fk.serve_all = true;
    p = progress();
    cr_assert_eq(p->progress, (int64_t)(5140 * 100 / 5240));
    cr_assert_lt(p->progress, 100);
    fk.index_all = true;
    p = progress();
    cr_assert_eq(p->progress, 100);
    Milvus__Proto__Milvus__GetLoadStateRequest ls =
        MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
    ls.collection_name = "c";
    Milvus__Proto__Milvus__GetLoadStateResponse *lr = NULL;
    call("GetLoadState", &ls.base,
         &milvus__proto__milvus__get_load_state_response__descriptor, &lr);
    cr_assert_eq(lr->state, MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded);

    /* the output's build finishes: it replaces its inputs, a new version */
    put_build(&c, 14, 500, 901);
    p = progress();
    pthread_mutex_lock(&fk.mu);
    t = fk.sync;
    cr_assert_gt(t->version, v1);
    cr_assert(has(t, 14) && !has(t, 12) && !has(t, 15));
    pthread_mutex_unlock(&fk.mu);
    cr_assert_eq(p->progress, 100);
    /* a new index without builds: the served output stays */
    put_index(&c, 501);
    p = progress();
    pthread_mutex_lock(&fk.mu);
    cr_assert(has(fk.sync, 14) && !has(fk.sync, 12));
    pthread_mutex_unlock(&fk.mu);

    /* a node's load error is the progress status */
    fk.error = "querynode: loading segment 99 would exceed the memory limit";
    put_seg(&c, 17, c.part_default, 10, FLUSHED, L1, NULL, 0);
    p = progress();
    cr_assert_neq(p->status->code, 0);
    cr_assert(strstr(p->status->reason, "memory limit"), "%s",
              p->status->reason);
    fk.error = NULL;
    p = progress();
    cr_assert_eq(p->status->code, 0);
    cr_assert_eq(p->progress, 100);
}

Test(coord_load, the_keeper_resends_changed_targets)
{
    coll c = populate();
    fk.serve_all = fk.index_all = true;
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    cr_assert_eq(call_status("LoadCollection", &l.base)->code, 0);
    pthread_mutex_lock(&fk.mu);
    /* the checkpoint the coord recorded for the vchannel */
    cr_assert_eq(fk.watch->n_checkpoints, 1);
    qv_checkpoint *ck = NULL;
    cr_assert_eq(
        qv_segmeta_get_checkpoint(kv, "quiver/", c.vch, &arena, &ck, NULL),
        QV_OK);
    if (ck)
        cr_assert_eq(fk.watch->checkpoints[0]->position, ck->position);
    else
        cr_assert_eq(fk.watch->checkpoints[0]->pchannel[0], '\0');
    pthread_mutex_unlock(&fk.mu);
    put_seg(&c, 18, c.part_default, 10, FLUSHED, L1, NULL, 0);
    bool seen = false;
    for (int i = 0; i < 60 && !seen; i++) {
        qv_sleep_ms(50);
        pthread_mutex_lock(&fk.mu);
        seen = fk.sync && has(fk.sync, 18);
        pthread_mutex_unlock(&fk.mu);
    }
    cr_assert(seen, "the keeper sent the new segment within 3 s");
    /* unchanged and complete: not sent again */
    qv_sleep_ms(1200);
    pthread_mutex_lock(&fk.mu);
    size_t n = fk.nsync;
    pthread_mutex_unlock(&fk.mu);
    qv_sleep_ms(2200);
    pthread_mutex_lock(&fk.mu);
    cr_assert_eq(fk.nsync, n);
    pthread_mutex_unlock(&fk.mu);
}

Test(coord_load, partitions_leaders_and_replicas)
{
    coll c = populate();
    fk.serve_all = fk.index_all = true;
    Milvus__Proto__Milvus__LoadPartitionsRequest lp =
        MILVUS__PROTO__MILVUS__LOAD_PARTITIONS_REQUEST__INIT;
    char *p1 = "p1", *def = "_default";
    lp.collection_name = "c";
    lp.partition_names = &p1;
    lp.n_partition_names = 1;
    cr_assert_eq(call_status("LoadPartitions", &lp.base)->code, 0);
    pthread_mutex_lock(&fk.mu);
    target *t = fk.watch->targets[0];
    cr_assert_eq(t->n_segments, 1);
    cr_assert(has(t, 16));
    pthread_mutex_unlock(&fk.mu);
    cr_assert_eq(progress()->progress, 100);
    /* reads see only p1; naming _default is "partition not loaded" */
    Quiver__Internal__GetShardLeadersRequest g =
        QUIVER__INTERNAL__GET_SHARD_LEADERS_REQUEST__INIT;
    g.collection_id = c.id;
    Quiver__Internal__GetShardLeadersResponse *gr = NULL;
    call("GetShardLeaders", &g.base,
         &quiver__internal__get_shard_leaders_response__descriptor, &gr);
    cr_assert_eq(gr->status->code, 0, "%s", gr->status->reason);
    cr_assert_eq(gr->n_partition_ids, 1);
    cr_assert_eq(gr->partition_ids[0], c.part_p1);
    cr_assert_eq(gr->n_leaders, 1);
    g.partition_names = &def;
    g.n_partition_names = 1;
    call("GetShardLeaders", &g.base,
         &quiver__internal__get_shard_leaders_response__descriptor, &gr);
    cr_assert_eq(gr->status->code, 202); /* partition not loaded */
    cr_assert(strstr(gr->status->reason, "partition not loaded"), "%s",
              gr->status->reason);
    /* the default partition too: every segment */
    lp.partition_names = &def;
    cr_assert_eq(call_status("LoadPartitions", &lp.base)->code, 0);
    progress();
    pthread_mutex_lock(&fk.mu);
    cr_assert(has(fk.sync, 16) && has(fk.sync, 10));
    pthread_mutex_unlock(&fk.mu);
    /* replicas */
    Milvus__Proto__Milvus__GetReplicasRequest gq =
        MILVUS__PROTO__MILVUS__GET_REPLICAS_REQUEST__INIT;
    gq.collectionid = c.id;
    Milvus__Proto__Milvus__GetReplicasResponse *rr = NULL;
    call("GetReplicas", &gq.base,
         &milvus__proto__milvus__get_replicas_response__descriptor, &rr);
    cr_assert_eq(rr->status->code, 0, "%s", rr->status->reason);
    cr_assert_eq(rr->n_replicas, 1);
    cr_assert_eq(rr->replicas[0]->n_partition_ids, 2);
    cr_assert_eq(rr->replicas[0]->n_shard_replicas, 1);
    cr_assert_eq(rr->replicas[0]->shard_replicas[0]->leaderid, 77);
    cr_assert_str_eq(rr->replicas[0]->shard_replicas[0]->dm_channel_name,
                     c.vch);
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    l.replica_number = 2;
    Milvus__Proto__Common__Status *st = call_status("LoadCollection", &l.base);
    cr_assert_neq(st->code, 0);
    cr_assert(strstr(st->reason, "resource group node not enough"), "%s",
              st->reason);
    /* release p1: only _default's segments */
    Milvus__Proto__Milvus__ReleasePartitionsRequest rp =
        MILVUS__PROTO__MILVUS__RELEASE_PARTITIONS_REQUEST__INIT;
    rp.collection_name = "c";
    rp.partition_names = &p1;
    rp.n_partition_names = 1;
    cr_assert_eq(call_status("ReleasePartitions", &rp.base)->code, 0);
    progress();
    pthread_mutex_lock(&fk.mu);
    cr_assert(!has(fk.sync, 16) && has(fk.sync, 10));
    pthread_mutex_unlock(&fk.mu);
    /* and the last one: released */
    rp.partition_names = &def;
    cr_assert_eq(call_status("ReleasePartitions", &rp.base)->code, 0);
    Milvus__Proto__Milvus__GetLoadingProgressResponse *p = progress();
    cr_assert_eq(p->status->code, 101, "%s", p->status->reason);
}

Test(coord_load, a_new_active_coord_keeps_the_node_assignment)
{
    populate();
    fk.serve_all = fk.index_all = true;
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    cr_assert_eq(call_status("LoadCollection", &l.base)->code, 0);
    cr_assert_eq(fk.nwatch, 1);
    /* a node first in key order that a fresh pick would choose; nothing
     * listens at its address */
    qv_session *other;
    qv_session_options so = {.role = "querynode",
                             .server_id = 1,
                             .address = "127.0.0.1:1",
                             .ttl_s = 5};
    cr_assert_eq(qv_session_register(kv, &so, &other, NULL), QV_OK);
    qv_coord_destroy(co);
    start_coord();
    Milvus__Proto__Milvus__GetLoadingProgressResponse *p = progress();
    cr_assert_eq(p->status->code, 0, "%s", p->status->reason);
    cr_assert_eq(p->progress, 100);
    pthread_mutex_lock(&fk.mu);
    cr_assert_eq(fk.nwatch, 2, "the same node was asked again");
    pthread_mutex_unlock(&fk.mu);
    /* another coord releases on the recorded node */
    qv_coord_destroy(co);
    start_coord();
    Milvus__Proto__Milvus__ReleaseCollectionRequest rl =
        MILVUS__PROTO__MILVUS__RELEASE_COLLECTION_REQUEST__INIT;
    rl.collection_name = "c";
    cr_assert_eq(call_status("ReleaseCollection", &rl.base)->code, 0);
    pthread_mutex_lock(&fk.mu);
    cr_assert_eq(fk.nrelease, 1);
    pthread_mutex_unlock(&fk.mu);
    qv_session_close(other);
}
