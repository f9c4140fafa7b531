/* expr_refeval.c -- the reference evaluator: each atom on the plain data
 * set, row by row (see expr_ref.h). */
#include <math.h>
#include <string.h>

#include "expr_ref.h"
#include "expr_schema.h"

static int op_c(int op, int c) /* c: -1, 0, 1, or 2 = unordered */
{
    if (c == 2)
        return op == 1;
    switch (op) {
    case 0:
        return c == 0;
    case 1:
        return c != 0;
    case 2:
        return c < 0;
    case 3:
        return c <= 0;
    case 4:
        return c > 0;
    default:
        return c >= 0;
    }
}

static int cmp_i(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_d(double a, double b)
{
    if (isnan(a) || isnan(b))
        return 2;
    return (a > b) - (a < b);
}

static int cmp_s(const char *a, const char *b)
{
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}

static bool int_field(const ref_data *d, int f, size_t r, int64_t *v)
{
    switch (f) {
    case F_ID:
        *v = d->id[r];
        return true;
    case F_I8:
        *v = d->i8[r];
        return true;
    case F_I16:
        *v = d->i16[r];
        return true;
    case F_I32:
        *v = d->i32[r];
        return true;
    case F_I64:
        *v = d->i64[r];
        return true;
    case F_IN:
        *v = d->in32[r];
        return d->in32_ok[r];
    default: /* F_B */
        *v = d->b[r];
        return d->b_ok[r];
    }
}

/* Float fields compare in the field's precision. */
static double flt_field(const ref_data *d, int f, size_t r)
{
    return f == F_F ? (double)d->f[r] : d->d[r];
}

static double flt_lit(int f, double v)
{
    return f == F_F ? (double)(float)v : v;
}

static const char *str_field(const ref_data *d, int f, size_t r)
{
    if (f == F_S)
        return d->s[r];
    return d->sn_ok[r] ? d->sn[r] : NULL;
}

static size_t u8len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    return c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
}

/* LIKE: % any bytes, _ one UTF-8 character, backslash escapes. */
static bool like(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    if (*p == '%') {
        for (const char *t = s;; t += u8len(t)) {
            if (like(p + 1, t))
                return true;
            if (!*t)
                return false;
        }
    }
    if (!*s)
        return false;
    if (*p == '_')
        return like(p + 1, s + u8len(s));
    if (*p == '\\' && p[1])
        p++;
    return *p == *s && like(p + 1, s + 1);
}

static jv jpath(const ref_data *d, int path, size_t r, bool *row_ok)
{
    jv none = {0};
    *row_ok = true;
    switch (path) {
    case P_JA:
        *row_ok = d->j_ok[r];
        return d->ja[r];
    case P_JN:
        *row_ok = d->j_ok[r];
        return d->jn[r];
    case P_JOB:
        *row_ok = d->j_ok[r];
        return d->job[r];
    case P_JA0:
        *row_ok = d->j_ok[r];
        if (d->ja[r].t == JV_ARR && d->ja[r].n > 0) {
            jv e = {.t = JV_INT, .i = d->ja[r].arr[0]};
            return e;
        }
        return none;
    case P_MK:
    case P_K:
        return d->mk[r];
    default:
        return d->mtag[r];
    }
}

/* JSON value vs literal (kind in lit.t): false when kinds do not match. */
static bool jcmp(const jv *v, const jv *lit, int *c)
{
    switch (lit->t) {
    case JV_INT:
        if (v->t == JV_INT) {
            *c = cmp_i(v->i, lit->i);
            return true;
        }
        if (v->t == JV_FLT) {
            *c = cmp_d(v->f, (double)lit->i);
            return true;
        }
        return false;
    case JV_FLT:
        if (v->t != JV_INT && v->t != JV_FLT)
            return false;
        *c = cmp_d(v->t == JV_INT ? (double)v->i : v->f, lit->f);
        return true;
    case JV_STR:
        if (v->t != JV_STR)
            return false;
        *c = cmp_s(v->s, lit->s);
        return true;
    case JV_BOOL:
        if (v->t != JV_BOOL)
            return false;
        *c = (int)v->b - (int)lit->b;
        return true;
    default:
        return false;
    }
}

static bool jeq(const jv *v, const jv *lit)
{
    int c;
    return jcmp(v, lit, &c) && c == 0;
}

