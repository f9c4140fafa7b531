/* index_bin.c -- binary vector indexes: BIN_FLAT (exact) and BIN_IVF_FLAT
 * (inverted lists of raw bit rows), for the HAMMING and JACCARD metrics.
 *
 * BIN_IVF_FLAT trains its coarse quantizer as FAISS's IndexBinaryIVF does:
 * k-means over the bits widened to 0/1 floats, centroids thresholded back
 * to bits; rows and queries go to the centroid at the smallest Hamming
 * distance.  Search probes the nprobe closest lists; a filter passing a
 * fraction p of rows raises nprobe to nprobe / sqrt(p), and to all lists
 * (an exact scan of the passing rows) when the probed lists would hold
 * fewer than 4k passing rows, as IVF does (index_ivf.c).
 *
 * Threading: immutable after add; searches allocate their own scratch.
 */
#include "index/index_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/ivf.h"
#include "index/kmeans.h"

#define TAG_BCEN   QV_FOURCC('B', 'C', 'E', 'N')
#define TAG_LSIZE  QV_FOURCC('L', 'S', 'Z', ' ')
#define TAG_CODES  QV_FOURCC('C', 'O', 'D', 'E')
#define TAG_LIDS   QV_FOURCC('L', 'I', 'D', 'S')
#define BIN_DEF_NL 128
#define BIN_DEF_NP 8
#define BIN_MAX_NL 65536

typedef struct bin_index {
    qv_index base;
    qv__rows rows; /* BIN_FLAT */
    /* BIN_IVF_FLAT */
    size_t nlist;
    uint8_t *cent; /* nlist * row_bytes */
    ivf_list *lists;
    bool borrowed;
} bin_index;

static inline float bin_score(const qv_index *ix, const uint8_t *a,
                              const uint8_t *b)
{
    if (ix->metric == QV_METRIC_HAMMING)
        return (float)ix->kern->hamming(a, b, ix->row_bytes);
    uint32_t an, o;
    ix->kern->and_or_count(a, b, ix->row_bytes, &an, &o);
    return o ? 1.0f - (float)an / (float)o : 0.0f;
}

/* Scores q against n rows; pushes to h or (h NULL) collects the range. */
static size_t bin_scan(const qv_index *ix, const uint8_t *q, const uint8_t *x,
                       size_t n, const int64_t *ids, const qv__search_ctx *ctx,
                       qv__topk *h, qv__rlist *rl)
{
    size_t hits = 0;
    size_t rb = ix->row_bytes;
    for (size_t i = 0; i < n; i++) {
        int64_t lab = ids ? ids[i] : (int64_t)i;
        if (qv__excluded(ctx->filter, lab))
            continue;
        float s = bin_score(ix, q, x + i * rb);
        if (h) {
            if (s < qv__topk_worst(h))
                qv__topk_push(h, s, lab);
        } else if (s >= ctx->range_lo && s < ctx->range_hi) {
            qv__rlist_push(rl, s, lab);
            hits++;
        }
    }
    return hits;
}

/* ---- common ----------------------------------------------------------- */

typedef struct bin_job {
    const bin_index *b;
    const uint8_t *q;
    const qv__search_ctx *ctx;
    size_t nprobe;
    size_t nsel;      /* lists ranked per query (nlist for range) */
    size_t max_empty; /* range: stop after this many empty lists */
    float *dist;
    int64_t *lab;
    qv__rlist *ranges;
    int failed;
} bin_job;

