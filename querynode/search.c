/* search.c -- per-segment exclusion masks and FLAT top-k over a shard
 * snapshot (search.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/distance/distance.h"
#include "querynode/sealed_index.h"
#include "querynode/search.h"

bool qv_seg_in_partitions(const qv_shard_snap *snap, size_t i,
                          const int64_t *partitions, size_t n)
{
    if (!partitions || n == 0)
        return true;
    for (size_t p = 0; p < n; p++)
        if (partitions[p] == snap->snaps[i].partition_id)
            return true;
    return false;
}

qv_code qv_seg_exclude(const qv_shard_snap *snap, size_t i, qv_ts R,
                       const qv_expr_plan *filter, qv_bitset *exclude,
                       qv_err *err)
{
    const qv_seg_snap *ss = &snap->snaps[i];
    ss->ops->mask(ss->seg, R, ss->rows, exclude);
    if (!filter || qv_expr_plan_always_true(filter) || ss->rows == 0)
        return QV_OK;
    qv_expr_binding *b = QV_NEW_ARRAY(qv_expr_binding, ss->nfields);
    for (size_t f = 0; f < ss->nfields; f++) {
        b[f].field_id = ss->field_ids[f];
        b[f].col = ss->cols[f];
        b[f].index = NULL;
    }
    qv_bitset fx;
    qv_code rc = qv_bitset_init(&fx, ss->rows);
    if (!rc)
        rc = qv_expr_filter(filter, b, ss->nfields, ss->rows, &fx, err);
    else
        qv_fail(err, rc, "segment %lld: cannot allocate a filter bitset",
                (long long)ss->segment_id);
    if (!rc)
        qv_bitset_or(exclude, &fx);
    qv_bitset_release(&fx);
    free(b);
    return rc;
}

/* ---- scoring --------------------------------------------------------- */

typedef struct scorer {
    const qv_distance_kernels *k;
    qv_metric metric;
    qv_dtype type;
    uint32_t dim;
    float *tmp; /* one converted row */
} scorer;

/* Inner product of two sparse rows (index-sorted pairs). */
static float sparse_ip(const qv_col_view *a, size_t ra, const qv_col_view *b,
                       size_t rb)
{
    size_t na = qv_col_sparse_nnz(a, ra), nb = qv_col_sparse_nnz(b, rb);
    size_t i = 0, j = 0;
    double acc = 0;
    while (i < na && j < nb) {
        uint32_t ia, ib;
        float va, vb;
        qv_col_sparse_at(a, ra, i, &ia, &va);
        qv_col_sparse_at(b, rb, j, &ib, &vb);
        if (ia == ib) {
            acc += (double)va * vb;
            i++;
            j++;
        } else if (ia < ib) {
            i++;
        } else {
            j++;
        }
    }
    return (float)acc;
}

/* True when d lies in the request's range (or there is none). */
static bool in_range(const qv_search_req *req, float d)
{
    if (!req->has_range)
        return true;
    if (qv_metric_larger_is_closer(req->metric))
        return d > req->radius &&
               (!req->has_range_filter || d <= req->range_filter);
    return d < req->radius &&
           (!req->has_range_filter || d >= req->range_filter);
}

