/* ixtest.h -- helpers for the index tests: seeded data, a naive exact
 * search, recall.  Header-only so each test binary stays one folder. */
#ifndef QV_IXTEST_H
#define QV_IXTEST_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"

static inline uint32_t ixt_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static inline float ixt_frand(uint64_t *s)
{
    return (float)ixt_rand(s) / 2147483648.0f - 0.5f;
}

/* n clustered float rows of dim d (clusters make IVF meaningful). */
static inline float *ixt_data(size_t n, size_t d, uint64_t seed)
{
    uint64_t s = seed;
    size_t nc = 16;
    float *c = malloc(nc * d * sizeof(float));
    for (size_t i = 0; i < nc * d; i++)
        c[i] = ixt_frand(&s) * 4;
    float *x = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t k = ixt_rand(&s) % nc;
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = c[k * d + j] + ixt_frand(&s);
    }
    free(c);
    return x;
}

/* nq queries near random rows of x (row + noise of the given scale). */
static inline float *ixt_queries(const float *x, size_t n, size_t d, size_t nq,
                                 float noise, uint64_t seed)
{
    uint64_t s = seed;
    float *q = malloc(nq * d * sizeof(float));
    for (size_t i = 0; i < nq; i++) {
        size_t r = ixt_rand(&s) % n;
        for (size_t j = 0; j < d; j++)
            q[i * d + j] = x[r * d + j] + noise * ixt_frand(&s);
    }
    return q;
}

static inline uint8_t *ixt_bits(size_t n, size_t nbytes, uint64_t seed)
{
    uint64_t s = seed;
    uint8_t *x = malloc(n * nbytes);
    for (size_t i = 0; i < n * nbytes; i++)
        x[i] = (uint8_t)ixt_rand(&s);
    return x;
}

static inline double ixt_dist(qv_metric m, const float *a, const float *b,
                              size_t d)
{
    double s = 0, na = 0, nb = 0;
    for (size_t i = 0; i < d; i++) {
        if (m == QV_METRIC_L2)
            s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        else
            s += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (m == QV_METRIC_COSINE)
        s = (na > 0 && nb > 0) ? s / sqrt(na * nb) : 0;
    return s;
}

static inline double ixt_bdist(qv_metric m, const uint8_t *a, const uint8_t *b,
                               size_t nbytes)
{
    unsigned x = 0, an = 0, o = 0;
    for (size_t i = 0; i < nbytes; i++) {
        x += (unsigned)__builtin_popcount(a[i] ^ b[i]);
        an += (unsigned)__builtin_popcount(a[i] & b[i]);
        o += (unsigned)__builtin_popcount(a[i] | b[i]);
    }
    if (m == QV_METRIC_HAMMING)
        return x;
    return o ? 1.0 - (double)an / o : 0.0;
}

/* Naive exact top-k labels (closest first; skips excluded rows). */
static inline void ixt_naive(qv_metric m, const void *x, size_t n, size_t d,
                             const void *q, size_t k, const qv_bitset *filter,
                             int64_t *out, double *dout)
{
    bool larger = qv_metric_larger_is_closer(m);
    bool bin = qv_metric_is_binary(m);
    for (size_t i = 0; i < k; i++) {
        out[i] = -1;
        dout[i] = larger ? -INFINITY : INFINITY;
    }
    for (size_t r = 0; r < n; r++) {
        if (filter && qv_bitset_test(filter, r))
            continue;
        double v =
            bin ? ixt_bdist(m, (const uint8_t *)x + r * (d / 8), q, d / 8)
                : ixt_dist(m, (const float *)x + r * d, q, d);
        size_t pos = k;
        while (pos > 0 && (larger ? v > dout[pos - 1] : v < dout[pos - 1]))
            pos--;
        if (pos >= k)
            continue;
        memmove(out + pos + 1, out + pos, (k - pos - 1) * sizeof(*out));
        memmove(dout + pos + 1, dout + pos, (k - pos - 1) * sizeof(*dout));
        out[pos] = (int64_t)r;
        dout[pos] = v;
    }
}

/* |found ∩ truth| / |truth| over nq*k label arrays (truth -1 = none). */
static inline double ixt_recall(const int64_t *found, const int64_t *truth,
                                size_t nq, size_t k)
{
    size_t hit = 0, valid = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t b = 0; b < k; b++) {
            if (truth[i * k + b] < 0)
                continue;
            valid++;
            for (size_t a = 0; a < k; a++)
                if (found[i * k + a] == truth[i * k + b]) {
                    hit++;
                    break;
                }
        }
    return valid ? (double)hit / (double)valid : 1.0;
}

#endif
