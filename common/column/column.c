/* column.c -- data types, field specs, array helpers and growable memory
 * columns.  See column.h.
 *
 * Publication protocol of a memory column (one writer, many readers):
 * the writer fills rows past the published count, possibly after moving
 * the buffers to bigger ones; it stores every buffer pointer (release)
 * before it stores the new row count (release).  A reader loads the row
 * count first (acquire) and the pointers after it, so whatever buffers it
 * sees hold at least that many rows.  Replaced buffers are retired, not
 * freed, until qv_column_free(), so a reader's view never dangles.
 */
#include "common/column/column.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/column/column_int.h"

/* ---- data types ------------------------------------------------------ */

const char *qv_dtype_name(qv_dtype t)
{
    switch (t) {
    case QV_DT_NONE:
        return "None";
    case QV_DT_BOOL:
        return "Bool";
    case QV_DT_INT8:
        return "Int8";
    case QV_DT_INT16:
        return "Int16";
    case QV_DT_INT32:
        return "Int32";
    case QV_DT_INT64:
        return "Int64";
    case QV_DT_FLOAT:
        return "Float";
    case QV_DT_DOUBLE:
        return "Double";
    case QV_DT_VARCHAR:
        return "VarChar";
    case QV_DT_ARRAY:
        return "Array";
    case QV_DT_JSON:
        return "JSON";
    case QV_DT_BINARY_VECTOR:
        return "BinaryVector";
    case QV_DT_FLOAT_VECTOR:
        return "FloatVector";
    case QV_DT_FLOAT16_VECTOR:
        return "Float16Vector";
    case QV_DT_BFLOAT16_VECTOR:
        return "BFloat16Vector";
    case QV_DT_SPARSE_FLOAT_VECTOR:
        return "SparseFloatVector";
    case QV_DT_INT8_VECTOR:
        return "Int8Vector";
    }
    return "Unknown";
}

bool qv_dtype_valid(qv_dtype t)
{
    return t != QV_DT_NONE && strcmp(qv_dtype_name(t), "Unknown") != 0;
}

bool qv_dtype_is_vector(qv_dtype t)
{
    return t >= QV_DT_BINARY_VECTOR && t <= QV_DT_INT8_VECTOR;
}

bool qv_dtype_is_integer(qv_dtype t)
{
    return t >= QV_DT_INT8 && t <= QV_DT_INT64;
}

bool qv_dtype_is_varwidth(qv_dtype t)
{
    return t == QV_DT_VARCHAR || t == QV_DT_JSON || t == QV_DT_ARRAY ||
           t == QV_DT_SPARSE_FLOAT_VECTOR;
}

