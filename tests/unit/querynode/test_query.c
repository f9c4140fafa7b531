/* Scalar query over a shard: filter, PK order, offset/limit, count(*),
 * output fields. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "qn_helpers.h"
#include "querynode/query.h"

static const qv_expr_field xfields[] = {
    {.id = QN_PK, .name = "pk", .type = QV_DT_INT64, .is_primary = true},
    {.id = QN_TAG, .name = "tag", .type = QV_DT_INT64},
    {.id = QN_NAME, .name = "name", .type = QV_DT_VARCHAR, .nullable = true},
};

static qv_expr_plan *parse(const char *text)
{
    qv_expr_schema sch = {xfields, 3};
    qv_expr_plan *p;
    qv_err err;
    cr_assert_eq(qv_expr_parse(text, strlen(text), &sch, NULL, 0, &p, &err),
                 QV_OK, "%s", err.msg);
    return p;
}

/* pks 1..300 inserted in shuffled order over two segments at ts 100. */
static qv_shard *build(void)
{
    qv_shard *s = qn_shard();
    int64_t pks[300];
    for (int i = 0; i < 300; i++)
        pks[i] = (i * 7919) % 300 + 1;
    qn_apply_insert(s, pks, 150, 100, 1);
    qn_apply_insert(s, pks + 150, 150, 100, 2);
    return s;
}

Test(query, results_come_in_pk_order_with_offset_and_limit)
{
    qv_shard *s = build();
    qv_expr_plan *plan = parse("tag >= 5");
    int64_t out_fields[2] = {QN_NAME, QN_TAG};
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.filter = plan,
                      .output_fields = out_fields,
                      .noutput = 2,
                      .offset = 10,
                      .limit = 20,
                      .ts = 100};
    qv_query_result r;
    qv_err err;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(r.count, 20);
    cr_assert_eq(r.ncols, 3);
    cr_assert_eq(r.field_ids[0], QN_PK);
    cr_assert_eq(r.field_ids[1], QN_NAME);
    qv_col_view pk = qv_column_view(r.cols[0]);
    qv_col_view name = qv_column_view(r.cols[1]);
    qv_col_view tag = qv_column_view(r.cols[2]);
    /* rows with tag >= 5: pk % 10 in 5..9; the 11th such is pk 25 */
    int64_t want = 0;
    int seen = 0;
    for (int64_t p = 1; p <= 300 && seen < 11; p++)
        if (p % 10 >= 5 && ++seen == 11)
            want = p;
    for (size_t i = 0; i < 20; i++) {
        int64_t p = qv_col_i64(&pk, i);
        cr_assert_eq(p, want, "row %zu: %lld want %lld", i, (long long)p,
                     (long long)want);
        cr_assert_eq(qv_col_i64(&tag, i), p % 10);
        if (p % 7 == 3) {
            cr_assert(qv_col_is_null(&name, i));
        } else {
            char buf[32];
            int k = snprintf(buf, sizeof buf, "n%lld", (long long)p);
            size_t n;
            const uint8_t *sv = qv_col_var(&name, i, &n);
            cr_assert_eq(n, (size_t)k);
            cr_assert(memcmp(sv, buf, n) == 0);
        }
        do
            want++;
        while (want % 10 < 5);
    }
    qv_query_result_release(&r);
    qv_shard_snap_release(&snap);
    qv_expr_plan_free(plan);
    qv_shard_free(s);
}

Test(query, count_star_is_exact_after_deletes_and_duplicates)
{
    qv_shard *s = build();
    int64_t del[3] = {1, 2, 3};
    qn_apply_delete(s, del, 3, 200);
    int64_t again[2] = {10, 11}; /* re-inserted keys count once */
    qn_apply_insert(s, again, 2, 210, 3);
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.count_only = true, .ts = 300};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 297);
    q.ts = 150;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 300);
    q.ts = 50;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 0);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(query, partitions_limit_the_segments_read)
{
    qv_shard *s = qn_shard();
    int64_t a[2] = {1, 2}, b[2] = {3, 4};
    qn_insert x;
    qn_insert_make(&x, a, 2, NULL, 100, 1, 11);
    cr_assert_eq(qv_shard_apply(s, &x.m, NULL), QV_OK);
    qn_insert_free(&x);
    qn_insert_make(&x, b, 2, NULL, 100, 2, 22);
    cr_assert_eq(qv_shard_apply(s, &x.m, NULL), QV_OK);
    qn_insert_free(&x);
    int64_t parts[1] = {22};
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.partitions = parts, .npartitions = 1, .ts = 100};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 2);
    qv_col_view pk = qv_column_view(r.cols[0]);
    cr_assert_eq(qv_col_i64(&pk, 0), 3);
    cr_assert_eq(qv_col_i64(&pk, 1), 4);
    qv_query_result_release(&r);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}

Test(query, unknown_output_field_is_an_error)
{
    qv_shard *s = build();
    int64_t f = 999;
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.output_fields = &f, .noutput = 1, .ts = 100};
    qv_query_result r;
    qv_err err;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "999") != NULL, "%s", err.msg);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}
