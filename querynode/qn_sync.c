/* qn_sync.c -- sealed segments on the query node: SyncSegments and the
 * sync worker (qnserver.h, qn_int.h).
 *
 * One worker thread serves every channel in rounds (every 200 ms, or at
 * once when kicked).  For each channel it takes the newest target, loads
 * the channel's L0 delete logs it has not loaded yet, loads every listed
 * sealed segment it does not hold (verified column files, then every L0
 * log of its partition applied), and then:
 *   - a channel whose delegator has not started starts it at the
 *     checkpoint with all of them (qv_delegator_opts.sealed): its reads
 *     wait until then (qv_qn__find);
 *   - a running delegator gets each one by hand-off from its growing copy
 *     (QV_E_CONFLICT: the consumer has not reached the seal yet; the
 *     loaded copy stays pending and is retried next round), by
 *     qv_delegator_replace for a compaction output whose inputs serve, or
 *     added when there is no growing copy;
 *   - sealed segments no longer listed are dropped (compacted away,
 *     released partitions).
 * Then indexes are attached (qn_index.c) and the state is published for
 * SyncSegments replies: serving ids, indexed ids, memory, last error.
 * Each reply also carries the log position the channel has consumed up
 * to (the delegator's checkpoint), below which the coord may trim the
 * write log (coord/coord_dn.c), and says when the delegator stopped
 * because the log lost records it had not read (consumer_lost, with the
 * error as status): the coord then restarts the collection on this node
 * from the current checkpoints, as after a restart.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/log.h"
#include "common/metrics/metrics.h"
#include "proto/rpc_status.h"
#include "querynode/qn_int.h"

typedef Milvus__Proto__Common__Status pb_status;
typedef Quiver__Internal__SegmentInfo seg_info;

qn_target *qv_qn__target_copy(const qn_target *t)
{
    if (!t)
        return NULL;
    size_t len = protobuf_c_message_get_packed_size(&t->base);
    uint8_t *buf = qv_xmalloc(len + 1);
    protobuf_c_message_pack(&t->base, buf);
    qn_target *c =
        quiver__internal__sync_segments_request__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static void target_free(qn_target *t)
{
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
}

/* ---- segment lists ------------------------------------------------------- */

static ssize_t segs_find(const qn_segs *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].id == id)
            return (ssize_t)i;
    return -1;
}

