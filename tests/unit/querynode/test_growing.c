/* MVCC visibility of growing segments and the shard's apply rules. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "qn_helpers.h"
#include "querynode/growing.h"

static bool has(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static size_t count_at(qv_shard *s, qv_ts R, int64_t pk)
{
    int64_t *v;
    size_t n = qn_visible(s, R, &v);
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i] == pk;
    free(v);
    return c;
}

Test(growing, delete_hides_row_from_its_timestamp_on)
{
    qv_shard *s = qn_shard();
    int64_t a = 42;
    qn_apply_insert(s, &a, 1, 100, 1);
    qn_apply_delete(s, &a, 1, 200);
    cr_assert_eq(count_at(s, 99, a), 0, "before the insert");
    cr_assert_eq(count_at(s, 100, a), 1, "at t1 the row is visible");
    cr_assert_eq(count_at(s, 199, a), 1);
    cr_assert_eq(count_at(s, 200, a), 0, "at t2 it is deleted");
    cr_assert_eq(count_at(s, 1000, a), 0);
    qv_shard_free(s);
}

Test(growing, mask_matches_the_rule_row_by_row)
{
    qv_field_spec f[4];
    memcpy(f, qn_fields, sizeof f);
    qv_growing *g;
    cr_assert_eq(qv_growing_create(&qn_schema, 5, 1, 0, &g, NULL), QV_OK);
    int64_t pks[3] = {1, 2, 3};
    qn_insert x;
    qn_insert_make(&x, pks, 3, NULL, 10, 5, 1);
    size_t first;
    cr_assert_eq(qv_growing_insert(g, &x.m, &first, NULL), QV_OK);
    cr_assert_eq(first, 0);
    qn_insert_free(&x);
    qv_pk k = qv_pk_int(2);
    cr_assert_eq(qv_growing_delete(g, &k, 10), 0, "same ts: not hidden");
    cr_assert_eq(qv_growing_delete(g, &k, 15), 1);
    qv_bitset b;
    cr_assert_eq(qv_bitset_init(&b, 3), QV_OK);
    qv_growing_mask(g, 9, 3, &b);
    cr_assert_eq(qv_bitset_count(&b), 3);
    qv_growing_mask(g, 14, 3, &b);
    cr_assert_eq(qv_bitset_count(&b), 0);
    qv_growing_mask(g, 15, 3, &b);
    cr_assert_eq(qv_bitset_count(&b), 1);
    cr_assert(qv_bitset_test(&b, 1));
    qv_bitset_release(&b);
    qv_growing_unref(g);
}

Test(growing, upsert_at_one_timestamp_shows_the_new_row)
{
    qv_shard *s = qn_shard();
    int64_t a = 7;
    qn_apply_insert(s, &a, 1, 100, 1);
    /* upsert at 300: delete then insert, both at 300 */
    qn_apply_delete(s, &a, 1, 300);
    qn_apply_insert(s, &a, 1, 300, 1);
    cr_assert_eq(count_at(s, 299, a), 1);
    cr_assert_eq(count_at(s, 300, a), 1);
    /* the visible row at 300 is the new version */
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    cr_assert_eq(snap.n, 1);
    qv_bitset b;
    cr_assert_eq(qv_bitset_init(&b, 2), QV_OK);
    qv_growing_mask(snap.snaps[0].seg, 300, 2, &b);
    cr_assert(qv_bitset_test(&b, 0));
    cr_assert(!qv_bitset_test(&b, 1));
    qv_growing_mask(snap.snaps[0].seg, 299, 2, &b);
    cr_assert(!qv_bitset_test(&b, 0));
    cr_assert(qv_bitset_test(&b, 1));
    qv_bitset_release(&b);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(growing, upsert_insert_before_delete_in_the_log_also_works)
{
    qv_shard *s = qn_shard();
    int64_t a = 8;
    qn_apply_insert(s, &a, 1, 100, 1);
    qn_apply_insert(s, &a, 1, 300, 2);
    qn_apply_delete(s, &a, 1, 300);
    cr_assert_eq(count_at(s, 200, a), 1);
    cr_assert_eq(count_at(s, 300, a), 1);
    qv_shard_free(s);
}

