/* schema_check.c -- see schema_check.h.  Rules follow Milvus 2.x. */
#include "coord/schema_check.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef Milvus__Proto__Schema__FieldSchema field_t;
typedef Milvus__Proto__Schema__CollectionSchema schema_t;

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

const char *qv_data_type_name(int t)
{
    switch (t) {
    case DT(None):
        return "None";
    case DT(Bool):
        return "Bool";
    case DT(Int8):
        return "Int8";
    case DT(Int16):
        return "Int16";
    case DT(Int32):
        return "Int32";
    case DT(Int64):
        return "Int64";
    case DT(Float):
        return "Float";
    case DT(Double):
        return "Double";
    case DT(String):
        return "String";
    case DT(VarChar):
        return "VarChar";
    case DT(Array):
        return "Array";
    case DT(JSON):
        return "JSON";
    case DT(Geometry):
        return "Geometry";
    case DT(Text):
        return "Text";
    case DT(Timestamptz):
        return "Timestamptz";
    case DT(BinaryVector):
        return "BinaryVector";
    case DT(FloatVector):
        return "FloatVector";
    case DT(Float16Vector):
        return "Float16Vector";
    case DT(BFloat16Vector):
        return "BFloat16Vector";
    case DT(SparseFloatVector):
        return "SparseFloatVector";
    case DT(Int8Vector):
        return "Int8Vector";
    default:
        return "unknown";
    }
}

static bool is_dense_vector(int t)
{
    return t == DT(BinaryVector) || t == DT(FloatVector) ||
           t == DT(Float16Vector) || t == DT(BFloat16Vector) ||
           t == DT(Int8Vector);
}

static bool is_vector(int t)
{
    return is_dense_vector(t) || t == DT(SparseFloatVector);
}

static bool is_scalar_element(int t)
{
    return t == DT(Bool) || t == DT(Int8) || t == DT(Int16) || t == DT(Int32) ||
           t == DT(Int64) || t == DT(Float) || t == DT(Double) ||
           t == DT(VarChar);
}

static bool is_supported(int t)
{
    return is_scalar_element(t) || t == DT(Array) || t == DT(JSON) ||
           is_vector(t);
}

qv_code qv_name_check(const char *what, const char *name, qv_err *err)
{
    size_t n = strlen(name);
    if (n == 0)
        return qv_fail(err, QV_E_INVALID, "%s name must not be empty", what);
    if (n > 255)
        return qv_fail(err, QV_E_INVALID,
                       "%s name '%.40s...' is longer than 255 characters", what,
                       name);
    if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return qv_fail(err, QV_E_INVALID,
                       "%s name '%s': the first character must be a letter "
                       "or an underscore",
                       what, name);
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_'))
            return qv_fail(err, QV_E_INVALID,
                           "%s name '%s' may contain only letters, digits "
                           "and underscores",
                           what, name);
    }
    return QV_OK;
}

const char *qv_field_type_param(const field_t *f, const char *key)
{
    for (size_t i = 0; i < f->n_type_params; i++)
        if (strcmp(f->type_params[i]->key, key) == 0)
            return f->type_params[i]->value;
    return NULL;
}

/* Reads an integer type param in [lo, hi]. */
static qv_code int_param(const field_t *f, const char *key, long lo, long hi,
                         long *out, qv_err *err)
{
    const char *v = qv_field_type_param(f, key);
    if (!v)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s' (%s) needs the type parameter '%s'", f->name,
                       qv_data_type_name(f->data_type), key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': %s '%s' must be an integer in [%ld, %ld]",
                       f->name, key, v, lo, hi);
    *out = x;
    return QV_OK;
}

static qv_code check_vector(const field_t *f, const qv_schema_limits *lim,
                            qv_err *err)
{
    if (f->nullable)
        return qv_fail(err, QV_E_INVALID,
                       "vector field '%s' cannot be nullable", f->name);
    if (f->default_value)
        return qv_fail(err, QV_E_INVALID,
                       "vector field '%s' cannot have a default value",
                       f->name);
    if (!is_dense_vector(f->data_type))
        return QV_OK; /* sparse: no dim */
    long dim;
    qv_code rc = int_param(f, "dim", 1, (long)lim->max_dim, &dim, err);
    if (rc)
        return rc;
    if (f->data_type == DT(BinaryVector) && dim % 8 != 0)
        return qv_fail(err, QV_E_INVALID,
                       "binary vector field '%s': dim %ld must be a multiple "
                       "of 8",
                       f->name, dim);
    return QV_OK;
}