static int ref_json(const ref_data *d, const atom *a, size_t r)
{
    bool ok;
    jv v = jpath(d, a->op2 >> 4, r, &ok);
    if (!ok)
        return -1;
    jv lit = {0};
    int c;
    switch (a->kind) {
    case K_JCMP:
        lit = a->jlist[0];
        if (v.t == JV_MISSING || !jcmp(&v, &lit, &c))
            return a->op == 1;
        return op_c(a->op, c);
    case K_JIN:
        for (int k = 0; k < a->nlist; k++)
            if (jeq(&v, &a->jlist[k]))
                return 1;
        return 0;
    case K_EXISTS: /* present and not "empty" (null, [], all-empty) */
        return v.t != JV_MISSING && v.t != JV_NULL &&
               !(v.t == JV_ARR && v.n == 0);
    case K_JALEN:
        return v.t == JV_ARR && op_c(a->op, cmp_i(v.n, a->iv));
    case K_JARITH: {
        if (v.t != JV_INT && v.t != JV_FLT)
            return 0;
        if (v.t == JV_INT) {
            uint64_t x = (uint64_t)v.i, y = (uint64_t)a->iv2;
            int64_t res = a->op2 % 16 == 0   ? (int64_t)(x + y)
                          : a->op2 % 16 == 1 ? (int64_t)(x * y)
                                             : v.i % a->iv2;
            return op_c(a->op, cmp_i(res, a->iv));
        }
        if (a->op2 % 16 == 2) /* % needs an integer */
            return 0;
        double res =
            a->op2 % 16 == 0 ? v.f + (double)a->iv2 : v.f * (double)a->iv2;
        return op_c(a->op, cmp_d(res, (double)a->iv));
    }
    default: { /* K_JCONTAINS on j["a"]: ints */
        if (v.t != JV_ARR)
            return 0;
        int mode = a->op;
        for (int k = 0; k < a->nlist; k++) {
            bool found = false;
            for (int e = 0; e < v.n; e++)
                found |= v.arr[e] == a->ilist[k];
            if (mode != 1 && found)
                return 1;
            if (mode == 1 && !found)
                return 0;
        }
        return mode == 1;
    }
    }
}

static int arr_len(const ref_data *d, int f, size_t r)
{
    return f == F_AS    ? d->as_n[r]
           : f == F_A16 ? d->a16_n[r]
           : f == F_AF  ? d->af_n[r]
                        : d->ai_n[r];
}

static int64_t arr_int(const ref_data *d, int f, size_t r, int e)
{
    return f == F_A16 ? d->a16[r][e] : d->ai[r][e];
}

/* Element e of the row's array equals list item k of the atom. */
static bool elem_is(const ref_data *d, const atom *a, size_t r, int e, int k)
{
    if (a->field == F_AS)
        return strcmp(d->as[r][e], a->slist[k]) == 0;
    if (a->field == F_AF)
        return (double)d->af[r][e] == flt_lit(F_F, a->flist[k]);
    return arr_int(d, a->field, r, e) == a->ilist[k];
}

static int ref_array(const ref_data *d, const atom *a, size_t r)
{
    if (a->field == F_A16 && !d->a16_ok[r])
        return -1;
    int n = arr_len(d, a->field, r);
    switch (a->kind) {
    case K_ARR_LEN:
        return op_c(a->op, cmp_i(n, a->iv));
    case K_ARR_ELEM:
        if (a->iv2 >= n)
            return 0;
        if (a->field == F_AS)
            return op_c(a->op, cmp_s(d->as[r][a->iv2], a->sv));
        if (a->field == F_AF)
            return op_c(a->op,
                        cmp_d((double)d->af[r][a->iv2], flt_lit(F_F, a->fv)));
        return op_c(a->op, cmp_i(arr_int(d, a->field, r, (int)a->iv2), a->iv));
    case K_ARR_EQ: {
        bool eq = n == a->nlist;
        for (int k = 0; k < n && eq; k++)
            eq = d->ai[r][k] == a->ilist[k];
        return a->op == 0 ? eq : !eq;
    }
    default: { /* K_ARR_CONTAINS, op = mode: 0 one, 1 all, 2 any */
        for (int k = 0; k < a->nlist; k++) {
            bool found = false;
            for (int e = 0; e < n; e++)
                found |= elem_is(d, a, r, e, k);
            if (a->op != 1 && found)
                return 1;
            if (a->op == 1 && !found)
                return 0;
        }
        return a->op == 1;
    }
    }
}

static int ref_null(const ref_data *d, const atom *a, size_t r)
{
    bool is_null;
    switch (a->field) {
    case F_SN:
        is_null = !d->sn_ok[r];
        break;
    case F_IN:
        is_null = !d->in32_ok[r];
        break;
    case F_B:
        is_null = !d->b_ok[r];
        break;
    case F_J:
        is_null = !d->j_ok[r];
        break;
    case F_JA_PATH: /* the row only, as Milvus */
        is_null = !d->j_ok[r];
        break;
    default:
        is_null = false;
    }
    return a->op == 0 ? is_null : !is_null;
}