static float score_row(scorer *s, const float *qf, const uint8_t *qb,
                       float qnorm, const qv_col_view *v, size_t row)
{
    const void *p = qv_col_fixed(v, row);
    if (s->type == QV_DT_BINARY_VECTOR) {
        size_t nb = s->dim / 8;
        if (s->metric == QV_METRIC_HAMMING)
            return (float)s->k->hamming(qb, p, nb);
        uint32_t a, o;
        s->k->and_or_count(qb, p, nb, &a, &o);
        return o ? 1.0f - (float)a / (float)o : 0.0f;
    }
    const float *x = p;
    if (s->type != QV_DT_FLOAT_VECTOR) {
        qv_vec_elem e = s->type == QV_DT_FLOAT16_VECTOR    ? QV_ELEM_FLOAT16
                        : s->type == QV_DT_BFLOAT16_VECTOR ? QV_ELEM_BFLOAT16
                                                           : QV_ELEM_INT8;
        if (qv_vec_to_float(e, 1, s->dim, p, s->tmp, NULL) == QV_OK)
            x = s->tmp;
    }
    if (s->metric == QV_METRIC_L2)
        return s->k->l2sqr(qf, x, s->dim);
    float ip = s->k->ip(qf, x, s->dim);
    if (s->metric == QV_METRIC_IP)
        return ip;
    float xn = qv_norm_sqr(x, s->dim);
    return (xn > 0 && qnorm > 0) ? ip / (sqrtf(xn) * qnorm) : 0.0f;
}

/* Heap of the k best (worst at the root); key = signed distance. */
static bool worse(const qv_hit *a, const qv_hit *b, bool larger)
{
    if (a->distance != b->distance)
        return larger ? a->distance < b->distance : a->distance > b->distance;
    if (a->seg != b->seg)
        return a->seg > b->seg;
    return a->row > b->row;
}

static void sift_down(qv_hit *h, size_t n, size_t i, bool larger)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m], larger))
            m = l;
        if (r < n && worse(&h[r], &h[m], larger))
            m = r;
        if (m == i)
            return;
        qv_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_push(qv_hit *h, size_t *n, size_t k, const qv_hit *x,
                      bool larger)
{
    if (*n < k) {
        size_t i = (*n)++;
        h[i] = *x;
        while (i && worse(&h[i], &h[(i - 1) / 2], larger)) {
            qv_hit t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&h[0], x, larger)) {
        h[0] = *x;
        sift_down(h, *n, 0, larger);
    }
}

/* Sorts a heap of n into closest-first order. */
static void heap_sort(qv_hit *h, size_t n, bool larger)
{
    for (size_t end = n; end > 1; end--) {
        qv_hit t = h[0];
        h[0] = h[end - 1];
        h[end - 1] = t;
        sift_down(h, end - 1, 0, larger);
    }
}

