/* delegator.c -- the consumer thread and tsafe of a vchannel (delegator.h).
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/msg/msg.h"
#include "querynode/delegator.h"

struct qv_delegator {
    qv_shard *shard;
    wal_reader *reader;
    char *vchannel;
    int64_t collection;
    uint32_t poll_ms;
    uint64_t max_lag_ms;
    pthread_t thread;
    pthread_mutex_t apply_mu; /* one shard writer at a time */
    wal_pos next_pos;         /* consumer-private: the next record's */

    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;
    qv_ts tsafe;
    wal_pos ck_pos;
    bool stopping;
    qv_code failed; /* QV_OK while healthy */
    char fail_msg[1024];
};

static void fail(qv_delegator *d, qv_code rc, const char *what, const qv_err *e,
                 wal_pos pos)
{
    pthread_mutex_lock(&d->mu);
    d->failed = rc;
    (void)snprintf(d->fail_msg, sizeof d->fail_msg,
                   "vchannel '%s' stopped at log position %llu: %s: %s",
                   d->vchannel, (unsigned long long)pos, what, e->msg);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    QV_LOG(QV_LOG_ERROR, "querynode", "delegator: %s", d->fail_msg);
}

/* The log was trimmed (or expired by retention) past records this
 * consumer had not read: it stops, saying which vchannel, from where and
 * what restores it (the owner restarts it from a checkpoint). */
static void compacted(qv_delegator *d, const qv_err *e)
{
    pthread_mutex_lock(&d->mu);
    d->failed = QV_E_COMPACTED;
    (void)snprintf(d->fail_msg, sizeof d->fail_msg,
                   "vchannel '%s' lost log records: position %llu (its "
                   "checkpoint is %llu) is no longer in the log (%s); release "
                   "and load collection %lld again to restart it from the "
                   "current checkpoint (the coord does so when the query node "
                   "reports it)",
                   d->vchannel, (unsigned long long)d->next_pos,
                   (unsigned long long)d->ck_pos, e->msg,
                   (long long)d->collection);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    QV_LOG(QV_LOG_ERROR, "querynode", "delegator: %s", d->fail_msg);
}

