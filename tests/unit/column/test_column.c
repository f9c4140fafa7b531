/* Tests of common/column: every type through memory columns, the column
 * file format and mmap; damaged files; publication to readers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/hash.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct tcase {
    qv_dtype type, elem;
    uint32_t dim;
} tcase;

static const tcase all_types[] = {
    {QV_DT_BOOL, 0, 0},
    {QV_DT_INT8, 0, 0},
    {QV_DT_INT16, 0, 0},
    {QV_DT_INT32, 0, 0},
    {QV_DT_INT64, 0, 0},
    {QV_DT_FLOAT, 0, 0},
    {QV_DT_DOUBLE, 0, 0},
    {QV_DT_VARCHAR, 0, 0},
    {QV_DT_JSON, 0, 0},
    {QV_DT_ARRAY, QV_DT_INT32, 0},
    {QV_DT_ARRAY, QV_DT_INT64, 0},
    {QV_DT_ARRAY, QV_DT_BOOL, 0},
    {QV_DT_ARRAY, QV_DT_DOUBLE, 0},
    {QV_DT_ARRAY, QV_DT_VARCHAR, 0},
    {QV_DT_FLOAT_VECTOR, 0, 7},
    {QV_DT_FLOAT16_VECTOR, 0, 16},
    {QV_DT_BFLOAT16_VECTOR, 0, 3},
    {QV_DT_INT8_VECTOR, 0, 32},
    {QV_DT_BINARY_VECTOR, 0, 64},
    {QV_DT_SPARSE_FLOAT_VECTOR, 0, 0},
};
#define NTYPES (sizeof all_types / sizeof all_types[0])

/* Appends one generated row (valid) of the column's type. */
static void append_row(qv_column *c, const tcase *t, size_t i)
{
    uint8_t tmp[4096];
    size_t w = qv_dtype_width(t->type, t->dim);
    if (w) {
        for (size_t k = 0; k < w; k++)
            tmp[k] = (uint8_t)rnd();
        if (t->type == QV_DT_BOOL)
            tmp[0] &= 1;
        if (t->type == QV_DT_FLOAT || t->type == QV_DT_FLOAT_VECTOR) {
            for (size_t k = 0; k < w / 4; k++) {
                float f = (float)(rnd() % 1000) / 7.0f;
                memcpy(tmp + 4 * k, &f, 4);
            }
        }
        if (t->type == QV_DT_DOUBLE) {
            double d = (double)(int64_t)rnd() / 3.0;
            memcpy(tmp, &d, 8);
        }
        cr_assert_eq(qv_column_append_fixed(c, tmp, 1), QV_OK);
        return;
    }
    size_t len = 0;
    switch (t->type) {
    case QV_DT_VARCHAR:
        len = (size_t)snprintf((char *)tmp, sizeof tmp, "str-%zu-%llu", i,
                               (unsigned long long)(rnd() % 1000));
        if (i % 7 == 0)
            len = 0; /* empty strings too */
        break;
    case QV_DT_JSON:
        len = (size_t)snprintf((char *)tmp, sizeof tmp,
                               "{\"a\":%zu,\"b\":[1,\"x\"]}", i);
        break;
    case QV_DT_SPARSE_FLOAT_VECTOR: {
        uint32_t idx = (uint32_t)(rnd() % 50);
        size_t nnz = rnd() % 5;
        for (size_t k = 0; k < nnz; k++) {
            float v = (float)k + 0.5f;
            memcpy(tmp + 8 * k, &idx, 4);
            memcpy(tmp + 8 * k + 4, &v, 4);
            idx += 1 + (uint32_t)(rnd() % 1000);
        }
        len = 8 * nnz;
        break;
    }
    case QV_DT_ARRAY:
        if (t->elem == QV_DT_VARCHAR) {
            qv_buf b = QV_BUF_INIT;
            const char *s[3] = {"a", "", "héllo"};
            size_t l[3] = {1, 0, strlen("héllo")};
            cr_assert_eq(qv_col_arr_str_encode(&b, s, l, i % 4 == 3 ? 0 : 3),
                         QV_OK);
            cr_assert_eq(qv_column_append_var(c, b.data, b.len), QV_OK);
            qv_buf_release(&b);
            return;
        }
        len = (rnd() % 6) * qv_dtype_elem_width(t->elem);
        for (size_t k = 0; k < len; k++)
            tmp[k] = (uint8_t)rnd();
        if (t->elem == QV_DT_BOOL)
            for (size_t k = 0; k < len; k++)
                tmp[k] &= 1;
        break;
    default:
        cr_assert_fail("unhandled type");
    }
    cr_assert_eq(qv_column_append_var(c, tmp, len), QV_OK);
}

