/* svc_index.c -- CoordService index RPCs: CreateIndex, DescribeIndex,
 * GetIndexStatistics, DropIndex, GetIndexState, GetIndexBuildProgress,
 * AlterIndex (notes/sdk-compat.md §4.7, milvus-facts.md §6).
 *
 * An index is an IndexInfo record (coord/segmeta.h, meta/index/<coll>/<id>)
 * per (collection, field): at most one live index per field, its name
 * unique in the collection (default: the field name).  CreateIndex of an
 * index that exists with the same name and parameters succeeds (Milvus is
 * idempotent there); other parameters on the same field are Milvus's
 * "at most one distinct index is allowed per field" (702).  Parameters are
 * normalized and checked with indexnode/index_spec.h, so what is stored is
 * index_type, metric_type (vector indexes) and params (JSON).  DropIndex
 * marks the record DROPPED (GC removes it and its files later) and is
 * refused while the collection is loaded, as in Milvus.  DescribeIndex
 * with no matching index answers IndexNotExist (25) / code 700.
 *
 * Build progress (indexed, total and pending rows, state, fail reason)
 * comes from the collection's SegmentInfo and SegmentIndex records
 * (qv_coord__index_progress in coord_build.c).
 *
 * Index DDL is serialized by one mutex, so two CreateIndex calls on one
 * field cannot both succeed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "coord/coord_int.h"
#include "coord/segmeta.h"
#include "indexnode/index_spec.h"
#include "proto/convert_fielddata.h"
#include "proto/rpc_status.h"

#define M(x) Milvus__Proto__Milvus__##x

static pthread_mutex_t index_mu = PTHREAD_MUTEX_INITIALIZER;

typedef Milvus__Proto__Schema__FieldSchema field_schema;

static qv_pb_status *status_ix(qv_arena *a, qv_code rc, const qv_err *err)
{
    qv_pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, rc, QV_SUBJ_INDEX,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    return st;
}

static const field_schema *field_by_name(const qv_coll_info *ci,
                                         const char *name)
{
    for (size_t i = 0; ci->schema && i < ci->schema->n_fields; i++)
        if (strcmp(ci->schema->fields[i]->name, name) == 0)
            return ci->schema->fields[i];
    return NULL;
}

static const field_schema *field_by_id(const qv_coll_info *ci, int64_t id)
{
    for (size_t i = 0; ci->schema && i < ci->schema->n_fields; i++)
        if (ci->schema->fields[i]->fieldid == id)
            return ci->schema->fields[i];
    return NULL;
}

/* The collection and its live indexes. */
static qv_code load_coll(qv_coord *c, qv_catalog *cat, const char *db,
                         const char *name, qv_arena *a, qv_coll_info **ci,
                         qv_index_info ***ix, size_t *nix, qv_err *err)
{
    qv_code rc =
        qv_catalog_get_collection(cat, qv_coord__db(db), name, 0, a, ci, err);
    qv_index_info **all = NULL;
    size_t n = 0;
    if (!rc)
        rc = qv_segmeta_list_indexes(c->opts.kv, c->root, (*ci)->id, a, &all,
                                     &n, err);
    if (rc)
        return rc;
    *ix = qv_arena_calloc(a, n + 1, sizeof **ix);
    *nix = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i]->state == QUIVER__INTERNAL__META_STATE__META_CREATED)
            (*ix)[(*nix)++] = all[i];
    return QV_OK;
}

static qv_code field_index_spec(const field_schema *fs, const qv_kvp *const *kv,
                                size_t n, qv_index_spec *out, qv_err *err)
{
    qv_field_spec spec;
    qv_code rc = qv_field_spec_from_schema(fs, &spec, err);
    if (rc)
        return rc;
    qv_kv *pairs = qv_xcalloc(n + 1, sizeof *pairs);
    for (size_t i = 0; i < n; i++)
        pairs[i] = (qv_kv){kv[i]->key, kv[i]->value};
    qv_index_field f = {.name = fs->name,
                        .type = spec.type,
                        .elem_type = spec.elem_type,
                        .dim = spec.dim};
    rc = qv_index_spec_parse(pairs, n, &f, out, err);
    free(pairs);
    return rc;
}

