/* sindex_build.c -- building scalar indexes from a column view: collect
 * (key, row) entries, sort them, group them into keys and postings, and
 * assemble the image (layout in sindex_int.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bytes.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "index/scalar/sindex_int.h"

#define BITMAP_CARD_DEFAULT 500
#define BITMAP_CARD_MAX     10000

qv_code qv_sindex_type_parse(const char *name, qv_sindex_type *out, qv_err *err)
{
    static const struct {
        const char *n;
        qv_sindex_type t;
    } names[] = {{"STL_SORT", QV_SINDEX_STL_SORT},
                 {"INVERTED", QV_SINDEX_INVERTED},
                 {"BITMAP", QV_SINDEX_BITMAP},
                 {"Trie", QV_SINDEX_TRIE},
                 {"marisa-trie", QV_SINDEX_TRIE}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].n) == 0) {
            *out = names[i].t;
            return QV_OK;
        }
    }
    return qv_fail(err, QV_E_INVALID,
                   "unknown scalar index type '%s' (want STL_SORT, "
                   "INVERTED, BITMAP or Trie)",
                   name ? name : "");
}

const char *qv_sindex_type_name(qv_sindex_type t)
{
    switch (t) {
    case QV_SINDEX_STL_SORT:
        return "STL_SORT";
    case QV_SINDEX_INVERTED:
        return "INVERTED";
    case QV_SINDEX_BITMAP:
        return "BITMAP";
    case QV_SINDEX_TRIE:
        return "Trie";
    }
    return "?";
}

static bool is_numeric(qv_dtype t)
{
    return qv_dtype_is_integer(t) || t == QV_DT_FLOAT || t == QV_DT_DOUBLE;
}

bool qv_sindex_type_fits(qv_sindex_type t, qv_dtype col, qv_dtype elem)
{
    bool arr = col == QV_DT_ARRAY;
    qv_dtype k = arr ? elem : col;
    switch (t) {
    case QV_SINDEX_STL_SORT:
        return !arr && is_numeric(k);
    case QV_SINDEX_INVERTED:
        return is_numeric(k) || k == QV_DT_BOOL || k == QV_DT_VARCHAR;
    case QV_SINDEX_BITMAP:
        return qv_dtype_is_integer(k) || k == QV_DT_BOOL || k == QV_DT_VARCHAR;
    case QV_SINDEX_TRIE:
        return !arr && k == QV_DT_VARCHAR;
    }
    return false;
}

static qv_code parse_params(qv_sindex_type t, const qv_sindex_param *p,
                            size_t n, long *card, qv_err *err)
{
    *card = BITMAP_CARD_DEFAULT;
    for (size_t i = 0; i < n; i++) {
        const char *k = p[i].key ? p[i].key : "";
        const char *v = p[i].value ? p[i].value : "";
        if (strcmp(k, "index_type") == 0)
            continue;
        if (t == QV_SINDEX_BITMAP &&
            strcmp(k, "bitmap_cardinality_limit") == 0) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || x < 1 || x > BITMAP_CARD_MAX)
                return qv_fail(err, QV_E_INVALID,
                               "bitmap_cardinality_limit '%s' is not an "
                               "integer in [1, %d]",
                               v, BITMAP_CARD_MAX);
            *card = x;
            continue;
        }
        return qv_fail(err, QV_E_INVALID, "unknown parameter '%s' for index %s",
                       k, qv_sindex_type_name(t));
    }
    return QV_OK;
}

/* ---- entries --------------------------------------------------------- */

typedef struct ent {
    union {
        int64_t i;
        double f;
        const uint8_t *p;
    } k;
    uint32_t len; /* string keys */
    uint32_t row;
} ent;

static int cmp_int(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->k.i != y->k.i)
        return x->k.i < y->k.i ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_float(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->k.f != y->k.f)
        return x->k.f < y->k.f ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static int str_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static int cmp_str(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    int c = str_cmp(x->k.p, x->len, y->k.p, y->len);
    if (c)
        return c;
    return (x->row > y->row) - (x->row < y->row);
}