static qv_column *make_column(const tcase *t, size_t rows, bool nullable)
{
    qv_field_spec spec = {.id = 101,
                          .name = "f",
                          .type = t->type,
                          .elem_type = t->elem,
                          .dim = t->dim,
                          .max_length = 100,
                          .max_capacity = 10,
                          .nullable = nullable};
    qv_column *c;
    qv_err err = {0};
    cr_assert_eq(qv_column_create(&spec, &c, &err), QV_OK, "%s %s",
                 qv_dtype_name(t->type), err.msg);
    for (size_t i = 0; i < rows; i++) {
        if (nullable && i % 3 == 1)
            cr_assert_eq(qv_column_append_null(c, 1), QV_OK);
        else
            append_row(c, t, i);
    }
    qv_column_publish(c);
    return c;
}

static void assert_views_equal(const qv_col_view *a, const qv_col_view *b)
{
    cr_assert_eq(a->type, b->type);
    cr_assert_eq(a->rows, b->rows);
    cr_assert_eq(a->dim, b->dim, "dim %u vs %u", a->dim, b->dim);
    cr_assert_eq(a->width, b->width);
    for (size_t i = 0; i < a->rows; i++) {
        cr_assert_eq(qv_col_is_null(a, i), qv_col_is_null(b, i), "row %zu", i);
        if (a->width) {
            cr_assert_eq(
                memcmp(qv_col_fixed(a, i), qv_col_fixed(b, i), a->width), 0,
                "row %zu", i);
        } else {
            size_t la, lb;
            const uint8_t *pa = qv_col_var(a, i, &la);
            const uint8_t *pb = qv_col_var(b, i, &lb);
            cr_assert_eq(la, lb, "row %zu", i);
            cr_assert(la == 0 || memcmp(pa, pb, la) == 0, "row %zu", i);
        }
    }
}

static void *aligned_copy(const void *p, size_t n)
{
    void *q = qv_try_aligned_alloc(n ? n : 1, 1);
    cr_assert_not_null(q);
    memcpy(q, p, n);
    return q;
}

Test(column, every_type_round_trips_through_memory_and_file)
{
    for (int nullable = 0; nullable <= 1; nullable++) {
        for (size_t t = 0; t < NTYPES; t++) {
            rng_state = t;
            qv_column *c = make_column(&all_types[t], 300, nullable);
            qv_col_view v = qv_column_view(c);
            cr_assert_eq(v.rows, 300);
            cr_assert_eq(v.valid != NULL, (bool)nullable);
            qv_buf b = QV_BUF_INIT;
            qv_err err = {0};
            cr_assert_eq(qv_column_file_encode(&v, 101, &b, &err), QV_OK);
            void *img = aligned_copy(b.data, b.len);
            qv_column *l;
            cr_assert_eq(qv_column_load(img, b.len, 0, &l, &err), QV_OK,
                         "%s: %s", qv_dtype_name(all_types[t].type), err.msg);
            qv_col_view lv = qv_column_view(l);
            assert_views_equal(&v, &lv);
            cr_assert_eq(qv_column_field_id(l), 101);
            if (lv.width)
                cr_assert_eq((uintptr_t)lv.data % 64, 0);
            qv_column_free(l);
            qv_aligned_free(img);
            qv_buf_release(&b);
            qv_column_free(c);
        }
    }
}

