/* json.c -- see json.h.
 *
 * Two parts: a strict validator (recursive descent with a depth limit) and
 * a lenient skipper used by the accessors, which finds the end of a value
 * by tracking brackets and strings and never reads past its end pointer.
 */
#include "common/json/json.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/banned.h"

/* ---------------------------------------------------------------- validate */

typedef struct vstate {
    const char *s, *p, *end;
    qv_err *err;
    size_t fail_at; /* byte offset of the first error */
} vstate;

static qv_code vfail(vstate *v, const char *what)
{
    v->fail_at = (size_t)(v->p - v->s);
    return qv_fail(v->err, QV_E_INVALID, "invalid json at byte %zu: %s",
                   (size_t)(v->p - v->s), what);
}

static void ws(vstate *v)
{
    while (v->p < v->end &&
           (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
        v->p++;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0xff >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Reads \\uXXXX at v->p (and its low half when it is a high surrogate);
 * unpaired surrogates are invalid, as in the column library's check. */
static int u4(const char *p)
{
    int cp = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        cp = cp * 16 + h;
    }
    return cp;
}

static qv_code vescape_u(vstate *v)
{
    if (v->end - v->p < 6)
        return vfail(v, "truncated \\u escape");
    int cp = u4(v->p + 2);
    if (cp < 0)
        return vfail(v, "invalid \\u escape");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return vfail(v, "unpaired surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        int lo = v->end - v->p >= 12 && v->p[6] == '\\' && v->p[7] == 'u'
                     ? u4(v->p + 8)
                     : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return vfail(v, "unpaired surrogate in \\u escape");
        v->p += 6;
    }
    v->p += 6;
    return QV_OK;
}

static qv_code vstring(vstate *v)
{
    v->p++; /* opening quote */
    while (v->p < v->end) {
        unsigned char c = (unsigned char)*v->p;
        if (c == '"') {
            v->p++;
            return QV_OK;
        }
        if (c < 0x20)
            return vfail(v, "control character in string");
        if (c == '\\') {
            if (v->end - v->p < 2)
                return vfail(v, "unterminated string");
            char e = v->p[1];
            if (e == 'u') {
                qv_code rc = vescape_u(v);
                if (rc != QV_OK)
                    return rc;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return vfail(v, "invalid escape in string");
            v->p += 2;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)v->p,
                            (const unsigned char *)v->end);
        if (!n)
            return vfail(v, "invalid utf-8 in string");
        v->p += n;
    }
    return vfail(v, "unterminated string");
}

static bool isdig(const vstate *v)
{
    return v->p < v->end && *v->p >= '0' && *v->p <= '9';
}

static qv_code vnumber(vstate *v)
{
    if (v->p < v->end && *v->p == '-')
        v->p++;
    if (!isdig(v))
        return vfail(v, "invalid number");
    if (*v->p == '0') {
        v->p++;
    } else {
        while (isdig(v))
            v->p++;
    }
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!isdig(v))
            return vfail(v, "expected digit after '.'");
        while (isdig(v))
            v->p++;
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
            v->p++;
        if (!isdig(v))
            return vfail(v, "expected digit in exponent");
        while (isdig(v))
            v->p++;
    }
    return QV_OK;
}

static qv_code vlit(vstate *v, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, word, n) != 0)
        return vfail(v, "unexpected character");
    v->p += n;
    return QV_OK;
}

static qv_code vvalue(vstate *v, int depth);

static qv_code vcontainer(vstate *v, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    if (depth >= QV_JSON_MAX_DEPTH)
        return vfail(v, "nesting too deep");
    v->p++;
    ws(v);
    if (v->p < v->end && *v->p == close) {
        v->p++;
        return QV_OK;
    }
    for (;;) {
        qv_code rc;
        if (obj) {
            ws(v);
            if (v->p >= v->end || *v->p != '"')
                return vfail(v, "expected string as object key");
            if ((rc = vstring(v)) != QV_OK)
                return rc;
            ws(v);
            if (v->p >= v->end || *v->p != ':')
                return vfail(v, "expected ':' after object key");
            v->p++;
        }
        if ((rc = vvalue(v, depth + 1)) != QV_OK)
            return rc;
        ws(v);
        if (v->p < v->end && *v->p == ',') {
            v->p++;
            continue;
        }
        if (v->p < v->end && *v->p == close) {
            v->p++;
            return QV_OK;
        }
        return vfail(v, obj ? "expected ',' or '}' in object"
                            : "expected ',' or ']' in array");
    }
}

