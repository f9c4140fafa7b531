/* Tests of the proxy's metadata path: the describe cache and its
 * invalidation, coord discovery, and DDL through two proxies and a coord
 * on the LMDB meta KV over real gRPC. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "milvus/milvus.pb-c.h"
#include "proxy/coord_link.h"
#include "proxy/meta_cache.h"
#include "proxy/proxy.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SVC   "/milvus.proto.milvus.MilvusService/"
#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-pxddl-XXXXXX");
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

TestSuite(proxy_ddl, .init = setup, .fini = teardown, .timeout = 60);

Test(proxy_ddl, session_address_is_parsed)
{
    char a[64];
    cr_assert(
        qv_coord_link_parse_address("{\"role\":\"coord\",\"id\":7,\"address\":"
                                    "\"10.0.0.5:19531\",\"pid\":1}",
                                    a, sizeof a));
    cr_assert_str_eq(a, "10.0.0.5:19531");
    cr_assert_not(qv_coord_link_parse_address("{\"address\":\"\"}", a, 64));
    cr_assert_not(qv_coord_link_parse_address("{\"role\":\"x\"}", a, 64));
    cr_assert_not(qv_coord_link_parse_address("{\"address\":\"12345", a, 64));
    cr_assert_not(qv_coord_link_parse_address(
        "{\"address\":\"0123456789012345678901234567890\"}", a, 8));
}

static qv_describe_resp *resp_named(const char *name)
{
    qv_describe_resp *r = qv_arena_alloc(&arena, sizeof *r);
    milvus__proto__milvus__describe_collection_response__init(r);
    r->collection_name = (char *)name;
    r->collectionid = 42;
    return r;
}

Test(proxy_ddl, cache_drops_results_fetched_before_a_clear)
{
    qv_meta_cache *c = qv_meta_cache_create(NULL, NULL);
    uint64_t e = qv_meta_cache_epoch(c);
    qv_meta_cache_put(c, "default", "c1", resp_named("c1"), e);
    qv_describe_resp *got = qv_meta_cache_get(c, "default", "c1", &arena);
    cr_assert_not_null(got);
    cr_assert_eq(got->collectionid, 42);
    cr_assert_null(qv_meta_cache_get(c, "db2", "c1", &arena));
    /* A describe that started before a clear must not be stored. */
    uint64_t old = qv_meta_cache_epoch(c);
    qv_meta_cache_clear(c);
    qv_meta_cache_put(c, "default", "c1", resp_named("c1"), old);
    cr_assert_null(qv_meta_cache_get(c, "default", "c1", &arena));
    cr_assert_eq(qv_meta_cache_size(c), 0);
    qv_meta_cache_destroy(c);
}

Test(proxy_ddl, cache_is_cleared_by_meta_changes)
{
    qv_meta_cache *c = qv_meta_cache_create(kv, "quiver/");
    qv_sleep_ms(100); /* the watch is open */
    qv_meta_cache_put(c, "default", "c1", resp_named("c1"),
                      qv_meta_cache_epoch(c));
    cr_assert_eq(qv_meta_cache_size(c), 1);
    qv_err err = {0};
    cr_assert_eq(metakv_put(kv, "quiver/session/x", 16, "1", 1, 0, NULL, &err),
                 QV_OK);
    qv_sleep_ms(400);
    cr_assert_eq(qv_meta_cache_size(c), 1, "session keys are not metadata");
    /* Change a metadata key until the cache notices (bounded): on a loaded
     * machine the watch may open after a single early change. */
    for (int i = 0; i < 250 && qv_meta_cache_size(c) > 0; i++) {
        if (i % 25 == 0)
            cr_assert_eq(metakv_put(kv, "quiver/meta/coll/1/2", 20, "x", 1, 0,
                                    NULL, &err),
                         QV_OK);
        qv_sleep_ms(20);
    }
    cr_assert_eq(qv_meta_cache_size(c), 0);
    qv_meta_cache_destroy(c);
}

/* ---- two proxies and a coord ------------------------------------------- */

