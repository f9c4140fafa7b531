/* rpc_describe.c -- DescribeCollection (through the describe cache),
 * HasCollection and GetCollectionStatistics.
 *
 * The Node SDK's hasCollection calls DescribeCollection and reads a failed
 * status as "no" (sdk-compat §4.2), so a missing collection must come back
 * as CollectionNotExists (code 100), which the coord's not-found detail
 * code gives.  HasCollection answers value=false with a success status for
 * a missing collection, as Milvus does.  Statistics report the rows a
 * Strong count(*) sees when the collection is loaded, "0" when it is not. */
#include <stdio.h>
#include <string.h>

#include "proxy/proxy_read.h"

/* ShowPartitionsRequest's INIT sets its deprecated `type` field. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define M(x) Milvus__Proto__Milvus__##x

qv_code qv_proxy__describe(qv_proxy *p, qv_rpc_call *call, const char *db,
                           const char *name, qv_describe_resp **out,
                           qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    qv_describe_resp *r = qv_meta_cache_get(p->cache, db, name, a);
    if (r) {
        *out = r;
        return QV_OK;
    }
    uint64_t epoch = qv_meta_cache_epoch(p->cache);
    M(DescribeCollectionRequest)
    rq = MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    rq.db_name = (char *)db;
    rq.collection_name = (char *)name;
    qv_code rc = qv_proxy__forward(
        p, call, "DescribeCollection", &rq.base,
        &milvus__proto__milvus__describe_collection_response__descriptor,
        (ProtobufCMessage **)&r, err);
    if (rc) {
        *out = (qv_describe_resp *)qv_proxy__reply(
            a, &milvus__proto__milvus__describe_collection_response__descriptor,
            rc, err);
        return rc;
    }
    *out = r;
    if (!r->status || r->status->code != 0 || !r->schema) {
        rc = r->status ? (r->status->code == 100 ? QV_E_COLLECTION_NOT_FOUND
                                                 : QV_E_INVALID)
                       : QV_E_INTERNAL;
        return qv_fail(err, rc, "%s",
                       r->status ? r->status->reason : "no status");
    }
    qv_meta_cache_put(p->cache, db, name, r, epoch);
    return QV_OK;
}

qv_code qv_proxy__describe_collection(qv_rpc_call *call,
                                      const ProtobufCMessage *req,
                                      ProtobufCMessage **resp, void *ud,
                                      qv_err *err)
{
    qv_proxy *p = ud;
    M(DescribeCollectionRequest) *rq = (void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    rq->db_name = (char *)qv_proxy__db(call, rq->db_name);
    qv_code rc = QV_OK;
    if (!rq->collection_name[0] && rq->collectionid > 0) {
        /* By id: not cached. */
        rc = qv_proxy__forward(
            p, call, "DescribeCollection", &rq->base,
            &milvus__proto__milvus__describe_collection_response__descriptor,
            resp, err);
    } else {
        rc = qv_proxy__check_name("collection", rq->collection_name, err);
        qv_describe_resp *r = NULL;
        if (!rc) {
            (void)qv_proxy__describe(p, call, rq->db_name, rq->collection_name,
                                     &r, err);
            *resp = &r->base;
            return QV_OK;
        }
    }
    if (rc)
        *resp = qv_proxy__reply(
            a, &milvus__proto__milvus__describe_collection_response__descriptor,
            rc, err);
    return QV_OK;
}

qv_code qv_proxy__has_collection(qv_rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const M(HasCollectionRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(BoolResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__bool_response__init(r);
    qv_code rc = qv_proxy__check_name("collection", rq->collection_name, err);
    qv_describe_resp *d = NULL;
    if (!rc)
        rc = qv_proxy__describe(p, call, qv_proxy__db(call, rq->db_name),
                                rq->collection_name, &d, err);
    r->value = rc == QV_OK;
    if (rc == QV_E_COLLECTION_NOT_FOUND)
        rc = QV_OK;
    if (rc && d && d->status)
        r->status = d->status; /* the coord's own status (e.g. no db) */
    else
        r->status = qv_proxy__status(a, rc, QV_SUBJ_NONE,
                                     rc ? qv_arena_strdup(a, err->msg) : NULL);
    *resp = &r->base;
    return QV_OK;
}

/* A stats list with one row_count entry. */
static Milvus__Proto__Common__KeyValuePair **row_count(qv_arena *a, uint64_t n)
{
    Milvus__Proto__Common__KeyValuePair *kv = qv_arena_alloc(a, sizeof *kv);
    milvus__proto__common__key_value_pair__init(kv);
    kv->key = (char *)"row_count";
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)n);
    kv->value = qv_arena_strdup(a, buf);
    Milvus__Proto__Common__KeyValuePair **v = qv_arena_alloc(a, sizeof *v);
    v[0] = kv;
    return v;
}

