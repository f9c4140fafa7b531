/* qnserver.c -- the query node's lifecycle and channel assignment
 * (WatchChannels / ReleaseChannels); see qnserver.h. */
#include "querynode/qnserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/convert_fielddata.h"
#include "proto/rpc_status.h"
#include "querynode/qn_int.h"

typedef Milvus__Proto__Common__Status pb_status;

static pb_status *mk_status(qv_arena *a, qv_code rc, qv_subject what,
                            const qv_err *err)
{
    pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, rc, what,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    return st;
}

qn_chan *qv_qn__chan(qv_qnode *q, int64_t coll, const char *vch, qn_coll **out)
{
    for (qn_coll *c = q->colls; c; c = c->next) {
        if (c->id != coll)
            continue;
        for (size_t i = 0; i < c->nch; i++)
            if (strcmp(c->chans[i]->vch, vch) == 0) {
                if (out)
                    *out = c;
                return c->chans[i];
            }
    }
    return NULL;
}

qv_delegator *qv_qn__find(qv_qnode *q, int64_t coll, const char *vch,
                          qn_coll **out)
{
    qn_chan *ch = qv_qn__chan(q, coll, vch, out);
    if (!ch)
        return NULL;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&ch->mu);
    while (!ch->del && !q->stopping &&
           pthread_cond_timedwait(&ch->cv, &ch->mu, &dl) == 0)
        ;
    qv_delegator *d = ch->del;
    pthread_mutex_unlock(&ch->mu);
    return d;
}

static void coll_free(qn_coll *c)
{
    for (size_t i = 0; i < c->nch; i++)
        qv_qn__chan_free(c->chans[i]);
    free(c->chans);
    free(c->specs);
    if (c->schema)
        protobuf_c_message_free_unpacked(&c->schema->base, NULL);
    free(c);
}

static qn_chan *chan_new(const char *vch, const char *pch)
{
    qn_chan *ch = QV_NEW(qn_chan);
    ch->vch = qv_xstrdup(vch);
    ch->pch = qv_xstrdup(pch);
    ch->from = WAL_EARLIEST;
    pthread_mutex_init(&ch->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ch->cv, &ca);
    pthread_condattr_destroy(&ca);
    return ch;
}

/* A private copy of the schema and the field specs built from it. */
static qv_code coll_new(const Quiver__Internal__WatchChannelsRequest *rq,
                        qn_coll **out, qv_err *err)
{
    if (!rq->schema || rq->n_vchannels == 0 ||
        rq->n_vchannels != rq->n_pchannels)
        return qv_fail(err, QV_E_INVALID,
                       "watch channels: schema and matching vchannels and "
                       "pchannels are required");
    if ((rq->n_checkpoints && rq->n_checkpoints != rq->n_vchannels) ||
        (rq->n_targets && rq->n_targets != rq->n_vchannels))
        return qv_fail(err, QV_E_INVALID,
                       "watch channels: %zu checkpoints and %zu targets for "
                       "%zu vchannels",
                       rq->n_checkpoints, rq->n_targets, rq->n_vchannels);
    qn_coll *c = QV_NEW(qn_coll);
    c->id = rq->collection_id;
    size_t len = protobuf_c_message_get_packed_size(&rq->schema->base);
    uint8_t *buf = qv_xmalloc(len + 1);
    protobuf_c_message_pack(&rq->schema->base, buf);
    c->schema =
        milvus__proto__schema__collection_schema__unpack(NULL, len, buf);
    free(buf);
    qv_code rc = QV_OK;
    if (!c->schema)
        rc = qv_fail(err, QV_E_INVALID, "watch channels: bad schema");
    size_t nf = c->schema ? c->schema->n_fields : 0;
    c->specs = qv_xmalloc((nf + 1) * sizeof(qv_field_spec));
    for (size_t i = 0; !rc && i < nf; i++) {
        rc = qv_field_spec_from_schema(c->schema->fields[i], &c->specs[i], err);
        if (c->schema->fields[i]->is_primary_key)
            c->pk_field_id = c->schema->fields[i]->fieldid;
    }
    c->nfields = nf;
    c->chans = qv_xmalloc(rq->n_vchannels * sizeof(qn_chan *));
    for (size_t i = 0; i < rq->n_vchannels; i++) {
        qn_chan *ch = chan_new(rq->vchannels[i], rq->pchannels[i]);
        const Quiver__Internal__ChannelCheckpoint *ck =
            rq->n_checkpoints ? rq->checkpoints[i] : NULL;
        if (ck && ck->pchannel && ck->pchannel[0] &&
            strcmp(ck->pchannel, rq->pchannels[i]) == 0)
            ch->from = ck->position;
        ch->next = rq->n_targets ? qv_qn__target_copy(rq->targets[i]) : NULL;
        if (ch->next)
            ch->version = ch->next->version;
        c->chans[i] = ch;
    }
    c->nch = rq->n_vchannels;
    if (rc) {
        coll_free(c);
        return rc;
    }
    *out = c;
    return QV_OK;
}