Test(column, typed_accessors_read_what_was_written)
{
    qv_field_spec spec = {.id = 100, .name = "x", .type = QV_DT_INT16};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    int16_t vals[] = {-32768, -1, 0, 7, 32767};
    cr_assert_eq(qv_column_append_fixed(c, vals, 5), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(qv_col_i16(&v, i), vals[i]);
        cr_assert_eq(qv_col_get_int(&v, i), vals[i]);
    }
    qv_column_free(c);

    spec = (qv_field_spec){.id = 100,
                           .name = "arr",
                           .type = QV_DT_ARRAY,
                           .elem_type = QV_DT_INT64,
                           .max_capacity = 4};
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    int64_t a[] = {INT64_MIN, 5, INT64_MAX};
    cr_assert_eq(qv_column_append_var(c, a, sizeof a), QV_OK);
    cr_assert_eq(qv_column_append_var(c, a, 0), QV_OK);
    qv_column_publish(c);
    v = qv_column_view(c);
    cr_assert_eq(qv_col_arr_len(&v, 0), 3);
    cr_assert_eq(qv_col_arr_len(&v, 1), 0);
    cr_assert_eq(qv_col_arr_int(&v, 0, 0), INT64_MIN);
    cr_assert_eq(qv_col_arr_int(&v, 0, 2), INT64_MAX);
    qv_column_free(c);
}

Test(column, varchar_array_elements_are_readable)
{
    rng_state = 1;
    tcase t = {QV_DT_ARRAY, QV_DT_VARCHAR, 0};
    qv_column *c = make_column(&t, 8, false);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(qv_col_arr_len(&v, 0), 3);
    cr_assert_eq(qv_col_arr_len(&v, 3), 0);
    size_t len;
    const char *s = qv_col_arr_str(&v, 0, 2, &len);
    cr_assert_eq(len, strlen("héllo"));
    cr_assert_eq(memcmp(s, "héllo", len), 0);
    s = qv_col_arr_str(&v, 0, 1, &len);
    cr_assert_eq(len, 0);
    qv_column_free(c);
}

