/* Tests of the query node role over real gRPC: channel assignment, tsafe
 * waits, Search and Query answers for rows written into a local write
 * log, and the "not loaded" status for vchannels it does not serve. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/column/column.h"
#include "common/msg/msg.h"
#include "common/rpc/rpc_client.h"
#include "internal/querynode.pb-c.h"
#include "querynode/qnserver.h"

#define QN "/quiver.internal.QueryNodeService/"
/* protobuf-c fields are char *: string literals go in as they are. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static wal *log_;
static qv_qnode *qn;
static qv_rpc_channel *ch;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-qn-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    metakv_config cfg = {.dir = dir};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
    qv_qnode_options o = {.kv = kv, .log = log_, .host = "127.0.0.1"};
    cr_assert_eq(qv_qnode_create(&o, &qn, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(qn, &err), QV_OK, "%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_qnode_port(qn));
    cr_assert_eq(qv_rpc_channel_open(addr, &ch, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    qv_rpc_channel_close(ch);
    qv_qnode_destroy(qn);
    wal_close(log_);
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(qnserver, .init = setup, .fini = teardown, .timeout = 60);

static void append(const qv_msg *m)
{
    qv_buf b;
    qv_buf_init(&b, 0);
    qv_err err = {0};
    cr_assert_eq(qv_msg_encode(m, &b, &err), QV_OK, "%s", err.msg);
    wal_record r = {.data = b.data, .len = b.len};
    cr_assert_eq(wal_append(log_, "p0", &r, 1, NULL, &err), QV_OK, "%s",
                 err.msg);
    qv_buf_release(&b);
}

/* Rows id = 1..4 with vectors (id, 0) at ts 100, a tick at 200. */
static void write_rows(void)
{
    qv_field_spec ps = {.id = 100, .name = "id", .type = QV_DT_INT64};
    qv_field_spec vs = {
        .id = 101, .name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = 2};
    qv_column *pk, *vec;
    qv_err err = {0};
    cr_assert_eq(qv_column_create(&ps, &pk, &err), QV_OK);
    cr_assert_eq(qv_column_create(&vs, &vec, &err), QV_OK);
    for (int64_t i = 1; i <= 4; i++) {
        float v[2] = {(float)i, 0};
        cr_assert_eq(qv_column_append_fixed(pk, &i, 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(vec, v, 1), QV_OK);
    }
    qv_column_publish(pk);
    qv_column_publish(vec);
    qv_col_view cols[2] = {qv_column_view(pk), qv_column_view(vec)};
    int64_t ids[2] = {100, 101};
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = 100,
                .collection_id = 7,
                .vchannel = "p0_7v0",
                .partition_id = 1,
                .segment_id = 9,
                .pk_field_id = 100,
                .rows = 4,
                .nfields = 2,
                .field_ids = ids,
                .cols = cols};
    append(&m);
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = 200, .vchannel = ""};
    append(&t);
    qv_column_free(pk);
    qv_column_free(vec);
}

static Milvus__Proto__Schema__CollectionSchema *schema(void)
{
    static Milvus__Proto__Schema__FieldSchema f[2];
    static Milvus__Proto__Schema__FieldSchema *fp[2] = {&f[0], &f[1]};
    static Milvus__Proto__Common__KeyValuePair dim, *dimp = &dim;
    static Milvus__Proto__Schema__CollectionSchema s;
    milvus__proto__schema__field_schema__init(&f[0]);
    milvus__proto__schema__field_schema__init(&f[1]);
    milvus__proto__common__key_value_pair__init(&dim);
    milvus__proto__schema__collection_schema__init(&s);
    f[0].fieldid = 100;
    f[0].name = "id";
    f[0].data_type = DT(Int64);
    f[0].is_primary_key = 1;
    f[1].fieldid = 101;
    f[1].name = "v";
    f[1].data_type = DT(FloatVector);
    dim.key = "dim";
    dim.value = "2";
    f[1].type_params = &dimp;
    f[1].n_type_params = 1;
    s.name = "c";
    s.fields = fp;
    s.n_fields = 2;
    return &s;
}