static qv_code check_req(const qv_shard_snap *snap, const qv_search_req *req,
                         qv_dtype *type, uint32_t *dim, qv_err *err)
{
    if (req->topk == 0 || req->topk > QV_SEARCH_MAX_TOPK)
        return qv_fail(err, QV_E_INVALID, "search: topk %zu not in [1, %d]",
                       req->topk, QV_SEARCH_MAX_TOPK);
    if (req->nq == 0 || req->nq > QV_SEARCH_MAX_NQ ||
        (!req->queries && !req->sparse_queries))
        return qv_fail(err, QV_E_INVALID, "search: nq %zu not in [1, %d]",
                       req->nq, QV_SEARCH_MAX_NQ);
    if (req->group_field_id) {
        const qv_field_spec *g = NULL;
        for (size_t f = 0; snap->schema && f < snap->schema->nfields; f++)
            if (snap->schema->fields[f].id == req->group_field_id)
                g = &snap->schema->fields[f];
        if (!g || !qv_search_group_type_ok(g->type))
            return qv_fail(err, QV_E_INVALID,
                           "search: cannot group by field %lld (Bool, Int "
                           "and VarChar fields only)",
                           (long long)req->group_field_id);
        if (req->has_range)
            return qv_fail(err, QV_E_INVALID,
                           "search: range search cannot group by a field");
        if (req->group_size == 0 ||
            req->group_size > QV_SEARCH_MAX_GROUP_SIZE ||
            req->topk * req->group_size > QV_SEARCH_MAX_TOPK)
            return qv_fail(err, QV_E_INVALID,
                           "search: group_size %zu not in [1, %d] or topk * "
                           "group_size over %d",
                           req->group_size, QV_SEARCH_MAX_GROUP_SIZE,
                           QV_SEARCH_MAX_TOPK);
    }
    *type = QV_DT_NONE;
    for (size_t i = 0; i < snap->n && *type == QV_DT_NONE; i++)
        for (size_t f = 0; f < snap->snaps[i].nfields; f++)
            if (snap->snaps[i].field_ids[f] == req->field_id) {
                *type = snap->snaps[i].cols[f].type;
                *dim = snap->snaps[i].cols[f].dim;
            }
    if (snap->n == 0)
        return QV_OK;
    if (*type == QV_DT_SPARSE_FLOAT_VECTOR) {
        const qv_col_view *q = req->sparse_queries;
        if (req->metric != QV_METRIC_IP)
            return qv_fail(err, QV_E_INVALID,
                           "search: sparse field %lld is searched with IP, "
                           "not %s",
                           (long long)req->field_id,
                           qv_metric_name(req->metric));
        if (!q || q->type != QV_DT_SPARSE_FLOAT_VECTOR || q->rows != req->nq)
            return qv_fail(err, QV_E_INVALID,
                           "search: sparse field %lld needs %zu sparse "
                           "query rows",
                           (long long)req->field_id, req->nq);
        return QV_OK;
    }
    if (!req->queries)
        return qv_fail(err, QV_E_INVALID, "search: no query vectors");
    bool bin = qv_metric_is_binary(req->metric);
    bool ok =
        *type == QV_DT_BINARY_VECTOR
            ? bin
            : (!bin &&
               (*type == QV_DT_FLOAT_VECTOR || *type == QV_DT_FLOAT16_VECTOR ||
                *type == QV_DT_BFLOAT16_VECTOR || *type == QV_DT_INT8_VECTOR));
    if (!ok)
        return qv_fail(err, QV_E_INVALID,
                       "search: field %lld (%s) cannot be searched with "
                       "metric %s",
                       (long long)req->field_id, qv_dtype_name(*type),
                       qv_metric_name(req->metric));
    return QV_OK;
}

static long field_index(const qv_seg_snap *ss, int64_t fid)
{
    for (size_t f = 0; f < ss->nfields; f++)
        if (ss->field_ids[f] == fid)
            return (long)f;
    return -1;
}

/* Fills hit h's timestamp and key from its segment. */
static void hit_finish(const qv_seg_snap *ss, qv_hit *h)
{
    h->ts = ss->ops->row_ts(ss->seg, (size_t)h->row);
    h->pk = qv_pk_of_row(&ss->cols[ss->pk_index], (size_t)h->row);
}

/* Exclusion bitset of segment i for req; *used = false (and no bitset)
 * when an indexed sealed segment excludes nothing. */
static qv_code seg_mask(const qv_shard_snap *snap, size_t i,
                        const qv_search_req *req, bool indexed, qv_bitset *ex,
                        bool *used, qv_err *err)
{
    const qv_seg_snap *ss = &snap->snaps[i];
    bool no_filter = !req->filter || qv_expr_plan_always_true(req->filter);
    *used = false;
    if (indexed && no_filter &&
        qv_sealed_all_visible((const qv_sealed *)ss->seg, req->ts))
        return QV_OK;
    if (qv_bitset_init(ex, ss->rows))
        return qv_fail(err, QV_E_NOMEM, "search: cannot allocate a mask");
    *used = true;
    return qv_seg_exclude(snap, i, req->ts, req->filter, ex, err);
}