Test(column, sparse_dim_tracks_the_largest_index)
{
    qv_field_spec spec = {
        .id = 100, .name = "sp", .type = QV_DT_SPARSE_FLOAT_VECTOR};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    uint8_t row[16];
    uint32_t i0 = 3, i1 = 90000;
    float f = 1.5f;
    memcpy(row, &i0, 4);
    memcpy(row + 4, &f, 4);
    memcpy(row + 8, &i1, 4);
    memcpy(row + 12, &f, 4);
    cr_assert_eq(qv_column_append_var(c, row, 16), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(v.dim, 90001);
    cr_assert_eq(qv_col_sparse_nnz(&v, 0), 2);
    uint32_t idx;
    float val;
    qv_col_sparse_at(&v, 0, 1, &idx, &val);
    cr_assert_eq(idx, 90000);
    cr_assert_float_eq(val, 1.5f, 0);
    qv_column_free(c);
}

Test(column, readers_see_only_published_rows)
{
    qv_field_spec spec = {.id = 100, .name = "x", .type = QV_DT_INT64};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    int64_t x = 42;
    cr_assert_eq(qv_column_append_fixed(c, &x, 1), QV_OK);
    cr_assert_eq(qv_column_rows(c), 0);
    qv_column_publish(c);
    qv_col_view old = qv_column_view(c);
    cr_assert_eq(old.rows, 1);
    /* Growth moves the buffers; the old view must stay readable. */
    for (int64_t i = 0; i < 100000; i++)
        cr_assert_eq(qv_column_append_fixed(c, &i, 1), QV_OK);
    cr_assert_eq(qv_column_rows(c), 1);
    cr_assert_eq(qv_col_i64(&old, 0), 42);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(v.rows, 100001);
    cr_assert_eq(qv_col_i64(&v, 100000), 99999);
    /* Replaced buffers are counted until reclaimed. */
    size_t before = qv_column_memory_size(c);
    qv_column_reclaim(c);
    size_t after = qv_column_memory_size(c);
    cr_assert_lt(after, before);
    cr_assert_geq(after, 100001 * 8);
    v = qv_column_view(c);
    cr_assert_eq(qv_col_i64(&v, 0), 42);
    cr_assert_eq(qv_col_i64(&v, 100000), 99999);
    qv_column_free(c);
}

typedef struct race {
    qv_column *c;
    int bad;
} race;

static void *reader(void *arg)
{
    race *r = arg;
    for (int it = 0; it < 20000; it++) {
        qv_col_view v = qv_column_view(r->c);
        if (v.rows == 0)
            continue;
        size_t len;
        const uint8_t *p = qv_col_var(&v, v.rows - 1, &len);
        uint64_t want = v.rows - 1;
        uint64_t got;
        if (len != 8)
            r->bad++;
        memcpy(&got, p, 8);
        if (got != want)
            r->bad++;
    }
    return NULL;
}

Test(column, concurrent_readers_see_consistent_snapshots)
{
    qv_field_spec spec = {
        .id = 100, .name = "s", .type = QV_DT_VARCHAR, .max_length = 16};
    race r = {0};
    cr_assert_eq(qv_column_create(&spec, &r.c, NULL), QV_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader, &r);
    for (uint64_t i = 0; i < 50000; i++) {
        cr_assert_eq(qv_column_append_var(r.c, &i, 8), QV_OK);
        qv_column_publish(r.c);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(r.bad, 0);
    qv_column_free(r.c);
}

static void *null_reader(void *arg)
{
    race *r = arg;
    for (int it = 0; it < 20000; it++) {
        qv_col_view v = qv_column_view(r->c);
        size_t from = v.rows > 70 ? v.rows - 70 : 0;
        for (size_t i = from; i < v.rows; i++) {
            bool want_null = i % 3 == 0;
            if (qv_col_is_null(&v, i) != want_null)
                r->bad++;
            if (!want_null && qv_col_i32(&v, i) != (int32_t)i)
                r->bad++;
        }
    }
    return NULL;
}

Test(column, concurrent_readers_see_published_nulls)
{
    qv_field_spec spec = {
        .id = 100, .name = "n", .type = QV_DT_INT32, .nullable = true};
    race r = {0};
    cr_assert_eq(qv_column_create(&spec, &r.c, NULL), QV_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, null_reader, &r);
    for (int32_t i = 0; i < 60000; i++) {
        if (i % 3 == 0)
            cr_assert_eq(qv_column_append_null(r.c, 1), QV_OK);
        else
            cr_assert_eq(qv_column_append_fixed(r.c, &i, 1), QV_OK);
        qv_column_publish(r.c);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(r.bad, 0);
    qv_col_view v = qv_column_view(r.c);
    cr_assert_eq(v.rows, 60000);
    size_t nulls = 0;
    for (size_t i = 0; i < v.rows; i++)
        nulls += qv_col_is_null(&v, i);
    cr_assert_eq(nulls, 20000);
    qv_column_free(r.c);
}

Test(column, append_view_copies_rows_and_nulls)
{
    tcase t = {QV_DT_VARCHAR, 0, 0};
    rng_state = 9;
    qv_column *src = make_column(&t, 50, true);
    qv_field_spec spec = {.id = 1,
                          .name = "d",
                          .type = QV_DT_VARCHAR,
                          .max_length = 100,
                          .nullable = true};
    qv_column *dst;
    cr_assert_eq(qv_column_create(&spec, &dst, NULL), QV_OK);
    qv_col_view sv = qv_column_view(src);
    cr_assert_eq(qv_column_append_view(dst, &sv, NULL), QV_OK);
    cr_assert_eq(qv_column_append_view(dst, &sv, NULL), QV_OK);
    qv_column_publish(dst);
    qv_col_view dv = qv_column_view(dst);
    cr_assert_eq(dv.rows, 100);
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq(qv_col_is_null(&dv, i), qv_col_is_null(&sv, i % 50));
        size_t la, lb;
        const uint8_t *a = qv_col_var(&dv, i, &la);
        const uint8_t *b = qv_col_var(&sv, i % 50, &lb);
        cr_assert_eq(la, lb);
        cr_assert(la == 0 || memcmp(a, b, la) == 0);
    }
    /* Nulls cannot go into a non-nullable column. */
    spec.nullable = false;
    qv_column *nn;
    cr_assert_eq(qv_column_create(&spec, &nn, NULL), QV_OK);
    qv_err err = {0};
    cr_assert_eq(qv_column_append_view(nn, &sv, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "row 1 is null"), "%s", err.msg);
    cr_assert_eq(qv_column_append_null(nn, 1), QV_E_INVALID);
    qv_column_free(nn);
    qv_column_free(dst);
    qv_column_free(src);
}

Test(column, append_rows_picks_rows_in_order)
{
    const tcase ts[] = {{QV_DT_INT64, 0, 0},
                        {QV_DT_ARRAY, QV_DT_VARCHAR, 0},
                        {QV_DT_FLOAT_VECTOR, 0, 5}};
    int64_t rows[] = {9, 0, 0, 4, 7, 1};
    for (size_t t = 0; t < 3; t++) {
        rng_state = 40 + t;
        qv_column *src = make_column(&ts[t], 10, true);
        qv_col_view sv = qv_column_view(src);
        qv_field_spec spec = *qv_column_spec(src);
        qv_column *dst;
        cr_assert_eq(qv_column_create(&spec, &dst, NULL), QV_OK);
        qv_err err = {0};
        cr_assert_eq(qv_column_append_rows(dst, &sv, rows, 6, &err), QV_OK,
                     "%s", err.msg);
        qv_column_publish(dst);
        qv_col_view dv = qv_column_view(dst);
        cr_assert_eq(dv.rows, 6);
        for (size_t i = 0; i < 6; i++) {
            size_t r = (size_t)rows[i];
            cr_assert_eq(qv_col_is_null(&dv, i), qv_col_is_null(&sv, r));
            if (dv.width) {
                cr_assert_eq(memcmp(qv_col_fixed(&dv, i), qv_col_fixed(&sv, r),
                                    dv.width),
                             0);
            } else {
                size_t la, lb;
                const uint8_t *a = qv_col_var(&dv, i, &la);
                const uint8_t *b = qv_col_var(&sv, r, &lb);
                cr_assert_eq(la, lb);
                cr_assert(la == 0 || memcmp(a, b, la) == 0);
            }
        }
        int64_t bad = 10;
        cr_assert_eq(qv_column_append_rows(dst, &sv, &bad, 1, &err),
                     QV_E_INVALID);
        cr_assert(strstr(err.msg, "row 10 is outside"), "%s", err.msg);
        qv_column_free(dst);
        qv_column_free(src);
    }
}

Test(column, append_default_fills_defaults_or_nulls)
{
    qv_field_spec f = {.id = 100,
                       .name = "d",
                       .type = QV_DT_DOUBLE,
                       .has_default = true,
                       .default_value = qv_value_int(3)};
    qv_column *c;
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_default(c, 3), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(v.rows, 3);
    cr_assert_float_eq(qv_col_f64(&v, 2), 3.0, 0);
    qv_column_free(c);

    char dflt[] = "n/a";
    f = (qv_field_spec){.id = 101,
                        .name = "s",
                        .type = QV_DT_VARCHAR,
                        .max_length = 8,
                        .has_default = true,
                        .default_value = qv_value_str(dflt, 3)};
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    dflt[0] = 'X'; /* the column keeps its own copy */
    cr_assert_eq(qv_column_append_default(c, 2), QV_OK);
    qv_column_publish(c);
    v = qv_column_view(c);
    size_t len;
    const uint8_t *p = qv_col_var(&v, 1, &len);
    cr_assert(len == 3 && memcmp(p, "n/a", 3) == 0);
    qv_column_free(c);

    f = (qv_field_spec){.id = 102,
                        .name = "i",
                        .type = QV_DT_INT16,
                        .has_default = true,
                        .default_value = qv_value_int(-300)};
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_default(c, 1), QV_OK);
    qv_column_publish(c);
    v = qv_column_view(c);
    cr_assert_eq(qv_col_i16(&v, 0), -300);
    qv_column_free(c);

    f = (qv_field_spec){
        .id = 103, .name = "n", .type = QV_DT_INT64, .nullable = true};
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_default(c, 2), QV_OK);
    qv_column_publish(c);
    v = qv_column_view(c);
    cr_assert(qv_col_is_null(&v, 0) && qv_col_is_null(&v, 1));
    qv_column_free(c);
    f.nullable = false;
    cr_assert_eq(qv_column_create(&f, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_default(c, 1), QV_E_INVALID);
    qv_column_free(c);
}

Test(column, spec_check_names_the_problem)
{
    qv_err err = {0};
    qv_field_spec f = {.name = "v", .type = QV_DT_BINARY_VECTOR, .dim = 12};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "'v'") && strstr(err.msg, "multiple of 8"));
    f = (qv_field_spec){.name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = 40000};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    f = (qv_field_spec){.name = "s", .type = QV_DT_VARCHAR, .max_length = 0};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "max_length"), "%s", err.msg);
    f = (qv_field_spec){.name = "a",
                        .type = QV_DT_ARRAY,
                        .elem_type = QV_DT_JSON,
                        .max_capacity = 4};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    f = (qv_field_spec){.name = "i",
                        .type = QV_DT_INT32,
                        .has_default = true,
                        .default_value = qv_value_str("x", 1)};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    f.default_value = qv_value_int(5);
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_OK);
    f.type = QV_DT_INT8;
    f.default_value = qv_value_int(300);
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "300 is out of range for Int8"), "%s", err.msg);
    f = (qv_field_spec){.name = "s",
                        .type = QV_DT_VARCHAR,
                        .max_length = 4,
                        .has_default = true,
                        .default_value = qv_value_str("\xff", 1)};
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    f.default_value = qv_value_str("abcde", 5);
    cr_assert_eq(qv_field_spec_check(&f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "longer than max_length 4"), "%s", err.msg);
}

