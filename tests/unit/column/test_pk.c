/* Tests of common/column/pk: PK -> rows lookups (hash map and sorted),
 * the bloom filter's measured false-positive rate, PK stats files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/column/pk.h"
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

static qv_column *int_pks(size_t n, uint64_t mod)
{
    qv_field_spec spec = {.id = 100, .name = "pk", .type = QV_DT_INT64};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)(rnd() % mod) - (int64_t)(mod / 2);
        cr_assert_eq(qv_column_append_fixed(c, &v, 1), QV_OK);
    }
    qv_column_publish(c);
    return c;
}

static qv_column *str_pks(size_t n, uint64_t mod)
{
    qv_field_spec spec = {
        .id = 100, .name = "pk", .type = QV_DT_VARCHAR, .max_length = 64};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    for (size_t i = 0; i < n; i++) {
        char s[32];
        int len =
            snprintf(s, sizeof s, "k%llu", (unsigned long long)(rnd() % mod));
        cr_assert_eq(qv_column_append_var(c, s, (size_t)len), QV_OK);
    }
    qv_column_publish(c);
    return c;
}

/* Brute-force rows of pk in v, compared with got. */
static void check_rows(const qv_col_view *v, const qv_pk *pk,
                       const qv_rows *got, size_t from)
{
    size_t j = from;
    for (size_t r = 0; r < v->rows; r++) {
        qv_pk k = qv_pk_of_row(v, r);
        if (qv_pk_cmp(&k, pk) == 0) {
            cr_assert(j < got->n, "missing row %zu", r);
            cr_assert_eq(got->v[j], (int64_t)r);
            j++;
        }
    }
    cr_assert_eq(j, got->n);
}

static void check_lookups(qv_column *c)
{
    qv_col_view v = qv_column_view(c);
    qv_pk_map *m;
    cr_assert_eq(qv_pk_map_create(v.type, &m, NULL), QV_OK);
    cr_assert_eq(qv_pk_map_add_column(m, &v, 0), QV_OK);
    qv_pk_sorted *s;
    cr_assert_eq(qv_pk_sorted_build(&v, &s, NULL), QV_OK);
    for (size_t q = 0; q < 300; q++) {
        /* half present (a row's key), half random */
        qv_pk pk;
        char buf[32];
        if (q % 2) {
            pk = qv_pk_of_row(&v, rnd() % v.rows);
        } else if (v.type == QV_DT_INT64) {
            pk = qv_pk_int((int64_t)(rnd() % 4000) - 2000);
        } else {
            int len = snprintf(buf, sizeof buf, "k%llu",
                               (unsigned long long)(rnd() % 4000));
            pk = qv_pk_str(buf, (size_t)len);
        }
        qv_rows a = {0}, b = {0};
        size_t na = qv_pk_map_find(m, &pk, &a);
        size_t nb = qv_pk_sorted_find(s, &pk, &b);
        cr_assert_eq(na, a.n);
        cr_assert_eq(nb, b.n);
        check_rows(&v, &pk, &a, 0);
        /* sorted lookups come back in PK order; rows ascending */
        check_rows(&v, &pk, &b, 0);
        cr_assert_eq(qv_pk_sorted_contains(s, &pk), na > 0);
        cr_assert_eq(qv_pk_map_last(m, &pk), na ? a.v[na - 1] : -1);
        if (q % 2)
            cr_assert_gt(na, 0);
        qv_rows_release(&a);
        qv_rows_release(&b);
    }
    qv_pk_sorted_free(s);
    qv_pk_map_free(m);
}

Test(pk, int64_lookups_match_brute_force)
{
    rng_state = 1;
    qv_column *c = int_pks(5000, 3000); /* many repeats */
    check_lookups(c);
    qv_column_free(c);
}

Test(pk, varchar_lookups_match_brute_force)
{
    rng_state = 2;
    qv_column *c = str_pks(5000, 3000);
    check_lookups(c);
    qv_column_free(c);
}

Test(pk, sorted_column_needs_no_permutation_and_still_finds)
{
    qv_field_spec spec = {.id = 100, .name = "pk", .type = QV_DT_INT64};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    for (int64_t i = 0; i < 1000; i++) {
        int64_t v = i * 2;
        cr_assert_eq(qv_column_append_fixed(c, &v, 1), QV_OK);
    }
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_pk_sorted *s;
    cr_assert_eq(qv_pk_sorted_build(&v, &s, NULL), QV_OK);
    qv_pk k = qv_pk_int(998);
    qv_rows r = {0};
    cr_assert_eq(qv_pk_sorted_find(s, &k, &r), 1);
    cr_assert_eq(r.v[0], 499);
    k = qv_pk_int(999);
    cr_assert(!qv_pk_sorted_contains(s, &k));
    qv_pk str = qv_pk_str("998", 3);
    cr_assert(!qv_pk_sorted_contains(s, &str));
    qv_rows_release(&r);
    qv_pk_sorted_free(s);
    qv_column_free(c);
}

