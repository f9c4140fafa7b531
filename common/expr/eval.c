/* eval.c -- evaluation of a plan over a segment's columns: binding,
 * scalar-index use, batching and three-valued logic.  See eval_int.h. */
#include <stdlib.h>
#include <string.h>

#include "common/expr/eval_int.h"
#include "common/alloc.h"
#include "common/banned.h"

/* ---- binding ----------------------------------------------------------- */

static const qv_expr_binding *find_binding(const qv_expr_binding *cols,
                                           size_t ncols, int64_t id)
{
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].field_id == id)
            return &cols[i];
    return NULL;
}

static qv_code bind_col(ectx *x, const qv_expr_binding *cols, size_t ncols,
                        const qv_expr_colref *ref, const qv_col_view **out,
                        const qv_sindex **ix)
{
    const qv_expr_binding *b = find_binding(cols, ncols, ref->field_id);
    if (!b)
        return qv_fail(x->err, QV_E_NOT_FOUND,
                       "filter reads field %lld but the segment has no "
                       "column for it",
                       (long long)ref->field_id);
    if (b->col.type != ref->type ||
        (ref->type == QV_DT_ARRAY && b->col.elem_type != ref->elem_type))
        return qv_fail(x->err, QV_E_INVALID,
                       "filter expects field %lld to be %s but the column "
                       "is %s",
                       (long long)ref->field_id, qv_dtype_name(ref->type),
                       qv_dtype_name(b->col.type));
    if (b->col.rows < x->rows)
        return qv_fail(x->err, QV_E_INVALID,
                       "column of field %lld has %zu rows, fewer than %zu",
                       (long long)ref->field_id, b->col.rows, x->rows);
    if (qv_dtype_is_varwidth(b->col.type) ? !b->col.offsets
                                          : (!b->col.data && b->col.rows))
        return qv_fail(x->err, QV_E_INVALID, "column of field %lld has no data",
                       (long long)ref->field_id);
    *out = &b->col;
    if (ix)
        *ix = b->index;
    return QV_OK;
}

/* ---- scalar indexes ---------------------------------------------------- */

static qv_value to_qv(const enode *e, const qv_expr_value *v)
{
    switch (v->kind) {
    case QV_EXPR_BOOL:
        return qv_value_bool(v->u.b);
    case QV_EXPR_INT:
        return qv_value_int(v->u.i);
    case QV_EXPR_FLOAT: {
        qv_dtype t = e->n->col.type == QV_DT_ARRAY ? e->n->col.elem_type
                                                   : e->n->col.type;
        return qv_value_float(t == QV_DT_FLOAT ? (double)(float)v->u.f
                                               : v->u.f);
    }
    case QV_EXPR_STR:
        return qv_value_str(v->u.s.ptr, v->u.s.len);
    default: {
        qv_value n = {.kind = QV_VAL_NULL};
        return n;
    }
    }
}

static qv_code ix_terms(ectx *x, enode *e, const qv_expr_value *vals, size_t n,
                        qv_bitset *out)
{
    qv_value small[16] = {0};
    qv_value *qv = n <= 16 ? small : qv_xcalloc(n, sizeof(*qv));
    for (size_t i = 0; i < n; i++)
        qv[i] = to_qv(e, &vals[i]);
    qv_code rc = qv_sindex_terms(e->ix, qv, n, out, x->err);
    if (qv != small)
        free(qv);
    return rc;
}

/* Which index operation answers the leaf, or -1. */
static int index_op(const qv_expr_node *n)
{
    bool whole_arr = n->col.type == QV_DT_ARRAY && n->col.npath == 0;
    if (n->col.type == QV_DT_JSON || (n->col.type == QV_DT_ARRAY && !whole_arr))
        return -1;
    switch (n->kind) {
    case QV_XN_CMP:
        if (whole_arr)
            return -1;
        return n->op <= QV_CMP_NE ? QV_SOP_TERMS : QV_SOP_RANGE;
    case QV_XN_RANGE:
        return QV_SOP_RANGE;
    case QV_XN_IN:
        return QV_SOP_TERMS;
    case QV_XN_LIKE:
        return n->flags == QV_LIKE_EQ       ? QV_SOP_TERMS
               : n->flags == QV_LIKE_PREFIX ? QV_SOP_PREFIX
                                            : -1;
    case QV_XN_CONTAINS:
        return whole_arr ? QV_SOP_TERMS : -1;
    default:
        return -1;
    }
}