static qv_code vvalue(vstate *v, int depth)
{
    ws(v);
    if (v->p >= v->end)
        return vfail(v, "unexpected end of input");
    switch (*v->p) {
    case '{':
        return vcontainer(v, depth, true);
    case '[':
        return vcontainer(v, depth, false);
    case '"':
        return vstring(v);
    case 't':
        return vlit(v, "true");
    case 'f':
        return vlit(v, "false");
    case 'n':
        return vlit(v, "null");
    default:
        if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9'))
            return vnumber(v);
        return vfail(v, "unexpected character");
    }
}

qv_code qv_json_validate_at(const char *s, size_t n, size_t *err_off,
                            qv_err *err)
{
    if (!s) {
        if (err_off)
            *err_off = 0;
        if (n)
            return qv_fail(err, QV_E_INVALID, "invalid json: no data");
        s = "";
    }
    vstate v = {s, s, s + n, err, 0};
    qv_code rc = vvalue(&v, 0);
    if (rc == QV_OK) {
        ws(&v);
        if (v.p != v.end)
            rc = vfail(&v, "unexpected data after the value");
    }
    if (rc && err_off)
        *err_off = v.fail_at;
    return rc;
}

qv_code qv_json_validate(const char *s, size_t n, qv_err *err)
{
    return qv_json_validate_at(s, n, NULL, err);
}

/* ---------------------------------------------------------------- access */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* End of the string starting at p (at the quote), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    p++;
    while (p < end) {
        if (*p == '\\') {
            p += 2;
            continue;
        }
        if (*p == '"')
            return p + 1;
        p++;
    }
    return NULL;
}

/* Reads one value at p (no leading whitespace); returns its end or NULL. */
static const char *skip_value(const char *p, const char *end, qv_json_type *t)
{
    if (p >= end) {
        *t = QV_JSON_INVALID;
        return NULL;
    }
    switch (*p) {
    case '"':
        *t = QV_JSON_STRING;
        return skip_string(p, end);
    case '{':
    case '[': {
        *t = *p == '{' ? QV_JSON_OBJECT : QV_JSON_ARRAY;
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    case 't':
        *t = QV_JSON_TRUE;
        return end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
    case 'f':
        *t = QV_JSON_FALSE;
        return end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
    case 'n':
        *t = QV_JSON_NULL;
        return end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            *t = QV_JSON_NUMBER;
            const char *q = p + 1;
            while (q < end &&
                   ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
                    *q == 'E' || *q == '+' || *q == '-'))
                q++;
            return q;
        }
        *t = QV_JSON_INVALID;
        return NULL;
    }
}

static bool read_value(const char *p, const char *end, qv_json_val *out)
{
    qv_json_type t;
    const char *q = skip_value(p, end, &t);
    if (!q)
        return false;
    out->type = t;
    out->p = p;
    out->len = (size_t)(q - p);
    return true;
}

qv_json_val qv_json_root(const char *s, size_t n)
{
    qv_json_val v = {QV_JSON_INVALID, s, 0};
    if (!s)
        return v;
    const char *end = s + n;
    const char *p = skip_ws(s, end);
    /* containers: the span up to the last non-space byte, without
     * scanning the inside (accessors stay inside the span anyway) */
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        end--;
    if (end - p >= 2 &&
        ((*p == '{' && end[-1] == '}') || (*p == '[' && end[-1] == ']'))) {
        v.type = *p == '{' ? QV_JSON_OBJECT : QV_JSON_ARRAY;
        v.p = p;
        v.len = (size_t)(end - p);
        return v;
    }
    if (!read_value(p, end, &v))
        v.type = QV_JSON_INVALID;
    return v;
}

void qv_json_iter_init(qv_json_iter *it, const qv_json_val *arr)
{
    it->first = true;
    if (arr->type != QV_JSON_ARRAY || arr->len < 2) {
        it->p = it->end = NULL;
        return;
    }
    it->p = arr->p + 1;
    it->end = arr->p + arr->len - 1;
}