/* ---- files ----------------------------------------------------------- */

static void encode_type(const tcase *t, size_t rows, bool nullable, qv_buf *b)
{
    rng_state = 77;
    qv_column *c = make_column(t, rows, nullable);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(qv_column_file_encode(&v, 100, b, NULL), QV_OK);
    qv_column_free(c);
}

static qv_code try_load(const void *p, size_t n, unsigned flags)
{
    void *img = aligned_copy(p, n);
    qv_column *c = NULL;
    qv_err err = {0};
    qv_code rc = qv_column_load(img, n, flags, &c, &err);
    if (rc == QV_OK) {
        qv_col_view v = qv_column_view(c);
        for (size_t i = 0; i < v.rows; i++) /* touch every row */
            if (v.type == QV_DT_ARRAY)
                (void)qv_col_arr_len(&v, i);
        qv_column_free(c);
    } else {
        cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%s", err.msg);
        cr_assert(strstr(err.msg, "column file"), "%s", err.msg);
    }
    qv_aligned_free(img);
    return rc;
}

Test(column_file, every_flipped_byte_is_rejected)
{
    const tcase ts[] = {{QV_DT_INT32, 0, 0},
                        {QV_DT_VARCHAR, 0, 0},
                        {QV_DT_ARRAY, QV_DT_VARCHAR, 0}};
    for (size_t t = 0; t < 3; t++) {
        qv_buf b = QV_BUF_INIT;
        encode_type(&ts[t], 20, true, &b);
        uint8_t *copy = qv_xmalloc(b.len);
        for (size_t i = 0; i < b.len; i++) {
            memcpy(copy, b.data, b.len);
            copy[i] ^= 0x5a;
            /* Reserved header bytes are outside the checks' meaning but
             * inside the header checksum; padding is in the body one. */
            cr_assert_neq(try_load(copy, b.len, 0), QV_OK, "type %zu byte %zu",
                          t, i);
        }
        free(copy);
        qv_buf_release(&b);
    }
}

