/* coord.c -- coord lifecycle: RPC server, session, campaign, the switch
 * between standby and active (see coord.h). */
#include "coord/coord.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "coord/coord_int.h"
#include "proto/rpc_status.h"

#define ELECTION "coord"

/* ---- helpers shared by the handlers -------------------------------------- */

qv_code qv_coord__enter(qv_coord *c, qv_catalog **cat, qv_tso **tso,
                        qv_err *err)
{
    pthread_rwlock_rdlock(&c->mu);
    if (!c->catalog) {
        pthread_rwlock_unlock(&c->mu);
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "this coord is a standby; ask the active coord");
    }
    *cat = c->catalog;
    if (tso)
        *tso = c->tso;
    return QV_OK;
}

void qv_coord__leave(qv_coord *c)
{
    pthread_rwlock_unlock(&c->mu);
}

qv_pb_status *qv_coord__status(qv_arena *a, qv_code rc, const qv_err *err)
{
    qv_pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    if (rc == QV_OK)
        qv_rpc_status_fill(st, QV_OK, QV_SUBJ_NONE, NULL);
    else
        qv_rpc_status_fill(st, rc, QV_SUBJ_NONE,
                           qv_arena_strdup(a, err && err->msg[0]
                                                  ? err->msg
                                                  : qv_code_name(rc)));
    return st;
}

const char *qv_coord__db(const char *db_name)
{
    return db_name && db_name[0] ? db_name : QV_DEFAULT_DB;
}

/* ---- active / standby ---------------------------------------------------- */

static void set_active(qv_coord *c, bool on)
{
    pthread_mutex_lock(&c->wait_mu);
    atomic_store(&c->active, on);
    pthread_cond_broadcast(&c->wait_cv);
    pthread_mutex_unlock(&c->wait_mu);
}

/* Opens the TSO and the catalog; from now on handlers serve. */
static qv_code activate(qv_coord *c, qv_err *err)
{
    qv_tso_options to = {.root = c->root};
    qv_tso *tso = NULL;
    qv_catalog *cat = NULL;
    qv_code rc = qv_tso_open(c->opts.kv, &to, &tso, err);
    qv_catalog_options co = {.root = c->root, .pchannels = c->opts.pchannels};
    if (!rc)
        rc = qv_catalog_open(c->opts.kv, tso, &co, &cat, err);
    if (rc) {
        qv_tso_close(tso);
        return rc;
    }
    pthread_rwlock_wrlock(&c->mu);
    c->tso = tso;
    c->catalog = cat;
    pthread_rwlock_unlock(&c->mu);
    set_active(c, true);
    return QV_OK;
}

/* Waits for running handlers, then closes the catalog and the TSO. */
static void deactivate(qv_coord *c)
{
    set_active(c, false);
    pthread_rwlock_wrlock(&c->mu);
    qv_catalog_close(c->catalog);
    qv_tso_close(c->tso);
    c->catalog = NULL;
    c->tso = NULL;
    pthread_rwlock_unlock(&c->mu);
}

static qv_code register_session(qv_coord *c, qv_err *err)
{
    qv_session_options so = {.root = c->root,
                             .role = "coord",
                             .server_id = qv_session_random_id(),
                             .address = c->advertise,
                             .ttl_s = c->opts.session_ttl_s};
    return qv_session_register(c->opts.kv, &so, &c->session, err);
}

/* The ticker: time ticks every tick_ms, the load keeper every second. */
static void *ticker_main(void *arg)
{
    qv_coord *c = arg;
    uint32_t tick = c->opts.tick_ms ? c->opts.tick_ms : 100;
    uint64_t last_keep = 0;
    while (!c->stopping) {
        qv_sleep_ms(tick);
        if (!atomic_load(&c->active))
            continue;
        qv_coord__tick(c);
        uint64_t now = qv_mono_ms(qv_clock_system());
        if (now - last_keep >= 1000) {
            last_keep = now;
            qv_coord__keep_loads(c);
            qv_coord__keep_datanodes(c);
            qv_coord__seal_policies(c);
        }
    }
    return NULL;
}

static void drop_session(qv_coord *c)
{
    qv_session_close(c->session);
    c->session = NULL;
}

/* Sleeps up to ms in short slices; returns early when stopping. */
static void nap(qv_coord *c, uint64_t ms)
{
    for (uint64_t t = 0; t < ms && !c->stopping; t += 50)
        qv_sleep_ms(50);
}

/* One term: campaign, serve while the session lives, step down. */
static void one_term(qv_coord *c)
{
    qv_err e = {0};
    qv_code rc =
        qv_session_campaign_wait(c->session, ELECTION, 0, &c->stopping, &e);
    if (rc == QV_E_CANCELLED || c->stopping)
        return;
    if (rc) {
        QV_LOG(QV_LOG_WARN, "coord", "campaign failed: %s", e.msg);
        if (qv_session_lost(c->session))
            drop_session(c);
        nap(c, 500);
        return;
    }
    rc = activate(c, &e);
    if (rc) {
        QV_LOG(QV_LOG_ERROR, "coord", "cannot take over as active coord: %s",
               e.msg);
        drop_session(c); /* gives the election up */
        nap(c, 1000);
        return;
    }
    QV_LOG(QV_LOG_INFO, "coord", "active coord at %s (session %s)",
           c->advertise, qv_session_key(c->session));
    metakv_watch *w = NULL;
    while (!c->stopping && !qv_session_lost(c->session))
        qv_coord__sessions_follow(c, &w, 100);
    metakv_watch_close(w);
    qv_coord__sessions_clear(c);
    deactivate(c);
    qv_coord__data_clear(c);
    qv_coord__loads_clear(c);
    if (qv_session_lost(c->session)) {
        QV_LOG(QV_LOG_ERROR, "coord",
               "session %s lost; stepped down to standby",
               qv_session_key(c->session));
        drop_session(c);
    }
}

