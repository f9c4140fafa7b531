/* hnsw_build.c -- HNSW graph storage and the deterministic parallel build.
 *
 * Rows are linked in batches (see hnsw.h).  A batch holds at most 1/64 of
 * the rows already linked (and at most HNSW_BATCH_MAX), so a new node
 * misses at most that share of possible neighbours among its batch mates,
 * which costs no measurable recall; the batch is large enough to keep the
 * pool's threads busy.
 *
 * Phase 1 (parallel over the batch's nodes): greedy descent and an
 * efConstruction beam per level on the graph as it was before the batch,
 * then hnswlib's neighbour-selection heuristic; each node writes only its
 * own lists.
 * Phase 2 (parallel over target nodes): the reverse links (target, level,
 * source) are sorted and grouped by target; a group appends its sources
 * when they fit and otherwise re-selects the target's list from old and
 * new neighbours with the same heuristic.  Each group writes only its
 * target's list.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "index/hnsw/hnsw.h"

#define HNSW_BATCH_MAX  1024
#define HNSW_BATCH_BITS 27 /* bits of a source's offset in its batch */

void hnsw_graph_init(hnsw_graph *g, size_t dim, bool ip, uint32_t M,
                     uint32_t efc, uint64_t seed,
                     const qv_distance_kernels *kern)
{
    memset(g, 0, sizeof(*g));
    g->dim = dim;
    g->ip = ip;
    g->M = M;
    g->maxM0 = 2 * M;
    g->efc = efc;
    g->seed = seed;
    g->mult = 1.0 / log((double)M);
    g->kern = kern;
    g->max_level = -1;
}

void hnsw_graph_release(hnsw_graph *g)
{
    if (!g->borrowed) {
        qv_aligned_free(g->vecs);
        free(g->links0);
        free(g->levels);
        free(g->upper_off);
        free(g->upper);
        free(g->labels);
    }
    for (size_t i = 0; i < HNSW_SCRATCH_SLOTS; i++) {
        hnsw_scratch_free(g->slots[i]);
        g->slots[i] = NULL;
    }
    g->vecs = NULL;
    g->links0 = NULL;
    g->levels = NULL;
    g->upper_off = NULL;
    g->upper = NULL;
    g->labels = NULL;
    g->n = 0;
}

size_t hnsw_graph_memory(const hnsw_graph *g)
{
    if (g->borrowed)
        return 0;
    size_t b = g->n * g->dim * sizeof(float);
    b += g->n * ((size_t)g->maxM0 + 1) * sizeof(uint32_t);
    b += g->n * (sizeof(uint8_t) + sizeof(uint32_t));
    b += g->upper_len * sizeof(uint32_t);
    if (g->labels)
        b += g->n * sizeof(int64_t);
    return b;
}

