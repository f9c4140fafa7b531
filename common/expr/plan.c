/* plan.c -- plan memory, invariants, values, text form and field list.
 * The binary encoding is in plan_io.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr/expr_int.h"
#include "common/alloc.h"
#include "common/banned.h"

qv_expr_plan *qv_expr__plan_new(void)
{
    qv_expr_plan *p = QV_NEW(qv_expr_plan);
    qv_arena_init(&p->arena, 4096);
    return p;
}

void qv_expr_plan_free(qv_expr_plan *plan)
{
    if (!plan)
        return;
    qv_arena_release(&plan->arena);
    free(plan);
}

qv_expr_node *qv_expr__node(qv_expr_plan *p, int kind)
{
    qv_expr_node *n = qv_arena_calloc(&p->arena, 1, sizeof(*n));
    n->kind = (uint8_t)kind;
    return n;
}

bool qv_expr__is_int_type(qv_dtype t)
{
    return t == QV_DT_INT8 || t == QV_DT_INT16 || t == QV_DT_INT32 ||
           t == QV_DT_INT64;
}

bool qv_expr__is_float_type(qv_dtype t)
{
    return t == QV_DT_FLOAT || t == QV_DT_DOUBLE;
}

bool qv_expr__is_scalar_type(qv_dtype t)
{
    return t == QV_DT_BOOL || qv_expr__is_int_type(t) ||
           qv_expr__is_float_type(t) || t == QV_DT_VARCHAR;
}

const char *qv_expr__kind_name(qv_expr_vkind k)
{
    switch (k) {
    case QV_EXPR_BOOL:
        return "a boolean";
    case QV_EXPR_INT:
        return "an integer";
    case QV_EXPR_FLOAT:
        return "a floating-point number";
    case QV_EXPR_STR:
        return "a string";
    case QV_EXPR_ARRAY:
        return "an array";
    default:
        return "null";
    }
}

bool qv_expr__value_cmp(const qv_expr_value *a, const qv_expr_value *b,
                        int *out)
{
    bool an = a->kind == QV_EXPR_INT || a->kind == QV_EXPR_FLOAT;
    bool bn = b->kind == QV_EXPR_INT || b->kind == QV_EXPR_FLOAT;
    if (an && bn) {
        if (a->kind == QV_EXPR_INT && b->kind == QV_EXPR_INT) {
            *out = (a->u.i > b->u.i) - (a->u.i < b->u.i);
            return true;
        }
        long double x =
            a->kind == QV_EXPR_INT ? (long double)a->u.i : (long double)a->u.f;
        long double y =
            b->kind == QV_EXPR_INT ? (long double)b->u.i : (long double)b->u.f;
        if (isnan(x) || isnan(y))
            *out = 2;
        else
            *out = (x > y) - (x < y);
        return true;
    }
    if (a->kind != b->kind)
        return false;
    if (a->kind == QV_EXPR_BOOL) {
        *out = (int)a->u.b - (int)b->u.b;
        return true;
    }
    if (a->kind == QV_EXPR_STR) {
        size_t m = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = m ? memcmp(a->u.s.ptr, b->u.s.ptr, m) : 0;
        if (!c)
            c = (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
        *out = c < 0 ? -1 : c > 0;
        return true;
    }
    return false;
}

/* ---- invariants -------------------------------------------------------- */

static qv_code bad(qv_err *err, const char *what)
{
    return qv_fail(err, QV_E_CORRUPT, "invalid filter plan: %s", what);
}

/* The value kind a scalar column type takes. */
static int kind_for(qv_dtype t)
{
    if (t == QV_DT_BOOL)
        return QV_EXPR_BOOL;
    if (qv_expr__is_int_type(t))
        return QV_EXPR_INT;
    if (qv_expr__is_float_type(t))
        return QV_EXPR_FLOAT;
    if (t == QV_DT_VARCHAR)
        return QV_EXPR_STR;
    return -1;
}

static bool value_ok(const qv_expr_value *v, int depth)
{
    if (depth > QV_EXPR_MAX_ARRAY_NEST + 1)
        return false;
    if (v->kind == QV_EXPR_STR)
        return v->u.s.ptr || v->u.s.len == 0;
    if (v->kind != QV_EXPR_ARRAY)
        return v->kind >= QV_EXPR_BOOL && v->kind <= QV_EXPR_STR;
    if (v->u.a.n && !v->u.a.items)
        return false;
    for (size_t i = 0; i < v->u.a.n; i++)
        if (!value_ok(&v->u.a.items[i], depth + 1))
            return false;
    return true;
}

