/* parse.c -- recursive-descent parser of the filter language.
 *
 * Precedence follows Milvus's Plan.g4 (tightest first):
 *   primary, `exists x`       literals, fields, {templates}, (..), [..],
 *                             functions, `x is [not] null`
 *   like                      a like "p%"
 *   **                        (constants only)
 *   unary + - ~ not !         operand may contain like and **
 *   * / %
 *   + -
 *   << >>                     (constants only)
 *   in, not in
 *   < <= > >=, ranges         `1 < x <= 5` when the middle is a field
 *   == !=
 *   &  ^  |                   (constants only)
 *   and &&
 *   or ||
 * Binary operators associate to the left.
 */
#include <stdlib.h>
#include <string.h>

#include "common/expr/parse_int.h"
#include "common/alloc.h"
#include "common/banned.h"

enum {
    L_OR = 1,
    L_AND,
    L_BOR,
    L_BXOR,
    L_BAND,
    L_EQ,
    L_REL,
    L_IN,
    L_SHIFT,
    L_ADD,
    L_MUL,
    L_UNARY,
    L_POW,
    L_LIKE,
    L_PRIMARY,
};

static bool parse_expr(pstate *ps, int min_level, term *out);

static int binary_level(int kind)
{
    switch (kind) {
    case TK_OR:
        return L_OR;
    case TK_AND:
        return L_AND;
    case TK_BOR:
        return L_BOR;
    case TK_BXOR:
        return L_BXOR;
    case TK_BAND:
        return L_BAND;
    case TK_EQ:
    case TK_NE:
        return L_EQ;
    case TK_LT:
    case TK_LE:
    case TK_GT:
    case TK_GE:
        return L_REL;
    case TK_IN:
    case TK_NOT: /* only as `not in` */
        return L_IN;
    case TK_SHL:
    case TK_SHR:
        return L_SHIFT;
    case TK_ADD:
    case TK_SUB:
        return L_ADD;
    case TK_MUL:
    case TK_DIV:
    case TK_MOD:
        return L_MUL;
    case TK_POW:
        return L_POW;
    case TK_LIKE:
        return L_LIKE;
    default:
        return 0;
    }
}

static bool expect(pstate *ps, int kind, const char *context)
{
    if (ps->t.kind != kind)
        return qv_expr__perr(ps, ps->t.pos, "expected %s %s, found %s",
                             qv_expr__tok_text(kind), context,
                             qv_expr__tok_text(ps->t.kind));
    return qv_expr__next(ps);
}

/* An array literal `[a, b, ...]` of constants (trailing comma allowed). */
static bool parse_array(pstate *ps, int nest, term *out)
{
    size_t pos = ps->t.pos;
    if (nest > QV_EXPR_MAX_ARRAY_NEST)
        return qv_expr__perr(ps, pos, "array literals nested too deeply");
    if (!qv_expr__next(ps))
        return false;
    size_t cap = 8, n = 0;
    qv_expr_value *items = qv_xmalloc(cap * sizeof(*items));
    while (ps->t.kind != TK_RBRACK) {
        term e = {0};
        size_t epos = ps->t.pos;
        if (!parse_expr(ps, L_OR, &e))
            goto fail;
        if (e.kind != TM_VAL) {
            qv_expr__perr(ps, epos, "array elements must be constants");
            goto fail;
        }
        if (n == cap) {
            cap *= 2;
            items = qv_xrealloc(items, cap * sizeof(*items));
        }
        items[n++] = e.val;
        if (ps->t.kind == TK_COMMA) {
            if (!qv_expr__next(ps))
                goto fail;
            continue;
        }
        if (ps->t.kind != TK_RBRACK) {
            qv_expr__perr(ps, ps->t.pos,
                          "expected ',' or ']' in array, "
                          "found %s",
                          qv_expr__tok_text(ps->t.kind));
            goto fail;
        }
    }
    if (!qv_expr__next(ps))
        goto fail;
    qv_expr_value *copy =
        qv_arena_alloc(&ps->plan->arena, (n ? n : 1) * sizeof(*copy));
    if (n)
        memcpy(copy, items, n * sizeof(*copy));
    free(items);
    memset(out, 0, sizeof(*out));
    out->kind = TM_VAL;
    out->pos = pos;
    out->val.kind = QV_EXPR_ARRAY;
    out->val.u.a.items = copy;
    out->val.u.a.n = n;
    return true;
fail:
    free(items);
    return false;
}

