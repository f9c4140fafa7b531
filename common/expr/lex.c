/* lex.c -- tokens of the filter language (after Milvus's Plan.g4 lexer).
 *
 * Keywords are accepted in all-lowercase or all-uppercase (`and`/`AND`,
 * `like`/`LIKE`, `is not null`/`IS NOT NULL`), booleans also capitalised
 * (`True`), exactly as Milvus does; other spellings are identifiers.
 * Strings use '...' or "..." with C/Go escapes; r"..." is raw.  Integers
 * are decimal, octal (leading 0), hex (0x) or binary (0b).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr/parse_int.h"
#include "common/banned.h"

bool qv_expr__perr(pstate *ps, size_t pos, const char *fmt, ...)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    va_list ap;
    va_start(ap, fmt);
    qv_vfail(ps->err, QV_E_INVALID, fmt, ap);
    va_end(ap);
    qv_err_prefix(ps->err, "invalid filter at column %zu", pos + 1);
    return false;
}

static const struct {
    const char *word;
    int kind;
    int fn;
} keywords[] = {
    {"and", TK_AND, 0},
    {"AND", TK_AND, 0},
    {"or", TK_OR, 0},
    {"OR", TK_OR, 0},
    {"not", TK_NOT, 0},
    {"NOT", TK_NOT, 0},
    {"in", TK_IN, 0},
    {"IN", TK_IN, 0},
    {"like", TK_LIKE, 0},
    {"LIKE", TK_LIKE, 0},
    {"exists", TK_EXISTS, 0},
    {"EXISTS", TK_EXISTS, 0},
    {"json_contains", TK_FUNC, FN_JSON_CONTAINS},
    {"JSON_CONTAINS", TK_FUNC, FN_JSON_CONTAINS},
    {"json_contains_all", TK_FUNC, FN_JSON_CONTAINS_ALL},
    {"JSON_CONTAINS_ALL", TK_FUNC, FN_JSON_CONTAINS_ALL},
    {"json_contains_any", TK_FUNC, FN_JSON_CONTAINS_ANY},
    {"JSON_CONTAINS_ANY", TK_FUNC, FN_JSON_CONTAINS_ANY},
    {"array_contains", TK_FUNC, FN_ARRAY_CONTAINS},
    {"ARRAY_CONTAINS", TK_FUNC, FN_ARRAY_CONTAINS},
    {"array_contains_all", TK_FUNC, FN_ARRAY_CONTAINS_ALL},
    {"ARRAY_CONTAINS_ALL", TK_FUNC, FN_ARRAY_CONTAINS_ALL},
    {"array_contains_any", TK_FUNC, FN_ARRAY_CONTAINS_ANY},
    {"ARRAY_CONTAINS_ANY", TK_FUNC, FN_ARRAY_CONTAINS_ANY},
    {"random_sample", TK_FUNC, FN_RANDOM_SAMPLE},
    {"RANDOM_SAMPLE", TK_FUNC, FN_RANDOM_SAMPLE},
    {"array_length", TK_FUNC, FN_ARRAY_LENGTH},
    {"ARRAY_LENGTH", TK_FUNC, FN_ARRAY_LENGTH},
};

const char *qv_expr__tok_text(int kind)
{
    static const char *const names[] = {
        [TK_EOF] = "end of filter",
        [TK_INT] = "integer",
        [TK_FLOAT] = "number",
        [TK_STR] = "string",
        [TK_BOOL] = "boolean",
        [TK_IDENT] = "field name",
        [TK_LPAREN] = "'('",
        [TK_RPAREN] = "')'",
        [TK_LBRACK] = "'['",
        [TK_RBRACK] = "']'",
        [TK_LBRACE] = "'{'",
        [TK_RBRACE] = "'}'",
        [TK_COMMA] = "','",
        [TK_ADD] = "'+'",
        [TK_SUB] = "'-'",
        [TK_MUL] = "'*'",
        [TK_DIV] = "'/'",
        [TK_MOD] = "'%'",
        [TK_POW] = "'**'",
        [TK_SHL] = "'<<'",
        [TK_SHR] = "'>>'",
        [TK_BAND] = "'&'",
        [TK_BOR] = "'|'",
        [TK_BXOR] = "'^'",
        [TK_BNOT] = "'~'",
        [TK_NOT] = "'not'",
        [TK_AND] = "'and'",
        [TK_OR] = "'or'",
        [TK_LT] = "'<'",
        [TK_LE] = "'<='",
        [TK_GT] = "'>'",
        [TK_GE] = "'>='",
        [TK_EQ] = "'=='",
        [TK_NE] = "'!='",
        [TK_IN] = "'in'",
        [TK_LIKE] = "'like'",
        [TK_EXISTS] = "'exists'",
        [TK_ISNULL] = "'is null'",
        [TK_ISNOTNULL] = "'is not null'",
        [TK_FUNC] = "function name",
    };
    if (kind < 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]) ||
        !names[kind])
        return "token";
    return names[kind];
}

static void skip_space(pstate *ps)
{
    while (ps->p < ps->n && (ps->s[ps->p] == ' ' || ps->s[ps->p] == '\t' ||
                             ps->s[ps->p] == '\n' || ps->s[ps->p] == '\r'))
        ps->p++;
}

bool qv_expr__peek_lbrack(pstate *ps)
{
    size_t p = ps->p;
    while (p < ps->n && (ps->s[p] == ' ' || ps->s[p] == '\t'))
        p++;
    return p < ps->n && ps->s[p] == '[';
}

static bool is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
    return isalnum(c) || c == '_';
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hexdig(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads n digits of base at s[*i]; false if any is missing. */
static bool read_digits(pstate *ps, size_t *i, int n, int base, uint32_t *v)
{
    uint32_t acc = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= ps->n)
            return false;
        int d = hexdig((unsigned char)ps->s[*i]);
        if (d < 0 || d >= base)
            return false;
        acc = acc * (uint32_t)base + (uint32_t)d;
        (*i)++;
    }
    *v = acc;
    return true;
}

