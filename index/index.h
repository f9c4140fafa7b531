/* index.h -- the one interface of every vector index (after FAISS Index.h).
 *
 * An index holds n vectors of one dimension under one metric and answers
 * top-k and range queries.  Rows are identified by int64 row offsets within
 * the segment the index was built for (labels); search results carry those
 * labels, padded with -1 when fewer than k rows qualify.
 *
 * Vector element types:
 *   float metrics (L2, IP, COSINE): rows are dim float32 values.  Float16,
 *     BFloat16 and Int8 vectors are converted with qv_vec_to_float() first.
 *   binary metrics (HAMMING, JACCARD): rows are dim/8 bytes.
 *
 * Distances follow Milvus: L2 is the squared Euclidean distance (smaller is
 * closer); IP is the inner product and COSINE the cosine similarity (larger
 * is closer); HAMMING is the number of differing bits; JACCARD is
 * 1 - |a&b|/|a|b| (smaller is closer).  Results are sorted closest first.
 * COSINE normalizes vectors at add and queries at search.
 *
 * Filtering: search takes an optional bitset over labels; a SET bit EXCLUDES
 * the row (common/bitset.h).  Excluded rows are never returned.
 *
 * Range search (Milvus semantics): with `radius` r and optional
 * `range_filter` f, L2/HAMMING/JACCARD return rows with f <= d < r; IP and
 * COSINE return rows with r < d <= f.  IVF types probe nprobe lists, then
 * continue until `max_empty_result_buckets` lists in a row add nothing.
 *
 * Parameters are key/value strings with Milvus names: build params such as
 * HNSW "M", "efConstruction"; IVF "nlist"; PQ "m", "nbits"; search params
 * such as "ef", "nprobe", "radius", "range_filter".  Every value is
 * validated; errors name the key and its allowed range.
 *
 * Ownership: qv_index_create() returns an index the caller frees with
 * qv_index_free().  An index loaded with qv_index_load() BORROWS the bytes it
 * was loaded from (typically an mmapped file) for its whole life: vectors and
 * codes are used in place, not copied.
 *
 * Threading: build calls (train, add) need exclusive access.  Once built or
 * loaded, any number of threads may search one index concurrently without
 * locks.  A search of nq queries runs in parallel over queries on the pool
 * given in qv_search_args (NULL = the calling thread only).
 */
#ifndef QV_INDEX_H
#define QV_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/buf.h"
#include "common/pool.h"
#include "common/status.h"

typedef enum qv_metric {
    QV_METRIC_L2 = 0,
    QV_METRIC_IP = 1,
    QV_METRIC_COSINE = 2,
    QV_METRIC_HAMMING = 3,
    QV_METRIC_JACCARD = 4,
} qv_metric;

typedef enum qv_index_type {
    QV_INDEX_FLAT = 0,
    QV_INDEX_IVF_FLAT = 1,
    QV_INDEX_IVF_SQ8 = 2,
    QV_INDEX_IVF_PQ = 3,
    QV_INDEX_HNSW = 4,
    QV_INDEX_BIN_FLAT = 5,
    QV_INDEX_BIN_IVF_FLAT = 6,
    QV_INDEX_AUTOINDEX = 7, /* resolved to HNSW at create */
    QV_INDEX_TYPE_COUNT
} qv_index_type;

/* Element types of input vectors (for conversion to float). */
typedef enum qv_vec_elem {
    QV_ELEM_FLOAT32 = 0,
    QV_ELEM_FLOAT16 = 1,
    QV_ELEM_BFLOAT16 = 2,
    QV_ELEM_INT8 = 3,
    QV_ELEM_BINARY = 4,
} qv_vec_elem;

typedef struct qv_kv {
    const char *key;
    const char *value;
} qv_kv;

/* A borrowed list of parameters; keys are case-sensitive Milvus names. */
typedef struct qv_params {
    const qv_kv *kv;
    size_t n;
} qv_params;

typedef struct qv_search_args {
    const qv_params *params; /* "ef", "nprobe", "radius", ...; may be NULL */
    const qv_bitset *filter; /* set bit = excluded; NULL = no filter */
    qv_pool *pool;           /* parallelism over queries; NULL = inline */
} qv_search_args;

/* Result of a range search: query i owns entries lims[i] .. lims[i+1]-1,
 * sorted closest first.  Owned by the caller: qv_range_result_release(). */
typedef struct qv_range_result {
    size_t nq;
    size_t *lims; /* nq + 1 entries */
    int64_t *labels;
    float *distances;
} qv_range_result;

