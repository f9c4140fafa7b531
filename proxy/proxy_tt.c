/* proxy_tt.c -- the proxy's time tick reports (DESIGN §2).
 *
 * Every 50 ms the reporter allocates a timestamp T and reports
 *   bound = min(T, ts - 1 of every write in flight with a timestamp,
 *               lb of every write in flight still waiting for one)
 * to the coord: all of this proxy's messages with ts <= bound are in the
 * log (writes acknowledge only after their append), and every later one
 * will have ts > bound.  A write registers before asking for its timestamp
 * and records lb = the newest timestamp the reporter has allocated, which
 * is smaller than the timestamp it will get.  Writes wait until one report
 * was accepted, so the coord's ticks include this proxy before it writes.
 *
 * A Strong read takes its guarantee from a report of its own that asks the
 * coord to tick at once (tick_now): with no other proxy behind, the tick
 * reaches the guarantee without waiting for the next period. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "internal/coord.pb-c.h"
#include "proxy/proxy_int.h"

#define TT_PERIOD_MS 50

qv_code qv_proxy__dml_begin(qv_proxy *p, qv_rpc_call *call, qv_inflight *f,
                            qv_err *err)
{
    if (!p->opts.log || !p->link)
        return qv_fail(err, QV_E_NOT_READY,
                       "this proxy has no write log configured");
    pthread_mutex_lock(&p->tt_mu);
    while (!p->tt_ready && !p->tt_stop && !qv_rpc_call_expired(call)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->tt_cv, &p->tt_mu, &ts);
    }
    if (!p->tt_ready) {
        pthread_mutex_unlock(&p->tt_mu);
        return qv_fail(err, QV_E_NOT_READY,
                       "the proxy has not reached the coord yet");
    }
    f->lb = p->tt_last_alloc;
    f->ts = 0;
    f->next = p->inflight;
    p->inflight = f;
    pthread_mutex_unlock(&p->tt_mu);
    return QV_OK;
}

void qv_proxy__dml_set_ts(qv_proxy *p, qv_inflight *f, qv_ts ts)
{
    pthread_mutex_lock(&p->tt_mu);
    f->ts = ts;
    pthread_mutex_unlock(&p->tt_mu);
}

void qv_proxy__dml_end(qv_proxy *p, qv_inflight *f)
{
    pthread_mutex_lock(&p->tt_mu);
    for (qv_inflight **pp = &p->inflight; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    pthread_mutex_unlock(&p->tt_mu);
}

static qv_code alloc_ts(qv_proxy *p, qv_arena *a, int64_t timeout_ms, qv_ts *ts,
                        qv_err *err)
{
    Quiver__Internal__AllocTimestampRequest rq =
        QUIVER__INTERNAL__ALLOC_TIMESTAMP_REQUEST__INIT;
    rq.count = 1;
    Quiver__Internal__AllocTimestampResponse *r = NULL;
    qv_code rc = qv_coord_link_call(
        p->link, "AllocTimestamp", &rq.base,
        &quiver__internal__alloc_timestamp_response__descriptor, a,
        (ProtobufCMessage **)&r, timeout_ms, err);
    if (!rc && (!r->status || r->status->code != 0))
        rc = qv_fail(err, QV_E_UNAVAILABLE, "timestamp: %s",
                     r->status ? r->status->reason : "no status");
    if (!rc)
        *ts = r->timestamp;
    return rc;
}

qv_code qv_proxy__alloc_ts(qv_proxy *p, qv_rpc_call *call, qv_ts *ts,
                           qv_err *err)
{
    if (!p->link)
        return qv_fail(err, QV_E_NOT_READY, "this proxy has no coord");
    int64_t left = qv_rpc_call_ms_left(call);
    return alloc_ts(p, qv_rpc_call_arena(call), left < 10000 ? left : 10000, ts,
                    err);
}

/* Allocates T and reports the bound; tick_now asks the coord to write a
 * tick at once.  *fresh (may be NULL) receives T. */
static qv_code report_once(qv_proxy *p, bool tick_now, int64_t timeout_ms,
                           qv_ts *fresh, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_err e0 = {0}, *e = err ? err : &e0;
    qv_ts T = 0;
    qv_code rc = alloc_ts(p, &a, timeout_ms, &T, e);
    if (rc) {
        qv_arena_release(&a);
        return rc;
    }
    if (fresh)
        *fresh = T;
    pthread_mutex_lock(&p->tt_mu);
    if (T > p->tt_last_alloc)
        p->tt_last_alloc = T;
    qv_ts bound = T;
    for (qv_inflight *f = p->inflight; f; f = f->next) {
        qv_ts b = f->ts ? f->ts - 1 : f->lb;
        if (b < bound)
            bound = b;
    }
    pthread_mutex_unlock(&p->tt_mu);
    char source[300] = "proxy";
    if (p->session)
        qv_kept_session_key(p->session, source, sizeof source);
    Quiver__Internal__ReportTimeTickRequest rq =
        QUIVER__INTERNAL__REPORT_TIME_TICK_REQUEST__INIT;
    rq.source = source;
    rq.timestamp = bound;
    rq.tick_now = tick_now;
    Milvus__Proto__Common__Status *st = NULL;
    rc = qv_coord_link_call(p->link, "ReportTimeTick", &rq.base,
                            &milvus__proto__common__status__descriptor, &a,
                            (ProtobufCMessage **)&st, timeout_ms, e);
    if (!rc && st->code == 0) {
        pthread_mutex_lock(&p->tt_mu);
        p->tt_ready = true;
        pthread_cond_broadcast(&p->tt_cv);
        pthread_mutex_unlock(&p->tt_mu);
    }
    qv_arena_release(&a);
    return rc;
}

qv_code qv_proxy__strong_ts(qv_proxy *p, qv_rpc_call *call, qv_ts *ts,
                            qv_err *err)
{
    if (!p->link)
        return qv_fail(err, QV_E_NOT_READY, "this proxy has no coord");
    if (!p->opts.log)
        return qv_proxy__alloc_ts(p, call, ts, err);
    int64_t left = qv_rpc_call_ms_left(call);
    qv_ts T = 0;
    qv_code rc = report_once(p, true, left < 10000 ? left : 10000, &T, err);
    if (rc && T == 0)
        return rc;
    *ts = T; /* a fresh timestamp even when the report failed */
    return QV_OK;
}

static void *tt_main(void *arg)
{
    qv_proxy *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->tt_mu);
        bool stop = p->tt_stop;
        pthread_mutex_unlock(&p->tt_mu);
        if (stop)
            break;
        (void)report_once(p, false, 2000, NULL, NULL);
        qv_sleep_ms(TT_PERIOD_MS);
    }
    return NULL;
}

void qv_proxy__tt_start(qv_proxy *p)
{
    if (pthread_create(&p->tt_thread, NULL, tt_main, p) == 0)
        p->tt_started = true;
    else
        QV_LOG(QV_LOG_ERROR, "proxy", "cannot start the time tick reporter");
}

void qv_proxy__tt_stop(qv_proxy *p)
{
    pthread_mutex_lock(&p->tt_mu);
    p->tt_stop = true;
    pthread_cond_broadcast(&p->tt_cv);
    pthread_mutex_unlock(&p->tt_mu);
    if (p->tt_started) {
        pthread_join(p->tt_thread, NULL);
        p->tt_started = false;
    }
}
