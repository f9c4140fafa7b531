/* qn_read.c -- QueryNodeService Search and Query: wait for the shard's
 * tsafe, read a pinned snapshot at the read timestamp, answer columns as
 * column file images (qnserver.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/expr/expr.h"
#include "proto/rpc_status.h"
#include "querynode/qn_int.h"
#include "querynode/query.h"
#include "querynode/search.h"

typedef Milvus__Proto__Common__Status pb_status;

static pb_status *mk_status(qv_arena *a, qv_code rc, const qv_err *err)
{
    pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_subject what = rc == QV_E_NOT_READY ? QV_SUBJ_COLLECTION : QV_SUBJ_NONE;
    qv_rpc_status_fill(st, rc, what,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    return st;
}

/* Finds the delegator (mu held by the caller), decodes the plan and waits
 * for the guarantee; *R is the read timestamp. */
static qv_code prepare(qv_qnode *q, int64_t coll, const char *vch,
                       const ProtobufCBinaryData *plan, uint64_t guarantee,
                       uint64_t travel, uint32_t timeout_ms, qv_delegator **d,
                       qv_expr_plan **pl, qv_ts *R, qv_err *err)
{
    *d = qv_qn__find(q, coll, vch, NULL);
    if (!*d)
        return qv_fail(err, QV_E_NOT_READY,
                       "collection not loaded: vchannel %s is not served by "
                       "this query node",
                       vch);
    *pl = NULL;
    qv_code rc = QV_OK;
    if (plan->len > 0 &&
        (rc = qv_expr_plan_decode(plan->data, plan->len, pl, err)))
        return rc;
    qv_ts g = guarantee;
    if (travel && travel > g)
        g = travel;
    rc =
        qv_delegator_wait_tsafe(*d, g, timeout_ms ? timeout_ms : 10000, R, err);
    if (!rc && travel)
        *R = travel;
    if (rc) {
        qv_expr_plan_free(*pl);
        *pl = NULL;
    }
    return rc;
}