static bool same_key(int kind, const ent *a, const ent *b)
{
    if (kind == KIND_INT)
        return a->k.i == b->k.i;
    if (kind == KIND_FLOAT)
        return a->k.f == b->k.f;
    return str_cmp(a->k.p, a->len, b->k.p, b->len) == 0;
}

typedef struct entries {
    ent *e;
    size_t n, cap;
} entries;

static bool push(entries *es, ent e)
{
    if (es->n == es->cap) {
        size_t nc = es->cap ? es->cap * 2 : 1024;
        ent *ne = qv_try_realloc(es->e, nc, sizeof(ent));
        if (!ne)
            return false;
        es->e = ne;
        es->cap = nc;
    }
    es->e[es->n++] = e;
    return true;
}

static bool add_scalar(entries *es, const qv_col_view *v, int kind, size_t r)
{
    ent e = {.row = (uint32_t)r};
    if (kind == KIND_INT) {
        e.k.i = qv_col_get_int(v, r);
    } else if (kind == KIND_FLOAT) {
        e.k.f = v->type == QV_DT_FLOAT ? qv_col_f32(v, r) : qv_col_f64(v, r);
        if (isnan(e.k.f))
            return true; /* NaN equals nothing and orders nowhere */
        if (e.k.f == 0)
            e.k.f = 0; /* one zero */
    } else {
        size_t len;
        e.k.p = qv_col_var(v, r, &len);
        e.len = (uint32_t)len;
    }
    return push(es, e);
}

static bool add_array(entries *es, const qv_col_view *v, int kind, size_t r)
{
    size_t n = qv_col_arr_len(v, r);
    for (size_t j = 0; j < n; j++) {
        ent e = {.row = (uint32_t)r};
        if (kind == KIND_INT) {
            e.k.i = qv_col_arr_int(v, r, j);
        } else if (kind == KIND_FLOAT) {
            e.k.f = qv_col_arr_float(v, r, j);
            if (isnan(e.k.f))
                continue;
            if (e.k.f == 0)
                e.k.f = 0;
        } else {
            size_t len;
            e.k.p = (const uint8_t *)qv_col_arr_str(v, r, j, &len);
            e.len = (uint32_t)len;
        }
        if (!push(es, e))
            return false;
    }
    return true;
}

/* An order-preserving map of a key to uint64. */
static uint64_t radix_key(int kind, const ent *e)
{
    uint64_t u;
    memcpy(&u, &e->k, 8);
    if (kind == KIND_INT)
        return u ^ ((uint64_t)1 << 63);
    return (u >> 63) ? ~u : u | ((uint64_t)1 << 63); /* IEEE total order */
}

/* Stable LSD radix sort by key.  Entries arrive in row order, so the
 * result is ordered by (key, row), as the comparators order it.  Passes
 * over bytes every key shares are skipped.  False if out of memory (the
 * caller falls back to qsort). */
static bool radix_sort(entries *es, int kind)
{
    size_t(*hist)[256] = qv_try_calloc(8, sizeof *hist);
    ent *tmp = qv_try_alloc(es->n, sizeof(ent));
    if (!hist || !tmp) {
        free(hist);
        free(tmp);
        return false;
    }
    for (size_t i = 0; i < es->n; i++) {
        uint64_t k = radix_key(kind, &es->e[i]);
        for (int b = 0; b < 8; b++)
            hist[b][(k >> (8 * b)) & 0xff]++;
    }
    ent *src = es->e, *dst = tmp;
    for (int b = 0; b < 8; b++) {
        size_t pos = 0;
        bool trivial = false;
        for (int d = 0; d < 256; d++) {
            size_t c = hist[b][d];
            trivial |= c == es->n;
            hist[b][d] = pos;
            pos += c;
        }
        if (trivial)
            continue;
        for (size_t i = 0; i < es->n; i++) {
            uint64_t k = radix_key(kind, &src[i]);
            dst[hist[b][(k >> (8 * b)) & 0xff]++] = src[i];
        }
        ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != es->e)
        memcpy(es->e, src, es->n * sizeof(ent));
    free(tmp);
    free(hist);
    return true;
}