size_t qv_dtype_elem_width(qv_dtype elem)
{
    switch (elem) {
    case QV_DT_BOOL:
    case QV_DT_INT8:
        return 1;
    case QV_DT_INT16:
        return 2;
    case QV_DT_INT32:
    case QV_DT_FLOAT:
        return 4;
    case QV_DT_INT64:
    case QV_DT_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

size_t qv_dtype_width(qv_dtype t, uint32_t dim)
{
    if (qv_dtype_is_vector(t) && t != QV_DT_SPARSE_FLOAT_VECTOR &&
        (dim == 0 || dim > QV_MAX_DIM))
        return 0;
    switch (t) {
    case QV_DT_FLOAT_VECTOR:
        return (size_t)dim * 4;
    case QV_DT_FLOAT16_VECTOR:
    case QV_DT_BFLOAT16_VECTOR:
        return (size_t)dim * 2;
    case QV_DT_INT8_VECTOR:
        return dim;
    case QV_DT_BINARY_VECTOR:
        return dim % 8 ? 0 : dim / 8;
    default:
        return qv_dtype_elem_width(t);
    }
}

bool qv_dtype_array_elem_ok(qv_dtype elem)
{
    return qv_dtype_elem_width(elem) > 0 || elem == QV_DT_VARCHAR;
}

static bool default_kind_ok(qv_dtype t, qv_value_kind k)
{
    if (t == QV_DT_BOOL)
        return k == QV_VAL_BOOL;
    if (qv_dtype_is_integer(t))
        return k == QV_VAL_INT;
    if (t == QV_DT_FLOAT || t == QV_DT_DOUBLE)
        return k == QV_VAL_FLOAT || k == QV_VAL_INT;
    if (t == QV_DT_VARCHAR)
        return k == QV_VAL_STR;
    return false;
}

static const char *spec_name(const qv_field_spec *f)
{
    return f->name ? f->name : "?";
}

qv_code qv_field_spec_check(const qv_field_spec *f, qv_err *err)
{
    const char *n = spec_name(f);
    if (!qv_dtype_valid(f->type))
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': unsupported data type %d", n, (int)f->type);
    if (qv_dtype_is_vector(f->type) && f->type != QV_DT_SPARSE_FLOAT_VECTOR) {
        if (f->dim == 0 || f->dim > QV_MAX_DIM)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': dim %u is outside [1, %d]", n, f->dim,
                           QV_MAX_DIM);
        if (f->type == QV_DT_BINARY_VECTOR && f->dim % 8)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': binary vector dim %u is not a "
                           "multiple of 8",
                           n, f->dim);
    }
    bool str = f->type == QV_DT_VARCHAR ||
               (f->type == QV_DT_ARRAY && f->elem_type == QV_DT_VARCHAR);
    if (str && (f->max_length == 0 || f->max_length > QV_MAX_VARCHAR_LEN))
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': max_length %u is outside [1, %d]", n,
                       f->max_length, QV_MAX_VARCHAR_LEN);
    if (f->type == QV_DT_ARRAY) {
        if (!qv_dtype_array_elem_ok(f->elem_type))
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': unsupported array element type %s", n,
                           qv_dtype_name(f->elem_type));
        if (f->max_capacity == 0 || f->max_capacity > QV_MAX_ARRAY_CAP)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': max_capacity %u is outside [1, %d]", n,
                           f->max_capacity, QV_MAX_ARRAY_CAP);
    }
    if (f->is_dynamic && f->type != QV_DT_JSON)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': the dynamic field must be JSON", n);
    if (f->has_default) {
        if (!default_kind_ok(f->type, f->default_value.kind))
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value does not fit type %s", n,
                           qv_dtype_name(f->type));
        int64_t d = f->default_value.u.i;
        bool fits = f->type == QV_DT_INT8    ? d >= INT8_MIN && d <= INT8_MAX
                    : f->type == QV_DT_INT16 ? d >= INT16_MIN && d <= INT16_MAX
                    : f->type == QV_DT_INT32 ? d >= INT32_MIN && d <= INT32_MAX
                                             : true;
        if (!fits)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value %lld is out of range "
                           "for %s",
                           n, (long long)d, qv_dtype_name(f->type));
        if (f->type == QV_DT_VARCHAR &&
            !qv_utf8_valid(f->default_value.u.s.ptr, f->default_value.u.s.len))
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value is not valid UTF-8", n);
        if (f->type == QV_DT_VARCHAR &&
            f->default_value.u.s.len > f->max_length)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': default value is longer than "
                           "max_length %u",
                           n, f->max_length);
    }
    return QV_OK;
}

/* ---- row access helpers ---------------------------------------------- */

int64_t qv_col_get_int(const qv_col_view *v, size_t row)
{
    switch (v->type) {
    case QV_DT_BOOL:
        return v->data[row] != 0;
    case QV_DT_INT8:
        return qv_col_i8(v, row);
    case QV_DT_INT16:
        return qv_col_i16(v, row);
    case QV_DT_INT32:
        return qv_col_i32(v, row);
    case QV_DT_INT64:
        return qv_col_i64(v, row);
    default:
        return 0;
    }
}

