/* objstore_s3_xml.c -- the small pieces of S3's wire format we need:
 * AWS URI encoding, and reading elements out of S3's XML answers
 * (ListObjectsV2, InitiateMultipartUpload, errors).
 *
 * The XML reader is deliberately narrow: it finds <tag>text</tag> pairs of
 * elements without attributes and decodes the five named entities and
 * numeric character references.  S3 answers are flat enough for that.  It
 * reads bytes from the network, so it is bounds-checked everywhere and has
 * a fuzz target (tests/fuzz/objstore_s3_xml).
 *
 * Threading: pure functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/objstore/objstore_int.h"

qv_code objstore__s3_uri_encode(qv_buf *out, const char *s, size_t n,
                                bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                     c == '.' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            if (qv_buf_append(out, &s[i], 1))
                return QV_E_NOMEM;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (qv_buf_append(out, e, 3))
                return QV_E_NOMEM;
        }
    }
    return QV_OK;
}

static const char *find_bytes(const char *h, size_t hn, const char *needle,
                              size_t nn)
{
    if (nn == 0 || hn < nn)
        return NULL;
    return memmem(h, hn, needle, nn);
}

/* Appends the UTF-8 encoding of code point cp. */
static bool put_utf8(qv_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return qv_buf_append(b, u, n) == QV_OK;
}

/* Decodes one entity starting at s[0] == '&'; returns bytes consumed or 0
 * when it is not a valid entity.  *ok becomes false when b is full. */
static size_t decode_entity(const char *s, size_t n, qv_buf *b, bool *ok)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&amp;", '&'},
                 {"&lt;", '<'},
                 {"&gt;", '>'},
                 {"&quot;", '"'},
                 {"&apos;", '\''}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t l = strlen(named[i].name);
        if (n >= l && memcmp(s, named[i].name, l) == 0) {
            if (qv_buf_append(b, &named[i].c, 1))
                *ok = false;
            return l;
        }
    }
    if (n < 4 || s[1] != '#')
        return 0;
    bool hexa = s[2] == 'x' || s[2] == 'X';
    size_t i = hexa ? 3 : 2;
    unsigned long cp = 0;
    size_t digits = 0;
    for (; i < n && s[i] != ';' && digits < 8; i++, digits++) {
        char c = s[i];
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (hexa && c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (hexa && c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return 0;
        cp = cp * (hexa ? 16 : 10) + (unsigned long)v;
    }
    if (i >= n || s[i] != ';' || digits == 0 || cp == 0 || cp > 0x10ffff)
        return 0;
    if (!put_utf8(b, cp))
        *ok = false;
    return i + 1;
}

qv_code objstore__xml_text(const char *xml, size_t n, const char *tag,
                           char **out, size_t *pos)
{
    char open[80], close[80];
    int ol = snprintf(open, sizeof(open), "<%s>", tag);
    int cl = snprintf(close, sizeof(close), "</%s>", tag);
    if (ol <= 0 || cl <= 0 || (size_t)cl >= sizeof(close))
        return QV_E_INVALID;
    const char *a = find_bytes(xml, n, open, (size_t)ol);
    const char *self = NULL;
    char empty[80];
    int el = snprintf(empty, sizeof(empty), "<%s/>", tag);
    if (el > 0 && (size_t)el < sizeof(empty))
        self = find_bytes(xml, n, empty, (size_t)el);
    if (self && (!a || self < a)) {
        *out = qv_xstrdup("");
        if (pos)
            *pos = (size_t)(self - xml) + (size_t)el;
        return QV_OK;
    }
    if (!a)
        return QV_E_NOT_FOUND;
    const char *body = a + ol;
    size_t rest = n - (size_t)(body - xml);
    const char *z = find_bytes(body, rest, close, (size_t)cl);
    if (!z)
        return QV_E_CORRUPT;
    qv_buf b = QV_BUF_INIT;
    bool ok = true;
    for (const char *p = body; p < z && ok;) {
        size_t used = 0;
        if (*p == '&')
            used = decode_entity(p, (size_t)(z - p), &b, &ok);
        if (used == 0) {
            if (qv_buf_append(&b, p, 1))
                ok = false;
            used = 1;
        }
        p += used;
    }
    if (!ok) {
        qv_buf_release(&b);
        return QV_E_NOMEM;
    }
    size_t len;
    char *s = qv_buf_detach(&b, &len);
    *out = s ? s : qv_xstrdup("");
    if (pos)
        *pos = (size_t)(z - xml) + (size_t)cl;
    return QV_OK;
}

int64_t objstore__parse_iso8601_ms(const char *s)
{
    int y, mo, d, h, mi, sec;
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &used) != 6 ||
        used <= 0)
        return 0;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
        return 0;
    int ms = 0;
    const char *p = s + used;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    return (int64_t)t * 1000 + ms;
}

