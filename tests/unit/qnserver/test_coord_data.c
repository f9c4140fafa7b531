/* Tests of the coord's data path over real gRPC on the LMDB meta KV and a
 * local write log: time ticks never pass a live proxy's report, segments
 * are opened by SegmentOpen and sealed by Flush in the vchannel's
 * pchannel, and loading needs a live query node. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/msg/msg.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "internal/coord.pb-c.h"
#include "milvus/milvus.pb-c.h"

#define SVC "/quiver.internal.CoordService/"
/* protobuf-c fields are char *: string literals go in as they are. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static wal *log_;
static qv_coord *co;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-cdata-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    metakv_config cfg = {.dir = dir};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
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

static void teardown(void)
{
    qv_coord_destroy(co);
    wal_close(log_);
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(coord_data, .init = setup, .fini = teardown, .timeout = 60);

static void call(const char *m, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *d, void *out)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(qv_coord_address(co), &ch, &err), QV_OK);
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    qv_rpc_call_opts o = {.timeout_ms = 5000};
    cr_assert_eq(qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err),
                 QV_OK, "%s: %s", m, err.msg);
    qv_rpc_channel_close(ch);
}

/* Creates collection "c" and returns its describe reply. */
static Milvus__Proto__Milvus__DescribeCollectionResponse *create(void)
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
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    Milvus__Proto__Common__Status *st = NULL;
    call("CreateCollection", &rq.base,
         &milvus__proto__common__status__descriptor, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    Milvus__Proto__Milvus__DescribeCollectionRequest d =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    d.collection_name = "c";
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    call("DescribeCollection", &d.base,
         &milvus__proto__milvus__describe_collection_response__descriptor, &r);
    cr_assert_eq(r->n_physical_channel_names, 1);
    return r;
}

/* Reads the messages of pchannel from position `from`; counts by type;
 * *max_tick. */
static void scan(const char *pch, wal_pos from, size_t counts[9],
                 qv_ts *max_tick)
{
    memset(counts, 0, 9 * sizeof(size_t));
    *max_tick = 0;
    wal_reader *r;
    qv_err err = {0};
    cr_assert_eq(wal_reader_open(log_, pch, from, &r, &err), QV_OK, "%s",
                 err.msg);
    wal_entry e;
    while (wal_reader_next(r, 0, &e, &err) == QV_OK) {
        qv_msg m;
        cr_assert_eq(qv_msg_decode(e.data, e.len, &m, &err), QV_OK, "%s",
                     err.msg);
        cr_assert_lt(m.type, 9);
        counts[m.type]++;
        if (m.type == QV_MSG_TIME_TICK && m.ts > *max_tick)
            *max_tick = m.ts;
        qv_msg_release(&m);
    }
    wal_reader_close(r);
}

Test(coord_data, ticks_respect_reports_and_segments_follow_the_log)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    const char *pch = d->physical_channel_names[0];
    /* Assigning opens a segment in the pchannel. */
    Quiver__Internal__AssignSegmentsRequest a =
        QUIVER__INTERNAL__ASSIGN_SEGMENTS_REQUEST__INIT;
    uint32_t shard = 0;
    uint64_t rows = 10;
    a.collection_id = d->collectionid;
    a.shards = &shard;
    a.n_shards = 1;
    a.rows = &rows;
    a.n_rows = 1;
    a.count = 1;
    Quiver__Internal__AssignSegmentsResponse *ar = NULL;
    call("AssignSegments", &a.base,
         &quiver__internal__assign_segments_response__descriptor, &ar);
    cr_assert_eq(ar->status->code, 0, "%s", ar->status->reason);
    cr_assert_eq(ar->n_segment_ids, 1);
    cr_assert_gt(ar->timestamp, 0);
    cr_assert_gt(ar->partition_id, 0);
    int64_t seg = ar->segment_ids[0];
    /* A second assignment reuses the growing segment. */
    call("AssignSegments", &a.base,
         &quiver__internal__assign_segments_response__descriptor, &ar);
    cr_assert_eq(ar->segment_ids[0], seg);

    /* A proxy reports a bound below the assigned timestamp: ticks stop
     * there. */
    qv_ts bound = ar->timestamp - 5;
    Quiver__Internal__ReportTimeTickRequest t =
        QUIVER__INTERNAL__REPORT_TIME_TICK_REQUEST__INIT;
    t.source = "proxy-1";
    t.timestamp = bound;
    Milvus__Proto__Common__Status *st = NULL;
    call("ReportTimeTick", &t.base, &milvus__proto__common__status__descriptor,
         &st);
    /* Ticks appended from now on take the report into account (the report
     * is registered under the lock the ticker appends under). */
    wal_pos after;
    qv_err err = {0};
    cr_assert_eq(wal_latest(log_, pch, &after, &err), QV_OK, "%s", err.msg);
    qv_sleep_ms(200);
    size_t n[9];
    qv_ts max_tick;
    scan(pch, WAL_EARLIEST, n, &max_tick);
    cr_assert_eq(n[QV_MSG_SEGMENT_OPEN], 1);
    cr_assert_gt(n[QV_MSG_TIME_TICK], 0);
    scan(pch, after, n, &max_tick);
    cr_assert_leq(max_tick, bound);
    /* The report moves on: so do the ticks. */
    t.timestamp = ar->timestamp + 1000;
    call("ReportTimeTick", &t.base, &milvus__proto__common__status__descriptor,
         &st);
    qv_sleep_ms(200);
    scan(pch, WAL_EARLIEST, n, &max_tick);
    cr_assert_gt(max_tick, ar->timestamp);

    /* Flush seals the segment. */
    Milvus__Proto__Milvus__FlushRequest f =
        MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    char *names[1] = {"c"};
    f.collection_names = names;
    f.n_collection_names = 1;
    Milvus__Proto__Milvus__FlushResponse *fr = NULL;
    call("Flush", &f.base, &milvus__proto__milvus__flush_response__descriptor,
         &fr);
    cr_assert_eq(fr->status->code, 0, "%s", fr->status->reason);
    cr_assert_eq(fr->n_coll_segids, 1);
    cr_assert_eq(fr->coll_segids[0]->value->n_data, 1);
    cr_assert_eq(fr->coll_segids[0]->value->data[0], seg);
    scan(pch, WAL_EARLIEST, n, &max_tick);
    cr_assert_eq(n[QV_MSG_SEGMENT_SEAL], 1);
    cr_assert_eq(n[QV_MSG_FLUSH], 1);
    /* After the flush a new segment is opened. */
    call("AssignSegments", &a.base,
         &quiver__internal__assign_segments_response__descriptor, &ar);
    cr_assert_neq(ar->segment_ids[0], seg);
}

Test(coord_data, not_loaded_and_no_query_node)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    Quiver__Internal__GetShardLeadersRequest g =
        QUIVER__INTERNAL__GET_SHARD_LEADERS_REQUEST__INIT;
    g.collection_id = d->collectionid;
    Quiver__Internal__GetShardLeadersResponse *gr = NULL;
    call("GetShardLeaders", &g.base,
         &quiver__internal__get_shard_leaders_response__descriptor, &gr);
    cr_assert_eq(gr->status->code, 101, "%s", gr->status->reason);
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    Milvus__Proto__Common__Status *st = NULL;
    call("LoadCollection", &l.base, &milvus__proto__common__status__descriptor,
         &st);
    cr_assert_neq(st->code, 0);
    cr_assert_not_null(strstr(st->reason, "query node"), "%s", st->reason);
}
