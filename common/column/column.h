/* column.h -- the columns segments store: one per field, for every Milvus
 * field type, backed by growable memory or by a mapped column file.
 *
 * Data types (qv_dtype) carry Milvus's schema.DataType numbers, so values
 * read from protobuf map one to one.
 *
 * Layout of a column (what a qv_col_view exposes):
 *
 *   fixed-width types: `data` holds rows * width bytes, row i at
 *     data + i * width, 64-byte aligned at the start.
 *       Bool            1 byte per row, 0 or 1
 *       Int8/16/32/64   1/2/4/8 bytes, little-endian two's complement
 *       Float/Double    IEEE-754 binary32/binary64
 *       FloatVector     dim float32            (width dim*4)
 *       Float16Vector   dim IEEE half           (width dim*2)
 *       BFloat16Vector  dim bfloat16            (width dim*2)
 *       Int8Vector      dim int8                (width dim)
 *       BinaryVector    dim bits, dim % 8 == 0  (width dim/8)
 *   variable-width types: `offsets` holds rows + 1 uint64 byte offsets into
 *     `data`; row i is data[offsets[i] .. offsets[i+1]).  offsets[0] == 0.
 *       VarChar            UTF-8 bytes, no terminator
 *       JSON               one UTF-8 JSON document (the dynamic field `$meta`
 *                          is a JSON column whose rows are objects)
 *       SparseFloatVector  (uint32 index, float32 value) pairs, indexes
 *                          strictly ascending; `dim` is max index + 1
 *       Array              elements of elem_type, see "Array rows" below
 *   validity: when the column is nullable, `valid` holds one bit per row
 *     (bit i of word i/64), SET = the row has a value, CLEAR = NULL.  A NULL
 *     row still occupies its slot (zero bytes for fixed width, an empty range
 *     for variable width).  `valid` is NULL when every row is valid.
 *
 * Array rows: for a fixed-width element type (Bool, Int8..Int64, Float,
 * Double) the row bytes are the elements packed back to back, so the length
 * is (row bytes / element width).  Rows are not aligned: read elements with
 * the qv_col_arr_* helpers (memcpy loads).  For VarChar elements a row is
 *   u32 n | u32 off[n + 1] | bytes
 * where element j is bytes[off[j] .. off[j+1]) and off[0] == 0.
 *
 * Growing columns (memory): one writer appends rows and then publishes
 * them; any number of readers take a qv_col_view snapshot and see exactly
 * the published rows.  A view stays valid until the column is freed or
 * qv_column_reclaim() runs (buffers replaced by growth are retired, not
 * freed, until then).
 *
 * Sealed columns (file): qv_column_open_file() maps a column file and the
 * view points into the mapping, no copy.  Column file format: see
 * common/column/README.md and column_file.c.
 *
 * Threading: qv_column_append_* / qv_column_publish are for the single
 * writer.  qv_column_view() may be called from any thread at any time.
 * A file-backed column is immutable.  qv_column_free() needs every reader
 * to be done.
 *
 * Byte order: everything is little-endian; Quiver runs on little-endian
 * hosts only (x86-64, arm64).
 */
#ifndef QV_COLUMN_H
#define QV_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/status.h"

/* Milvus schema.DataType numbers.  Append only. */
typedef enum qv_dtype {
    QV_DT_NONE = 0,
    QV_DT_BOOL = 1,
    QV_DT_INT8 = 2,
    QV_DT_INT16 = 3,
    QV_DT_INT32 = 4,
    QV_DT_INT64 = 5,
    QV_DT_FLOAT = 10,
    QV_DT_DOUBLE = 11,
    QV_DT_VARCHAR = 21,
    QV_DT_ARRAY = 22,
    QV_DT_JSON = 23,
    QV_DT_BINARY_VECTOR = 100,
    QV_DT_FLOAT_VECTOR = 101,
    QV_DT_FLOAT16_VECTOR = 102,
    QV_DT_BFLOAT16_VECTOR = 103,
    QV_DT_SPARSE_FLOAT_VECTOR = 104,
    QV_DT_INT8_VECTOR = 105,
} qv_dtype;

