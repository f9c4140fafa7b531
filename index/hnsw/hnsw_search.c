/* hnsw_search.c -- HNSW search: scratch pool, greedy descent, the level
 * beam, filtered and exact search, range search.
 *
 * The beam of a level search is a sorted array of at most ef candidates
 * with an "expanded" bit in the top bit of each id (ids stay below 2^31).
 * `cur` is the first entry not yet expanded; an insertion before it moves
 * it back.  This is the same walk as hnswlib's two heaps (a candidate that
 * falls out of the top ef would end hnswlib's loop when popped) with less
 * bookkeeping: one binary search and one short memmove per accepted
 * neighbour.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/hnsw/hnsw.h"
#include "index/index_impl.h"

#define CHK ((uint32_t)1 << 31)

/* ---- scratch ---------------------------------------------------------- */

void hnsw_scratch_free(hnsw_scratch *s)
{
    if (!s)
        return;
    free(s->visited);
    free(s->beam);
    free(s->heap);
    free(s->tmp);
    free(s->queue);
    free(s->nbuf);
    free(s);
}

hnsw_scratch *hnsw_scratch_get(const hnsw_graph *g)
{
    /* The slots are the one mutable part of a searched graph; they are
     * only touched with atomic exchanges. */
    hnsw_scratch **slots = (hnsw_scratch **)g->slots;
    for (size_t i = 0; i < HNSW_SCRATCH_SLOTS; i++) {
        if (!__atomic_load_n(&slots[i], __ATOMIC_RELAXED))
            continue;
        hnsw_scratch *s =
            __atomic_exchange_n(&slots[i], NULL, __ATOMIC_ACQUIRE);
        if (s)
            return s;
    }
    return qv_try_calloc(1, sizeof(hnsw_scratch));
}

void hnsw_scratch_put(const hnsw_graph *g, hnsw_scratch *s)
{
    hnsw_scratch **slots = (hnsw_scratch **)g->slots;
    if (!s)
        return;
    for (size_t i = 0; i < HNSW_SCRATCH_SLOTS; i++) {
        hnsw_scratch *expect = NULL;
        if (__atomic_compare_exchange_n(&slots[i], &expect, s, false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return;
    }
    hnsw_scratch_free(s);
}

bool hnsw_scratch_reserve(const hnsw_graph *g, hnsw_scratch *s, size_t ef)
{
    if (s->vcap < g->n) {
        free(s->visited);
        s->vcap = 0;
        s->visited = qv_try_calloc(g->n, sizeof(uint16_t));
        if (!s->visited)
            return false;
        s->vcap = g->n;
        s->epoch = 0;
    }
    if (s->beam_cap < ef + 1) {
        hnsw_cand *b = qv_try_realloc(s->beam, ef + 1, sizeof(hnsw_cand));
        if (!b)
            return false;
        s->beam = b;
        s->beam_cap = ef + 1;
    }
    size_t nb = (size_t)g->maxM0 + 4;
    if (s->nbuf_cap < nb) {
        uint32_t *b = qv_try_realloc(s->nbuf, nb, sizeof(uint32_t));
        if (!b)
            return false;
        s->nbuf = b;
        s->nbuf_cap = nb;
    }
    return true;
}

static uint16_t next_epoch(hnsw_scratch *s)
{
    if (++s->epoch == 0) {
        memset(s->visited, 0, s->vcap * sizeof(uint16_t));
        s->epoch = 1;
    }
    return s->epoch;
}

/* ---- descent and level beam ------------------------------------------ */

uint32_t hnsw_descend(const hnsw_graph *g, const float *q, int to, float *d)
{
    uint32_t cur = g->entry;
    float dc = hnsw_score(g, q, hnsw_vec(g, cur));
    for (int l = g->max_level; l > to; l--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const uint32_t *ln = hnsw_links(g, cur, l);
            uint32_t cnt = ln[0];
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t v = ln[1 + j];
                float dv = hnsw_score(g, q, hnsw_vec(g, v));
                if (dv < dc) {
                    dc = dv;
                    cur = v;
                    changed = true;
                }
            }
        }
    }
    *d = dc;
    return cur;
}

