/* index.c -- the public wrappers of index.h: registry, argument checks,
 * COSINE normalization, parameter helpers, top-k finishing, range result
 * assembly and vector conversion.  See index_impl.h for the contract the
 * wrappers give the ops.
 */
#include "index/index_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

#ifdef QV_HAVE_HNSW
extern const qv_index_ops qv_index_hnsw_ops;
#define QV_HNSW_OPS (&qv_index_hnsw_ops)
#else
#define QV_HNSW_OPS NULL
#endif

static const qv_index_ops *const registry[QV_INDEX_TYPE_COUNT] = {
    [QV_INDEX_FLAT] = &qv__flat_ops,
    [QV_INDEX_IVF_FLAT] = &qv__ivf_flat_ops,
    [QV_INDEX_IVF_SQ8] = &qv__ivf_sq8_ops,
    [QV_INDEX_IVF_PQ] = &qv__ivf_pq_ops,
    [QV_INDEX_BIN_FLAT] = &qv__bin_flat_ops,
    [QV_INDEX_BIN_IVF_FLAT] = &qv__bin_ivf_flat_ops,
    [QV_INDEX_HNSW] = QV_HNSW_OPS,
};

static const char *const type_names[QV_INDEX_TYPE_COUNT] = {
    "FLAT", "IVF_FLAT", "IVF_SQ8",      "IVF_PQ",
    "HNSW", "BIN_FLAT", "BIN_IVF_FLAT", "AUTOINDEX",
};
static const char *const metric_names[] = {"L2", "IP", "COSINE", "HAMMING",
                                           "JACCARD"};
#define N_METRICS (sizeof(metric_names) / sizeof(metric_names[0]))

/* AUTOINDEX = HNSW with Milvus's autoIndex.params.build defaults. */
static const qv_kv autoindex_defaults[] = {{"M", "18"},
                                           {"efConstruction", "240"}};

/* ---- names ------------------------------------------------------------ */

qv_code qv_metric_parse(const char *name, qv_metric *out, qv_err *err)
{
    for (size_t i = 0; name && i < N_METRICS; i++) {
        if (strcasecmp(name, metric_names[i]) == 0) {
            *out = (qv_metric)i;
            return QV_OK;
        }
    }
    return qv_fail(err, QV_E_INVALID,
                   "unknown metric type '%s' (expected L2, IP, COSINE, "
                   "HAMMING or JACCARD)",
                   name ? name : "(null)");
}

const char *qv_metric_name(qv_metric m)
{
    return (unsigned)m < N_METRICS ? metric_names[m] : "?";
}

qv_code qv_index_type_parse(const char *name, qv_index_type *out, qv_err *err)
{
    for (size_t i = 0; name && i < QV_INDEX_TYPE_COUNT; i++) {
        if (strcasecmp(name, type_names[i]) == 0) {
            *out = (qv_index_type)i;
            return QV_OK;
        }
    }
    return qv_fail(err, QV_E_INVALID, "unknown index type '%s'",
                   name ? name : "(null)");
}

const char *qv_index_type_name(qv_index_type t)
{
    return (unsigned)t < QV_INDEX_TYPE_COUNT ? type_names[t] : "?";
}

static const qv_index_ops *ops_of(qv_index_type t, qv_err *err)
{
    if (t == QV_INDEX_AUTOINDEX)
        t = QV_INDEX_HNSW;
    if ((unsigned)t >= QV_INDEX_TYPE_COUNT) {
        qv_fail(err, QV_E_INVALID, "unknown index type %u", (unsigned)t);
        return NULL;
    }
    if (!registry[t]) {
        qv_fail(err, QV_E_UNSUPPORTED, "index type '%s' is not built in",
                type_names[t]);
        return NULL;
    }
    return registry[t];
}

/* ---- parameters ------------------------------------------------------- */

static const qv_params no_params = {NULL, 0};

