/* server.c -- the datanode process: lifecycle, session, one consumer
 * thread per watched vchannel, and the DataNodeService handlers (see
 * server.h). */
#include "datanode/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "coord/segmeta.h"
#include "datanode/server_int.h"
#include "internal/coord.pb-c.h"
#include "proto/convert_fielddata.h"
#include "proto/rpc_status.h"

typedef Milvus__Proto__Common__Status pb_status;

/* One poll handles at most POLL_MAX records (time ticks arrive every
 * ~100 ms even when idle), so a stop is seen within a few seconds. */
#define POLL_WAIT_MS 200
#define POLL_MAX     32

static pb_status *mk_status(qv_arena *a, qv_code rc, const qv_err *err)
{
    pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, rc, QV_SUBJ_NONE,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    return st;
}

void qv_dn__session_key(qv_dnode *d, char *buf, size_t cap)
{
    if (d->session)
        qv_kept_session_key(d->session, buf, cap);
    else if (cap)
        buf[0] = '\0';
}

static uint32_t coord_timeout(const qv_dnode *d)
{
    return d->opts.coord_timeout_ms ? d->opts.coord_timeout_ms : 30000;
}

/* A coord reply's status as a qv_code (the reason as message). */
static qv_code reply_status(const pb_status *st, const char *what, qv_err *err)
{
    if (!st || st->code == 0)
        return QV_OK;
    /* the codes the coord answers these calls with */
    static const qv_code known[] = {QV_E_CONFLICT,  QV_E_INVALID,
                                    QV_E_NOT_FOUND, QV_E_UNAVAILABLE,
                                    QV_E_NOT_READY, QV_E_TIMEOUT};
    qv_code rc = QV_E_INTERNAL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (qv_rpc_status_milvus(known[i], QV_SUBJ_NONE).code == st->code) {
            rc = known[i];
            break;
        }
    return qv_fail(err, rc, "coord %s: %s", what, st->reason);
}

qv_code qv_dn__alloc_id(qv_dnode *d, int64_t *id, qv_err *err)
{
    Quiver__Internal__AllocIDRequest rq =
        QUIVER__INTERNAL__ALLOC_IDREQUEST__INIT;
    rq.count = 1;
    qv_arena a;
    qv_arena_init(&a, 0);
    Quiver__Internal__AllocIDResponse *r = NULL;
    qv_code rc =
        qv_coord_link_call(d->coord, "AllocID", &rq.base,
                           &quiver__internal__alloc_idresponse__descriptor, &a,
                           (ProtobufCMessage **)&r, coord_timeout(d), err);
    if (!rc)
        rc = reply_status(r->status, "alloc id", err);
    if (!rc)
        *id = r->id;
    qv_arena_release(&a);
    return rc;
}

/* ---- one channel --------------------------------------------------------- */

static qv_code chan_alloc_id(void *ctx, int64_t *id, qv_err *err)
{
    dn_chan *ch = ctx;
    return qv_dn__alloc_id(ch->node, id, err);
}

static Quiver__Internal__SegmentInfo *seg_info(dn_chan *ch, qv_arena *a,
                                               int64_t id, int64_t part,
                                               int64_t log_id, uint64_t rows)
{
    Quiver__Internal__SegmentInfo *s = qv_arena_alloc(a, sizeof *s);
    quiver__internal__segment_info__init(s);
    s->id = id;
    s->collection_id = ch->coll;
    s->partition_id = part;
    s->vchannel = ch->vch;
    s->shard = ch->shard;
    s->log_id = log_id;
    s->rows = rows;
    return s;
}