qv_code qv_proxy__get_collection_statistics(qv_rpc_call *call,
                                            const ProtobufCMessage *req,
                                            ProtobufCMessage **resp, void *ud,
                                            qv_err *err)
{
    qv_proxy *p = ud;
    const M(GetCollectionStatisticsRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetCollectionStatisticsResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_collection_statistics_response__init(r);
    qv_code rc = qv_proxy__check_name("collection", rq->collection_name, err);
    qv_describe_resp *d = NULL;
    const char *db = qv_proxy__db(call, rq->db_name);
    if (!rc)
        rc = qv_proxy__describe(p, call, db, rq->collection_name, &d, err);
    uint64_t n = 0;
    bool described = !rc;
    if (!rc)
        rc = qv_proxy__count_rows(p, call, db, rq->collection_name, NULL, &n,
                                  err);
    if (rc && !described && d && d->status)
        r->status = d->status;
    else
        r->status = qv_proxy__status(a, rc, QV_SUBJ_NONE,
                                     rc ? qv_arena_strdup(a, err->msg) : NULL);
    if (!rc) {
        r->stats = row_count(a, n);
        r->n_stats = 1;
    }
    *resp = &r->base;
    return QV_OK;
}

qv_code qv_proxy__has_partition(qv_rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const M(HasPartitionRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(BoolResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__bool_response__init(r);
    qv_code rc = qv_proxy__check_name("collection", rq->collection_name, err);
    if (!rc)
        rc = qv_proxy__check_name("partition", rq->partition_name, err);
    M(ShowPartitionsResponse) *sp = NULL;
    if (!rc) {
        M(ShowPartitionsRequest)
        q = MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
        q.db_name = (char *)qv_proxy__db(call, rq->db_name);
        q.collection_name = rq->collection_name;
        rc = qv_proxy__forward(
            p, call, "ShowPartitions", &q.base,
            &milvus__proto__milvus__show_partitions_response__descriptor,
            (ProtobufCMessage **)&sp, err);
    }
    if (!rc && sp->status && sp->status->code != 0) {
        r->status = sp->status; /* e.g. the collection does not exist */
        *resp = &r->base;
        return QV_OK;
    }
    for (size_t i = 0; !rc && i < sp->n_partition_names && !r->value; i++)
        r->value = strcmp(sp->partition_names[i], rq->partition_name) == 0;
    r->status = qv_proxy__status(a, rc, QV_SUBJ_NONE,
                                 rc ? qv_arena_strdup(a, err->msg) : NULL);
    *resp = &r->base;
    return QV_OK;
}

qv_code qv_proxy__get_partition_statistics(qv_rpc_call *call,
                                           const ProtobufCMessage *req,
                                           ProtobufCMessage **resp, void *ud,
                                           qv_err *err)
{
    qv_proxy *p = ud;
    const M(GetPartitionStatisticsRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_code rc = qv_proxy__check_name("collection", rq->collection_name, err);
    if (!rc)
        rc = qv_proxy__check_name("partition", rq->partition_name, err);
    M(ShowPartitionsResponse) *sp = NULL;
    if (!rc) {
        M(ShowPartitionsRequest)
        q = MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
        q.db_name = (char *)qv_proxy__db(call, rq->db_name);
        q.collection_name = rq->collection_name;
        q.partition_names = (char **)&rq->partition_name;
        q.n_partition_names = 1;
        rc = qv_proxy__forward(
            p, call, "ShowPartitions", &q.base,
            &milvus__proto__milvus__show_partitions_response__descriptor,
            (ProtobufCMessage **)&sp, err);
    }
    M(GetPartitionStatisticsResponse) *r = (void *)qv_proxy__reply(
        a,
        &milvus__proto__milvus__get_partition_statistics_response__descriptor,
        rc, err);
    if (!rc && sp->status)
        r->status = sp->status;
    if (!rc && (!sp->status || sp->status->code == 0)) {
        uint64_t n = 0;
        qv_code rc2 = qv_proxy__count_rows(
            p, call, qv_proxy__db(call, rq->db_name), rq->collection_name,
            rq->partition_name, &n, err);
        if (rc2)
            r->status = qv_proxy__status(a, rc2, QV_SUBJ_NONE,
                                         qv_arena_strdup(a, err->msg));
        r->stats = row_count(a, n);
        r->n_stats = 1;
    }
    *resp = &r->base;
    return QV_OK;
}