/* Every element of list has kind k; if sorted, strictly ascending. */
static bool list_ok(const qv_expr_value *list, int k, bool sorted)
{
    if (list->kind != QV_EXPR_ARRAY)
        return false;
    for (size_t i = 0; i < list->u.a.n; i++) {
        const qv_expr_value *e = &list->u.a.items[i];
        if (k >= 0 && (int)e->kind != k)
            return false;
        if (k >= 0 && e->kind == QV_EXPR_FLOAT && isnan(e->u.f) && sorted)
            return false;
        int c;
        if (sorted && i > 0 &&
            (!qv_expr__value_cmp(&list->u.a.items[i - 1], e, &c) || c >= 0))
            return false;
    }
    return true;
}

static bool col_ok(const qv_expr_colref *c, qv_dtype *dt)
{
    if (c->npath > QV_EXPR_MAX_PATH || (c->npath && !c->path))
        return false;
    for (uint32_t i = 0; i < c->npath; i++)
        if (!c->path[i].ptr)
            return false;
    if (c->type == QV_DT_JSON) {
        *dt = QV_DT_JSON;
        return true;
    }
    if (c->type == QV_DT_ARRAY) {
        if (!qv_expr__is_scalar_type(c->elem_type) || c->npath > 1)
            return false;
        if (c->npath == 1) {
            const qv_expr_str *s = &c->path[0];
            if (s->len == 0 || s->len > 18)
                return false;
            for (size_t i = 0; i < s->len; i++)
                if (s->ptr[i] < '0' || s->ptr[i] > '9')
                    return false;
        }
        *dt = c->npath ? c->elem_type : QV_DT_ARRAY;
        return true;
    }
    *dt = c->type;
    return qv_expr__is_scalar_type(c->type) && c->npath == 0;
}

static bool num_kind(const qv_expr_value *v)
{
    return v->kind == QV_EXPR_INT || v->kind == QV_EXPR_FLOAT;
}

static bool leaf_ok(const qv_expr_node *n, qv_dtype dt)
{
    int k = kind_for(dt);
    bool json = dt == QV_DT_JSON, arr = dt == QV_DT_ARRAY;
    switch (n->kind) {
    case QV_XN_CMP:
        if (n->op < QV_CMP_EQ || n->op > QV_CMP_GE)
            return false;
        if (arr)
            return n->op <= QV_CMP_NE &&
                   list_ok(&n->v, kind_for(n->col.elem_type), false);
        if (json)
            return n->v.kind != QV_EXPR_ARRAY || n->op <= QV_CMP_NE;
        return (int)n->v.kind == k;
    case QV_XN_RANGE:
        if (arr || n->flags > 3)
            return false;
        if (json)
            return (num_kind(&n->v) && num_kind(&n->v2)) ||
                   (n->v.kind == QV_EXPR_STR && n->v2.kind == QV_EXPR_STR);
        return (int)n->v.kind == k && (int)n->v2.kind == k && k != QV_EXPR_BOOL;
    case QV_XN_ARITH:
        if (n->aop == QV_AR_ARRAY_LEN)
            return (arr || (json)) && n->v.kind == QV_EXPR_INT &&
                   n->op >= QV_CMP_EQ && n->op <= QV_CMP_GE;
        if (n->aop < QV_AR_ADD || n->aop > QV_AR_MOD || n->op < QV_CMP_EQ ||
            n->op > QV_CMP_GE)
            return false;
        if (json ? !(num_kind(&n->v) && num_kind(&n->v2))
                 : (k != QV_EXPR_INT && k != QV_EXPR_FLOAT) ||
                       (int)n->v.kind != k || (int)n->v2.kind != k)
            return false;
        if (n->aop == QV_AR_MOD && n->v2.kind != QV_EXPR_INT)
            return false;
        if ((n->aop == QV_AR_DIV || n->aop == QV_AR_MOD) &&
            (n->v2.kind == QV_EXPR_INT ? n->v2.u.i == 0 : n->v2.u.f == 0))
            return false;
        return true;
    case QV_XN_IN:
        return !arr && list_ok(&n->v, json ? -1 : k, !json);
    case QV_XN_LIKE:
        return (dt == QV_DT_VARCHAR || json) && n->v.kind == QV_EXPR_STR &&
               n->flags >= QV_LIKE_EQ && n->flags <= QV_LIKE_GENERAL;
    case QV_XN_IS_NULL:
    case QV_XN_IS_NOT_NULL:
        return !(n->col.type == QV_DT_ARRAY && n->col.npath);
    case QV_XN_EXISTS:
        return json;
    case QV_XN_CONTAINS: {
        if (!arr && !json)
            return false;
        int ek = json ? -1 : kind_for(n->col.elem_type);
        if (n->flags == QV_CONTAINS_ONE)
            return json || (int)n->v.kind == ek;
        if (n->flags != QV_CONTAINS_ALL && n->flags != QV_CONTAINS_ANY)
            return false;
        return list_ok(&n->v, ek, !json);
    }
    default:
        return false;
    }
}

