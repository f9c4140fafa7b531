/* Index attachment over real gRPC (querynode/qn_index.c): a flushed segment
 * whose SyncSegments target lists an index build is searched through that
 * index once the reply lists it as indexed (the index here is built over
 * doubled vectors, so its distances tell it apart from the column's); a
 * scalar index counts as attached; a damaged file leaves the segment
 * served exactly and not indexed; search params reach the index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/msg/seglog.h"
#include "common/rpc/rpc_client.h"
#include "datanode/channel.h"
#include "internal/querynode.pb-c.h"
#include "index/index.h"
#include "querynode/qnserver.h"
#include "tests/lib/proc.h"

#include "qn_fixture.h"
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

static void setup(void)
{
    qf_setup("qv-qnidx-");
}

TestSuite(qn_index, .init = setup, .fini = qf_teardown, .timeout = 60);

/* Segment 1: pks 1..40 at ts 100, sealed at 200, tick 250. */
static void write_log(void)
{
    append_insert(1, 40, 100, 1);
    append_seal(1, 200);
    append_tick(250);
}

/* A FLAT index (L2) over the doubled vectors of pks 1..40, stored at key;
 * damaged: one byte flipped. */
static void store_index(const char *key, bool damaged)
{
    float x[40 * QN_DIM];
    for (int i = 0; i < 40; i++) {
        qn_vec_of(i + 1, x + i * QN_DIM);
        for (int d = 0; d < QN_DIM; d++)
            x[i * QN_DIM + d] *= 2;
    }
    qv_index *ix;
    cr_assert_eq(
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, QN_DIM, NULL, &ix, NULL),
        QV_OK);
    cr_assert_eq(qv_index_add(ix, 40, x, NULL, NULL), QV_OK);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_index_serialize(ix, &b, NULL), QV_OK);
    if (damaged)
        b.data[b.len / 2] ^= 1;
    cr_assert_eq(objstore_put(os, key, b.data, b.len, NULL), QV_OK);
    qv_buf_release(&b);
    qv_index_free(ix);
}

static Quiver__Internal__SegmentIndex *seg_index(int64_t build, int64_t field,
                                                 const char *key)
{
    Quiver__Internal__SegmentIndex *s = qv_arena_alloc(&arena, sizeof *s);
    quiver__internal__segment_index__init(s);
    s->build_id = build;
    s->collection_id = QN_COLL;
    s->partition_id = 1;
    s->segment_id = 1;
    s->index_id = build + 1000;
    s->field_id = field;
    s->rows = 40;
    s->state = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
    char **files = qv_arena_alloc(&arena, sizeof(char *));
    files[0] = qv_arena_strdup(&arena, key);
    s->files = files;
    s->n_files = 1;
    return s;
}

/* Lists indexes idx[0..n) for the target's only segment. */
static void with_indexes(Quiver__Internal__SyncSegmentsRequest *t,
                         Quiver__Internal__SegmentIndex **idx, size_t n)
{
    Quiver__Internal__SegmentTarget *st = t->segments[0];
    st->indexes = idx;
    st->n_indexes = n;
    st->index_infos = qv_arena_alloc(&arena, (n + 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        Quiver__Internal__IndexInfo *ii = qv_arena_alloc(&arena, sizeof *ii);
        quiver__internal__index_info__init(ii);
        ii->id = idx[i]->index_id;
        ii->collection_id = QN_COLL;
        ii->field_id = idx[i]->field_id;
        st->index_infos[i] = ii;
    }
    st->n_index_infos = n;
}

/* Syncs until the reply lists `want` indexed segments (bounded). */
static Quiver__Internal__SyncSegmentsResponse *
sync_indexed(node *n, Quiver__Internal__SyncSegmentsRequest *t, size_t want)
{
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = sync_once(n, t);
        cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
        if (r->version == t->version && r->n_serving == 1 &&
            r->n_indexed == want)
            return r;
        qv_sleep_ms(50);
    }
    cr_assert_fail("node lists %zu indexed segments, want %zu", r->n_indexed,
                   want);
    return r;
}

