/* metakv_fault.c -- a meta KV decorator that fails calls and adds latency.
 *
 * metakv_fault_wrap() puts it in front of any open store.  Every operation
 * (get, put, delete, range, revision, compact, txn, lease calls, watch open
 * and every watch_next) counts as one call; the fail_nth-th call after
 * metakv_fault_set() returns the configured code without reaching the
 * inner store, and every call first sleeps latency_ms.  Used by failure
 * tests of the layers above (coord, datanode) and by the conformance suite.
 *
 * Watches opened through the decorator are wrapped too, so their
 * watch_next calls are counted and can fail.
 *
 * Threading: the counters are atomics; the settings may be changed while
 * other threads run calls.
 */
#include "common/metakv/metakv_int.h"

#include <stdlib.h>

#include "common/alloc.h"

typedef struct fault_kv {
    metakv base;
    metakv *inner;
    uint64_t calls;      /* atomic: calls seen */
    uint64_t fail_at;    /* atomic: call number that fails; 0 = none */
    uint32_t code;       /* atomic */
    uint32_t latency_ms; /* atomic */
} fault_kv;

typedef struct fault_watch {
    metakv_watch base;
    metakv_watch *inner;
} fault_watch;

static fault_kv *F(metakv *kv)
{
    return (fault_kv *)kv;
}

/* Counts a call; returns the injected failure or QV_OK. */
static qv_code fault_enter(fault_kv *f, const char *op, qv_err *err)
{
    uint32_t lat = __atomic_load_n(&f->latency_ms, __ATOMIC_RELAXED);
    if (lat)
        qv_sleep_ms(lat);
    uint64_t n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
    uint64_t at = __atomic_load_n(&f->fail_at, __ATOMIC_RELAXED);
    if (at && n == at) {
        qv_code c = (qv_code)__atomic_load_n(&f->code, __ATOMIC_RELAXED);
        return qv_fail(err, c, "fault(%s) %s: injected failure %s at call %llu",
                       f->inner->ops->name, op, qv_code_name(c),
                       (unsigned long long)n);
    }
    return QV_OK;
}

qv_code metakv_fault_wrap(metakv *inner, metakv **out, qv_err *err)
{
    (void)err;
    fault_kv *f = qv_xcalloc(1, sizeof *f);
    f->base.ops = &metakv__fault_ops;
    f->base.timeout_ms = inner->timeout_ms;
    f->inner = inner;
    *out = &f->base;
    return QV_OK;
}

void metakv_fault_set(metakv *kv, uint64_t fail_nth, qv_code code,
                      uint32_t latency_ms)
{
    if (kv->ops != &metakv__fault_ops)
        return; /* not a decorator: nothing to configure */
    fault_kv *f = F(kv);
    uint64_t now = __atomic_load_n(&f->calls, __ATOMIC_RELAXED);
    __atomic_store_n(&f->code, (uint32_t)code, __ATOMIC_RELAXED);
    __atomic_store_n(&f->latency_ms, latency_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&f->fail_at, fail_nth ? now + fail_nth : 0,
                     __ATOMIC_RELAXED);
}

uint64_t metakv_fault_calls(const metakv *kv)
{
    if (kv->ops != &metakv__fault_ops)
        return 0;
    return __atomic_load_n(&((const fault_kv *)kv)->calls, __ATOMIC_RELAXED);
}

static qv_code fault_open(metakv *kv, const metakv_config *cfg, qv_err *err)
{
    (void)kv;
    (void)cfg;
    return qv_fail(err, QV_E_INVALID,
                   "the fault meta kv wraps a store: use metakv_fault_wrap()");
}

static void fault_close(metakv *kv)
{
    metakv_close(F(kv)->inner);
}

static qv_code fault_get(metakv *kv, const void *key, size_t key_len,
                         metakv_kvs *out, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "get", err);
    return rc ? rc
              : F(kv)->inner->ops->get(F(kv)->inner, key, key_len, out, err);
}