static int count_samples(const qv_expr_node *n, int depth)
{
    if (n->kind == QV_XN_SAMPLE)
        return 1;
    int c = 0;
    if (depth < 2 * QV_EXPR_MAX_DEPTH + 2 &&
        (n->kind == QV_XN_AND || n->kind == QV_XN_OR || n->kind == QV_XN_NOT))
        for (uint32_t i = 0; i < n->nkids; i++)
            c += count_samples(n->kids[i], depth + 1);
    return c;
}

/* random_sample: at most one, as the root or a child of the root AND. */
static bool sample_placement_ok(const qv_expr_node *root)
{
    int c = count_samples(root, 0);
    if (c == 0)
        return true;
    if (c > 1)
        return false;
    if (root->kind == QV_XN_SAMPLE)
        return true;
    if (root->kind != QV_XN_AND)
        return false;
    for (uint32_t i = 0; i < root->nkids; i++)
        if (root->kids[i]->kind == QV_XN_SAMPLE)
            return true;
    return false;
}

qv_code qv_expr__check(const qv_expr_node *n, int depth, qv_err *err)
{
    if (!n)
        return bad(err, "missing node");
    if (depth > 2 * QV_EXPR_MAX_DEPTH)
        return bad(err, "nested too deeply");
    if (n->kind < QV_XN_TRUE || n->kind > QV_XN_KIND_MAX)
        return bad(err, "unknown node kind");
    if (depth == 0 && n && !sample_placement_ok(n))
        return bad(err, "misplaced random_sample");
    if (!value_ok(&n->v, 0) && n->v.kind != QV_EXPR_NULL)
        return bad(err, "bad value");
    if (!value_ok(&n->v2, 0) && n->v2.kind != QV_EXPR_NULL)
        return bad(err, "bad value");
    switch (n->kind) {
    case QV_XN_TRUE:
    case QV_XN_FALSE:
        return n->nkids ? bad(err, "leaf with children") : QV_OK;
    case QV_XN_SAMPLE:
        if (n->nkids || n->v.kind != QV_EXPR_FLOAT || !(n->v.u.f > 0) ||
            !(n->v.u.f < 1))
            return bad(err, "bad random_sample");
        return QV_OK;
    case QV_XN_AND:
    case QV_XN_OR:
    case QV_XN_NOT:
        if (n->nkids == 0 || !n->kids ||
            (n->kind == QV_XN_NOT && n->nkids != 1))
            return bad(err, "logical node with wrong children");
        for (uint32_t i = 0; i < n->nkids; i++) {
            qv_code rc = qv_expr__check(n->kids[i], depth + 1, err);
            if (rc != QV_OK)
                return rc;
        }
        return QV_OK;
    default:
        break;
    }
    if (n->nkids)
        return bad(err, "leaf with children");
    qv_dtype dt, dt2;
    if (!col_ok(&n->col, &dt))
        return bad(err, "bad column reference");
    if (n->kind == QV_XN_CMP_COLS) {
        if (!col_ok(&n->col2, &dt2) || n->op < QV_CMP_EQ || n->op > QV_CMP_GE ||
            n->col.type == QV_DT_ARRAY || n->col2.type == QV_DT_ARRAY)
            return bad(err, "bad column comparison");
        int k1 = kind_for(dt), k2 = kind_for(dt2);
        bool num1 = k1 == QV_EXPR_INT || k1 == QV_EXPR_FLOAT;
        bool num2 = k2 == QV_EXPR_INT || k2 == QV_EXPR_FLOAT;
        if (k1 < 0 || k2 < 0 || (k1 != k2 && !(num1 && num2)))
            return bad(err, "incompatible column comparison");
        return QV_OK;
    }
    return leaf_ok(n, dt) ? QV_OK : bad(err, "operands do not fit the node");
}