const char *qv__param_get(const qv_params *p, const char *key)
{
    if (!p)
        return NULL;
    for (size_t i = p->n; i-- > 0;) {
        if (p->kv[i].key && strcmp(p->kv[i].key, key) == 0)
            return p->kv[i].value ? p->kv[i].value : "";
    }
    return NULL;
}

qv_code qv__param_int(const qv_params *p, const char *key, int64_t def,
                      int64_t lo, int64_t hi, int64_t *out, qv_err *err)
{
    const char *v = qv__param_get(p, key);
    if (!v) {
        *out = def;
        return QV_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (end != v && (*end == ' ' || *end == '\t'))
        end++;
    if (end == v || *end != '\0' || errno == ERANGE || x < lo || x > hi)
        return qv_fail(err, QV_E_INVALID,
                       "%s must be an integer in [%lld, %lld], got '%.40s'",
                       key, (long long)lo, (long long)hi, v);
    *out = (int64_t)x;
    return QV_OK;
}

qv_code qv__param_float(const qv_params *p, const char *key, bool *present,
                        double *out, qv_err *err)
{
    const char *v = qv__param_get(p, key);
    *present = false;
    if (!v)
        return QV_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (end != v && (*end == ' ' || *end == '\t'))
        end++;
    if (end == v || *end != '\0' || errno == ERANGE || !isfinite(x))
        return qv_fail(err, QV_E_INVALID,
                       "%s must be a finite number, got '%.40s'", key, v);
    *present = true;
    *out = x;
    return QV_OK;
}

void qv__params_text_add(qv_index *ix, const char *key, int64_t value)
{
    char *old = ix->params_text;
    ix->params_text =
        qv_xasprintf("%s%s=%lld\n", old ? old : "", key, (long long)value);
    free(old);
}

/* Parses "key=value\n" lines into kv (pointing into text, modified). */
static size_t params_text_split(char *text, qv_kv *kv, size_t max)
{
    size_t n = 0;
    char *s = text;
    while (s && *s && n < max) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(s, '=');
        if (eq) {
            *eq = '\0';
            kv[n].key = s;
            kv[n].value = eq + 1;
            n++;
        }
        s = nl ? nl + 1 : NULL;
    }
    return n;
}

/* ---- create / free ---------------------------------------------------- */

static qv_code check_dim(const qv_index_ops *ops, qv_metric metric, size_t dim,
                         qv_err *err)
{
    bool bin = qv_metric_is_binary(metric);
    if ((unsigned)metric >= N_METRICS)
        return qv_fail(err, QV_E_INVALID, "unknown metric %u",
                       (unsigned)metric);
    if (bin && !(ops->caps & QV_IXCAP_BINARY))
        return qv_fail(err, QV_E_INVALID,
                       "metric %s is for binary vectors; index type %s "
                       "takes L2, IP or COSINE",
                       metric_names[metric], ops->name);
    if (!bin && !(ops->caps & QV_IXCAP_FLOAT))
        return qv_fail(err, QV_E_INVALID,
                       "metric %s is for float vectors; index type %s "
                       "takes HAMMING or JACCARD",
                       metric_names[metric], ops->name);
    if (dim < 1 || dim > QV_INDEX_MAX_DIM)
        return qv_fail(err, QV_E_INVALID, "dim must be in [1, %d], got %zu",
                       QV_INDEX_MAX_DIM, dim);
    if (bin && dim % 8 != 0)
        return qv_fail(err, QV_E_INVALID,
                       "dim of binary vectors must be a multiple of 8, "
                       "got %zu",
                       dim);
    return QV_OK;
}

