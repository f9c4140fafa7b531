/* pk_stats.c -- the PK bloom filter and min/max PK statistics, with their
 * file format.  See pk.h; format tables in README.md.
 *
 * Bloom hashing is part of the file contract (a filter written by one
 * process is tested by another), so it uses fixed functions, not
 * qv_hash64: h1 = splitmix64(key) for Int64 keys (the 8 little-endian
 * bytes as a uint64), splitmix64(FNV-1a-64(bytes)) for VarChar keys;
 * h2 = splitmix64(h1 ^ 0x9e3779b97f4a7c15) | 1; for i < k, g = h1 + i * h2
 * (mod 2^64) and the bit is floor(g * nbits / 2^64) (Kirsch-Mitzenmacher
 * double hashing with a multiply-shift range reduction: no division).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/alloc.h"
#include "common/column/pk.h"
#include "common/hash.h"

#define BLOOM_MAX_HASHES 30
#define STATS_MAGIC      0x53505651u /* "QVPS" */
#define STATS_VERSION    1u
#define STATS_HAS_MINMAX 1u

struct qv_pk_bloom {
    qv_dtype type;
    uint64_t nbits;
    uint32_t k;
    uint64_t *bits;
};

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void bloom_hashes(const qv_pk *pk, uint64_t *h1, uint64_t *h2)
{
    *h1 = pk->type == QV_DT_VARCHAR ? splitmix64(fnv1a64(pk->s, pk->len))
                                    : splitmix64((uint64_t)pk->i);
    *h2 = splitmix64(*h1 ^ 0x9e3779b97f4a7c15ull) | 1;
}

static inline uint64_t bloom_bit(uint64_t g, uint64_t nbits)
{
    return (uint64_t)(((unsigned __int128)g * nbits) >> 64);
}

static qv_code bloom_alloc(qv_dtype t, uint64_t nbits, uint32_t k,
                           qv_pk_bloom **out)
{
    qv_pk_bloom *b = QV_NEW(qv_pk_bloom);
    b->type = t;
    b->nbits = nbits;
    b->k = k;
    b->bits = qv_try_calloc((size_t)((nbits + 63) / 64), sizeof(uint64_t));
    if (!b->bits) {
        free(b);
        return QV_E_NOMEM;
    }
    *out = b;
    return QV_OK;
}

qv_code qv_pk_bloom_create(qv_dtype t, size_t n, double fpp, qv_pk_bloom **out,
                           qv_err *err)
{
    if (t != QV_DT_INT64 && t != QV_DT_VARCHAR)
        return qv_fail(err, QV_E_INVALID,
                       "bloom filter key type %s is not Int64 or VarChar",
                       qv_dtype_name(t));
    if (!(fpp > 0 && fpp < 1))
        return qv_fail(err, QV_E_INVALID,
                       "bloom filter false-positive rate %g is not in (0, 1)",
                       fpp);
    double ln2 = log(2.0);
    double m = ceil(-(double)(n ? n : 1) * log(fpp) / (ln2 * ln2));
    if (m < 64)
        m = 64;
    if (m > 1e12)
        return qv_fail(err, QV_E_NOMEM,
                       "bloom filter for %zu keys is too "
                       "large",
                       n);
    double k = round(m / (double)(n ? n : 1) * ln2);
    if (k < 1)
        k = 1;
    if (k > BLOOM_MAX_HASHES)
        k = BLOOM_MAX_HASHES;
    if (bloom_alloc(t, (uint64_t)m, (uint32_t)k, out))
        return qv_fail(err, QV_E_NOMEM,
                       "cannot allocate a %.0f-bit bloom "
                       "filter",
                       m);
    return QV_OK;
}

void qv_pk_bloom_free(qv_pk_bloom *b)
{
    if (!b)
        return;
    free(b->bits);
    free(b);
}

void qv_pk_bloom_add(qv_pk_bloom *b, const qv_pk *pk)
{
    uint64_t h1, h2;
    bloom_hashes(pk, &h1, &h2);
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = bloom_bit(h1 + i * h2, b->nbits);
        b->bits[bit / 64] |= (uint64_t)1 << (bit % 64);
    }
}