bool qv_json_iter_next(qv_json_iter *it, qv_json_val *out)
{
    if (!it->p)
        return false;
    const char *p = skip_ws(it->p, it->end);
    if (!it->first) {
        if (p >= it->end || *p != ',') {
            it->p = NULL;
            return false;
        }
        p = skip_ws(p + 1, it->end);
    }
    it->first = false;
    if (p >= it->end || !read_value(p, it->end, out)) {
        it->p = NULL;
        return false;
    }
    it->p = out->p + out->len;
    return true;
}

void qv_json_obj_iter_init(qv_json_iter *it, const qv_json_val *obj)
{
    it->first = true;
    if (obj->type != QV_JSON_OBJECT || obj->len < 2) {
        it->p = it->end = NULL;
        return;
    }
    it->p = obj->p + 1;
    it->end = obj->p + obj->len - 1;
}

bool qv_json_obj_next(qv_json_iter *it, qv_json_val *key, qv_json_val *val)
{
    if (!it->p)
        return false;
    const char *p = skip_ws(it->p, it->end);
    if (!it->first) {
        if (p >= it->end || *p != ',') {
            it->p = NULL;
            return false;
        }
        p = skip_ws(p + 1, it->end);
    }
    it->first = false;
    if (p >= it->end || *p != '"' || !read_value(p, it->end, key)) {
        it->p = NULL;
        return false;
    }
    p = skip_ws(key->p + key->len, it->end);
    if (p >= it->end || *p != ':') {
        it->p = NULL;
        return false;
    }
    p = skip_ws(p + 1, it->end);
    if (p >= it->end || !read_value(p, it->end, val)) {
        it->p = NULL;
        return false;
    }
    it->p = val->p + val->len;
    return true;
}

size_t qv_json_array_len(const qv_json_val *arr)
{
    qv_json_iter it;
    qv_json_val e;
    size_t n = 0;
    qv_json_iter_init(&it, arr);
    while (qv_json_iter_next(&it, &e))
        n++;
    return n;
}

bool qv_json_index(const qv_json_val *arr, size_t i, qv_json_val *out)
{
    qv_json_iter it;
    qv_json_val e;
    size_t n = 0;
    qv_json_iter_init(&it, arr);
    while (qv_json_iter_next(&it, &e)) {
        if (n++ == i) {
            *out = e;
            return true;
        }
    }
    return false;
}

/* True if the quoted JSON string at k[0..klen) (with quotes) equals the raw
 * bytes key[0..n). */
static bool key_equal(const char *k, size_t klen, const char *key, size_t n)
{
    if (klen < 2)
        return false;
    /* fast path: a key without escapes is its bytes */
    if (!memchr(k + 1, '\\', klen - 2))
        return klen - 2 == n && (n == 0 || memcmp(k + 1, key, n) == 0);
    qv_json_val v = {QV_JSON_STRING, k, klen};
    bool ok;
    return qv_json_string_cmp(&v, key, n, &ok) == 0 && ok;
}

bool qv_json_member(const qv_json_val *obj, const char *key, size_t klen,
                    qv_json_val *out)
{
    if (obj->type != QV_JSON_OBJECT || obj->len < 2)
        return false;
    const char *p = obj->p + 1, *end = obj->p + obj->len - 1;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return false;
        const char *kend = skip_string(p, end);
        if (!kend)
            return false;
        const char *k = p;
        p = skip_ws(kend, end);
        if (p >= end || *p != ':')
            return false;
        p = skip_ws(p + 1, end);
        qv_json_val v;
        if (!read_value(p, end, &v))
            return false;
        if (key_equal(k, (size_t)(kend - k), key, klen)) {
            *out = v;
            return true;
        }
        p = skip_ws(v.p + v.len, end);
        if (p >= end || *p != ',')
            return false;
        p++;
    }
}

bool qv_json_step(const qv_json_val *v, const char *seg, size_t slen,
                  qv_json_val *out)
{
    if (v->type == QV_JSON_OBJECT)
        return qv_json_member(v, seg, slen, out);
    if (v->type != QV_JSON_ARRAY || slen == 0 || slen > 18)
        return false;
    size_t idx = 0;
    for (size_t i = 0; i < slen; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return false;
        idx = idx * 10 + (size_t)(seg[i] - '0');
    }
    if (slen > 1 && seg[0] == '0')
        return false;
    return qv_json_index(v, idx, out);
}