static qv_proxy *start_proxy(void)
{
    qv_proxy_options o = {.host = "127.0.0.1", .workers = 2, .kv = kv};
    qv_proxy *p;
    qv_err err = {0};
    cr_assert_eq(qv_proxy_create(&o, &p, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proxy_start(p, &err), QV_OK, "%s", err.msg);
    return p;
}

static void *call(qv_proxy *p, const char *m, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *d, const char *db)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", qv_proxy_port(p));
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK);
    qv_rpc_md md[] = {{"dbname", db}};
    qv_rpc_call_opts o = {.timeout_ms = 10000, .md = md, .n_md = db ? 1 : 0};
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    ProtobufCMessage *out = NULL;
    cr_assert_eq(qv_rpc_unary(ch, path, req, d, &arena, &out, &o, &err), QV_OK,
                 "%s", err.msg);
    qv_rpc_channel_close(ch);
    return out;
}

static Milvus__Proto__Common__Status *create(qv_proxy *p, const char *name,
                                             const char *dim)
{
    Milvus__Proto__Common__KeyValuePair kvp =
        MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    kvp.key = (char *)"dim";
    kvp.value = (char *)dim;
    Milvus__Proto__Common__KeyValuePair *tp[] = {&kvp};
    Milvus__Proto__Schema__FieldSchema f0 =
        MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    Milvus__Proto__Schema__FieldSchema f1 =
        MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    f0.name = (char *)"id";
    f0.data_type = DT(Int64);
    f0.is_primary_key = 1;
    f1.name = (char *)"v";
    f1.data_type = DT(FloatVector);
    f1.type_params = tp;
    f1.n_type_params = 1;
    Milvus__Proto__Schema__FieldSchema *fs[] = {&f0, &f1};
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = (char *)name;
    s.fields = fs;
    s.n_fields = 2;
    uint8_t buf[256];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    return call(p, "CreateCollection", &rq.base,
                &milvus__proto__common__status__descriptor, NULL);
}

static const char *dim_of(qv_proxy *p, const char *name)
{
    Milvus__Proto__Milvus__DescribeCollectionRequest rq =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = call(
        p, "DescribeCollection", &rq.base,
        &milvus__proto__milvus__describe_collection_response__descriptor, NULL);
    if (r->status->code != 0)
        return NULL;
    return r->schema->fields[1]->type_params[0]->value;
}

Test(proxy_ddl, no_stale_schema_after_drop_and_recreate_elsewhere)
{
    qv_coord_options co = {.kv = kv, .host = "127.0.0.1"};
    qv_coord *coord;
    qv_err err = {0};
    cr_assert_eq(qv_coord_create(&co, &coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(coord, 10000, &err), QV_OK);
    qv_proxy *a = start_proxy(), *b = start_proxy();

    cr_assert_eq(create(a, "c1", "4")->code, 0);
    cr_assert_str_eq(dim_of(a, "c1"), "4");
    cr_assert_str_eq(dim_of(a, "c1"), "4"); /* cached now */
    Milvus__Proto__Milvus__DropCollectionRequest drop =
        MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
    drop.collection_name = (char *)"c1";
    Milvus__Proto__Common__Status *st =
        call(b, "DropCollection", &drop.base,
             &milvus__proto__common__status__descriptor, NULL);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    cr_assert_eq(create(b, "c1", "16")->code, 0);
    const char *d = NULL;
    for (int i = 0; i < 100; i++) {
        d = dim_of(a, "c1");
        if (d && strcmp(d, "16") == 0)
            break;
        qv_sleep_ms(20);
    }
    cr_assert_str_eq(d, "16");

    /* Names are checked before anything reaches the coord. */
    st = create(a, "1bad", "4");
    cr_assert_eq(st->code, 1100);
    cr_assert(strstr(st->reason, "first character"), "%s", st->reason);
    /* The dbname header selects the database. */
    Milvus__Proto__Milvus__HasCollectionRequest has =
        MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
    has.collection_name = (char *)"c1";
    Milvus__Proto__Milvus__BoolResponse *br =
        call(a, "HasCollection", &has.base,
             &milvus__proto__milvus__bool_response__descriptor, "default");
    cr_assert(br->value);
    br = call(a, "HasCollection", &has.base,
              &milvus__proto__milvus__bool_response__descriptor, "nodb");
    cr_assert_not(br->value);
    cr_assert_eq(br->status->code, 800);

    /* Sessions of both proxies and the coord are registered. */
    metakv_kvs r = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, "quiver/session/proxy-", 21, NULL, &r, &err),
                 QV_OK);
    cr_assert_eq(r.n, 2);
    metakv_kvs_release(&r);
    /* The coord follows them: joins, then a departure. */
    for (int i = 0; i < 100 && qv_coord_sessions(coord, "proxy") != 2; i++)
        qv_sleep_ms(20);
    cr_assert_eq(qv_coord_sessions(coord, "proxy"), 2);
    cr_assert_eq(qv_coord_sessions(coord, "coord"), 1);
    qv_proxy_destroy(a);
    for (int i = 0; i < 100 && qv_coord_sessions(coord, "proxy") != 1; i++)
        qv_sleep_ms(20);
    cr_assert_eq(qv_coord_sessions(coord, "proxy"), 1);
    qv_proxy_destroy(b);
    qv_coord_destroy(coord);
}

