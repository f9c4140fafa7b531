/* plan_io.c -- the binary form of a filter plan.
 *
 *   header (16 bytes)
 *     0  "QVXP"      magic
 *     4  u8          format version (1)
 *     5  u8[3]       zero
 *     8  u32         body length in bytes
 *     12 u32         CRC-32C of the body
 *   body: the root node, nodes in pre-order
 *     node:  u8 kind | u8 op | u8 aop | u8 flags | parts by kind (below)
 *     parts: COL = colref, COL2 = colref, V = value, V2 = value,
 *            KIDS = u32 count, then that many nodes
 *       TRUE FALSE           -
 *       AND OR NOT           KIDS
 *       CMP IN LIKE CONTAINS COL V
 *       RANGE ARITH          COL V V2
 *       CMP_COLS             COL COL2
 *       IS_NULL IS_NOT_NULL EXISTS  COL
 *       SAMPLE               V (the ratio)
 *     colref: i64 field id | u8 type | u8 elem type | u8 nullable | u8 0 |
 *             u16 path count | path elements (u32 length, bytes)
 *     value:  u8 kind | BOOL u8 | INT i64 | FLOAT f64 bits | STR u32 length,
 *             bytes | ARRAY u32 count, values | NULL nothing
 * All integers are little-endian.  The decoder checks every length against
 * the remaining bytes, limits nesting, and then runs the same invariant
 * check as the parser (qv_expr__check), so a plan that decodes is safe to
 * evaluate.
 */
#include <string.h>

#include "common/expr/expr_int.h"
#include "common/hash.h"
#include "common/banned.h"

#define PLAN_MAGIC   "QVXP"
#define PLAN_VERSION 1
#define PLAN_HDR     16

enum { P_COL = 1, P_COL2 = 2, P_V = 4, P_V2 = 8, P_KIDS = 16 };

static int parts_of(int kind)
{
    switch (kind) {
    case QV_XN_AND:
    case QV_XN_OR:
    case QV_XN_NOT:
        return P_KIDS;
    case QV_XN_CMP:
    case QV_XN_IN:
    case QV_XN_LIKE:
    case QV_XN_CONTAINS:
        return P_COL | P_V;
    case QV_XN_RANGE:
    case QV_XN_ARITH:
        return P_COL | P_V | P_V2;
    case QV_XN_CMP_COLS:
        return P_COL | P_COL2;
    case QV_XN_IS_NULL:
    case QV_XN_IS_NOT_NULL:
    case QV_XN_EXISTS:
        return P_COL;
    case QV_XN_SAMPLE:
        return P_V;
    default:
        return 0;
    }
}

/* ---- encode ------------------------------------------------------------ */

static qv_code put(qv_buf *b, const void *p, size_t n)
{
    return qv_buf_append(b, p, n);
}

static qv_code put_u8(qv_buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    return put(b, &x, 1);
}

static qv_code put_u16(qv_buf *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return put(b, x, 2);
}

#define TRY(x)                                                                 \
    do {                                                                       \
        qv_code rc_ = (x);                                                     \
        if (rc_ != QV_OK)                                                      \
            return rc_;                                                        \
    } while (0)

static qv_code put_str(qv_buf *b, const char *p, size_t n)
{
    if (n > UINT32_MAX)
        return QV_E_INVALID;
    TRY(qv_buf_put_u32(b, (uint32_t)n));
    return n ? put(b, p, n) : QV_OK;
}

static qv_code enc_value(qv_buf *b, const qv_expr_value *v)
{
    TRY(put_u8(b, v->kind));
    switch (v->kind) {
    case QV_EXPR_BOOL:
        return put_u8(b, v->u.b);
    case QV_EXPR_INT:
        return qv_buf_put_u64(b, (uint64_t)v->u.i);
    case QV_EXPR_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->u.f, 8);
        return qv_buf_put_u64(b, bits);
    }
    case QV_EXPR_STR:
        return put_str(b, v->u.s.ptr, v->u.s.len);
    case QV_EXPR_ARRAY:
        TRY(qv_buf_put_u32(b, (uint32_t)v->u.a.n));
        for (size_t i = 0; i < v->u.a.n; i++)
            TRY(enc_value(b, &v->u.a.items[i]));
        return QV_OK;
    default:
        return QV_OK;
    }
}

