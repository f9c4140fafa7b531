/* Tests of the coord process role (coord/coord.h) over real gRPC on the
 * LMDB meta KV: CoordService DDL and describe, timestamps, and the
 * active/standby switch. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "internal/coord.pb-c.h"
#include "milvus/milvus.pb-c.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SVC   "/quiver.internal.CoordService/"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-coord-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(coord, .init = setup, .fini = teardown, .timeout = 60);

static qv_coord *start_coord(void)
{
    qv_coord_options o = {.kv = kv, .host = "127.0.0.1", .session_ttl_s = 2};
    qv_coord *c;
    qv_err err = {0};
    cr_assert_eq(qv_coord_create(&o, &c, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(c, &err), QV_OK, "%s", err.msg);
    return c;
}

static qv_code call(qv_coord *c, const char *m, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *d, void *out, int *grpc)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(qv_coord_address(c), &ch, &err), QV_OK);
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    qv_rpc_call_opts o = {.timeout_ms = 5000, .status_out = grpc};
    qv_code rc = qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err);
    qv_rpc_channel_close(ch);
    return rc;
}

static Milvus__Proto__Schema__FieldSchema *field(const char *name, int type,
                                                 const char *k, const char *v)
{
    Milvus__Proto__Schema__FieldSchema *f = qv_arena_alloc(&arena, sizeof *f);
    milvus__proto__schema__field_schema__init(f);
    f->name = (char *)name;
    f->data_type = type;
    if (k) {
        Milvus__Proto__Common__KeyValuePair *kv1 =
            qv_arena_alloc(&arena, sizeof *kv1);
        milvus__proto__common__key_value_pair__init(kv1);
        kv1->key = (char *)k;
        kv1->value = (char *)v;
        f->type_params = qv_arena_alloc(&arena, sizeof(void *));
        f->type_params[0] = kv1;
        f->n_type_params = 1;
    }
    return f;
}

static Milvus__Proto__Common__Status *create(qv_coord *c, const char *name,
                                             const char *dim)
{
    Milvus__Proto__Schema__FieldSchema *fs[] = {
        field("id", DT(Int64), NULL, NULL),
        field("v", DT(FloatVector), "dim", dim)};
    fs[0]->is_primary_key = 1;
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = (char *)name;
    s.fields = fs;
    s.n_fields = 2;
    s.enable_dynamic_field = 1;
    uint8_t buf[512];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    Milvus__Proto__Common__Status *st = NULL;
    cr_assert_eq(call(c, "CreateCollection", &rq.base,
                      &milvus__proto__common__status__descriptor, &st, NULL),
                 QV_OK);
    return st;
}

static Milvus__Proto__Milvus__DescribeCollectionResponse *
describe(qv_coord *c, const char *db, const char *name)
{
    Milvus__Proto__Milvus__DescribeCollectionRequest rq =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    rq.db_name = (char *)db;
    rq.collection_name = (char *)name;
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    cr_assert_eq(
        call(c, "DescribeCollection", &rq.base,
             &milvus__proto__milvus__describe_collection_response__descriptor,
             &r, NULL),
        QV_OK);
    cr_assert_not_null(r->status);
    return r;
}

Test(coord, create_and_describe_omit_the_dynamic_field)
{
    qv_coord *c = start_coord();
    qv_err err = {0};
    cr_assert_eq(qv_coord_wait_active(c, 10000, &err), QV_OK, "%s", err.msg);
    Milvus__Proto__Common__Status *st = create(c, "c1", "8");
    cr_assert_eq(st->code, 0, "%s", st->reason);
    st = create(c, "c1", "8");
    cr_assert_eq(st->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__IllegalArgument);
    cr_assert(strstr(st->reason, "already exists"), "%s", st->reason);
    st = create(c, "c2", "0");
    cr_assert(strstr(st->reason, "dim"), "%s", st->reason);

    Milvus__Proto__Milvus__DescribeCollectionResponse *d =
        describe(c, "", "c1");
    cr_assert_eq(d->status->code, 0, "%s", d->status->reason);
    cr_assert_not_null(d->schema);
    cr_assert_eq(d->schema->n_fields, 2); /* $meta omitted */
    cr_assert(d->schema->enable_dynamic_field);
    cr_assert_eq(d->schema->fields[0]->fieldid, 100);
    cr_assert_eq(d->schema->fields[1]->fieldid, 101);
    cr_assert_str_eq(d->db_name, "default");
    cr_assert_eq(d->shards_num, 1);
    cr_assert_eq(d->n_virtual_channel_names, 1);
    cr_assert_gt(d->collectionid, 0);
    char ts[32];
    snprintf(ts, sizeof ts, "%llu", (unsigned long long)d->update_timestamp);
    cr_assert_str_eq(d->update_timestamp_str, ts);
    cr_assert_eq(d->created_utc_timestamp, d->created_timestamp >> 18);

    d = describe(c, "", "nope");
    cr_assert_eq(d->status->code, 100);
    cr_assert_eq(d->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__CollectionNotExists);
    cr_assert_null(d->schema);
    d = describe(c, "nodb", "c1");
    cr_assert_eq(d->status->code, 800);
    qv_coord_destroy(c);
}

