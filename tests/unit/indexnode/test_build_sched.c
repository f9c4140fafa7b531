/* The index API and build scheduling end to end in one process: a real
 * coord (LMDB meta KV, local write log) and real indexnodes over gRPC,
 * segment records written into meta KV and column files into an fs object
 * store the way a datanode leaves them.  Covers CreateIndex / DescribeIndex
 * / GetIndexState / GetIndexBuildProgress / DropIndex / AlterIndex and
 * their errors, builds created only for segments over the threshold,
 * reissue after a node is gone, and permanent failures. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/metrics/metrics.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "coord/segmeta.h"
#include "index/index.h"
#include "indexnode/indexnode.h"
#include "internal/coord.pb-c.h"
#include "ix_helpers.h"
#include "milvus/milvus.pb-c.h"
#include "tests/lib/proc.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define SVC    "/quiver.internal.CoordService/"
#define DT(x)  MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define ROOT   "quiver/"
#define MINROW 100
#define DIM    16

static char *dir;
static metakv *kv;
static objstore *os;
static wal *log_;
static qv_arena arena;
static qv_coord *coord;
static int64_t coll_id, part_id;

static qv_code call(const char *m, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *d, void *out)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(qv_coord_address(coord), &ch, &err),
                 QV_OK);
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    qv_code rc = qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err);
    qv_rpc_channel_close(ch);
    cr_assert_eq(rc, QV_OK, "%s: %s", m, err.msg);
    return rc;
}

#define STATUS &milvus__proto__common__status__descriptor

static Milvus__Proto__Schema__FieldSchema *field(int64_t id, const char *name,
                                                 int type, bool vec)
{
    Milvus__Proto__Schema__FieldSchema *f = qv_arena_alloc(&arena, sizeof *f);
    milvus__proto__schema__field_schema__init(f);
    f->fieldid = id;
    f->name = (char *)name;
    f->data_type = type;
    if (vec) {
        Milvus__Proto__Common__KeyValuePair *p =
            qv_arena_alloc(&arena, sizeof *p);
        milvus__proto__common__key_value_pair__init(p);
        p->key = "dim";
        p->value = "16";
        f->type_params = qv_arena_alloc(&arena, sizeof(void *));
        f->type_params[0] = p;
        f->n_type_params = 1;
    }
    return f;
}

static void create_collection(void)
{
    Milvus__Proto__Schema__FieldSchema *fs[] = {
        field(0, "id", DT(Int64), false),
        field(0, "vec", DT(FloatVector), true),
        field(0, "age", DT(Int64), false)};
    fs[0]->is_primary_key = 1;
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = "c1";
    s.fields = fs;
    s.n_fields = 3;
    uint8_t buf[1024];
    Milvus__Proto__Milvus__CreateCollectionRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = "c1";
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    Milvus__Proto__Common__Status *st;
    call("CreateCollection", &rq.base, STATUS, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    Milvus__Proto__Milvus__ShowPartitionsRequest sp =
        MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
    sp.collection_name = "c1";
    Milvus__Proto__Milvus__ShowPartitionsResponse *r;
    call("ShowPartitions", &sp.base,
         &milvus__proto__milvus__show_partitions_response__descriptor, &r);
    cr_assert_eq(r->n_partitionids, 1);
    part_id = r->partitionids[0];
    Milvus__Proto__Milvus__DescribeCollectionRequest dq =
        MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    dq.collection_name = "c1";
    Milvus__Proto__Milvus__DescribeCollectionResponse *d;
    call("DescribeCollection", &dq.base,
         &milvus__proto__milvus__describe_collection_response__descriptor, &d);
    coll_id = d->collectionid;
}

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-ixsched-", &dir, NULL), QV_OK);
    qv_arena_init(&arena, 0);
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    os = ixh_open_fs(dir);
    char *wd = qv_xasprintf("%s/wal", dir);
    wal_options wo = {.dir = wd, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &wo, &log_, &err), QV_OK, "%s", err.msg);
    free(wd);
    qv_coord_options o = {.kv = kv,
                          .host = "127.0.0.1",
                          .session_ttl_s = 2,
                          .log = log_,
                          .pchannels = 2,
                          .index_min_rows = MINROW};
    cr_assert_eq(qv_coord_create(&o, &coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(coord, 20000, &err), QV_OK);
    create_collection();
}

static void teardown(void)
{
    qv_coord_destroy(coord);
    wal_close(log_);
    objstore_close(os);
    metakv_close(kv);
    qv_arena_release(&arena);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 120);

static qv_inode *start_node(uint32_t slots)
{
    qv_inode_options o = {.kv = kv,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 2,
                          .slots = slots,
                          .threads = 1};
    qv_inode *n;
    qv_err err = {0};
    cr_assert_eq(qv_inode_create(&o, &n, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_inode_start(n, &err), QV_OK, "%s", err.msg);
    return n;
}

/* A flushed L1 segment of `rows` rows with its vector and age columns
 * (the vector column is left out when `with_files` is false). */
