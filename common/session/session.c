/* session.c -- see session.h. */
#include "common/session/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"

struct qv_session {
    metakv *kv;
    char *root;
    char key[256];
    int64_t lease;
    int64_t ttl_s;
    void (*on_lost)(void *ud);
    void *on_lost_ud;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping; /* guarded by mu */
    bool lost;     /* atomic */
};

static void mark_lost(qv_session *s)
{
    if (!__atomic_exchange_n(&s->lost, true, __ATOMIC_ACQ_REL) && s->on_lost)
        s->on_lost(s->on_lost_ud);
}

/* Refreshes the lease every TTL/3 until stopped or lost.  Transient
 * failures (meta KV unreachable) are retried every second; only a lease the
 * store no longer knows is fatal. */
static void *keepalive_main(void *arg)
{
    qv_session *s = arg;
    uint64_t period_ms = (uint64_t)s->ttl_s * 1000 / 3;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (period_ms % 1000) * 1000000u;
        ts.tv_sec += (time_t)(period_ms / 1000 + ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mu);
        qv_code rc = metakv_lease_keepalive(s->kv, s->lease, NULL, NULL);
        pthread_mutex_lock(&s->mu);
        if (rc == QV_E_NOT_FOUND) {
            pthread_mutex_unlock(&s->mu);
            mark_lost(s);
            return NULL;
        }
        if (rc != QV_OK)
            period_ms = 1000; /* retry soon while the store is away */
        else
            period_ms = (uint64_t)s->ttl_s * 1000 / 3;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void session_value(const qv_session_options *o, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"role\":\"%s\",\"id\":%lld,\"address\":\"%s\",\"pid\":%ld,"
             "\"start_ms\":%llu}",
             o->role, (long long)o->server_id, o->address ? o->address : "",
             (long)getpid(), (unsigned long long)qv_wall_ms(qv_clock_system()));
}

qv_code qv_session_register(metakv *kv, const qv_session_options *opts,
                            qv_session **out, qv_err *err)
{
    if (!opts->role || !opts->role[0] || strpbrk(opts->role, "/\"\\"))
        return qv_fail(err, QV_E_INVALID, "session role '%s' is invalid",
                       opts->role ? opts->role : "");
    if (opts->address && strpbrk(opts->address, "\"\\"))
        return qv_fail(err, QV_E_INVALID, "session address '%s' is invalid",
                       opts->address);
    qv_session *s = QV_NEW(qv_session);
    s->kv = kv;
    s->root = qv_xstrdup(opts->root ? opts->root : "quiver/");
    s->ttl_s = opts->ttl_s > 0 ? opts->ttl_s : 10;
    s->on_lost = opts->on_lost;
    s->on_lost_ud = opts->on_lost_ud;
    snprintf(s->key, sizeof(s->key), "%ssession/%s-%lld", s->root, opts->role,
             (long long)opts->server_id);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    char value[512];
    session_value(opts, value, sizeof(value));
    qv_code rc = metakv_lease_grant(kv, s->ttl_s, &s->lease, err);
    if (!rc) {
        metakv_txn *t = metakv_txn_begin(kv);
        metakv_txn_cmp_num(t, s->key, strlen(s->key), METAKV_CMP_CREATE_REV,
                           METAKV_EQ, 0);
        metakv_txn_put(t, METAKV_THEN, s->key, strlen(s->key), value,
                       strlen(value), s->lease);
        bool ok = false;
        rc = metakv_txn_commit(t, &ok, NULL, err);
        if (!rc && !ok)
            rc = qv_fail(err, QV_E_EXISTS,
                         "session '%s' is already registered by a live "
                         "process",
                         s->key);
        if (rc && metakv_lease_revoke(kv, s->lease, NULL) != QV_OK) {
            /* The lease then lapses by itself after its TTL. */
        }
    }
    if (!rc && pthread_create(&s->thread, NULL, keepalive_main, s) != 0)
        rc = qv_fail(err, QV_E_NOMEM, "cannot start session keepalive");
    if (rc) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->root);
        free(s);
        return rc;
    }
    *out = s;
    return QV_OK;
}