/* ---------------------------------------------------------------- scalars */

bool qv_json_as_int64(const qv_json_val *v, int64_t *out)
{
    if (v->type != QV_JSON_NUMBER || v->len == 0)
        return false;
    const char *p = v->p, *end = v->p + v->len;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end)
        return false;
    uint64_t acc = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false; /* fraction or exponent */
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return false;
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)acc;
    }
    return true;
}

bool qv_json_as_double(const qv_json_val *v, double *out)
{
    if (v->type != QV_JSON_NUMBER || v->len == 0)
        return false;
    int64_t i;
    if (v->len < 16 && qv_json_as_int64(v, &i)) {
        *out = (double)i;
        return true;
    }
    char small[64];
    char *buf = small;
    if (v->len >= sizeof(small))
        buf = qv_xmalloc(v->len + 1);
    memcpy(buf, v->p, v->len);
    buf[v->len] = 0;
    char *e;
    errno = 0;
    double d = strtod(buf, &e);
    bool ok = e == buf + v->len;
    if (buf != small)
        free(buf);
    if (ok)
        *out = d;
    return ok;
}

static size_t put_utf8(char *out, size_t cap, size_t n, uint32_t cp)
{
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    for (size_t i = 0; i < k; i++)
        if (n + i < cap)
            out[n + i] = (char)b[i];
    return k;
}

static bool hex4(const char *p, const char *end, uint32_t *cp)
{
    if (end - p < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *cp = v;
    return true;
}

/* Decodes one escape at p (after the backslash); returns bytes consumed or
 * 0 on error. */
static size_t decode_escape(const char *p, const char *end, char *out,
                            size_t cap, size_t *n)
{
    char c = *p;
    const char *from = "\"\\/bfnrt";
    const char *to = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        if (*n < cap)
            out[*n] = to[hit - from];
        (*n)++;
        return 1;
    }
    if (c != 'u')
        return 0;
    uint32_t cp;
    if (!hex4(p + 1, end, &cp))
        return 0;
    size_t used = 5;
    if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 11 && p[5] == '\\' &&
        p[6] == 'u') {
        uint32_t lo;
        if (hex4(p + 7, end, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            used = 11;
        }
    }
    if (cp >= 0xd800 && cp <= 0xdfff)
        cp = 0xfffd; /* lone surrogate */
    *n += put_utf8(out, cap, *n, cp);
    return used;
}

size_t qv_json_string_decode(const qv_json_val *v, char *out, size_t cap)
{
    if (v->type != QV_JSON_STRING || v->len < 2)
        return SIZE_MAX;
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    size_t n = 0;
    while (p < end) {
        if (*p == '\\') {
            if (p + 1 >= end)
                return SIZE_MAX;
            size_t k = decode_escape(p + 1, end, out, cap, &n);
            if (!k)
                return SIZE_MAX;
            p += 1 + k;
            continue;
        }
        if (n < cap)
            out[n] = *p;
        n++;
        p++;
    }
    return n;
}

int qv_json_string_cmp(const qv_json_val *v, const char *s, size_t n, bool *ok)
{
    *ok = v->type == QV_JSON_STRING && v->len >= 2;
    if (!*ok)
        return 0;
    const char *body = v->p + 1;
    size_t blen = v->len - 2;
    if (!memchr(body, '\\', blen)) {
        size_t m = blen < n ? blen : n;
        int c = m ? memcmp(body, s, m) : 0;
        if (c)
            return c;
        return blen < n ? -1 : blen > n;
    }
    char small[256];
    size_t need = qv_json_string_decode(v, small, sizeof(small));
    if (need == SIZE_MAX) {
        *ok = false;
        return 0;
    }
    char *buf = small;
    if (need > sizeof(small)) {
        buf = qv_xmalloc(need);
        (void)qv_json_string_decode(v, buf, need);
    }
    size_t m = need < n ? need : n;
    int c = m ? memcmp(buf, s, m) : 0;
    if (buf != small)
        free(buf);
    if (c)
        return c;
    return need < n ? -1 : need > n;
}
