/* eval_int.h -- evaluator internals shared by eval.c (tree, logic,
 * indexes), eval_scan.c (typed column loops) and eval_json.c (JSON).
 *
 * Truth is three-valued (Kleene): per batch every node fills `t` (rows
 * known TRUE) and, when it may see NULL rows, `v` (rows whose value is
 * known; t is a subset of v).  Rows outside v are unknown.  NOT swaps
 * TRUE and FALSE inside v; AND and OR follow SQL.  The final result is t.
 *
 * Leaves compute a raw truth over the batch ignoring NULLs, then the core
 * masks it with the column's validity bitmap.
 */
#ifndef QV_EXPR_EVAL_INT_H
#define QV_EXPR_EVAL_INT_H

#include "common/expr/expr_int.h"
#include "common/json/json.h"

#define EV_WORDS (QV_EXPR_BATCH / 64)

/* Open-addressing sets for `in` lists. */
typedef struct ev_iset {
    int64_t *slots;
    uint8_t *used;
    size_t mask;
} ev_iset;

typedef struct ev_sset {
    const qv_expr_value **slots;
    uint64_t *hashes;
    size_t mask;
    size_t minlen, maxlen; /* of the members: a cheap first test */
} ev_sset;

typedef struct enode {
    const qv_expr_node *n;
    const qv_col_view *c, *c2; /* bound columns (leaves) */
    const qv_sindex *ix;
    struct enode **kids;
    uint32_t nkids;
    bool maybe_null;
    uint64_t t[EV_WORDS], v[EV_WORDS];
    /* index result over the whole column (use_index) */
    bool use_index;
    qv_bitset idx;
    /* prepared constants */
    int64_t iv, iv2;  /* int column values */
    double fv, fv2;   /* Float/Double values (Float: already rounded) */
    size_t arr_index; /* Array element index (col path) */
    int64_t *ilist;   /* sorted ints of an `in` list */
    double *flist;    /* sorted floats of an `in` list */
    size_t nlist;
    ev_iset iset;
    ev_sset sset;
} enode;

typedef struct ectx {
    qv_arena arena; /* enodes and prepared data */
    size_t rows;
    qv_err *err;
} ectx;

/* eval_scan.c: raw truth of a non-JSON leaf over rows [row0, row0+n). */
void qv_expr__scan_leaf(enode *e, size_t row0, size_t n, uint64_t *t);
/* Builds the prepared constants of a non-JSON leaf. */
void qv_expr__scan_prepare(ectx *x, enode *e);
bool qv_expr__sset_has(const ev_sset *s, const char *p, size_t len);
void qv_expr__sset_build(qv_arena *a, ev_sset *s, const qv_expr_value *list);

/* eval_json.c: raw truth of a JSON leaf. */
void qv_expr__json_leaf(enode *e, size_t row0, size_t n, uint64_t *t);
/* The value at the node's path in row r's document; false if missing. */
bool qv_expr__json_at(const enode *e, const qv_col_view *c,
                      const qv_expr_colref *ref, size_t r, qv_json_val *out);

static inline void ev_setbit(uint64_t *t, size_t j, bool b)
{
    t[j >> 6] |= (uint64_t)b << (j & 63);
}

#endif