/* Applies one record; returns false when the consumer must stop. */
static bool consume(qv_delegator *d, const wal_entry *e)
{
    qv_msg_type type;
    qv_ts ts;
    int64_t coll;
    char vc[QV_MSG_VCHANNEL_MAX + 1];
    qv_err err;
    qv_code rc =
        qv_msg_peek(e->data, e->len, &type, &ts, &coll, vc, sizeof vc, &err);
    if (rc) {
        fail(d, rc, "cannot read a log record", &err, e->pos);
        return false;
    }
    bool tick = type == QV_MSG_TIME_TICK;
    if (vc[0] ? strcmp(vc, d->vchannel) != 0 : !tick)
        return true; /* another vchannel's record */
    qv_msg m;
    memset(&m, 0, sizeof m); /* released below even if decode fails */
    rc = qv_msg_decode(e->data, e->len, &m, &err);
    pthread_mutex_lock(&d->apply_mu);
    if (!rc)
        rc = qv_shard_apply(d->shard, &m, &err);
    if (!rc && tick)
        qv_shard_trim(d->shard, ts);
    pthread_mutex_unlock(&d->apply_mu);
    qv_msg_release(&m);
    if (rc) {
        fail(d, rc, tick ? "bad time tick" : "cannot apply a message", &err,
             e->pos);
        return false;
    }
    if (tick) {
        pthread_mutex_lock(&d->mu);
        if (ts > d->tsafe)
            d->tsafe = ts;
        d->ck_pos = e->pos + 1;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    return true;
}

static void *run(void *arg)
{
    qv_delegator *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        bool stop = d->stopping;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        wal_entry e;
        qv_err err;
        qv_code rc = wal_reader_next(d->reader, d->poll_ms, &e, &err);
        if (rc == QV_E_TIMEOUT)
            continue;
        if (rc) {
            if (qv_code_primary(rc) == QV_E_UNAVAILABLE ||
                qv_code_primary(rc) == QV_E_IO) {
                /* the backend may come back: retry after a pause */
                struct timespec ts = {d->poll_ms / 1000,
                                      (long)(d->poll_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            if (qv_code_primary(rc) == QV_E_COMPACTED)
                compacted(d, &err);
            else
                fail(d, rc, "cannot read the log", &err, d->next_pos);
            break;
        }
        d->next_pos = e.pos + 1;
        if (!consume(d, &e))
            break;
    }
    return NULL;
}

qv_code qv_delegator_start(const qv_delegator_opts *opts, qv_delegator **out,
                           qv_err *err)
{
    qv_delegator *d = QV_NEW(qv_delegator);
    d->vchannel = qv_xstrdup(opts->shard.vchannel ? opts->shard.vchannel : "");
    d->collection = opts->shard.collection_id;
    d->poll_ms = opts->poll_ms ? opts->poll_ms : 50;
    d->max_lag_ms = opts->max_lag_ms ? opts->max_lag_ms : 86400000ull;
    d->ck_pos = opts->from;
    d->next_pos = opts->from;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->apply_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    qv_code rc = qv_shard_create(&opts->shard, &d->shard, err);
    for (size_t i = 0; !rc && i < opts->nsealed; i++)
        rc = qv_shard_add_sealed(d->shard, opts->sealed[i], err);
    if (!rc)
        rc = wal_reader_open(opts->log, opts->pchannel, opts->from, &d->reader,
                             err);
    if (!rc && pthread_create(&d->thread, NULL, run, d) != 0)
        rc = qv_fail(err, QV_E_INTERNAL,
                     "vchannel '%s': cannot start the consumer thread",
                     d->vchannel);
    if (rc) {
        if (d->reader)
            wal_reader_close(d->reader);
        qv_shard_free(d->shard);
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        pthread_mutex_destroy(&d->apply_mu);
        free(d->vchannel);
        free(d);
        return rc;
    }
    *out = d;
    return QV_OK;
}

void qv_delegator_stop(qv_delegator *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    wal_reader_close(d->reader);
    qv_shard_free(d->shard);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->apply_mu);
    free(d->vchannel);
    free(d);
}

qv_ts qv_delegator_tsafe(qv_delegator *d)
{
    pthread_mutex_lock(&d->mu);
    qv_ts t = d->tsafe;
    pthread_mutex_unlock(&d->mu);
    return t;
}

qv_code qv_delegator_failure(qv_delegator *d, char *msg, size_t cap)
{
    pthread_mutex_lock(&d->mu);
    qv_code rc = d->failed;
    if (cap)
        (void)snprintf(msg, cap, "%s", rc ? d->fail_msg : "");
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void qv_delegator_checkpoint(qv_delegator *d, wal_pos *pos, qv_ts *tick)
{
    pthread_mutex_lock(&d->mu);
    *pos = d->ck_pos;
    *tick = d->tsafe;
    pthread_mutex_unlock(&d->mu);
}

qv_shard *qv_delegator_shard(qv_delegator *d)
{
    return d->shard;
}

qv_code qv_delegator_wait_tsafe(qv_delegator *d, qv_ts guarantee,
                                uint32_t timeout_ms, qv_ts *reached,
                                qv_err *err)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    qv_code rc = QV_OK;
    pthread_mutex_lock(&d->mu);
    if (d->tsafe < guarantee &&
        qv_ts_physical(guarantee) > qv_ts_physical(d->tsafe) + d->max_lag_ms &&
        d->tsafe != 0)
        rc = qv_fail(err, QV_E_INVALID,
                     "vchannel '%s': guarantee timestamp %llu is more than "
                     "%llu ms ahead of tsafe %llu (timestamp lag too large)",
                     d->vchannel, (unsigned long long)guarantee,
                     (unsigned long long)d->max_lag_ms,
                     (unsigned long long)d->tsafe);
    while (!rc && d->tsafe < guarantee) {
        if (d->failed) {
            rc = qv_fail(err, d->failed, "%s", d->fail_msg);
            break;
        }
        if (d->stopping) {
            rc = qv_fail(err, QV_E_CANCELLED,
                         "vchannel '%s': the delegator is stopping",
                         d->vchannel);
            break;
        }
        int w = pthread_cond_timedwait(&d->cv, &d->mu, &dl);
        if (w == ETIMEDOUT && d->tsafe < guarantee) {
            rc = qv_fail(err, QV_E_TIMEOUT,
                         "vchannel '%s': timed out after %u ms waiting for "
                         "tsafe to reach %llu (tsafe is %llu)",
                         d->vchannel, timeout_ms, (unsigned long long)guarantee,
                         (unsigned long long)d->tsafe);
        }
    }
    qv_ts t = d->tsafe;
    pthread_mutex_unlock(&d->mu);
    if (!rc)
        *reached = t;
    return rc;
}

qv_code qv_delegator_handoff(qv_delegator *d, qv_sealed *x, qv_err *err)
{
    pthread_mutex_lock(&d->apply_mu);
    qv_code rc = qv_shard_handoff(d->shard, x, err);
    pthread_mutex_unlock(&d->apply_mu);
    return rc;
}

qv_code qv_delegator_add_sealed(qv_delegator *d, qv_sealed *x, qv_err *err)
{
    pthread_mutex_lock(&d->apply_mu);
    qv_code rc = qv_shard_add_sealed(d->shard, x, err);
    pthread_mutex_unlock(&d->apply_mu);
    return rc;
}

qv_code qv_delegator_replace(qv_delegator *d, qv_sealed *x,
                             const int64_t *inputs, size_t ninputs, qv_err *err)
{
    pthread_mutex_lock(&d->apply_mu);
    qv_code rc = qv_shard_replace(d->shard, x, inputs, ninputs, err);
    pthread_mutex_unlock(&d->apply_mu);
    return rc;
}

qv_code qv_delegator_drop_segment(qv_delegator *d, int64_t segment_id,
                                  qv_err *err)
{
    pthread_mutex_lock(&d->apply_mu);
    qv_code rc = qv_shard_drop_segment(d->shard, segment_id, err);
    pthread_mutex_unlock(&d->apply_mu);
    return rc;
}

void qv_delegator_stats(qv_delegator *d, qv_shard_stats *out)
{
    pthread_mutex_lock(&d->apply_mu);
    qv_shard_stats_get(d->shard, out);
    pthread_mutex_unlock(&d->apply_mu);
}