static qv_kvp *kvp(qv_arena *a, const char *k, const char *v)
{
    qv_kvp *p = qv_arena_alloc(a, sizeof *p);
    milvus__proto__common__key_value_pair__init(p);
    p->key = qv_arena_strdup(a, k);
    p->value = qv_arena_strdup(a, v);
    return p;
}

/* The stored (normalized) params of a spec. */
static void spec_params(qv_arena *a, const qv_index_spec *s, qv_index_info *ii)
{
    ii->params = qv_arena_calloc(a, 3, sizeof *ii->params);
    ii->params[ii->n_params++] = kvp(a, "index_type", s->index_type);
    if (s->metric_type[0])
        ii->params[ii->n_params++] = kvp(a, "metric_type", s->metric_type);
    ii->params[ii->n_params++] = kvp(a, "params", s->params_json);
}

static qv_code create_index(qv_coord *c, qv_catalog *cat, qv_tso *tso,
                            const M(CreateIndexRequest) * rq, qv_arena *a,
                            qv_err *err)
{
    if (!rq->field_name[0])
        return qv_fail(err, QV_E_INVALID,
                       "create index: field name is "
                       "required");
    qv_coll_info *ci;
    qv_index_info **ix;
    size_t nix;
    qv_code rc = load_coll(c, cat, rq->db_name, rq->collection_name, a, &ci,
                           &ix, &nix, err);
    if (rc)
        return rc;
    const field_schema *fs = field_by_name(ci, rq->field_name);
    if (!fs || fs->is_dynamic || fs->fieldid < 100)
        return qv_fail(err, QV_E_INVALID,
                       "cannot create index on non-exist field: %s",
                       rq->field_name);
    qv_index_spec spec;
    rc = field_index_spec(fs, (const qv_kvp *const *)rq->extra_params,
                          rq->n_extra_params, &spec, err);
    if (rc)
        return rc;
    const char *name = rq->index_name[0] ? rq->index_name : rq->field_name;
    for (size_t i = 0; !rc && i < nix; i++) {
        if (ix[i]->field_id == fs->fieldid) {
            qv_index_spec old;
            qv_code orc =
                field_index_spec(fs, (const qv_kvp *const *)ix[i]->params,
                                 ix[i]->n_params, &old, NULL);
            bool same = !orc && qv_index_spec_equal(&old, &spec) &&
                        strcmp(ix[i]->index_name, name) == 0;
            qv_index_spec_release(&old);
            rc = same ? QV_E_EXISTS
                      : qv_fail(err, QV_E_EXISTS,
                                "CreateIndex failed: at most one distinct "
                                "index is allowed per field (field '%s' "
                                "has index '%s')",
                                rq->field_name, ix[i]->index_name);
        } else if (strcmp(ix[i]->index_name, name) == 0) {
            rc = qv_fail(err, QV_E_EXISTS,
                         "CreateIndex failed: index name '%s' is used by "
                         "another field",
                         name);
        }
    }
    if (rc == QV_E_EXISTS && !err->msg[0]) {
        qv_index_spec_release(&spec);
        return QV_OK; /* the same index again */
    }
    qv_index_info ii;
    quiver__internal__index_info__init(&ii);
    if (!rc)
        rc = qv_tso_alloc_ids(tso, 1, &ii.id, err);
    if (!rc)
        rc = qv_tso_alloc(tso, 1, &ii.create_ts, err);
    if (!rc) {
        ii.collection_id = ci->id;
        ii.field_id = fs->fieldid;
        ii.index_name = (char *)name;
        spec_params(a, &spec, &ii);
        ii.user_params = rq->extra_params;
        ii.n_user_params = rq->n_extra_params;
        char key[QV_SEGMETA_KEY_MAX];
        qv_segmeta_index_key(c->root, ci->id, ii.id, key, sizeof key);
        rc = qv_segmeta_put(c->opts.kv, key, &ii.base, err);
    }
    if (!rc)
        QV_LOG(QV_LOG_INFO, "coord",
               "index %" PRId64 " '%s' (%s) created on field '%s' of "
               "collection %" PRId64,
               ii.id, name, spec.index_type, fs->name, ci->id);
    qv_index_spec_release(&spec);
    return rc;
}