static qv_code index_new(const qv_index_ops *ops, qv_metric metric, size_t dim,
                         const qv_params *build, qv_index **out, qv_err *err)
{
    qv_code rc = check_dim(ops, metric, dim, err);
    if (rc)
        return rc;
    qv_index *ix = qv_xcalloc(1, ops->impl_size);
    ix->ops = ops;
    ix->type = ops->type;
    ix->metric = metric;
    ix->dim = dim;
    ix->row_bytes = qv_metric_is_binary(metric) ? dim / 8 : dim * 4;
    ix->trained = !(ops->caps & QV_IXCAP_TRAIN);
    ix->kern = qv_distance_kernels_get();
    ix->params_text = qv_xstrdup("");
    rc = ops->init(ix, build ? build : &no_params, err);
    if (rc) {
        qv_index_free(ix);
        return rc;
    }
    *out = ix;
    return QV_OK;
}

qv_code qv_index_create(qv_index_type type, qv_metric metric, size_t dim,
                        const qv_params *build_params, qv_index **out,
                        qv_err *err)
{
    const qv_index_ops *ops = ops_of(type, err);
    if (!ops)
        return err ? err->code : QV_E_INVALID;
    if (type != QV_INDEX_AUTOINDEX)
        return index_new(ops, metric, dim, build_params, out, err);
    /* AUTOINDEX: Milvus defaults first, the caller's params override. */
    size_t n = build_params ? build_params->n : 0;
    qv_kv *kv = qv_xcalloc(n + 2, sizeof(*kv));
    memcpy(kv, autoindex_defaults, sizeof(autoindex_defaults));
    if (n)
        memcpy(kv + 2, build_params->kv, n * sizeof(*kv));
    qv_params p = {kv, n + 2};
    qv_code rc = index_new(ops, metric, dim, &p, out, err);
    free(kv);
    return rc;
}

void qv_index_free(qv_index *ix)
{
    if (!ix)
        return;
    ix->ops->release(ix);
    free(ix->params_text);
    qv_aligned_free(ix->load_copy);
    free(ix);
}

qv_code qv_index_check_search_params(qv_index_type type,
                                     const qv_params *params, qv_err *err)
{
    const qv_index_ops *ops = ops_of(type, err);
    if (!ops)
        return err ? err->code : QV_E_INVALID;
    if (!params)
        return QV_OK;
    bool has;
    double v;
    qv_code rc = qv__param_float(params, "radius", &has, &v, err);
    if (!rc)
        rc = qv__param_float(params, "range_filter", &has, &v, err);
    if (!rc && ops->check_search_params)
        rc = ops->check_search_params(params, err);
    return rc;
}

/* ---- accessors -------------------------------------------------------- */

size_t qv_index_ntotal(const qv_index *ix)
{
    return ix->ntotal;
}
size_t qv_index_dim(const qv_index *ix)
{
    return ix->dim;
}
qv_metric qv_index_metric(const qv_index *ix)
{
    return ix->metric;
}
qv_index_type qv_index_type_of(const qv_index *ix)
{
    return ix->type;
}
bool qv_index_needs_training(const qv_index *ix)
{
    return !ix->trained;
}

size_t qv_index_memory_size(const qv_index *ix)
{
    size_t own = ix->ops->impl_size + strlen(ix->params_text) + 1;
    return own + ix->ops->memory_size(ix);
}

/* ---- build ------------------------------------------------------------ */

/* For COSINE, a normalized private copy of n float rows; else x itself.
 * *tmp receives what to free. */
static qv_code cosine_rows(const qv_index *ix, size_t n, const void *x,
                           const void **rows, float **tmp, qv_err *err)
{
    *tmp = NULL;
    *rows = x;
    if (ix->metric != QV_METRIC_COSINE)
        return QV_OK;
    float *c = qv_try_alloc(n, ix->row_bytes);
    if (!c)
        return qv_fail(err, QV_E_NOMEM,
                       "cannot allocate %zu normalized vectors", n);
    memcpy(c, x, n * ix->row_bytes);
    for (size_t i = 0; i < n; i++)
        qv_normalize(c + i * ix->dim, ix->dim);
    *tmp = c;
    *rows = c;
    return QV_OK;
}