static void bin_query(const bin_job *j, size_t i, float *pd, int64_t *pl)
{
    const bin_index *b = j->b;
    const qv_index *ix = &b->base;
    const uint8_t *q = j->q + i * ix->row_bytes;
    size_t k = j->ctx->k;
    qv__topk h;
    if (j->dist)
        qv__topk_init(&h, k, j->dist + i * k, j->lab + i * k);
    qv__topk *hp = j->dist ? &h : NULL;
    qv__rlist *rl = j->dist ? NULL : &j->ranges[i];
    if (ix->type == QV_INDEX_BIN_FLAT) {
        bin_scan(ix, q, b->rows.data, b->rows.n, b->rows.ids, j->ctx, hp, rl);
    } else {
        qv__topk probes;
        qv__topk_init(&probes, j->nsel, pd, pl);
        for (size_t c = 0; c < b->nlist; c++) {
            float s = (float)ix->kern->hamming(q, b->cent + c * ix->row_bytes,
                                               ix->row_bytes);
            if (s < qv__topk_worst(&probes))
                qv__topk_push(&probes, s, (int64_t)c);
        }
        qv__topk_finish(&probes, QV_METRIC_HAMMING);
        size_t empty_run = 0;
        for (size_t p = 0; p < j->nsel && pl[p] >= 0; p++) {
            if (p >= j->nprobe && empty_run >= j->max_empty)
                break;
            const ivf_list *l = &b->lists[pl[p]];
            size_t hits =
                bin_scan(ix, q, l->codes, l->n, l->ids, j->ctx, hp, rl);
            empty_run = hits ? 0 : empty_run + 1;
        }
    }
    if (hp)
        qv__topk_finish(hp, ix->metric);
}

static void bin_chunk(void *arg, size_t s, size_t e, size_t w)
{
    (void)w;
    bin_job *j = arg;
    size_t np = j->nsel ? j->nsel : 1;
    float *pd = qv_try_alloc(np, sizeof(float));
    int64_t *pl = qv_try_alloc(np, sizeof(int64_t));
    if (!pd || !pl) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    } else {
        for (size_t i = s; i < e; i++)
            bin_query(j, i, pd, pl);
    }
    free(pd);
    free(pl);
}

static qv_code bin_check_search(const qv_params *p, qv_err *err)
{
    int64_t v;
    qv_code rc = qv__param_int(p, "nprobe", BIN_DEF_NP, 1, BIN_MAX_NL, &v, err);
    if (!rc)
        rc = qv__param_int(p, "max_empty_result_buckets", 2, 1, 65535, &v, err);
    return rc;
}

static qv_code bin_run(const qv_index *ix, size_t nq, const void *q,
                       const qv__search_ctx *ctx, bin_job *j, qv_err *err)
{
    const bin_index *b = (const bin_index *)ix;
    j->b = b;
    j->q = q;
    j->ctx = ctx;
    if (ix->type == QV_INDEX_BIN_IVF_FLAT) {
        int64_t np;
        qv_code rc = qv__param_int(ctx->params, "nprobe", BIN_DEF_NP, 1,
                                   BIN_MAX_NL, &np, err);
        if (rc)
            return rc;
        double want = (double)np;
        if (ctx->filter) { /* as IVF: nprobe / sqrt(p), exact if sparse */
            size_t pass = qv__filter_pass_count(ctx->filter, ix->ntotal);
            size_t k = ctx->k > 10 ? ctx->k : 10;
            want = pass ? want / sqrt((double)pass / (double)ix->ntotal)
                        : (double)b->nlist;
            if ((double)pass * want / (double)b->nlist < 4.0 * (double)k)
                want = (double)b->nlist;
        }
        j->nprobe = want >= (double)b->nlist ? b->nlist : (size_t)want;
        j->nsel = j->nprobe;
        if (j->ranges) {
            int64_t me;
            rc = qv__param_int(ctx->params, "max_empty_result_buckets", 2, 1,
                               65535, &me, err);
            if (rc)
                return rc;
            j->max_empty = (size_t)me;
            j->nsel = b->nlist;
        }
    }
    qv_pool_parallel_for(ctx->pool, nq, 1, bin_chunk, j);
    if (j->failed)
        return qv_fail(err, QV_E_NOMEM, "%s search: out of memory",
                       ix->ops->name);
    return QV_OK;
}

static qv_code bin_search(const qv_index *ix, size_t nq, const void *q,
                          const qv__search_ctx *ctx, float *dist, int64_t *lab,
                          qv_err *err)
{
    bin_job j = {.dist = dist, .lab = lab};
    qv_code rc = bin_run(ix, nq, q, ctx, &j, err);
    if (rc)
        for (size_t i = 0; i < nq * ctx->k; i++)
            lab[i] = -1;
    return rc;
}

