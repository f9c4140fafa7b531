/* distance_avx512.c -- AVX-512F kernels (16 floats per register, masked
 * tails).  Compiled with __attribute__((target)); handed out only on CPUs
 * that report AVX-512F/BW/VL.  Popcount kernels are shared with AVX2.
 */
#include "index/distance/distance.h"

#include <immintrin.h>

#define AVX512                                                                 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

/* out[i] = horizontal sum of s_i, for four accumulators at once. */
AVX512 static inline void hsum4(__m512 s0, __m512 s1, __m512 s2, __m512 s3,
                                float out[4])
{
    __m256 a0 = _mm256_add_ps(_mm512_castps512_ps256(s0),
                              _mm512_extractf32x8_ps(s0, 1));
    __m256 a1 = _mm256_add_ps(_mm512_castps512_ps256(s1),
                              _mm512_extractf32x8_ps(s1, 1));
    __m256 a2 = _mm256_add_ps(_mm512_castps512_ps256(s2),
                              _mm512_extractf32x8_ps(s2, 1));
    __m256 a3 = _mm256_add_ps(_mm512_castps512_ps256(s3),
                              _mm512_extractf32x8_ps(s3, 1));
    __m256 t0 = _mm256_hadd_ps(a0, a1); /* a0 a0 a1 a1 | a0 a0 a1 a1 */
    __m256 t1 = _mm256_hadd_ps(a2, a3);
    __m256 t = _mm256_hadd_ps(t0, t1); /* a0 a1 a2 a3 | a0 a1 a2 a3 */
    __m128 r =
        _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    _mm_storeu_ps(out, r);
}

AVX512 static inline __mmask16 tail_mask(size_t left)
{
    return (__mmask16)((1u << left) - 1u);
}

AVX512 static float l2sqr_avx512(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 =
            _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16),
                                  _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t =
            _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
                                 _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static float ip_avx512(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 =
            _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
                             _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= d; i += 16)
        s0 =
            _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
                             _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static void l2sqr4_avx512(const float *q, const float *b0,
                                 const float *b1, const float *b2,
                                 const float *b3, size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        __m512 t0 = _mm512_sub_ps(x, _mm512_loadu_ps(b0 + i));
        __m512 t1 = _mm512_sub_ps(x, _mm512_loadu_ps(b1 + i));
        __m512 t2 = _mm512_sub_ps(x, _mm512_loadu_ps(b2 + i));
        __m512 t3 = _mm512_sub_ps(x, _mm512_loadu_ps(b3 + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        __m512 t0 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, b0 + i));
        __m512 t1 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, b1 + i));
        __m512 t2 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, b2 + i));
        __m512 t3 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, b3 + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    hsum4(s0, s1, s2, s3, out);
}

AVX512 static void ip4_avx512(const float *q, const float *b0, const float *b1,
                              const float *b2, const float *b3, size_t d,
                              float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b3 + i), s3);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, b0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, b1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, b2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, b3 + i), s3);
    }
    hsum4(s0, s1, s2, s3, out);
}

AVX512 static inline __m512 load16_u8(const uint8_t *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
}

AVX512 static inline __m512 load_u8_mask(const uint8_t *p, __mmask16 m)
{
    __m128i v = _mm_maskz_loadu_epi8(m, p);
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
}

AVX512 static float sq8_l2_avx512(const float *qc, const float *w,
                                  const uint8_t *code, size_t d)
{
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(qc + i), load16_u8(code + i));
        s = _mm512_fmadd_ps(_mm512_mul_ps(t, t), _mm512_loadu_ps(w + i), s);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, qc + i),
                                 load_u8_mask(code + i, m));
        s = _mm512_fmadd_ps(_mm512_mul_ps(t, t),
                            _mm512_maskz_loadu_ps(m, w + i), s);
    }
    return _mm512_reduce_add_ps(s);
}

AVX512 static void sq8_l2_4_avx512(const float *qc, const float *w,
                                   const uint8_t *c0, const uint8_t *c1,
                                   const uint8_t *c2, const uint8_t *c3,
                                   size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 q = _mm512_loadu_ps(qc + i), ww = _mm512_loadu_ps(w + i);
        __m512 t0 = _mm512_sub_ps(q, load16_u8(c0 + i));
        __m512 t1 = _mm512_sub_ps(q, load16_u8(c1 + i));
        __m512 t2 = _mm512_sub_ps(q, load16_u8(c2 + i));
        __m512 t3 = _mm512_sub_ps(q, load16_u8(c3 + i));
        s0 = _mm512_fmadd_ps(_mm512_mul_ps(t0, t0), ww, s0);
        s1 = _mm512_fmadd_ps(_mm512_mul_ps(t1, t1), ww, s1);
        s2 = _mm512_fmadd_ps(_mm512_mul_ps(t2, t2), ww, s2);
        s3 = _mm512_fmadd_ps(_mm512_mul_ps(t3, t3), ww, s3);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 q = _mm512_maskz_loadu_ps(m, qc + i);
        __m512 ww = _mm512_maskz_loadu_ps(m, w + i);
        __m512 t0 = _mm512_sub_ps(q, load_u8_mask(c0 + i, m));
        __m512 t1 = _mm512_sub_ps(q, load_u8_mask(c1 + i, m));
        __m512 t2 = _mm512_sub_ps(q, load_u8_mask(c2 + i, m));
        __m512 t3 = _mm512_sub_ps(q, load_u8_mask(c3 + i, m));
        s0 = _mm512_fmadd_ps(_mm512_mul_ps(t0, t0), ww, s0);
        s1 = _mm512_fmadd_ps(_mm512_mul_ps(t1, t1), ww, s1);
        s2 = _mm512_fmadd_ps(_mm512_mul_ps(t2, t2), ww, s2);
        s3 = _mm512_fmadd_ps(_mm512_mul_ps(t3, t3), ww, s3);
    }
    hsum4(s0, s1, s2, s3, out);
}

