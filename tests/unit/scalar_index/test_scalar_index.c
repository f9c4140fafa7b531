/* Tests of index/scalar: every index type against a brute-force scan of
 * generated columns, serialization round trips, damaged images, params. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/hash.h"
#include "index/scalar/scalar_index.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define ROWS 2000

static const char *words[] = {"",     "a",    "ab",    "abc",   "abd",
                              "b",    "ba",   "héllo", "hé",    "zzz",
                              "abcd", "abce", "x\xff", "ab\x01"};
#define NWORDS (sizeof words / sizeof words[0])

/* Generated values with repeats, extremes, NaN and nulls. */
static qv_column *gen(qv_dtype type, qv_dtype elem, bool nullable)
{
    qv_field_spec spec = {.id = 100,
                          .name = "f",
                          .type = type,
                          .elem_type = elem,
                          .max_length = 64,
                          .max_capacity = 8,
                          .nullable = nullable};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    for (size_t r = 0; r < ROWS; r++) {
        if (nullable && rnd() % 10 == 0) {
            cr_assert_eq(qv_column_append_null(c, 1), QV_OK);
            continue;
        }
        uint64_t x = rnd();
        int64_t iv = (int64_t)(x % 41) - 20;
        if (x % 97 == 0)
            iv = INT64_MIN;
        if (x % 89 == 0)
            iv = INT64_MAX;
        switch (type) {
        case QV_DT_BOOL: {
            uint8_t b = x & 1;
            cr_assert_eq(qv_column_append_fixed(c, &b, 1), QV_OK);
            break;
        }
        case QV_DT_INT8: {
            int8_t v = (int8_t)x;
            cr_assert_eq(qv_column_append_fixed(c, &v, 1), QV_OK);
            break;
        }
        case QV_DT_INT32: {
            int32_t v = (int32_t)iv;
            cr_assert_eq(qv_column_append_fixed(c, &v, 1), QV_OK);
            break;
        }
        case QV_DT_INT64:
            cr_assert_eq(qv_column_append_fixed(c, &iv, 1), QV_OK);
            break;
        case QV_DT_FLOAT: {
            float f = (float)iv / 4.0f;
            if (x % 53 == 0)
                f = NAN;
            if (x % 59 == 0)
                f = -0.0f;
            cr_assert_eq(qv_column_append_fixed(c, &f, 1), QV_OK);
            break;
        }
        case QV_DT_DOUBLE: {
            double d = (double)iv / 3.0;
            if (x % 53 == 0)
                d = NAN;
            if (x % 61 == 0)
                d = INFINITY;
            cr_assert_eq(qv_column_append_fixed(c, &d, 1), QV_OK);
            break;
        }
        case QV_DT_VARCHAR: {
            const char *w = words[x % NWORDS];
            cr_assert_eq(qv_column_append_var(c, w, strlen(w)), QV_OK);
            break;
        }
        case QV_DT_ARRAY: {
            size_t n = x % 5;
            if (elem == QV_DT_VARCHAR) {
                const char *s[5];
                size_t l[5];
                for (size_t j = 0; j < n; j++) {
                    s[j] = words[rnd() % NWORDS];
                    l[j] = strlen(s[j]);
                }
                qv_buf b = QV_BUF_INIT;
                cr_assert_eq(qv_col_arr_str_encode(&b, s, l, n), QV_OK);
                cr_assert_eq(qv_column_append_var(c, b.data, b.len), QV_OK);
                qv_buf_release(&b);
            } else {
                int64_t a[5];
                for (size_t j = 0; j < n; j++)
                    a[j] = (int64_t)(rnd() % 15) - 7;
                cr_assert_eq(qv_column_append_var(c, a, n * 8), QV_OK);
            }
            break;
        }
        default:
            cr_assert_fail("type");
        }
    }
    qv_column_publish(c);
    return c;
}

/* The oracle: row value <=> v for scalars; NaN/NULL compare as "none". */
static bool row_num(const qv_col_view *v, size_t r, double *d, int64_t *i,
                    bool *is_int)
{
    if (qv_col_is_null(v, r))
        return false;
    *is_int = v->type != QV_DT_FLOAT && v->type != QV_DT_DOUBLE;
    if (*is_int) {
        *i = qv_col_get_int(v, r);
        return true;
    }
    *d = v->type == QV_DT_FLOAT ? qv_col_f32(v, r) : qv_col_f64(v, r);
    return !isnan(*d);
}

