/* svc_collection.c -- CoordService CreateCollection, DropCollection,
 * AlterCollection and RenameCollection over the catalog. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coord/coord_int.h"
#include "coord/schema_check.h"
#include "proto/pb_arena.h"

/* Checks the values of the collection properties Milvus gives a meaning:
 * collection.ttl.seconds (an integer >= 0) and mmap.enabled (a boolean).
 * Other keys are kept as given. */
static qv_code check_props(qv_kvp **props, size_t n, qv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = props[i]->key, *v = props[i]->value;
        if (strcmp(k, "collection.ttl.seconds") == 0) {
            char *end;
            long long t = strtoll(v, &end, 10);
            if (!v[0] || *end || t < 0)
                return qv_fail(err, QV_E_INVALID,
                               "property 'collection.ttl.seconds' must be an "
                               "integer >= 0, not '%s'",
                               v);
        } else if (strcmp(k, "mmap.enabled") == 0) {
            if (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0)
                return qv_fail(err, QV_E_INVALID,
                               "property 'mmap.enabled' must be true or "
                               "false, not '%s'",
                               v);
        }
    }
    return QV_OK;
}

/* Decodes, validates and completes the request's schema into info. */
static qv_code
build_info(const Milvus__Proto__Milvus__CreateCollectionRequest *rq,
           qv_arena *a, qv_coll_info *info, qv_err *err)
{
    if (!rq->collection_name[0])
        return qv_fail(err, QV_E_INVALID, "collection name is empty");
    if (rq->schema.len == 0)
        return qv_fail(err, QV_E_INVALID,
                       "collection '%s': the schema is empty",
                       rq->collection_name);
    Milvus__Proto__Schema__CollectionSchema *s;
    qv_code rc = qv_pb_unpack(
        &milvus__proto__schema__collection_schema__descriptor, rq->schema.data,
        rq->schema.len, a, "collection schema", (ProtobufCMessage **)&s, err);
    if (rc)
        return qv_fail(err, QV_E_INVALID, "collection '%s': %s",
                       rq->collection_name, err ? err->msg : "bad schema");
    int32_t shards = rq->shards_num;
    int64_t nparts = rq->num_partitions;
    rc =
        qv_schema_check(s, rq->collection_name, &shards, &nparts, NULL, a, err);
    if (rc)
        return rc;
    info->name = rq->collection_name;
    info->schema = s;
    info->shards_num = shards;
    info->consistency_level = rq->consistency_level;
    info->properties = rq->properties;
    info->n_properties = rq->n_properties;
    info->num_partitions = nparts;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__create_collection)
{
    const Milvus__Proto__Milvus__CreateCollectionRequest *rq =
        (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_coll_info info = QUIVER__INTERNAL__COLLECTION_INFO__INIT;
    qv_code rc = build_info(rq, a, &info, err);
    if (!rc) {
        qv_catalog *cat;
        rc = qv_coord__enter(c, &cat, NULL, err);
        if (rc)
            return rc;
        rc = qv_catalog_create_collection(cat, qv_coord__db(rq->db_name), &info,
                                          NULL, err);
        qv_coord__leave(c);
    }
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__drop_collection)
{
    const Milvus__Proto__Milvus__DropCollectionRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_drop_collection(cat, qv_coord__db(rq->db_name),
                                    rq->collection_name, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__alter_collection)
{
    const Milvus__Proto__Milvus__AlterCollectionRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = check_props(rq->properties, rq->n_properties, err);
    if (rc) {
        *resp = &qv_coord__status(a, rc, err)->base;
        return QV_OK;
    }
    rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_alter_collection(
        cat, qv_coord__db(rq->db_name), rq->collection_name, rq->properties,
        rq->n_properties, rq->delete_keys, rq->n_delete_keys, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__rename_collection)
{
    const Milvus__Proto__Milvus__RenameCollectionRequest *rq =
        (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = qv_catalog_rename_collection(cat, qv_coord__db(rq->db_name),
                                      rq->oldname, rq->newdbname, rq->newname,
                                      err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}