static qv_code check_rows(const qv_index *ix, size_t n, const void *x,
                          const char *what, qv_err *err)
{
    size_t bytes;
    if (n > 0 && !x)
        return qv_fail(err, QV_E_INVALID, "%s: vectors are NULL", what);
    if (!qv_mul_ok(n, ix->row_bytes, &bytes))
        return qv_fail(err, QV_E_INVALID, "%s: %zu vectors is too many", what,
                       n);
    return QV_OK;
}

qv_code qv_index_train(qv_index *ix, size_t n, const void *x, qv_err *err)
{
    qv_code rc = check_rows(ix, n, x, "train", err);
    if (rc)
        return rc;
    if (ix->loaded)
        return qv_fail(err, QV_E_UNSUPPORTED, "cannot train a loaded %s index",
                       ix->ops->name);
    if (!ix->ops->train)
        return QV_OK; /* nothing to learn */
    if (ix->ntotal > 0)
        return qv_fail(err, QV_E_INVALID,
                       "cannot train %s index after rows were added",
                       ix->ops->name);
    if (n == 0)
        return qv_fail(err, QV_E_INVALID, "train %s: no training vectors",
                       ix->ops->name);
    const void *rows;
    float *tmp;
    rc = cosine_rows(ix, n, x, &rows, &tmp, err);
    if (rc)
        return rc;
    rc = ix->ops->train(ix, n, rows, err);
    if (!rc)
        ix->trained = true;
    free(tmp);
    return rc;
}

qv_code qv_index_add(qv_index *ix, size_t n, const void *x,
                     const int64_t *labels, qv_err *err)
{
    qv_code rc = check_rows(ix, n, x, "add", err);
    if (rc || n == 0)
        return rc;
    if (ix->loaded)
        return qv_fail(err, QV_E_UNSUPPORTED, "cannot add to a loaded %s index",
                       ix->ops->name);
    if (!ix->trained)
        return qv_fail(err, QV_E_INVALID, "%s index must be trained before add",
                       ix->ops->name);
    if (n > (size_t)INT64_MAX - ix->ntotal)
        return qv_fail(err, QV_E_INVALID, "add: too many rows");
    int64_t *seq = NULL;
    if (!labels) {
        seq = qv_try_alloc(n, sizeof(int64_t));
        if (!seq)
            return qv_fail(err, QV_E_NOMEM, "cannot allocate %zu labels", n);
        for (size_t i = 0; i < n; i++)
            seq[i] = (int64_t)(ix->ntotal + i);
        labels = seq;
    } else {
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0) {
                return qv_fail(err, QV_E_INVALID,
                               "label %lld of row %zu is negative",
                               (long long)labels[i], i);
            }
    }
    const void *rows;
    float *tmp;
    rc = cosine_rows(ix, n, x, &rows, &tmp, err);
    if (!rc)
        rc = ix->ops->add(ix, n, rows, labels, err);
    free(tmp);
    free(seq);
    return rc;
}

/* ---- search ----------------------------------------------------------- */

static qv_code search_prep(const qv_index *ix, size_t nq, const void *q,
                           const qv_search_args *args, qv__search_ctx *ctx,
                           const void **rows, float **tmp, qv_err *err)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->params = args && args->params ? args->params : &no_params;
    ctx->filter = args ? args->filter : NULL;
    ctx->pool = args ? args->pool : NULL;
    ctx->range_lo = -INFINITY;
    ctx->range_hi = INFINITY;
    qv_code rc = check_rows(ix, nq, q, "search", err);
    if (rc)
        return rc;
    if (ix->ops->check_search_params) {
        rc = ix->ops->check_search_params(ctx->params, err);
        if (rc)
            return rc;
    }
    return cosine_rows(ix, nq, q, rows, tmp, err);
}