static void *campaign_main(void *arg)
{
    qv_coord *c = arg;
    while (!c->stopping) {
        if (!c->session) {
            qv_err e = {0};
            if (register_session(c, &e) != QV_OK) {
                QV_LOG(QV_LOG_WARN, "coord", "cannot register session: %s",
                       e.msg);
                nap(c, 1000);
                continue;
            }
        }
        one_term(c);
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

qv_code qv_coord_create(const qv_coord_options *opts, qv_coord **out,
                        qv_err *err)
{
    if (!opts || !opts->kv)
        return qv_fail(err, QV_E_INVALID, "coord: no meta KV");
    qv_coord *c = QV_NEW(qv_coord);
    c->opts = *opts;
    c->root = qv_xstrdup(opts->root ? opts->root : "quiver/");
    c->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    c->advertise = qv_xstrdup(opts->advertise ? opts->advertise : "");
    c->opts.root = c->root;
    c->opts.host = c->host;
    c->opts.advertise = NULL;
    pthread_rwlock_init(&c->mu, NULL);
    pthread_mutex_init(&c->wait_mu, NULL);
    pthread_cond_init(&c->wait_cv, NULL);
    pthread_mutex_init(&c->sess_mu, NULL);
    pthread_mutex_init(&c->data_mu, NULL);
    pthread_mutex_init(&c->load_mu, NULL);
    atomic_init(&c->active, false);
    qv_rpc_server_opts so = {.host = c->host,
                             .port = opts->port,
                             .workers = opts->workers ? opts->workers : 4};
    qv_code rc = qv_rpc_server_create(&so, &c->srv, err);
    if (!rc)
        rc = qv_rpc_server_register_unary(c->srv, qv_coord__rpcs,
                                          qv_coord__n_rpcs, c, err);
    if (rc) {
        qv_coord_destroy(c);
        return qv_err_prefix(err, "coord");
    }
    *out = c;
    return QV_OK;
}

qv_code qv_coord_start(qv_coord *c, qv_err *err)
{
    qv_code rc = qv_rpc_server_start(c->srv, err);
    if (rc)
        return qv_err_prefix(err, "coord");
    char a[300];
    qv_rpc_server_advertise(c->srv, c->advertise, a, sizeof a);
    free(c->advertise);
    c->advertise = qv_xstrdup(a);
    rc = register_session(c, err);
    if (rc)
        return qv_err_prefix(err, "coord");
    if (pthread_create(&c->thread, NULL, campaign_main, c) != 0) {
        drop_session(c);
        return qv_fail(err, QV_E_NOMEM, "coord: cannot start its thread");
    }
    c->thread_started = true;
    if (c->opts.log) {
        if (pthread_create(&c->ticker, NULL, ticker_main, c) != 0)
            return qv_fail(err, QV_E_NOMEM, "coord: cannot start its ticker");
        c->ticker_started = true;
    }
    qv_coord__builds_start(c); /* the index build scheduler */
    rc = qv_coord__maint_start(c, err);
    if (rc)
        return rc;
    return QV_OK;
}

int qv_coord_port(const qv_coord *c)
{
    return qv_rpc_server_port(c->srv);
}

const char *qv_coord_address(const qv_coord *c)
{
    return c->advertise;
}

bool qv_coord_active(qv_coord *c)
{
    return atomic_load(&c->active);
}

qv_code qv_coord_wait_active(qv_coord *c, uint32_t wait_ms, qv_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->wait_mu);
    int r = 0;
    while (!atomic_load(&c->active) && r == 0)
        r = pthread_cond_timedwait(&c->wait_cv, &c->wait_mu, &ts);
    bool on = atomic_load(&c->active);
    pthread_mutex_unlock(&c->wait_mu);
    if (!on)
        return qv_fail(err, QV_E_TIMEOUT,
                       "coord at %s did not become active within %u ms",
                       c->advertise, wait_ms);
    return QV_OK;
}

void qv_coord_stop(qv_coord *c)
{
    if (!c)
        return;
    c->stopping = true;
    qv_coord__maint_stop(c);
    if (c->srv)
        qv_rpc_server_shutdown(c->srv);
    if (c->thread_started) {
        pthread_join(c->thread, NULL);
        c->thread_started = false;
    }
    if (c->ticker_started) {
        pthread_join(c->ticker, NULL);
        c->ticker_started = false;
    }
    qv_coord__builds_stop(c);
    qv_coord__dn_stop(c);
    drop_session(c); /* revokes the lease: the election key goes with it */
}

void qv_coord_destroy(qv_coord *c)
{
    if (!c)
        return;
    qv_coord_stop(c);
    qv_coord__maint_free(c);
    qv_rpc_server_destroy(c->srv);
    pthread_rwlock_destroy(&c->mu);
    pthread_mutex_destroy(&c->wait_mu);
    pthread_cond_destroy(&c->wait_cv);
    qv_coord__sessions_clear(c);
    qv_coord__data_clear(c);
    qv_coord__loads_clear(c);
    pthread_mutex_destroy(&c->sess_mu);
    pthread_mutex_destroy(&c->data_mu);
    pthread_mutex_destroy(&c->load_mu);
    free(c->root);
    free(c->host);
    free(c->advertise);
    free(c);
}