static qv_code index_contains_all(ectx *x, enode *e)
{
    const qv_expr_value *vals = e->n->v.u.a.items;
    size_t n = e->n->v.u.a.n;
    qv_bitset tmp;
    if (n == 0) { /* every non-null row contains all of nothing */
        qv_bitset_set_all(&e->idx);
        if (e->c->valid)
            for (size_t w = 0; w < QV_BITSET_WORDS(e->idx.nbits); w++)
                e->idx.words[w] &= e->c->valid[w];
        return QV_OK;
    }
    qv_code rc = ix_terms(x, e, &vals[0], 1, &e->idx);
    if (rc != QV_OK || n == 1)
        return rc;
    if (qv_bitset_init(&tmp, e->idx.nbits) != QV_OK)
        return qv_fail(x->err, QV_E_NOMEM, "filter: out of memory");
    for (size_t i = 1; i < n && rc == QV_OK; i++) {
        rc = ix_terms(x, e, &vals[i], 1, &tmp);
        if (rc == QV_OK)
            qv_bitset_and(&e->idx, &tmp);
    }
    qv_bitset_release(&tmp);
    return rc;
}

static qv_code index_query(ectx *x, enode *e)
{
    const qv_expr_node *n = e->n;
    qv_sindex_bound lo, hi;
    switch (n->kind) {
    case QV_XN_CMP:
        if (n->op <= QV_CMP_NE)
            return ix_terms(x, e, &n->v, 1, &e->idx);
        lo.v = hi.v = to_qv(e, &n->v);
        lo.inclusive = hi.inclusive = n->op == QV_CMP_LE || n->op == QV_CMP_GE;
        if (n->op == QV_CMP_LT || n->op == QV_CMP_LE)
            return qv_sindex_range(e->ix, NULL, &hi, &e->idx, x->err);
        return qv_sindex_range(e->ix, &lo, NULL, &e->idx, x->err);
    case QV_XN_RANGE:
        lo.v = to_qv(e, &n->v);
        hi.v = to_qv(e, &n->v2);
        lo.inclusive = n->flags & QV_RANGE_LO_INCL;
        hi.inclusive = n->flags & QV_RANGE_HI_INCL;
        return qv_sindex_range(e->ix, &lo, &hi, &e->idx, x->err);
    case QV_XN_IN:
        return ix_terms(x, e, n->v.u.a.items, n->v.u.a.n, &e->idx);
    case QV_XN_LIKE:
        if (n->flags == QV_LIKE_EQ)
            return ix_terms(x, e, &n->v, 1, &e->idx);
        return qv_sindex_prefix(e->ix, n->v.u.s.ptr, n->v.u.s.len, &e->idx,
                                x->err);
    default: /* CONTAINS */
        if (n->flags == QV_CONTAINS_ONE)
            return ix_terms(x, e, &n->v, 1, &e->idx);
        if (n->flags == QV_CONTAINS_ANY)
            return ix_terms(x, e, n->v.u.a.items, n->v.u.a.n, &e->idx);
        return index_contains_all(x, e);
    }
}

static qv_code try_index(ectx *x, enode *e)
{
    int op = index_op(e->n);
    qv_dtype vt =
        e->n->col.type == QV_DT_ARRAY ? e->n->col.elem_type : e->n->col.type;
    if (op < 0 || !e->ix || qv_sindex_rows(e->ix) < x->rows ||
        qv_sindex_column_type(e->ix) != vt ||
        !qv_sindex_supports(e->ix, (qv_sindex_op)op))
        return QV_OK;
    if (qv_bitset_init(&e->idx, qv_sindex_rows(e->ix)) != QV_OK)
        return qv_fail(x->err, QV_E_NOMEM, "filter: out of memory");
    qv_code rc = index_query(x, e);
    if (rc != QV_OK) {
        qv_bitset_release(&e->idx);
        return rc;
    }
    e->use_index = true;
    return QV_OK;
}

/* ---- preparation ------------------------------------------------------- */

