/* Log trimming and query nodes (coord/coord_dn.c step 4): a real coord,
 * datanode and query node over gRPC, on the LMDB meta KV, a local write log
 * with small segment files and a directory object store.  The query node
 * reads the log through a fault decorator, so a test can stall its
 * delegator (every read fails with QV_E_UNAVAILABLE, which it retries)
 * while the datanode moves its checkpoint far ahead.
 *   - the query node reports the position it consumed in SyncSegments;
 *   - the coord never trims past a stalled query node's position, and
 *     trims past it once the node caught up (it then still reads);
 *   - a released collection's query node stops counting;
 *   - a vchannel whose live query node has not reported (a new coord that
 *     cannot reach it) blocks the trim; once that node's session is gone
 *     the trim proceeds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "coord/segmeta.h"
#include "datanode/server.h"
#include "internal/coord.pb-c.h"
#include "internal/querynode.pb-c.h"
#include "milvus/milvus.pb-c.h"
#include "querynode/qnserver.h"
#include "tests/lib/proc.h"

#define SVC "/quiver.internal.CoordService/"
#define QN  "/quiver.internal.QueryNodeService/"
/* CollectionSchema's INIT macro sets the deprecated autoid field. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char *dir;
static metakv *kv;
static wal *inner; /* the log: coord and datanode */
static wal *qlog;  /* the query node's view of it (fault decorator) */
static objstore *os;
static qv_coord *co;
static qv_dnode *dn;
static qv_qnode *qn;
static qv_arena arena;

