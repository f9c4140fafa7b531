/* Index attachment over real gRPC (qnserver/qn_index.c): a flushed segment
 * whose SyncSegments target lists an index build is searched through that
 * index once the reply lists it as indexed (the index here is built over
 * doubled vectors, so its distances tell it apart from the column's); a
 * scalar index counts as attached; a damaged file leaves the segment
 * served exactly and not indexed; search params reach the index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "datanode/channel.h"
#include "internal/querynode.pb-c.h"
#include "index/index.h"
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
    cr_assert_eq(qv_test_mkdtemp("qv-qnidx-", &dir, NULL), QV_OK);
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

TestSuite(qn_index, .init = setup, .fini = teardown, .timeout = 60);

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

static void node_start(node *n, uint64_t memory_limit)
{
    qv_qnode_options o = {.kv = kv,
                          .log = w,
                          .host = "127.0.0.1",
                          .os = os,
                          .memory_limit = memory_limit};
    qv_err err = {0};
    cr_assert_eq(qv_qnode_create(&o, &n->q, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(n->q, &err), QV_OK, "%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_qnode_port(n->q));
    cr_assert_eq(qv_rpc_channel_open(addr, &n->ch, &err), QV_OK, "%s", err.msg);
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

/* Segment 1: pks 1..40 at ts 100, sealed at 200, tick 250. */
static void write_log(void)
{
    append_insert(1, 40, 100, 1);
    append_seal(1, 200);
    append_tick(250);
}

/* A FLAT index (L2) over the doubled vectors of pks 1..40, stored at key;
 * damaged: one byte flipped. */
static void store_index(const char *key, bool damaged)
{
    float x[40 * QN_DIM];
    for (int i = 0; i < 40; i++) {
        qn_vec_of(i + 1, x + i * QN_DIM);
        for (int d = 0; d < QN_DIM; d++)
            x[i * QN_DIM + d] *= 2;
    }
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, QN_DIM, NULL, &ix, NULL),
        QV_OK);
    cr_assert_eq(qv_index_add(ix, 40, x, NULL, NULL), QV_OK);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_index_serialize(ix, &b, NULL), QV_OK);
    if (damaged)
        b.data[b.len / 2] ^= 1;
    cr_assert_eq(objstore_put(os, key, b.data, b.len, NULL), QV_OK);
    qv_buf_release(&b);
    qv_index_free(ix);
}

static Quiver__Internal__SegmentIndex *seg_index(int64_t build, int64_t field,
                                                 const char *key)
{
    Quiver__Internal__SegmentIndex *s = qv_arena_alloc(&arena, sizeof *s);
    quiver__internal__segment_index__init(s);
    s->build_id = build;
    s->collection_id = QN_COLL;
    s->partition_id = 1;
    s->segment_id = 1;
    s->index_id = build + 1000;
    s->field_id = field;
    s->rows = 40;
    s->state = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
    char **files = qv_arena_alloc(&arena, sizeof(char *));
    files[0] = qv_arena_strdup(&arena, key);
    s->files = files;
    s->n_files = 1;
    return s;
}

/* Lists indexes idx[0..n) for the target's only segment. */
static void with_indexes(Quiver__Internal__SyncSegmentsRequest *t,
                         Quiver__Internal__SegmentIndex **idx, size_t n)
{
    Quiver__Internal__SegmentTarget *st = t->segments[0];
    st->indexes = idx;
    st->n_indexes = n;
    st->index_infos = qv_arena_alloc(&arena, (n + 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        Quiver__Internal__IndexInfo *ii = qv_arena_alloc(&arena, sizeof *ii);
        quiver__internal__index_info__init(ii);
        ii->id = idx[i]->index_id;
        ii->collection_id = QN_COLL;
        ii->field_id = idx[i]->field_id;
        st->index_infos[i] = ii;
    }
    st->n_index_infos = n;
}

/* Syncs until the reply lists `want` indexed segments (bounded). */
static Quiver__Internal__SyncSegmentsResponse *
sync_indexed(node *n, Quiver__Internal__SyncSegmentsRequest *t, size_t want)
{
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = sync_once(n, t);
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        if (r->version == t->version && r->n_serving == 1 &&
            r->n_indexed == want)
            return r;
        qv_sleep_ms(50);
    }
    cr_assert_fail("node lists %zu indexed segments, want %zu", r->n_indexed,
                   want);
    return r;
}

