/* hnsw.h -- the HNSW graph behind the HNSW index type (internal).
 *
 * A hierarchical navigable small world graph (Malkov & Yashunin) over float
 * vectors, scored so that SMALLER IS CLOSER (L2 as is, inner product
 * negated; COSINE rows arrive normalized).  index_hnsw.c wraps it in the
 * qv_index vtable; the graph itself knows nothing of params or files.
 *
 * Storage (structure of arrays, every array contiguous so that a loaded
 * index serves all of them in place from the mmapped file):
 *   vecs      n x dim floats, row i is internal id i
 *   links0    n x (1 + maxM0) u32: level-0 list of node i = count, ids...
 *   levels    n u8: top level of each node
 *   upper_off n u32: offset in `upper` of node i's lists for levels 1..L
 *             (HNSW_NO_UPPER for level-0 nodes)
 *   upper     per node, L lists of (1 + M) u32, level 1 first
 *   labels    n int64 user labels, or NULL when label == internal id
 *
 * Build (hnsw_build.c) inserts rows in batches so that it is parallel and
 * still deterministic: every node of a batch searches the graph as it was
 * before the batch (phase 1, parallel over nodes, each writes only its own
 * lists), then the reverse links are grouped by target node and merged
 * (phase 2, parallel over targets, each writes only its target's lists).
 * Neither phase depends on thread scheduling, so for a given seed, input
 * order and SIMD kernel level the graph is bit-for-bit the same whatever
 * the thread count (tests/unit/index_hnsw checks 1, 2 and 3 threads).
 * Levels come from a counter-based RNG keyed by (seed, internal id).
 *
 * Search (hnsw_search.c): greedy descent through the upper levels, then a
 * best-first beam of width ef at level 0, kept as a sorted array with an
 * "expanded" bit per entry.  Filtered search walks through excluded nodes
 * but returns only allowed ones, and switches to an exact scan of the
 * allowed rows when they are few (hnsw_use_exact()).
 *
 * Threading: build functions need exclusive access.  Searches only read the
 * graph; their scratch (visited tags with epochs, beam buffers) comes from
 * a lock-free pool of per-thread scratch objects (after hnswlib's
 * VisitedListPool), so any number of threads may search concurrently.
 */
#ifndef QV_HNSW_H
#define QV_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/pool.h"
#include "common/status.h"
#include "index/distance/distance.h"

#define HNSW_NO_UPPER      UINT32_MAX
#define HNSW_MAX_LEVEL     63
#define HNSW_MAX_ROWS      ((size_t)INT32_MAX) /* ids keep a spare top bit */
#define HNSW_SCRATCH_SLOTS 64

typedef struct hnsw_cand {
    float d;
    uint32_t id;
} hnsw_cand;

/* Per-thread search and build scratch.  Owned by one thread at a time. */
typedef struct hnsw_scratch {
    uint16_t *visited; /* epoch tag per node */
    size_t vcap;
    uint16_t epoch;
    hnsw_cand *beam; /* sorted beam, ef + 1 entries */
    size_t beam_cap;
    hnsw_cand *heap; /* frontier heap of the filtered search */
    size_t heap_cap;
    hnsw_cand *tmp; /* neighbour selection */
    size_t tmp_cap;
    uint32_t *queue; /* range search */
    size_t queue_cap;
    uint32_t *nbuf; /* unvisited neighbours of the node being expanded */
    size_t nbuf_cap;
} hnsw_scratch;

typedef struct hnsw_graph {
    size_t dim;
    bool ip;        /* score = -inner product */
    uint32_t M;     /* links per node on levels >= 1 */
    uint32_t maxM0; /* links per node on level 0 (2M) */
    uint32_t efc;   /* efConstruction */
    uint64_t seed;
    double mult; /* 1 / ln(M) */
    const qv_distance_kernels *kern;

    size_t n;
    float *vecs;
    uint32_t *links0;
    uint8_t *levels;
    uint32_t *upper_off;
    uint32_t *upper;
    size_t upper_len;
    int64_t *labels; /* NULL: identity */
    uint32_t entry;
    int max_level; /* -1 while empty */
    bool borrowed; /* arrays point into loaded bytes (not freed) */

    /* Scratch of concurrent searches; slots are swapped atomically. */
    hnsw_scratch *slots[HNSW_SCRATCH_SLOTS];
} hnsw_graph;

/* ---- graph lifetime (hnsw_build.c) ------------------------------------ */

void hnsw_graph_init(hnsw_graph *g, size_t dim, bool ip, uint32_t M,
                     uint32_t efc, uint64_t seed,
                     const qv_distance_kernels *kern);
/* Frees owned arrays and pooled scratch. */
void hnsw_graph_release(hnsw_graph *g);
/* Appends n rows (already normalized for COSINE) with their labels and
 * links them in; parallel on pool (NULL = calling thread only).  On
 * failure the graph is unchanged. */
