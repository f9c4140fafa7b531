/* convert_fielddata.c -- schema.FieldData <-> columns.  See the header.
 *
 * Inbound conversion walks the rows once: for each row it decides from
 * valid_data whether the row has a value, takes the next value from the
 * payload (compact) or the row's own slot (row-dense), validates it and
 * appends it to the column.
 */
#include "proto/convert_fielddata.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

typedef Milvus__Proto__Schema__FieldData FieldData;
typedef Milvus__Proto__Schema__ScalarField ScalarField;
typedef Milvus__Proto__Schema__VectorField VectorField;

/* ---- FieldSchema -> spec --------------------------------------------- */

static qv_code parse_u32_param(const char *field, const char *key,
                               const char *val, uint32_t *out, qv_err *err)
{
    char *end;
    long long x = strtoll(val, &end, 10);
    if (*val == '\0' || *end != '\0' || x < 0 || x > UINT32_MAX)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': type param %s='%s' is not a "
                       "non-negative integer",
                       field, key, val);
    *out = (uint32_t)x;
    return QV_OK;
}

static qv_code default_from_schema(const Milvus__Proto__Schema__ValueField *d,
                                   qv_field_spec *f, qv_err *err)
{
    switch (d->data_case) {
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA__NOT_SET:
        return QV_OK;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA:
        f->default_value = qv_value_bool(d->bool_data);
        break;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA:
        f->default_value = qv_value_int(d->int_data);
        break;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA:
        f->default_value = qv_value_int(d->long_data);
        break;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA:
        f->default_value = qv_value_float(d->float_data);
        break;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA:
        f->default_value = qv_value_float(d->double_data);
        break;
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA:
        f->default_value = qv_value_str(d->string_data, strlen(d->string_data));
        break;
    default:
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "field '%s': unsupported kind of default value",
                       f->name);
    }
    f->has_default = true;
    return QV_OK;
}

qv_code qv_field_spec_from_schema(const Milvus__Proto__Schema__FieldSchema *fs,
                                  qv_field_spec *out, qv_err *err)
{
    qv_field_spec f;
    memset(&f, 0, sizeof f);
    f.id = fs->fieldid;
    f.name = fs->name ? fs->name : "";
    f.type = (qv_dtype)fs->data_type;
    f.elem_type = (qv_dtype)fs->element_type;
    f.nullable = fs->nullable;
    f.is_dynamic = fs->is_dynamic;
    for (size_t i = 0; i < fs->n_type_params; i++) {
        const char *k = fs->type_params[i]->key, *v = fs->type_params[i]->value;
        uint32_t *dst = NULL;
        if (strcmp(k, "dim") == 0)
            dst = &f.dim;
        else if (strcmp(k, "max_length") == 0)
            dst = &f.max_length;
        else if (strcmp(k, "max_capacity") == 0)
            dst = &f.max_capacity;
        if (dst) {
            qv_code rc = parse_u32_param(f.name, k, v, dst, err);
            if (rc)
                return rc;
        }
    }
    if (fs->default_value) {
        qv_code rc = default_from_schema(fs->default_value, &f, err);
        if (rc)
            return rc;
        /* The SDK sends Int8..Int32 defaults as int_data, Float as
         * float_data; both are fine for the column types. */
    }
    qv_code rc = qv_field_spec_check(&f, err);
    if (rc)
        return rc;
    *out = f;
    return QV_OK;
}

/* ---- inbound ---------------------------------------------------------- */

typedef struct conv {
    const qv_field_spec *f;
    const FieldData *fd;
    qv_column *col;
    size_t width; /* fixed width bytes */
    qv_buf scratch;
    qv_err *err;
} conv;

static const char *fname(const conv *c)
{
    return c->f->name ? c->f->name : "?";
}

static qv_code row_fail(conv *c, size_t row, const char *what)
{
    return qv_fail(c->err, QV_E_INVALID, "field '%s': row %zu: %s", fname(c),
                   row, what);
}

/* The ScalarField payload member a type needs. */
static int scalar_case(qv_dtype t)
{
    switch (t) {
    case QV_DT_BOOL:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA;
    case QV_DT_INT8:
    case QV_DT_INT16:
    case QV_DT_INT32:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
    case QV_DT_INT64:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    case QV_DT_FLOAT:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA;
    case QV_DT_DOUBLE:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA;
    case QV_DT_VARCHAR:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    case QV_DT_ARRAY:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
    case QV_DT_JSON:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
    default:
        return -1;
    }
}