/* Exact compare of row r with value q: -1, 0, 1, or 2 for "no value". */
static int oracle_cmp(const qv_col_view *v, size_t r, const qv_value *q)
{
    if (v->type == QV_DT_VARCHAR) {
        if (qv_col_is_null(v, r))
            return 2;
        size_t len;
        const uint8_t *p = qv_col_var(v, r, &len);
        size_t n = len < q->u.s.len ? len : q->u.s.len;
        int c = n ? memcmp(p, q->u.s.ptr, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (len > q->u.s.len) - (len < q->u.s.len);
    }
    double d = 0;
    int64_t i = 0;
    bool is_int;
    if (!row_num(v, r, &d, &i, &is_int))
        return 2;
    if (q->kind == QV_VAL_INT && is_int)
        return (i > q->u.i) - (i < q->u.i);
    /* long double holds every int64 and double exactly */
    long double a = is_int ? (long double)i : (long double)d;
    long double b =
        q->kind == QV_VAL_INT ? (long double)q->u.i : (long double)q->u.f;
    if (q->kind == QV_VAL_BOOL)
        b = q->u.b;
    return (a > b) - (a < b);
}

static void check_bits(const qv_bitset *got, const bool *want, size_t n,
                       const char *what)
{
    for (size_t r = 0; r < n; r++)
        cr_assert_eq(qv_bitset_test(got, r), want[r], "%s: row %zu", what, r);
}

static qv_value random_value(const qv_col_view *v)
{
    uint64_t x = rnd();
    if (v->type == QV_DT_VARCHAR) {
        const char *w = x % 5 == 0 ? "abz" : words[x % NWORDS];
        return qv_value_str(w, strlen(w));
    }
    if (v->type == QV_DT_BOOL)
        return qv_value_bool(x & 1);
    if (x % 3 == 0)
        return qv_value_float((double)((int64_t)(x % 61) - 30) / 4.0);
    if (x % 31 == 0)
        return qv_value_int(x & 1 ? INT64_MIN : INT64_MAX);
    if (x % 37 == 0)
        return qv_value_float(x & 1 ? 1e30 : -1e30);
    return qv_value_int((int64_t)(x % 61) - 30);
}

/* Compares terms and range queries of ix with the oracle over v. */
static void check_scalar_queries(const qv_sindex *ix, const qv_col_view *v,
                                 const char *name)
{
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, v->rows), QV_OK);
    bool *want = qv_xcalloc(v->rows, 1);
    qv_err err = {0};
    size_t term_hits = 0, range_hits = 0;
    for (int it = 0; it < 60; it++) {
        qv_value t[3] = {random_value(v), random_value(v), random_value(v)};
        cr_assert_eq(qv_sindex_terms(ix, t, 3, &out, &err), QV_OK, "%s",
                     err.msg);
        size_t hits = 0;
        for (size_t r = 0; r < v->rows; r++) {
            want[r] = false;
            for (int k = 0; k < 3; k++)
                want[r] |= oracle_cmp(v, r, &t[k]) == 0;
            hits += want[r];
        }
        check_bits(&out, want, v->rows, name);
        term_hits += hits;
        if (v->type == QV_DT_BOOL)
            continue;
        qv_sindex_bound lo = {random_value(v), rnd() & 1};
        qv_sindex_bound hi = {random_value(v), rnd() & 1};
        bool has_lo = rnd() % 4, has_hi = rnd() % 4;
        cr_assert_eq(qv_sindex_range(ix, has_lo ? &lo : NULL,
                                     has_hi ? &hi : NULL, &out, &err),
                     QV_OK, "%s", err.msg);
        for (size_t r = 0; r < v->rows; r++) {
            int a = has_lo ? oracle_cmp(v, r, &lo.v) : 1;
            int b = has_hi ? oracle_cmp(v, r, &hi.v) : -1;
            if (qv_col_is_null(v, r) || oracle_cmp(v, r, &t[0]) == 2)
                a = 2;
            want[r] = a != 2 && b != 2 && (a > 0 || (a == 0 && lo.inclusive)) &&
                      (b < 0 || (b == 0 && hi.inclusive));
            range_hits += want[r];
        }
        check_bits(&out, want, v->rows, name);
    }
    /* The generated queries must select something, not just agree on
     * empty results. */
    cr_assert_gt(term_hits, 0, "%s", name);
    cr_assert(v->type == QV_DT_BOOL || range_hits > 0, "%s", name);
    free(want);
    qv_bitset_release(&out);
}

