/* index_ivf.c -- the IVF framework (see ivf.h) and the IVF_FLAT codec.
 *
 * Training: seeded k-means (10 iterations, at most 256 sample points per
 * centroid, as FAISS's IVF does) with sgemm assignment; then the codec
 * trains on the same sample.  Add assigns rows with sgemm on the shared
 * pool, encodes them in parallel and appends them to their lists (sized
 * exactly for a single add).
 *
 * Search: queries run in chunks in parallel on the caller's pool; each
 * chunk gets its coarse scores from one sgemm, probes the nprobe closest
 * lists per query and scores their codes.  A filter is honoured inside the
 * lists: excluded entries cost one bit test and are never scored.  With a
 * filter that passes a fraction p of the rows, nprobe grows to
 * nprobe / sqrt(p) (capped at nlist), which keeps recall at or above the
 * unfiltered search's for about the same work; when the probed lists would
 * hold fewer than 4k passing rows every list is probed, which is an exact
 * scan over the passing rows for IVF_FLAT.
 */
#include "index/ivf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/kmeans.h"

#define IVF_NITER      10
#define IVF_MAX_PER_C  256
#define IVF_SEED       1234
#define IVF_MAX_NLIST  65536
#define IVF_DEF_NLIST  128
#define IVF_DEF_NPROBE 8
#define TAG_CENT       QV_FOURCC('C', 'E', 'N', 'T')
#define TAG_LSIZE      QV_FOURCC('L', 'S', 'Z', ' ')
#define TAG_CODES      QV_FOURCC('C', 'O', 'D', 'E')
#define TAG_LIDS       QV_FOURCC('L', 'I', 'D', 'S')

static bool ivf_ip(const ivf_index *ivf)
{
    return ivf->base.metric != QV_METRIC_L2;
}

/* ---- IVF_FLAT codec --------------------------------------------------- */

static void flat_encode(const ivf_index *ivf, size_t list, const float *x,
                        uint8_t *code, float *tmp)
{
    (void)list;
    (void)tmp;
    memcpy(code, x, ivf->code_size);
}

static size_t flat_scratch(const ivf_index *ivf)
{
    (void)ivf;
    return 0;
}

static void flat_set_query(const ivf_index *ivf, ivf_scan *s)
{
    (void)ivf;
    (void)s;
}

static void flat_score(const ivf_index *ivf, ivf_scan *s, size_t list,
                       float coarse, const uint8_t *codes, size_t n,
                       const uint32_t *sel, size_t nsel, float *out)
{
    (void)list;
    (void)coarse;
    const qv_distance_kernels *k = ivf->base.kern;
    const size_t d = ivf->base.dim;
    const bool l2 = !ivf_ip(ivf);
    const float *x = (const float *)(const void *)codes;
    const float *q = s->q;
    if (!sel) {
        qv_fdist4_fn f4 = l2 ? k->l2sqr_batch4 : k->ip_batch4;
        qv_fdist_fn f1 = l2 ? k->l2sqr : k->ip;
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const float *r = x + i * d;
            f4(q, r, r + d, r + 2 * d, r + 3 * d, d, out + i);
        }
        for (; i < n; i++)
            out[i] = f1(q, x + i * d, d);
        if (!l2)
            for (i = 0; i < n; i++)
                out[i] = -out[i];
        return;
    }
    qv_fdist4_fn f4 = l2 ? k->l2sqr_batch4 : k->ip_batch4;
    qv_fdist_fn f1 = l2 ? k->l2sqr : k->ip;
    size_t t = 0;
    for (; t + 4 <= nsel; t += 4)
        f4(q, x + (size_t)sel[t] * d, x + (size_t)sel[t + 1] * d,
           x + (size_t)sel[t + 2] * d, x + (size_t)sel[t + 3] * d, d, out + t);
    for (; t < nsel; t++)
        out[t] = f1(q, x + (size_t)sel[t] * d, d);
    if (!l2)
        for (t = 0; t < nsel; t++)
            out[t] = -out[t];
}

static qv_code flat_write(const ivf_index *ivf, qv__writer *w, qv_err *err)
{
    (void)ivf;
    (void)w;
    (void)err;
    return QV_OK;
}

static qv_code flat_read(ivf_index *ivf, const qv__reader *r, qv_err *err)
{
    (void)ivf;
    (void)r;
    (void)err;
    return QV_OK;
}

static size_t flat_memory(const ivf_index *ivf)
{
    (void)ivf;
    return 0;
}

static void flat_release(ivf_index *ivf)
{
    (void)ivf;
}

