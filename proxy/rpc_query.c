/* rpc_query.c -- Query and count(*) (notes/sdk-compat.md §4.11), and the
 * key lookup behind Delete by a general filter.
 *
 * Every shard answers its matching rows in primary key order (at most
 * offset + limit of them); the proxy merges the shards' lists by key, then
 * applies offset and limit.  Keys are routed to one shard, so shards never
 * share a key. */
#include <stdlib.h>
#include <string.h>

#include "common/column/pk.h"
#include "proxy/proxy_read.h"
#include "proxy/search_route.h"

#define M(x) Milvus__Proto__Milvus__##x
typedef Quiver__Internal__ShardQueryResponse shard_resp;

typedef struct query_args {
    const qv_coll_ctx *c;
    const qv_expr_plan *plan;
    char **partitions;
    size_t nparts;
    const qv_outputs *out;
    size_t limit; /* 0 = none (offset included) */
    bool count_only;
    qv_ts guarantee, travel;
} query_args;

/* QueryBatch for qv_proxy__call_grouped. */
static ProtobufCMessage *query_batch(qv_arena *a, ProtobufCMessage **reqs,
                                     size_t n)
{
    Quiver__Internal__ShardQueryBatchRequest *b = qv_arena_alloc(a, sizeof *b);
    quiver__internal__shard_query_batch_request__init(b);
    b->requests = (Quiver__Internal__ShardQueryRequest **)reqs;
    b->n_requests = n;
    return &b->base;
}

static const Milvus__Proto__Common__Status *
query_batch_status(const ProtobufCMessage *m, size_t *n,
                   ProtobufCMessage ***answers)
{
    const Quiver__Internal__ShardQueryBatchResponse *r = (const void *)m;
    *n = r->n_responses;
    *answers = (ProtobufCMessage **)r->responses;
    return r->status;
}

const qv_grouped_rpc qv_proxy__query_rpc = {
    .one_method = "Query",
    .batch_method = "QueryBatch",
    .one_resp = &quiver__internal__shard_query_response__descriptor,
    .batch_resp = &quiver__internal__shard_query_batch_response__descriptor,
    .batch = query_batch,
    .unbatch = query_batch_status};

/* Asks every shard at the leaders in rp; resp[s] are the answers. */
static qv_code ask_shards(qv_proxy *p, qv_rpc_call *call, const query_args *q,
                          const qv_read_plan *rp, ProtobufCBinaryData pb,
                          shard_resp **resp, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    qv_code rc = QV_OK;
    size_t S = q->c->nshards;
    ProtobufCMessage **reqs = qv_arena_calloc(a, S + 1, sizeof *reqs);
    const char **addrs = qv_arena_calloc(a, S + 1, sizeof *addrs);
    for (size_t s = 0; !rc && s < S; s++) {
        Quiver__Internal__ShardQueryRequest *rq = qv_arena_alloc(a, sizeof *rq);
        quiver__internal__shard_query_request__init(rq);
        rq->collection_id = q->c->id;
        rq->vchannel = rp->leaders[s]->vchannel;
        rq->guarantee_ts = q->guarantee;
        rq->travel_ts = q->travel;
        rq->timeout_ms = qv_proxy__read_wait(p, call);
        rq->plan = pb;
        rq->partition_ids = rp->partitions;
        rq->n_partition_ids = rp->npartitions;
        rq->output_field_ids = q->out ? q->out->ids : NULL;
        rq->n_output_field_ids = q->out ? q->out->n : 0;
        rq->limit = q->limit;
        rq->count_only = q->count_only;
        reqs[s] = &rq->base;
        addrs[s] = rp->leaders[s]->address;
    }
    if (!rc)
        rc = qv_proxy__call_grouped(call, &qv_proxy__query_rpc, addrs, reqs, S,
                                    (ProtobufCMessage **)resp, err);
    for (size_t s = 0; !rc && s < S; s++) {
        rc = qv_proxy__status_of(resp[s]->status, err);
        if (!rc && !q->count_only &&
            resp[s]->n_columns != 1 + (q->out ? q->out->n : 0))
            rc = qv_fail(err, QV_E_INTERNAL, "query node answered %zu columns",
                         resp[s]->n_columns);
    }
    return rc;
}

/* Asks every shard, at the leaders the proxy keeps (search_route.h) and,
 * when asking them fails as a stale route does, once more at the coord's
 * current ones. */
