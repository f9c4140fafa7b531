/* Query results convert to protobuf FieldData (proto/convert_fielddata.h):
 * the columns a query node returns are what the proxy sends. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common/arena.h"
#include "proto/convert_fielddata.h"
#include "qn_helpers.h"
#include "querynode/query.h"

Test(query_fielddata, result_columns_convert_to_fielddata)
{
    qv_shard *s = qn_shard();
    int64_t pks[5] = {50, 10, 40, 20, 30};
    qn_apply_insert(s, pks, 5, 100, 1);
    int64_t out_fields[2] = {QN_VEC, QN_NAME};
    qv_shard_snap snap;
    qv_shard_acquire(s, &snap);
    qv_query_req q = {.output_fields = out_fields, .noutput = 2, .ts = 100};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&snap, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 5);
    qv_arena arena;
    qv_arena_init(&arena, 0);
    Milvus__Proto__Schema__FieldData *fd[3];
    qv_err err;
    for (size_t c = 0; c < r.ncols; c++) {
        const qv_field_spec *spec = NULL;
        for (size_t i = 0; i < 4; i++)
            if (qn_fields[i].id == r.field_ids[c])
                spec = &qn_fields[i];
        qv_col_view v = qv_column_view(r.cols[c]);
        cr_assert_eq(
            qv_column_to_fielddata(&v, spec, NULL, 0, &arena, &fd[c], &err),
            QV_OK, "%s", err.msg);
    }
    /* PK order: 10, 20, 30, 40, 50 */
    cr_assert_str_eq(fd[0]->field_name, "pk");
    Milvus__Proto__Schema__LongArray *la = fd[0]->scalars->long_data;
    cr_assert_eq(la->n_data, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(la->data[i], (int64_t)(i + 1) * 10);
    cr_assert_eq(fd[1]->vectors->dim, QN_DIM);
    cr_assert_eq(fd[1]->vectors->float_vector->n_data, 5 * QN_DIM);
    float want[QN_DIM];
    qn_vec_of(30, want);
    cr_assert(memcmp(fd[1]->vectors->float_vector->data + 2 * QN_DIM, want,
                     sizeof want) == 0);
    cr_assert_str_eq(fd[2]->scalars->string_data->data[1], "n20");
    cr_assert_eq(fd[2]->n_valid_data, 5);
    cr_assert(!fd[2]->valid_data[0]); /* pk 10 has a NULL name */
    qv_arena_release(&arena);
    qv_query_result_release(&r);
    qv_shard_snap_release(&snap);
    qv_shard_free(s);
}
