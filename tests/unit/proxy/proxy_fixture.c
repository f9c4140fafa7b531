/* proxy_fixture.c -- see proxy_fixture.h. */
#include "proxy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

char dir[64];
metakv *kv;
wal *log_;
qv_coord *co;
qv_qnode *qn;
qv_proxy *px;
qv_rpc_channel *ch;
qv_arena arena;

void pf_setup(const char *prefix)
{
    snprintf(dir, sizeof(dir), "/tmp/%sXXXXXX", prefix);
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

void pf_teardown(void)
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

void *call(const char *m, const ProtobufCMessage *req,
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

void create(void)
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
M(MutationResult) * insert(int64_t from, size_t n, size_t dim)
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