static void release_tree(enode *e)
{
    if (!e)
        return;
    if (e->use_index)
        qv_bitset_release(&e->idx);
    for (uint32_t i = 0; i < e->nkids; i++)
        release_tree(e->kids[i]);
}

static qv_code prepare(ectx *x, const qv_expr_node *n,
                       const qv_expr_binding *cols, size_t ncols, enode **out)
{
    enode *e = qv_arena_calloc(&x->arena, 1, sizeof(*e));
    e->n = n;
    *out = e;
    qv_code rc = QV_OK;
    switch (n->kind) {
    case QV_XN_TRUE:
    case QV_XN_FALSE:
        return QV_OK;
    case QV_XN_SAMPLE: {
        /* keep a row when a hash of its offset falls under ratio * 2^64 */
        double lim = n->v.u.f * 18446744073709551616.0;
        e->iv = 0;
        e->fv = lim;
        return QV_OK;
    }
    case QV_XN_AND:
    case QV_XN_OR:
    case QV_XN_NOT:
        e->kids = qv_arena_calloc(&x->arena, n->nkids, sizeof(enode *));
        for (uint32_t i = 0; i < n->nkids && rc == QV_OK; i++) {
            rc = prepare(x, n->kids[i], cols, ncols, &e->kids[i]);
            e->nkids = i + 1;
            if (rc == QV_OK)
                e->maybe_null |= e->kids[i]->maybe_null;
        }
        return rc;
    default:
        break;
    }
    rc = bind_col(x, cols, ncols, &n->col, &e->c, &e->ix);
    if (rc == QV_OK && n->kind == QV_XN_CMP_COLS)
        rc = bind_col(x, cols, ncols, &n->col2, &e->c2, NULL);
    if (rc != QV_OK)
        return rc;
    e->maybe_null = n->kind != QV_XN_IS_NULL && n->kind != QV_XN_IS_NOT_NULL &&
                    (e->c->valid || (e->c2 && e->c2->valid));
    if (n->col.type != QV_DT_JSON)
        qv_expr__scan_prepare(x, e);
    /* `is null` looks at the row only, also for a JSON path (Milvus) */
    return try_index(x, e);
}

/* ---- batch evaluation -------------------------------------------------- */

static inline uint64_t tail_mask(size_t n, size_t w)
{
    size_t left = n - w * 64;
    return left >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << left) - 1);
}

static void eval_node(enode *e, size_t row0, size_t n);

static void eval_leaf(enode *e, size_t row0, size_t n)
{
    size_t nw = (n + 63) / 64;
    const qv_expr_node *nd = e->n;
    if (e->use_index) {
        memcpy(e->t, e->idx.words + row0 / 64, nw * sizeof(uint64_t));
        if (nd->kind == QV_XN_CMP && nd->op == QV_CMP_NE)
            for (size_t w = 0; w < nw; w++)
                e->t[w] = ~e->t[w] & tail_mask(n, w);
        e->t[nw - 1] &= tail_mask(n, nw - 1);
    } else {
        memset(e->t, 0, nw * sizeof(uint64_t));
        if (nd->col.type == QV_DT_JSON && nd->kind != QV_XN_IS_NULL &&
            nd->kind != QV_XN_IS_NOT_NULL)
            qv_expr__json_leaf(e, row0, n, e->t);
        else
            qv_expr__scan_leaf(e, row0, n, e->t);
    }
    if (!e->maybe_null)
        return;
    const uint64_t *v1 = e->c->valid, *v2 = e->c2 ? e->c2->valid : NULL;
    for (size_t w = 0; w < nw; w++) {
        uint64_t m = tail_mask(n, w);
        if (v1)
            m &= v1[row0 / 64 + w];
        if (v2)
            m &= v2[row0 / 64 + w];
        e->v[w] = m;
        e->t[w] &= m;
    }
}

static inline uint64_t vword(const enode *e, size_t n, size_t w)
{
    return e->maybe_null ? e->v[w] : tail_mask(n, w);
}

