/* rpc_ddl.c -- the DDL and metadata RPCs that the proxy validates and the
 * coord answers: databases, collections (create, drop, show, alter,
 * rename), partitions (create, drop, show) and aliases.
 *
 * One handler serves them all from a table: it resolves the database
 * (request db_name, else the `dbname` header, else "default") into the
 * request, checks names and required fields with Milvus's rules, forwards
 * the request unchanged to the same-named CoordService method and returns
 * the coord's reply.  Failures before or on the way to the coord are
 * answered with a Status of the reply's type (gRPC OK).  RPCs that change
 * metadata clear the proxy's describe cache when they succeed.
 */
#include <string.h>

#include "common/log.h"
#include "proxy/proxy_int.h"
#include "proxy/search_route.h"

#define M(x) Milvus__Proto__Milvus__##x

typedef qv_code (*check_fn)(const ProtobufCMessage *req, qv_err *err);

enum db_rule {
    DB_RESOLVE = 0, /* the database the request works in */
    DB_TARGET = 1,  /* db_name is the database acted on: required */
    DB_NONE = 2,    /* no database (ListDatabases) */
};

typedef struct ddl_row {
    const char *method; /* same name in MilvusService and CoordService */
    const ProtobufCMessageDescriptor *resp_desc;
    check_fn check;
    enum db_rule db;
    bool changes;  /* clears the describe cache */
    bool reroutes; /* drops the kept shard leaders (search_route.h) */
} ddl_row;

static qv_code coll(const char *name, qv_err *err)
{
    return qv_proxy__check_name("collection", name, err);
}

static qv_code ck_collection(const ProtobufCMessage *r, qv_err *err)
{
    /* Every request checked here has collection_name as field 3. */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(r->descriptor,
                                                        "collection_name");
    return coll(*(char *const *)((const char *)r + f->offset), err);
}

static qv_code ck_rename(const ProtobufCMessage *r, qv_err *err)
{
    const M(RenameCollectionRequest) *q = (const void *)r;
    qv_code rc = coll(q->oldname, err);
    if (!rc)
        rc = coll(q->newname, err);
    if (!rc && q->newdbname[0])
        rc = qv_proxy__check_name("database", q->newdbname, err);
    return rc;
}

static qv_code ck_partition(const ProtobufCMessage *r, qv_err *err)
{
    const M(CreatePartitionRequest) *q = (const void *)r;
    qv_code rc = coll(q->collection_name, err);
    return rc ? rc : qv_proxy__check_name("partition", q->partition_name, err);
}

static qv_code ck_show_partitions(const ProtobufCMessage *r, qv_err *err)
{
    const M(ShowPartitionsRequest) *q = (const void *)r;
    if (!q->collection_name[0] && q->collectionid > 0)
        return QV_OK;
    return coll(q->collection_name, err);
}

static qv_code ck_alias_coll(const ProtobufCMessage *r, qv_err *err)
{
    const M(CreateAliasRequest) *q = (const void *)r;
    qv_code rc = qv_proxy__check_name("alias", q->alias, err);
    return rc ? rc : coll(q->collection_name, err);
}

static qv_code ck_alias(const ProtobufCMessage *r, qv_err *err)
{
    const M(DropAliasRequest) *q = (const void *)r;
    return qv_proxy__check_name("alias", q->alias, err);
}

static qv_code ck_list_aliases(const ProtobufCMessage *r, qv_err *err)
{
    const M(ListAliasesRequest) *q = (const void *)r;
    return q->collection_name[0] ? coll(q->collection_name, err) : QV_OK;
}

static qv_code ck_create_database(const ProtobufCMessage *r, qv_err *err)
{
    const M(CreateDatabaseRequest) *q = (const void *)r;
    return qv_proxy__check_name("database", q->db_name, err);
}

#define STATUS  &milvus__proto__common__status__descriptor
#define RESP(x) &milvus__proto__milvus__##x##__descriptor