Test(column_file, truncated_and_extended_files_are_rejected)
{
    qv_buf b = QV_BUF_INIT;
    tcase t = {QV_DT_FLOAT_VECTOR, 0, 8};
    encode_type(&t, 10, false, &b);
    for (size_t n = 0; n < b.len; n += 7)
        cr_assert_neq(try_load(b.data, n, 0), QV_OK, "len %zu", n);
    cr_assert_eq(qv_buf_append(&b, "x", 1), QV_OK);
    cr_assert_neq(try_load(b.data, b.len, 0), QV_OK);
    qv_buf_release(&b);
}

/* Rewrites both checksums so a structural change gets past them. */
static void reseal(uint8_t *f, size_t len)
{
    uint32_t body = qv_crc32c(0, f + 128, len - 128);
    memcpy(f + 104, &body, 4);
    uint32_t hdr = qv_crc32c(0, f, 108);
    memcpy(f + 108, &hdr, 4);
}

Test(column_file, resealed_structural_damage_is_rejected)
{
    qv_buf b = QV_BUF_INIT;
    tcase t = {QV_DT_ARRAY, QV_DT_VARCHAR, 0};
    encode_type(&t, 10, false, &b);
    uint8_t *f = (uint8_t *)b.data;
    uint64_t ooff;
    memcpy(&ooff, f + 64, 8);
    /* Offsets that decrease. */
    uint64_t big = 1000000;
    uint8_t *copy = qv_xmalloc(b.len);
    memcpy(copy, f, b.len);
    memcpy(copy + ooff + 8 * 3, &big, 8);
    reseal(copy, b.len);
    cr_assert_eq(try_load(copy, b.len, 0), QV_E_CORRUPT);
    /* An array row whose element count lies. */
    uint64_t doff, r0;
    memcpy(&doff, f + 80, 8);
    memcpy(&r0, f + ooff, 8);
    memcpy(copy, f, b.len);
    uint32_t n = 1000;
    memcpy(copy + doff + r0, &n, 4);
    reseal(copy, b.len);
    cr_assert_eq(try_load(copy, b.len, 0), QV_E_CORRUPT);
    /* A wrong width for the type. */
    memcpy(copy, f, b.len);
    uint32_t type = QV_DT_INT64;
    memcpy(copy + 16, &type, 4);
    reseal(copy, b.len);
    cr_assert_eq(try_load(copy, b.len, 0), QV_E_CORRUPT);
    /* A row count that does not match the sections. */
    memcpy(copy, f, b.len);
    uint64_t rows = 11;
    memcpy(copy + 32, &rows, 8);
    reseal(copy, b.len);
    cr_assert_eq(try_load(copy, b.len, 0), QV_E_CORRUPT);
    free(copy);
    qv_buf_release(&b);
}