/* Milvus limits that columns enforce. */
#define QV_MAX_DIM          32768 /* dense vector dimension */
#define QV_MAX_VARCHAR_LEN  65535 /* largest allowed max_length */
#define QV_MAX_ARRAY_CAP    4096  /* largest allowed max_capacity */
#define QV_MAX_JSON_LEN     65536 /* bytes of one JSON document */
#define QV_SPARSE_MAX_INDEX 0xfffffffeu

/* "Int64", "FloatVector", ...; "Unknown" for other values. */
const char *qv_dtype_name(qv_dtype t);
/* True for the types listed above (the ones columns support). */
bool qv_dtype_valid(qv_dtype t);
bool qv_dtype_is_vector(qv_dtype t);
bool qv_dtype_is_integer(qv_dtype t); /* Int8..Int64 */
/* True for VarChar, JSON, Array and SparseFloatVector. */
bool qv_dtype_is_varwidth(qv_dtype t);
/* Bytes per row of a fixed-width type (vectors need dim), or 0 for
 * variable-width types and invalid combinations (e.g. binary dim % 8). */
size_t qv_dtype_width(qv_dtype t, uint32_t dim);
/* Bytes per element of an Array element type; 0 for VarChar elements. */
size_t qv_dtype_elem_width(qv_dtype elem);
/* True if elem may be an Array element type (Bool, ints, Float, Double,
 * VarChar). */
bool qv_dtype_array_elem_ok(qv_dtype elem);

/* A typed scalar value: literals, default values, index query terms. */
typedef enum qv_value_kind {
    QV_VAL_NULL = 0,
    QV_VAL_BOOL = 1,
    QV_VAL_INT = 2,   /* any integer type, as int64 */
    QV_VAL_FLOAT = 3, /* Float or Double, as double */
    QV_VAL_STR = 4,   /* VarChar bytes (not NUL-terminated, borrowed) */
} qv_value_kind;

typedef struct qv_value {
    qv_value_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } u;
} qv_value;

static inline qv_value qv_value_int(int64_t i)
{
    qv_value v = {.kind = QV_VAL_INT, .u.i = i};
    return v;
}
static inline qv_value qv_value_float(double f)
{
    qv_value v = {.kind = QV_VAL_FLOAT, .u.f = f};
    return v;
}
static inline qv_value qv_value_bool(bool b)
{
    qv_value v = {.kind = QV_VAL_BOOL, .u.b = b};
    return v;
}
static inline qv_value qv_value_str(const char *p, size_t len)
{
    qv_value v = {.kind = QV_VAL_STR, .u.s = {p, len}};
    return v;
}

/* What a field is, as far as storing and validating its data goes. */
typedef struct qv_field_spec {
    int64_t id;       /* field id (user fields start at 100) */
    const char *name; /* for error messages; borrowed */
    qv_dtype type;
    qv_dtype elem_type;    /* Array only */
    uint32_t dim;          /* dense vectors */
    uint32_t max_length;   /* VarChar, and VarChar Array elements */
    uint32_t max_capacity; /* Array */
    bool nullable;
    bool is_dynamic; /* the `$meta` JSON field */
    bool has_default;
    qv_value default_value; /* kind matches type; string borrowed */
} qv_field_spec;

/* Checks a spec: known type, dim in [1, QV_MAX_DIM] (binary: multiple of
 * 8), max_length in [1, 65535], max_capacity in [1, 4096], array element
 * type, a default value of the right kind (none on vectors, JSON, Array).
 * Errors name the field. */
qv_code qv_field_spec_check(const qv_field_spec *f, qv_err *err) QV_MUST_USE;

/* A read-only snapshot of a column's published rows (layout above).
 * Pointers are borrowed from the column and stay valid until it is freed. */
typedef struct qv_col_view {
    qv_dtype type;
    qv_dtype elem_type; /* Array only */
    uint32_t dim;       /* dense vectors; sparse: max index + 1 */
    uint32_t width;     /* bytes per row (fixed width), else 0 */
    size_t rows;
    const uint8_t *data;     /* fixed: rows * width bytes; var: payload */
    const uint64_t *offsets; /* var width: rows + 1 entries; else NULL */
    const uint64_t *valid;   /* NULL = all rows valid; bit SET = valid */
} qv_col_view;

/* The validity word of a growing column that holds the last published
 * rows may be updated by the writer while it is read, so loads of `valid`
 * words are relaxed atomics (plain loads on x86-64 and arm64); code that
 * reads `valid` words itself should use qv_col_valid_word(). */
