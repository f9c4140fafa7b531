/* wal_kafka.c -- the "kafka" write log through librdkafka.
 *
 * One topic per channel (topic = options.topic_prefix + channel) with one
 * partition, created through the admin API when first used, with the
 * configured replication factor.  One idempotent producer (acks=all) is
 * shared by all channels; a poller thread serves its delivery reports.
 * Readers are plain consumers that assign partition 0 at an offset they
 * choose: positions are stored by callers, never by consumer groups.
 *
 * Message value layout (one record may span several messages):
 *   byte 0      kind: 0 whole record, 1 first part, 2 middle part, 3 last
 *   bytes 1..   payload bytes (the whole record, or one part of it)
 * Records larger than max_message_bytes - KMSG_OVERHEAD are split into
 * parts so every message stays under the broker's message size limit; the
 * position of a record is the offset of its first message.  The parts of a
 * record are contiguous because appends to one channel are serialised while
 * they are handed to the producer (ktopic.produce_mu).  A reader drops an
 * unfinished part sequence (left by a failed append) when a new record
 * starts.
 *
 * Threading: kw.mu guards the topic list and the last broker error;
 * kw.plock (a rwlock) guards the producer pointer, which is replaced after a
 * fatal producer error.  Appends wait on their own tracker.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/log.h"
#include "common/wal/wal_kafka_int.h"

/* One append's progress; freed when the caller and every message it
 * produced have let go of it. */
typedef struct ktrack ktrack;
typedef struct kmsg_ctx {
    ktrack *t;
    size_t rec;
    int first;
} kmsg_ctx;
struct ktrack {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t refs;
    size_t pending;
    rd_kafka_resp_err_t err;
    char errstr[200];
    wal_pos *first_off;
    kmsg_ctx *ctx;
};

/* ---- helpers ------------------------------------------------------------ */

uint64_t wal__kafka_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int wal__kafka_left_ms(uint64_t deadline)
{
    uint64_t now = wal__kafka_mono_ms();
    if (now >= deadline)
        return 1;
    uint64_t left = deadline - now;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

void wal__kafka_last_error(kafka_wal *kw, char *out, size_t n)
{
    pthread_mutex_lock(&kw->mu);
    (void)snprintf(out, n, "%s", kw->last_error[0] ? kw->last_error : "none");
    pthread_mutex_unlock(&kw->mu);
}

qv_code wal__kafka_map_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return QV_E_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return QV_E_INVALID;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
        return QV_E_COMPACTED;
    default:
        return QV_E_UNAVAILABLE;
    }
}

int wal__kafka_set_conf(rd_kafka_conf_t *conf, const char *k, const char *v,
                        qv_err *err)
{
    char es[256];
    if (rd_kafka_conf_set(conf, k, v, es, sizeof(es)) == RD_KAFKA_CONF_OK)
        return 0;
    qv_fail(err, QV_E_INVALID, "wal open (kafka): bad setting %s=%s: %s", k, v,
            es);
    return -1;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    (void)rk;
    /* Connection failures are expected while a broker is down and reach
     * callers through their errors; only critical ones are warnings. */
    QV_LOG(level <= 2 ? QV_LOG_WARN : QV_LOG_DEBUG, "wal.kafka", "%s: %s", fac,
           buf);
}

static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    kafka_wal *kw = opaque;
    pthread_mutex_lock(&kw->mu);
    (void)snprintf(kw->last_error, sizeof(kw->last_error), "%s: %s",
                   rd_kafka_err2name((rd_kafka_resp_err_t)e), reason);
    pthread_mutex_unlock(&kw->mu);
}

static void track_unref_locked(ktrack *t, size_t n)
{
    t->refs -= n;
    int done = t->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (done) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t->first_off);
        free(t->ctx);
        free(t);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    kmsg_ctx *ctx = m->_private;
    ktrack *t = ctx->t;
    pthread_mutex_lock(&t->mu);
    if (m->err && !t->err) {
        t->err = m->err;
        (void)snprintf(t->errstr, sizeof(t->errstr), "%s",
                       rd_kafka_message_errstr(m));
    } else if (!m->err && ctx->first) {
        t->first_off[ctx->rec] = (wal_pos)m->offset;
    }
    t->pending--;
    pthread_cond_broadcast(&t->cv);
    track_unref_locked(t, 1);
}