const ivf_codec qv__ivf_codec_flat = {
    .train = NULL,
    .encode = flat_encode,
    .scratch = flat_scratch,
    .set_query = flat_set_query,
    .score = flat_score,
    .write = flat_write,
    .read = flat_read,
    .memory = flat_memory,
    .release = flat_release,
};

/* ---- create / train / add --------------------------------------------- */

static qv_code ivf_init(qv_index *ix, const qv_params *build, qv_err *err)
{
    ivf_index *ivf = (ivf_index *)ix;
    int64_t nlist;
    qv_code rc = qv__param_int(build, "nlist", IVF_DEF_NLIST, 1, IVF_MAX_NLIST,
                               &nlist, err);
    if (rc)
        return rc;
    ivf->nlist = (size_t)nlist;
    qv__params_text_add(ix, "nlist", nlist);
    switch (ix->type) {
    case QV_INDEX_IVF_SQ8:
        ivf->codec = &qv__ivf_codec_sq8;
        ivf->code_size = ix->dim;
        break;
    case QV_INDEX_IVF_PQ:
        ivf->codec = &qv__ivf_codec_pq;
        rc = qv__ivf_pq_init(ivf, build, err);
        if (rc)
            return rc;
        break;
    default:
        ivf->codec = &qv__ivf_codec_flat;
        ivf->code_size = ix->row_bytes;
        break;
    }
    ivf->lists = qv_xcalloc(ivf->nlist, sizeof(ivf_list));
    return QV_OK;
}

static qv_code ivf_check_search(const qv_params *p, qv_err *err)
{
    int64_t v;
    qv_code rc =
        qv__param_int(p, "nprobe", IVF_DEF_NPROBE, 1, IVF_MAX_NLIST, &v, err);
    if (!rc)
        rc = qv__param_int(p, "max_empty_result_buckets", 2, 1, 65535, &v, err);
    return rc;
}

static qv_code ivf_train(qv_index *ix, size_t n, const void *x, qv_err *err)
{
    ivf_index *ivf = (ivf_index *)ix;
    size_t d = ix->dim, k = ivf->nlist;
    qv_pool *pool = qv_pool_shared();
    if (n < k)
        return qv_fail(err, QV_E_INVALID,
                       "%s needs at least nlist=%zu training vectors, got "
                       "%zu",
                       ix->ops->name, k, n);
    float *cent = qv_try_aligned_alloc(k * d, sizeof(float));
    float *cn = qv_try_alloc(k, sizeof(float));
    if (!cent || !cn) {
        qv_aligned_free(cent);
        free(cn);
        return qv_fail(err, QV_E_NOMEM, "cannot allocate %zu centroids", k);
    }
    qv__kmeans_cfg cfg = {.niter = IVF_NITER,
                          .max_per_centroid = IVF_MAX_PER_C,
                          .seed = IVF_SEED,
                          .ip = ivf_ip(ivf),
                          .pool = pool};
    qv_code rc = qv__kmeans(&cfg, n, d, x, k, cent, err);
    if (rc) {
        qv_aligned_free(cent);
        free(cn);
        return rc;
    }
    qv__norms(cent, k, d, cn);
    qv_aligned_free(ivf->centroids);
    free(ivf->cnorms);
    ivf->centroids = cent;
    ivf->cnorms = cn;
    if (!ivf->codec->train)
        return QV_OK;
    /* The codec trains on an evenly strided sample of the vectors. */
    size_t m = n < k * IVF_MAX_PER_C ? n : k * IVF_MAX_PER_C;
    if (ix->type == QV_INDEX_IVF_PQ && m < 65536)
        m = n < 65536 ? n : 65536;
    int64_t *assign = qv_try_alloc(m, sizeof(int64_t));
    float *xs = qv_try_alloc(m, d * sizeof(float));
    if (!assign || !xs) {
        free(assign);
        free(xs);
        return qv_fail(err, QV_E_NOMEM, "cannot allocate a training sample");
    }
    for (size_t i = 0; i < m; i++)
        memcpy(xs + i * d,
               (const float *)x +
                   (size_t)((double)i * (double)n / (double)m) * d,
               d * sizeof(float));
    rc = qv__kmeans_assign(xs, m, d, cent, cn, k, ivf_ip(ivf), pool, assign,
                           NULL, err);
    if (!rc)
        rc = ivf->codec->train(ivf, m, xs, assign, err);
    free(assign);
    free(xs);
    return rc;
}

typedef struct encode_job {
    ivf_index *ivf;
    const float *x;
    const int64_t *assign;
    const int64_t *labels;
    const size_t *slot; /* row i goes to position slot[i] of its list */
} encode_job;

