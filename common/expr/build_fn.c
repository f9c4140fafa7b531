/* build_fn.c -- semantic builders for `in`, `like`, `is null`, `exists` and
 * the functions json_contains*, array_contains*, array_length. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr/parse_int.h"
#include "common/banned.h"

static int cmp_values(const void *a, const void *b)
{
    const qv_expr_value *x = a, *y = b;
    int c = 0;
    (void)qv_expr__value_cmp(x, y, &c);
    return c;
}

/* Sorts and deduplicates a list of same-kind scalars (ints, floats without
 * NaN, strings, bools). */
static void sort_unique(qv_expr_value *v)
{
    qv_expr_value *items = (qv_expr_value *)v->u.a.items;
    size_t n = v->u.a.n, k = 0;
    for (size_t i = 0; i < n; i++) /* NaN never equals anything */
        if (!(items[i].kind == QV_EXPR_FLOAT && isnan(items[i].u.f)))
            items[k++] = items[i];
    n = k;
    if (n > 1)
        qsort(items, n, sizeof(*items), cmp_values);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || cmp_values(&items[k - 1], &items[i]) != 0)
            items[k++] = items[i];
    v->u.a.n = k;
}

static bool whole_array(const term *t)
{
    return t->kind == TM_COL && t->col.type == QV_DT_ARRAY && t->col.npath == 0;
}

bool qv_expr__b_in(pstate *ps, bool negate, term *l, term *r, size_t pos,
                   term *out)
{
    char b1[64];
    if (r->kind != TM_VAL || r->val.kind != QV_EXPR_ARRAY)
        return qv_expr__perr(ps, r->pos,
                             "'in' needs a list of constants "
                             "like [1, 2, 3] on its right, got "
                             "%s",
                             qv_expr__describe(r, b1, sizeof(b1)));
    if (l->kind == TM_VAL) { /* constant in [constants] folds */
        bool hit = false;
        for (size_t i = 0; i < r->val.u.a.n; i++) {
            int c;
            if (qv_expr__value_cmp(&l->val, &r->val.u.a.items[i], &c) && c == 0)
                hit = true;
        }
        memset(out, 0, sizeof(*out));
        out->kind = TM_VAL;
        out->pos = pos;
        out->val.kind = QV_EXPR_BOOL;
        out->val.u.b = hit != negate;
        return true;
    }
    if (l->kind != TM_COL || whole_array(l))
        return qv_expr__perr(ps, l->pos,
                             "'in' needs a field on its left, "
                             "got %s%s",
                             qv_expr__describe(l, b1, sizeof(b1)),
                             whole_array(l) ? " (use array_contains_any)" : "");
    qv_expr_value list;
    if (!qv_expr__cast_array(ps, l->dt, r, "'in' list", &list))
        return false;
    if (l->dt != QV_DT_JSON)
        sort_unique(&list);
    qv_expr_node *n = qv_expr__node(ps->plan, QV_XN_IN);
    n->col = l->col;
    n->v = list;
    if (negate) {
        qv_expr_node *nn = qv_expr__node(ps->plan, QV_XN_NOT);
        nn->kids = qv_arena_alloc(&ps->plan->arena, sizeof(qv_expr_node *));
        nn->kids[0] = n;
        nn->nkids = 1;
        n = nn;
    }
    qv_expr__set_pred(out, n, pos);
    return true;
}