Test(pk, map_rejects_other_key_types)
{
    qv_pk_map *m;
    qv_err err = {0};
    cr_assert_eq(qv_pk_map_create(QV_DT_FLOAT, &m, &err), QV_E_INVALID);
    cr_assert_eq(qv_pk_map_create(QV_DT_INT64, &m, NULL), QV_OK);
    qv_pk s = qv_pk_str("a", 1);
    cr_assert_eq(qv_pk_map_add(m, &s, 0), QV_E_INVALID);
    cr_assert_eq(qv_pk_map_last(m, &s), -1);
    qv_pk_map_free(m);
}

Test(pk, bloom_false_positive_rate_is_about_one_in_a_thousand)
{
    const size_t n = 100000;
    qv_pk_bloom *b;
    cr_assert_eq(qv_pk_bloom_create(QV_DT_INT64, n, 0.001, &b, NULL), QV_OK);
    cr_assert_eq(qv_pk_bloom_hashes(b), 10);
    cr_assert_gt(qv_pk_bloom_bits(b), n * 14);
    for (size_t i = 0; i < n; i++) {
        qv_pk k = qv_pk_int((int64_t)(i * 7919));
        qv_pk_bloom_add(b, &k);
    }
    for (size_t i = 0; i < n; i++) {
        qv_pk k = qv_pk_int((int64_t)(i * 7919));
        cr_assert(qv_pk_bloom_test(b, &k), "false negative %zu", i);
    }
    size_t fp = 0, trials = 200000;
    for (size_t i = 0; i < trials; i++) {
        qv_pk k = qv_pk_int((int64_t)(i * 7919) + 1); /* never added */
        fp += qv_pk_bloom_test(b, &k);
    }
    double rate = (double)fp / (double)trials;
    cr_log_info("bloom int64 false-positive rate %.5f", rate);
    cr_assert(rate > 0.0003 && rate < 0.002, "rate %.5f", rate);
    qv_pk_bloom_free(b);

    cr_assert_eq(qv_pk_bloom_create(QV_DT_VARCHAR, n, 0.001, &b, NULL), QV_OK);
    char s[32];
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(s, sizeof s, "user-%zu", i);
        qv_pk k = qv_pk_str(s, (size_t)len);
        qv_pk_bloom_add(b, &k);
    }
    fp = 0;
    for (size_t i = 0; i < trials; i++) {
        int len = snprintf(s, sizeof s, "other-%zu", i);
        qv_pk k = qv_pk_str(s, (size_t)len);
        fp += qv_pk_bloom_test(b, &k);
    }
    rate = (double)fp / (double)trials;
    cr_log_info("bloom varchar false-positive rate %.5f", rate);
    cr_assert(rate > 0.0003 && rate < 0.002, "rate %.5f", rate);
    qv_pk_bloom_free(b);
}

static void stats_round_trip(qv_column *c)
{
    qv_col_view v = qv_column_view(c);
    qv_pk_stats st;
    cr_assert_eq(qv_pk_stats_build(&v, &st, NULL), QV_OK);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_pk_stats_encode(&st, &b, NULL), QV_OK);
    qv_pk_stats d;
    qv_err err = {0};
    cr_assert_eq(qv_pk_stats_decode(b.data, b.len, &d, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(d.rows, v.rows);
    cr_assert_eq(d.has_minmax, v.rows > 0);
    if (v.type == QV_DT_INT64 && v.rows) {
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (size_t r = 0; r < v.rows; r++) {
            int64_t x = qv_col_i64(&v, r);
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        cr_assert_eq(d.min_i, mn);
        cr_assert_eq(d.max_i, mx);
        qv_pk out = qv_pk_int(mx + 1);
        cr_assert(!qv_pk_stats_may_contain(&d, &out));
    }
    for (size_t r = 0; r < v.rows; r++) {
        qv_pk k = qv_pk_of_row(&v, r);
        cr_assert(qv_pk_stats_may_contain(&d, &k));
    }
    /* every flipped byte and every truncation is caught */
    uint8_t *copy = qv_xmalloc(b.len);
    for (size_t i = 0; i < b.len; i += (b.len > 4000 ? 37 : 1)) {
        memcpy(copy, b.data, b.len);
        copy[i] ^= 0x40;
        qv_pk_stats x;
        cr_assert_eq(qv_code_primary(qv_pk_stats_decode(copy, b.len, &x, NULL)),
                     QV_E_CORRUPT, "byte %zu", i);
    }
    for (size_t n = 0; n < b.len; n += 11) {
        qv_pk_stats x;
        cr_assert_neq(qv_pk_stats_decode(b.data, n, &x, NULL), QV_OK);
    }
    free(copy);
    qv_pk_stats_release(&d);
    qv_pk_stats_release(&st);
    qv_buf_release(&b);
}

Test(pk, stats_round_trip_and_reject_damage)
{
    rng_state = 3;
    qv_column *c = int_pks(2000, 1u << 30);
    stats_round_trip(c);
    qv_column_free(c);
    c = str_pks(500, 100000);
    stats_round_trip(c);
    qv_column_free(c);
    c = int_pks(0, 1);
    stats_round_trip(c);
    qv_column_free(c);
}
