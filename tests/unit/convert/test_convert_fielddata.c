/* Tests of proto/convert_fielddata: FieldData <-> column round trips for
 * every type (through protobuf bytes), the SDK's compact null encoding,
 * defaults, and validation errors that name the field and the row. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/column/column.h"
#include "proto/convert_fielddata.h"

typedef Milvus__Proto__Schema__FieldData FieldData;

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
    {QV_DT_ARRAY, QV_DT_BOOL, 0},
    {QV_DT_ARRAY, QV_DT_INT8, 0},
    {QV_DT_ARRAY, QV_DT_INT16, 0},
    {QV_DT_ARRAY, QV_DT_INT32, 0},
    {QV_DT_ARRAY, QV_DT_INT64, 0},
    {QV_DT_ARRAY, QV_DT_FLOAT, 0},
    {QV_DT_ARRAY, QV_DT_DOUBLE, 0},
    {QV_DT_ARRAY, QV_DT_VARCHAR, 0},
    {QV_DT_FLOAT_VECTOR, 0, 8},
    {QV_DT_FLOAT16_VECTOR, 0, 4},
    {QV_DT_BFLOAT16_VECTOR, 0, 4},
    {QV_DT_INT8_VECTOR, 0, 16},
    {QV_DT_BINARY_VECTOR, 0, 32},
    {QV_DT_SPARSE_FLOAT_VECTOR, 0, 0},
};
#define NTYPES (sizeof all_types / sizeof all_types[0])

static qv_field_spec spec_of(const tcase *t, bool nullable)
{
    qv_field_spec s = {.id = 101,
                       .name = "f",
                       .type = t->type,
                       .elem_type = t->elem,
                       .dim = t->dim,
                       .max_length = 32,
                       .max_capacity = 6,
                       .nullable = nullable};
    return s;
}

/* A generated row value of any type, valid for the spec above. */
static void append_row(qv_column *c, const tcase *t, size_t i)
{
    uint8_t tmp[512] = {0};
    size_t w = qv_dtype_width(t->type, t->dim);
    if (w && t->type != QV_DT_FLOAT && t->type != QV_DT_DOUBLE &&
        t->type != QV_DT_FLOAT_VECTOR) {
        for (size_t k = 0; k < w; k++)
            tmp[k] = (uint8_t)rnd();
        if (t->type == QV_DT_BOOL)
            tmp[0] &= 1;
        cr_assert_eq(qv_column_append_fixed(c, tmp, 1), QV_OK);
        return;
    }
    if (w) {
        for (size_t k = 0; k < w / 4; k++) {
            float f = (float)((int)(rnd() % 2001) - 1000) / 8.0f;
            memcpy(tmp + 4 * k, &f, 4);
        }
        if (t->type == QV_DT_DOUBLE) {
            double d = (double)(int64_t)rnd() / 7.0;
            memcpy(tmp, &d, 8);
        }
        cr_assert_eq(qv_column_append_fixed(c, tmp, 1), QV_OK);
        return;
    }
    size_t len = 0;
    if (t->type == QV_DT_VARCHAR) {
        len = (size_t)snprintf((char *)tmp, sizeof tmp, "v%zu-é", i * 31);
        if (i % 5 == 0)
            len = 0;
    } else if (t->type == QV_DT_JSON) {
        len = (size_t)snprintf((char *)tmp, sizeof tmp,
                               "{\"n\":%zu,\"s\":\"x\",\"a\":[1,2]}", i);
    } else if (t->type == QV_DT_SPARSE_FLOAT_VECTOR) {
        uint32_t idx = (uint32_t)(rnd() % 10);
        size_t nnz = rnd() % 6;
        for (size_t k = 0; k < nnz; k++) {
            float v = (float)k * 0.25f + 0.5f;
            memcpy(tmp + 8 * k, &idx, 4);
            memcpy(tmp + 8 * k + 4, &v, 4);
            idx += 1 + (uint32_t)(rnd() % 100);
        }
        len = nnz * 8;
    } else if (t->elem == QV_DT_VARCHAR) {
        qv_buf b = QV_BUF_INIT;
        const char *s[3] = {"x", "", "ü"};
        size_t l[3] = {1, 0, 2};
        cr_assert_eq(qv_col_arr_str_encode(&b, s, l, i % 4), QV_OK);
        cr_assert_eq(qv_column_append_var(c, b.data, b.len), QV_OK);
        qv_buf_release(&b);
        return;
    } else {
        size_t ew = qv_dtype_elem_width(t->elem), n = rnd() % 7;
        for (size_t k = 0; k < n * ew; k++)
            tmp[k] = (uint8_t)rnd();
        for (size_t k = 0; k < n; k++) {
            if (t->elem == QV_DT_BOOL)
                tmp[k] &= 1;
            if (t->elem == QV_DT_FLOAT) {
                float f = (float)k / 3.0f;
                memcpy(tmp + 4 * k, &f, 4);
            }
            if (t->elem == QV_DT_DOUBLE) {
                double d = (double)k / 3.0;
                memcpy(tmp + 8 * k, &d, 8);
            }
        }
        len = n * ew;
    }
    cr_assert_eq(qv_column_append_var(c, tmp, len), QV_OK);
}

