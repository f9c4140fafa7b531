/* index_impl.h -- internals shared by the index implementations (not for
 * users of the library; they include index/index.h only).
 *
 * Each index type is a qv_index_ops vtable plus a struct that embeds
 * `qv_index base` as its FIRST member (after git's ref_store).  The public
 * wrappers in index.c validate arguments, normalize COSINE vectors, parse
 * the search parameters common to all types (radius, range_filter) and then
 * call the ops; an ops function may therefore assume:
 *   - x / q are non-NULL, n / nq >= 1, k in [1, QV_INDEX_MAX_K];
 *   - float rows are float32 and already normalized for COSINE;
 *   - binary rows are row_bytes bytes;
 *   - add is only called on a trained, non-loaded index.
 *
 * Registry: index.c holds one table indexed by qv_index_type.  The HNSW
 * implementation joins it without edits elsewhere: index/CMakeLists.txt
 * compiles index_hnsw.c and index/hnsw/\*.c when they exist and then defines
 * QV_HAVE_HNSW, and index.c references the symbol
 *
 *     extern const qv_index_ops qv_index_hnsw_ops;
 *
 * which index_hnsw.c defines (with .type = QV_INDEX_HNSW).  Any other new
 * type adds its `extern` line and one table entry in index.c.
 *
 * Scores: inside an index every distance is a "score" where SMALLER IS
 * CLOSER: L2, HAMMING and JACCARD as they are, IP and COSINE negated.  The
 * top-k heap and the range collector work on scores and convert back to
 * Milvus distances when they finish (qv__topk_finish, qv__range_assemble).
 *
 * Threading: ops must keep search, range_search, get_vectors, serialize and
 * memory_size free of writes to shared state, so that concurrent calls on a
 * built or loaded index are safe without locks.  Per-call scratch is
 * allocated per call or per worker (qv_pool_parallel_for's worker index).
 */
#ifndef QV_INDEX_IMPL_H
#define QV_INDEX_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/buf.h"
#include "common/status.h"
#include "index/distance/distance.h"
#include "index/index.h"

#define QV_INDEX_MAX_DIM   32768
#define QV_INDEX_MAX_K     16384 /* Milvus topk limit */
#define QV_INDEX_FORMAT_V1 1

/* ---- capabilities ---------------------------------------------------- */

enum qv_index_caps {
    QV_IXCAP_FLOAT = 1 << 0,       /* accepts L2 / IP / COSINE */
    QV_IXCAP_BINARY = 1 << 1,      /* accepts HAMMING / JACCARD */
    QV_IXCAP_TRAIN = 1 << 2,       /* must be trained before add */
    QV_IXCAP_RAW_VECTORS = 1 << 3, /* get_vectors returns exact rows */
};

/* ---- base struct ------------------------------------------------------ */

struct qv_index {
    const struct qv_index_ops *ops;
    qv_index_type type; /* resolved: never QV_INDEX_AUTOINDEX */
    qv_metric metric;
    size_t dim;       /* elements (bits for binary metrics) */
    size_t row_bytes; /* bytes of one stored row: dim*4 or dim/8 */
    size_t ntotal;    /* rows added */
    bool trained;
    bool loaded; /* serves borrowed bytes: add refused */
    const qv_distance_kernels *kern;
    char *params_text; /* resolved build params, "key=value\n" lines */
    void *load_copy;   /* aligned private copy of misaligned load input */
};

/* Per-call search state handed to the ops by the wrappers. */
typedef struct qv__search_ctx {
    size_t k;                /* top-k (search only) */
    const qv_params *params; /* the caller's search params (never NULL) */
    const qv_bitset *filter; /* set bit = excluded; may be NULL */
    qv_pool *pool;           /* may be NULL: run inline */
    /* Range search: keep rows with range_lo <= score < range_hi (scores,
     * so IP/COSINE bounds are already negated). */
    float range_lo, range_hi;
} qv__search_ctx;

typedef struct qv__writer qv__writer;
typedef struct qv__reader qv__reader;

/* The vtable.  Every function returns qv_code and fills err on failure;
 * ops marked optional may be NULL. */
