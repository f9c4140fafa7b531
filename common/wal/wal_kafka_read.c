/* wal_kafka_read.c -- the read side of the "kafka" write log: offset
 * bounds and readers.
 *
 * A reader is a consumer of its own that assigns partition 0 of the
 * channel's topic at the position the caller asks for (never a consumer
 * group's committed offset) and reassembles records split into parts
 * (message layout: wal_kafka.c).  auto.offset.reset is "error", so a
 * position the broker no longer holds fails with QV_E_COMPACTED instead of
 * silently jumping ahead.
 *
 * Threading: a reader belongs to one thread; offset queries run on a helper
 * thread each so the caller's deadline always holds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/buf.h"
#include "common/wal/wal_kafka_int.h"

typedef struct kafka_reader {
    wal_reader base;
    kafka_wal *kw;
    char *channel;
    char *topic;
    rd_kafka_t *c;
    rd_kafka_message_t *held;
    qv_buf part;
    wal_pos part_pos;
    int assembling;
} kafka_reader;

/* One offsets query running on its own thread, so a caller can give up at
 * its deadline even when librdkafka does not.  Freed by whichever of the
 * caller and the thread lets go last. */
typedef struct wm_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    kquery *q;
    char *topic;
    int timeout_ms;
    int64_t lo, hi;
    rd_kafka_resp_err_t e;
} wm_call;

static void wm_unref_locked(wm_call *c)
{
    int last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        wal__kafka_query_unref(c->q);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c->topic);
        free(c);
    }
}

static void *wm_main(void *arg)
{
    wm_call *c = arg;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        c->q->rk, c->topic, 0, &lo, &hi, c->timeout_ms);
    pthread_mutex_lock(&c->mu);
    c->lo = lo;
    c->hi = hi;
    c->e = e;
    c->done = 1;
    pthread_cond_broadcast(&c->cv);
    wm_unref_locked(c);
    return NULL;
}

/* Queries the low and high watermarks of the topic within timeout_ms. */
static rd_kafka_resp_err_t query_wm(kafka_wal *kw, const char *topic,
                                    uint64_t deadline, int64_t *lo, int64_t *hi)
{
    /* Cheap reachability check: metadata requests honour their timeout. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(kw->q->rk, 0, NULL, &md,
                                              wal__kafka_left_ms(deadline));
    if (e)
        return e;
    rd_kafka_metadata_destroy(md);
    wm_call *c = QV_NEW(wm_call);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->refs = 2;
    c->q = kw->q;
    pthread_mutex_lock(&kw->q->mu);
    kw->q->refs++;
    pthread_mutex_unlock(&kw->q->mu);
    c->topic = qv_xstrdup(topic);
    c->timeout_ms = wal__kafka_left_ms(deadline);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    if (pthread_create(&th, &at, wm_main, c) != 0) {
        pthread_attr_destroy(&at);
        pthread_mutex_lock(&c->mu);
        c->refs--; /* the thread's reference */
        wm_unref_locked(c);
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    pthread_attr_destroy(&at);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec +
                  (uint64_t)wal__kafka_left_ms(deadline) * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&c->mu);
    while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT)
        ;
    e = c->done ? c->e : RD_KAFKA_RESP_ERR__TIMED_OUT;
    *lo = c->lo;
    *hi = c->hi;
    wm_unref_locked(c);
    return e;
}

static qv_code watermarks(kafka_wal *kw, const char *channel, ktopic *tp,
                          uint64_t deadline, int64_t *lo, int64_t *hi,
                          const char *op, qv_err *err)
{
    rd_kafka_resp_err_t e = query_wm(kw, tp->topic, deadline, lo, hi);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return QV_OK;
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        wal__kafka_set_created(kw, tp, 0);
    char le[256];
    wal__kafka_last_error(kw, le, sizeof(le));
    return qv_fail(err, wal__kafka_map_err(e),
                   "wal %s on channel '%s' (kafka topic '%s' at %s): cannot "
                   "query offsets: %s (last broker error: %s)",
                   op, channel, tp->topic, kw->bootstrap, rd_kafka_err2str(e),
                   le);
}