size_t qv_col_arr_len(const qv_col_view *v, size_t row)
{
    size_t len;
    const uint8_t *p = qv_col_var(v, row, &len);
    if (v->elem_type == QV_DT_VARCHAR) {
        uint32_t n = 0;
        if (len >= 4)
            memcpy(&n, p, 4);
        return n;
    }
    size_t w = qv_dtype_elem_width(v->elem_type);
    return w ? len / w : 0;
}

int64_t qv_col_arr_int(const qv_col_view *v, size_t row, size_t j)
{
    size_t len;
    const uint8_t *p =
        qv_col_var(v, row, &len) + j * qv_dtype_elem_width(v->elem_type);
    switch (v->elem_type) {
    case QV_DT_BOOL:
        return *p != 0;
    case QV_DT_INT8:
        return (int8_t)*p;
    case QV_DT_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case QV_DT_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    case QV_DT_INT64: {
        int64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    default:
        return 0;
    }
}

double qv_col_arr_float(const qv_col_view *v, size_t row, size_t j)
{
    size_t len;
    const uint8_t *p =
        qv_col_var(v, row, &len) + j * qv_dtype_elem_width(v->elem_type);
    if (v->elem_type == QV_DT_FLOAT) {
        float x;
        memcpy(&x, p, 4);
        return x;
    }
    if (v->elem_type == QV_DT_DOUBLE) {
        double x;
        memcpy(&x, p, 8);
        return x;
    }
    return (double)qv_col_arr_int(v, row, j);
}

const char *qv_col_arr_str(const qv_col_view *v, size_t row, size_t j,
                           size_t *len)
{
    size_t rlen;
    const uint8_t *p = qv_col_var(v, row, &rlen);
    uint32_t n, a, b;
    memcpy(&n, p, 4);
    memcpy(&a, p + 4 + 4 * j, 4);
    memcpy(&b, p + 8 + 4 * j, 4);
    *len = b - a;
    return (const char *)p + 4 + 4 * ((size_t)n + 1) + a;
}

qv_code qv_col_arr_str_encode(qv_buf *out, const char *const *strs,
                              const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (!qv_add_ok(total, lens[i], &total) || total > UINT32_MAX)
            return QV_E_INVALID;
    if (n >= UINT32_MAX / 4)
        return QV_E_INVALID;
    qv_code rc = qv_buf_reserve(out, 4 + 4 * (n + 1) + total);
    if (rc)
        return rc;
    uint8_t *p = (uint8_t *)out->data + out->len;
    uint32_t off = 0, n32 = (uint32_t)n;
    memcpy(p, &n32, 4);
    memcpy(p + 4, &off, 4);
    for (size_t i = 0; i < n; i++) {
        off += (uint32_t)lens[i];
        memcpy(p + 8 + 4 * i, &off, 4);
    }
    p += 4 + 4 * (n + 1);
    for (size_t i = 0; i < n; i++) {
        if (lens[i])
            memcpy(p, strs[i], lens[i]);
        p += lens[i];
    }
    out->len += 4 + 4 * (n + 1) + total;
    out->data[out->len] = '\0';
    return QV_OK;
}

/* ---- memory columns -------------------------------------------------- */

typedef struct retired {
    struct retired *next;
    void *p;
    size_t bytes;
    bool aligned;
} retired;

static void retire(qv_column *c, void *p, size_t bytes, bool aligned)
{
    if (!p)
        return;
    retired *r = QV_NEW(retired);
    r->p = p;
    r->bytes = bytes;
    c->retired_bytes += bytes;
    r->aligned = aligned;
    r->next = c->retired;
    c->retired = r;
}

qv_code qv_column_create(const qv_field_spec *spec, qv_column **out,
                         qv_err *err)
{
    qv_code rc = qv_field_spec_check(spec, err);
    if (rc)
        return rc;
    qv_column *c = QV_NEW(qv_column);
    qv__column_set_spec(c, spec);
    c->width = (uint32_t)qv_dtype_width(spec->type, spec->dim);
    c->var = qv_dtype_is_varwidth(spec->type);
    *out = c;
    return QV_OK;
}

void qv__column_set_spec(qv_column *c, const qv_field_spec *spec)
{
    c->spec = *spec;
    c->name = qv_xstrdup(spec->name ? spec->name : "");
    c->spec.name = c->name;
    if (spec->has_default && spec->default_value.kind == QV_VAL_STR) {
        size_t n = spec->default_value.u.s.len;
        c->default_str = qv_xmalloc(n + 1);
        if (n)
            memcpy(c->default_str, spec->default_value.u.s.ptr, n);
        c->default_str[n] = '\0';
        c->spec.default_value.u.s.ptr = c->default_str;
    }
}

void qv_column_free(qv_column *c)
{
    if (!c)
        return;
    if (c->file) {
        qv__column_file_release(c);
    } else {
        qv_aligned_free(atomic_load_explicit(&c->data, memory_order_relaxed));
        free(atomic_load_explicit(&c->offsets, memory_order_relaxed));
        free(atomic_load_explicit(&c->valid, memory_order_relaxed));
    }
    qv_column_reclaim(c);
    free(c->name);
    free(c->default_str);
    free(c);
}

qv_col_view qv_column_view(const qv_column *c)
{
    if (c->file)
        return c->fview;
    qv_col_view v;
    memset(&v, 0, sizeof v);
    v.rows = atomic_load_explicit(&c->pub_rows, memory_order_acquire);
    v.type = c->spec.type;
    v.elem_type = c->spec.elem_type;
    v.dim = c->spec.type == QV_DT_SPARSE_FLOAT_VECTOR
                ? atomic_load_explicit(&c->sparse_dim, memory_order_acquire)
                : c->spec.dim;
    v.width = c->width;
    v.data = atomic_load_explicit(&c->data, memory_order_acquire);
    v.offsets = atomic_load_explicit(&c->offsets, memory_order_acquire);
    v.valid = atomic_load_explicit(&c->valid, memory_order_acquire);
    /* An empty variable-width column still has offsets[0] == 0, and data
     * is never NULL (pointer arithmetic on NULL is undefined). */
    if (c->var && !v.offsets)
        v.offsets = qv__zero_offsets;
    if (!v.data)
        v.data = (const uint8_t *)qv__zero_offsets;
    return v;
}

_Alignas(64) const uint64_t qv__zero_offsets[1] = {0};

size_t qv_column_rows(const qv_column *c)
{
    return qv_column_view(c).rows;
}

int64_t qv_column_field_id(const qv_column *c)
{
    return c->spec.id;
}

const qv_field_spec *qv_column_spec(const qv_column *c)
{
    return &c->spec;
}

void qv_column_reclaim(qv_column *c)
{
    while (c->retired) {
        retired *r = c->retired;
        c->retired = r->next;
        if (r->aligned)
            qv_aligned_free(r->p);
        else
            free(r->p);
        free(r);
    }
    c->retired_bytes = 0;
}

size_t qv_column_memory_size(const qv_column *c)
{
    if (c->file)
        return sizeof *c;
    size_t n = sizeof *c + c->data_cap + c->retired_bytes;
    if (c->var)
        n += (c->cap_rows + 1) * 8;
    if (c->spec.nullable)
        n += QV_BITSET_WORDS(c->cap_rows) * 8;
    return n;
}

/* Grows the per-row buffers (fixed data, offsets, validity) to hold at
 * least need rows. */
static qv_code grow_rows(qv_column *c, size_t need)
{
    if (need <= c->cap_rows)
        return QV_OK;
    /* A first reservation is taken exactly (a converted request knows its
     * size); growth after that doubles. */
    size_t cap = c->cap_rows ? c->cap_rows : need > 1024 ? need : 1024;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    uint8_t *od = atomic_load_explicit(&c->data, memory_order_relaxed);
    uint64_t *oo = atomic_load_explicit(&c->offsets, memory_order_relaxed);
    uint64_t *ov = atomic_load_explicit(&c->valid, memory_order_relaxed);
    uint8_t *nd = NULL;
    uint64_t *no = NULL, *nv = NULL;
    if (!c->var) {
        nd = qv_try_aligned_alloc(cap, c->width);
        if (!nd)
            return QV_E_NOMEM;
    } else {
        no = qv_try_alloc(cap + 1, sizeof(uint64_t));
        if (!no)
            return QV_E_NOMEM;
    }
    if (c->spec.nullable) {
        nv = qv_try_calloc(QV_BITSET_WORDS(cap), sizeof(uint64_t));
        if (!nv) {
            qv_aligned_free(nd);
            free(no);
            return QV_E_NOMEM;
        }
    }
    if (nd) {
        if (c->rows)
            memcpy(nd, od, c->rows * c->width);
        atomic_store_explicit(&c->data, nd, memory_order_release);
        retire(c, od, c->data_cap, true);
        c->data_cap = cap * c->width;
    }
    if (no) {
        no[0] = 0;
        if (oo)
            memcpy(no, oo, (c->rows + 1) * sizeof(uint64_t));
        atomic_store_explicit(&c->offsets, no, memory_order_release);
        retire(c, oo, (c->cap_rows + 1) * sizeof(uint64_t), false);
    }
    if (nv) {
        if (ov)
            memcpy(nv, ov, QV_BITSET_WORDS(c->rows) * sizeof(uint64_t));
        atomic_store_explicit(&c->valid, nv, memory_order_release);
        retire(c, ov, QV_BITSET_WORDS(c->cap_rows) * sizeof(uint64_t), false);
    }
    c->cap_rows = cap;
    return QV_OK;
}

static qv_code grow_bytes(qv_column *c, size_t need)
{
    if (need <= c->data_cap)
        return QV_OK;
    size_t cap = c->data_cap ? c->data_cap : need > 4096 ? need : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    uint8_t *od = atomic_load_explicit(&c->data, memory_order_relaxed);
    uint8_t *nd = qv_try_aligned_alloc(cap, 1);
    if (!nd)
        return QV_E_NOMEM;
    if (c->data_len)
        memcpy(nd, od, c->data_len);
    atomic_store_explicit(&c->data, nd, memory_order_release);
    retire(c, od, c->data_cap, true);
    c->data_cap = cap;
    return QV_OK;
}

qv_code qv_column_reserve(qv_column *c, size_t n, size_t var_bytes)
{
    if (c->file)
        return QV_E_INVALID;
    size_t need;
    if (!qv_add_ok(c->rows, n, &need))
        return QV_E_NOMEM;
    qv_code rc = grow_rows(c, need);
    if (rc || !c->var)
        return rc;
    if (!qv_add_ok(c->data_len, var_bytes, &need))
        return QV_E_NOMEM;
    return grow_bytes(c, need);
}

/* Sets the validity bits of rows [from, from + n).  A word may straddle
 * the published row count while readers load it, so words are updated
 * with atomic read-modify-writes (relaxed: publication orders them). */
static void set_valid(qv_column *c, size_t from, size_t n)
{
    uint64_t *v = atomic_load_explicit(&c->valid, memory_order_relaxed);
    if (!v || !n)
        return;
    size_t i = from, end = from + n;
    while (i < end) {
        size_t w = i >> 6, b = i & 63;
        size_t take = 64 - b < end - i ? 64 - b : end - i;
        uint64_t bits =
            take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1) << b;
        __atomic_fetch_or(&v[w], bits, __ATOMIC_RELAXED);
        i += take;
    }
}

