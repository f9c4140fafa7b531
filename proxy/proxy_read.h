/* proxy_read.h -- the read path shared by rpc_search.c and rpc_query.c
 * (rpc_read.c): shard leaders, guarantee timestamps, output fields and the
 * per-shard calls to query nodes.  Per call; memory on the call's arena. */
#ifndef QV_PROXY_READ_H
#define QV_PROXY_READ_H

#include "internal/coord.pb-c.h"
#include "internal/querynode.pb-c.h"
#include "proto/convert_fielddata.h"
#include "proxy/coll_ctx.h"
#include "proxy/proxy_write.h"

typedef struct qv_read_plan {
    Quiver__Internal__ShardLeader **leaders; /* one per shard */
    int64_t *partitions;
    size_t npartitions;
} qv_read_plan;

/* Where each shard is served; QV_E_NOT_READY ("collection not loaded",
 * Milvus code 101) when the collection is not loaded. */
qv_code qv_proxy__leaders(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                          char **partitions, size_t nparts, qv_read_plan *rp,
                          qv_err *err) QV_MUST_USE;

/* The guarantee timestamp of a consistency level (DESIGN §5). */
qv_code qv_proxy__guarantee(qv_proxy *p, qv_rpc_call *call,
                            const qv_coll_ctx *c, int level, bool use_default,
                            uint64_t given, qv_ts *g, qv_err *err) QV_MUST_USE;
/* Time travel: the request's travel_timestamp, else the same key in its
 * params; refused when older than the retention window (compaction and GC
 * keep every version newer than now - retention: coord/coord_gc.h).  The
 * window is common.dataRetention, set once at start (default below). */
#define QV_PROXY_RETENTION_MS 3600000
void qv_proxy__set_retention_ms(uint64_t ms);
qv_code qv_proxy__travel(Milvus__Proto__Common__KeyValuePair **kv, size_t n,
                         uint64_t field, uint64_t *out,
                         qv_err *err) QV_MUST_USE;
/* How long a query node may wait for tsafe within this call. */
uint32_t qv_proxy__read_wait(qv_proxy *p, qv_rpc_call *call);

qv_code qv_proxy__call_node(qv_rpc_call *call, const char *addr,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *desc,
                            ProtobufCMessage **resp, qv_err *err) QV_MUST_USE;
/* One call of a fan-out: filled by the caller (addr, method, req, desc);
 * resp lives in the call's own arena, released with the RPC call's. */
typedef struct qv_node_call {
    const char *addr, *method;
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *resp;
    qv_code rc;
    qv_err err;
    int64_t timeout_ms;
    qv_arena arena;
} qv_node_call;

/* Runs the calls in parallel (one thread per call after the first) within
 * the RPC call's deadline; the first failure is returned.  calls must be
 * allocated on the RPC call's arena. */
qv_code qv_proxy__call_nodes(qv_rpc_call *call, qv_node_call *calls, size_t n,
                             qv_err *err) QV_MUST_USE;
/* The same with the arena and the time limit given (calls on a). */
qv_code qv_proxy__call_nodes_in(qv_arena *a, int64_t timeout_ms,
                                qv_node_call *calls, size_t n,
                                qv_err *err) QV_MUST_USE;

/* A per-shard RPC and its batch form (SearchBatch, QueryBatch): the
 * batch request of n shard requests, and the batch reply's status with its
 * answers (in request order). */
typedef struct qv_grouped_rpc {
    const char *one_method, *batch_method;
    const ProtobufCMessageDescriptor *one_resp, *batch_resp;
    ProtobufCMessage *(*batch)(qv_arena *a, ProtobufCMessage **reqs, size_t n);
    const Milvus__Proto__Common__Status *(*unbatch)(
        const ProtobufCMessage *reply, size_t *n, ProtobufCMessage ***answers);
} qv_grouped_rpc;

/* Sends shard s's request reqs[s] to addrs[s], one call per address: the
 * shards one query node leads go in one batch call (one round trip and
 * one handler instead of one each, and no thread per shard here); calls
 * to different nodes run in parallel (qv_proxy__call_nodes).  resp[s]
 * receives shard s's answer (its own status is the caller's to check);
 * fails when a call or a batch as a whole fails. */