qv_code wal__kafka_bounds(wal *w, const char *channel, wal_pos *earliest,
                          wal_pos *end, qv_err *err)
{
    kafka_wal *kw = (kafka_wal *)w;
    uint64_t deadline = wal__kafka_mono_ms() + kw->timeout_ms;
    qv_code rc = wal__kafka_producer_acquire(kw, channel, err);
    if (rc != QV_OK)
        return rc;
    ktopic *tp;
    int64_t lo = 0, hi = 0;
    rc = wal__kafka_ensure_topic(kw, channel, deadline, &tp, err);
    if (rc == QV_OK)
        rc = watermarks(kw, channel, tp, deadline, &lo, &hi, "bounds", err);
    pthread_rwlock_unlock(&kw->plock);
    if (rc == QV_OK) {
        *earliest = (wal_pos)lo;
        *end = (wal_pos)hi;
    }
    return rc;
}

/* ---- trimming ------------------------------------------------------------ */

/* DeleteRecords on partition 0 of the topic up to offset `to`. */
static qv_code delete_records(kafka_wal *kw, const char *channel,
                              const char *topic, int64_t to, uint64_t deadline,
                              qv_err *err)
{
    char es[512];
    rd_kafka_t *rk = kw->q->rk;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = to;
    rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
    rd_kafka_AdminOptions_set_request_timeout(ao, wal__kafka_left_ms(deadline),
                                              es, sizeof(es));
    rd_kafka_AdminOptions_set_operation_timeout(
        ao, wal__kafka_left_ms(deadline), es, sizeof(es));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &dr, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wal__kafka_left_ms(deadline));
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *why = "no answer in time";
    if (ev && rd_kafka_event_error(ev)) {
        e = rd_kafka_event_error(ev);
        why = rd_kafka_event_error_string(ev);
    } else if (ev) {
        const rd_kafka_DeleteRecords_result_t *res =
            rd_kafka_event_DeleteRecords_result(ev);
        const rd_kafka_topic_partition_list_t *off =
            res ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;
        e = off && off->cnt == 1 ? off->elems[0].err
                                 : RD_KAFKA_RESP_ERR__BAD_MSG;
        why = off && off->cnt == 1 ? rd_kafka_err2str(e) : "empty result";
    }
    qv_code rc = QV_OK;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char le[256];
        wal__kafka_last_error(kw, le, sizeof(le));
        bool unsupported = e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
                           e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
                           e == RD_KAFKA_RESP_ERR_INVALID_REQUEST;
        rc =
            qv_fail(err, unsupported ? QV_E_UNSUPPORTED : wal__kafka_map_err(e),
                    "wal trim of channel '%s' (kafka topic '%s' at %s): "
                    "delete records below %lld: %s: %s (last broker "
                    "error: %s)",
                    channel, topic, kw->bootstrap, (long long)to,
                    rd_kafka_err2name(e), why ? why : "", le);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_DeleteRecords_destroy(dr);
    return rc;
}

qv_code wal__kafka_trim(wal *w, const char *channel, wal_pos before,
                        qv_err *err)
{
    kafka_wal *kw = (kafka_wal *)w;
    /* Asked once: a broker without DeleteRecords (librdkafka 2.0.2's mock
     * cluster, whose refusal also leaks a little inside librdkafka) is not
     * asked again by this handle. */
    if (atomic_load(&kw->no_delete_records))
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "wal trim of channel '%s' (kafka at %s): the broker "
                       "does not support delete records",
                       channel, kw->bootstrap);
    uint64_t deadline = wal__kafka_mono_ms() + kw->timeout_ms;
    qv_code rc = wal__kafka_producer_acquire(kw, channel, err);
    if (rc != QV_OK)
        return rc;
    ktopic *tp;
    int64_t lo = 0, hi = 0;
    rc = wal__kafka_ensure_topic(kw, channel, deadline, &tp, err);
    if (rc == QV_OK)
        rc = watermarks(kw, channel, tp, deadline, &lo, &hi, "trim", err);
    /* never past the end; nothing to do at or below the log start */
    int64_t to = (int64_t)before < hi ? (int64_t)before : hi;
    if (rc == QV_OK && to > lo)
        rc = delete_records(kw, channel, tp->topic, to, deadline, err);
    pthread_rwlock_unlock(&kw->plock);
    if (rc == QV_E_UNSUPPORTED)
        atomic_store(&kw->no_delete_records, 1);
    return rc;
}