static void segs_push(qn_segs *l, qn_seg s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = qv_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

/* Removes entry i (keeps the order; the reference moves to the caller). */
static qn_seg segs_take(qn_segs *l, size_t i)
{
    qn_seg s = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
    l->n--;
    return s;
}

static void segs_clear(qn_segs *l)
{
    for (size_t i = 0; i < l->n; i++)
        qv_sealed_unref(l->v[i].x);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void l0_free(qn_l0 *l)
{
    qv_delta_release(&l->d);
    free(l->bytes);
    free(l);
}

void qv_qn__chan_free(qn_chan *ch)
{
    if (!ch)
        return;
    if (ch->del)
        qv_delegator_stop(ch->del);
    target_free(ch->next);
    target_free(ch->cur);
    while (ch->l0s) {
        qn_l0 *l = ch->l0s;
        ch->l0s = l->next;
        l0_free(l);
    }
    segs_clear(&ch->pending);
    segs_clear(&ch->served);
    free(ch->serving);
    free(ch->indexed);
    free(ch->vch);
    free(ch->pch);
    pthread_cond_destroy(&ch->cv);
    pthread_mutex_destroy(&ch->mu);
    free(ch);
}

void qv_qn__kick(qv_qnode *q)
{
    pthread_mutex_lock(&q->kick_mu);
    q->kicked = true;
    pthread_cond_broadcast(&q->kick_cv);
    pthread_mutex_unlock(&q->kick_mu);
}

/* ---- memory -------------------------------------------------------------- */

static bool servable(const seg_info *s)
{
    return s && s->level == QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1 &&
           s->rows > 0;
}

/* The resident bytes of a segment: the recorded object bytes, or (none
 * recorded) rows times the schema's row width (variable-width values
 * counted at 64 bytes), plus insert and hide timestamps and the PK map. */
static uint64_t seg_bytes(const qn_coll *c, const seg_info *s)
{
    if (s->bytes)
        return s->bytes;
    uint64_t w = 8 + 8 + 16;
    for (size_t i = 0; c && i < c->nfields; i++) {
        size_t fw = qv_dtype_width(c->specs[i].type, c->specs[i].dim);
        w += fw ? fw : 64;
    }
    return s->rows * w;
}

/* Bytes of the segments every channel serves or holds pending; q->mu
 * held. */
static uint64_t node_memory(qv_qnode *q)
{
    uint64_t used = 0;
    for (qn_coll *c = q->colls; c; c = c->next)
        for (size_t i = 0; i < c->nch; i++) {
            pthread_mutex_lock(&c->chans[i]->mu);
            used += c->chans[i]->memory;
            pthread_mutex_unlock(&c->chans[i]->mu);
        }
    return used;
}

static qv_code over_limit(qv_qnode *q, uint64_t used, uint64_t add,
                          const char *what, qv_err *err)
{
    return qv_fail(err, QV_E_NOMEM,
                   "querynode: loading %s (%" PRIu64 " bytes) on top of the "
                   "%" PRIu64 " bytes served would exceed the memory limit "
                   "of %" PRIu64 " bytes (queryNode.memoryLimit)",
                   what, add, used, q->memory_limit);
}

qv_code qv_qn__check_memory(qv_qnode *q, const qn_coll *c,
                            const qn_target *const *targets, size_t n,
                            qv_err *err)
{
    uint64_t add = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; targets[i] && k < targets[i]->n_segments; k++) {
            const seg_info *s = targets[i]->segments[k]->segment;
            if (servable(s))
                add += seg_bytes(c, s);
        }
    uint64_t used = node_memory(q);
    if (add && used + add > q->memory_limit)
        return over_limit(q, used, add, "the collection's sealed segments",
                          err);
    return QV_OK;
}

/* ---- L0 delete logs ------------------------------------------------------ */

static bool l0_loaded(const qn_chan *ch, int64_t id)
{
    for (qn_l0 *l = ch->l0s; l; l = l->next)
        if (l->id == id)
            return true;
    return false;
}

/* Loads object key of L0 log id (partition part). */
static qv_code l0_load_one(qv_qnode *q, qn_chan *ch, int64_t id, int64_t part,
                           const char *key, qv_err *err)
{
    qv_buf b;
    qv_buf_init(&b, 0);
    qv_code rc = objstore_get(q->opts.os, key, &b, err);
    qn_l0 *l = NULL;
    if (!rc) {
        l = QV_NEW(qn_l0);
        l->id = id;
        l->part = part;
        l->bytes = qv_try_alloc(b.len ? b.len : 1, 1);
        if (!l->bytes)
            rc =
                qv_fail(err, QV_E_NOMEM, "delete log '%s': out of memory", key);
    }
    if (!rc) {
        if (b.len)
            memcpy(l->bytes, b.data, b.len);
        rc = qv_delta_decode(l->bytes, b.len, &l->d, err);
        if (rc)
            qv_err_prefix(err, "%s", key);
    }
    qv_buf_release(&b);
    if (rc) {
        if (l) {
            free(l->bytes);
            free(l);
        }
        return rc;
    }
    l->next = ch->l0s;
    ch->l0s = l;
    return QV_OK;
}

/* Every object of L0 log `info` ("delta_log/{coll}/{part}/0/{log}", one
 * per partition value). */
static qv_code l0_load(qv_qnode *q, int64_t coll, qn_chan *ch,
                       const seg_info *info, qv_err *err)
{
    char prefix[96], tail[48];
    snprintf(prefix, sizeof prefix, "delta_log/%lld/", (long long)coll);
    snprintf(tail, sizeof tail, "/0/%lld", (long long)info->log_id);
    size_t tl = strlen(tail);
    char *token = NULL;
    qv_code rc = QV_OK;
    do {
        objstore_list_page pg;
        rc = objstore_list(q->opts.os, prefix, token, 0, &pg, err);
        free(token);
        token = NULL;
        if (rc)
            break;
        for (size_t i = 0; !rc && i < pg.count; i++) {
            const char *k = pg.entries[i].key;
            size_t kl = strlen(k);
            if (kl <= tl + strlen(prefix) || strcmp(k + kl - tl, tail) != 0)
                continue;
            int64_t part = strtoll(k + strlen(prefix), NULL, 10);
            rc = l0_load_one(q, ch, info->id, part, k, err);
        }
        if (pg.next_token)
            token = qv_xstrdup(pg.next_token);
        objstore_list_page_release(&pg);
    } while (!rc && token);
    free(token);
    return rc;
}

/* Applies the channel's L0 logs of x's partition to x. */
static void l0_apply(const qn_chan *ch, qv_sealed *x, int64_t only_id)
{
    for (qn_l0 *l = ch->l0s; l; l = l->next)
        if ((!only_id || l->id == only_id) &&
            (l->part < 0 || l->part == qv_sealed_partition(x)))
            (void)qv_sealed_apply_delta(x, &l->d);
}

static qv_code sync_l0(qv_qnode *q, qn_coll *c, qn_chan *ch, const qn_target *t,
                       qv_err *err)
{
    for (size_t i = 0; i < t->n_l0; i++) {
        const seg_info *info = t->l0[i];
        if (!info || l0_loaded(ch, info->id))
            continue;
        qv_code rc = l0_load(q, c->id, ch, info, err);
        if (rc)
            return rc;
        /* copies loaded before this log was listed get it too */
        for (size_t k = 0; k < ch->pending.n; k++)
            l0_apply(ch, ch->pending.v[k].x, info->id);
    }
    return QV_OK;
}

/* ---- loading ------------------------------------------------------------- */

static const Quiver__Internal__SegmentTarget *target_entry(const qn_target *t,
                                                           int64_t id)
{
    for (size_t i = 0; t && i < t->n_segments; i++)
        if (t->segments[i]->segment && t->segments[i]->segment->id == id)
            return t->segments[i];
    return NULL;
}

/* Loads every servable segment of t that is neither served nor pending. */
static qv_code load_new(qv_qnode *q, qn_coll *c, qn_chan *ch,
                        const qn_target *t, uint64_t *used, qv_err *err)
{
    qv_seg_schema schema = {.fields = c->specs,
                            .nfields = c->nfields,
                            .pk_field_id = c->pk_field_id};
    for (size_t i = 0; t && i < t->n_segments; i++) {
        const seg_info *s = t->segments[i]->segment;
        if (!servable(s) || segs_find(&ch->served, s->id) >= 0 ||
            segs_find(&ch->pending, s->id) >= 0)
            continue;
        if (!q->opts.os)
            return qv_fail(err, QV_E_INVALID,
                           "querynode: segment %lld: no object store "
                           "configured",
                           (long long)s->id);
        uint64_t bytes = seg_bytes(c, s);
        if (*used + bytes > q->memory_limit) {
            char what[64];
            snprintf(what, sizeof what, "segment %lld", (long long)s->id);
            return over_limit(q, *used, bytes, what, err);
        }
        qv_sealed_source src = {.os = q->opts.os,
                                .collection_id = c->id,
                                .partition_id = s->partition_id,
                                .segment_id = s->id,
                                .log_id = s->log_id,
                                .cache_dir = q->cache_dir};
        qv_sealed *x;
        qv_code rc = qv_sealed_load(&src, &schema, &x, err);
        if (rc)
            return qv_err_prefix(err, "querynode: loading segment");
        l0_apply(ch, x, 0);
        segs_push(&ch->pending, (qn_seg){.id = s->id,
                                         .partition = s->partition_id,
                                         .rows = qv_sealed_rows(x),
                                         .bytes = bytes,
                                         .x = x});
        *used += bytes;
    }
    return QV_OK;
}

/* Starts the delegator at the checkpoint with every pending segment. */
static qv_code start(qv_qnode *q, qn_coll *c, qn_chan *ch, qv_err *err)
{
    size_t n = ch->pending.n;
    qv_sealed **xs = QV_NEW_ARRAY(qv_sealed *, n ? n : 1);
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        xs[i] = ch->pending.v[i].x;
        rows += ch->pending.v[i].rows;
    }
    qv_delegator_opts o = {
        .log = q->opts.log,
        .pchannel = ch->pch,
        .from = ch->from,
        .shard = {.collection_id = c->id,
                  .vchannel = ch->vch,
                  .schema = {.fields = c->specs,
                             .nfields = c->nfields,
                             .pk_field_id = c->pk_field_id}},
        .sealed = xs,
        .nsealed = n,
    };
    qv_delegator *d;
    qv_code rc = qv_delegator_start(&o, &d, err);
    free(xs);
    if (rc)
        return rc;
    while (ch->pending.n)
        segs_push(&ch->served, segs_take(&ch->pending, 0));
    if (ch->from == WAL_EARLIEST)
        QV_LOG(QV_LOG_INFO, "querynode",
               "vchannel %s starts at the log's start with %zu sealed "
               "segment(s), %" PRIu64 " rows",
               ch->vch, n, rows);
    else
        QV_LOG(QV_LOG_INFO, "querynode",
               "vchannel %s starts at checkpoint position %" PRIu64
               " with %zu sealed segment(s), %" PRIu64 " rows",
               ch->vch, (uint64_t)ch->from, n, rows);
    pthread_mutex_lock(&ch->mu);
    ch->del = d;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
    return QV_OK;
}

