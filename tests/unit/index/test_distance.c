/* Tests of index/distance: every SIMD level against plain double-precision
 * loops, over dims that exercise the vector bodies and the tails. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "index/distance/distance.h"

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static const size_t dims[] = {1,  3,  7,  8,   15,  16,  17,
                              31, 33, 64, 100, 128, 384, 1000};

static void check_level(const qv_distance_kernels *k)
{
    unsigned seed = 7;
    for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
        size_t d = dims[t];
        float *a = malloc(5 * d * sizeof(float));
        uint8_t *code = malloc(d);
        for (size_t i = 0; i < 5 * d; i++)
            a[i] = frand(&seed) * 10;
        for (size_t i = 0; i < d; i++)
            code[i] = (uint8_t)(seed >> 3), frand(&seed);
        double l2[4] = {0}, ip[4] = {0}, sl2 = 0, sip = 0;
        for (int r = 0; r < 4; r++)
            for (size_t i = 0; i < d; i++) {
                double x = a[i] - a[(r + 1) * d + i];
                l2[r] += x * x;
                ip[r] += (double)a[i] * a[(r + 1) * d + i];
            }
        for (size_t i = 0; i < d; i++) {
            double x = a[i] - code[i];
            sl2 += a[d + i] * x * x;
            sip += (double)a[i] * code[i];
        }
        float o4[4];
        double tol = 1e-4 * (double)d * 100;
        cr_assert_float_eq(k->l2sqr(a, a + d, d), l2[0], tol, "d=%zu", d);
        cr_assert_float_eq(k->ip(a, a + d, d), ip[0], tol, "d=%zu", d);
        k->l2sqr_batch4(a, a + d, a + 2 * d, a + 3 * d, a + 4 * d, d, o4);
        for (int r = 0; r < 4; r++)
            cr_assert_float_eq(o4[r], l2[r], tol, "d=%zu r=%d", d, r);
        k->ip_batch4(a, a + d, a + 2 * d, a + 3 * d, a + 4 * d, d, o4);
        for (int r = 0; r < 4; r++)
            cr_assert_float_eq(o4[r], ip[r], tol, "d=%zu r=%d", d, r);
        cr_assert_float_eq(k->sq8_l2(a, a + d, code, d), sl2, tol * 100,
                           "d=%zu", d);
        cr_assert_float_eq(k->sq8_ip(a, code, d), sip, tol * 100, "d=%zu", d);
        /* batch of four shares the query loads */
        k->sq8_l2_batch4(a, a + d, code, code, code, code, d, o4);
        for (int r = 0; r < 4; r++)
            cr_assert_float_eq(o4[r], sl2, tol * 100, "d=%zu", d);
        k->sq8_ip_batch4(a, code, code, code, code, d, o4);
        for (int r = 0; r < 4; r++)
            cr_assert_float_eq(o4[r], sip, tol * 100, "d=%zu", d);
        float *o = malloc(d * sizeof(float));
        k->madd(d, a, 2.0f, a + d, o);
        for (size_t i = 0; i < d; i++)
            cr_assert_float_eq(o[i], a[i] + 2.0f * a[d + i], 1e-4);
        free(o);
        free(a);
        free(code);
    }
}

static void check_argmin(const qv_distance_kernels *k)
{
    unsigned seed = 3;
    float v[300];
    for (size_t n = 1; n < 300; n += 13) {
        for (size_t i = 0; i < n; i++)
            v[i] = frand(&seed);
        size_t want = 0;
        for (size_t i = 1; i < n; i++)
            if (v[i] < v[want])
                want = i;
        float m;
        cr_assert_eq(k->argmin(v, n, &m), want, "n=%zu", n);
        cr_assert_eq(m, v[want]);
        /* ties: the first index wins */
        if (n > 20) {
            v[n - 1] = v[want];
            v[17] = v[want];
            cr_assert_eq(k->argmin(v, n, &m), want < 17 ? want : 17);
        }
    }
}

static void check_bits(const qv_distance_kernels *k)
{
    unsigned seed = 11;
    for (size_t n = 1; n < 80; n += 7) {
        uint8_t *a = malloc(n), *b = malloc(n);
        uint32_t h = 0, ca = 0, co = 0;
        for (size_t i = 0; i < n; i++) {
            frand(&seed);
            a[i] = (uint8_t)(seed >> 5);
            frand(&seed);
            b[i] = (uint8_t)(seed >> 7);
            for (int bit = 0; bit < 8; bit++) {
                int x = (a[i] >> bit) & 1, y = (b[i] >> bit) & 1;
                h += (uint32_t)(x != y);
                ca += (uint32_t)(x & y);
                co += (uint32_t)(x | y);
            }
        }
        cr_assert_eq(k->hamming(a, b, n), h, "n=%zu", n);
        uint32_t ga, go;
        k->and_or_count(a, b, n, &ga, &go);
        cr_assert_eq(ga, ca);
        cr_assert_eq(go, co);
        free(a);
        free(b);
    }
}

Test(distance, every_available_level_matches_reference)
{
    int levels = 0;
    for (int lv = QV_SIMD_SCALAR; lv <= QV_SIMD_AVX512; lv++) {
        const qv_distance_kernels *k = qv_distance_kernels_at(lv);
        if (!k)
            continue;
        cr_assert_eq((int)k->level, lv);
        check_level(k);
        check_bits(k);
        check_argmin(k);
        levels++;
    }
    cr_assert_geq(levels, 1);
    cr_assert_not_null(qv_distance_kernels_get());
}

Test(distance, normalize_gives_unit_norm_and_keeps_zero)
{
    float v[37], z[5] = {0};
    for (int i = 0; i < 37; i++)
        v[i] = (float)(i - 18);
    qv_normalize(v, 37);
    cr_assert_float_eq(qv_norm_sqr(v, 37), 1.0f, 1e-5);
    qv_normalize(z, 5);
    cr_assert_eq(z[0], 0.0f);
    cr_assert_str_eq(qv_simd_level_name(QV_SIMD_AVX2), "avx2");
}
