/* Tests of coord/segmeta: datanode commits (one transaction: segment, L0
 * log, checkpoint; stale checkpoints, non-assignees and duplicate segments
 * refused) and flush state, on the LMDB meta KV. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/segmeta.h"

#define ROOT "quiver/"
#define VCH  "quiver-dml_3_7v0"
#define NODE "quiver/session/datanode-1"

static char dir[64];
static metakv *kv;
static qv_arena arena;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/qv-segmeta-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    qv_arena_init(&arena, 0);
}

static void teardown(void)
{
    metakv_close(kv);
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(segmeta, .init = setup, .fini = teardown);

static void assign(int64_t coll, const char *vch, const char *node)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_dnchan_key(ROOT, coll, vch, key, sizeof key);
    qv_err err = {0};
    cr_assert_eq(
        metakv_put(kv, key, strlen(key), node, strlen(node), 0, NULL, &err),
        QV_OK, "%s", err.msg);
}

static qv_seg_info *seg(int64_t id, int64_t log_id, uint64_t rows)
{
    qv_seg_info *s = qv_arena_alloc(&arena, sizeof *s);
    quiver__internal__segment_info__init(s);
    s->id = id;
    s->partition_id = 11;
    s->vchannel = (char *)VCH;
    s->log_id = log_id;
    s->rows = rows;
    return s;
}

static qv_checkpoint *chk(uint64_t pos)
{
    qv_checkpoint *k = qv_arena_alloc(&arena, sizeof *k);
    quiver__internal__channel_checkpoint__init(k);
    k->vchannel = (char *)VCH;
    k->pchannel = (char *)"quiver-dml_3";
    k->position = pos;
    return k;
}

static qv_code commit(const char *node, qv_seg_info *s, qv_seg_info *l0,
                      uint64_t pos, qv_err *err)
{
    qv_segmeta_commit c = {.node = node,
                           .coll = 7,
                           .vchannel = VCH,
                           .segment = s,
                           .l0 = l0,
                           .checkpoint = chk(pos),
                           .flushed_ts = 1000 + pos};
    return qv_segmeta_commit_put(kv, ROOT, &c, err);
}

static uint64_t stored_position(void)
{
    qv_checkpoint *k = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_segmeta_get_checkpoint(kv, ROOT, VCH, &arena, &k, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_not_null(k, "no checkpoint recorded");
    return k->position;
}

Test(segmeta, commit_records_segment_l0_and_checkpoint_together)
{
    assign(7, VCH, NODE);
    qv_err err = {0};
    qv_seg_info *l0 = seg(501, 501, 3);
    l0->partition_id = -1;
    cr_assert_eq(commit(NODE, seg(500, 900, 1234), l0, 42, &err), QV_OK, "%s",
                 err.msg);
    qv_seg_info **v;
    size_t n;
    cr_assert_eq(
        qv_segmeta_list_segments(kv, ROOT, 7, VCH, &arena, &v, &n, &err), QV_OK,
        "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(v[0]->id, 500);
    cr_assert_eq(v[0]->level, QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1);
    cr_assert_eq(v[0]->state, QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED);
    cr_assert_eq(v[0]->rows, 1234);
    cr_assert_eq(v[0]->log_id, 900);
    cr_assert_eq(v[0]->collection_id, 7);
    cr_assert_eq(v[0]->flushed_ts, 1042);
    cr_assert_eq(v[1]->id, 501);
    cr_assert_eq(v[1]->level, QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0);
    cr_assert_eq(v[1]->partition_id, -1);
    cr_assert_eq(v[1]->rows, 3);
    cr_assert_eq(stored_position(), 42);
    /* only the checkpoint moves (nothing flushed) */
    cr_assert_eq(commit(NODE, NULL, NULL, 50, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(stored_position(), 50);
}

Test(segmeta, stale_checkpoint_is_refused_and_writes_nothing)
{
    assign(7, VCH, NODE);
    qv_err err = {0};
    cr_assert_eq(commit(NODE, seg(500, 900, 10), NULL, 100, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(commit(NODE, seg(600, 901, 10), NULL, 99, &err),
                 QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "stale checkpoint") && strstr(err.msg, VCH), "%s",
              err.msg);
    qv_seg_info *s = NULL;
    cr_assert_eq(qv_segmeta_get_segment(kv, ROOT, 7, 600, &arena, &s, &err),
                 QV_E_NOT_FOUND);
    cr_assert_eq(stored_position(), 100);
    /* the same position again is fine (an L0-only commit) */
    cr_assert_eq(commit(NODE, NULL, seg(601, 601, 2), 100, &err), QV_OK, "%s",
                 err.msg);
}

Test(segmeta, commit_from_a_node_that_is_not_the_assignee_is_refused)
{
    qv_err err = {0};
    /* no assignment at all */
    cr_assert_eq(commit(NODE, seg(500, 900, 10), NULL, 10, &err),
                 QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "not the assignee"), "%s", err.msg);
    assign(7, VCH, "quiver/session/datanode-2");
    cr_assert_eq(commit(NODE, seg(500, 900, 10), NULL, 10, &err),
                 QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "datanode-2"), "%s", err.msg);
    qv_checkpoint *k = NULL;
    cr_assert_eq(qv_segmeta_get_checkpoint(kv, ROOT, VCH, &arena, &k, &err),
                 QV_OK);
    cr_assert_null(k);
    cr_assert_eq(
        commit("quiver/session/datanode-2", seg(500, 900, 10), NULL, 10, &err),
        QV_OK, "%s", err.msg);
}