static void watch(void)
{
    Quiver__Internal__WatchChannelsRequest w =
        QUIVER__INTERNAL__WATCH_CHANNELS_REQUEST__INIT;
    char *v = "p0_7v0", *p = "p0";
    w.collection_id = 7;
    w.schema = schema();
    w.vchannels = &v;
    w.n_vchannels = 1;
    w.pchannels = &p;
    w.n_pchannels = 1;
    Milvus__Proto__Common__Status *st = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_unary(ch, QN "WatchChannels", &w.base,
                              &milvus__proto__common__status__descriptor,
                              &arena, (ProtobufCMessage **)&st, NULL, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(st->code, 0, "%s", st->reason);
}

Test(qnserver, search_and_query_after_the_tick)
{
    write_rows();
    watch();
    watch(); /* idempotent */
    cr_assert_eq(qv_qnode_channels(qn), 1);
    float q[2] = {2.2f, 0};
    Quiver__Internal__ShardSearchRequest s =
        QUIVER__INTERNAL__SHARD_SEARCH_REQUEST__INIT;
    s.collection_id = 7;
    s.vchannel = "p0_7v0";
    s.guarantee_ts = 150;
    s.timeout_ms = 5000;
    s.field_id = 101;
    s.metric = 0; /* L2 */
    s.nq = 1;
    s.topk = 2;
    s.queries.data = (uint8_t *)q;
    s.queries.len = sizeof q;
    Quiver__Internal__ShardSearchResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Search", &s.base,
                     &quiver__internal__shard_search_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_geq(r->read_ts, 200);
    cr_assert_eq(r->n_counts, 1);
    cr_assert_eq(r->counts[0], 2);
    cr_assert_float_eq(r->distances[0], 0.04f, 1e-4);
    cr_assert_float_eq(r->distances[1], 0.64f, 1e-4);
    cr_assert_eq(r->row_ts[0], 100);
    cr_assert_eq(r->n_columns, 1);
    void *img = malloc(r->columns[0].len);
    memcpy(img, r->columns[0].data, r->columns[0].len);
    qv_column *pk;
    cr_assert_eq(qv_column_load(img, r->columns[0].len, 0, &pk, &err), QV_OK,
                 "%s", err.msg);
    qv_col_view v = qv_column_view(pk);
    cr_assert_eq(v.rows, 2);
    cr_assert_eq(qv_col_i64(&v, 0), 2);
    cr_assert_eq(qv_col_i64(&v, 1), 3);
    qv_column_free(pk);
    free(img);

    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = 7;
    qr.vchannel = "p0_7v0";
    qr.guarantee_ts = 200;
    qr.timeout_ms = 5000;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *qa = NULL;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qa->status->code, 0, "%s", qa->status->reason);
    cr_assert_eq(qa->count, 4);
    /* Time travel to before the insert: nothing. */
    qr.travel_ts = 50;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qa->count, 0);
}

Test(qnserver, waits_are_bounded_and_unknown_channels_are_not_loaded)
{
    write_rows();
    watch();
    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = 7;
    qr.vchannel = "p0_7v0";
    qr.guarantee_ts = 1000; /* no tick reaches it */
    qr.timeout_ms = 200;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *qa = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_neq(qa->status->code, 0);
    cr_assert_not_null(strstr(qa->status->reason, "p0_7v0"), "%s",
                       qa->status->reason);
    qr.vchannel = "p0_8v0";
    qr.guarantee_ts = 1;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qa->status->code, 101, "%s", qa->status->reason);
    /* Release drops the channels. */
    Quiver__Internal__ReleaseChannelsRequest rl =
        QUIVER__INTERNAL__RELEASE_CHANNELS_REQUEST__INIT;
    rl.collection_id = 7;
    Milvus__Proto__Common__Status *st = NULL;
    cr_assert_eq(qv_rpc_unary(ch, QN "ReleaseChannels", &rl.base,
                              &milvus__proto__common__status__descriptor,
                              &arena, (ProtobufCMessage **)&st, NULL, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_channels(qn), 0);
}

/* SearchBatch: answers in request order, each with its own status (an
 * unknown vchannel fails alone); an empty batch is refused. */