static void check_prefix(const qv_sindex *ix, const qv_col_view *v,
                         const char *name)
{
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, v->rows), QV_OK);
    bool *want = qv_xcalloc(v->rows, 1);
    const char *prefixes[] = {"",   "a",     "ab", "abc", "abcd",  "abcde", "h",
                              "hé", "h\xc3", "z",  "q",   "x\xff", "ab\x01"};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        size_t pl = strlen(prefixes[p]);
        cr_assert_eq(qv_sindex_prefix(ix, prefixes[p], pl, &out, NULL), QV_OK);
        for (size_t r = 0; r < v->rows; r++) {
            size_t len;
            const uint8_t *s = qv_col_var(v, r, &len);
            want[r] = !qv_col_is_null(v, r) && len >= pl &&
                      memcmp(s, prefixes[p], pl) == 0;
        }
        check_bits(&out, want, v->rows, name);
    }
    free(want);
    qv_bitset_release(&out);
}

/* Encodes ix and loads the image back. */
static qv_sindex *reload(const qv_sindex *ix, void **img)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_sindex_encode(ix, &b, NULL), QV_OK);
    *img = qv_try_aligned_alloc(b.len, 1);
    memcpy(*img, b.data, b.len);
    qv_sindex *l;
    qv_err err = {0};
    cr_assert_eq(qv_sindex_load(*img, b.len, &l, &err), QV_OK, "%s", err.msg);
    qv_buf_release(&b);
    return l;
}

typedef struct combo {
    qv_sindex_type t;
    qv_dtype type;
} combo;

Test(scalar_index, scalar_columns_match_brute_force)
{
    const combo cs[] = {
        {QV_SINDEX_STL_SORT, QV_DT_INT8},   {QV_SINDEX_STL_SORT, QV_DT_INT64},
        {QV_SINDEX_STL_SORT, QV_DT_FLOAT},  {QV_SINDEX_STL_SORT, QV_DT_DOUBLE},
        {QV_SINDEX_INVERTED, QV_DT_INT32},  {QV_SINDEX_INVERTED, QV_DT_BOOL},
        {QV_SINDEX_INVERTED, QV_DT_DOUBLE}, {QV_SINDEX_INVERTED, QV_DT_VARCHAR},
        {QV_SINDEX_BITMAP, QV_DT_INT64},    {QV_SINDEX_BITMAP, QV_DT_BOOL},
        {QV_SINDEX_BITMAP, QV_DT_VARCHAR},  {QV_SINDEX_TRIE, QV_DT_VARCHAR},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        for (int nullable = 0; nullable <= 1; nullable++) {
            rng_state = i * 10 + (size_t)nullable;
            qv_column *c = gen(cs[i].type, 0, nullable);
            qv_col_view v = qv_column_view(c);
            qv_sindex *ix;
            qv_err err = {0};
            cr_assert_eq(qv_sindex_build(cs[i].t, &v, NULL, 0, &ix, &err),
                         QV_OK, "%s", err.msg);
            char name[64];
            (void)snprintf(name, sizeof name, "%s/%s",
                           qv_sindex_type_name(cs[i].t),
                           qv_dtype_name(cs[i].type));
            check_scalar_queries(ix, &v, name);
            if (cs[i].type == QV_DT_VARCHAR)
                check_prefix(ix, &v, name);
            void *img;
            qv_sindex *l = reload(ix, &img);
            cr_assert_eq(qv_sindex_kind(l), cs[i].t);
            cr_assert_eq(qv_sindex_rows(l), ROWS);
            check_scalar_queries(l, &v, name);
            qv_sindex_free(l);
            qv_aligned_free(img);
            qv_sindex_free(ix);
            qv_column_free(c);
        }
    }
}

