/* pk.c -- primary key helpers.  See pk.h. */
#include "common/column/pk.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"

qv_pk qv_pk_of_row(const qv_col_view *v, size_t row)
{
    if (v->type == QV_DT_VARCHAR) {
        size_t len;
        const uint8_t *p = qv_col_var(v, row, &len);
        return qv_pk_str((const char *)p, len);
    }
    return qv_pk_int(qv_col_get_int(v, row));
}

static int bytes_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

int qv_pk_cmp(const qv_pk *a, const qv_pk *b)
{
    if (a->type == QV_DT_VARCHAR)
        return bytes_cmp(a->s, a->len, b->s, b->len);
    return (a->i > b->i) - (a->i < b->i);
}

void qv_rows_release(qv_rows *r)
{
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

static void rows_push(qv_rows *r, int64_t row)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = qv_xrealloc(r->v, r->cap * sizeof(int64_t));
    }
    r->v[r->n++] = row;
}

static bool pk_type_ok(qv_dtype t)
{
    return t == QV_DT_INT64 || t == QV_DT_VARCHAR;
}

static uint64_t pk_hash(const qv_pk *k)
{
    if (k->type == QV_DT_VARCHAR)
        return qv_hash64(k->s, k->len);
    uint64_t z = (uint64_t)k->i + 0x9e3779b97f4a7c15ull; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- growing: hash map ------------------------------------------------ */

struct qv_pk_map {
    pthread_rwlock_t mu;
    qv_dtype type;
    uint32_t *slots; /* key index + 1; 0 = empty */
    size_t nslots;
    size_t nkeys, kcap;
    int64_t *ikeys;
    uint64_t *soff; /* string key k is sbytes[soff[k] .. + slen[k]) */
    uint32_t *slen;
    qv_buf sbytes;
    int64_t *klast; /* last entry of key k */
    size_t nent, ecap;
    int64_t *erow, *eprev; /* per entry: row, previous entry of its key */
};

qv_code qv_pk_map_create(qv_dtype t, qv_pk_map **out, qv_err *err)
{
    if (!pk_type_ok(t))
        return qv_fail(err, QV_E_INVALID,
                       "primary key type %s is not Int64 or VarChar",
                       qv_dtype_name(t));
    qv_pk_map *m = QV_NEW(qv_pk_map);
    pthread_rwlock_init(&m->mu, NULL);
    m->type = t;
    qv_buf_init(&m->sbytes, 0);
    m->nslots = 64;
    m->slots = QV_NEW_ARRAY(uint32_t, m->nslots);
    *out = m;
    return QV_OK;
}

void qv_pk_map_free(qv_pk_map *m)
{
    if (!m)
        return;
    pthread_rwlock_destroy(&m->mu);
    free(m->slots);
    free(m->ikeys);
    free(m->soff);
    free(m->slen);
    qv_buf_release(&m->sbytes);
    free(m->klast);
    free(m->erow);
    free(m->eprev);
    free(m);
}

static qv_pk key_at(const qv_pk_map *m, size_t k)
{
    if (m->type == QV_DT_VARCHAR)
        return qv_pk_str(m->sbytes.data + m->soff[k], m->slen[k]);
    return qv_pk_int(m->ikeys[k]);
}

/* Slot holding pk, or the empty slot where it would go. */
static size_t probe(const qv_pk_map *m, const qv_pk *pk, uint64_t h)
{
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    if (m->type == QV_DT_INT64) {
        while (m->slots[i] && m->ikeys[m->slots[i] - 1] != pk->i)
            i = (i + 1) & mask;
        return i;
    }
    while (m->slots[i]) {
        qv_pk k = key_at(m, m->slots[i] - 1);
        if (qv_pk_cmp(&k, pk) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static qv_code rehash(qv_pk_map *m)
{
    size_t ns = m->nslots * 2;
    uint32_t *slots = qv_try_calloc(ns, sizeof(uint32_t));
    if (!slots)
        return QV_E_NOMEM;
    free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    for (size_t k = 0; k < m->nkeys; k++) {
        qv_pk key = key_at(m, k);
        size_t i = (size_t)pk_hash(&key) & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = (uint32_t)(k + 1);
    }
    return QV_OK;
}

static qv_code new_key(qv_pk_map *m, const qv_pk *pk, size_t *k)
{
    if (m->nkeys >= UINT32_MAX - 1)
        return QV_E_NOMEM;
    if (m->nkeys == m->kcap) {
        size_t nc = m->kcap ? m->kcap * 2 : 64;
        m->klast = qv_xrealloc(m->klast, nc * sizeof(int64_t));
        if (m->type == QV_DT_VARCHAR) {
            m->soff = qv_xrealloc(m->soff, nc * sizeof(uint64_t));
            m->slen = qv_xrealloc(m->slen, nc * sizeof(uint32_t));
        } else {
            m->ikeys = qv_xrealloc(m->ikeys, nc * sizeof(int64_t));
        }
        m->kcap = nc;
    }
    if (m->type == QV_DT_VARCHAR) {
        if (pk->len > UINT32_MAX)
            return QV_E_INVALID;
        m->soff[m->nkeys] = m->sbytes.len;
        m->slen[m->nkeys] = (uint32_t)pk->len;
        qv_code rc = qv_buf_append(&m->sbytes, pk->s, pk->len);
        if (rc)
            return rc;
    } else {
        m->ikeys[m->nkeys] = pk->i;
    }
    m->klast[m->nkeys] = -1;
    *k = m->nkeys++;
    return QV_OK;
}

static qv_code add_locked(qv_pk_map *m, const qv_pk *pk, int64_t row)
{
    if (pk->type != m->type)
        return QV_E_INVALID;
    if ((m->nkeys + 1) * 2 > m->nslots) {
        qv_code rc = rehash(m);
        if (rc)
            return rc;
    }
    size_t i = probe(m, pk, pk_hash(pk)), k;
    if (m->slots[i]) {
        k = m->slots[i] - 1;
    } else {
        qv_code rc = new_key(m, pk, &k);
        if (rc)
            return rc;
        m->slots[i] = (uint32_t)(k + 1);
    }
    if (m->nent == m->ecap) {
        size_t nc = m->ecap ? m->ecap * 2 : 64;
        int64_t *r = qv_try_realloc(m->erow, nc, sizeof(int64_t));
        if (!r)
            return QV_E_NOMEM;
        m->erow = r;
        int64_t *p = qv_try_realloc(m->eprev, nc, sizeof(int64_t));
        if (!p)
            return QV_E_NOMEM;
        m->eprev = p;
        m->ecap = nc;
    }
    m->erow[m->nent] = row;
    m->eprev[m->nent] = m->klast[k];
    m->klast[k] = (int64_t)m->nent++;
    return QV_OK;
}

qv_code qv_pk_map_add(qv_pk_map *m, const qv_pk *pk, int64_t row)
{
    pthread_rwlock_wrlock(&m->mu);
    qv_code rc = add_locked(m, pk, row);
    pthread_rwlock_unlock(&m->mu);
    return rc;
}

qv_code qv_pk_map_add_column(qv_pk_map *m, const qv_col_view *v, int64_t first)
{
    if (v->type != m->type)
        return QV_E_INVALID;
    qv_code rc = QV_OK;
    pthread_rwlock_wrlock(&m->mu);
    for (size_t r = 0; !rc && r < v->rows; r++) {
        qv_pk k = qv_pk_of_row(v, r);
        rc = add_locked(m, &k, first + (int64_t)r);
    }
    pthread_rwlock_unlock(&m->mu);
    return rc;
}

/* Last entry of pk or -1; caller holds the lock. */
static int64_t last_entry(qv_pk_map *m, const qv_pk *pk)
{
    if (pk->type != m->type)
        return -1;
    size_t i = probe(m, pk, pk_hash(pk));
    return m->slots[i] ? m->klast[m->slots[i] - 1] : -1;
}

size_t qv_pk_map_find(qv_pk_map *m, const qv_pk *pk, qv_rows *out)
{
    pthread_rwlock_rdlock(&m->mu);
    size_t start = out->n;
    for (int64_t e = last_entry(m, pk); e >= 0; e = m->eprev[e])
        rows_push(out, m->erow[e]);
    pthread_rwlock_unlock(&m->mu);
    for (size_t a = start, b = out->n; b > a + 1; a++, b--) {
        int64_t t = out->v[a];
        out->v[a] = out->v[b - 1];
        out->v[b - 1] = t;
    }
    return out->n - start;
}

int64_t qv_pk_map_last(qv_pk_map *m, const qv_pk *pk)
{
    pthread_rwlock_rdlock(&m->mu);
    int64_t e = last_entry(m, pk);
    int64_t row = e >= 0 ? m->erow[e] : -1;
    pthread_rwlock_unlock(&m->mu);
    return row;
}

size_t qv_pk_map_size(qv_pk_map *m)
{
    pthread_rwlock_rdlock(&m->mu);
    size_t n = m->nkeys;
    pthread_rwlock_unlock(&m->mu);
    return n;
}

/* ---- sealed: sorted order ---------------------------------------------- */

struct qv_pk_sorted {
    qv_col_view v;
    uint32_t *perm; /* NULL when the column is already sorted */
};

static int perm_cmp(const void *a, const void *b, void *ctx)
{
    const qv_col_view *v = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    qv_pk kx = qv_pk_of_row(v, x), ky = qv_pk_of_row(v, y);
    int c = qv_pk_cmp(&kx, &ky);
    return c ? c : (x > y) - (x < y);
}

typedef struct kr {
    uint64_t key; /* int64 key with the sign bit flipped: unsigned order */
    uint64_t row;
} kr;

/* Sorts the rows of an Int64 column into s->perm by a stable LSD radix
 * sort of (key, row) pairs; passes over bytes all keys share are skipped.
 * False if out of memory. */
static bool radix_perm(qv_pk_sorted *s)
{
    size_t n = s->v.rows;
    kr *a = qv_try_alloc(n, sizeof(kr)), *b = qv_try_alloc(n, sizeof(kr));
    size_t(*hist)[256] = qv_try_calloc(8, sizeof *hist);
    bool ok = a && b && hist;
    for (size_t i = 0; ok && i < n; i++) {
        a[i].key = (uint64_t)qv_col_i64(&s->v, i) ^ ((uint64_t)1 << 63);
        a[i].row = i;
        for (int d = 0; d < 8; d++)
            hist[d][(a[i].key >> (8 * d)) & 0xff]++;
    }
    for (int d = 0; ok && d < 8; d++) {
        size_t pos = 0;
        bool trivial = false;
        for (int x = 0; x < 256; x++) {
            size_t c = hist[d][x];
            trivial |= c == n;
            hist[d][x] = pos;
            pos += c;
        }
        if (trivial)
            continue;
        for (size_t i = 0; i < n; i++)
            b[hist[d][(a[i].key >> (8 * d)) & 0xff]++] = a[i];
        kr *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; ok && i < n; i++)
        s->perm[i] = (uint32_t)a[i].row;
    free(a);
    free(b);
    free(hist);
    return ok;
}

qv_code qv_pk_sorted_build(const qv_col_view *v, qv_pk_sorted **out,
                           qv_err *err)
{
    if (!pk_type_ok(v->type))
        return qv_fail(err, QV_E_INVALID,
                       "primary key column type %s is not Int64 or VarChar",
                       qv_dtype_name(v->type));
    if (v->valid || v->rows > UINT32_MAX)
        return qv_fail(err, QV_E_INVALID,
                       "primary key column must have no nulls and fewer "
                       "than 2^32 rows");
    qv_pk_sorted *s = QV_NEW(qv_pk_sorted);
    s->v = *v;
    bool sorted = true;
    for (size_t r = 1; sorted && r < v->rows; r++) {
        qv_pk a = qv_pk_of_row(v, r - 1), b = qv_pk_of_row(v, r);
        sorted = qv_pk_cmp(&a, &b) <= 0;
    }
    if (!sorted) {
        s->perm = qv_try_alloc(v->rows, sizeof(uint32_t));
        if (!s->perm) {
            free(s);
            return qv_fail(err, QV_E_NOMEM, "cannot sort %zu primary keys",
                           v->rows);
        }
        if (v->type != QV_DT_INT64 || !radix_perm(s)) {
            for (size_t r = 0; r < v->rows; r++)
                s->perm[r] = (uint32_t)r;
            qsort_r(s->perm, v->rows, sizeof(uint32_t), perm_cmp, &s->v);
        }
    }
    *out = s;
    return QV_OK;
}

void qv_pk_sorted_free(qv_pk_sorted *s)
{
    if (!s)
        return;
    free(s->perm);
    free(s);
}

static size_t sorted_row(const qv_pk_sorted *s, size_t i)
{
    return s->perm ? s->perm[i] : i;
}

static size_t sorted_lower(const qv_pk_sorted *s, const qv_pk *pk)
{
    size_t lo = 0, hi = s->v.rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        qv_pk k = qv_pk_of_row(&s->v, sorted_row(s, mid));
        if (qv_pk_cmp(&k, pk) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t qv_pk_sorted_find(const qv_pk_sorted *s, const qv_pk *pk, qv_rows *out)
{
    if (pk->type != s->v.type)
        return 0;
    size_t n = 0;
    for (size_t i = sorted_lower(s, pk); i < s->v.rows; i++, n++) {
        qv_pk k = qv_pk_of_row(&s->v, sorted_row(s, i));
        if (qv_pk_cmp(&k, pk) != 0)
            break;
        rows_push(out, (int64_t)sorted_row(s, i));
    }
    return n;
}

bool qv_pk_sorted_contains(const qv_pk_sorted *s, const qv_pk *pk)
{
    if (pk->type != s->v.type)
        return false;
    size_t i = sorted_lower(s, pk);
    if (i == s->v.rows)
        return false;
    qv_pk k = qv_pk_of_row(&s->v, sorted_row(s, i));
    return qv_pk_cmp(&k, pk) == 0;
}
