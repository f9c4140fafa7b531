/* metakv_local_lw.c -- leases (grant, keepalive, revoke, expiry by a timer
 * thread and at open) and watches (history scan + wait on commits) of the
 * LMDB meta KV.  See metakv_local.c for the layout.
 */
#include "common/metakv/metakv_local_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/alloc.h"

/* ---- leases ------------------------------------------------------------- */

static qv_code lease_find(wctx *w, int64_t id, int64_t *ttl, int64_t *expires)
{
    uint8_t b[8];
    put_be64(b, (uint64_t)id);
    MDB_val k = mval(b, 8), v;
    int e = mdb_get(w->txn, w->lk->db_lease, &k, &v);
    if (e == 0 && v.mv_size == 16) {
        *ttl = ld64(v.mv_data);
        *expires = ld64((uint8_t *)v.mv_data + 8);
        return QV_OK;
    }
    return QV_E_NOT_FOUND;
}

static int lease_store(wctx *w, int64_t id, int64_t ttl, int64_t expires)
{
    uint8_t b[8], d[16];
    put_be64(b, (uint64_t)id);
    st64(d, ttl);
    st64(d + 8, expires);
    MDB_val k = mval(b, 8), v = mval(d, 16);
    w->dirty = true;
    return mdb_put(w->txn, w->lk->db_lease, &k, &v, 0);
}

qv_code metakv__local_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id,
                                  qv_err *err)
{
    local_kv *lk = L(kv);
    wctx w;
    qv_code rc = metakv__local_write_begin(lk, "lease grant", &w, err);
    if (rc != QV_OK)
        return rc;
    int64_t next = metakv__local_meta_get(lk, w.txn, "lease_next");
    if (next <= 0)
        next = 1;
    int64_t now = (int64_t)qv_wall_ms(lk->clock);
    int e = lease_store(&w, next, ttl_s, now + ttl_s * 1000);
    if (e == 0)
        e = metakv__local_meta_set(lk, w.txn, "lease_next", next + 1);
    if (e != 0) {
        write_abort(&w);
        return metakv__local_fail(lk, err, "lease grant", e);
    }
    rc = metakv__local_write_end(&w, NULL, err);
    if (rc == QV_OK)
        *id = next;
    return rc;
}

static qv_code lease_missing(local_kv *lk, const char *op, int64_t id,
                             qv_err *err)
{
    return qv_fail(err, QV_E_NOT_FOUND,
                   "local meta kv '%s': %s: lease %lld not found (expired "
                   "or revoked)",
                   lk->dir, op, (long long)id);
}

qv_code metakv__local_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                                      qv_err *err)
{
    local_kv *lk = L(kv);
    wctx w;
    qv_code rc = metakv__local_write_begin(lk, "lease keepalive", &w, err);
    if (rc != QV_OK)
        return rc;
    int64_t ttl, expires, now = (int64_t)qv_wall_ms(lk->clock);
    if (lease_find(&w, id, &ttl, &expires) != QV_OK || expires <= now) {
        write_abort(&w);
        return lease_missing(lk, "lease keepalive", id, err);
    }
    int e = lease_store(&w, id, ttl, now + ttl * 1000);
    if (e != 0) {
        write_abort(&w);
        return metakv__local_fail(lk, err, "lease keepalive", e);
    }
    rc = metakv__local_write_end(&w, NULL, err);
    if (rc == QV_OK)
        *ttl_s = ttl;
    return rc;
}

