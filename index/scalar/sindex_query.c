/* sindex_query.c -- loading and validating scalar index images, and the
 * queries (terms, ranges, prefix) over them.  Layout in sindex_int.h.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "index/scalar/sindex_int.h"

/* ---- load ------------------------------------------------------------ */

static qv_code bad(qv_err *err, const char *what)
{
    return qv_fail(err, QV_E_CORRUPT, "scalar index image: %s", what);
}

static qv_code parse_header(const uint8_t *f, size_t len, qv_sindex *ix,
                            uint64_t off[S_COUNT], uint64_t sl[S_COUNT],
                            qv_err *err)
{
    if (len < SX_HDR)
        return bad(err, "shorter than the header");
    if (qv_load_u32(f) != SX_MAGIC)
        return bad(err, "bad magic");
    if (qv_load_u32(f + 4) != SX_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "scalar index image: unsupported version %u",
                       qv_load_u32(f + 4));
    uint32_t crc = qv_crc32c(0, f, 56);
    if (qv_load_u32(f + 56) != qv_crc32c(crc, f + 64, len - 64))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "scalar index image: checksum mismatch");
    ix->type = (qv_sindex_type)qv_load_u32(f + 8);
    ix->ktype = (qv_dtype)qv_load_u32(f + 12);
    uint32_t flags = qv_load_u32(f + 16);
    ix->is_array = flags & SX_FLAG_ARRAY;
    ix->kind = (int)qv_load_u32(f + 20);
    uint64_t rows = qv_load_u64(f + 24), nkeys = qv_load_u64(f + 32);
    uint64_t nposts = qv_load_u64(f + 40), nnodes = qv_load_u64(f + 48);
    if ((flags & ~SX_FLAG_ARRAY) || qv_load_u32(f + 60))
        return bad(err, "unknown flags");
    if (!qv_sindex_type_fits(ix->type, ix->is_array ? QV_DT_ARRAY : ix->ktype,
                             ix->ktype))
        return bad(err, "index type does not fit the key type");
    int want = ix->ktype == QV_DT_VARCHAR ? KIND_STR
               : (ix->ktype == QV_DT_FLOAT || ix->ktype == QV_DT_DOUBLE)
                   ? KIND_FLOAT
                   : KIND_INT;
    if (ix->kind != want)
        return bad(err, "key kind does not match the key type");
    if (rows > UINT32_MAX || nkeys > len || nposts > len || nnodes > len)
        return bad(err, "counts larger than the image");
    ix->rows = rows;
    ix->nkeys = nkeys;
    ix->nposts = nposts;
    ix->nnodes = nnodes;
    ix->words = QV_BITSET_WORDS(ix->rows);
    for (int s = 0; s < S_COUNT; s++) {
        off[s] = qv_load_u64(f + 64 + (size_t)16 * s);
        sl[s] = qv_load_u64(f + 72 + (size_t)16 * s);
        if (sl[s] && (off[s] < SX_HDR || off[s] % 64 || off[s] > len ||
                      sl[s] > len - off[s]))
            return bad(err, "a section lies outside the image");
    }
    return QV_OK;
}

/* Expected section lengths from the counts; 0 = absent.  Sets
 * ix->nbitmaps for BITMAP. */
static bool sizes_ok(qv_sindex *ix, const uint64_t sl[S_COUNT])
{
    bool str = ix->kind == KIND_STR, bitmap = ix->type == QV_SINDEX_BITMAP;
    size_t keys = ix->nkeys + (str ? 1 : 0), bmw = ix->words * 8;
    bool post = ix->type != QV_SINDEX_STL_SORT;
    if (bitmap) { /* any number of whole bitmaps */
        if (bmw ? sl[S_BITMAPS] % bmw : sl[S_BITMAPS])
            return false;
        ix->nbitmaps = bmw ? sl[S_BITMAPS] / bmw : 0;
    } else if (sl[S_BITMAPS]) {
        return false;
    }
    return sl[S_KEYS] == keys * 8 && (str || sl[S_KBYTES] == 0) &&
           sl[S_POFF] == (post ? (ix->nkeys + 1) * 8 : 0) &&
           sl[S_ROWS] == ix->nposts * 4 &&
           sl[S_BMIDX] == (bitmap ? ix->nkeys * 4 : 0) &&
           (ix->type != QV_SINDEX_STL_SORT || ix->nposts == ix->nkeys) &&
           sl[S_NODES] ==
               (ix->type == QV_SINDEX_TRIE ? ix->nnodes * TN_FIELDS * 4 : 0) &&
           (ix->type == QV_SINDEX_TRIE || ix->nnodes == 0);
}