/* Serving inputs of a compaction output (ids into ins, at most cap). */
static size_t served_inputs(const qn_chan *ch, const seg_info *s, int64_t *ins,
                            size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_compacted_from && n < cap; i++)
        if (segs_find(&ch->served, s->compacted_from[i]) >= 0)
            ins[n++] = s->compacted_from[i];
    return n;
}

/* Hands the pending segments over to the running delegator. */
static qv_code hand_over(qn_chan *ch, const qn_target *t, qv_err *err)
{
    for (size_t i = 0; i < ch->pending.n;) {
        qn_seg *p = &ch->pending.v[i];
        const Quiver__Internal__SegmentTarget *st = target_entry(t, p->id);
        if (!st) { /* no longer wanted */
            qv_sealed_unref(segs_take(&ch->pending, i).x);
            continue;
        }
        int64_t ins[64];
        size_t nin = served_inputs(ch, st->segment, ins, 64);
        qv_err e = {0};
        qv_code rc = nin ? qv_delegator_replace(ch->del, p->x, ins, nin, &e)
                         : qv_delegator_handoff(ch->del, p->x, &e);
        if (rc == QV_E_CONFLICT) {
            /* a sealed growing copy that differs will not change by
             * waiting: say so once (the growing copy keeps serving) */
            bool stuck = strstr(e.msg, "still growing") == NULL;
            QV_LOG(stuck && !p->warned ? QV_LOG_WARN : QV_LOG_DEBUG,
                   "querynode", "segment %lld not serving yet: %s",
                   (long long)p->id, e.msg);
            p->warned = p->warned || stuck;
            i++;
            continue;
        }
        if (rc && rc != QV_E_EXISTS) {
            *err = e;
            return rc;
        }
        for (size_t k = 0; !rc && k < nin; k++) {
            ssize_t j = segs_find(&ch->served, ins[k]);
            if (j >= 0)
                qv_sealed_unref(segs_take(&ch->served, (size_t)j).x);
        }
        segs_push(&ch->served, segs_take(&ch->pending, i));
    }
    return QV_OK;
}