static int ref_scalar(const ref_data *d, const atom *a, size_t r)
{
    int64_t x;
    const char *s;
    switch (a->kind) {
    case K_INT_CMP:
        return int_field(d, a->field, r, &x) ? op_c(a->op, cmp_i(x, a->iv))
                                             : -1;
    case K_FLT_CMP:
        return op_c(a->op,
                    cmp_d(flt_field(d, a->field, r), flt_lit(a->field, a->fv)));
    case K_INT_RANGE:
        if (!int_field(d, a->field, r, &x))
            return -1;
        return op_c(a->op & 1 ? 5 : 4, cmp_i(x, a->iv)) &&
               op_c(a->op & 2 ? 3 : 2, cmp_i(x, a->iv2));
    case K_FLT_RANGE: {
        double v = flt_field(d, a->field, r);
        return op_c(a->op & 1 ? 5 : 4, cmp_d(v, flt_lit(a->field, a->fv))) &&
               op_c(a->op & 2 ? 3 : 2, cmp_d(v, flt_lit(a->field, a->fv2)));
    }
    case K_INT_IN: {
        if (!int_field(d, a->field, r, &x))
            return -1;
        bool hit = false;
        for (int k = 0; k < a->nlist; k++)
            hit |= a->ilist[k] == x;
        return a->op ? !hit : hit;
    }
    case K_FLT_IN: {
        double v = flt_field(d, a->field, r);
        bool hit = false;
        for (int k = 0; k < a->nlist; k++)
            hit |= v == flt_lit(a->field, a->flist[k]);
        return a->op ? !hit : hit;
    }
    default:
        break;
    }
    s = str_field(d, a->field, r);
    if (!s)
        return -1;
    switch (a->kind) {
    case K_STR_CMP:
        return op_c(a->op, cmp_s(s, a->sv));
    case K_STR_RANGE:
        return op_c(a->op & 1 ? 5 : 4, cmp_s(s, a->sv)) &&
               op_c(a->op & 2 ? 3 : 2, cmp_s(s, a->sv2));
    case K_STR_IN: {
        bool hit = false;
        for (int k = 0; k < a->nlist; k++)
            hit |= strcmp(s, a->slist[k]) == 0;
        return a->op ? !hit : hit;
    }
    default: /* K_LIKE */
        return like(a->sv, s);
    }
}

static int ref_arith(const ref_data *d, const atom *a, size_t r)
{
    if (a->kind == K_FLT_ARITH) {
        double x = flt_field(d, a->field, r), y = a->fv2;
        double res = a->op2 == 0 ? x + y : a->op2 == 1 ? x * y : x - y;
        return op_c(a->op, cmp_d(res, a->fv));
    }
    int64_t x;
    if (!int_field(d, a->field, r, &x))
        return -1;
    uint64_t ux = (uint64_t)x, uy = (uint64_t)a->iv2;
    int64_t res;
    switch (a->op2) {
    case 0:
        res = (int64_t)(ux + uy);
        break;
    case 1:
        res = (int64_t)(ux * uy);
        break;
    case 2:
        res = (int64_t)(ux - uy);
        break;
    case 3:
        res = (x == INT64_MIN && a->iv2 == -1) ? INT64_MIN : x / a->iv2;
        break;
    default:
        res = (x == INT64_MIN && a->iv2 == -1) ? 0 : x % a->iv2;
    }
    return op_c(a->op, cmp_i(res, a->iv));
}

static int ref_cols(const ref_data *d, const atom *a, size_t r)
{
    int64_t x, y;
    int f2 = (int)a->iv;
    if (a->field == F_F)
        return op_c(a->op, cmp_d((double)d->f[r], d->d[r]));
    if (a->field == F_S) {
        if (!d->sn_ok[r])
            return -1;
        return op_c(a->op, cmp_s(d->s[r], d->sn[r]));
    }
    if (!int_field(d, a->field, r, &x) || !int_field(d, f2, r, &y))
        return -1;
    return op_c(a->op, cmp_i(x, y));
}

int ref_atom(const ref_data *d, const atom *a, size_t r)
{
    switch (a->kind) {
    case K_BOOL:
        if (!d->b_ok[r])
            return -1;
        return a->op == 0 || a->op == 3 ? d->b[r] : !d->b[r];
    case K_NULL:
        return ref_null(d, a, r);
    case K_JCMP:
    case K_JIN:
    case K_EXISTS:
    case K_JCONTAINS:
    case K_JALEN:
    case K_JARITH:
        return ref_json(d, a, r);
    case K_ARR_CONTAINS:
    case K_ARR_LEN:
    case K_ARR_ELEM:
    case K_ARR_EQ:
        return ref_array(d, a, r);
    case K_ARITH:
    case K_FLT_ARITH:
        return ref_arith(d, a, r);
    case K_COLS:
        return ref_cols(d, a, r);
    default:
        return ref_scalar(d, a, r);
    }
}