/* Column images of cols[0..n) into the arena. */
static qv_code encode_cols(qv_arena *a, qv_column **cols, const int64_t *ids,
                           size_t n, ProtobufCBinaryData **out, qv_err *err)
{
    ProtobufCBinaryData *v = qv_arena_alloc(a, (n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        qv_buf b;
        qv_buf_init(&b, 0);
        qv_col_view view = qv_column_view(cols[i]);
        qv_code rc = qv_column_file_encode(&view, ids[i], &b, err);
        if (rc) {
            qv_buf_release(&b);
            return rc;
        }
        v[i].data = qv_arena_try_alloc(a, b.len ? b.len : 1, 1);
        if (!v[i].data) {
            qv_buf_release(&b);
            return qv_fail(err, QV_E_NOMEM, "result columns: out of memory");
        }
        memcpy(v[i].data, b.data, b.len);
        v[i].len = b.len;
        qv_buf_release(&b);
    }
    *out = v;
    return QV_OK;
}

static qv_code do_search(qv_arena *a,
                         const Quiver__Internal__ShardSearchRequest *rq,
                         qn_coll *c, qv_delegator *d, const qv_expr_plan *pl,
                         qv_ts R, Quiver__Internal__ShardSearchResponse *r,
                         qv_err *err)
{
    qv_shard_snap snap;
    qv_shard_acquire(qv_delegator_shard(d), &snap);
    qv_search_req sr = {.field_id = rq->field_id,
                        .metric = (qv_metric)rq->metric,
                        .nq = (size_t)rq->nq,
                        .queries = rq->queries.data,
                        .topk = (size_t)rq->topk,
                        .filter = pl,
                        .partitions = rq->partition_ids,
                        .npartitions = rq->n_partition_ids,
                        .ts = R};
    qv_params prm;
    qv_search_result res = {0};
    const char *js = rq->search_params ? rq->search_params : "";
    qv_code rc = qv_search_params_parse(js, strlen(js), &sr, &prm, err);
    if (!rc)
        rc = qv_shard_search(&snap, &sr, &res, err);
    size_t total = 0;
    for (size_t i = 0; !rc && i < res.nq; i++)
        total += res.counts[i];
    uint32_t *segs = qv_xmalloc((total + 1) * sizeof(uint32_t));
    int64_t *rows = qv_xmalloc((total + 1) * sizeof(int64_t));
    size_t nout = 1 + rq->n_output_field_ids;
    int64_t *ids = qv_arena_alloc(a, nout * sizeof(int64_t));
    ids[0] = c->pk_field_id;
    if (rq->n_output_field_ids)
        memcpy(ids + 1, rq->output_field_ids,
               rq->n_output_field_ids * sizeof(int64_t));
    if (!rc) {
        r->counts = qv_arena_alloc(a, (res.nq + 1) * sizeof(int64_t));
        r->distances = qv_arena_alloc(a, (total + 1) * sizeof(float));
        r->row_ts = qv_arena_alloc(a, (total + 1) * sizeof(uint64_t));
        size_t k = 0;
        for (size_t i = 0; i < res.nq; i++) {
            r->counts[i] = (int64_t)res.counts[i];
            for (size_t j = 0; j < res.counts[i]; j++, k++) {
                const qv_hit *h = &res.hits[i * res.k + j];
                r->distances[k] = h->distance;
                r->row_ts[k] = h->ts;
                segs[k] = h->seg;
                rows[k] = h->row;
            }
        }
        r->n_counts = res.nq;
        r->n_distances = r->n_row_ts = total;
    }
    qv_column **cols = NULL;
    if (!rc)
        rc = qv_shard_gather(&snap, segs, rows, total, ids, nout, &cols, err);
    if (!rc) {
        rc = encode_cols(a, cols, ids, nout, &r->columns, err);
        if (!rc)
            r->n_columns = nout;
        for (size_t i = 0; i < nout; i++)
            qv_column_free(cols[i]);
        free(cols);
    }
    free(segs);
    free(rows);
    qv_search_result_release(&res);
    qv_search_params_free(&prm);
    qv_shard_snap_release(&snap);
    return rc;
}

/* One shard's search into r (its status says how it went). */
static void search_one(qv_qnode *q, qv_arena *a,
                       const Quiver__Internal__ShardSearchRequest *rq,
                       Quiver__Internal__ShardSearchResponse *r, qv_err *err)
{
    quiver__internal__shard_search_response__init(r);
    pthread_rwlock_rdlock(&q->mu);
    qv_delegator *d;
    qv_expr_plan *pl = NULL;
    qv_ts R = 0;
    qn_coll *c = NULL;
    qv_code rc =
        prepare(q, rq->collection_id, rq->vchannel, &rq->plan, rq->guarantee_ts,
                rq->travel_ts, rq->timeout_ms, &d, &pl, &R, err);
    if (!rc) {
        qv_qn__find(q, rq->collection_id, rq->vchannel, &c);
        rc = do_search(a, rq, c, d, pl, R, r, err);
    }
    pthread_rwlock_unlock(&q->mu);
    qv_expr_plan_free(pl);
    r->status = mk_status(a, rc, err);
    r->read_ts = R;
}

qv_code qv_qn__search(qv_rpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__ShardSearchResponse *r = qv_arena_alloc(a, sizeof *r);
    search_one(ud, a, (const void *)req, r, err);
    *resp = &r->base;
    return QV_OK;
}

qv_code qv_qn__search_batch(qv_rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *ud, qv_err *err)
{
    const Quiver__Internal__ShardSearchBatchRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__ShardSearchBatchResponse *r =
        qv_arena_alloc(a, sizeof *r);
    quiver__internal__shard_search_batch_response__init(r);
    *resp = &r->base;
    if (rq->n_requests == 0 || rq->n_requests > QV_QN_MAX_BATCH) {
        qv_code rc = qv_fail(err, QV_E_INVALID,
                             "search batch of %zu shard requests: want 1 "
                             "to %d",
                             rq->n_requests, QV_QN_MAX_BATCH);
        r->status = mk_status(a, rc, err);
        return QV_OK;
    }
    r->responses = qv_arena_calloc(a, rq->n_requests, sizeof *r->responses);
    Quiver__Internal__ShardSearchResponse *one =
        qv_arena_calloc(a, rq->n_requests, sizeof *one);
    for (size_t i = 0; i < rq->n_requests; i++) {
        qv_err e = {0};
        search_one(ud, a, rq->requests[i], &one[i], &e);
        r->responses[i] = &one[i];
    }
    r->n_responses = rq->n_requests;
    r->status = mk_status(a, QV_OK, err);
    return QV_OK;
}

/* One shard's query into r (its status says how it went). */
static void query_one(qv_qnode *q, qv_arena *a,
                      const Quiver__Internal__ShardQueryRequest *rq,
                      Quiver__Internal__ShardQueryResponse *r, qv_err *err)
{
    quiver__internal__shard_query_response__init(r);
    pthread_rwlock_rdlock(&q->mu);
    qv_delegator *d;
    qv_expr_plan *pl = NULL;
    qv_ts R = 0;
    qv_code rc =
        prepare(q, rq->collection_id, rq->vchannel, &rq->plan, rq->guarantee_ts,
                rq->travel_ts, rq->timeout_ms, &d, &pl, &R, err);
    if (!rc) {
        qv_shard_snap snap;
        qv_shard_acquire(qv_delegator_shard(d), &snap);
        qv_query_req qr = {.filter = pl,
                           .partitions = rq->partition_ids,
                           .npartitions = rq->n_partition_ids,
                           .output_fields = rq->output_field_ids,
                           .noutput = rq->n_output_field_ids,
                           .limit = (size_t)rq->limit,
                           .count_only = rq->count_only,
                           .ts = R};
        qv_query_result res = {0};
        rc = qv_shard_query(&snap, &qr, &res, err);
        if (!rc) {
            r->count = res.count;
            if (!rq->count_only) {
                rc = encode_cols(a, res.cols, res.field_ids, res.ncols,
                                 &r->columns, err);
                r->field_ids =
                    qv_arena_alloc(a, (res.ncols + 1) * sizeof(int64_t));
                memcpy(r->field_ids, res.field_ids,
                       res.ncols * sizeof(int64_t));
                r->n_field_ids = res.ncols;
                if (!rc)
                    r->n_columns = res.ncols;
            }
            qv_query_result_release(&res);
        }
        qv_shard_snap_release(&snap);
    }
    pthread_rwlock_unlock(&q->mu);
    qv_expr_plan_free(pl);
    r->status = mk_status(a, rc, err);
    r->read_ts = R;
}

qv_code qv_qn__query(qv_rpc_call *call, const ProtobufCMessage *req,
                     ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__ShardQueryResponse *r = qv_arena_alloc(a, sizeof *r);
    query_one(ud, a, (const void *)req, r, err);
    *resp = &r->base;
    return QV_OK;
}

qv_code qv_qn__query_batch(qv_rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *ud, qv_err *err)
{
    const Quiver__Internal__ShardQueryBatchRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__ShardQueryBatchResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__shard_query_batch_response__init(r);
    *resp = &r->base;
    if (rq->n_requests == 0 || rq->n_requests > QV_QN_MAX_BATCH) {
        qv_code rc = qv_fail(err, QV_E_INVALID,
                             "query batch of %zu shard requests: want 1 "
                             "to %d",
                             rq->n_requests, QV_QN_MAX_BATCH);
        r->status = mk_status(a, rc, err);
        return QV_OK;
    }
    r->responses = qv_arena_calloc(a, rq->n_requests, sizeof *r->responses);
    Quiver__Internal__ShardQueryResponse *one =
        qv_arena_calloc(a, rq->n_requests, sizeof *one);
    for (size_t i = 0; i < rq->n_requests; i++) {
        qv_err e = {0};
        query_one(ud, a, rq->requests[i], &one[i], &e);
        r->responses[i] = &one[i];
    }
    r->n_responses = rq->n_requests;
    r->status = mk_status(a, QV_OK, err);
    return QV_OK;
}
