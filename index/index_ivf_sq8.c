/* index_ivf_sq8.c -- the IVF_SQ8 codec: residuals (vector minus its
 * centroid) quantized to one byte per dimension with a per-dimension
 * [vmin, vmin + 255 * scale] range learned from the training residuals
 * (FAISS's QT_8bit with min/max ranges, by residual).
 *
 * Scoring never decodes: for L2 the query residual is mapped into code
 * space once per list (qc = (q - c - vmin) / scale - 0.5), then
 * d = sum scale^2 (qc - code)^2; for IP, q.x = q.c + sum q vmin' +
 * sum (q * scale) code, with the middle term once per query.
 */
#include "index/ivf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define TAG_SQ8 QV_FOURCC('S', 'Q', '8', 'R')

static qv_code derive(ivf_index *ivf, qv_err *err)
{
    size_t d = ivf->base.dim;
    ivf->sq_w = qv_try_alloc(d, sizeof(float));
    ivf->sq_inv = qv_try_alloc(d, sizeof(float));
    if (!ivf->sq_w || !ivf->sq_inv)
        return qv_fail(err, QV_E_NOMEM, "cannot allocate sq8 tables");
    for (size_t i = 0; i < d; i++) {
        float sc = ivf->sq_scale[i];
        ivf->sq_w[i] = sc * sc;
        ivf->sq_inv[i] = 1.0f / sc;
    }
    return QV_OK;
}

static qv_code sq8_train(ivf_index *ivf, size_t n, const float *x,
                         const int64_t *lists, qv_err *err)
{
    size_t d = ivf->base.dim;
    float *vmin = qv_xmalloc(2 * d * sizeof(float));
    float *vmax = qv_xmalloc(d * sizeof(float));
    float *r = qv_xmalloc(d * sizeof(float));
    for (size_t i = 0; i < d; i++) {
        vmin[i] = INFINITY;
        vmax[i] = -INFINITY;
    }
    for (size_t t = 0; t < n; t++) {
        qv__ivf_residual(ivf, (size_t)lists[t], x + t * d, r);
        for (size_t i = 0; i < d; i++) {
            vmin[i] = r[i] < vmin[i] ? r[i] : vmin[i];
            vmax[i] = r[i] > vmax[i] ? r[i] : vmax[i];
        }
    }
    float *scale = vmin + d;
    for (size_t i = 0; i < d; i++) {
        float range = vmax[i] - vmin[i];
        /* a constant dimension still needs a usable scale */
        if (!(range > 0))
            range = 1e-6f * (fabsf(vmin[i]) + 1.0f);
        scale[i] = range / 255.0f;
    }
    free(vmax);
    free(r);
    if (!ivf->sq_borrowed)
        free(ivf->sq_vmin);
    free(ivf->sq_w);
    free(ivf->sq_inv);
    ivf->sq_vmin = vmin;
    ivf->sq_scale = scale;
    ivf->sq_borrowed = false;
    return derive(ivf, err);
}

static void sq8_encode(const ivf_index *ivf, size_t list, const float *x,
                       uint8_t *code, float *tmp)
{
    size_t d = ivf->base.dim;
    qv__ivf_residual(ivf, list, x, tmp);
    for (size_t i = 0; i < d; i++) {
        float v = (tmp[i] - ivf->sq_vmin[i]) * ivf->sq_inv[i];
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        code[i] = (uint8_t)v;
    }
}

static size_t sq8_scratch(const ivf_index *ivf)
{
    return 2 * ivf->base.dim + 1;
}

static void sq8_set_query(const ivf_index *ivf, ivf_scan *s)
{
    if (ivf->base.metric == QV_METRIC_L2)
        return;
    size_t d = ivf->base.dim;
    float *qw = s->scratch, c = 0;
    for (size_t i = 0; i < d; i++) {
        qw[i] = s->q[i] * ivf->sq_scale[i];
        c += s->q[i] * (ivf->sq_vmin[i] + 0.5f * ivf->sq_scale[i]);
    }
    s->scratch[2 * d] = c;
}