/* Distinct string keys seen by str_sort. */
typedef struct skeys {
    uint32_t *slots; /* key id + 1, 0 = empty */
    size_t nslots;
    ent *keys; /* one entry per distinct key (row unused) */
    size_t n, cap;
} skeys;

static bool skeys_grow(skeys *k)
{
    size_t ns = k->nslots ? k->nslots * 2 : 1024;
    uint32_t *slots = qv_try_calloc(ns, sizeof(uint32_t));
    if (!slots)
        return false;
    for (size_t i = 0; i < k->n; i++) {
        size_t h = (size_t)qv_hash64(k->keys[i].k.p, k->keys[i].len);
        while (slots[h & (ns - 1)])
            h++;
        slots[h & (ns - 1)] = (uint32_t)(i + 1);
    }
    free(k->slots);
    k->slots = slots;
    k->nslots = ns;
    return true;
}

/* Id of e's string, adding it when new; UINT32_MAX on OOM. */
static uint32_t skeys_id(skeys *k, const ent *e)
{
    if ((k->n + 1) * 2 > k->nslots && !skeys_grow(k))
        return UINT32_MAX;
    size_t h = (size_t)qv_hash64(e->k.p, e->len);
    for (;; h++) {
        uint32_t s = k->slots[h & (k->nslots - 1)];
        if (!s || !k->keys) /* a used slot implies keys */
            break;
        if (str_cmp(k->keys[s - 1].k.p, k->keys[s - 1].len, e->k.p, e->len) ==
            0)
            return s - 1;
    }
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 1024;
        ent *nk = qv_try_realloc(k->keys, nc, sizeof(ent));
        if (!nk)
            return UINT32_MAX;
        k->keys = nk;
        k->cap = nc;
    }
    k->keys[k->n] = *e;
    k->keys[k->n].row = (uint32_t)k->n; /* id, kept through the sort */
    k->slots[h & (k->nslots - 1)] = (uint32_t)(k->n + 1);
    return (uint32_t)k->n++;
}

/* Sorts string entries by (key, row): hashes each to a key id, sorts the
 * distinct keys only, then places entries by key rank with a stable
 * counting sort (entries arrive in row order).  Much cheaper than a
 * comparison sort of every entry when keys repeat.  False on OOM. */
static bool str_sort(entries *es)
{
    skeys k = {NULL, 0, NULL, 0, 0};
    uint32_t *ids = qv_try_alloc(es->n, sizeof(uint32_t));
    uint32_t *rank = NULL;
    size_t *start = NULL;
    ent *out = NULL;
    bool ok = ids != NULL;
    for (size_t i = 0; ok && i < es->n; i++)
        ok = (ids[i] = skeys_id(&k, &es->e[i])) != UINT32_MAX;
    if (ok) {
        qsort(k.keys, k.n, sizeof(ent), cmp_str);
        rank = qv_try_alloc(k.n, sizeof(uint32_t));
        start = qv_try_calloc(k.n + 1, sizeof(size_t));
        out = qv_try_alloc(es->n, sizeof(ent));
        ok = rank && start && out;
    }
    if (ok) {
        for (size_t r = 0; r < k.n; r++)
            rank[k.keys[r].row] = (uint32_t)r;
        for (size_t i = 0; i < es->n; i++)
            start[rank[ids[i]] + 1]++;
        for (size_t r = 0; r < k.n; r++)
            start[r + 1] += start[r];
        for (size_t i = 0; i < es->n; i++)
            out[start[rank[ids[i]]]++] = es->e[i];
        memcpy(es->e, out, es->n * sizeof(ent));
    }
    free(ids);
    free(rank);
    free(start);
    free(out);
    free(k.slots);
    free(k.keys);
    return ok;
}

static int kind_of(qv_dtype k)
{
    if (k == QV_DT_FLOAT || k == QV_DT_DOUBLE)
        return KIND_FLOAT;
    if (k == QV_DT_VARCHAR)
        return KIND_STR;
    return KIND_INT;
}