bool qv_expr__b_like(pstate *ps, term *l, term *r, size_t pos, term *out)
{
    char b1[64];
    if (l->kind != TM_COL || (l->dt != QV_DT_VARCHAR && l->dt != QV_DT_JSON))
        return qv_expr__perr(ps, l->pos,
                             "'like' needs a VarChar or JSON "
                             "field on its left, got %s",
                             qv_expr__describe(l, b1, sizeof(b1)));
    if (r->kind != TM_VAL || r->val.kind != QV_EXPR_STR)
        return qv_expr__perr(ps, r->pos,
                             "'like' needs a string pattern on "
                             "its right, got %s",
                             qv_expr__describe(r, b1, sizeof(b1)));
    qv_expr_str lit;
    int kind = qv_expr__like_classify(&ps->plan->arena, r->val.u.s.ptr,
                                      r->val.u.s.len, &lit);
    if (kind < 0)
        return qv_expr__perr(ps, r->pos,
                             "'like' pattern ends with an "
                             "unfinished escape '\\'");
    qv_expr_node *n = qv_expr__node(ps->plan, QV_XN_LIKE);
    n->col = l->col;
    n->flags = (uint8_t)kind;
    n->v.kind = QV_EXPR_STR;
    if (kind == QV_LIKE_GENERAL) {
        n->v.u.s.ptr = r->val.u.s.ptr;
        n->v.u.s.len = r->val.u.s.len;
    } else {
        n->v.u.s.ptr = lit.ptr;
        n->v.u.s.len = lit.len;
    }
    qv_expr__set_pred(out, n, pos);
    return true;
}

bool qv_expr__b_null(pstate *ps, term *x, bool is_null, size_t pos, term *out)
{
    char b1[64];
    if (x->kind != TM_COL || (x->col.type == QV_DT_ARRAY && x->col.npath != 0))
        return qv_expr__perr(ps, pos,
                             "'is null' applies to a field or a "
                             "JSON path, not %s",
                             qv_expr__describe(x, b1, sizeof(b1)));
    qv_expr_node *n;
    if (!x->col.nullable) { /* Milvus tests the row, even for a path */
        n = qv_expr__node(ps->plan, is_null ? QV_XN_FALSE : QV_XN_TRUE);
    } else {
        n = qv_expr__node(ps->plan,
                          is_null ? QV_XN_IS_NULL : QV_XN_IS_NOT_NULL);
        n->col = x->col;
    }
    qv_expr__set_pred(out, n, x->pos);
    return true;
}

bool qv_expr__b_exists(pstate *ps, term *x, size_t pos, term *out)
{
    char b1[64];
    if (x->kind != TM_COL || x->dt != QV_DT_JSON)
        return qv_expr__perr(ps, pos,
                             "'exists' needs a JSON field or path, "
                             "got %s",
                             qv_expr__describe(x, b1, sizeof(b1)));
    qv_expr_node *n = qv_expr__node(ps->plan, QV_XN_EXISTS);
    n->col = x->col;
    qv_expr__set_pred(out, n, pos);
    return true;
}

static const char *fn_name(int fn)
{
    switch (fn) {
    case FN_JSON_CONTAINS:
        return "json_contains";
    case FN_JSON_CONTAINS_ALL:
        return "json_contains_all";
    case FN_JSON_CONTAINS_ANY:
        return "json_contains_any";
    case FN_ARRAY_CONTAINS:
        return "array_contains";
    case FN_ARRAY_CONTAINS_ALL:
        return "array_contains_all";
    case FN_ARRAY_CONTAINS_ANY:
        return "array_contains_any";
    case FN_RANDOM_SAMPLE:
        return "random_sample";
    default:
        return "array_length";
    }
}

bool qv_expr__has_sample(const qv_expr_node *n)
{
    if (n->kind == QV_XN_SAMPLE)
        return true;
    if (n->kind == QV_XN_AND)
        for (uint32_t i = 0; i < n->nkids; i++)
            if (n->kids[i]->kind == QV_XN_SAMPLE)
                return true;
    return false;
}

/* random_sample(ratio): a float strictly between 0 and 1, once per filter,
 * combined with the rest by a top-level `and` (checked by the callers). */
