/* kmeans.c -- seeded k-means for IVF coarse quantizers and PQ codebooks.
 *
 * Lloyd iterations over a random sample of at most max_per_centroid points
 * per centroid (FAISS's default of 256); initial centroids are distinct
 * random sample points; an empty cluster takes half of a large cluster
 * (the large centroid is copied and both are nudged apart, as FAISS does).
 * Assignment is blocked sgemm (|c|^2 - 2 x.c for L2, -x.c for IP) run in
 * parallel over blocks of points on the pool.  For a given seed and input,
 * the result does not depend on the number of threads.
 */
#include "index/index_impl.h"
#include "index/kmeans.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define ASSIGN_BLOCK 256
#define CENT_BLOCK   4096

typedef struct assign_job {
    const float *x, *cent, *cnorm;
    size_t n, d, k;
    bool ip;
    int64_t *assign;
    float *score;
    int failed;
} assign_job;

static void assign_block(assign_job *j, size_t b, size_t e);

/* Runs a pool chunk in cache-sized blocks of ASSIGN_BLOCK points. */
static void assign_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    for (size_t s = b; s < e; s += ASSIGN_BLOCK)
        assign_block(arg, s, s + ASSIGN_BLOCK < e ? s + ASSIGN_BLOCK : e);
}

static void assign_block(assign_job *j, size_t b, size_t e)
{
    const qv_distance_kernels *kern = qv_distance_kernels_get();
    size_t kb = j->k < CENT_BLOCK ? j->k : CENT_BLOCK;
    size_t qn = e - b;
    float *dots = qv_try_alloc(qn * kb + 2 * kb, sizeof(float));
    if (!dots) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *s = dots + qn * kb, *zero = s + kb;
    memset(zero, 0, kb * sizeof(float));
    for (size_t i = 0; i < qn; i++) {
        j->score[b + i] = INFINITY;
        j->assign[b + i] = 0;
    }
    for (size_t c0 = 0; c0 < j->k; c0 += kb) {
        size_t cn = j->k - c0 < kb ? j->k - c0 : kb;
        qv__sgemm_nt(qn, cn, j->d, 1.0f, j->x + b * j->d, j->d,
                     j->cent + c0 * j->d, j->d, 0.0f, dots, cn);
        for (size_t i = 0; i < qn; i++) {
            /* L2: |c|^2 - 2 x.c; IP: -x.c */
            if (j->ip)
                kern->madd(cn, zero, -1.0f, dots + i * cn, s);
            else
                kern->madd(cn, j->cnorm + c0, -2.0f, dots + i * cn, s);
            float best;
            size_t c = kern->argmin(s, cn, &best);
            if (best < j->score[b + i]) {
                j->score[b + i] = best;
                j->assign[b + i] = (int64_t)(c0 + c);
            }
        }
    }
    free(dots);
}

qv_code qv__kmeans_assign(const float *x, size_t n, size_t d, const float *cent,
                          const float *cnorm, size_t k, bool ip, qv_pool *pool,
                          int64_t *assign, float *score, qv_err *err)
{
    float *own_score = NULL;
    if (!score) {
        own_score = qv_try_alloc(n ? n : 1, sizeof(float));
        if (!own_score)
            return qv_fail(err, QV_E_NOMEM, "k-means: out of memory");
        score = own_score;
    }
    assign_job j = {.x = x,
                    .cent = cent,
                    .cnorm = cnorm,
                    .n = n,
                    .d = d,
                    .k = k,
                    .ip = ip,
                    .assign = assign,
                    .score = score};
    /* two chunks per thread: few hand-offs, still balanced */
    size_t threads = pool ? qv_pool_threads(pool) + 1 : 1;
    size_t grain = (n + 2 * threads - 1) / (2 * threads);
    grain = grain < ASSIGN_BLOCK ? ASSIGN_BLOCK : grain;
    qv_pool_parallel_for(pool, n, grain, assign_chunk, &j);
    free(own_score);
    if (j.failed)
        return qv_fail(err, QV_E_NOMEM, "k-means assignment: out of memory");
    return QV_OK;
}