static qv_code fault_put(metakv *kv, const void *key, size_t key_len,
                         const void *value, size_t value_len, int64_t lease,
                         int64_t *rev, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "put", err);
    return rc ? rc
              : F(kv)->inner->ops->put(F(kv)->inner, key, key_len, value,
                                       value_len, lease, rev, err);
}

static qv_code fault_del(metakv *kv, const void *key, size_t key_len,
                         bool prefix, int64_t *deleted, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "delete", err);
    return rc ? rc
              : F(kv)->inner->ops->del(F(kv)->inner, key, key_len, prefix,
                                       deleted, err);
}

static qv_code fault_range(metakv *kv, const void *prefix, size_t prefix_len,
                           const metakv_range_opts *o, metakv_kvs *out,
                           qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "range", err);
    return rc ? rc
              : F(kv)->inner->ops->range(F(kv)->inner, prefix, prefix_len, o,
                                         out, err);
}

static qv_code fault_revision(metakv *kv, int64_t *rev, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "revision", err);
    return rc ? rc : F(kv)->inner->ops->revision(F(kv)->inner, rev, err);
}

static qv_code fault_compact(metakv *kv, int64_t rev, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "compact", err);
    return rc ? rc : F(kv)->inner->ops->compact(F(kv)->inner, rev, err);
}

static qv_code fault_txn(metakv *kv, const metakv_txn *t, bool *succeeded,
                         int64_t *rev, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "txn", err);
    return rc ? rc
              : F(kv)->inner->ops->txn(F(kv)->inner, t, succeeded, rev, err);
}

static qv_code fault_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id,
                                 qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "lease grant", err);
    return rc ? rc
              : F(kv)->inner->ops->lease_grant(F(kv)->inner, ttl_s, id, err);
}

static qv_code fault_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                                     qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "lease keepalive", err);
    return rc ? rc
              : F(kv)->inner->ops->lease_keepalive(F(kv)->inner, id, ttl_s,
                                                   err);
}

static qv_code fault_lease_revoke(metakv *kv, int64_t id, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "lease revoke", err);
    return rc ? rc : F(kv)->inner->ops->lease_revoke(F(kv)->inner, id, err);
}

static qv_code fault_watch_open(metakv *kv, const void *prefix,
                                size_t prefix_len, int64_t from_rev,
                                metakv_watch **out, qv_err *err)
{
    qv_code rc = fault_enter(F(kv), "watch", err);
    if (rc != QV_OK)
        return rc;
    metakv_watch *inner = NULL;
    rc = F(kv)->inner->ops->watch_open(F(kv)->inner, prefix, prefix_len,
                                       from_rev, &inner, err);
    if (rc != QV_OK)
        return rc;
    fault_watch *w = QV_NEW(fault_watch);
    w->base.kv = kv;
    w->base.next_rev = inner->next_rev;
    w->inner = inner;
    *out = &w->base;
    return QV_OK;
}

static qv_code fault_watch_next(metakv_watch *base, uint32_t wait_ms,
                                metakv_events *out, qv_err *err)
{
    fault_watch *w = (fault_watch *)base;
    qv_code rc = fault_enter(F(base->kv), "watch next", err);
    if (rc == QV_OK)
        rc = w->inner->kv->ops->watch_next(w->inner, wait_ms, out, err);
    base->next_rev = w->inner->next_rev;
    return rc;
}

static void fault_watch_close(metakv_watch *base)
{
    fault_watch *w = (fault_watch *)base;
    w->inner->kv->ops->watch_close(w->inner);
    free(w);
}

const metakv_ops metakv__fault_ops = {
    .name = "fault",
    .caps = 0,
    .impl_size = sizeof(fault_kv) - sizeof(metakv),
    .open = fault_open,
    .close = fault_close,
    .get = fault_get,
    .put = fault_put,
    .del = fault_del,
    .range = fault_range,
    .revision = fault_revision,
    .compact = fault_compact,
    .txn = fault_txn,
    .lease_grant = fault_lease_grant,
    .lease_keepalive = fault_lease_keepalive,
    .lease_revoke = fault_lease_revoke,
    .watch_open = fault_watch_open,
    .watch_next = fault_watch_next,
    .watch_close = fault_watch_close,
};