static inline uint64_t qv_col_valid_word(const qv_col_view *v, size_t w)
{
    return __atomic_load_n(&v->valid[w], __ATOMIC_RELAXED);
}
static inline bool qv_col_is_valid(const qv_col_view *v, size_t row)
{
    return !v->valid || ((qv_col_valid_word(v, row >> 6) >> (row & 63)) & 1);
}
static inline bool qv_col_is_null(const qv_col_view *v, size_t row)
{
    return !qv_col_is_valid(v, row);
}
/* Fixed width: pointer to row's bytes. */
static inline const void *qv_col_fixed(const qv_col_view *v, size_t row)
{
    return v->data + row * v->width;
}
/* Variable width: pointer to row's bytes, *len = byte count. */
static inline const uint8_t *qv_col_var(const qv_col_view *v, size_t row,
                                        size_t *len)
{
    *len = (size_t)(v->offsets[row + 1] - v->offsets[row]);
    return v->data + v->offsets[row];
}
/* Typed loads of fixed-width scalar rows (no type check). */
static inline int8_t qv_col_i8(const qv_col_view *v, size_t r)
{
    return ((const int8_t *)v->data)[r];
}
static inline int16_t qv_col_i16(const qv_col_view *v, size_t r)
{
    return ((const int16_t *)(const void *)v->data)[r];
}
static inline int32_t qv_col_i32(const qv_col_view *v, size_t r)
{
    return ((const int32_t *)(const void *)v->data)[r];
}
static inline int64_t qv_col_i64(const qv_col_view *v, size_t r)
{
    return ((const int64_t *)(const void *)v->data)[r];
}
static inline float qv_col_f32(const qv_col_view *v, size_t r)
{
    return ((const float *)(const void *)v->data)[r];
}
static inline double qv_col_f64(const qv_col_view *v, size_t r)
{
    return ((const double *)(const void *)v->data)[r];
}
static inline bool qv_col_bool(const qv_col_view *v, size_t r)
{
    return v->data[r] != 0;
}
/* Any integer column (Int8..Int64, Bool) row widened to int64. */
int64_t qv_col_get_int(const qv_col_view *v, size_t row);

/* Array rows.  Number of elements in row (0 for a NULL row). */
size_t qv_col_arr_len(const qv_col_view *v, size_t row);
/* Element j of a fixed-width-element array row, widened (ints and Bool to
 * int64, Float and Double to double). */
int64_t qv_col_arr_int(const qv_col_view *v, size_t row, size_t j);
double qv_col_arr_float(const qv_col_view *v, size_t row, size_t j);
/* Element j of a VarChar array row; *len = byte count. */
const char *qv_col_arr_str(const qv_col_view *v, size_t row, size_t j,
                           size_t *len);
/* Appends one VarChar-array row encoding (see "Array rows") to out. */
qv_code qv_col_arr_str_encode(qv_buf *out, const char *const *strs,
                              const size_t *lens, size_t n) QV_MUST_USE;

/* Sparse rows: number of (index, value) pairs and pair k. */
static inline size_t qv_col_sparse_nnz(const qv_col_view *v, size_t row)
{
    return (size_t)(v->offsets[row + 1] - v->offsets[row]) / 8;
}
static inline void qv_col_sparse_at(const qv_col_view *v, size_t row, size_t k,
                                    uint32_t *idx, float *val)
{
    const uint8_t *p = v->data + v->offsets[row] + k * 8;
    memcpy(idx, p, 4);
    memcpy(val, p + 4, 4);
}

/* ---- the column object ------------------------------------------------ */

typedef struct qv_column qv_column;

/* Creates an empty growable memory column for the field.  The spec is
 * checked (qv_field_spec_check); name is copied. */
qv_code qv_column_create(const qv_field_spec *spec, qv_column **out,
                         qv_err *err) QV_MUST_USE;
/* Frees a column of either kind (unmaps a file).  NULL is a no-op. */
void qv_column_free(qv_column *c);

/* Snapshot of the published rows. */
qv_col_view qv_column_view(const qv_column *c);
size_t qv_column_rows(const qv_column *c); /* published rows */
int64_t qv_column_field_id(const qv_column *c);
const qv_field_spec *qv_column_spec(const qv_column *c);
/* Bytes of memory the column holds (0 payload for a mapped column). */
size_t qv_column_memory_size(const qv_column *c);

