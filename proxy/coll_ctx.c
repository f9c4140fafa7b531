/* coll_ctx.c -- a collection as the data path sees it (coll_ctx.h). */
#include "proxy/coll_ctx.h"

#include <string.h>

#include "milvus/schema.pb-c.h"
#include "proto/convert_fielddata.h"

#define DYNAMIC_NAME "$meta"

qv_code qv_coll_ctx_get(qv_proxy *p, qv_rpc_call *call, const char *db,
                        const char *name, qv_coll_ctx *c, qv_err *err)
{
    memset(c, 0, sizeof *c);
    qv_arena *a = qv_rpc_call_arena(call);
    qv_describe_resp *d;
    qv_code rc = qv_proxy__describe(p, call, db, name, &d, err);
    if (rc)
        return rc;
    Milvus__Proto__Schema__CollectionSchema *s = d->schema;
    c->d = d;
    c->db = db;
    c->id = d->collectionid;
    size_t n = s->n_fields + (s->enable_dynamic_field ? 1 : 0);
    c->nfields = n;
    c->fs = qv_arena_calloc(a, n + 1, sizeof(*c->fs));
    c->specs = qv_arena_calloc(a, n + 1, sizeof(*c->specs));
    c->xfields = qv_arena_calloc(a, n + 1, sizeof(*c->xfields));
    c->dyn = -1;
    for (size_t i = 0; i < s->n_fields; i++) {
        Milvus__Proto__Schema__FieldSchema *f = s->fields[i];
        c->fs[i] = f;
        if ((rc = qv_field_spec_from_schema(f, &c->specs[i], err)))
            return rc;
        if (f->is_primary_key) {
            c->pk = i;
            c->autoid = f->autoid;
        }
    }
    if (s->enable_dynamic_field) {
        size_t i = s->n_fields;
        c->dyn = (int)i;
        c->specs[i] = (qv_field_spec){.id = 100 + (int64_t)s->n_fields,
                                      .name = DYNAMIC_NAME,
                                      .type = QV_DT_JSON,
                                      .is_dynamic = true};
    }
    for (size_t i = 0; i < n; i++) {
        c->xfields[i] = (qv_expr_field){.id = c->specs[i].id,
                                        .name = c->specs[i].name,
                                        .type = c->specs[i].type,
                                        .elem_type = c->specs[i].elem_type,
                                        .nullable = c->specs[i].nullable,
                                        .is_dynamic = c->specs[i].is_dynamic,
                                        .is_primary = i == c->pk};
    }
    c->xschema = (qv_expr_schema){.fields = c->xfields, .nfields = n};
    c->nshards = d->n_virtual_channel_names;
    c->vch = d->virtual_channel_names;
    c->pch = d->physical_channel_names;
    if (c->nshards == 0 || d->n_physical_channel_names != c->nshards)
        return qv_fail(err, QV_E_INTERNAL, "collection '%s' has no channels",
                       name);
    return QV_OK;
}

int qv_coll_ctx_field(const qv_coll_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->specs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Every request's expr_template_values map entry. */
typedef struct tv_entry {
    ProtobufCMessage base;
    char *key;
    Milvus__Proto__Schema__TemplateValue *value;
} tv_entry;

static qv_code array_value(qv_arena *a,
                           const Milvus__Proto__Schema__TemplateArrayValue *v,
                           qv_expr_value *out, qv_err *err)
{
    size_t n = 0;
    qv_expr_value *items = NULL;
    switch (v->data_case) {
    case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_BOOL_DATA:
        n = v->bool_data->n_data;
        items = qv_arena_calloc(a, n + 1, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = (qv_expr_value){.kind = QV_EXPR_BOOL,
                                       .u.b = v->bool_data->data[i]};
        break;
    case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_LONG_DATA:
        n = v->long_data->n_data;
        items = qv_arena_calloc(a, n + 1, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = (qv_expr_value){.kind = QV_EXPR_INT,
                                       .u.i = v->long_data->data[i]};
        break;
    case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_DOUBLE_DATA:
        n = v->double_data->n_data;
        items = qv_arena_calloc(a, n + 1, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = (qv_expr_value){.kind = QV_EXPR_FLOAT,
                                       .u.f = v->double_data->data[i]};
        break;
    case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_STRING_DATA:
        n = v->string_data->n_data;
        items = qv_arena_calloc(a, n + 1, sizeof *items);
        for (size_t i = 0; i < n; i++) {
            const char *s = v->string_data->data[i];
            items[i] =
                (qv_expr_value){.kind = QV_EXPR_STR, .u.s = {s, strlen(s)}};
        }
        break;
    default:
        return qv_fail(err, QV_E_INVALID,
                       "template arrays of arrays or JSON are not supported");
    }
    *out = (qv_expr_value){.kind = QV_EXPR_ARRAY, .u.a = {items, n}};
    return QV_OK;
}

qv_code qv_coll_ctx_parse(const qv_coll_ctx *c, qv_arena *a, const char *text,
                          const void *const *tv, size_t ntv, qv_expr_plan **out,
                          qv_err *err)
{
    qv_expr_param *params = qv_arena_calloc(a, ntv + 1, sizeof *params);
    for (size_t i = 0; i < ntv; i++) {
        const tv_entry *e = tv[i];
        params[i].name = e->key;
        const Milvus__Proto__Schema__TemplateValue *v = e->value;
        qv_expr_value *x = &params[i].value;
        if (!v)
            return qv_fail(err, QV_E_INVALID, "template value '%s' is empty",
                           e->key);
        switch (v->val_case) {
        case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_BOOL_VAL:
            *x = (qv_expr_value){.kind = QV_EXPR_BOOL, .u.b = v->bool_val};
            break;
        case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_INT64_VAL:
            *x = (qv_expr_value){.kind = QV_EXPR_INT, .u.i = v->int64_val};
            break;
        case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_FLOAT_VAL:
            *x = (qv_expr_value){.kind = QV_EXPR_FLOAT, .u.f = v->float_val};
            break;
        case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_STRING_VAL:
            *x = (qv_expr_value){.kind = QV_EXPR_STR,
                                 .u.s = {v->string_val, strlen(v->string_val)}};
            break;
        case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_ARRAY_VAL: {
            qv_code rc = array_value(a, v->array_val, x, err);
            if (rc)
                return rc;
            break;
        }
        default:
            return qv_fail(err, QV_E_INVALID,
                           "template value '%s' has an unsupported type",
                           e->key);
        }
    }
    const char *t = text ? text : "";
    return qv_expr_parse(t, strlen(t), &c->xschema, params, ntv, out, err);
}