static qv_code fan_out(qv_proxy *p, qv_rpc_call *call, const query_args *q,
                       shard_resp **resp, qv_err *err)
{
    ProtobufCBinaryData pb = {0};
    qv_code rc =
        qv_proxy__plan_bytes(qv_rpc_call_arena(call), q->plan, &pb, err);
    for (int attempt = 0; !rc && attempt < 2; attempt++) {
        qv_read_plan rp;
        bool cached = false;
        rc = qv_proxy__search_leaders(p, call, q->c, q->partitions, q->nparts,
                                      attempt == 0, &rp, &cached, err);
        if (!rc)
            rc = ask_shards(p, call, q, &rp, pb, resp, err);
        if (!rc || !cached || !qv_proxy__route_stale(rc))
            break;
        qv_proxy__search_forget(p, q->c->id);
        rc = QV_OK;
    }
    return rc;
}

/* Merges the shards' PK-ordered rows: *sel receives (shard, row) pairs. */
static qv_code merge_rows(qv_arena *a, qv_column ***cols, size_t S,
                          size_t *total, uint32_t **sel_s, int64_t **sel_r,
                          qv_err *err)
{
    size_t n = 0;
    for (size_t s = 0; s < S; s++)
        n += cols[s] ? qv_column_rows(cols[s][0]) : 0;
    uint32_t *ss = qv_arena_try_alloc(a, n + 1, sizeof *ss);
    int64_t *rr = qv_arena_try_alloc(a, n + 1, sizeof *rr);
    size_t *pos = qv_arena_calloc(a, S + 1, sizeof *pos);
    if (!ss || !rr)
        return qv_fail(err, QV_E_NOMEM, "query: out of memory");
    qv_col_view *pk = qv_arena_calloc(a, S + 1, sizeof *pk);
    for (size_t s = 0; s < S; s++)
        if (cols[s])
            pk[s] = qv_column_view(cols[s][0]);
    for (size_t k = 0; k < n; k++) {
        size_t best = S;
        qv_pk bk = {0};
        for (size_t s = 0; s < S; s++) {
            if (!cols[s] || pos[s] >= pk[s].rows)
                continue;
            qv_pk x = qv_pk_of_row(&pk[s], pos[s]);
            if (best == S || qv_pk_cmp(&x, &bk) < 0) {
                best = s;
                bk = x;
            }
        }
        ss[k] = (uint32_t)best;
        rr[k] = (int64_t)pos[best]++;
    }
    *total = n;
    *sel_s = ss;
    *sel_r = rr;
    return QV_OK;
}

/* Builds column f (0 = PK) of the selected rows [from, from + n). */
static qv_code gather(qv_column ***cols, size_t f, const qv_field_spec *spec,
                      const uint32_t *ss, const int64_t *rr, size_t n,
                      qv_column **out, qv_err *err)
{
    qv_code rc = qv_column_create(spec, out, err);
    for (size_t i = 0; !rc && i < n; i++) {
        qv_col_view v = qv_column_view(cols[ss[i]][f]);
        rc = qv_column_append_rows(*out, &v, &rr[i], 1, err);
    }
    if (*out)
        qv_column_publish(*out);
    return rc;
}

static void free_col(void *c)
{
    qv_column_free(c);
}

/* Runs the query; on success the PK column and output columns of rows
 * [offset, offset + limit) in PK order, or the count. */
static qv_code run_query(qv_proxy *p, qv_rpc_call *call, const query_args *q,
                         size_t offset, qv_column ***out_cols, size_t *nrows,
                         uint64_t *count, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    size_t S = q->c->nshards, nc = 1 + (q->out ? q->out->n : 0);
    shard_resp **resp = qv_arena_calloc(a, S + 1, sizeof *resp);
    qv_code rc = fan_out(p, call, q, resp, err);
    if (rc)
        return rc;
    if (q->count_only) {
        uint64_t n = 0;
        for (size_t s = 0; s < S; s++)
            n += resp[s]->count;
        *count = n;
        return QV_OK;
    }
    qv_column ***cols = qv_arena_calloc(a, S + 1, sizeof *cols);
    for (size_t s = 0; !rc && s < S; s++) {
        cols[s] = qv_arena_calloc(a, nc + 1, sizeof(qv_column *));
        for (size_t f = 0; !rc && f < nc; f++)
            rc =
                qv_proxy__load_image(a, &resp[s]->columns[f], &cols[s][f], err);
        for (size_t f = 1; !rc && f < nc; f++)
            if (qv_column_rows(cols[s][f]) != qv_column_rows(cols[s][0]))
                rc = qv_fail(err, QV_E_INTERNAL,
                             "query node answered columns of different "
                             "lengths");
    }
    size_t total = 0;
    uint32_t *ss = NULL;
    int64_t *rr = NULL;
    if (!rc)
        rc = merge_rows(a, cols, S, &total, &ss, &rr, err);
    if (rc)
        return rc;
    size_t from = offset < total ? offset : total;
    size_t n = total - from;
    if (q->limit) {
        size_t lim = q->limit > offset ? q->limit - offset : 0;
        if (lim < n)
            n = lim;
    }
    qv_column **res = qv_arena_calloc(a, nc + 1, sizeof(qv_column *));
    for (size_t f = 0; !rc && f < nc; f++) {
        size_t idx = f == 0 ? q->c->pk : (size_t)q->out->idx[f - 1];
        rc = gather(cols, f, &q->c->specs[idx], ss + from, rr + from, n,
                    &res[f], err);
        if (res[f])
            qv_arena_on_release(a, free_col, res[f]);
    }
    *out_cols = res;
    *nrows = n;
    return rc;
}

