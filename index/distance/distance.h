/* distance.h -- distance kernels with run-time SIMD dispatch.
 *
 * Kernels are chosen once (per index, at create or load) by
 * qv_distance_kernels_get(), which probes the CPU the first time it is
 * called: AVX-512F, then AVX2+FMA, then portable scalar C.  Each level lives
 * in its own file (distance_avx512.c, distance_avx2.c, distance.c) compiled
 * with __attribute__((target(...))), never a global -march; a NEON level is
 * a new file and one more case in qv_distance_kernels_at().
 * QUIVER_SIMD=scalar|avx2|avx512 in the environment caps the level (for
 * tests and benchmarks).
 *
 * All float kernels take dim in elements and may read the vectors unaligned.
 * l2sqr returns the squared Euclidean distance; ip the inner product.
 * Batch variants compute one query against 4 rows at once (HNSW neighbour
 * lists, IVF lists), which amortizes query loads.  The sq8_* kernels score
 * 8-bit scalar-quantized codes (IVF_SQ8) against a query already mapped into
 * code space; popcount kernels work on bytes.
 *
 * Threading: kernels are pure; the dispatch table is immutable after the
 * first call.  Fields are only ever appended to qv_distance_kernels.
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
typedef void (*qv_fdist4_fn)(const float *q, const float *b0, const float *b1,
                             const float *b2, const float *b3, size_t dim,
                             float out[4]);
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
    /* sum_i w[i] * (qc[i] - code[i])^2: L2 of an SQ8 code against a query
     * mapped into code space (qc) with per-dimension weights w. */
    float (*sq8_l2)(const float *qc, const float *w, const uint8_t *code,
                    size_t dim);
    /* sum_i qw[i] * code[i]: inner product of an SQ8 code with a query
     * pre-multiplied by the per-dimension scale. */
    float (*sq8_ip)(const float *qw, const uint8_t *code, size_t dim);
    /* out[i] = a[i] + s * b[i] for i < n (PQ lookup tables). */
    void (*madd)(size_t n, const float *a, float s, const float *b, float *out);
    /* Index of the smallest of v[0..n) (the first on ties; n < 2^31) and
     * its value in *min; 0 and +inf when n == 0. */
    size_t (*argmin)(const float *v, size_t n, float *min);
    /* Writes the indices i < n with v[i] < thr, ascending, to out (room
     * for n) and returns their count (top-k candidate filtering). */
    size_t (*select_lt)(const float *v, size_t n, float thr, uint32_t *out);
    /* sq8_l2 of four codes at once (shares the query loads). */
    void (*sq8_l2_batch4)(const float *qc, const float *w, const uint8_t *c0,
                          const uint8_t *c1, const uint8_t *c2,
                          const uint8_t *c3, size_t dim, float out[4]);
    /* sq8_ip of four codes at once. */
    void (*sq8_ip_batch4)(const float *qw, const uint8_t *c0, const uint8_t *c1,
                          const uint8_t *c2, const uint8_t *c3, size_t dim,
                          float out[4]);
} qv_distance_kernels;

/* The best kernels this CPU supports (respecting QUIVER_SIMD). */
const qv_distance_kernels *qv_distance_kernels_get(void);
/* Kernels of a given level; NULL if the CPU lacks it. */
const qv_distance_kernels *qv_distance_kernels_at(qv_simd_level level);
const char *qv_simd_level_name(qv_simd_level level);

/* Squared L2 norm and in-place normalization (COSINE).  A zero vector is
 * left unchanged. */
float qv_norm_sqr(const float *a, size_t dim);
void qv_normalize(float *a, size_t dim);

/* Level tables, defined in the per-level files (internal). */
extern const qv_distance_kernels qv__kernels_scalar;
extern const qv_distance_kernels qv__kernels_avx2;
extern const qv_distance_kernels qv__kernels_avx512;
size_t qv__argmin_scalar(const float *v, size_t n, float *min);
size_t qv__select_lt_scalar(const float *v, size_t n, float thr, uint32_t *out);
void qv__sq8_ip_batch4_generic(const qv_distance_kernels *k, const float *qw,
                               const uint8_t *c0, const uint8_t *c1,
                               const uint8_t *c2, const uint8_t *c3, size_t dim,
                               float out[4]);
void qv__sq8_l2_batch4_generic(const qv_distance_kernels *k, const float *qc,
                               const float *w, const uint8_t *c0,
                               const uint8_t *c1, const uint8_t *c2,
                               const uint8_t *c3, size_t dim, float out[4]);
/* POPCNT kernels shared by the AVX2 and AVX-512 levels (internal). */
uint32_t qv__hamming_popcnt(const uint8_t *a, const uint8_t *b, size_t n);
void qv__and_or_popcnt(const uint8_t *a, const uint8_t *b, size_t n,
                       uint32_t *and_count, uint32_t *or_count);

#endif