/* BITMAP: every key names a bitmap (and has no postings) or none; no row
 * bit past the last row. */
static bool bitmaps_ok(const qv_sindex *ix)
{
    for (size_t k = 0; k < ix->nkeys; k++) {
        uint32_t b = ix->bmidx[k];
        if (b != SX_NO_BITMAP &&
            (b >= ix->nbitmaps || ix->poff[k + 1] != ix->poff[k]))
            return false;
    }
    if (ix->rows % 64)
        for (size_t b = 0; b < ix->nbitmaps; b++)
            if (ix->bitmaps[b * ix->words + ix->words - 1] >> (ix->rows % 64))
                return false;
    return true;
}

static int cmp_keys(const qv_sindex *ix, size_t a, size_t b)
{
    if (ix->kind == KIND_INT)
        return (ix->ikeys[a] > ix->ikeys[b]) - (ix->ikeys[a] < ix->ikeys[b]);
    if (ix->kind == KIND_FLOAT) {
        if (ix->fkeys[a] < ix->fkeys[b])
            return -1;
        return ix->fkeys[a] == ix->fkeys[b] ? 0 : 1; /* NaN sorts "after" */
    }
    size_t la, lb;
    const uint8_t *pa = sx_str(ix, a, &la), *pb = sx_str(ix, b, &lb);
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(pa, pb, n) : 0;
    return c ? c : (la > lb) - (la < lb);
}

/* Keys sorted (strictly unless STL_SORT), postings monotone, rows in
 * range; NaN keys rejected. */
static bool content_ok(const qv_sindex *ix)
{
    if (ix->kind == KIND_STR) {
        if (ix->soffs[0] != 0 || ix->soffs[ix->nkeys] != ix->sbytes_len)
            return false;
        for (size_t k = 0; k < ix->nkeys; k++)
            if (ix->soffs[k + 1] < ix->soffs[k])
                return false;
    }
    for (size_t k = 0; k < ix->nkeys; k++) {
        if (ix->kind == KIND_FLOAT && isnan(ix->fkeys[k]))
            return false;
        int c = k ? cmp_keys(ix, k - 1, k) : -1;
        if (c > 0 || (c == 0 && ix->type != QV_SINDEX_STL_SORT))
            return false;
    }
    if (ix->poff) { /* BITMAP keys with a bitmap have empty postings */
        if (ix->poff[0] != 0 || ix->poff[ix->nkeys] != ix->nposts)
            return false;
        for (size_t k = 0; k < ix->nkeys; k++)
            if (ix->poff[k + 1] < ix->poff[k] ||
                (ix->poff[k + 1] == ix->poff[k] &&
                 ix->type != QV_SINDEX_BITMAP))
                return false;
    }
    for (size_t i = 0; ix->prow && i < ix->nposts; i++)
        if (ix->prow[i] >= ix->rows)
            return false;
    return ix->type != QV_SINDEX_BITMAP || bitmaps_ok(ix);
}

qv_code qv_sindex_load(const void *bytes, size_t len, qv_sindex **out,
                       qv_err *err)
{
    const uint8_t *f = bytes;
    if ((uintptr_t)bytes % 8)
        return qv_fail(err, QV_E_INVALID,
                       "scalar index image is not 8-byte aligned");
    qv_sindex tmp;
    memset(&tmp, 0, sizeof tmp);
    uint64_t off[S_COUNT] = {0}, sl[S_COUNT] = {0};
    qv_code rc = parse_header(f, len, &tmp, off, sl, err);
    if (rc)
        return rc;
    if (!sizes_ok(&tmp, sl))
        return bad(err, "section sizes do not match the counts");
#define SECT(s, T) (sl[s] ? (const T *)(const void *)(f + off[s]) : NULL)
    if (tmp.kind == KIND_STR) {
        tmp.soffs = SECT(S_KEYS, uint64_t);
        tmp.sbytes = sl[S_KBYTES] ? f + off[S_KBYTES] : f;
        tmp.sbytes_len = sl[S_KBYTES];
    } else if (tmp.kind == KIND_INT) {
        tmp.ikeys = SECT(S_KEYS, int64_t);
    } else {
        tmp.fkeys = SECT(S_KEYS, double);
    }
    tmp.poff = SECT(S_POFF, uint64_t);
    tmp.prow = SECT(S_ROWS, uint32_t);
    tmp.bitmaps = SECT(S_BITMAPS, uint64_t);
    tmp.bmidx = SECT(S_BMIDX, uint32_t);
    tmp.nodes = SECT(S_NODES, uint32_t);
#undef SECT
    if (!content_ok(&tmp))
        return bad(err, "keys or postings are out of order or range");
    if (tmp.type == QV_SINDEX_TRIE && !qv__trie_check(&tmp))
        return bad(err, "trie nodes are malformed");
    tmp.image = f;
    tmp.image_len = len;
    qv_sindex *ix = QV_NEW(qv_sindex);
    *ix = tmp;
    *out = ix;
    return QV_OK;
}

