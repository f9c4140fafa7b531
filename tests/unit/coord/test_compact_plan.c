/* Compaction planning (coord/coord_compact.h): which segments are merged,
 * which are rewritten alone, which L0 logs go with a plan. */
#include <criterion/criterion.h>
#include <string.h>

#include "coord/coord_compact.h"

#define ST(x) QUIVER__INTERNAL__SEGMENT_STATE__SEG_##x
#define LV(x) QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_##x

static qv_arena a;
static qv_seg_info *segs[128];
static size_t nsegs;

static void setup(void)
{
    qv_arena_init(&a, 0);
    nsegs = 0;
}
static void teardown(void)
{
    qv_arena_release(&a);
}
TestSuite(plan, .init = setup, .fini = teardown);

static qv_seg_info *add(int64_t id, int64_t part, const char *vch,
                        uint64_t rows, int level, int state, uint64_t flushed)
{
    qv_seg_info *s = qv_arena_alloc(&a, sizeof *s);
    quiver__internal__segment_info__init(s);
    s->id = id;
    s->collection_id = 7;
    s->partition_id = part;
    s->vchannel = (char *)vch;
    s->rows = rows;
    s->level = level;
    s->state = state;
    s->flushed_ts = flushed;
    segs[nsegs++] = s;
    return s;
}

static qv_seg_info *l1(int64_t id, int64_t part, const char *vch, uint64_t rows)
{
    return add(id, part, vch, rows, LV(L1), ST(FLUSHED), (uint64_t)id * 10);
}

static qv_seg_info *l0(int64_t id, int64_t part, const char *vch,
                       uint64_t deletes, uint64_t flushed, uint64_t min_ts)
{
    qv_seg_info *s = add(id, part, vch, deletes, LV(L0), ST(FLUSHED), flushed);
    s->min_ts = min_ts;
    return s;
}