static int vector_case(qv_dtype t)
{
    switch (t) {
    case QV_DT_FLOAT_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    case QV_DT_BINARY_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
    case QV_DT_FLOAT16_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
    case QV_DT_BFLOAT16_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
    case QV_DT_SPARSE_FLOAT_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
    case QV_DT_INT8_VECTOR:
        return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
    default:
        return -1;
    }
}

/* Number of values in a scalar payload (NOT_SET = 0). */
static size_t scalar_count(const ScalarField *s)
{
    if (!s)
        return 0;
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA:
        return s->bool_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA:
        return s->int_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA:
        return s->long_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA:
        return s->float_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA:
        return s->double_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA:
        return s->string_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA:
        return s->array_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA:
        return s->json_data->n_data;
    default:
        return 0;
    }
}

/* Values in the payload, checking the payload member and vector dim. */
static qv_code payload_count(conv *c, size_t *count)
{
    const FieldData *fd = c->fd;
    qv_dtype t = c->f->type;
    *count = 0;
    if (!qv_dtype_is_vector(t)) {
        int want = scalar_case(t);
        if (fd->field_case !=
            MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
            if (fd->field_case ==
                MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET)
                return QV_OK; /* no payload at all: zero values */
            return qv_fail(c->err, QV_E_INVALID,
                           "field '%s': %s data must come as scalars", fname(c),
                           qv_dtype_name(t));
        }
        const ScalarField *s = fd->scalars;
        if (s->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA__NOT_SET)
            return QV_OK;
        if ((int)s->data_case != want)
            return qv_fail(c->err, QV_E_INVALID,
                           "field '%s': payload member %d does not fit type "
                           "%s",
                           fname(c), (int)s->data_case, qv_dtype_name(t));
        *count = scalar_count(s);
        return QV_OK;
    }
    if (fd->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS) {
        if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET)
            return QV_OK;
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': %s data must come as vectors", fname(c),
                       qv_dtype_name(t));
    }
    const VectorField *v = fd->vectors;
    if (v->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA__NOT_SET)
        return QV_OK;
    if ((int)v->data_case != vector_case(t))
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': payload member %d does not fit type %s",
                       fname(c), (int)v->data_case, qv_dtype_name(t));
    if (t == QV_DT_SPARSE_FLOAT_VECTOR) {
        *count = v->sparse_float_vector->n_contents;
        return QV_OK; /* its dim is ignored: the SDK sends the max nnz */
    }
    if (v->dim != (int64_t)c->f->dim)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': vector dim %lld does not match the "
                       "schema dim %u",
                       fname(c), (long long)v->dim, c->f->dim);
    size_t bytes;
    if (t == QV_DT_FLOAT_VECTOR)
        bytes = v->float_vector->n_data * 4;
    else if (t == QV_DT_BINARY_VECTOR)
        bytes = v->binary_vector.len;
    else if (t == QV_DT_FLOAT16_VECTOR)
        bytes = v->float16_vector.len;
    else if (t == QV_DT_BFLOAT16_VECTOR)
        bytes = v->bfloat16_vector.len;
    else
        bytes = v->int8_vector.len;
    if (bytes % c->width)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': %zu bytes of vector data is not a "
                       "multiple of one %u-dim vector (%zu bytes)",
                       fname(c), bytes, c->f->dim, c->width);
    *count = bytes / c->width;
    return QV_OK;
}

static qv_code append_default(conv *c, size_t row)
{
    if (qv_column_append_default(c->col, 1))
        return row_fail(c, row, "cannot store the default value");
    return QV_OK;
}

static bool int_fits(qv_dtype t, int64_t x)
{
    if (t == QV_DT_INT8)
        return x >= INT8_MIN && x <= INT8_MAX;
    if (t == QV_DT_INT16)
        return x >= INT16_MIN && x <= INT16_MAX;
    return true;
}

