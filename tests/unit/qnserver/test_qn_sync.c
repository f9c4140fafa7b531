/* The query node's sealed segments over real gRPC: segments flushed by the
 * datanode's channel consumer (real objects, L0 logs and checkpoints) are
 * handed off from the growing copies without a gap or duplicates, a node
 * started at a checkpoint serves them without replaying them, segments
 * leave the target, and a load over the memory limit is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "datanode/channel.h"
#include "internal/querynode.pb-c.h"
#include "qnserver/qnserver.h"
#include "tests/lib/proc.h"

#define QN "/quiver.internal.QueryNodeService/"
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define PCH   "p0"

static char *dir;
static objstore *os;
static wal *w;
static wal *tw; /* where append_msg writes (w unless a test says) */
static metakv *kv;
static qv_arena arena;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-qnsync-", &dir, NULL), QV_OK);
    char *root = qv_xasprintf("%s/objects", dir);
    char *wdir = qv_xasprintf("%s/wal", dir);
    objstore_config c = {.root = root, .no_fsync = true};
    cr_assert_eq(objstore_open("fs", &c, &os, NULL), QV_OK);
    wal_options o = {.dir = wdir, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &o, &w, NULL), QV_OK);
    tw = w;
    metakv_config mc = {.dir = dir};
    cr_assert_eq(metakv_open("local", &mc, &kv, NULL), QV_OK);
    qv_arena_init(&arena, 0);
    free(root);
    free(wdir);
}

static void teardown(void)
{
    qv_arena_release(&arena);
    metakv_close(kv);
    wal_close(w);
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(qn_sync, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the log and the datanode ------------------------------------------- */

static void append_msg(const qv_msg *m)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(m, &b, NULL), QV_OK);
    wal_record r = {b.data, b.len};
    cr_assert_eq(wal_append(tw, PCH, &r, 1, NULL, NULL), QV_OK);
    qv_buf_release(&b);
}

static void append_insert(int64_t first, size_t n, qv_ts ts, int64_t seg)
{
    int64_t pks[64];
    for (size_t i = 0; i < n; i++)
        pks[i] = first + (int64_t)i;
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ts, seg, 1);
    append_msg(&x.m);
    qn_insert_free(&x);
}

static void append_seal(int64_t seg, qv_ts ts)
{
    qv_msg seal = {.type = QV_MSG_SEGMENT_SEAL,
                   .ts = ts,
                   .collection_id = QN_COLL,
                   .vchannel = QN_VCH,
                   .partition_id = 1,
                   .segment_id = seg,
                   .seal_reason = QV_SEAL_SIZE};
    append_msg(&seal);
}

static void append_tick(qv_ts ts)
{
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = ts, .vchannel = ""};
    append_msg(&t);
}

typedef struct commits {
    int64_t next_id;
    size_t n;
    qv_dn_commit c[8];
} commits;

static qv_code alloc_id(void *p, int64_t *id, qv_err *err)
{
    (void)err;
    *id = ++((commits *)p)->next_id;
    return QV_OK;
}

static qv_code on_commit(void *p, const qv_dn_commit *c, qv_err *err)
{
    (void)err;
    commits *x = p;
    cr_assert_lt(x->n, 8);
    x->c[x->n++] = *c;
    return QV_OK;
}

/* Runs a datanode consumer over the whole log tw. */
static void flush_all(commits *cm)
{
    qv_dn_channel_opts o = {.log = tw,
                            .pchannel = PCH,
                            .from = WAL_EARLIEST,
                            .shard = {.collection_id = QN_COLL,
                                      .vchannel = QN_VCH,
                                      .schema = qn_schema},
                            .os = os,
                            .alloc_id = alloc_id,
                            .commit = on_commit,
                            .ctx = cm};
    qv_dn_channel *ch;
    qv_err err;
    cr_assert_eq(qv_dn_channel_open(&o, &ch, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 1000, &err), QV_OK, "%s", err.msg);
    qv_dn_channel_close(ch);
}

/* ---- the query node ------------------------------------------------------ */

typedef struct node {
    qv_qnode *q;
    qv_rpc_channel *ch;
} node;