static qv_code check_default(const field_t *f, long max_length, qv_err *err)
{
    const Milvus__Proto__Schema__ValueField *v = f->default_value;
    if (!v || v->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA__NOT_SET)
        return QV_OK;
    int t = f->data_type, c = v->data_case;
    bool ok;
    switch (t) {
    case DT(Bool):
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA;
        break;
    case DT(Int8):
    case DT(Int16):
    case DT(Int32): {
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA;
        long lo = t == DT(Int8) ? -128 : t == DT(Int16) ? -32768 : INT_MIN;
        long hi = t == DT(Int8) ? 127 : t == DT(Int16) ? 32767 : INT_MAX;
        if (ok && (v->int_data < lo || v->int_data > hi))
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value %d is out of range "
                           "for %s",
                           f->name, v->int_data, qv_data_type_name(t));
        break;
    }
    case DT(Int64):
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA;
        break;
    case DT(Float):
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA;
        break;
    case DT(Double):
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA;
        break;
    case DT(VarChar):
        ok = c == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
        if (ok && (long)strlen(v->string_data) > max_length)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value is longer than "
                           "max_length %ld",
                           f->name, max_length);
        break;
    default:
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': %s fields cannot have a default value",
                       f->name, qv_data_type_name(t));
    }
    if (!ok)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': the default value's type does not match "
                       "%s",
                       f->name, qv_data_type_name(t));
    return QV_OK;
}

static qv_code check_scalar(const field_t *f, const qv_schema_limits *lim,
                            qv_err *err)
{
    long max_length = 0, cap;
    qv_code rc = QV_OK;
    if (f->data_type == DT(VarChar))
        rc = int_param(f, "max_length", 1, (long)lim->max_varchar, &max_length,
                       err);
    if (!rc && f->data_type == DT(Array)) {
        if (!is_scalar_element(f->element_type))
            return qv_fail(err, QV_E_INVALID,
                           "array field '%s': element type %s is not "
                           "supported (use Bool, Int8..Int64, Float, Double "
                           "or VarChar)",
                           f->name, qv_data_type_name(f->element_type));
        rc =
            int_param(f, "max_capacity", 1, (long)lim->max_capacity, &cap, err);
        if (!rc && f->element_type == DT(VarChar))
            rc = int_param(f, "max_length", 1, (long)lim->max_varchar,
                           &max_length, err);
    }
    if (!rc)
        rc = check_default(f, max_length, err);
    return rc;
}

static qv_code check_primary(const field_t *f, qv_err *err)
{
    if (f->data_type != DT(Int64) && f->data_type != DT(VarChar))
        return qv_fail(err, QV_E_INVALID,
                       "primary key field '%s' must be Int64 or VarChar, "
                       "not %s",
                       f->name, qv_data_type_name(f->data_type));
    if (f->nullable)
        return qv_fail(err, QV_E_INVALID,
                       "primary key field '%s' cannot be nullable", f->name);
    if (f->default_value)
        return qv_fail(err, QV_E_INVALID,
                       "primary key field '%s' cannot have a default value",
                       f->name);
    if (f->autoid && f->data_type != DT(Int64))
        return qv_fail(err, QV_E_INVALID,
                       "auto_id needs an Int64 primary key; field '%s' is %s",
                       f->name, qv_data_type_name(f->data_type));
    return QV_OK;
}

/* Checks one user field; counts PKs, vectors and partition keys. */
static qv_code check_field(const field_t *f, const qv_schema_limits *lim,
                           int *pks, int *vectors, int *pkeys, qv_err *err)
{
    qv_code rc = qv_name_check("field", f->name, err);
    if (rc)
        return rc;
    if (f->is_dynamic)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': is_dynamic is set by the server; use "
                       "enable_dynamic_field",
                       f->name);
    if (!is_supported(f->data_type))
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "field '%s': data type %s (%d) is not supported",
                       f->name, qv_data_type_name(f->data_type),
                       (int)f->data_type);
    if (f->autoid && !f->is_primary_key)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': auto_id is only allowed on the primary "
                       "key",
                       f->name);
    if (f->is_primary_key) {
        (*pks)++;
        if ((rc = check_primary(f, err)))
            return rc;
    }
    if (f->is_partition_key) {
        (*pkeys)++;
        if (f->is_primary_key ||
            (f->data_type != DT(Int64) && f->data_type != DT(VarChar)))
            return qv_fail(err, QV_E_INVALID,
                           "partition key field '%s' must be an Int64 or "
                           "VarChar field other than the primary key",
                           f->name);
        if (f->nullable)
            return qv_fail(err, QV_E_INVALID,
                           "partition key field '%s' cannot be nullable",
                           f->name);
    }
    if (is_vector(f->data_type)) {
        (*vectors)++;
        return check_vector(f, lim, err);
    }
    return check_scalar(f, lim, err);
}

static void fill_limits(qv_schema_limits *l, const qv_schema_limits *in)
{
    *l = in ? *in : (qv_schema_limits){0};
    l->max_fields = l->max_fields ? l->max_fields : 64;
    l->max_vector_fields = l->max_vector_fields ? l->max_vector_fields : 4;
    l->max_dim = l->max_dim ? l->max_dim : 32768;
    l->max_varchar = l->max_varchar ? l->max_varchar : 65535;
    l->max_capacity = l->max_capacity ? l->max_capacity : 4096;
    l->max_shards = l->max_shards ? l->max_shards : 16;
    l->max_partitions = l->max_partitions ? l->max_partitions : 4096;
}

