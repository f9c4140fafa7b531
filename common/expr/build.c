/* build.c -- semantic builders: names, comparisons, ranges, arithmetic,
 * logic.  Type rules follow Milvus's planparserv2:
 *   - a field compares with a constant of its type class: Bool with bool,
 *     integer fields with integers, Float/Double with any number (the
 *     constant is converted), VarChar with strings; JSON with anything;
 *     Array fields with an array (== and != only);
 *   - two fields compare when both are numbers, both strings or both bools
 *     (not JSON, not whole arrays);
 *   - arithmetic is `field op constant` (or `constant + field`,
 *     `constant * field`) compared with a constant; `**`, shifts and
 *     bitwise operators work on constants only;
 *   - constants fold: 1 + 2 == 3 becomes `true`.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/expr/parse_int.h"
#include "common/banned.h"

static qv_expr_node *node(pstate *ps, int kind)
{
    return qv_expr__node(ps->plan, kind);
}

void qv_expr__set_pred(term *out, qv_expr_node *n, size_t pos)
{
    memset(out, 0, sizeof(*out));
    out->kind = TM_PRED;
    out->pred = n;
    out->pos = pos;
}

static void set_val(term *out, qv_expr_value v, size_t pos)
{
    memset(out, 0, sizeof(*out));
    out->kind = TM_VAL;
    out->val = v;
    out->pos = pos;
}

static qv_expr_value vbool(bool b)
{
    qv_expr_value v = {.kind = QV_EXPR_BOOL, .u.b = b};
    return v;
}

/* Describes a term for messages: "Int64 field 'a'", "a string", ... */
const char *qv_expr__describe(const term *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case TM_VAL:
        (void)snprintf(buf, cap, "%s", qv_expr__kind_name(t->val.kind));
        break;
    case TM_COL:
        if (t->col.type == QV_DT_ARRAY && t->col.npath == 0)
            (void)snprintf(buf, cap, "Array field '%s'", t->name);
        else
            (void)snprintf(buf, cap, "%s field '%s'", qv_dtype_name(t->dt),
                           t->name);
        break;
    case TM_ARITH:
        (void)snprintf(buf, cap, "an arithmetic expression");
        break;
    case TM_ALEN:
        (void)snprintf(buf, cap, "array_length(...)");
        break;
    case TM_PRED:
        (void)snprintf(buf, cap, "a boolean expression");
        break;
    }
    return buf;
}

static const qv_expr_field *find_field(pstate *ps, const char *name,
                                       size_t nlen)
{
    for (size_t i = 0; i < ps->schema->nfields; i++) {
        const qv_expr_field *f = &ps->schema->fields[i];
        if (f->name && strlen(f->name) == nlen && !memcmp(f->name, name, nlen))
            return f;
    }
    return NULL;
}

static const qv_expr_field *dynamic_field(pstate *ps)
{
    for (size_t i = 0; i < ps->schema->nfields; i++)
        if (ps->schema->fields[i].is_dynamic)
            return &ps->schema->fields[i];
    return NULL;
}