Test(segmeta, retried_commit_keeps_the_recorded_segment)
{
    assign(7, VCH, NODE);
    qv_err err = {0};
    cr_assert_eq(commit(NODE, seg(500, 900, 10), NULL, 10, &err), QV_OK);
    /* compaction marks it COMPACTED; a late retry must not revert that */
    qv_seg_info *s = NULL;
    cr_assert_eq(qv_segmeta_get_segment(kv, ROOT, 7, 500, &arena, &s, &err),
                 QV_OK);
    s->state = QUIVER__INTERNAL__SEGMENT_STATE__SEG_COMPACTED;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key(ROOT, 7, 500, key, sizeof key);
    cr_assert_eq(qv_segmeta_put(kv, key, &s->base, &err), QV_OK);
    cr_assert_eq(commit(NODE, seg(500, 900, 10), NULL, 10, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(qv_segmeta_get_segment(kv, ROOT, 7, 500, &arena, &s, &err),
                 QV_OK);
    cr_assert_eq(s->state, QUIVER__INTERNAL__SEGMENT_STATE__SEG_COMPACTED);
    /* the same id with other objects is a conflict */
    cr_assert_eq(commit(NODE, seg(500, 777, 10), NULL, 11, &err),
                 QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "already recorded"), "%s", err.msg);
    cr_assert_eq(stored_position(), 10);
}

Test(segmeta, bad_commits_are_invalid)
{
    qv_err err = {0};
    qv_segmeta_commit c = {.coll = 7, .vchannel = VCH};
    cr_assert_eq(qv_segmeta_commit_put(kv, ROOT, &c, &err), QV_E_INVALID);
    c.checkpoint = chk(1);
    c.segment = seg(0, 1, 1);
    cr_assert_eq(qv_segmeta_commit_put(kv, ROOT, &c, &err), QV_E_INVALID);
}

Test(segmeta, flush_state_needs_every_segment_recorded)
{
    qv_err err = {0};
    /* without an assignee check (node NULL) */
    for (int64_t id = 1; id <= 30; id++)
        cr_assert_eq(
            commit(NULL, seg(id * 10, id, 5), NULL, (uint64_t)id, &err), QV_OK,
            "%s", err.msg);
    bool f = false;
    int64_t all[] = {300, 10, 150, 10};
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 7, all, 4, &f, &err), QV_OK);
    cr_assert(f);
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 0, all, 4, &f, &err), QV_OK);
    cr_assert(f);
    int64_t some[] = {10, 15};
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 7, some, 2, &f, &err), QV_OK);
    cr_assert(!f);
    /* 1 is a prefix of 10, 100...: must not count as recorded */
    int64_t prefix[] = {1};
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 0, prefix, 1, &f, &err), QV_OK);
    cr_assert(!f);
    /* another collection */
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 8, all, 1, &f, &err), QV_OK);
    cr_assert(!f);
    cr_assert_eq(qv_segmeta_flushed(kv, ROOT, 8, NULL, 0, &f, &err), QV_OK);
    cr_assert(f);
}