/* Validates and appends one scalar value s[i] of a fixed-width type. */
static qv_code append_fixed_scalar(conv *c, const ScalarField *s, size_t i,
                                   size_t row)
{
    uint8_t b[8];
    qv_dtype t = c->f->type;
    switch (t) {
    case QV_DT_BOOL:
        b[0] = s->bool_data->data[i] ? 1 : 0;
        break;
    case QV_DT_INT8:
    case QV_DT_INT16:
    case QV_DT_INT32: {
        int32_t x = s->int_data->data[i];
        if (!int_fits(t, x))
            return qv_fail(c->err, QV_E_INVALID,
                           "field '%s': row %zu: value %d is out of range "
                           "for %s",
                           fname(c), row, x, qv_dtype_name(t));
        int8_t x8 = (int8_t)x;
        int16_t x16 = (int16_t)x;
        memcpy(b,
               t == QV_DT_INT8    ? (void *)&x8
               : t == QV_DT_INT16 ? (void *)&x16
                                  : (void *)&x,
               c->width);
        break;
    }
    case QV_DT_INT64:
        memcpy(b, &s->long_data->data[i], 8);
        break;
    case QV_DT_FLOAT:
        if (!isfinite(s->float_data->data[i]))
            return row_fail(c, row, "value is NaN or infinite");
        memcpy(b, &s->float_data->data[i], 4);
        break;
    case QV_DT_DOUBLE:
        if (!isfinite(s->double_data->data[i]))
            return row_fail(c, row, "value is NaN or infinite");
        memcpy(b, &s->double_data->data[i], 8);
        break;
    default:
        return row_fail(c, row, "unsupported type");
    }
    if (qv_column_append_fixed(c->col, b, 1))
        return qv_fail(c->err, QV_E_NOMEM, "field '%s': out of memory",
                       fname(c));
    return QV_OK;
}

static qv_code check_string(conv *c, const char *s, size_t len, size_t row,
                            uint32_t max_length)
{
    if (len > max_length)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': row %zu: string of %zu bytes exceeds "
                       "max_length %u",
                       fname(c), row, len, max_length);
    if (!qv_utf8_valid(s, len))
        return row_fail(c, row, "string is not valid UTF-8");
    return QV_OK;
}

static qv_code append_json(conv *c, const ProtobufCBinaryData *d, size_t row)
{
    const char *s = (const char *)d->data;
    size_t off;
    if (d->len > QV_MAX_JSON_LEN)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': row %zu: JSON of %zu bytes exceeds %d "
                       "bytes",
                       fname(c), row, d->len, QV_MAX_JSON_LEN);
    if (!qv_col_json_valid(s, d->len, &off))
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': row %zu: malformed JSON at byte %zu",
                       fname(c), row, off);
    if (c->f->is_dynamic) {
        size_t i = 0;
        while (i < d->len &&
               (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= d->len || s[i] != '{')
            return row_fail(c, row, "dynamic field value is not a JSON object");
    }
    return qv_column_append_var(c->col, s, d->len) ? QV_E_NOMEM : QV_OK;
}

static qv_code append_array(conv *c, const ScalarField *row_sf, size_t row)
{
    const qv_field_spec *f = c->f;
    size_t n = scalar_count(row_sf);
    if (row_sf && row_sf->data_case &&
        (int)row_sf->data_case != scalar_case(f->elem_type))
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': row %zu: array elements are not %s",
                       fname(c), row, qv_dtype_name(f->elem_type));
    if (n > f->max_capacity)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': row %zu: array of %zu elements exceeds "
                       "max_capacity %u",
                       fname(c), row, n, f->max_capacity);
    qv_buf *b = &c->scratch;
    qv_buf_reset(b);
    qv_code rc = QV_OK;
    if (f->elem_type == QV_DT_VARCHAR) {
        const char **strs = qv_xcalloc(n ? n : 1, sizeof(char *));
        size_t *lens = qv_xcalloc(n ? n : 1, sizeof(size_t));
        for (size_t j = 0; !rc && j < n; j++) {
            strs[j] = row_sf->string_data->data[j];
            lens[j] = strlen(strs[j]);
            rc = check_string(c, strs[j], lens[j], row, f->max_length);
        }
        if (!rc && qv_col_arr_str_encode(b, strs, lens, n))
            rc = row_fail(c, row, "array too large");
        free(strs);
        free(lens);
        if (rc)
            return rc;
    } else {
        size_t w = qv_dtype_elem_width(f->elem_type);
        if (qv_buf_reserve(b, n * w))
            return row_fail(c, row, "array too large");
        for (size_t j = 0; j < n; j++) {
            uint8_t e[8];
            switch (f->elem_type) {
            case QV_DT_BOOL:
                e[0] = row_sf->bool_data->data[j] ? 1 : 0;
                break;
            case QV_DT_INT8:
            case QV_DT_INT16:
            case QV_DT_INT32: {
                int32_t x = row_sf->int_data->data[j];
                if (!int_fits(f->elem_type, x))
                    return row_fail(c, row, "array element out of range");
                int8_t x8 = (int8_t)x;
                int16_t x16 = (int16_t)x;
                memcpy(e,
                       w == 1   ? (void *)&x8
                       : w == 2 ? (void *)&x16
                                : (void *)&x,
                       w);
                break;
            }
            case QV_DT_INT64:
                memcpy(e, &row_sf->long_data->data[j], 8);
                break;
            case QV_DT_FLOAT:
                if (!isfinite(row_sf->float_data->data[j]))
                    return row_fail(c, row,
                                    "array element is NaN or "
                                    "infinite");
                memcpy(e, &row_sf->float_data->data[j], 4);
                break;
            default:
                if (!isfinite(row_sf->double_data->data[j]))
                    return row_fail(c, row,
                                    "array element is NaN or "
                                    "infinite");
                memcpy(e, &row_sf->double_data->data[j], 8);
                break;
            }
            memcpy(b->data + b->len, e, w);
            b->len += w;
        }
    }
    return qv_column_append_var(c->col, b->data, b->len) ? QV_E_NOMEM : QV_OK;
}