Test(scalar_index, array_terms_answer_array_contains)
{
    const qv_sindex_type ts[] = {QV_SINDEX_INVERTED, QV_SINDEX_BITMAP};
    const qv_dtype es[] = {QV_DT_INT64, QV_DT_VARCHAR};
    for (size_t t = 0; t < 2; t++) {
        for (size_t e = 0; e < 2; e++) {
            rng_state = 5 + t * 2 + e;
            qv_column *c = gen(QV_DT_ARRAY, es[e], true);
            qv_col_view v = qv_column_view(c);
            qv_sindex *ix;
            qv_err err = {0};
            cr_assert_eq(qv_sindex_build(ts[t], &v, NULL, 0, &ix, &err), QV_OK,
                         "%s", err.msg);
            qv_bitset out;
            cr_assert_eq(qv_bitset_init(&out, v.rows), QV_OK);
            bool *want = qv_xcalloc(v.rows, 1);
            for (int it = 0; it < 30; it++) {
                qv_value q;
                int64_t iq = (int64_t)(rnd() % 19) - 9;
                const char *sq = words[rnd() % NWORDS];
                q = es[e] == QV_DT_INT64 ? qv_value_int(iq)
                                         : qv_value_str(sq, strlen(sq));
                cr_assert_eq(qv_sindex_terms(ix, &q, 1, &out, NULL), QV_OK);
                for (size_t r = 0; r < v.rows; r++) {
                    want[r] = false;
                    for (size_t j = 0; j < qv_col_arr_len(&v, r); j++) {
                        if (es[e] == QV_DT_INT64) {
                            want[r] |= qv_col_arr_int(&v, r, j) == iq;
                        } else {
                            size_t l;
                            const char *s = qv_col_arr_str(&v, r, j, &l);
                            want[r] |= l == strlen(sq) &&
                                       (l == 0 || memcmp(s, sq, l) == 0);
                        }
                    }
                }
                check_bits(&out, want, v.rows, "array");
                if (es[e] != QV_DT_INT64)
                    continue;
                /* range: rows with any element in [iq, iq + 3) */
                qv_sindex_bound lo = {qv_value_int(iq), true};
                qv_sindex_bound hi = {qv_value_int(iq + 3), false};
                cr_assert_eq(qv_sindex_range(ix, &lo, &hi, &out, NULL), QV_OK);
                for (size_t r = 0; r < v.rows; r++) {
                    want[r] = false;
                    for (size_t j = 0; j < qv_col_arr_len(&v, r); j++) {
                        int64_t x = qv_col_arr_int(&v, r, j);
                        want[r] |= x >= iq && x < iq + 3;
                    }
                }
                check_bits(&out, want, v.rows, "array range");
            }
            free(want);
            qv_bitset_release(&out);
            qv_sindex_free(ix);
            qv_column_free(c);
        }
    }
}

Test(scalar_index, params_and_types_are_validated)
{
    rng_state = 3;
    qv_column *c = gen(QV_DT_INT64, 0, false);
    qv_col_view v = qv_column_view(c);
    qv_sindex *ix;
    qv_err err = {0};
    qv_sindex_param p = {"bitmap_cardinality_limit", "5"};
    cr_assert_eq(qv_sindex_build(QV_SINDEX_BITMAP, &v, &p, 1, &ix, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "bitmap_cardinality_limit 5"), "%s", err.msg);
    p.value = "abc";
    cr_assert_eq(qv_sindex_build(QV_SINDEX_BITMAP, &v, &p, 1, &ix, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "'abc'"), "%s", err.msg);
    p = (qv_sindex_param){"nlist", "3"};
    cr_assert_eq(qv_sindex_build(QV_SINDEX_STL_SORT, &v, &p, 1, &ix, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "'nlist'"), "%s", err.msg);
    cr_assert_eq(qv_sindex_build(QV_SINDEX_TRIE, &v, NULL, 0, &ix, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "Trie does not support Int64"), "%s", err.msg);
    qv_sindex_type t;
    cr_assert_eq(qv_sindex_type_parse("stl_sort", &t, NULL), QV_OK);
    cr_assert_eq(t, QV_SINDEX_STL_SORT);
    cr_assert_eq(qv_sindex_type_parse("HNSW", &t, &err), QV_E_INVALID);
    cr_assert(!qv_sindex_type_fits(QV_SINDEX_BITMAP, QV_DT_FLOAT, 0));
    cr_assert(
        qv_sindex_type_fits(QV_SINDEX_INVERTED, QV_DT_ARRAY, QV_DT_VARCHAR));
    /* A query value of the wrong kind is an error, not a silent miss. */
    cr_assert_eq(qv_sindex_build(QV_SINDEX_STL_SORT, &v, NULL, 0, &ix, &err),
                 QV_OK);
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, v.rows), QV_OK);
    qv_value s = qv_value_str("a", 1);
    cr_assert_eq(qv_sindex_terms(ix, &s, 1, &out, &err), QV_E_INVALID);
    cr_assert_eq(qv_sindex_prefix(ix, "a", 1, &out, &err), QV_E_INVALID);
    qv_bitset small;
    cr_assert_eq(qv_bitset_init(&small, 3), QV_OK);
    qv_value one = qv_value_int(1);
    cr_assert_eq(qv_sindex_terms(ix, &one, 1, &small, &err), QV_E_INVALID);
    qv_bitset_release(&small);
    qv_bitset_release(&out);
    qv_sindex_free(ix);
    qv_column_free(c);
}

