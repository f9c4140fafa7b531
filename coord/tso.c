/* tso.c -- see tso.h. */
#include "coord/tso.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* One persisted counter: the value is an unsigned decimal string. */
typedef struct bound {
    char key[128];
    uint64_t value;  /* the persisted bound */
    int64_t mod_rev; /* mod revision of our last write (0 = key absent) */
} bound;

struct qv_tso {
    pthread_mutex_t mu;
    metakv *kv;
    const qv_clock *clock;
    uint32_t window_ms, id_window;
    bound ts_bound;     /* physical ms never reached by issued timestamps */
    bound id_bound;     /* IDs below it are reserved by us or earlier */
    uint64_t last_phys; /* physical part of the last timestamp */
    uint32_t logical;   /* next logical counter at last_phys */
    int64_t next_id;    /* next ID to hand out (< id_bound.value) */
    bool fenced;        /* another coord wrote a bound: stop serving */
};

static qv_code load_bound(metakv *kv, bound *b, qv_err *err)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(kv, b->key, strlen(b->key), &r, err);
    if (rc == QV_E_NOT_FOUND) {
        b->value = 0;
        b->mod_rev = 0;
        return QV_OK;
    }
    if (rc)
        return rc;
    char *end;
    unsigned long long v = strtoull((const char *)r.kvs[0].value, &end, 10);
    if (r.kvs[0].value_len == 0 || *end != '\0') {
        metakv_kvs_release(&r);
        return qv_fail(err, QV_E_CORRUPT, "meta key '%s' is not a number",
                       b->key);
    }
    b->value = v;
    b->mod_rev = r.kvs[0].mod_rev;
    metakv_kvs_release(&r);
    return QV_OK;
}

/* Persists b = value if nobody else wrote the key since we read it. */
static qv_code save_bound(qv_tso *t, bound *b, uint64_t value, qv_err *err)
{
    char v[32];
    int n = snprintf(v, sizeof(v), "%" PRIu64, value);
    metakv_txn *txn = metakv_txn_begin(t->kv);
    metakv_txn_cmp_num(txn, b->key, strlen(b->key), METAKV_CMP_MOD_REV,
                       METAKV_EQ, b->mod_rev);
    metakv_txn_put(txn, METAKV_THEN, b->key, strlen(b->key), v, (size_t)n, 0);
    bool ok = false;
    int64_t rev = 0;
    qv_code rc = metakv_txn_commit(txn, &ok, &rev, err);
    if (rc)
        return qv_err_prefix(err, "cannot persist '%s'", b->key);
    if (!ok) {
        t->fenced = true;
        return qv_fail(err, QV_E_CONFLICT,
                       "'%s' was changed by another coord: this coord no "
                       "longer allocates",
                       b->key);
    }
    b->value = value;
    b->mod_rev = rev;
    return QV_OK;
}

qv_code qv_tso_open(metakv *kv, const qv_tso_options *opts, qv_tso **out,
                    qv_err *err)
{
    qv_tso *t = QV_NEW(qv_tso);
    const char *root = opts && opts->root ? opts->root : "quiver/";
    t->kv = kv;
    t->clock = opts && opts->clock ? opts->clock : qv_clock_system();
    t->window_ms = opts && opts->window_ms ? opts->window_ms : 3000;
    t->id_window = opts && opts->id_window ? opts->id_window : 10000;
    snprintf(t->ts_bound.key, sizeof(t->ts_bound.key), "%stso", root);
    snprintf(t->id_bound.key, sizeof(t->id_bound.key), "%sids", root);
    pthread_mutex_init(&t->mu, NULL);

    qv_code rc = load_bound(kv, &t->ts_bound, err);
    if (!rc)
        rc = load_bound(kv, &t->id_bound, err);
    if (rc) {
        qv_tso_close(t);
        return rc;
    }
    /* Start above everything an earlier coord may have issued. */
    uint64_t now = qv_wall_ms(t->clock);
    t->last_phys = now > t->ts_bound.value ? now : t->ts_bound.value;
    t->logical = 0;
    t->next_id = t->id_bound.value > 0 ? (int64_t)t->id_bound.value : 1;
    rc = save_bound(t, &t->ts_bound, t->last_phys + t->window_ms, err);
    if (!rc)
        rc = save_bound(t, &t->id_bound, (uint64_t)t->next_id + t->id_window,
                        err);
    if (rc) {
        qv_tso_close(t);
        return rc;
    }
    *out = t;
    return QV_OK;
}

void qv_tso_close(qv_tso *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Moves last_phys forward with the clock (never back) and makes sure
 * [last_phys, last_phys + 1] lies below the persisted bound. */
static qv_code advance(qv_tso *t, uint32_t count, qv_err *err)
{
    uint64_t now = qv_wall_ms(t->clock);
    if (now > t->last_phys) {
        t->last_phys = now;
        t->logical = 0;
    }
    if ((uint64_t)t->logical + count > QV_TS_LOGICAL_MASK + 1u) {
        t->last_phys++; /* logical space used up: borrow the next ms */
        t->logical = 0;
    }
    if (t->last_phys + 1 >= t->ts_bound.value)
        return save_bound(t, &t->ts_bound, t->last_phys + t->window_ms, err);
    return QV_OK;
}

qv_code qv_tso_alloc(qv_tso *t, uint32_t count, qv_ts *first, qv_err *err)
{
    if (count == 0 || count > QV_TS_LOGICAL_MASK + 1u)
        return qv_fail(err, QV_E_INVALID,
                       "timestamp count %u out of range [1, %u]", count,
                       QV_TS_LOGICAL_MASK + 1u);
    pthread_mutex_lock(&t->mu);
    qv_code rc = t->fenced ? qv_fail(err, QV_E_CONFLICT,
                                     "this coord no longer allocates "
                                     "timestamps (another coord took over)")
                           : advance(t, count, err);
    if (!rc) {
        *first = qv_ts_compose(t->last_phys, t->logical);
        t->logical += count;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

qv_code qv_tso_alloc_ids(qv_tso *t, uint32_t count, int64_t *first, qv_err *err)
{
    if (count == 0 || count > 10000000u)
        return qv_fail(err, QV_E_INVALID,
                       "id count %u out of range [1, 10000000]", count);
    pthread_mutex_lock(&t->mu);
    qv_code rc = QV_OK;
    if (t->fenced)
        rc = qv_fail(err, QV_E_CONFLICT,
                     "this coord no longer allocates ids (another coord "
                     "took over)");
    else if ((uint64_t)t->next_id + count > t->id_bound.value)
        rc = save_bound(t, &t->id_bound,
                        (uint64_t)t->next_id + count + t->id_window, err);
    if (!rc) {
        *first = t->next_id;
        t->next_id += count;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}
