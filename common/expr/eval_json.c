/* eval_json.c -- leaves over JSON columns (JSON fields and `$meta`).
 *
 * Milvus's rules for a value found at a path:
 *   - an integer constant matches JSON integers exactly and other JSON
 *     numbers by double value; a float constant matches any JSON number by
 *     double value;
 *   - strings compare bytewise after unescaping; booleans only == / !=;
 *   - an array constant equals a JSON array of the same length whose
 *     elements are equal by these rules;
 *   - a missing path, a JSON null or a value of another type satisfies
 *     only `!=`;
 *   - `exists` holds when the path is present and its value is not
 *     "empty" (null, or an object/array of only empty members);
 *   - `is null` tests the row only, also for a path (done in eval.c).
 */
#include <stdlib.h>
#include <string.h>

#include "common/expr/eval_int.h"
#include "common/alloc.h"
#include "common/banned.h"

bool qv_expr__json_at(const enode *e, const qv_col_view *c,
                      const qv_expr_colref *ref, size_t r, qv_json_val *out)
{
    (void)e;
    size_t len;
    const char *doc = (const char *)qv_col_var(c, r, &len);
    if (len == 0)
        return false;
    qv_json_val v = qv_json_root(doc, len);
    if (v.type == QV_JSON_INVALID)
        return false;
    for (uint32_t i = 0; i < ref->npath; i++) {
        qv_json_val next;
        if (!qv_json_step(&v, ref->path[i].ptr, ref->path[i].len, &next))
            return false;
        v = next;
    }
    *out = v;
    return true;
}

/* Three-way comparison of a JSON value with a scalar constant; false when
 * the kinds do not match. */
static bool jcmp(const qv_json_val *j, const qv_expr_value *v, int *c)
{
    switch (v->kind) {
    case QV_EXPR_INT: {
        int64_t i;
        double d;
        if (qv_json_as_int64(j, &i)) {
            *c = (i > v->u.i) - (i < v->u.i);
            return true;
        }
        if (!qv_json_as_double(j, &d))
            return false;
        double y = (double)v->u.i;
        *c = (d > y) - (d < y);
        return true;
    }
    case QV_EXPR_FLOAT: {
        double d;
        if (!qv_json_as_double(j, &d))
            return false;
        if (v->u.f != v->u.f)
            return false;
        *c = (d > v->u.f) - (d < v->u.f);
        return true;
    }
    case QV_EXPR_STR: {
        bool ok;
        int r = qv_json_string_cmp(j, v->u.s.ptr, v->u.s.len, &ok);
        *c = r < 0 ? -1 : r > 0;
        return ok;
    }
    case QV_EXPR_BOOL:
        if (j->type != QV_JSON_TRUE && j->type != QV_JSON_FALSE)
            return false;
        *c = (int)(j->type == QV_JSON_TRUE) - (int)v->u.b;
        return true;
    default:
        return false;
    }
}

static bool jeq(const qv_json_val *j, const qv_expr_value *v, int depth)
{
    if (v->kind == QV_EXPR_ARRAY) {
        if (j->type != QV_JSON_ARRAY || depth > QV_EXPR_MAX_ARRAY_NEST + 1)
            return false;
        qv_json_iter it;
        qv_json_val el;
        size_t k = 0;
        qv_json_iter_init(&it, j);
        while (qv_json_iter_next(&it, &el)) {
            if (k >= v->u.a.n || !jeq(&el, &v->u.a.items[k], depth + 1))
                return false;
            k++;
        }
        return k == v->u.a.n;
    }
    int c;
    return jcmp(j, v, &c) && c == 0;
}

static bool jin_list(const qv_json_val *j, const qv_expr_value *list)
{
    for (size_t i = 0; i < list->u.a.n; i++)
        if (jeq(j, &list->u.a.items[i], 0))
            return true;
    return false;
}