static qv_code append_sparse(conv *c, const ProtobufCBinaryData *d, size_t row)
{
    if (d->len % 8)
        return row_fail(c, row,
                        "sparse vector bytes are not (index, value) "
                        "pairs of 8 bytes");
    for (size_t k = 0; k < d->len / 8; k++) {
        uint32_t idx, prev;
        float val;
        memcpy(&idx, d->data + 8 * k, 4);
        memcpy(&val, d->data + 8 * k + 4, 4);
        if (idx > QV_SPARSE_MAX_INDEX)
            return row_fail(c, row,
                            "sparse vector index must be less than "
                            "2^32-1");
        if (k) {
            memcpy(&prev, d->data + 8 * (k - 1), 4);
            if (idx <= prev)
                return row_fail(c, row,
                                "sparse vector indexes are not "
                                "strictly ascending");
        }
        if (!isfinite(val))
            return row_fail(c, row, "sparse vector value is NaN or infinite");
    }
    return qv_column_append_var(c->col, d->data, d->len) ? QV_E_NOMEM : QV_OK;
}

static qv_code append_vector(conv *c, size_t i, size_t row)
{
    const VectorField *v = c->fd->vectors;
    const uint8_t *p;
    switch (c->f->type) {
    case QV_DT_FLOAT_VECTOR: {
        const float *x = v->float_vector->data + i * c->f->dim;
        for (size_t k = 0; k < c->f->dim; k++)
            if (!isfinite(x[k]))
                return row_fail(c, row,
                                "vector has a NaN or infinite "
                                "component");
        p = (const uint8_t *)x;
        break;
    }
    case QV_DT_BINARY_VECTOR:
        p = v->binary_vector.data + i * c->width;
        break;
    case QV_DT_FLOAT16_VECTOR:
        p = v->float16_vector.data + i * c->width;
        break;
    case QV_DT_BFLOAT16_VECTOR:
        p = v->bfloat16_vector.data + i * c->width;
        break;
    case QV_DT_SPARSE_FLOAT_VECTOR:
        return append_sparse(c, &v->sparse_float_vector->contents[i], row);
    default:
        p = v->int8_vector.data + i * c->width;
        break;
    }
    return qv_column_append_fixed(c->col, p, 1) ? QV_E_NOMEM : QV_OK;
}

/* Appends payload value i as row `row`. */
static qv_code append_value(conv *c, size_t i, size_t row)
{
    qv_dtype t = c->f->type;
    if (qv_dtype_is_vector(t))
        return append_vector(c, i, row);
    const ScalarField *s = c->fd->scalars;
    if (t == QV_DT_VARCHAR) {
        const char *str = s->string_data->data[i];
        size_t len = strlen(str);
        qv_code rc = check_string(c, str, len, row, c->f->max_length);
        if (rc)
            return rc;
        return qv_column_append_var(c->col, str, len) ? QV_E_NOMEM : QV_OK;
    }
    if (t == QV_DT_JSON)
        return append_json(c, &s->json_data->data[i], row);
    if (t == QV_DT_ARRAY) {
        const Milvus__Proto__Schema__ArrayArray *a = s->array_data;
        if (a->element_type != MILVUS__PROTO__SCHEMA__DATA_TYPE__None &&
            (qv_dtype)a->element_type != c->f->elem_type)
            return qv_fail(c->err, QV_E_INVALID,
                           "field '%s': array element type %d does not "
                           "match the schema's %s",
                           fname(c), (int)a->element_type,
                           qv_dtype_name(c->f->elem_type));
        return append_array(c, a->data[i], row);
    }
    return append_fixed_scalar(c, s, i, row);
}

