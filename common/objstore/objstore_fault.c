/* objstore_fault.c -- a decorator that injects failures and latency.
 *
 * Counted calls (those selected by objstore_fault_config.ops) first sleep
 * latency_ms, then the Nth one (and, with fail_after, every later one)
 * fails with fail_code without reaching the inner store; all other calls
 * pass through unchanged.  Used by failure tests of the layers above.
 *
 * Threading: counters are atomic; objstore_fault_set() takes a mutex, so it
 * may be called while other threads use the store.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/objstore/objstore_int.h"

typedef struct fault_store {
    objstore base;
    objstore *inner;
    pthread_mutex_t mu; /* guards fc */
    objstore_fault_config fc;
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t injected;
} fault_store;

static fault_store *fault_of(objstore *os)
{
    return (fault_store *)os;
}

/* Counts the call and decides; QV_OK means "pass through". */
static qv_code fault_check(objstore *os, uint32_t op, const char *opname,
                           const char *key, qv_err *err)
{
    fault_store *f = fault_of(os);
    pthread_mutex_lock(&f->mu);
    objstore_fault_config fc = f->fc;
    pthread_mutex_unlock(&f->mu);
    uint32_t ops = fc.ops ? fc.ops : OBJSTORE_FAULT_ALL;
    if (!(ops & op))
        return QV_OK;
    uint64_t n = atomic_fetch_add(&f->calls, 1) + 1;
    if (fc.latency_ms)
        qv_sleep_ms(fc.latency_ms);
    bool fail =
        fc.fail_nth && (n == fc.fail_nth || (fc.fail_after && n > fc.fail_nth));
    if (!fail)
        return QV_OK;
    atomic_fetch_add(&f->injected, 1);
    qv_code code = fc.fail_code ? fc.fail_code : QV_E_IO;
    return qv_fail(err, code, "%s %s '%s': injected fault (call %llu)",
                   objstore_name(f->inner), opname, key, (unsigned long long)n);
}

static qv_code fault_open(objstore *os, const objstore_config *cfg, qv_err *err)
{
    (void)os;
    (void)cfg;
    return qv_fail(err, QV_E_INVALID,
                   "the fault objstore is created with objstore_fault_wrap");
}

static void fault_close(objstore *os)
{
    fault_store *f = fault_of(os);
    objstore_close(f->inner);
    pthread_mutex_destroy(&f->mu);
}

static qv_code fault_put(objstore *os, const char *key, const void *buf,
                         size_t len, qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_PUT, "put", key, err);
    return rc ? rc
              : fault_of(os)->inner->ops->put(fault_of(os)->inner, key, buf,
                                              len, err);
}

static qv_code fault_get(objstore *os, const char *key, qv_buf *out,
                         qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_GET, "get", key, err);
    return rc ? rc
              : fault_of(os)->inner->ops->get(fault_of(os)->inner, key, out,
                                              err);
}

static qv_code fault_get_range(objstore *os, const char *key, uint64_t off,
                               uint64_t len, qv_buf *out, qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_GET, "get_range", key, err);
    return rc ? rc
              : fault_of(os)->inner->ops->get_range(fault_of(os)->inner, key,
                                                    off, len, out, err);
}

static qv_code fault_head(objstore *os, const char *key, objstore_stat *st,
                          qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_HEAD, "head", key, err);
    return rc ? rc
              : fault_of(os)->inner->ops->head(fault_of(os)->inner, key, st,
                                               err);
}

static qv_code fault_list(objstore *os, const char *prefix, const char *token,
                          size_t max, objstore_list_page *page, qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_LIST, "list", prefix, err);
    return rc ? rc
              : fault_of(os)->inner->ops->list(fault_of(os)->inner, prefix,
                                               token, max, page, err);
}

static qv_code fault_del(objstore *os, const char *key, qv_err *err)
{
    qv_code rc = fault_check(os, OBJSTORE_FAULT_DEL, "delete", key, err);
    return rc ? rc
              : fault_of(os)->inner->ops->del(fault_of(os)->inner, key, err);
}

static const objstore_ops fault_ops = {
    .name = "fault",
    .caps = 0,
    .impl_size = sizeof(fault_store),
    .open = fault_open,
    .close = fault_close,
    .put = fault_put,
    .get = fault_get,
    .get_range = fault_get_range,
    .head = fault_head,
    .list = fault_list,
    .del = fault_del,
};

qv_code objstore_fault_wrap(objstore *inner, const objstore_fault_config *fc,
                            objstore **out, qv_err *err)
{
    if (!inner)
        return qv_fail(err, QV_E_INVALID, "fault objstore: no inner store");
    objstore *os;
    qv_code rc = objstore__alloc(&fault_ops, inner->timeout_ms, &os);
    if (rc) {
        objstore_close(inner);
        return rc;
    }
    fault_store *f = fault_of(os);
    f->inner = inner;
    /* Deletes go key by key through the decorator, so that each counts. */
    os->caps = inner->caps & ~(uint32_t)OBJSTORE_CAP_BATCH_DELETE;
    pthread_mutex_init(&f->mu, NULL);
    if (fc)
        f->fc = *fc;
    atomic_init(&f->calls, 0);
    atomic_init(&f->injected, 0);
    *out = os;
    return QV_OK;
}

uint64_t objstore_fault_calls(const objstore *fault)
{
    return atomic_load(&((const fault_store *)fault)->calls);
}

uint64_t objstore_fault_injected(const objstore *fault)
{
    return atomic_load(&((const fault_store *)fault)->injected);
}

void objstore_fault_set(objstore *fault, const objstore_fault_config *fc)
{
    fault_store *f = fault_of(fault);
    pthread_mutex_lock(&f->mu);
    f->fc = *fc;
    atomic_store(&f->calls, 0);
    pthread_mutex_unlock(&f->mu);
}
