/* fuzz_expr_data.h -- a small segment (every field type of the filter test
 * schema, with NULLs) that the filter fuzz targets evaluate plans on.
 * Built once per process; never freed (the fuzzer exits). */
#ifndef QV_FUZZ_EXPR_DATA_H
#define QV_FUZZ_EXPR_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr/expr.h"
#include "tests/unit/expr/expr_schema.h"

#define FZ_ROWS 70

static qv_expr_binding fz_binds[32];
static qv_column *fz_cols[32]; /* kept reachable for LeakSanitizer */
static size_t fz_nbinds;

static qv_column *fz_col(int64_t id, qv_dtype t, qv_dtype et, bool nullable)
{
    qv_field_spec s = {0};
    s.id = id;
    s.name = "f";
    s.type = t;
    s.elem_type = et;
    s.nullable = nullable;
    s.max_length = 1000;
    s.max_capacity = 16;
    qv_column *c = NULL;
    if (qv_column_create(&s, &c, NULL) != QV_OK)
        abort();
    return c;
}

static void fz_ok(qv_code rc)
{
    if (rc != QV_OK)
        abort();
}

static void fz_setup(void)
{
    if (fz_nbinds)
        return;
    static const char *const strs[] = {"",         "a",   "ab", "abc",
                                       "\xc3\xa9", "x%y", "a_b"};
    static const char *const docs[] = {
        "{\"a\": 1, \"n\": 2}",
        "{\"a\": [1, 2, 3]}",
        "{\"a\": \"ab\"}",
        "{\"a\": null, \"o\": {\"b\": 1.5}}",
        "[1, 2]",
        "{}",
        "{\"a\": true, \"k\": 3, \"tag\": \"x\"}"};
    for (size_t k = 0; k < sizeof(test_fields) / sizeof(test_fields[0]); k++) {
        const qv_expr_field *f = &test_fields[k];
        if (f->type == QV_DT_FLOAT_VECTOR)
            continue;
        qv_column *c = fz_col(f->id, f->type, f->elem_type, f->nullable);
        qv_buf tmp = QV_BUF_INIT;
        for (size_t r = 0; r < FZ_ROWS; r++) {
            if (f->nullable && r % 5 == 0) {
                fz_ok(qv_column_append_null(c, 1));
                continue;
            }
            int64_t iv = (int64_t)(r % 9) - 4;
            int64_t wide[2] = {iv, (int64_t)r};
            double dv = (double)iv / 2;
            float fv = (float)dv;
            const char *s = strs[r % 7];
            switch (f->type) {
            case QV_DT_VARCHAR:
                fz_ok(qv_column_append_var(c, s, strlen(s)));
                break;
            case QV_DT_JSON:
                fz_ok(
                    qv_column_append_var(c, docs[r % 7], strlen(docs[r % 7])));
                break;
            case QV_DT_ARRAY:
                if (f->elem_type == QV_DT_VARCHAR) {
                    const char *a[2] = {s, strs[(r + 1) % 7]};
                    size_t l[2] = {strlen(a[0]), strlen(a[1])};
                    qv_buf_reset(&tmp);
                    fz_ok(qv_col_arr_str_encode(&tmp, a, l, r % 3));
                    fz_ok(qv_column_append_var(c, tmp.data, tmp.len));
                } else {
                    fz_ok(qv_column_append_var(c, wide, (r % 3) * 8));
                }
                break;
            case QV_DT_FLOAT:
                fz_ok(qv_column_append_fixed(c, &fv, 1));
                break;
            case QV_DT_DOUBLE:
                fz_ok(qv_column_append_fixed(c, &dv, 1));
                break;
            default: {
                uint8_t b8 = (uint8_t)(r & 1);
                int8_t i8 = (int8_t)iv;
                int16_t i16 = (int16_t)iv;
                int32_t i32 = (int32_t)iv;
                const void *p = f->type == QV_DT_BOOL    ? (const void *)&b8
                                : f->type == QV_DT_INT8  ? (const void *)&i8
                                : f->type == QV_DT_INT16 ? (const void *)&i16
                                : f->type == QV_DT_INT32 ? (const void *)&i32
                                                         : (const void *)&iv;
                fz_ok(qv_column_append_fixed(c, p, 1));
            }
            }
        }
        qv_buf_release(&tmp);
        qv_column_publish(c);
        fz_cols[fz_nbinds] = c;
        fz_binds[fz_nbinds].field_id = f->id;
        fz_binds[fz_nbinds].col = qv_column_view(c);
        fz_binds[fz_nbinds].index = NULL;
        fz_nbinds++;
    }
}

/* Evaluates a plan on the segment; any failure other than a clean error
 * code is a bug. */
static void fz_eval(const qv_expr_plan *plan)
{
    qv_bitset bs;
    if (qv_bitset_init(&bs, FZ_ROWS) != QV_OK)
        abort();
    qv_err err = {0};
    qv_code rc = qv_expr_eval(plan, fz_binds, fz_nbinds, FZ_ROWS, &bs, &err);
    if (rc != QV_OK && rc != QV_E_NOT_FOUND && rc != QV_E_INVALID) {
        (void)fprintf(stderr, "eval: %s\n", err.msg);
        abort();
    }
    qv_bitset_release(&bs);
}

#endif
