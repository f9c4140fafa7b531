/* proxy_session.c -- the proxy's session "<root>session/proxy-<id>" and a
 * keeper thread that registers a new one (new id) whenever the old one is
 * lost, e.g. after meta KV was unreachable for longer than the TTL, so the
 * proxy never stays invisible to the coord.
 *
 * The session and the keeper belong to the proxy; sess_mu guards the
 * session pointer and the stop flag. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "proxy/proxy_int.h"

static int64_t random_id(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    return (int64_t)(v & ((1ull << 40) - 1)) + 1;
}

static qv_code register_session(qv_proxy *p, qv_session **out, qv_err *err)
{
    const char *h = p->host;
    bool any = !h[0] || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 ||
               strcmp(h, "[::]") == 0;
    char addr[300];
    if (p->advertise[0])
        snprintf(addr, sizeof addr, "%s", p->advertise);
    else
        snprintf(addr, sizeof addr, "%s:%d", any ? "127.0.0.1" : h,
                 qv_rpc_server_port(p->srv));
    qv_session_options so = {.root = p->meta_root,
                             .role = "proxy",
                             .server_id = random_id(),
                             .address = addr,
                             .ttl_s = p->opts.session_ttl_s};
    return qv_session_register(p->opts.kv, &so, out, err);
}

/* Every 250 ms: replaces a lost session. */
static void *keeper_main(void *arg)
{
    qv_proxy *p = arg;
    pthread_mutex_lock(&p->sess_mu);
    while (!p->sess_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->sess_cv, &p->sess_mu, &ts);
        if (p->sess_stop || !p->session || !qv_session_lost(p->session))
            continue;
        QV_LOG(QV_LOG_ERROR, "proxy", "session %s lost; registering again",
               qv_session_key(p->session));
        qv_session_close(p->session);
        p->session = NULL;
        qv_err e = {0};
        qv_session *s = NULL;
        pthread_mutex_unlock(&p->sess_mu);
        qv_code rc = register_session(p, &s, &e);
        pthread_mutex_lock(&p->sess_mu);
        if (rc)
            QV_LOG(QV_LOG_WARN, "proxy", "cannot register session: %s", e.msg);
        else
            p->session = s;
        if (rc == QV_OK && p->sess_stop) {
            qv_session_close(p->session);
            p->session = NULL;
        }
    }
    pthread_mutex_unlock(&p->sess_mu);
    return NULL;
}

qv_code qv_proxy__session_start(qv_proxy *p, qv_err *err)
{
    qv_code rc = register_session(p, &p->session, err);
    if (rc)
        return rc;
    if (pthread_create(&p->sess_thread, NULL, keeper_main, p) != 0) {
        qv_session_close(p->session);
        p->session = NULL;
        return qv_fail(err, QV_E_NOMEM, "cannot start the session keeper");
    }
    p->sess_thread_started = true;
    return QV_OK;
}

void qv_proxy__session_stop(qv_proxy *p)
{
    pthread_mutex_lock(&p->sess_mu);
    p->sess_stop = true;
    pthread_cond_signal(&p->sess_cv);
    pthread_mutex_unlock(&p->sess_mu);
    if (p->sess_thread_started) {
        pthread_join(p->sess_thread, NULL);
        p->sess_thread_started = false;
    }
    qv_session_close(p->session);
    p->session = NULL;
}
