/* rpc_index.c -- the index RPCs: CreateIndex, DescribeIndex,
 * GetIndexStatistics, DropIndex, GetIndexState, GetIndexBuildProgress and
 * AlterIndex (notes/sdk-compat.md §4.7).
 *
 * One handler serves them all from a table: it resolves the database
 * (request db_name, else the `dbname` header, else "default"), checks the
 * collection name, and for CreateIndex checks the field and the parameters
 * against the collection's schema (through the describe cache) with the
 * same rules the coord applies (indexnode/index_spec.h), so a bad request
 * is answered without a trip to the coord.  The request is then forwarded
 * unchanged to the same-named CoordService method (coord/svc_index.c),
 * which checks again against its catalog and answers.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "indexnode/index_spec.h"
#include "proto/convert_fielddata.h"
#include "proxy/proxy_int.h"

#define M(x)    Milvus__Proto__Milvus__##x
#define STATUS  &milvus__proto__common__status__descriptor
#define RESP(x) &milvus__proto__milvus__##x##__descriptor

typedef struct index_row {
    const char *method;
    const ProtobufCMessageDescriptor *resp_desc;
} index_row;

static const index_row rows[] = {
    {"CreateIndex", STATUS},
    {"DescribeIndex", RESP(describe_index_response)},
    {"GetIndexStatistics", RESP(get_index_statistics_response)},
    {"DropIndex", STATUS},
    {"GetIndexState", RESP(get_index_state_response)},
    {"GetIndexBuildProgress", RESP(get_index_build_progress_response)},
    {"AlterIndex", STATUS},
};

static const index_row *find_row(const char *method)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].method, method) == 0)
            return &rows[i];
    return NULL;
}

/* Every index request has db_name (2) and collection_name (3). */
static char **str_field(ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    return f ? (char **)((char *)m + f->offset) : NULL;
}

/* CreateIndex against the schema: the field exists and is not a system
 * or dynamic field, the parameters fit its type. */
static qv_code check_create(qv_proxy *p, qv_rpc_call *call,
                            const M(CreateIndexRequest) * rq, qv_err *err)
{
    if (!rq->field_name[0])
        return qv_fail(err, QV_E_INVALID,
                       "create index: field name is required");
    if (rq->index_name[0]) {
        qv_code rc = qv_proxy__check_name("index", rq->index_name, err);
        if (rc)
            return rc;
    }
    qv_describe_resp *d = NULL;
    qv_code rc =
        qv_proxy__describe(p, call, rq->db_name, rq->collection_name, &d, err);
    if (rc)
        return rc;
    const Milvus__Proto__Schema__FieldSchema *fs = NULL;
    for (size_t i = 0; d->schema && i < d->schema->n_fields; i++)
        if (strcmp(d->schema->fields[i]->name, rq->field_name) == 0)
            fs = d->schema->fields[i];
    if (!fs || fs->is_dynamic)
        return qv_fail(err, QV_E_INVALID,
                       "cannot create index on non-exist field: %s",
                       rq->field_name);
    qv_field_spec spec;
    rc = qv_field_spec_from_schema(fs, &spec, err);
    if (rc)
        return rc;
    qv_kv *kv = qv_xcalloc(rq->n_extra_params + 1, sizeof *kv);
    for (size_t i = 0; i < rq->n_extra_params; i++)
        kv[i] = (qv_kv){rq->extra_params[i]->key, rq->extra_params[i]->value};
    qv_index_field f = {.name = fs->name,
                        .type = spec.type,
                        .elem_type = spec.elem_type,
                        .dim = spec.dim};
    qv_index_spec s;
    rc = qv_index_spec_parse(kv, rq->n_extra_params, &f, &s, err);
    free(kv);
    qv_index_spec_release(&s);
    return rc;
}

qv_code qv_proxy__index(qv_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const char *m = qv_rpc_call_method(call);
    if (strncmp(m, QV_MILVUS_SERVICE, strlen(QV_MILVUS_SERVICE)) == 0)
        m += strlen(QV_MILVUS_SERVICE);
    const index_row *row = find_row(m);
    if (!row)
        return qv_fail(err, QV_E_INTERNAL, "no index row for '%s'", m);
    ProtobufCMessage *rq = (ProtobufCMessage *)req; /* in the call's arena */
    char **db = str_field(rq, "db_name");
    char **coll = str_field(rq, "collection_name");
    if (db)
        *db = (char *)qv_proxy__db(call, *db);
    qv_code rc = coll ? qv_proxy__check_name("collection", *coll, err) : QV_OK;
    if (!rc && strcmp(row->method, "CreateIndex") == 0)
        rc = check_create(p, call, (const void *)rq, err);
    if (!rc)
        rc = qv_proxy__forward(p, call, row->method, rq, row->resp_desc, resp,
                               err);
    if (rc) {
        QV_LOG(QV_LOG_DEBUG, "proxy", "%s failed: %s", row->method,
               err ? err->msg : "");
        *resp =
            qv_proxy__reply(qv_rpc_call_arena(call), row->resp_desc, rc, err);
    }
    return QV_OK;
}