static bool op_holds(int op, int c)
{
    switch (op) {
    case QV_CMP_EQ:
        return c == 0;
    case QV_CMP_NE:
        return c != 0;
    case QV_CMP_LT:
        return c < 0;
    case QV_CMP_LE:
        return c <= 0;
    case QV_CMP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static bool like_json(const qv_expr_node *nd, const qv_json_val *j)
{
    if (j->type != QV_JSON_STRING)
        return false;
    char small[256];
    size_t len = qv_json_string_decode(j, small, sizeof(small));
    if (len == SIZE_MAX)
        return false;
    char *s = small;
    if (len > sizeof(small)) {
        s = qv_xmalloc(len);
        (void)qv_json_string_decode(j, s, len);
    }
    const char *v = nd->v.u.s.ptr;
    size_t vl = nd->v.u.s.len;
    bool r;
    switch (nd->flags) {
    case QV_LIKE_EQ:
        r = len == vl && (vl == 0 || memcmp(s, v, vl) == 0);
        break;
    case QV_LIKE_PREFIX:
        r = len >= vl && (vl == 0 || memcmp(s, v, vl) == 0);
        break;
    case QV_LIKE_SUFFIX:
        r = len >= vl && (vl == 0 || memcmp(s + len - vl, v, vl) == 0);
        break;
    case QV_LIKE_INFIX:
        r = vl == 0 || (len >= vl && memmem(s, len, v, vl) != NULL);
        break;
    default:
        r = qv_expr__like_match(v, vl, s, len);
    }
    if (s != small)
        free(s);
    return r;
}

static bool contains_json(const qv_expr_node *nd, const qv_json_val *j)
{
    if (j->type != QV_JSON_ARRAY)
        return false;
    qv_json_iter it;
    qv_json_val el;
    if (nd->flags == QV_CONTAINS_ALL) {
        for (size_t k = 0; k < nd->v.u.a.n; k++) {
            bool found = false;
            qv_json_iter_init(&it, j);
            while (!found && qv_json_iter_next(&it, &el))
                found = jeq(&el, &nd->v.u.a.items[k], 0);
            if (!found)
                return false;
        }
        return true;
    }
    qv_json_iter_init(&it, j);
    while (qv_json_iter_next(&it, &el)) {
        if (nd->flags == QV_CONTAINS_ONE ? jeq(&el, &nd->v, 0)
                                         : jin_list(&el, &nd->v))
            return true;
    }
    return false;
}

static bool arith_json(const qv_expr_node *nd, const qv_json_val *j)
{
    if (nd->aop == QV_AR_ARRAY_LEN) {
        if (j->type != QV_JSON_ARRAY)
            return false;
        int64_t len = (int64_t)qv_json_array_len(j);
        return op_holds(nd->op, (len > nd->v.u.i) - (len < nd->v.u.i));
    }
    int64_t i;
    bool all_int = nd->v.kind == QV_EXPR_INT && nd->v2.kind == QV_EXPR_INT &&
                   qv_json_as_int64(j, &i);
    if (all_int) {
        int64_t b = nd->v2.u.i, r;
        uint64_t ua = (uint64_t)i, ub = (uint64_t)b;
        switch (nd->aop) {
        case QV_AR_ADD:
            r = (int64_t)(ua + ub);
            break;
        case QV_AR_SUB:
            r = (int64_t)(ua - ub);
            break;
        case QV_AR_MUL:
            r = (int64_t)(ua * ub);
            break;
        case QV_AR_DIV:
            r = (i == INT64_MIN && b == -1) ? INT64_MIN : i / b;
            break;
        default:
            r = (i == INT64_MIN && b == -1) ? 0 : i % b;
        }
        return op_holds(nd->op, (r > nd->v.u.i) - (r < nd->v.u.i));
    }
    double d;
    if (nd->aop == QV_AR_MOD || !qv_json_as_double(j, &d))
        return false;
    double b = nd->v2.kind == QV_EXPR_INT ? (double)nd->v2.u.i : nd->v2.u.f;
    double y = nd->v.kind == QV_EXPR_INT ? (double)nd->v.u.i : nd->v.u.f;
    double r = nd->aop == QV_AR_ADD   ? d + b
               : nd->aop == QV_AR_SUB ? d - b
               : nd->aop == QV_AR_MUL ? d * b
                                      : d / b;
    if (r != r)
        return nd->op == QV_CMP_NE;
    return op_holds(nd->op, (r > y) - (r < y));
}

/* Milvus's "empty" value for `exists`: null, or an object or array whose
 * members are all empty ({}, [], [null], {"a": {}} ...). */
static bool json_empty(const qv_json_val *v, int depth)
{
    if (v->type == QV_JSON_NULL)
        return true;
    if (v->type != QV_JSON_ARRAY && v->type != QV_JSON_OBJECT)
        return false;
    if (depth > QV_JSON_MAX_DEPTH)
        return false;
    qv_json_val m;
    if (v->type == QV_JSON_ARRAY) {
        qv_json_iter it;
        qv_json_iter_init(&it, v);
        while (qv_json_iter_next(&it, &m))
            if (!json_empty(&m, depth + 1))
                return false;
        return true;
    }
    qv_json_iter it;
    qv_json_val key;
    qv_json_obj_iter_init(&it, v);
    while (qv_json_obj_next(&it, &key, &m))
        if (!json_empty(&m, depth + 1))
            return false;
    return true;
}

/* The predicate on a found value (found = false: missing path). */
static bool json_row(const qv_expr_node *nd, bool found, const qv_json_val *j)
{
    int c, c2;
    switch (nd->kind) {
    case QV_XN_CMP:
        if (!found)
            return nd->op == QV_CMP_NE;
        if (nd->v.kind == QV_EXPR_ARRAY) {
            bool eq = jeq(j, &nd->v, 0);
            return nd->op == QV_CMP_EQ ? eq : !eq;
        }
        if (!jcmp(j, &nd->v, &c))
            return nd->op == QV_CMP_NE;
        return op_holds(nd->op, c);
    case QV_XN_RANGE:
        if (!found || !jcmp(j, &nd->v, &c) || !jcmp(j, &nd->v2, &c2))
            return false;
        return (nd->flags & QV_RANGE_LO_INCL ? c >= 0 : c > 0) &&
               (nd->flags & QV_RANGE_HI_INCL ? c2 <= 0 : c2 < 0);
    case QV_XN_IN:
        return found && jin_list(j, &nd->v);
    case QV_XN_LIKE:
        return found && like_json(nd, j);
    case QV_XN_EXISTS:
        return found && !json_empty(j, 0);
    case QV_XN_CONTAINS:
        return found && contains_json(nd, j);
    case QV_XN_ARITH:
        return found && arith_json(nd, j);
    default:
        return false;
    }
}

void qv_expr__json_leaf(enode *e, size_t row0, size_t n, uint64_t *t)
{
    const qv_expr_node *nd = e->n;
    const qv_col_view *c = e->c;
    for (size_t j = 0; j < n; j++) {
        qv_json_val v;
        bool found = qv_expr__json_at(e, c, &nd->col, row0 + j, &v);
        ev_setbit(t, j, json_row(nd, found, &v));
    }
}