/* One escape at s[*i] (just after the backslash) into out; Go's
 * strconv.Unquote rules, which Milvus applies to string literals. */
static bool lex_escape(pstate *ps, size_t *i, char *out, size_t *o)
{
    size_t at = *i - 1;
    char c = ps->s[*i];
    const char *from = "abfnrtv\\'\"";
    const char *to = "\a\b\f\n\r\t\v\\'\"";
    const char *hit = c ? strchr(from, c) : NULL;
    uint32_t v;
    if (hit) {
        out[(*o)++] = to[hit - from];
        (*i)++;
        return true;
    }
    (*i)++;
    switch (c) {
    case 'x':
        if (!read_digits(ps, i, 2, 16, &v))
            return qv_expr__perr(ps, at, "\\x needs two hex digits");
        out[(*o)++] = (char)v;
        return true;
    case 'u':
    case 'U':
        if (!read_digits(ps, i, c == 'u' ? 4 : 8, 16, &v))
            return qv_expr__perr(ps, at, "\\%c needs %d hex digits", c,
                                 c == 'u' ? 4 : 8);
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return qv_expr__perr(ps, at,
                                 "invalid unicode code point "
                                 "in escape");
        *o += put_utf8(out + *o, v);
        return true;
    default:
        if (c >= '0' && c <= '7') {
            (*i)--;
            if (!read_digits(ps, i, 3, 8, &v) || v > 255)
                return qv_expr__perr(ps, at,
                                     "octal escape needs three "
                                     "digits up to \\377");
            out[(*o)++] = (char)v;
            return true;
        }
        return qv_expr__perr(ps, at,
                             "invalid escape sequence '\\%c' "
                             "in string",
                             c ? c : '0');
    }
}

static bool lex_string(pstate *ps, bool raw)
{
    size_t start = ps->p;
    size_t i = ps->p + (raw ? 1 : 0);
    char q = ps->s[i++];
    /* decoded length never exceeds the source length */
    char *out = qv_arena_alloc(&ps->plan->arena, ps->n - i + 1);
    size_t o = 0;
    for (;;) {
        if (i >= ps->n || ps->s[i] == '\n' || ps->s[i] == '\r')
            return qv_expr__perr(ps, start, "unterminated string");
        char c = ps->s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c == '\\') {
            if (raw) {
                out[o++] = c;
                if (i + 1 < ps->n && ps->s[i + 1] != '\n')
                    out[o++] = ps->s[i + 1];
                i += 2;
                continue;
            }
            i++;
            if (i >= ps->n)
                return qv_expr__perr(ps, start, "unterminated string");
            if (!lex_escape(ps, &i, out, &o))
                return false;
            continue;
        }
        out[o++] = c;
        i++;
    }
    ps->t.kind = TK_STR;
    ps->t.val.kind = QV_EXPR_STR;
    ps->t.val.u.s.ptr = out;
    ps->t.val.u.s.len = o;
    ps->p = i;
    return true;
}

