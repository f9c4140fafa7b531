/* index_flat.c -- FLAT: exact search over raw float vectors (the test
 * oracle), plus the exact scan helpers other float indexes share.
 *
 * Search picks one of three plans per call:
 *   - BLAS: for batches of at least FLAT_BLAS_MIN_NQ queries, blocks of
 *     FLAT_QB queries x FLAT_BB rows go through one sgemm each (L2 expands
 *     to |x|^2 - 2 q.x, with |x|^2 kept per row); the blocks of queries run
 *     in parallel on the pool.
 *   - kernels: smaller batches scan the rows with the SIMD kernels, four
 *     rows per call, one query per pool task.
 *   - gather: with a filter that passes few rows (at most 8 % next to the
 *     BLAS plan, 90 % next to the kernel plan: the measured crossovers),
 *     the passing rows are listed once and only they are scored.
 *
 * Threading: immutable after add; searches share nothing but the index.
 */
#include "index/index_impl.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define FLAT_BLAS_MIN_NQ    20
#define FLAT_QB             256
#define FLAT_BB             1024
#define FLAT_SPLIT_MIN_ROWS 16384
/* Gather when at most this percentage of rows passes the filter, for the
 * BLAS plan and the kernel plan (measured crossovers, see README). */
#ifndef FLAT_GATHER_PCT
#define FLAT_GATHER_PCT 8
#endif
#ifndef FLAT_GATHER_PCT_KERNELS
#define FLAT_GATHER_PCT_KERNELS 90
#endif
#define TAG_NORM QV_FOURCC('N', 'O', 'R', 'M')

typedef struct flat_index {
    qv_index base;
    qv__rows rows;
    float *norms; /* |x|^2 per row (L2 only) */
    bool norms_borrowed;
} flat_index;

/* ---- shared exact scans ---------------------------------------------- */

void qv__scan_topk(const qv_index *ix, const float *q, const float *x, size_t n,
                   const int64_t *ids, int64_t base, const qv_bitset *filter,
                   qv__topk *h)
{
    const size_t d = ix->dim;
    const bool l2 = ix->metric == QV_METRIC_L2;
    qv_fdist4_fn f4 = l2 ? ix->kern->l2sqr_batch4 : ix->kern->ip_batch4;
    qv_fdist_fn f1 = l2 ? ix->kern->l2sqr : ix->kern->ip;
    const float sign = l2 ? 1.0f : -1.0f;
    float worst = qv__topk_worst(h);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float s[4];
        const float *r = x + i * d;
        f4(q, r, r + d, r + 2 * d, r + 3 * d, d, s);
        for (int j = 0; j < 4; j++) {
            float v = sign * s[j];
            if (v < worst) {
                int64_t lab = ids ? ids[i + j] : base + (int64_t)(i + j);
                if (qv__excluded(filter, lab))
                    continue;
                qv__topk_push(h, v, lab);
                worst = qv__topk_worst(h);
            }
        }
    }
    for (; i < n; i++) {
        float v = sign * f1(q, x + i * d, d);
        if (v < worst) {
            int64_t lab = ids ? ids[i] : base + (int64_t)i;
            if (qv__excluded(filter, lab))
                continue;
            qv__topk_push(h, v, lab);
            worst = qv__topk_worst(h);
        }
    }
}

void qv__scan_range(const qv_index *ix, const float *q, const float *x,
                    size_t n, const int64_t *ids, int64_t base,
                    const qv_bitset *filter, float lo, float hi, qv__rlist *out)
{
    const size_t d = ix->dim;
    const bool l2 = ix->metric == QV_METRIC_L2;
    qv_fdist_fn f1 = l2 ? ix->kern->l2sqr : ix->kern->ip;
    for (size_t i = 0; i < n; i++) {
        int64_t lab = ids ? ids[i] : base + (int64_t)i;
        if (qv__excluded(filter, lab))
            continue;
        float v = f1(q, x + i * d, d);
        v = l2 ? v : -v;
        if (v >= lo && v < hi)
            qv__rlist_push(out, v, lab);
    }
}

