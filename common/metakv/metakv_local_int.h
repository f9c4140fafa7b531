/* metakv_local_int.h -- internals shared by the LMDB meta KV files:
 * metakv_local.c (open/close, keys, txns, compaction) and
 * metakv_local_lw.c (leases, the expiry timer, watches).  The on-disk
 * layout is described at the top of metakv_local.c.
 */
#ifndef QV_METAKV_LOCAL_INT_H
#define QV_METAKV_LOCAL_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <string.h>

#include "common/metakv/metakv_int.h"

#define KV_HDR           32
#define HIST_HDR         40
#define HIST_KEY         12
#define DEFAULT_MAP_SIZE (4ull << 30)
#define SWEEP_MS         50
#define WATCH_BATCH      1024

typedef struct local_kv {
    metakv base;
    MDB_env *env;
    MDB_dbi db_kv, db_hist, db_lease, db_lkeys, db_meta;
    char *dir;
    const qv_clock *clock;
    uint64_t keep_revs;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast after every commit */
    pthread_cond_t stop_cv;
    int64_t rev; /* cached current revision (under mu) */
    bool stop;
    bool timer_started;
    pthread_t timer;
} local_kv;

typedef struct local_watch {
    metakv_watch base;
    uint8_t *prefix;
    size_t prefix_len;
} local_watch;

/* Decoded stored record. */
typedef struct rec {
    int64_t create, mod, version, lease;
    const uint8_t *value;
    size_t value_len;
} rec;

/* One write request in progress. */
typedef struct wctx {
    local_kv *lk;
    MDB_txn *txn;
    int64_t rev; /* the revision this write creates */
    uint32_t idx;
    bool changed; /* a key changed: the write takes revision rev */
    bool dirty;   /* something else changed (leases): commit anyway */
    int64_t deleted;
    const char *op;
} wctx;

static inline local_kv *L(metakv *kv)
{
    return (local_kv *)kv;
}

/* ---- encoding ----------------------------------------------------------- */

static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline int64_t ld64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void st64(uint8_t *p, int64_t v)
{
    memcpy(p, &v, 8);
}

static inline bool rec_decode(const MDB_val *v, rec *r)
{
    if (v->mv_size < KV_HDR)
        return false;
    const uint8_t *p = v->mv_data;
    r->create = ld64(p);
    r->mod = ld64(p + 8);
    r->version = ld64(p + 16);
    r->lease = ld64(p + 24);
    r->value = p + KV_HDR;
    r->value_len = v->mv_size - KV_HDR;
    return true;
}

static inline MDB_val mval(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)p};
    return v;
}

static inline void write_abort(wctx *w)
{
    mdb_txn_abort(w->txn);
}

/* Shared helpers (metakv_local.c). */
qv_code metakv__local_fail(local_kv *lk, qv_err *err, const char *op, int e);
int64_t metakv__local_meta_get(local_kv *lk, MDB_txn *txn, const char *name);
int metakv__local_meta_set(local_kv *lk, MDB_txn *txn, const char *name,
                           int64_t n);
qv_code metakv__local_write_begin(local_kv *lk, const char *op, wctx *w,
                                  qv_err *err);
qv_code metakv__local_write_end(wctx *w, int64_t *rev, qv_err *err);
int metakv__local_delete_one(wctx *w, const void *key, size_t key_len);
qv_code metakv__local_read_begin(local_kv *lk, const char *op, MDB_txn **txn,
                                 qv_err *err);
/* Keeps written zeros ahead of the last used page (metakv_local.c). */
void metakv__local_prealloc(local_kv *lk);
/* metakv_local_lw.c */
void metakv__local_sweep(local_kv *lk);
void *metakv__local_timer_main(void *arg);
qv_code metakv__local_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id,
                                  qv_err *err);
qv_code metakv__local_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                                      qv_err *err);
qv_code metakv__local_lease_revoke(metakv *kv, int64_t id, qv_err *err);
qv_code metakv__local_watch_open(metakv *kv, const void *prefix,
                                 size_t prefix_len, int64_t from_rev,
                                 metakv_watch **out, qv_err *err);
qv_code metakv__local_watch_next(metakv_watch *w, uint32_t wait_ms,
                                 metakv_events *out, qv_err *err);
void metakv__local_watch_close(metakv_watch *w);

#endif