qv_code qv_proxy__query_keys(qv_proxy *p, qv_rpc_call *call,
                             const qv_coll_ctx *c, const qv_expr_plan *plan,
                             const char *partition, qv_column **out,
                             qv_err *err)
{
    char *parts[1] = {(char *)partition};
    query_args q = {.c = c,
                    .plan = plan,
                    .partitions = parts,
                    .nparts = partition && partition[0] ? 1 : 0};
    qv_code rc = qv_proxy__strong_ts(p, call, &q.guarantee, err);
    qv_column **cols = NULL;
    size_t n = 0;
    uint64_t cnt = 0;
    if (!rc)
        rc = run_query(p, call, &q, 0, &cols, &n, &cnt, err);
    if (rc)
        return rc;
    /* A copy the caller owns (the gathered column belongs to the arena). */
    qv_col_view v = qv_column_view(cols[0]);
    rc = qv_column_create(&c->specs[c->pk], out, err);
    if (!rc)
        rc = qv_column_append_view(*out, &v, err);
    if (*out)
        qv_column_publish(*out);
    return rc;
}

static bool param(Milvus__Proto__Common__KeyValuePair **kv, size_t n,
                  const char *key, const char **val)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0) {
            *val = kv[i]->value ? kv[i]->value : "";
            return true;
        }
    return false;
}

static qv_code uint_param(Milvus__Proto__Common__KeyValuePair **kv, size_t n,
                          const char *key, int64_t max, size_t *out,
                          qv_err *err)
{
    const char *v;
    *out = 0;
    if (!param(kv, n, key, &v) || !v[0])
        return QV_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < 0 || x > max)
        return qv_fail(err, QV_E_INVALID,
                       "%s '%s' must be an integer in "
                       "[0, %lld]",
                       key, v, (long long)max);
    *out = (size_t)x;
    return QV_OK;
}

static M(QueryResults) * results(qv_arena *a, qv_code rc, const qv_err *err)
{
    M(QueryResults) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__query_results__init(r);
    r->status =
        qv_proxy__status(a, rc, QV_SUBJ_COLLECTION, rc ? err->msg : NULL);
    return r;
}

static qv_code count_reply(qv_arena *a, uint64_t n, M(QueryResults) * r)
{
    Milvus__Proto__Schema__FieldData *fd = qv_arena_alloc(a, sizeof *fd);
    milvus__proto__schema__field_data__init(fd);
    fd->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    fd->field_name = (char *)"count(*)";
    fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    Milvus__Proto__Schema__ScalarField *sf = qv_arena_alloc(a, sizeof *sf);
    milvus__proto__schema__scalar_field__init(sf);
    Milvus__Proto__Schema__LongArray *l = qv_arena_alloc(a, sizeof *l);
    milvus__proto__schema__long_array__init(l);
    l->data = qv_arena_alloc(a, sizeof(int64_t));
    l->data[0] = (int64_t)n;
    l->n_data = 1;
    sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    sf->long_data = l;
    fd->scalars = sf;
    r->fields_data = qv_arena_alloc(a, sizeof(*r->fields_data));
    r->fields_data[0] = fd;
    r->n_fields_data = 1;
    r->output_fields = qv_arena_alloc(a, sizeof(char *));
    r->output_fields[0] = (char *)"count(*)";
    r->n_output_fields = 1;
    return QV_OK;
}