static void start_coord(void)
{
    qv_coord_options o = {.kv = kv,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1,
                          .log = inner,
                          .tick_ms = 20,
                          .pchannels = 1,
                          .seg_idle_ms = UINT64_MAX,
                          .seg_max_age_ms = UINT64_MAX,
                          .wal_trim_interval_ms = 200};
    qv_err err = {0};
    cr_assert_eq(qv_coord_create(&o, &co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(co, 10000, &err), QV_OK, "%s", err.msg);
}

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-trimguard-", &dir, NULL), QV_OK);
    qv_arena_init(&arena, 0);
    qv_err err = {0};
    char *p = qv_xasprintf("%s/meta", dir);
    metakv_config cfg = {.dir = p};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    free(p);
    p = qv_xasprintf("%s/wal", dir);
    /* small segment files, so trimming has whole files to delete */
    wal_options wo = {
        .dir = p, .sync = WAL_SYNC_NEVER, .segment_bytes = 16 << 10};
    cr_assert_eq(wal_open("local", &wo, &inner, &err), QV_OK, "%s", err.msg);
    free(p);
    wal_options fo = {.inner = inner};
    cr_assert_eq(wal_open("fault", &fo, &qlog, &err), QV_OK, "%s", err.msg);
    p = qv_xasprintf("%s/objects", dir);
    objstore_config oc = {.root = p, .no_fsync = true};
    cr_assert_eq(objstore_open("fs", &oc, &os, &err), QV_OK, "%s", err.msg);
    free(p);
    start_coord();
    qv_dnode_options d = {.kv = kv,
                          .log = inner,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1,
                          .retry_min_ms = 100,
                          .retry_max_ms = 400,
                          .coord_timeout_ms = 5000};
    cr_assert_eq(qv_dnode_create(&d, &dn, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_dnode_start(dn, &err), QV_OK, "%s", err.msg);
    qv_qnode_options q = {.kv = kv,
                          .log = qlog,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1};
    cr_assert_eq(qv_qnode_create(&q, &qn, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(qn, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    qv_qnode_destroy(qn);
    qv_dnode_destroy(dn);
    qv_coord_destroy(co);
    wal_close(qlog); /* closes inner */
    objstore_close(os);
    metakv_close(kv);
    qv_arena_release(&arena);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(trimguard, .init = setup, .fini = teardown, .timeout = 90);

#define WAIT_UNTIL(cond, ms, what)                                             \
    do {                                                                       \
        uint64_t end_ = qv_mono_ms(qv_clock_system()) + (ms);                  \
        while (!(cond)) {                                                      \
            cr_assert_lt(qv_mono_ms(qv_clock_system()), end_,                  \
                         "%s: not within %d ms", what, (int)(ms));             \
            qv_sleep_ms(20);                                                   \
        }                                                                      \
    } while (0)

static void call_at(const char *addr, const char *path,
                    const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *d, void *out)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(addr, &ch, &err), QV_OK);
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    cr_assert_eq(qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err),
                 QV_OK, "%s: %s", path, err.msg);
    qv_rpc_channel_close(ch);
}

static void call(const char *m, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *d, void *out)
{
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    call_at(qv_coord_address(co), path, req, d, out);
}

static void call_ok(const char *m, const ProtobufCMessage *req)
{
    Milvus__Proto__Common__Status *st = NULL;
    call(m, req, &milvus__proto__common__status__descriptor, &st);
    cr_assert_eq(st->code, 0, "%s: %s", m, st->reason);
}

static void field(Milvus__Proto__Schema__FieldSchema *f, const char *name,
                  int type)
{
    milvus__proto__schema__field_schema__init(f);
    f->name = (char *)name;
    f->data_type = type;
}

/* Creates collection "c" (one shard) with the schema of qn_helpers.h. */
static Milvus__Proto__Milvus__DescribeCollectionResponse *create(void)
{
    Milvus__Proto__Schema__FieldSchema f[4], *fs[4];
    field(&f[0], "pk", DT(Int64));
    f[0].is_primary_key = 1;
    field(&f[1], "vec", DT(FloatVector));
    field(&f[2], "tag", DT(Int64));
    field(&f[3], "name", DT(VarChar));
    f[3].nullable = 1;
    Milvus__Proto__Common__KeyValuePair dim, len, *dp = &dim, *lp = &len;
    milvus__proto__common__key_value_pair__init(&dim);
    milvus__proto__common__key_value_pair__init(&len);
    dim.key = (char *)"dim";
    dim.value = (char *)"8";
    len.key = (char *)"max_length";
    len.value = (char *)"64";
    f[1].type_params = &dp;
    f[1].n_type_params = 1;
    f[3].type_params = &lp;
    f[3].n_type_params = 1;
    for (int i = 0; i < 4; i++)
        fs[i] = &f[i];
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = (char *)"c";
    s.fields = fs;
    s.n_fields = 4;
    uint8_t buf[1024];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)"c";
    rq.shards_num = 1;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    call_ok("CreateCollection", &rq.base);
    Milvus__Proto__Milvus__DescribeCollectionRequest d =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    d.collection_name = (char *)"c";
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    call("DescribeCollection", &d.base,
         &milvus__proto__milvus__describe_collection_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    return r;
}

static qv_ts last_ts; /* of the last insert */

/* Assigns n rows and appends them (pks first..first+n) to the pchannel as
 * the proxy would. */
static void insert(const Milvus__Proto__Milvus__DescribeCollectionResponse *d,
                   int64_t first, size_t n)
{
    Quiver__Internal__AssignSegmentsRequest a =
        QUIVER__INTERNAL__ASSIGN_SEGMENTS_REQUEST__INIT;
    uint32_t sh = 0;
    uint64_t rows = n;
    a.partition_name = (char *)"";
    a.collection_id = d->collectionid;
    a.shards = &sh;
    a.n_shards = 1;
    a.rows = &rows;
    a.n_rows = 1;
    a.count = 1;
    Quiver__Internal__AssignSegmentsResponse *ar = NULL;
    call("AssignSegments", &a.base,
         &quiver__internal__assign_segments_response__descriptor, &ar);
    cr_assert_eq(ar->status->code, 0, "%s", ar->status->reason);
    int64_t *pks = QV_NEW_ARRAY(int64_t, n);
    for (size_t i = 0; i < n; i++)
        pks[i] = first + (int64_t)i;
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ar->timestamp, ar->segment_ids[0],
                   ar->partition_id);
    x.m.collection_id = d->collectionid;
    x.m.vchannel = d->virtual_channel_names[0];
    x.m.shard = 0;
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(qv_msg_encode(&x.m, &b, &err), QV_OK, "%s", err.msg);
    wal_record r = {b.data, b.len};
    cr_assert_eq(
        wal_append(inner, d->physical_channel_names[0], &r, 1, NULL, &err),
        QV_OK, "%s", err.msg);
    qv_buf_release(&b);
    qn_insert_free(&x);
    free(pks);
    last_ts = ar->timestamp;
}

static bool flushed(const int64_t *ids, size_t n)
{
    Milvus__Proto__Milvus__GetFlushStateRequest rq =
        MILVUS__PROTO__MILVUS__GET_FLUSH_STATE_REQUEST__INIT;
    rq.segmentids = (int64_t *)ids;
    rq.n_segmentids = n;
    Milvus__Proto__Milvus__GetFlushStateResponse *r = NULL;
    call("GetFlushState", &rq.base,
         &milvus__proto__milvus__get_flush_state_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    return r->flushed;
}

/* Flushes "c" and waits until its segments are recorded. */
static void flush_wait(void)
{
    Milvus__Proto__Milvus__FlushRequest rq =
        MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    char *names[1] = {(char *)"c"};
    rq.collection_names = names;
    rq.n_collection_names = 1;
    Milvus__Proto__Milvus__FlushResponse *r = NULL;
    call("Flush", &rq.base, &milvus__proto__milvus__flush_response__descriptor,
         &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_coll_segids, 1);
    WAIT_UNTIL(flushed(r->coll_segids[0]->value->data,
                       r->coll_segids[0]->value->n_data),
               10000, "segments flushed");
}

/* Writes many small files' worth of rows (~20 KiB per insert over 16 KiB
 * files), flushed: the datanode's checkpoint moves well past them. */
static void
write_a_lot(const Milvus__Proto__Milvus__DescribeCollectionResponse *d,
            int64_t first)
{
    for (int i = 0; i < 12; i++)
        insert(d, first + i * 200, 200);
    flush_wait();
}

static void load(void)
{
    Milvus__Proto__Milvus__LoadCollectionRequest l =
        MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = (char *)"c";
    call_ok("LoadCollection", &l.base);
    WAIT_UNTIL(qv_qnode_channels(qn) == 1, 5000, "vchannel watched");
}

static const char *qn_addr(void)
{
    static char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_qnode_port(qn));
    return addr;
}

/* What the query node answers for the vchannel: a SyncSegments with
 * version 0 changes nothing (any target it has is newer). */
static Quiver__Internal__SyncSegmentsResponse *
probe(const Milvus__Proto__Milvus__DescribeCollectionResponse *d)
{
    Quiver__Internal__SyncSegmentsRequest rq =
        QUIVER__INTERNAL__SYNC_SEGMENTS_REQUEST__INIT;
    rq.collection_id = d->collectionid;
    rq.vchannel = d->virtual_channel_names[0];
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    call_at(qn_addr(), QN "SyncSegments", &rq.base,
            &quiver__internal__sync_segments_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    return r;
}

/* The rows the query node answers at the last insert's timestamp. */
static uint64_t
count(const Milvus__Proto__Milvus__DescribeCollectionResponse *d)
{
    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = d->collectionid;
    qr.vchannel = d->virtual_channel_names[0];
    qr.guarantee_ts = last_ts;
    qr.timeout_ms = 10000;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *r = NULL;
    call_at(qn_addr(), QN "Query", &qr.base,
            &quiver__internal__shard_query_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    return r->count;
}

/* count(), or -1 while the query node cannot answer. */
static int64_t
count_try(const Milvus__Proto__Milvus__DescribeCollectionResponse *d)
{
    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = d->collectionid;
    qr.vchannel = d->virtual_channel_names[0];
    qr.guarantee_ts = last_ts;
    qr.timeout_ms = 1000;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *r = NULL;
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(qn_addr(), &ch, &err), QV_OK);
    qv_rpc_call_opts o = {.timeout_ms = 5000};
    qv_code rc =
        qv_rpc_unary(ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, &o, &err);
    qv_rpc_channel_close(ch);
    return rc || r->status->code ? -1 : (int64_t)r->count;
}

static wal_pos earliest(const char *pch)
{
    wal_pos e = 0, end = 0;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(inner, pch, &e, &end, &err), QV_OK, "%s", err.msg);
    return e;
}

static wal_pos checkpoint(const char *vch)
{
    qv_checkpoint *k = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_segmeta_get_checkpoint(kv, "quiver/", vch, &arena, &k, &err), QV_OK,
        "%s", err.msg);
    cr_assert_not_null(k);
    return k->position;
}