static void node_start_cached(node *n, uint64_t memory_limit,
                              const char *cache_dir)
{
    qv_qnode_options o = {.kv = kv,
                          .log = w,
                          .host = "127.0.0.1",
                          .os = os,
                          .memory_limit = memory_limit,
                          .cache_dir = cache_dir};
    qv_err err = {0};
    cr_assert_eq(qv_qnode_create(&o, &n->q, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(n->q, &err), QV_OK, "%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_qnode_port(n->q));
    cr_assert_eq(qv_rpc_channel_open(addr, &n->ch, &err), QV_OK, "%s", err.msg);
}

static void node_start(node *n, uint64_t memory_limit)
{
    node_start_cached(n, memory_limit, NULL);
}

static void node_stop(node *n)
{
    qv_rpc_channel_close(n->ch);
    qv_qnode_destroy(n->q);
}

static Milvus__Proto__Schema__CollectionSchema *schema(void)
{
    static Milvus__Proto__Schema__FieldSchema f[4];
    static Milvus__Proto__Schema__FieldSchema *fp[4] = {&f[0], &f[1], &f[2],
                                                        &f[3]};
    static Milvus__Proto__Common__KeyValuePair dim, *dimp = &dim, ml,
                                                    *mlp = &ml;
    static Milvus__Proto__Schema__CollectionSchema s;
    for (int i = 0; i < 4; i++)
        milvus__proto__schema__field_schema__init(&f[i]);
    milvus__proto__common__key_value_pair__init(&dim);
    milvus__proto__common__key_value_pair__init(&ml);
    milvus__proto__schema__collection_schema__init(&s);
    f[0].fieldid = QN_PK;
    f[0].name = "pk";
    f[0].data_type = DT(Int64);
    f[0].is_primary_key = 1;
    f[1].fieldid = QN_VEC;
    f[1].name = "vec";
    f[1].data_type = DT(FloatVector);
    dim.key = "dim";
    dim.value = "8";
    f[1].type_params = &dimp;
    f[1].n_type_params = 1;
    f[2].fieldid = QN_TAG;
    f[2].name = "tag";
    f[2].data_type = DT(Int64);
    f[3].fieldid = QN_NAME;
    f[3].name = "name";
    f[3].data_type = DT(VarChar);
    f[3].nullable = 1;
    ml.key = "max_length";
    ml.value = "64";
    f[3].type_params = &mlp;
    f[3].n_type_params = 1;
    s.name = "c";
    s.fields = fp;
    s.n_fields = 4;
    return &s;
}

static Quiver__Internal__SegmentInfo *seg_info(const qv_dn_commit *c)
{
    Quiver__Internal__SegmentInfo *s = qv_arena_alloc(&arena, sizeof *s);
    quiver__internal__segment_info__init(s);
    s->id = c->segment_id;
    s->collection_id = QN_COLL;
    s->partition_id = c->partition_id;
    s->vchannel = QN_VCH;
    s->log_id = c->log_id;
    s->rows = c->rows;
    s->bytes = 1000;
    return s;
}

static Quiver__Internal__SegmentInfo *l0_info(const qv_dn_commit *c)
{
    Quiver__Internal__SegmentInfo *s = qv_arena_alloc(&arena, sizeof *s);
    quiver__internal__segment_info__init(s);
    s->id = c->l0_log_id;
    s->collection_id = QN_COLL;
    s->partition_id = -1;
    s->vchannel = QN_VCH;
    s->level = QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0;
    s->log_id = c->l0_log_id;
    s->rows = c->l0_deletes;
    return s;
}

/* A target of the segments of commits[0..n) (and their L0 logs). */
static Quiver__Internal__SyncSegmentsRequest *
mk_target(const commits *cm, size_t n, uint64_t version)
{
    Quiver__Internal__SyncSegmentsRequest *t =
        qv_arena_alloc(&arena, sizeof *t);
    quiver__internal__sync_segments_request__init(t);
    t->collection_id = QN_COLL;
    t->vchannel = QN_VCH;
    t->version = version;
    t->segments = qv_arena_alloc(&arena, (n + 1) * sizeof(void *));
    t->l0 = qv_arena_alloc(&arena, (n + 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        if (cm->c[i].segment_id) {
            Quiver__Internal__SegmentTarget *st =
                qv_arena_alloc(&arena, sizeof *st);
            quiver__internal__segment_target__init(st);
            st->segment = seg_info(&cm->c[i]);
            t->segments[t->n_segments++] = st;
        }
        if (cm->c[i].l0_log_id)
            t->l0[t->n_l0++] = l0_info(&cm->c[i]);
    }
    return t;
}

static Milvus__Proto__Common__Status *
watch(node *n, Quiver__Internal__SyncSegmentsRequest *t, wal_pos from)
{
    Quiver__Internal__WatchChannelsRequest r =
        QUIVER__INTERNAL__WATCH_CHANNELS_REQUEST__INIT;
    char *v = QN_VCH, *p = PCH;
    r.collection_id = QN_COLL;
    r.schema = schema();
    r.vchannels = &v;
    r.n_vchannels = 1;
    r.pchannels = &p;
    r.n_pchannels = 1;
    Quiver__Internal__ChannelCheckpoint
        ck = QUIVER__INTERNAL__CHANNEL_CHECKPOINT__INIT,
        *ckp = &ck;
    ck.vchannel = QN_VCH;
    ck.pchannel = PCH;
    ck.position = from;
    if (t) {
        r.checkpoints = &ckp;
        r.n_checkpoints = 1;
        r.targets = &t;
        r.n_targets = 1;
    }
    Milvus__Proto__Common__Status *st = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_unary(n->ch, QN "WatchChannels", &r.base,
                              &milvus__proto__common__status__descriptor,
                              &arena, (ProtobufCMessage **)&st, NULL, &err),
                 QV_OK, "%s", err.msg);
    return st;
}

static Quiver__Internal__SyncSegmentsResponse *
sync_once(node *n, Quiver__Internal__SyncSegmentsRequest *t)
{
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(n->ch, QN "SyncSegments", &t->base,
                     &quiver__internal__sync_segments_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    return r;
}

/* Syncs until the node serves `want` segments (bounded). */
static Quiver__Internal__SyncSegmentsResponse *
sync_until(node *n, Quiver__Internal__SyncSegmentsRequest *t, size_t want)
{
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = sync_once(n, t);
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        if (r->n_serving == want && r->version == t->version)
            return r;
        qv_sleep_ms(50);
    }
    cr_assert_fail("node serves %zu segments, want %zu", r->n_serving, want);
    return r;
}

static uint64_t count(node *n, qv_ts guarantee)
{
    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = QN_COLL;
    qr.vchannel = QN_VCH;
    qr.guarantee_ts = guarantee;
    qr.timeout_ms = 10000;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *qa = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(n->ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qa->status->code, 0, "%s", qa->status->reason);
    return qa->count;
}

/* Segment 1: pks 1..40 at ts 100; segment 2: pks 41..60 at ts 110 (opened
 * before segment 1 is sealed, so the checkpoint lies inside it); pk 5 and
 * 45 deleted at ts 150; segment 1 sealed at 200; tick 250. */
static void write_log(void)
{
    append_insert(1, 40, 100, 1);
    append_insert(41, 20, 110, 2);
    int64_t del[2] = {5, 45};
    qn_delete d;
    qn_delete_make(&d, del, 2, 150, QV_PARTITION_ALL);
    append_msg(&d.m);
    qn_delete_free(&d);
    append_seal(1, 200);
    append_tick(250);
}

Test(qn_sync, hand_off_from_the_growing_copy_keeps_every_row_once)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    cr_assert_eq(cm.c[0].segment_id, 1);
    node n;
    node_start(&n, 0);
    /* no target yet: everything from the log */
    Quiver__Internal__SyncSegmentsRequest *empty = mk_target(&cm, 0, 1);
    cr_assert_eq(watch(&n, empty, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(lr, 60);
    cr_assert_eq(sr, 0);
    /* segment 1 flushed: hand-off, same answers */
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 2);
    Quiver__Internal__SyncSegmentsResponse *r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    cr_assert_eq(r->n_indexed, 0);
    cr_assert_gt(r->memory_bytes, 0);
    cr_assert_eq(count(&n, 250), 58);
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 40);
    /* a delete after the hand-off reaches the sealed copy */
    int64_t del = 7;
    qn_delete d;
    qn_delete_make(&d, &del, 1, 300, QV_PARTITION_ALL);
    append_msg(&d.m);
    qn_delete_free(&d);
    append_tick(350);
    cr_assert_eq(count(&n, 350), 57);
    /* the segment leaves the target: dropped */
    Quiver__Internal__SyncSegmentsRequest *none = mk_target(&cm, 0, 3);
    r = sync_until(&n, none, 0);
    cr_assert_eq(count(&n, 350), 57 - 38);
    /* an older version is ignored */
    r = sync_once(&n, t);
    cr_assert_eq(r->version, 3);
    cr_assert_eq(r->n_serving, 0);
    node_stop(&n);
}

Test(qn_sync, a_seal_not_consumed_yet_is_retried)
{
    /* the datanode reads a copy of the log that already has the seal; the
     * node's log does not have it yet */
    char *wdir = qv_xasprintf("%s/wal2", dir);
    wal_options o = {.dir = wdir, .sync = WAL_SYNC_NEVER};
    wal *w2;
    cr_assert_eq(wal_open("local", &o, &w2, NULL), QV_OK);
    free(wdir);
    tw = w2;
    append_insert(1, 10, 100, 1);
    append_seal(1, 150);
    append_tick(200);
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    tw = w;
    append_insert(1, 10, 100, 1);
    append_tick(140);
    node n;
    node_start(&n, 0);
    cr_assert_eq(watch(&n, NULL, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 140), 10);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 5);
    Quiver__Internal__SyncSegmentsResponse *r = sync_once(&n, t);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_serving, 0, "not serving before the seal is consumed");
    qv_sleep_ms(300);
    r = sync_once(&n, t);
    cr_assert_eq(r->n_serving, 0);
    cr_assert_eq(count(&n, 140), 10);
    append_seal(1, 150);
    append_tick(200);
    r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    cr_assert_eq(count(&n, 200), 10);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 10);
    node_stop(&n);
    wal_close(w2);
}