static float *add_segment(int64_t seg, size_t rows, bool with_files)
{
    Quiver__Internal__SegmentInfo s = QUIVER__INTERNAL__SEGMENT_INFO__INIT;
    s.id = seg;
    s.collection_id = coll_id;
    s.partition_id = part_id;
    s.vchannel = "v";
    s.log_id = seg * 10;
    s.rows = rows;
    s.state = QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED;
    s.level = QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1;
    float *x = ixh_random_vectors(rows, DIM, (uint32_t)seg);
    if (with_files)
        ixh_put_float_column(os, &s, 101, x, rows, DIM);
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key(ROOT, coll_id, seg, key, sizeof key);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, key, &s.base, &err), QV_OK, "%s", err.msg);
    return x;
}

static Milvus__Proto__Milvus__CreateIndexRequest
create_req(const char *field, Milvus__Proto__Common__KeyValuePair **p, size_t n)
{
    Milvus__Proto__Milvus__CreateIndexRequest rq =
        MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
    rq.collection_name = "c1";
    rq.field_name = (char *)field;
    rq.extra_params = p;
    rq.n_extra_params = n;
    return rq;
}

static Milvus__Proto__Common__KeyValuePair *kvp(const char *k, const char *v)
{
    Milvus__Proto__Common__KeyValuePair *p = qv_arena_alloc(&arena, sizeof *p);
    milvus__proto__common__key_value_pair__init(p);
    p->key = (char *)k;
    p->value = (char *)v;
    return p;
}

static Milvus__Proto__Common__Status *
create_index(const char *field, const char *type, const char *params)
{
    Milvus__Proto__Common__KeyValuePair *p[] = {kvp("params", params),
                                                kvp("index_type", type),
                                                kvp("metric_type", "L2")};
    Milvus__Proto__Milvus__CreateIndexRequest rq =
        create_req(field, p, strcmp(field, "age") == 0 ? 2 : 3);
    Milvus__Proto__Common__Status *st;
    call("CreateIndex", &rq.base, STATUS, &st);
    return st;
}

static Milvus__Proto__Milvus__DescribeIndexResponse *describe(const char *f)
{
    Milvus__Proto__Milvus__DescribeIndexRequest rq =
        MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
    rq.collection_name = "c1";
    rq.field_name = (char *)f;
    Milvus__Proto__Milvus__DescribeIndexResponse *r;
    call("DescribeIndex", &rq.base,
         &milvus__proto__milvus__describe_index_response__descriptor, &r);
    return r;
}

/* Polls DescribeIndex until the index leaves InProgress. */
static Milvus__Proto__Milvus__IndexDescription *wait_index(const char *f)
{
    for (int i = 0; i < 600; i++) {
        Milvus__Proto__Milvus__DescribeIndexResponse *r = describe(f);
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        cr_assert_eq(r->n_index_descriptions, 1);
        Milvus__Proto__Milvus__IndexDescription *d = r->index_descriptions[0];
        if (d->state != MILVUS__PROTO__COMMON__INDEX_STATE__InProgress)
            return d;
        qv_sleep_ms(100);
    }
    cr_assert_fail("index on %s did not finish", f);
    return NULL;
}

/* quiver_index_builds_total{event} in this test's process. */
static double events(const char *event)
{
    static const char *const labels[] = {"event", NULL};
    qv_metric_family *f = qv_metrics_counter(
        "quiver_index_builds_total",
        "index build events: issued to an indexnode, finished, failed for "
        "good, retried",
        labels);
    cr_assert_not_null(f);
    const char *v[] = {event};
    return qv_metric_value(f, v);
}