static qv_code chan_commit(void *ctx, const qv_dn_commit *c, qv_err *err)
{
    dn_chan *ch = ctx;
    qv_dnode *d = ch->node;
    char node[600];
    qv_dn__session_key(d, node, sizeof node);
    qv_arena a;
    qv_arena_init(&a, 0);
    Quiver__Internal__CommitSegmentRequest rq =
        QUIVER__INTERNAL__COMMIT_SEGMENT_REQUEST__INIT;
    rq.node = node;
    rq.collection_id = ch->coll;
    rq.vchannel = ch->vch;
    if (c->segment_id) {
        rq.segment = seg_info(ch, &a, c->segment_id, c->partition_id, c->log_id,
                              c->rows);
        rq.segment->bytes = c->bytes;
        rq.segment->deleted_rows = c->hidden;
        rq.segment->min_ts = c->min_ts;
        rq.segment->max_ts = c->max_ts;
        rq.segment->field_ids =
            qv_arena_alloc(&a, (ch->nfields + 1) * sizeof(int64_t));
        for (size_t i = 0; c->rows && i < ch->nfields; i++)
            rq.segment->field_ids[rq.segment->n_field_ids++] = ch->specs[i].id;
    }
    if (c->l0_log_id) { /* one L0 log per partition value; -1 = all */
        rq.l0 = seg_info(ch, &a, c->l0_log_id, -1, c->l0_log_id, c->l0_deletes);
        rq.l0->min_ts = c->l0_min_ts;
        rq.l0->max_ts = c->l0_max_ts;
    }
    Quiver__Internal__ChannelCheckpoint k =
        QUIVER__INTERNAL__CHANNEL_CHECKPOINT__INIT;
    k.vchannel = ch->vch;
    k.pchannel = ch->pch;
    k.position = c->checkpoint;
    k.ts = c->tick;
    k.collection_id = ch->coll;
    rq.checkpoint = &k;
    pb_status *st = NULL;
    qv_code rc =
        qv_coord_link_call(d->coord, "CommitSegment", &rq.base,
                           &milvus__proto__common__status__descriptor, &a,
                           (ProtobufCMessage **)&st, coord_timeout(d), err);
    if (!rc)
        rc = reply_status(st, "commit segment", err);
    qv_arena_release(&a);
    if (!rc) {
        pthread_mutex_lock(&ch->mu);
        ch->checkpoint = c->checkpoint;
        pthread_mutex_unlock(&ch->mu);
    }
    return rc;
}

/* True when meta KV names another datanode as the vchannel's assignee. */
static bool assigned_elsewhere(dn_chan *ch)
{
    qv_dnode *d = ch->node;
    char key[1024], node[600];
    snprintf(key, sizeof key, "%smeta/dnchan/%" PRId64 "/%s", d->root, ch->coll,
             ch->vch);
    qv_dn__session_key(d, node, sizeof node);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err e = {0};
    qv_code rc = metakv_get(d->opts.kv, key, strlen(key), &r, &e);
    bool other =
        (rc == QV_E_NOT_FOUND) ||
        (!rc && r.n == 1 && strcmp((const char *)r.kvs[0].value, node) != 0);
    metakv_kvs_release(&r);
    return other;
}

static void set_state(dn_chan *ch, qv_dn_channel *c, const char *error)
{
    pthread_mutex_lock(&ch->mu);
    if (c) {
        ch->checkpoint = qv_dn_channel_checkpoint(c);
        ch->buffered = qv_dn_channel_buffered(c);
    }
    if (error)
        snprintf(ch->error, sizeof ch->error, "%s", error);
    pthread_mutex_unlock(&ch->mu);
}

/* Sleeps ms in short slices; false when the channel is stopping. */
static bool nap(dn_chan *ch, uint32_t ms)
{
    for (uint32_t t = 0; t < ms && !atomic_load(&ch->stop); t += 50)
        qv_sleep_ms(50);
    return !atomic_load(&ch->stop);
}