bool qv_pk_bloom_test(const qv_pk_bloom *b, const qv_pk *pk)
{
    if (pk->type != b->type)
        return false;
    uint64_t h1, h2;
    bloom_hashes(pk, &h1, &h2);
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = bloom_bit(h1 + i * h2, b->nbits);
        if (!((b->bits[bit / 64] >> (bit % 64)) & 1))
            return false;
    }
    return true;
}

size_t qv_pk_bloom_bits(const qv_pk_bloom *b)
{
    return (size_t)b->nbits;
}

unsigned qv_pk_bloom_hashes(const qv_pk_bloom *b)
{
    return b->k;
}

/* ---- stats ------------------------------------------------------------ */

qv_code qv_pk_stats_build(const qv_col_view *v, qv_pk_stats *out, qv_err *err)
{
    memset(out, 0, sizeof *out);
    if (v->valid && v->rows)
        for (size_t r = 0; r < v->rows; r++)
            if (qv_col_is_null(v, r))
                return qv_fail(err, QV_E_INVALID, "primary key row %zu is null",
                               r);
    qv_code rc = qv_pk_bloom_create(v->type, v->rows, 0.001, &out->bloom, err);
    if (rc)
        return rc;
    out->type = v->type;
    out->rows = v->rows;
    size_t imin = 0, imax = 0;
    for (size_t r = 0; r < v->rows; r++) {
        qv_pk k = qv_pk_of_row(v, r);
        qv_pk_bloom_add(out->bloom, &k);
        qv_pk a = qv_pk_of_row(v, imin), b = qv_pk_of_row(v, imax);
        if (qv_pk_cmp(&k, &a) < 0)
            imin = r;
        if (qv_pk_cmp(&k, &b) > 0)
            imax = r;
    }
    if (v->rows) {
        out->has_minmax = true;
        qv_pk a = qv_pk_of_row(v, imin), b = qv_pk_of_row(v, imax);
        out->min_i = a.i;
        out->max_i = b.i;
        if (v->type == QV_DT_VARCHAR) {
            out->min_s = qv_xstrndup(a.s ? a.s : "", a.len);
            out->max_s = qv_xstrndup(b.s ? b.s : "", b.len);
            out->min_len = a.len;
            out->max_len = b.len;
        }
    }
    return QV_OK;
}

void qv_pk_stats_release(qv_pk_stats *s)
{
    qv_pk_bloom_free(s->bloom);
    free(s->min_s);
    free(s->max_s);
    memset(s, 0, sizeof *s);
}

bool qv_pk_stats_may_contain(const qv_pk_stats *s, const qv_pk *pk)
{
    if (pk->type != s->type || !s->has_minmax)
        return false;
    qv_pk lo = s->type == QV_DT_VARCHAR ? qv_pk_str(s->min_s, s->min_len)
                                        : qv_pk_int(s->min_i);
    qv_pk hi = s->type == QV_DT_VARCHAR ? qv_pk_str(s->max_s, s->max_len)
                                        : qv_pk_int(s->max_i);
    if (qv_pk_cmp(pk, &lo) < 0 || qv_pk_cmp(pk, &hi) > 0)
        return false;
    return !s->bloom || qv_pk_bloom_test(s->bloom, pk);
}

qv_code qv_pk_stats_encode(const qv_pk_stats *s, qv_buf *out, qv_err *err)
{
    bool str = s->type == QV_DT_VARCHAR;
    size_t mm = str ? 8 + s->min_len + s->max_len : 16;
    size_t words = (size_t)((s->bloom->nbits + 63) / 64);
    size_t total = 24 + mm + 16 + words * 8 + 4;
    size_t start = out->len;
    qv_code rc = qv_buf_reserve(out, total);
    if (rc)
        return qv_fail(err, rc, "cannot encode PK stats of %zu bytes", total);
    uint8_t *p = (uint8_t *)out->data + start;
    memset(p, 0, total);
    qv_store_u32(p, STATS_MAGIC);
    qv_store_u32(p + 4, STATS_VERSION);
    qv_store_u32(p + 8, (uint32_t)s->type);
    qv_store_u32(p + 12, s->has_minmax ? STATS_HAS_MINMAX : 0);
    qv_store_u64(p + 16, s->rows);
    uint8_t *q = p + 24;
    if (str) {
        qv_store_u32(q, (uint32_t)s->min_len);
        qv_store_u32(q + 4, (uint32_t)s->max_len);
        if (s->min_len)
            memcpy(q + 8, s->min_s, s->min_len);
        if (s->max_len)
            memcpy(q + 8 + s->min_len, s->max_s, s->max_len);
    } else {
        qv_store_u64(q, (uint64_t)s->min_i);
        qv_store_u64(q + 8, (uint64_t)s->max_i);
    }
    q += mm;
    qv_store_u32(q, s->bloom->k);
    qv_store_u64(q + 8, s->bloom->nbits);
    memcpy(q + 16, s->bloom->bits, words * 8);
    qv_store_u32(p + total - 4, qv_crc32c(0, p, total - 4));
    out->len += total;
    out->data[out->len] = '\0';
    return QV_OK;
}