static const ddl_row rows[] = {
    {"CreateDatabase", STATUS, ck_create_database, DB_TARGET, true, false},
    {"DropDatabase", STATUS, NULL, DB_TARGET, true, false},
    {"AlterDatabase", STATUS, NULL, DB_TARGET, true, false},
    {"DescribeDatabase", RESP(describe_database_response), NULL, DB_TARGET,
     false, false},
    {"ListDatabases", RESP(list_databases_response), NULL, DB_NONE, false,
     false},
    {"CreateCollection", STATUS, ck_collection, DB_RESOLVE, true, false},
    {"DropCollection", STATUS, ck_collection, DB_RESOLVE, true, true},
    {"AlterCollection", STATUS, ck_collection, DB_RESOLVE, true, false},
    {"RenameCollection", STATUS, ck_rename, DB_RESOLVE, true, false},
    {"ShowCollections", RESP(show_collections_response), NULL, DB_RESOLVE,
     false, false},
    {"CreatePartition", STATUS, ck_partition, DB_RESOLVE, true, false},
    {"DropPartition", STATUS, ck_partition, DB_RESOLVE, true, true},
    {"ShowPartitions", RESP(show_partitions_response), ck_show_partitions,
     DB_RESOLVE, false, false},
    {"CreateAlias", STATUS, ck_alias_coll, DB_RESOLVE, true, false},
    {"DropAlias", STATUS, ck_alias, DB_RESOLVE, true, false},
    {"AlterAlias", STATUS, ck_alias_coll, DB_RESOLVE, true, false},
    {"DescribeAlias", RESP(describe_alias_response), ck_alias, DB_RESOLVE,
     false, false},
    {"ListAliases", RESP(list_aliases_response), ck_list_aliases, DB_RESOLVE,
     false, false},
    /* Load state and flush (coord/coord_load.c, coord/coord_data.c). */
    {"LoadCollection", STATUS, ck_collection, DB_RESOLVE, false, true},
    {"ReleaseCollection", STATUS, ck_collection, DB_RESOLVE, false, true},
    {"GetLoadState", RESP(get_load_state_response), ck_collection, DB_RESOLVE,
     false, false},
    {"GetLoadingProgress", RESP(get_loading_progress_response), ck_collection,
     DB_RESOLVE, false, false},
    {"LoadPartitions", STATUS, ck_collection, DB_RESOLVE, false, true},
    {"ReleasePartitions", STATUS, ck_collection, DB_RESOLVE, false, true},
    {"GetReplicas", RESP(get_replicas_response), NULL, DB_RESOLVE, false,
     false},
    {"Flush", RESP(flush_response), NULL, DB_RESOLVE, false, false},
};

static const ddl_row *find_row(const char *method)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].method, method) == 0)
            return &rows[i];
    return NULL;
}

/* Resolves and writes the request's db_name field. */
static qv_code set_db(qv_rpc_call *call, ProtobufCMessage *rq,
                      const ddl_row *row, qv_err *err)
{
    if (row->db == DB_NONE)
        return QV_OK;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(rq->descriptor,
                                                        "db_name");
    if (!f)
        return QV_OK;
    char **field = (char **)((char *)rq + f->offset);
    if (row->db == DB_TARGET) {
        if (!*field || !(*field)[0])
            return qv_fail(err, QV_E_INVALID, "%s: db_name is required",
                           row->method);
        return QV_OK;
    }
    *field = (char *)qv_proxy__db(call, *field);
    return QV_OK;
}

/* True when a reply (a Status, or a message with a status field) says
 * success. */
static bool reply_ok(const ProtobufCMessage *m)
{
    const Milvus__Proto__Common__Status *st = NULL;
    if (m->descriptor == &milvus__proto__common__status__descriptor) {
        st = (const void *)m;
    } else {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
                                                            "status");
        if (f)
            st = *(Milvus__Proto__Common__Status *const *)((const char *)m +
                                                           f->offset);
    }
    return !st || st->code == 0;
}

qv_code qv_proxy__ddl(qv_rpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const char *m = qv_rpc_call_method(call);
    if (strncmp(m, QV_MILVUS_SERVICE, strlen(QV_MILVUS_SERVICE)) == 0)
        m += strlen(QV_MILVUS_SERVICE);
    const ddl_row *row = find_row(m);
    if (!row)
        return qv_fail(err, QV_E_INTERNAL, "no ddl row for '%s'", m);
    /* The request lives in the call's arena and is ours to complete. */
    ProtobufCMessage *rq = (ProtobufCMessage *)req;
    qv_code rc = set_db(call, rq, row, err);
    if (!rc && row->check)
        rc = row->check(rq, err);
    if (!rc)
        rc = qv_proxy__forward(p, call, row->method, rq, row->resp_desc, resp,
                               err);
    /* Read-your-writes on this proxy.  A failed or uncertain DDL changes
     * nothing here: if the coord applied it after all, the cache's watch
     * clears it as for any other change. */
    if (row->changes && !rc && reply_ok(*resp))
        qv_meta_cache_clear(p->cache);
    /* The kept read plans list the loaded partitions: a load or release
     * through this proxy is seen by its next read (through another
     * proxy, within QV_PROXY_LEADER_TTL_MS). */
    if (row->reroutes && !rc && reply_ok(*resp))
        qv_proxy__search_forget_all(p);
    if (rc) {
        QV_LOG(QV_LOG_DEBUG, "proxy", "%s failed: %s", row->method,
               err ? err->msg : "");
        *resp =
            qv_proxy__reply(qv_rpc_call_arena(call), row->resp_desc, rc, err);
    }
    return QV_OK;
}