static qv_code enc_col(qv_buf *b, const qv_expr_colref *c)
{
    TRY(qv_buf_put_u64(b, (uint64_t)c->field_id));
    TRY(put_u8(b, (unsigned)c->type));
    TRY(put_u8(b, (unsigned)c->elem_type));
    TRY(put_u8(b, c->nullable));
    TRY(put_u8(b, 0));
    TRY(put_u16(b, c->npath));
    for (uint32_t i = 0; i < c->npath; i++)
        TRY(put_str(b, c->path[i].ptr, c->path[i].len));
    return QV_OK;
}

static qv_code enc_node(qv_buf *b, const qv_expr_node *n)
{
    uint8_t h[4] = {n->kind, n->op, n->aop, n->flags};
    TRY(put(b, h, 4));
    int parts = parts_of(n->kind);
    if (parts & P_COL)
        TRY(enc_col(b, &n->col));
    if (parts & P_COL2)
        TRY(enc_col(b, &n->col2));
    if (parts & P_V)
        TRY(enc_value(b, &n->v));
    if (parts & P_V2)
        TRY(enc_value(b, &n->v2));
    if (parts & P_KIDS) {
        TRY(qv_buf_put_u32(b, n->nkids));
        for (uint32_t i = 0; i < n->nkids; i++)
            TRY(enc_node(b, n->kids[i]));
    }
    return QV_OK;
}

qv_code qv_expr_plan_encode(const qv_expr_plan *plan, qv_buf *out, qv_err *err)
{
    size_t start = out->len;
    qv_code rc = put(out, PLAN_MAGIC, 4);
    if (rc == QV_OK)
        rc = put(out, "\x01\0\0\0", 4);
    if (rc == QV_OK)
        rc = qv_buf_put_u64(out, 0); /* length and crc, patched below */
    if (rc == QV_OK)
        rc = enc_node(out, plan->root);
    if (rc != QV_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
        return qv_fail(err, rc, "cannot encode filter plan: %s",
                       qv_code_name(rc));
    }
    size_t body = out->len - start - PLAN_HDR;
    if (body > UINT32_MAX) {
        out->len = start;
        out->data[start] = 0;
        return qv_fail(err, QV_E_INVALID, "filter plan too large");
    }
    uint32_t len32 = (uint32_t)body;
    uint32_t crc = qv_crc32c(0, out->data + start + PLAN_HDR, body);
    memcpy(out->data + start + 8, &len32, 4);
    memcpy(out->data + start + 12, &crc, 4);
    return QV_OK;
}

/* ---- decode ------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p, *end;
    qv_expr_plan *plan;
    qv_err *err;
} rd;

static bool take(rd *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    if (n)
        memcpy(dst, r->p, n);
    r->p += n;
    return true;
}

static bool take_u8(rd *r, uint8_t *v)
{
    return take(r, v, 1);
}

static bool take_u32(rd *r, uint32_t *v)
{
    return take(r, v, 4);
}

static bool take_str(rd *r, const char **ptr, size_t *len)
{
    uint32_t n;
    if (!take_u32(r, &n) || (size_t)(r->end - r->p) < n)
        return false;
    char *s = qv_arena_alloc(&r->plan->arena, (size_t)n + 1);
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    *ptr = s;
    *len = n;
    return true;
}

static bool dec_value(rd *r, qv_expr_value *v, int depth)
{
    uint8_t k;
    if (depth > QV_EXPR_MAX_ARRAY_NEST + 1 || !take_u8(r, &k))
        return false;
    memset(v, 0, sizeof(*v));
    v->kind = (qv_expr_vkind)k;
    switch (k) {
    case QV_EXPR_NULL:
        return true;
    case QV_EXPR_BOOL: {
        uint8_t b;
        if (!take_u8(r, &b) || b > 1)
            return false;
        v->u.b = b;
        return true;
    }
    case QV_EXPR_INT:
        return take(r, &v->u.i, 8);
    case QV_EXPR_FLOAT:
        return take(r, &v->u.f, 8);
    case QV_EXPR_STR:
        return take_str(r, &v->u.s.ptr, &v->u.s.len);
    case QV_EXPR_ARRAY: {
        uint32_t n;
        /* every value takes at least one byte */
        if (!take_u32(r, &n) || n > (size_t)(r->end - r->p))
            return false;
        qv_expr_value *items =
            qv_arena_calloc(&r->plan->arena, n ? n : 1, sizeof(*items));
        for (uint32_t i = 0; i < n; i++)
            if (!dec_value(r, &items[i], depth + 1))
                return false;
        v->u.a.items = items;
        v->u.a.n = n;
        return true;
    }
    default:
        return false;
    }
}