/* Encodes rows straight into their list slots (reserved beforehand, so
 * workers never touch the same bytes). */
static void encode_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    encode_job *j = arg;
    ivf_index *ivf = j->ivf;
    size_t d = ivf->base.dim;
    float *tmp = qv_xmalloc(d * sizeof(float));
    for (size_t i = b; i < e; i++) {
        ivf_list *l = &ivf->lists[j->assign[i]];
        ivf->codec->encode(ivf, (size_t)j->assign[i], j->x + i * d,
                           l->codes + j->slot[i] * ivf->code_size, tmp);
        l->ids[j->slot[i]] = j->labels[i];
    }
    free(tmp);
}

static qv_code grow_lists(ivf_index *ivf, const size_t *extra, qv_err *err)
{
    for (size_t li = 0; li < ivf->nlist; li++) {
        ivf_list *l = &ivf->lists[li];
        size_t need = l->n + extra[li];
        if (need <= l->cap)
            continue;
        size_t nc = l->cap + l->cap / 2 > need ? l->cap + l->cap / 2 : need;
        uint8_t *c = qv_try_realloc(l->codes, nc, ivf->code_size);
        if (c)
            l->codes = c;
        int64_t *ids = qv_try_realloc(l->ids, nc, sizeof(int64_t));
        if (ids)
            l->ids = ids;
        if (!c || !ids)
            return qv_fail(err, QV_E_NOMEM, "cannot grow inverted list");
        l->cap = nc;
    }
    return QV_OK;
}

/* Add: assign every row (sgemm), size each list exactly, give each row
 * its slot, then encode in parallel directly into the lists. */
static qv_code ivf_add(qv_index *ix, size_t n, const void *xv,
                       const int64_t *labels, qv_err *err)
{
    ivf_index *ivf = (ivf_index *)ix;
    const float *x = xv;
    qv_pool *pool = qv_pool_shared();
    int64_t *assign = qv_try_alloc(n, sizeof(int64_t));
    size_t *slot = qv_try_alloc(n, sizeof(size_t));
    size_t *count = qv_try_calloc(ivf->nlist, sizeof(size_t));
    qv_code rc = QV_OK;
    if (!assign || !slot || !count)
        rc = qv_fail(err, QV_E_NOMEM, "cannot allocate %zu codes", n);
    if (!rc)
        rc =
            qv__kmeans_assign(x, n, ix->dim, ivf->centroids, ivf->cnorms,
                              ivf->nlist, ivf_ip(ivf), pool, assign, NULL, err);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            count[assign[i]]++;
        rc = grow_lists(ivf, count, err);
    }
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            slot[i] = ivf->lists[assign[i]].n++;
        encode_job j = {ivf, x, assign, labels, slot};
        qv_pool_parallel_for(pool, n, 256, encode_chunk, &j);
        for (size_t li = 0; li < ivf->nlist; li++)
            if (ivf->lists[li].n > ivf->max_list)
                ivf->max_list = ivf->lists[li].n;
        ix->ntotal += n;
    }
    free(assign);
    free(slot);
    free(count);
    return rc;
}

/* ---- search ----------------------------------------------------------- */

typedef struct ivf_job {
    const ivf_index *ivf;
    const float *q;
    const qv__search_ctx *ctx;
    size_t nprobe;
    size_t nsel;      /* lists ranked per query (nlist for range) */
    size_t max_empty; /* range: stop after this many empty lists */
    float *dist;      /* top-k */
    int64_t *lab;
    qv__rlist *ranges; /* range search */
    int failed;
} ivf_job;

/* Scratch of one chunk of queries. */
typedef struct ivf_scratch {
    float *coarse;   /* qn * nlist */
    float *pd;       /* nsel probe scores */
    int64_t *pl;     /* nsel probe lists, closest first */
    float *out;      /* max_list scores */
    uint32_t *sel;   /* max_list positions */
    uint32_t *cand;  /* max_list top-k candidates */
    uint32_t *cand2; /* nlist probe candidates */
    float *codec;    /* codec scratch */
} ivf_scratch;

static void scratch_free(ivf_scratch *s)
{
    free(s->coarse);
    free(s->pd);
    free(s->pl);
    free(s->out);
    free(s->sel);
    free(s->cand);
    free(s->cand2);
    free(s->codec);
}