/* Runs the consumer until it fails; returns its error code. */
static qv_code run_once(dn_chan *ch, wal_pos from, qv_err *err)
{
    qv_dnode *d = ch->node;
    qv_dn_channel_opts o = {
        .log = d->opts.log,
        .pchannel = ch->pch,
        .from = from,
        .shard = {.collection_id = ch->coll,
                  .vchannel = ch->vch,
                  .schema = {.fields = ch->specs,
                             .nfields = ch->nfields,
                             .pk_field_id = ch->pk_field_id}},
        .os = d->opts.os,
        .alloc_id = chan_alloc_id,
        .commit = chan_commit,
        .ctx = ch,
    };
    /* segments flushed already: a checkpoint may lie inside their span */
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_seg_info **segs = NULL;
    size_t nsegs = 0;
    qv_code rc = qv_segmeta_list_segments(d->opts.kv, d->root, ch->coll,
                                          ch->vch, &a, &segs, &nsegs, err);
    int64_t *ids = qv_arena_alloc(&a, (nsegs + 1) * sizeof *ids);
    for (size_t i = 0; !rc && i < nsegs; i++)
        if (segs[i]->level == QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1)
            ids[o.nflushed++] = segs[i]->id;
    o.flushed = ids;
    qv_dn_channel *c = NULL;
    if (!rc)
        rc = qv_dn_channel_open(&o, &c, err);
    qv_arena_release(&a);
    if (rc)
        return rc;
    bool first = true;
    while (!rc && !atomic_load(&ch->stop)) {
        rc = qv_dn_channel_poll(c, POLL_WAIT_MS, POLL_MAX, err);
        set_state(ch, c, !rc && first ? "" : NULL);
        first = false;
    }
    qv_dn_channel_close(c);
    return rc;
}

static void *chan_main(void *arg)
{
    dn_chan *ch = arg;
    qv_dnode *d = ch->node;
    uint32_t lo = d->opts.retry_min_ms ? d->opts.retry_min_ms : 500;
    uint32_t hi = d->opts.retry_max_ms ? d->opts.retry_max_ms : 10000;
    uint32_t backoff = lo;
    while (!atomic_load(&ch->stop)) {
        pthread_mutex_lock(&ch->mu);
        wal_pos from = ch->checkpoint;
        pthread_mutex_unlock(&ch->mu);
        uint64_t t0 = qv_mono_ms(qv_clock_system());
        qv_err e = {0};
        qv_code rc = run_once(ch, from, &e);
        if (!rc || atomic_load(&ch->stop))
            break;
        set_state(ch, NULL, e.msg);
        if (rc == QV_E_CONFLICT && assigned_elsewhere(ch)) {
            QV_LOG(QV_LOG_WARN, "datanode",
                   "vchannel %s is assigned to another datanode; stopped "
                   "consuming it: %s",
                   ch->vch, e.msg);
            break;
        }
        if (qv_mono_ms(qv_clock_system()) - t0 > 30000)
            backoff = lo;
        QV_LOG(QV_LOG_WARN, "datanode",
               "vchannel %s failed (retry from position %" PRIu64
               " in %u ms): %s",
               ch->vch, (uint64_t)from, backoff, e.msg);
        if (!nap(ch, backoff))
            break;
        backoff = backoff * 2 > hi ? hi : backoff * 2;
    }
    atomic_store(&ch->done, true);
    return NULL;
}

static void chan_free(dn_chan *ch)
{
    if (!ch)
        return;
    atomic_store(&ch->stop, true);
    if (ch->thread_started)
        pthread_join(ch->thread, NULL);
    pthread_mutex_destroy(&ch->mu);
    free(ch->vch);
    free(ch->pch);
    free(ch->specs);
    if (ch->schema)
        protobuf_c_message_free_unpacked(&ch->schema->base, NULL);
    free(ch);
}

/* The shard index from a vchannel name "<pchannel>_<coll>v<shard>"
 * (coord/catalog_coll.c); 0 when it has no such suffix. */
static uint32_t shard_of(const char *vch)
{
    size_t n = strlen(vch), i = n;
    while (i > 0 && vch[i - 1] >= '0' && vch[i - 1] <= '9')
        i--;
    if (i == n || i == 0 || vch[i - 1] != 'v')
        return 0;
    return (uint32_t)strtoul(vch + i, NULL, 10);
}