qv_code qv_index_search(const qv_index *ix, size_t nq, const void *q, size_t k,
                        const qv_search_args *args, float *distances,
                        int64_t *labels, qv_err *err)
{
    if (k < 1 || k > QV_INDEX_MAX_K)
        return qv_fail(err, QV_E_INVALID, "topk must be in [1, %d], got %zu",
                       QV_INDEX_MAX_K, k);
    if (nq == 0)
        return QV_OK;
    if (!distances || !labels)
        return qv_fail(err, QV_E_INVALID, "search: result arrays are NULL");
    qv__search_ctx ctx;
    const void *rows;
    float *tmp = NULL;
    qv_code rc = search_prep(ix, nq, q, args, &ctx, &rows, &tmp, err);
    if (rc)
        return rc;
    ctx.k = k;
    if (ix->ntotal == 0) {
        for (size_t i = 0; i < nq; i++) {
            qv__topk h;
            qv__topk_init(&h, k, distances + i * k, labels + i * k);
            qv__topk_finish(&h, ix->metric);
        }
    } else {
        rc = ix->ops->search(ix, nq, rows, &ctx, distances, labels, err);
    }
    free(tmp);
    return rc;
}

/* Milvus range semantics, turned into score bounds lo <= s < hi. */
static qv_code range_bounds(const qv_index *ix, qv__search_ctx *ctx,
                            qv_err *err)
{
    bool has_r, has_f;
    double r, f = 0;
    qv_code rc = qv__param_float(ctx->params, "radius", &has_r, &r, err);
    if (!rc)
        rc = qv__param_float(ctx->params, "range_filter", &has_f, &f, err);
    if (rc)
        return rc;
    if (!has_r)
        return qv_fail(err, QV_E_INVALID, "range search needs 'radius'");
    if (qv_metric_larger_is_closer(ix->metric)) {
        if (has_f && !(f > r))
            return qv_fail(err, QV_E_INVALID,
                           "range_filter (%g) must be greater than radius "
                           "(%g) for metric %s",
                           f, r, metric_names[ix->metric]);
        ctx->range_hi = (float)-r;
        ctx->range_lo = has_f ? (float)-f : -INFINITY;
    } else {
        if (has_f && !(f < r))
            return qv_fail(err, QV_E_INVALID,
                           "range_filter (%g) must be less than radius (%g) "
                           "for metric %s",
                           f, r, metric_names[ix->metric]);
        ctx->range_hi = (float)r;
        ctx->range_lo = has_f ? (float)f : -INFINITY;
    }
    return QV_OK;
}

qv_code qv_index_range_search(const qv_index *ix, size_t nq, const void *q,
                              const qv_search_args *args, qv_range_result *out,
                              qv_err *err)
{
    qv__search_ctx ctx;
    const void *rows;
    float *tmp = NULL;
    if (!out)
        return qv_fail(err, QV_E_INVALID, "range search: result is NULL");
    qv_code rc = search_prep(ix, nq, q, args, &ctx, &rows, &tmp, err);
    if (!rc)
        rc = range_bounds(ix, &ctx, err);
    if (!rc) {
        if (ix->ntotal == 0 || nq == 0) {
            qv__rlist *none = qv_xcalloc(nq ? nq : 1, sizeof(*none));
            rc = qv__range_assemble(none, nq, ix->metric, out, err);
        } else {
            rc = ix->ops->range_search(ix, nq, rows, &ctx, out, err);
        }
    }
    free(tmp);
    return rc;
}

qv_code qv_index_get_vectors(const qv_index *ix, size_t n,
                             const int64_t *labels, void *out, qv_err *err)
{
    if (!ix->ops->get_vectors)
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "%s index does not keep raw vectors", ix->ops->name);
    if (n == 0)
        return QV_OK;
    if (!labels || !out)
        return qv_fail(err, QV_E_INVALID, "get_vectors: NULL argument");
    return ix->ops->get_vectors(ix, n, labels, out, err);
}