void qv__norms(const float *x, size_t n, size_t d, float *out)
{
    const qv_distance_kernels *k = qv_distance_kernels_get();
    for (size_t i = 0; i < n; i++)
        out[i] = k->ip(x + i * d, x + i * d, d);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Picks m distinct indices of [0, n) (partial Fisher-Yates). */
static size_t *sample_indices(size_t n, size_t m, uint64_t *rng)
{
    size_t *perm = qv_try_alloc(n, sizeof(size_t));
    if (!perm)
        return NULL;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)(rng_next(rng) % (n - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

/* Centroid update: means of assigned points; empty clusters split the
 * biggest.  Returns QV_OK. */
static void update_centroids(const float *x, size_t n, size_t d, size_t k,
                             const int64_t *assign, float *cent, size_t *count,
                             uint64_t *rng)
{
    memset(cent, 0, k * d * sizeof(float));
    memset(count, 0, k * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)assign[i];
        count[c]++;
        float *cc = cent + c * d;
        const float *xi = x + i * d;
        for (size_t t = 0; t < d; t++)
            cc[t] += xi[t];
    }
    for (size_t c = 0; c < k; c++) {
        if (!count[c])
            continue;
        float inv = 1.0f / (float)count[c];
        for (size_t t = 0; t < d; t++)
            cent[c * d + t] *= inv;
    }
    for (size_t c = 0; c < k; c++) {
        if (count[c])
            continue;
        /* a cluster with probability ~ (size - 1), as FAISS picks */
        size_t big = 0;
        if (n == k) {
            for (size_t t = 1; t < k; t++)
                big = count[t] > count[big] ? t : big;
        } else {
            for (size_t t = 0;; t = (t + 1) % k) {
                double p = ((double)count[t] - 1.0) / (double)(n - k);
                double r = (double)(rng_next(rng) >> 11) / 9007199254740992.0;
                if (count[t] > 1 && r < p) {
                    big = t;
                    break;
                }
            }
        }
        memcpy(cent + c * d, cent + big * d, d * sizeof(float));
        for (size_t t = 0; t < d; t++) {
            float eps = 1.0f / 1024.0f;
            if (t % 2) {
                cent[c * d + t] *= 1 + eps;
                cent[big * d + t] *= 1 - eps;
            } else {
                cent[c * d + t] *= 1 - eps;
                cent[big * d + t] *= 1 + eps;
            }
        }
        count[c] = count[big] / 2;
        count[big] -= count[c];
    }
}

qv_code qv__kmeans(const qv__kmeans_cfg *cfg, size_t n, size_t d,
                   const float *x, size_t k, float *cent, qv_err *err)
{
    if (n < k)
        return qv_fail(err, QV_E_INVALID,
                       "k-means needs at least %zu training vectors (one "
                       "per centroid), got %zu",
                       k, n);
    uint64_t rng = cfg->seed;
    size_t m = n;
    if (cfg->max_per_centroid && k * cfg->max_per_centroid < n)
        m = k * cfg->max_per_centroid;
    float *xs = (float *)x;
    size_t *perm = sample_indices(n, m > k ? m : k, &rng);
    if (!perm)
        return qv_fail(err, QV_E_NOMEM, "k-means: out of memory");
    if (m < n) {
        xs = qv_try_alloc(m, d * sizeof(float));
        if (!xs) {
            free(perm);
            return qv_fail(err, QV_E_NOMEM, "k-means: out of memory");
        }
        for (size_t i = 0; i < m; i++)
            memcpy(xs + i * d, x + perm[i] * d, d * sizeof(float));
        /* initial centroids: the first k sampled points */
        memcpy(cent, xs, k * d * sizeof(float));
    } else {
        for (size_t c = 0; c < k; c++)
            memcpy(cent + c * d, x + perm[c] * d, d * sizeof(float));
    }
    free(perm);
    int64_t *assign = qv_try_alloc(m, sizeof(int64_t));
    size_t *count = qv_try_alloc(k, sizeof(size_t));
    float *cnorm = qv_try_alloc(k, sizeof(float));
    qv_code rc = QV_OK;
    if (!assign || !count || !cnorm)
        rc = qv_fail(err, QV_E_NOMEM, "k-means: out of memory");
    for (int it = 0; !rc && it < cfg->niter; it++) {
        qv__norms(cent, k, d, cnorm);
        rc = qv__kmeans_assign(xs, m, d, cent, cnorm, k, cfg->ip, cfg->pool,
                               assign, NULL, err);
        if (!rc)
            update_centroids(xs, m, d, k, assign, cent, count, &rng);
    }
    free(assign);
    free(count);
    free(cnorm);
    if (xs != x)
        free(xs);
    return rc;
}