qv_code qv_column_append_fixed(qv_column *c, const void *vals, size_t n)
{
    if (c->file || c->var)
        return QV_E_INVALID;
    qv_code rc = qv_column_reserve(c, n, 0);
    if (rc)
        return rc;
    uint8_t *d = atomic_load_explicit(&c->data, memory_order_relaxed);
    if (n)
        memcpy(d + c->rows * c->width, vals, n * c->width);
    set_valid(c, c->rows, n);
    c->rows += n;
    return QV_OK;
}

static void sparse_note_dim(qv_column *c, const void *bytes, size_t len)
{
    uint32_t mx = atomic_load_explicit(&c->sparse_dim, memory_order_relaxed);
    for (size_t k = 0; k + 8 <= len; k += 8) {
        uint32_t idx;
        memcpy(&idx, (const uint8_t *)bytes + k, 4);
        if (idx + 1 > mx)
            mx = idx + 1;
    }
    atomic_store_explicit(&c->sparse_dim, mx, memory_order_relaxed);
}

qv_code qv_column_append_var(qv_column *c, const void *bytes, size_t len)
{
    if (c->file || !c->var)
        return QV_E_INVALID;
    qv_code rc = qv_column_reserve(c, 1, len);
    if (rc)
        return rc;
    uint8_t *d = atomic_load_explicit(&c->data, memory_order_relaxed);
    uint64_t *o = atomic_load_explicit(&c->offsets, memory_order_relaxed);
    if (len)
        memcpy(d + c->data_len, bytes, len);
    c->data_len += len;
    o[c->rows + 1] = c->data_len;
    if (c->spec.type == QV_DT_SPARSE_FLOAT_VECTOR)
        sparse_note_dim(c, bytes, len);
    set_valid(c, c->rows, 1);
    c->rows++;
    return QV_OK;
}