bool qv_expr__b_ident(pstate *ps, size_t pos, const char *name, size_t nlen,
                      qv_expr_str *path, uint32_t npath, bool *path_int,
                      term *out)
{
    qv_arena *a = &ps->plan->arena;
    const qv_expr_field *f;
    bool dyn_key = false;
    if (nlen == 5 && !memcmp(name, "$meta", 5)) {
        f = dynamic_field(ps);
        if (!f)
            return qv_expr__perr(ps, pos,
                                 "'$meta' is used but the "
                                 "collection has no dynamic field");
    } else {
        f = find_field(ps, name, nlen);
        if (!f) {
            f = dynamic_field(ps);
            if (!f)
                return qv_expr__perr(ps, pos, "field '%.*s' does not exist",
                                     (int)nlen, name);
            dyn_key = true;
        }
    }
    if (!qv_expr__is_scalar_type(f->type) && f->type != QV_DT_ARRAY &&
        f->type != QV_DT_JSON) {
        if (qv_dtype_is_vector(f->type))
            return qv_expr__perr(ps, pos,
                                 "field '%.*s' is a vector field "
                                 "and cannot be used in a filter",
                                 (int)nlen, name);
        return qv_expr__perr(ps, pos,
                             "field '%.*s' has a type (%d) that "
                             "filters do not support",
                             (int)nlen, name, (int)f->type);
    }
    memset(out, 0, sizeof(*out));
    out->kind = TM_COL;
    out->pos = pos;
    out->name = qv_arena_strndup(a, name, nlen);
    out->col.field_id = f->id;
    out->col.type = f->type;
    out->col.elem_type = f->elem_type;
    out->col.nullable = f->nullable;
    uint32_t total = npath + (dyn_key ? 1 : 0);
    if (total) {
        if (total > QV_EXPR_MAX_PATH)
            return qv_expr__perr(ps, pos, "path too long");
        out->col.path = qv_arena_calloc(a, total, sizeof(qv_expr_str));
        uint32_t k = 0;
        if (dyn_key) {
            out->col.path[k].ptr = out->name;
            out->col.path[k++].len = nlen;
        }
        for (uint32_t i = 0; i < npath; i++) {
            char *c = qv_arena_alloc(a, path[i].len + 1);
            if (path[i].len)
                memcpy(c, path[i].ptr, path[i].len);
            c[path[i].len] = 0;
            out->col.path[k].ptr = c;
            out->col.path[k++].len = path[i].len;
        }
        out->col.npath = total;
    }
    if (f->type == QV_DT_JSON) {
        out->dt = QV_DT_JSON;
    } else if (f->type == QV_DT_ARRAY && npath > 0) {
        if (npath != 1 || !path_int[0])
            return qv_expr__perr(ps, pos,
                                 "Array field '%.*s' takes one "
                                 "integer index, like %.*s[0]",
                                 (int)nlen, name, (int)nlen, name);
        out->dt = f->elem_type;
    } else if (npath > 0) {
        return qv_expr__perr(ps, pos,
                             "%s field '%.*s' cannot be indexed "
                             "with '[...]'",
                             qv_dtype_name(f->type), (int)nlen, name);
    } else {
        out->dt = f->type;
    }
    return true;
}

/* Casts constant v for comparison with a value of type dt. */
bool qv_expr__cast(qv_dtype dt, const qv_expr_value *v, qv_expr_value *out)
{
    *out = *v;
    if (dt == QV_DT_JSON)
        return v->kind != QV_EXPR_NULL;
    if (dt == QV_DT_BOOL)
        return v->kind == QV_EXPR_BOOL;
    if (dt == QV_DT_VARCHAR)
        return v->kind == QV_EXPR_STR;
    if (qv_expr__is_int_type(dt))
        return v->kind == QV_EXPR_INT;
    if (qv_expr__is_float_type(dt)) {
        if (v->kind == QV_EXPR_INT) {
            out->kind = QV_EXPR_FLOAT;
            out->u.f = (double)v->u.i;
            return true;
        }
        return v->kind == QV_EXPR_FLOAT;
    }
    return false;
}

/* Casts every element of an array constant for element type dt. */
bool qv_expr__cast_array(pstate *ps, qv_dtype dt, const term *arr,
                         const char *what, qv_expr_value *out)
{
    size_t n = arr->val.u.a.n;
    qv_expr_value *items =
        qv_arena_calloc(&ps->plan->arena, n ? n : 1, sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        const qv_expr_value *e = &arr->val.u.a.items[i];
        if ((dt != QV_DT_JSON && e->kind == QV_EXPR_ARRAY) ||
            !qv_expr__cast(dt, e, &items[i]))
            return qv_expr__perr(ps, arr->pos,
                                 "%s: element %zu is %s, "
                                 "expected a %s value",
                                 what, i + 1, qv_expr__kind_name(e->kind),
                                 qv_dtype_name(dt));
    }
    out->kind = QV_EXPR_ARRAY;
    out->u.a.items = items;
    out->u.a.n = n;
    return true;
}

static int cmp_op(int tk)
{
    switch (tk) {
    case TK_EQ:
        return QV_CMP_EQ;
    case TK_NE:
        return QV_CMP_NE;
    case TK_LT:
        return QV_CMP_LT;
    case TK_LE:
        return QV_CMP_LE;
    case TK_GT:
        return QV_CMP_GT;
    default:
        return QV_CMP_GE;
    }
}

