/* index_hnsw.c -- HNSW: the qv_index vtable over the graph of index/hnsw/.
 *
 * Build params (Milvus names and ranges):
 *   M               [2, 2048], default 30: links per node (2M on level 0)
 *   efConstruction  [1, 2^31-1], default 360: beam width while linking
 * Quiver extensions:
 *   seed              [0, 2^63-1], default 42: seed of the level RNG
 *   num_build_thread  [1, 1024]: build threads (default: the shared pool);
 *                     the graph does not depend on it (see hnsw.h)
 * Search params:
 *   ef                [1, 2^31-1], default topk, must be >= topk
 *   hnsw_filter_mode  [0, 2], default 0 (Quiver extension): 0 picks the
 *                     graph or the exact scan of allowed rows by the
 *                     crossover rule, 1 forces the graph, 2 the exact scan
 * Range search walks the graph from an ef beam (ef default 64) and scans
 * all rows when the range is so large that the walk would cost more;
 * hnsw_filter_mode 1 / 2 force the walk / the scan there too.
 *
 * File sections (after the common header and 'PARM'):
 *   HNSM  8 x u64: n, M, maxM0, upper_len, max_level + 1, entry, has_labels,
 *         0
 *   HVEC  n x dim f32      HLK0  n x (1 + maxM0) u32     HLVL  n x u8
 *   HUOF  n x u32          HUPR  upper_len x u32         HLAB  n x i64
 *         (only when labels are not the row numbers)
 * A loaded index points its arrays at these sections in place, after
 * checking every link, level and offset (hnsw_graph_validate).
 *
 * Threading: see hnsw.h; searches are lock-free, builds exclusive.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/hnsw/hnsw.h"
#include "index/index_impl.h"

#define HNSW_DEFAULT_M    30
#define HNSW_DEFAULT_EFC  360
#define HNSW_DEFAULT_SEED 42
#define HNSW_RANGE_EF     64

#define TAG_META QV_FOURCC('H', 'N', 'S', 'M')
#define TAG_VECS QV_FOURCC('H', 'V', 'E', 'C')
#define TAG_LNK0 QV_FOURCC('H', 'L', 'K', '0')
#define TAG_LVLS QV_FOURCC('H', 'L', 'V', 'L')
#define TAG_UOFF QV_FOURCC('H', 'U', 'O', 'F')
#define TAG_UPPR QV_FOURCC('H', 'U', 'P', 'R')
#define TAG_LABL QV_FOURCC('H', 'L', 'A', 'B')

typedef struct hnsw_index {
    qv_index base;
    hnsw_graph g;
    int64_t build_threads; /* 0: the shared pool */
} hnsw_index;

/* ---- params ----------------------------------------------------------- */

static qv_code hnsw_init(qv_index *ix, const qv_params *p, qv_err *err)
{
    hnsw_index *h = (hnsw_index *)ix;
    int64_t m, efc, seed, threads;
    qv_code rc = qv__param_int(p, "M", HNSW_DEFAULT_M, 2, 2048, &m, err);
    if (!rc)
        rc = qv__param_int(p, "efConstruction", HNSW_DEFAULT_EFC, 1, INT32_MAX,
                           &efc, err);
    if (!rc)
        rc = qv__param_int(p, "seed", HNSW_DEFAULT_SEED, 0, INT64_MAX, &seed,
                           err);
    if (!rc)
        rc = qv__param_int(p, "num_build_thread", 0, 1, 1024, &threads, err);
    if (rc)
        return rc;
    qv__params_text_add(ix, "M", m);
    qv__params_text_add(ix, "efConstruction", efc);
    qv__params_text_add(ix, "seed", seed);
    h->build_threads = threads;
    hnsw_graph_init(&h->g, ix->dim, ix->metric != QV_METRIC_L2, (uint32_t)m,
                    (uint32_t)efc, (uint64_t)seed, ix->kern);
    return QV_OK;
}

static qv_code hnsw_check_search(const qv_params *p, qv_err *err)
{
    int64_t v;
    qv_code rc = qv__param_int(p, "ef", 1, 1, INT32_MAX, &v, err);
    if (!rc)
        rc = qv__param_int(p, "hnsw_filter_mode", 0, 0, 2, &v, err);
    return rc;
}

/* ---- build ------------------------------------------------------------ */

static qv_code hnsw_add(qv_index *ix, size_t n, const void *x,
                        const int64_t *labels, qv_err *err)
{
    hnsw_index *h = (hnsw_index *)ix;
    qv_pool *pool = NULL, *own = NULL;
    if (h->build_threads == 0) {
        pool = qv_pool_shared();
    } else if (h->build_threads > 1) {
        qv_code rc = qv_pool_create((size_t)h->build_threads - 1, 64,
                                    "qv-hnsw-build", &own, err);
        if (rc)
            return rc;
        pool = own;
    }
    qv_code rc = hnsw_graph_add(&h->g, n, x, labels, pool, err);
    if (own)
        qv_pool_destroy(own);
    if (rc)
        return rc;
    ix->ntotal += n;
    return QV_OK;
}

/* ---- search ----------------------------------------------------------- */

