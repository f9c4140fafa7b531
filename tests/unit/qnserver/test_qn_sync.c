/* The query node's sealed segments over real gRPC: segments flushed by the
 * datanode's channel consumer (real objects, L0 logs and checkpoints) are
 * handed off from the growing copies without a gap or duplicates, a node
 * started at a checkpoint serves them without replaying them, segments
 * leave the target, and a load over the memory limit is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "datanode/channel.h"
#include "internal/querynode.pb-c.h"
#include "querynode/qnserver.h"
#include "tests/lib/proc.h"

#include "qn_fixture.h"
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

static void setup(void)
{
    qf_setup("qv-qnsync-");
}

TestSuite(qn_sync, .init = setup, .fini = qf_teardown, .timeout = 60);

/* Syncs until the node serves `want` segments (bounded). */
static Quiver__Internal__SyncSegmentsResponse *
sync_until(node *n, Quiver__Internal__SyncSegmentsRequest *t, size_t want)
{
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = sync_once(n, t);
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        if (r->n_serving == want && r->version == t->version)
            return r;
        qv_sleep_ms(50);
    }
    cr_assert_fail("node serves %zu segments, want %zu", r->n_serving, want);
    return r;
}

static uint64_t count(node *n, qv_ts guarantee)
{
    Quiver__Internal__ShardQueryRequest qr =
        QUIVER__INTERNAL__SHARD_QUERY_REQUEST__INIT;
    qr.collection_id = QN_COLL;
    qr.vchannel = QN_VCH;
    qr.guarantee_ts = guarantee;
    qr.timeout_ms = 10000;
    qr.count_only = 1;
    Quiver__Internal__ShardQueryResponse *qa = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(n->ch, QN "Query", &qr.base,
                     &quiver__internal__shard_query_response__descriptor,
                     &arena, (ProtobufCMessage **)&qa, NULL, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(qa->status->code, 0, "%s", qa->status->reason);
    return qa->count;
}

/* Segment 1: pks 1..40 at ts 100; segment 2: pks 41..60 at ts 110 (opened
 * before segment 1 is sealed, so the checkpoint lies inside it); pk 5 and
 * 45 deleted at ts 150; segment 1 sealed at 200; tick 250. */
static void write_log(void)
{
    append_insert(1, 40, 100, 1);
    append_insert(41, 20, 110, 2);
    int64_t del[2] = {5, 45};
    qn_delete d;
    qn_delete_make(&d, del, 2, 150, QV_PARTITION_ALL);
    append_msg(&d.m);
    qn_delete_free(&d);
    append_seal(1, 200);
    append_tick(250);
}

Test(qn_sync, hand_off_from_the_growing_copy_keeps_every_row_once)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    cr_assert_eq(cm.c[0].segment_id, 1);
    node n;
    node_start(&n, 0);
    /* no target yet: everything from the log */
    Quiver__Internal__SyncSegmentsRequest *empty = mk_target(&cm, 0, 1);
    cr_assert_eq(watch(&n, empty, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(lr, 60);
    cr_assert_eq(sr, 0);
    /* segment 1 flushed: hand-off, same answers */
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 2);
    Quiver__Internal__SyncSegmentsResponse *r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    cr_assert_eq(r->n_indexed, 0);
    cr_assert_gt(r->memory_bytes, 0);
    cr_assert_eq(count(&n, 250), 58);
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 40);
    /* a delete after the hand-off reaches the sealed copy */
    int64_t del = 7;
    qn_delete d;
    qn_delete_make(&d, &del, 1, 300, QV_PARTITION_ALL);
    append_msg(&d.m);
    qn_delete_free(&d);
    append_tick(350);
    cr_assert_eq(count(&n, 350), 57);
    /* the segment leaves the target: dropped */
    Quiver__Internal__SyncSegmentsRequest *none = mk_target(&cm, 0, 3);
    r = sync_until(&n, none, 0);
    cr_assert_eq(count(&n, 350), 57 - 38);
    /* an older version is ignored */
    r = sync_once(&n, t);
    cr_assert_eq(r->version, 3);
    cr_assert_eq(r->n_serving, 0);
    node_stop(&n);
}