/* ---- top-k and range helpers ----------------------------------------- */

size_t qv__filter_pass_count(const qv_bitset *f, size_t ntotal)
{
    if (!f)
        return ntotal;
    size_t words = QV_BITSET_WORDS(f->nbits < ntotal ? f->nbits : ntotal);
    size_t excluded = 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = f->words[i];
        size_t lo = i * 64;
        if (lo + 64 > ntotal && ntotal - lo < 64)
            w &= ((uint64_t)1 << (ntotal - lo)) - 1;
        excluded += (size_t)__builtin_popcountll(w);
    }
    return ntotal - excluded;
}

void qv__topk_finish(qv__topk *h, qv_metric m)
{
    /* Heap sort in place: repeatedly move the worst to the end. */
    size_t n = h->n;
    while (h->n > 1) {
        size_t last = h->n - 1;
        float d = h->d[last];
        int64_t l = h->l[last];
        h->d[last] = h->d[0];
        h->l[last] = h->l[0];
        h->n = last;
        /* re-insert (d, l) at the root of the shrunk heap */
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= h->n)
                break;
            if (c + 1 < h->n && h->d[c + 1] > h->d[c])
                c++;
            if (h->d[c] <= d)
                break;
            h->d[i] = h->d[c];
            h->l[i] = h->l[c];
            i = c;
        }
        h->d[i] = d;
        h->l[i] = l;
    }
    bool neg = qv_metric_larger_is_closer(m);
    for (size_t i = 0; i < n; i++)
        h->d[i] = neg ? -h->d[i] : h->d[i];
    for (size_t i = n; i < h->k; i++) {
        h->d[i] = neg ? -INFINITY : INFINITY;
        h->l[i] = -1;
    }
    h->n = n;
}

void qv__rlist_push(qv__rlist *r, float score, int64_t label)
{
    if (r->oom)
        return;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        float *d = qv_try_realloc(r->d, nc, sizeof(float));
        if (d)
            r->d = d;
        int64_t *l = qv_try_realloc(r->l, nc, sizeof(int64_t));
        if (l)
            r->l = l;
        if (!d || !l) {
            r->oom = true;
            return;
        }
        r->cap = nc;
    }
    r->d[r->n] = score;
    r->l[r->n] = label;
    r->n++;
}

typedef struct sl_pair {
    float d;
    int64_t l;
} sl_pair;

static int cmp_pair(const void *a, const void *b)
{
    const sl_pair *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->l < y->l ? -1 : (x->l > y->l);
}

qv_code qv__range_assemble(qv__rlist *lists, size_t nq, qv_metric m,
                           qv_range_result *out, qv_err *err)
{
    size_t total = 0;
    bool oom = false;
    for (size_t i = 0; i < nq; i++) {
        oom |= lists[i].oom;
        total += lists[i].n;
    }
    qv_range_result r = {.nq = nq};
    r.lims = qv_try_alloc(nq + 1, sizeof(size_t));
    r.labels = qv_try_alloc(total ? total : 1, sizeof(int64_t));
    r.distances = qv_try_alloc(total ? total : 1, sizeof(float));
    sl_pair *tmp = NULL;
    size_t maxn = 0;
    for (size_t i = 0; i < nq; i++)
        maxn = lists[i].n > maxn ? lists[i].n : maxn;
    if (!oom)
        tmp = qv_try_alloc(maxn ? maxn : 1, sizeof(sl_pair));
    qv_code rc = QV_OK;
    if (oom || !r.lims || !r.labels || !r.distances || !tmp) {
        rc = qv_fail(err, QV_E_NOMEM, "cannot allocate %zu range results",
                     total);
        qv_range_result_release(&r);
    } else {
        bool neg = qv_metric_larger_is_closer(m);
        size_t pos = 0;
        for (size_t i = 0; i < nq; i++) {
            r.lims[i] = pos;
            for (size_t j = 0; j < lists[i].n; j++) {
                tmp[j].d = lists[i].d[j];
                tmp[j].l = lists[i].l[j];
            }
            qsort(tmp, lists[i].n, sizeof(*tmp), cmp_pair);
            for (size_t j = 0; j < lists[i].n; j++, pos++) {
                r.distances[pos] = neg ? -tmp[j].d : tmp[j].d;
                r.labels[pos] = tmp[j].l;
            }
        }
        r.lims[nq] = pos;
        *out = r;
    }
    free(tmp);
    for (size_t i = 0; i < nq; i++) {
        free(lists[i].d);
        free(lists[i].l);
    }
    free(lists);
    return rc;
}