static qv_code chan_new(qv_dnode *d, int64_t coll,
                        const Milvus__Proto__Schema__CollectionSchema *schema,
                        const Quiver__Internal__ChannelCheckpoint *k,
                        dn_chan **out, qv_err *err)
{
    if (!k->vchannel || !k->vchannel[0] || !k->pchannel ||
        !wal_channel_valid(k->pchannel))
        return qv_fail(err, QV_E_INVALID,
                       "watch data channels: a checkpoint without a valid "
                       "vchannel and pchannel");
    dn_chan *ch = QV_NEW(dn_chan);
    ch->node = d;
    ch->coll = coll;
    ch->vch = qv_xstrdup(k->vchannel);
    ch->pch = qv_xstrdup(k->pchannel);
    ch->shard = shard_of(k->vchannel);
    ch->checkpoint = k->position;
    pthread_mutex_init(&ch->mu, NULL);
    atomic_init(&ch->stop, false);
    atomic_init(&ch->done, false);
    size_t len = protobuf_c_message_get_packed_size(&schema->base);
    uint8_t *buf = qv_xmalloc(len + 1);
    protobuf_c_message_pack(&schema->base, buf);
    ch->schema =
        milvus__proto__schema__collection_schema__unpack(NULL, len, buf);
    free(buf);
    qv_code rc = QV_OK;
    if (!ch->schema)
        rc = qv_fail(err, QV_E_INVALID, "watch data channels: bad schema");
    size_t nf = ch->schema ? ch->schema->n_fields : 0;
    ch->specs = qv_xmalloc((nf + 1) * sizeof(qv_field_spec));
    for (size_t i = 0; !rc && i < nf; i++) {
        rc = qv_field_spec_from_schema(ch->schema->fields[i], &ch->specs[i],
                                       err);
        if (ch->schema->fields[i]->is_primary_key)
            ch->pk_field_id = ch->schema->fields[i]->fieldid;
    }
    ch->nfields = nf;
    if (!rc && pthread_create(&ch->thread, NULL, chan_main, ch) != 0)
        rc = qv_fail(err, QV_E_NOMEM,
                     "datanode: cannot start a thread for "
                     "vchannel '%s'",
                     ch->vch);
    ch->thread_started = !rc;
    if (rc) {
        chan_free(ch);
        return rc;
    }
    *out = ch;
    return QV_OK;
}

/* ---- handlers ------------------------------------------------------------ */

static qv_code watch(qv_dnode *d,
                     const Quiver__Internal__WatchDataChannelsRequest *rq,
                     qv_err *err)
{
    if (!rq->schema)
        return qv_fail(err, QV_E_INVALID,
                       "watch data channels: schema is required");
    qv_code rc = QV_OK;
    for (size_t i = 0; !rc && i < rq->n_checkpoints; i++) {
        const Quiver__Internal__ChannelCheckpoint *k = rq->checkpoints[i];
        dn_chan *old = NULL;
        pthread_mutex_lock(&d->mu);
        for (dn_chan **p = &d->chans; *p; p = &(*p)->next)
            if ((*p)->coll == rq->collection_id && k->vchannel &&
                strcmp((*p)->vch, k->vchannel) == 0) {
                if (!atomic_load(&(*p)->done))
                    old = *p; /* running: nothing to do */
                else {        /* stopped: restart from this checkpoint */
                    dn_chan *x = *p;
                    *p = x->next;
                    pthread_mutex_unlock(&d->mu);
                    chan_free(x);
                    pthread_mutex_lock(&d->mu);
                }
                break;
            }
        if (!old) {
            dn_chan *ch = NULL;
            rc = chan_new(d, rq->collection_id, rq->schema, k, &ch, err);
            if (!rc) {
                ch->next = d->chans;
                d->chans = ch;
                QV_LOG(QV_LOG_INFO, "datanode",
                       "consuming vchannel %s of collection %" PRId64
                       " from position %" PRIu64,
                       ch->vch, ch->coll, (uint64_t)k->position);
            }
        }
        pthread_mutex_unlock(&d->mu);
    }
    return rc;
}