static bool scratch_alloc(const ivf_job *j, size_t qn, ivf_scratch *s)
{
    const ivf_index *ivf = j->ivf;
    size_t ml = ivf->max_list ? ivf->max_list : 1;
    size_t cs = ivf->codec->scratch(ivf);
    s->coarse = qv_try_alloc(qn * ivf->nlist, sizeof(float));
    s->pd = qv_try_alloc(j->nsel, sizeof(float));
    s->pl = qv_try_alloc(j->nsel, sizeof(int64_t));
    s->out = qv_try_alloc(ml, sizeof(float));
    s->sel = qv_try_alloc(ml, sizeof(uint32_t));
    s->cand = qv_try_alloc(ml, sizeof(uint32_t));
    s->cand2 = qv_try_alloc(ivf->nlist, sizeof(uint32_t));
    s->codec = qv_try_alloc(cs ? cs : 1, sizeof(float));
    if (s->coarse && s->pd && s->pl && s->out && s->sel && s->cand &&
        s->cand2 && s->codec)
        return true;
    scratch_free(s);
    return false;
}

/* Scores one list for query scan state sc; calls back per surviving
 * entry through either the heap or the range list. */
static size_t scan_list(const ivf_job *j, ivf_scratch *s, ivf_scan *sc,
                        size_t li, float coarse, qv__topk *h, qv__rlist *rl)
{
    const ivf_index *ivf = j->ivf;
    const ivf_list *l = &ivf->lists[li];
    const qv_bitset *f = j->ctx->filter;
    if (!l->n)
        return 0;
    const uint32_t *sel = NULL;
    size_t cnt = l->n;
    if (f) {
        size_t m = 0;
        for (size_t p = 0; p < l->n; p++)
            if (!qv__excluded(f, l->ids[p]))
                s->sel[m++] = (uint32_t)p;
        if (!m)
            return 0;
        sel = s->sel;
        cnt = m;
    }
    ivf->codec->score(ivf, sc, li, coarse, l->codes, l->n, sel, cnt, s->out);
    if (h) {
        size_t nc =
            ivf->base.kern->select_lt(s->out, cnt, qv__topk_worst(h), s->cand);
        for (size_t c = 0; c < nc; c++) {
            size_t t = s->cand[c];
            if (s->out[t] < qv__topk_worst(h))
                qv__topk_push(h, s->out[t], l->ids[sel ? sel[t] : t]);
        }
        return 0;
    }
    float lo = j->ctx->range_lo, hi = j->ctx->range_hi;
    size_t hits = 0;
    for (size_t t = 0; t < cnt; t++)
        if (s->out[t] >= lo && s->out[t] < hi) {
            qv__rlist_push(rl, s->out[t], l->ids[sel ? sel[t] : t]);
            hits++;
        }
    return hits;
}

/* Turns one query's dot products with the centroids (cs, in place) into
 * coarse scores and ranks the nsel closest lists into s->pl (closest
 * first; -1 past the end). */
static void rank_lists(const ivf_job *j, ivf_scratch *s, float *cs)
{
    const ivf_index *ivf = j->ivf;
    const size_t nl = ivf->nlist;
    const qv_distance_kernels *kern = ivf->base.kern;
    if (ivf_ip(ivf)) /* -q.c */
        kern->madd(nl, cs, -2.0f, cs, cs);
    else /* |c|^2 - 2 q.c */
        kern->madd(nl, ivf->cnorms, -2.0f, cs, cs);
    qv__topk probes;
    qv__topk_init(&probes, j->nsel, s->pd, s->pl);
    /* fill, then only centroids under the current worst (SIMD) */
    size_t c0 = j->nsel < nl ? j->nsel : nl;
    for (size_t c = 0; c < c0; c++)
        qv__topk_push(&probes, cs[c], (int64_t)c);
    size_t nc =
        kern->select_lt(cs + c0, nl - c0, qv__topk_worst(&probes), s->cand2);
    for (size_t t = 0; t < nc; t++) {
        size_t c = c0 + s->cand2[t];
        if (cs[c] < qv__topk_worst(&probes))
            qv__topk_push(&probes, cs[c], (int64_t)c);
    }
    qv__topk_finish(&probes, QV_METRIC_L2);
}