/* Decides rows, compactness; checks valid_data against the field. */
static qv_code plan_rows(conv *c, size_t count, size_t num_rows, size_t *rows,
                         bool *compact)
{
    const FieldData *fd = c->fd;
    size_t nv = fd->n_valid_data;
    *compact = false;
    if (nv == 0) {
        *rows = count;
    } else {
        size_t ntrue = 0;
        for (size_t r = 0; r < nv; r++)
            ntrue += fd->valid_data[r] ? 1 : 0;
        if (count == ntrue)
            *compact = true;
        else if (count != nv)
            return qv_fail(c->err, QV_E_INVALID,
                           "field '%s': %zu values for %zu rows of which "
                           "%zu are valid",
                           fname(c), count, nv, ntrue);
        *rows = nv;
    }
    if (num_rows != QV_ROWS_ANY && *rows != num_rows)
        return qv_fail(c->err, QV_E_INVALID,
                       "field '%s': %zu rows, the request has %zu", fname(c),
                       *rows, num_rows);
    return QV_OK;
}

/* First non-finite float of p[0..n), or n. */
static size_t first_nonfinite_f32(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &p[i], 4);
        if ((u & 0x7f800000u) == 0x7f800000u)
            return i;
    }
    return n;
}

/* Fast path for payloads that are already the column's bytes: dense
 * vectors, Int64, Float and Double without valid_data.  *done = false
 * when the row-by-row path must run instead. */
static qv_code bulk_append(conv *c, size_t rows, bool *done)
{
    const FieldData *fd = c->fd;
    qv_dtype t = c->f->type;
    const void *p = NULL;
    size_t bad = rows, nf = 0; /* floats to check */
    *done = false;
    if (fd->n_valid_data || rows == 0)
        return QV_OK;
    if (qv_dtype_is_vector(t) && t != QV_DT_SPARSE_FLOAT_VECTOR) {
        const VectorField *v = fd->vectors;
        p = t == QV_DT_FLOAT_VECTOR      ? (const void *)v->float_vector->data
            : t == QV_DT_BINARY_VECTOR   ? v->binary_vector.data
            : t == QV_DT_FLOAT16_VECTOR  ? v->float16_vector.data
            : t == QV_DT_BFLOAT16_VECTOR ? v->bfloat16_vector.data
                                         : v->int8_vector.data;
        nf = t == QV_DT_FLOAT_VECTOR ? rows * c->f->dim : 0;
    } else if (t == QV_DT_INT64 || t == QV_DT_FLOAT || t == QV_DT_DOUBLE) {
        const ScalarField *s = fd->scalars;
        p = t == QV_DT_INT64   ? (const void *)s->long_data->data
            : t == QV_DT_FLOAT ? (const void *)s->float_data->data
                               : (const void *)s->double_data->data;
        nf = t == QV_DT_FLOAT ? rows : 0;
        for (size_t i = 0; t == QV_DT_DOUBLE && i < rows && bad == rows; i++)
            if (!isfinite(((const double *)p)[i]))
                bad = i;
    } else {
        return QV_OK;
    }
    size_t k = first_nonfinite_f32(p, nf);
    if (k < nf)
        bad = t == QV_DT_FLOAT ? k : k / c->f->dim;
    if (bad < rows)
        return row_fail(c, bad,
                        qv_dtype_is_vector(t)
                            ? "vector has a NaN or infinite component"
                            : "value is NaN or infinite");
    *done = true;
    if (qv_column_append_fixed(c->col, p, rows))
        return qv_fail(c->err, QV_E_NOMEM, "field '%s': out of memory",
                       fname(c));
    return QV_OK;
}