Test(qn_sync, a_seal_not_consumed_yet_is_retried)
{
    /* the datanode reads a copy of the log that already has the seal; the
     * node's log does not have it yet */
    char *wdir = qv_xasprintf("%s/wal2", dir);
    wal_options o = {.dir = wdir, .sync = WAL_SYNC_NEVER};
    wal *w2;
    cr_assert_eq(wal_open("local", &o, &w2, NULL), QV_OK);
    free(wdir);
    tw = w2;
    append_insert(1, 10, 100, 1);
    append_seal(1, 150);
    append_tick(200);
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    tw = w;
    append_insert(1, 10, 100, 1);
    append_tick(140);
    node n;
    node_start(&n, 0);
    cr_assert_eq(watch(&n, NULL, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 140), 10);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 5);
    Quiver__Internal__SyncSegmentsResponse *r = sync_once(&n, t);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_serving, 0, "not serving before the seal is consumed");
    qv_sleep_ms(300);
    r = sync_once(&n, t);
    cr_assert_eq(r->n_serving, 0);
    cr_assert_eq(count(&n, 140), 10);
    append_seal(1, 150);
    append_tick(200);
    r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    cr_assert_eq(count(&n, 200), 10);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 10);
    node_stop(&n);
    wal_close(w2);
}

Test(qn_sync, start_at_the_checkpoint_loads_sealed_segments_and_l0)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    cr_assert_eq(cm.c[0].checkpoint, 1, "segment 2 is still buffered");
    cr_assert_gt(cm.c[0].l0_log_id, 0);
    node n;
    node_start(&n, 0);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 7);
    cr_assert_eq(watch(&n, t, cm.c[0].checkpoint)->code, 0);
    /* segment 1 sealed (39 visible), segment 2 from the log (19) */
    cr_assert_eq(count(&n, 250), 58);
    Quiver__Internal__SyncSegmentsResponse *r = sync_until(&n, t, 1);
    cr_assert_eq(r->serving[0], 1);
    uint64_t lr, sr;
    qv_qnode_rows(n.q, &lr, &sr);
    cr_assert_eq(sr, 40);
    cr_assert_eq(lr, 20, "only segment 2's rows were replayed");
    node_stop(&n);
}

Test(qn_sync, a_load_over_the_memory_limit_is_refused)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    node n;
    node_start(&n, 500); /* the segment says 1000 bytes */
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 1);
    Milvus__Proto__Common__Status *st = watch(&n, t, cm.c[0].checkpoint);
    cr_assert_neq(st->code, 0);
    cr_assert(strstr(st->reason, "memory limit"), "%s", st->reason);
    cr_assert(strstr(st->reason, "queryNode.memoryLimit"), "%s", st->reason);
    /* watched without segments, a later target over the limit is reported
     * by SyncSegments, and the node keeps serving */
    cr_assert_eq(watch(&n, NULL, WAL_EARLIEST)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    Quiver__Internal__SyncSegmentsResponse *r = sync_once(&n, t);
    cr_assert_neq(r->status->code, 0);
    cr_assert(strstr(r->status->reason, "memory limit"), "%s",
              r->status->reason);
    cr_assert_eq(r->n_serving, 0);
    cr_assert_eq(count(&n, 250), 58);
    node_stop(&n);
}

Test(qn_sync, a_cache_directory_holds_the_mapped_column_files)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    char *cache = qv_xasprintf("%s/cache/qn", dir);
    node n;
    node_start_cached(&n, 0, cache);
    Quiver__Internal__SyncSegmentsRequest *t = mk_target(&cm, 1, 3);
    cr_assert_eq(watch(&n, t, cm.c[0].checkpoint)->code, 0);
    cr_assert_eq(count(&n, 250), 58);
    /* one file per field and the timestamps, named segment_field_log */
    char *path =
        qv_xasprintf("%s/1_%d_%lld", cache, QN_PK, (long long)cm.c[0].log_id);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    cr_assert_gt(st.st_size, 0);
    free(path);
    node_stop(&n);
    free(cache);
}
