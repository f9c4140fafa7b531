/* expr.h -- the Milvus boolean filter language: parse, type-check, fold,
 * serialize, evaluate.
 *
 * The proxy parses a filter once against the collection schema
 * (qv_expr_parse), producing a typed plan with constants folded and
 * template variables `{name}` bound.  The plan travels to query nodes as
 * bytes (qv_expr_plan_encode / qv_expr_plan_decode; the decoder checks
 * every byte, so a damaged plan is an error, never a crash).  Each segment
 * evaluates the plan over its columns into a bitset (qv_expr_eval), using
 * a scalar index for a column when one is bound.
 *
 * The grammar, the plan format, and the null and JSON comparison rules are
 * in common/expr/README.md.  In short: a comparison on a NULL row is
 * unknown (never matches, and `not` keeps it unknown); `is null` matches
 * NULL rows; JSON values compare by Milvus's rules (numbers by value
 * across int/float, strings bytewise, missing or mistyped values never
 * match except for `!=`, which they satisfy).
 *
 * Ownership: a qv_expr_plan owns all its memory (one arena); it does not
 * borrow the text, the schema or the parameters it was built from.
 * Threading: a plan is immutable after parse/decode; any number of threads
 * may evaluate it at once.  Columns and indexes are only read.
 */
#ifndef QV_EXPR_H
#define QV_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bitset.h"
#include "common/buf.h"
#include "common/column/column.h"
#include "common/status.h"
#include "index/scalar/scalar_index.h"

/* ---- schema ------------------------------------------------------------ */

/* One field as the filter language sees it; the proxy fills these from the
 * collection schema.  Strings are borrowed for the duration of the parse. */
typedef struct qv_expr_field {
    int64_t id;
    const char *name;
    qv_dtype type;      /* Milvus DataType number */
    qv_dtype elem_type; /* Array only */
    bool nullable;
    bool is_dynamic; /* the `$meta` JSON field of a dynamic schema */
    bool is_primary;
} qv_expr_field;

typedef struct qv_expr_schema {
    const qv_expr_field *fields;
    size_t nfields;
} qv_expr_schema;

/* ---- values ------------------------------------------------------------ */

/* A literal or bound template value.  Kinds 0..4 are those of qv_value. */
typedef enum qv_expr_vkind {
    QV_EXPR_NULL = 0,
    QV_EXPR_BOOL = 1,
    QV_EXPR_INT = 2,
    QV_EXPR_FLOAT = 3,
    QV_EXPR_STR = 4,
    QV_EXPR_ARRAY = 5,
} qv_expr_vkind;

typedef struct qv_expr_value {
    qv_expr_vkind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *ptr; /* not NUL-terminated */
            size_t len;
        } s;
        struct {
            const struct qv_expr_value *items;
            size_t n;
        } a;
    } u;
} qv_expr_value;

/* A template variable binding: `{name}` in the text takes `value`
 * (Milvus expr_template_values; the proxy converts TemplateValue into
 * this).  Both are borrowed for the duration of the parse. */
typedef struct qv_expr_param {
    const char *name;
    qv_expr_value value;
} qv_expr_param;

/* ---- plans ------------------------------------------------------------- */

typedef struct qv_expr_plan qv_expr_plan;

/* Parses text[0..len) against schema with template bindings params[0..n).
 * An empty (all-whitespace) text gives a plan that matches every row.
 * On error returns QV_E_INVALID with a message that starts with
 * "invalid filter at column N:" (N = 1-based byte position). */
qv_code qv_expr_parse(const char *text, size_t len,
                      const qv_expr_schema *schema, const qv_expr_param *params,
                      size_t nparams, qv_expr_plan **out,
                      qv_err *err) QV_MUST_USE;
void qv_expr_plan_free(qv_expr_plan *plan);

/* Appends the binary form of the plan to out. */
qv_code qv_expr_plan_encode(const qv_expr_plan *plan, qv_buf *out,
                            qv_err *err) QV_MUST_USE;
/* Decodes and checks a plan image; QV_E_CORRUPT on any damage. */
qv_code qv_expr_plan_decode(const void *bytes, size_t len, qv_expr_plan **out,
                            qv_err *err) QV_MUST_USE;
/* A readable S-expression of the plan, for logs and tests, e.g.
 * (and (< f101 5) (in f102 ["a" "b"])). */
qv_code qv_expr_plan_format(const qv_expr_plan *plan, qv_buf *out) QV_MUST_USE;

/* True when the plan matches every row (empty filter or folded `true`). */
bool qv_expr_plan_always_true(const qv_expr_plan *plan);
/* Ids of the fields the plan reads, ascending, without duplicates; returns
 * how many there are (writes at most cap). */
size_t qv_expr_plan_fields(const qv_expr_plan *plan, int64_t *ids, size_t cap);

/* If the plan selects rows by primary key values alone -- `pk == v`,
 * `pk in [...]`, or an `or` of those -- returns true and sets *vals to a
 * malloc'ed array of the *n values (the caller frees the array; strings in
 * it are borrowed from the plan).  Otherwise returns false (a delete then
 * has to query for the keys first).  A folded `false` gives true, n = 0. */
bool qv_expr_plan_pk_values(const qv_expr_plan *plan, int64_t pk_field_id,
                            qv_expr_value **vals, size_t *n);

/* A bound for pruning: returns true if every row the plan matches has
 * field_id equal to one of the *n values in *vals (malloc'ed, sorted,
 * distinct; strings borrowed from the plan) -- from `f == v` / `f in [...]`
 * anywhere under `and`s (intersected) and `or`s (united, when every branch
 * is bounded).  For partition-key routing and for skipping segments whose
 * primary-key bloom filter holds none of the keys.  False: no bound. */
bool qv_expr_plan_field_bound(const qv_expr_plan *plan, int64_t field_id,
                              qv_expr_value **vals, size_t *n);

/* ---- evaluation -------------------------------------------------------- */

/* A segment's column for one field, and optionally its scalar index. */
typedef struct qv_expr_binding {
    int64_t field_id;
    qv_col_view col;        /* must have at least `rows` rows */
    const qv_sindex *index; /* NULL = scan the column */
} qv_expr_binding;

/* Rows evaluated per batch. */
#define QV_EXPR_BATCH 8192

/* Evaluates plan over rows [0, rows) of the bound columns.  `match` must be
 * an initialised bitset of exactly `rows` bits: on success bit i is SET when
 * row i MATCHES the filter (the opposite of the index library's exclude
 * convention; see qv_expr_filter).  A field the plan reads but that has no
 * binding is QV_E_NOT_FOUND; a binding whose type differs from the plan's
 * is QV_E_INVALID. */
qv_code qv_expr_eval(const qv_expr_plan *plan, const qv_expr_binding *cols,
                     size_t ncols, size_t rows, qv_bitset *match,
                     qv_err *err) QV_MUST_USE;
/* The same, but fills `exclude` in the convention of common/bitset.h and the
 * vector indexes: bit i SET = row i does NOT match (is filtered out). */
qv_code qv_expr_filter(const qv_expr_plan *plan, const qv_expr_binding *cols,
                       size_t ncols, size_t rows, qv_bitset *exclude,
                       qv_err *err) QV_MUST_USE;

#endif