static void assert_ids(const qv_compact_group *g, const int64_t *ids, size_t n)
{
    cr_assert_eq(g->ninputs, n, "%zu inputs, expected %zu", g->ninputs, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(g->inputs[i]->id, ids[i]);
}

static const int64_t live[] = {1, 2};

Test(plan, small_segments_merge_by_channel_and_partition)
{
    l1(5, 1, "v0", 100);
    l1(1, 1, "v0", 100);
    l1(2, 1, "v0", 100);
    l1(3, 1, "v0", 100);
    l1(4, 1, "v0", 100);
    l1(6, 1, "v0", 5000); /* big: left alone */
    l1(7, 1, "v1", 100);  /* another channel: alone there */
    l1(8, 2, "v0", 100);
    l1(9, 2, "v0", 100);
    l1(10, 3, "v0", 100); /* a dropped partition */
    l1(11, 3, "v0", 100);
    add(12, 1, "v0", 100, LV(L1), ST(COMPACTED), 5);
    l1(13, 1, "v0", 0); /* empty segments merge too */
    l1(14, 2, "v0", 100);
    qv_compact_params p = {.min_rows = 1000, .max_rows = 250};
    int64_t busy[] = {14};
    p.busy = busy;
    p.nbusy = 1;
    qv_compact_group *g;
    size_t n = qv_compact_plan(segs, nsegs, live, 2, &p, &a, &g);
    cr_assert_eq(n, 4);
    const int64_t g0[] = {1, 2}, g1[] = {3, 4}, g2[] = {5, 13}, g3[] = {8, 9};
    assert_ids(&g[0], g0, 2);
    assert_ids(&g[1], g1, 2);
    assert_ids(&g[2], g2, 2);
    cr_assert_eq(g[2].rows, 100);
    assert_ids(&g[3], g3, 2);
    cr_assert_eq(g[3].partition_id, 2);
    cr_assert_str_eq(g[3].vchannel, "v0");
}

Test(plan, l0_logs_of_the_channel_go_with_the_plan)
{
    l1(1, 1, "v0", 100);
    l1(2, 1, "v0", 100);
    l0(20, -1, "v0", 5, 1, 1);
    l0(21, 1, "v0", 5, 1, 1);
    l0(22, 2, "v0", 5, 1, 1);  /* another partition */
    l0(23, -1, "v1", 5, 1, 1); /* another channel */
    add(24, -1, "v0", 5, LV(L0), ST(DROPPED), 1);
    qv_compact_params p = {.min_rows = 1000, .max_rows = 1000};
    qv_compact_group *g;
    cr_assert_eq(qv_compact_plan(segs, nsegs, live, 2, &p, &a, &g), 1);
    cr_assert_eq(g[0].nl0, 2);
    cr_assert_eq(g[0].l0[0]->id, 20);
    cr_assert_eq(g[0].l0[1]->id, 21);
}

Test(plan, deleted_ratio_rewrites_one_segment)
{
    l1(1, 1, "v0", 1000); /* flushed at 10 */
    l1(2, 1, "v1", 1000);
    l1(3, 1, "v2", 1000);
    l0(20, -1, "v0", 300, 50, 40);  /* after seg 1, purgeable: 30% */
    l0(21, -1, "v1", 300, 5, 4);    /* committed before seg 2 */
    l0(22, -1, "v2", 300, 50, 900); /* inside the window */
    qv_compact_params p = {.min_rows = 100,
                           .max_rows = 100000,
                           .deleted_ratio = 0.2,
                           .purge_before = 500};
    qv_compact_group *g;
    cr_assert_eq(qv_compact_plan(segs, nsegs, NULL, 0, &p, &a, &g), 1);
    const int64_t one[] = {1};
    assert_ids(&g[0], one, 1);
    /* 150 of 1000 is under 20% */
    segs[3]->rows = 150;
    cr_assert_eq(qv_compact_plan(segs, nsegs, NULL, 0, &p, &a, &g), 0);
}

Test(plan, manual_merges_every_segment_and_rewrites_deleted_ones)
{
    l1(1, 1, "v0", 4000);
    l1(2, 1, "v0", 4000);
    l1(3, 1, "v0", 4000);
    l1(4, 1, "v1", 4000);
    l0(20, -1, "v1", 10, 50, 40);
    l1(5, 1, "v2", 4000); /* nothing to purge: no plan */
    qv_compact_params p = {
        .min_rows = 100, .max_rows = 8000, .manual = true, .purge_before = 500};
    qv_compact_group *g;
    size_t n = qv_compact_plan(segs, nsegs, live, 2, &p, &a, &g);
    cr_assert_eq(n, 2);
    const int64_t m[] = {1, 2}, s[] = {4};
    assert_ids(&g[0], m, 2);
    assert_ids(&g[1], s, 1);
    cr_assert_eq(g[1].nl0, 1);
}

Test(plan, inputs_per_plan_are_bounded)
{
    for (int i = 1; i <= QV_COMPACT_MAX_INPUTS + 10; i++)
        l1(i, 1, "v0", 1);
    qv_compact_params p = {.min_rows = 1000, .max_rows = 1000000};
    qv_compact_group *g;
    cr_assert_eq(qv_compact_plan(segs, nsegs, NULL, 0, &p, &a, &g), 2);
    cr_assert_eq(g[0].ninputs, QV_COMPACT_MAX_INPUTS);
    cr_assert_eq(g[1].ninputs, 10);
}

Test(plan, rows_kept_for_time_travel_are_purged_once_old_enough)
{
    qv_seg_info *x = l1(1, 1, "v0", 1000); /* flushed at 10 */
    x->deleted_rows = 300;
    qv_seg_info *b = l1(2, 1, "v1", 1000);
    b->deleted_rows = 300;
    b->flushed_ts = 900; /* written inside the window */
    qv_seg_info *d = l1(3, 1, "v2", 1000);
    d->deleted_rows = 100; /* 10%: auto leaves it, manual rewrites it */
    qv_compact_params p = {.min_rows = 100,
                           .max_rows = 100000,
                           .deleted_ratio = 0.2,
                           .purge_before = 500};
    qv_compact_group *g;
    cr_assert_eq(qv_compact_plan(segs, nsegs, NULL, 0, &p, &a, &g), 1);
    const int64_t one[] = {1};
    assert_ids(&g[0], one, 1);
    p.manual = true;
    cr_assert_eq(qv_compact_plan(segs, nsegs, NULL, 0, &p, &a, &g), 2);
    const int64_t three[] = {3};
    assert_ids(&g[1], three, 1);
}
