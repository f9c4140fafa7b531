/* distance.c -- portable scalar kernels and the run-time dispatch.
 *
 * The scalar level is plain C that the compiler may auto-vectorize for the
 * baseline ISA; it is the reference the SIMD levels are tested against.
 */
#include "index/distance/distance.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static float l2sqr_scalar(const float *a, const float *b, size_t d)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1];
        float t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

static float ip_scalar(const float *a, const float *b, size_t d)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void l2sqr4_scalar(const float *q, const float *b0, const float *b1,
                          const float *b2, const float *b3, size_t d,
                          float out[4])
{
    out[0] = l2sqr_scalar(q, b0, d);
    out[1] = l2sqr_scalar(q, b1, d);
    out[2] = l2sqr_scalar(q, b2, d);
    out[3] = l2sqr_scalar(q, b3, d);
}

static void ip4_scalar(const float *q, const float *b0, const float *b1,
                       const float *b2, const float *b3, size_t d, float out[4])
{
    out[0] = ip_scalar(q, b0, d);
    out[1] = ip_scalar(q, b1, d);
    out[2] = ip_scalar(q, b2, d);
    out[3] = ip_scalar(q, b3, d);
}

static uint32_t hamming_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        c += (uint32_t)__builtin_popcountll(x ^ y);
    }
    for (; i < n; i++)
        c += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return c;
}

static void and_or_scalar(const uint8_t *a, const uint8_t *b, size_t n,
                          uint32_t *and_c, uint32_t *or_c)
{
    uint32_t ca = 0, co = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        ca += (uint32_t)__builtin_popcountll(x & y);
        co += (uint32_t)__builtin_popcountll(x | y);
    }
    for (; i < n; i++) {
        ca += (uint32_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        co += (uint32_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    *and_c = ca;
    *or_c = co;
}

static float sq8_l2_scalar(const float *qc, const float *w, const uint8_t *code,
                           size_t d)
{
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = qc[i] - (float)code[i];
        s += w[i] * t * t;
    }
    return s;
}

static float sq8_ip_scalar(const float *qw, const uint8_t *code, size_t d)
{
    float s = 0;
    for (size_t i = 0; i < d; i++)
        s += qw[i] * (float)code[i];
    return s;
}

static void madd_scalar(size_t n, const float *a, float s, const float *b,
                        float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + s * b[i];
}

size_t qv__argmin_scalar(const float *v, size_t n, float *min)
{
    size_t bi = 0;
    float best = n ? v[0] : INFINITY;
    for (size_t i = 1; i < n; i++)
        if (v[i] < best) {
            best = v[i];
            bi = i;
        }
    *min = best;
    return bi;
}

size_t qv__select_lt_scalar(const float *v, size_t n, float thr, uint32_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[m] = (uint32_t)i;
        m += v[i] < thr;
    }
    return m;
}

void qv__sq8_l2_batch4_generic(const qv_distance_kernels *k, const float *qc,
                               const float *w, const uint8_t *c0,
                               const uint8_t *c1, const uint8_t *c2,
                               const uint8_t *c3, size_t dim, float out[4])
{
    out[0] = k->sq8_l2(qc, w, c0, dim);
    out[1] = k->sq8_l2(qc, w, c1, dim);
    out[2] = k->sq8_l2(qc, w, c2, dim);
    out[3] = k->sq8_l2(qc, w, c3, dim);
}

void qv__sq8_ip_batch4_generic(const qv_distance_kernels *k, const float *qw,
                               const uint8_t *c0, const uint8_t *c1,
                               const uint8_t *c2, const uint8_t *c3, size_t dim,
                               float out[4])
{
    out[0] = k->sq8_ip(qw, c0, dim);
    out[1] = k->sq8_ip(qw, c1, dim);
    out[2] = k->sq8_ip(qw, c2, dim);
    out[3] = k->sq8_ip(qw, c3, dim);
}

static void sq8_ip_4_scalar(const float *qw, const uint8_t *c0,
                            const uint8_t *c1, const uint8_t *c2,
                            const uint8_t *c3, size_t dim, float out[4])
{
    qv__sq8_ip_batch4_generic(&qv__kernels_scalar, qw, c0, c1, c2, c3, dim,
                              out);
}

static void sq8_l2_4_scalar(const float *qc, const float *w, const uint8_t *c0,
                            const uint8_t *c1, const uint8_t *c2,
                            const uint8_t *c3, size_t dim, float out[4])
{
    qv__sq8_l2_batch4_generic(&qv__kernels_scalar, qc, w, c0, c1, c2, c3, dim,
                              out);
}

const qv_distance_kernels qv__kernels_scalar = {
    .level = QV_SIMD_SCALAR,
    .l2sqr = l2sqr_scalar,
    .ip = ip_scalar,
    .l2sqr_batch4 = l2sqr4_scalar,
    .ip_batch4 = ip4_scalar,
    .hamming = hamming_scalar,
    .and_or_count = and_or_scalar,
    .sq8_l2 = sq8_l2_scalar,
    .sq8_ip = sq8_ip_scalar,
    .madd = madd_scalar,
    .argmin = qv__argmin_scalar,
    .select_lt = qv__select_lt_scalar,
    .sq8_l2_batch4 = sq8_l2_4_scalar,
    .sq8_ip_batch4 = sq8_ip_4_scalar,
};

static qv_simd_level cpu_level;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    __builtin_cpu_init();
    qv_simd_level lv = QV_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("popcnt"))
        lv = QV_SIMD_AVX2;
    if (lv == QV_SIMD_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        lv = QV_SIMD_AVX512;
    const char *cap = getenv("QUIVER_SIMD");
    if (cap) {
        qv_simd_level c = lv;
        if (strcmp(cap, "scalar") == 0)
            c = QV_SIMD_SCALAR;
        else if (strcmp(cap, "avx2") == 0)
            c = QV_SIMD_AVX2;
        else if (strcmp(cap, "avx512") == 0)
            c = QV_SIMD_AVX512;
        if (c < lv)
            lv = c;
    }
    cpu_level = lv;
}

static qv_simd_level hw_level(void)
{
    pthread_once(&probe_once, probe);
    return cpu_level;
}

const qv_distance_kernels *qv_distance_kernels_at(qv_simd_level level)
{
    if (level > hw_level())
        return NULL;
    switch (level) {
    case QV_SIMD_AVX512:
        return &qv__kernels_avx512;
    case QV_SIMD_AVX2:
        return &qv__kernels_avx2;
    case QV_SIMD_SCALAR:
        return &qv__kernels_scalar;
    }
    return NULL;
}

const qv_distance_kernels *qv_distance_kernels_get(void)
{
    return qv_distance_kernels_at(hw_level());
}

const char *qv_simd_level_name(qv_simd_level level)
{
    switch (level) {
    case QV_SIMD_SCALAR:
        return "scalar";
    case QV_SIMD_AVX2:
        return "avx2";
    case QV_SIMD_AVX512:
        return "avx512";
    }
    return "?";
}

float qv_norm_sqr(const float *a, size_t dim)
{
    return qv_distance_kernels_get()->ip(a, a, dim);
}

void qv_normalize(float *a, size_t dim)
{
    float n = qv_norm_sqr(a, dim);
    if (!(n > 0) || !isfinite(n))
        return;
    float inv = 1.0f / sqrtf(n);
    for (size_t i = 0; i < dim; i++)
        a[i] *= inv;
}