/* Top-5 of pk 7's vector at 250 with search params sp. */
static Quiver__Internal__ShardSearchResponse *search(node *n, const char *sp)
{
    float q[QN_DIM];
    qn_vec_of(7, q);
    Quiver__Internal__ShardSearchRequest rq =
        QUIVER__INTERNAL__SHARD_SEARCH_REQUEST__INIT;
    rq.collection_id = QN_COLL;
    rq.vchannel = QN_VCH;
    rq.guarantee_ts = 250;
    rq.timeout_ms = 10000;
    rq.field_id = QN_VEC;
    rq.metric = QV_METRIC_L2;
    rq.nq = 1;
    rq.topk = 5;
    rq.queries.data = (uint8_t *)q;
    rq.queries.len = sizeof q;
    rq.search_params = (char *)sp;
    Quiver__Internal__ShardSearchResponse *r = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_rpc_unary(n->ch, QN "Search", &rq.base,
                     &quiver__internal__shard_search_response__descriptor,
                     &arena, (ProtobufCMessage **)&r, NULL, &err),
        QV_OK, "%s", err.msg);
    return r;
}

/* |q - 2 q| = |q|^2: the closest hit of pk 7 through the doubled index. */
static float doubled_d0(void)
{
    float q[QN_DIM], s = 0;
    qn_vec_of(7, q);
    for (int d = 0; d < QN_DIM; d++)
        s += q[d] * q[d];
    return s;
}

static void start(node *n, Quiver__Internal__SyncSegmentsRequest **t)
{
    write_log();
    commits cm = {1000, 0, {{0}}};
    flush_all(&cm);
    cr_assert_eq(cm.n, 1);
    node_start(n, 0);
    *t = mk_target(&cm, 1, 7);
}

Test(qn_index, listed_index_is_attached_and_searched)
{
    node n;
    Quiver__Internal__SyncSegmentsRequest *t;
    start(&n, &t);
    cr_assert_eq(watch(&n, t, 0)->code, 0);
    sync_indexed(&n, t, 0);
    Quiver__Internal__ShardSearchResponse *r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_float_eq(r->distances[0], 0.0f, 1e-6, "exact: pk 7 itself");
    store_index("index_files/501/1/index", false);
    Quiver__Internal__SegmentIndex *idx[2] = {
        seg_index(501, QN_VEC, "index_files/501/1/index"),
        seg_index(502, QN_TAG, "index_files/502/1/scalar")};
    with_indexes(t, idx, 2);
    t->version = 8;
    Quiver__Internal__SyncSegmentsResponse *sr = sync_indexed(&n, t, 1);
    cr_assert_eq(sr->indexed[0], 1);
    r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->counts[0], 5);
    cr_assert_float_eq(r->distances[0], doubled_d0(), 1e-3,
                       "searched through the index: %g", r->distances[0]);
    /* params reach the index: a radius below every distance finds none */
    r = search(&n, "{\"radius\": 0.001}");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->counts[0], 0);
    r = search(&n, "{\"radius\": \"x\"}");
    cr_assert_neq(r->status->code, 0);
    /* the same target again loads nothing new and stays indexed */
    t->version = 9;
    sync_indexed(&n, t, 1);
    node_stop(&n);
}

Test(qn_index, damaged_file_is_not_attached)
{
    node n;
    Quiver__Internal__SyncSegmentsRequest *t;
    start(&n, &t);
    store_index("index_files/601/1/index", true);
    Quiver__Internal__SegmentIndex *idx[1] = {
        seg_index(601, QN_VEC, "index_files/601/1/index")};
    with_indexes(t, idx, 1);
    cr_assert_eq(watch(&n, t, 0)->code, 0);
    sync_indexed(&n, t, 0);
    qv_sleep_ms(300); /* another round: still not indexed */
    sync_indexed(&n, t, 0);
    Quiver__Internal__ShardSearchResponse *r = search(&n, "");
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_float_eq(r->distances[0], 0.0f, 1e-6, "exact search");
    node_stop(&n);
}