static qv_code watch(qv_qnode *q,
                     const Quiver__Internal__WatchChannelsRequest *rq,
                     qv_err *err)
{
    for (qn_coll *c = q->colls; c; c = c->next)
        if (c->id == rq->collection_id)
            return QV_OK; /* already watched */
    qn_coll *c = NULL;
    qv_code rc = coll_new(rq, &c, err);
    if (rc)
        return rc;
    rc = qv_qn__check_memory(q, c, (const qn_target *const *)rq->targets,
                             rq->n_targets, err);
    if (rc) {
        coll_free(c);
        return rc;
    }
    c->next = q->colls;
    q->colls = c;
    QV_LOG(QV_LOG_INFO, "querynode",
           "watching %zu channel(s) of collection %lld (from %s)", c->nch,
           (long long)c->id,
           rq->n_checkpoints ? "their checkpoints" : "the log's start");
    qv_qn__kick(q);
    return QV_OK;
}

static qv_code rpc_watch(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_qnode *q = ud;
    pthread_rwlock_wrlock(&q->mu);
    qv_code rc = watch(q, (const void *)req, err);
    pthread_rwlock_unlock(&q->mu);
    *resp = &mk_status(qv_rpc_call_arena(call), rc, QV_SUBJ_NONE, err)->base;
    return QV_OK;
}

static qv_code rpc_release(qv_rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_qnode *q = ud;
    const Quiver__Internal__ReleaseChannelsRequest *rq = (const void *)req;
    pthread_rwlock_wrlock(&q->mu);
    for (qn_coll **p = &q->colls; *p; p = &(*p)->next)
        if ((*p)->id == rq->collection_id) {
            qn_coll *c = *p;
            *p = c->next;
            coll_free(c);
            break;
        }
    pthread_rwlock_unlock(&q->mu);
    *resp = &mk_status(qv_rpc_call_arena(call), QV_OK, QV_SUBJ_NONE, err)->base;
    return QV_OK;
}

static const qv_rpc_unary_def rpcs[] = {
    {QV_QN_SERVICE "WatchChannels",
     &quiver__internal__watch_channels_request__descriptor, rpc_watch},
    {QV_QN_SERVICE "ReleaseChannels",
     &quiver__internal__release_channels_request__descriptor, rpc_release},
    {QV_QN_SERVICE "Search",
     &quiver__internal__shard_search_request__descriptor, qv_qn__search},
    {QV_QN_SERVICE "SearchBatch",
     &quiver__internal__shard_search_batch_request__descriptor,
     qv_qn__search_batch},
    {QV_QN_SERVICE "Query", &quiver__internal__shard_query_request__descriptor,
     qv_qn__query},
    {QV_QN_SERVICE "QueryBatch",
     &quiver__internal__shard_query_batch_request__descriptor,
     qv_qn__query_batch},
    {QV_QN_SERVICE "SyncSegments",
     &quiver__internal__sync_segments_request__descriptor,
     qv_qn__sync_segments},
};

/* mkdir -p of path. */
static qv_code make_dirs(const char *path, qv_err *err)
{
    char *p = qv_xstrdup(path);
    qv_code rc = QV_OK;
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            rc = qv_fail_errno(err, QV_E_IO,
                               "querynode: cannot create cache directory '%s'",
                               p);
        if (end || rc)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}

qv_code qv_qnode_create(const qv_qnode_options *opts, qv_qnode **out,
                        qv_err *err)
{
    if (!opts || !opts->kv || !opts->log)
        return qv_fail(err, QV_E_INVALID,
                       "querynode: meta KV and write log "
                       "are required");
    if (opts->cache_dir && opts->cache_dir[0]) {
        qv_code mrc = make_dirs(opts->cache_dir, err);
        if (mrc)
            return mrc;
    }
    qv_qnode *q = QV_NEW(qv_qnode);
    q->opts = *opts;
    q->root = qv_xstrdup(opts->root ? opts->root : "quiver/");
    q->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    q->advertise = qv_xstrdup(opts->advertise ? opts->advertise : "");
    q->cache_dir = opts->cache_dir && opts->cache_dir[0]
                       ? qv_xstrdup(opts->cache_dir)
                       : NULL;
    q->memory_limit = opts->memory_limit;
    if (!q->memory_limit) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        q->memory_limit = pages > 0 && psz > 0
                              ? (uint64_t)pages * (uint64_t)psz / 10 * 9
                              : UINT64_MAX;
    }
    q->opts.cache_dir = q->cache_dir;
    pthread_mutex_init(&q->kick_mu, NULL);
    pthread_cond_init(&q->kick_cv, NULL);
    pthread_rwlock_init(&q->mu, NULL);
    qv_rpc_server_opts so = {.host = q->host,
                             .port = opts->port,
                             .workers = opts->workers ? opts->workers : 4};
    qv_code rc = qv_rpc_server_create(&so, &q->srv, err);
    if (!rc)
        rc = qv_rpc_server_register_unary(q->srv, rpcs,
                                          sizeof rpcs / sizeof rpcs[0], q, err);
    if (rc) {
        qv_qnode_destroy(q);
        return qv_err_prefix(err, "querynode");
    }
    *out = q;
    return QV_OK;
}