typedef struct hnsw_job {
    const hnsw_index *h;
    const float *q;
    const qv__search_ctx *ctx;
    hnsw_query hq;
    float *dist;
    int64_t *lab;
    qv__rlist *ranges;
    int failed; /* atomic: a worker ran out of memory */
} hnsw_job;

static void knn_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    hnsw_job *j = arg;
    const hnsw_graph *g = &j->h->g;
    size_t k = j->hq.k;
    hnsw_scratch *s = hnsw_scratch_get(g);
    for (size_t i = b; i < e; i++) {
        float *d = j->dist + i * k;
        int64_t *l = j->lab + i * k;
        if (!s || !hnsw_knn(g, s, j->q + i * g->dim, &j->hq, d, l)) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            for (size_t t = 0; t < k; t++) {
                d[t] = INFINITY;
                l[t] = -1;
            }
        }
        if (g->ip)
            for (size_t t = 0; t < k; t++)
                d[t] = -d[t];
    }
    hnsw_scratch_put(g, s);
}

static qv_code hnsw_search(const qv_index *ix, size_t nq, const void *q,
                           const qv__search_ctx *ctx, float *dist, int64_t *lab,
                           qv_err *err)
{
    const hnsw_index *h = (const hnsw_index *)ix;
    int64_t ef, mode;
    qv_code rc = qv__param_int(ctx->params, "ef", (int64_t)ctx->k, 1, INT32_MAX,
                               &ef, err);
    if (!rc)
        rc =
            qv__param_int(ctx->params, "hnsw_filter_mode", 0, 0, 2, &mode, err);
    if (rc)
        return rc;
    if ((size_t)ef < ctx->k)
        return qv_fail(err, QV_E_INVALID,
                       "ef (%lld) must be greater than or equal to topk "
                       "(%zu)",
                       (long long)ef, ctx->k);
    hnsw_job j = {.h = h, .q = q, .ctx = ctx, .dist = dist, .lab = lab};
    j.hq.k = ctx->k;
    j.hq.ef = (size_t)ef;
    j.hq.filter = ctx->filter;
    j.hq.mode = (int)mode;
    j.hq.pass_count = qv__filter_pass_count(ctx->filter, ix->ntotal);
    qv_pool_parallel_for(ctx->pool, nq, 2, knn_chunk, &j);
    if (j.failed)
        return qv_fail(err, QV_E_NOMEM, "hnsw search: out of memory");
    return QV_OK;
}

static void range_emit(void *arg, float score, int64_t label)
{
    qv__rlist_push(arg, score, label);
}

static void range_chunk(void *arg, size_t b, size_t e, size_t w)
{
    (void)w;
    hnsw_job *j = arg;
    const hnsw_graph *g = &j->h->g;
    hnsw_scratch *s = hnsw_scratch_get(g);
    for (size_t i = b; i < e; i++) {
        if (!s || !hnsw_range(g, s, j->q + i * g->dim, j->hq.ef, j->hq.mode,
                              j->ctx->filter, j->ctx->range_lo,
                              j->ctx->range_hi, range_emit, &j->ranges[i]))
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    }
    hnsw_scratch_put(g, s);
}

static qv_code hnsw_range_search(const qv_index *ix, size_t nq, const void *q,
                                 const qv__search_ctx *ctx,
                                 qv_range_result *out, qv_err *err)
{
    int64_t ef, mode;
    qv_code rc =
        qv__param_int(ctx->params, "ef", HNSW_RANGE_EF, 1, INT32_MAX, &ef, err);
    if (!rc)
        rc =
            qv__param_int(ctx->params, "hnsw_filter_mode", 0, 0, 2, &mode, err);
    if (rc)
        return rc;
    hnsw_job j = {.h = (const hnsw_index *)ix, .q = q, .ctx = ctx};
    j.hq.ef = (size_t)ef;
    j.hq.mode = (int)mode;
    j.ranges = qv_xcalloc(nq, sizeof(qv__rlist));
    qv_pool_parallel_for(ctx->pool, nq, 1, range_chunk, &j);
    if (j.failed) {
        for (size_t i = 0; i < nq; i++) {
            free(j.ranges[i].d);
            free(j.ranges[i].l);
        }
        free(j.ranges);
        return qv_fail(err, QV_E_NOMEM, "hnsw range search: out of memory");
    }
    return qv__range_assemble(j.ranges, nq, ix->metric, out, err);
}

/* ---- vectors ---------------------------------------------------------- */

static qv_code hnsw_get_vectors(const qv_index *ix, size_t n,
                                const int64_t *labels, void *out, qv_err *err)
{
    const hnsw_graph *g = &((const hnsw_index *)ix)->g;
    float *o = out;
    for (size_t i = 0; i < n; i++) {
        int64_t want = labels[i];
        size_t id = g->n;
        if (!g->labels) {
            if (want >= 0 && (uint64_t)want < g->n)
                id = (size_t)want;
        } else {
            for (size_t r = 0; r < g->n; r++)
                if (g->labels[r] == want) {
                    id = r;
                    break;
                }
        }
        if (id == g->n)
            return qv_fail(err, QV_E_NOT_FOUND,
                           "label %lld is not in the hnsw index",
                           (long long)want);
        memcpy(o + i * g->dim, hnsw_vec(g, (uint32_t)id),
               g->dim * sizeof(float));
    }
    return QV_OK;
}