qv_code qv_fielddata_to_column(const FieldData *fd, const qv_field_spec *spec,
                               size_t num_rows, qv_column **out, qv_err *err)
{
    conv c = {spec,        fd, NULL, qv_dtype_width(spec->type, spec->dim),
              QV_BUF_INIT, err};
    const char *n = spec->name ? spec->name : "?";
    qv_code rc = qv_field_spec_check(spec, err);
    if (rc)
        return rc;
    if (fd->type != MILVUS__PROTO__SCHEMA__DATA_TYPE__None &&
        (qv_dtype)fd->type != spec->type)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': data type %d does not match the schema "
                       "type %s",
                       n, (int)fd->type, qv_dtype_name(spec->type));
    size_t count = 0, rows = 0;
    bool compact = false;
    rc = payload_count(&c, &count);
    if (!rc)
        rc = plan_rows(&c, count, num_rows, &rows, &compact);
    if (!rc)
        rc = qv_column_create(spec, &c.col, err);
    if (!rc && qv_column_reserve(c.col, rows, 0))
        rc = qv_fail(err, QV_E_NOMEM, "field '%s': cannot hold %zu rows", n,
                     rows);
    bool done = false;
    if (!rc)
        rc = bulk_append(&c, rows, &done);
    size_t next = 0;
    for (size_t r = 0; !rc && !done && r < rows; r++) {
        bool valid = fd->n_valid_data == 0 || fd->valid_data[r];
        if (valid) {
            rc = append_value(&c, compact ? next++ : r, r);
            if (rc == QV_E_NOMEM)
                rc = qv_fail(err, rc, "field '%s': out of memory", n);
        } else if (spec->has_default) {
            rc = append_default(&c, r);
        } else if (spec->nullable) {
            rc = qv_column_append_null(c.col, 1);
        } else {
            rc = qv_fail(err, QV_E_INVALID,
                         "field '%s': row %zu is null but the field is not "
                         "nullable and has no default value",
                         n, r);
        }
    }
    qv_buf_release(&c.scratch);
    if (rc) {
        qv_column_free(c.col);
        return rc;
    }
    qv_column_publish(c.col);
    *out = c.col;
    return QV_OK;
}

/* ---- outbound --------------------------------------------------------- */

typedef struct outc {
    const qv_col_view *v;
    const int64_t *rows;
    size_t n;
    qv_arena *a;
} outc;

static size_t out_row(const outc *o, size_t i)
{
    return o->rows ? (size_t)o->rows[i] : i;
}

static void *acalloc(qv_arena *a, size_t count, size_t size)
{
    return qv_arena_calloc(a, count ? count : 1, size);
}

static char *astrn(qv_arena *a, const uint8_t *p, size_t len)
{
    char *s = qv_arena_alloc(a, len + 1);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Integer and Bool elements of array row r into sf. */
static void array_row_int(const outc *o, size_t r, size_t n, ScalarField *sf)
{
    const qv_col_view *v = o->v;
    if (v->elem_type == QV_DT_BOOL) {
        Milvus__Proto__Schema__BoolArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__bool_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t j = 0; j < n; j++)
            x->data[j] = qv_col_arr_int(v, r, j) != 0;
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA;
        sf->bool_data = x;
    } else if (v->elem_type == QV_DT_INT64) {
        Milvus__Proto__Schema__LongArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__long_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t j = 0; j < n; j++)
            x->data[j] = qv_col_arr_int(v, r, j);
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
        sf->long_data = x;
    } else {
        Milvus__Proto__Schema__IntArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__int_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t j = 0; j < n; j++)
            x->data[j] = (int32_t)qv_col_arr_int(v, r, j);
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
        sf->int_data = x;
    }
}

/* Float, Double and VarChar elements of array row r into sf. */
static void array_row_other(const outc *o, size_t r, size_t n, ScalarField *sf)
{
    const qv_col_view *v = o->v;
    if (v->elem_type == QV_DT_FLOAT) {
        Milvus__Proto__Schema__FloatArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__float_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t j = 0; j < n; j++)
            x->data[j] = (float)qv_col_arr_float(v, r, j);
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA;
        sf->float_data = x;
    } else if (v->elem_type == QV_DT_DOUBLE) {
        Milvus__Proto__Schema__DoubleArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__double_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t j = 0; j < n; j++)
            x->data[j] = qv_col_arr_float(v, r, j);
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA;
        sf->double_data = x;
    } else {
        Milvus__Proto__Schema__StringArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__string_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof(char *));
        for (size_t j = 0; j < n; j++) {
            size_t len;
            const char *s = qv_col_arr_str(v, r, j, &len);
            x->data[j] = astrn(o->a, (const uint8_t *)s, len);
        }
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
        sf->string_data = x;
    }
}