static qv_column *make_column(const qv_field_spec *s, const tcase *t,
                              size_t rows)
{
    qv_column *c;
    cr_assert_eq(qv_column_create(s, &c, NULL), QV_OK);
    for (size_t i = 0; i < rows; i++) {
        if (s->nullable && i % 4 == 2)
            cr_assert_eq(qv_column_append_null(c, 1), QV_OK);
        else
            append_row(c, t, i);
    }
    qv_column_publish(c);
    return c;
}

static void assert_views_equal(const qv_col_view *a, const qv_col_view *b,
                               const char *what)
{
    cr_assert_eq(a->rows, b->rows, "%s", what);
    cr_assert_eq(a->dim, b->dim, "%s: dim %u vs %u", what, a->dim, b->dim);
    for (size_t i = 0; i < a->rows; i++) {
        cr_assert_eq(qv_col_is_null(a, i), qv_col_is_null(b, i), "%s row %zu",
                     what, i);
        if (a->width) {
            cr_assert_eq(
                memcmp(qv_col_fixed(a, i), qv_col_fixed(b, i), a->width), 0,
                "%s row %zu", what, i);
        } else {
            size_t la, lb;
            const uint8_t *pa = qv_col_var(a, i, &la);
            const uint8_t *pb = qv_col_var(b, i, &lb);
            cr_assert_eq(la, lb, "%s row %zu: %zu vs %zu bytes", what, i, la,
                         lb);
            cr_assert(la == 0 || memcmp(pa, pb, la) == 0, "%s row %zu", what,
                      i);
        }
    }
}

/* column -> FieldData -> bytes -> FieldData -> column. */
static qv_column *wire_round_trip(const qv_col_view *v, const qv_field_spec *s,
                                  const int64_t *rows, size_t n)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    FieldData *fd;
    qv_err err = {0};
    cr_assert_eq(qv_column_to_fielddata(v, s, rows, n, &a, &fd, &err), QV_OK,
                 "%s", err.msg);
    if (qv_dtype_is_vector(s->type))
        cr_assert_eq(fd->vectors->dim, (int64_t)v->dim);
    size_t len = milvus__proto__schema__field_data__get_packed_size(fd);
    uint8_t *buf = qv_xmalloc(len + 1);
    milvus__proto__schema__field_data__pack(fd, buf);
    FieldData *back = milvus__proto__schema__field_data__unpack(NULL, len, buf);
    cr_assert_not_null(back);
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(back, s, rows ? n : v->rows, &c, &err),
                 QV_OK, "%s: %s", qv_dtype_name(s->type), err.msg);
    milvus__proto__schema__field_data__free_unpacked(back, NULL);
    free(buf);
    qv_arena_release(&a);
    return c;
}

Test(convert, every_type_round_trips_through_the_wire)
{
    for (int nullable = 0; nullable <= 1; nullable++) {
        for (size_t t = 0; t < NTYPES; t++) {
            rng_state = t * 3 + (size_t)nullable;
            qv_field_spec s = spec_of(&all_types[t], nullable);
            qv_column *c = make_column(&s, &all_types[t], 50);
            qv_col_view v = qv_column_view(c);
            qv_column *back = wire_round_trip(&v, &s, NULL, 0);
            qv_col_view bv = qv_column_view(back);
            char what[64];
            (void)snprintf(
                what, sizeof what, "%s%s%s", qv_dtype_name(all_types[t].type),
                all_types[t].elem ? " of " : "",
                all_types[t].elem ? qv_dtype_name(all_types[t].elem) : "");
            assert_views_equal(&v, &bv, what);
            qv_column_free(back);
            qv_column_free(c);
        }
    }
}

