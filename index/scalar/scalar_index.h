/* scalar_index.h -- scalar indexes over one column of a sealed segment:
 * STL_SORT, INVERTED, BITMAP and Trie (Milvus names).
 *
 *   STL_SORT  sorted (value, row) pairs of a numeric column (Int8..Int64,
 *             Float, Double): ranges and equality / term sets.
 *   INVERTED  sorted distinct terms -> row postings, for Bool, Int8..Int64,
 *             Float, Double, VarChar and Arrays of those (array rows are
 *             indexed by their elements, so a term query answers
 *             array_contains and a range "any element in range"): terms,
 *             ranges, prefix (VarChar).
 *   BITMAP    one row bitmap per distinct value, for low-cardinality Bool,
 *             Int8..Int64, VarChar and Arrays of those; params
 *             "bitmap_cardinality_limit" (default 500, range [1, 10000]).
 *             Common values get a row bitmap, rare ones a postings list
 *             (whichever is smaller).
 *
 * Every index takes the param "index_type" (ignored); any other key is
 * refused.  Build cost: numeric keys are radix sorted (10M Int64 rows in
 * about 1.5 s), strings hashed to distinct keys first.
 *   Trie      VarChar only: terms and prefix (`like "abc%"`), and ranges.
 *
 * Results: every query fills `out` (a bitset of exactly the column's rows,
 * set up by the caller) with SET bits for the MATCHING rows; other bits
 * are cleared.  NULL rows never match.  The evaluator flips the final
 * result into the exclude-convention of common/bitset.h.  Values are
 * compared with their numeric value across kinds (an Int64 column and a
 * Float bound compare exactly, NaN never matches).
 *
 * Files: qv_sindex_encode() writes a self-describing image (magic "QVSX",
 * version, index type, column type, rows, section table, crc32c); the
 * layout keeps every array aligned so qv_sindex_load() works in place on
 * mapped bytes without copying.  Format tables: common/column/README.md.
 *
 * Ownership: qv_sindex_build() returns an index that owns its memory.  An
 * index from qv_sindex_load() BORROWS the image bytes for its whole life.
 * Threading: an index is immutable once built or loaded; any number of
 * threads may query it concurrently.
 */
#ifndef QV_SCALAR_INDEX_H
#define QV_SCALAR_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/buf.h"
#include "common/column/column.h"
#include "common/status.h"

typedef enum qv_sindex_type {
    QV_SINDEX_STL_SORT = 1,
    QV_SINDEX_INVERTED = 2,
    QV_SINDEX_BITMAP = 3,
    QV_SINDEX_TRIE = 4,
} qv_sindex_type;

/* Query kinds, for qv_sindex_supports(). */
typedef enum qv_sindex_op {
    QV_SOP_TERMS = 0,  /* equality / in-list (array: contains) */
    QV_SOP_RANGE = 1,  /* lower/upper bounds */
    QV_SOP_PREFIX = 2, /* VarChar prefix */
} qv_sindex_op;

typedef struct qv_sindex qv_sindex;

typedef struct qv_sindex_param {
    const char *key;
    const char *value;
} qv_sindex_param;

/* Parses "STL_SORT", "INVERTED", "BITMAP", "Trie" (case-insensitive;
 * "TRIE" and "marisa-trie" accepted). */
qv_code qv_sindex_type_parse(const char *name, qv_sindex_type *out,
                             qv_err *err) QV_MUST_USE;
const char *qv_sindex_type_name(qv_sindex_type t);
/* Whether type t can index a column of type col (elem for Arrays). */
bool qv_sindex_type_fits(qv_sindex_type t, qv_dtype col, qv_dtype elem);

/* Builds an index of type t over the rows of col.  Unknown params, values
 * out of range and a column type the index does not take are
 * QV_E_INVALID with a message naming them. */
qv_code qv_sindex_build(qv_sindex_type t, const qv_col_view *col,
                        const qv_sindex_param *params, size_t nparams,
                        qv_sindex **out, qv_err *err) QV_MUST_USE;
void qv_sindex_free(qv_sindex *ix);

qv_sindex_type qv_sindex_kind(const qv_sindex *ix);
qv_dtype qv_sindex_column_type(const qv_sindex *ix); /* elem for arrays */
size_t qv_sindex_rows(const qv_sindex *ix);
bool qv_sindex_is_array(const qv_sindex *ix); /* built over an Array */
bool qv_sindex_supports(const qv_sindex *ix, qv_sindex_op op);
size_t qv_sindex_memory_size(const qv_sindex *ix);

/* Rows equal to any of vals (arrays: rows containing any).  QV_VAL_NULL
 * values match nothing.  out->nbits must equal qv_sindex_rows(). */
qv_code qv_sindex_terms(const qv_sindex *ix, const qv_value *vals, size_t n,
                        qv_bitset *out, qv_err *err) QV_MUST_USE;

/* A bound of a range; `lo`/`hi` NULL = unbounded. */
typedef struct qv_sindex_bound {
    qv_value v;
    bool inclusive;
} qv_sindex_bound;

/* Rows with lo <(=) value <(=) hi (arrays: any element).  Strings compare
 * bytewise. */
qv_code qv_sindex_range(const qv_sindex *ix, const qv_sindex_bound *lo,
                        const qv_sindex_bound *hi, qv_bitset *out,
                        qv_err *err) QV_MUST_USE;

/* VarChar rows starting with prefix (arrays: any element). */
qv_code qv_sindex_prefix(const qv_sindex *ix, const char *prefix, size_t len,
                         qv_bitset *out, qv_err *err) QV_MUST_USE;

/* Serializes into out (appends). */
qv_code qv_sindex_encode(const qv_sindex *ix, qv_buf *out,
                         qv_err *err) QV_MUST_USE;
/* Validates an image (magic, version, checksum, sizes, section bounds,
 * sortedness, row ids < rows) and returns an index that BORROWS bytes.
 * bytes must be 8-byte aligned.  Damaged input gives QV_E_CORRUPT. */
qv_code qv_sindex_load(const void *bytes, size_t len, qv_sindex **out,
                       qv_err *err) QV_MUST_USE;
/* Maps path read-only and loads it; the index owns the mapping. */
qv_code qv_sindex_open_file(const char *path, qv_sindex **out,
                            qv_err *err) QV_MUST_USE;

#endif
