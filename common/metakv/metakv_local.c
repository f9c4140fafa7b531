/* metakv_local.c -- the embedded meta KV: one LMDB environment.
 *
 * Layout (named databases in one environment, <dir>/data.mdb):
 *
 *   kv     key -> | create i64 | mod i64 | version i64 | lease i64 | value |
 *   hist   rev u64 BE | idx u32 BE  ->  one event of that revision:
 *          | type u32 | key_len u32 | create | mod | version | lease |
 *          | key | value |                        (i64 fields as in kv)
 *   lease  id u64 BE -> | ttl_s i64 | expires_wall_ms i64 |
 *   lkeys  id u64 BE | key -> "" (keys attached to a lease)
 *   meta   "rev" -> i64, "compact" -> i64, "lease_next" -> i64
 *
 * Integers are in host byte order except where a key must sort (BE).  A
 * write request is one LMDB write txn: it reads "rev", applies its changes
 * as revision rev + 1 (events idx 0, 1, ...), and stores rev + 1 only if
 * something changed.  LMDB serialises writers; readers never block.
 * Commits are synchronous (fsync), so an acknowledged write survives a
 * crash.
 *
 * Leases expire by wall clock: a timer thread sweeps every 50 ms, and open
 * sweeps once, so leases that ran out while the process was down are
 * expired (their keys deleted) on restart.
 *
 * Watches read the hist table from their next revision; when they are
 * caught up they wait on a condition variable that every commit signals.
 *
 * Threading: all entry points may run concurrently.  `mu` guards the cached
 * revision, the stop flag and the condition variables only.
 */
#include "common/metakv/metakv_local_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"

static void local_close(metakv *kv);

/* ---- open-directory registry (one env per directory per process) ------- */

static pthread_mutex_t dirs_mu = PTHREAD_MUTEX_INITIALIZER;
static char *open_dirs[64];

static bool dir_claim(const char *dir)
{
    bool ok = true;
    int slot = -1;
    pthread_mutex_lock(&dirs_mu);
    for (int i = 0; i < 64; i++) {
        if (open_dirs[i] && strcmp(open_dirs[i], dir) == 0)
            ok = false;
        if (!open_dirs[i] && slot < 0)
            slot = i;
    }
    if (ok && slot >= 0)
        open_dirs[slot] = qv_xstrdup(dir);
    pthread_mutex_unlock(&dirs_mu);
    return ok && slot >= 0;
}