/* ---- files ------------------------------------------------------------ */

static qv_code hnsw_serialize(const qv_index *ix, qv__writer *w, qv_err *err)
{
    const hnsw_graph *g = &((const hnsw_index *)ix)->g;
    uint64_t meta[8] = {g->n,
                        g->M,
                        g->maxM0,
                        g->upper_len,
                        (uint64_t)(g->max_level + 1),
                        g->entry,
                        g->labels != NULL,
                        0};
    qv_code rc = qv__writer_section(w, TAG_META, meta, sizeof(meta), err);
    if (!rc)
        rc = qv__writer_section(w, TAG_VECS, g->vecs,
                                g->n * g->dim * sizeof(float), err);
    if (!rc)
        rc = qv__writer_section(w, TAG_LNK0, g->links0,
                                g->n * (g->maxM0 + 1) * sizeof(uint32_t), err);
    if (!rc)
        rc = qv__writer_section(w, TAG_LVLS, g->levels, g->n, err);
    if (!rc)
        rc = qv__writer_section(w, TAG_UOFF, g->upper_off,
                                g->n * sizeof(uint32_t), err);
    if (!rc)
        rc = qv__writer_section(w, TAG_UPPR, g->upper,
                                g->upper_len * sizeof(uint32_t), err);
    if (!rc && g->labels)
        rc = qv__writer_section(w, TAG_LABL, g->labels, g->n * sizeof(int64_t),
                                err);
    return rc;
}

static qv_code load_meta(hnsw_graph *g, const qv__reader *r, uint64_t *m,
                         qv_err *err)
{
    const void *p;
    qv_code rc = qv__reader_exact(r, TAG_META, sizeof(uint64_t), 8, &p, err);
    if (rc)
        return rc;
    memcpy(m, p, 8 * sizeof(uint64_t));
    if (m[0] != r->ntotal || m[0] > HNSW_MAX_ROWS || m[1] != g->M ||
        m[2] != g->maxM0 || m[3] >= HNSW_NO_UPPER ||
        m[4] > HNSW_MAX_LEVEL + 1 || m[6] > 1 || (m[0] > 0 && m[5] >= m[0]) ||
        (m[0] == 0) != (m[4] == 0))
        return qv_fail(err, QV_E_CORRUPT, "hnsw file metadata is damaged");
    return QV_OK;
}

static qv_code hnsw_load(qv_index *ix, const qv__reader *r, qv_err *err)
{
    hnsw_graph *g = &((hnsw_index *)ix)->g;
    uint64_t m[8];
    qv_code rc = load_meta(g, r, m, err);
    if (rc)
        return rc;
    size_t n = (size_t)m[0];
    const void *vecs, *l0, *lv, *uo, *up, *lab = NULL;
    rc = qv__reader_exact(r, TAG_VECS, sizeof(float), n * g->dim, &vecs, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_LNK0, sizeof(uint32_t), n * (g->maxM0 + 1),
                              &l0, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_LVLS, 1, n, &lv, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_UOFF, sizeof(uint32_t), n, &uo, err);
    if (!rc)
        rc = qv__reader_exact(r, TAG_UPPR, sizeof(uint32_t), (size_t)m[3], &up,
                              err);
    if (!rc && m[6])
        rc = qv__reader_exact(r, TAG_LABL, sizeof(int64_t), n, &lab, err);
    if (rc)
        return rc;
    /* The graph never writes through these once loaded (add is refused). */
    g->borrowed = true;
    g->n = n;
    g->vecs = (float *)vecs;
    g->links0 = (uint32_t *)l0;
    g->levels = (uint8_t *)lv;
    g->upper_off = (uint32_t *)uo;
    g->upper = (uint32_t *)up;
    g->upper_len = (size_t)m[3];
    g->labels = (int64_t *)lab;
    g->max_level = (int)m[4] - 1;
    g->entry = (uint32_t)m[5];
    return hnsw_graph_validate(g, err);
}

static size_t hnsw_memory(const qv_index *ix)
{
    return hnsw_graph_memory(&((const hnsw_index *)ix)->g);
}

static void hnsw_release(qv_index *ix)
{
    hnsw_graph_release(&((hnsw_index *)ix)->g);
}

const qv_index_ops qv_index_hnsw_ops = {
    .name = "HNSW",
    .type = QV_INDEX_HNSW,
    .caps = QV_IXCAP_FLOAT | QV_IXCAP_RAW_VECTORS,
    .impl_size = sizeof(hnsw_index),
    .init = hnsw_init,
    .check_search_params = hnsw_check_search,
    .add = hnsw_add,
    .search = hnsw_search,
    .range_search = hnsw_range_search,
    .get_vectors = hnsw_get_vectors,
    .serialize = hnsw_serialize,
    .load = hnsw_load,
    .memory_size = hnsw_memory,
    .release = hnsw_release,
};