/* Inserts (d, id) into the sorted beam if it beats the worst of a full
 * beam; keeps *cur at the first unexpanded entry. */
static inline void beam_insert(hnsw_cand *beam, size_t *size, size_t ef,
                               size_t *cur, float d, uint32_t id)
{
    size_t n = *size;
    if (n == ef && d >= beam[n - 1].d)
        return;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) >> 1;
        if (beam[mid].d <= d)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t last = n == ef ? n - 1 : n;
    memmove(&beam[lo + 1], &beam[lo], (last - lo) * sizeof(hnsw_cand));
    beam[lo].d = d;
    beam[lo].id = id;
    if (n < ef)
        *size = n + 1;
    if (lo < *cur)
        *cur = lo;
}

/* Scores of the n ids in ids against q, four at a time. */
static inline void score_many(const hnsw_graph *g, const float *q,
                              const uint32_t *ids, size_t n, float *out)
{
    size_t j = 0;
    if (g->ip) {
        for (; j + 4 <= n; j += 4) {
            g->kern->ip_batch4(q, hnsw_vec(g, ids[j]), hnsw_vec(g, ids[j + 1]),
                               hnsw_vec(g, ids[j + 2]), hnsw_vec(g, ids[j + 3]),
                               g->dim, out + j);
            out[j] = -out[j];
            out[j + 1] = -out[j + 1];
            out[j + 2] = -out[j + 2];
            out[j + 3] = -out[j + 3];
        }
    } else {
        for (; j + 4 <= n; j += 4)
            g->kern->l2sqr_batch4(q, hnsw_vec(g, ids[j]),
                                  hnsw_vec(g, ids[j + 1]),
                                  hnsw_vec(g, ids[j + 2]),
                                  hnsw_vec(g, ids[j + 3]), g->dim, out + j);
    }
    for (; j < n; j++)
        out[j] = hnsw_score(g, q, hnsw_vec(g, ids[j]));
}

/* Bytes of each neighbour's vector prefetched before scoring: all of it
 * up to 8 cache lines (the hardware prefetcher follows on longer rows). */
#define HNSW_PREFETCH_BYTES 512

/* Collects the not-yet-visited neighbours of c at level into s->nbuf,
 * marking them visited and prefetching their vectors. */
static inline size_t gather(const hnsw_graph *g, hnsw_scratch *s, uint32_t c,
                            int level, uint16_t tag)
{
    const uint32_t *ln = hnsw_links(g, c, level);
    uint32_t cnt = ln[0];
    uint16_t *vis = s->visited;
    uint32_t *nb = s->nbuf;
    size_t nn = 0;
    for (uint32_t j = 0; j < cnt; j++)
        __builtin_prefetch(&vis[ln[1 + j]]);
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t v = ln[1 + j];
        if (vis[v] == tag)
            continue;
        vis[v] = tag;
        nb[nn++] = v;
        __builtin_prefetch(hnsw_vec(g, v));
    }
    size_t bytes = g->dim * sizeof(float);
    if (bytes > HNSW_PREFETCH_BYTES)
        bytes = HNSW_PREFETCH_BYTES;
    for (size_t j = 0; j < nn; j++)
        for (size_t o = 64; o < bytes; o += 64)
            __builtin_prefetch((const char *)hnsw_vec(g, nb[j]) + o);
    return nn;
}

