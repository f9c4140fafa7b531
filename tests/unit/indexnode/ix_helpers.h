/* ix_helpers.h -- test helpers for the indexnode tests: column files in an
 * fs object store, build requests, exact recall. */
#ifndef QV_TEST_IX_HELPERS_H
#define QV_TEST_IX_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"
#include "common/objstore/objstore.h"
#include "internal/indexnode.pb-c.h"

objstore *ixh_open_fs(const char *dir);
/* The segment the helpers use: collection 1, partition 2, segment 5,
 * log 77. */
Quiver__Internal__SegmentInfo *ixh_seg(void);
float *ixh_random_vectors(size_t n, size_t dim, uint32_t seed);
void ixh_put_float_column(objstore *os, const Quiver__Internal__SegmentInfo *s,
                          int64_t field, const float *x, size_t n, size_t dim);
void ixh_put_int64_column(objstore *os, const Quiver__Internal__SegmentInfo *s,
                          int64_t field, const int64_t *v, size_t n);
/* The whole object in a fresh 64-byte aligned buffer (free()); its size. */
size_t ixh_get(objstore *os, const char *key, void **out);

/* A build request (build 900 of segment ixh_seg()). */
typedef struct ixh_req {
    Quiver__Internal__BuildIndexRequest rq;
    Quiver__Internal__SegmentIndex build;
    Milvus__Proto__Schema__FieldSchema field;
    Milvus__Proto__Common__KeyValuePair dim_kv, p[3], *tp[1], *pp[3];
    Quiver__Internal__IndexInfo index;
    char dim[24];
} ixh_req;
void ixh_req_init(ixh_req *r, int64_t field, qv_dtype type, size_t dim,
                  const char *index_type, const char *metric,
                  const char *params);
void ixh_req_release(ixh_req *r);

/* recall@k of labels (nq x k) against exact L2 neighbours in x. */
double ixh_recall(const float *x, size_t n, size_t dim, const float *q,
                  size_t nq, size_t k, const int64_t *labels);

#endif