/* Stalls (true) or resumes the query node's log reads. */
static void stall(bool on)
{
    wal_fault_plan p = {0};
    if (on)
        p = (wal_fault_plan){.ops = WAL_FAULT_READER_NEXT,
                             .fail_nth = 1,
                             .fail_count = UINT64_MAX};
    qv_err err = {0};
    cr_assert_eq(wal_fault_set(qlog, &p, &err), QV_OK, "%s", err.msg);
}

/* Loads "c", writes and flushes 50 rows, waits until the query node has
 * consumed them and reports it; then stalls it and returns the position
 * it reports (stable from then on). */
static wal_pos
loaded_then_stalled(const Milvus__Proto__Milvus__DescribeCollectionResponse *d)
{
    load();
    insert(d, 1, 50);
    flush_wait();
    cr_assert_eq(count(d), 50);
    const char *pch = d->physical_channel_names[0];
    wal_pos before = checkpoint(d->virtual_channel_names[0]);
    Quiver__Internal__SyncSegmentsResponse *r = probe(d);
    cr_assert(r->consumed_known, "a running delegator knows its position");
    /* it consumed the flush (the datanode's checkpoint is past it) */
    WAIT_UNTIL(probe(d)->consumed_position >= before, 5000,
               "query node consumed the flush");
    stall(true);
    qv_sleep_ms(200); /* a read in flight finishes */
    wal_pos p = probe(d)->consumed_position;
    qv_sleep_ms(300);
    cr_assert_eq(probe(d)->consumed_position, p, "the stalled node stands");
    wal_pos e = 0, end = 0;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(inner, pch, &e, &end, &err), QV_OK);
    cr_assert_leq(p, end);
    return p;
}

