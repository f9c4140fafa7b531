/* kmeans.h -- k-means and nearest-centroid assignment (internal to the
 * index library; see kmeans.c).
 *
 * Threading: work runs on cfg->pool (NULL = the calling thread); inputs
 * are only read.
 */
#ifndef QV_KMEANS_H
#define QV_KMEANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pool.h"
#include "common/status.h"

typedef struct qv__kmeans_cfg {
    int niter;               /* Lloyd iterations */
    size_t max_per_centroid; /* sample cap per centroid; 0 = no cap */
    uint64_t seed;
    bool ip; /* assign by largest inner product instead of L2 */
    qv_pool *pool;
} qv__kmeans_cfg;

/* Trains k centroids (k*d floats, caller-allocated) from n points x. */
qv_code qv__kmeans(const qv__kmeans_cfg *cfg, size_t n, size_t d,
                   const float *x, size_t k, float *cent,
                   qv_err *err) QV_MUST_USE;

/* Nearest centroid of each of n points: assign[i], and its score in
 * score[i] when score is not NULL (L2: |c|^2 - 2 x.c, i.e. without |x|^2;
 * IP: -x.c).  cnorm = |c|^2 per centroid (unused for IP). */
qv_code qv__kmeans_assign(const float *x, size_t n, size_t d, const float *cent,
                          const float *cnorm, size_t k, bool ip, qv_pool *pool,
                          int64_t *assign, float *score,
                          qv_err *err) QV_MUST_USE;

/* out[i] = |x_i|^2. */
void qv__norms(const float *x, size_t n, size_t d, float *out);

#endif