/* Drops served segments the target no longer lists. */
static void drop_stale(qn_chan *ch, const qn_target *t)
{
    for (size_t i = 0; i < ch->served.n;) {
        const Quiver__Internal__SegmentTarget *st =
            target_entry(t, ch->served.v[i].id);
        if (st && servable(st->segment)) {
            i++;
            continue;
        }
        qv_err e = {0};
        qn_seg s = segs_take(&ch->served, i);
        /* not found: a DropPartition in the log removed it already */
        qv_code rc = qv_delegator_drop_segment(ch->del, s.id, &e);
        if (rc && rc != QV_E_NOT_FOUND)
            QV_LOG(QV_LOG_WARN, "querynode", "dropping segment %lld: %s",
                   (long long)s.id, e.msg);
        qv_sealed_unref(s.x);
    }
}

/* True when every index the target lists is attached. */
static bool attach_indexes(qv_qnode *q, qn_coll *c, qn_chan *ch,
                           const qn_target *t)
{
    bool all = true;
    for (size_t i = 0; i < ch->served.n; i++) {
        qn_seg *s = &ch->served.v[i];
        const Quiver__Internal__SegmentTarget *st = target_entry(t, s->id);
        s->indexed = false;
        if (!st || st->n_indexes == 0)
            continue;
        qv_err e = {0};
        bool done = false;
        if (qv_qn__attach_indexes(q, c, s->x, st, &done, &e))
            QV_LOG(QV_LOG_WARN, "querynode", "segment %lld: index: %s",
                   (long long)s->id, e.msg);
        s->indexed = done;
        all = all && s->indexed;
    }
    return all;
}