/* Writer API (memory columns only; QV_E_INVALID on a file column).
 * Appended rows become visible to readers at qv_column_publish().  Values
 * are not validated here beyond sizes: validation is the job of the code
 * that takes outside input (proto/convert_fielddata.c).
 *
 * append_fixed: n rows of `width` bytes each from vals.
 * append_var: one row of len bytes.
 * append_null: n NULL rows (QV_E_INVALID unless the field is nullable).
 * append_view: every row of src (same type, elem type and dim). */
qv_code qv_column_append_fixed(qv_column *c, const void *vals,
                               size_t n) QV_MUST_USE;
qv_code qv_column_append_var(qv_column *c, const void *bytes,
                             size_t len) QV_MUST_USE;
qv_code qv_column_append_null(qv_column *c, size_t n) QV_MUST_USE;
/* append_default: n rows of the field's default value, or n NULL rows
 * when it has none and is nullable (QV_E_INVALID otherwise); also what a
 * segment written before a field existed reads as. */
qv_code qv_column_append_default(qv_column *c, size_t n) QV_MUST_USE;
qv_code qv_column_append_view(qv_column *c, const qv_col_view *src,
                              qv_err *err) QV_MUST_USE;
/* Appends rows[0..n) of src, in that order (rows may repeat); for
 * compaction and result assembly.  Same type rules as append_view; a row
 * outside src is QV_E_INVALID. */
qv_code qv_column_append_rows(qv_column *c, const qv_col_view *src,
                              const int64_t *rows, size_t n,
                              qv_err *err) QV_MUST_USE;
/* Reserves room for n more rows (and var_bytes payload bytes). */
qv_code qv_column_reserve(qv_column *c, size_t n, size_t var_bytes) QV_MUST_USE;
/* Makes every appended row visible to readers. */
void qv_column_publish(qv_column *c);
/* Frees the buffers that growth replaced (they are kept so that older
 * views stay valid; qv_column_memory_size() counts them).  Call only when
 * no view taken before the latest growth is still in use, e.g. between
 * searches.  Reserving a growing segment's expected rows up front
 * (qv_column_reserve) avoids growth altogether. */
void qv_column_reclaim(qv_column *c);

/* ---- column files (format in README.md) ------------------------------ */

/* Serializes the view as a column file for field_id into out. */
qv_code qv_column_file_encode(const qv_col_view *v, int64_t field_id,
                              qv_buf *out, qv_err *err) QV_MUST_USE;
/* Writes the view to path (temp file + fsync + rename). */
qv_code qv_column_write_file(const qv_col_view *v, int64_t field_id,
                             const char *path, qv_err *err) QV_MUST_USE;

enum qv_column_open_flags {
    QV_COLUMN_NO_VERIFY = 1 << 0, /* skip the payload checksum */
};

/* Validates a column file image (magic, version, header checksum, sizes,
 * section bounds and alignment, payload checksum, offsets and row
 * structure) and returns a column that BORROWS bytes for its life; no copy.
 * bytes must be 8-byte aligned (QV_E_INVALID otherwise); with 64-byte
 * alignment (mmap, qv_try_aligned_alloc) fixed-width data is 64-aligned.
 * Damaged input gives QV_E_CORRUPT (or a detail code), never a crash. */
qv_code qv_column_load(const void *bytes, size_t len, unsigned flags,
                       qv_column **out, qv_err *err) QV_MUST_USE;
/* Maps path read-only and loads it; the column owns the mapping. */
qv_code qv_column_open_file(const char *path, unsigned flags, qv_column **out,
                            qv_err *err) QV_MUST_USE;

/* ---- JSON ------------------------------------------------------------- */

/* Strict RFC 8259 check of one JSON document (UTF-8, no trailing bytes
 * but whitespace, depth <= 128).  On failure returns false and, if
 * err_off is not NULL, the byte offset of the problem. */
bool qv_col_json_valid(const char *s, size_t len, size_t *err_off);
/* True if s is valid UTF-8 (no overlongs, no surrogates). */
bool qv_utf8_valid(const char *s, size_t len);

#endif
