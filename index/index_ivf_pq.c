/* index_ivf_pq.c -- the IVF_PQ codec: residuals split into m sub-vectors
 * of dsub = dim / m dimensions, each replaced by the nearest of
 * ksub = 2^nbits sub-centroids (one byte per sub-code).
 *
 * L2 scoring uses precomputed tables (FAISS's use_precomputed_table):
 *   |q - c - r|^2 = |q - c|^2 + sum_j (|r_j|^2 + 2 c_j.r_j) - 2 sum_j q_j.r_j
 * The middle table (nlist x m x ksub) is built at train/load time, the
 * last (m x ksub) once per query; a probed list then costs one m*ksub
 * madd, and each code m lookups.  IP needs only the per-query table:
 * q.(c + r) = q.c + sum_j q_j.r_j.
 */
#include "index/ivf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/kmeans.h"

#define TAG_PQ      QV_FOURCC('P', 'Q', 'C', 'B')
#define PQ_NITER    25
#define PQ_SEED     1234
#define PQ_MAX_BITS 8
#ifndef PQ_TABLE_MAX_BYTES
#define PQ_TABLE_MAX_BYTES ((double)(1u << 31))
#endif

qv_code qv__ivf_pq_init(ivf_index *ivf, const qv_params *build, qv_err *err)
{
    size_t d = ivf->base.dim;
    size_t def = 1;
    for (size_t m = 1; m <= d / 4 || m == 1; m++)
        if (d % m == 0)
            def = m;
    int64_t m, nbits;
    qv_code rc =
        qv__param_int(build, "m", (int64_t)def, 1, (int64_t)d, &m, err);
    if (!rc)
        rc = qv__param_int(build, "nbits", 8, 1, PQ_MAX_BITS, &nbits, err);
    if (rc)
        return rc;
    if (d % (size_t)m != 0)
        return qv_fail(err, QV_E_INVALID, "m must divide dim (%zu), got m=%lld",
                       d, (long long)m);
    ivf->pq_m = (size_t)m;
    ivf->pq_nbits = (size_t)nbits;
    ivf->pq_ksub = (size_t)1 << nbits;
    ivf->pq_dsub = d / (size_t)m;
    ivf->code_size = (size_t)m;
    qv__params_text_add(&ivf->base, "m", m);
    qv__params_text_add(&ivf->base, "nbits", nbits);
    return QV_OK;
}

/* Transposed codebook and sub-centroid norms, so that per-query and
 * per-vector tables are SIMD madds over ksub contiguous floats. */
static qv_code derive(ivf_index *ivf, qv_err *err)
{
    size_t m = ivf->pq_m, ks = ivf->pq_ksub, ds = ivf->pq_dsub;
    free(ivf->pq_centT);
    free(ivf->pq_cnorm);
    ivf->pq_centT = qv_try_alloc(m * ks, ds * sizeof(float));
    ivf->pq_cnorm = qv_try_alloc(m * ks, sizeof(float));
    if (!ivf->pq_centT || !ivf->pq_cnorm)
        return qv_fail(err, QV_E_NOMEM, "cannot allocate pq tables");
    for (size_t j = 0; j < m; j++)
        for (size_t c = 0; c < ks; c++) {
            const float *r = ivf->pq_cent + (j * ks + c) * ds;
            float nr = 0;
            for (size_t i = 0; i < ds; i++) {
                ivf->pq_centT[(j * ds + i) * ks + c] = r[i];
                nr += r[i] * r[i];
            }
            ivf->pq_cnorm[j * ks + c] = nr;
        }
    return QV_OK;
}

static qv_code precompute(ivf_index *ivf, qv_err *err)
{
    qv_code rc = derive(ivf, err);
    if (rc)
        return rc;
    free(ivf->pq_precomp);
    ivf->pq_precomp = NULL;
    if (ivf->base.metric != QV_METRIC_L2)
        return QV_OK;
    size_t m = ivf->pq_m, ks = ivf->pq_ksub, ds = ivf->pq_dsub;
    /* Like FAISS, no precomputed table above 2 GiB: lists then build
     * their table from the query residual (pq_score). */
    if ((double)ivf->nlist * (double)(m * ks) * sizeof(float) >
        PQ_TABLE_MAX_BYTES)
        return QV_OK;
    float *t = qv_try_alloc(ivf->nlist * m, ks * sizeof(float));
    if (!t)
        return qv_fail(err, QV_E_NOMEM, "cannot allocate pq tables");
    const qv_distance_kernels *k = ivf->base.kern;
    for (size_t l = 0; l < ivf->nlist; l++) {
        const float *c = ivf->centroids + l * ivf->base.dim;
        for (size_t j = 0; j < m; j++) {
            float *row = t + (l * m + j) * ks;
            memcpy(row, ivf->pq_cnorm + j * ks, ks * sizeof(float));
            for (size_t i = 0; i < ds; i++)
                k->madd(ks, row, 2.0f * c[j * ds + i],
                        ivf->pq_centT + (j * ds + i) * ks, row);
        }
    }
    ivf->pq_precomp = t;
    return QV_OK;
}