Test(scalar_index, damaged_images_are_rejected)
{
    const combo cs[] = {{QV_SINDEX_STL_SORT, QV_DT_INT32},
                        {QV_SINDEX_INVERTED, QV_DT_VARCHAR},
                        {QV_SINDEX_BITMAP, QV_DT_BOOL},
                        {QV_SINDEX_TRIE, QV_DT_VARCHAR}};
    for (size_t i = 0; i < 4; i++) {
        rng_state = 40 + i;
        qv_column *c = gen(cs[i].type, 0, true);
        qv_col_view v = qv_column_view(c);
        /* keep the images small: 60 rows */
        v.rows = 60;
        qv_sindex *ix;
        cr_assert_eq(qv_sindex_build(cs[i].t, &v, NULL, 0, &ix, NULL), QV_OK);
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(qv_sindex_encode(ix, &b, NULL), QV_OK);
        uint8_t *img = qv_try_aligned_alloc(b.len, 1);
        for (size_t k = 0; k < b.len; k++) {
            memcpy(img, b.data, b.len);
            img[k] ^= 0x21;
            qv_sindex *l = NULL;
            qv_err err = {0};
            qv_code rc = qv_sindex_load(img, b.len, &l, &err);
            cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%zu byte %zu", i,
                         k);
            cr_assert(strstr(err.msg, "scalar index image"), "%s", err.msg);
        }
        for (size_t n = 0; n < b.len; n += 13) {
            qv_sindex *l = NULL;
            cr_assert_neq(qv_sindex_load(b.data, n, &l, NULL), QV_OK);
        }
        /* Resealed but unsorted keys. */
        memcpy(img, b.data, b.len);
        uint64_t koff;
        memcpy(&koff, img + 64, 8);
        if (cs[i].type == QV_DT_INT32) {
            int64_t big = INT64_MAX;
            memcpy(img + koff, &big, 8);
            uint32_t crc = qv_crc32c(0, img, 56);
            crc = qv_crc32c(crc, img + 64, b.len - 64);
            memcpy(img + 56, &crc, 4);
            qv_sindex *l = NULL;
            cr_assert_eq(qv_sindex_load(img, b.len, &l, NULL), QV_E_CORRUPT);
        }
        qv_aligned_free(img);
        qv_buf_release(&b);
        qv_sindex_free(ix);
        qv_column_free(c);
    }
}