typedef struct qv_index_ops {
    const char *name;   /* Milvus index type name, e.g. "IVF_FLAT" */
    qv_index_type type; /* registry key */
    uint32_t caps;      /* enum qv_index_caps */
    size_t impl_size;   /* sizeof the type's struct (embeds qv_index) */
    /* Parses and validates the build params into the zeroed impl (base
     * fields already set) and appends the resolved values to
     * ix->params_text with qv__params_text_add() so that load can call init
     * again with them.  On failure release is still called. */
    qv_code (*init)(qv_index *ix, const qv_params *build, qv_err *err);
    /* Validates the type's own search params (not radius/range_filter). */
    qv_code (*check_search_params)(const qv_params *p, qv_err *err);
    /* Optional (NULL = no training). */
    qv_code (*train)(qv_index *ix, size_t n, const void *x, qv_err *err);
    /* labels is never NULL here (the wrapper fills ntotal..ntotal+n-1);
     * the op must update ix->ntotal. */
    qv_code (*add)(qv_index *ix, size_t n, const void *x, const int64_t *labels,
                   qv_err *err);
    /* Writes nq*ctx->k results; must pad with qv__topk_finish. */
    qv_code (*search)(const qv_index *ix, size_t nq, const void *q,
                      const qv__search_ctx *ctx, float *distances,
                      int64_t *labels, qv_err *err);
    qv_code (*range_search)(const qv_index *ix, size_t nq, const void *q,
                            const qv__search_ctx *ctx, qv_range_result *out,
                            qv_err *err);
    /* Optional: NULL = QV_E_UNSUPPORTED.  A label not in the index is
     * QV_E_NOT_FOUND. */
    qv_code (*get_vectors)(const qv_index *ix, size_t n, const int64_t *labels,
                           void *out, qv_err *err);
    /* Writes the type's sections (the header and params are written by
     * the caller). */
    qv_code (*serialize)(const qv_index *ix, qv__writer *w, qv_err *err);
    /* Sets up the (already init-ed) index over the reader's sections,
     * borrowing them; must validate every size and offset it uses. */
    qv_code (*load)(qv_index *ix, const qv__reader *r, qv_err *err);
    /* Bytes owned by the type (not counting borrowed bytes). */
    size_t (*memory_size)(const qv_index *ix);
    /* Frees everything the type owns, not ix itself. */
    void (*release)(qv_index *ix);
} qv_index_ops;

/* Scores <-> Milvus distances. */
static inline float qv__to_score(qv_metric m, float d)
{
    return qv_metric_larger_is_closer(m) ? -d : d;
}

/* A set bit in the filter excludes the label; labels past the bitset's end
 * are not excluded. */
static inline bool qv__excluded(const qv_bitset *f, int64_t label)
{
    return f && (uint64_t)label < f->nbits && qv_bitset_test(f, (size_t)label);
}

/* Rows NOT excluded among labels [0, ntotal) (ntotal when no filter). */
size_t qv__filter_pass_count(const qv_bitset *f, size_t ntotal);

/* ---- parameters ------------------------------------------------------- */

/* The value of key, or NULL. */
const char *qv__param_get(const qv_params *p, const char *key);
/* Integer param in [lo, hi]; def when absent.  Errors name the key and the
 * range, e.g. "nlist must be an integer in [1, 65536], got 'x'". */
qv_code qv__param_int(const qv_params *p, const char *key, int64_t def,
                      int64_t lo, int64_t hi, int64_t *out,
                      qv_err *err) QV_MUST_USE;
/* Float param; *present says whether it was given. */
qv_code qv__param_float(const qv_params *p, const char *key, bool *present,
                        double *out, qv_err *err) QV_MUST_USE;
/* Appends "key=value\n" to ix->params_text. */
void qv__params_text_add(qv_index *ix, const char *key, int64_t value);

/* ---- top-k heap ------------------------------------------------------ */

/* A max-heap of the k best (smallest) scores, stored in the caller's output
 * arrays.  Cheap for small k: a push below the current worst is one compare
 * plus a sift-down of log2(k) levels. */
typedef struct qv__topk {
    float *d;
    int64_t *l;
    size_t k, n;
} qv__topk;

