/* kept_session.c -- see kept_session.h. */
#include "common/session/kept_session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/session/session.h"

#define CHECK_MS 250

struct qv_kept_session {
    metakv *kv;
    char *root, *role, *address;
    int64_t ttl_s;
    pthread_mutex_t mu; /* guards s */
    qv_session *s;
    pthread_t checker;
    bool checker_started;
    atomic_bool stopping;
};

int64_t qv_session_random_id(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    return (int64_t)(v & ((1ull << 40) - 1)) + 1;
}

static qv_code register_one(qv_kept_session *k, qv_session **out, qv_err *err)
{
    qv_session_options so = {.root = k->root,
                             .role = k->role,
                             .server_id = qv_session_random_id(),
                             .address = k->address,
                             .ttl_s = k->ttl_s};
    return qv_session_register(k->kv, &so, out, err);
}

static void *checker_main(void *arg)
{
    qv_kept_session *k = arg;
    while (!atomic_load(&k->stopping)) {
        qv_sleep_ms(CHECK_MS);
        pthread_mutex_lock(&k->mu);
        bool lost = k->s && qv_session_lost(k->s);
        pthread_mutex_unlock(&k->mu);
        if (!lost || atomic_load(&k->stopping))
            continue;
        qv_session *s = NULL;
        qv_err e = {0};
        if (register_one(k, &s, &e)) {
            QV_LOG(QV_LOG_WARN, k->role, "cannot register session: %s", e.msg);
            continue;
        }
        pthread_mutex_lock(&k->mu);
        qv_session *old = k->s;
        k->s = s;
        pthread_mutex_unlock(&k->mu);
        QV_LOG(QV_LOG_WARN, k->role, "session %s lost; registered %s",
               qv_session_key(old), qv_session_key(s));
        qv_session_close(old);
    }
    return NULL;
}

qv_code qv_kept_session_start(const qv_kept_session_options *o,
                              qv_kept_session **out, qv_err *err)
{
    qv_kept_session *k = QV_NEW(qv_kept_session);
    k->kv = o->kv;
    k->root = qv_xstrdup(o->root ? o->root : "quiver/");
    k->role = qv_xstrdup(o->role);
    k->address = qv_xstrdup(o->address ? o->address : "");
    k->ttl_s = o->ttl_s;
    pthread_mutex_init(&k->mu, NULL);
    qv_code rc = register_one(k, &k->s, err);
    if (!rc && pthread_create(&k->checker, NULL, checker_main, k) == 0)
        k->checker_started = true;
    if (rc) {
        qv_kept_session_stop(k);
        return rc;
    }
    *out = k;
    return QV_OK;
}

void qv_kept_session_key(qv_kept_session *k, char *buf, size_t cap)
{
    pthread_mutex_lock(&k->mu);
    snprintf(buf, cap, "%s", k->s ? qv_session_key(k->s) : "");
    pthread_mutex_unlock(&k->mu);
}

void qv_kept_session_stop(qv_kept_session *k)
{
    if (!k)
        return;
    atomic_store(&k->stopping, true);
    if (k->checker_started)
        pthread_join(k->checker, NULL);
    qv_session_close(k->s);
    pthread_mutex_destroy(&k->mu);
    free(k->root);
    free(k->role);
    free(k->address);
    free(k);
}