Test(scalar_index, empty_and_all_null_columns)
{
    qv_field_spec spec = {.id = 100,
                          .name = "s",
                          .type = QV_DT_VARCHAR,
                          .max_length = 8,
                          .nullable = true};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_null(c, 70), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    const qv_sindex_type ts[] = {QV_SINDEX_INVERTED, QV_SINDEX_BITMAP,
                                 QV_SINDEX_TRIE};
    for (size_t i = 0; i < 3; i++) {
        qv_sindex *ix;
        cr_assert_eq(qv_sindex_build(ts[i], &v, NULL, 0, &ix, NULL), QV_OK);
        qv_bitset out;
        cr_assert_eq(qv_bitset_init(&out, 70), QV_OK);
        cr_assert_eq(qv_sindex_prefix(ix, "", 0, &out, NULL), QV_OK);
        cr_assert_eq(qv_bitset_count(&out), 0);
        void *img;
        qv_sindex *l = reload(ix, &img);
        qv_value e = qv_value_str("", 0);
        cr_assert_eq(qv_sindex_terms(l, &e, 1, &out, NULL), QV_OK);
        cr_assert_eq(qv_bitset_count(&out), 0);
        qv_sindex_free(l);
        qv_aligned_free(img);
        qv_bitset_release(&out);
        qv_sindex_free(ix);
    }
    qv_column_free(c);
}

Test(scalar_index, mapped_file_answers_like_the_built_index)
{
    rng_state = 77;
    qv_column *c = gen(QV_DT_VARCHAR, 0, true);
    qv_col_view v = qv_column_view(c);
    qv_sindex *ix;
    cr_assert_eq(qv_sindex_build(QV_SINDEX_TRIE, &v, NULL, 0, &ix, NULL),
                 QV_OK);
    cr_assert(!qv_sindex_is_array(ix));
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_sindex_encode(ix, &b, NULL), QV_OK);
    char path[] = "/tmp/qvsxXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    qv_sindex *m;
    qv_err err = {0};
    cr_assert_eq(qv_sindex_open_file(path, &m, &err), QV_OK, "%s", err.msg);
    check_prefix(m, &v, "mapped trie");
    check_scalar_queries(m, &v, "mapped trie");
    qv_sindex_free(m);
    /* A truncated file is refused with the path in the message. */
    cr_assert_eq(truncate(path, (off_t)(b.len - 64)), 0);
    cr_assert_neq(qv_sindex_open_file(path, &m, &err), QV_OK);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
    unlink(path);
    cr_assert_eq(qv_sindex_open_file(path, &m, &err), QV_E_IO);
    qv_buf_release(&b);
    qv_sindex_free(ix);
    qv_column_free(c);
}

/* Builds an index of type t over the given int64 or double values. */
static qv_sindex *index_of(qv_sindex_type t, qv_dtype type, const void *vals,
                           size_t n, qv_column **col)
{
    qv_field_spec spec = {.id = 100, .name = "e", .type = type};
    cr_assert_eq(qv_column_create(&spec, col, NULL), QV_OK);
    cr_assert_eq(qv_column_append_fixed(*col, vals, n), QV_OK);
    qv_column_publish(*col);
    qv_col_view v = qv_column_view(*col);
    qv_sindex *ix;
    cr_assert_eq(qv_sindex_build(t, &v, NULL, 0, &ix, NULL), QV_OK);
    return ix;
}

static size_t count_range(const qv_sindex *ix, const qv_sindex_bound *lo,
                          const qv_sindex_bound *hi, size_t first_expected)
{
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, qv_sindex_rows(ix)), QV_OK);
    cr_assert_eq(qv_sindex_range(ix, lo, hi, &out, NULL), QV_OK);
    size_t n = qv_bitset_count(&out);
    if (n)
        cr_assert_eq(qv_bitset_next_set(&out, 0), first_expected);
    qv_bitset_release(&out);
    return n;
}