static inline void qv__topk_init(qv__topk *h, size_t k, float *d, int64_t *l)
{
    h->d = d;
    h->l = l;
    h->k = k;
    h->n = 0;
}

/* The score a candidate must beat (+inf until the heap is full). */
static inline float qv__topk_worst(const qv__topk *h)
{
    return h->n < h->k ? INFINITY : h->d[0];
}

/* Inserts (s, label); call only when s < qv__topk_worst(h). */
static inline void qv__topk_push(qv__topk *h, float s, int64_t label)
{
    float *d = h->d;
    int64_t *l = h->l;
    size_t i;
    if (h->n < h->k) {
        i = h->n++;
        while (i > 0) {
            size_t p = (i - 1) >> 1;
            if (d[p] >= s)
                break;
            d[i] = d[p];
            l[i] = l[p];
            i = p;
        }
    } else {
        size_t n = h->n;
        i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n)
                break;
            if (c + 1 < n && d[c + 1] > d[c])
                c++;
            if (d[c] <= s)
                break;
            d[i] = d[c];
            l[i] = l[c];
            i = c;
        }
    }
    d[i] = s;
    l[i] = label;
}

/* Sorts the heap closest first, converts scores to Milvus distances and
 * pads to k with label -1 and distance +inf (-inf for IP/COSINE). */
void qv__topk_finish(qv__topk *h, qv_metric m);

/* ---- range results ---------------------------------------------------- */

/* A growable (score, label) list for one query of a range search. */
typedef struct qv__rlist {
    size_t n, cap;
    float *d;
    int64_t *l;
    bool oom;
} qv__rlist;

void qv__rlist_push(qv__rlist *r, float score, int64_t label);
/* Sorts each of the nq lists, converts scores to distances, concatenates
 * them into out and frees the lists (always, also on failure). */
qv_code qv__range_assemble(qv__rlist *lists, size_t nq, qv_metric m,
                           qv_range_result *out, qv_err *err) QV_MUST_USE;

/* ---- file format (index_io.c) ---------------------------------------- */

/* Layout (little-endian; every section starts at a 64-byte aligned offset
 * from the start of the file, so a file mmapped at a page boundary serves
 * vectors and codes in place):
 *
 *   0   u32 magic 'QVIX'   4 u32 format version   8 u32 index type
 *   12  u32 metric         16 u64 dim             24 u64 ntotal
 *   32  u64 file length    40 u32 nsections       44 u32 flags (1=trained)
 *   48  16 reserved zero bytes
 *   64  section table: nsections x {u32 tag, u32 0, u64 offset, u64 len}
 *   ..  sections (the first is 'PARM': the resolved build params text)
 *   end u32 crc32c of every byte before it, u32 magic 'QVIE'
 */
#define QV_IX_MAX_SECTIONS 32
#define QV_IX_ALIGN        64
#define QV_FOURCC(a, b, c, d)                                                  \
    ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) |            \
     ((uint32_t)(d) << 24))

struct qv__writer {
    qv_buf *out;
    size_t start; /* offset of the header in out */
    size_t nsec;
    uint32_t tag[QV_IX_MAX_SECTIONS];
    uint64_t off[QV_IX_MAX_SECTIONS], len[QV_IX_MAX_SECTIONS];
    bool open; /* a section is being streamed */
};

/* Adds one whole section. */
qv_code qv__writer_section(qv__writer *w, uint32_t tag, const void *data,
                           size_t len, qv_err *err) QV_MUST_USE;
/* Streams one section: begin, any number of appends, end. */
qv_code qv__writer_begin(qv__writer *w, uint32_t tag, qv_err *err) QV_MUST_USE;
qv_code qv__writer_append(qv__writer *w, const void *data, size_t len,
                          qv_err *err) QV_MUST_USE;
void qv__writer_end(qv__writer *w);

struct qv__reader {
    const uint8_t *data;
    size_t len;
    uint32_t version, type, metric, flags;
    uint64_t dim, ntotal;
    size_t nsec;
    uint32_t tag[QV_IX_MAX_SECTIONS];
    uint64_t off[QV_IX_MAX_SECTIONS], len_[QV_IX_MAX_SECTIONS];
};

