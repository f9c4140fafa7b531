/* expr_int.h -- internals of the filter module shared by its files: the
 * plan node structure, the parser state and cross-file helpers.
 *
 * A plan is a tree of qv_expr_node allocated in the plan's arena.  Node
 * kinds and the fields each uses:
 *
 *   TRUE, FALSE     -
 *   AND, OR         kids[0..nkids) (n-ary, nkids >= 2)
 *   NOT             kids[0]
 *   CMP             col op v
 *   RANGE           v (lo) < col < v2 (hi); flags: LO_INCL, HI_INCL
 *   CMP_COLS        col op col2
 *   ARITH           (col aop v2) op v; aop ARRAY_LEN: array_length(col) op v
 *   IN              col in v (an array value; numbers sorted, deduplicated)
 *   LIKE            col like v; flags = like kind; v the literal part
 *                   (GENERAL: the whole pattern, escapes kept)
 *   IS_NULL,
 *   IS_NOT_NULL,
 *   EXISTS          col
 *   CONTAINS        col; flags = ONE (v a value), ALL or ANY (v an array)
 *   SAMPLE          random_sample(v): each row kept with probability v
 *                   (a float in (0, 1)); only as the root or a child of
 *                   the root AND
 *
 * `col` names a field and, for JSON, a path of keys ("0" also indexes an
 * array), or for an Array field one element index.  Values stored in CMP,
 * RANGE, IN are already cast to the column's type class (Float/Double
 * columns: float values; integer columns: int values), except on JSON
 * columns, where they keep their literal kind.
 */
#ifndef QV_EXPR_INT_H
#define QV_EXPR_INT_H

#include "common/arena.h"
#include "common/expr/expr.h"

enum qv_expr_kind {
    QV_XN_TRUE = 1,
    QV_XN_FALSE,
    QV_XN_AND,
    QV_XN_OR,
    QV_XN_NOT,
    QV_XN_CMP,
    QV_XN_RANGE,
    QV_XN_CMP_COLS,
    QV_XN_ARITH,
    QV_XN_IN,
    QV_XN_LIKE,
    QV_XN_IS_NULL,
    QV_XN_IS_NOT_NULL,
    QV_XN_EXISTS,
    QV_XN_CONTAINS,
    QV_XN_SAMPLE,
    QV_XN_KIND_MAX = QV_XN_SAMPLE,
};

enum qv_expr_cmp {
    QV_CMP_EQ = 1,
    QV_CMP_NE,
    QV_CMP_LT,
    QV_CMP_LE,
    QV_CMP_GT,
    QV_CMP_GE,
};

enum qv_expr_arith {
    QV_AR_ADD = 1,
    QV_AR_SUB,
    QV_AR_MUL,
    QV_AR_DIV,
    QV_AR_MOD,
    QV_AR_ARRAY_LEN,
};

enum qv_expr_like {
    QV_LIKE_EQ = 1, /* no wildcard */
    QV_LIKE_PREFIX, /* abc% */
    QV_LIKE_SUFFIX, /* %abc */
    QV_LIKE_INFIX,  /* %abc% */
    QV_LIKE_GENERAL,
};

enum qv_expr_contains {
    QV_CONTAINS_ONE = 1,
    QV_CONTAINS_ALL,
    QV_CONTAINS_ANY,
};

#define QV_RANGE_LO_INCL 1
#define QV_RANGE_HI_INCL 2

/* Limits that keep parsing, decoding and evaluation bounded. */
#define QV_EXPR_MAX_DEPTH      200 /* nesting of parentheses/operators */
#define QV_EXPR_MAX_PATH       64  /* JSON path elements */
#define QV_EXPR_MAX_TEXT       (64u << 20) /* bytes of filter text */
#define QV_EXPR_MAX_ARRAY_NEST 16          /* nested array literals */

typedef struct qv_expr_str {
    const char *ptr;
    size_t len;
} qv_expr_str;

typedef struct qv_expr_colref {
    int64_t field_id;
    qv_dtype type;      /* the field's type */
    qv_dtype elem_type; /* Array fields */
    bool nullable;
    uint32_t npath;
    qv_expr_str *path;
} qv_expr_colref;

typedef struct qv_expr_node {
    uint8_t kind, op, aop, flags;
    qv_expr_colref col, col2;
    qv_expr_value v, v2;
    uint32_t nkids;
    struct qv_expr_node **kids;
} qv_expr_node;

struct qv_expr_plan {
    qv_arena arena;
    qv_expr_node *root;
};

/* plan.c */
qv_expr_plan *qv_expr__plan_new(void);
qv_expr_node *qv_expr__node(qv_expr_plan *p, int kind);
/* Checks the structural invariants the evaluator relies on (kinds, ops,
 * types, value kinds); used after parse and after decode. */
qv_code qv_expr__check(const qv_expr_node *n, int depth, qv_err *err);
bool qv_expr__is_scalar_type(qv_dtype t);
bool qv_expr__is_int_type(qv_dtype t);
bool qv_expr__is_float_type(qv_dtype t);
/* Compares two scalar values of compatible kinds (numbers across int and
 * float, strings bytewise, bools); returns false if incomparable. */
bool qv_expr__value_cmp(const qv_expr_value *a, const qv_expr_value *b,
                        int *out);
const char *qv_expr__kind_name(qv_expr_vkind k);

/* like.c */
/* Matches s against a LIKE pattern (% any bytes, _ one UTF-8 character,
 * backslash escapes the next byte). */
bool qv_expr__like_match(const char *pat, size_t plen, const char *s,
                         size_t slen);
/* Classifies a pattern; *lit receives the unescaped literal part (into
 * the arena) for EQ/PREFIX/SUFFIX/INFIX. */
int qv_expr__like_classify(qv_arena *a, const char *pat, size_t plen,
                           qv_expr_str *lit);

#endif