static void publish(qn_chan *ch, uint64_t version, qv_code rc, const qv_err *e)
{
    pthread_mutex_lock(&ch->mu);
    free(ch->serving);
    free(ch->indexed);
    size_t n = ch->served.n;
    ch->serving = QV_NEW_ARRAY(int64_t, n ? n : 1);
    ch->indexed = QV_NEW_ARRAY(int64_t, n ? n : 1);
    ch->nserving = ch->nindexed = 0;
    ch->memory = ch->sealed_rows = 0;
    for (size_t i = 0; i < n; i++) {
        const qn_seg *s = &ch->served.v[i];
        ch->serving[ch->nserving++] = s->id;
        if (s->indexed)
            ch->indexed[ch->nindexed++] = s->id;
        ch->memory += s->bytes;
        ch->sealed_rows += s->rows;
    }
    for (size_t i = 0; i < ch->pending.n; i++)
        ch->memory += ch->pending.v[i].bytes;
    if (version > ch->done)
        ch->done = version;
    ch->error = rc;
    snprintf(ch->error_msg, sizeof ch->error_msg, "%s", rc ? e->msg : "");
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

static void sync_chan(qv_qnode *q, qn_coll *c, qn_chan *ch, uint64_t *used)
{
    pthread_mutex_lock(&ch->mu);
    qn_target *nt = ch->next;
    ch->next = NULL;
    pthread_mutex_unlock(&ch->mu);
    if (nt) {
        target_free(ch->cur);
        ch->cur = nt;
        ch->settled = false;
    }
    const qn_target *t = ch->cur;
    if (ch->settled && ch->del)
        return; /* nothing changed since a round that left nothing to do */
    qv_err e = {0}, e2 = {0};
    qv_code rc = t ? sync_l0(q, c, ch, t, &e) : QV_OK;
    if (!rc)
        rc = load_new(q, c, ch, t, used, &e);
    if (!ch->del) {
        if (!rc)
            rc = start(q, c, ch, &e);
    } else if (t) {
        /* what did load hands over even when another load failed */
        qv_code hrc = hand_over(ch, t, &e2);
        drop_stale(ch, t);
        if (!rc && hrc) {
            rc = hrc;
            e = e2;
        }
    }
    bool indexed = true;
    if (t && ch->del)
        indexed = attach_indexes(q, c, ch, t);
    if (rc && rc != ch->error)
        QV_LOG(QV_LOG_WARN, "querynode", "vchannel %s: %s", ch->vch, e.msg);
    ch->settled = !rc && ch->del && ch->pending.n == 0 && indexed;
    publish(ch, t ? t->version : 0, rc, &e);
}

static void update_metrics(qv_qnode *q)
{
    static qv_metric_family *log_rows, *sealed_rows, *sealed_segs;
    if (!log_rows) {
        sealed_segs =
            qv_metrics_gauge("quiver_querynode_sealed_segments",
                             "sealed segments the query node serves", NULL);
        log_rows = qv_metrics_gauge(
            "quiver_querynode_log_rows",
            "rows the query node's delegators applied from the write log",
            NULL);
        sealed_rows = qv_metrics_gauge(
            "quiver_querynode_sealed_rows",
            "rows of the sealed segments the query node serves", NULL);
    }
    uint64_t lr = 0, sr = 0, ns = 0;
    for (qn_coll *c = q->colls; c; c = c->next)
        for (size_t i = 0; i < c->nch; i++) {
            qn_chan *ch = c->chans[i];
            ns += ch->served.n;
            for (size_t k = 0; k < ch->served.n; k++)
                sr += ch->served.v[k].rows;
            if (ch->del) {
                qv_shard_stats st;
                qv_delegator_stats(ch->del, &st);
                lr += st.rows;
            }
        }
    if (log_rows)
        qv_metric_set(log_rows, NULL, (double)lr);
    if (sealed_rows)
        qv_metric_set(sealed_rows, NULL, (double)sr);
    if (sealed_segs)
        qv_metric_set(sealed_segs, NULL, (double)ns);
}

void *qv_qn__sync_main(void *arg)
{
    qv_qnode *q = arg;
    while (!q->stopping) {
        pthread_mutex_lock(&q->kick_mu);
        if (!q->kicked) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 200 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&q->kick_cv, &q->kick_mu, &dl);
        }
        q->kicked = false;
        pthread_mutex_unlock(&q->kick_mu);
        if (q->stopping)
            break;
        pthread_rwlock_rdlock(&q->mu);
        uint64_t used = node_memory(q);
        for (qn_coll *c = q->colls; c && !q->stopping; c = c->next)
            for (size_t i = 0; i < c->nch; i++)
                sync_chan(q, c, c->chans[i], &used);
        update_metrics(q);
        pthread_rwlock_unlock(&q->mu);
    }
    return NULL;
}