/* ---- text form --------------------------------------------------------- */

static qv_code fmt_value(qv_buf *b, const qv_expr_value *v)
{
    qv_code rc = QV_OK;
    switch (v->kind) {
    case QV_EXPR_BOOL:
        return qv_buf_appends(b, v->u.b ? "true" : "false");
    case QV_EXPR_INT:
        return qv_buf_printf(b, "%lld", (long long)v->u.i);
    case QV_EXPR_FLOAT:
        return qv_buf_printf(b, "%.17g", v->u.f);
    case QV_EXPR_STR:
        rc = qv_buf_appends(b, "\"");
        for (size_t i = 0; i < v->u.s.len && rc == QV_OK; i++) {
            unsigned char c = (unsigned char)v->u.s.ptr[i];
            if (c == '"' || c == '\\')
                rc = qv_buf_printf(b, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                rc = qv_buf_printf(b, "\\x%02x", c);
            else
                rc = qv_buf_append(b, &c, 1);
        }
        return rc == QV_OK ? qv_buf_appends(b, "\"") : rc;
    case QV_EXPR_ARRAY:
        rc = qv_buf_appends(b, "[");
        for (size_t i = 0; i < v->u.a.n && rc == QV_OK; i++) {
            if (i)
                rc = qv_buf_appends(b, " ");
            if (rc == QV_OK)
                rc = fmt_value(b, &v->u.a.items[i]);
        }
        return rc == QV_OK ? qv_buf_appends(b, "]") : rc;
    default:
        return qv_buf_appends(b, "null");
    }
}

static qv_code fmt_col(qv_buf *b, const qv_expr_colref *c)
{
    qv_code rc = qv_buf_printf(b, "f%lld", (long long)c->field_id);
    for (uint32_t i = 0; i < c->npath && rc == QV_OK; i++) {
        qv_expr_value s = {.kind = QV_EXPR_STR,
                           .u.s = {c->path[i].ptr, c->path[i].len}};
        rc = qv_buf_appends(b, "[");
        if (rc == QV_OK)
            rc = fmt_value(b, &s);
        if (rc == QV_OK)
            rc = qv_buf_appends(b, "]");
    }
    return rc;
}

static const char *const cmp_names[] = {"?", "==", "!=", "<", "<=", ">", ">="};
static const char *const arith_names[] = {"?", "+", "-",           "*",
                                          "/", "%", "array_length"};
static const char *const like_names[] = {"?",      "equal", "prefix",
                                         "suffix", "infix", "pattern"};
static const char *const contains_names[] = {"?", "contains", "contains_all",
                                             "contains_any"};

#define TRY(x)                                                                 \
    do {                                                                       \
        qv_code rc_ = (x);                                                     \
        if (rc_ != QV_OK)                                                      \
            return rc_;                                                        \
    } while (0)

/* NOLINTNEXTLINE(readability-function-size): TRY() expands to blocks */
static qv_code fmt_leaf(qv_buf *b, const qv_expr_node *n)
{
    switch (n->kind) {
    case QV_XN_CMP:
        TRY(qv_buf_printf(b, "(%s ", cmp_names[n->op % 7]));
        TRY(fmt_col(b, &n->col));
        TRY(qv_buf_appends(b, " "));
        TRY(fmt_value(b, &n->v));
        break;
    case QV_XN_RANGE:
        TRY(qv_buf_appends(b, "(range "));
        TRY(fmt_value(b, &n->v));
        TRY(qv_buf_appends(b, n->flags & QV_RANGE_LO_INCL ? " <= " : " < "));
        TRY(fmt_col(b, &n->col));
        TRY(qv_buf_appends(b, n->flags & QV_RANGE_HI_INCL ? " <= " : " < "));
        TRY(fmt_value(b, &n->v2));
        break;
    case QV_XN_CMP_COLS:
        TRY(qv_buf_printf(b, "(%s ", cmp_names[n->op % 7]));
        TRY(fmt_col(b, &n->col));
        TRY(qv_buf_appends(b, " "));
        TRY(fmt_col(b, &n->col2));
        break;
    case QV_XN_ARITH:
        TRY(qv_buf_printf(b, "(%s (%s ", cmp_names[n->op % 7],
                          arith_names[n->aop % 7]));
        TRY(fmt_col(b, &n->col));
        if (n->aop != QV_AR_ARRAY_LEN) {
            TRY(qv_buf_appends(b, " "));
            TRY(fmt_value(b, &n->v2));
        }
        TRY(qv_buf_appends(b, ") "));
        TRY(fmt_value(b, &n->v));
        break;
    default: {
        const char *name = n->kind == QV_XN_IN        ? "in"
                           : n->kind == QV_XN_LIKE    ? like_names[n->flags % 6]
                           : n->kind == QV_XN_IS_NULL ? "is_null"
                           : n->kind == QV_XN_IS_NOT_NULL ? "is_not_null"
                           : n->kind == QV_XN_EXISTS
                               ? "exists"
                               : contains_names[n->flags % 4];
        TRY(qv_buf_printf(b, "(%s ", name));
        TRY(fmt_col(b, &n->col));
        if (n->kind == QV_XN_IN || n->kind == QV_XN_LIKE ||
            n->kind == QV_XN_CONTAINS) {
            TRY(qv_buf_appends(b, " "));
            TRY(fmt_value(b, &n->v));
        }
    }
    }
    return qv_buf_appends(b, ")");
}

static qv_code fmt_node(qv_buf *b, const qv_expr_node *n)
{
    switch (n->kind) {
    case QV_XN_TRUE:
        return qv_buf_appends(b, "true");
    case QV_XN_SAMPLE:
        return qv_buf_printf(b, "(random_sample %.17g)", n->v.u.f);
    case QV_XN_FALSE:
        return qv_buf_appends(b, "false");
    case QV_XN_AND:
    case QV_XN_OR:
    case QV_XN_NOT:
        TRY(qv_buf_appends(b, n->kind == QV_XN_AND  ? "(and"
                              : n->kind == QV_XN_OR ? "(or"
                                                    : "(not"));
        for (uint32_t i = 0; i < n->nkids; i++) {
            TRY(qv_buf_appends(b, " "));
            TRY(fmt_node(b, n->kids[i]));
        }
        return qv_buf_appends(b, ")");
    default:
        return fmt_leaf(b, n);
    }
}

qv_code qv_expr_plan_format(const qv_expr_plan *plan, qv_buf *out)
{
    return fmt_node(out, plan->root);
}

bool qv_expr_plan_always_true(const qv_expr_plan *plan)
{
    return plan->root->kind == QV_XN_TRUE;
}

typedef struct idlist {
    int64_t *ids;
    size_t n, cap;
} idlist;

static void add_id(idlist *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] == id)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->ids = qv_xrealloc(l->ids, l->cap * sizeof(int64_t));
    }
    size_t j = l->n++;
    while (j > 0 && l->ids[j - 1] > id) { /* keep ascending */
        l->ids[j] = l->ids[j - 1];
        j--;
    }
    l->ids[j] = id;
}