Test(column_file, version_and_checksum_errors_have_detail_codes)
{
    qv_buf b = QV_BUF_INIT;
    tcase t = {QV_DT_INT64, 0, 0};
    encode_type(&t, 10, false, &b);
    void *img = aligned_copy(b.data, b.len);
    uint8_t *f = img;
    qv_column *c;
    f[4] = 9;
    reseal(f, b.len);
    cr_assert_eq(qv_column_load(img, b.len, 0, &c, NULL), QV_E_CORRUPT_VERSION);
    f[4] = 1;
    reseal(f, b.len);
    f[200] ^= 1;
    cr_assert_eq(qv_column_load(img, b.len, 0, &c, NULL),
                 QV_E_CORRUPT_CHECKSUM);
    /* NO_VERIFY skips the payload checksum (fixed-width values only). */
    cr_assert_eq(qv_column_load(img, b.len, QV_COLUMN_NO_VERIFY, &c, NULL),
                 QV_OK);
    qv_column_free(c);
    qv_aligned_free(img);
    qv_buf_release(&b);
}

Test(column_file, mmapped_file_is_used_in_place)
{
    char dir[] = "/tmp/qvcolXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *path = qv_xasprintf("%s/f.col", dir);
    for (size_t t = 0; t < NTYPES; t++) {
        rng_state = t + 100;
        qv_column *c = make_column(&all_types[t], 1000, t % 2);
        qv_col_view v = qv_column_view(c);
        qv_err err = {0};
        cr_assert_eq(qv_column_write_file(&v, 7, path, &err), QV_OK, "%s",
                     err.msg);
        qv_column *m;
        cr_assert_eq(qv_column_open_file(path, 0, &m, &err), QV_OK, "%s",
                     err.msg);
        qv_col_view mv = qv_column_view(m);
        assert_views_equal(&v, &mv);
        cr_assert_eq(qv_column_append_fixed(m, v.data, 0), QV_E_INVALID);
        qv_column_free(m);
        qv_column_free(c);
    }
    qv_column *m;
    qv_err err = {0};
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    cr_assert_eq(fseek(fp, 300, SEEK_SET), 0);
    cr_assert_eq(fputc('Z', fp), 'Z');
    fclose(fp);
    cr_assert_neq(qv_column_open_file(path, 0, &m, &err), QV_OK);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
    unlink(path);
    cr_assert_eq(qv_column_open_file(path, 0, &m, &err), QV_E_IO);
    rmdir(dir);
    free(path);
}