static qv_code bin_range_search(const qv_index *ix, size_t nq, const void *q,
                                const qv__search_ctx *ctx, qv_range_result *out,
                                qv_err *err)
{
    bin_job j = {.ranges = qv_xcalloc(nq, sizeof(qv__rlist))};
    qv_code rc = bin_run(ix, nq, q, ctx, &j, err);
    if (rc)
        for (size_t i = 0; i < nq; i++)
            j.ranges[i].oom = true;
    qv_code rc2 =
        qv__range_assemble(j.ranges, nq, ix->metric, out, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- BIN_FLAT --------------------------------------------------------- */

static qv_code binflat_init(qv_index *ix, const qv_params *build, qv_err *err)
{
    (void)build;
    (void)err;
    ((bin_index *)ix)->rows.row_bytes = ix->row_bytes;
    return QV_OK;
}

static qv_code binflat_add(qv_index *ix, size_t n, const void *x,
                           const int64_t *labels, qv_err *err)
{
    qv_code rc = qv__rows_add(&((bin_index *)ix)->rows, n, x, labels, err);
    if (!rc)
        ix->ntotal += n;
    return rc;
}

static qv_code binflat_get(const qv_index *ix, size_t n, const int64_t *labels,
                           void *out, qv_err *err)
{
    return qv__rows_get(&((const bin_index *)ix)->rows, n, labels, out, err);
}

static qv_code binflat_write(const qv_index *ix, qv__writer *w, qv_err *err)
{
    return qv__rows_write(&((const bin_index *)ix)->rows, w, err);
}

static qv_code binflat_load(qv_index *ix, const qv__reader *r, qv_err *err)
{
    return qv__rows_read(&((bin_index *)ix)->rows, r, ix->ntotal, err);
}

static size_t binflat_memory(const qv_index *ix)
{
    return qv__rows_memory(&((const bin_index *)ix)->rows);
}

static void binflat_release(qv_index *ix)
{
    qv__rows_release(&((bin_index *)ix)->rows);
}

const qv_index_ops qv__bin_flat_ops = {
    .name = "BIN_FLAT",
    .type = QV_INDEX_BIN_FLAT,
    .caps = QV_IXCAP_BINARY | QV_IXCAP_RAW_VECTORS,
    .impl_size = sizeof(bin_index),
    .init = binflat_init,
    .add = binflat_add,
    .search = bin_search,
    .range_search = bin_range_search,
    .get_vectors = binflat_get,
    .serialize = binflat_write,
    .load = binflat_load,
    .memory_size = binflat_memory,
    .release = binflat_release,
};

/* ---- BIN_IVF_FLAT ----------------------------------------------------- */

static qv_code binivf_init(qv_index *ix, const qv_params *build, qv_err *err)
{
    bin_index *b = (bin_index *)ix;
    int64_t nl;
    qv_code rc =
        qv__param_int(build, "nlist", BIN_DEF_NL, 1, BIN_MAX_NL, &nl, err);
    if (rc)
        return rc;
    b->nlist = (size_t)nl;
    b->lists = qv_xcalloc(b->nlist, sizeof(ivf_list));
    qv__params_text_add(ix, "nlist", nl);
    return QV_OK;
}

static size_t nearest_centroid(const bin_index *b, const uint8_t *x)
{
    const qv_index *ix = &b->base;
    uint32_t best = UINT32_MAX;
    size_t bi = 0;
    for (size_t c = 0; c < b->nlist; c++) {
        uint32_t h =
            ix->kern->hamming(x, b->cent + c * ix->row_bytes, ix->row_bytes);
        if (h < best) {
            best = h;
            bi = c;
        }
    }
    return bi;
}

static qv_code binivf_train(qv_index *ix, size_t n, const void *xv, qv_err *err)
{
    bin_index *b = (bin_index *)ix;
    size_t d = ix->dim, rb = ix->row_bytes, k = b->nlist;
    if (n < k)
        return qv_fail(err, QV_E_INVALID,
                       "BIN_IVF_FLAT needs at least nlist=%zu training "
                       "vectors, got %zu",
                       k, n);
    size_t m = n < k * 256 ? n : k * 256;
    const uint8_t *x = xv;
    float *fx = qv_try_alloc(m, d * sizeof(float));
    float *fc = qv_try_alloc(k, d * sizeof(float));
    uint8_t *cent = qv_try_calloc(k, rb);
    qv_code rc = QV_OK;
    if (!fx || !fc || !cent)
        rc = qv_fail(err, QV_E_NOMEM, "cannot allocate training data");
    for (size_t i = 0; !rc && i < m; i++) {
        const uint8_t *row =
            x + (size_t)((double)i * (double)n / (double)m) * rb;
        for (size_t t = 0; t < d; t++)
            fx[i * d + t] = (float)((row[t / 8] >> (t % 8)) & 1);
    }
    qv__kmeans_cfg cfg = {.niter = 10,
                          .max_per_centroid = 0,
                          .seed = 1234,
                          .pool = qv_pool_shared()};
    if (!rc)
        rc = qv__kmeans(&cfg, m, d, fx, k, fc, err);
    for (size_t c = 0; !rc && c < k; c++)
        for (size_t t = 0; t < d; t++)
            if (fc[c * d + t] > 0.5f)
                cent[c * rb + t / 8] |= (uint8_t)(1u << (t % 8));
    free(fx);
    free(fc);
    if (rc) {
        free(cent);
        return rc;
    }
    free(b->cent);
    b->cent = cent;
    return QV_OK;
}

typedef struct binassign_job {
    const bin_index *b;
    const uint8_t *x;
    size_t *assign;
} binassign_job;

static void binassign_chunk(void *arg, size_t s, size_t e, size_t w)
{
    (void)w;
    binassign_job *j = arg;
    for (size_t i = s; i < e; i++)
        j->assign[i] = nearest_centroid(j->b, j->x + i * j->b->base.row_bytes);
}

/* Assigns rows in parallel on the shared pool, sizes each list exactly,
 * then appends in input order. */
static qv_code binivf_add(qv_index *ix, size_t n, const void *xv,
                          const int64_t *labels, qv_err *err)
{
    bin_index *b = (bin_index *)ix;
    const uint8_t *x = xv;
    size_t rb = ix->row_bytes;
    size_t *assign = qv_try_alloc(n, sizeof(size_t));
    size_t *count = qv_try_calloc(b->nlist, sizeof(size_t));
    qv_code rc = QV_OK;
    if (!assign || !count)
        rc = qv_fail(err, QV_E_NOMEM, "cannot allocate %zu assignments", n);
    if (!rc) {
        binassign_job j = {b, x, assign};
        qv_pool_parallel_for(qv_pool_shared(), n, 256, binassign_chunk, &j);
        for (size_t i = 0; i < n; i++)
            count[assign[i]]++;
    }
    for (size_t li = 0; !rc && li < b->nlist; li++) {
        ivf_list *l = &b->lists[li];
        size_t need = l->n + count[li];
        if (need <= l->cap)
            continue;
        size_t nc = l->cap + l->cap / 2 > need ? l->cap + l->cap / 2 : need;
        uint8_t *c = qv_try_realloc(l->codes, nc, rb);
        if (c)
            l->codes = c;
        int64_t *ids = qv_try_realloc(l->ids, nc, sizeof(int64_t));
        if (ids)
            l->ids = ids;
        if (!c || !ids)
            rc = qv_fail(err, QV_E_NOMEM, "cannot grow list");
        else
            l->cap = nc;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        ivf_list *l = &b->lists[assign[i]];
        memcpy(l->codes + l->n * rb, x + i * rb, rb);
        l->ids[l->n++] = labels[i];
    }
    if (!rc)
        ix->ntotal += n;
    free(assign);
    free(count);
    return rc;
}

static qv_code binivf_get(const qv_index *ix, size_t n, const int64_t *labels,
                          void *out, qv_err *err)
{
    const bin_index *b = (const bin_index *)ix;
    return qv__lists_get(b->lists, b->nlist, ix->row_bytes, n, labels, out,
                         err);
}

static qv_code binivf_write(const qv_index *ix, qv__writer *w, qv_err *err)
{
    const bin_index *b = (const bin_index *)ix;
    size_t rb = ix->row_bytes;
    qv_code rc = QV_OK;
    if (ix->trained)
        rc = qv__writer_section(w, TAG_BCEN, b->cent, b->nlist * rb, err);
    if (!rc)
        rc = qv__writer_begin(w, TAG_LSIZE, err);
    for (size_t li = 0; !rc && li < b->nlist; li++) {
        uint64_t n = b->lists[li].n;
        rc = qv__writer_append(w, &n, sizeof(n), err);
    }
    qv__writer_end(w);
    if (!rc)
        rc = qv__writer_begin(w, TAG_CODES, err);
    for (size_t li = 0; !rc && li < b->nlist; li++)
        rc = qv__writer_append(w, b->lists[li].codes, b->lists[li].n * rb, err);
    qv__writer_end(w);
    if (!rc)
        rc = qv__writer_begin(w, TAG_LIDS, err);
    for (size_t li = 0; !rc && li < b->nlist; li++)
        rc = qv__writer_append(w, b->lists[li].ids,
                               b->lists[li].n * sizeof(int64_t), err);
    qv__writer_end(w);
    return rc;
}

static qv_code binivf_load(qv_index *ix, const qv__reader *r, qv_err *err)
{
    bin_index *b = (bin_index *)ix;
    size_t rb = ix->row_bytes;
    const void *p;
    b->borrowed = true;
    qv_code rc;
    if (ix->trained) {
        rc = qv__reader_exact(r, TAG_BCEN, rb, b->nlist, &p, err);
        if (rc)
            return rc;
        b->cent = (uint8_t *)p;
    } else if (ix->ntotal) {
        return qv_fail(err, QV_E_CORRUPT, "untrained index file has rows");
    }
    const uint64_t *sizes;
    const uint8_t *codes;
    const int64_t *ids;
    rc = qv__reader_exact(r, TAG_LSIZE, sizeof(uint64_t), b->nlist,
                          (const void **)&sizes, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_CODES, rb, ix->ntotal,
                              (const void **)&codes, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_LIDS, sizeof(int64_t), ix->ntotal,
                              (const void **)&ids, err);
    if (rc)
        return rc;
    size_t pos = 0;
    for (size_t li = 0; li < b->nlist; li++) {
        if (sizes[li] > ix->ntotal - pos)
            return qv_fail(err, QV_E_CORRUPT,
                           "index list sizes exceed the row count");
        ivf_list *l = &b->lists[li];
        l->n = l->cap = (size_t)sizes[li];
        l->codes = (uint8_t *)codes + pos * rb;
        l->ids = (int64_t *)ids + pos;
        pos += l->n;
    }
    if (pos != ix->ntotal)
        return qv_fail(err, QV_E_CORRUPT,
                       "index list sizes do not add up to the row count");
    return QV_OK;
}

static size_t binivf_memory(const qv_index *ix)
{
    const bin_index *b = (const bin_index *)ix;
    size_t m = b->nlist * sizeof(ivf_list);
    if (!b->borrowed) {
        m += b->cent ? b->nlist * ix->row_bytes : 0;
        for (size_t li = 0; li < b->nlist; li++)
            m += b->lists[li].cap * (ix->row_bytes + sizeof(int64_t));
    }
    return m;
}

static void binivf_release(qv_index *ix)
{
    bin_index *b = (bin_index *)ix;
    if (!b->borrowed) {
        free(b->cent);
        for (size_t li = 0; b->lists && li < b->nlist; li++) {
            free(b->lists[li].codes);
            free(b->lists[li].ids);
        }
    }
    free(b->lists);
}

const qv_index_ops qv__bin_ivf_flat_ops = {
    .name = "BIN_IVF_FLAT",
    .type = QV_INDEX_BIN_IVF_FLAT,
    .caps = QV_IXCAP_BINARY | QV_IXCAP_TRAIN | QV_IXCAP_RAW_VECTORS,
    .impl_size = sizeof(bin_index),
    .init = binivf_init,
    .check_search_params = bin_check_search,
    .train = binivf_train,
    .add = binivf_add,
    .search = bin_search,
    .range_search = bin_range_search,
    .get_vectors = binivf_get,
    .serialize = binivf_write,
    .load = binivf_load,
    .memory_size = binivf_memory,
    .release = binivf_release,
};