Test(convert, chosen_rows_come_out_in_the_given_order)
{
    tcase t = {QV_DT_VARCHAR, 0, 0};
    qv_field_spec s = spec_of(&t, true);
    rng_state = 11;
    qv_column *c = make_column(&s, &t, 20);
    qv_col_view v = qv_column_view(c);
    int64_t rows[] = {7, 2, 2, 19, 0};
    qv_column *back = wire_round_trip(&v, &s, rows, 5);
    qv_col_view bv = qv_column_view(back);
    cr_assert_eq(bv.rows, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(qv_col_is_null(&bv, i), qv_col_is_null(&v, rows[i]));
        size_t la, lb;
        const uint8_t *a = qv_col_var(&bv, i, &la);
        const uint8_t *b = qv_col_var(&v, (size_t)rows[i], &lb);
        cr_assert_eq(la, lb);
        cr_assert(la == 0 || memcmp(a, b, la) == 0);
    }
    qv_arena a;
    qv_arena_init(&a, 0);
    FieldData *fd;
    qv_err err = {0};
    int64_t bad = 20;
    cr_assert_eq(qv_column_to_fielddata(&v, &s, &bad, 1, &a, &fd, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "row 20"), "%s", err.msg);
    qv_arena_release(&a);
    qv_column_free(back);
    qv_column_free(c);
}

Test(convert, dynamic_field_comes_out_as_meta)
{
    qv_field_spec s = {
        .id = 999, .name = "$meta", .type = QV_DT_JSON, .is_dynamic = true};
    qv_column *c;
    cr_assert_eq(qv_column_create(&s, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_var(c, "{\"x\":1}", 7), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_arena a;
    qv_arena_init(&a, 0);
    FieldData *fd;
    cr_assert_eq(qv_column_to_fielddata(&v, &s, NULL, 0, &a, &fd, NULL), QV_OK);
    cr_assert_str_eq(fd->field_name, "$meta");
    cr_assert(fd->is_dynamic);
    cr_assert_eq(fd->type, MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON);
    cr_assert_eq(fd->scalars->json_data->n_data, 1);
    cr_assert_eq(fd->n_valid_data, 0);
    qv_arena_release(&a);
    qv_column_free(c);
}

/* ---- the SDK's insert encoding -------------------------------------- */

Test(convert, compact_nulls_get_defaults_or_null)
{
    /* title: VarChar nullable with default "dflt"; the SDK sends
     * string_data=["a"], valid_data=[true,false]. */
    char *strs[] = {(char *)"a"};
    Milvus__Proto__Schema__StringArray sa =
        MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = 1;
    sa.data = strs;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    sf.string_data = &sa;
    protobuf_c_boolean valid[] = {1, 0};
    FieldData fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    fd.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    fd.field_name = (char *)"title";
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd.scalars = &sf;
    fd.n_valid_data = 2;
    fd.valid_data = valid;
    qv_field_spec s = {.id = 102,
                       .name = "title",
                       .type = QV_DT_VARCHAR,
                       .max_length = 16,
                       .nullable = true,
                       .has_default = true,
                       .default_value = qv_value_str("dflt", 4)};
    qv_column *c;
    qv_err err = {0};
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, &err), QV_OK, "%s",
                 err.msg);
    qv_col_view v = qv_column_view(c);
    size_t len;
    const uint8_t *p = qv_col_var(&v, 0, &len);
    cr_assert(len == 1 && p[0] == 'a');
    cr_assert(qv_col_is_valid(&v, 1));
    p = qv_col_var(&v, 1, &len);
    cr_assert(len == 4 && memcmp(p, "dflt", 4) == 0);
    qv_column_free(c);
    /* Without a default the row is NULL. */
    s.has_default = false;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, &err), QV_OK);
    v = qv_column_view(c);
    cr_assert(qv_col_is_null(&v, 1));
    qv_column_free(c);
    /* Not nullable, no default: an error naming field and row. */
    s.nullable = false;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "'title'") && strstr(err.msg, "row 1"), "%s",
              err.msg);
}

