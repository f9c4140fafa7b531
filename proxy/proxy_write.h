/* proxy_write.h -- the proxy's data path helpers shared by rpc_write.c
 * (Insert, Upsert, Delete) and rpc_read.c (Search, Query, and the query
 * behind a Delete by a general filter).  Per call; everything on the
 * call's arena unless said. */
#ifndef QV_PROXY_WRITE_H
#define QV_PROXY_WRITE_H

#include "common/msg/msg.h"
#include "proxy/coll_ctx.h"

/* What AssignSegments answered. */
typedef struct qv_assign {
    qv_ts ts;
    int64_t partition_id;
    const int64_t *segments;   /* one per requested shard */
    const int64_t *partitions; /* one per entry when partitions were named
                                  per entry, else NULL */
} qv_assign;

/* partitions: NULL, or one partition name per entry (partition keys). */
qv_code qv_proxy__assign(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                         const char *partition, const uint32_t *shards,
                         const uint64_t *rows, char **partitions, size_t n,
                         qv_assign *out, qv_err *err) QV_MUST_USE;

/* One column per field of c (ctx order) from the request (new columns the
 * caller frees). */
qv_code qv_proxy__build_columns(qv_proxy *p, qv_rpc_call *call,
                                const qv_coll_ctx *c,
                                Milvus__Proto__Schema__FieldData **fds,
                                size_t nfd, size_t n, bool upsert,
                                qv_column **cols, qv_err *err) QV_MUST_USE;

/* Routes, encodes and appends the rows; *ts = the write's timestamp. */
qv_code qv_proxy__write_rows(qv_proxy *p, qv_rpc_call *call,
                             const qv_coll_ctx *c, const char *partition,
                             qv_column **cols, size_t n, bool upsert, qv_ts *ts,
                             qv_err *err) QV_MUST_USE;

uint32_t qv_proxy__shard_of(const qv_col_view *pk, size_t row, size_t shards);
size_t qv_proxy__max_record(const qv_proxy *p);

qv_code qv_proxy__ids(qv_arena *a, const qv_col_view *pk,
                      Milvus__Proto__Schema__IDs **out,
                      qv_err *err) QV_MUST_USE;

/* The primary keys of the rows plan matches now (Strong), as a new column
 * the caller frees. */
qv_code qv_proxy__query_keys(qv_proxy *p, qv_rpc_call *call,
                             const qv_coll_ctx *c, const qv_expr_plan *plan,
                             const char *partition, qv_column **out,
                             qv_err *err) QV_MUST_USE;

#endif
