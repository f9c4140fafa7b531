/* qv_proxy__call_grouped over two real query nodes: shard requests are
 * grouped by leader (a batch call for the node that leads two shards, a
 * single call for the other) and every answer comes back in its shard's
 * slot; a node that cannot be reached fails the whole read. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/column/column.h"
#include "common/msg/msg.h"
#include "common/rpc/rpc_client.h"
#include "internal/querynode.pb-c.h"
#include "proxy/proxy_read.h"
#include "querynode/qnserver.h"

/* protobuf-c fields are char *: string literals go in as they are. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static wal *log_;
static qv_qnode *qa, *qb;
static char addr_a[64], addr_b[64];
static qv_arena arena;

static void start_node(qv_qnode **q, char *addr)
{
    qv_err err = {0};
    qv_qnode_options o = {.kv = kv, .log = log_, .host = "127.0.0.1"};
    cr_assert_eq(qv_qnode_create(&o, q, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(*q, &err), QV_OK, "%s", err.msg);
    snprintf(addr, 64, "127.0.0.1:%d", qv_qnode_port(*q));
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-grp-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    metakv_config cfg = {.dir = dir};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
    start_node(&qa, addr_a);
    start_node(&qb, addr_b);
}

static void teardown(void)
{
    qv_qnode_destroy(qa);
    qv_qnode_destroy(qb);
    wal_close(log_);
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(proxy_grouped, .init = setup, .fini = teardown, .timeout = 60);

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

/* Rows id = base+1 .. base+4 with vectors (id, 0) into vchannel vch. */
static void write_rows(const char *vch, int64_t base)
{
    qv_field_spec ps = {.id = 100, .name = "id", .type = QV_DT_INT64};
    qv_field_spec vs = {
        .id = 101, .name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = 2};
    qv_column *pk, *vec;
    qv_err err = {0};
    cr_assert_eq(qv_column_create(&ps, &pk, &err), QV_OK);
    cr_assert_eq(qv_column_create(&vs, &vec, &err), QV_OK);
    for (int64_t i = base + 1; i <= base + 4; i++) {
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
                .vchannel = vch,
                .partition_id = 1,
                .segment_id = 9 + base,
                .pk_field_id = 100,
                .rows = 4,
                .nfields = 2,
                .field_ids = ids,
                .cols = cols};
    append(&m);
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

/* Node at addr serves the vchannels vs of collection 7. */
static void watch(const char *addr, char **vs, size_t n)
{
    char *p[4] = {"p0", "p0", "p0", "p0"};
    Quiver__Internal__WatchChannelsRequest w =
        QUIVER__INTERNAL__WATCH_CHANNELS_REQUEST__INIT;
    w.collection_id = 7;
    w.schema = schema();
    w.vchannels = vs;
    w.n_vchannels = n;
    w.pchannels = p;
    w.n_pchannels = n;
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(addr, &ch, &err), QV_OK, "%s", err.msg);
    Milvus__Proto__Common__Status *st = NULL;
    cr_assert_eq(qv_rpc_unary(ch,
                              "/quiver.internal.QueryNodeService/"
                              "WatchChannels",
                              &w.base,
                              &milvus__proto__common__status__descriptor,
                              &arena, (ProtobufCMessage **)&st, NULL, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    qv_rpc_channel_close(ch);
}

/* The first hit's primary key in a shard's search answer. */
static int64_t first_pk(const Quiver__Internal__ShardSearchResponse *r)
{
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_geq(r->n_columns, 1);
    void *img = malloc(r->columns[0].len);
    memcpy(img, r->columns[0].data, r->columns[0].len);
    qv_column *pk;
    qv_err err = {0};
    cr_assert_eq(qv_column_load(img, r->columns[0].len, 0, &pk, &err), QV_OK,
                 "%s", err.msg);
    qv_col_view v = qv_column_view(pk);
    cr_assert_geq(v.rows, 1);
    int64_t id = qv_col_i64(&v, 0);
    qv_column_free(pk);
    free(img);
    return id;
}

static char *vchs[3] = {"p0_7v0", "p0_7v1", "p0_7v2"};

static void load_three_shards(void)
{
    write_rows(vchs[0], 0);
    write_rows(vchs[1], 100);
    write_rows(vchs[2], 200);
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = 200, .vchannel = ""};
    append(&t);
    char *on_a[2] = {vchs[0], vchs[2]}, *on_b[1] = {vchs[1]};
    watch(addr_a, on_a, 2);
    watch(addr_b, on_b, 1);
}

Test(proxy_grouped, answers_land_in_their_shards_slots)
{
    load_three_shards();
    /* query (x, 0) near each shard's second row */
    float q[3][2] = {{2.1f, 0}, {102.1f, 0}, {202.1f, 0}};
    Quiver__Internal__ShardSearchRequest rq[3];
    ProtobufCMessage *reqs[3], *resp[3] = {0};
    const char *addrs[3] = {addr_a, addr_b, addr_a};
    for (int s = 0; s < 3; s++) {
        quiver__internal__shard_search_request__init(&rq[s]);
        rq[s].collection_id = 7;
        rq[s].vchannel = vchs[s];
        rq[s].guarantee_ts = 150;
        rq[s].timeout_ms = 5000;
        rq[s].field_id = 101;
        rq[s].nq = 1;
        rq[s].topk = 1;
        rq[s].queries.data = (uint8_t *)q[s];
        rq[s].queries.len = sizeof q[s];
        reqs[s] = &rq[s].base;
    }
    qv_err err = {0};
    cr_assert_eq(qv_proxy__call_grouped_in(&arena, 10000, &qv_proxy__search_rpc,
                                           addrs, reqs, 3, resp, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(first_pk((void *)resp[0]), 2);
    cr_assert_eq(first_pk((void *)resp[1]), 102);
    cr_assert_eq(first_pk((void *)resp[2]), 202);

    /* the same through Query, in the other order of leaders */
    Quiver__Internal__ShardQueryRequest qq[3];
    const char *addrs2[3] = {addr_b, addr_a, addr_a};
    char *order[3] = {vchs[1], vchs[0], vchs[2]};
    for (int s = 0; s < 3; s++) {
        quiver__internal__shard_query_request__init(&qq[s]);
        qq[s].collection_id = 7;
        qq[s].vchannel = order[s];
        qq[s].guarantee_ts = 200;
        qq[s].timeout_ms = 5000;
        qq[s].count_only = 1;
        qq[s].travel_ts = s == 2 ? 50 : 0; /* before the inserts: 0 rows */
        reqs[s] = &qq[s].base;
    }
    cr_assert_eq(qv_proxy__call_grouped_in(&arena, 10000, &qv_proxy__query_rpc,
                                           addrs2, reqs, 3, resp, &err),
                 QV_OK, "%s", err.msg);
    for (int s = 0; s < 3; s++) {
        const Quiver__Internal__ShardQueryResponse *r = (void *)resp[s];
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        cr_assert_eq(r->count, s == 2 ? 0 : 4, "shard %d: %llu", s,
                     (unsigned long long)r->count);
    }
}

Test(proxy_grouped, an_unreachable_leader_fails_the_read)
{
    load_three_shards();
    Quiver__Internal__ShardQueryRequest qq[2];
    ProtobufCMessage *reqs[2], *resp[2] = {0};
    const char *addrs[2] = {addr_a, "127.0.0.1:1"};
    for (int s = 0; s < 2; s++) {
        quiver__internal__shard_query_request__init(&qq[s]);
        qq[s].collection_id = 7;
        qq[s].vchannel = vchs[0];
        qq[s].guarantee_ts = 200;
        qq[s].timeout_ms = 2000;
        qq[s].count_only = 1;
        reqs[s] = &qq[s].base;
    }
    qv_err err = {0};
    qv_code rc = qv_proxy__call_grouped_in(&arena, 3000, &qv_proxy__query_rpc,
                                           addrs, reqs, 2, resp, &err);
    cr_assert_neq(rc, QV_OK);
    cr_assert(strstr(err.msg, "127.0.0.1:1"), "%s", err.msg);
}