Test(convert, int_default_fills_fixed_width_rows)
{
    int32_t vals[] = {5};
    Milvus__Proto__Schema__IntArray ia = MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT;
    ia.n_data = 1;
    ia.data = vals;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
    sf.int_data = &ia;
    protobuf_c_boolean valid[] = {0, 1, 0};
    FieldData fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd.scalars = &sf;
    fd.n_valid_data = 3;
    fd.valid_data = valid;
    qv_field_spec s = {.id = 103,
                       .name = "n",
                       .type = QV_DT_INT16,
                       .has_default = true,
                       .default_value = qv_value_int(-7)};
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, QV_ROWS_ANY, &c, NULL), QV_OK);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(v.rows, 3);
    cr_assert_eq(qv_col_i16(&v, 0), -7);
    cr_assert_eq(qv_col_i16(&v, 1), 5);
    cr_assert_eq(qv_col_i16(&v, 2), -7);
    cr_assert_null(v.valid);
    qv_column_free(c);
}

/* ---- validation errors ------------------------------------------------ */

/* Runs fd against spec and checks the error names field and fragment. */
static void expect_error(const FieldData *fd, const qv_field_spec *s,
                         size_t rows, const char *frag)
{
    qv_column *c = NULL;
    qv_err err = {0};
    qv_code rc = qv_fielddata_to_column(fd, s, rows, &c, &err);
    cr_assert_eq(rc, QV_E_INVALID, "expected '%s', got %d", frag, rc);
    cr_assert(strstr(err.msg, s->name), "no field name in '%s'", err.msg);
    cr_assert(strstr(err.msg, frag), "'%s' not in '%s'", frag, err.msg);
    cr_assert_null(c);
}

static FieldData scalar_fd(Milvus__Proto__Schema__ScalarField *sf)
{
    FieldData fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd.scalars = sf;
    return fd;
}

Test(convert, scalar_validation_errors_name_field_and_row)
{
    char *strs[] = {(char *)"ok", (char *)"fine",
                    (char *)"much too long for this field"};
    Milvus__Proto__Schema__StringArray sa =
        MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = 3;
    sa.data = strs;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    sf.string_data = &sa;
    FieldData fd = scalar_fd(&sf);
    qv_field_spec s = {
        .id = 1, .name = "title", .type = QV_DT_VARCHAR, .max_length = 10};
    expect_error(&fd, &s, 3, "row 2: string of 28 bytes exceeds max_length");
    expect_error(&fd, &s, 4, "3 rows, the request has 4");
    char bad_utf8[] = "a\xff";
    strs[2] = bad_utf8;
    expect_error(&fd, &s, 3, "row 2: string is not valid UTF-8");
    fd.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    expect_error(&fd, &s, 3, "does not match the schema type VarChar");

    int32_t ints[] = {1, 300};
    Milvus__Proto__Schema__IntArray ia = MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT;
    ia.n_data = 2;
    ia.data = ints;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
    sf.int_data = &ia;
    fd = scalar_fd(&sf);
    s = (qv_field_spec){.id = 2, .name = "small", .type = QV_DT_INT8};
    expect_error(&fd, &s, 2, "row 1: value 300 is out of range for Int8");
    s.type = QV_DT_INT64;
    expect_error(&fd, &s, 2, "payload member 2 does not fit type Int64");
    /* valid_data with the wrong number of values */
    s.type = QV_DT_INT32;
    s.nullable = true;
    protobuf_c_boolean valid[] = {1, 0, 0};
    fd.n_valid_data = 3;
    fd.valid_data = valid;
    expect_error(&fd, &s, 3, "2 values for 3 rows of which 1 are valid");

    float fl[] = {1.0f, NAN};
    Milvus__Proto__Schema__FloatArray fa =
        MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    fa.n_data = 2;
    fa.data = fl;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA;
    sf.float_data = &fa;
    fd = scalar_fd(&sf);
    s = (qv_field_spec){.id = 3, .name = "score", .type = QV_DT_FLOAT};
    expect_error(&fd, &s, 2, "row 1: value is NaN or infinite");

    double db[] = {1.0, 2.0, -INFINITY};
    Milvus__Proto__Schema__DoubleArray da =
        MILVUS__PROTO__SCHEMA__DOUBLE_ARRAY__INIT;
    da.n_data = 3;
    da.data = db;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA;
    sf.double_data = &da;
    fd = scalar_fd(&sf);
    s = (qv_field_spec){.id = 3, .name = "weight", .type = QV_DT_DOUBLE};
    expect_error(&fd, &s, 3, "row 2: value is NaN or infinite");
    db[2] = 3.0;
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 3, &c, NULL), QV_OK);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(v.rows, 3);
    cr_assert_float_eq(qv_col_f64(&v, 2), 3.0, 0);
    qv_column_free(c);
}

