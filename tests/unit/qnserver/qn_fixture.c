/* qn_fixture.c -- see qn_fixture.h. */
#include "qn_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "tests/lib/proc.h"

#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

char *dir;
objstore *os;
wal *w;
wal *tw; /* where append_msg writes (w unless a test says) */
metakv *kv;
qv_arena arena;

void qf_setup(const char *prefix)
{
    cr_assert_eq(qv_test_mkdtemp(prefix, &dir, NULL), QV_OK);
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

void qf_teardown(void)
{
    qv_arena_release(&arena);
    metakv_close(kv);
    wal_close(w);
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

/* ---- the log and the datanode ------------------------------------------- */

void append_msg(const qv_msg *m)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(m, &b, NULL), QV_OK);
    wal_record r = {b.data, b.len};
    cr_assert_eq(wal_append(tw, PCH, &r, 1, NULL, NULL), QV_OK);
    qv_buf_release(&b);
}

void append_insert(int64_t first, size_t n, qv_ts ts, int64_t seg)
{
    int64_t pks[64];
    for (size_t i = 0; i < n; i++)
        pks[i] = first + (int64_t)i;
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ts, seg, 1);
    append_msg(&x.m);
    qn_insert_free(&x);
}

void append_seal(int64_t seg, qv_ts ts)
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

void append_tick(qv_ts ts)
{
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = ts, .vchannel = ""};
    append_msg(&t);
}

qv_code alloc_id(void *p, int64_t *id, qv_err *err)
{
    (void)err;
    *id = ++((commits *)p)->next_id;
    return QV_OK;
}

qv_code on_commit(void *p, const qv_dn_commit *c, qv_err *err)
{
    (void)err;
    commits *x = p;
    cr_assert_lt(x->n, 8);
    x->c[x->n++] = *c;
    return QV_OK;
}

/* Runs a datanode consumer over the whole log tw. */
void flush_all(commits *cm)
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

void node_start_cached(node *n, uint64_t memory_limit, const char *cache_dir)
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

void node_start(node *n, uint64_t memory_limit)
{
    node_start_cached(n, memory_limit, NULL);
}

void node_stop(node *n)
{
    qv_rpc_channel_close(n->ch);
    qv_qnode_destroy(n->q);
}

Milvus__Proto__Schema__CollectionSchema *schema(void)
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

Quiver__Internal__SegmentInfo *seg_info(const qv_dn_commit *c)
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

Quiver__Internal__SegmentInfo *l0_info(const qv_dn_commit *c)
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
Quiver__Internal__SyncSegmentsRequest *mk_target(const commits *cm, size_t n,
                                                 uint64_t version)
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

Milvus__Proto__Common__Status *
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

Quiver__Internal__SyncSegmentsResponse *
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