static int reverse_op(int op)
{
    switch (op) {
    case QV_CMP_LT:
        return QV_CMP_GT;
    case QV_CMP_LE:
        return QV_CMP_GE;
    case QV_CMP_GT:
        return QV_CMP_LT;
    case QV_CMP_GE:
        return QV_CMP_LE;
    default:
        return op;
    }
}

static bool apply_cmp(int op, int c)
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

static bool fold_cmp(pstate *ps, int op, term *l, term *r, size_t pos,
                     term *out)
{
    int c;
    char b1[64], b2[64];
    if (l->val.kind == QV_EXPR_ARRAY || r->val.kind == QV_EXPR_ARRAY ||
        !qv_expr__value_cmp(&l->val, &r->val, &c))
        return qv_expr__perr(ps, pos, "cannot compare %s with %s",
                             qv_expr__describe(l, b1, sizeof(b1)),
                             qv_expr__describe(r, b2, sizeof(b2)));
    bool res;
    if (c == 2) /* NaN involved: only != holds */
        res = op == QV_CMP_NE;
    else
        res = apply_cmp(op, c);
    set_val(out, vbool(res), pos);
    return true;
}

static bool relational(int op)
{
    return op != QV_CMP_EQ && op != QV_CMP_NE;
}

static bool cmp_col_val(pstate *ps, int op, term *l, term *r, size_t pos,
                        term *out)
{
    char b1[64], b2[64];
    qv_expr_value v;
    bool whole_array = l->col.type == QV_DT_ARRAY && l->col.npath == 0;
    if (whole_array) {
        if (r->val.kind != QV_EXPR_ARRAY || relational(op))
            return qv_expr__perr(ps, pos,
                                 "%s can only be compared with == "
                                 "or != to an array; use "
                                 "array_contains or an element "
                                 "like %s[0]",
                                 qv_expr__describe(l, b1, sizeof(b1)), l->name);
        if (!qv_expr__cast_array(ps, l->col.elem_type, r, "array comparison",
                                 &v))
            return false;
    } else if (r->val.kind == QV_EXPR_ARRAY) {
        if (l->dt != QV_DT_JSON || relational(op))
            return qv_expr__perr(ps, pos, "cannot compare %s with an array",
                                 qv_expr__describe(l, b1, sizeof(b1)));
        v = r->val;
    } else if (!qv_expr__cast(l->dt, &r->val, &v) ||
               (relational(op) && v.kind == QV_EXPR_BOOL &&
                l->dt == QV_DT_JSON)) {
        return qv_expr__perr(ps, r->pos, "cannot compare %s with %s",
                             qv_expr__describe(l, b1, sizeof(b1)),
                             qv_expr__describe(r, b2, sizeof(b2)));
    }
    qv_expr_node *n = node(ps, QV_XN_CMP);
    n->op = (uint8_t)op;
    n->col = l->col;
    n->v = v;
    qv_expr__set_pred(out, n, pos);
    return true;
}

static int type_class(qv_dtype t)
{
    if (qv_expr__is_int_type(t) || qv_expr__is_float_type(t))
        return 1;
    if (t == QV_DT_VARCHAR)
        return 2;
    if (t == QV_DT_BOOL)
        return 3;
    return 0;
}

static bool cmp_col_col(pstate *ps, int op, term *l, term *r, size_t pos,
                        term *out)
{
    char b1[64], b2[64];
    int cl = type_class(l->dt), cr = type_class(r->dt);
    if (l->dt == QV_DT_JSON || r->dt == QV_DT_JSON)
        return qv_expr__perr(ps, pos,
                             "comparing two fields is not "
                             "supported for JSON");
    if (!cl || cl != cr || l->col.type == QV_DT_ARRAY ||
        r->col.type == QV_DT_ARRAY)
        return qv_expr__perr(ps, pos, "cannot compare %s with %s",
                             qv_expr__describe(l, b1, sizeof(b1)),
                             qv_expr__describe(r, b2, sizeof(b2)));
    qv_expr_node *n = node(ps, QV_XN_CMP_COLS);
    n->op = (uint8_t)op;
    n->col = l->col;
    n->col2 = r->col;
    qv_expr__set_pred(out, n, pos);
    return true;
}