Test(convert, json_and_dynamic_field_validation)
{
    ProtobufCBinaryData docs[] = {{7, (uint8_t *)"{\"a\":1}"},
                                  {5, (uint8_t *)"[1,2]"},
                                  {6, (uint8_t *)"{\"a\":"}};
    Milvus__Proto__Schema__JSONArray ja =
        MILVUS__PROTO__SCHEMA__JSONARRAY__INIT;
    ja.n_data = 3;
    ja.data = docs;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
    sf.json_data = &ja;
    FieldData fd = scalar_fd(&sf);
    qv_field_spec s = {.id = 4, .name = "doc", .type = QV_DT_JSON};
    expect_error(&fd, &s, 3, "row 2: malformed JSON at byte 5");
    ja.n_data = 2;
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, NULL), QV_OK);
    qv_column_free(c);
    s.name = "$meta";
    s.is_dynamic = true;
    expect_error(&fd, &s, 2,
                 "row 1: dynamic field value is not a JSON "
                 "object");
}

Test(convert, array_validation_errors)
{
    int64_t e0[] = {1, 2, 3}, e1[] = {1, 2, 3, 4, 5};
    Milvus__Proto__Schema__LongArray l0 =
        MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    Milvus__Proto__Schema__LongArray l1 =
        MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    l0.n_data = 3;
    l0.data = e0;
    l1.n_data = 5;
    l1.data = e1;
    Milvus__Proto__Schema__ScalarField r0 =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    Milvus__Proto__Schema__ScalarField r1 =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    r0.data_case = r1.data_case =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    r0.long_data = &l0;
    r1.long_data = &l1;
    Milvus__Proto__Schema__ScalarField *rows[] = {&r0, &r1};
    Milvus__Proto__Schema__ArrayArray aa =
        MILVUS__PROTO__SCHEMA__ARRAY_ARRAY__INIT;
    aa.n_data = 2;
    aa.data = rows;
    aa.element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
    sf.array_data = &aa;
    FieldData fd = scalar_fd(&sf);
    qv_field_spec s = {.id = 5,
                       .name = "tags",
                       .type = QV_DT_ARRAY,
                       .elem_type = QV_DT_INT64,
                       .max_capacity = 4};
    expect_error(&fd, &s, 2,
                 "row 1: array of 5 elements exceeds max_capacity 4");
    s.max_capacity = 8;
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, NULL), QV_OK);
    qv_col_view v = qv_column_view(c);
    cr_assert_eq(qv_col_arr_len(&v, 1), 5);
    cr_assert_eq(qv_col_arr_int(&v, 1, 4), 5);
    qv_column_free(c);
    s.elem_type = QV_DT_INT32;
    expect_error(&fd, &s, 2, "array element type 5 does not match");
    aa.element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__None;
    expect_error(&fd, &s, 2, "row 0: array elements are not Int32");
}

static FieldData vector_fd(Milvus__Proto__Schema__VectorField *vf)
{
    FieldData fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    fd.vectors = vf;
    return fd;
}

Test(convert, vector_validation_errors)
{
    float data[8] = {1, 2, 3, 4, 5, 6, INFINITY, 8};
    Milvus__Proto__Schema__FloatArray fa =
        MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    fa.n_data = 8;
    fa.data = data;
    Milvus__Proto__Schema__VectorField vf =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    vf.dim = 4;
    vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    vf.float_vector = &fa;
    FieldData fd = vector_fd(&vf);
    qv_field_spec s = {
        .id = 6, .name = "vec", .type = QV_DT_FLOAT_VECTOR, .dim = 4};
    expect_error(&fd, &s, 2, "row 1: vector has a NaN or infinite");
    data[6] = 7;
    vf.dim = 8;
    expect_error(&fd, &s, 2, "vector dim 8 does not match the schema dim 4");
    vf.dim = 4;
    fa.n_data = 7;
    expect_error(&fd, &s, 2, "28 bytes of vector data is not a multiple");
    fa.n_data = 8;
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, NULL), QV_OK);
    qv_column_free(c);
    /* scalars for a vector field */
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    FieldData bad = scalar_fd(&sf);
    expect_error(&bad, &s, 0, "FloatVector data must come as vectors");

    /* binary: dim 16 = 2 bytes per row */
    uint8_t bits[5] = {1, 2, 3, 4, 5};
    Milvus__Proto__Schema__VectorField bv =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    bv.dim = 16;
    bv.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
    bv.binary_vector.len = 5;
    bv.binary_vector.data = bits;
    fd = vector_fd(&bv);
    s = (qv_field_spec){
        .id = 7, .name = "bin", .type = QV_DT_BINARY_VECTOR, .dim = 16};
    expect_error(&fd, &s, 2, "5 bytes of vector data");
}