/* ---- build ------------------------------------------------------------ */

static qv_code flat_init(qv_index *ix, const qv_params *build, qv_err *err)
{
    (void)build;
    (void)err;
    flat_index *f = (flat_index *)ix;
    f->rows.row_bytes = ix->row_bytes;
    return QV_OK;
}

static qv_code flat_add(qv_index *ix, size_t n, const void *x,
                        const int64_t *labels, qv_err *err)
{
    flat_index *f = (flat_index *)ix;
    size_t old_cap = f->rows.cap;
    qv_code rc = qv__rows_add(&f->rows, n, x, labels, err);
    if (rc)
        return rc;
    if (ix->metric == QV_METRIC_L2) {
        if (f->rows.cap != old_cap) {
            float *nn = qv_try_realloc(f->norms, f->rows.cap, sizeof(float));
            if (!nn) {
                f->rows.n -= n;
                return qv_fail(err, QV_E_NOMEM, "cannot allocate norms");
            }
            f->norms = nn;
        }
        const float *rows = (const float *)(const void *)f->rows.data;
        for (size_t i = ix->ntotal; i < ix->ntotal + n; i++)
            f->norms[i] =
                ix->kern->ip(rows + i * ix->dim, rows + i * ix->dim, ix->dim);
    }
    ix->ntotal += n;
    return QV_OK;
}

/* ---- search ----------------------------------------------------------- */

typedef struct flat_job {
    const flat_index *f;
    const float *q;
    const qv__search_ctx *ctx;
    float *dist;
    int64_t *lab;
    const uint32_t *sel; /* gather plan: the passing rows */
    size_t nsel;
    qv__rlist *ranges; /* range search */
    int failed;        /* atomic: a worker ran out of memory */
} flat_job;

/* Scores q against the listed rows only, four at a time. */
static void scan_selected(const flat_index *f, const float *q,
                          const uint32_t *sel, size_t nsel, qv__topk *h)
{
    const qv_index *ix = &f->base;
    const float *x = (const float *)(const void *)f->rows.data;
    const size_t d = ix->dim;
    const bool l2 = ix->metric == QV_METRIC_L2;
    qv_fdist4_fn f4 = l2 ? ix->kern->l2sqr_batch4 : ix->kern->ip_batch4;
    qv_fdist_fn f1 = l2 ? ix->kern->l2sqr : ix->kern->ip;
    const float sign = l2 ? 1.0f : -1.0f;
    size_t s = 0;
    for (; s + 4 <= nsel; s += 4) {
        float v[4];
        f4(q, x + (size_t)sel[s] * d, x + (size_t)sel[s + 1] * d,
           x + (size_t)sel[s + 2] * d, x + (size_t)sel[s + 3] * d, d, v);
        for (int t = 0; t < 4; t++)
            if (sign * v[t] < qv__topk_worst(h))
                qv__topk_push(h, sign * v[t],
                              qv__rows_label(&f->rows, sel[s + t]));
    }
    for (; s < nsel; s++) {
        float v = sign * f1(q, x + (size_t)sel[s] * d, d);
        if (v < qv__topk_worst(h))
            qv__topk_push(h, v, qv__rows_label(&f->rows, sel[s]));
    }
}

static void flat_kernel_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    flat_job *j = arg;
    const flat_index *f = j->f;
    const qv_index *ix = &f->base;
    const float *x = (const float *)(const void *)f->rows.data;
    size_t k = j->ctx->k, d = ix->dim;
    for (size_t i = b; i < e; i++) {
        const float *q = j->q + i * d;
        qv__topk h;
        qv__topk_init(&h, k, j->dist + i * k, j->lab + i * k);
        if (!j->sel) {
            qv__scan_topk(ix, q, x, f->rows.n, f->rows.ids, 0, j->ctx->filter,
                          &h);
        } else {
            scan_selected(f, q, j->sel, j->nsel, &h);
        }
        qv__topk_finish(&h, ix->metric);
    }
}