qv_code qv_proxy__call_grouped(qv_rpc_call *call, const qv_grouped_rpc *g,
                               const char *const *addrs,
                               ProtobufCMessage **reqs, size_t S,
                               ProtobufCMessage **resp,
                               qv_err *err) QV_MUST_USE;
/* The same with the arena (requests and answers live on it) and the time
 * limit given. */
qv_code qv_proxy__call_grouped_in(qv_arena *a, int64_t timeout_ms,
                                  const qv_grouped_rpc *g,
                                  const char *const *addrs,
                                  ProtobufCMessage **reqs, size_t S,
                                  ProtobufCMessage **resp,
                                  qv_err *err) QV_MUST_USE;
/* Search / SearchBatch (rpc_search.c) and Query / QueryBatch
 * (rpc_query.c). */
extern const qv_grouped_rpc qv_proxy__search_rpc, qv_proxy__query_rpc;

/* A query node's Status as a qv_code (QV_OK on success). */
qv_code qv_proxy__status_of(const Milvus__Proto__Common__Status *st,
                            qv_err *err);
/* Loads a column image from a reply (an aligned private copy, freed with
 * the arena, as is the column). */
qv_code qv_proxy__load_image(qv_arena *a, const ProtobufCBinaryData *img,
                             qv_column **out, qv_err *err) QV_MUST_USE;

/* Output fields: idx/ids of the fields to fetch besides the primary key
 * (ctx indexes), the names to list in results.output_fields, and whether
 * count(*) was asked. */
typedef struct qv_outputs {
    size_t n;
    int *idx;
    int64_t *ids;
    char **names;
    size_t nnames;
    bool count;
    bool star;   /* `*` was asked: $meta goes out whole */
    char **keys; /* dynamic keys asked for by name */
    size_t nkeys;
} qv_outputs;
qv_code qv_proxy__outputs(qv_arena *a, const qv_coll_ctx *c, char **names,
                          size_t n, bool with_vectors, qv_outputs *o,
                          qv_err *err) QV_MUST_USE;

/* The FieldData of column `field` (ctx index); the dynamic field keeps
 * only the keys out asked for, unless out asked for `*` (out may be
 * NULL). */
qv_code qv_proxy__fielddata(qv_arena *a, const qv_coll_ctx *c,
                            const qv_outputs *out, size_t field, qv_column *col,
                            Milvus__Proto__Schema__FieldData **fd,
                            qv_err *err) QV_MUST_USE;
/* The binary plan for query nodes (empty for a match-all plan). */
qv_code qv_proxy__plan_bytes(qv_arena *a, const qv_expr_plan *plan,
                             ProtobufCBinaryData *out, qv_err *err) QV_MUST_USE;

/* Rows visible now (Strong) in the collection (or one partition); 0 when
 * the collection is not loaded (statistics). */
qv_code qv_proxy__count_rows(qv_proxy *p, qv_rpc_call *call, const char *db,
                             const char *coll, const char *partition,
                             uint64_t *n, qv_err *err) QV_MUST_USE;

/* Column `field` (ctx index) of the rows plan matches now (Strong), with
 * their primary keys, in PK order; both columns belong to the arena. */
qv_code qv_proxy__fetch_field(qv_proxy *p, qv_rpc_call *call,
                              const qv_coll_ctx *c, const qv_expr_plan *plan,
                              size_t field, qv_column **pk, qv_column **col,
                              qv_err *err) QV_MUST_USE;

/* Decodes a search's placeholder group (the bytes the client sent) for the
 * vector field f: exactly one placeholder of 1..16384 values whose type
 * and size match the field (Float, Float16, BFloat16 and Int8 become
 * float32 rows; Binary stays dim/8 bytes), finite values; nq_req (0 = any)
 * must equal the number of values.  Rows go to the arena. */
qv_code qv_proxy__decode_queries(qv_arena *a, const ProtobufCBinaryData *pg,
                                 const qv_field_spec *f, int64_t nq_req,
                                 ProtobufCBinaryData *out, size_t *nq,
                                 qv_err *err) QV_MUST_USE;

#endif