/* A counter-based RNG: the level of a node depends only on (seed, id). */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int random_level(const hnsw_graph *g, uint64_t id)
{
    uint64_t r = splitmix64(g->seed ^ splitmix64(id));
    double u = ((double)(r >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double l = -log(u) * g->mult;
    return l >= HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)l;
}

/* ---- neighbour selection --------------------------------------------- */

/* hnswlib's getNeighborsByHeuristic2: walks the candidates closest first
 * (c is sorted ascending) and keeps one unless it is closer to an already
 * kept neighbour than to the base node.  Writes at most m ids to out and
 * returns their count. */
static size_t select_heuristic(const hnsw_graph *g, const hnsw_cand *c,
                               size_t n, size_t m, uint32_t *out)
{
    if (n < m) {
        for (size_t i = 0; i < n; i++)
            out[i] = c[i].id;
        return n;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        const float *v = hnsw_vec(g, c[i].id);
        bool good = true;
        for (size_t j = 0; j < kept; j++) {
            if (hnsw_score(g, v, hnsw_vec(g, out[j])) < c[i].d) {
                good = false;
                break;
            }
        }
        if (good)
            out[kept++] = c[i].id;
    }
    return kept;
}

static int cand_cmp(const void *a, const void *b)
{
    const hnsw_cand *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- batch insertion ------------------------------------------------- */

typedef struct build_ctx {
    hnsw_graph *g;
    hnsw_scratch **scr; /* one per worker index */
    uint32_t first;     /* first id of the batch */
    uint64_t *pairs;    /* (level, target, source offset) sorted keys */
    size_t npairs, pairs_cap;
    size_t *groups; /* start of each target group in pairs, + end */
    size_t ngroups;
    uint32_t *src; /* sources of one group (per worker) */
} build_ctx;

/* Phase 1 for one node: search the frozen graph and set its own lists. */
static void link_node(hnsw_graph *g, hnsw_scratch *s, uint32_t p)
{
    const float *q = hnsw_vec(g, p);
    int lp = g->levels[p];
    float d;
    uint32_t ep = hnsw_descend(g, q, lp, &d);
    int top = lp < g->max_level ? lp : g->max_level;
    for (int l = top; l >= 0; l--) {
        size_t nb = hnsw_search_layer(g, s, q, ep, d, g->efc, l);
        uint32_t *ln = hnsw_links(g, p, l);
        ln[0] = (uint32_t)select_heuristic(g, s->beam, nb, g->M, ln + 1);
        ep = s->beam[0].id;
        d = s->beam[0].d;
    }
}

static void phase1(void *arg, size_t begin, size_t end, size_t worker)
{
    build_ctx *b = arg;
    for (size_t i = begin; i < end; i++)
        link_node(b->g, b->scr[worker], b->first + (uint32_t)i);
}

/* Phase 2 for one target: adds the new sources to its list in source
 * order, as hnswlib does one insertion at a time: appended while there is
 * room, else the list is re-selected from its links plus the source. */
static void merge_group(hnsw_graph *g, hnsw_scratch *s, int level,
                        uint32_t target, const uint64_t *keys, size_t k,
                        uint32_t first)
{
    uint32_t *ln = hnsw_links(g, target, level);
    uint32_t cap = level == 0 ? g->maxM0 : g->M;
    const uint64_t mask = ((uint64_t)1 << HNSW_BATCH_BITS) - 1;
    const float *tv = hnsw_vec(g, target);
    if (s->tmp_cap < (size_t)cap + 1) {
        s->tmp = qv_xrealloc(s->tmp, ((size_t)cap + 1) * sizeof(hnsw_cand));
        s->tmp_cap = (size_t)cap + 1;
    }
    hnsw_cand *c = s->tmp;
    for (size_t i = 0; i < k; i++) {
        uint32_t src = first + (uint32_t)(keys[i] & mask);
        uint32_t cnt = ln[0];
        if (cnt < cap) {
            ln[1 + cnt] = src;
            ln[0] = cnt + 1;
            continue;
        }
        for (uint32_t j = 0; j < cnt; j++) {
            c[j].id = ln[1 + j];
            c[j].d = hnsw_score(g, tv, hnsw_vec(g, c[j].id));
        }
        c[cnt].id = src;
        c[cnt].d = hnsw_score(g, tv, hnsw_vec(g, src));
        qsort(c, (size_t)cnt + 1, sizeof(hnsw_cand), cand_cmp);
        ln[0] = (uint32_t)select_heuristic(g, c, (size_t)cnt + 1, cap, ln + 1);
    }
}

static void phase2(void *arg, size_t begin, size_t end, size_t worker)
{
    build_ctx *b = arg;
    for (size_t gi = begin; gi < end; gi++) {
        size_t s0 = b->groups[gi], s1 = b->groups[gi + 1];
        uint64_t key = b->pairs[s0];
        int level = (int)(key >> 58);
        uint32_t target = (uint32_t)((key >> HNSW_BATCH_BITS) & 0x7FFFFFFF);
        merge_group(b->g, b->scr[worker], level, target, b->pairs + s0, s1 - s0,
                    b->first);
    }
}

/* Collects and sorts the reverse links of the batch [first, first+nb). */
static void collect_pairs(build_ctx *b, size_t nb)
{
    hnsw_graph *g = b->g;
    b->npairs = 0;
    for (size_t i = 0; i < nb; i++) {
        uint32_t p = b->first + (uint32_t)i;
        int top = g->levels[p] < g->max_level ? g->levels[p] : g->max_level;
        for (int l = 0; l <= top; l++) {
            const uint32_t *ln = hnsw_links(g, p, l);
            if (b->npairs + ln[0] > b->pairs_cap) {
                b->pairs_cap = 2 * (b->npairs + ln[0]);
                b->pairs =
                    qv_xrealloc(b->pairs, b->pairs_cap * sizeof(uint64_t));
            }
            for (uint32_t j = 0; j < ln[0]; j++)
                b->pairs[b->npairs++] =
                    ((uint64_t)l << 58) |
                    ((uint64_t)ln[1 + j] << HNSW_BATCH_BITS) | (uint64_t)i;
        }
    }
    qsort(b->pairs, b->npairs, sizeof(uint64_t), u64_cmp);
    b->groups = qv_xrealloc(b->groups, (b->npairs + 1) * sizeof(size_t));
    b->ngroups = 0;
    for (size_t i = 0; i < b->npairs; i++)
        if (i == 0 || (b->pairs[i] >> HNSW_BATCH_BITS) !=
                          (b->pairs[i - 1] >> HNSW_BATCH_BITS))
            b->groups[b->ngroups++] = i;
    b->groups[b->ngroups] = b->npairs;
}

static void insert_range(hnsw_graph *g, build_ctx *b, size_t from, size_t to,
                         qv_pool *pool)
{
    size_t i = from;
    if (g->max_level < 0 && i < to) {
        g->entry = (uint32_t)i;
        g->max_level = g->levels[i];
        i++;
    }
    while (i < to) {
        size_t nb = i / 64;
        if (nb < 1)
            nb = 1;
        if (nb > HNSW_BATCH_MAX)
            nb = HNSW_BATCH_MAX;
        if (nb > to - i)
            nb = to - i;
        b->first = (uint32_t)i;
        qv_pool_parallel_for(pool, nb, 1, phase1, b);
        collect_pairs(b, nb);
        qv_pool_parallel_for(pool, b->ngroups, 32, phase2, b);
        for (size_t j = 0; j < nb; j++) {
            uint32_t p = (uint32_t)(i + j);
            if (g->levels[p] > g->max_level) {
                g->max_level = g->levels[p];
                g->entry = p;
            }
        }
        i += nb;
    }
}

/* ---- add -------------------------------------------------------------- */

typedef struct grown {
    float *vecs;
    uint32_t *links0, *upper_off, *upper;
    uint8_t *levels;
    int64_t *labels;
    size_t upper_len;
} grown;

static void grown_free(grown *a)
{
    qv_aligned_free(a->vecs);
    free(a->links0);
    free(a->upper_off);
    free(a->upper);
    free(a->levels);
    free(a->labels);
}

/* Big arrays (vectors, level-0 links) are read at random by every search:
 * back them with transparent huge pages where the kernel allows it
 * (THP "madvise" mode), which saves most TLB misses.  Freed with free(). */
#define HNSW_HUGE ((size_t)2 << 20)
static void *big_alloc(size_t count, size_t size, bool zero)
{
    size_t bytes;
    if (!qv_mul_ok(count, size, &bytes))
        return NULL;
    if (bytes < 4 * HNSW_HUGE)
        return zero ? qv_try_calloc(count, size)
                    : qv_try_aligned_alloc(count, size);
    size_t round = (bytes + HNSW_HUGE - 1) & ~(HNSW_HUGE - 1);
    void *p = NULL;
    if (posix_memalign(&p, HNSW_HUGE, round) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, round, MADV_HUGEPAGE);
#endif
    if (zero)
        memset(p, 0, bytes);
    return p;
}

/* Allocates the arrays for total rows and copies the old and new data. */
static qv_code grow(const hnsw_graph *g, size_t n, const float *x,
                    const int64_t *labels, grown *a, qv_err *err)
{
    size_t old = g->n, total = old + n, s0 = (size_t)g->maxM0 + 1;
    memset(a, 0, sizeof(*a));
    a->vecs = big_alloc(total * g->dim, sizeof(float), false);
    a->links0 = big_alloc(total * s0, sizeof(uint32_t), true);
    a->levels = qv_try_alloc(total, 1);
    a->upper_off = qv_try_alloc(total, sizeof(uint32_t));
    if (!a->vecs || !a->links0 || !a->levels || !a->upper_off)
        goto nomem;
    if (old) {
        memcpy(a->vecs, g->vecs, old * g->dim * sizeof(float));
        memcpy(a->links0, g->links0, old * s0 * sizeof(uint32_t));
        memcpy(a->levels, g->levels, old);
        memcpy(a->upper_off, g->upper_off, old * sizeof(uint32_t));
    }
    memcpy(a->vecs + old * g->dim, x, n * g->dim * sizeof(float));
    uint64_t ulen = g->upper_len;
    for (size_t i = old; i < total; i++) {
        int l = random_level(g, i);
        a->levels[i] = (uint8_t)l;
        a->upper_off[i] = l ? (uint32_t)ulen : HNSW_NO_UPPER;
        ulen += (uint64_t)l * (g->M + 1);
    }
    if (ulen >= HNSW_NO_UPPER)
        return qv_fail(err, QV_E_NOMEM, "hnsw upper levels too large");
    a->upper_len = (size_t)ulen;
    a->upper =
        big_alloc(a->upper_len ? a->upper_len : 1, sizeof(uint32_t), true);
    if (!a->upper)
        goto nomem;
    if (g->upper_len)
        memcpy(a->upper, g->upper, g->upper_len * sizeof(uint32_t));
    bool ident = !g->labels;
    for (size_t i = 0; i < n && ident; i++)
        ident = labels[i] == (int64_t)(old + i);
    if (!ident) {
        a->labels = qv_try_alloc(total, sizeof(int64_t));
        if (!a->labels)
            goto nomem;
        for (size_t i = 0; i < old; i++)
            a->labels[i] = hnsw_label(g, (uint32_t)i);
        memcpy(a->labels + old, labels, n * sizeof(int64_t));
    }
    return QV_OK;
nomem:
    return qv_fail(err, QV_E_NOMEM, "cannot allocate hnsw graph of %zu rows",
                   total);
}

qv_code hnsw_graph_add(hnsw_graph *g, size_t n, const float *x,
                       const int64_t *labels, qv_pool *pool, qv_err *err)
{
    size_t total = g->n + n;
    if (total > HNSW_MAX_ROWS)
        return qv_fail(err, QV_E_INVALID,
                       "hnsw holds at most %zu rows, got %zu", HNSW_MAX_ROWS,
                       total);
    grown a;
    qv_code rc = grow(g, n, x, labels, &a, err);
    size_t nw = pool ? qv_pool_threads(pool) + 1 : 1;
    hnsw_scratch **scr = qv_xcalloc(nw, sizeof(*scr));
    for (size_t w = 0; w < nw && rc == QV_OK; w++) {
        scr[w] = qv_try_calloc(1, sizeof(hnsw_scratch));
        hnsw_graph view = *g;
        view.n = total;
        size_t ef = g->efc < total ? g->efc : total;
        if (!scr[w] || !hnsw_scratch_reserve(&view, scr[w], ef))
            rc = qv_fail(err, QV_E_NOMEM, "cannot allocate hnsw scratch");
    }
    if (rc != QV_OK) {
        grown_free(&a);
        for (size_t w = 0; w < nw; w++)
            hnsw_scratch_free(scr[w]);
        free(scr);
        return rc;
    }
    size_t old = g->n;
    hnsw_graph_release(g);
    g->vecs = a.vecs;
    g->links0 = a.links0;
    g->levels = a.levels;
    g->upper_off = a.upper_off;
    g->upper = a.upper;
    g->upper_len = a.upper_len;
    g->labels = a.labels;
    g->n = total;

    build_ctx b = {.g = g, .scr = scr};
    insert_range(g, &b, old, total, pool);
    free(b.pairs);
    free(b.groups);
    for (size_t w = 0; w < nw; w++)
        hnsw_scratch_free(scr[w]);
    free(scr);
    return QV_OK;
}

/* ---- validation of loaded graphs ------------------------------------- */

static qv_code check_list(const hnsw_graph *g, const uint32_t *ln, uint32_t cap,
                          int level, size_t node, qv_err *err)
{
    if (ln[0] > cap)
        return qv_fail(err, QV_E_CORRUPT,
                       "hnsw node %zu level %d has %u links, at most %u", node,
                       level, ln[0], cap);
    for (uint32_t j = 0; j < ln[0]; j++) {
        uint32_t v = ln[1 + j];
        if (v >= g->n || g->levels[v] < level)
            return qv_fail(err, QV_E_CORRUPT,
                           "hnsw node %zu level %d links to bad node %u", node,
                           level, v);
    }
    return QV_OK;
}

qv_code hnsw_graph_validate(const hnsw_graph *g, qv_err *err)
{
    if (g->n == 0)
        return g->max_level == -1
                   ? QV_OK
                   : qv_fail(err, QV_E_CORRUPT, "hnsw empty graph has levels");
    if (g->max_level < 0 || g->max_level > HNSW_MAX_LEVEL || g->entry >= g->n ||
        g->levels[g->entry] != g->max_level)
        return qv_fail(err, QV_E_CORRUPT, "hnsw entry point is invalid");
    for (size_t i = 0; i < g->n; i++) {
        int l = g->levels[i];
        if (l > g->max_level)
            return qv_fail(err, QV_E_CORRUPT,
                           "hnsw node %zu level %d above the top level", i, l);
        if (l == 0)
            continue;
        uint64_t end = (uint64_t)g->upper_off[i] + (uint64_t)l * (g->M + 1);
        if (g->upper_off[i] == HNSW_NO_UPPER || end > g->upper_len)
            return qv_fail(err, QV_E_CORRUPT,
                           "hnsw node %zu upper links out of bounds", i);
    }
    for (size_t i = 0; i < g->n; i++) {
        qv_code rc =
            check_list(g, hnsw_links(g, (uint32_t)i, 0), g->maxM0, 0, i, err);
        for (int l = 1; l <= g->levels[i] && rc == QV_OK; l++)
            rc = check_list(g, hnsw_links(g, (uint32_t)i, l), g->M, l, i, err);
        if (rc != QV_OK)
            return rc;
    }
    return QV_OK;
}