Test(coord, timestamps_increase_across_a_restart)
{
    qv_coord *c = start_coord();
    qv_err err = {0};
    cr_assert_eq(qv_coord_wait_active(c, 10000, &err), QV_OK, "%s", err.msg);
    Quiver__Internal__AllocTimestampRequest rq =
        QUIVER__INTERNAL__ALLOC_TIMESTAMP_REQUEST__INIT;
    rq.count = 10;
    Quiver__Internal__AllocTimestampResponse *r1 = NULL, *r2 = NULL;
    cr_assert_eq(call(c, "AllocTimestamp", &rq.base,
                      &quiver__internal__alloc_timestamp_response__descriptor,
                      &r1, NULL),
                 QV_OK);
    cr_assert_eq(r1->status->code, 0);
    cr_assert_eq(r1->count, 10);
    qv_coord_destroy(c);
    c = start_coord();
    cr_assert_eq(qv_coord_wait_active(c, 10000, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(call(c, "AllocTimestamp", &rq.base,
                      &quiver__internal__alloc_timestamp_response__descriptor,
                      &r2, NULL),
                 QV_OK);
    cr_assert_gt(r2->timestamp, r1->timestamp + 9);
    qv_coord_destroy(c);
}

Test(coord, standby_is_unavailable_until_the_active_one_stops)
{
    qv_coord *a = start_coord();
    qv_err err = {0};
    cr_assert_eq(qv_coord_wait_active(a, 10000, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(create(a, "kept", "4")->code, 0);
    qv_coord *b = start_coord();
    cr_assert_eq(qv_coord_wait_active(b, 300, &err), QV_E_TIMEOUT);
    cr_assert_not(qv_coord_active(b));
    Milvus__Proto__Milvus__DescribeCollectionRequest rq =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)"kept";
    void *r = NULL;
    int grpc = 0;
    cr_assert_eq(
        call(b, "DescribeCollection", &rq.base,
             &milvus__proto__milvus__describe_collection_response__descriptor,
             &r, &grpc),
        QV_E_UNAVAILABLE);
    cr_assert_eq(grpc, GRPC_STATUS_UNAVAILABLE);
    qv_coord_destroy(a); /* revokes its session: b takes over at once */
    cr_assert_eq(qv_coord_wait_active(b, 5000, &err), QV_OK, "%s", err.msg);
    Milvus__Proto__Milvus__DescribeCollectionResponse *d =
        describe(b, "", "kept");
    cr_assert_eq(d->status->code, 0, "%s", d->status->reason);
    qv_coord_destroy(b);
}
