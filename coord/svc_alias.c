/* svc_alias.c -- CoordService alias RPCs over the catalog.  ListAliases
 * lists the aliases of one collection, or of every collection of the
 * database when no collection is named. */
#include "coord/coord_int.h"

QV_COORD_HANDLER(qv_coord__create_alias)
{
    const Milvus__Proto__Milvus__CreateAliasRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_create_alias(cat, qv_coord__db(rq->db_name), rq->alias,
                                 rq->collection_name, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__drop_alias)
{
    const Milvus__Proto__Milvus__DropAliasRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_drop_alias(cat, qv_coord__db(rq->db_name), rq->alias, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__alter_alias)
{
    const Milvus__Proto__Milvus__AlterAliasRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_alter_alias(cat, qv_coord__db(rq->db_name), rq->alias,
                                rq->collection_name, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__describe_alias)
{
    const Milvus__Proto__Milvus__DescribeAliasRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_coord__db(rq->db_name);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    char *coll = NULL;
    rc = qv_catalog_describe_alias(cat, db, rq->alias, a, &coll, err);
    qv_coord__leave(c);
    Milvus__Proto__Milvus__DescribeAliasResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__describe_alias_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc) {
        r->db_name = (char *)db;
        r->alias = rq->alias;
        r->collection = coll;
    }
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__list_aliases)
{
    const Milvus__Proto__Milvus__ListAliasesRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_coord__db(rq->db_name);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info **v = NULL, *one = NULL;
    size_t n = 0;
    if (rq->collection_name[0]) {
        rc = qv_catalog_get_collection(cat, db, rq->collection_name, 0, a, &one,
                                       err);
        v = &one;
        n = rc ? 0 : 1;
    } else {
        rc = qv_catalog_list_collections(cat, db, a, &v, &n, err);
    }
    qv_coord__leave(c);
    Milvus__Proto__Milvus__ListAliasesResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__list_aliases_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    r->db_name = (char *)db;
    r->collection_name = rq->collection_name;
    size_t total = 0;
    for (size_t i = 0; !rc && i < n; i++)
        total += v[i]->n_aliases;
    if (total) {
        r->aliases = qv_arena_calloc(a, total, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < v[i]->n_aliases; j++)
                r->aliases[r->n_aliases++] = v[i]->aliases[j];
    }
    *resp = &r->base;
    return QV_OK;
}