Test(qn_sync, start_at_the_checkpoint_loads_sealed_segments_and_l0)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    cr_assert_eq(cm.c[0].checkpoint, 1, "segment 2 is still buffered");
    cr_assert_gt(cm.c[0].l0_log_id, 0);
    node n;
    node_start(&n, 0);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 7);
    cr_assert_eq(watch(&n, t, cm.c[0].checkpoint)->code, 0);
    /* segment 1 sealed (39 visible), segment 2 from the log (19) */
    cr_assert_eq(count(&n, 250), 58);
    Quiver__Internal__SyncSegmentsResponse *r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 40);
    cr_assert_eq(lr, 20, "only segment 2's rows were replayed");
    node_stop(&n);
}

Test(qn_sync, a_load_over_the_memory_limit_is_refused)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    node n;
    node_start(&n, 500); /* the segment says 1000 bytes */
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 1);
    Milvus__Proto__Common__Status *st = watch(&n, t, cm.c[0].checkpoint);
    cr_assert_neq(st->code, 0);
    cr_assert(strstr(st->reason, "memory limit"), "%s", st->reason);
    cr_assert(strstr(st->reason, "queryNode.memoryLimit"), "%s", st->reason);
    /* watched without segments, a later target over the limit is reported
     * by SyncSegments, and the node keeps serving */
    cr_assert_eq(watch(&n, NULL, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    Quiver__Internal__SyncSegmentsResponse *r = sync_once(&n, t);
    cr_assert_neq(r->status->code, 0);
    cr_assert(strstr(r->status->reason, "memory limit"), "%s",
              r->status->reason);
    cr_assert_eq(r->n_serving, 0);
    cr_assert_eq(count(&n, 250), 58);
    node_stop(&n);
}

Test(qn_sync, a_cache_directory_holds_the_mapped_column_files)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    char *cache = qv_xasprintf("%s/cache/qn", dir);
    node n;
    node_start_cached(&n, 0, cache);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 3);
    cr_assert_eq(watch(&n, t, cm.c[0].checkpoint)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    /* one file per field and the timestamps, named segment_field_log */
    char *path =
        qv_xasprintf("%s/1_%d_%lld", cache, QN_PK, (long long)cm.c[0].log_id);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    cr_assert_gt(st.st_size, 0);
    free(path);
    node_stop(&n);
    free(cache);
}