void qv_range_result_release(qv_range_result *r)
{
    if (!r)
        return;
    free(r->lims);
    free(r->labels);
    free(r->distances);
    memset(r, 0, sizeof(*r));
}

/* ---- conversion ------------------------------------------------------- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits =
                sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

qv_code qv_vec_to_float(qv_vec_elem elem, size_t n, size_t dim, const void *in,
                        float *out, qv_err *err)
{
    size_t count;
    if (!qv_mul_ok(n, dim, &count))
        return qv_fail(err, QV_E_INVALID, "vector conversion: too many");
    if (count && (!in || !out))
        return qv_fail(err, QV_E_INVALID, "vector conversion: NULL buffer");
    const uint8_t *p = in;
    switch (elem) {
    case QV_ELEM_FLOAT32:
        if (count)
            memmove(out, in, count * 4);
        return QV_OK;
    case QV_ELEM_FLOAT16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = half_to_float(h);
        }
        return QV_OK;
    case QV_ELEM_BFLOAT16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
        }
        return QV_OK;
    case QV_ELEM_INT8:
        for (size_t i = 0; i < count; i++)
            out[i] = (float)(int8_t)p[i];
        return QV_OK;
    case QV_ELEM_BINARY:
        break;
    }
    return qv_fail(err, QV_E_INVALID, "cannot convert element type %u to float",
                   (unsigned)elem);
}

/* ---- load wrapper pieces used by index_io.c --------------------------- */

qv_code qv__index_from_header(const qv__reader *r, qv_index **out, qv_err *err)
{
    if (r->type >= QV_INDEX_TYPE_COUNT || r->type == QV_INDEX_AUTOINDEX)
        return qv_fail(err, QV_E_CORRUPT, "index file has unknown type %u",
                       r->type);
    if (r->metric >= N_METRICS)
        return qv_fail(err, QV_E_CORRUPT, "index file has unknown metric %u",
                       r->metric);
    const qv_index_ops *ops = ops_of((qv_index_type)r->type, err);
    if (!ops)
        return err ? err->code : QV_E_UNSUPPORTED;
    size_t plen;
    const void *ptext;
    qv_code rc = qv__reader_section(r, QV_FOURCC('P', 'A', 'R', 'M'), 1, &plen,
                                    &ptext, err);
    if (rc)
        return rc;
    if (plen > 4096 || r->dim > QV_INDEX_MAX_DIM)
        return qv_fail(err, QV_E_CORRUPT, "index file header is damaged");
    char *text = qv_xstrndup(ptext, plen);
    qv_kv kv[32];
    qv_params p = {kv, params_text_split(text, kv, 32)};
    qv_index *ix = NULL;
    rc = index_new(ops, (qv_metric)r->metric, (size_t)r->dim, &p, &ix, err);
    free(text);
    if (rc) {
        if (qv_code_primary(rc) == QV_E_INVALID) {
            qv_err_prefix(err, "index file has invalid parameters");
            if (err)
                err->code = QV_E_CORRUPT;
            rc = QV_E_CORRUPT;
        }
        return rc;
    }
    ix->trained = (r->flags & 1) != 0;
    ix->loaded = true;
    *out = ix;
    return QV_OK;
}