AVX512 static void sq8_ip_4_avx512(const float *qw, const uint8_t *c0,
                                   const uint8_t *c1, const uint8_t *c2,
                                   const uint8_t *c3, size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 q = _mm512_loadu_ps(qw + i);
        s0 = _mm512_fmadd_ps(q, load16_u8(c0 + i), s0);
        s1 = _mm512_fmadd_ps(q, load16_u8(c1 + i), s1);
        s2 = _mm512_fmadd_ps(q, load16_u8(c2 + i), s2);
        s3 = _mm512_fmadd_ps(q, load16_u8(c3 + i), s3);
    }
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        __m512 q = _mm512_maskz_loadu_ps(m, qw + i);
        s0 = _mm512_fmadd_ps(q, load_u8_mask(c0 + i, m), s0);
        s1 = _mm512_fmadd_ps(q, load_u8_mask(c1 + i, m), s1);
        s2 = _mm512_fmadd_ps(q, load_u8_mask(c2 + i, m), s2);
        s3 = _mm512_fmadd_ps(q, load_u8_mask(c3 + i, m), s3);
    }
    hsum4(s0, s1, s2, s3, out);
}

AVX512 static float sq8_ip_avx512(const float *qw, const uint8_t *code,
                                  size_t d)
{
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16)
        s = _mm512_fmadd_ps(_mm512_loadu_ps(qw + i), load16_u8(code + i), s);
    if (i < d) {
        __mmask16 m = tail_mask(d - i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qw + i),
                            load_u8_mask(code + i, m), s);
    }
    return _mm512_reduce_add_ps(s);
}

AVX512 static void madd_avx512(size_t n, const float *a, float s,
                               const float *b, float *out)
{
    __m512 vs = _mm512_set1_ps(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_fmadd_ps(vs, _mm512_loadu_ps(b + i),
                                                  _mm512_loadu_ps(a + i)));
    for (; i < n; i++)
        out[i] = a[i] + s * b[i];
}

AVX512 static size_t argmin_avx512(const float *v, size_t n, float *min)
{
    if (n < 16)
        return qv__argmin_scalar(v, n, min);
    __m512 best = _mm512_loadu_ps(v);
    __m512i bidx =
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    __m512i idx = bidx, step = _mm512_set1_epi32(16);
    size_t i = 16;
    for (; i + 16 <= n; i += 16) {
        idx = _mm512_add_epi32(idx, step);
        __m512 x = _mm512_loadu_ps(v + i);
        __mmask16 lt = _mm512_cmp_ps_mask(x, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_ps(best, lt, x);
        bidx = _mm512_mask_mov_epi32(bidx, lt, idx);
    }
    float m = _mm512_reduce_min_ps(best);
    __mmask16 eq = _mm512_cmp_ps_mask(best, _mm512_set1_ps(m), _CMP_EQ_OQ);
    /* the smallest index among lanes holding the minimum */
    __m512i cand =
        _mm512_mask_mov_epi32(_mm512_set1_epi32(INT32_MAX), eq, bidx);
    size_t bi = (size_t)_mm512_reduce_min_epi32(cand);
    if (eq == 0) { /* all NaN so far */
        bi = 0;
        m = v[0];
    }
    for (; i < n; i++)
        if (v[i] < m) {
            m = v[i];
            bi = i;
        }
    *min = m;
    return bi;
}

AVX512 static size_t select_lt_avx512(const float *v, size_t n, float thr,
                                      uint32_t *out)
{
    __m512 t = _mm512_set1_ps(thr);
    __m512i idx =
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i step = _mm512_set1_epi32(16);
    size_t m = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 lt =
            _mm512_cmp_ps_mask(_mm512_loadu_ps(v + i), t, _CMP_LT_OQ);
        if (lt) {
            _mm512_mask_compressstoreu_epi32(out + m, lt, idx);
            m += (size_t)__builtin_popcount(lt);
        }
        idx = _mm512_add_epi32(idx, step);
    }
    for (; i < n; i++)
        if (v[i] < thr)
            out[m++] = (uint32_t)i;
    return m;
}

const qv_distance_kernels qv__kernels_avx512 = {
    .level = QV_SIMD_AVX512,
    .l2sqr = l2sqr_avx512,
    .ip = ip_avx512,
    .l2sqr_batch4 = l2sqr4_avx512,
    .ip_batch4 = ip4_avx512,
    .hamming = qv__hamming_popcnt,
    .and_or_count = qv__and_or_popcnt,
    .sq8_l2 = sq8_l2_avx512,
    .sq8_ip = sq8_ip_avx512,
    .madd = madd_avx512,
    .argmin = argmin_avx512,
    .select_lt = select_lt_avx512,
    .sq8_l2_batch4 = sq8_l2_4_avx512,
    .sq8_ip_batch4 = sq8_ip_4_avx512,
};