/* Top-k (or range) of every query over an indexed segment. */
static qv_code search_indexed(const qv_seg_snap *ss, uint32_t segno,
                              const qv_index *ix, const qv_search_req *req,
                              const qv_bitset *ex, qv_hit *lists, size_t *cnt,
                              qv_err *err)
{
    size_t nq = req->nq, k = req->topk;
    qv_search_args a = {req->params, ex, NULL};
    qv_code rc;
    if (req->has_range) {
        qv_range_result rr;
        rc = qv_index_range_search(ix, nq, req->queries, &a, &rr, err);
        for (size_t q = 0; !rc && q < nq; q++)
            for (size_t j = rr.lims[q]; j < rr.lims[q + 1] && cnt[q] < k; j++) {
                int64_t lab = rr.labels[j];
                if (lab < 0 || (size_t)lab >= ss->rows)
                    continue;
                qv_hit *h = &lists[q * k + cnt[q]++];
                *h = (qv_hit){
                    .distance = rr.distances[j], .seg = segno, .row = lab};
                hit_finish(ss, h);
            }
        if (!rc)
            qv_range_result_release(&rr);
        return rc;
    }
    float *d = qv_try_alloc(nq * k, sizeof(float));
    int64_t *l = qv_try_alloc(nq * k, sizeof(int64_t));
    if (!d || !l) {
        free(d);
        free(l);
        return qv_fail(err, QV_E_NOMEM, "search: cannot allocate results");
    }
    rc = qv_index_search(ix, nq, req->queries, k, &a, d, l, err);
    for (size_t q = 0; !rc && q < nq; q++)
        for (size_t j = 0; j < k; j++) {
            int64_t lab = l[q * k + j];
            if (lab < 0 || (size_t)lab >= ss->rows)
                continue;
            qv_hit *h = &lists[q * k + cnt[q]++];
            *h = (qv_hit){.distance = d[q * k + j], .seg = segno, .row = lab};
            hit_finish(ss, h);
        }
    free(d);
    free(l);
    return rc;
}

/* The index to search field/metric of segment ss with, or NULL. */
static const qv_index *seg_index(const qv_seg_snap *ss,
                                 const qv_search_req *req)
{
    if (!ss->attach || req->sparse_queries)
        return NULL;
    const qv_seg_index *x = qv_seg_snap_index(ss, req->field_id);
    const qv_index *ix = x ? qv_seg_index_index(x) : NULL;
    return ix && qv_index_metric(ix) == req->metric ? ix : NULL;
}

/* Top-k of every query over segment i into lists[q] (k each). */
static qv_code search_segment(const qv_shard_snap *snap, size_t i,
                              const qv_search_req *req, scorer *sc,
                              const float *qnorm, qv_hit *lists, size_t *cnt,
                              qv_err *err)
{
    const qv_seg_snap *ss = &snap->snaps[i];
    long f = field_index(ss, req->field_id);
    if (f < 0 || ss->rows == 0)
        return QV_OK;
    const qv_index *ix = seg_index(ss, req);
    qv_bitset ex;
    bool masked;
    qv_code rc = seg_mask(snap, i, req, ix != NULL, &ex, &masked, err);
    if (!rc && ix) {
        rc = search_indexed(ss, (uint32_t)i, ix, req, masked ? &ex : NULL,
                            lists, cnt, err);
        if (masked)
            qv_bitset_release(&ex);
        return rc;
    }
    const qv_col_view *v = &ss->cols[f];
    bool larger = qv_metric_larger_is_closer(req->metric);
    size_t qbytes =
        sc->type == QV_DT_BINARY_VECTOR ? sc->dim / 8 : sc->dim * sizeof(float);
    bool sparse = sc->type == QV_DT_SPARSE_FLOAT_VECTOR;
    for (size_t r = 0; !rc && r < ss->rows; r++) {
        if (qv_bitset_test(&ex, r) || qv_col_is_null(v, r))
            continue;
        for (size_t q = 0; q < req->nq; q++) {
            qv_hit h = {.seg = (uint32_t)i, .row = (int64_t)r};
            if (sparse) {
                h.distance = sparse_ip(req->sparse_queries, q, v, r);
            } else {
                const uint8_t *qp = (const uint8_t *)req->queries + q * qbytes;
                h.distance = score_row(sc, (const float *)(const void *)qp, qp,
                                       qnorm ? qnorm[q] : 0, v, r);
            }
            if (in_range(req, h.distance))
                heap_push(lists + q * req->topk, &cnt[q], req->topk, &h,
                          larger);
        }
    }
    for (size_t q = 0; !rc && q < req->nq; q++) {
        qv_hit *l = lists + q * req->topk;
        heap_sort(l, cnt[q], larger);
        for (size_t j = 0; j < cnt[q]; j++)
            hit_finish(ss, &l[j]);
    }
    if (masked)
        qv_bitset_release(&ex);
    return rc;
}