/* One array row as a ScalarField of its element type. */
static ScalarField *array_row(const outc *o, size_t r)
{
    const qv_col_view *v = o->v;
    ScalarField *sf = acalloc(o->a, 1, sizeof *sf);
    milvus__proto__schema__scalar_field__init(sf);
    size_t n = qv_col_is_null(v, r) ? 0 : qv_col_arr_len(v, r);
    if (qv_dtype_is_integer(v->elem_type) || v->elem_type == QV_DT_BOOL)
        array_row_int(o, r, n, sf);
    else
        array_row_other(o, r, n, sf);
    return sf;
}

/* Fixed-width scalar columns: row-dense, zero at NULL rows. */
static void out_fixed_scalar(const outc *o, ScalarField *sf)
{
    const qv_col_view *v = o->v;
    size_t n = o->n;
/* ARR is a type and MEMBER a field name: they cannot be parenthesized.
 * NOLINTBEGIN(bugprone-macro-parentheses) */
#define FILL(ARR, INIT, CASE, MEMBER, EXPR)                                    \
    do {                                                                       \
        ARR *x = acalloc(o->a, 1, sizeof *x);                                  \
        INIT(x);                                                               \
        x->n_data = n;                                                         \
        x->data = acalloc(o->a, n, sizeof *x->data);                           \
        for (size_t i = 0; i < n; i++) {                                       \
            size_t r = out_row(o, i);                                          \
            x->data[i] = qv_col_is_null(v, r) ? 0 : (EXPR);                    \
        }                                                                      \
        sf->data_case = CASE;                                                  \
        sf->MEMBER = x;                                                        \
    } while (0)
    /* NOLINTEND(bugprone-macro-parentheses) */
    switch (v->type) {
    case QV_DT_BOOL:
        FILL(Milvus__Proto__Schema__BoolArray,
             milvus__proto__schema__bool_array__init,
             MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA, bool_data,
             qv_col_bool(v, r));
        break;
    case QV_DT_INT64:
        FILL(Milvus__Proto__Schema__LongArray,
             milvus__proto__schema__long_array__init,
             MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA, long_data,
             qv_col_i64(v, r));
        break;
    case QV_DT_FLOAT:
        FILL(Milvus__Proto__Schema__FloatArray,
             milvus__proto__schema__float_array__init,
             MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA, float_data,
             qv_col_f32(v, r));
        break;
    case QV_DT_DOUBLE:
        FILL(Milvus__Proto__Schema__DoubleArray,
             milvus__proto__schema__double_array__init,
             MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA, double_data,
             qv_col_f64(v, r));
        break;
    default: /* Int8..Int32 */
        FILL(Milvus__Proto__Schema__IntArray,
             milvus__proto__schema__int_array__init,
             MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA, int_data,
             (int32_t)qv_col_get_int(v, r));
        break;
    }
#undef FILL
}

static void out_var_scalar(const outc *o, ScalarField *sf)
{
    const qv_col_view *v = o->v;
    size_t n = o->n;
    if (v->type == QV_DT_VARCHAR) {
        Milvus__Proto__Schema__StringArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__string_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const uint8_t *p = qv_col_var(v, out_row(o, i), &len);
            x->data[i] = astrn(o->a, p, len);
        }
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
        sf->string_data = x;
    } else if (v->type == QV_DT_JSON) {
        Milvus__Proto__Schema__JSONArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__jsonarray__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof *x->data);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const uint8_t *p = qv_col_var(v, out_row(o, i), &len);
            x->data[i].data = (uint8_t *)astrn(o->a, p, len);
            x->data[i].len = len; /* empty = null for the SDK */
        }
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
        sf->json_data = x;
    } else {
        Milvus__Proto__Schema__ArrayArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__array_array__init(x);
        x->n_data = n;
        x->data = acalloc(o->a, n, sizeof(ScalarField *));
        x->element_type = (Milvus__Proto__Schema__DataType)v->elem_type;
        for (size_t i = 0; i < n; i++)
            x->data[i] = array_row(o, out_row(o, i));
        sf->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
        sf->array_data = x;
    }
}

