/* expr_ref.h -- the test data set for filter evaluation, kept as plain C
 * arrays, and a reference evaluator that works on those arrays row by row,
 * independent of the plan and the column code.
 *
 * An expression is built from atoms (one predicate each) joined by
 * and/or/not; every atom knows its text and evaluates itself on the plain
 * data with three-valued logic (1 true, 0 false, -1 unknown/NULL).
 */
#ifndef QV_TEST_EXPR_REF_H
#define QV_TEST_EXPR_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"

#define REF_ROWS 9000 /* more than one evaluation batch */

/* JSON value kinds of the reference. */
enum {
    JV_MISSING = 0,
    JV_NULL,
    JV_INT,
    JV_FLT,
    JV_STR,
    JV_BOOL,
    JV_ARR,
    JV_OBJ
};

typedef struct jv {
    int t;
    int64_t i;
    double f;
    const char *s;
    bool b;
    int n; /* JV_ARR: elements (ints) */
    int64_t arr[4];
} jv;

typedef struct ref_data {
    int64_t id[REF_ROWS];
    bool b[REF_ROWS], b_ok[REF_ROWS];
    int8_t i8[REF_ROWS];
    int16_t i16[REF_ROWS];
    int32_t i32[REF_ROWS];
    int64_t i64[REF_ROWS];
    int32_t in32[REF_ROWS];
    bool in32_ok[REF_ROWS];
    float f[REF_ROWS];
    double d[REF_ROWS];
    const char *s[REF_ROWS];
    const char *sn[REF_ROWS];
    bool sn_ok[REF_ROWS];
    /* j: nullable JSON object {"a": A, "n": N, "o": {"b": B}} */
    bool j_ok[REF_ROWS];
    bool j_is_array[REF_ROWS]; /* the document is [1, 2] instead */
    jv ja[REF_ROWS];           /* j["a"] */
    jv jn[REF_ROWS];           /* j["n"] */
    jv job[REF_ROWS];          /* j["o"]["b"] */
    char *jdoc[REF_ROWS];
    /* arrays */
    int ai_n[REF_ROWS];
    int64_t ai[REF_ROWS][4];
    int as_n[REF_ROWS];
    const char *as[REF_ROWS][3];
    bool a16_ok[REF_ROWS]; /* nullable Array<Int16> */
    int a16_n[REF_ROWS];
    int16_t a16[REF_ROWS][4];
    int af_n[REF_ROWS]; /* Array<Float> */
    float af[REF_ROWS][3];
    /* $meta: {"k": K, "tag": T} */
    jv mk[REF_ROWS], mtag[REF_ROWS];
    char *mdoc[REF_ROWS];
} ref_data;

/* Fills the data set deterministically (fixed seed). */
void ref_fill(ref_data *d);
void ref_free(ref_data *d);

/* Builds memory columns for every field into views[] (in the order of
 * test_fields without the vector field) and keeps the columns in cols[]
 * for qv_column_free. */
#define REF_NCOLS 17
void ref_columns(const ref_data *d, qv_column **cols, qv_col_view *views,
                 int64_t *ids);

/* Atom kinds. */
enum {
    K_INT_CMP = 1,
    K_FLT_CMP,
    K_INT_RANGE,
    K_FLT_RANGE,
    K_INT_IN,
    K_FLT_IN,
    K_STR_CMP,
    K_STR_RANGE,
    K_STR_IN,
    K_LIKE,
    K_BOOL,
    K_NULL,
    K_JCMP,
    K_JIN,
    K_EXISTS,
    K_JCONTAINS,
    K_JALEN,
    K_JARITH,
    K_ARR_CONTAINS,
    K_ARR_LEN,
    K_ARR_ELEM,
    K_ARITH,
    K_COLS,
    K_ARR_EQ,
    K_FLT_ARITH,
};
/* JSON paths of K_JCMP and friends. */
enum { P_JA = 0, P_JN, P_JOB, P_JA0, P_MK, P_MTAG, P_K, P_TAG, P_NPATHS };
/* Field code of K_NULL for j["a"]. */
#define F_JA_PATH 1000

/* Atoms: a predicate text plus its reference. */
typedef struct atom {
    int kind;
    int field; /* field id */
    int op;    /* 0 == 1 != 2 < 3 <= 4 > 5 >= */
    int op2;
    int64_t iv, iv2;
    double fv, fv2;
    const char *sv, *sv2;
    int nlist;
    int64_t ilist[128];
    double flist[128];
    const char *slist[128];
    jv jlist[8];
    char text[2048];
} atom;

/* The reference: 1, 0 or -1 (unknown). */
int ref_atom(const ref_data *d, const atom *a, size_t row);

/* Generates every atom of the test table into out (returns the count). */
size_t ref_atoms(atom *out, size_t cap);

/* Writes s as a double-quoted filter string literal with escapes. */
void ref_quote(char *out, size_t cap, const char *s);

extern const char *const ref_vocab[];
extern const size_t ref_nvocab;

#endif