static void ivf_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    ivf_job *j = arg;
    const ivf_index *ivf = j->ivf;
    const size_t d = ivf->base.dim, nl = ivf->nlist, qn = e - b;
    ivf_scratch s;
    if (!scratch_alloc(j, qn, &s)) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    const float *q = j->q + b * d;
    qv__sgemm_nt(qn, nl, d, 1.0f, q, d, ivf->centroids, d, 0.0f, s.coarse, nl);
    for (size_t i = 0; i < qn; i++) {
        float *cs = s.coarse + i * nl;
        rank_lists(j, &s, cs);
        ivf_scan sc = {.q = q + i * d, .scratch = s.codec};
        sc.qnorm = ivf->base.kern->ip(sc.q, sc.q, d);
        ivf->codec->set_query(ivf, &sc);
        qv__topk h;
        size_t k = j->ctx->k;
        if (j->dist)
            qv__topk_init(&h, k, j->dist + (b + i) * k, j->lab + (b + i) * k);
        /* Range search goes on past nprobe lists until max_empty lists in
         * a row added nothing (Milvus's max_empty_result_buckets). */
        size_t empty_run = 0;
        for (size_t p = 0; p < j->nsel && s.pl[p] >= 0; p++) {
            if (p >= j->nprobe && empty_run >= j->max_empty)
                break;
            if (p + 1 < j->nsel && s.pl[p + 1] >= 0) {
                /* warm the start of the next list while this one runs */
                const ivf_list *nx = &ivf->lists[s.pl[p + 1]];
                for (size_t o = 0; o < 512 && o < nx->n * ivf->code_size;
                     o += 64)
                    __builtin_prefetch(nx->codes + o);
                __builtin_prefetch(nx->ids);
            }
            size_t hits = scan_list(j, &s, &sc, (size_t)s.pl[p], cs[s.pl[p]],
                                    j->dist ? &h : NULL,
                                    j->dist ? NULL : &j->ranges[b + i]);
            empty_run = hits ? 0 : empty_run + 1;
        }
        if (j->dist)
            qv__topk_finish(&h, ivf->base.metric);
    }
    scratch_free(&s);
}

/* nprobe under a filter that passes a fraction p of the rows: scaled by
 * 1 / sqrt(p), which keeps recall at or above the unfiltered search's for
 * about the same work (excluded entries cost one bit test); and every list
 * when the probed lists would hold fewer than 4k passing rows, which makes
 * the search exact over the passing rows (measurements in README.md). */
static size_t filtered_nprobe(const ivf_index *ivf, const qv__search_ctx *ctx,
                              size_t np)
{
    size_t n = ivf->base.ntotal;
    size_t pass = qv__filter_pass_count(ctx->filter, n);
    if (pass == 0)
        return ivf->nlist;
    double p = (double)pass / (double)n;
    double want = (double)np / sqrt(p);
    if (want >= (double)ivf->nlist)
        return ivf->nlist;
    size_t k = ctx->k > 10 ? ctx->k : 10;
    if ((double)pass * want / (double)ivf->nlist < 4.0 * (double)k)
        return ivf->nlist;
    return (size_t)want;
}

/* Few queries on a pool with more threads: the probed lists of each query
 * are cut into pieces scanned in parallel into private heaps, then merged
 * (latency of nq=1 searches).  Top-k only. */
typedef struct split_job {
    ivf_job *j;
    size_t pieces, per;
    float *coarse; /* nq * nlist scores */
    int64_t *pl;   /* nq * nsel ranked lists */
    float *pd;     /* nq * pieces * k heaps */
    int64_t *plab;
    size_t *pn;
    int failed;
} split_job;

static void ivf_split_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    split_job *sj = arg;
    const ivf_job *j = sj->j;
    const ivf_index *ivf = j->ivf;
    size_t d = ivf->base.dim, k = j->ctx->k;
    ivf_scratch s;
    if (!scratch_alloc(j, 1, &s)) {
        __atomic_store_n(&sj->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t it = b; it < e; it++) {
        size_t i = it / sj->pieces, c = it % sj->pieces;
        size_t p0 = c * sj->per;
        size_t p1 = p0 + sj->per < j->nprobe ? p0 + sj->per : j->nprobe;
        const int64_t *pl = sj->pl + i * j->nsel;
        const float *cs = sj->coarse + i * ivf->nlist;
        ivf_scan sc = {.q = j->q + i * d, .scratch = s.codec};
        sc.qnorm = ivf->base.kern->ip(sc.q, sc.q, d);
        ivf->codec->set_query(ivf, &sc);
        qv__topk h;
        qv__topk_init(&h, k, sj->pd + it * k, sj->plab + it * k);
        for (size_t p = p0; p < p1 && pl[p] >= 0; p++)
            scan_list(j, &s, &sc, (size_t)pl[p], cs[pl[p]], &h, NULL);
        sj->pn[it] = h.n;
    }
    scratch_free(&s);
}