/* Scans one block of sgemm dot products into the heaps: scores are
 * formed in place with a SIMD madd, and only the entries below each
 * heap's current worst (a SIMD compare) reach the heap. */
static void blas_scan_block(const flat_index *f, float *dots, size_t qn,
                            size_t r0, size_t rn, const qv_bitset *filter,
                            qv__topk *heaps, uint32_t *cand)
{
    const qv_distance_kernels *k = f->base.kern;
    const bool l2 = f->base.metric == QV_METRIC_L2;
    for (size_t i = 0; i < qn; i++) {
        qv__topk *h = &heaps[i];
        float *dr = dots + i * rn;
        if (l2) /* |x|^2 - 2 q.x */
            k->madd(rn, f->norms + r0, -2.0f, dr, dr);
        else /* -q.x */
            k->madd(rn, dr, -2.0f, dr, dr);
        size_t nc = k->select_lt(dr, rn, qv__topk_worst(h), cand);
        for (size_t c = 0; c < nc; c++) {
            size_t j = cand[c];
            if (dr[j] < qv__topk_worst(h)) {
                int64_t lab = qv__rows_label(&f->rows, r0 + j);
                if (qv__excluded(filter, lab))
                    continue;
                qv__topk_push(h, dr[j], lab);
            }
        }
    }
}

static void flat_blas_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    flat_job *j = arg;
    const flat_index *f = j->f;
    const qv_index *ix = &f->base;
    const float *x = (const float *)(const void *)f->rows.data;
    size_t k = j->ctx->k, d = ix->dim, qn = e - b, n = f->rows.n;
    float *dots = qv_try_alloc(qn * FLAT_BB, sizeof(float));
    qv__topk *heaps = qv_try_alloc(qn, sizeof(qv__topk));
    uint32_t *cand = qv_try_alloc(FLAT_BB, sizeof(uint32_t));
    if (!dots || !heaps || !cand) {
        free(dots);
        free(heaps);
        free(cand);
        /* fall back to the kernel plan, which needs no scratch */
        flat_kernel_chunk(arg, b, e, w);
        return;
    }
    for (size_t i = 0; i < qn; i++)
        qv__topk_init(&heaps[i], k, j->dist + (b + i) * k,
                      j->lab + (b + i) * k);
    const float *q = j->q + b * d;
    for (size_t r0 = 0; r0 < n; r0 += FLAT_BB) {
        size_t rn = n - r0 < FLAT_BB ? n - r0 : FLAT_BB;
        qv__sgemm_nt(qn, rn, d, 1.0f, q, d, x + r0 * d, d, 0.0f, dots, rn);
        blas_scan_block(f, dots, qn, r0, rn, j->ctx->filter, heaps, cand);
    }
    for (size_t i = 0; i < qn; i++) {
        if (ix->metric == QV_METRIC_L2) {
            const float *qi = q + i * d;
            float qq = ix->kern->ip(qi, qi, d);
            for (size_t t = 0; t < heaps[i].n; t++) {
                float v = heaps[i].d[t] + qq;
                heaps[i].d[t] = v > 0 ? v : 0;
            }
        }
        qv__topk_finish(&heaps[i], ix->metric);
    }
    free(dots);
    free(heaps);
    free(cand);
}

/* The gather plan's row list, or NULL when the filter passes many rows. */
static uint32_t *gather_rows(const flat_index *f, const qv_bitset *filter,
                             size_t pct, size_t *nsel)
{
    size_t n = f->rows.n;
    if (!filter || n > UINT32_MAX)
        return NULL;
    if (!f->rows.ids) {
        size_t pass = qv__filter_pass_count(filter, n);
        if (pass * 100 > n * pct)
            return NULL;
    }
    uint32_t *sel = qv_try_alloc(n, sizeof(uint32_t));
    if (!sel)
        return NULL;
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        if (!qv__excluded(filter, qv__rows_label(&f->rows, r)))
            sel[m++] = (uint32_t)r;
    if (f->rows.ids && m * 100 > n * pct) {
        free(sel);
        return NULL;
    }
    *nsel = m;
    return sel;
}

