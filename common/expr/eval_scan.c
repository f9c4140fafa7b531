/* eval_scan.c -- leaves over typed (non-JSON) columns.
 *
 * The common cases -- comparisons, ranges and `in` on numeric and VarChar
 * columns, `like` on VarChar -- run as tight loops that build 64 result
 * bits at a time.  Array elements and field-to-field comparisons go
 * through a generic per-row path.
 *
 * Comparison domains (Milvus's): integer fields compare as Int64, Float
 * fields as float32 (the constant is rounded to float), Double as double,
 * strings bytewise.  Arithmetic runs in Int64 (wrapping) for integer
 * fields and in double for Float/Double fields.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr/eval_int.h"
#include "common/banned.h"

#define SMALL_LIST 8

/* ---- sets -------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n * 2)
        c <<= 1;
    return c;
}

static inline size_t ihash(int64_t v, size_t mask)
{
    return (size_t)(((uint64_t)v * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static void iset_build(qv_arena *a, ev_iset *s, const int64_t *v, size_t n)
{
    size_t cap = pow2_at_least(n);
    s->slots = qv_arena_calloc(a, cap, sizeof(int64_t));
    s->used = qv_arena_calloc(a, cap, 1);
    s->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t h = ihash(v[i], s->mask);
        while (s->used[h] && s->slots[h] != v[i])
            h = (h + 1) & s->mask;
        s->used[h] = 1;
        s->slots[h] = v[i];
    }
}

static inline bool iset_has(const ev_iset *s, int64_t v)
{
    size_t h = ihash(v, s->mask);
    while (s->used[h]) {
        if (s->slots[h] == v)
            return true;
        h = (h + 1) & s->mask;
    }
    return false;
}

/* A word-at-a-time string hash (the sets live only for one evaluation). */
static inline uint64_t str_hash(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    uint64_t w = 0;
    if (n >= 8) {
        const char *end = p + n;
        while ((size_t)(end - p) > 8) {
            memcpy(&w, p, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
            p += 8;
        }
        memcpy(&w, end - 8, 8); /* the last 8 bytes, overlapping */
    } else {
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

void qv_expr__sset_build(qv_arena *a, ev_sset *s, const qv_expr_value *list)
{
    size_t n = list->u.a.n, cap = pow2_at_least(n);
    s->slots = qv_arena_calloc(a, cap, sizeof(const qv_expr_value *));
    s->hashes = qv_arena_calloc(a, cap, sizeof(uint64_t));
    s->mask = cap - 1;
    s->minlen = SIZE_MAX;
    s->maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        const qv_expr_value *v = &list->u.a.items[i];
        if (v->kind != QV_EXPR_STR)
            continue;
        if (v->u.s.len < s->minlen)
            s->minlen = v->u.s.len;
        if (v->u.s.len > s->maxlen)
            s->maxlen = v->u.s.len;
        uint64_t hv = str_hash(v->u.s.ptr, v->u.s.len);
        size_t h = (size_t)hv & s->mask;
        while (s->slots[h])
            h = (h + 1) & s->mask;
        s->slots[h] = v;
        s->hashes[h] = hv;
    }
}

bool qv_expr__sset_has(const ev_sset *s, const char *p, size_t len)
{
    if (len < s->minlen || len > s->maxlen)
        return false;
    uint64_t hv = str_hash(p, len);
    size_t h = (size_t)hv & s->mask;
    while (s->slots[h]) {
        const qv_expr_value *v = s->slots[h];
        if (s->hashes[h] == hv && v->u.s.len == len &&
            (len == 0 || memcmp(v->u.s.ptr, p, len) == 0))
            return true;
        h = (h + 1) & s->mask;
    }
    return false;
}

/* ---- preparation ------------------------------------------------------- */

static qv_dtype value_type(const enode *e)
{
    const qv_expr_colref *c = &e->n->col;
    return c->type == QV_DT_ARRAY ? c->elem_type : c->type;
}

static double round_for(qv_dtype t, double f)
{
    return t == QV_DT_FLOAT ? (double)(float)f : f;
}

static void prepare_list(ectx *x, enode *e, const qv_expr_value *list)
{
    qv_dtype t = value_type(e);
    size_t n = list->u.a.n;
    e->nlist = n;
    if (qv_expr__is_int_type(t) || t == QV_DT_BOOL) {
        e->ilist = qv_arena_calloc(&x->arena, n ? n : 1, sizeof(int64_t));
        for (size_t i = 0; i < n; i++)
            e->ilist[i] = t == QV_DT_BOOL ? list->u.a.items[i].u.b
                                          : list->u.a.items[i].u.i;
        if (n > SMALL_LIST)
            iset_build(&x->arena, &e->iset, e->ilist, n);
    } else if (qv_expr__is_float_type(t)) {
        e->flist = qv_arena_calloc(&x->arena, n ? n : 1, sizeof(double));
        for (size_t i = 0; i < n; i++)
            e->flist[i] = round_for(t, list->u.a.items[i].u.f);
    } else if (t == QV_DT_VARCHAR) {
        qv_expr__sset_build(&x->arena, &e->sset, list);
    }
}

void qv_expr__scan_prepare(ectx *x, enode *e)
{
    const qv_expr_node *n = e->n;
    qv_dtype t = value_type(e);
    if (n->col.type == QV_DT_ARRAY && n->col.npath == 1) {
        const qv_expr_str *s = &n->col.path[0];
        size_t idx = 0;
        for (size_t i = 0; i < s->len; i++)
            idx = idx * 10 + (size_t)(s->ptr[i] - '0');
        e->arr_index = idx;
    }
    if (n->v.kind == QV_EXPR_INT)
        e->iv = n->v.u.i;
    else if (n->v.kind == QV_EXPR_BOOL)
        e->iv = n->v.u.b;
    else if (n->v.kind == QV_EXPR_FLOAT)
        e->fv = n->kind == QV_XN_ARITH ? n->v.u.f : round_for(t, n->v.u.f);
    if (n->v2.kind == QV_EXPR_INT)
        e->iv2 = n->v2.u.i;
    else if (n->v2.kind == QV_EXPR_FLOAT)
        e->fv2 = n->kind == QV_XN_ARITH ? n->v2.u.f : round_for(t, n->v2.u.f);
    if (n->kind == QV_XN_IN ||
        (n->kind == QV_XN_CONTAINS && n->flags != QV_CONTAINS_ONE))
        prepare_list(x, e, &n->v);
}

/* ---- tight loops ------------------------------------------------------- */

#define BITLOOP(T, COND)                                                       \
    do {                                                                       \
        const T *base_ = (const T *)(const void *)c->data + row0;              \
        for (size_t w = 0; w * 64 < n; w++) {                                  \
            size_t m = n - w * 64 < 64 ? n - w * 64 : 64;                      \
            const T *xs = base_ + w * 64;                                      \
            uint64_t bits = 0;                                                 \
            for (size_t j = 0; j < m; j++) {                                   \
                T X = xs[j];                                                   \
                bits |= (uint64_t)(COND) << j;                                 \
            }                                                                  \
            t[w] = bits;                                                       \
        }                                                                      \
    } while (0)

#define CMP_OPS(T, V)                                                          \
    do {                                                                       \
        switch (op) {                                                          \
        case QV_CMP_EQ:                                                        \
            BITLOOP(T, X == (V));                                              \
            break;                                                             \
        case QV_CMP_NE:                                                        \
            BITLOOP(T, X != (V));                                              \
            break;                                                             \
        case QV_CMP_LT:                                                        \
            BITLOOP(T, X < (V));                                               \
            break;                                                             \
        case QV_CMP_LE:                                                        \
            BITLOOP(T, X <= (V));                                              \
            break;                                                             \
        case QV_CMP_GT:                                                        \
            BITLOOP(T, X > (V));                                               \
            break;                                                             \
        default:                                                               \
            BITLOOP(T, X >= (V));                                              \
        }                                                                      \
    } while (0)

#define RANGE_OPS(T, LO, HI)                                                   \
    do {                                                                       \
        switch (fl) {                                                          \
        case 0:                                                                \
            BITLOOP(T, (X > (LO)) & (X < (HI)));                               \
            break;                                                             \
        case QV_RANGE_LO_INCL:                                                 \
            BITLOOP(T, (X >= (LO)) & (X < (HI)));                              \
            break;                                                             \
        case QV_RANGE_HI_INCL:                                                 \
            BITLOOP(T, (X > (LO)) & (X <= (HI)));                              \
            break;                                                             \
        default:                                                               \
            BITLOOP(T, (X >= (LO)) & (X <= (HI)));                             \
        }                                                                      \
    } while (0)

/* NOLINTNEXTLINE(readability-function-size): macro-expanded loops */
static void cmp_num(const qv_col_view *c, size_t row0, size_t n, int op,
                    int64_t iv, double fv, uint64_t *t)
{
    switch (c->type) {
    case QV_DT_BOOL:
        CMP_OPS(uint8_t, iv);
        break;
    case QV_DT_INT8:
        CMP_OPS(int8_t, iv);
        break;
    case QV_DT_INT16:
        CMP_OPS(int16_t, iv);
        break;
    case QV_DT_INT32:
        CMP_OPS(int32_t, iv);
        break;
    case QV_DT_INT64:
        CMP_OPS(int64_t, iv);
        break;
    case QV_DT_FLOAT: {
        float f = (float)fv;
        CMP_OPS(float, f);
        break;
    }
    default:
        CMP_OPS(double, fv);
    }
}

/* NOLINTNEXTLINE(readability-function-size): macro-expanded loops */
/* Integer ranges as one unsigned compare: lo <= x <= hi  <=>
 * (uint64)(x - lo) <= (uint64)(hi - lo), after making both bounds
 * inclusive.  False (empty range) leaves t cleared. */
static bool int_range_bounds(const enode *e, int fl, int64_t *lo,
                             uint64_t *span)
{
    int64_t a = e->iv, b = e->iv2;
    if (!(fl & QV_RANGE_LO_INCL)) {
        if (a == INT64_MAX)
            return false;
        a++;
    }
    if (!(fl & QV_RANGE_HI_INCL)) {
        if (b == INT64_MIN)
            return false;
        b--;
    }
    if (a > b)
        return false;
    *lo = a;
    *span = (uint64_t)b - (uint64_t)a;
    return true;
}

static void range_num(const qv_col_view *c, size_t row0, size_t n, int fl,
                      const enode *e, uint64_t *t)
{
    int64_t lo = 0;
    uint64_t span = 0;
    if (qv_expr__is_int_type(c->type) && !int_range_bounds(e, fl, &lo, &span))
        return; /* empty range: t is already clear */
    uint64_t ulo = (uint64_t)lo;
    switch (c->type) {
    case QV_DT_INT8:
        BITLOOP(int8_t, (uint64_t)(int64_t)X - ulo <= span);
        break;
    case QV_DT_INT16:
        BITLOOP(int16_t, (uint64_t)(int64_t)X - ulo <= span);
        break;
    case QV_DT_INT32:
        BITLOOP(int32_t, (uint64_t)(int64_t)X - ulo <= span);
        break;
    case QV_DT_INT64:
        BITLOOP(int64_t, (uint64_t)X - ulo <= span);
        break;
    case QV_DT_FLOAT: {
        float flo = (float)e->fv, fhi = (float)e->fv2;
        RANGE_OPS(float, flo, fhi);
        break;
    }
    default:
        RANGE_OPS(double, e->fv, e->fv2);
    }
}

static inline bool in_int(const enode *e, int64_t x)
{
    if (e->nlist <= SMALL_LIST) {
        bool hit = false;
        for (size_t k = 0; k < e->nlist; k++)
            hit |= e->ilist[k] == x;
        return hit;
    }
    return iset_has(&e->iset, x);
}

static inline bool in_flt(const enode *e, double x)
{
    size_t lo = 0, hi = e->nlist;
    while (lo < hi) { /* the list is sorted */
        size_t mid = (lo + hi) / 2;
        if (e->flist[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->nlist && e->flist[lo] == x;
}

/* NOLINTNEXTLINE(readability-function-size): macro-expanded loops */
static void in_num(const qv_col_view *c, size_t row0, size_t n, const enode *e,
                   uint64_t *t)
{
    switch (c->type) {
    case QV_DT_BOOL:
        BITLOOP(uint8_t, in_int(e, X != 0));
        break;
    case QV_DT_INT8:
        BITLOOP(int8_t, in_int(e, X));
        break;
    case QV_DT_INT16:
        BITLOOP(int16_t, in_int(e, X));
        break;
    case QV_DT_INT32:
        BITLOOP(int32_t, in_int(e, X));
        break;
    case QV_DT_INT64:
        BITLOOP(int64_t, in_int(e, X));
        break;
    case QV_DT_FLOAT:
        BITLOOP(float, in_flt(e, X));
        break;
    default:
        BITLOOP(double, in_flt(e, X));
    }
}

static inline int64_t arith_i(int aop, int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (aop) {
    case QV_AR_ADD:
        return (int64_t)(ua + ub);
    case QV_AR_SUB:
        return (int64_t)(ua - ub);
    case QV_AR_MUL:
        return (int64_t)(ua * ub);
    case QV_AR_DIV:
        return (a == INT64_MIN && b == -1) ? INT64_MIN : a / b;
    default:
        return (a == INT64_MIN && b == -1) ? 0 : a % b;
    }
}

static inline double arith_f(int aop, double a, double b)
{
    switch (aop) {
    case QV_AR_ADD:
        return a + b;
    case QV_AR_SUB:
        return a - b;
    case QV_AR_MUL:
        return a * b;
    default:
        return a / b;
    }
}

static inline bool cmp_i(int op, int64_t a, int64_t b)
{
    switch (op) {
    case QV_CMP_EQ:
        return a == b;
    case QV_CMP_NE:
        return a != b;
    case QV_CMP_LT:
        return a < b;
    case QV_CMP_LE:
        return a <= b;
    case QV_CMP_GT:
        return a > b;
    default:
        return a >= b;
    }
}

static inline bool cmp_f(int op, double a, double b)
{
    switch (op) {
    case QV_CMP_EQ:
        return a == b;
    case QV_CMP_NE:
        return a != b;
    case QV_CMP_LT:
        return a < b;
    case QV_CMP_LE:
        return a <= b;
    case QV_CMP_GT:
        return a > b;
    default:
        return a >= b;
    }
}

/* NOLINTNEXTLINE(readability-function-size): macro-expanded loops */
static void arith_num(const qv_col_view *c, size_t row0, size_t n,
                      const enode *e, uint64_t *t)
{
    int aop = e->n->aop, op = e->n->op;
    int64_t iv = e->iv, iv2 = e->iv2;
    double fv = e->fv, fv2 = e->fv2;
    switch (c->type) {
    case QV_DT_INT8:
        BITLOOP(int8_t, cmp_i(op, arith_i(aop, X, iv2), iv));
        break;
    case QV_DT_INT16:
        BITLOOP(int16_t, cmp_i(op, arith_i(aop, X, iv2), iv));
        break;
    case QV_DT_INT32:
        BITLOOP(int32_t, cmp_i(op, arith_i(aop, X, iv2), iv));
        break;
    case QV_DT_INT64:
        BITLOOP(int64_t, cmp_i(op, arith_i(aop, X, iv2), iv));
        break;
    case QV_DT_FLOAT:
        BITLOOP(float, cmp_f(op, arith_f(aop, (double)X, fv2), fv));
        break;
    default:
        BITLOOP(double, cmp_f(op, arith_f(aop, X, fv2), fv));
    }
}

/* ---- strings ----------------------------------------------------------- */

static inline int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

static inline bool cmp_c(int op, int c)
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

/* Does string s satisfy the node (CMP, RANGE, IN, LIKE on strings)? */
static inline bool str_pred(const enode *e, const char *s, size_t len)
{
    const qv_expr_node *nd = e->n;
    const char *v = nd->v.u.s.ptr;
    size_t vl = nd->v.u.s.len;
    switch (nd->kind) {
    case QV_XN_CMP:
        if (nd->op == QV_CMP_EQ)
            return len == vl && (vl == 0 || memcmp(s, v, vl) == 0);
        return cmp_c(nd->op, bytes_cmp(s, len, v, vl));
    case QV_XN_RANGE: {
        int a = bytes_cmp(s, len, v, vl);
        int b = bytes_cmp(s, len, nd->v2.u.s.ptr, nd->v2.u.s.len);
        return (nd->flags & QV_RANGE_LO_INCL ? a >= 0 : a > 0) &&
               (nd->flags & QV_RANGE_HI_INCL ? b <= 0 : b < 0);
    }
    case QV_XN_IN:
        return e->nlist && qv_expr__sset_has(&e->sset, s, len);
    default: /* LIKE */
        switch (nd->flags) {
        case QV_LIKE_EQ:
            return len == vl && (vl == 0 || memcmp(s, v, vl) == 0);
        case QV_LIKE_PREFIX:
            return len >= vl && (vl == 0 || memcmp(s, v, vl) == 0);
        case QV_LIKE_SUFFIX:
            return len >= vl && (vl == 0 || memcmp(s + len - vl, v, vl) == 0);
        case QV_LIKE_INFIX:
            return vl == 0 || (len >= vl && memmem(s, len, v, vl) != NULL);
        default:
            return qv_expr__like_match(v, vl, s, len);
        }
    }
}

static void scan_varchar(const enode *e, size_t row0, size_t n, uint64_t *t)
{
    const qv_col_view *c = e->c;
    const uint64_t *off = c->offsets + row0;
    const char *data = (const char *)c->data;
    const qv_expr_node *nd = e->n;
    const char *v = nd->v.u.s.ptr;
    size_t vl = nd->v.u.s.len;
    /* the hot forms get their own loops; the rest go through str_pred */
    if (nd->kind == QV_XN_IN) {
        if (!e->nlist)
            return;
        for (size_t j = 0; j < n; j++)
            ev_setbit(t, j,
                      qv_expr__sset_has(&e->sset, data + off[j],
                                        (size_t)(off[j + 1] - off[j])));
    } else if ((nd->kind == QV_XN_CMP && nd->op == QV_CMP_EQ) ||
               (nd->kind == QV_XN_LIKE && nd->flags == QV_LIKE_EQ)) {
        for (size_t j = 0; j < n; j++)
            ev_setbit(t, j,
                      off[j + 1] - off[j] == vl &&
                          (vl == 0 || memcmp(data + off[j], v, vl) == 0));
    } else if (nd->kind == QV_XN_LIKE && nd->flags == QV_LIKE_PREFIX) {
        for (size_t j = 0; j < n; j++)
            ev_setbit(t, j,
                      off[j + 1] - off[j] >= vl &&
                          (vl == 0 || memcmp(data + off[j], v, vl) == 0));
    } else {
        for (size_t j = 0; j < n; j++)
            ev_setbit(
                t, j,
                str_pred(e, data + off[j], (size_t)(off[j + 1] - off[j])));
    }
}

/* ---- generic per-row path (array elements, two columns, arrays) ------- */

typedef struct sv {
    int k; /* QV_EXPR_INT (ints, bools), QV_EXPR_FLOAT, QV_EXPR_STR */
    int64_t i;
    double f;
    const char *s;
    size_t len;
} sv;

static sv fetch_col(const qv_col_view *c, size_t r)
{
    sv x = {0};
    if (c->type == QV_DT_VARCHAR) {
        x.k = QV_EXPR_STR;
        x.s = (const char *)qv_col_var(c, r, &x.len);
    } else if (c->type == QV_DT_FLOAT || c->type == QV_DT_DOUBLE) {
        x.k = QV_EXPR_FLOAT;
        x.f = c->type == QV_DT_FLOAT ? (double)qv_col_f32(c, r)
                                     : qv_col_f64(c, r);
    } else {
        x.k = QV_EXPR_INT;
        x.i = qv_col_get_int(c, r);
    }
    return x;
}

static sv fetch_elem(const qv_col_view *c, size_t r, size_t j)
{
    sv x = {0};
    qv_dtype et = c->elem_type;
    if (et == QV_DT_VARCHAR) {
        x.k = QV_EXPR_STR;
        x.s = qv_col_arr_str(c, r, j, &x.len);
    } else if (et == QV_DT_FLOAT || et == QV_DT_DOUBLE) {
        x.k = QV_EXPR_FLOAT;
        x.f = qv_col_arr_float(c, r, j);
    } else {
        x.k = QV_EXPR_INT;
        x.i = qv_col_arr_int(c, r, j);
    }
    return x;
}

/* The node's (prepared) constant v as an sv of kind k. */
static sv node_sv(const enode *e, const qv_expr_value *v, int k, bool second)
{
    sv x = {.k = k};
    if (k == QV_EXPR_STR) {
        x.s = v->u.s.ptr;
        x.len = v->u.s.len;
    } else if (k == QV_EXPR_FLOAT) {
        x.f = second ? e->fv2 : e->fv;
    } else {
        x.i = second ? e->iv2 : e->iv;
    }
    return x;
}

/* Three-way compare of same-kind svs; 2 = unordered (NaN). */
static int sv_cmp(const sv *a, const sv *b)
{
    if (a->k == QV_EXPR_STR) {
        int c = bytes_cmp(a->s, a->len, b->s, b->len);
        return (c > 0) - (c < 0); /* 2 means unordered */
    }
    if (a->k == QV_EXPR_INT && b->k == QV_EXPR_INT)
        return (a->i > b->i) - (a->i < b->i);
    double x = a->k == QV_EXPR_INT ? (double)a->i : a->f;
    double y = b->k == QV_EXPR_INT ? (double)b->i : b->f;
    if (isnan(x) || isnan(y))
        return 2;
    return (x > y) - (x < y);
}

static bool sv_op(int op, int c)
{
    if (c == 2)
        return op == QV_CMP_NE;
    return cmp_c(op, c);
}

/* The node's predicate on one fetched value x. */
static bool sv_pred(const enode *e, const sv *x)
{
    const qv_expr_node *nd = e->n;
    if (x->k == QV_EXPR_STR &&
        (nd->kind == QV_XN_CMP || nd->kind == QV_XN_RANGE ||
         nd->kind == QV_XN_IN || nd->kind == QV_XN_LIKE))
        return str_pred(e, x->s, x->len);
    switch (nd->kind) {
    case QV_XN_CMP: {
        sv v = node_sv(e, &nd->v, x->k, false);
        return sv_op(nd->op, sv_cmp(x, &v));
    }
    case QV_XN_RANGE: {
        sv lo = node_sv(e, &nd->v, x->k, false);
        sv hi = node_sv(e, &nd->v2, x->k, true);
        int a = sv_cmp(x, &lo), b = sv_cmp(x, &hi);
        if (a == 2 || b == 2)
            return false;
        return (nd->flags & QV_RANGE_LO_INCL ? a >= 0 : a > 0) &&
               (nd->flags & QV_RANGE_HI_INCL ? b <= 0 : b < 0);
    }
    case QV_XN_IN:
        return x->k == QV_EXPR_INT ? in_int(e, x->i) : in_flt(e, x->f);
    case QV_XN_ARITH:
        if (x->k == QV_EXPR_INT)
            return cmp_i(nd->op, arith_i(nd->aop, x->i, e->iv2), e->iv);
        return cmp_f(nd->op, arith_f(nd->aop, x->f, e->fv2), e->fv);
    default:
        return false;
    }
}

/* Does element j of array row r equal constant v (already cast)? */
static bool elem_eq(const enode *e, size_t r, size_t j, const qv_expr_value *v)
{
    sv x = fetch_elem(e->c, r, j);
    sv y = {.k = x.k};
    if (x.k == QV_EXPR_STR) {
        y.s = v->u.s.ptr;
        y.len = v->u.s.len;
    } else if (x.k == QV_EXPR_FLOAT) {
        y.f = round_for(e->c->elem_type, v->u.f);
    } else {
        y.i = v->kind == QV_EXPR_BOOL ? v->u.b : v->u.i;
    }
    return sv_cmp(&x, &y) == 0;
}

static bool elem_in_list(const enode *e, size_t r, size_t j)
{
    sv x = fetch_elem(e->c, r, j);
    if (x.k == QV_EXPR_STR)
        return e->nlist && qv_expr__sset_has(&e->sset, x.s, x.len);
    return x.k == QV_EXPR_INT ? in_int(e, x.i) : in_flt(e, x.f);
}

static bool array_row(const enode *e, size_t r)
{
    const qv_expr_node *nd = e->n;
    size_t len = qv_col_arr_len(e->c, r);
    if (nd->kind == QV_XN_ARITH) /* array_length */
        return cmp_i(nd->op, (int64_t)len, e->iv);
    if (nd->kind == QV_XN_CMP) { /* whole array == [..] */
        bool eq = len == nd->v.u.a.n;
        for (size_t j = 0; j < len && eq; j++)
            eq = elem_eq(e, r, j, &nd->v.u.a.items[j]);
        return nd->op == QV_CMP_EQ ? eq : !eq;
    }
    /* CONTAINS */
    if (nd->flags == QV_CONTAINS_ONE) {
        for (size_t j = 0; j < len; j++)
            if (elem_eq(e, r, j, &nd->v))
                return true;
        return false;
    }
    if (nd->flags == QV_CONTAINS_ANY) {
        for (size_t j = 0; j < len; j++)
            if (elem_in_list(e, r, j))
                return true;
        return false;
    }
    for (size_t k = 0; k < nd->v.u.a.n; k++) {
        bool found = false;
        for (size_t j = 0; j < len && !found; j++)
            found = elem_eq(e, r, j, &nd->v.u.a.items[k]);
        if (!found)
            return false;
    }
    return true;
}

/* Element j of a fixed-width integer (or Bool) array row at p. */
static inline int64_t load_int(const uint8_t *p, size_t w, size_t j)
{
    switch (w) {
    case 1: {
        int8_t v;
        memcpy(&v, p + j, 1);
        return v;
    }
    case 2: {
        int16_t v;
        memcpy(&v, p + 2 * j, 2);
        return v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, p + 4 * j, 4);
        return v;
    }
    default: {
        int64_t v;
        memcpy(&v, p + 8 * j, 8);
        return v;
    }
    }
}

/* Whole-array leaves on integer/Bool elements: contains (one, any, all)
 * and array_length, straight over the row bytes. */
static bool scan_int_array(const enode *e, size_t row0, size_t n, uint64_t *t)
{
    const qv_expr_node *nd = e->n;
    const qv_col_view *c = e->c;
    qv_dtype et = c->elem_type;
    if (!(qv_expr__is_int_type(et) || et == QV_DT_BOOL) ||
        !(nd->kind == QV_XN_CONTAINS ||
          (nd->kind == QV_XN_ARITH && nd->aop == QV_AR_ARRAY_LEN)))
        return false;
    size_t w = qv_dtype_elem_width(et);
    const uint64_t *off = c->offsets;
    int64_t v = nd->kind == QV_XN_CONTAINS && nd->flags == QV_CONTAINS_ONE
                    ? (nd->v.kind == QV_EXPR_BOOL ? nd->v.u.b : nd->v.u.i)
                    : 0;
    for (size_t j = 0; j < n; j++) {
        size_t r = row0 + j;
        const uint8_t *p = c->data + off[r];
        size_t len = (size_t)(off[r + 1] - off[r]) / w;
        bool b = false;
        if (nd->kind == QV_XN_ARITH) {
            b = cmp_i(nd->op, (int64_t)len, e->iv);
        } else if (nd->flags == QV_CONTAINS_ONE && w == 8) {
            for (size_t k = 0; k < len; k++) { /* Int64: the common case */
                int64_t x;
                memcpy(&x, p + 8 * k, 8);
                b |= x == v;
            }
        } else if (nd->flags == QV_CONTAINS_ONE) {
            for (size_t k = 0; k < len && !b; k++)
                b = load_int(p, w, k) == v;
        } else if (nd->flags == QV_CONTAINS_ANY) {
            for (size_t k = 0; k < len && !b; k++)
                b = in_int(e, load_int(p, w, k));
        } else {
            b = true;
            for (size_t i = 0; i < e->nlist && b; i++) {
                bool found = false;
                for (size_t k = 0; k < len && !found; k++)
                    found = load_int(p, w, k) == e->ilist[i];
                b = found;
            }
        }
        ev_setbit(t, j, b);
    }
    return true;
}

static void scan_generic(const enode *e, size_t row0, size_t n, uint64_t *t)
{
    const qv_expr_node *nd = e->n;
    const qv_col_view *c = e->c;
    bool whole = nd->col.type == QV_DT_ARRAY && nd->col.npath == 0;
    for (size_t j = 0; j < n; j++) {
        size_t r = row0 + j;
        bool b;
        if (nd->kind == QV_XN_CMP_COLS) {
            sv x = fetch_col(c, r), y = fetch_col(e->c2, r);
            b = sv_op(nd->op, sv_cmp(&x, &y));
        } else if (whole) {
            b = array_row(e, r);
        } else { /* array element */
            if (e->arr_index >= qv_col_arr_len(c, r))
                continue;
            sv x = fetch_elem(c, r, e->arr_index);
            b = sv_pred(e, &x);
        }
        ev_setbit(t, j, b);
    }
}

static void null_test(const enode *e, size_t row0, size_t n, uint64_t *t)
{
    bool want_null = e->n->kind == QV_XN_IS_NULL;
    size_t nw = (n + 63) / 64;
    for (size_t w = 0; w < nw; w++) {
        uint64_t valid = e->c->valid ? e->c->valid[row0 / 64 + w] : ~0ull;
        size_t left = n - w * 64;
        uint64_t m = left >= 64 ? ~0ull : ((1ull << left) - 1);
        t[w] = (want_null ? ~valid : valid) & m;
    }
}

void qv_expr__scan_leaf(enode *e, size_t row0, size_t n, uint64_t *t)
{
    const qv_expr_node *nd = e->n;
    const qv_col_view *c = e->c;
    if (nd->kind == QV_XN_IS_NULL || nd->kind == QV_XN_IS_NOT_NULL) {
        null_test(e, row0, n, t);
        return;
    }
    if (nd->kind == QV_XN_CMP_COLS || c->type == QV_DT_ARRAY) {
        if (c->type == QV_DT_ARRAY && nd->col.npath == 0 &&
            scan_int_array(e, row0, n, t))
            return;
        scan_generic(e, row0, n, t);
        return;
    }
    if (c->type == QV_DT_VARCHAR) {
        scan_varchar(e, row0, n, t);
        return;
    }
    switch (nd->kind) {
    case QV_XN_CMP:
        cmp_num(c, row0, n, nd->op, e->iv, e->fv, t);
        break;
    case QV_XN_RANGE:
        range_num(c, row0, n, nd->flags, e, t);
        break;
    case QV_XN_IN:
        in_num(c, row0, n, e, t);
        break;
    case QV_XN_ARITH:
        arith_num(c, row0, n, e, t);
        break;
    default:
        break;
    }
}