/* ---- readers --------------------------------------------------------------
 */

static qv_code make_consumer(kafka_reader *r, wal_pos from, qv_err *err)
{
    kafka_wal *kw = r->kw;
    rd_kafka_conf_t *conf = wal__kafka_base_conf(kw, 1, err);
    if (!conf)
        return QV_E_INVALID;
    /* Prefetch at most about two broker messages per reader: readers are
     * many (one per channel) and a reader behind retention must hear of
     * it rather than be served from a deep local queue. */
    char fmb[32], qkb[32];
    (void)snprintf(fmb, sizeof(fmb), "%zu", kw->max_msg + 65536);
    (void)snprintf(qkb, sizeof(qkb), "%zu", 2 * (kw->max_msg + 65536) / 1024);
    /* librdkafka needs a group.id to assign partitions; the group is never
     * joined and no offset is ever committed to it. */
    if (wal__kafka_set_conf(conf, "group.id", "quiver-wal-reader", err) ||
        wal__kafka_set_conf(conf, "enable.auto.commit", "false", err) ||
        wal__kafka_set_conf(conf, "enable.auto.offset.store", "false", err) ||
        wal__kafka_set_conf(conf, "auto.offset.reset", "error", err) ||
        wal__kafka_set_conf(conf, "fetch.wait.max.ms", "10", err) ||
        wal__kafka_set_conf(conf, "fetch.error.backoff.ms", "50", err) ||
        wal__kafka_set_conf(conf, "fetch.message.max.bytes", fmb, err) ||
        wal__kafka_set_conf(conf, "fetch.max.bytes", fmb, err) ||
        wal__kafka_set_conf(conf, "queued.max.messages.kbytes", qkb, err)) {
        rd_kafka_conf_destroy(conf);
        return QV_E_INVALID;
    }
    char es[256];
    r->c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof(es));
    if (!r->c) {
        rd_kafka_conf_destroy(conf);
        return qv_fail(err, QV_E_INVALID,
                       "wal reader open on channel '%s' "
                       "(kafka at %s): cannot create consumer: %s",
                       r->channel, kw->bootstrap, es);
    }
    rd_kafka_poll_set_consumer(r->c);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, r->topic, 0)->offset = (int64_t)from;
    rd_kafka_resp_err_t e = rd_kafka_assign(r->c, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (e)
        return qv_fail(err, wal__kafka_map_err(e),
                       "wal reader open on channel '%s' "
                       "(kafka at %s): assign failed: %s",
                       r->channel, kw->bootstrap, rd_kafka_err2str(e));
    return QV_OK;
}

void wal__kafka_reader_close(wal_reader *base)
{
    kafka_reader *r = (kafka_reader *)base;
    if (r->held)
        rd_kafka_message_destroy(r->held);
    if (r->c) {
        rd_kafka_assign(r->c, NULL);
        rd_kafka_destroy(r->c);
    }
    qv_buf_release(&r->part);
    free(r->channel);
    free(r->topic);
    free(r);
}