Test(trimguard, the_query_node_reports_the_position_it_consumed)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    load();
    const char *pch = d->physical_channel_names[0];
    /* time ticks every 20 ms: the position follows the log's end */
    wal_pos end0 = 0, e = 0;
    qv_err err = {0};
    cr_assert_eq(wal_bounds(inner, pch, &e, &end0, &err), QV_OK);
    WAIT_UNTIL(probe(d)->consumed_known && probe(d)->consumed_position >= end0,
               5000, "position reaches the log's end");
    wal_pos p0 = probe(d)->consumed_position;
    insert(d, 1, 30);
    cr_assert_eq(count(d), 30);
    wal_pos p1 = probe(d)->consumed_position;
    cr_assert_gt(p1, p0, "the insert and a tick after it were consumed");
    wal_pos end1 = 0;
    cr_assert_eq(wal_bounds(inner, pch, &e, &end1, &err), QV_OK);
    cr_assert_leq(p1, end1, "never past the log's end");
    /* stalled: it stands while the log grows */
    stall(true);
    qv_sleep_ms(200);
    wal_pos ps = probe(d)->consumed_position;
    insert(d, 31, 10);
    qv_sleep_ms(300);
    cr_assert_eq(probe(d)->consumed_position, ps);
    cr_assert_eq(wal_bounds(inner, pch, &e, &end1, &err), QV_OK);
    cr_assert_gt(end1, ps + 5, "the log moved on (ticks, the insert)");
    stall(false);
    cr_assert_eq(count(d), 40);
    cr_assert_gt(probe(d)->consumed_position, ps);
}

Test(trimguard, a_stalled_query_node_holds_the_trim_back_until_it_catches_up)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    const char *pch = d->physical_channel_names[0];
    wal_pos p = loaded_then_stalled(d);
    write_a_lot(d, 1000);
    wal_pos k = checkpoint(d->virtual_channel_names[0]);
    cr_assert_gt(k, p + 12, "the datanode moved far past the query node");
    /* trims run every 200 ms: several of them pass */
    qv_sleep_ms(1500);
    cr_assert_leq(earliest(pch), p, "trimmed past the stalled query node");
    /* caught up: the next report lets the trim move past p */
    stall(false);
    cr_assert_eq(count(d), 50 + 12 * 200, "every row, nothing lost");
    WAIT_UNTIL(earliest(pch) > p, 10000, "trimmed past the old position");
    cr_assert_leq(earliest(pch), k);
    insert(d, 5000, 10);
    cr_assert_eq(count(d), 50 + 12 * 200 + 10, "still reads the log");
}