void qv_session_close(qv_session *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    /* A failed revoke leaves the lease to lapse after its TTL. */
    if (!qv_session_lost(s) &&
        metakv_lease_revoke(s->kv, s->lease, NULL) != QV_OK)
        s->lease = 0;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->root);
    free(s);
}

int64_t qv_session_lease(const qv_session *s)
{
    return s->lease;
}

bool qv_session_lost(const qv_session *s)
{
    return __atomic_load_n(&s->lost, __ATOMIC_ACQUIRE);
}

const char *qv_session_key(const qv_session *s)
{
    return s->key;
}

static void active_key(const qv_session *s, const char *name, char *buf,
                       size_t cap)
{
    snprintf(buf, cap, "%ssession/%s-active", s->root, name);
}

qv_code qv_session_campaign(qv_session *s, const char *name, bool *won,
                            qv_err *err)
{
    if (qv_session_lost(s))
        return qv_fail(err, QV_E_UNAVAILABLE, "session '%s' is lost", s->key);
    char key[256];
    active_key(s, name, key, sizeof(key));
    metakv_txn *t = metakv_txn_begin(s->kv);
    metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_CREATE_REV, METAKV_EQ,
                       0);
    metakv_txn_put(t, METAKV_THEN, key, strlen(key), s->key, strlen(s->key),
                   s->lease);
    bool ok = false;
    qv_code rc = metakv_txn_commit(t, &ok, NULL, err);
    if (rc)
        return rc;
    if (!ok) {
        /* Already ours (e.g. a retried campaign)? */
        metakv_kvs r = METAKV_KVS_INIT;
        if (metakv_get(s->kv, key, strlen(key), &r, NULL) == QV_OK) {
            ok = r.kvs[0].lease == s->lease;
            metakv_kvs_release(&r);
        }
    }
    *won = ok;
    return QV_OK;
}

qv_code qv_session_campaign_wait(qv_session *s, const char *name,
                                 uint32_t wait_ms, const volatile bool *stop,
                                 qv_err *err)
{
    const qv_clock *clk = qv_clock_system();
    uint64_t deadline = wait_ms ? qv_mono_ms(clk) + wait_ms : UINT64_MAX;
    char key[256];
    active_key(s, name, key, sizeof(key));
    for (;;) {
        int64_t rev = 0;
        qv_code rc = metakv_revision(s->kv, &rev, err);
        bool won = false;
        if (!rc)
            rc = qv_session_campaign(s, name, &won, err);
        if (!rc && won)
            return QV_OK;
        /* Wait for the holder's key to go (or poll again after a store
         * error), in slices so that stop and the deadline are honoured. */
        metakv_watch *w = NULL;
        if (!rc && metakv_watch_open(s->kv, key, strlen(key), rev + 1, &w,
                                     NULL) != QV_OK)
            w = NULL;
        bool changed = false;
        while (!changed) {
            if (stop && *stop) {
                metakv_watch_close(w);
                return qv_fail(err, QV_E_CANCELLED, "campaign for '%s' stopped",
                               name);
            }
            if (qv_mono_ms(clk) >= deadline) {
                metakv_watch_close(w);
                return qv_fail(err, QV_E_TIMEOUT, "campaign for '%s' timed out",
                               name);
            }
            if (!w) {
                qv_sleep_ms(200);
                break;
            }
            metakv_events ev = METAKV_EVENTS_INIT;
            if (metakv_watch_next(w, 200, &ev, NULL) != QV_OK)
                changed = true;
            for (size_t i = 0; i < ev.n; i++)
                changed |= ev.ev[i].type == METAKV_EV_DELETE;
            metakv_events_release(&ev);
        }
        metakv_watch_close(w);
    }
}
