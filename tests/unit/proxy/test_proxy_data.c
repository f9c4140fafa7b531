/* The data path through the proxy's MilvusService over gRPC, in one
 * process: proxy + coord + query node on the LMDB meta KV and a local
 * write log.  Insert, load, count(*), query, search, delete, and bad
 * inserts answered with a Status while the proxy keeps serving. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "milvus/milvus.pb-c.h"
#include "proxy/proxy.h"
#include "qnserver/qnserver.h"

/* protobuf-c fields are char *: string literals go in as they are; some
 * INIT macros set deprecated fields. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SVC   "/milvus.proto.milvus.MilvusService/"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define M(x)  Milvus__Proto__Milvus__##x

static char dir[64];
static metakv *kv;
static wal *log_;
static qv_coord *co;
static qv_qnode *qn;
static qv_proxy *px;
static qv_rpc_channel *ch;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-pxdata-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    metakv_config cfg = {.dir = dir};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
    qv_qnode_options qo = {.kv = kv, .log = log_, .host = "127.0.0.1"};
    cr_assert_eq(qv_qnode_create(&qo, &qn, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(qn, &err), QV_OK, "%s", err.msg);
    qv_coord_options co_o = {
        .kv = kv, .host = "127.0.0.1", .log = log_, .pchannels = 2};
    cr_assert_eq(qv_coord_create(&co_o, &co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(co, 10000, &err), QV_OK, "%s", err.msg);
    qv_proxy_options po = {
        .host = "127.0.0.1", .workers = 2, .kv = kv, .log = log_};
    cr_assert_eq(qv_proxy_create(&po, &px, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proxy_start(px, &err), QV_OK, "%s", err.msg);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_proxy_port(px));
    cr_assert_eq(qv_rpc_channel_open(addr, &ch, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    qv_rpc_channel_close(ch);
    qv_proxy_destroy(px);
    qv_coord_destroy(co);
    qv_qnode_destroy(qn);
    wal_close(log_);
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(proxy_data, .init = setup, .fini = teardown, .timeout = 60);

static void *call(const char *m, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *d)
{
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    ProtobufCMessage *out = NULL;
    qv_err err = {0};
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    cr_assert_eq(qv_rpc_unary(ch, path, req, d, &arena, &out, &o, &err), QV_OK,
                 "%s: %s", m, err.msg);
    return out;
}

#define STATUS_D &milvus__proto__common__status__descriptor

static void create(void)
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
    M(CreateCollectionRequest)
    rq = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = "c";
    rq.shards_num = 2;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    Milvus__Proto__Common__Status *st =
        call("CreateCollection", &rq.base, STATUS_D);
    cr_assert_eq(st->code, 0, "%s", st->reason);
}

/* Inserts ids [from, from+n) with vectors (id, 0); dim is the vector
 * length sent (2 is right). */
static M(MutationResult) * insert(int64_t from, size_t n, size_t dim)
{
    int64_t *ids = qv_arena_alloc(&arena, n * sizeof *ids);
    float *vec = qv_arena_calloc(&arena, n * dim, sizeof *vec);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        vec[i * dim] = (float)ids[i];
    }
    Milvus__Proto__Schema__LongArray la =
        MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.data = ids;
    la.n_data = n;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    sf.long_data = &la;
    Milvus__Proto__Schema__FieldData f0 =
        MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    f0.type = DT(Int64);
    f0.field_name = "id";
    f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    f0.scalars = &sf;
    Milvus__Proto__Schema__FloatArray fa =
        MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    fa.data = vec;
    fa.n_data = n * dim;
    Milvus__Proto__Schema__VectorField vf =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    vf.dim = (int64_t)dim;
    vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    vf.float_vector = &fa;
    Milvus__Proto__Schema__FieldData f1 =
        MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    f1.type = DT(FloatVector);
    f1.field_name = "v";
    f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    f1.vectors = &vf;
    Milvus__Proto__Schema__FieldData *fds[2] = {&f0, &f1};
    M(InsertRequest) rq = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    rq.collection_name = "c";
    rq.fields_data = fds;
    rq.n_fields_data = 2;
    rq.num_rows = (uint32_t)n;
    return call("Insert", &rq.base,
                &milvus__proto__milvus__mutation_result__descriptor);
}