/* Collects, sorts and (for arrays) dedupes (key, row) entries. */
static qv_code collect(const qv_col_view *v, int kind, entries *es)
{
    for (size_t r = 0; r < v->rows; r++) {
        if (qv_col_is_null(v, r))
            continue;
        bool ok = v->type == QV_DT_ARRAY ? add_array(es, v, kind, r)
                                         : add_scalar(es, v, kind, r);
        if (!ok)
            return QV_E_NOMEM;
    }
    bool sorted =
        es->n == 0 || (kind == KIND_STR ? str_sort(es) : radix_sort(es, kind));
    if (!sorted)
        qsort(es->e, es->n, sizeof(ent),
              kind == KIND_INT     ? cmp_int
              : kind == KIND_FLOAT ? cmp_float
                                   : cmp_str);
    if (v->type == QV_DT_ARRAY && es->n) {
        size_t w = 1;
        for (size_t i = 1; i < es->n; i++)
            if (es->e[i].row != es->e[w - 1].row ||
                !same_key(kind, &es->e[i], &es->e[w - 1]))
                es->e[w++] = es->e[i];
        es->n = w;
    }
    return QV_OK;
}

/* ---- image assembly -------------------------------------------------- */

typedef struct plan {
    size_t len[S_COUNT];
    size_t off[S_COUNT];
    size_t total;
} plan;

static bool plan_layout(plan *p)
{
    size_t at = SX_HDR;
    for (int s = 0; s < S_COUNT; s++) {
        p->off[s] = p->len[s] ? at : 0;
        if (!qv_add_ok(at, p->len[s], &at) || !qv_add_ok(at, 63, &at))
            return false;
        at &= ~(size_t)63;
    }
    p->total = at;
    return true;
}

/* Counts distinct keys and string bytes. */
static void count_keys(const entries *es, int kind, size_t *nkeys,
                       size_t *kbytes)
{
    *nkeys = 0;
    *kbytes = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (i && same_key(kind, &es->e[i], &es->e[i - 1]))
            continue;
        (*nkeys)++;
        if (kind == KIND_STR)
            *kbytes += es->e[i].len;
    }
}

/* Writes keys (distinct unless all), string bytes, and postings. */
static void fill_sections(uint8_t *img, const plan *p, const entries *es,
                          int kind, qv_sindex_type t)
{
    bool all = t == QV_SINDEX_STL_SORT;
    uint8_t *keys = img + p->off[S_KEYS];
    uint8_t *kb = img + p->off[S_KBYTES];
    uint64_t *poff = (uint64_t *)(void *)(img + p->off[S_POFF]);
    uint32_t *rows = (uint32_t *)(void *)(img + p->off[S_ROWS]);
    size_t k = 0, sb = 0;
    for (size_t i = 0; i < es->n; i++) {
        const ent *e = &es->e[i];
        bool fresh = all || i == 0 || !same_key(kind, e, &es->e[i - 1]);
        if (fresh) {
            if (kind == KIND_STR) {
                qv_store_u64(keys + 8 * k, sb);
                if (e->len)
                    memcpy(kb + sb, e->k.p, e->len);
                sb += e->len;
            } else {
                memcpy(keys + 8 * k, &e->k, 8);
            }
            if (p->len[S_POFF])
                poff[k] = i;
            k++;
        }
        if (t != QV_SINDEX_BITMAP)
            rows[i] = e->row;
    }
    if (kind == KIND_STR)
        qv_store_u64(keys + 8 * k, sb);
    if (p->len[S_POFF])
        poff[k] = es->n;
}

/* Per-key entry counts of the sorted entries (nkeys of them). */
static size_t *key_counts(const entries *es, int kind, size_t nkeys)
{
    size_t *cnt = qv_try_calloc(nkeys ? nkeys : 1, sizeof(size_t));
    for (size_t i = 0, k = 0; cnt && i < es->n; i++) {
        if (i && !same_key(kind, &es->e[i], &es->e[i - 1]))
            k++;
        cnt[k]++;
    }
    return cnt;
}