void qv_range_result_release(qv_range_result *r);

typedef struct qv_index qv_index;

/* Parse names as Milvus spells them ("L2", "IP", "COSINE", "HAMMING",
 * "JACCARD"; "FLAT", "IVF_FLAT", ..., "AUTOINDEX"); case-insensitive. */
qv_code qv_metric_parse(const char *name, qv_metric *out, qv_err *err);
const char *qv_metric_name(qv_metric m);
qv_code qv_index_type_parse(const char *name, qv_index_type *out, qv_err *err);
const char *qv_index_type_name(qv_index_type t);
static inline bool qv_metric_is_binary(qv_metric m)
{
    return m == QV_METRIC_HAMMING || m == QV_METRIC_JACCARD;
}
/* True when larger distances are closer (IP, COSINE). */
static inline bool qv_metric_larger_is_closer(qv_metric m)
{
    return m == QV_METRIC_IP || m == QV_METRIC_COSINE;
}

/* Creates an empty index.  dim is in elements (bits for binary metrics, a
 * multiple of 8).  Validates the type/metric pair and every build param. */
qv_code qv_index_create(qv_index_type type, qv_metric metric, size_t dim,
                        const qv_params *build_params, qv_index **out,
                        qv_err *err) QV_MUST_USE;
void qv_index_free(qv_index *ix);

/* Validates search params for an index without searching (for the proxy). */
qv_code qv_index_check_search_params(qv_index_type type,
                                     const qv_params *params,
                                     qv_err *err) QV_MUST_USE;

bool qv_index_needs_training(const qv_index *ix);
qv_code qv_index_train(qv_index *ix, size_t n, const void *x,
                       qv_err *err) QV_MUST_USE;
/* Adds n rows.  labels may be NULL: labels ntotal .. ntotal+n-1. */
qv_code qv_index_add(qv_index *ix, size_t n, const void *x,
                     const int64_t *labels, qv_err *err) QV_MUST_USE;
/* Top-k search; distances and labels are caller-allocated nq*k arrays. */
qv_code qv_index_search(const qv_index *ix, size_t nq, const void *q, size_t k,
                        const qv_search_args *args, float *distances,
                        int64_t *labels, qv_err *err) QV_MUST_USE;
qv_code qv_index_range_search(const qv_index *ix, size_t nq, const void *q,
                              const qv_search_args *args, qv_range_result *out,
                              qv_err *err) QV_MUST_USE;
/* Copies the stored vectors of n labels into out (n rows); QV_E_UNSUPPORTED
 * when the index does not keep raw vectors (SQ8, PQ), QV_E_NOT_FOUND for a
 * label it does not hold.  COSINE indexes return the normalized rows. */
qv_code qv_index_get_vectors(const qv_index *ix, size_t n,
                             const int64_t *labels, void *out,
                             qv_err *err) QV_MUST_USE;

/* Appends the index to out: magic, format version, parameters, data,
 * checksum (layout: index/README.md). */
qv_code qv_index_serialize(const qv_index *ix, qv_buf *out,
                           qv_err *err) QV_MUST_USE;
/* Loads an index from bytes that must outlive it (mmap-friendly: vectors
 * and codes are used in place).  Damaged input gives QV_E_CORRUPT. */
qv_code qv_index_load(const void *data, size_t len, qv_index **out,
                      qv_err *err) QV_MUST_USE;

size_t qv_index_ntotal(const qv_index *ix);
size_t qv_index_dim(const qv_index *ix);
qv_metric qv_index_metric(const qv_index *ix);
qv_index_type qv_index_type_of(const qv_index *ix);
/* Bytes of memory the index holds (excluding borrowed mmapped bytes). */
size_t qv_index_memory_size(const qv_index *ix);

/* OpenBLAS health: true when the OpenBLAS core it picked at load time suits
 * this CPU.  Otherwise false, and msg (cap bytes) says which
 * OPENBLAS_CORETYPE to export: OpenBLAS reads it only when it is loaded, so
 * the `quiver` launcher and test environments must set it (see
 * scripts/openblas-coretype.sh).  msg may be NULL. */
bool qv_index_blas_check(char *msg, size_t cap);

/* Converts n vectors of dim elements to float32 (out: n*dim floats). */
qv_code qv_vec_to_float(qv_vec_elem elem, size_t n, size_t dim, const void *in,
                        float *out, qv_err *err) QV_MUST_USE;

#endif