/* Deletes the lease's keys (as this write's revision) and the lease. */
static int lease_drop(wctx *w, int64_t id)
{
    uint8_t b[8];
    put_be64(b, (uint64_t)id);
    MDB_cursor *c;
    int e = mdb_cursor_open(w->txn, w->lk->db_lkeys, &c);
    if (e != 0)
        return e;
    metakv_kvs keys = METAKV_KVS_INIT;
    MDB_val k = mval(b, 8), v;
    e = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (e == 0 && k.mv_size > 8 && memcmp(k.mv_data, b, 8) == 0) {
        metakv__kvs_push(&keys, (uint8_t *)k.mv_data + 8, k.mv_size - 8, NULL,
                         0);
        e = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    e = e == MDB_NOTFOUND ? 0 : e;
    for (size_t i = 0; i < keys.n && e == 0; i++)
        e = metakv__local_delete_one(w, keys.kvs[i].key, keys.kvs[i].key_len);
    metakv_kvs_release(&keys);
    if (e == 0) {
        k = mval(b, 8);
        e = mdb_del(w->txn, w->lk->db_lease, &k, NULL);
        w->dirty = true;
    }
    return e;
}

qv_code metakv__local_lease_revoke(metakv *kv, int64_t id, qv_err *err)
{
    local_kv *lk = L(kv);
    wctx w;
    qv_code rc = metakv__local_write_begin(lk, "lease revoke", &w, err);
    if (rc != QV_OK)
        return rc;
    int64_t ttl, expires;
    if (lease_find(&w, id, &ttl, &expires) != QV_OK) {
        write_abort(&w);
        return lease_missing(lk, "lease revoke", id, err);
    }
    int e = lease_drop(&w, id);
    if (e != 0) {
        write_abort(&w);
        return metakv__local_fail(lk, err, "lease revoke", e);
    }
    return metakv__local_write_end(&w, NULL, err);
}

/* Expires one lease whose time is up; *found = whether there was one. */
static qv_code sweep_one(local_kv *lk, bool *found, qv_err *err)
{
    wctx w;
    *found = false;
    qv_code rc = metakv__local_write_begin(lk, "lease expiry", &w, err);
    if (rc != QV_OK)
        return rc;
    int64_t now = (int64_t)qv_wall_ms(lk->clock), id = 0;
    MDB_cursor *c;
    int e = mdb_cursor_open(w.txn, lk->db_lease, &c);
    MDB_val k, v;
    if (e == 0) {
        e = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        for (; e == 0; e = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size == 8 && v.mv_size == 16 &&
                ld64((uint8_t *)v.mv_data + 8) <= now) {
                id = (int64_t)get_be64(k.mv_data);
                break;
            }
        }
        mdb_cursor_close(c);
        e = e == MDB_NOTFOUND ? 0 : e;
    }
    if (e == 0 && id != 0) {
        *found = true;
        e = lease_drop(&w, id);
    }
    if (e != 0) {
        write_abort(&w);
        return metakv__local_fail(lk, err, "lease expiry", e);
    }
    return metakv__local_write_end(&w, NULL, err);
}

void metakv__local_sweep(local_kv *lk)
{
    bool found = true;
    for (int i = 0; i < 1000 && found; i++)
        if (sweep_one(lk, &found, NULL) != QV_OK)
            break;
}

void *metakv__local_timer_main(void *arg)
{
    local_kv *lk = arg;
    pthread_mutex_lock(&lk->mu);
    while (!lk->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lk->stop_cv, &lk->mu, &ts);
        if (lk->stop)
            break;
        pthread_mutex_unlock(&lk->mu);
        metakv__local_sweep(lk);
        metakv__local_prealloc(lk);
        pthread_mutex_lock(&lk->mu);
    }
    pthread_mutex_unlock(&lk->mu);
    return NULL;
}

/* ---- watches ------------------------------------------------------------ */

static qv_code compacted(local_kv *lk, int64_t from, int64_t compact,
                         qv_err *err)
{
    return qv_fail(err, QV_E_COMPACTED,
                   "local meta kv '%s': watch from revision %lld: history "
                   "before revision %lld was compacted",
                   lk->dir, (long long)from, (long long)compact);
}