Test(trimguard, a_released_collection_stops_holding_the_trim)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    const char *pch = d->physical_channel_names[0];
    wal_pos p = loaded_then_stalled(d);
    write_a_lot(d, 1000);
    qv_sleep_ms(1000);
    cr_assert_leq(earliest(pch), p);
    Milvus__Proto__Milvus__ReleaseCollectionRequest rr =
        MILVUS__PROTO__MILVUS__RELEASE_COLLECTION_REQUEST__INIT;
    rr.collection_name = (char *)"c";
    call_ok("ReleaseCollection", &rr.base);
    WAIT_UNTIL(qv_qnode_channels(qn) == 0, 5000, "vchannel released");
    WAIT_UNTIL(earliest(pch) > p, 10000, "trimmed once released");
    cr_assert_leq(earliest(pch), checkpoint(d->virtual_channel_names[0]));
    stall(false);
}

Test(trimguard, an_unreported_live_query_node_blocks_the_trim_until_it_goes)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    const char *pch = d->physical_channel_names[0];
    load();
    insert(d, 1, 50);
    flush_wait();
    cr_assert_eq(count(d), 50);
    /* the collection's recorded query node */
    char nk[128];
    snprintf(nk, sizeof nk, "quiver/meta/loadnode/%lld",
             (long long)d->collectionid);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err err = {0};
    cr_assert_eq(metakv_get(kv, nk, strlen(nk), &r, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(r.n, 1);
    char *sess = qv_xstrndup((const char *)r.kvs[0].value, r.kvs[0].value_len);
    metakv_kvs_release(&r);
    /* a new coord, and that node hangs: its session stays (a record
     * without lease here) but nothing answers at its address */
    qv_coord_destroy(co);
    co = NULL;
    qv_qnode_destroy(qn);
    qn = NULL;
    const char *hung = "{\"address\":\"127.0.0.1:1\"}";
    cr_assert_eq(
        metakv_put(kv, sess, strlen(sess), hung, strlen(hung), 0, NULL, &err),
        QV_OK, "%s", err.msg);
    start_coord();
    wal_pos e0 = earliest(pch);
    write_a_lot(d, 1000);
    wal_pos k = checkpoint(d->virtual_channel_names[0]);
    qv_sleep_ms(1500);
    cr_assert_eq(earliest(pch), e0, "trimmed while a live node is unheard");
    /* the node's session goes: it no longer counts */
    cr_assert_eq(metakv_delete(kv, sess, strlen(sess), false, NULL, &err),
                 QV_OK, "%s", err.msg);
    WAIT_UNTIL(earliest(pch) > e0, 10000, "trimmed once the node is gone");
    cr_assert_leq(earliest(pch), k);
    free(sess);
    /* teardown needs a query node */
    qv_qnode_options q = {.kv = kv,
                          .log = qlog,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1};
    cr_assert_eq(qv_qnode_create(&q, &qn, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_qnode_start(qn, &err), QV_OK, "%s", err.msg);
}

Test(trimguard, a_query_node_that_lost_records_restarts_from_the_checkpoint)
{
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create();
    const char *pch = d->physical_channel_names[0];
    wal_pos p = loaded_then_stalled(d);
    write_a_lot(d, 1000);
    insert(d, 9000, 20); /* growing: only in the log */
    wal_pos k = checkpoint(d->virtual_channel_names[0]);
    /* records the node needs go anyway (a trim by hand, retention) */
    qv_err err = {0};
    cr_assert_eq(wal_trim(inner, pch, k, &err), QV_OK, "%s", err.msg);
    cr_assert_gt(earliest(pch), p, "the node's next records are gone");
    stall(false);
    /* its delegator stops with QV_E_COMPACTED; the node says so and the
     * coord restarts the collection there from the checkpoint: every
     * row again, sealed ones from the segments, the rest from the log */
    WAIT_UNTIL(count_try(d) == 50 + 12 * 200 + 20, 20000,
               "served again after the restart");
    Quiver__Internal__SyncSegmentsResponse *r = probe(d);
    cr_assert(!r->consumer_lost);
    cr_assert(r->consumed_known);
    cr_assert_geq(r->consumed_position, k, "restarted at the checkpoint");
    insert(d, 9500, 5);
    cr_assert_eq(count(d), 50 + 12 * 200 + 25);
}
