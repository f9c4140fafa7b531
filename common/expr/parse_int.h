/* parse_int.h -- parser state and typed terms shared by the grammar
 * (parse.c, lex.c) and the semantic builders (build.c, build_fn.c).
 *
 * Parsing is one pass: each grammar function returns a `term`, a typed
 * intermediate (a constant, a column reference, `column op constant`,
 * `array_length(column)`, or a finished predicate node).  Builders combine
 * terms, check types against the schema, fold constants and create plan
 * nodes.  The first error stops the parse; it carries the byte position.
 */
#ifndef QV_EXPR_PARSE_INT_H
#define QV_EXPR_PARSE_INT_H

#include "common/expr/expr_int.h"

enum tok_kind {
    TK_EOF = 0,
    TK_INT,
    TK_FLOAT,
    TK_STR,
    TK_BOOL,
    TK_IDENT,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_LBRACE,
    TK_RBRACE,
    TK_COMMA,
    TK_ADD,
    TK_SUB,
    TK_MUL,
    TK_DIV,
    TK_MOD,
    TK_POW,
    TK_SHL,
    TK_SHR,
    TK_BAND,
    TK_BOR,
    TK_BXOR,
    TK_BNOT,
    TK_NOT,
    TK_AND,
    TK_OR,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_EQ,
    TK_NE,
    TK_IN,
    TK_LIKE,
    TK_EXISTS,
    TK_ISNULL,
    TK_ISNOTNULL,
    TK_FUNC,
};

enum fn_id {
    FN_JSON_CONTAINS = 1,
    FN_JSON_CONTAINS_ALL,
    FN_JSON_CONTAINS_ANY,
    FN_ARRAY_CONTAINS,
    FN_ARRAY_CONTAINS_ALL,
    FN_ARRAY_CONTAINS_ANY,
    FN_ARRAY_LENGTH,
    FN_RANDOM_SAMPLE,
};

typedef struct tok {
    int kind;
    size_t pos, len;   /* bytes of the token in the text */
    qv_expr_value val; /* INT, FLOAT, STR, BOOL literals */
    bool int_min;      /* INT: the literal 9223372036854775808 */
    int fn;            /* FUNC: fn_id */
} tok;

typedef enum term_kind {
    TM_VAL = 1, /* a constant */
    TM_COL,     /* a field, JSON path or array element */
    TM_ARITH,   /* col aop val */
    TM_ALEN,    /* array_length(col) */
    TM_PRED,    /* a boolean plan node */
} term_kind;

typedef struct term {
    term_kind kind;
    size_t pos;
    qv_expr_value val;  /* VAL; ARITH: the operand */
    qv_expr_colref col; /* COL, ARITH, ALEN */
    qv_dtype dt;        /* COL/ARITH: type of the referenced value */
    const char *name;   /* COL: the text naming it, for messages */
    uint8_t aop;        /* ARITH */
    qv_expr_node *pred; /* PRED */
} term;

typedef struct pstate {
    const char *s;
    size_t n, p; /* text, length, lexer cursor */
    const qv_expr_schema *schema;
    const qv_expr_param *params;
    size_t nparams;
    qv_expr_plan *plan;
    qv_err *err;
    bool failed;
    int depth;
    size_t sample_pos; /* position of random_sample, or SIZE_MAX */
    tok t;             /* current token */
} pstate;

/* Records the first error: "invalid filter at column N: <msg>". */
bool qv_expr__perr(pstate *ps, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lex.c */
bool qv_expr__next(pstate *ps);        /* reads the next token into ps->t */
bool qv_expr__peek_lbrack(pstate *ps); /* next non-space byte is '[' */
const char *qv_expr__tok_text(int kind);

/* build.c: combine terms (operands are consumed; result in *out). */
bool qv_expr__b_ident(pstate *ps, size_t pos, const char *name, size_t nlen,
                      qv_expr_str *path, uint32_t npath, bool *path_int,
                      term *out);
bool qv_expr__b_cmp(pstate *ps, int op, term *l, term *r, size_t pos,
                    term *out);
bool qv_expr__b_range(pstate *ps, term *lo, int op1, term *mid, int op2,
                      term *hi, size_t pos, term *out);
bool qv_expr__b_arith(pstate *ps, int tk, term *l, term *r, size_t pos,
                      term *out);
bool qv_expr__b_unary(pstate *ps, int tk, term *x, size_t pos, term *out);
bool qv_expr__b_logic(pstate *ps, int tk, term *l, term *r, size_t pos,
                      term *out);
bool qv_expr__b_in(pstate *ps, bool negate, term *l, term *r, size_t pos,
                   term *out);
bool qv_expr__b_like(pstate *ps, term *l, term *r, size_t pos, term *out);
bool qv_expr__b_null(pstate *ps, term *x, bool is_null, size_t pos, term *out);
bool qv_expr__b_exists(pstate *ps, term *x, size_t pos, term *out);
bool qv_expr__b_func(pstate *ps, int fn, term *args, size_t nargs, size_t pos,
                     term *out);
/* Turns a finished term into the root predicate. */
bool qv_expr__b_root(pstate *ps, term *x, qv_expr_node **out);
/* True if n is a random_sample node or an AND holding one. */
bool qv_expr__has_sample(const qv_expr_node *n);
/* Shared by the builders. */
const char *qv_expr__describe(const term *t, char *buf, size_t cap);
bool qv_expr__cast(qv_dtype dt, const qv_expr_value *v, qv_expr_value *out);
bool qv_expr__cast_array(pstate *ps, qv_dtype dt, const term *arr,
                         const char *what, qv_expr_value *out);
void qv_expr__set_pred(term *out, qv_expr_node *n, size_t pos);

#endif