/* The sub-quantizers train independently: one pool task each (coarse
 * grain: 25 Lloyd iterations per task, no per-iteration hand-offs). */
typedef struct pqtrain_job {
    const ivf_index *ivf;
    const float *res; /* n residuals */
    size_t n;
    float *cb;
    int failed;
} pqtrain_job;

static void pqtrain_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    pqtrain_job *j = arg;
    size_t d = j->ivf->base.dim, ks = j->ivf->pq_ksub, ds = j->ivf->pq_dsub;
    float *sub = qv_try_alloc(j->n, ds * sizeof(float));
    if (!sub) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t sq = b; sq < e; sq++) {
        for (size_t t = 0; t < j->n; t++)
            memcpy(sub + t * ds, j->res + t * d + sq * ds, ds * sizeof(float));
        qv__kmeans_cfg cfg = {.niter = PQ_NITER,
                              .max_per_centroid = 256,
                              .seed = PQ_SEED + sq,
                              .pool = NULL};
        if (qv__kmeans(&cfg, j->n, ds, sub, ks, j->cb + sq * ks * ds, NULL))
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    }
    free(sub);
}

static qv_code pq_train(ivf_index *ivf, size_t n, const float *x,
                        const int64_t *lists, qv_err *err)
{
    size_t d = ivf->base.dim, m = ivf->pq_m, ks = ivf->pq_ksub;
    size_t ds = ivf->pq_dsub;
    if (n < ks)
        return qv_fail(err, QV_E_INVALID,
                       "IVF_PQ with nbits=%zu needs at least %zu training "
                       "vectors, got %zu",
                       ivf->pq_nbits, ks, n);
    float *res = qv_try_alloc(n, d * sizeof(float));
    float *cb = qv_try_alloc(m * ks, ds * sizeof(float));
    qv_code rc = QV_OK;
    if (!res || !cb)
        rc = qv_fail(err, QV_E_NOMEM, "cannot allocate pq training data");
    for (size_t t = 0; !rc && t < n; t++)
        qv__ivf_residual(ivf, (size_t)lists[t], x + t * d, res + t * d);
    if (!rc) {
        pqtrain_job j = {.ivf = ivf, .res = res, .n = n, .cb = cb};
        qv_pool_parallel_for(qv_pool_shared(), m, 1, pqtrain_chunk, &j);
        if (j.failed)
            rc = qv_fail(err, QV_E_NOMEM, "pq training: out of memory");
    }
    free(res);
    if (rc) {
        free(cb);
        return rc;
    }
    if (!ivf->pq_borrowed)
        free(ivf->pq_cent);
    ivf->pq_cent = cb;
    ivf->pq_borrowed = false;
    return precompute(ivf, err);
}

static void pq_encode(const ivf_index *ivf, size_t list, const float *x,
                      uint8_t *code, float *tmp)
{
    size_t m = ivf->pq_m, ks = ivf->pq_ksub, ds = ivf->pq_dsub;
    const qv_distance_kernels *k = ivf->base.kern;
    float dist[256];
    qv__ivf_residual(ivf, list, x, tmp);
    for (size_t j = 0; j < m; j++) {
        /* |r - c|^2 - |r|^2 = |c|^2 - 2 r.c over all ksub at once */
        const float *r = tmp + j * ds;
        memcpy(dist, ivf->pq_cnorm + j * ks, ks * sizeof(float));
        for (size_t i = 0; i < ds; i++)
            k->madd(ks, dist, -2.0f * r[i], ivf->pq_centT + (j * ds + i) * ks,
                    dist);
        float best;
        code[j] = (uint8_t)k->argmin(dist, ks, &best);
    }
}

static size_t pq_scratch(const ivf_index *ivf)
{
    return 2 * ivf->pq_m * ivf->pq_ksub + ivf->base.dim;
}

/* qtab[j][s] = q_j . cent_js (IP) or -2 q_j . cent_js (L2). */
static void pq_set_query(const ivf_index *ivf, ivf_scan *s)
{
    size_t m = ivf->pq_m, ks = ivf->pq_ksub, ds = ivf->pq_dsub;
    float f = ivf->base.metric == QV_METRIC_L2 ? -2.0f : 1.0f;
    const qv_distance_kernels *k = ivf->base.kern;
    float *qt = s->scratch;
    memset(qt, 0, m * ks * sizeof(float));
    for (size_t j = 0; j < m; j++)
        for (size_t i = 0; i < ds; i++)
            k->madd(ks, qt + j * ks, f * s->q[j * ds + i],
                    ivf->pq_centT + (j * ds + i) * ks, qt + j * ks);
}