static bool dec_col(rd *r, qv_expr_colref *c)
{
    uint8_t t, et, nl, z;
    uint16_t np;
    if (!take(r, &c->field_id, 8) || !take_u8(r, &t) || !take_u8(r, &et) ||
        !take_u8(r, &nl) || !take_u8(r, &z) || !take(r, &np, 2) || nl > 1 ||
        z != 0 || np > QV_EXPR_MAX_PATH)
        return false;
    c->type = (qv_dtype)t;
    c->elem_type = (qv_dtype)et;
    c->nullable = nl;
    c->npath = np;
    if (np) {
        c->path = qv_arena_calloc(&r->plan->arena, np, sizeof(qv_expr_str));
        for (uint16_t i = 0; i < np; i++)
            if (!take_str(r, &c->path[i].ptr, &c->path[i].len))
                return false;
    }
    return true;
}

static bool dec_node(rd *r, qv_expr_node **out, int depth)
{
    uint8_t h[4];
    if (depth > 2 * QV_EXPR_MAX_DEPTH || !take(r, h, 4) || h[0] < QV_XN_TRUE ||
        h[0] > QV_XN_KIND_MAX)
        return false;
    qv_expr_node *n = qv_expr__node(r->plan, h[0]);
    n->op = h[1];
    n->aop = h[2];
    n->flags = h[3];
    int parts = parts_of(n->kind);
    if ((parts & P_COL) && !dec_col(r, &n->col))
        return false;
    if ((parts & P_COL2) && !dec_col(r, &n->col2))
        return false;
    if ((parts & P_V) && !dec_value(r, &n->v, 0))
        return false;
    if ((parts & P_V2) && !dec_value(r, &n->v2, 0))
        return false;
    if (parts & P_KIDS) {
        uint32_t k;
        /* every node takes at least four bytes */
        if (!take_u32(r, &k) || k > (size_t)(r->end - r->p) / 4)
            return false;
        n->kids =
            qv_arena_calloc(&r->plan->arena, k ? k : 1, sizeof(qv_expr_node *));
        n->nkids = k;
        for (uint32_t i = 0; i < k; i++)
            if (!dec_node(r, &n->kids[i], depth + 1))
                return false;
    }
    *out = n;
    return true;
}

qv_code qv_expr_plan_decode(const void *bytes, size_t len, qv_expr_plan **out,
                            qv_err *err)
{
    const uint8_t *b = bytes;
    uint32_t body, crc;
    if (!b || len < PLAN_HDR || memcmp(b, PLAN_MAGIC, 4) != 0)
        return qv_fail(err, QV_E_CORRUPT, "filter plan: bad magic");
    if (b[4] != PLAN_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "filter plan: unsupported version %u", b[4]);
    if (b[5] || b[6] || b[7])
        return qv_fail(err, QV_E_CORRUPT, "filter plan: bad header");
    memcpy(&body, b + 8, 4);
    memcpy(&crc, b + 12, 4);
    if (body != len - PLAN_HDR)
        return qv_fail(err, QV_E_CORRUPT,
                       "filter plan: length %u does not "
                       "match %zu bytes",
                       body, len - PLAN_HDR);
    if (qv_crc32c(0, b + PLAN_HDR, body) != crc)
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "filter plan: checksum mismatch");
    rd r = {b + PLAN_HDR, b + len, qv_expr__plan_new(), err};
    qv_expr_node *root = NULL;
    if (!dec_node(&r, &root, 0) || r.p != r.end) {
        qv_expr_plan_free(r.plan);
        return qv_fail(err, QV_E_CORRUPT, "filter plan: malformed body");
    }
    r.plan->root = root;
    qv_code rc = qv_expr__check(root, 0, err);
    if (rc != QV_OK) {
        qv_expr_plan_free(r.plan);
        return rc;
    }
    *out = r.plan;
    return QV_OK;
}