/* Top-5 of pk 7's vector at 250 with search params sp. */
static Quiver__Internal__ShardSearchResponse *search(node *n, const char *sp)
{
    float q[QN_DIM];
    qn_vec_of(7, q);
    Quiver__Internal__ShardSearchRequest rq =
        QUIVER__INTERNAL__SHARD_SEARCH_REQUEST__INIT;
    rq.collection_id = QN_COLL;
    rq.vchannel = QN_VCH;
    rq.guarantee_ts = 250;
    rq.timeout_ms = 10000;
    rq.field_id = QN_VEC;
    rq.metric = QV_METRIC_L2;
    rq.nq = 1;
    rq.topk = 5;
    rq.queries.data = (uint8_t *)q;
    rq.queries.len = sizeof q;
    rq.search_params = (char *)sp;
    Quiver__Internal__ShardSearchResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(n->ch, QN "Search", &rq.base,
                     &quiver__internal__shard_search_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    return r;
}

/* |q - 2 q| = |q|^2: the closest hit of pk 7 through the doubled index. */
static float doubled_d0(void)
{
    float q[QN_DIM], s = 0;
    qn_vec_of(7, q);
    for (int d = 0; d < QN_DIM; d++)
        s += q[d] * q[d];
    return s;
}

static void start(node *n, Quiver__Internal__SyncSegmentsRequest **t)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    node_start(n, 0);
    *t = mk_target(&cm, 1, 7);
}

Test(qn_index, listed_index_is_attached_and_searched)
{
    node n;
    Quiver__Internal__SyncSegmentsRequest *t;
    start(&n, &t);
    cr_assert_eq(watch(&n, t, 0)->code, 0);
    sync_indexed(&n, t, 0);
    Quiver__Internal__ShardSearchResponse *r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_float_eq(r->distances[0], 0.0f, 1e-6, "exact: pk 7 itself");
    store_index("index_files/501/1/index", false);
    Quiver__Internal__SegmentIndex *idx[2] = {
        seg_index(501, QN_VEC, "index_files/501/1/index"),
        seg_index(502, QN_TAG, "index_files/502/1/scalar")};
    with_indexes(t, idx, 2);
    t->version = 8;
    Quiver__Internal__SyncSegmentsResponse *sr = sync_indexed(&n, t, 1);
    cr_assert_eq(sr->indexed[0], 1);
    r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->counts[0], 5);
    cr_assert_float_eq(r->distances[0], doubled_d0(), 1e-3,
                       "searched through the index: %g", r->distances[0]);
    /* params reach the index: a radius below every distance finds none */
    r = search(&n, "{\"radius\": 0.001}");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->counts[0], 0);
    r = search(&n, "{\"radius\": \"x\"}");
    cr_assert_neq(r->status->code, 0);
    /* the same target again loads nothing new and stays indexed */
    t->version = 9;
    sync_indexed(&n, t, 1);
    node_stop(&n);
}

Test(qn_index, damaged_file_is_not_attached)
{
    node n;
    Quiver__Internal__SyncSegmentsRequest *t;
    start(&n, &t);
    store_index("index_files/601/1/index", true);
    Quiver__Internal__SegmentIndex *idx[1] = {
        seg_index(601, QN_VEC, "index_files/601/1/index")};
    with_indexes(t, idx, 1);
    cr_assert_eq(watch(&n, t, 0)->code, 0);
    sync_indexed(&n, t, 0);
    qv_sleep_ms(300); /* another round: still not indexed */
    sync_indexed(&n, t, 0);
    Quiver__Internal__ShardSearchResponse *r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_float_eq(r->distances[0], 0.0f, 1e-6, "exact search");
    node_stop(&n);
}