static bool cmp_arith_val(pstate *ps, int op, term *l, term *r, size_t pos,
                          term *out)
{
    char b1[64];
    qv_expr_value v = r->val;
    if (l->kind == TM_ALEN) {
        if (r->val.kind != QV_EXPR_INT)
            return qv_expr__perr(ps, r->pos,
                                 "array_length(...) compares "
                                 "with an integer, not %s",
                                 qv_expr__describe(r, b1, sizeof(b1)));
    } else if (l->dt == QV_DT_JSON) {
        if (v.kind != QV_EXPR_INT && v.kind != QV_EXPR_FLOAT)
            return qv_expr__perr(ps, r->pos,
                                 "arithmetic result compares "
                                 "with a number, not %s",
                                 qv_expr__describe(r, b1, sizeof(b1)));
    } else if (!qv_expr__cast(l->dt, &r->val, &v)) {
        return qv_expr__perr(ps, r->pos,
                             "cannot compare %s arithmetic with "
                             "%s",
                             qv_dtype_name(l->dt),
                             qv_expr__describe(r, b1, sizeof(b1)));
    }
    qv_expr_node *n = node(ps, QV_XN_ARITH);
    n->op = (uint8_t)op;
    n->aop = l->kind == TM_ALEN ? QV_AR_ARRAY_LEN : l->aop;
    n->col = l->col;
    n->v = v;
    n->v2 = l->val;
    qv_expr__set_pred(out, n, pos);
    return true;
}

bool qv_expr__b_cmp(pstate *ps, int tk, term *l, term *r, size_t pos, term *out)
{
    int op = cmp_op(tk);
    char b1[64], b2[64];
    if (l->kind == TM_VAL && r->kind == TM_VAL)
        return fold_cmp(ps, op, l, r, pos, out);
    if (l->kind == TM_VAL) {
        term *t = l;
        l = r;
        r = t;
        op = reverse_op(op);
    }
    if (l->kind == TM_COL && r->kind == TM_VAL)
        return cmp_col_val(ps, op, l, r, pos, out);
    if (l->kind == TM_COL && r->kind == TM_COL)
        return cmp_col_col(ps, op, l, r, pos, out);
    if ((l->kind == TM_ARITH || l->kind == TM_ALEN) && r->kind == TM_VAL)
        return cmp_arith_val(ps, op, l, r, pos, out);
    if (l->kind == TM_ARITH || r->kind == TM_ARITH)
        return qv_expr__perr(ps, pos,
                             "arithmetic is only supported as "
                             "'field op constant' compared with a "
                             "constant, like 'a + 1 == 2'");
    return qv_expr__perr(ps, pos, "cannot compare %s with %s",
                         qv_expr__describe(l, b1, sizeof(b1)),
                         qv_expr__describe(r, b2, sizeof(b2)));
}

bool qv_expr__b_range(pstate *ps, term *lo, int op1, term *mid, int op2,
                      term *hi, size_t pos, term *out)
{
    char b1[64];
    if (lo->kind != TM_VAL || hi->kind != TM_VAL)
        return qv_expr__perr(ps, lo->kind != TM_VAL ? lo->pos : hi->pos,
                             "the bounds of a range like '1 < x < 5' must "
                             "be constants");
    if (op1 == TK_GT || op1 == TK_GE) { /* hi > x > lo */
        term *t = lo;
        lo = hi;
        hi = t;
        int o = op1;
        op1 = op2 == TK_GT ? TK_LT : TK_LE;
        op2 = o == TK_GT ? TK_LT : TK_LE;
    }
    if (mid->col.type == QV_DT_ARRAY && mid->col.npath == 0)
        return qv_expr__perr(ps, mid->pos, "%s cannot be used in a range",
                             qv_expr__describe(mid, b1, sizeof(b1)));
    qv_expr_value vl, vh;
    term *bad = NULL;
    if (!qv_expr__cast(mid->dt, &lo->val, &vl) || vl.kind == QV_EXPR_ARRAY ||
        vl.kind == QV_EXPR_BOOL)
        bad = lo;
    else if (!qv_expr__cast(mid->dt, &hi->val, &vh) ||
             vh.kind == QV_EXPR_ARRAY || vh.kind == QV_EXPR_BOOL ||
             (vl.kind == QV_EXPR_STR) != (vh.kind == QV_EXPR_STR))
        bad = hi;
    if (bad) {
        char b2[64];
        return qv_expr__perr(ps, bad->pos, "range bound %s does not fit %s",
                             qv_expr__describe(bad, b2, sizeof(b2)),
                             qv_expr__describe(mid, b1, sizeof(b1)));
    }
    qv_expr_node *n = node(ps, QV_XN_RANGE);
    n->col = mid->col;
    n->v = vl;
    n->v2 = vh;
    n->flags = (uint8_t)((op1 == TK_LE ? QV_RANGE_LO_INCL : 0) |
                         (op2 == TK_LE ? QV_RANGE_HI_INCL : 0));
    qv_expr__set_pred(out, n, pos);
    return true;
}