static qv_code check_fields(schema_t *s, const qv_schema_limits *lim,
                            int *pkeys, qv_err *err)
{
    if (s->n_fields == 0)
        return qv_fail(err, QV_E_INVALID, "the schema has no fields");
    if (s->n_fields > lim->max_fields)
        return qv_fail(err, QV_E_INVALID,
                       "the schema has %zu fields; the limit is %u",
                       s->n_fields, lim->max_fields);
    int pks = 0, vectors = 0;
    for (size_t i = 0; i < s->n_fields; i++) {
        qv_code rc = check_field(s->fields[i], lim, &pks, &vectors, pkeys, err);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->fields[i]->name, s->fields[j]->name) == 0)
                return qv_fail(err, QV_E_INVALID, "duplicate field name '%s'",
                               s->fields[i]->name);
    }
    if (pks != 1)
        return qv_fail(err, QV_E_INVALID,
                       pks ? "the schema has %d primary key fields; exactly "
                             "one is required"
                           : "the schema has %d primary key fields; mark "
                             "exactly one field is_primary_key",
                       pks);
    if (vectors == 0)
        return qv_fail(err, QV_E_INVALID,
                       "the schema has no vector field; at least one is "
                       "required");
    if ((unsigned)vectors > lim->max_vector_fields)
        return qv_fail(err, QV_E_INVALID,
                       "the schema has %d vector fields; the limit is %u",
                       vectors, lim->max_vector_fields);
    if (*pkeys > 1)
        return qv_fail(err, QV_E_INVALID,
                       "the schema has %d partition key fields; at most one "
                       "is allowed",
                       *pkeys);
    return QV_OK;
}

/* Appends the hidden dynamic field "$meta". */
static void add_dynamic_field(schema_t *s, qv_arena *arena)
{
    field_t **fields =
        qv_arena_alloc(arena, (s->n_fields + 1) * sizeof(field_t *));
    memcpy(fields, s->fields, s->n_fields * sizeof(field_t *));
    field_t *meta = qv_arena_alloc(arena, sizeof(field_t));
    milvus__proto__schema__field_schema__init(meta);
    meta->name = qv_arena_strdup(arena, QV_DYNAMIC_FIELD_NAME);
    meta->description = qv_arena_strdup(arena, "dynamic field");
    meta->data_type = DT(JSON);
    meta->is_dynamic = 1;
    fields[s->n_fields] = meta;
    s->fields = fields;
    s->n_fields++;
}

qv_code qv_schema_check(schema_t *s, const char *name, int32_t *shards,
                        int64_t *num_partitions, const qv_schema_limits *in,
                        qv_arena *arena, qv_err *err)
{
    qv_schema_limits lim;
    fill_limits(&lim, in);
    qv_code rc = qv_name_check("collection", name, err);
    if (rc)
        return rc;
    if (s->name[0] && strcmp(s->name, name) != 0)
        return qv_fail(err, QV_E_INVALID,
                       "the schema names collection '%s' but the request "
                       "names '%s'",
                       s->name, name);
    if (!s->name[0])
        s->name = qv_arena_strdup(arena, name);
    if (s->n_functions > 0)
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "schema functions (such as BM25) are not supported");
    if (*shards < 0 || (uint32_t)*shards > lim.max_shards)
        return qv_fail(err, QV_E_INVALID,
                       "shards_num %d is out of range [1, %u]", *shards,
                       lim.max_shards);
    int pkeys = 0;
    if ((rc = check_fields(s, &lim, &pkeys, err)))
        return rc;
    if (pkeys == 0 && *num_partitions > 0)
        return qv_fail(err, QV_E_INVALID,
                       "num_partitions is only allowed with a partition key "
                       "field");
    if (*num_partitions < 0 || *num_partitions > (int64_t)lim.max_partitions)
        return qv_fail(err, QV_E_INVALID,
                       "num_partitions %lld is out of range [1, %u]",
                       (long long)*num_partitions, lim.max_partitions);
        /* Complete: IDs, schema-level autoID, defaults, dynamic field.  The
         * schema-level autoID is deprecated in the protocol but old clients
         * still send it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    for (size_t i = 0; i < s->n_fields; i++) {
        s->fields[i]->fieldid = QV_FIRST_USER_FIELD_ID + (int64_t)i;
        if (s->autoid && s->fields[i]->is_primary_key)
            s->fields[i]->autoid = 1;
    }
    if (s->autoid) {
        for (size_t i = 0; i < s->n_fields; i++)
            if (s->fields[i]->is_primary_key &&
                (rc = check_primary(s->fields[i], err)))
                return rc;
        s->autoid = 0;
    }
#pragma GCC diagnostic pop
    if (s->enable_dynamic_field) {
        add_dynamic_field(s, arena);
        s->fields[s->n_fields - 1]->fieldid =
            QV_FIRST_USER_FIELD_ID + (int64_t)s->n_fields - 1;
    }
    if (*shards == 0)
        *shards = 1;
    if (pkeys && *num_partitions == 0)
        *num_partitions = 16;
    return QV_OK;
}