Test(growing, duplicate_pk_newest_version_wins_across_segments)
{
    qv_shard *s = qn_shard();
    int64_t a = 9, b = 10;
    qn_apply_insert(s, &a, 1, 100, 1);
    qn_apply_insert(s, &b, 1, 110, 1);
    qn_apply_insert(s, &a, 1, 200, 2); /* re-insert in another segment */
    cr_assert_eq(count_at(s, 150, a), 1);
    cr_assert_eq(count_at(s, 250, a), 1);
    /* out of order: a version older than both arrives last */
    qn_apply_insert(s, &a, 1, 50, 3);
    cr_assert_eq(count_at(s, 60, a), 1);
    cr_assert_eq(count_at(s, 150, a), 1);
    cr_assert_eq(count_at(s, 250, a), 1);
    /* which version: check the query at 150 sees the ts-100 row's tag */
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    size_t visible = 0;
    for (size_t i = 0; i < snap.n; i++) {
        qv_bitset m;
        cr_assert_eq(qv_bitset_init(&m, snap.snaps[i].rows), QV_OK);
        qv_growing_mask(snap.snaps[i].seg, 150, snap.snaps[i].rows, &m);
        for (size_t r = 0; r < snap.snaps[i].rows; r++)
            if (!qv_bitset_test(&m, r) &&
                qv_col_i64(&snap.snaps[i].cols[0], r) == a) {
                visible++;
                cr_assert_eq(qv_growing_row_ts(snap.snaps[i].seg, r), 100);
            }
        qv_bitset_release(&m);
    }
    cr_assert_eq(visible, 1);
    qv_shard_snap_release(&snap);
    /* the same key twice in one insert: the later row wins */
    int64_t dup[2] = {77, 77};
    qn_apply_insert(s, dup, 2, 400, 4);
    cr_assert_eq(count_at(s, 400, 77), 1);
    qv_shard_free(s);
}

Test(growing, delete_before_late_insert_with_older_timestamp)
{
    qv_shard *s = qn_shard();
    int64_t a = 11;
    /* a delete at 500 reaches the log before an insert stamped 400 */
    qn_apply_delete(s, &a, 1, 500);
    qn_apply_insert(s, &a, 1, 400, 1);
    cr_assert_eq(count_at(s, 450, a), 1);
    cr_assert_eq(count_at(s, 500, a), 0);
    qv_shard_stats st;
    qv_shard_stats_get(s, &st);
    cr_assert_eq(st.delete_buffer, 1);
    qv_shard_trim(s, 500);
    qv_shard_stats_get(s, &st);
    cr_assert_eq(st.delete_buffer, 0);
    cr_assert_eq(count_at(s, 500, a), 0);
    qv_shard_free(s);
}

Test(growing, insert_with_wrong_dim_is_refused)
{
    qv_shard *s = qn_shard();
    qv_field_spec f = qn_fields[1];
    f.dim = 4;
    qv_column *c;
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    float v[4] = {1, 2, 3, 4};
    cr_assert_eq(qv_column_append_fixed(c, v, 1), QV_OK);
    qv_column_publish(c);
    int64_t pk = 1;
    qn_insert x;
    qn_insert_make(&x, &pk, 1, NULL, 10, 1, 1);
    x.v[1] = qv_column_view(c);
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &x.m, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "dim") != NULL, "%s", err.msg);
    qn_insert_free(&x);
    qv_column_free(c);
    qv_shard_free(s);
}

Test(growing, messages_of_another_vchannel_are_refused)
{
    qv_shard *s = qn_shard();
    int64_t pk = 1;
    qn_insert x;
    qn_insert_make(&x, &pk, 1, NULL, 10, 1, 1);
    x.m.vchannel = "p0_7v1";
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &x.m, &err), QV_E_INVALID);
    qn_insert_free(&x);
    qv_shard_free(s);
}

Test(growing, drop_partition_removes_its_segments)
{
    qv_shard *s = qn_shard();
    int64_t pks[2] = {1, 2};
    qn_insert x;
    qn_insert_make(&x, pks, 1, NULL, 10, 1, 1);
    cr_assert_eq(qv_shard_apply(s, &x.m, NULL), QV_OK);
    qn_insert_free(&x);
    qn_insert_make(&x, pks + 1, 1, NULL, 10, 2, 2);
    cr_assert_eq(qv_shard_apply(s, &x.m, NULL), QV_OK);
    qn_insert_free(&x);
    qv_msg d = {.type = QV_MSG_DROP_PARTITION,
                .ts = 20,
                .collection_id = QN_COLL,
                .vchannel = QN_VCH,
                .partition_id = 1};
    cr_assert_eq(qv_shard_apply(s, &d, NULL), QV_OK);
    int64_t *v;
    size_t n = qn_visible(s, 30, &v);
    cr_assert_eq(n, 1);
    cr_assert(has(v, n, 2));
    free(v);
    qv_shard_free(s);
}