qv_code qv_column_append_null(qv_column *c, size_t n)
{
    if (c->file || !c->spec.nullable)
        return QV_E_INVALID;
    qv_code rc = qv_column_reserve(c, n, 0);
    if (rc)
        return rc;
    if (c->var) {
        uint64_t *o = atomic_load_explicit(&c->offsets, memory_order_relaxed);
        for (size_t i = 0; i < n; i++)
            o[c->rows + 1 + i] = c->data_len;
    } else {
        uint8_t *d = atomic_load_explicit(&c->data, memory_order_relaxed);
        memset(d + c->rows * c->width, 0, n * c->width);
    }
    c->rows += n; /* validity bits of new rows are already clear */
    return QV_OK;
}

qv_code qv_column_append_default(qv_column *c, size_t n)
{
    const qv_field_spec *f = &c->spec;
    if (!f->has_default)
        return f->nullable ? qv_column_append_null(c, n) : QV_E_INVALID;
    const qv_value *d = &f->default_value;
    uint8_t b[8];
    switch (f->type) {
    case QV_DT_FLOAT: {
        float x = (float)(d->kind == QV_VAL_INT ? (double)d->u.i : d->u.f);
        memcpy(b, &x, 4);
        break;
    }
    case QV_DT_DOUBLE: {
        double x = d->kind == QV_VAL_INT ? (double)d->u.i : d->u.f;
        memcpy(b, &x, 8);
        break;
    }
    case QV_DT_BOOL:
        b[0] = d->u.b;
        break;
    default: /* integers: the low bytes of the int64 (range checked) */
        memcpy(b, &d->u.i, 8);
        break;
    }
    qv_code rc =
        qv_column_reserve(c, n, f->type == QV_DT_VARCHAR ? n * d->u.s.len : 0);
    for (size_t i = 0; !rc && i < n; i++)
        rc = f->type == QV_DT_VARCHAR
                 ? qv_column_append_var(c, d->u.s.ptr, d->u.s.len)
                 : qv_column_append_fixed(c, b, 1);
    return rc;
}