/* Small batches on a pool with more threads than queries: each query's
 * rows are cut into pieces searched in parallel into private heaps, then
 * merged (latency of nq=1 searches over big segments). */
typedef struct split_job {
    flat_job *j;
    size_t pieces, per; /* pieces per query, rows (or sel entries) each */
    float *pd;          /* nq * pieces * k */
    int64_t *pl;
    size_t *pn; /* entries in each piece heap */
} split_job;

static void flat_split_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    split_job *sj = arg;
    flat_job *j = sj->j;
    const flat_index *f = j->f;
    const qv_index *ix = &f->base;
    const float *x = (const float *)(const void *)f->rows.data;
    size_t k = j->ctx->k, d = ix->dim;
    size_t total = j->sel ? j->nsel : f->rows.n;
    for (size_t it = b; it < e; it++) {
        size_t i = it / sj->pieces, c = it % sj->pieces;
        size_t r0 = c * sj->per,
               r1 = r0 + sj->per < total ? r0 + sj->per : total;
        qv__topk h;
        qv__topk_init(&h, k, sj->pd + it * k, sj->pl + it * k);
        const float *q = j->q + i * d;
        if (r0 < r1 && j->sel)
            scan_selected(f, q, j->sel + r0, r1 - r0, &h);
        else if (r0 < r1)
            qv__scan_topk(ix, q, x + r0 * d, r1 - r0,
                          f->rows.ids ? f->rows.ids + r0 : NULL, (int64_t)r0,
                          j->ctx->filter, &h);
        sj->pn[it] = h.n;
    }
}

static bool flat_search_split(flat_job *j, size_t nq)
{
    const qv__search_ctx *ctx = j->ctx;
    size_t threads = ctx->pool ? qv_pool_threads(ctx->pool) + 1 : 1;
    size_t total = j->sel ? j->nsel : j->f->rows.n, k = ctx->k;
    if (threads < 2 || nq >= threads || total < FLAT_SPLIT_MIN_ROWS)
        return false;
    split_job sj = {.j = j, .pieces = 4 * threads / nq + 1};
    sj.per = (total + sj.pieces - 1) / sj.pieces;
    size_t items = nq * sj.pieces;
    sj.pd = qv_try_alloc(items * k, sizeof(float));
    sj.pl = qv_try_alloc(items * k, sizeof(int64_t));
    sj.pn = qv_try_alloc(items, sizeof(size_t));
    bool ok = sj.pd && sj.pl && sj.pn;
    if (ok) {
        qv_pool_parallel_for(ctx->pool, items, 1, flat_split_chunk, &sj);
        for (size_t i = 0; i < nq; i++) {
            qv__topk h;
            qv__topk_init(&h, k, j->dist + i * k, j->lab + i * k);
            for (size_t c = 0; c < sj.pieces; c++) {
                size_t it = i * sj.pieces + c;
                for (size_t t = 0; t < sj.pn[it]; t++)
                    if (sj.pd[it * k + t] < qv__topk_worst(&h))
                        qv__topk_push(&h, sj.pd[it * k + t], sj.pl[it * k + t]);
            }
            qv__topk_finish(&h, j->f->base.metric);
        }
    }
    free(sj.pd);
    free(sj.pl);
    free(sj.pn);
    return ok;
}