static bool ivf_search_split(ivf_job *j, size_t nq)
{
    const ivf_index *ivf = j->ivf;
    size_t threads = j->ctx->pool ? qv_pool_threads(j->ctx->pool) + 1 : 1;
    if (threads < 2 || nq >= threads || j->ranges || j->nprobe < 4)
        return false;
    size_t nl = ivf->nlist, d = ivf->base.dim, k = j->ctx->k;
    split_job sj = {.j = j, .pieces = 2 * threads / nq};
    if (sj.pieces > j->nprobe / 2)
        sj.pieces = j->nprobe / 2;
    sj.per = (j->nprobe + sj.pieces - 1) / sj.pieces;
    size_t items = nq * sj.pieces;
    ivf_scratch s;
    sj.pl = qv_try_alloc(nq * j->nsel, sizeof(int64_t));
    sj.pd = qv_try_alloc(items * k, sizeof(float));
    sj.plab = qv_try_alloc(items * k, sizeof(int64_t));
    sj.pn = qv_try_alloc(items, sizeof(size_t));
    bool ok = sj.pl && sj.pd && sj.plab && sj.pn && scratch_alloc(j, nq, &s);
    if (ok) {
        sj.coarse = s.coarse;
        qv__sgemm_nt(nq, nl, d, 1.0f, j->q, d, ivf->centroids, d, 0.0f,
                     s.coarse, nl);
        for (size_t i = 0; i < nq; i++) {
            rank_lists(j, &s, s.coarse + i * nl);
            memcpy(sj.pl + i * j->nsel, s.pl, j->nsel * sizeof(int64_t));
        }
        qv_pool_parallel_for(j->ctx->pool, items, 1, ivf_split_chunk, &sj);
        ok = !sj.failed;
        for (size_t i = 0; ok && i < nq; i++) {
            qv__topk h;
            qv__topk_init(&h, k, j->dist + i * k, j->lab + i * k);
            for (size_t it = i * sj.pieces; it < (i + 1) * sj.pieces; it++)
                for (size_t t = 0; t < sj.pn[it]; t++)
                    if (sj.pd[it * k + t] < qv__topk_worst(&h))
                        qv__topk_push(&h, sj.pd[it * k + t],
                                      sj.plab[it * k + t]);
            qv__topk_finish(&h, ivf->base.metric);
        }
        scratch_free(&s);
    }
    free(sj.pl);
    free(sj.pd);
    free(sj.plab);
    free(sj.pn);
    return ok;
}

static qv_code ivf_run(const qv_index *ix, size_t nq, const void *q,
                       const qv__search_ctx *ctx, ivf_job *j, qv_err *err)
{
    const ivf_index *ivf = (const ivf_index *)ix;
    int64_t nprobe;
    qv_code rc = qv__param_int(ctx->params, "nprobe", IVF_DEF_NPROBE, 1,
                               IVF_MAX_NLIST, &nprobe, err);
    if (rc)
        return rc;
    size_t np = (size_t)nprobe;
    if (ctx->filter)
        np = filtered_nprobe(ivf, ctx, np);
    if (np > ivf->nlist)
        np = ivf->nlist;
    j->ivf = ivf;
    j->q = q;
    j->ctx = ctx;
    j->nprobe = np;
    j->nsel = np;
    if (j->ranges) {
        int64_t me;
        rc = qv__param_int(ctx->params, "max_empty_result_buckets", 2, 1, 65535,
                           &me, err);
        if (rc)
            return rc;
        j->max_empty = (size_t)me;
        j->nsel = ivf->nlist;
    }
    if (j->dist && ivf_search_split(j, nq))
        return QV_OK;
    size_t threads = ctx->pool ? qv_pool_threads(ctx->pool) + 1 : 1;
    /* big chunks amortize packing the centroids for sgemm; at least two
     * chunks per thread keep the threads busy */
    size_t grain = nq / (threads * 2);
    grain = grain < 1 ? 1 : grain > 128 ? 128 : grain;
    qv_pool_parallel_for(ctx->pool, nq, grain, ivf_chunk, j);
    if (j->failed)
        return qv_fail(err, QV_E_NOMEM, "%s search: out of memory",
                       ix->ops->name);
    return QV_OK;
}

static qv_code ivf_search(const qv_index *ix, size_t nq, const void *q,
                          const qv__search_ctx *ctx, float *dist, int64_t *lab,
                          qv_err *err)
{
    ivf_job j = {.dist = dist, .lab = lab};
    qv_code rc = ivf_run(ix, nq, q, ctx, &j, err);
    if (rc) /* leave well-formed output */
        for (size_t i = 0; i < nq * ctx->k; i++)
            lab[i] = -1;
    return rc;
}