qv_code qv_sindex_open_file(const char *path, qv_sindex **out, qv_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_fail_errno(err, QV_E_IO, "cannot open scalar index '%s'",
                             path);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < SX_HDR) {
        close(fd);
        return qv_fail(err, QV_E_CORRUPT,
                       "scalar index '%s' is shorter than its header", path);
    }
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return qv_fail_errno(err, QV_E_IO, "cannot map '%s'", path);
    qv_sindex *ix = NULL;
    qv_code rc = qv_sindex_load(m, len, &ix, err);
    if (rc || !ix) {
        munmap(m, len);
        (void)qv_err_prefix(err, "'%s'", path);
        return rc ? rc : QV_E_INTERNAL;
    }
    ix->map = m;
    ix->map_len = len;
    *out = ix;
    return QV_OK;
}

bool qv_sindex_is_array(const qv_sindex *ix)
{
    return ix->is_array;
}

void qv_sindex_free(qv_sindex *ix)
{
    if (!ix)
        return;
    if (ix->map)
        munmap(ix->map, ix->map_len);
    qv_aligned_free(ix->owned);
    free(ix);
}

qv_code qv_sindex_encode(const qv_sindex *ix, qv_buf *out, qv_err *err)
{
    qv_code rc = qv_buf_append(out, ix->image, ix->image_len);
    if (rc)
        return qv_fail(err, rc, "cannot encode a %zu-byte %s index",
                       ix->image_len, qv_sindex_type_name(ix->type));
    return QV_OK;
}

qv_sindex_type qv_sindex_kind(const qv_sindex *ix)
{
    return ix->type;
}
qv_dtype qv_sindex_column_type(const qv_sindex *ix)
{
    return ix->ktype;
}
size_t qv_sindex_rows(const qv_sindex *ix)
{
    return ix->rows;
}
size_t qv_sindex_memory_size(const qv_sindex *ix)
{
    return sizeof *ix + (ix->owned ? ix->image_len : 0);
}

bool qv_sindex_supports(const qv_sindex *ix, qv_sindex_op op)
{
    switch (op) {
    case QV_SOP_TERMS:
    case QV_SOP_RANGE:
        return true;
    case QV_SOP_PREFIX:
        return ix->kind == KIND_STR;
    }
    return false;
}

/* ---- comparisons ----------------------------------------------------- */