/* Vectors: only valid rows (compact), dim always set. */
static void out_vectors(const outc *o, VectorField *vf)
{
    const qv_col_view *v = o->v;
    size_t nvalid = 0;
    for (size_t i = 0; i < o->n; i++)
        nvalid += qv_col_is_valid(v, out_row(o, i));
    vf->dim = v->dim;
    if (v->type == QV_DT_SPARSE_FLOAT_VECTOR) {
        Milvus__Proto__Schema__SparseFloatArray *x =
            acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__sparse_float_array__init(x);
        x->dim = v->dim;
        x->contents = acalloc(o->a, nvalid, sizeof *x->contents);
        for (size_t i = 0; i < o->n; i++) {
            size_t r = out_row(o, i), len;
            if (!qv_col_is_valid(v, r))
                continue;
            const uint8_t *p = qv_col_var(v, r, &len);
            ProtobufCBinaryData *d = &x->contents[x->n_contents++];
            d->data = (uint8_t *)astrn(o->a, p, len);
            d->len = len;
        }
        vf->data_case =
            MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
        vf->sparse_float_vector = x;
        return;
    }
    uint8_t *buf = acalloc(o->a, nvalid * v->width, 1), *p = buf;
    for (size_t i = 0; i < o->n; i++) {
        size_t r = out_row(o, i);
        if (!qv_col_is_valid(v, r))
            continue;
        memcpy(p, qv_col_fixed(v, r), v->width);
        p += v->width;
    }
    ProtobufCBinaryData bin = {nvalid * v->width, buf};
    switch (v->type) {
    case QV_DT_FLOAT_VECTOR: {
        Milvus__Proto__Schema__FloatArray *x = acalloc(o->a, 1, sizeof *x);
        milvus__proto__schema__float_array__init(x);
        x->n_data = nvalid * v->dim;
        x->data = (float *)(void *)buf;
        vf->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
        vf->float_vector = x;
        break;
    }
    case QV_DT_BINARY_VECTOR:
        vf->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
        vf->binary_vector = bin;
        break;
    case QV_DT_FLOAT16_VECTOR:
        vf->data_case =
            MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
        vf->float16_vector = bin;
        break;
    case QV_DT_BFLOAT16_VECTOR:
        vf->data_case =
            MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
        vf->bfloat16_vector = bin;
        break;
    default:
        vf->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
        vf->int8_vector = bin;
        break;
    }
}

qv_code qv_column_to_fielddata(const qv_col_view *v, const qv_field_spec *spec,
                               const int64_t *rows, size_t n, qv_arena *arena,
                               FieldData **out, qv_err *err)
{
    const char *name =
        spec->is_dynamic ? "$meta" : (spec->name ? spec->name : "");
    if (v->type != spec->type)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': column type %s does not match %s", name,
                       qv_dtype_name(v->type), qv_dtype_name(spec->type));
    if (!rows)
        n = v->rows;
    for (size_t i = 0; rows && i < n; i++)
        if (rows[i] < 0 || (uint64_t)rows[i] >= v->rows)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': row %lld is outside the %zu rows", name,
                           (long long)rows[i], v->rows);
    outc o = {v, rows, n, arena};
    FieldData *fd = acalloc(arena, 1, sizeof *fd);
    milvus__proto__schema__field_data__init(fd);
    fd->type = (Milvus__Proto__Schema__DataType)v->type;
    fd->field_name = qv_arena_strdup(arena, name);
    fd->field_id = spec->id;
    fd->is_dynamic = spec->is_dynamic;
    if (spec->nullable || v->valid) {
        fd->n_valid_data = n;
        fd->valid_data = acalloc(arena, n, sizeof *fd->valid_data);
        for (size_t i = 0; i < n; i++)
            fd->valid_data[i] = qv_col_is_valid(v, out_row(&o, i));
    }
    if (qv_dtype_is_vector(v->type)) {
        VectorField *vf = acalloc(arena, 1, sizeof *vf);
        milvus__proto__schema__vector_field__init(vf);
        out_vectors(&o, vf);
        fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
        fd->vectors = vf;
    } else {
        ScalarField *sf = acalloc(arena, 1, sizeof *sf);
        milvus__proto__schema__scalar_field__init(sf);
        if (qv_dtype_is_varwidth(v->type))
            out_var_scalar(&o, sf);
        else
            out_fixed_scalar(&o, sf);
        fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
        fd->scalars = sf;
    }
    *out = fd;
    return QV_OK;
}