size_t hnsw_search_layer(const hnsw_graph *g, hnsw_scratch *s, const float *q,
                         uint32_t ep, float ep_d, size_t ef, int level)
{
    hnsw_cand *beam = s->beam;
    uint16_t tag = next_epoch(s);
    float dist[4 + 2 * 2048 + 4];
    size_t size = 1, cur = 0;
    beam[0].d = ep_d;
    beam[0].id = ep;
    s->visited[ep] = tag;
    while (cur < size) {
        uint32_t c = beam[cur].id;
        beam[cur].id = c | CHK;
        size_t nn = gather(g, s, c, level, tag);
        score_many(g, q, s->nbuf, nn, dist);
        for (size_t j = 0; j < nn; j++) {
            size_t before = cur;
            beam_insert(beam, &size, ef, &cur, dist[j], s->nbuf[j]);
            if (cur < before) {
                /* It is expanded next: fetch its links now. */
                const char *ln = (const char *)hnsw_links(g, s->nbuf[j], level);
                __builtin_prefetch(ln);
                __builtin_prefetch(ln + 64);
            }
        }
        while (cur < size && (beam[cur].id & CHK))
            cur++;
    }
    for (size_t i = 0; i < size; i++)
        beam[i].id &= ~CHK;
    return size;
}

/* ---- filtered level-0 search ----------------------------------------- */

static bool heap_push(hnsw_scratch *s, size_t *n, float d, uint32_t id)
{
    if (*n == s->heap_cap) {
        size_t cap = s->heap_cap ? 2 * s->heap_cap : 256;
        hnsw_cand *h = qv_try_realloc(s->heap, cap, sizeof(hnsw_cand));
        if (!h)
            return false;
        s->heap = h;
        s->heap_cap = cap;
    }
    hnsw_cand *h = s->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) >> 1;
        if (h[p].d <= d)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i].d = d;
    h[i].id = id;
    return true;
}

static hnsw_cand heap_pop(hnsw_scratch *s, size_t *n)
{
    hnsw_cand *h = s->heap;
    hnsw_cand top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && h[c + 1].d < h[c].d)
            c++;
        if (h[c].d >= last.d)
            break;
        h[i] = h[c];
        i = c;
    }
    if (m > 0)
        h[i] = last;
    return top;
}

static inline bool allowed(const hnsw_graph *g, const qv_bitset *f, uint32_t id)
{
    return !qv__excluded(f, hnsw_label(g, id));
}

/* hnswlib's filtered walk: the frontier takes every neighbour that could
 * still improve the results, excluded or not; the results (s->beam, sorted)
 * take only allowed rows.  Returns the result count or SIZE_MAX on OOM. */
static size_t search_filtered(const hnsw_graph *g, hnsw_scratch *s,
                              const float *q, uint32_t ep, float ep_d,
                              size_t ef, const qv_bitset *f)
{
    hnsw_cand *res = s->beam;
    uint16_t tag = next_epoch(s);
    float dist[4 + 2 * 2048 + 4];
    size_t nres = 0, nheap = 0, dummy = 0;
    s->visited[ep] = tag;
    if (!heap_push(s, &nheap, ep_d, ep))
        return SIZE_MAX;
    if (allowed(g, f, ep))
        beam_insert(res, &nres, ef, &dummy, ep_d, ep);
    while (nheap > 0) {
        hnsw_cand c = heap_pop(s, &nheap);
        if (nres == ef && c.d > res[nres - 1].d)
            break;
        size_t nn = gather(g, s, c.id, 0, tag);
        score_many(g, q, s->nbuf, nn, dist);
        for (size_t j = 0; j < nn; j++) {
            float d = dist[j];
            if (nres == ef && d >= res[nres - 1].d)
                continue;
            uint32_t v = s->nbuf[j];
            if (!heap_push(s, &nheap, d, v))
                return SIZE_MAX;
            if (allowed(g, f, v))
                beam_insert(res, &nres, ef, &dummy, d, v);
        }
    }
    return nres;
}

/* ---- exact scan over allowed rows ------------------------------------ */

static void sort_heap_ascending(float *d, int64_t *l, size_t n)
{
    /* qv__topk keeps a max-heap; heapsort it in place. */
    for (size_t end = n; end > 1; end--) {
        float td = d[0];
        int64_t tl = l[0];
        d[0] = d[end - 1];
        l[0] = l[end - 1];
        d[end - 1] = td;
        l[end - 1] = tl;
        size_t i = 0, m = end - 1;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= m)
                break;
            if (c + 1 < m && d[c + 1] > d[c])
                c++;
            if (d[c] <= d[i])
                break;
            float xd = d[i];
            int64_t xl = l[i];
            d[i] = d[c];
            l[i] = l[c];
            d[c] = xd;
            l[c] = xl;
            i = c;
        }
    }
}