static void sq8_score(const ivf_index *ivf, ivf_scan *s, size_t list,
                      float coarse, const uint8_t *codes, size_t n,
                      const uint32_t *sel, size_t nsel, float *out)
{
    const size_t d = ivf->base.dim;
    const qv_distance_kernels *k = ivf->base.kern;
    size_t cnt = sel ? nsel : n;
    if (ivf->base.metric == QV_METRIC_L2) {
        float *qc = s->scratch + d;
        const float *c = ivf->centroids + list * d;
        for (size_t i = 0; i < d; i++)
            qc[i] = (s->q[i] - c[i] - ivf->sq_vmin[i]) * ivf->sq_inv[i] - 0.5f;
        size_t t = 0;
        for (; t + 4 <= cnt; t += 4) {
            size_t p0 = sel ? sel[t] : t, p1 = sel ? sel[t + 1] : t + 1;
            size_t p2 = sel ? sel[t + 2] : t + 2, p3 = sel ? sel[t + 3] : t + 3;
            k->sq8_l2_batch4(qc, ivf->sq_w, codes + p0 * d, codes + p1 * d,
                             codes + p2 * d, codes + p3 * d, d, out + t);
        }
        for (; t < cnt; t++) {
            size_t p = sel ? sel[t] : t;
            out[t] = k->sq8_l2(qc, ivf->sq_w, codes + p * d, d);
        }
        return;
    }
    float base = -coarse + s->scratch[2 * d]; /* q.c + const */
    size_t t = 0;
    for (; t + 4 <= cnt; t += 4) {
        size_t p0 = sel ? sel[t] : t, p1 = sel ? sel[t + 1] : t + 1;
        size_t p2 = sel ? sel[t + 2] : t + 2, p3 = sel ? sel[t + 3] : t + 3;
        k->sq8_ip_batch4(s->scratch, codes + p0 * d, codes + p1 * d,
                         codes + p2 * d, codes + p3 * d, d, out + t);
        for (size_t u = t; u < t + 4; u++)
            out[u] = -(base + out[u]);
    }
    for (; t < cnt; t++) {
        size_t p = sel ? sel[t] : t;
        out[t] = -(base + k->sq8_ip(s->scratch, codes + p * d, d));
    }
}

static qv_code sq8_write(const ivf_index *ivf, qv__writer *w, qv_err *err)
{
    /* vmin and scale are one allocation (or one section) of 2*d floats */
    return qv__writer_section(w, TAG_SQ8, ivf->sq_vmin,
                              2 * ivf->base.dim * sizeof(float), err);
}

static qv_code sq8_read(ivf_index *ivf, const qv__reader *r, qv_err *err)
{
    const void *p;
    qv_code rc =
        qv__reader_exact(r, TAG_SQ8, sizeof(float), 2 * ivf->base.dim, &p, err);
    if (rc)
        return rc;
    ivf->sq_vmin = (float *)p;
    ivf->sq_scale = ivf->sq_vmin + ivf->base.dim;
    ivf->sq_borrowed = true;
    for (size_t i = 0; i < ivf->base.dim; i++)
        if (!isfinite(ivf->sq_vmin[i]) || !(ivf->sq_scale[i] > 0) ||
            !isfinite(ivf->sq_scale[i]))
            return qv_fail(err, QV_E_CORRUPT, "index sq8 ranges are invalid");
    return derive(ivf, err);
}

static size_t sq8_memory(const ivf_index *ivf)
{
    size_t d = ivf->base.dim;
    return (ivf->sq_borrowed ? 0 : 2 * d * sizeof(float)) +
           (ivf->sq_w ? 2 * d * sizeof(float) : 0);
}

static void sq8_release(ivf_index *ivf)
{
    if (!ivf->sq_borrowed)
        free(ivf->sq_vmin);
    free(ivf->sq_w);
    free(ivf->sq_inv);
}

const ivf_codec qv__ivf_codec_sq8 = {
    .train = sq8_train,
    .encode = sq8_encode,
    .scratch = sq8_scratch,
    .set_query = sq8_set_query,
    .score = sq8_score,
    .write = sq8_write,
    .read = sq8_read,
    .memory = sq8_memory,
    .release = sq8_release,
};