QV_COORD_HANDLER(qv_coord__create_index)
{
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_tso *tso;
    err->msg[0] = '\0';
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&index_mu);
    rc = create_index(c, cat, tso, (const void *)req, a, err);
    pthread_mutex_unlock(&index_mu);
    qv_coord__leave(c);
    *resp = &status_ix(a, rc, err)->base;
    return QV_OK;
}

/* The live indexes matching index_name (if set) or else field_name (if
 * set); QV_E_INDEX_NOT_FOUND when none. */
static qv_code match(qv_coord *c, qv_catalog *cat, const char *db,
                     const char *coll, const char *field, const char *index,
                     qv_arena *a, qv_coll_info **ci, qv_index_info ***out,
                     size_t *n, qv_err *err)
{
    qv_index_info **ix;
    size_t nix;
    qv_code rc = load_coll(c, cat, db, coll, a, ci, &ix, &nix, err);
    if (rc)
        return rc;
    *out = qv_arena_calloc(a, nix + 1, sizeof **out);
    *n = 0;
    for (size_t i = 0; i < nix; i++) {
        const field_schema *fs = field_by_id(*ci, ix[i]->field_id);
        bool ok = index && index[0]   ? strcmp(ix[i]->index_name, index) == 0
                  : field && field[0] ? fs && strcmp(fs->name, field) == 0
                                      : true;
        if (ok)
            (*out)[(*n)++] = ix[i];
    }
    if (*n == 0)
        return qv_fail(err, QV_E_INDEX_NOT_FOUND,
                       "index not found[collection=%s]%s%s", coll,
                       index && index[0] ? " index name " : "",
                       index && index[0] ? index : "");
    return QV_OK;
}

static Milvus__Proto__Milvus__IndexDescription *
describe_one(qv_coord *c, const qv_coll_info *ci, const qv_index_info *ii,
             qv_arena *a, qv_err *err)
{
    qv_index_progress p;
    if (qv_coord__index_progress(c, ii, a, &p, err))
        return NULL;
    Milvus__Proto__Milvus__IndexDescription *d = qv_arena_alloc(a, sizeof *d);
    milvus__proto__milvus__index_description__init(d);
    const field_schema *fs = field_by_id(ci, ii->field_id);
    d->index_name = ii->index_name;
    d->indexid = ii->id;
    d->field_name = fs ? fs->name : (char *)"";
    d->params = qv_arena_calloc(a, ii->n_params + ii->n_properties + 1,
                                sizeof *d->params);
    for (size_t i = 0; i < ii->n_params; i++)
        d->params[d->n_params++] = ii->params[i];
    for (size_t i = 0; i < ii->n_properties; i++)
        d->params[d->n_params++] = ii->properties[i];
    d->indexed_rows = p.indexed;
    d->total_rows = p.total;
    d->pending_index_rows = p.pending;
    d->state = (Milvus__Proto__Common__IndexState)p.state;
    d->index_state_fail_reason = (char *)(p.fail_reason ? p.fail_reason : "");
    return d;
}