static qv_code append_view_rows(qv_column *c, const qv_col_view *s)
{
    size_t base = c->rows;
    if (!c->var) {
        qv_code rc = qv_column_append_fixed(c, s->data, s->rows);
        if (rc)
            return rc;
    } else {
        size_t bytes = (size_t)(s->offsets[s->rows] - s->offsets[0]);
        qv_code rc = qv_column_reserve(c, s->rows, bytes);
        if (rc)
            return rc;
        uint8_t *d = atomic_load_explicit(&c->data, memory_order_relaxed);
        uint64_t *o = atomic_load_explicit(&c->offsets, memory_order_relaxed);
        if (bytes)
            memcpy(d + c->data_len, s->data + s->offsets[0], bytes);
        for (size_t i = 0; i < s->rows; i++)
            o[base + 1 + i] = c->data_len + (s->offsets[i + 1] - s->offsets[0]);
        if (c->spec.type == QV_DT_SPARSE_FLOAT_VECTOR)
            sparse_note_dim(c, s->data + s->offsets[0], bytes);
        c->data_len += bytes;
        set_valid(c, base, s->rows);
        c->rows += s->rows;
    }
    if (s->valid) {
        uint64_t *v = atomic_load_explicit(&c->valid, memory_order_relaxed);
        for (size_t i = 0; i < s->rows; i++)
            if (qv_col_is_null(s, i))
                __atomic_fetch_and(&v[(base + i) >> 6],
                                   ~((uint64_t)1 << ((base + i) & 63)),
                                   __ATOMIC_RELAXED);
    }
    return QV_OK;
}

