/* convert_fielddata.h -- protobuf schema.FieldData <-> columns.
 *
 * Inbound (insert / upsert): qv_fielddata_to_column() validates one
 * FieldData against the field's spec and returns a fresh memory column:
 * data type and payload member, row count, vector dims and byte lengths,
 * Int8/Int16 ranges, NaN/Inf in Float/Double/FloatVector, UTF-8 and
 * max_length of VarChar, JSON syntax and size (the dynamic field: JSON
 * objects), Array element type, max_capacity and element lengths, sparse
 * rows (length a multiple of 8, indexes strictly ascending and below
 * 2^32-1, finite values).  valid_data (one entry per row) may come with
 * compact data (only valid rows, what the SDKs send) or row-dense data;
 * invalid rows become the field's default value when it has one, NULL
 * when it is nullable, and an error otherwise.  Every error message names
 * the field and, where one is at fault, the row.
 *
 * Outbound (query / search results): qv_column_to_fielddata() builds a
 * FieldData for chosen rows: scalars row-dense (placeholders at NULL rows)
 * with valid_data for nullable fields, vectors with `dim` always set, and
 * the dynamic field under the name `$meta` with is_dynamic set.  All of
 * the message's memory comes from the given arena.
 *
 * Threading: pure functions; callers own their inputs and outputs.
 */
#ifndef QV_CONVERT_FIELDDATA_H
#define QV_CONVERT_FIELDDATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/column/column.h"
#include "common/status.h"
#include "milvus/schema.pb-c.h"

#define QV_ROWS_ANY SIZE_MAX

/* Fills out from a schema.FieldSchema: type, element type, dim,
 * max_length, max_capacity (from type_params), nullable, is_dynamic and
 * the default value.  Strings (name, string default) are borrowed from fs.
 * The result is checked with qv_field_spec_check(). */
qv_code qv_field_spec_from_schema(const Milvus__Proto__Schema__FieldSchema *fs,
                                  qv_field_spec *out, qv_err *err) QV_MUST_USE;

/* Validates fd against spec and converts it into a new memory column
 * (published; caller frees).  num_rows is the request's row count, or
 * QV_ROWS_ANY to take it from the data. */
qv_code qv_fielddata_to_column(const Milvus__Proto__Schema__FieldData *fd,
                               const qv_field_spec *spec, size_t num_rows,
                               qv_column **out, qv_err *err) QV_MUST_USE;

/* Builds *out for rows[0..n) of v (rows NULL: every row of v, n ignored).
 * spec gives the name, id and dynamic flag.  Memory from arena. */
qv_code qv_column_to_fielddata(const qv_col_view *v, const qv_field_spec *spec,
                               const int64_t *rows, size_t n, qv_arena *arena,
                               Milvus__Proto__Schema__FieldData **out,
                               qv_err *err) QV_MUST_USE;

#endif