static qv_code rpc_watch(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_dnode *d = ud;
    qv_code rc = atomic_load(&d->stopping)
                     ? qv_fail(err, QV_E_UNAVAILABLE, "datanode is stopping")
                     : watch(d, (const void *)req, err);
    *resp = &mk_status(qv_rpc_call_arena(call), rc, err)->base;
    return QV_OK;
}

static bool listed(const Quiver__Internal__ReleaseDataChannelsRequest *rq,
                   const dn_chan *ch)
{
    if (ch->coll != rq->collection_id)
        return false;
    if (rq->n_vchannels == 0)
        return true;
    for (size_t i = 0; i < rq->n_vchannels; i++)
        if (strcmp(rq->vchannels[i], ch->vch) == 0)
            return true;
    return false;
}

static qv_code rpc_release(qv_rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_dnode *d = ud;
    const Quiver__Internal__ReleaseDataChannelsRequest *rq = (const void *)req;
    dn_chan *gone = NULL;
    pthread_mutex_lock(&d->mu);
    for (dn_chan **p = &d->chans; *p;) {
        dn_chan *ch = *p;
        if (listed(rq, ch)) {
            *p = ch->next;
            atomic_store(&ch->stop, true);
            ch->next = gone;
            gone = ch;
        } else {
            p = &ch->next;
        }
    }
    pthread_mutex_unlock(&d->mu);
    while (gone) {
        dn_chan *ch = gone;
        gone = ch->next;
        QV_LOG(QV_LOG_INFO, "datanode", "released vchannel %s", ch->vch);
        chan_free(ch);
    }
    *resp = &mk_status(qv_rpc_call_arena(call), QV_OK, err)->base;
    return QV_OK;
}

static qv_code rpc_states(qv_rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_dnode *d = ud;
    const Quiver__Internal__GetDataChannelStatesRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__GetDataChannelStatesResponse *r =
        qv_arena_alloc(a, sizeof *r);
    quiver__internal__get_data_channel_states_response__init(r);
    pthread_mutex_lock(&d->mu);
    size_t n = 0;
    for (dn_chan *ch = d->chans; ch; ch = ch->next)
        n++;
    r->channels = qv_arena_alloc(a, (n + 1) * sizeof *r->channels);
    for (dn_chan *ch = d->chans; ch; ch = ch->next) {
        if (rq->collection_id && ch->coll != rq->collection_id)
            continue;
        Quiver__Internal__DataChannelState *s = qv_arena_alloc(a, sizeof *s);
        quiver__internal__data_channel_state__init(s);
        Quiver__Internal__ChannelCheckpoint *k = qv_arena_alloc(a, sizeof *k);
        quiver__internal__channel_checkpoint__init(k);
        s->collection_id = ch->coll;
        s->vchannel = qv_arena_strdup(a, ch->vch);
        k->vchannel = s->vchannel;
        k->pchannel = qv_arena_strdup(a, ch->pch);
        k->collection_id = ch->coll;
        pthread_mutex_lock(&ch->mu);
        k->position = ch->checkpoint;
        s->buffered_rows = ch->buffered;
        s->error = qv_arena_strdup(a, ch->error);
        pthread_mutex_unlock(&ch->mu);
        s->checkpoint = k;
        r->channels[r->n_channels++] = s;
    }
    pthread_mutex_unlock(&d->mu);
    r->status = mk_status(a, QV_OK, err);
    *resp = &r->base;
    return QV_OK;
}