/* ---- arithmetic -------------------------------------------------------- */

static bool is_num(const qv_expr_value *v)
{
    return v->kind == QV_EXPR_INT || v->kind == QV_EXPR_FLOAT;
}

static double as_f(const qv_expr_value *v)
{
    return v->kind == QV_EXPR_INT ? (double)v->u.i : v->u.f;
}

static bool fold_int(pstate *ps, int tk, int64_t a, int64_t b, size_t pos,
                     int64_t *res)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (tk) {
    case TK_ADD:
        *res = (int64_t)(ua + ub);
        return true;
    case TK_SUB:
        *res = (int64_t)(ua - ub);
        return true;
    case TK_MUL:
        *res = (int64_t)(ua * ub);
        return true;
    case TK_DIV:
    case TK_MOD:
        if (b == 0)
            return qv_expr__perr(ps, pos, "division or modulo by zero");
        if (a == INT64_MIN && b == -1)
            *res = tk == TK_DIV ? INT64_MIN : 0;
        else
            *res = tk == TK_DIV ? a / b : a % b;
        return true;
    case TK_SHL:
    case TK_SHR:
        if (b < 0 || b > 63)
            return qv_expr__perr(ps, pos, "shift count must be in [0, 63]");
        *res = tk == TK_SHL ? (int64_t)(ua << b) : a >> b;
        return true;
    case TK_BAND:
        *res = a & b;
        return true;
    case TK_BOR:
        *res = a | b;
        return true;
    default:
        *res = a ^ b;
        return true;
    }
}

static bool fold_arith(pstate *ps, int tk, term *l, term *r, size_t pos,
                       term *out)
{
    char b1[64], b2[64];
    qv_expr_value v = {0};
    if (!is_num(&l->val) || !is_num(&r->val))
        return qv_expr__perr(ps, pos, "%s cannot be applied to %s and %s",
                             qv_expr__tok_text(tk),
                             qv_expr__describe(l, b1, sizeof(b1)),
                             qv_expr__describe(r, b2, sizeof(b2)));
    bool ints = l->val.kind == QV_EXPR_INT && r->val.kind == QV_EXPR_INT;
    bool int_only = tk == TK_MOD || tk == TK_SHL || tk == TK_SHR ||
                    tk == TK_BAND || tk == TK_BOR || tk == TK_BXOR;
    if (int_only && !ints)
        return qv_expr__perr(ps, pos, "%s needs integer operands",
                             qv_expr__tok_text(tk));
    if (tk == TK_POW) {
        v.kind = QV_EXPR_FLOAT;
        v.u.f = pow(as_f(&l->val), as_f(&r->val));
    } else if (ints) {
        v.kind = QV_EXPR_INT;
        if (!fold_int(ps, tk, l->val.u.i, r->val.u.i, pos, &v.u.i))
            return false;
    } else {
        double a = as_f(&l->val), b = as_f(&r->val);
        v.kind = QV_EXPR_FLOAT;
        if (tk == TK_DIV && b == 0)
            return qv_expr__perr(ps, pos, "division by zero");
        v.u.f = tk == TK_ADD   ? a + b
                : tk == TK_SUB ? a - b
                : tk == TK_MUL ? a * b
                               : a / b;
    }
    set_val(out, v, pos);
    return true;
}

static int arith_op(int tk)
{
    switch (tk) {
    case TK_ADD:
        return QV_AR_ADD;
    case TK_SUB:
        return QV_AR_SUB;
    case TK_MUL:
        return QV_AR_MUL;
    case TK_DIV:
        return QV_AR_DIV;
    case TK_MOD:
        return QV_AR_MOD;
    default:
        return 0;
    }
}

