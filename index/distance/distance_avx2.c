/* distance_avx2.c -- AVX2+FMA kernels (8 floats per register).
 *
 * Every function carries __attribute__((target)) so the file builds with the
 * portable baseline flags; the dispatcher only hands these out on CPUs that
 * report AVX2, FMA and POPCNT.
 */
#include "index/distance/distance.h"

#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,popcnt")))

AVX2 static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

AVX2 static float l2sqr_avx2(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 =
            _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8),
                                  _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t =
            _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

AVX2 static float ip_avx2(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                             _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= d; i += 8)
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++)
        s += a[i] * b[i];
    return s;
}

AVX2 static void l2sqr4_avx2(const float *q, const float *b0, const float *b1,
                             const float *b2, const float *b3, size_t d,
                             float out[4])
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        __m256 t0 = _mm256_sub_ps(x, _mm256_loadu_ps(b0 + i));
        __m256 t1 = _mm256_sub_ps(x, _mm256_loadu_ps(b1 + i));
        __m256 t2 = _mm256_sub_ps(x, _mm256_loadu_ps(b2 + i));
        __m256 t3 = _mm256_sub_ps(x, _mm256_loadu_ps(b3 + i));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    float r0 = hsum256(s0), r1 = hsum256(s1);
    float r2 = hsum256(s2), r3 = hsum256(s3);
    for (; i < d; i++) {
        float t0 = q[i] - b0[i], t1 = q[i] - b1[i];
        float t2 = q[i] - b2[i], t3 = q[i] - b3[i];
        r0 += t0 * t0;
        r1 += t1 * t1;
        r2 += t2 * t2;
        r3 += t3 * t3;
    }
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
    out[3] = r3;
}

AVX2 static void ip4_avx2(const float *q, const float *b0, const float *b1,
                          const float *b2, const float *b3, size_t d,
                          float out[4])
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b0 + i), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b1 + i), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b2 + i), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b3 + i), s3);
    }
    float r0 = hsum256(s0), r1 = hsum256(s1);
    float r2 = hsum256(s2), r3 = hsum256(s3);
    for (; i < d; i++) {
        r0 += q[i] * b0[i];
        r1 += q[i] * b1[i];
        r2 += q[i] * b2[i];
        r3 += q[i] * b3[i];
    }
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
    out[3] = r3;
}

AVX2 uint32_t qv__hamming_popcnt(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t c0 = 0, c1 = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint64_t x0, y0, x1, y1;
        memcpy(&x0, a + i, 8);
        memcpy(&y0, b + i, 8);
        memcpy(&x1, a + i + 8, 8);
        memcpy(&y1, b + i + 8, 8);
        c0 += (uint64_t)__builtin_popcountll(x0 ^ y0);
        c1 += (uint64_t)__builtin_popcountll(x1 ^ y1);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        c0 += (uint64_t)__builtin_popcountll(x ^ y);
    }
    for (; i < n; i++)
        c1 += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return (uint32_t)(c0 + c1);
}

AVX2 void qv__and_or_popcnt(const uint8_t *a, const uint8_t *b, size_t n,
                            uint32_t *and_c, uint32_t *or_c)
{
    uint64_t ca = 0, co = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        ca += (uint64_t)__builtin_popcountll(x & y);
        co += (uint64_t)__builtin_popcountll(x | y);
    }
    for (; i < n; i++) {
        ca += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        co += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    *and_c = (uint32_t)ca;
    *or_c = (uint32_t)co;
}

AVX2 static inline __m256 load8_u8(const uint8_t *p)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
}

AVX2 static float sq8_l2_avx2(const float *qc, const float *w,
                              const uint8_t *code, size_t d)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(qc + i), load8_u8(code + i));
        s = _mm256_fmadd_ps(_mm256_mul_ps(t, t), _mm256_loadu_ps(w + i), s);
    }
    float r = hsum256(s);
    for (; i < d; i++) {
        float t = qc[i] - (float)code[i];
        r += w[i] * t * t;
    }
    return r;
}

AVX2 static float sq8_ip_avx2(const float *qw, const uint8_t *code, size_t d)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8)
        s = _mm256_fmadd_ps(_mm256_loadu_ps(qw + i), load8_u8(code + i), s);
    float r = hsum256(s);
    for (; i < d; i++)
        r += qw[i] * (float)code[i];
    return r;
}

AVX2 static void madd_avx2(size_t n, const float *a, float s, const float *b,
                           float *out)
{
    __m256 vs = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(b + i),
                                                  _mm256_loadu_ps(a + i)));
    for (; i < n; i++)
        out[i] = a[i] + s * b[i];
}

static void sq8_l2_4_avx2(const float *qc, const float *w, const uint8_t *c0,
                          const uint8_t *c1, const uint8_t *c2,
                          const uint8_t *c3, size_t dim, float out[4])
{
    qv__sq8_l2_batch4_generic(&qv__kernels_avx2, qc, w, c0, c1, c2, c3, dim,
                              out);
}

static void sq8_ip_4_avx2(const float *qw, const uint8_t *c0, const uint8_t *c1,
                          const uint8_t *c2, const uint8_t *c3, size_t dim,
                          float out[4])
{
    qv__sq8_ip_batch4_generic(&qv__kernels_avx2, qw, c0, c1, c2, c3, dim, out);
}

const qv_distance_kernels qv__kernels_avx2 = {
    .level = QV_SIMD_AVX2,
    .l2sqr = l2sqr_avx2,
    .ip = ip_avx2,
    .l2sqr_batch4 = l2sqr4_avx2,
    .ip_batch4 = ip4_avx2,
    .hamming = qv__hamming_popcnt,
    .and_or_count = qv__and_or_popcnt,
    .sq8_l2 = sq8_l2_avx2,
    .sq8_ip = sq8_ip_avx2,
    .madd = madd_avx2,
    .argmin = qv__argmin_scalar,
    .select_lt = qv__select_lt_scalar,
    .sq8_l2_batch4 = sq8_l2_4_avx2,
    .sq8_ip_batch4 = sq8_ip_4_avx2,
};