Test(proxy_ddl, ddl_without_a_coord_is_not_ready)
{
    qv_proxy *p = start_proxy();
    Milvus__Proto__Milvus__ListDatabasesRequest rq =
        MILVUS__PROTO__MILVUS__LIST_DATABASES_REQUEST__INIT;
    qv_arena_init(&arena, 0);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", qv_proxy_port(p));
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK);
    qv_rpc_call_opts o = {.timeout_ms = 1500};
    Milvus__Proto__Milvus__ListDatabasesResponse *r = NULL;
    cr_assert_eq(
        qv_rpc_unary(
            ch, SVC "ListDatabases", &rq.base,
            &milvus__proto__milvus__list_databases_response__descriptor, &arena,
            (ProtobufCMessage **)&r, &o, &err),
        QV_OK, "%s", err.msg);
    qv_rpc_channel_close(ch);
    cr_assert_not_null(r->status);
    cr_assert_neq(r->status->code, 0);
    cr_assert(strstr(r->status->reason, "no active coord"), "%s",
              r->status->reason);
    cr_assert_lt(qv_mono_ms(qv_clock_system()) - t0, 6000);
    /* CheckHealth says why. */
    Milvus__Proto__Milvus__CheckHealthRequest hq =
        MILVUS__PROTO__MILVUS__CHECK_HEALTH_REQUEST__INIT;
    Milvus__Proto__Milvus__CheckHealthResponse *h =
        call(p, "CheckHealth", &hq.base,
             &milvus__proto__milvus__check_health_response__descriptor, NULL);
    cr_assert_not(h->ishealthy);
    cr_assert_eq(h->n_reasons, 1);
    cr_assert(strstr(h->reasons[0], "no active coord"), "%s", h->reasons[0]);
    qv_proxy_destroy(p);
}

/* The one proxy session key, its name and lease; false if not exactly one. */
static bool proxy_session(char *name, size_t cap, int64_t *lease)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err err = {0};
    cr_assert_eq(metakv_range(kv, "quiver/session/proxy-", 21, NULL, &r, &err),
                 QV_OK);
    bool one = r.n == 1;
    if (one) {
        snprintf(name, cap, "%.*s", (int)r.kvs[0].key_len,
                 (const char *)r.kvs[0].key);
        *lease = r.kvs[0].lease;
    }
    metakv_kvs_release(&r);
    return one;
}

Test(proxy_ddl, a_lost_session_is_registered_again)
{
    qv_proxy_options o = {
        .host = "127.0.0.1", .workers = 1, .kv = kv, .session_ttl_s = 1};
    qv_proxy *p;
    qv_err err = {0};
    cr_assert_eq(qv_proxy_create(&o, &p, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proxy_start(p, &err), QV_OK, "%s", err.msg);
    char first[128], now[128];
    int64_t lease = 0, lease2 = 0;
    cr_assert(proxy_session(first, sizeof first, &lease));
    cr_assert_neq(lease, 0);
    /* Another party (or an expiry) takes the lease away. */
    cr_assert_eq(metakv_lease_revoke(kv, lease, &err), QV_OK, "%s", err.msg);
    bool back = false;
    for (int i = 0; i < 500 && !back; i++) { /* up to 10 s under load */
        qv_sleep_ms(20);
        back = proxy_session(now, sizeof now, &lease2) && lease2 != lease;
    }
    cr_assert(back, "no new session after the old one was lost");
    cr_assert_str_neq(now, first);
    qv_proxy_destroy(p);
    cr_assert_not(proxy_session(now, sizeof now, &lease2));
}