/* Groups a segment keeps per query: more than topk, so that a group that
 * is among the closest overall but not in this segment keeps its hits
 * here too (the merge picks the topk groups). */
static size_t seg_groups(const qv_search_req *req)
{
    size_t g = req->topk * 4;
    size_t cap = QV_SEARCH_MAX_TOPK / req->group_size;
    return g < cap ? g : (cap > req->topk ? cap : req->topk);
}

/* True when the first `groups` groups of a grouped list (hits of a group
 * together) are there and hold gs hits each. */
static bool first_groups_full(const qv_hit *h, size_t n, size_t groups,
                              size_t gs)
{
    size_t i = 0, g = 0;
    for (; g < groups && i < n; g++) {
        size_t j = i + 1;
        while (j < n && h[j].group.type == h[i].group.type &&
               (h[i].group.type == QV_DT_VARCHAR
                    ? h[j].group.len == h[i].group.len &&
                          (h[i].group.len == 0 ||
                           !memcmp(h[j].group.s, h[i].group.s, h[i].group.len))
                    : h[j].group.i == h[i].group.i))
            j++;
        if (j - i < gs)
            return false;
        i = j;
    }
    return g == groups;
}

/* Grouping search of segment i: top kk candidates, grouped (up to
 * seg_groups groups kept), with kk growing until every query has topk
 * groups (the first topk full when strict) or the segment has no more
 * rows.  lists has seg_groups * group_size slots per query. */
static qv_code search_segment_grouped(const qv_shard_snap *snap, size_t i,
                                      const qv_search_req *req, scorer *sc,
                                      const float *qnorm, qv_hit *lists,
                                      size_t *cnt, qv_err *err)
{
    const qv_seg_snap *ss = &snap->snaps[i];
    long gf = field_index(ss, req->group_field_id);
    if (gf < 0 || field_index(ss, req->field_id) < 0 || ss->rows == 0)
        return QV_OK;
    size_t nq = req->nq, G = seg_groups(req), K = G * req->group_size;
    bool larger = qv_metric_larger_is_closer(req->metric);
    size_t kk = K * 2 > 64 ? K * 2 : 64;
    for (;;) {
        if (kk > ss->rows)
            kk = ss->rows;
        qv_search_req r2 = *req;
        r2.topk = kk;
        qv_hit *tmp = qv_try_calloc(nq * kk, sizeof *tmp);
        size_t *tc = qv_try_calloc(nq, sizeof *tc);
        qv_code rc = tmp && tc
                         ? search_segment(snap, i, &r2, sc, qnorm, tmp, tc, err)
                         : qv_fail(err, QV_E_NOMEM,
                                   "search: cannot allocate %zu "
                                   "candidates",
                                   nq * kk);
        bool enough = true;
        for (size_t q = 0; !rc && q < nq; q++) {
            qv_hit *l = tmp + q * kk;
            for (size_t j = 0; j < tc[q]; j++)
                l[j].group = qv_hit_group_of(&ss->cols[gf], (size_t)l[j].row);
            const qv_hit *lp = l;
            size_t ng;
            bool full;
            cnt[q] = qv_hits_merge_grouped(&lp, &tc[q], 1, G, req->group_size,
                                           larger, lists + q * K, &ng, &full);
            enough = enough && ng >= req->topk &&
                     (!req->group_strict ||
                      first_groups_full(lists + q * K, cnt[q], req->topk,
                                        req->group_size));
        }
        free(tmp);
        free(tc);
        if (rc || enough || kk >= ss->rows)
            return rc;
        kk *= 4;
    }
}