qv_code hnsw_graph_add(hnsw_graph *g, size_t n, const float *x,
                       const int64_t *labels, qv_pool *pool,
                       qv_err *err) QV_MUST_USE;
/* Bytes owned by the graph. */
size_t hnsw_graph_memory(const hnsw_graph *g);
/* Checks every link, level and offset of a loaded graph. */
qv_code hnsw_graph_validate(const hnsw_graph *g, qv_err *err) QV_MUST_USE;

static inline uint32_t *hnsw_links(const hnsw_graph *g, uint32_t id, int level)
{
    if (level == 0)
        return g->links0 + (size_t)id * (g->maxM0 + 1);
    return g->upper + g->upper_off[id] + (size_t)(level - 1) * (g->M + 1);
}

static inline const float *hnsw_vec(const hnsw_graph *g, uint32_t id)
{
    return g->vecs + (size_t)id * g->dim;
}

static inline int64_t hnsw_label(const hnsw_graph *g, uint32_t id)
{
    return g->labels ? g->labels[id] : (int64_t)id;
}

static inline float hnsw_score(const hnsw_graph *g, const float *a,
                               const float *b)
{
    if (g->ip)
        return -g->kern->ip(a, b, g->dim);
    return g->kern->l2sqr(a, b, g->dim);
}

/* ---- scratch (hnsw_search.c) ------------------------------------------ */

/* Takes a scratch sized for the graph from the pool (or a new one); NULL
 * when out of memory. */
hnsw_scratch *hnsw_scratch_get(const hnsw_graph *g);
/* Returns it to the pool (or frees it when the pool is full). */
void hnsw_scratch_put(const hnsw_graph *g, hnsw_scratch *s);
void hnsw_scratch_free(hnsw_scratch *s);
/* Makes room for a visited tag per node of g and a beam of ef; false on
 * out of memory. */
bool hnsw_scratch_reserve(const hnsw_graph *g, hnsw_scratch *s, size_t ef);

/* ---- search primitives (hnsw_search.c) -------------------------------- */

/* Greedy descent from the entry point to level `to` (exclusive of levels
 * below it); returns the closest node found and its score in *d. */
uint32_t hnsw_descend(const hnsw_graph *g, const float *q, int to, float *d);
/* Best-first search of one level from ep; leaves the beam sorted
 * ascending in s->beam and returns its size (<= ef). */
size_t hnsw_search_layer(const hnsw_graph *g, hnsw_scratch *s, const float *q,
                         uint32_t ep, float ep_d, size_t ef, int level);

/* Options of one query. */
typedef struct hnsw_query {
    size_t k;
    size_t ef;
    const qv_bitset *filter; /* set bit (by label) = excluded */
    size_t pass_count;       /* rows the filter lets through */
    int mode;                /* HNSW_MODE_* */
} hnsw_query;

enum {
    HNSW_MODE_AUTO = 0,  /* graph, or exact when the filter passes few */
    HNSW_MODE_GRAPH = 1, /* always the graph (benchmarks, tests) */
    HNSW_MODE_EXACT = 2, /* always the exact scan (benchmarks, tests) */
};

/* The crossover rule: exact scan when pass_count^2 / n < HNSW_EXACT_GAMMA *
 * ef, i.e. when scanning the pass_count allowed rows costs less than the
 * graph walk, whose cost grows like ef / pass_ratio.  index_bench --filter
 * measured the crossover at gamma ~13 on localsift-332K (pass ratio 0.05)
 * and ~18 on siftsmall-10K (0.35) with M=16, ef=64; see bench/README.md. */
#define HNSW_EXACT_GAMMA 16.0
bool hnsw_use_exact(const hnsw_graph *g, const hnsw_query *hq);

/* Top-k of one query: scores ascending and labels, k entries padded with
 * (+inf, -1).  false when scratch cannot grow (out of memory). */
bool hnsw_knn(const hnsw_graph *g, hnsw_scratch *s, const float *q,
              const hnsw_query *hq, float *scores, int64_t *labels);

/* Range search of one query: every allowed row with lo <= score < hi that
 * the graph reaches from a beam of at least ef (widened while all of it is
 * in range) through rows with score < hi.  When that beam would score more
 * rows than the index holds, all rows are scanned instead (mode AUTO; mode
 * GRAPH always walks, EXACT always scans).  Calls emit(arg, score, label)
 * for each row found; false on out of memory. */
bool hnsw_range(const hnsw_graph *g, hnsw_scratch *s, const float *q, size_t ef,
                int mode, const qv_bitset *filter, float lo, float hi,
                void (*emit)(void *arg, float score, int64_t label), void *arg);

#endif