/* ---- JSON and UTF-8 ------------------------------------------------- */

Test(json, valid_documents_pass)
{
    const char *ok[] = {"{}",
                        "[]",
                        " {\"a\": [1, -2.5e+3, true, false, null]} ",
                        "\"\\u00e9\\ud83d\\ude00\"",
                        "0",
                        "-0.0",
                        "{\"k\":{\"n\":{\"x\":\"héllo\"}}}",
                        "1E9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert(qv_col_json_valid(ok[i], strlen(ok[i]), NULL), "%s", ok[i]);
}

Test(json, invalid_documents_fail_with_offset)
{
    const char *bad[] = {
        "",    "{",           "{\"a\":}",    "[1,]",      "01",
        "1.",  "+1",          "NaN",         "{'a':1}",   "\"\\x\"",
        "tru", "[1] [2]",     "\"\\ud800\"", "{\"a\" 1}", "\"\x01\"",
        "-",   "\"\xc0\xaf\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t off = 99999;
        cr_assert(!qv_col_json_valid(bad[i], strlen(bad[i]), &off), "%s",
                  bad[i]);
        cr_assert(off <= strlen(bad[i]));
    }
    size_t off;
    cr_assert(!qv_col_json_valid("[1, 2, x]", 9, &off));
    cr_assert_eq(off, 7);
    /* Depth limit. */
    char deep[300];
    memset(deep, '[', 200);
    cr_assert(!qv_col_json_valid(deep, 200, NULL));
    char ok[256];
    memset(ok, '[', 100);
    memset(ok + 100, ']', 100);
    cr_assert(qv_col_json_valid(ok, 200, NULL));
}

Test(json, utf8_rules)
{
    cr_assert(qv_utf8_valid("héllo \xf0\x9f\x98\x80", 11));
    cr_assert(!qv_utf8_valid("\xc0\xaf", 2));         /* overlong */
    cr_assert(!qv_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_assert(!qv_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    cr_assert(!qv_utf8_valid("a\xe2\x82", 3));        /* truncated */
}