static qv_code describe(qv_coord *c, qv_catalog *cat, const char *db,
                        const char *coll, const char *field, const char *index,
                        qv_arena *a,
                        Milvus__Proto__Milvus__IndexDescription ***out,
                        size_t *n, qv_err *err)
{
    qv_coll_info *ci;
    qv_index_info **ix;
    size_t nix;
    qv_code rc = match(c, cat, db, coll, field, index, a, &ci, &ix, &nix, err);
    if (rc)
        return rc;
    *out = qv_arena_calloc(a, nix + 1, sizeof **out);
    *n = 0;
    for (size_t i = 0; i < nix; i++) {
        (*out)[i] = describe_one(c, ci, ix[i], a, err);
        if (!(*out)[i])
            return err->code ? err->code : QV_E_INTERNAL;
        (*n)++;
    }
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__describe_index)
{
    qv_coord *c = ud;
    const M(DescribeIndexRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(DescribeIndexResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__describe_index_response__init(r);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc = describe(c, cat, rq->db_name, rq->collection_name, rq->field_name,
                  rq->index_name, a, &r->index_descriptions,
                  &r->n_index_descriptions, err);
    qv_coord__leave(c);
    r->status = status_ix(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_index_statistics)
{
    qv_coord *c = ud;
    const M(GetIndexStatisticsRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetIndexStatisticsResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_index_statistics_response__init(r);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    rc =
        describe(c, cat, rq->db_name, rq->collection_name, NULL, rq->index_name,
                 a, &r->index_descriptions, &r->n_index_descriptions, err);
    qv_coord__leave(c);
    r->status = status_ix(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

/* State and progress over every matching index (the worst state wins). */
static qv_code progress(qv_coord *c, const char *db, const char *coll,
                        const char *field, const char *index, qv_arena *a,
                        qv_index_progress *out, qv_err *err)
{
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *ci;
    qv_index_info **ix;
    size_t nix;
    rc = match(c, cat, db, coll, field, index, a, &ci, &ix, &nix, err);
    memset(out, 0, sizeof *out);
    out->state = MILVUS__PROTO__COMMON__INDEX_STATE__Finished;
    for (size_t i = 0; !rc && i < nix; i++) {
        qv_index_progress p;
        rc = qv_coord__index_progress(c, ix[i], a, &p, err);
        if (rc)
            break;
        out->total += p.total;
        out->indexed += p.indexed;
        out->pending += p.pending;
        if (p.state == MILVUS__PROTO__COMMON__INDEX_STATE__Failed ||
            (p.state == MILVUS__PROTO__COMMON__INDEX_STATE__InProgress &&
             out->state != MILVUS__PROTO__COMMON__INDEX_STATE__Failed)) {
            out->state = p.state;
            out->fail_reason = p.fail_reason;
        }
    }
    qv_coord__leave(c);
    return rc;
}

QV_COORD_HANDLER(qv_coord__get_index_state)
{
    const M(GetIndexStateRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetIndexStateResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_index_state_response__init(r);
    qv_index_progress p;
    qv_code rc = progress(ud, rq->db_name, rq->collection_name, rq->field_name,
                          rq->index_name, a, &p, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    if (!rc) {
        r->state = (Milvus__Proto__Common__IndexState)p.state;
        r->fail_reason = (char *)(p.fail_reason ? p.fail_reason : "");
    }
    r->status = status_ix(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_index_build_progress)
{
    const M(GetIndexBuildProgressRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetIndexBuildProgressResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_index_build_progress_response__init(r);
    qv_index_progress p;
    qv_code rc = progress(ud, rq->db_name, rq->collection_name, rq->field_name,
                          rq->index_name, a, &p, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    if (!rc) {
        r->indexed_rows = p.indexed;
        r->total_rows = p.total;
    }
    r->status = status_ix(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

static bool loaded(qv_coord *c, int64_t coll)
{
    char key[QV_SEGMETA_KEY_MAX];
    snprintf(key, sizeof key, "%smeta/load/%" PRId64, c->root, coll);
    metakv_kvs r = METAKV_KVS_INIT;
    if (metakv_get(c->opts.kv, key, strlen(key), &r, NULL) != QV_OK)
        return false;
    bool yes = r.n > 0;
    metakv_kvs_release(&r);
    return yes;
}

static qv_code drop_index(qv_coord *c, qv_catalog *cat, qv_tso *tso,
                          const M(DropIndexRequest) * rq, qv_arena *a,
                          qv_err *err)
{
    qv_coll_info *ci;
    qv_index_info **ix;
    size_t nix;
    qv_code rc = match(c, cat, rq->db_name, rq->collection_name, rq->field_name,
                       rq->index_name, a, &ci, &ix, &nix, err);
    if (rc == QV_E_INDEX_NOT_FOUND)
        return QV_OK; /* Milvus: nothing to drop is not an error */
    if (rc)
        return rc;
    if (nix > 1)
        return qv_fail(err, QV_E_INVALID,
                       "drop index: collection '%s' has %zu indexes; name "
                       "the field or the index",
                       rq->collection_name, nix);
    if (loaded(c, ci->id))
        return qv_fail(err, QV_E_INVALID,
                       "index cannot be dropped, collection is loaded, "
                       "please release it first");
    qv_index_info *ii = ix[0];
    ii->state = QUIVER__INTERNAL__META_STATE__META_DROPPED;
    rc = qv_tso_alloc(tso, 1, &ii->drop_ts, err);
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_index_key(c->root, ci->id, ii->id, key, sizeof key);
    if (!rc)
        rc = qv_segmeta_put(c->opts.kv, key, &ii->base, err);
    if (!rc)
        QV_LOG(QV_LOG_INFO, "coord",
               "index %" PRId64 " '%s' of collection %" PRId64 " dropped",
               ii->id, ii->index_name, ci->id);
    return rc;
}

QV_COORD_HANDLER(qv_coord__drop_index)
{
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&index_mu);
    rc = drop_index(c, cat, tso, (const void *)req, a, err);
    pthread_mutex_unlock(&index_mu);
    qv_coord__leave(c);
    *resp = &status_ix(a, rc, err)->base;
    return QV_OK;
}

static qv_code check_property(const qv_kvp *p, qv_err *err)
{
    if (strcmp(p->key, "mmap.enabled") != 0)
        return qv_fail(err, QV_E_INVALID,
                       "alter index: '%s' is not a configurable index "
                       "property (mmap.enabled)",
                       p->key);
    if (strcmp(p->value, "true") != 0 && strcmp(p->value, "false") != 0)
        return qv_fail(err, QV_E_INVALID,
                       "alter index: mmap.enabled must be true or false, "
                       "got '%s'",
                       p->value);
    return QV_OK;
}

static qv_code alter_index(qv_coord *c, qv_catalog *cat,
                           const M(AlterIndexRequest) * rq, qv_arena *a,
                           qv_err *err)
{
    if (!rq->index_name[0])
        return qv_fail(err, QV_E_INVALID,
                       "alter index: index name is "
                       "required");
    qv_coll_info *ci;
    qv_index_info **ix;
    size_t nix;
    qv_code rc = match(c, cat, rq->db_name, rq->collection_name, NULL,
                       rq->index_name, a, &ci, &ix, &nix, err);
    for (size_t i = 0; !rc && i < rq->n_extra_params; i++)
        rc = check_property(rq->extra_params[i], err);
    if (rc)
        return rc;
    qv_index_info *ii = ix[0];
    size_t cap = ii->n_properties + rq->n_extra_params + 1;
    qv_kvp **props = qv_arena_calloc(a, cap, sizeof *props);
    size_t n = 0;
    for (size_t i = 0; i < ii->n_properties; i++) {
        bool gone = false;
        for (size_t k = 0; k < rq->n_delete_keys; k++)
            gone |= strcmp(rq->delete_keys[k], ii->properties[i]->key) == 0;
        for (size_t k = 0; k < rq->n_extra_params; k++)
            gone |=
                strcmp(rq->extra_params[k]->key, ii->properties[i]->key) == 0;
        if (!gone)
            props[n++] = ii->properties[i];
    }
    for (size_t k = 0; k < rq->n_extra_params; k++)
        props[n++] = rq->extra_params[k];
    ii->properties = props;
    ii->n_properties = n;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_index_key(c->root, ci->id, ii->id, key, sizeof key);
    return qv_segmeta_put(c->opts.kv, key, &ii->base, err);
}

QV_COORD_HANDLER(qv_coord__alter_index)
{
    qv_coord *c = ud;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&index_mu);
    rc = alter_index(c, cat, (const void *)req, a, err);
    pthread_mutex_unlock(&index_mu);
    qv_coord__leave(c);
    *resp = &status_ix(a, rc, err)->base;
    return QV_OK;
}