static qv_seg_index **builds(size_t *n)
{
    qv_seg_index **sx;
    qv_err err = {0};
    cr_assert_eq(
        qv_segmeta_list_segidx(kv, ROOT, coll_id, 0, &arena, &sx, n, &err),
        QV_OK);
    return sx;
}

Test(sched, builds_big_segments_and_describe_reports_progress)
{
    float *x1 = add_segment(11, 600, true);
    float *x2 = add_segment(12, 50, false); /* under the threshold */
    qv_inode *n = start_node(1);
    Milvus__Proto__Common__Status *st =
        create_index("vec", "HNSW", "{\"M\":16,\"efConstruction\":64}");
    cr_assert_eq(st->code, 0, "%s", st->reason);
    Milvus__Proto__Milvus__IndexDescription *d = wait_index("vec");
    cr_assert_eq(d->state, MILVUS__PROTO__COMMON__INDEX_STATE__Finished, "%s",
                 d->index_state_fail_reason);
    cr_assert_eq(d->total_rows, 650);
    cr_assert_eq(d->indexed_rows, 650);
    cr_assert_eq(d->pending_index_rows, 0);
    cr_assert_str_eq(d->index_name, "vec");
    cr_assert_str_eq(d->field_name, "vec");
    bool type = false, metric = false;
    for (size_t i = 0; i < d->n_params; i++) {
        type |= strcmp(d->params[i]->key, "index_type") == 0 &&
                strcmp(d->params[i]->value, "HNSW") == 0;
        metric |= strcmp(d->params[i]->key, "metric_type") == 0 &&
                  strcmp(d->params[i]->value, "L2") == 0;
    }
    cr_assert(type && metric);
    /* One build, for the big segment only, with its file in the store. */
    size_t nb;
    qv_seg_index **sx = builds(&nb);
    cr_assert_eq(nb, 1);
    cr_assert_eq(sx[0]->segment_id, 11);
    cr_assert_eq(sx[0]->state,
                 QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED);
    cr_assert_eq(sx[0]->n_files, 1);
    cr_assert_eq(sx[0]->attempts, 1);
    cr_assert_gt(sx[0]->serialized_bytes, 0);
    char want[128];
    snprintf(want, sizeof want, "index_files/%lld/11/index",
             (long long)sx[0]->build_id);
    cr_assert_str_eq(sx[0]->files[0], want);
    void *img;
    size_t len = ixh_get(os, want, &img);
    cr_assert_eq(len, sx[0]->serialized_bytes);
    qv_index *ix;
    qv_err err = {0};
    cr_assert_eq(qv_index_load(img, len, &ix, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_ntotal(ix), 600);
    cr_assert_eq(qv_index_type_of(ix), QV_INDEX_HNSW);
    qv_index_free(ix);
    free(img);
    /* GetIndexState / GetIndexBuildProgress agree. */
    Milvus__Proto__Milvus__GetIndexStateRequest gs =
        MILVUS__PROTO__MILVUS__GET_INDEX_STATE_REQUEST__INIT;
    gs.collection_name = "c1";
    gs.field_name = "vec";
    Milvus__Proto__Milvus__GetIndexStateResponse *gr;
    call("GetIndexState", &gs.base,
         &milvus__proto__milvus__get_index_state_response__descriptor, &gr);
    cr_assert_eq(gr->state, MILVUS__PROTO__COMMON__INDEX_STATE__Finished);
    Milvus__Proto__Milvus__GetIndexBuildProgressRequest gp =
        MILVUS__PROTO__MILVUS__GET_INDEX_BUILD_PROGRESS_REQUEST__INIT;
    gp.collection_name = "c1";
    gp.index_name = "vec";
    Milvus__Proto__Milvus__GetIndexBuildProgressResponse *pr;
    call("GetIndexBuildProgress", &gp.base,
         &milvus__proto__milvus__get_index_build_progress_response__descriptor,
         &pr);
    cr_assert_eq(pr->indexed_rows, 650);
    cr_assert_eq(pr->total_rows, 650);
    /* A segment flushed later gets its build too. */
    float *x3 = add_segment(13, 300, true);
    for (int i = 0; i < 300; i++) {
        sx = builds(&nb);
        if (nb == 2 &&
            sx[1]->state == QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED)
            break;
        qv_sleep_ms(100);
    }
    cr_assert_eq(nb, 2);
    cr_assert_eq(sx[1]->segment_id, 13);
    cr_assert_eq(sx[1]->state,
                 QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED);
    d = wait_index("vec");
    cr_assert_eq(d->indexed_rows, 950);
    cr_assert_eq(events("issued"), 2);
    cr_assert_eq(events("finished"), 2);
    cr_assert_eq(events("retried"), 0);
    qv_inode_destroy(n);
    free(x1);
    free(x2);
    free(x3);
}

static void expect(Milvus__Proto__Common__Status *st, int code, int legacy,
                   const char *needle)
{
    cr_assert_eq(st->code, code, "code %d (%s)", st->code, st->reason);
    cr_assert_eq((int)st->error_code, legacy, "error_code %d", st->error_code);
    cr_assert(strstr(st->reason, needle), "'%s' lacks '%s'", st->reason,
              needle);
}

Test(sched, errors_and_drop)
{
    /* No index yet: IndexNotExist (25), code 700. */
    Milvus__Proto__Milvus__DescribeIndexResponse *r = describe("vec");
    expect(r->status, 700, 25, "index not found");
    cr_assert_eq(create_index("vec", "IVF_FLAT", "{\"nlist\":8}")->code, 0);
    /* The same again succeeds; another kind on the same field is 702. */
    cr_assert_eq(create_index("vec", "IVF_FLAT", "{\"nlist\":8}")->code, 0);
    expect(create_index("vec", "HNSW", "{}"), 702, 1, "at most one");
    expect(create_index("nope", "HNSW", "{}"), 1100, 5, "non-exist field");
    expect(create_index("age", "HNSW", "{}"), 1100, 5, "vector fields");
    expect(create_index("vec", "IVF_FLAT", "{\"nlist\":0}"), 1100, 5, "nlist");
    expect(create_index("vec", "WHAT", "{}"), 10, 1, "invalid index type");
    /* A scalar index on another field, then describe lists both. */
    cr_assert_eq(create_index("age", "STL_SORT", "{}")->code, 0);
    r = describe("");
    cr_assert_eq(r->status->code, 0);
    cr_assert_eq(r->n_index_descriptions, 2);
    /* AlterIndex: mmap.enabled only. */
    Milvus__Proto__Common__KeyValuePair *mm[] = {kvp("mmap.enabled", "true")};
    Milvus__Proto__Milvus__AlterIndexRequest aq =
        MILVUS__PROTO__MILVUS__ALTER_INDEX_REQUEST__INIT;
    aq.collection_name = "c1";
    aq.index_name = "vec";
    aq.extra_params = mm;
    aq.n_extra_params = 1;
    Milvus__Proto__Common__Status *st;
    call("AlterIndex", &aq.base, STATUS, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    r = describe("vec");
    bool mmap = false;
    for (size_t i = 0; i < r->index_descriptions[0]->n_params; i++)
        mmap |= strcmp(r->index_descriptions[0]->params[i]->key,
                       "mmap.enabled") == 0;
    cr_assert(mmap);
    mm[0] = kvp("nlist", "9");
    call("AlterIndex", &aq.base, STATUS, &st);
    expect(st, 1100, 5, "not a configurable");
    /* Drop, then it is gone; dropping again is not an error. */
    Milvus__Proto__Milvus__DropIndexRequest dq =
        MILVUS__PROTO__MILVUS__DROP_INDEX_REQUEST__INIT;
    dq.collection_name = "c1";
    dq.field_name = "vec";
    call("DropIndex", &dq.base, STATUS, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    expect(describe("vec")->status, 700, 25, "index not found");
    call("DropIndex", &dq.base, STATUS, &st);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    /* A new index of another kind may be created after the drop. */
    cr_assert_eq(create_index("vec", "HNSW", "{}")->code, 0);
    /* A missing collection. */
    Milvus__Proto__Milvus__DescribeIndexRequest mq =
        MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
    mq.collection_name = "nope";
    call("DescribeIndex", &mq.base,
         &milvus__proto__milvus__describe_index_response__descriptor, &r);
    cr_assert_eq(r->status->code, 100, "%s", r->status->reason);
}

Test(sched, reissued_when_the_node_is_gone)
{
    float *x = add_segment(21, 400, true);
    cr_assert_eq(create_index("vec", "FLAT", "{}")->code, 0);
    /* The coord's records say a node that no longer exists holds it. */
    size_t nb = 0;
    qv_seg_index **sx = NULL;
    for (int i = 0; i < 100 && nb == 0; i++) {
        qv_sleep_ms(100);
        sx = builds(&nb);
    }
    cr_assert_eq(nb, 1);
    qv_seg_index *b = sx[0];
    cr_assert_eq(b->state, QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_UNISSUED);
    b->state = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS;
    b->node = ROOT "session/indexnode-424242";
    b->attempts = 1;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_segidx_key(ROOT, coll_id, 21, b->index_id, key, sizeof key);
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_put(kv, key, &b->base, &err), QV_OK);
    qv_inode *n = start_node(1);
    Milvus__Proto__Milvus__IndexDescription *d = wait_index("vec");
    cr_assert_eq(d->state, MILVUS__PROTO__COMMON__INDEX_STATE__Finished, "%s",
                 d->index_state_fail_reason);
    sx = builds(&nb);
    cr_assert_eq(sx[0]->attempts, 2);
    cr_assert_eq(events("retried"), 1);
    cr_assert_eq(events("issued"), 1);
    cr_assert_eq(events("finished"), 1);
    char node_key[256];
    qv_inode_session_key(n, node_key, sizeof node_key);
    cr_assert_str_eq(sx[0]->node, node_key);
    qv_inode_destroy(n);
    free(x);
}

Test(sched, missing_column_fails_with_reason)
{
    float *x = add_segment(31, 200, false);
    qv_inode *n = start_node(2);
    cr_assert_eq(create_index("vec", "HNSW", "{}")->code, 0);
    Milvus__Proto__Milvus__IndexDescription *d = wait_index("vec");
    cr_assert_eq(d->state, MILVUS__PROTO__COMMON__INDEX_STATE__Failed);
    cr_assert(strstr(d->index_state_fail_reason, "segment 31"), "%s",
              d->index_state_fail_reason);
    cr_assert_eq(d->indexed_rows, 0);
    cr_assert_eq(d->total_rows, 200);
    size_t nb;
    qv_seg_index **sx = builds(&nb);
    cr_assert_eq(sx[0]->attempts, 1); /* permanent: not retried */
    cr_assert_eq(events("failed"), 1);
    cr_assert_eq(events("retried"), 0);
    qv_inode_destroy(n);
    free(x);
}

Test(sched, a_new_active_coord_continues_from_meta_kv)
{
    float *x = add_segment(41, 400, true);
    cr_assert_eq(create_index("vec", "IVF_FLAT", "{\"nlist\":16}")->code, 0);
    size_t nb = 0;
    for (int i = 0; i < 100 && nb == 0; i++) {
        qv_sleep_ms(100);
        (void)builds(&nb);
    }
    cr_assert_eq(nb, 1); /* UNISSUED: no indexnode yet */
    /* The coord goes away; another one takes over the same meta KV. */
    qv_coord_destroy(coord);
    qv_coord_options o = {.kv = kv,
                          .host = "127.0.0.1",
                          .session_ttl_s = 2,
                          .log = log_,
                          .pchannels = 2,
                          .index_min_rows = MINROW};
    qv_err err = {0};
    cr_assert_eq(qv_coord_create(&o, &coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_start(coord, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_coord_wait_active(coord, 20000, &err), QV_OK);
    qv_inode *n = start_node(1);
    Milvus__Proto__Milvus__IndexDescription *d = wait_index("vec");
    cr_assert_eq(d->state, MILVUS__PROTO__COMMON__INDEX_STATE__Finished, "%s",
                 d->index_state_fail_reason);
    cr_assert_eq(d->indexed_rows, 400);
    qv_seg_index **sx = builds(&nb);
    cr_assert_eq(nb, 1); /* the same build, not a second one */
    cr_assert_eq(sx[0]->attempts, 1);
    cr_assert_eq(sx[0]->state,
                 QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED);
    qv_inode_destroy(n);
    free(x);
}
