/* search.h -- filtered vector search over the segments of one shard at a
 * read timestamp, the merge of per-segment (or per-shard) top-k lists with
 * primary-key dedupe, and the gathering of result rows into columns.
 *
 * Per segment: exclude = MVCC mask at req->ts (growing.h) OR the filter
 * (qv_expr_filter, SET = filtered out).  A sealed segment with a vector
 * index of the field and metric (querynode/sealed_index.h) is searched
 * through the index with that bitset (pre-filtering; the index library
 * switches to an exact scan of the passing rows when few pass) and
 * req->params; when nothing is excluded (no filter, every row visible at
 * req->ts) no bitset is built at all.  Other segments (growing, no index,
 * another metric) are scored exactly (FLAT): rows left are scored against
 * every query and the k closest kept.  Then the segments' lists are
 * merged.
 * Distances follow index/index.h (L2 squared, IP, COSINE similarity,
 * HAMMING, JACCARD), sorted closest first; equal distances keep the
 * smaller (segment, row) first.
 *
 * Ownership: hits borrow VarChar PK bytes from the snapshot; results are
 * valid while the qv_shard_snap they came from is held.  Gathered columns
 * are new memory columns the caller frees.
 * Threading: pure functions over a pinned snapshot; any number of threads.
 */
#ifndef QV_QN_SEARCH_H
#define QV_QN_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/expr/expr.h"
#include "common/hts.h"
#include "index/index.h"
#include "querynode/shard.h"

#define QV_SEARCH_MAX_TOPK 16384
#define QV_SEARCH_MAX_NQ   16384

typedef struct qv_search_req {
    int64_t field_id; /* the vector field */
    qv_metric metric;
    size_t nq;
    /* nq query rows: dim float32 values for Float/Float16/BFloat16/Int8
     * vector fields, dim/8 bytes for BinaryVector (the caller has checked
     * the dim against the schema) */
    const void *queries;
    size_t topk;                /* 1..QV_SEARCH_MAX_TOPK */
    const qv_expr_plan *filter; /* NULL = every row */
    const int64_t *partitions;  /* NULL/0 = every partition */
    size_t npartitions;
    qv_ts ts; /* read timestamp R */
    /* SparseFloatVector fields (metric IP): the queries as a sparse
     * column view of nq rows; `queries` is then ignored */
    const qv_col_view *sparse_queries;
    /* Range search (index/index.h semantics): only rows with
     * range_filter <= d < radius (L2, HAMMING, JACCARD) or
     * radius < d <= range_filter (IP, COSINE) qualify; at most topk per
     * query, closest first.  has_range_filter = false drops that bound. */
    bool has_range;
    bool has_range_filter;
    float radius;
    float range_filter;
    /* Index search parameters (Milvus names: "ef", "nprobe", "radius",
     * "range_filter", ...) for segments searched through a vector index;
     * NULL = defaults.  They must agree with has_range / radius /
     * range_filter above (qv_search_params_parse fills both). */
    const qv_params *params;
    /* Grouping search (Milvus group_by_field): group_field_id != 0 keeps
     * at most topk groups of rows with equal values of that field (Bool,
     * Int8..Int64 or VarChar; NULL is a group of its own), each with at
     * most group_size hits (1..QV_SEARCH_MAX_GROUP_SIZE); groups ordered
     * by their closest hit, hits of a group closest first.  A segment is
     * searched again with more candidates until it yields topk groups
     * (and, with group_strict, every group full) or has no more rows.
     * Results then hold up to topk * group_size hits per query.  Not with
     * range search. */
    int64_t group_field_id;
    size_t group_size;
    bool group_strict;
} qv_search_req;

#define QV_SEARCH_MAX_GROUP_SIZE 1024

