/* json_check.c -- strict JSON (RFC 8259) and UTF-8 validation for JSON
 * and VarChar data taken from clients or files.
 *
 * The scanner is a recursive descent over the bytes with a depth limit;
 * it builds nothing.  Accepted: one value surrounded by optional
 * whitespace; strings of valid UTF-8 with the JSON escapes (\uXXXX
 * surrogates must pair); numbers in JSON grammar (no leading zeros, no
 * NaN/Infinity, no leading '+').
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"

#define JSON_MAX_DEPTH 128

typedef struct scan {
    const unsigned char *s;
    size_t len, pos;
    int depth;
} scan;

/* Length of the UTF-8 sequence at s[0..len) or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool qv_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

static void skip_ws(scan *sc)
{
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
}

static bool lit(scan *sc, const char *w, size_t n)
{
    if (sc->len - sc->pos < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (sc->s[sc->pos + i] != (unsigned char)w[i])
            return false;
    sc->pos += n;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(scan *sc, uint32_t *out)
{
    if (sc->len - sc->pos < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(sc->s[sc->pos + (size_t)i]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    sc->pos += 4;
    *out = v;
    return true;
}

static bool escape(scan *sc)
{
    if (sc->pos >= sc->len)
        return false;
    unsigned char c = sc->s[sc->pos++];
    if (c != 'u')
        return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
               c == 'n' || c == 'r' || c == 't';
    uint32_t u;
    if (!hex4(sc, &u))
        return false;
    if (u >= 0xdc00 && u <= 0xdfff)
        return false; /* lone low surrogate */
    if (u >= 0xd800 && u <= 0xdbff) {
        uint32_t lo;
        if (!lit(sc, "\\u", 2) || !hex4(sc, &lo))
            return false;
        return lo >= 0xdc00 && lo <= 0xdfff;
    }
    return true;
}

static bool string(scan *sc)
{
    sc->pos++; /* opening quote */
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            sc->pos++;
            if (!escape(sc))
                return false;
        } else if (c < 0x80) {
            sc->pos++;
        } else {
            size_t n = utf8_seq(sc->s + sc->pos, sc->len - sc->pos);
            if (!n)
                return false;
            sc->pos += n;
        }
    }
    return false;
}

static bool digits(scan *sc)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
        sc->pos++;
    return sc->pos > start;
}

static bool number(scan *sc)
{
    if (sc->s[sc->pos] == '-')
        sc->pos++;
    if (sc->pos >= sc->len)
        return false;
    if (sc->s[sc->pos] == '0')
        sc->pos++;
    else if (!digits(sc))
        return false;
    if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
        sc->pos++;
        if (!digits(sc))
            return false;
    }
    if (sc->pos < sc->len && (sc->s[sc->pos] | 0x20) == 'e') {
        sc->pos++;
        if (sc->pos < sc->len &&
            (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
            sc->pos++;
        if (!digits(sc))
            return false;
    }
    return true;
}

static bool value(scan *sc);

static bool container(scan *sc, bool object)
{
    unsigned char close = object ? '}' : ']';
    if (++sc->depth > JSON_MAX_DEPTH)
        return false;
    sc->pos++;
    skip_ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        sc->pos++;
        sc->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            skip_ws(sc);
            if (sc->pos >= sc->len || sc->s[sc->pos] != '"' || !string(sc))
                return false;
            skip_ws(sc);
            if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                return false;
            sc->pos++;
        }
        if (!value(sc))
            return false;
        skip_ws(sc);
        if (sc->pos >= sc->len)
            return false;
        unsigned char c = sc->s[sc->pos++];
        if (c == close)
            break;
        if (c != ',')
            return false;
    }
    sc->depth--;
    return true;
}

static bool value(scan *sc)
{
    skip_ws(sc);
    if (sc->pos >= sc->len)
        return false;
    switch (sc->s[sc->pos]) {
    case '{':
        return container(sc, true);
    case '[':
        return container(sc, false);
    case '"':
        return string(sc);
    case 't':
        return lit(sc, "true", 4);
    case 'f':
        return lit(sc, "false", 5);
    case 'n':
        return lit(sc, "null", 4);
    default:
        return number(sc);
    }
}

bool qv_col_json_valid(const char *s, size_t len, size_t *err_off)
{
    scan sc = {(const unsigned char *)s, len, 0, 0};
    bool ok = value(&sc);
    if (ok) {
        skip_ws(&sc);
        ok = sc.pos == len;
    }
    if (!ok && err_off)
        *err_off = sc.pos;
    return ok;
}