Test(qnserver, search_batch_answers_each_shard_in_order)
{
    write_rows();
    watch();
    float q1[2] = {2.2f, 0}, q2[2] = {4.1f, 0};
    Quiver__Internal__ShardSearchRequest s[3];
    Quiver__Internal__ShardSearchRequest *sp[3] = {&s[0], &s[1], &s[2]};
    float *qs[3] = {q1, q2, q1};
    for (int i = 0; i < 3; i++) {
        quiver__internal__shard_search_request__init(&s[i]);
        s[i].collection_id = 7;
        s[i].vchannel = i == 2 ? "p0_7v9" : "p0_7v0";
        s[i].guarantee_ts = 150;
        s[i].timeout_ms = i == 2 ? 100 : 5000;
        s[i].field_id = 101;
        s[i].nq = 1;
        s[i].topk = 1;
        s[i].queries.data = (uint8_t *)qs[i];
        s[i].queries.len = 2 * sizeof(float);
    }
    Quiver__Internal__ShardSearchBatchRequest b =
        QUIVER__INTERNAL__SHARD_SEARCH_BATCH_REQUEST__INIT;
    b.requests = sp;
    b.n_requests = 3;
    Quiver__Internal__ShardSearchBatchResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(ch, QN "SearchBatch", &b.base,
                     &quiver__internal__shard_search_batch_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_responses, 3);
    cr_assert_eq(r->responses[0]->status->code, 0);
    cr_assert_eq(r->responses[1]->status->code, 0);
    cr_assert_float_eq(r->responses[0]->distances[0], 0.04f, 1e-4);
    cr_assert_float_eq(r->responses[1]->distances[0], 0.01f, 1e-4);
    cr_assert_neq(r->responses[2]->status->code, 0, "unknown vchannel");
    /* the same answers as one Search each */
    Quiver__Internal__ShardSearchResponse *one = NULL;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "Search", &s[1].base,
                     &quiver__internal__shard_search_response__descriptor,
                     &arena, (ProtobufCMessage **)&one, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(one->n_distances, r->responses[1]->n_distances);
    cr_assert_float_eq(one->distances[0], r->responses[1]->distances[0], 1e-6);
    b.n_requests = 0;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "SearchBatch", &b.base,
                     &quiver__internal__shard_search_batch_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_neq(r->status->code, 0);
    cr_assert(strstr(r->status->reason, "want 1 to 1024"), "%s",
              r->status->reason);
}

/* QueryBatch: per-shard answers in order; an empty batch is refused. */
Test(qnserver, query_batch_answers_each_shard_in_order)
{
    write_rows();
    watch();
    Quiver__Internal__ShardQueryRequest q[3];
    Quiver__Internal__ShardQueryRequest *qp[3] = {&q[0], &q[1], &q[2]};
    for (int i = 0; i < 3; i++) {
        quiver__internal__shard_query_request__init(&q[i]);
        q[i].collection_id = 7;
        q[i].vchannel = i == 1 ? "p0_7v9" : "p0_7v0";
        q[i].guarantee_ts = 200;
        q[i].timeout_ms = i == 1 ? 100 : 5000;
        q[i].count_only = 1;
    }
    q[2].travel_ts = 50; /* before the insert */
    Quiver__Internal__ShardQueryBatchRequest b =
        QUIVER__INTERNAL__SHARD_QUERY_BATCH_REQUEST__INIT;
    b.requests = qp;
    b.n_requests = 3;
    Quiver__Internal__ShardQueryBatchResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(ch, QN "QueryBatch", &b.base,
                     &quiver__internal__shard_query_batch_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_responses, 3);
    cr_assert_eq(r->responses[0]->status->code, 0);
    cr_assert_eq(r->responses[0]->count, 4);
    cr_assert_neq(r->responses[1]->status->code, 0, "unknown vchannel");
    cr_assert_eq(r->responses[2]->status->code, 0);
    cr_assert_eq(r->responses[2]->count, 0);
    b.n_requests = 1025;
    Quiver__Internal__ShardQueryRequest *many[1025];
    for (int i = 0; i < 1025; i++)
        many[i] = &q[0];
    b.requests = many;
    cr_assert_eq(
        qv_rpc_unary(ch, QN "QueryBatch", &b.base,
                     &quiver__internal__shard_query_batch_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_neq(r->status->code, 0);
    cr_assert(strstr(r->status->reason, "1025"), "%s", r->status->reason);
}