bool qv_expr__b_arith(pstate *ps, int tk, term *l, term *r, size_t pos,
                      term *out)
{
    char b1[64], b2[64];
    if (l->kind == TM_VAL && r->kind == TM_VAL)
        return fold_arith(ps, tk, l, r, pos, out);
    int aop = arith_op(tk);
    if (!aop)
        return qv_expr__perr(ps, pos,
                             "%s is only supported between constants%s",
                             qv_expr__tok_text(tk),
                             tk == TK_BAND || tk == TK_BOR
                                 ? "; use 'and' / 'or' to combine conditions"
                                 : "");
    if (l->kind == TM_VAL && r->kind == TM_COL &&
        (aop == QV_AR_ADD || aop == QV_AR_MUL)) {
        term *t = l;
        l = r;
        r = t;
    }
    if (l->kind != TM_COL || r->kind != TM_VAL)
        return qv_expr__perr(ps, pos,
                             "arithmetic is only supported as "
                             "'field op constant' compared with a "
                             "constant, like 'a + 1 == 2'");
    bool num_col = qv_expr__is_int_type(l->dt) ||
                   qv_expr__is_float_type(l->dt) || l->dt == QV_DT_JSON;
    if (!num_col || (l->col.type == QV_DT_ARRAY && l->col.npath == 0))
        return qv_expr__perr(ps, pos, "%s cannot be applied to %s",
                             qv_expr__tok_text(tk),
                             qv_expr__describe(l, b1, sizeof(b1)));
    qv_expr_value v;
    if (l->dt == QV_DT_JSON ? !is_num(&r->val)
                            : !qv_expr__cast(l->dt, &r->val, &v))
        return qv_expr__perr(ps, r->pos, "%s cannot be applied to %s and %s",
                             qv_expr__tok_text(tk),
                             qv_expr__describe(l, b1, sizeof(b1)),
                             qv_expr__describe(r, b2, sizeof(b2)));
    if (l->dt == QV_DT_JSON)
        v = r->val;
    if (aop == QV_AR_MOD &&
        (qv_expr__is_float_type(l->dt) || v.kind != QV_EXPR_INT))
        return qv_expr__perr(ps, pos, "'%%' needs integer operands");
    if ((aop == QV_AR_DIV || aop == QV_AR_MOD) &&
        ((v.kind == QV_EXPR_INT && v.u.i == 0) ||
         (v.kind == QV_EXPR_FLOAT && v.u.f == 0)))
        return qv_expr__perr(ps, r->pos, "division or modulo by zero");
    term res = *l;
    res.kind = TM_ARITH;
    res.aop = (uint8_t)aop;
    res.val = v;
    res.pos = pos;
    *out = res;
    return true;
}

/* ---- logic ------------------------------------------------------------- */

/* A boolean operand as a predicate node. */
static bool to_pred(pstate *ps, term *x, const char *op, qv_expr_node **out)
{
    char b1[64];
    if (x->kind == TM_PRED) {
        *out = x->pred;
        return true;
    }
    if (x->kind == TM_VAL && x->val.kind == QV_EXPR_BOOL) {
        *out = node(ps, x->val.u.b ? QV_XN_TRUE : QV_XN_FALSE);
        return true;
    }
    if (x->kind == TM_COL && x->dt == QV_DT_BOOL) {
        qv_expr_node *n = node(ps, QV_XN_CMP);
        n->op = QV_CMP_EQ;
        n->col = x->col;
        n->v = vbool(true);
        *out = n;
        return true;
    }
    if (x->kind == TM_COL && x->dt == QV_DT_JSON) {
        return qv_expr__perr(ps, x->pos,
                             "%s needs a boolean, but %s may "
                             "hold anything; compare it with a "
                             "value, like '== true'",
                             op, qv_expr__describe(x, b1, sizeof(b1)));
    }
    return qv_expr__perr(ps, x->pos, "%s needs a boolean operand, got %s", op,
                         qv_expr__describe(x, b1, sizeof(b1)));
}