static void collect(const qv_expr_node *n, idlist *l)
{
    if (n->kind == QV_XN_AND || n->kind == QV_XN_OR || n->kind == QV_XN_NOT) {
        for (uint32_t i = 0; i < n->nkids; i++)
            collect(n->kids[i], l);
        return;
    }
    if (n->kind == QV_XN_TRUE || n->kind == QV_XN_FALSE ||
        n->kind == QV_XN_SAMPLE)
        return;
    add_id(l, n->col.field_id);
    if (n->kind == QV_XN_CMP_COLS)
        add_id(l, n->col2.field_id);
}

size_t qv_expr_plan_fields(const qv_expr_plan *plan, int64_t *ids, size_t cap)
{
    idlist l = {0};
    collect(plan->root, &l);
    for (size_t i = 0; i < l.n && i < cap; i++)
        ids[i] = l.ids[i];
    free(l.ids);
    return l.n;
}

static int value_order(const void *a, const void *b)
{
    int c = 0;
    if (!qv_expr__value_cmp(a, b, &c) || c == 2)
        c = 0;
    return c;
}

/* Appends the pk values of node n to l (grown by doubling); false if n is
 * not a pk selection. */
static bool pk_collect(const qv_expr_node *n, int64_t pk, qv_expr_value **l,
                       size_t *len, size_t *cap)
{
    const qv_expr_value *src;
    size_t cnt;
    if (n->kind == QV_XN_OR) {
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!pk_collect(n->kids[i], pk, l, len, cap))
                return false;
        return true;
    }
    if (n->kind == QV_XN_FALSE)
        return true;
    if (n->col.field_id != pk || n->col.npath != 0)
        return false;
    if (n->kind == QV_XN_CMP && n->op == QV_CMP_EQ) {
        src = &n->v;
        cnt = 1;
    } else if (n->kind == QV_XN_IN) {
        src = n->v.u.a.items;
        cnt = n->v.u.a.n;
    } else {
        return false;
    }
    if (*len + cnt > *cap) {
        *cap = (*len + cnt) * 2;
        *l = qv_xrealloc(*l, *cap * sizeof(qv_expr_value));
    }
    if (cnt)
        memcpy(*l + *len, src, cnt * sizeof(qv_expr_value));
    *len += cnt;
    return true;
}