static qv_code flat_search(const qv_index *ix, size_t nq, const void *q,
                           const qv__search_ctx *ctx, float *dist, int64_t *lab,
                           qv_err *err)
{
    (void)err;
    const flat_index *f = (const flat_index *)ix;
    flat_job j = {.f = f, .q = q, .ctx = ctx, .dist = dist, .lab = lab};
    bool blas = nq >= FLAT_BLAS_MIN_NQ;
    uint32_t *sel =
        gather_rows(f, ctx->filter,
                    blas ? FLAT_GATHER_PCT : FLAT_GATHER_PCT_KERNELS, &j.nsel);
    j.sel = sel;
    if (!sel && blas) {
        size_t grain = (nq + 1) / 2 < FLAT_QB ? (nq + 1) / 2 : FLAT_QB;
        qv_pool_parallel_for(ctx->pool, nq, grain, flat_blas_chunk, &j);
    } else if (!flat_search_split(&j, nq)) {
        qv_pool_parallel_for(ctx->pool, nq, 1, flat_kernel_chunk, &j);
    }
    free(sel);
    return QV_OK;
}

static void flat_range_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    flat_job *j = arg;
    const flat_index *f = j->f;
    const qv_index *ix = &f->base;
    const float *x = (const float *)(const void *)f->rows.data;
    for (size_t i = b; i < e; i++)
        qv__scan_range(ix, j->q + i * ix->dim, x, f->rows.n, f->rows.ids, 0,
                       j->ctx->filter, j->ctx->range_lo, j->ctx->range_hi,
                       &j->ranges[i]);
}

static qv_code flat_range_search(const qv_index *ix, size_t nq, const void *q,
                                 const qv__search_ctx *ctx,
                                 qv_range_result *out, qv_err *err)
{
    flat_job j = {.f = (const flat_index *)ix, .q = q, .ctx = ctx};
    j.ranges = qv_xcalloc(nq, sizeof(qv__rlist));
    qv_pool_parallel_for(ctx->pool, nq, 1, flat_range_chunk, &j);
    return qv__range_assemble(j.ranges, nq, ix->metric, out, err);
}

/* ---- the rest --------------------------------------------------------- */

static qv_code flat_get_vectors(const qv_index *ix, size_t n,
                                const int64_t *labels, void *out, qv_err *err)
{
    return qv__rows_get(&((const flat_index *)ix)->rows, n, labels, out, err);
}

static qv_code flat_serialize(const qv_index *ix, qv__writer *w, qv_err *err)
{
    const flat_index *f = (const flat_index *)ix;
    qv_code rc = qv__rows_write(&f->rows, w, err);
    if (!rc && ix->metric == QV_METRIC_L2)
        rc = qv__writer_section(w, TAG_NORM, f->norms,
                                f->rows.n * sizeof(float), err);
    return rc;
}

static qv_code flat_load(qv_index *ix, const qv__reader *r, qv_err *err)
{
    flat_index *f = (flat_index *)ix;
    qv_code rc = qv__rows_read(&f->rows, r, ix->ntotal, err);
    if (rc)
        return rc;
    if (ix->metric == QV_METRIC_L2) {
        const void *p;
        rc = qv__reader_exact(r, TAG_NORM, sizeof(float), ix->ntotal, &p, err);
        f->norms = (float *)p;
        f->norms_borrowed = true;
    }
    return rc;
}

static size_t flat_memory(const qv_index *ix)
{
    const flat_index *f = (const flat_index *)ix;
    size_t m = qv__rows_memory(&f->rows);
    if (f->norms && !f->norms_borrowed)
        m += f->rows.cap * sizeof(float);
    return m;
}

static void flat_release(qv_index *ix)
{
    flat_index *f = (flat_index *)ix;
    qv__rows_release(&f->rows);
    if (!f->norms_borrowed)
        free(f->norms);
}

const qv_index_ops qv__flat_ops = {
    .name = "FLAT",
    .type = QV_INDEX_FLAT,
    .caps = QV_IXCAP_FLOAT | QV_IXCAP_RAW_VECTORS,
    .impl_size = sizeof(flat_index),
    .init = flat_init,
    .add = flat_add,
    .search = flat_search,
    .range_search = flat_range_search,
    .get_vectors = flat_get_vectors,
    .serialize = flat_serialize,
    .load = flat_load,
    .memory_size = flat_memory,
    .release = flat_release,
};