static qv_code ivf_range_search(const qv_index *ix, size_t nq, const void *q,
                                const qv__search_ctx *ctx, qv_range_result *out,
                                qv_err *err)
{
    ivf_job j = {.ranges = qv_xcalloc(nq, sizeof(qv__rlist))};
    qv_code rc = ivf_run(ix, nq, q, ctx, &j, err);
    if (rc) {
        for (size_t i = 0; i < nq; i++)
            j.ranges[i].oom = true;
    }
    qv_code rc2 =
        qv__range_assemble(j.ranges, nq, ix->metric, out, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- get_vectors (IVF_FLAT) ------------------------------------------ */

typedef struct want {
    int64_t label;
    size_t pos;
} want;

static int cmp_want(const void *a, const void *b)
{
    const want *x = a, *y = b;
    return x->label < y->label ? -1 : x->label > y->label;
}

qv_code qv__lists_get(const ivf_list *lists, size_t nlist, size_t row_bytes,
                      size_t n, const int64_t *labels, void *out, qv_err *err)
{
    want *w = qv_try_alloc(n, sizeof(want));
    bool *found = qv_try_calloc(n, sizeof(bool));
    if (!w || !found) {
        free(w);
        free(found);
        return qv_fail(err, QV_E_NOMEM, "get_vectors: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        w[i] = (want){labels[i], i};
    qsort(w, n, sizeof(want), cmp_want);
    /* one pass over every list, binary search among the wanted labels */
    for (size_t li = 0; li < nlist; li++) {
        const ivf_list *l = &lists[li];
        for (size_t p = 0; p < l->n; p++) {
            want key = {l->ids[p], 0};
            want *hit = bsearch(&key, w, n, sizeof(want), cmp_want);
            if (!hit)
                continue;
            /* duplicates in the request: walk to the first, copy all */
            while (hit > w && hit[-1].label == key.label)
                hit--;
            for (; hit < w + n && hit->label == key.label; hit++) {
                memcpy((uint8_t *)out + hit->pos * row_bytes,
                       l->codes + p * row_bytes, row_bytes);
                found[hit->pos] = true;
            }
        }
    }
    qv_code rc = QV_OK;
    for (size_t i = 0; i < n && !rc; i++)
        if (!found[i])
            rc = qv_fail(err, QV_E_NOT_FOUND, "label %lld is not in the index",
                         (long long)labels[i]);
    free(w);
    free(found);
    return rc;
}

static qv_code ivf_get_vectors(const qv_index *ix, size_t n,
                               const int64_t *labels, void *out, qv_err *err)
{
    const ivf_index *ivf = (const ivf_index *)ix;
    /* IVF_FLAT codes are the raw rows */
    return qv__lists_get(ivf->lists, ivf->nlist, ix->row_bytes, n, labels, out,
                         err);
}

/* ---- files ------------------------------------------------------------ */

static qv_code ivf_serialize(const qv_index *ix, qv__writer *w, qv_err *err)
{
    const ivf_index *ivf = (const ivf_index *)ix;
    qv_code rc = QV_OK;
    if (ix->trained)
        rc = qv__writer_section(w, TAG_CENT, ivf->centroids,
                                ivf->nlist * ix->dim * sizeof(float), err);
    if (!rc)
        rc = qv__writer_begin(w, TAG_LSIZE, err);
    for (size_t li = 0; !rc && li < ivf->nlist; li++) {
        uint64_t n = ivf->lists[li].n;
        rc = qv__writer_append(w, &n, sizeof(n), err);
    }
    qv__writer_end(w);
    if (!rc)
        rc = qv__writer_begin(w, TAG_CODES, err);
    for (size_t li = 0; !rc && li < ivf->nlist; li++)
        rc = qv__writer_append(w, ivf->lists[li].codes,
                               ivf->lists[li].n * ivf->code_size, err);
    qv__writer_end(w);
    if (!rc)
        rc = qv__writer_begin(w, TAG_LIDS, err);
    for (size_t li = 0; !rc && li < ivf->nlist; li++)
        rc = qv__writer_append(w, ivf->lists[li].ids,
                               ivf->lists[li].n * sizeof(int64_t), err);
    qv__writer_end(w);
    if (!rc && ix->trained)
        rc = ivf->codec->write(ivf, w, err);
    return rc;
}

static qv_code ivf_load(qv_index *ix, const qv__reader *r, qv_err *err)
{
    ivf_index *ivf = (ivf_index *)ix;
    const void *p;
    ivf->borrowed = true;
    qv_code rc = QV_OK;
    if (ix->trained) {
        rc = qv__reader_exact(r, TAG_CENT, ix->dim * sizeof(float), ivf->nlist,
                              &p, err);
        if (rc)
            return rc;
        ivf->centroids = (float *)p;
        ivf->cnorms = qv_try_alloc(ivf->nlist, sizeof(float));
        if (!ivf->cnorms)
            return qv_fail(err, QV_E_NOMEM, "cannot allocate norms");
        qv__norms(ivf->centroids, ivf->nlist, ix->dim, ivf->cnorms);
    } else if (ix->ntotal) {
        return qv_fail(err, QV_E_CORRUPT, "untrained index file has rows");
    }
    const uint64_t *sizes;
    rc = qv__reader_exact(r, TAG_LSIZE, sizeof(uint64_t), ivf->nlist,
                          (const void **)&sizes, err);
    if (rc)
        return rc;
    uint64_t total = 0;
    for (size_t li = 0; li < ivf->nlist; li++) {
        if (sizes[li] > ix->ntotal - total)
            return qv_fail(err, QV_E_CORRUPT,
                           "index list sizes exceed the row count");
        total += sizes[li];
    }
    if (total != ix->ntotal)
        return qv_fail(err, QV_E_CORRUPT,
                       "index list sizes add up to %llu, not %zu",
                       (unsigned long long)total, ix->ntotal);
    const uint8_t *codes;
    const int64_t *ids;
    rc = qv__reader_exact(r, TAG_CODES, ivf->code_size, ix->ntotal,
                          (const void **)&codes, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_LIDS, sizeof(int64_t), ix->ntotal,
                              (const void **)&ids, err);
    if (rc)
        return rc;
    size_t pos = 0;
    for (size_t li = 0; li < ivf->nlist; li++) {
        ivf_list *l = &ivf->lists[li];
        l->n = l->cap = (size_t)sizes[li];
        l->codes = (uint8_t *)codes + pos * ivf->code_size;
        l->ids = (int64_t *)ids + pos;
        pos += l->n;
        if (l->n > ivf->max_list)
            ivf->max_list = l->n;
    }
    return ix->trained ? ivf->codec->read(ivf, r, err) : QV_OK;
}

static size_t ivf_memory(const qv_index *ix)
{
    const ivf_index *ivf = (const ivf_index *)ix;
    size_t m = ivf->nlist * sizeof(ivf_list) + ivf->codec->memory(ivf);
    if (ivf->cnorms)
        m += ivf->nlist * sizeof(float);
    if (!ivf->borrowed) {
        if (ivf->centroids)
            m += ivf->nlist * ix->dim * sizeof(float);
        for (size_t li = 0; li < ivf->nlist; li++)
            m += ivf->lists[li].cap * (ivf->code_size + sizeof(int64_t));
    }
    return m;
}

static void ivf_release(qv_index *ix)
{
    ivf_index *ivf = (ivf_index *)ix;
    if (ivf->codec)
        ivf->codec->release(ivf);
    if (!ivf->borrowed) {
        qv_aligned_free(ivf->centroids);
        for (size_t li = 0; ivf->lists && li < ivf->nlist; li++) {
            free(ivf->lists[li].codes);
            free(ivf->lists[li].ids);
        }
    }
    free(ivf->cnorms);
    free(ivf->lists);
}

#define IVF_OPS(sym, tname, tcode, extra_caps, getv)                           \
    const qv_index_ops sym = {                                                 \
        .name = tname,                                                         \
        .type = tcode,                                                         \
        .caps = QV_IXCAP_FLOAT | QV_IXCAP_TRAIN | (extra_caps),                \
        .impl_size = sizeof(ivf_index),                                        \
        .init = ivf_init,                                                      \
        .check_search_params = ivf_check_search,                               \
        .train = ivf_train,                                                    \
        .add = ivf_add,                                                        \
        .search = ivf_search,                                                  \
        .range_search = ivf_range_search,                                      \
        .get_vectors = getv,                                                   \
        .serialize = ivf_serialize,                                            \
        .load = ivf_load,                                                      \
        .memory_size = ivf_memory,                                             \
        .release = ivf_release,                                                \
    }

IVF_OPS(qv__ivf_flat_ops, "IVF_FLAT", QV_INDEX_IVF_FLAT, QV_IXCAP_RAW_VECTORS,
        ivf_get_vectors);
IVF_OPS(qv__ivf_sq8_ops, "IVF_SQ8", QV_INDEX_IVF_SQ8, 0, NULL);
IVF_OPS(qv__ivf_pq_ops, "IVF_PQ", QV_INDEX_IVF_PQ, 0, NULL);