qv_code qv_qnode_start(qv_qnode *q, qv_err *err)
{
    qv_code rc = qv_rpc_server_start(q->srv, err);
    if (rc)
        return qv_err_prefix(err, "querynode");
    char a[300];
    qv_rpc_server_advertise(q->srv, q->advertise, a, sizeof a);
    free(q->advertise);
    q->advertise = qv_xstrdup(a);
    qv_kept_session_options ko = {.kv = q->opts.kv,
                                  .root = q->root,
                                  .role = "querynode",
                                  .address = q->advertise,
                                  .ttl_s = q->opts.session_ttl_s};
    rc = qv_kept_session_start(&ko, &q->session, err);
    if (rc)
        return qv_err_prefix(err, "querynode");
    if (pthread_create(&q->syncer, NULL, qv_qn__sync_main, q) != 0)
        return qv_fail(err, QV_E_INTERNAL,
                       "querynode: cannot start the sync worker");
    q->syncer_started = true;
    return QV_OK;
}

int qv_qnode_port(const qv_qnode *q)
{
    return qv_rpc_server_port(q->srv);
}

size_t qv_qnode_channels(qv_qnode *q)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&q->mu);
    for (qn_coll *c = q->colls; c; c = c->next)
        n += c->nch;
    pthread_rwlock_unlock(&q->mu);
    return n;
}

void qv_qnode_rows(qv_qnode *q, uint64_t *log_rows, uint64_t *sealed_rows)
{
    uint64_t lr = 0, sr = 0;
    pthread_rwlock_rdlock(&q->mu);
    for (qn_coll *c = q->colls; c; c = c->next)
        for (size_t i = 0; i < c->nch; i++) {
            qn_chan *ch = c->chans[i];
            pthread_mutex_lock(&ch->mu);
            qv_delegator *d = ch->del;
            sr += ch->sealed_rows;
            pthread_mutex_unlock(&ch->mu);
            if (!d)
                continue;
            qv_shard_stats st;
            qv_delegator_stats(d, &st);
            lr += st.rows;
        }
    pthread_rwlock_unlock(&q->mu);
    *log_rows = lr;
    *sealed_rows = sr;
}

void qv_qnode_stop(qv_qnode *q)
{
    if (!q)
        return;
    q->stopping = true;
    /* reads waiting for a channel to start give up now */
    pthread_rwlock_rdlock(&q->mu);
    for (qn_coll *c = q->colls; c; c = c->next)
        for (size_t i = 0; i < c->nch; i++) {
            pthread_mutex_lock(&c->chans[i]->mu);
            pthread_cond_broadcast(&c->chans[i]->cv);
            pthread_mutex_unlock(&c->chans[i]->mu);
        }
    pthread_rwlock_unlock(&q->mu);
    if (q->srv)
        qv_rpc_server_shutdown(q->srv);
    if (q->syncer_started) {
        qv_qn__kick(q);
        pthread_join(q->syncer, NULL);
        q->syncer_started = false;
    }
    qv_kept_session_stop(q->session);
    q->session = NULL;
    pthread_rwlock_wrlock(&q->mu);
    while (q->colls) {
        qn_coll *c = q->colls;
        q->colls = c->next;
        coll_free(c);
    }
    pthread_rwlock_unlock(&q->mu);
}

void qv_qnode_destroy(qv_qnode *q)
{
    if (!q)
        return;
    qv_qnode_stop(q);
    qv_rpc_server_destroy(q->srv);
    pthread_rwlock_destroy(&q->mu);
    pthread_mutex_destroy(&q->kick_mu);
    pthread_cond_destroy(&q->kick_cv);
    free(q->cache_dir);
    free(q->root);
    free(q->host);
    free(q->advertise);
    free(q);
}