/* ---- SyncSegments -------------------------------------------------------- */

static pb_status *mk_status(qv_arena *a, qv_code rc, const char *msg)
{
    pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(
        st, rc, QV_SUBJ_NONE,
        rc ? qv_arena_strdup(a, msg && msg[0] ? msg : qv_code_name(rc)) : NULL);
    return st;
}

static int64_t *arena_ids(qv_arena *a, const int64_t *v, size_t n)
{
    int64_t *out = qv_arena_alloc(a, (n ? n : 1) * sizeof *out);
    if (n)
        memcpy(out, v, n * sizeof *out);
    return out;
}

/* Where the channel's consumer stands in the log (SyncSegmentsResponse
 * consumed_*): a running delegator's checkpoint (after its last applied
 * time tick; the records it read past it are needed again only by a
 * restart, which resumes there), else the checkpoint it will start at; a
 * channel given no checkpoint (the log's start) cannot tell.  ch->mu
 * held. */
static void consumed(qn_chan *ch, protobuf_c_boolean *known, uint64_t *pos)
{
    *known = false;
    *pos = 0;
    if (ch->del) {
        wal_pos p;
        qv_ts tick;
        qv_delegator_checkpoint(ch->del, &p, &tick);
        if (p != WAL_EARLIEST && p != WAL_LATEST) {
            *known = true;
            *pos = p;
        }
    } else if (ch->from != WAL_EARLIEST && ch->from != WAL_LATEST) {
        *known = true;
        *pos = ch->from;
    }
}

qv_code qv_qn__sync_segments(qv_rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)err;
    qv_qnode *q = ud;
    const qn_target *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__SyncSegmentsResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__sync_segments_response__init(r);
    *resp = &r->base;
    pthread_rwlock_rdlock(&q->mu);
    qn_chan *ch = qv_qn__chan(q, rq->collection_id, rq->vchannel, NULL);
    if (!ch) {
        pthread_rwlock_unlock(&q->mu);
        char m[400];
        snprintf(m, sizeof m,
                 "vchannel %s of collection %lld is not watched by this "
                 "query node",
                 rq->vchannel, (long long)rq->collection_id);
        r->status = mk_status(a, QV_E_NOT_READY, m);
        return QV_OK;
    }
    pthread_mutex_lock(&ch->mu);
    /* version 0 only asks how the channel stands (the coord's position
     * refresh): it is never taken as a target */
    bool take =
        rq->version > ch->version || (rq->version && !ch->next && !ch->cur);
    if (take) {
        target_free(ch->next);
        ch->next = qv_qn__target_copy(rq);
        ch->version = rq->version;
    }
    pthread_mutex_unlock(&ch->mu);
    if (rq->version)
        qv_qn__kick(q);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 2;
    pthread_mutex_lock(&ch->mu);
    while (ch->done < rq->version && !q->stopping &&
           pthread_cond_timedwait(&ch->cv, &ch->mu, &dl) == 0)
        ;
    r->version = ch->done;
    r->serving = arena_ids(a, ch->serving, ch->nserving);
    r->n_serving = ch->nserving;
    r->indexed = arena_ids(a, ch->indexed, ch->nindexed);
    r->n_indexed = ch->nindexed;
    r->memory_bytes = ch->memory;
    consumed(ch, &r->consumed_known, &r->consumed_position);
    r->status = mk_status(a, ch->error, ch->error_msg);
    char lost[1024];
    if (ch->del && qv_code_primary(qv_delegator_failure(
                       ch->del, lost, sizeof lost)) == QV_E_COMPACTED) {
        /* the coord restarts the channel from its checkpoint */
        r->consumer_lost = true;
        r->status = mk_status(a, QV_E_COMPACTED, lost);
    }
    pthread_mutex_unlock(&ch->mu);
    pthread_rwlock_unlock(&q->mu);
    return QV_OK;
}
