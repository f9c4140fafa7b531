/* column_int.h -- internals shared by the files of common/column/.
 * Not for use outside the module.
 */
#ifndef QV_COLUMN_INT_H
#define QV_COLUMN_INT_H

#include <stdatomic.h>

#include "common/bitset.h"
#include "common/column/column.h"

struct retired;

struct qv_column {
    qv_field_spec spec; /* name and string default point into this struct */
    char *name;
    char *default_str;
    uint32_t width; /* fixed width bytes, 0 for variable width */
    bool var;

    /* file-backed (immutable) */
    bool file;
    void *map; /* mapping owned by the column, or NULL when borrowed */
    size_t map_len;
    qv_col_view fview;

    /* memory-backed; the atomics are what readers load */
    _Atomic(size_t) pub_rows;
    _Atomic(uint32_t) sparse_dim;
    _Atomic(uint8_t *) data;
    _Atomic(uint64_t *) offsets;
    _Atomic(uint64_t *) valid;
    /* writer-only state */
    size_t rows;             /* appended rows (>= pub_rows) */
    size_t cap_rows;         /* capacity of the per-row buffers */
    size_t data_len;         /* payload bytes used (variable width) */
    size_t data_cap;         /* bytes allocated for data */
    struct retired *retired; /* buffers replaced by growth */
    size_t retired_bytes;
};

extern const uint64_t qv__zero_offsets[1];

void qv__column_set_spec(qv_column *c, const qv_field_spec *spec);
void qv__column_file_release(qv_column *c);

/* Checks the internal structure of row (Array and sparse rows) so that the
 * accessors in column.h stay in bounds.  Returns false when broken. */
bool qv__column_row_ok(const qv_col_view *v, size_t row);

#endif