static const qv_rpc_unary_def rpcs[] = {
    {QV_DN_SERVICE "WatchDataChannels",
     &quiver__internal__watch_data_channels_request__descriptor, rpc_watch},
    {QV_DN_SERVICE "ReleaseDataChannels",
     &quiver__internal__release_data_channels_request__descriptor, rpc_release},
    {QV_DN_SERVICE "GetDataChannelStates",
     &quiver__internal__get_data_channel_states_request__descriptor,
     rpc_states},
    {QV_DN_SERVICE "Compact", &quiver__internal__compact_request__descriptor,
     qv_dn__compact},
};

/* ---- lifecycle ----------------------------------------------------------- */

qv_code qv_dnode_create(const qv_dnode_options *opts, qv_dnode **out,
                        qv_err *err)
{
    if (!opts || !opts->kv || !opts->log || !opts->os)
        return qv_fail(err, QV_E_INVALID,
                       "datanode: meta KV, write log and object store are "
                       "required");
    qv_dnode *d = QV_NEW(qv_dnode);
    d->opts = *opts;
    d->root = qv_xstrdup(opts->root ? opts->root : "quiver/");
    d->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    d->advertise = qv_xstrdup(opts->advertise ? opts->advertise : "");
    d->opts.root = d->root;
    d->opts.host = d->host;
    d->opts.advertise = NULL;
    pthread_mutex_init(&d->mu, NULL);
    atomic_init(&d->stopping, false);
    d->coord = qv_coord_link_create(opts->kv, d->root);
    qv_rpc_server_opts so = {.host = d->host,
                             .port = opts->port,
                             .workers = opts->workers ? opts->workers : 4};
    qv_code rc = qv_rpc_server_create(&so, &d->srv, err);
    if (!rc)
        rc = qv_rpc_server_register_unary(d->srv, rpcs,
                                          sizeof rpcs / sizeof rpcs[0], d, err);
    if (rc) {
        qv_dnode_destroy(d);
        return qv_err_prefix(err, "datanode");
    }
    *out = d;
    return QV_OK;
}

qv_code qv_dnode_start(qv_dnode *d, qv_err *err)
{
    qv_code rc = qv_rpc_server_start(d->srv, err);
    if (rc)
        return qv_err_prefix(err, "datanode");
    char a[300];
    qv_rpc_server_advertise(d->srv, d->advertise, a, sizeof a);
    free(d->advertise);
    d->advertise = qv_xstrdup(a);
    qv_kept_session_options ko = {.kv = d->opts.kv,
                                  .root = d->root,
                                  .role = "datanode",
                                  .address = d->advertise,
                                  .ttl_s = d->opts.session_ttl_s};
    rc = qv_kept_session_start(&ko, &d->session, err);
    return rc ? qv_err_prefix(err, "datanode") : QV_OK;
}

int qv_dnode_port(const qv_dnode *d)
{
    return qv_rpc_server_port(d->srv);
}

size_t qv_dnode_channels(qv_dnode *d)
{
    size_t n = 0;
    pthread_mutex_lock(&d->mu);
    for (dn_chan *ch = d->chans; ch; ch = ch->next)
        n += !atomic_load(&ch->done);
    pthread_mutex_unlock(&d->mu);
    return n;
}

void qv_dnode_stop(qv_dnode *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    if (d->srv)
        qv_rpc_server_shutdown(d->srv);
    pthread_mutex_lock(&d->mu);
    dn_chan *all = d->chans;
    d->chans = NULL;
    for (dn_chan *ch = all; ch; ch = ch->next)
        atomic_store(&ch->stop, true);
    pthread_mutex_unlock(&d->mu);
    while (all) {
        dn_chan *ch = all;
        all = ch->next;
        chan_free(ch);
    }
    qv_kept_session_stop(d->session);
    d->session = NULL;
}

void qv_dnode_destroy(qv_dnode *d)
{
    if (!d)
        return;
    qv_dnode_stop(d);
    qv_rpc_server_destroy(d->srv);
    qv_coord_link_destroy(d->coord);
    pthread_mutex_destroy(&d->mu);
    free(d->root);
    free(d->host);
    free(d->advertise);
    free(d);
}