/* Common client settings of producers and consumers. */
rd_kafka_conf_t *wal__kafka_base_conf(kafka_wal *kw, int with_cb, qv_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char v[32];
    (void)snprintf(v, sizeof(v), "%zu", kw->max_msg + 65536);
    if (wal__kafka_set_conf(conf, "bootstrap.servers", kw->bootstrap, err) ||
        wal__kafka_set_conf(conf, "reconnect.backoff.ms", "50", err) ||
        wal__kafka_set_conf(conf, "reconnect.backoff.max.ms", "500", err) ||
        wal__kafka_set_conf(conf, "message.max.bytes", v, err) ||
        wal__kafka_set_conf(conf, "receive.message.max.bytes", "104857600",
                            err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* QV_WAL_KAFKA_DEBUG=<librdkafka debug contexts> traces the client. */
    const char *dbg = getenv("QV_WAL_KAFKA_DEBUG");
    if (dbg && *dbg && wal__kafka_set_conf(conf, "debug", dbg, err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (with_cb) {
        rd_kafka_conf_set_error_cb(conf, error_cb);
        rd_kafka_conf_set_opaque(conf, kw);
    }
    return conf;
}

static qv_code make_producer(kafka_wal *kw, rd_kafka_t **out, qv_err *err)
{
    rd_kafka_conf_t *conf = wal__kafka_base_conf(kw, 1, err);
    if (!conf)
        return QV_E_INVALID;
    char mto[32], bs[32];
    uint32_t t = kw->timeout_ms > 400 ? kw->timeout_ms - 200 : 200;
    (void)snprintf(mto, sizeof(mto), "%u", t);
    (void)snprintf(bs, sizeof(bs), "%zu", kw->max_msg);
    if (wal__kafka_set_conf(conf, "enable.idempotence", "true", err) ||
        wal__kafka_set_conf(conf, "acks", "all", err) ||
        wal__kafka_set_conf(conf, "linger.ms", "1", err) ||
        wal__kafka_set_conf(conf, "batch.size", bs, err) ||
        wal__kafka_set_conf(conf, "message.timeout.ms", mto, err)) {
        rd_kafka_conf_destroy(conf);
        return QV_E_INVALID;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char es[256];
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (!p) {
        rd_kafka_conf_destroy(conf);
        return qv_fail(err, QV_E_INVALID,
                       "wal open (kafka at %s): cannot create producer: %s",
                       kw->bootstrap, es);
    }
    *out = p;
    return QV_OK;
}

/* A plain producer handle for metadata, admin and offset queries. */
static qv_code make_query(kafka_wal *kw, kquery **out, qv_err *err)
{
    rd_kafka_conf_t *conf = wal__kafka_base_conf(kw, 0, err);
    if (!conf)
        return QV_E_INVALID;
    char st[32];
    (void)snprintf(st, sizeof(st), "%u",
                   kw->timeout_ms < 100 ? 100 : kw->timeout_ms);
    if (wal__kafka_set_conf(conf, "socket.timeout.ms", st, err) ||
        wal__kafka_set_conf(conf, "retries", "0", err)) {
        rd_kafka_conf_destroy(conf);
        return QV_E_INVALID;
    }
    char es[256];
    rd_kafka_t *q = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (!q) {
        rd_kafka_conf_destroy(conf);
        return qv_fail(err, QV_E_INVALID,
                       "wal open (kafka at %s): cannot create client: %s",
                       kw->bootstrap, es);
    }
    kquery *kq = QV_NEW(kquery);
    pthread_mutex_init(&kq->mu, NULL);
    kq->refs = 1;
    kq->rk = q;
    *out = kq;
    return QV_OK;
}

void wal__kafka_query_unref(kquery *q)
{
    pthread_mutex_lock(&q->mu);
    int last = --q->refs == 0;
    pthread_mutex_unlock(&q->mu);
    if (last) {
        rd_kafka_destroy(q->rk);
        pthread_mutex_destroy(&q->mu);
        free(q);
    }
}

static void *poller_main(void *arg)
{
    kafka_wal *kw = arg;
    while (!atomic_load(&kw->stop)) {
        pthread_rwlock_rdlock(&kw->plock);
        rd_kafka_poll(kw->prod, 50);
        pthread_rwlock_unlock(&kw->plock);
        rd_kafka_poll(kw->q->rk, 0);
    }
    return NULL;
}

/* Takes the producer lock for reading, first replacing a producer that hit
 * a fatal error (the idempotent producer's state is then unusable). */
qv_code wal__kafka_producer_acquire(kafka_wal *kw, const char *channel,
                                    qv_err *err)
{
    char fe[256];
    pthread_rwlock_rdlock(&kw->plock);
    if (rd_kafka_fatal_error(kw->prod, fe, sizeof(fe)) ==
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return QV_OK;
    pthread_rwlock_unlock(&kw->plock);
    pthread_rwlock_wrlock(&kw->plock);
    qv_code rc = QV_OK;
    if (rd_kafka_fatal_error(kw->prod, fe, sizeof(fe))) {
        rd_kafka_t *np = NULL;
        rc = make_producer(kw, &np, err);
        if (rc == QV_OK) {
            QV_LOG(QV_LOG_WARN, "wal.kafka",
                   "replacing producer after "
                   "fatal error: %s",
                   fe);
            rd_kafka_purge(kw->prod,
                           RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(kw->prod, 0);
            rd_kafka_destroy(kw->prod);
            kw->prod = np;
        }
    }
    pthread_rwlock_unlock(&kw->plock);
    if (rc != QV_OK)
        return qv_err_prefix(err, "wal channel '%s'", channel);
    pthread_rwlock_rdlock(&kw->plock);
    return QV_OK;
}

/* ---- topics ------------------------------------------------------------- */

static qv_code create_topic(kafka_wal *kw, rd_kafka_t *rk, const char *topic,
                            const char *channel, uint64_t deadline, qv_err *err)
{
    char es[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, 1, kw->rf, es, sizeof(es));
    if (!nt)
        return qv_fail(err, QV_E_INVALID,
                       "wal create topic '%s' for channel "
                       "'%s' (kafka at %s): %s",
                       topic, channel, kw->bootstrap, es);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, wal__kafka_left_ms(deadline),
                                              es, sizeof(es));
    rd_kafka_AdminOptions_set_operation_timeout(
        ao, wal__kafka_left_ms(deadline), es, sizeof(es));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wal__kafka_left_ms(deadline));
    qv_code rc = QV_OK;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *why = "no answer in time";
    if (ev && rd_kafka_event_error(ev)) {
        e = rd_kafka_event_error(ev);
        why = rd_kafka_event_error_string(ev);
    } else if (ev) {
        const rd_kafka_CreateTopics_result_t *res =
            rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        e = cnt ? rd_kafka_topic_result_error(tr[0])
                : RD_KAFKA_RESP_ERR__BAD_MSG;
        why = cnt ? rd_kafka_topic_result_error_string(tr[0]) : "empty result";
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            e = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char le[256];
        wal__kafka_last_error(kw, le, sizeof(le));
        rc = qv_fail(err, wal__kafka_map_err(e),
                     "wal create topic '%s' for channel "
                     "'%s' (kafka at %s): %s: %s (last broker error: %s)",
                     topic, channel, kw->bootstrap, rd_kafka_err2name(e),
                     why ? why : "", le);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static ktopic *find_topic(kafka_wal *kw, const char *channel)
{
    pthread_mutex_lock(&kw->mu);
    ktopic *t;
    for (t = kw->topics; t; t = t->next) {
        if (strcmp(t->channel, channel) == 0)
            break;
    }
    if (!t) {
        t = QV_NEW(ktopic);
        t->channel = qv_xstrdup(channel);
        t->topic = qv_xasprintf("%s%s", kw->prefix, channel);
        pthread_mutex_init(&t->produce_mu, NULL);
        t->next = kw->topics;
        kw->topics = t;
    }
    pthread_mutex_unlock(&kw->mu);
    return t;
}

void wal__kafka_set_created(kafka_wal *kw, ktopic *t, int v)
{
    pthread_mutex_lock(&kw->mu);
    t->created = v;
    pthread_mutex_unlock(&kw->mu);
}

/* True if the cluster's controller is one of its brokers, so the admin API
 * can create topics.  (librdkafka's mock cluster reports controller 0,
 * which is no broker: there topics are created by a metadata request.) */
static int controller_known(kafka_wal *kw, uint64_t deadline)
{
    int32_t ctl =
        rd_kafka_controllerid(kw->q->rk, wal__kafka_left_ms(deadline));
    const struct rd_kafka_metadata *md = NULL;
    if (ctl < 0 || rd_kafka_metadata(kw->q->rk, 0, NULL, &md,
                                     wal__kafka_left_ms(deadline)) != 0)
        return 0;
    int found = 0;
    for (int i = 0; i < md->broker_cnt; i++)
        found |= md->brokers[i].id == ctl;
    rd_kafka_metadata_destroy(md);
    return found;
}

/* Asks for the topic's metadata (brokers that allow it create the topic
 * then) and checks that partition 0 exists. */
static qv_code topic_by_metadata(kafka_wal *kw, const char *topic,
                                 const char *channel, uint64_t deadline,
                                 qv_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kw->q->rk, topic, NULL);
    if (!rkt)
        return qv_fail(err, QV_E_INVALID,
                       "wal channel '%s' (kafka at %s): "
                       "bad topic name '%s'",
                       channel, kw->bootstrap, topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
        uint64_t now = wal__kafka_mono_ms();
        int left = now >= deadline ? 1 : (int)(deadline - now);
        e = rd_kafka_metadata(kw->q->rk, 0, rkt, &md, left);
        if (!e && md->topic_cnt == 1) {
            e = md->topics[0].err;
            if (!e && md->topics[0].partition_cnt < 1)
                e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        /* A freshly created topic can take a moment to have a leader. */
        if (e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
            e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            break;
        if (wal__kafka_mono_ms() >= deadline)
            break;
        qv_sleep_ms(20);
    }
    rd_kafka_topic_destroy(rkt);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return QV_OK;
    char le[256];
    wal__kafka_last_error(kw, le, sizeof(le));
    return qv_fail(err, wal__kafka_map_err(e),
                   "wal channel '%s' (kafka topic '%s' at "
                   "%s): topic metadata: %s (last broker error: %s)",
                   channel, topic, kw->bootstrap, rd_kafka_err2str(e), le);
}

/* Lets the producer learn the new topic's leader now rather than on its
 * first message (which would wait for a metadata refresh).  Best effort. */
static void warm_producer(kafka_wal *kw, const char *topic, uint64_t deadline)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kw->prod, topic, NULL);
    if (!rkt)
        return;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(kw->prod, 0, rkt, &md,
                          wal__kafka_left_ms(deadline)) == 0)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

/* Finds the channel's topic, creating it on the broker if this process has
 * not yet.  Call with the producer lock held. */
qv_code wal__kafka_ensure_topic(kafka_wal *kw, const char *channel,
                                uint64_t deadline, ktopic **out, qv_err *err)
{
    ktopic *t = find_topic(kw, channel);
    pthread_mutex_lock(&kw->mu);
    int created = t->created;
    pthread_mutex_unlock(&kw->mu);
    if (!created) {
        qv_code rc = QV_OK;
        if (controller_known(kw, deadline))
            rc = create_topic(kw, kw->q->rk, t->topic, channel, deadline, err);
        if (rc == QV_OK)
            rc = topic_by_metadata(kw, t->topic, channel, deadline, err);
        if (rc != QV_OK)
            return rc;
        warm_producer(kw, t->topic, deadline);
        wal__kafka_set_created(kw, t, 1);
    }
    *out = t;
    return QV_OK;
}

/* ---- open / close ---------------------------------------------------------
 */

static qv_code kafka_open(wal *w, const wal_options *opt, qv_err *err)
{
    kafka_wal *kw = (kafka_wal *)w;
    if (!opt->bootstrap || !*opt->bootstrap)
        return qv_fail(err, QV_E_INVALID,
                       "wal open (kafka): options.bootstrap is not set");
    kw->max_msg = opt->max_message_bytes ? opt->max_message_bytes : 1000000;
    if (kw->max_msg < (size_t)2 * KMSG_OVERHEAD)
        return qv_fail(err, QV_E_INVALID,
                       "wal open (kafka at %s): "
                       "max_message_bytes %zu is below %d",
                       opt->bootstrap, kw->max_msg, 2 * KMSG_OVERHEAD);
    kw->chunk = kw->max_msg - KMSG_OVERHEAD;
    kw->bootstrap = qv_xstrdup(opt->bootstrap);
    kw->prefix = qv_xstrdup(opt->topic_prefix ? opt->topic_prefix : "");
    kw->rf = opt->replication_factor > 0 ? opt->replication_factor : 1;
    kw->timeout_ms = wal__timeout_ms(opt);
    kw->max_record = wal__max_record(opt);
    pthread_mutex_init(&kw->mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&kw->plock, &ra);
    pthread_rwlockattr_destroy(&ra);
    qv_code rc = make_producer(kw, &kw->prod, err);
    if (rc == QV_OK) {
        rc = make_query(kw, &kw->q, err);
        if (rc != QV_OK)
            rd_kafka_destroy(kw->prod);
    }
    if (rc == QV_OK && pthread_create(&kw->poller, NULL, poller_main, kw)) {
        rd_kafka_destroy(kw->prod);
        wal__kafka_query_unref(kw->q);
        rc = qv_fail(err, QV_E_INTERNAL,
                     "wal open (kafka): cannot start the poller");
    }
    if (rc != QV_OK) {
        pthread_rwlock_destroy(&kw->plock);
        pthread_mutex_destroy(&kw->mu);
        free(kw->bootstrap);
        free(kw->prefix);
    }
    return rc;
}

static void kafka_close(wal *w)
{
    kafka_wal *kw = (kafka_wal *)w;
    atomic_store(&kw->stop, 1);
    pthread_join(kw->poller, NULL);
    /* Appends have all returned; whatever is still queued failed already
     * from the caller's point of view. */
    rd_kafka_purge(kw->prod,
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(kw->prod, 1000);
    rd_kafka_destroy(kw->prod);
    wal__kafka_query_unref(kw->q);
    ktopic *t = kw->topics;
    while (t) {
        ktopic *n = t->next;
        pthread_mutex_destroy(&t->produce_mu);
        free(t->channel);
        free(t->topic);
        free(t);
        t = n;
    }
    pthread_rwlock_destroy(&kw->plock);
    pthread_mutex_destroy(&kw->mu);
    free(kw->bootstrap);
    free(kw->prefix);
}

/* ---- append ------------------------------------------------------------- */

static size_t parts_of(const kafka_wal *kw, size_t len)
{
    return len <= kw->chunk ? 1 : (len + kw->chunk - 1) / kw->chunk;
}

static ktrack *track_new(size_t nrec, size_t nmsg)
{
    ktrack *t = QV_NEW(ktrack);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    t->first_off = QV_NEW_ARRAY(wal_pos, nrec);
    t->ctx = QV_NEW_ARRAY(kmsg_ctx, nmsg);
    t->refs = 1 + nmsg;
    t->pending = nmsg;
    return t;
}

/* Hands one message to the producer, retrying while its queue is full. */
static rd_kafka_resp_err_t produce_one(kafka_wal *kw, ktopic *tp, int kind,
                                       const uint8_t *p, size_t n,
                                       kmsg_ctx *ctx, uint64_t deadline)
{
    uint8_t *v = qv_try_alloc(n + 1, 1);
    if (!v)
        return RD_KAFKA_RESP_ERR__NOENT;
    v[0] = (uint8_t)kind;
    if (n && p)
        memcpy(v + 1, p, n);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            kw->prod, RD_KAFKA_V_TOPIC(tp->topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE(v, n + 1),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(ctx),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
            wal__kafka_mono_ms() < deadline) {
            qv_sleep_ms(1);
            continue;
        }
        if (e)
            free(v);
        return e;
    }
}

/* Produces every part of every record; returns how many were handed over
 * and the error that stopped it. */
static size_t produce_batch(kafka_wal *kw, ktopic *tp, const wal_record *recs,
                            size_t n, ktrack *t, uint64_t deadline,
                            rd_kafka_resp_err_t *e)
{
    size_t m = 0;
    *e = RD_KAFKA_RESP_ERR_NO_ERROR;
    pthread_mutex_lock(&tp->produce_mu);
    for (size_t i = 0; i < n && !*e; i++) {
        size_t parts = parts_of(kw, recs[i].len);
        const uint8_t *p = recs[i].data;
        for (size_t k = 0; k < parts && !*e; k++) {
            size_t off = k * kw->chunk;
            size_t len = recs[i].len - off;
            if (len > kw->chunk)
                len = kw->chunk;
            int kind = parts == 1       ? KIND_WHOLE
                       : k == 0         ? KIND_FIRST
                       : k + 1 == parts ? KIND_LAST
                                        : KIND_MIDDLE;
            t->ctx[m] = (kmsg_ctx){t, i, k == 0};
            *e = produce_one(kw, tp, kind, p ? p + off : NULL, len, &t->ctx[m],
                             deadline);
            if (!*e)
                m++;
        }
    }
    pthread_mutex_unlock(&tp->produce_mu);
    return m;
}

static qv_code kafka_append(wal *w, const char *channel, const wal_record *recs,
                            size_t n, wal_pos *positions, qv_err *err)
{
    kafka_wal *kw = (kafka_wal *)w;
    uint64_t deadline = wal__kafka_mono_ms() + kw->timeout_ms;
    size_t nmsg = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > kw->max_record)
            return qv_fail(err, QV_E_INVALID,
                           "wal append to channel '%s' (kafka at %s): record "
                           "%zu has %zu bytes, over the limit of %zu",
                           channel, kw->bootstrap, i, recs[i].len,
                           kw->max_record);
        nmsg += parts_of(kw, recs[i].len);
    }
    qv_code rc = wal__kafka_producer_acquire(kw, channel, err);
    if (rc != QV_OK)
        return rc;
    ktopic *tp;
    rc = wal__kafka_ensure_topic(kw, channel, deadline, &tp, err);
    if (rc != QV_OK) {
        pthread_rwlock_unlock(&kw->plock);
        return rc;
    }
    ktrack *t = track_new(n, nmsg);
    rd_kafka_resp_err_t pe;
    size_t m = produce_batch(kw, tp, recs, n, t, deadline, &pe);
    pthread_mutex_lock(&t->mu);
    t->refs -= nmsg - m;
    t->pending -= nmsg - m;
    while (t->pending > 0) {
        uint64_t now = wal__kafka_mono_ms();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t left = deadline - now;
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    rd_kafka_resp_err_t e = pe ? pe : t->err;
    if (!e && t->pending > 0)
        e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    char why[200];
    (void)snprintf(why, sizeof(why), "%s",
                   pe             ? rd_kafka_err2str(pe)
                   : t->errstr[0] ? t->errstr
                                  : rd_kafka_err2str(e));
    if (!e && positions)
        memcpy(positions, t->first_off, n * sizeof(wal_pos));
    track_unref_locked(t, 1);
    pthread_rwlock_unlock(&kw->plock);
    if (!e)
        return QV_OK;
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        wal__kafka_set_created(kw, tp,
                               0); /* the broker lost it: create it again */
    char le[256];
    wal__kafka_last_error(kw, le, sizeof(le));
    return qv_fail(err, wal__kafka_map_err(e),
                   "wal append to channel '%s' (kafka topic "
                   "'%s' at %s): %s: %s after %u ms limit (last broker error: "
                   "%s)",
                   channel, tp->topic, kw->bootstrap, rd_kafka_err2name(e), why,
                   kw->timeout_ms, le);
}

const wal_ops wal__kafka_ops = {
    .name = "kafka",
    .caps = WAL_CAP_PERSISTENT, /* with a real broker; not the test mock */
    .impl_size = sizeof(kafka_wal) - sizeof(wal),
    .open = kafka_open,
    .close = kafka_close,
    .append = kafka_append,
    .bounds = wal__kafka_bounds,
    .reader_open = wal__kafka_reader_open,
    .reader_next = wal__kafka_reader_next,
    .reader_close = wal__kafka_reader_close,
    .trim = wal__kafka_trim,
};