static qv_code corrupt(qv_err *err, const char *what)
{
    return qv_fail(err, QV_E_CORRUPT, "pk stats: %s", what);
}

/* Parses min/max at *q (bounds checked against end). */
static qv_code decode_minmax(const uint8_t **q, const uint8_t *end,
                             qv_pk_stats *s, qv_err *err)
{
    const uint8_t *p = *q;
    if (s->type == QV_DT_INT64) {
        if (end - p < 16)
            return corrupt(err, "truncated min/max");
        s->min_i = (int64_t)qv_load_u64(p);
        s->max_i = (int64_t)qv_load_u64(p + 8);
        *q = p + 16;
        return QV_OK;
    }
    if (end - p < 8)
        return corrupt(err, "truncated min/max");
    size_t a = qv_load_u32(p), b = qv_load_u32(p + 4);
    if ((size_t)(end - p - 8) < a || (size_t)(end - p - 8) - a < b)
        return corrupt(err, "min/max lengths exceed the image");
    s->min_s = qv_xstrndup((const char *)p + 8, a);
    s->max_s = qv_xstrndup((const char *)p + 8 + a, b);
    s->min_len = a;
    s->max_len = b;
    *q = p + 8 + a + b;
    return QV_OK;
}

qv_code qv_pk_stats_decode(const void *bytes, size_t len, qv_pk_stats *out,
                           qv_err *err)
{
    const uint8_t *p = bytes;
    qv_pk_stats s;
    memset(&s, 0, sizeof s);
    if (len < 24 + 4)
        return corrupt(err, "shorter than the header");
    if (qv_load_u32(p) != STATS_MAGIC)
        return corrupt(err, "bad magic");
    if (qv_load_u32(p + 4) != STATS_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "pk stats: unsupported version %u", qv_load_u32(p + 4));
    if (qv_load_u32(p + len - 4) != qv_crc32c(0, p, len - 4))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "pk stats: checksum mismatch");
    s.type = (qv_dtype)qv_load_u32(p + 8);
    uint32_t flags = qv_load_u32(p + 12);
    s.rows = qv_load_u64(p + 16);
    if ((s.type != QV_DT_INT64 && s.type != QV_DT_VARCHAR) ||
        (flags & ~STATS_HAS_MINMAX))
        return corrupt(err, "bad key type or flags");
    s.has_minmax = flags & STATS_HAS_MINMAX;
    const uint8_t *q = p + 24, *end = p + len - 4;
    qv_code rc = decode_minmax(&q, end, &s, err);
    if (rc)
        goto fail;
    if (end - q < 16) {
        rc = corrupt(err, "truncated bloom header");
        goto fail;
    }
    uint32_t k = qv_load_u32(q);
    uint64_t nbits = qv_load_u64(q + 8);
    size_t words = (size_t)((nbits + 63) / 64);
    if (k == 0 || k > BLOOM_MAX_HASHES || nbits == 0 || qv_load_u32(q + 4) ||
        nbits > (uint64_t)(end - q) * 8 ||
        (size_t)(end - q - 16) != words * 8) {
        rc = corrupt(err, "bloom size does not match the image");
        goto fail;
    }
    if (bloom_alloc(s.type, nbits, k, &s.bloom)) {
        rc = qv_fail(err, QV_E_NOMEM, "pk stats: bloom too large");
        goto fail;
    }
    memcpy(s.bloom->bits, q + 16, words * 8);
    *out = s;
    return QV_OK;
fail:
    qv_pk_stats_release(&s);
    return rc;
}