/* Exact comparison of an int64 and a (non-NaN) double. */
static int cmp_i64_f64(int64_t a, double b)
{
    if (b >= 9223372036854775808.0)
        return -1;
    if (b < -9223372036854775808.0)
        return 1;
    int64_t bi = (int64_t)b; /* truncates; exact for |b| < 2^63 */
    if (a != bi)
        return a < bi ? -1 : 1;
    double frac = b - (double)bi;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* key k <=> v; the caller checked the kinds are comparable and v is not
 * NaN. */
static int cmp_key_val(const qv_sindex *ix, size_t k, const qv_value *v)
{
    if (ix->kind == KIND_STR) {
        size_t la;
        const uint8_t *pa = sx_str(ix, k, &la);
        size_t lb = v->u.s.len, n = la < lb ? la : lb;
        int c = n ? memcmp(pa, v->u.s.ptr, n) : 0;
        return c ? c : (la > lb) - (la < lb);
    }
    if (ix->kind == KIND_INT) {
        int64_t a = ix->ikeys[k];
        if (v->kind == QV_VAL_FLOAT)
            return cmp_i64_f64(a, v->u.f);
        int64_t b = v->kind == QV_VAL_BOOL ? v->u.b : v->u.i;
        return (a > b) - (a < b);
    }
    double a = ix->fkeys[k];
    if (v->kind == QV_VAL_INT)
        return -cmp_i64_f64(v->u.i, a);
    double b = v->kind == QV_VAL_BOOL ? v->u.b : v->u.f;
    return (a > b) - (a < b);
}

/* QV_OK if v can be compared with the keys; *none = true if it matches
 * nothing (NULL, NaN). */
static qv_code check_value(const qv_sindex *ix, const qv_value *v, bool *none,
                           qv_err *err)
{
    *none =
        v->kind == QV_VAL_NULL || (v->kind == QV_VAL_FLOAT && isnan(v->u.f));
    if (*none)
        return QV_OK;
    bool str = v->kind == QV_VAL_STR;
    if (str != (ix->kind == KIND_STR) ||
        (v->kind == QV_VAL_BOOL) != (ix->ktype == QV_DT_BOOL))
        return qv_fail(err, QV_E_INVALID,
                       "%s index on %s cannot compare a %s value",
                       qv_sindex_type_name(ix->type), qv_dtype_name(ix->ktype),
                       str                      ? "string"
                       : v->kind == QV_VAL_BOOL ? "bool"
                                                : "numeric");
    return QV_OK;
}

/* First key >= v (upper = false) or > v (upper = true). */
static size_t bound(const qv_sindex *ix, const qv_value *v, bool upper)
{
    size_t lo = 0, hi = ix->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key_val(ix, mid, v);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sets the bits of the rows of keys [a, b). */
static void mark_keys(const qv_sindex *ix, size_t a, size_t b, qv_bitset *o)
{
    if (a >= b)
        return;
    for (size_t k = a; ix->bmidx && k < b; k++) {
        if (ix->bmidx[k] == SX_NO_BITMAP)
            continue;
        const uint64_t *w = ix->bitmaps + (size_t)ix->bmidx[k] * ix->words;
        for (size_t i = 0; i < ix->words; i++)
            o->words[i] |= w[i];
    }
    size_t s = ix->poff ? ix->poff[a] : a, e = ix->poff ? ix->poff[b] : b;
    for (size_t i = s; i < e; i++)
        qv_bitset_set(o, ix->prow[i]);
}

static qv_code check_out(const qv_sindex *ix, qv_bitset *out, qv_err *err)
{
    if (out->nbits != ix->rows)
        return qv_fail(err, QV_E_INVALID,
                       "result bitset has %zu bits, the index %zu rows",
                       out->nbits, ix->rows);
    qv_bitset_clear_all(out);
    return QV_OK;
}

qv_code qv_sindex_terms(const qv_sindex *ix, const qv_value *vals, size_t n,
                        qv_bitset *out, qv_err *err)
{
    qv_code rc = check_out(ix, out, err);
    for (size_t i = 0; !rc && i < n; i++) {
        bool none;
        rc = check_value(ix, &vals[i], &none, err);
        if (rc || none)
            continue;
        size_t a = bound(ix, &vals[i], false);
        size_t b = a;
        while (b < ix->nkeys && cmp_key_val(ix, b, &vals[i]) == 0)
            b++;
        mark_keys(ix, a, b, out);
    }
    return rc;
}

qv_code qv_sindex_range(const qv_sindex *ix, const qv_sindex_bound *lo,
                        const qv_sindex_bound *hi, qv_bitset *out, qv_err *err)
{
    qv_code rc = check_out(ix, out, err);
    if (rc)
        return rc;
    bool none = false, n2 = false;
    if (lo && (rc = check_value(ix, &lo->v, &none, err)))
        return rc;
    if (hi && (rc = check_value(ix, &hi->v, &n2, err)))
        return rc;
    if (none || n2)
        return QV_OK;
    size_t a = lo ? bound(ix, &lo->v, !lo->inclusive) : 0;
    size_t b = hi ? bound(ix, &hi->v, hi->inclusive) : ix->nkeys;
    mark_keys(ix, a, b, out);
    return QV_OK;
}

static bool has_prefix(const qv_sindex *ix, size_t k, const char *p, size_t len)
{
    size_t kl;
    const uint8_t *kp = sx_str(ix, k, &kl);
    return kl >= len && (len == 0 || memcmp(kp, p, len) == 0);
}

qv_code qv_sindex_prefix(const qv_sindex *ix, const char *prefix, size_t len,
                         qv_bitset *out, qv_err *err)
{
    qv_code rc = check_out(ix, out, err);
    if (rc)
        return rc;
    if (ix->kind != KIND_STR)
        return qv_fail(err, QV_E_INVALID, "%s index on %s has no prefix query",
                       qv_sindex_type_name(ix->type), qv_dtype_name(ix->ktype));
    size_t a, b;
    if (ix->nodes) {
        qv__trie_prefix(ix, (const uint8_t *)prefix, len, &a, &b);
    } else {
        qv_value v = qv_value_str(prefix, len);
        a = bound(ix, &v, false);
        size_t l = a, h = ix->nkeys; /* first key without the prefix */
        while (l < h) {
            size_t mid = l + (h - l) / 2;
            if (has_prefix(ix, mid, prefix, len))
                l = mid + 1;
            else
                h = mid;
        }
        b = l;
    }
    mark_keys(ix, a, b, out);
    return QV_OK;
}