static bool lex_int_base(pstate *ps, size_t start, size_t i, int base)
{
    uint64_t acc = 0;
    size_t nd = 0;
    for (; i < ps->n; i++) {
        int d = hexdig((unsigned char)ps->s[i]);
        if (d < 0 || d >= base)
            break;
        if (acc > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return qv_expr__perr(ps, start,
                                 "integer literal out of "
                                 "range");
        acc = acc * (uint64_t)base + (uint64_t)d;
        nd++;
    }
    if (i < ps->n &&
        (is_ident_char((unsigned char)ps->s[i]) || ps->s[i] == '.'))
        return qv_expr__perr(ps, start, "invalid number '%.*s'",
                             (int)(i - start + 1), ps->s + start);
    if (base != 8 && nd == 0)
        return qv_expr__perr(ps, start, "invalid number '%.*s'",
                             (int)(i - start), ps->s + start);
    ps->t.kind = TK_INT;
    ps->t.val.kind = QV_EXPR_INT;
    ps->t.int_min = false;
    if (acc == (uint64_t)INT64_MAX + 1 && base == 10) {
        ps->t.int_min = true;
        ps->t.val.u.i = INT64_MIN;
    } else if (acc > (uint64_t)INT64_MAX) {
        return qv_expr__perr(ps, start, "integer literal out of range");
    } else {
        ps->t.val.u.i = (int64_t)acc;
    }
    ps->p = i;
    return true;
}

static bool lex_number(pstate *ps)
{
    size_t start = ps->p, i = ps->p;
    const char *s = ps->s;
    bool is_float = false;
    if (s[i] == '0' && i + 1 < ps->n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        size_t j = i + 2;
        while (j < ps->n && (isxdigit((unsigned char)s[j]) || s[j] == '.'))
            j++;
        if (j < ps->n && (s[j] == 'p' || s[j] == 'P'))
            is_float = true;
        else
            return lex_int_base(ps, start, i + 2, 16);
    } else if (s[i] == '0' && i + 1 < ps->n &&
               (s[i + 1] == 'b' || s[i + 1] == 'B')) {
        return lex_int_base(ps, start, i + 2, 2);
    } else {
        size_t j = i;
        while (j < ps->n && isdigit((unsigned char)s[j]))
            j++;
        if (j < ps->n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
            is_float = true;
        else if (s[i] == '0' && j > i + 1)
            return lex_int_base(ps, start, i + 1, 8);
        else
            return lex_int_base(ps, start, i, 10);
    }
    (void)is_float;
    /* a floating constant: let strtod find its end on a bounded copy */
    size_t j = i;
    while (j < ps->n && (isalnum((unsigned char)s[j]) || s[j] == '.' ||
                         ((s[j] == '+' || s[j] == '-') && j > i &&
                          strchr("eEpP", s[j - 1]))))
        j++;
    size_t len = j - i;
    char buf[128];
    if (len >= sizeof(buf))
        return qv_expr__perr(ps, start, "number literal too long");
    memcpy(buf, s + i, len);
    buf[len] = 0;
    char *e;
    errno = 0;
    double d = strtod(buf, &e);
    if (e != buf + len || len == 0)
        return qv_expr__perr(ps, start, "invalid number '%.*s'", (int)len,
                             s + i);
    ps->t.kind = TK_FLOAT;
    ps->t.val.kind = QV_EXPR_FLOAT;
    ps->t.val.u.f = d;
    ps->p = j;
    return true;
}

/* "is null", "is not null" in one case, any spaces between the words. */
static bool lex_is(pstate *ps, size_t i, bool upper)
{
    const char *w_not = upper ? "NOT" : "not";
    const char *w_null = upper ? "NULL" : "null";
    size_t j = i;
    bool neg = false;
    for (int word = 0; word < 2; word++) {
        size_t k = j;
        while (k < ps->n && (ps->s[k] == ' ' || ps->s[k] == '\t'))
            k++;
        if (k == j)
            return false;
        const char *w = (word == 0) ? w_not : w_null;
        size_t wl = strlen(w);
        if (k + wl <= ps->n && !memcmp(ps->s + k, w, wl) &&
            (k + wl == ps->n || !is_ident_char((unsigned char)ps->s[k + wl]))) {
            j = k + wl;
            if (word == 0) {
                neg = true;
                continue;
            }
            ps->t.kind = neg ? TK_ISNOTNULL : TK_ISNULL;
            ps->p = j;
            return true;
        }
        if (word == 0) {
            /* no "not": try "null" right away */
            if (k + strlen(w_null) <= ps->n &&
                !memcmp(ps->s + k, w_null, strlen(w_null)) &&
                (k + 4 == ps->n ||
                 !is_ident_char((unsigned char)ps->s[k + 4]))) {
                ps->t.kind = TK_ISNULL;
                ps->p = k + 4;
                return true;
            }
        }
        return false;
    }
    return false;
}

static bool lex_word(pstate *ps)
{
    size_t start = ps->p, i = ps->p;
    while (i < ps->n && is_ident_char((unsigned char)ps->s[i]))
        i++;
    size_t len = i - start;
    const char *w = ps->s + start;
    ps->t.kind = TK_IDENT;
    ps->p = i;
    if ((len == 2 && (!memcmp(w, "is", 2) || !memcmp(w, "IS", 2))) &&
        lex_is(ps, i, w[0] == 'I'))
        return true;
    static const char *const bools[] = {"true",  "True",  "TRUE",
                                        "false", "False", "FALSE"};
    for (int k = 0; k < 6; k++) {
        if (strlen(bools[k]) == len && !memcmp(w, bools[k], len)) {
            ps->t.kind = TK_BOOL;
            ps->t.val.kind = QV_EXPR_BOOL;
            ps->t.val.u.b = k < 3;
            return true;
        }
    }
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (strlen(keywords[k].word) == len &&
            !memcmp(w, keywords[k].word, len)) {
            ps->t.kind = keywords[k].kind;
            ps->t.fn = keywords[k].fn;
            return true;
        }
    }
    return true;
}

/* Two-byte and one-byte operators. */
static bool lex_op(pstate *ps)
{
    static const struct {
        const char *op;
        int kind;
    } ops[] = {
        {"**", TK_POW},   {"<<", TK_SHL},   {">>", TK_SHR},   {"<=", TK_LE},
        {">=", TK_GE},    {"==", TK_EQ},    {"!=", TK_NE},    {"&&", TK_AND},
        {"||", TK_OR},    {"(", TK_LPAREN}, {")", TK_RPAREN}, {"[", TK_LBRACK},
        {"]", TK_RBRACK}, {"{", TK_LBRACE}, {"}", TK_RBRACE}, {",", TK_COMMA},
        {"+", TK_ADD},    {"-", TK_SUB},    {"*", TK_MUL},    {"/", TK_DIV},
        {"%", TK_MOD},    {"&", TK_BAND},   {"|", TK_BOR},    {"^", TK_BXOR},
        {"~", TK_BNOT},   {"!", TK_NOT},    {"<", TK_LT},     {">", TK_GT},
    };
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        size_t l = strlen(ops[k].op);
        if (ps->p + l <= ps->n && !memcmp(ps->s + ps->p, ops[k].op, l)) {
            ps->t.kind = ops[k].kind;
            ps->p += l;
            return true;
        }
    }
    unsigned char c = (unsigned char)ps->s[ps->p];
    if (c == '=')
        return qv_expr__perr(ps, ps->p,
                             "unexpected '=': use '==' to "
                             "compare");
    if (c >= 0x20 && c < 0x7f)
        return qv_expr__perr(ps, ps->p, "unexpected character '%c'", c);
    return qv_expr__perr(ps, ps->p, "unexpected byte 0x%02x", c);
}