static qv_code check_source(qv_column *c, const qv_col_view *s, qv_err *err);

qv_code qv_column_append_view(qv_column *c, const qv_col_view *s, qv_err *err)
{
    const char *n = spec_name(&c->spec);
    qv_code rc0 = check_source(c, s, err);
    if (rc0)
        return rc0;
    if (s->valid && !c->spec.nullable) {
        for (size_t i = 0; i < s->rows; i++)
            if (qv_col_is_null(s, i))
                return qv_fail(err, QV_E_INVALID,
                               "field '%s': row %zu is null but the field "
                               "is not nullable",
                               n, i);
    }
    qv_code rc = append_view_rows(c, s);
    if (rc)
        return qv_fail(err, rc, "field '%s': cannot append %zu rows", n,
                       s->rows);
    return QV_OK;
}

/* Type and nullability of src rows against the column. */
static qv_code check_source(qv_column *c, const qv_col_view *s, qv_err *err)
{
    const char *n = spec_name(&c->spec);
    if (c->file)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': cannot append to a file column", n);
    if (s->type != c->spec.type ||
        (s->type == QV_DT_ARRAY && s->elem_type != c->spec.elem_type) ||
        (!c->var && s->width != c->width))
        return qv_fail(err, QV_E_INVALID,
                       "field '%s': cannot append %s rows to a %s column", n,
                       qv_dtype_name(s->type), qv_dtype_name(c->spec.type));
    return QV_OK;
}

qv_code qv_column_append_rows(qv_column *c, const qv_col_view *s,
                              const int64_t *rows, size_t n, qv_err *err)
{
    const char *name = spec_name(&c->spec);
    qv_code rc = check_source(c, s, err);
    if (rc)
        return rc;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i] < 0 || (uint64_t)rows[i] >= s->rows)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': row %lld is outside the %zu source "
                           "rows",
                           name, (long long)rows[i], s->rows);
        size_t r = (size_t)rows[i];
        if (qv_col_is_null(s, r) && !c->spec.nullable)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s': row %zu is null but the field is "
                           "not nullable",
                           name, r);
        if (c->var)
            bytes += (size_t)(s->offsets[r + 1] - s->offsets[r]);
    }
    if (qv_column_reserve(c, n, bytes))
        return qv_fail(err, QV_E_NOMEM, "field '%s': cannot append %zu rows",
                       name, n);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t r = (size_t)rows[i], len = 0;
        if (qv_col_is_null(s, r)) {
            rc = qv_column_append_null(c, 1);
        } else if (c->var) {
            const uint8_t *p = qv_col_var(s, r, &len);
            rc = qv_column_append_var(c, p, len);
        } else
            rc = qv_column_append_fixed(c, qv_col_fixed(s, r), 1);
    }
    return rc ? qv_fail(err, rc, "field '%s': cannot append rows", name)
              : QV_OK;
}

void qv_column_publish(qv_column *c)
{
    if (c->file)
        return;
    atomic_store_explicit(
        &c->sparse_dim,
        atomic_load_explicit(&c->sparse_dim, memory_order_relaxed),
        memory_order_release);
    atomic_store_explicit(&c->pub_rows, c->rows, memory_order_release);
}
