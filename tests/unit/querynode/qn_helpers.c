#include "qn_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "querynode/query.h"

const qv_field_spec qn_fields[4] = {
    {.id = QN_PK, .name = "pk", .type = QV_DT_INT64},
    {.id = QN_VEC, .name = "vec", .type = QV_DT_FLOAT_VECTOR, .dim = QN_DIM},
    {.id = QN_TAG, .name = "tag", .type = QV_DT_INT64},
    {.id = QN_NAME,
     .name = "name",
     .type = QV_DT_VARCHAR,
     .max_length = 64,
     .nullable = true},
};
const qv_seg_schema qn_schema = {qn_fields, 4, QN_PK};

void qn_vec_of(int64_t pk, float *out)
{
    uint64_t x = (uint64_t)pk * 0x9e3779b97f4a7c15ull + 12345;
    for (int d = 0; d < QN_DIM; d++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 32;
        out[d] = (float)(x % 20000) / 1000.0f - 10.0f;
    }
}

void qn_insert_make(qn_insert *x, const int64_t *pks, size_t n,
                    const float *vecs, qv_ts ts, int64_t seg, int64_t part)
{
    for (int f = 0; f < 4; f++) {
        cr_assert_eq(qv_column_create(&qn_fields[f], &x->c[f], NULL), QV_OK);
        x->ids[f] = qn_fields[f].id;
    }
    for (size_t i = 0; i < n; i++) {
        float v[QN_DIM];
        if (vecs)
            memcpy(v, vecs + i * QN_DIM, sizeof v);
        else
            qn_vec_of(pks[i], v);
        int64_t tag = pks[i] % 10;
        cr_assert_eq(qv_column_append_fixed(x->c[0], &pks[i], 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(x->c[1], v, 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(x->c[2], &tag, 1), QV_OK);
        if (pks[i] % 7 == 3) {
            cr_assert_eq(qv_column_append_null(x->c[3], 1), QV_OK);
        } else {
            char s[32];
            int k = snprintf(s, sizeof s, "n%lld", (long long)pks[i]);
            cr_assert_eq(qv_column_append_var(x->c[3], s, (size_t)k), QV_OK);
        }
    }
    for (int f = 0; f < 4; f++) {
        qv_column_publish(x->c[f]);
        x->v[f] = qv_column_view(x->c[f]);
    }
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = ts,
                .collection_id = QN_COLL,
                .vchannel = QN_VCH,
                .partition_id = part,
                .segment_id = seg,
                .pk_field_id = QN_PK,
                .rows = n,
                .nfields = 4,
                .field_ids = x->ids,
                .cols = x->v};
    x->m = m;
}

void qn_insert_free(qn_insert *x)
{
    for (int f = 0; f < 4; f++)
        qv_column_free(x->c[f]);
}

void qn_delete_make(qn_delete *x, const int64_t *pks, size_t n, qv_ts ts,
                    int64_t part)
{
    cr_assert_eq(qv_column_create(&qn_fields[0], &x->c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_fixed(x->c, pks, n), QV_OK);
    qv_column_publish(x->c);
    x->v = qv_column_view(x->c);
    qv_msg m = {.type = QV_MSG_DELETE,
                .ts = ts,
                .collection_id = QN_COLL,
                .vchannel = QN_VCH,
                .partition_id = part,
                .pk_field_id = QN_PK,
                .rows = n,
                .nfields = 1,
                .cols = &x->v};
    x->m = m;
}

void qn_delete_free(qn_delete *x)
{
    qv_column_free(x->c);
}

qv_shard *qn_shard(void)
{
    qv_shard_config cfg = {
        .collection_id = QN_COLL, .vchannel = QN_VCH, .schema = qn_schema};
    qv_shard *s;
    cr_assert_eq(qv_shard_create(&cfg, &s, NULL), QV_OK);
    return s;
}

void qn_apply_insert(qv_shard *s, const int64_t *pks, size_t n, qv_ts ts,
                     int64_t seg)
{
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ts, seg, 1);
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &x.m, &err), QV_OK, "%s", err.msg);
    qn_insert_free(&x);
}

void qn_apply_delete(qv_shard *s, const int64_t *pks, size_t n, qv_ts ts)
{
    qn_delete x;
    qn_delete_make(&x, pks, n, ts, QV_PARTITION_ALL);
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &x.m, &err), QV_OK, "%s", err.msg);
    qn_delete_free(&x);
}

size_t qn_visible(qv_shard *s, qv_ts R, int64_t **pks)
{
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.ts = R};
    qv_query_result res;
    qv_err err;
    cr_assert_eq(qv_shard_query(&snap, &q, &res, &err), QV_OK, "%s", err.msg);
    size_t n = (size_t)res.count;
    *pks = qv_xmalloc((n ? n : 1) * sizeof(int64_t));
    qv_col_view v = qv_column_view(res.cols[0]);
    cr_assert_eq(v.rows, n);
    for (size_t i = 0; i < n; i++)
        (*pks)[i] = qv_col_i64(&v, i);
    qv_query_result_release(&res);
    qv_shard_snap_release(&snap);
    return n;
}