void qv_search_result_release(qv_search_result *r)
{
    free(r->counts);
    free(r->hits);
    memset(r, 0, sizeof *r);
}

qv_code qv_shard_search(const qv_shard_snap *snap, const qv_search_req *req,
                        qv_search_result *out, qv_err *err)
{
    qv_dtype type = QV_DT_NONE;
    uint32_t dim = 0;
    qv_code rc = check_req(snap, req, &type, &dim, err);
    if (rc)
        return rc;
    bool grouped = req->group_field_id != 0;
    size_t k = grouped ? req->topk * req->group_size : req->topk;
    size_t nq = req->nq, nseg = snap->n;
    size_t sk = grouped ? seg_groups(req) * req->group_size : k; /* per seg */
    qv_search_result res = {nq, k, NULL, NULL};
    res.counts = qv_try_calloc(nq, sizeof(size_t));
    res.hits = qv_try_calloc(nq * k, sizeof(qv_hit));
    qv_hit *seg_hits = qv_try_calloc(nseg ? nseg * nq * sk : 1, sizeof(qv_hit));
    size_t *seg_cnt = qv_try_calloc(nseg ? nseg * nq : 1, sizeof(size_t));
    float *qnorm = NULL;
    scorer sc = {qv_distance_kernels_get(), req->metric, type, dim, NULL};
    if (!res.counts || !res.hits || !seg_hits || !seg_cnt) {
        rc = qv_fail(err, QV_E_NOMEM,
                     "search: cannot allocate results for "
                     "nq %zu topk %zu",
                     nq, k);
        goto out;
    }
    if (type != QV_DT_BINARY_VECTOR && type != QV_DT_SPARSE_FLOAT_VECTOR &&
        nseg) {
        sc.tmp = QV_NEW_ARRAY(float, dim ? dim : 1);
        qnorm = QV_NEW_ARRAY(float, nq);
        for (size_t q = 0; q < nq; q++)
            qnorm[q] =
                sqrtf(qv_norm_sqr((const float *)req->queries + q * dim, dim));
    }
    for (size_t i = 0; i < nseg && !rc; i++) {
        if (!qv_seg_in_partitions(snap, i, req->partitions, req->npartitions))
            continue;
        if (grouped)
            rc = search_segment_grouped(snap, i, req, &sc, qnorm,
                                        seg_hits + i * nq * sk,
                                        seg_cnt + i * nq, err);
        else
            rc = search_segment(snap, i, req, &sc, qnorm, seg_hits + i * nq * k,
                                seg_cnt + i * nq, err);
    }
    const qv_hit **lists = QV_NEW_ARRAY(const qv_hit *, nseg ? nseg : 1);
    size_t *cnts = QV_NEW_ARRAY(size_t, nseg ? nseg : 1);
    bool larger = qv_metric_larger_is_closer(req->metric);
    for (size_t q = 0; q < nq && !rc; q++) {
        for (size_t i = 0; i < nseg; i++) {
            lists[i] = seg_hits + (i * nq + q) * sk;
            cnts[i] = seg_cnt[i * nq + q];
        }
        size_t ng;
        bool full;
        res.counts[q] =
            grouped
                ? qv_hits_merge_grouped(lists, cnts, nseg, req->topk,
                                        req->group_size, larger,
                                        res.hits + q * k, &ng, &full)
                : qv_hits_merge(lists, cnts, nseg, k, larger, res.hits + q * k);
    }
    free(lists);
    free(cnts);
out:
    free(seg_hits);
    free(seg_cnt);
    free(qnorm);
    free(sc.tmp);
    if (rc) {
        qv_search_result_release(&res);
        return rc;
    }
    *out = res;
    return QV_OK;
}