static bool parse_template(pstate *ps, term *out)
{
    size_t pos = ps->t.pos;
    if (!qv_expr__next(ps))
        return false;
    if (ps->t.kind != TK_IDENT)
        return qv_expr__perr(ps, ps->t.pos,
                             "expected a template variable "
                             "name after '{'");
    const char *name = ps->s + ps->t.pos;
    size_t nlen = ps->t.len;
    if (!qv_expr__next(ps) || !expect(ps, TK_RBRACE, "after template name"))
        return false;
    for (size_t i = 0; i < ps->nparams; i++) {
        const char *pn = ps->params[i].name;
        if (pn && strlen(pn) == nlen && !memcmp(pn, name, nlen)) {
            memset(out, 0, sizeof(*out));
            out->kind = TM_VAL;
            out->pos = pos;
            out->val = ps->params[i].value;
            if (out->val.kind > QV_EXPR_ARRAY || out->val.kind == QV_EXPR_NULL)
                return qv_expr__perr(ps, pos,
                                     "template variable '%.*s' "
                                     "has an unsupported value",
                                     (int)nlen, name);
            return true;
        }
    }
    return qv_expr__perr(ps, pos, "template variable '%.*s' has no value",
                         (int)nlen, name);
}

static bool is_decimal_index(const char *s, size_t n)
{
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A field name with an optional path: name["key"][0]... */
static bool parse_ident(pstate *ps, term *out)
{
    size_t pos = ps->t.pos;
    const char *name = ps->s + ps->t.pos;
    size_t nlen = ps->t.len;
    qv_expr_str path[QV_EXPR_MAX_PATH];
    bool path_int[QV_EXPR_MAX_PATH];
    uint32_t np = 0;
    bool lb = qv_expr__peek_lbrack(ps);
    if (!qv_expr__next(ps))
        return false;
    while (lb && ps->t.kind == TK_LBRACK) {
        if (np == QV_EXPR_MAX_PATH)
            return qv_expr__perr(ps, ps->t.pos,
                                 "path has more than %d "
                                 "elements",
                                 QV_EXPR_MAX_PATH);
        if (!qv_expr__next(ps))
            return false;
        if (ps->t.kind == TK_STR) {
            path[np].ptr = ps->t.val.u.s.ptr;
            path[np].len = ps->t.val.u.s.len;
            path_int[np] = false;
        } else if (ps->t.kind == TK_INT &&
                   is_decimal_index(ps->s + ps->t.pos, ps->t.len)) {
            path[np].ptr = qv_arena_strndup(&ps->plan->arena, ps->s + ps->t.pos,
                                            ps->t.len);
            path[np].len = ps->t.len;
            path_int[np] = true;
        } else {
            return qv_expr__perr(ps, ps->t.pos,
                                 "expected a string key or a "
                                 "non-negative decimal index "
                                 "in '[...]'");
        }
        np++;
        if (!qv_expr__next(ps))
            return false;
        lb = ps->t.kind == TK_RBRACK && qv_expr__peek_lbrack(ps);
        if (!expect(ps, TK_RBRACK, "after path element"))
            return false;
    }
    if (np == 0 && ps->t.kind == TK_LPAREN)
        return qv_expr__perr(ps, pos, "function '%.*s' is not supported",
                             (int)nlen, name);
    if (!qv_expr__b_ident(ps, pos, name, nlen, path, np, path_int, out))
        return false;
    if (ps->t.kind == TK_ISNULL || ps->t.kind == TK_ISNOTNULL) {
        bool is_null = ps->t.kind == TK_ISNULL;
        size_t npos = ps->t.pos;
        if (!qv_expr__next(ps))
            return false;
        return qv_expr__b_null(ps, out, is_null, npos, out);
    }
    return true;
}

static bool parse_func(pstate *ps, term *out)
{
    size_t pos = ps->t.pos;
    int fn = ps->t.fn;
    term args[2];
    size_t nargs = 0;
    if (!qv_expr__next(ps) || !expect(ps, TK_LPAREN, "after function name"))
        return false;
    while (ps->t.kind != TK_RPAREN) {
        if (nargs == 2)
            return qv_expr__perr(ps, ps->t.pos, "too many arguments");
        if (!parse_expr(ps, L_OR, &args[nargs]))
            return false;
        nargs++;
        if (ps->t.kind == TK_COMMA) {
            if (!qv_expr__next(ps))
                return false;
        } else if (ps->t.kind != TK_RPAREN) {
            return qv_expr__perr(ps, ps->t.pos,
                                 "expected ',' or ')' in "
                                 "function call, found %s",
                                 qv_expr__tok_text(ps->t.kind));
        }
    }
    if (!qv_expr__next(ps))
        return false;
    return qv_expr__b_func(ps, fn, args, nargs, pos, out);
}

static bool parse_primary(pstate *ps, term *out)
{
    tok t = ps->t;
    memset(out, 0, sizeof(*out));
    out->pos = t.pos;
    switch (t.kind) {
    case TK_INT:
        if (t.int_min)
            return qv_expr__perr(ps, t.pos, "integer literal out of range");
        /* fall through */
    case TK_FLOAT:
    case TK_STR:
    case TK_BOOL:
        out->kind = TM_VAL;
        out->val = t.val;
        return qv_expr__next(ps);
    case TK_IDENT:
        return parse_ident(ps, out);
    case TK_LBRACE:
        return parse_template(ps, out);
    case TK_LBRACK:
        return parse_array(ps, 0, out);
    case TK_FUNC:
        return parse_func(ps, out);
    case TK_LPAREN:
        if (!qv_expr__next(ps) || !parse_expr(ps, L_OR, out))
            return false;
        return expect(ps, TK_RPAREN, "to close '('");
    case TK_EXISTS: {
        term x;
        if (!qv_expr__next(ps) || !parse_expr(ps, L_PRIMARY, &x))
            return false;
        return qv_expr__b_exists(ps, &x, t.pos, out);
    }
    case TK_ADD:
    case TK_SUB:
    case TK_BNOT:
    case TK_NOT: {
        term x;
        if (!qv_expr__next(ps))
            return false;
        /* -9223372036854775808 is INT64_MIN */
        if (t.kind == TK_SUB && ps->t.kind == TK_INT && ps->t.int_min) {
            out->kind = TM_VAL;
            out->val = ps->t.val;
            return qv_expr__next(ps);
        }
        if (!parse_expr(ps, L_UNARY, &x))
            return false;
        return qv_expr__b_unary(ps, t.kind, &x, t.pos, out);
    }
    case TK_EOF:
        return qv_expr__perr(ps, t.pos,
                             "unexpected end of filter, "
                             "expected a value or a field");
    default:
        return qv_expr__perr(ps, t.pos,
                             "unexpected %s, expected a value or "
                             "a field",
                             qv_expr__tok_text(t.kind));
    }
}

/* After `left op1 mid`, a second < / <= (or > / >=) makes a range. */
static bool maybe_range(pstate *ps, int op1, term *left, term *mid, size_t pos,
                        term *out, bool *done)
{
    int op2 = ps->t.kind;
    bool up1 = op1 == TK_LT || op1 == TK_LE;
    bool up2 = op2 == TK_LT || op2 == TK_LE;
    bool rel2 = up2 || op2 == TK_GT || op2 == TK_GE;
    *done = false;
    if (!rel2 || mid->kind != TM_COL || up1 != up2)
        return true;
    term hi;
    if (!qv_expr__next(ps) || !parse_expr(ps, L_REL + 1, &hi))
        return false;
    *done = true;
    return qv_expr__b_range(ps, left, op1, mid, op2, &hi, pos, out);
}

static bool parse_expr(pstate *ps, int min_level, term *out)
{
    if (++ps->depth > QV_EXPR_MAX_DEPTH) {
        ps->depth--;
        return qv_expr__perr(ps, ps->t.pos, "filter nested too deeply");
    }
    term left;
    bool ok = parse_primary(ps, &left);
    while (ok) {
        int kind = ps->t.kind;
        int level = binary_level(kind);
        if (!level || level < min_level)
            break;
        size_t pos = ps->t.pos;
        bool negate = false;
        if (kind == TK_NOT) {
            if (!qv_expr__next(ps))
                return false;
            if (ps->t.kind != TK_IN) {
                ok = qv_expr__perr(ps, pos,
                                   "unexpected 'not' after an "
                                   "operand (did you mean "
                                   "'not in'?)");
                break;
            }
            negate = true;
            kind = TK_IN;
        }
        term right, res;
        if (!qv_expr__next(ps)) {
            ok = false;
            break;
        }
        if (level == L_IN && ps->t.kind == TK_LPAREN) {
            ok = qv_expr__perr(ps, ps->t.pos,
                               "'in' takes a list in square "
                               "brackets, like [1, 2, 3]");
            break;
        }
        if (!parse_expr(ps, level + 1, &right)) {
            ok = false;
            break;
        }
        if (level == L_REL) {
            bool done;
            ok = maybe_range(ps, kind, &left, &right, pos, &res, &done);
            if (ok && !done)
                ok = qv_expr__b_cmp(ps, kind, &left, &right, pos, &res);
        } else if (level == L_EQ) {
            ok = qv_expr__b_cmp(ps, kind, &left, &right, pos, &res);
        } else if (level == L_IN) {
            ok = qv_expr__b_in(ps, negate, &left, &right, pos, &res);
        } else if (level == L_LIKE) {
            ok = qv_expr__b_like(ps, &left, &right, pos, &res);
        } else if (level == L_AND || level == L_OR) {
            ok = qv_expr__b_logic(ps, kind, &left, &right, pos, &res);
        } else {
            ok = qv_expr__b_arith(ps, kind, &left, &right, pos, &res);
        }
        if (ok)
            left = res;
    }
    ps->depth--;
    if (ok)
        *out = left;
    return ok;
}

qv_code qv_expr_parse(const char *text, size_t len,
                      const qv_expr_schema *schema, const qv_expr_param *params,
                      size_t nparams, qv_expr_plan **out, qv_err *err)
{
    if (len > QV_EXPR_MAX_TEXT)
        return qv_fail(err, QV_E_INVALID,
                       "invalid filter: longer than %u "
                       "bytes",
                       QV_EXPR_MAX_TEXT);
    if (!text && len)
        return qv_fail(err, QV_E_INVALID, "invalid filter: no text");
    static const qv_expr_schema empty_schema = {NULL, 0};
    pstate ps = {0};
    ps.s = text;
    ps.n = len;
    ps.schema = schema ? schema : &empty_schema;
    ps.params = params;
    ps.nparams = params ? nparams : 0;
    ps.plan = qv_expr__plan_new();
    ps.err = err;
    ps.sample_pos = SIZE_MAX;
    bool ok = qv_expr__next(&ps);
    if (ok && ps.t.kind == TK_EOF) {
        ps.plan->root = qv_expr__node(ps.plan, QV_XN_TRUE);
    } else if (ok) {
        term root;
        ok = parse_expr(&ps, L_OR, &root);
        if (ok && ps.t.kind != TK_EOF)
            ok = qv_expr__perr(&ps, ps.t.pos,
                               "unexpected %s after the end "
                               "of the expression",
                               qv_expr__tok_text(ps.t.kind));
        if (ok)
            ok = qv_expr__b_root(&ps, &root, &ps.plan->root);
    }
    if (ok) {
        qv_code rc = qv_expr__check(ps.plan->root, 0, err);
        if (rc != QV_OK) {
            qv_expr_plan_free(ps.plan);
            return rc;
        }
        *out = ps.plan;
        return QV_OK;
    }
    qv_expr_plan_free(ps.plan);
    if (!ps.failed)
        return qv_fail(err, QV_E_INTERNAL, "invalid filter: parse failed");
    return QV_E_INVALID;
}