static int64_t count(void)
{
    char *of[1] = {"count(*)"};
    M(QueryRequest) rq = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    rq.collection_name = "c";
    rq.output_fields = of;
    rq.n_output_fields = 1;
    M(QueryResults) *r = call(
        "Query", &rq.base, &milvus__proto__milvus__query_results__descriptor);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_fields_data, 1);
    cr_assert_str_eq(r->fields_data[0]->field_name, "count(*)");
    return r->fields_data[0]->scalars->long_data->data[0];
}

Test(proxy_data, insert_load_read_delete)
{
    create();
    /* Not loaded yet: 101. */
    char *of[1] = {"count(*)"};
    M(QueryRequest) q0 = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    q0.collection_name = "c";
    q0.output_fields = of;
    q0.n_output_fields = 1;
    M(QueryResults) *r0 = call(
        "Query", &q0.base, &milvus__proto__milvus__query_results__descriptor);
    cr_assert_eq(r0->status->code, 101, "%s", r0->status->reason);

    M(MutationResult) *m = insert(1, 100, 2);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    cr_assert_eq(m->insert_cnt, 100);
    cr_assert_eq(m->ids->int_id->n_data, 100);
    cr_assert_gt(m->timestamp, 0);
    M(LoadCollectionRequest)
    l = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    Milvus__Proto__Common__Status *st =
        call("LoadCollection", &l.base, STATUS_D);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    cr_assert_eq(count(), 100);

    /* Bad inserts: a Status, nothing written. */
    m = insert(1000, 3, 3); /* wrong dim */
    cr_assert_neq(m->status->code, 0);
    cr_assert_eq(m->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__IllegalArgument);
    M(InsertRequest) empty = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    empty.collection_name = "c";
    m = call("Insert", &empty.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_neq(m->status->code, 0);
    cr_assert_eq(count(), 100);

    /* Search (Strong: consistency level 0 is the default). */
    float qv[2] = {41.2f, 0};
    Milvus__Proto__Common__PlaceholderValue pv =
        MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    ProtobufCBinaryData val = {.len = sizeof qv, .data = (uint8_t *)qv};
    pv.tag = "$0";
    pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    pv.values = &val;
    pv.n_values = 1;
    Milvus__Proto__Common__PlaceholderValue *pvp = &pv;
    Milvus__Proto__Common__PlaceholderGroup pg =
        MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    pg.placeholders = &pvp;
    pg.n_placeholders = 1;
    uint8_t pbuf[64];
    Milvus__Proto__Common__KeyValuePair k1, k2, *kvs[2] = {&k1, &k2};
    milvus__proto__common__key_value_pair__init(&k1);
    milvus__proto__common__key_value_pair__init(&k2);
    k1.key = "topk";
    k1.value = "3";
    k2.key = "metric_type";
    k2.value = "L2";
    M(SearchRequest) sr;
    milvus__proto__milvus__search_request__init(&sr);
    sr.collection_name = "c";
    sr.search_input_case =
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    sr.placeholder_group.data = pbuf;
    sr.placeholder_group.len =
        milvus__proto__common__placeholder_group__pack(&pg, pbuf);
    sr.nq = 1;
    sr.search_params = kvs;
    sr.n_search_params = 2;
    M(SearchResults) *res = call(
        "Search", &sr.base, &milvus__proto__milvus__search_results__descriptor);
    cr_assert_eq(res->status->code, 0, "%s", res->status->reason);
    Milvus__Proto__Schema__SearchResultData *d = res->results;
    cr_assert_eq(d->n_topks, 1);
    cr_assert_eq(d->topks[0], 3);
    cr_assert_eq(d->ids->int_id->data[0], 41);
    cr_assert_eq(d->ids->int_id->data[1], 42);
    cr_assert_eq(d->ids->int_id->data[2], 40);
    cr_assert_float_eq(d->scores[0], 0.04f, 1e-4);
    cr_assert_eq(d->n_fields_data, 1); /* the PK column */
    cr_assert_str_eq(d->fields_data[0]->field_name, "id");

    /* Delete by keys and by a filter. */
    M(DeleteRequest) del = MILVUS__PROTO__MILVUS__DELETE_REQUEST__INIT;
    del.collection_name = "c";
    del.expr = "id in [1, 2, 3]";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    cr_assert_eq(m->delete_cnt, 3);
    del.expr = "id > 90";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    cr_assert_eq(m->delete_cnt, 10);
    cr_assert_eq(count(), 87);
    del.expr = "nope == 1";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_neq(m->status->code, 0);
}