qv_code qv_proxy__query(qv_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const M(QueryRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_proxy__db(call, rq->db_name);
    qv_coll_ctx c;
    qv_expr_plan *plan = NULL;
    qv_outputs out;
    size_t limit = 0, offset = 0;
    qv_code rc = qv_coll_ctx_get(p, call, db, rq->collection_name, &c, err);
    if (!rc)
        rc = uint_param(rq->query_params, rq->n_query_params, "limit", 16384,
                        &limit, err);
    if (!rc)
        rc = uint_param(rq->query_params, rq->n_query_params, "offset", 16384,
                        &offset, err);
    if (!rc)
        rc = qv_proxy__outputs(a, &c, rq->output_fields, rq->n_output_fields,
                               true, &out, err);
    bool empty = !rq->expr || !rq->expr[0];
    if (!rc && empty && !limit && !out.count)
        rc = qv_fail(err, QV_E_INVALID,
                     "empty expression should be used with limit");
    if (!rc && out.count && (limit || offset))
        rc = qv_fail(err, QV_E_INVALID,
                     "count(*) cannot be used with limit or offset");
    if (!rc)
        rc = qv_coll_ctx_parse(&c, a, rq->expr,
                               (const void *const *)rq->expr_template_values,
                               rq->n_expr_template_values, &plan, err);
    query_args q = {.c = &c,
                    .plan = plan,
                    .partitions = rq->partition_names,
                    .nparts = rq->n_partition_names,
                    .out = &out,
                    .limit = limit ? limit + offset : 0,
                    .count_only = !rc && out.count};
    if (!rc)
        rc = qv_proxy__travel(rq->query_params, rq->n_query_params,
                              rq->travel_timestamp, &q.travel, err);
    if (!rc)
        rc = qv_proxy__guarantee(p, call, &c, rq->consistency_level,
                                 rq->use_default_consistency,
                                 rq->guarantee_timestamp, &q.guarantee, err);
    qv_column **cols = NULL;
    size_t n = 0;
    uint64_t cnt = 0;
    if (!rc)
        rc = run_query(p, call, &q, offset, &cols, &n, &cnt, err);
    qv_expr_plan_free(plan);
    M(QueryResults) *r = results(a, rc, err);
    *resp = &r->base;
    if (rc)
        return QV_OK;
    r->collection_name = rq->collection_name;
    r->primary_field_name = (char *)c.specs[c.pk].name;
    if (q.count_only)
        return count_reply(a, cnt, r);
    if (n == 0)
        return QV_OK; /* empty fields_data, as Milvus */
    size_t nc = 1 + out.n;
    r->fields_data = qv_arena_calloc(a, nc + 1, sizeof(*r->fields_data));
    for (size_t f = 0; !rc && f < nc; f++) {
        size_t idx = f == 0 ? c.pk : (size_t)out.idx[f - 1];
        rc = qv_proxy__fielddata(a, &c, &out, idx, cols[f], &r->fields_data[f],
                                 err);
    }
    if (rc) {
        *resp = &results(a, rc, err)->base;
        return QV_OK;
    }
    r->n_fields_data = nc;
    r->output_fields = out.names;
    r->n_output_fields = out.nnames;
    return QV_OK;
}

qv_code qv_proxy__count_rows(qv_proxy *p, qv_rpc_call *call, const char *db,
                             const char *coll, const char *partition,
                             uint64_t *n, qv_err *err)
{
    *n = 0;
    qv_coll_ctx c;
    qv_code rc = qv_coll_ctx_get(p, call, db, coll, &c, err);
    char *parts[1] = {(char *)partition};
    query_args q = {.c = &c,
                    .partitions = parts,
                    .nparts = partition && partition[0] ? 1 : 0,
                    .count_only = true};
    if (!rc)
        rc = qv_proxy__strong_ts(p, call, &q.guarantee, err);
    qv_column **cols = NULL;
    size_t rows = 0;
    if (!rc)
        rc = run_query(p, call, &q, 0, &cols, &rows, n, err);
    if (qv_code_primary(rc) == QV_E_NOT_READY) /* not loaded: no count */
        rc = QV_OK;
    return rc;
}

qv_code qv_proxy__fetch_field(qv_proxy *p, qv_rpc_call *call,
                              const qv_coll_ctx *c, const qv_expr_plan *plan,
                              size_t field, qv_column **pk, qv_column **col,
                              qv_err *err)
{
    qv_outputs out = {0};
    int idx = (int)field;
    int64_t id = c->specs[field].id;
    out.n = 1;
    out.idx = &idx;
    out.ids = &id;
    query_args q = {.c = c, .plan = plan, .out = &out};
    qv_code rc = qv_proxy__strong_ts(p, call, &q.guarantee, err);
    qv_column **cols = NULL;
    size_t n = 0;
    uint64_t cnt = 0;
    if (!rc)
        rc = run_query(p, call, &q, 0, &cols, &n, &cnt, err);
    if (!rc) {
        *pk = cols[0];
        *col = cols[1];
    }
    return rc;
}