qv_code wal__kafka_reader_open(wal *w, const char *channel, wal_pos from,
                               wal_reader **out, qv_err *err)
{
    kafka_wal *kw = (kafka_wal *)w;
    uint64_t deadline = wal__kafka_mono_ms() + kw->timeout_ms;
    qv_code rc = wal__kafka_producer_acquire(kw, channel, err);
    if (rc != QV_OK)
        return rc;
    ktopic *tp;
    int64_t lo = 0, hi = 0;
    rc = wal__kafka_ensure_topic(kw, channel, deadline, &tp, err);
    if (rc == QV_OK)
        rc =
            watermarks(kw, channel, tp, deadline, &lo, &hi, "reader open", err);
    pthread_rwlock_unlock(&kw->plock);
    if (rc != QV_OK)
        return rc;
    if (from == WAL_EARLIEST)
        from = (wal_pos)lo;
    else if (from == WAL_LATEST)
        from = (wal_pos)hi;
    if (from < (wal_pos)lo || from > (wal_pos)hi)
        return qv_fail(err, from < (wal_pos)lo ? QV_E_COMPACTED : QV_E_RANGE,
                       "wal reader open on channel '%s' (kafka topic '%s' at "
                       "%s): position %llu is outside the retained range "
                       "[%lld, %lld]",
                       channel, tp->topic, kw->bootstrap,
                       (unsigned long long)from, (long long)lo, (long long)hi);
    kafka_reader *r = QV_NEW(kafka_reader);
    r->base.ops = w->ops;
    r->kw = kw;
    r->channel = qv_xstrdup(channel);
    r->topic = qv_xstrdup(tp->topic);
    qv_buf_init(&r->part, kw->max_record);
    rc = make_consumer(r, from, err);
    if (rc != QV_OK) {
        wal__kafka_reader_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return QV_OK;
}

/* Feeds one message to the record assembler.  Returns 1 when *out holds a
 * record, 0 when more messages are needed, or -1 with *rc and err set. */
static int assemble(kafka_reader *r, rd_kafka_message_t *m, wal_entry *out,
                    qv_code *rc, qv_err *err)
{
    const uint8_t *v = m->payload;
    if (!v || m->len < 1 || v[0] > KIND_LAST) {
        *rc = qv_fail(err, QV_E_CORRUPT,
                      "wal read channel '%s' (kafka "
                      "topic '%s' at %s): message at offset %lld is not a "
                      "wal record",
                      r->channel, r->topic, r->kw->bootstrap,
                      (long long)m->offset);
        rd_kafka_message_destroy(m);
        return -1;
    }
    int kind = v[0];
    if (kind == KIND_WHOLE || kind == KIND_FIRST) {
        r->assembling = 0; /* an unfinished record was abandoned */
        qv_buf_reset(&r->part);
    }
    if (kind == KIND_WHOLE) {
        r->held = m;
        out->pos = (wal_pos)m->offset;
        out->data = v + 1;
        out->len = m->len - 1;
        return 1;
    }
    if (kind != KIND_FIRST && !r->assembling) {
        rd_kafka_message_destroy(m); /* started in the middle of a record */
        return 0;
    }
    if (kind == KIND_FIRST) {
        r->assembling = 1;
        r->part_pos = (wal_pos)m->offset;
    }
    qv_code ac = qv_buf_append(&r->part, v + 1, m->len - 1);
    rd_kafka_message_destroy(m);
    if (ac != QV_OK) {
        *rc = qv_fail(err, QV_E_CORRUPT,
                      "wal read channel '%s' (kafka topic '%s' "
                      "at %s): record at offset %llu exceeds %zu bytes",
                      r->channel, r->topic, r->kw->bootstrap,
                      (unsigned long long)r->part_pos, r->kw->max_record);
        r->assembling = 0;
        qv_buf_reset(&r->part);
        return -1;
    }
    if (kind != KIND_LAST)
        return 0;
    r->assembling = 0;
    out->pos = r->part_pos;
    out->data = qv_buf_str(&r->part);
    out->len = r->part.len;
    return 1;
}

qv_code wal__kafka_reader_next(wal_reader *base, uint32_t wait_ms,
                               wal_entry *out, qv_err *err)
{
    kafka_reader *r = (kafka_reader *)base;
    if (r->held) {
        rd_kafka_message_destroy(r->held);
        r->held = NULL;
    }
    uint64_t deadline = wal__kafka_mono_ms() + wait_ms;
    for (;;) {
        uint64_t now = wal__kafka_mono_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->c, left);
        if (!m) {
            if (left == 0)
                return qv_fail(err, QV_E_TIMEOUT,
                               "wal read channel '%s' "
                               "(kafka topic '%s' at %s): no record within "
                               "%u ms",
                               r->channel, r->topic, r->kw->bootstrap, wait_ms);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            rd_kafka_resp_err_t e = m->err;
            qv_code rc =
                qv_fail(err, wal__kafka_map_err(e),
                        "wal read channel '%s' "
                        "(kafka topic '%s' at %s): %s: %s",
                        r->channel, r->topic, r->kw->bootstrap,
                        rd_kafka_err2name(e), rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return rc;
        }
        qv_code rc = QV_OK;
        int got = assemble(r, m, out, &rc, err);
        if (got < 0)
            return rc;
        if (got > 0)
            return QV_OK;
    }
}