Test(scalar_index, int64_extremes_against_float_bounds)
{
    int64_t vals[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    qv_column *c;
    qv_sindex *ix = index_of(QV_SINDEX_STL_SORT, QV_DT_INT64, vals, 5, &c);
    const double two63 = 9223372036854775808.0;
    qv_sindex_bound lo = {qv_value_float(two63), true};
    cr_assert_eq(count_range(ix, &lo, NULL, 0), 0); /* INT64_MAX < 2^63 */
    qv_sindex_bound hi = {qv_value_float(two63), false};
    cr_assert_eq(count_range(ix, NULL, &hi, 0), 5);
    lo = (qv_sindex_bound){qv_value_float(-two63), true};
    cr_assert_eq(count_range(ix, &lo, NULL, 0), 5); /* INT64_MIN == -2^63 */
    lo.inclusive = false;
    cr_assert_eq(count_range(ix, &lo, NULL, 1), 4);
    lo = (qv_sindex_bound){qv_value_float(0.5), true};
    hi = (qv_sindex_bound){qv_value_float(1.0), true};
    cr_assert_eq(count_range(ix, &lo, &hi, 3), 1);
    lo = (qv_sindex_bound){qv_value_float(-0.5), false};
    hi = (qv_sindex_bound){qv_value_float(0.5), false};
    cr_assert_eq(count_range(ix, &lo, &hi, 2), 1);
    lo = (qv_sindex_bound){qv_value_float(NAN), true};
    cr_assert_eq(count_range(ix, &lo, NULL, 0), 0);
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, 5), QV_OK);
    qv_value t[] = {qv_value_float(1.0), qv_value_float(1.5),
                    qv_value_int(INT64_MIN), qv_value_float(NAN)};
    cr_assert_eq(qv_sindex_terms(ix, t, 4, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 2);
    cr_assert(qv_bitset_test(&out, 0) && qv_bitset_test(&out, 3));
    qv_bitset_release(&out);
    qv_sindex_free(ix);
    qv_column_free(c);
}

Test(scalar_index, double_zeros_infinities_and_int_bounds)
{
    double vals[] = {-INFINITY, -0.0, 0.0, 1e300, INFINITY, NAN, 2.5};
    qv_column *c;
    qv_sindex *ix = index_of(QV_SINDEX_INVERTED, QV_DT_DOUBLE, vals, 7, &c);
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, 7), QV_OK);
    qv_value zero = qv_value_int(0);
    cr_assert_eq(qv_sindex_terms(ix, &zero, 1, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 2); /* -0.0 and 0.0 */
    qv_value inf = qv_value_float(INFINITY);
    cr_assert_eq(qv_sindex_terms(ix, &inf, 1, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 1);
    cr_assert(qv_bitset_test(&out, 4));
    qv_bitset_release(&out);
    /* (INT64_MAX, +inf]: 1e300 and +inf; the NaN row never matches */
    qv_sindex_bound lo = {qv_value_int(INT64_MAX), false};
    cr_assert_eq(count_range(ix, &lo, NULL, 3), 2);
    qv_sindex_bound hi = {qv_value_int(2), true};
    cr_assert_eq(count_range(ix, NULL, &hi, 0), 3);
    qv_sindex_free(ix);
    qv_column_free(c);
}

Test(scalar_index, bitmap_keeps_rare_values_as_postings)
{
    /* 20000 rows: value 0 in most rows, 200 rare values once each. */
    int32_t *vals = qv_xcalloc(20000, sizeof(int32_t));
    for (int i = 0; i < 200; i++)
        vals[i * 100] = i + 1;
    qv_field_spec spec = {.id = 100, .name = "b", .type = QV_DT_INT32};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    cr_assert_eq(qv_column_append_fixed(c, vals, 20000), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_sindex *ix;
    cr_assert_eq(qv_sindex_build(QV_SINDEX_BITMAP, &v, NULL, 0, &ix, NULL),
                 QV_OK);
    /* one dense bitmap (2.5 KB) + 200 postings, not 201 bitmaps (500 KB) */
    cr_assert_lt(qv_sindex_memory_size(ix), 20000);
    qv_bitset out;
    cr_assert_eq(qv_bitset_init(&out, 20000), QV_OK);
    qv_value t[] = {qv_value_int(0), qv_value_int(7)};
    cr_assert_eq(qv_sindex_terms(ix, &t[1], 1, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 1);
    cr_assert(qv_bitset_test(&out, 600));
    cr_assert_eq(qv_sindex_terms(ix, t, 2, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 19801);
    qv_sindex_bound lo = {qv_value_int(1), true};
    cr_assert_eq(qv_sindex_range(ix, &lo, NULL, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 200);
    void *img;
    qv_sindex *l = reload(ix, &img);
    cr_assert_eq(qv_sindex_range(l, &lo, NULL, &out, NULL), QV_OK);
    cr_assert_eq(qv_bitset_count(&out), 200);
    qv_sindex_free(l);
    qv_aligned_free(img);
    qv_bitset_release(&out);
    qv_sindex_free(ix);
    qv_column_free(c);
    free(vals);
}
