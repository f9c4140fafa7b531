/* query.h -- scalar query over the segments of one shard at a read
 * timestamp: filter, output fields, offset/limit, count(*).
 *
 * Rows visible at req->ts that match the filter are collected from every
 * segment (of the named partitions), sorted by primary key (Int64
 * numerically, VarChar bytewise), deduplicated by key (the newest insert
 * timestamp wins), then offset and limit are applied.  MVCC already hides
 * older versions of a key (shard.h), so the dedupe is a safety net;
 * count(*) relies on that invariant and only counts mask bits (no sort).
 *
 * Ownership: the result owns its columns (qv_query_result_release).
 * Threading: pure over a pinned snapshot.
 */
#ifndef QV_QN_QUERY_H
#define QV_QN_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/expr/expr.h"
#include "common/hts.h"
#include "querynode/shard.h"

typedef struct qv_query_req {
    const qv_expr_plan *filter; /* NULL = every row */
    const int64_t *partitions;  /* NULL/0 = every partition */
    size_t npartitions;
    const int64_t *output_fields; /* besides the PK, which always comes first */
    size_t noutput;
    size_t offset;
    size_t limit;    /* 0 = no limit */
    bool count_only; /* count(*): only `count` is filled */
    qv_ts ts;        /* read timestamp R */
} qv_query_req;

typedef struct qv_query_result {
    uint64_t count;     /* rows returned, or matching rows for count(*) */
    size_t ncols;       /* 1 + output fields (not the PK twice) */
    int64_t *field_ids; /* PK field first */
    qv_column **cols;   /* ncols columns of `count` rows, in PK order */
} qv_query_result;

qv_code qv_shard_query(const qv_shard_snap *snap, const qv_query_req *req,
                       qv_query_result *out, qv_err *err) QV_MUST_USE;
void qv_query_result_release(qv_query_result *r);

#endif