static void dir_release(const char *dir)
{
    pthread_mutex_lock(&dirs_mu);
    for (int i = 0; i < 64; i++) {
        if (open_dirs[i] && strcmp(open_dirs[i], dir) == 0) {
            free(open_dirs[i]);
            open_dirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&dirs_mu);
}

/* ---- errors ------------------------------------------------------------- */

qv_code metakv__local_fail(local_kv *lk, qv_err *err, const char *op, int e)
{
    qv_code c = e == MDB_MAP_FULL                               ? QV_E_NOMEM
                : e == MDB_CORRUPTED                            ? QV_E_CORRUPT
                : e == MDB_VERSION_MISMATCH || e == MDB_INVALID ? QV_E_CORRUPT
                                                                : QV_E_IO;
    return qv_fail(err, c, "local meta kv '%s': %s: %s", lk->dir, op,
                   mdb_strerror(e));
}

/* ---- meta counters ------------------------------------------------------ */

int64_t metakv__local_meta_get(local_kv *lk, MDB_txn *txn, const char *name)
{
    MDB_val k = mval(name, strlen(name)), v;
    if (mdb_get(txn, lk->db_meta, &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return ld64(v.mv_data);
}

int metakv__local_meta_set(local_kv *lk, MDB_txn *txn, const char *name,
                           int64_t n)
{
    uint8_t b[8];
    st64(b, n);
    MDB_val k = mval(name, strlen(name)), v = mval(b, 8);
    return mdb_put(txn, lk->db_meta, &k, &v, 0);
}

/* ---- write helpers ------------------------------------------------------ */

qv_code metakv__local_write_begin(local_kv *lk, const char *op, wctx *w,
                                  qv_err *err)
{
    memset(w, 0, sizeof *w);
    w->lk = lk;
    w->op = op;
    int e = mdb_txn_begin(lk->env, NULL, 0, &w->txn);
    if (e != 0)
        return metakv__local_fail(lk, err, op, e);
    w->rev = metakv__local_meta_get(lk, w->txn, "rev") + 1;
    return QV_OK;
}

static int hist_add(wctx *w, metakv_event_type type, const void *key,
                    size_t key_len, const rec *r)
{
    uint8_t hk[HIST_KEY];
    put_be64(hk, (uint64_t)w->rev);
    put_be32(hk + 8, w->idx++);
    size_t vlen = r ? r->value_len : 0;
    MDB_val k = mval(hk, HIST_KEY);
    MDB_val v = {.mv_size = HIST_HDR + key_len + vlen};
    int e = mdb_put(w->txn, w->lk->db_hist, &k, &v, MDB_RESERVE);
    if (e != 0)
        return e;
    uint8_t *p = v.mv_data;
    uint32_t t32 = (uint32_t)type, kl = (uint32_t)key_len;
    memcpy(p, &t32, 4);
    memcpy(p + 4, &kl, 4);
    st64(p + 8, r ? r->create : 0);
    st64(p + 16, r ? r->mod : w->rev);
    st64(p + 24, r ? r->version : 0);
    st64(p + 32, r ? r->lease : 0);
    memcpy(p + HIST_HDR, key, key_len);
    if (vlen)
        memcpy(p + HIST_HDR + key_len, r->value, vlen);
    return 0;
}

static int lkey_op(wctx *w, int64_t lease, const void *key, size_t key_len,
                   bool add)
{
    uint8_t buf[8 + METAKV_MAX_KEY_LEN];
    put_be64(buf, (uint64_t)lease);
    memcpy(buf + 8, key, key_len);
    MDB_val k = mval(buf, 8 + key_len), v = mval("", 0);
    if (add)
        return mdb_put(w->txn, w->lk->db_lkeys, &k, &v, 0);
    int e = mdb_del(w->txn, w->lk->db_lkeys, &k, NULL);
    return e == MDB_NOTFOUND ? 0 : e;
}

static bool lease_exists(wctx *w, int64_t lease)
{
    uint8_t b[8];
    put_be64(b, (uint64_t)lease);
    MDB_val k = mval(b, 8), v;
    if (mdb_get(w->txn, w->lk->db_lease, &k, &v) != 0 || v.mv_size != 16)
        return false;
    int64_t expires = ld64((uint8_t *)v.mv_data + 8);
    return expires > (int64_t)qv_wall_ms(w->lk->clock);
}

static qv_code apply_put(wctx *w, const void *key, size_t key_len,
                         const void *value, size_t value_len, int64_t lease,
                         qv_err *err)
{
    local_kv *lk = w->lk;
    char ks[64];
    if (lease != 0 && !lease_exists(w, lease))
        return qv_fail(err, QV_E_NOT_FOUND,
                       "local meta kv '%s': %s '%s': lease %lld not found",
                       lk->dir, w->op, metakv__key_str(key, key_len, ks, 64),
                       (long long)lease);
    MDB_val k = mval(key, key_len), old;
    rec r = {0};
    int e = mdb_get(w->txn, lk->db_kv, &k, &old);
    bool exists = e == 0 && rec_decode(&old, &r);
    if (e != 0 && e != MDB_NOTFOUND)
        return metakv__local_fail(lk, err, w->op, e);
    int64_t old_lease = exists ? r.lease : 0;
    rec n = {.create = exists ? r.create : w->rev,
             .mod = w->rev,
             .version = exists ? r.version + 1 : 1,
             .lease = lease,
             .value = value,
             .value_len = value_len};
    MDB_val v = {.mv_size = KV_HDR + value_len};
    e = mdb_put(w->txn, lk->db_kv, &k, &v, MDB_RESERVE);
    if (e == 0) {
        uint8_t *p = v.mv_data;
        st64(p, n.create);
        st64(p + 8, n.mod);
        st64(p + 16, n.version);
        st64(p + 24, n.lease);
        if (value_len)
            memcpy(p + KV_HDR, value, value_len);
        e = hist_add(w, METAKV_EV_PUT, key, key_len, &n);
    }
    if (e == 0 && old_lease != 0 && old_lease != lease)
        e = lkey_op(w, old_lease, key, key_len, false);
    if (e == 0 && lease != 0)
        e = lkey_op(w, lease, key, key_len, true);
    if (e != 0)
        return metakv__local_fail(lk, err, w->op, e);
    w->changed = true;
    return QV_OK;
}

int metakv__local_delete_one(wctx *w, const void *key, size_t key_len)
{
    MDB_val k = mval(key, key_len), old;
    rec r = {0};
    int e = mdb_get(w->txn, w->lk->db_kv, &k, &old);
    if (e == MDB_NOTFOUND)
        return 0;
    if (e != 0)
        return e;
    if (rec_decode(&old, &r) && r.lease != 0 &&
        (e = lkey_op(w, r.lease, key, key_len, false)) != 0)
        return e;
    if ((e = mdb_del(w->txn, w->lk->db_kv, &k, NULL)) != 0)
        return e;
    if ((e = hist_add(w, METAKV_EV_DELETE, key, key_len, NULL)) != 0)
        return e;
    w->changed = true;
    w->deleted++;
    return 0;
}

/* Collects the keys starting with prefix (copies), then deletes them. */
static qv_code apply_delete(wctx *w, const void *key, size_t key_len,
                            bool prefix, qv_err *err)
{
    if (!prefix) {
        int e = metakv__local_delete_one(w, key, key_len);
        return e ? metakv__local_fail(w->lk, err, w->op, e) : QV_OK;
    }
    MDB_cursor *c;
    int e = mdb_cursor_open(w->txn, w->lk->db_kv, &c);
    if (e != 0)
        return metakv__local_fail(w->lk, err, w->op, e);
    MDB_val k = mval(key, key_len), v;
    metakv_kvs keys = METAKV_KVS_INIT;
    e = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (e == 0 && metakv__has_prefix(k.mv_data, k.mv_size, key, key_len)) {
        metakv__kvs_push(&keys, k.mv_data, k.mv_size, NULL, 0);
        e = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (e == MDB_NOTFOUND || e == 0)
        e = 0;
    for (size_t i = 0; i < keys.n && e == 0; i++)
        e = metakv__local_delete_one(w, keys.kvs[i].key, keys.kvs[i].key_len);
    metakv_kvs_release(&keys);
    return e ? metakv__local_fail(w->lk, err, w->op, e) : QV_OK;
}

static int compact_locked(local_kv *lk, MDB_txn *txn, int64_t rev)
{
    MDB_cursor *c;
    int e = mdb_cursor_open(txn, lk->db_hist, &c);
    if (e != 0)
        return e;
    MDB_val k, v;
    e = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (e == 0 && k.mv_size == HIST_KEY &&
           (int64_t)get_be64(k.mv_data) < rev) {
        if ((e = mdb_cursor_del(c, 0)) != 0)
            break;
        e = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    mdb_cursor_close(c);
    if (e != 0 && e != MDB_NOTFOUND)
        return e;
    return metakv__local_meta_set(lk, txn, "compact", rev);
}

/* Commits (or aborts when nothing changed) and publishes the revision. */
qv_code metakv__local_write_end(wctx *w, int64_t *rev, qv_err *err)
{
    local_kv *lk = w->lk;
    int e = 0;
    if (!w->changed && !w->dirty) {
        mdb_txn_abort(w->txn);
        if (rev)
            *rev = w->rev - 1;
        return QV_OK;
    }
    if (w->changed)
        e = metakv__local_meta_set(lk, w->txn, "rev", w->rev);
    if (e == 0 && w->changed && lk->keep_revs &&
        w->rev > (int64_t)lk->keep_revs) {
        int64_t target = w->rev - (int64_t)lk->keep_revs;
        if (target > metakv__local_meta_get(lk, w->txn, "compact") + 64)
            e = compact_locked(lk, w->txn, target);
    }
    if (e != 0) {
        mdb_txn_abort(w->txn);
        return metakv__local_fail(lk, err, w->op, e);
    }
    e = mdb_txn_commit(w->txn);
    if (e != 0)
        return metakv__local_fail(lk, err, w->op, e);
    if (w->changed) {
        pthread_mutex_lock(&lk->mu);
        if (w->rev > lk->rev)
            lk->rev = w->rev;
        pthread_cond_broadcast(&lk->changed);
        pthread_mutex_unlock(&lk->mu);
    }
    if (rev)
        *rev = w->changed ? w->rev : w->rev - 1;
    return QV_OK;
}

/* ---- reads -------------------------------------------------------------- */

qv_code metakv__local_read_begin(local_kv *lk, const char *op, MDB_txn **txn,
                                 qv_err *err)
{
    int e = mdb_txn_begin(lk->env, NULL, MDB_RDONLY, txn);
    return e ? metakv__local_fail(lk, err, op, e) : QV_OK;
}

static void push_rec(metakv_kvs *out, const MDB_val *k, const rec *r,
                     bool keys_only)
{
    metakv_kv *kv = metakv__kvs_push(out, k->mv_data, k->mv_size, r->value,
                                     keys_only ? 0 : r->value_len);
    kv->create_rev = r->create;
    kv->mod_rev = r->mod;
    kv->version = r->version;
    kv->lease = r->lease;
}

static qv_code local_get(metakv *kv, const void *key, size_t key_len,
                         metakv_kvs *out, qv_err *err)
{
    local_kv *lk = L(kv);
    MDB_txn *txn;
    qv_code rc = metakv__local_read_begin(lk, "get", &txn, err);
    if (rc != QV_OK)
        return rc;
    MDB_val k = mval(key, key_len), v;
    rec r;
    int e = mdb_get(txn, lk->db_kv, &k, &v);
    char ks[64];
    if (e == MDB_NOTFOUND)
        rc = qv_fail(err, QV_E_NOT_FOUND,
                     "local meta kv '%s': get '%s': "
                     "no such key",
                     lk->dir, metakv__key_str(key, key_len, ks, sizeof ks));
    else if (e != 0)
        rc = metakv__local_fail(lk, err, "get", e);
    else if (!rec_decode(&v, &r))
        rc = qv_fail(err, QV_E_CORRUPT, "local meta kv '%s': get: bad record",
                     lk->dir);
    else {
        push_rec(out, &k, &r, false);
        out->revision = metakv__local_meta_get(lk, txn, "rev");
    }
    mdb_txn_abort(txn);
    return rc;
}

static qv_code local_range(metakv *kv, const void *prefix, size_t prefix_len,
                           const metakv_range_opts *o, metakv_kvs *out,
                           qv_err *err)
{
    local_kv *lk = L(kv);
    MDB_txn *txn;
    MDB_cursor *c;
    qv_code rc = metakv__local_read_begin(lk, "range", &txn, err);
    if (rc != QV_OK)
        return rc;
    int e = mdb_cursor_open(txn, lk->db_kv, &c);
    if (e != 0) {
        mdb_txn_abort(txn);
        return metakv__local_fail(lk, err, "range", e);
    }
    bool after = o->after && metakv__keycmp(o->after, o->after_len, prefix,
                                            prefix_len) >= 0;
    MDB_val k = after ? mval(o->after, o->after_len) : mval(prefix, prefix_len),
            v;
    e = mdb_cursor_get(c, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
    if (e == 0 && after &&
        metakv__keycmp(k.mv_data, k.mv_size, o->after, o->after_len) == 0)
        e = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    while (e == 0 &&
           metakv__has_prefix(k.mv_data, k.mv_size, prefix, prefix_len)) {
        if (o->limit && out->n == o->limit) {
            out->more = true;
            break;
        }
        rec r;
        if (!rec_decode(&v, &r)) {
            rc = qv_fail(err, QV_E_CORRUPT,
                         "local meta kv '%s': range: bad record", lk->dir);
            break;
        }
        push_rec(out, &k, &r, o->keys_only);
        e = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == QV_OK && e != 0 && e != MDB_NOTFOUND)
        rc = metakv__local_fail(lk, err, "range", e);
    out->revision = metakv__local_meta_get(lk, txn, "rev");
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

static qv_code local_revision(metakv *kv, int64_t *rev, qv_err *err)
{
    local_kv *lk = L(kv);
    MDB_txn *txn;
    qv_code rc = metakv__local_read_begin(lk, "revision", &txn, err);
    if (rc == QV_OK) {
        *rev = metakv__local_meta_get(lk, txn, "rev");
        mdb_txn_abort(txn);
    }
    return rc;
}

/* ---- writes ------------------------------------------------------------- */

static qv_code local_put(metakv *kv, const void *key, size_t key_len,
                         const void *value, size_t value_len, int64_t lease,
                         int64_t *rev, qv_err *err)
{
    wctx w;
    qv_code rc = metakv__local_write_begin(L(kv), "put", &w, err);
    if (rc != QV_OK)
        return rc;
    rc = apply_put(&w, key, key_len, value, value_len, lease, err);
    if (rc != QV_OK) {
        write_abort(&w);
        return rc;
    }
    return metakv__local_write_end(&w, rev, err);
}

static qv_code local_del(metakv *kv, const void *key, size_t key_len,
                         bool prefix, int64_t *deleted, qv_err *err)
{
    wctx w;
    qv_code rc = metakv__local_write_begin(
        L(kv), prefix ? "delete prefix" : "delete", &w, err);
    if (rc != QV_OK)
        return rc;
    rc = apply_delete(&w, key, key_len, prefix, err);
    if (rc != QV_OK) {
        write_abort(&w);
        return rc;
    }
    *deleted = w.deleted;
    return metakv__local_write_end(&w, NULL, err);
}

static int cmp_result(int c, metakv_cmp_op op)
{
    switch (op) {
    case METAKV_EQ:
        return c == 0;
    case METAKV_NE:
        return c != 0;
    case METAKV_LT:
        return c < 0;
    case METAKV_GT:
        return c > 0;
    }
    return 0;
}

static bool eval_cmp(wctx *w, const metakv__cmp *cmp)
{
    MDB_val k = mval(cmp->key, cmp->key_len), v;
    rec r = {0};
    bool exists =
        mdb_get(w->txn, w->lk->db_kv, &k, &v) == 0 && rec_decode(&v, &r);
    if (cmp->target == METAKV_CMP_VALUE) {
        if (!exists)
            return false;
        return cmp_result(
            metakv__keycmp(r.value, r.value_len, cmp->value, cmp->value_len),
            cmp->op);
    }
    int64_t have = cmp->target == METAKV_CMP_VERSION      ? r.version
                   : cmp->target == METAKV_CMP_CREATE_REV ? r.create
                                                          : r.mod;
    return cmp_result(have < cmp->n ? -1 : have > cmp->n ? 1 : 0, cmp->op);
}

static qv_code local_txn(metakv *kv, const metakv_txn *t, bool *succeeded,
                         int64_t *rev, qv_err *err)
{
    wctx w;
    qv_code rc = metakv__local_write_begin(L(kv), "txn", &w, err);
    if (rc != QV_OK)
        return rc;
    bool ok = true;
    for (size_t i = 0; i < t->n_cmps && ok; i++)
        ok = eval_cmp(&w, &t->cmps[i]);
    metakv_branch b = ok ? METAKV_THEN : METAKV_ELSE;
    for (size_t i = 0; i < t->n_ops && rc == QV_OK; i++) {
        const metakv__op *o = &t->ops[i];
        if (o->branch != b)
            continue;
        if (o->is_delete)
            rc = apply_delete(&w, o->key, o->key_len, o->prefix, err);
        else
            rc = apply_put(&w, o->key, o->key_len, o->value, o->value_len,
                           o->lease, err);
    }
    if (rc != QV_OK) {
        write_abort(&w);
        return rc;
    }
    *succeeded = ok;
    return metakv__local_write_end(&w, rev, err);
}

static qv_code local_compact(metakv *kv, int64_t rev, qv_err *err)
{
    local_kv *lk = L(kv);
    wctx w;
    qv_code rc = metakv__local_write_begin(lk, "compact", &w, err);
    if (rc != QV_OK)
        return rc;
    int64_t cur = w.rev - 1,
            done = metakv__local_meta_get(lk, w.txn, "compact");
    if (rev > cur)
        rc = qv_fail(err, QV_E_INVALID,
                     "local meta kv '%s': compact: revision %lld is in the "
                     "future (current %lld)",
                     lk->dir, (long long)rev, (long long)cur);
    else if (rev <= done)
        rc = qv_fail(err, QV_E_COMPACTED,
                     "local meta kv '%s': compact: revision %lld is already "
                     "compacted (at %lld)",
                     lk->dir, (long long)rev, (long long)done);
    if (rc != QV_OK) {
        write_abort(&w);
        return rc;
    }
    int e = compact_locked(lk, w.txn, rev);
    if (e == 0)
        e = mdb_txn_commit(w.txn);
    else
        mdb_txn_abort(w.txn);
    return e ? metakv__local_fail(lk, err, "compact", e) : QV_OK;
}

/* ---- open / close ------------------------------------------------------- */

static qv_code mkdir_p(const char *dir, qv_err *err)
{
    char *p = qv_xstrdup(dir);
    qv_code rc = QV_OK;
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s == '/' || end) {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = qv_fail_errno(err, QV_E_IO,
                                   "local meta kv: cannot create '%s'", p);
                break;
            }
            if (end)
                break;
            *s = '/';
        }
    }
    free(p);
    return rc;
}

static int open_dbs(local_kv *lk, int64_t *rev)
{
    MDB_txn *txn;
    int e = mdb_txn_begin(lk->env, NULL, 0, &txn);
    if (e != 0)
        return e;
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"kv", &lk->db_kv},
               {"hist", &lk->db_hist},
               {"lease", &lk->db_lease},
               {"lkeys", &lk->db_lkeys},
               {"meta", &lk->db_meta}};
    for (size_t i = 0; i < 5 && e == 0; i++)
        e = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
    if (e == 0) {
        *rev = metakv__local_meta_get(lk, txn, "rev");
        if (*rev == 0) {
            *rev = 1; /* as etcd: a fresh store is at revision 1 */
            e = metakv__local_meta_set(lk, txn, "rev", 1);
        }
    }
    if (e == 0)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return e;
}

/* ---- preallocation ------------------------------------------------------
 * A commit that writes into a hole of the sparse data file makes the
 * filesystem allocate blocks, and fdatasync then has to commit filesystem
 * metadata too: ~4 ms per commit here instead of ~0.6 ms.  So the file is
 * kept PREALLOC_MIN bytes of written zeros ahead of the last used page
 * (as etcd preallocates its WAL).  The extension runs inside a write txn:
 * no other writer can touch pages past the last used one meanwhile, and
 * LMDB ignores file bytes past its last page. */

#define PREALLOC_STEP (16u << 20)
#define PREALLOC_MIN  (4u << 20)

void metakv__local_prealloc(local_kv *lk)
{
    MDB_txn *txn;
    if (mdb_txn_begin(lk->env, NULL, 0, &txn) != 0)
        return;
    MDB_envinfo info;
    MDB_stat st;
    int fd = -1;
    struct stat fs;
    if (mdb_env_info(lk->env, &info) == 0 && mdb_env_stat(lk->env, &st) == 0 &&
        mdb_env_get_fd(lk->env, &fd) == 0 && fstat(fd, &fs) == 0) {
        uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
        uint64_t size =
            (uint64_t)fs.st_size > used ? (uint64_t)fs.st_size : used;
        uint64_t want = used + PREALLOC_STEP;
        if (want > info.me_mapsize)
            want = info.me_mapsize;
        if (size < used + PREALLOC_MIN && size < want) {
            static const uint8_t zeros[1 << 16];
            bool ok = true;
            for (uint64_t off = size; off < want && ok;) {
                size_t n = want - off < sizeof zeros ? (size_t)(want - off)
                                                     : sizeof zeros;
                ssize_t w = pwrite(fd, zeros, n, (off_t)off);
                ok = w > 0;
                off += ok ? (uint64_t)w : 0;
            }
            (void)fdatasync(fd);
        }
    }
    mdb_txn_abort(txn);
}

static qv_code env_open(local_kv *lk, const metakv_config *cfg, qv_err *err)
{
    int e = mdb_env_create(&lk->env);
    if (e != 0)
        return metakv__local_fail(lk, err, "open", e);
    uint64_t map = cfg->map_size ? cfg->map_size : DEFAULT_MAP_SIZE;
    e = mdb_env_set_maxdbs(lk->env, 8);
    if (e == 0)
        e = mdb_env_set_mapsize(lk->env, (size_t)map);
    if (e == 0)
        e = mdb_env_open(lk->env, lk->dir, MDB_NOTLS, 0644);
    if (e == 0 && mdb_env_get_maxkeysize(lk->env) < 8 + (int)METAKV_MAX_KEY_LEN)
        e = MDB_BAD_VALSIZE;
    if (e == 0) {
        int dead = 0;
        (void)mdb_reader_check(lk->env, &dead);
        e = open_dbs(lk, &lk->rev);
    }
    if (e != 0) {
        qv_code rc = metakv__local_fail(lk, err, "open", e);
        mdb_env_close(lk->env);
        lk->env = NULL;
        return rc;
    }
    return QV_OK;
}

static qv_code local_open(metakv *kv, const metakv_config *cfg, qv_err *err)
{
    local_kv *lk = L(kv);
    if (!cfg->dir || !*cfg->dir)
        return qv_fail(err, QV_E_INVALID, "local meta kv: no directory set");
    qv_code rc = mkdir_p(cfg->dir, err);
    if (rc != QV_OK)
        return rc;
    char *real = realpath(cfg->dir, NULL);
    if (!real)
        return qv_fail_errno(err, QV_E_IO, "local meta kv: cannot resolve '%s'",
                             cfg->dir);
    lk->dir = qv_xstrdup(real);
    free(real);
    if (!dir_claim(lk->dir)) {
        rc = qv_fail(err, QV_E_EXISTS,
                     "local meta kv '%s' is already open in this process",
                     lk->dir);
        free(lk->dir);
        return rc;
    }
    lk->clock = cfg->clock ? cfg->clock : qv_clock_system();
    lk->keep_revs = cfg->keep_revs;
    rc = env_open(lk, cfg, err);
    if (rc != QV_OK) {
        dir_release(lk->dir);
        free(lk->dir);
        return rc;
    }
    pthread_mutex_init(&lk->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lk->changed, &ca);
    pthread_cond_init(&lk->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    metakv__local_prealloc(lk);
    metakv__local_sweep(lk); /* leases that ran out while we were down */
    lk->timer_started =
        pthread_create(&lk->timer, NULL, metakv__local_timer_main, lk) == 0;
    if (!lk->timer_started) {
        rc = qv_fail(err, QV_E_INTERNAL,
                     "local meta kv '%s': cannot start the lease timer",
                     lk->dir);
        local_close(kv);
    }
    return rc;
}

static void local_close(metakv *kv)
{
    local_kv *lk = L(kv);
    pthread_mutex_lock(&lk->mu);
    lk->stop = true;
    pthread_cond_broadcast(&lk->stop_cv);
    pthread_cond_broadcast(&lk->changed);
    pthread_mutex_unlock(&lk->mu);
    if (lk->timer_started)
        pthread_join(lk->timer, NULL);
    mdb_env_close(lk->env);
    pthread_cond_destroy(&lk->changed);
    pthread_cond_destroy(&lk->stop_cv);
    pthread_mutex_destroy(&lk->mu);
    dir_release(lk->dir);
    free(lk->dir);
}

const metakv_ops metakv__local_ops = {
    .name = "local",
    .caps = 0,
    .impl_size = sizeof(local_kv) - sizeof(metakv),
    .open = local_open,
    .close = local_close,
    .get = local_get,
    .put = local_put,
    .del = local_del,
    .range = local_range,
    .revision = local_revision,
    .compact = local_compact,
    .txn = local_txn,
    .lease_grant = metakv__local_lease_grant,
    .lease_keepalive = metakv__local_lease_keepalive,
    .lease_revoke = metakv__local_lease_revoke,
    .watch_open = metakv__local_watch_open,
    .watch_next = metakv__local_watch_next,
    .watch_close = metakv__local_watch_close,
};