/* Finds section tag holding count elements of elem_size bytes (count ==
 * SIZE_MAX: any whole number of elements, returned in *count).  The
 * pointer is aligned to QV_IX_ALIGN relative to the file start.
 * QV_E_CORRUPT when missing or of the wrong size. */
qv_code qv__reader_section(const qv__reader *r, uint32_t tag, size_t elem_size,
                           size_t *count, const void **ptr,
                           qv_err *err) QV_MUST_USE;
/* Like qv__reader_section for a section that must hold exactly count
 * elements. */
qv_code qv__reader_exact(const qv__reader *r, uint32_t tag, size_t elem_size,
                         size_t count, const void **ptr,
                         qv_err *err) QV_MUST_USE;

/* Creates the empty index a file header describes (index.c; used by the
 * loader): validates type, metric, dim and the params section. */
qv_code qv__index_from_header(const qv__reader *r, qv_index **out,
                              qv_err *err) QV_MUST_USE;

/* ---- OpenBLAS (blas.c) ------------------------------------------------ */

/* C(m x n) = alpha * A(m x k) * B(n x k)^T + beta * C, row-major, on the
 * calling thread (OpenBLAS is held to one thread; we parallelize above). */
void qv__sgemm_nt(size_t m, size_t n, size_t k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc);

/* ---- row store (index_rows.c): raw rows + labels, FLAT and BIN_FLAT -- */

/* n rows of row_bytes, 64-byte aligned, owned or borrowed from a loaded
 * file; labels are implicit (row i has label i) until an add passes
 * labels that break the sequence, then ids holds one per row. */
typedef struct qv__rows {
    uint8_t *data;
    size_t row_bytes, n, cap;
    int64_t *ids; /* NULL = identity labels */
    bool borrowed;
} qv__rows;

qv_code qv__rows_add(qv__rows *r, size_t n, const void *x,
                     const int64_t *labels, qv_err *err) QV_MUST_USE;
static inline int64_t qv__rows_label(const qv__rows *r, size_t i)
{
    return r->ids ? r->ids[i] : (int64_t)i;
}
/* Row of a label (linear scan when labels are not the identity);
 * QV_E_NOT_FOUND if absent. */
qv_code qv__rows_find(const qv__rows *r, int64_t label, size_t *row,
                      qv_err *err) QV_MUST_USE;
/* Writes sections 'ROWS' and, when labels are explicit, 'IDS '. */
qv_code qv__rows_write(const qv__rows *r, qv__writer *w,
                       qv_err *err) QV_MUST_USE;
/* Borrows rows and labels of ntotal rows from a reader. */
qv_code qv__rows_read(qv__rows *r, const qv__reader *rd, size_t ntotal,
                      qv_err *err) QV_MUST_USE;
size_t qv__rows_memory(const qv__rows *r);
void qv__rows_release(qv__rows *r);
/* get_vectors over a row store. */
qv_code qv__rows_get(const qv__rows *r, size_t n, const int64_t *labels,
                     void *out, qv_err *err) QV_MUST_USE;

/* ---- exact float scans (index_flat.c) -------------------------------- */

/* Scores float query q against n contiguous rows x (dim floats each) with
 * the index's kernels and pushes each row that beats the heap and that the
 * filter passes.  Row i's label is ids[i], or base + i when ids is NULL. */
void qv__scan_topk(const qv_index *ix, const float *q, const float *x, size_t n,
                   const int64_t *ids, int64_t base, const qv_bitset *filter,
                   qv__topk *h);
/* Same, collecting rows with lo <= score < hi. */
void qv__scan_range(const qv_index *ix, const float *q, const float *x,
                    size_t n, const int64_t *ids, int64_t base,
                    const qv_bitset *filter, float lo, float hi,
                    qv__rlist *out);

/* ---- registry ops of the built-in types ------------------------------- */

extern const qv_index_ops qv__flat_ops;
extern const qv_index_ops qv__ivf_flat_ops;
extern const qv_index_ops qv__ivf_sq8_ops;
extern const qv_index_ops qv__ivf_pq_ops;
extern const qv_index_ops qv__bin_flat_ops;
extern const qv_index_ops qv__bin_ivf_flat_ops;

#endif