static void eval_logic(enode *e, size_t row0, size_t n)
{
    size_t nw = (n + 63) / 64;
    const qv_expr_node *nd = e->n;
    enode *k0 = e->kids[0];
    eval_node(k0, row0, n);
    if (nd->kind == QV_XN_NOT) {
        for (size_t w = 0; w < nw; w++) {
            uint64_t v = vword(k0, n, w);
            e->t[w] = v & ~k0->t[w];
            e->v[w] = v;
        }
        return;
    }
    bool is_and = nd->kind == QV_XN_AND;
    for (size_t w = 0; w < nw; w++) {
        e->t[w] = k0->t[w];
        e->v[w] = vword(k0, n, w);
    }
    for (uint32_t i = 1; i < e->nkids; i++) {
        /* stop once every row is decided (all FALSE for and, all TRUE
         * for or) */
        bool decided = true;
        for (size_t w = 0; w < nw && decided; w++) {
            uint64_t m = tail_mask(n, w);
            decided = is_and ? (e->t[w] == 0 && e->v[w] == m) : e->t[w] == m;
        }
        if (decided)
            break;
        enode *k = e->kids[i];
        eval_node(k, row0, n);
        for (size_t w = 0; w < nw; w++) {
            uint64_t t1 = e->t[w], v1 = e->v[w];
            uint64_t t2 = k->t[w], v2 = vword(k, n, w);
            if (is_and) {
                uint64_t f = (v1 & ~t1) | (v2 & ~t2);
                e->t[w] = t1 & t2;
                e->v[w] = e->t[w] | f;
            } else {
                uint64_t f = (v1 & ~t1) & (v2 & ~t2);
                e->t[w] = t1 | t2;
                e->v[w] = e->t[w] | f;
            }
        }
    }
}

/* random_sample: a deterministic Bernoulli choice per row offset, so a
 * filter gives the same sample every time it runs on a segment. */
static void eval_sample(enode *e, size_t row0, size_t n)
{
    uint64_t lim =
        e->fv >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)e->fv;
    memset(e->t, 0, ((n + 63) / 64) * sizeof(uint64_t));
    for (size_t j = 0; j < n; j++) {
        uint64_t z = (uint64_t)(row0 + j) + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        e->t[j >> 6] |= (uint64_t)(z < lim) << (j & 63);
    }
}

static void eval_node(enode *e, size_t row0, size_t n)
{
    size_t nw = (n + 63) / 64;
    switch (e->n->kind) {
    case QV_XN_TRUE:
        for (size_t w = 0; w < nw; w++)
            e->t[w] = tail_mask(n, w);
        return;
    case QV_XN_FALSE:
        memset(e->t, 0, nw * sizeof(uint64_t));
        return;
    case QV_XN_SAMPLE:
        eval_sample(e, row0, n);
        return;
    case QV_XN_AND:
    case QV_XN_OR:
    case QV_XN_NOT:
        eval_logic(e, row0, n);
        return;
    default:
        eval_leaf(e, row0, n);
    }
}

qv_code qv_expr_eval(const qv_expr_plan *plan, const qv_expr_binding *cols,
                     size_t ncols, size_t rows, qv_bitset *match, qv_err *err)
{
    if (!plan || !match || match->nbits != rows)
        return qv_fail(err, QV_E_INVALID,
                       "filter: result bitset must have one bit per row");
    if (rows == 0)
        return QV_OK;
    ectx x = {.rows = rows, .err = err};
    qv_arena_init(&x.arena, 16384);
    enode *root = NULL;
    qv_code rc = prepare(&x, plan->root, cols, ncols, &root);
    if (rc == QV_OK) {
        for (size_t row0 = 0; row0 < rows; row0 += QV_EXPR_BATCH) {
            size_t n =
                rows - row0 < QV_EXPR_BATCH ? rows - row0 : QV_EXPR_BATCH;
            eval_node(root, row0, n);
            memcpy(match->words + row0 / 64, root->t,
                   ((n + 63) / 64) * sizeof(uint64_t));
        }
    }
    release_tree(root);
    qv_arena_release(&x.arena);
    return rc;
}

qv_code qv_expr_filter(const qv_expr_plan *plan, const qv_expr_binding *cols,
                       size_t ncols, size_t rows, qv_bitset *exclude,
                       qv_err *err)
{
    qv_code rc = qv_expr_eval(plan, cols, ncols, rows, exclude, err);
    if (rc == QV_OK)
        qv_bitset_flip(exclude);
    return rc;
}