qv_code metakv__local_watch_open(metakv *kv, const void *prefix,
                                 size_t prefix_len, int64_t from_rev,
                                 metakv_watch **out, qv_err *err)
{
    local_kv *lk = L(kv);
    MDB_txn *txn;
    qv_code rc = metakv__local_read_begin(lk, "watch", &txn, err);
    if (rc != QV_OK)
        return rc;
    int64_t cur = metakv__local_meta_get(lk, txn, "rev");
    int64_t compact = metakv__local_meta_get(lk, txn, "compact");
    mdb_txn_abort(txn);
    if (from_rev != 0 && from_rev < compact)
        return compacted(lk, from_rev, compact, err);
    local_watch *w = QV_NEW(local_watch);
    w->base.kv = kv;
    w->base.next_rev = from_rev ? from_rev : cur + 1;
    w->prefix = qv_xmalloc(prefix_len + 1);
    if (prefix_len)
        memcpy(w->prefix, prefix, prefix_len);
    w->prefix_len = prefix_len;
    *out = &w->base;
    return QV_OK;
}

static void push_event(metakv_events *out, const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    uint32_t type, kl;
    memcpy(&type, p, 4);
    memcpy(&kl, p + 4, 4);
    metakv_kv *kv =
        metakv__events_push(out, (metakv_event_type)type, p + HIST_HDR, kl,
                            p + HIST_HDR + kl, v->mv_size - HIST_HDR - kl);
    kv->create_rev = ld64(p + 8);
    kv->mod_rev = ld64(p + 16);
    kv->version = ld64(p + 24);
    kv->lease = ld64(p + 32);
}

/* Appends the events of revisions next_rev..cur that match the prefix. */
static qv_code scan_hist(local_watch *w, MDB_txn *txn, int64_t cur,
                         metakv_events *out, qv_err *err)
{
    local_kv *lk = L(w->base.kv);
    MDB_cursor *c;
    int e = mdb_cursor_open(txn, lk->db_hist, &c);
    if (e != 0)
        return metakv__local_fail(lk, err, "watch", e);
    uint8_t hk[HIST_KEY] = {0};
    put_be64(hk, (uint64_t)w->base.next_rev);
    MDB_val k = mval(hk, HIST_KEY), v;
    size_t before = out->n;
    int64_t next = cur + 1, last = 0;
    for (e = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); e == 0;
         e = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int64_t r = (int64_t)get_be64(k.mv_data);
        if (r > cur)
            break;
        if (out->n - before >= WATCH_BATCH && r != last) {
            next = r;
            break;
        }
        last = r;
        const uint8_t *p = v.mv_data;
        uint32_t kl;
        memcpy(&kl, p + 4, 4);
        if (v.mv_size >= HIST_HDR + (size_t)kl &&
            metakv__has_prefix(p + HIST_HDR, kl, w->prefix, w->prefix_len))
            push_event(out, &v);
    }
    mdb_cursor_close(c);
    if (e != 0 && e != MDB_NOTFOUND)
        return metakv__local_fail(lk, err, "watch", e);
    w->base.next_rev = next;
    return QV_OK;
}

qv_code metakv__local_watch_next(metakv_watch *base, uint32_t wait_ms,
                                 metakv_events *out, qv_err *err)
{
    local_watch *w = (local_watch *)base;
    local_kv *lk = L(base->kv);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    for (;;) {
        MDB_txn *txn;
        qv_code rc = metakv__local_read_begin(lk, "watch", &txn, err);
        if (rc != QV_OK)
            return rc;
        int64_t cur = metakv__local_meta_get(lk, txn, "rev");
        int64_t compact = metakv__local_meta_get(lk, txn, "compact");
        size_t before = out->n;
        if (base->next_rev < compact)
            rc = compacted(lk, base->next_rev, compact, err);
        else if (base->next_rev <= cur)
            rc = scan_hist(w, txn, cur, out, err);
        mdb_txn_abort(txn);
        if (rc != QV_OK || out->n > before)
            return rc;
        bool timed_out = false;
        pthread_mutex_lock(&lk->mu);
        while (lk->rev < base->next_rev && !lk->stop && !timed_out)
            timed_out =
                pthread_cond_timedwait(&lk->changed, &lk->mu, &dl) == ETIMEDOUT;
        bool more = lk->rev >= base->next_rev;
        pthread_mutex_unlock(&lk->mu);
        if (!more)
            return QV_OK;
    }
}

void metakv__local_watch_close(metakv_watch *base)
{
    local_watch *w = (local_watch *)base;
    free(w->prefix);
    free(w);
}