bool qv_expr__b_unary(pstate *ps, int tk, term *x, size_t pos, term *out)
{
    char b1[64];
    if (tk == TK_NOT) {
        if (x->kind == TM_VAL && x->val.kind == QV_EXPR_BOOL) {
            set_val(out, vbool(!x->val.u.b), pos);
            return true;
        }
        if (x->kind != TM_PRED && !(x->kind == TM_COL && x->dt == QV_DT_BOOL))
            return qv_expr__perr(ps, pos,
                                 "'not' needs a boolean operand, "
                                 "got %s (write 'not (...)' to "
                                 "negate a comparison)",
                                 qv_expr__describe(x, b1, sizeof(b1)));
        qv_expr_node *k;
        if (!to_pred(ps, x, "'not'", &k))
            return false;
        if (qv_expr__has_sample(k))
            return qv_expr__perr(ps, ps->sample_pos,
                                 "random_sample cannot be negated");
        if (k->kind == QV_XN_NOT) { /* not not x == x */
            qv_expr__set_pred(out, k->kids[0], pos);
            return true;
        }
        qv_expr_node *n = node(ps, QV_XN_NOT);
        n->kids = qv_arena_alloc(&ps->plan->arena, sizeof(qv_expr_node *));
        n->kids[0] = k;
        n->nkids = 1;
        qv_expr__set_pred(out, n, pos);
        return true;
    }
    if (x->kind != TM_VAL || !is_num(&x->val) ||
        (tk == TK_BNOT && x->val.kind != QV_EXPR_INT))
        return qv_expr__perr(ps, pos,
                             "unary %s is only supported on "
                             "numeric constants, got %s",
                             qv_expr__tok_text(tk),
                             qv_expr__describe(x, b1, sizeof(b1)));
    qv_expr_value v = x->val;
    if (tk == TK_SUB) {
        if (v.kind == QV_EXPR_INT)
            v.u.i = (int64_t)(0 - (uint64_t)v.u.i);
        else
            v.u.f = -v.u.f;
    } else if (tk == TK_BNOT) {
        v.u.i = ~v.u.i;
    }
    set_val(out, v, pos);
    return true;
}

static void add_kid(pstate *ps, qv_expr_node *n, qv_expr_node *k)
{
    if (k->kind == n->kind) { /* flatten (a and b) and c */
        for (uint32_t i = 0; i < k->nkids; i++)
            add_kid(ps, n, k->kids[i]);
        return;
    }
    qv_expr_node **kids = qv_arena_alloc(
        &ps->plan->arena, (n->nkids + 1) * sizeof(qv_expr_node *));
    if (n->nkids)
        memcpy(kids, n->kids, n->nkids * sizeof(qv_expr_node *));
    kids[n->nkids++] = k;
    n->kids = kids;
}

bool qv_expr__b_logic(pstate *ps, int tk, term *l, term *r, size_t pos,
                      term *out)
{
    const char *name = tk == TK_AND ? "'and'" : "'or'";
    qv_expr_node *a = NULL, *b = NULL;
    if (!to_pred(ps, l, name, &a) || !to_pred(ps, r, name, &b) || !a || !b)
        return false;
    if (tk == TK_OR && (qv_expr__has_sample(a) || qv_expr__has_sample(b)))
        return qv_expr__perr(ps, ps->sample_pos,
                             "random_sample can only be "
                             "joined to the filter with "
                             "'and' at the top level");
    int absorb = tk == TK_AND ? QV_XN_FALSE : QV_XN_TRUE;
    int ident = tk == TK_AND ? QV_XN_TRUE : QV_XN_FALSE;
    if (a->kind == absorb || b->kind == absorb) {
        qv_expr__set_pred(out, node(ps, absorb), pos);
        return true;
    }
    if (a->kind == ident) {
        qv_expr__set_pred(out, b, pos);
        return true;
    }
    if (b->kind == ident) {
        qv_expr__set_pred(out, a, pos);
        return true;
    }
    qv_expr_node *n = node(ps, tk == TK_AND ? QV_XN_AND : QV_XN_OR);
    add_kid(ps, n, a);
    add_kid(ps, n, b);
    qv_expr__set_pred(out, n, pos);
    return true;
}

bool qv_expr__b_root(pstate *ps, term *x, qv_expr_node **out)
{
    char b1[64];
    if (x->kind == TM_COL && x->dt != QV_DT_BOOL)
        return qv_expr__perr(ps, x->pos,
                             "the filter must be a boolean "
                             "expression, got %s",
                             qv_expr__describe(x, b1, sizeof(b1)));
    return to_pred(ps, x, "the filter", out);
}