/* Parses one <Contents> element body. */
static qv_code parse_contents(const char *c, size_t n, objstore_list_page *page,
                              size_t *cap, qv_err *err)
{
    char *key = NULL, *size = NULL, *mtime = NULL;
    if (objstore__xml_text(c, n, "Key", &key, NULL) != QV_OK)
        return qv_fail(err, QV_E_CORRUPT,
                       "s3 list: <Contents> without a <Key>");
    qv_code rc = QV_OK;
    uint64_t sz = 0;
    if (objstore__xml_text(c, n, "Size", &size, NULL) == QV_OK) {
        char *end;
        sz = strtoull(size, &end, 10);
        if (end == size || *end)
            rc = qv_fail(err, QV_E_CORRUPT, "s3 list: bad <Size> of '%s'", key);
    }
    int64_t ms = 0;
    if (objstore__xml_text(c, n, "LastModified", &mtime, NULL) == QV_OK)
        ms = objstore__parse_iso8601_ms(mtime);
    if (rc == QV_OK && (key[0] == '\0' || strlen(key) > OBJSTORE_KEY_MAX))
        rc = qv_fail(err, QV_E_CORRUPT, "s3 list: invalid key in answer");
    if (rc == QV_OK)
        objstore__page_add(page, cap, key, strlen(key), sz, ms);
    free(key);
    free(size);
    free(mtime);
    return rc;
}

qv_code objstore__s3_parse_list(const char *xml, size_t n,
                                objstore_list_page *page, qv_err *err)
{
    if (!find_bytes(xml, n, "<ListBucketResult", 17))
        return qv_fail(err, QV_E_CORRUPT,
                       "s3 list: answer is not a ListBucketResult");
    size_t cap = page->count;
    size_t off = 0;
    for (;;) {
        const char *a = find_bytes(xml + off, n - off, "<Contents>", 10);
        if (!a)
            break;
        const char *body = a + 10;
        size_t rest = n - (size_t)(body - xml);
        const char *z = find_bytes(body, rest, "</Contents>", 11);
        if (!z)
            return qv_fail(err, QV_E_CORRUPT,
                           "s3 list: unterminated <Contents>");
        qv_code rc = parse_contents(body, (size_t)(z - body), page, &cap, err);
        if (rc)
            return rc;
        off = (size_t)(z - xml) + 11;
    }
    char *trunc = NULL;
    bool truncated = false;
    if (objstore__xml_text(xml, n, "IsTruncated", &trunc, NULL) == QV_OK)
        truncated = strcmp(trunc, "true") == 0;
    free(trunc);
    if (!truncated)
        return QV_OK;
    char *tok = NULL;
    if (objstore__xml_text(xml, n, "NextContinuationToken", &tok, NULL) !=
            QV_OK ||
        tok[0] == '\0') {
        free(tok);
        return qv_fail(err, QV_E_CORRUPT,
                       "s3 list: truncated answer without a continuation "
                       "token");
    }
    page->next_token = tok;
    return QV_OK;
}