/* A BITMAP key takes a bitmap when its postings would not be smaller. */
static bool dense_key(size_t count, size_t rows)
{
    return count * 32 >= rows;
}

/* Sizes of the BITMAP sections; *nposts = row ids kept as postings. */
static void plan_bitmap(plan *p, const size_t *cnt, size_t nkeys, size_t rows,
                        size_t words, size_t *nposts)
{
    size_t nbm = 0;
    *nposts = 0;
    for (size_t k = 0; k < nkeys; k++) {
        if (dense_key(cnt[k], rows))
            nbm++;
        else
            *nposts += cnt[k];
    }
    p->len[S_POFF] = (nkeys + 1) * 8;
    p->len[S_ROWS] = *nposts * 4;
    p->len[S_BMIDX] = nkeys * 4;
    p->len[S_BITMAPS] = nbm * words * 8;
}

/* Postings of rare keys and bitmaps of common ones (after fill_sections
 * wrote the keys). */
static void fill_bitmap(uint8_t *img, const plan *p, const entries *es,
                        const size_t *cnt, size_t nkeys, size_t rows,
                        size_t words)
{
    uint64_t *poff = (uint64_t *)(void *)(img + p->off[S_POFF]);
    uint32_t *prow = (uint32_t *)(void *)(img + p->off[S_ROWS]);
    uint64_t *bm = (uint64_t *)(void *)(img + p->off[S_BITMAPS]);
    uint32_t *bmidx = (uint32_t *)(void *)(img + p->off[S_BMIDX]);
    size_t i = 0, np = 0, nbm = 0;
    for (size_t k = 0; k < nkeys; k++) {
        poff[k] = np;
        bool dense = dense_key(cnt[k], rows);
        bmidx[k] = dense ? (uint32_t)nbm : SX_NO_BITMAP;
        for (size_t j = 0; j < cnt[k]; j++, i++) {
            uint32_t r = es->e[i].row;
            if (dense)
                bm[nbm * words + r / 64] |= (uint64_t)1 << (r % 64);
            else
                prow[np++] = r;
        }
        nbm += dense;
    }
    poff[nkeys] = np;
}