bool qv_expr_plan_pk_values(const qv_expr_plan *plan, int64_t pk_field_id,
                            qv_expr_value **vals, size_t *n)
{
    qv_expr_value *l = NULL;
    size_t len = 0, cap = 0;
    if (!pk_collect(plan->root, pk_field_id, &l, &len, &cap)) {
        free(l);
        return false;
    }
    /* distinct values: sort, then drop repeats */
    if (len > 1) {
        qsort(l, len, sizeof(*l), value_order);
        size_t k = 1;
        for (size_t i = 1; i < len; i++)
            if (value_order(&l[k - 1], &l[i]) != 0)
                l[k++] = l[i];
        len = k;
    }
    *vals = l;
    *n = len;
    return true;
}

typedef struct vlist {
    qv_expr_value *v;
    size_t n;
} vlist;

static void vlist_sort_unique(vlist *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof(*l->v), value_order);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (value_order(&l->v[k - 1], &l->v[i]) != 0)
            l->v[k++] = l->v[i];
    l->n = k;
}

/* Keeps the values of a that are also in b (both sorted, distinct). */
static void vlist_intersect(vlist *a, const vlist *b)
{
    size_t i = 0, j = 0, k = 0;
    while (i < a->n && j < b->n) {
        int c = value_order(&a->v[i], &b->v[j]);
        if (c == 0)
            a->v[k++] = a->v[i];
        i += c <= 0;
        j += c >= 0;
    }
    a->n = k;
}

static bool bound(const qv_expr_node *n, int64_t f, vlist *out)
{
    out->v = NULL;
    out->n = 0;
    switch (n->kind) {
    case QV_XN_FALSE:
        return true;
    case QV_XN_AND: {
        bool any = false;
        for (uint32_t i = 0; i < n->nkids; i++) {
            vlist k;
            if (!bound(n->kids[i], f, &k))
                continue;
            if (!any) {
                *out = k;
                any = true;
            } else {
                vlist_intersect(out, &k);
                free(k.v);
            }
        }
        return any;
    }
    case QV_XN_OR: {
        for (uint32_t i = 0; i < n->nkids; i++) {
            vlist k;
            if (!bound(n->kids[i], f, &k)) {
                free(out->v);
                out->v = NULL;
                return false;
            }
            out->v =
                qv_xrealloc(out->v, (out->n + k.n + 1) * sizeof(qv_expr_value));
            if (k.n)
                memcpy(out->v + out->n, k.v, k.n * sizeof(qv_expr_value));
            out->n += k.n;
            free(k.v);
        }
        vlist_sort_unique(out);
        return true;
    }
    case QV_XN_CMP:
    case QV_XN_IN: {
        if (n->col.field_id != f || n->col.npath != 0 ||
            (n->kind == QV_XN_CMP && n->op != QV_CMP_EQ))
            return false;
        const qv_expr_value *src =
            n->kind == QV_XN_CMP ? &n->v : n->v.u.a.items;
        size_t cnt = n->kind == QV_XN_CMP ? 1 : n->v.u.a.n;
        out->v = qv_xmalloc((cnt + 1) * sizeof(qv_expr_value));
        if (cnt)
            memcpy(out->v, src, cnt * sizeof(qv_expr_value));
        out->n = cnt;
        vlist_sort_unique(out);
        return true;
    }
    default:
        return false;
    }
}

bool qv_expr_plan_field_bound(const qv_expr_plan *plan, int64_t field_id,
                              qv_expr_value **vals, size_t *n)
{
    vlist l;
    if (!bound(plan->root, field_id, &l))
        return false;
    *vals = l.v;
    *n = l.n;
    return true;
}