static void exact_scan(const hnsw_graph *g, hnsw_scratch *s, const float *q,
                       const hnsw_query *hq, float *scores, int64_t *labels)
{
    qv__topk h;
    qv__topk_init(&h, hq->k, scores, labels);
    uint32_t *ids = s->nbuf;
    float dist[4];
    size_t nb = 0;
    for (size_t i = 0; i <= g->n; i++) {
        if (i < g->n) {
            if (!allowed(g, hq->filter, (uint32_t)i))
                continue;
            ids[nb++] = (uint32_t)i;
            if (nb < 4)
                continue;
        }
        score_many(g, q, ids, nb, dist);
        for (size_t j = 0; j < nb; j++)
            if (dist[j] < qv__topk_worst(&h))
                qv__topk_push(&h, dist[j], hnsw_label(g, ids[j]));
        nb = 0;
    }
    sort_heap_ascending(scores, labels, h.n);
    for (size_t i = h.n; i < hq->k; i++) {
        scores[i] = INFINITY;
        labels[i] = -1;
    }
}

/* ---- top-k ------------------------------------------------------------ */

bool hnsw_use_exact(const hnsw_graph *g, const hnsw_query *hq)
{
    if (hq->mode == HNSW_MODE_EXACT)
        return true;
    if (hq->mode == HNSW_MODE_GRAPH || !hq->filter)
        return false;
    double pass = (double)hq->pass_count;
    return pass * pass < HNSW_EXACT_GAMMA * (double)hq->ef * (double)g->n;
}

bool hnsw_knn(const hnsw_graph *g, hnsw_scratch *s, const float *q,
              const hnsw_query *hq, float *scores, int64_t *labels)
{
    size_t k = hq->k;
    size_t ef = hq->ef < k ? k : hq->ef;
    if (ef > g->n)
        ef = g->n > k ? g->n : k;
    if (!hnsw_scratch_reserve(g, s, ef))
        return false;
    size_t got = 0;
    if (g->n > 0 && hnsw_use_exact(g, hq)) {
        exact_scan(g, s, q, hq, scores, labels);
        return true;
    }
    if (g->n > 0) {
        float d;
        uint32_t ep = hnsw_descend(g, q, 0, &d);
        if (hq->filter) {
            got = search_filtered(g, s, q, ep, d, ef, hq->filter);
            if (got == SIZE_MAX)
                return false;
        } else {
            got = hnsw_search_layer(g, s, q, ep, d, ef, 0);
        }
    }
    if (got > k)
        got = k;
    for (size_t i = 0; i < got; i++) {
        scores[i] = s->beam[i].d;
        labels[i] = hnsw_label(g, s->beam[i].id);
    }
    for (size_t i = got; i < k; i++) {
        scores[i] = INFINITY;
        labels[i] = -1;
    }
    return true;
}

/* ---- range search ----------------------------------------------------- */

static bool queue_push(hnsw_scratch *s, size_t *n, uint32_t id)
{
    if (*n == s->queue_cap) {
        size_t cap = s->queue_cap ? 2 * s->queue_cap : 256;
        uint32_t *qq = qv_try_realloc(s->queue, cap, sizeof(uint32_t));
        if (!qq)
            return false;
        s->queue = qq;
        s->queue_cap = cap;
    }
    s->queue[(*n)++] = id;
    return true;
}