static inline float pq_sum(const float *tab, const uint8_t *code, size_t m,
                           size_t ks)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        s0 += tab[j * ks + code[j]];
        s1 += tab[(j + 1) * ks + code[j + 1]];
        s2 += tab[(j + 2) * ks + code[j + 2]];
        s3 += tab[(j + 3) * ks + code[j + 3]];
    }
    for (; j < m; j++)
        s0 += tab[j * ks + code[j]];
    return (s0 + s1) + (s2 + s3);
}

static void pq_score(const ivf_index *ivf, ivf_scan *s, size_t list,
                     float coarse, const uint8_t *codes, size_t n,
                     const uint32_t *sel, size_t nsel, float *out)
{
    size_t m = ivf->pq_m, ks = ivf->pq_ksub;
    size_t cnt = sel ? nsel : n;
    const float *tab = s->scratch;
    float base, sign;
    if (ivf->base.metric == QV_METRIC_L2) {
        float *sim = s->scratch + m * ks;
        if (ivf->pq_precomp) {
            ivf->base.kern->madd(m * ks, ivf->pq_precomp + list * m * ks, 1.0f,
                                 s->scratch, sim);
        } else {
            /* |r - cent|^2 - |r|^2 = |cent|^2 - 2 r.cent, r = q - c */
            size_t ds = ivf->pq_dsub;
            float *r = s->scratch + 2 * m * ks;
            qv__ivf_residual(ivf, list, s->q, r);
            memcpy(sim, ivf->pq_cnorm, m * ks * sizeof(float));
            for (size_t j = 0; j < m; j++)
                for (size_t i = 0; i < ds; i++)
                    ivf->base.kern->madd(
                        ks, sim + j * ks, -2.0f * r[j * ds + i],
                        ivf->pq_centT + (j * ds + i) * ks, sim + j * ks);
        }
        tab = sim;
        base = s->qnorm + coarse; /* |q - c|^2 */
        sign = 1.0f;
    } else {
        base = -coarse; /* q.c */
        sign = -1.0f;
    }
    for (size_t t = 0; t < cnt; t++) {
        size_t p = sel ? sel[t] : t;
        out[t] = sign * (base + pq_sum(tab, codes + p * m, m, ks));
    }
}

static qv_code pq_write(const ivf_index *ivf, qv__writer *w, qv_err *err)
{
    return qv__writer_section(
        w, TAG_PQ, ivf->pq_cent,
        ivf->pq_m * ivf->pq_ksub * ivf->pq_dsub * sizeof(float), err);
}

static qv_code pq_read(ivf_index *ivf, const qv__reader *r, qv_err *err)
{
    const void *p;
    size_t count = ivf->pq_m * ivf->pq_ksub * ivf->pq_dsub;
    qv_code rc = qv__reader_exact(r, TAG_PQ, sizeof(float), count, &p, err);
    if (rc)
        return rc;
    ivf->pq_cent = (float *)p;
    ivf->pq_borrowed = true;
    /* codes index tables of ksub entries: reject out-of-range codes */
    if (ivf->pq_ksub < 256) {
        for (size_t l = 0; l < ivf->nlist; l++) {
            const ivf_list *li = &ivf->lists[l];
            for (size_t i = 0; i < li->n * ivf->code_size; i++)
                if (li->codes[i] >= ivf->pq_ksub)
                    return qv_fail(err, QV_E_CORRUPT,
                                   "index pq code out of range");
        }
    }
    return precompute(ivf, err);
}

static size_t pq_memory(const ivf_index *ivf)
{
    size_t m = ivf->pq_m * ivf->pq_ksub;
    return (ivf->pq_borrowed || !ivf->pq_cent
                ? 0
                : m * ivf->pq_dsub * sizeof(float)) +
           (ivf->pq_precomp ? ivf->nlist * m * sizeof(float) : 0) +
           (ivf->pq_centT ? m * (ivf->pq_dsub + 1) * sizeof(float) : 0);
}

static void pq_release(ivf_index *ivf)
{
    if (!ivf->pq_borrowed)
        free(ivf->pq_cent);
    free(ivf->pq_precomp);
    free(ivf->pq_centT);
    free(ivf->pq_cnorm);
}

const ivf_codec qv__ivf_codec_pq = {
    .train = pq_train,
    .encode = pq_encode,
    .scratch = pq_scratch,
    .set_query = pq_set_query,
    .score = pq_score,
    .write = pq_write,
    .read = pq_read,
    .memory = pq_memory,
    .release = pq_release,
};
