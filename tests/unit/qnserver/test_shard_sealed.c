/* Sealed segments in a shard (querynode/shard.h): inserts replayed for a
 * segment the shard serves sealed are skipped (a start from a checkpoint
 * inside the segment), and a compaction output replaces its inputs in
 * one step, keeping the deletes the inputs gained and resolving versions
 * against the other segments. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "datanode/flush.h"
#include "querynode/query.h"
#include "tests/lib/proc.h"

static char *dir;
static objstore *os;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-shsealed-", &dir, NULL), QV_OK);
    char *root = qv_xasprintf("%s/objects", dir);
    objstore_config c = {.root = root, .no_fsync = true};
    cr_assert_eq(objstore_open("fs", &c, &os, NULL), QV_OK);
    free(root);
}

static void teardown(void)
{
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(shard_sealed, .init = setup, .fini = teardown, .timeout = 30);

/* Flushes segment seg of s and loads it back. */
static qv_sealed *flush_segment(qv_shard *s, int64_t seg, int64_t log)
{
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    const qv_seg_snap *ss = NULL;
    for (size_t i = 0; i < g.n; i++)
        if (g.snaps[i].segment_id == seg)
            ss = &g.snaps[i];
    cr_assert_not_null(ss);
    qv_flush_target t = {os, QN_COLL, log};
    qv_flush_result res;
    qv_err err;
    cr_assert_eq(qv_flush_segment(&t, &qn_schema, ss, &res, &err), QV_OK, "%s",
                 err.msg);
    qv_shard_snap_release(&g);
    qv_sealed_source src = {os, QN_COLL, 1, seg, log, NULL};
    qv_sealed *x;
    cr_assert_eq(qv_sealed_load(&src, &qn_schema, &x, &err), QV_OK, "%s",
                 err.msg);
    return x;
}

static void range(int64_t *v, int64_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = from + (int64_t)i;
}

Test(shard_sealed, replayed_inserts_of_a_sealed_segment_are_skipped)
{
    int64_t pks[20];
    range(pks, 1, 20);
    qv_shard *a = qn_shard();
    qn_apply_insert(a, pks, 20, 100, 1);
    qv_sealed *x = flush_segment(a, 1, 11);
    qv_shard_free(a);

    qv_shard *b = qn_shard();
    qv_err err;
    cr_assert_eq(qv_shard_add_sealed(b, x, &err), QV_OK, "%s", err.msg);
    /* the log from a checkpoint inside segment 1: its last 5 rows again,
     * then a newer version of pk 3 in segment 2 */
    qn_apply_insert(b, pks + 15, 5, 100, 1);
    int64_t three = 3;
    qn_apply_insert(b, &three, 1, 200, 2);
    qv_shard_stats st;
    qv_shard_stats_get(b, &st);
    cr_assert_eq(st.sealed_skipped, 5);
    cr_assert_eq(st.segments, 1, "only segment 2 grows");
    int64_t *vis;
    cr_assert_eq(qn_visible(b, 300, &vis), 20, "each row once");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(vis[i], i + 1);
    free(vis);
    cr_assert_eq(qn_visible(b, 150, &vis), 20);
    free(vis);
    qv_sealed_unref(x);
    qv_shard_free(b);
}

Test(shard_sealed, a_compaction_output_replaces_its_inputs_with_their_deletes)
{
    int64_t pks[20];
    range(pks, 1, 20);
    /* inputs: segment 1 = pks 1..10 at 100, segment 2 = pks 11..20 at 110 */
    qv_shard *src = qn_shard();
    qn_apply_insert(src, pks, 10, 100, 1);
    qn_apply_insert(src, pks + 10, 10, 110, 2);
    qv_sealed *in1 = flush_segment(src, 1, 21);
    qv_sealed *in2 = flush_segment(src, 2, 22);
    qv_shard_free(src);
    /* the output: the same rows in segment 3 */
    qv_shard *cs = qn_shard();
    qn_apply_insert(cs, pks, 10, 100, 3);
    qn_apply_insert(cs, pks + 10, 10, 110, 3);
    qv_sealed *out = flush_segment(cs, 3, 23);
    qv_shard_free(cs);

    qv_shard *s = qn_shard();
    qv_err err;
    cr_assert_eq(qv_shard_add_sealed(s, in1, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_shard_add_sealed(s, in2, &err), QV_OK, "%s", err.msg);
    /* after the compaction read its inputs: pk 5 deleted, pk 12 updated */
    int64_t five = 5, twelve = 12;
    qn_apply_delete(s, &five, 1, 200);
    qn_apply_insert(s, &twelve, 1, 250, 9);
    int64_t ins[2] = {1, 2};
    cr_assert_eq(qv_shard_replace(s, out, ins, 2, &err), QV_OK, "%s", err.msg);
    qv_shard_stats st;
    qv_shard_stats_get(s, &st);
    cr_assert_eq(st.sealed, 1, "the inputs left");
    int64_t *vis;
    cr_assert_eq(qn_visible(s, 300, &vis), 19,
                 "pk 5 stays deleted, pk 12 once");
    for (int i = 0, want = 1; i < 19; i++, want++) {
        if (want == 5)
            want++;
        cr_assert_eq(vis[i], want);
    }
    free(vis);
    cr_assert_eq(qn_visible(s, 150, &vis), 20, "time travel before the delete");
    free(vis);
    cr_assert_eq(qn_visible(s, 105, &vis), 10, "only segment 1's rows at 105");
    free(vis);
    cr_assert_eq(qv_shard_replace(s, out, ins, 2, &err), QV_E_EXISTS);
    qv_sealed_unref(in1);
    qv_sealed_unref(in2);
    qv_sealed_unref(out);
    qv_shard_free(s);
}