/* Every allowed row with lo <= score < hi, by scanning all rows. */
static void range_scan(const hnsw_graph *g, hnsw_scratch *s, const float *q,
                       const qv_bitset *filter, float lo, float hi,
                       void (*emit)(void *arg, float score, int64_t label),
                       void *arg)
{
    uint32_t *ids = s->nbuf;
    float dist[4];
    size_t nb = 0;
    for (size_t i = 0; i <= g->n; i++) {
        if (i < g->n) {
            if (!allowed(g, filter, (uint32_t)i))
                continue;
            ids[nb++] = (uint32_t)i;
            if (nb < 4)
                continue;
        }
        score_many(g, q, ids, nb, dist);
        for (size_t j = 0; j < nb; j++)
            if (dist[j] >= lo && dist[j] < hi)
                emit(arg, dist[j], hnsw_label(g, ids[j]));
        nb = 0;
    }
}

/* The beam of width >= ef, widened while all of it is in range so that a
 * range larger than ef is seeded from its whole extent; returns its size,
 * 0 when the exact scan is cheaper (the beam would score about
 * ef * maxM0 rows, more than n), SIZE_MAX on OOM. */
static size_t range_beam(const hnsw_graph *g, hnsw_scratch *s, const float *q,
                         size_t ef, float hi, bool graph_only)
{
    float d;
    uint32_t ep = hnsw_descend(g, q, 0, &d);
    bool widened = false;
    for (;;) {
        if (ef > g->n)
            ef = g->n;
        if (!graph_only && (double)ef * g->maxM0 >= (double)g->n)
            return 0;
        if (!hnsw_scratch_reserve(g, s, ef))
            return SIZE_MAX;
        size_t nb = hnsw_search_layer(g, s, q, ep, d, ef, 0);
        if (nb < ef || ef == g->n || !(s->beam[nb - 1].d < hi)) {
            if (!widened || ef == g->n)
                return nb;
            break;
        }
        ef *= 2;
        widened = true;
    }
    /* One more doubling: a beam of twice the range's size finds nearly
     * all of it, as a top-k beam of 2k does. */
    ef = 2 * ef > g->n ? g->n : 2 * ef;
    if (!graph_only && (double)ef * g->maxM0 >= (double)g->n)
        return 0;
    if (!hnsw_scratch_reserve(g, s, ef))
        return SIZE_MAX;
    return hnsw_search_layer(g, s, q, ep, d, ef, 0);
}

bool hnsw_range(const hnsw_graph *g, hnsw_scratch *s, const float *q, size_t ef,
                int mode, const qv_bitset *filter, float lo, float hi,
                void (*emit)(void *arg, float score, int64_t label), void *arg)
{
    if (g->n == 0)
        return true;
    if (!hnsw_scratch_reserve(g, s, 1))
        return false;
    size_t nb = 0;
    if (mode != HNSW_MODE_EXACT) {
        nb = range_beam(g, s, q, ef, hi, mode == HNSW_MODE_GRAPH);
        if (nb == SIZE_MAX)
            return false;
    }
    if (nb == 0) {
        range_scan(g, s, q, filter, lo, hi, emit, arg);
        return true;
    }
    /* Breadth-first from every in-range beam entry through rows with
     * score < hi (excluded rows are walked through, not returned). */
    uint16_t tag = next_epoch(s);
    size_t qn = 0;
    for (size_t i = 0; i < nb && s->beam[i].d < hi; i++) {
        uint32_t v = s->beam[i].id;
        s->visited[v] = tag;
        if (!queue_push(s, &qn, v))
            return false;
        if (s->beam[i].d >= lo && allowed(g, filter, v))
            emit(arg, s->beam[i].d, hnsw_label(g, v));
    }
    float dist[4 + 2 * 2048 + 4];
    for (size_t h = 0; h < qn; h++) {
        size_t nn = gather(g, s, s->queue[h], 0, tag);
        score_many(g, q, s->nbuf, nn, dist);
        for (size_t j = 0; j < nn; j++) {
            if (!(dist[j] < hi))
                continue;
            uint32_t v = s->nbuf[j];
            if (!queue_push(s, &qn, v))
                return false;
            if (dist[j] >= lo && allowed(g, filter, v))
                emit(arg, dist[j], hnsw_label(g, v));
        }
    }
    return true;
}