Test(convert, sparse_validation_errors)
{
    uint8_t good[16], unsorted[16], odd[12];
    uint32_t i0 = 5, i1 = 9;
    float v = 0.5f;
    memcpy(good, &i0, 4);
    memcpy(good + 4, &v, 4);
    memcpy(good + 8, &i1, 4);
    memcpy(good + 12, &v, 4);
    memcpy(unsorted, good + 8, 8);
    memcpy(unsorted + 8, good, 8);
    memcpy(odd, good, 12);
    ProtobufCBinaryData rows[] = {{16, good}, {16, unsorted}};
    Milvus__Proto__Schema__SparseFloatArray sp =
        MILVUS__PROTO__SCHEMA__SPARSE_FLOAT_ARRAY__INIT;
    sp.n_contents = 2;
    sp.contents = rows;
    sp.dim = 2; /* the SDK's max nnz; ignored */
    Milvus__Proto__Schema__VectorField vf =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    vf.data_case =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
    vf.sparse_float_vector = &sp;
    FieldData fd = vector_fd(&vf);
    qv_field_spec s = {
        .id = 8, .name = "sp", .type = QV_DT_SPARSE_FLOAT_VECTOR};
    expect_error(&fd, &s, 2, "row 1: sparse vector indexes are not strictly");
    rows[1] = (ProtobufCBinaryData){12, odd};
    expect_error(&fd, &s, 2, "row 1: sparse vector bytes are not");
    uint32_t max = 0xffffffffu;
    memcpy(odd, &max, 4);
    rows[1] = (ProtobufCBinaryData){8, odd};
    expect_error(&fd, &s, 2, "row 1: sparse vector index must be less");
    rows[1] = (ProtobufCBinaryData){0, NULL};
    qv_column *c;
    cr_assert_eq(qv_fielddata_to_column(&fd, &s, 2, &c, NULL), QV_OK);
    qv_col_view cv = qv_column_view(c);
    cr_assert_eq(cv.dim, 10);
    cr_assert_eq(qv_col_sparse_nnz(&cv, 0), 2);
    cr_assert_eq(qv_col_sparse_nnz(&cv, 1), 0);
    qv_column_free(c);
}

Test(convert, field_spec_from_schema)
{
    Milvus__Proto__Common__KeyValuePair kv1 =
        MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    kv1.key = (char *)"max_length";
    kv1.value = (char *)"20";
    Milvus__Proto__Common__KeyValuePair *kvs[] = {&kv1};
    Milvus__Proto__Schema__ValueField dv =
        MILVUS__PROTO__SCHEMA__VALUE_FIELD__INIT;
    dv.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
    dv.string_data = (char *)"hello";
    Milvus__Proto__Schema__FieldSchema fs =
        MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    fs.fieldid = 105;
    fs.name = (char *)"title";
    fs.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    fs.n_type_params = 1;
    fs.type_params = kvs;
    fs.default_value = &dv;
    fs.nullable = 1;
    qv_field_spec f;
    qv_err err = {0};
    cr_assert_eq(qv_field_spec_from_schema(&fs, &f, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(f.id, 105);
    cr_assert_eq(f.max_length, 20);
    cr_assert(f.nullable && f.has_default);
    cr_assert_eq(f.default_value.u.s.len, 5);
    kv1.value = (char *)"abc";
    cr_assert_eq(qv_field_spec_from_schema(&fs, &f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "max_length='abc'"), "%s", err.msg);
    kv1.value = (char *)"70000";
    cr_assert_eq(qv_field_spec_from_schema(&fs, &f, &err), QV_E_INVALID);
    kv1.key = (char *)"dim";
    kv1.value = (char *)"12";
    fs.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector;
    fs.default_value = NULL;
    cr_assert_eq(qv_field_spec_from_schema(&fs, &f, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "multiple of 8"), "%s", err.msg);
}
