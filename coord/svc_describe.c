/* svc_describe.c -- CoordService DescribeCollection and ShowCollections.
 *
 * DescribeCollection answers as Milvus does (notes/sdk-compat.md §4.2):
 * the schema without system fields and without the hidden dynamic field
 * "$meta" (enable_dynamic_field stays set), user fields in declaration
 * order with their IDs and type parameters; collection id, channels,
 * shards, aliases, consistency level, properties, creation and update
 * timestamps (hybrid, and the physical part in Unix ms), database name and
 * id, num_partitions.  update_timestamp_str is the decimal update_timestamp
 * (the SDK prefers it and sends it back as the insert schema timestamp).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/hts.h"
#include "coord/coord_int.h"
#include "coord/schema_check.h"

/* A shallow copy of s without system and dynamic fields. */
static Milvus__Proto__Schema__CollectionSchema *
public_schema(qv_arena *a, const Milvus__Proto__Schema__CollectionSchema *s)
{
    Milvus__Proto__Schema__CollectionSchema *p = qv_arena_alloc(a, sizeof *p);
    *p = *s;
    p->fields = qv_arena_calloc(a, s->n_fields + 1, sizeof(*p->fields));
    p->n_fields = 0;
    for (size_t i = 0; i < s->n_fields; i++) {
        Milvus__Proto__Schema__FieldSchema *f = s->fields[i];
        if (f->is_dynamic || f->fieldid < QV_FIRST_USER_FIELD_ID)
            continue;
        p->fields[p->n_fields++] = f;
    }
    return p;
}

static void fill_describe(qv_arena *a,
                          Milvus__Proto__Milvus__DescribeCollectionResponse *r,
                          const qv_coll_info *info, const char *db)
{
    r->schema = public_schema(a, info->schema);
    r->collectionid = info->id;
    r->virtual_channel_names = info->virtual_channels;
    r->n_virtual_channel_names = info->n_virtual_channels;
    r->physical_channel_names = info->physical_channels;
    r->n_physical_channel_names = info->n_physical_channels;
    r->created_timestamp = info->created_ts;
    r->created_utc_timestamp = qv_ts_physical(info->created_ts);
    r->shards_num = info->shards_num;
    r->aliases = info->aliases;
    r->n_aliases = info->n_aliases;
    r->consistency_level = info->consistency_level;
    r->collection_name = info->name;
    r->properties = info->properties;
    r->n_properties = info->n_properties;
    r->db_name = (char *)db;
    r->num_partitions = info->num_partitions;
    r->db_id = info->db_id;
    r->update_timestamp = info->update_ts;
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, info->update_ts);
    r->update_timestamp_str = qv_arena_strdup(a, buf);
}

QV_COORD_HANDLER(qv_coord__describe_collection)
{
    const Milvus__Proto__Milvus__DescribeCollectionRequest *rq =
        (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_coord__db(rq->db_name);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info = NULL;
    if (!rq->collection_name[0] && rq->collectionid <= 0)
        rc = qv_fail(err, QV_E_INVALID,
                     "describe collection: no collection name or id");
    else
        rc = qv_catalog_get_collection(
            cat, db, rq->collection_name,
            rq->collection_name[0] ? 0 : rq->collectionid, a, &info, err);
    qv_coord__leave(c);
    Milvus__Proto__Milvus__DescribeCollectionResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__describe_collection_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    if (!rc)
        fill_describe(a, r, info, db);
    *resp = &r->base;
    return QV_OK;
}

/* Keeps the collections named in the request (all when none are named);
 * a named collection that does not exist is an error, as in Milvus.  The
 * field is deprecated upstream but older clients still send it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static qv_code
only_named(const Milvus__Proto__Milvus__ShowCollectionsRequest *rq,
           qv_coll_info **v, size_t *n, qv_err *err)
{
    if (rq->n_collection_names == 0)
        return QV_OK;
    size_t m = 0;
    for (size_t i = 0; i < rq->n_collection_names; i++) {
        const char *want = rq->collection_names[i];
        size_t j = 0;
        while (j < *n && strcmp(v[j]->name, want) != 0)
            j++;
        if (j == *n)
            return qv_fail(err, QV_E_COLLECTION_NOT_FOUND,
                           "collection '%s' not found", want);
        qv_coll_info *t = v[m];
        v[m++] = v[j];
        v[j] = t;
    }
    *n = m;
    return QV_OK;
}
#pragma GCC diagnostic pop

QV_COORD_HANDLER(qv_coord__show_collections)
{
    const Milvus__Proto__Milvus__ShowCollectionsRequest *rq = (const void *)req;
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info **v = NULL;
    size_t n = 0;
    rc = qv_catalog_list_collections(cat, qv_coord__db(rq->db_name), a, &v, &n,
                                     err);
    qv_coord__leave(c);
    if (!rc)
        rc = only_named(rq, v, &n, err);
    Milvus__Proto__Milvus__ShowCollectionsResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__show_collections_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    /* Nothing is loaded into memory before the query path exists, so
     * InMemory lists no collection. */
    if (rc || n == 0 ||
        rq->type == MILVUS__PROTO__MILVUS__SHOW_TYPE__InMemory) {
        *resp = &r->base;
        return QV_OK;
    }
    r->collection_names = qv_arena_calloc(a, n, sizeof(char *));
    r->collection_ids = qv_arena_calloc(a, n, sizeof(int64_t));
    r->created_timestamps = qv_arena_calloc(a, n, sizeof(uint64_t));
    r->created_utc_timestamps = qv_arena_calloc(a, n, sizeof(uint64_t));
    r->query_service_available =
        qv_arena_calloc(a, n, sizeof(protobuf_c_boolean));
    r->shards_num = qv_arena_calloc(a, n, sizeof(int32_t));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    r->inmemory_percentages = qv_arena_calloc(a, n, sizeof(int64_t));
    r->n_inmemory_percentages = n;
#pragma GCC diagnostic pop
    for (size_t i = 0; i < n; i++) {
        r->collection_names[i] = v[i]->name;
        r->collection_ids[i] = v[i]->id;
        r->created_timestamps[i] = v[i]->created_ts;
        r->created_utc_timestamps[i] = qv_ts_physical(v[i]->created_ts);
        r->shards_num[i] = v[i]->shards_num;
    }
    r->n_collection_names = r->n_collection_ids = r->n_created_timestamps = n;
    r->n_created_utc_timestamps = r->n_query_service_available = n;
    r->n_shards_num = n;
    *resp = &r->base;
    return QV_OK;
}
