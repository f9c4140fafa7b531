/* svc_database.c -- CoordService database RPCs over the catalog. */
#include <stdlib.h>

#include "coord/coord_int.h"

/* Runs a Status-returning catalog operation. */
#define STATUS_RPC(body)                                                       \
    qv_coord *c = ud;                                                          \
    qv_arena *a = qv_rpc_call_arena(call);                                     \
    qv_catalog *cat;                                                           \
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);                          \
    if (rc)                                                                    \
        return rc;                                                             \
    rc = (body);                                                               \
    qv_coord__leave(c);                                                        \
    *resp = &qv_coord__status(a, rc, err)->base;                               \
    return QV_OK

QV_COORD_HANDLER(qv_coord__create_database)
{
    const Milvus__Proto__Milvus__CreateDatabaseRequest *rq = (const void *)req;
    STATUS_RPC(qv_catalog_create_database(cat, rq->db_name, rq->properties,
                                          rq->n_properties, err));
}

QV_COORD_HANDLER(qv_coord__drop_database)
{
    const Milvus__Proto__Milvus__DropDatabaseRequest *rq = (const void *)req;
    STATUS_RPC(qv_catalog_drop_database(cat, rq->db_name, err));
}

QV_COORD_HANDLER(qv_coord__alter_database)
{
    const Milvus__Proto__Milvus__AlterDatabaseRequest *rq = (const void *)req;
    STATUS_RPC(qv_catalog_alter_database(
        cat, qv_coord__db(rq->db_name), rq->properties, rq->n_properties,
        rq->delete_keys, rq->n_delete_keys, err));
}

static int by_id(const void *x, const void *y)
{
    const qv_db_info *a = *(qv_db_info *const *)x;
    const qv_db_info *b = *(qv_db_info *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

QV_COORD_HANDLER(qv_coord__list_databases)
{
    (void)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_db_info **dbs = NULL;
    size_t n = 0;
    rc = qv_catalog_list_databases(cat, a, &dbs, &n, err);
    qv_coord__leave(c);
    Milvus__Proto__Milvus__ListDatabasesResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__list_databases_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc && n) {
        /* Creation order, so "default" comes first. */
        qsort(dbs, n, sizeof *dbs, by_id);
        r->db_names = qv_arena_calloc(a, n, sizeof(char *));
        r->created_timestamp = qv_arena_calloc(a, n, sizeof(uint64_t));
        r->db_ids = qv_arena_calloc(a, n, sizeof(int64_t));
        for (size_t i = 0; i < n; i++) {
            r->db_names[i] = dbs[i]->name;
            r->created_timestamp[i] = dbs[i]->created_ts;
            r->db_ids[i] = dbs[i]->id;
        }
        r->n_db_names = r->n_created_timestamp = r->n_db_ids = n;
    }
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__describe_database)
{
    const Milvus__Proto__Milvus__DescribeDatabaseRequest *rq =
        (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_db_info *d = NULL;
    rc = qv_catalog_get_database(cat, qv_coord__db(rq->db_name), a, &d, err);
    qv_coord__leave(c);
    Milvus__Proto__Milvus__DescribeDatabaseResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__describe_database_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc) {
        r->db_name = d->name;
        r->dbid = d->id;
        r->created_timestamp = d->created_ts;
        r->properties = d->properties;
        r->n_properties = d->n_properties;
    }
    *resp = &r->base;
    return QV_OK;
}