static bool build_sample(pstate *ps, term *arg, size_t pos, term *out)
{
    if (arg->kind != TM_VAL ||
        (arg->val.kind != QV_EXPR_FLOAT && arg->val.kind != QV_EXPR_INT))
        return qv_expr__perr(ps, arg->pos,
                             "random_sample takes a constant "
                             "ratio, like random_sample(0.1)");
    double r =
        arg->val.kind == QV_EXPR_INT ? (double)arg->val.u.i : arg->val.u.f;
    if (!(r > 0 && r < 1))
        return qv_expr__perr(ps, arg->pos,
                             "random_sample ratio must be "
                             "between 0 and 1 (exclusive)");
    if (ps->sample_pos != SIZE_MAX)
        return qv_expr__perr(ps, pos, "random_sample may appear only once");
    ps->sample_pos = pos;
    qv_expr_node *n = qv_expr__node(ps->plan, QV_XN_SAMPLE);
    n->v.kind = QV_EXPR_FLOAT;
    n->v.u.f = r;
    qv_expr__set_pred(out, n, pos);
    return true;
}

static bool build_contains(pstate *ps, int fn, term *args, size_t pos,
                           term *out)
{
    char b1[64];
    const char *name = fn_name(fn);
    term *c = &args[0], *v = &args[1];
    int mode = (fn == FN_JSON_CONTAINS || fn == FN_ARRAY_CONTAINS)
                   ? QV_CONTAINS_ONE
               : (fn == FN_JSON_CONTAINS_ALL || fn == FN_ARRAY_CONTAINS_ALL)
                   ? QV_CONTAINS_ALL
                   : QV_CONTAINS_ANY;
    if (c->kind != TM_COL || (c->dt != QV_DT_JSON && !whole_array(c)))
        return qv_expr__perr(ps, c->pos,
                             "%s needs an Array field or a JSON "
                             "path as its first argument, got %s",
                             name, qv_expr__describe(c, b1, sizeof(b1)));
    if (v->kind != TM_VAL)
        return qv_expr__perr(ps, v->pos,
                             "%s needs a constant as its second "
                             "argument",
                             name);
    qv_dtype et = c->dt == QV_DT_JSON ? QV_DT_JSON : c->col.elem_type;
    qv_expr_value val;
    if (mode == QV_CONTAINS_ONE) {
        if ((et != QV_DT_JSON && v->val.kind == QV_EXPR_ARRAY) ||
            !qv_expr__cast(et, &v->val, &val))
            return qv_expr__perr(ps, v->pos, "%s: cannot look for %s in %s",
                                 name, qv_expr__kind_name(v->val.kind),
                                 qv_expr__describe(c, b1, sizeof(b1)));
    } else {
        if (v->val.kind != QV_EXPR_ARRAY)
            return qv_expr__perr(ps, v->pos,
                                 "%s needs a list like [1, 2] "
                                 "as its second argument",
                                 name);
        if (!qv_expr__cast_array(ps, et, v, name, &val))
            return false;
        if (et != QV_DT_JSON)
            sort_unique(&val);
    }
    qv_expr_node *n = qv_expr__node(ps->plan, QV_XN_CONTAINS);
    n->col = c->col;
    n->flags = (uint8_t)mode;
    n->v = val;
    qv_expr__set_pred(out, n, pos);
    return true;
}

bool qv_expr__b_func(pstate *ps, int fn, term *args, size_t nargs, size_t pos,
                     term *out)
{
    char b1[64];
    size_t want = fn == FN_ARRAY_LENGTH || fn == FN_RANDOM_SAMPLE ? 1 : 2;
    if (nargs != want)
        return qv_expr__perr(ps, pos, "%s takes %zu argument%s, got %zu",
                             fn_name(fn), want, want == 1 ? "" : "s", nargs);
    if (fn == FN_RANDOM_SAMPLE)
        return build_sample(ps, &args[0], pos, out);
    if (fn != FN_ARRAY_LENGTH)
        return build_contains(ps, fn, args, pos, out);
    term *c = &args[0];
    if (c->kind != TM_COL || (c->dt != QV_DT_JSON && !whole_array(c)))
        return qv_expr__perr(ps, c->pos,
                             "array_length needs an Array field "
                             "or a JSON path, got %s",
                             qv_expr__describe(c, b1, sizeof(b1)));
    *out = *c;
    out->kind = TM_ALEN;
    out->pos = pos;
    return true;
}