/* Parses a ShardSearchRequest.search_params JSON object (text of n bytes;
 * n = 0 = none) into req->params (key/value strings: numbers as written,
 * strings decoded, booleans "true"/"false"), the range fields of req and
 * its grouping fields (keys group_by_field_id, group_size,
 * strict_group_size, which the proxy adds).
 * kv receives the array (free it, and each kv[i].key / value, with
 * qv_search_params_free).  QV_E_INVALID for text that is not a JSON
 * object, a radius or range_filter that is not a finite number, or a
 * range_filter on the far side of radius. */
qv_code qv_search_params_parse(const char *json, size_t n, qv_search_req *req,
                               qv_params *params, qv_err *err) QV_MUST_USE;
void qv_search_params_free(qv_params *params);

typedef struct qv_hit {
    float distance;
    uint32_t seg; /* index into the snapshot */
    int64_t row;  /* row offset in that segment */
    qv_ts ts;     /* the row's insert timestamp */
    qv_pk pk;     /* VarChar bytes borrowed from the snapshot */
    qv_pk group;  /* grouping search: the row's group value (type
                     QV_DT_NONE for NULL; VarChar bytes borrowed) */
} qv_hit;

typedef struct qv_search_result {
    size_t nq, k;   /* k: topk, or topk * group_size when grouping */
    size_t *counts; /* hits of query i (<= k) */
    qv_hit *hits;   /* query i: hits[i*k .. i*k + counts[i]), closest first */
} qv_search_result;

qv_code qv_shard_search(const qv_shard_snap *snap, const qv_search_req *req,
                        qv_search_result *out, qv_err *err) QV_MUST_USE;
void qv_search_result_release(qv_search_result *r);

/* Merges nlists hit lists (each sorted closest first) into the k closest
 * with distinct primary keys: when a key appears more than once the
 * version with the newest insert timestamp wins (ties: the later list).
 * out has room for k hits; returns how many it wrote. */
size_t qv_hits_merge(const qv_hit *const *lists, const size_t *counts,
                     size_t nlists, size_t k, bool larger_is_closer,
                     qv_hit *out);

/* The grouped merge: like qv_hits_merge, then walking the hits closest
 * first, a hit is kept when its group already has fewer than group_size
 * kept hits, or is new while fewer than `groups` groups exist.  out (room
 * for groups * group_size hits) receives them ordered by group (the
 * group of the closest hit first), closest first within a group.
 * *ngroups receives the groups found, *full whether each has group_size
 * hits. */
size_t qv_hits_merge_grouped(const qv_hit *const *lists, const size_t *counts,
                             size_t nlists, size_t groups, size_t group_size,
                             bool larger_is_closer, qv_hit *out,
                             size_t *ngroups, bool *full);
/* The group value of a row of a Bool, Int8..Int64 or VarChar column
 * (VarChar bytes borrowed; type QV_DT_NONE when NULL). */
qv_pk qv_hit_group_of(const qv_col_view *v, size_t row);
/* True when the type can be grouped by. */
bool qv_search_group_type_ok(qv_dtype t);

/* Builds one new memory column per field id (schema order of the
 * snapshot's segments is irrelevant: fields are found by id) holding the
 * rows (seg[i], rows[i]) for i < n, in that order.  *cols receives an
 * array of nfields columns (free each, then the array). */
qv_code qv_shard_gather(const qv_shard_snap *snap, const uint32_t *seg,
                        const int64_t *rows, size_t n, const int64_t *field_ids,
                        size_t nfields, qv_column ***cols,
                        qv_err *err) QV_MUST_USE;

/* Exclusion mask of segment i of snap at R: MVCC, then the filter (NULL =
 * none).  exclude must be initialised with snap->snaps[i].rows bits. */
qv_code qv_seg_exclude(const qv_shard_snap *snap, size_t i, qv_ts R,
                       const qv_expr_plan *filter, qv_bitset *exclude,
                       qv_err *err) QV_MUST_USE;
/* True when segment i of snap belongs to one of the partitions. */
bool qv_seg_in_partitions(const qv_shard_snap *snap, size_t i,
                          const int64_t *partitions, size_t n);

#endif
