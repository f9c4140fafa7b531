/* svc_partition.c -- CoordService CreatePartition, DropPartition and
 * ShowPartitions over the catalog.  ShowPartitions lists "_default" first
 * (creation order), or only the named partitions when some are given. */
#include <string.h>

#include "common/hts.h"
#include "coord/coord_int.h"

QV_COORD_HANDLER(qv_coord__create_partition)
{
    const Milvus__Proto__Milvus__CreatePartitionRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_create_partition(cat, qv_coord__db(rq->db_name),
                                     rq->collection_name, rq->partition_name,
                                     err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__drop_partition)
{
    const Milvus__Proto__Milvus__DropPartitionRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc =
        qv_catalog_drop_partition(cat, qv_coord__db(rq->db_name),
                                  rq->collection_name, rq->partition_name, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

static bool wanted(const Milvus__Proto__Milvus__ShowPartitionsRequest *rq,
                   const char *name)
{
    if (rq->n_partition_names == 0)
        return true;
    for (size_t i = 0; i < rq->n_partition_names; i++)
        if (strcmp(rq->partition_names[i], name) == 0)
            return true;
    return false;
}

QV_COORD_HANDLER(qv_coord__show_partitions)
{
    const Milvus__Proto__Milvus__ShowPartitionsRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info = NULL;
    rc = qv_catalog_get_collection(
        cat, qv_coord__db(rq->db_name), rq->collection_name,
        rq->collection_name[0] ? 0 : rq->collectionid, a, &info, err);
    qv_coord__leave(c);
    Milvus__Proto__Milvus__ShowPartitionsResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__show_partitions_response__init(r);
    size_t n = rc ? 0 : info->n_partitions;
    for (size_t i = 0; i < rq->n_partition_names && !rc; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found =
                strcmp(info->partitions[j]->name, rq->partition_names[i]) == 0;
        if (!found)
            rc = qv_fail(err, QV_E_PARTITION_NOT_FOUND,
                         "partition '%s' not found in collection '%s'",
                         rq->partition_names[i], rq->collection_name);
    }
    r->status = qv_coord__status(a, rc, err);
    if (rc || n == 0) {
        *resp = &r->base;
        return QV_OK;
    }
    r->partition_names = qv_arena_calloc(a, n, sizeof(char *));
    r->partitionids = qv_arena_calloc(a, n, sizeof(int64_t));
    r->created_timestamps = qv_arena_calloc(a, n, sizeof(uint64_t));
    r->created_utc_timestamps = qv_arena_calloc(a, n, sizeof(uint64_t));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    r->inmemory_percentages = qv_arena_calloc(a, n, sizeof(int64_t));
#pragma GCC diagnostic pop
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const Quiver__Internal__PartitionInfo *p = info->partitions[i];
        if (!wanted(rq, p->name))
            continue;
        r->partition_names[m] = p->name;
        r->partitionids[m] = p->id;
        r->created_timestamps[m] = p->created_ts;
        r->created_utc_timestamps[m] = qv_ts_physical(p->created_ts);
        m++;
    }
    r->n_partition_names = r->n_partitionids = r->n_created_timestamps = m;
    r->n_created_utc_timestamps = m;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    r->n_inmemory_percentages = m;
#pragma GCC diagnostic pop
    *resp = &r->base;
    return QV_OK;
}
