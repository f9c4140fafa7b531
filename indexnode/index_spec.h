/* index_spec.h -- what a CreateIndex asks for, normalized and checked
 * against the field it indexes (DESIGN §6, notes/sdk-compat.md §4.7).
 *
 * The SDKs send CreateIndex extra_params in several shapes: "index_type",
 * "metric_type" and "params" (JSON text of the build parameters), or
 * legacy pairs such as "nlist" or "M" next to them, or no index_type at all
 * (AUTOINDEX), and no metric_type for scalar indexes.  qv_index_spec_parse()
 * turns every shape into one spec:
 *
 *   vector fields (FloatVector, Float16Vector, BFloat16Vector, Int8Vector,
 *     BinaryVector): FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ, HNSW, BIN_FLAT,
 *     BIN_IVF_FLAT, AUTOINDEX (HNSW for float vectors, BIN_IVF_FLAT for
 *     binary ones).  A missing metric is COSINE (float) or HAMMING
 *     (binary).  Build parameters are checked by creating an empty index
 *     with the index library (index/index.h), so ranges and names are the
 *     library's own.
 *   scalar fields: STL_SORT, INVERTED, BITMAP, Trie, AUTOINDEX (INVERTED
 *     where it fits, else STL_SORT); the metric is ignored; parameters are
 *     checked by the scalar index library (index/scalar/scalar_index.h).
 *
 * The spec's `params` (index_type, metric_type, params JSON) is what
 * DescribeIndex returns and what IndexInfo stores; parsing those stored
 * params again gives the same spec, which is how the indexnode reads the
 * IndexInfo a build carries.
 *
 * Errors: QV_E_INVALID naming the field, the key and the allowed values;
 * QV_E_UNSUPPORTED for an unknown index type (Milvus answers
 * UnexpectedError there) and for field types without an index here
 * (SparseFloatVector, JSON).
 *
 * Ownership: a spec owns its strings; qv_index_spec_release() frees them.
 * Threading: pure functions.
 */
#ifndef QV_INDEX_SPEC_H
#define QV_INDEX_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"
#include "common/status.h"
#include "index/index.h"
#include "index/scalar/scalar_index.h"

/* The indexed field, as far as index choice goes. */
typedef struct qv_index_field {
    const char *name; /* for messages */
    qv_dtype type;
    qv_dtype elem_type; /* Array */
    uint32_t dim;       /* dense vectors */
} qv_index_field;

typedef struct qv_index_spec {
    bool is_vector;
    char index_type[24];  /* as DescribeIndex shows it: "HNSW", "AUTOINDEX" */
    char metric_type[16]; /* "" for scalar indexes */
    /* Vector: the index actually built (AUTOINDEX resolved for binary
     * vectors; float AUTOINDEX stays AUTOINDEX, the library resolves it). */
    qv_index_type vtype;
    qv_metric metric;
    qv_sindex_type stype; /* scalar */
    qv_kv *build;         /* build parameters (owned strings) */
    size_t nbuild;
    char *params_json; /* the build parameters as a JSON object */
} qv_index_spec;

/* Normalizes and checks kv[0..n) (the request's extra_params, or stored
 * IndexInfo params) for field f. */
qv_code qv_index_spec_parse(const qv_kv *kv, size_t n, const qv_index_field *f,
                            qv_index_spec *out, qv_err *err) QV_MUST_USE;
void qv_index_spec_release(qv_index_spec *s);

/* Whether two specs ask for the same index (type, metric, parameters). */
bool qv_index_spec_equal(const qv_index_spec *a, const qv_index_spec *b);

/* The build parameter `key`, or NULL. */
const char *qv_index_spec_param(const qv_index_spec *s, const char *key);

#endif
