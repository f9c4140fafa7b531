/* distance.h -- distance kernels with run-time SIMD dispatch.
 *
 * Kernels are chosen once (per index, at create or load) by
 * qv_distance_kernels(), which probes the CPU the first time it is called:
 * AVX-512F, then AVX2+FMA, then portable scalar C.  The structure leaves room
 * for NEON.  QUIVER_SIMD=scalar|avx2|avx512 in the environment caps the
 * level (for tests and benchmarks).
 *
 * All float kernels take dim in elements and may read the vectors unaligned.
 * l2sqr returns the squared Euclidean distance; ip the inner product.
 * Batch variants compute one query against 4 rows at once (HNSW neighbour
 * lists, IVF lists), which amortizes query loads.
 *
 * Threading: kernels are pure; the dispatch table is immutable after the
 * first call.
 */
#ifndef QV_DISTANCE_H
#define QV_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum qv_simd_level {
    QV_SIMD_SCALAR = 0,
    QV_SIMD_AVX2 = 1,
    QV_SIMD_AVX512 = 2,
} qv_simd_level;

typedef float (*qv_fdist_fn)(const float *a, const float *b, size_t dim);
typedef void (*qv_fdist4_fn)(const float *q, const float *b0,
                             const float *b1, const float *b2,
                             const float *b3, size_t dim, float out[4]);
typedef uint32_t (*qv_hamming_fn)(const uint8_t *a, const uint8_t *b,
                                  size_t nbytes);

typedef struct qv_distance_kernels {
    qv_simd_level level;
    qv_fdist_fn l2sqr;
    qv_fdist_fn ip;
    qv_fdist4_fn l2sqr_batch4;
    qv_fdist4_fn ip_batch4;
    qv_hamming_fn hamming;
    /* |a & b| and |a | b| popcounts for Jaccard. */
    void (*and_or_count)(const uint8_t *a, const uint8_t *b, size_t nbytes,
                         uint32_t *and_count, uint32_t *or_count);
} qv_distance_kernels;

/* The best kernels this CPU supports (respecting QUIVER_SIMD). */
const qv_distance_kernels *qv_distance_kernels_get(void);
/* Kernels of a given level; NULL if the CPU lacks it. */
const qv_distance_kernels *qv_distance_kernels_at(qv_simd_level level);
const char *qv_simd_level_name(qv_simd_level level);

/* Squared L2 norm and in-place normalization (COSINE). */
float qv_norm_sqr(const float *a, size_t dim);
void qv_normalize(float *a, size_t dim);

#endif