static qv_code assemble(qv_sindex_type t, const qv_col_view *v, int kind,
                        const entries *es, long card, uint8_t **out,
                        size_t *out_len, qv_err *err)
{
    size_t nkeys, kbytes, words = QV_BITSET_WORDS(v->rows);
    count_keys(es, kind, &nkeys, &kbytes);
    if (t == QV_SINDEX_BITMAP && nkeys > (size_t)card)
        return qv_fail(err, QV_E_INVALID,
                       "BITMAP index: the column has %zu distinct values, "
                       "more than bitmap_cardinality_limit %ld",
                       nkeys, card);
    if (t == QV_SINDEX_STL_SORT)
        nkeys = es->n;
    plan p = {{0}, {0}, 0};
    p.len[S_KEYS] = (kind == KIND_STR ? nkeys + 1 : nkeys) * 8;
    p.len[S_KBYTES] = kbytes;
    if (t == QV_SINDEX_INVERTED || t == QV_SINDEX_TRIE)
        p.len[S_POFF] = (nkeys + 1) * 8;
    size_t nposts = es->n, *cnt = NULL;
    if (t != QV_SINDEX_BITMAP) {
        p.len[S_ROWS] = es->n * 4;
    } else {
        if (!(cnt = key_counts(es, kind, nkeys)))
            return qv_fail(err, QV_E_NOMEM, "BITMAP index too large");
        plan_bitmap(&p, cnt, nkeys, v->rows, words, &nposts);
    }
    uint32_t *nodes = NULL;
    size_t nnodes = 0;
    uint8_t *img = plan_layout(&p) ? qv_try_aligned_alloc(p.total, 1) : NULL;
    if (!img) {
        free(cnt);
        return qv_fail(err, QV_E_NOMEM,
                       "cannot allocate %zu bytes for "
                       "a %s index",
                       p.total, qv_sindex_type_name(t));
    }
    memset(img, 0, p.total);
    fill_sections(img, &p, es, kind, t);
    if (cnt)
        fill_bitmap(img, &p, es, cnt, nkeys, v->rows, words);
    free(cnt);
    if (t == QV_SINDEX_TRIE) {
        nodes = qv__trie_build((const uint64_t *)(void *)(img + p.off[S_KEYS]),
                               img + p.off[S_KBYTES], nkeys, &nnodes);
        p.len[S_NODES] = nnodes * TN_FIELDS * 4;
        uint8_t *bigger =
            nodes ? qv_try_aligned_alloc(p.total + p.len[S_NODES] + 64, 1)
                  : NULL;
        if (!bigger) {
            free(nodes);
            qv_aligned_free(img);
            return qv_fail(err, QV_E_NOMEM, "cannot build the trie");
        }
        memset(bigger, 0, p.total + p.len[S_NODES] + 64);
        memcpy(bigger, img, p.total);
        qv_aligned_free(img);
        img = bigger;
        p.off[S_NODES] = p.total;
        memcpy(img + p.total, nodes, p.len[S_NODES]);
        p.total += (p.len[S_NODES] + 63) & ~(size_t)63;
        free(nodes);
    }
    qv_store_u32(img, SX_MAGIC);
    qv_store_u32(img + 4, SX_VERSION);
    qv_store_u32(img + 8, (uint32_t)t);
    qv_store_u32(img + 12,
                 (uint32_t)(v->type == QV_DT_ARRAY ? v->elem_type : v->type));
    qv_store_u32(img + 16, v->type == QV_DT_ARRAY ? SX_FLAG_ARRAY : 0);
    qv_store_u32(img + 20, (uint32_t)kind);
    qv_store_u64(img + 24, v->rows);
    qv_store_u64(img + 32, nkeys);
    qv_store_u64(img + 40, nposts);
    qv_store_u64(img + 48, nnodes);
    for (int s = 0; s < S_COUNT; s++) {
        qv_store_u64(img + 64 + (size_t)16 * s, p.off[s]);
        qv_store_u64(img + 72 + (size_t)16 * s, p.len[s]);
    }
    uint32_t crc = qv_crc32c(0, img, 56);
    qv_store_u32(img + 56, qv_crc32c(crc, img + 64, p.total - 64));
    *out = img;
    *out_len = p.total;
    return QV_OK;
}

qv_code qv_sindex_build(qv_sindex_type t, const qv_col_view *col,
                        const qv_sindex_param *params, size_t nparams,
                        qv_sindex **out, qv_err *err)
{
    const char *tn = qv_sindex_type_name(t);
    if (strcmp(tn, "?") == 0)
        return qv_fail(err, QV_E_INVALID, "unknown scalar index type %d",
                       (int)t);
    if (!qv_sindex_type_fits(t, col->type, col->elem_type))
        return qv_fail(
            err, QV_E_INVALID, "index %s does not support %s%s%s columns", tn,
            qv_dtype_name(col->type), col->type == QV_DT_ARRAY ? " of " : "",
            col->type == QV_DT_ARRAY ? qv_dtype_name(col->elem_type) : "");
    if (col->rows > UINT32_MAX)
        return qv_fail(err, QV_E_INVALID,
                       "index %s: %zu rows is more than a segment holds", tn,
                       col->rows);
    long card;
    qv_code rc = parse_params(t, params, nparams, &card, err);
    if (rc)
        return rc;
    int kind = kind_of(col->type == QV_DT_ARRAY ? col->elem_type : col->type);
    entries es = {NULL, 0, 0};
    rc = collect(col, kind, &es);
    if (rc) {
        free(es.e);
        return qv_fail(err, rc, "index %s: out of memory collecting keys", tn);
    }
    uint8_t *img = NULL;
    size_t len = 0;
    rc = assemble(t, col, kind, &es, card, &img, &len, err);
    free(es.e);
    if (rc)
        return rc;
    qv_sindex *ix;
    rc = qv_sindex_load(img, len, &ix, err);
    if (rc) {
        qv_aligned_free(img);
        return rc;
    }
    ix->owned = img;
    *out = ix;
    return QV_OK;
}