bool qv_expr__next(pstate *ps)
{
    if (ps->failed)
        return false;
    skip_space(ps);
    memset(&ps->t, 0, sizeof(ps->t));
    ps->t.pos = ps->p;
    bool ok;
    if (ps->p >= ps->n) {
        ps->t.kind = TK_EOF;
        ok = true;
    } else {
        unsigned char c = (unsigned char)ps->s[ps->p];
        unsigned char c1 =
            ps->p + 1 < ps->n ? (unsigned char)ps->s[ps->p + 1] : 0;
        if (c == '"' || c == '\'')
            ok = lex_string(ps, false);
        else if ((c == 'r' || c == 'R') && (c1 == '"' || c1 == '\''))
            ok = lex_string(ps, true);
        else if (isdigit(c) || (c == '.' && isdigit(c1)))
            ok = lex_number(ps);
        else if (is_ident_start(c))
            ok = lex_word(ps);
        else if (c == '$') {
            if (ps->p + 5 <= ps->n && !memcmp(ps->s + ps->p, "$meta", 5) &&
                (ps->p + 5 == ps->n ||
                 !is_ident_char((unsigned char)ps->s[ps->p + 5]))) {
                ps->t.kind = TK_IDENT;
                ps->p += 5;
                ok = true;
            } else {
                ok = qv_expr__perr(ps, ps->p,
                                   "struct and element "
                                   "references ('$') are not "
                                   "supported");
            }
        } else {
            ok = lex_op(ps);
        }
    }
    ps->t.len = ps->p - ps->t.pos;
    return ok;
}
