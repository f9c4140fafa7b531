/* Tests of the datanode process (datanode/server.h) with a real coord over
 * gRPC, on the LMDB meta KV, a local write log (behind the fault
 * decorator) and a directory object store: vchannels are assigned to live
 * datanodes, sealed segments are written and recorded (GetFlushState), a
 * failing channel reports its error and resumes from its checkpoint, the
 * channels of a datanode that goes away move to another one, a dropped
 * collection's channels are released, and the log is trimmed below the
 * checkpoints. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "coord/segmeta.h"
#include "datanode/server.h"
#include "internal/coord.pb-c.h"
#include "internal/datanode.pb-c.h"
#include "milvus/milvus.pb-c.h"
#include "tests/lib/proc.h"

#define SVC "/quiver.internal.CoordService/"
#define DN  "/quiver.internal.DataNodeService/"
/* CollectionSchema's INIT macro sets the deprecated autoid field. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char *dir;
static metakv *kv;
static wal *inner, *log_; /* log_ = the fault decorator over inner */
static objstore *os;
static qv_coord *co;
static qv_arena arena;

static uint64_t max_bytes; /* dataCoord.segment.maxSize; 0 = default */

/* Seals only on Flush unless a test asks for a policy. */
static void start_coord_with(uint64_t idle_ms, uint64_t max_rows)
{
    qv_coord_options o = {.kv = kv,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1,
                          .log = log_,
                          .tick_ms = 20,
                          .pchannels = 2,
                          .seg_idle_ms = idle_ms,
                          .seg_max_age_ms = UINT64_MAX,
                          .seg_max_rows = max_rows,
                          .seg_max_bytes = max_bytes,
                          .wal_trim_interval_ms = 200};
    qv_err err = {0};
    cr_assert_eq(qv_coord_create(&o, &co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(co, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(co, 10000, &err), QV_OK, "%s", err.msg);
}

static void start_coord(void)
{
    start_coord_with(UINT64_MAX, 0);
}

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-dnserver-", &dir, NULL), QV_OK);
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
    cr_assert_eq(wal_open("fault", &fo, &log_, &err), QV_OK, "%s", err.msg);
    p = qv_xasprintf("%s/objects", dir);
    objstore_config oc = {.root = p, .no_fsync = true};
    cr_assert_eq(objstore_open("fs", &oc, &os, &err), QV_OK, "%s", err.msg);
    free(p);
    start_coord();
}

static void teardown(void)
{
    qv_coord_destroy(co);
    wal_close(log_); /* closes inner */
    objstore_close(os);
    metakv_close(kv);
    qv_arena_release(&arena);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(dnserver, .init = setup, .fini = teardown, .timeout = 90);

static qv_dnode *start_dn(void)
{
    qv_dnode_options o = {.kv = kv,
                          .log = log_,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 1,
                          .retry_min_ms = 100,
                          .retry_max_ms = 400,
                          .coord_timeout_ms = 5000};
    qv_dnode *d;
    qv_err err = {0};
    cr_assert_eq(qv_dnode_create(&o, &d, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_dnode_start(d, &err), QV_OK, "%s", err.msg);
    return d;
}

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

static void field(Milvus__Proto__Schema__FieldSchema *f, const char *name,
                  int type)
{
    milvus__proto__schema__field_schema__init(f);
    f->name = (char *)name;
    f->data_type = type;
}

/* Creates collection `name` with the schema of qn_helpers.h. */
static Milvus__Proto__Milvus__DescribeCollectionResponse *
create(const char *name, int shards)
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
    s.name = (char *)name;
    s.fields = fs;
    s.n_fields = 4;
    uint8_t buf[1024];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.shards_num = shards;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    Milvus__Proto__Common__Status *st = NULL;
    call("CreateCollection", &rq.base,
         &milvus__proto__common__status__descriptor, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    Milvus__Proto__Milvus__DescribeCollectionRequest d =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    d.collection_name = (char *)name;
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    call("DescribeCollection", &d.base,
         &milvus__proto__milvus__describe_collection_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_virtual_channel_names, (size_t)shards);
    for (size_t i = 0; i < r->schema->n_fields; i++)
        cr_assert_eq(r->schema->fields[i]->fieldid, 100 + (int64_t)i);
    return r;
}

/* Assigns n rows on shard sh and appends them (pks first..first+n) to
 * the shard's pchannel as the proxy would; returns the segment. */
static int64_t
insert_part(const Milvus__Proto__Milvus__DescribeCollectionResponse *d,
            const char *part, uint32_t sh, int64_t first, size_t n)
{
    Quiver__Internal__AssignSegmentsRequest a =
        QUIVER__INTERNAL__ASSIGN_SEGMENTS_REQUEST__INIT;
    a.partition_name = (char *)part;
    uint64_t rows = n;
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
    x.m.vchannel = d->virtual_channel_names[sh];
    x.m.shard = sh;
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(qv_msg_encode(&x.m, &b, &err), QV_OK, "%s", err.msg);
    wal_record r = {b.data, b.len};
    cr_assert_eq(
        wal_append(log_, d->physical_channel_names[sh], &r, 1, NULL, &err),
        QV_OK, "%s", err.msg);
    qv_buf_release(&b);
    qn_insert_free(&x);
    free(pks);
    return ar->segment_ids[0];
}

static int64_t
insert(const Milvus__Proto__Milvus__DescribeCollectionResponse *d, uint32_t sh,
       int64_t first, size_t n)
{
    return insert_part(d, "", sh, first, n);
}

static uint64_t last_flush_ts; /* of the last flush() */

/* Flushes the collection; returns the sealed segment ids (arena). */
static size_t flush(const char *name, int64_t **ids)
{
    Milvus__Proto__Milvus__FlushRequest rq =
        MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    char *names[1] = {(char *)name};
    rq.collection_names = names;
    rq.n_collection_names = 1;
    Milvus__Proto__Milvus__FlushResponse *r = NULL;
    call("Flush", &rq.base, &milvus__proto__milvus__flush_response__descriptor,
         &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_coll_segids, 1);
    *ids = r->coll_segids[0]->value->data;
    cr_assert_eq(r->n_coll_flush_ts, 1);
    last_flush_ts = r->coll_flush_ts[0]->value;
    return r->coll_segids[0]->value->n_data;
}

/* GetFlushState by collection and flush timestamp (no segment ids). */
static bool flushed_at(const char *name, uint64_t ts)
{
    Milvus__Proto__Milvus__GetFlushStateRequest rq =
        MILVUS__PROTO__MILVUS__GET_FLUSH_STATE_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.flush_ts = ts;
    Milvus__Proto__Milvus__GetFlushStateResponse *r = NULL;
    call("GetFlushState", &rq.base,
         &milvus__proto__milvus__get_flush_state_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    return r->flushed;
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

#define WAIT_UNTIL(cond, ms, what)                                             \
    do {                                                                       \
        uint64_t end_ = qv_mono_ms(qv_clock_system()) + (ms);                  \
        while (!(cond)) {                                                      \
            cr_assert_lt(qv_mono_ms(qv_clock_system()), end_,                  \
                         "%s: not within %d ms", what, (int)(ms));             \
            qv_sleep_ms(20);                                                   \
        }                                                                      \
    } while (0)

static Quiver__Internal__GetDataChannelStatesResponse *states(qv_dnode *d)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_dnode_port(d));
    Quiver__Internal__GetDataChannelStatesRequest rq =
        QUIVER__INTERNAL__GET_DATA_CHANNEL_STATES_REQUEST__INIT;
    Quiver__Internal__GetDataChannelStatesResponse *r = NULL;
    call_at(addr, DN "GetDataChannelStates", &rq.base,
            &quiver__internal__get_data_channel_states_response__descriptor,
            &r);
    cr_assert_eq(r->status->code, 0);
    return r;
}

/* True when a channel reports an error containing needle ("" = any). */
static bool has_error(qv_dnode *d, const char *needle)
{
    Quiver__Internal__GetDataChannelStatesResponse *r = states(d);
    for (size_t i = 0; i < r->n_channels; i++)
        if (r->channels[i]->error[0] && strstr(r->channels[i]->error, needle))
            return true;
    return false;
}

Test(dnserver, sealed_segments_are_written_and_recorded)
{
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    int64_t seg = insert(d, 0, 1, 50);
    cr_assert_eq(insert(d, 0, 51, 30), seg);
    int64_t *ids;
    size_t n = flush("c", &ids);
    cr_assert_eq(n, 1);
    cr_assert_eq(ids[0], seg);
    WAIT_UNTIL(flushed(ids, n), 10000, "segment flushed");
    int64_t bogus[2] = {seg, 999999};
    cr_assert(!flushed(bogus, 2));
    /* by flush timestamp: true once the checkpoint's tick passed it */
    cr_assert_gt(last_flush_ts, 0);
    WAIT_UNTIL(flushed_at("c", last_flush_ts), 10000, "flush_ts reached");
    cr_assert(!flushed_at("c", last_flush_ts + (1ull << 40)));
    /* a Flush that seals nothing is reached too */
    cr_assert_eq(flush("c", &ids), 0);
    WAIT_UNTIL(flushed_at("c", last_flush_ts), 10000, "empty flush reached");

    qv_seg_info *s = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_get_segment(kv, "quiver/", d->collectionid, seg,
                                        &arena, &s, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(s->rows, 80);
    cr_assert_eq(s->state, QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED);
    cr_assert_eq(s->level, QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1);
    cr_assert_str_eq(s->vchannel, d->virtual_channel_names[0]);
    cr_assert_gt(s->log_id, 0);
    cr_assert_gt(s->flushed_ts, 0);
    cr_assert_eq(s->n_field_ids, 4);
    cr_assert_gt(s->bytes, 80 * 8 * sizeof(float));
    cr_assert_gt(s->min_ts, 0);
    cr_assert_geq(s->max_ts, s->min_ts);
    /* the PK column object is there and holds the 80 rows */
    char *key = qv_seglog_key(QV_SEGLOG_INSERT, d->collectionid,
                              s->partition_id, seg, QN_PK, s->log_id);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(os, key, &b, &err), QV_OK, "%s: %s", key,
                 err.msg);
    cr_assert_gt(b.len, 128);
    cr_assert_eq(memcmp(b.data, "QVCL", 4), 0);
    uint64_t rows;
    memcpy(&rows, b.data + 32, 8);
    cr_assert_eq(rows, 80);
    qv_buf_release(&b);
    free(key);
    /* the checkpoint moved past the flush, and the datanode reports it */
    qv_checkpoint *k = NULL;
    cr_assert_eq(qv_segmeta_get_checkpoint(kv, "quiver/",
                                           d->virtual_channel_names[0], &arena,
                                           &k, &err),
                 QV_OK);
    cr_assert_not_null(k);
    cr_assert_gt(k->position, 0);
    Quiver__Internal__GetDataChannelStatesResponse *st = states(dn);
    cr_assert_eq(st->n_channels, 1);
    cr_assert_str_eq(st->channels[0]->error, "");
    cr_assert_eq(st->channels[0]->checkpoint->position, k->position);
    cr_assert_eq(st->channels[0]->buffered_rows, 0);
    qv_dnode_destroy(dn);
}

Test(dnserver, a_failing_channel_reports_and_resumes_from_its_checkpoint)
{
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    int64_t seg = insert(d, 0, 1, 40);
    WAIT_UNTIL(states(dn)->channels[0]->buffered_rows == 40, 5000,
               "rows buffered");
    /* reads fail for a while: the channel stops, says why, and restarts
     * from its checkpoint once the log reads again */
    wal_fault_plan plan = {
        .ops = WAL_FAULT_READER_NEXT, .fail_nth = 1, .fail_count = 4};
    qv_err err = {0};
    cr_assert_eq(wal_fault_set(log_, &plan, &err), QV_OK);
    WAIT_UNTIL(has_error(dn, "injected"), 5000, "error reported");
    cr_assert_eq(insert(d, 0, 41, 10), seg);
    WAIT_UNTIL(!has_error(dn, "injected"), 10000, "channel recovered");
    uint64_t calls, failures;
    wal_fault_counts(log_, &calls, &failures);
    cr_assert_eq(failures, 4);
    int64_t *ids;
    size_t n = flush("c", &ids);
    WAIT_UNTIL(flushed(ids, n), 10000, "segment flushed");
    qv_seg_info *s = NULL;
    cr_assert_eq(qv_segmeta_get_segment(kv, "quiver/", d->collectionid, seg,
                                        &arena, &s, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(s->rows, 50, "replayed rows counted once");
    qv_dnode_destroy(dn);
}

Test(dnserver, channels_move_when_a_datanode_goes_and_are_released_on_drop)
{
    qv_dnode *a = start_dn(), *b = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 2);
    WAIT_UNTIL(qv_dnode_channels(a) + qv_dnode_channels(b) == 2, 5000,
               "vchannels assigned");
    cr_assert_eq(qv_dnode_channels(a), 1, "least loaded placement");
    cr_assert_eq(qv_dnode_channels(b), 1);
    int64_t s0 = insert(d, 0, 1, 20), s1 = insert(d, 1, 21, 20);
    /* a leaves (its session is revoked): b takes both channels and
     * resumes a's from its checkpoint */
    qv_dnode_destroy(a);
    WAIT_UNTIL(qv_dnode_channels(b) == 2, 5000, "vchannel moved");
    int64_t *ids;
    size_t n = flush("c", &ids);
    cr_assert_eq(n, 2);
    cr_assert(ids[0] == s0 || ids[1] == s0);
    cr_assert(ids[0] == s1 || ids[1] == s1);
    WAIT_UNTIL(flushed(ids, n), 10000, "segments flushed");
    /* drop: b's channels are released, their records removed */
    Milvus__Proto__Milvus__DropCollectionRequest dr =
        MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
    dr.collection_name = (char *)"c";
    Milvus__Proto__Common__Status *st = NULL;
    call("DropCollection", &dr.base, &milvus__proto__common__status__descriptor,
         &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    WAIT_UNTIL(qv_dnode_channels(b) == 0, 5000, "channels released");
    char prefix[128];
    snprintf(prefix, sizeof prefix, "quiver/meta/dnchan/%lld/",
             (long long)d->collectionid);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err err = {0};
    WAIT_UNTIL(metakv_range(kv, prefix, strlen(prefix), NULL, &r, &err) ==
                       QV_OK &&
                   (metakv_kvs_release(&r), r.n == 0),
               5000, "assignments removed");
    qv_dnode_destroy(b);
}

Test(dnserver, the_log_is_trimmed_below_the_checkpoints)
{
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    const char *pch = d->physical_channel_names[0];
    /* ~20 KiB per insert: several 16 KiB segment files */
    for (int i = 0; i < 12; i++)
        (void)insert(d, 0, 1 + i * 200, 200);
    int64_t *ids;
    size_t n = flush("c", &ids);
    WAIT_UNTIL(flushed(ids, n), 10000, "segment flushed");
    qv_checkpoint *k = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_get_checkpoint(kv, "quiver/",
                                           d->virtual_channel_names[0], &arena,
                                           &k, &err),
                 QV_OK);
    cr_assert_not_null(k);
    wal_pos earliest = 0, end = 0;
    WAIT_UNTIL(wal_bounds(inner, pch, &earliest, &end, &err) == QV_OK &&
                   earliest > 0,
               5000, "log trimmed");
    cr_assert_leq(earliest, k->position, "trimmed past the checkpoint");
    /* a consumer at the checkpoint still reads */
    wal_reader *r;
    cr_assert_eq(wal_reader_open(inner, pch, k->position, &r, &err), QV_OK,
                 "%s", err.msg);
    wal_reader_close(r);
    qv_dnode_destroy(dn);
}

Test(dnserver, idle_and_rows_policies_seal_without_a_flush)
{
    qv_coord_destroy(co);
    start_coord_with(300, 100);
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    /* rows: 60 + 60 > 100 seals the first segment and opens another */
    int64_t s1 = insert(d, 0, 1, 60);
    int64_t s2 = insert(d, 0, 61, 60);
    cr_assert_neq(s1, s2);
    WAIT_UNTIL(flushed(&s1, 1), 10000, "segment sealed by rows flushed");
    /* idle: no rows for 300 ms seals the second one */
    WAIT_UNTIL(flushed(&s2, 1), 10000, "segment sealed when idle flushed");
    qv_seg_info *s = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_get_segment(kv, "quiver/", d->collectionid, s2,
                                        &arena, &s, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(s->rows, 60);
    qv_dnode_destroy(dn);
}

Test(dnserver, the_size_policy_lowers_the_row_limit)
{
    qv_coord_destroy(co);
    /* Rows alone would allow 1000; 960 bytes hold a few rows of this schema
     * (row id, ts, pk, vector, tag and 128 bytes for the name), not 60. */
    max_bytes = 60 * 16;
    start_coord_with(UINT64_MAX, 1000);
    max_bytes = 0;
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    int64_t s1 = insert(d, 0, 1, 30);
    int64_t s2 = insert(d, 0, 31, 30);
    cr_assert_neq(s1, s2, "the size limit seals the first segment");
    WAIT_UNTIL(flushed(&s1, 1), 10000, "segment sealed by size flushed");
    qv_dnode_destroy(dn);
}

Test(dnserver, segments_growing_when_the_coord_restarts_are_still_flushed)
{
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    int64_t seg = insert(d, 0, 1, 30);
    /* a new coord takes over: it knows the growing segment from meta KV */
    qv_coord_destroy(co);
    start_coord();
    int64_t *ids;
    size_t n = flush("c", &ids);
    cr_assert_eq(n, 1, "the growing segment was forgotten");
    cr_assert_eq(ids[0], seg);
    WAIT_UNTIL(flushed(ids, n), 10000, "segment flushed");
    qv_seg_info *s = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_get_segment(kv, "quiver/", d->collectionid, seg,
                                        &arena, &s, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(s->rows, 30);
    /* sealed: its record is gone, so a further restart does not bring it
     * back */
    qv_coord_destroy(co);
    start_coord();
    cr_assert_eq(flush("c", &ids), 0);
    qv_dnode_destroy(dn);
}

Test(dnserver, a_restart_inside_a_flushed_segments_span_flushes_nothing_twice)
{
    qv_coord_destroy(co);
    start_coord_with(UINT64_MAX, 100);
    qv_dnode *dn = start_dn();
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = create("c", 1);
    Milvus__Proto__Milvus__CreatePartitionRequest cp =
        MILVUS__PROTO__MILVUS__CREATE_PARTITION_REQUEST__INIT;
    cp.collection_name = (char *)"c";
    cp.partition_name = (char *)"p2";
    Milvus__Proto__Common__Status *st = NULL;
    call("CreatePartition", &cp.base,
         &milvus__proto__common__status__descriptor, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel assigned");
    /* A and B grow interleaved; A is sealed by rows, B stays buffered, so
     * the checkpoint lies inside A's span */
    int64_t a = insert(d, 0, 1, 40);
    int64_t b = insert_part(d, "p2", 0, 1001, 40);
    cr_assert_eq(insert(d, 0, 41, 40), a);
    int64_t a2 = insert(d, 0, 81, 40);
    cr_assert_neq(a2, a);
    WAIT_UNTIL(flushed(&a, 1), 10000, "A flushed");
    /* another datanode resumes from the checkpoint */
    qv_dnode_destroy(dn);
    dn = start_dn();
    WAIT_UNTIL(qv_dnode_channels(dn) == 1, 5000, "vchannel reassigned");
    int64_t *ids;
    size_t n = flush("c", &ids);
    cr_assert_eq(n, 2);
    WAIT_UNTIL(flushed(ids, n), 10000, "B and A2 flushed");
    cr_assert(!has_error(dn, ""), "a channel failed");
    qv_seg_info **v;
    size_t nv;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_list_segments(kv, "quiver/", d->collectionid, NULL,
                                          &arena, &v, &nv, &err),
                 QV_OK);
    uint64_t rows = 0;
    size_t l1 = 0;
    for (size_t i = 0; i < nv; i++) {
        if (v[i]->level != QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1)
            continue;
        l1++;
        rows += v[i]->rows;
        if (v[i]->id == a)
            cr_assert_eq(v[i]->rows, 80);
        if (v[i]->id == b)
            cr_assert_eq(v[i]->rows, 40);
    }
    cr_assert_eq(l1, 3);
    cr_assert_eq(rows, 160, "every row once");
    qv_dnode_destroy(dn);
}
