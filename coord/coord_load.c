/* coord_load.c -- load / release, shard leaders and serving targets
 * (DESIGN §1, §5; the segment lifecycle contract, TARGET RULE).
 *
 * A loaded collection has a record "<root>meta/load/<coll id>" in meta KV
 * (value: its database name, then "\n" and the loaded partition ids,
 * comma-separated, when only some partitions are loaded), so a restarted or
 * new active coord loads it again.  The coord assigns every vchannel of a
 * loaded collection to one live query node (sessions
 * "<root>session/querynode-<id>") with QueryNodeService/WatchChannels,
 * which carries each vchannel's checkpoint (read first) and its initial
 * target (read after: every segment flushed before the checkpoint is in
 * it).
 *
 * Targets: the FLUSHED L1 segments of the vchannel with rows > 0 in loaded
 * partitions, a compaction output whose builds for every live index are not
 * all FINISHED (segments with rows >= indexCoord.minSegmentRows) replaced by
 * its inputs, plus every FLUSHED L0 log of the vchannel; each entry lists the
 * FINISHED builds of live indexes.  Every second the keeper (its own
 * thread, started from the ticker) recomputes each loaded vchannel's
 * target and sends SyncSegments when it changed (a new version) or when
 * the node's last answer showed it incomplete; the answers (serving and
 * indexed ids, a load error) drive GetLoadingProgress: 100 only when every
 * target segment serves and every listed index is attached, otherwise the
 * share of rows done (serving, and indexed where indexes are listed),
 * capped at 99.  A node's load error (e.g. over its memory limit) is the
 * progress call's status.  Each answer also says up to which log position
 * the node consumed the vchannel; the log trimming (coord_dn.c) never
 * passes it (qv_coord__load_consumed); while the target is unchanged the
 * keeper asks for it every trim interval (at most 5 s) with a version-0
 * SyncSegments, which carries no target.  A node whose
 * consumer lost records anyway (a trim by hand, the log's retention) says
 * so (consumer_lost): the collection is released on it and watched again
 * from the current checkpoints.
 *
 * The RPC handlers are in svc_load.c (coord_load.h is what they use).
 * This is the single-replica minimum: one query node serves every shard of
 * a collection; collections go to the live node serving the fewest.
 * Threading: load_mu guards the assignments and is held only around
 * state changes (and the rare WatchChannels of an assignment); target
 * syncs, which wait for query nodes, are serialized by sync_mu, taken
 * before load_mu.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord_int.h"
#include "coord/coord_load.h"
#include "coord/segmeta.h"
#include "internal/querynode.pb-c.h"
#include "proto/rpc_status.h"

#define QN_SERVICE "/quiver.internal.QueryNodeService/"

typedef Quiver__Internal__SyncSegmentsRequest target;
typedef Quiver__Internal__SegmentTarget seg_target;

/* What the coord last sent a vchannel and what the node answered. */
typedef struct chst {
    uint64_t hash, version;
    bool replied, complete;
    size_t nsegs;
    int64_t *seg, *part;
    uint64_t *rows;
    bool *has_idx;
    size_t nserving, nindexed;
    int64_t *serving, *indexed;
    qv_code err_code;
    char *err;
    /* The node's consumed log position (SyncSegmentsResponse consumed_*;
     * log trimming, coord_dn.c) and when it last answered (monotonic
     * ms; a target sync is re-sent to refresh it). */
    bool pos_known;
    uint64_t pos, pos_ms;
} chst;

typedef struct qv__load {
    struct qv__load *next;
    int64_t coll;
    char *session; /* the query node's session key */
    char *address;
    size_t nch;
    chst *ch;
} qv__load;

void qv_coord__load_key(qv_coord *c, int64_t coll, char *buf, size_t cap)
{
    snprintf(buf, cap, "%smeta/load/%" PRId64, c->root, coll);
}

static bool parse_address(const char *json, char *buf, size_t cap)
{
    const char *p = strstr(json, "\"address\"");
    if (!p || !(p = strchr(p + 9, '"')))
        return false;
    p++;
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) + 1 > cap || e == p)
        return false;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return true;
}

static size_t loads_on(qv_coord *c, const char *session);

/* Live query nodes: their session keys and addresses (arena). */
qv_code qv_coord__load_nodes(qv_coord *c, qv_arena *a, char ***keys,
                             char ***addrs, size_t *n, qv_err *err)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%ssession/querynode-", c->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(c->opts.kv, prefix, strlen(prefix), NULL, &r, err);
    if (rc)
        return rc;
    *keys = qv_arena_alloc(a, (r.n + 1) * sizeof(char *));
    *addrs = qv_arena_alloc(a, (r.n + 1) * sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < r.n; i++) {
        char ad[300];
        if (!parse_address((const char *)r.kvs[i].value, ad, sizeof ad))
            continue;
        char *k = qv_arena_alloc(a, r.kvs[i].key_len + 1);
        memcpy(k, r.kvs[i].key, r.kvs[i].key_len);
        k[r.kvs[i].key_len] = '\0';
        (*keys)[*n] = k;
        (*addrs)[(*n)++] = qv_arena_strdup(a, ad);
    }
    metakv_kvs_release(&r);
    return QV_OK;
}

/* The live query node serving the fewest collections (ties: the first in
 * key order): its session key and address.  load_mu held. */
static qv_code pick_node(qv_coord *c, char *key, size_t kcap, char *addr,
                         size_t acap, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    char **keys, **addrs;
    size_t n = 0;
    qv_code rc = qv_coord__load_nodes(c, &a, &keys, &addrs, &n, err);
    if (!rc)
        rc = qv_fail(err, QV_E_NOT_READY, "no query node is running");
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (strlen(keys[i]) >= kcap || strlen(addrs[i]) >= acap)
            continue;
        size_t k = loads_on(c, keys[i]);
        if (k < best) {
            best = k;
            snprintf(key, kcap, "%s", keys[i]);
            snprintf(addr, acap, "%s", addrs[i]);
            rc = QV_OK;
        }
    }
    qv_arena_release(&a);
    return rc;
}

/* "<root>meta/loadnode/<coll>": the session key of the query node serving
 * coll, so a new active coord keeps the assignment (and can release it). */
static void node_key(qv_coord *c, int64_t coll, char *buf, size_t cap)
{
    snprintf(buf, cap, "%smeta/loadnode/%" PRId64, c->root, coll);
}

/* The recorded node of coll when its session is alive: key and address. */
static bool recorded_node(qv_coord *c, int64_t coll, char *key, size_t kcap,
                          char *addr, size_t acap)
{
    char nk[600];
    node_key(c, coll, nk, sizeof nk);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err e = {0};
    if (metakv_get(c->opts.kv, nk, strlen(nk), &r, &e) || r.n == 0 ||
        r.kvs[0].value_len >= kcap) {
        metakv_kvs_release(&r);
        return false;
    }
    memcpy(key, r.kvs[0].value, r.kvs[0].value_len);
    key[r.kvs[0].value_len] = '\0';
    metakv_kvs_release(&r);
    bool ok = false;
    if (!metakv_get(c->opts.kv, key, strlen(key), &r, &e) && r.n > 0) {
        char *json =
            qv_xstrndup((const char *)r.kvs[0].value, r.kvs[0].value_len);
        ok = parse_address(json, addr, acap);
        free(json);
    }
    metakv_kvs_release(&r);
    return ok;
}

static bool session_alive(qv_coord *c, const char *key)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_err e = {0};
    qv_code rc = metakv_get(c->opts.kv, key, strlen(key), &r, &e);
    if (rc == QV_E_NOT_FOUND)
        return false;
    if (rc)
        return true; /* cannot tell: keep the assignment */
    bool alive = r.n > 0;
    metakv_kvs_release(&r);
    return alive;
}

/* One unary call to a query node; *resp lives on a. */
static qv_code call_qn(const char *addr, const char *method,
                       const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *rdesc, qv_arena *a,
                       ProtobufCMessage **resp, uint32_t timeout_ms,
                       qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(addr, &ch, err);
    if (rc)
        return rc;
    qv_rpc_call_opts o = {.timeout_ms = timeout_ms, .flags = QV_RPC_FAIL_FAST};
    rc = qv_rpc_unary(ch, method, req, rdesc, a, resp, &o, err);
    qv_rpc_channel_close(ch);
    return rc;
}

static qv_code call_node(const char *addr, const char *method,
                         const ProtobufCMessage *req, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    qv_code rc =
        call_qn(addr, method, req, &milvus__proto__common__status__descriptor,
                &a, (ProtobufCMessage **)&st, 10000, err);
    if (!rc && st->code != 0)
        rc = qv_fail(err,
                     st->code == 3      ? QV_E_NOMEM
                     : st->code == 1100 ? QV_E_INVALID
                                        : QV_E_INTERNAL,
                     "query node %s: %s", addr, st->reason);
    qv_arena_release(&a);
    return rc;
}

static qv__load *qv_coord__load_find(qv_coord *c, int64_t coll)
{
    for (qv__load *l = c->loads; l; l = l->next)
        if (l->coll == coll)
            return l;
    return NULL;
}

static size_t loads_on(qv_coord *c, const char *session)
{
    size_t n = 0;
    for (qv__load *l = c->loads; l; l = l->next)
        n += strcmp(l->session, session) == 0;
    return n;
}

static void chst_clear_reply(chst *s)
{
    free(s->serving);
    free(s->indexed);
    free(s->err);
    s->serving = s->indexed = NULL;
    s->err = NULL;
    s->nserving = s->nindexed = 0;
    s->err_code = QV_OK;
}

static void chst_clear(chst *s)
{
    chst_clear_reply(s);
    free(s->seg);
    free(s->part);
    free(s->rows);
    free(s->has_idx);
    memset(s, 0, sizeof *s);
}

static void forget_load(qv_coord *c, int64_t coll)
{
    for (qv__load **p = &c->loads; *p; p = &(*p)->next)
        if ((*p)->coll == coll) {
            qv__load *l = *p;
            *p = l->next;
            for (size_t i = 0; i < l->nch; i++)
                chst_clear(&l->ch[i]);
            free(l->ch);
            free(l->session);
            free(l->address);
            free(l);
            return;
        }
}

/* ---- targets ------------------------------------------------------------- */

static bool builds_done(qv_coord *c, const qv_seg_info *s, qv_index_info **idx,
                        size_t nidx, qv_seg_index **si, size_t nsi)
{
    if (s->rows < qv_coord__index_min_rows(c))
        return true;
    for (size_t i = 0; i < nidx; i++) {
        if (idx[i]->state != QUIVER__INTERNAL__META_STATE__META_CREATED)
            continue;
        bool ok = false;
        for (size_t k = 0; k < nsi && !ok; k++)
            ok = si[k]->segment_id == s->id && si[k]->index_id == idx[i]->id &&
                 si[k]->state ==
                     QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
        if (!ok)
            return false;
    }
    return true;
}

static seg_target *mk_entry(qv_arena *a, qv_seg_info *s, qv_index_info **idx,
                            size_t nidx, qv_seg_index **si, size_t nsi)
{
    seg_target *t = qv_arena_alloc(a, sizeof *t);
    quiver__internal__segment_target__init(t);
    t->segment = s;
    t->indexes = qv_arena_alloc(a, (nidx + 1) * sizeof(qv_seg_index *));
    t->index_infos = qv_arena_alloc(a, (nidx + 1) * sizeof(qv_index_info *));
    for (size_t i = 0; i < nidx; i++) {
        if (idx[i]->state != QUIVER__INTERNAL__META_STATE__META_CREATED)
            continue;
        for (size_t k = 0; k < nsi; k++)
            if (si[k]->segment_id == s->id && si[k]->index_id == idx[i]->id &&
                si[k]->state ==
                    QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED) {
                t->indexes[t->n_indexes] = si[k];
                t->index_infos[t->n_indexes++] = idx[i];
                break;
            }
    }
    t->n_index_infos = t->n_indexes;
    return t;
}

/* The target of vchannel vch (TARGET RULE) on arena a.  serving (the
 * node's last answer) keeps a compaction output that already serves: a
 * target never moves back from an output to its inputs. */
static qv_code build_target(qv_coord *c, const qv_coll_info *info,
                            const char *vch, const qv_load_rec *rec,
                            const int64_t *serving, size_t nserving,
                            qv_arena *a, target **out, qv_err *err)
{
    qv_seg_info **segs;
    qv_index_info **idx;
    qv_seg_index **si;
    size_t n = 0, nidx = 0, nsi = 0;
    qv_code rc = qv_segmeta_list_segments(c->opts.kv, c->root, info->id, vch, a,
                                          &segs, &n, err);
    if (!rc)
        rc = qv_segmeta_list_indexes(c->opts.kv, c->root, info->id, a, &idx,
                                     &nidx, err);
    if (!rc)
        rc = qv_segmeta_list_segidx(c->opts.kv, c->root, info->id, 0, a, &si,
                                    &nsi, err);
    if (rc)
        return rc;
    target *t = qv_arena_alloc(a, sizeof *t);
    quiver__internal__sync_segments_request__init(t);
    t->collection_id = info->id;
    t->vchannel = (char *)vch;
    t->segments = qv_arena_alloc(a, (n + 1) * sizeof(seg_target *));
    t->l0 = qv_arena_alloc(a, (n + 1) * sizeof(qv_seg_info *));
    qv_seg_info **pick = qv_arena_alloc(a, (n + 1) * sizeof(qv_seg_info *));
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        qv_seg_info *s = segs[i];
        if (s->state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED)
            continue;
        if (s->level == QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0) {
            t->l0[t->n_l0++] = s;
            continue;
        }
        if (s->rows == 0 ||
            (rec->parts &&
             !qv_coord__load_has_id(rec->parts, rec->nparts, s->partition_id)))
            continue;
        if (s->n_compacted_from == 0 || builds_done(c, s, idx, nidx, si, nsi) ||
            qv_coord__load_has_id(serving, nserving, s->id)) {
            pick[np++] = s;
            continue;
        }
        /* not indexed yet: its inputs keep serving */
        for (size_t k = 0; k < s->n_compacted_from; k++)
            for (size_t j = 0; j < n; j++)
                if (segs[j]->id == s->compacted_from[k] && segs[j]->rows > 0 &&
                    segs[j]->level == QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1) {
                    bool dup = false;
                    for (size_t m = 0; m < np && !dup; m++)
                        dup = pick[m]->id == segs[j]->id;
                    if (!dup)
                        pick[np++] = segs[j];
                }
    }
    for (size_t i = 0; i < np; i++)
        t->segments[t->n_segments++] = mk_entry(a, pick[i], idx, nidx, si, nsi);
    *out = t;
    return QV_OK;
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t target_hash(const target *t)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < t->n_segments; i++) {
        const seg_target *s = t->segments[i];
        h = fnv(h, (uint64_t)s->segment->id);
        h = fnv(h, s->segment->rows);
        for (size_t k = 0; k < s->n_indexes; k++)
            h = fnv(h, (uint64_t)s->indexes[k]->build_id);
    }
    h = fnv(h, 0xffff);
    for (size_t i = 0; i < t->n_l0; i++)
        h = fnv(h, (uint64_t)t->l0[i]->id);
    return h;
}

/* Versions increase across coord restarts (wall clock based). */
static uint64_t next_version(void)
{
    static _Atomic uint64_t last;
    uint64_t now = qv_wall_ms(qv_clock_system()) << 12;
    uint64_t v = atomic_load(&last);
    for (;;) {
        uint64_t nv = now > v ? now : v + 1;
        if (atomic_compare_exchange_weak(&last, &v, nv))
            return nv;
    }
}

/* Remembers t as what channel s was sent. */
static void chst_set_target(chst *s, const target *t, uint64_t hash,
                            uint64_t version)
{
    free(s->seg);
    free(s->part);
    free(s->rows);
    free(s->has_idx);
    size_t n = t->n_segments;
    s->seg = QV_NEW_ARRAY(int64_t, n + 1);
    s->part = QV_NEW_ARRAY(int64_t, n + 1);
    s->rows = QV_NEW_ARRAY(uint64_t, n + 1);
    s->has_idx = QV_NEW_ARRAY(bool, n + 1);
    for (size_t i = 0; i < n; i++) {
        s->seg[i] = t->segments[i]->segment->id;
        s->part[i] = t->segments[i]->segment->partition_id;
        s->rows[i] = t->segments[i]->segment->rows;
        s->has_idx[i] = t->segments[i]->n_indexes > 0;
    }
    s->nsegs = n;
    s->hash = hash;
    s->version = version;
}

static void chst_set_pos(chst *s,
                         const Quiver__Internal__SyncSegmentsResponse *r)
{
    s->pos_known = r->consumed_known;
    s->pos = r->consumed_position;
    s->pos_ms = qv_mono_ms(qv_clock_system());
}

static void chst_set_reply(chst *s,
                           const Quiver__Internal__SyncSegmentsResponse *r)
{
    chst_clear_reply(s);
    s->replied = true;
    s->serving = QV_NEW_ARRAY(int64_t, r->n_serving + 1);
    if (r->n_serving)
        memcpy(s->serving, r->serving, r->n_serving * sizeof(int64_t));
    s->nserving = r->n_serving;
    s->indexed = QV_NEW_ARRAY(int64_t, r->n_indexed + 1);
    if (r->n_indexed)
        memcpy(s->indexed, r->indexed, r->n_indexed * sizeof(int64_t));
    s->nindexed = r->n_indexed;
    if (r->status && r->status->code != 0) {
        s->err_code = r->status->code == 3 ? QV_E_NOMEM : QV_E_UNAVAILABLE;
        s->err = qv_xstrdup(r->status->reason ? r->status->reason : "");
    }
    chst_set_pos(s, r);
    bool ok = !s->err_code;
    for (size_t i = 0; ok && i < s->nsegs; i++) {
        ok = qv_coord__load_has_id(s->serving, s->nserving, s->seg[i]);
        if (ok && s->has_idx[i])
            ok = qv_coord__load_has_id(s->indexed, s->nindexed, s->seg[i]);
    }
    s->complete = ok;
}

/* True when channel s's consumed position is due for a refresh: the log
 * is trimmed (coord_dn.c) and the node last answered longer ago than the
 * trim interval (at most 5 s). */
static bool pos_due(qv_coord *c, const chst *s)
{
    if (!c->opts.log || c->opts.wal_trim_off)
        return false;
    uint64_t every = c->opts.wal_trim_interval_ms;
    if (!every || every > 5000)
        every = 5000;
    return qv_mono_ms(qv_clock_system()) - s->pos_ms >= every;
}

qv_qn_pos qv_coord__load_consumed(qv_coord *c, int64_t coll, bool loaded,
                                  size_t shard, char *session, size_t cap,
                                  uint64_t *pos)
{
    session[0] = '\0';
    *pos = 0;
    qv__load *l = qv_coord__load_find(c, coll);
    if (l) {
        if (shard >= l->nch)
            return QV_QN_POS_NONE;
        snprintf(session, cap, "%s", l->session);
        *pos = l->ch[shard].pos;
        return l->ch[shard].pos_known ? QV_QN_POS_AT : QV_QN_POS_UNKNOWN;
    }
    /* loaded, but not watched by this coord yet (it became active
     * meanwhile): the recorded node, while it lives, still consumes */
    char key[600], ad[300];
    if (!loaded || !recorded_node(c, coll, key, sizeof key, ad, sizeof ad))
        return QV_QN_POS_NONE;
    return QV_QN_POS_UNKNOWN;
}

/* Serializes target syncs, which talk to query nodes; taken before
 * load_mu, which is held only briefly around the assignment state, so
 * GetShardLeaders never waits for a query node's answer. */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;

/* Channel i of coll's assignment at addr, or NULL (released or assigned
 * elsewhere since); load_mu held. */
static chst *chan_state(qv_coord *c, int64_t coll, size_t i, const char *addr)
{
    qv__load *l = qv_coord__load_find(c, coll);
    if (!l || i >= l->nch || strcmp(l->address, addr) != 0)
        return NULL;
    return &l->ch[i];
}

/* The node's consumer of vch lost log records (trimmed or expired past
 * it): releases the collection on the node and forgets the assignment,
 * so the next keeper round watches it again (the recorded node) from the
 * current checkpoints with targets read after them, as a restart would.
 * Until then the trim of its pchannels waits (qv_coord__load_consumed:
 * loaded, recorded node alive).  load_mu held. */
static void restart_lost(qv_coord *c, const qv_coll_info *info, const char *vch,
                         const char *addr, const char *why)
{
    QV_LOG(QV_LOG_ERROR, "coord",
           "query node %s lost log records of vchannel %s (%s): restarting "
           "collection %s from its checkpoints",
           addr, vch, why ? why : "", info->name);
    Quiver__Internal__ReleaseChannelsRequest x =
        QUIVER__INTERNAL__RELEASE_CHANNELS_REQUEST__INIT;
    x.collection_id = info->id;
    qv_err e = {0};
    if (call_node(addr, QN_SERVICE "ReleaseChannels", &x.base, &e)) {
        QV_LOG(QV_LOG_WARN, "coord", "restart of %s: %s", vch, e.msg);
        return; /* the next answer says it again */
    }
    forget_load(c, info->id);
}

/* Recomputes channel i's target and sends it when it changed or the node
 * is not done with it.  sync_mu held, load_mu not. */
static void sync_channel(qv_coord *c, int64_t coll, size_t i,
                         const qv_coll_info *info, const qv_load_rec *rec)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_err e = {0};
    const char *vch = info->virtual_channels[i];
    pthread_mutex_lock(&c->load_mu);
    qv__load *l = qv_coord__load_find(c, coll);
    chst *s = l && i < l->nch ? &l->ch[i] : NULL;
    char *addr = s ? qv_arena_strdup(&a, l->address) : NULL;
    size_t nserving = s ? s->nserving : 0;
    int64_t *serving = qv_arena_alloc(&a, (nserving + 1) * sizeof(int64_t));
    if (nserving)
        memcpy(serving, s->serving, nserving * sizeof(int64_t));
    pthread_mutex_unlock(&c->load_mu);
    target *t;
    if (!s || build_target(c, info, vch, rec, serving, nserving, &a, &t, &e)) {
        if (s)
            QV_LOG(QV_LOG_WARN, "coord", "target of %s: %s", vch, e.msg);
        qv_arena_release(&a);
        return;
    }
    uint64_t h = target_hash(t);
    bool send = true, probe = false;
    pthread_mutex_lock(&c->load_mu);
    if (!(s = chan_state(c, coll, i, addr)))
        send = false;
    else if (h != s->hash || !s->version)
        chst_set_target(s, t, h, next_version());
    else if (s->replied && s->complete)
        send = probe = pos_due(c, s);
    uint64_t sent = send ? s->version : 0;
    t->version = sent;
    pthread_mutex_unlock(&c->load_mu);
    if (!send) {
        qv_arena_release(&a);
        return;
    }
    /* only the position is due: version 0 asks without a target */
    target ask = QUIVER__INTERNAL__SYNC_SEGMENTS_REQUEST__INIT;
    ask.collection_id = coll;
    ask.vchannel = (char *)vch;
    Quiver__Internal__SyncSegmentsResponse *r = NULL;
    qv_code rc =
        call_qn(addr, QN_SERVICE "SyncSegments", probe ? &ask.base : &t->base,
                &quiver__internal__sync_segments_response__descriptor, &a,
                (ProtobufCMessage **)&r, 5000, &e);
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "sync segments of %s: %s", vch, e.msg);
    pthread_mutex_lock(&c->load_mu);
    if ((s = chan_state(c, coll, i, addr)) && s->version == sent) {
        if (rc && !probe) {
            chst_clear_reply(s);
            s->replied = s->complete = false;
        } else if (!rc && probe) {
            chst_set_pos(s, r); /* the serving state was not asked */
        } else if (!rc) {
            chst_set_reply(s, r);
        }
    }
    if (!rc && r->consumer_lost && chan_state(c, coll, i, addr))
        restart_lost(c, info, vch, addr, r->status ? r->status->reason : "");
    pthread_mutex_unlock(&c->load_mu);
    qv_arena_release(&a);
}

/* Makes sure a live query node watches every vchannel of info, with the
 * checkpoints and initial targets; load_mu held.  *addr (may be NULL)
 * receives the node's address (borrowed). */
qv_code qv_coord__load_watch(qv_coord *c, const qv_coll_info *info,
                             const qv_load_rec *rec, bool recheck,
                             const char **addr, qv_err *err)
{
    qv__load *l = qv_coord__load_find(c, info->id);
    if (l && (!recheck || session_alive(c, l->session))) {
        if (addr)
            *addr = l->address;
        return QV_OK;
    }
    char key[600], ad[300];
    qv_code rc = QV_OK;
    if (l || !recorded_node(c, info->id, key, sizeof key, ad, sizeof ad))
        rc = pick_node(c, key, sizeof key, ad, sizeof ad, err);
    if (rc)
        return rc;
    qv_arena a;
    qv_arena_init(&a, 0);
    size_t n = info->n_virtual_channels;
    Quiver__Internal__WatchChannelsRequest w =
        QUIVER__INTERNAL__WATCH_CHANNELS_REQUEST__INIT;
    w.collection_id = info->id;
    w.schema = info->schema;
    w.vchannels = info->virtual_channels;
    w.n_vchannels = n;
    w.pchannels = info->physical_channels;
    w.n_pchannels = info->n_physical_channels;
    w.checkpoints = qv_arena_alloc(&a, (n + 1) * sizeof(void *));
    w.targets = qv_arena_alloc(&a, (n + 1) * sizeof(void *));
    uint64_t *hashes = qv_arena_alloc(&a, (n + 1) * sizeof(uint64_t));
    /* checkpoints first: every segment flushed before one is in the
     * target read after it */
    for (size_t i = 0; !rc && i < n; i++) {
        qv_checkpoint *ck = NULL;
        rc = qv_segmeta_get_checkpoint(c->opts.kv, c->root,
                                       info->virtual_channels[i], &a, &ck, err);
        if (!rc && !ck) {
            ck = qv_arena_alloc(&a, sizeof *ck);
            quiver__internal__channel_checkpoint__init(ck);
            ck->vchannel = info->virtual_channels[i];
            ck->pchannel = (char *)""; /* none: the log's start */
        }
        w.checkpoints[i] = ck;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        rc = build_target(c, info, info->virtual_channels[i], rec, NULL, 0, &a,
                          &w.targets[i], err);
        if (!rc)
            hashes[i] = target_hash(w.targets[i]);
    }
    uint64_t version = next_version();
    for (size_t i = 0; !rc && i < n; i++)
        w.targets[i]->version = version;
    w.n_checkpoints = w.n_targets = rc ? 0 : n;
    if (!rc)
        rc = call_node(ad, QN_SERVICE "WatchChannels", &w.base, err);
    if (rc) {
        qv_arena_release(&a);
        return rc;
    }
    pthread_mutex_lock(&c->data_mu);
    for (size_t i = 0; i < info->n_physical_channels; i++)
        qv_coord__use_pchannel(c, info->physical_channels[i]);
    pthread_mutex_unlock(&c->data_mu);
    char nk[600];
    node_key(c, info->id, nk, sizeof nk);
    qv_err e2 = {0};
    if (metakv_put(c->opts.kv, nk, strlen(nk), key, strlen(key), 0, NULL, &e2))
        QV_LOG(QV_LOG_WARN, "coord", "load node record: %s", e2.msg);
    forget_load(c, info->id);
    l = QV_NEW(qv__load);
    l->coll = info->id;
    l->session = qv_xstrdup(key);
    l->address = qv_xstrdup(ad);
    l->nch = n;
    l->ch = QV_NEW_ARRAY(chst, n + 1);
    for (size_t i = 0; i < n; i++)
        chst_set_target(&l->ch[i], w.targets[i], hashes[i], version);
    l->next = c->loads;
    c->loads = l;
    qv_arena_release(&a);
    QV_LOG(QV_LOG_INFO, "coord", "collection %s (%" PRId64 ") served by %s",
           info->name, info->id, ad);
    if (addr)
        *addr = l->address;
    return QV_OK;
}

/* Watches (if needed) and syncs every channel of a loaded collection;
 * load_mu not held (taken briefly). */
qv_code qv_coord__load_refresh(qv_coord *c, const qv_coll_info *info,
                               const qv_load_rec *rec, bool recheck,
                               qv_err *err)
{
    pthread_mutex_lock(&sync_mu);
    pthread_mutex_lock(&c->load_mu);
    qv_code rc = qv_coord__load_watch(c, info, rec, recheck, NULL, err);
    qv__load *l = rc ? NULL : qv_coord__load_find(c, info->id);
    size_t n = l ? l->nch : 0;
    pthread_mutex_unlock(&c->load_mu);
    for (size_t i = 0; i < n && i < info->n_virtual_channels; i++)
        sync_channel(c, info->id, i, info, rec);
    pthread_mutex_unlock(&sync_mu);
    return rc;
}

/* Load progress of the partitions parts (NULL: all) of a loaded
 * collection: 0..100, or a node's error.  load_mu held. */
qv_code qv_coord__load_progress(qv_coord *c, int64_t coll, const int64_t *parts,
                                size_t nparts, int64_t *out, qv_err *err)
{
    qv__load *l = qv_coord__load_find(c, coll);
    *out = 0;
    if (!l)
        return QV_OK;
    uint64_t total = 0, done = 0;
    bool complete = true;
    for (size_t i = 0; i < l->nch; i++) {
        chst *s = &l->ch[i];
        if (s->err_code)
            return qv_fail(err, s->err_code, "%s", s->err);
        complete = complete && s->replied && s->complete;
        for (size_t k = 0; k < s->nsegs; k++) {
            if (parts && !qv_coord__load_has_id(parts, nparts, s->part[k]))
                continue;
            uint64_t w = s->rows[k] ? s->rows[k] : 1;
            total += w * (s->has_idx[k] ? 2 : 1);
            if (qv_coord__load_has_id(s->serving, s->nserving, s->seg[k])) {
                done += w;
                if (s->has_idx[k] &&
                    qv_coord__load_has_id(s->indexed, s->nindexed, s->seg[k]))
                    done += w;
            }
        }
    }
    if (complete)
        *out = 100;
    else if (total)
        *out = (int64_t)(done * 100 / total) > 99
                   ? 99
                   : (int64_t)(done * 100 / total);
    return QV_OK;
}

const char *qv_coord__load_session(qv_coord *c, int64_t coll)
{
    qv__load *l = qv_coord__load_find(c, coll);
    return l ? l->session : NULL;
}

void qv_coord__load_release_node(qv_coord *c, int64_t coll)
{
    qv__load *l = qv_coord__load_find(c, coll);
    char key[600], ad[300];
    const char *addr = l ? l->address : NULL;
    if (!addr && recorded_node(c, coll, key, sizeof key, ad, sizeof ad))
        addr = ad; /* assigned by an earlier active coord */
    Quiver__Internal__ReleaseChannelsRequest x =
        QUIVER__INTERNAL__RELEASE_CHANNELS_REQUEST__INIT;
    x.collection_id = coll;
    qv_err e = {0};
    if (addr && call_node(addr, QN_SERVICE "ReleaseChannels", &x.base, &e))
        QV_LOG(QV_LOG_WARN, "coord", "release: %s", e.msg);
    char nk[600];
    node_key(c, coll, nk, sizeof nk);
    if (metakv_delete(c->opts.kv, nk, strlen(nk), false, NULL, &e))
        QV_LOG(QV_LOG_WARN, "coord", "load node record: %s", e.msg);
    forget_load(c, coll);
}

/* ---- keeper -------------------------------------------------------------- */

/* One round: every load record is watched by a live node (re-assigned
 * otherwise), dropped collections are released, targets are synced. */
static void keep_round(qv_coord *c)
{
    qv_catalog *cat;
    qv_err e = {0};
    if (qv_coord__enter(c, &cat, NULL, &e))
        return;
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%smeta/load/", c->root);
    size_t plen = strlen(prefix);
    metakv_kvs r = METAKV_KVS_INIT;
    if (metakv_range(c->opts.kv, prefix, plen, NULL, &r, &e)) {
        qv_coord__leave(c);
        return;
    }
    for (size_t i = 0; i < r.n && !c->stopping; i++) {
        char idbuf[32];
        size_t il = r.kvs[i].key_len - plen;
        if (il == 0 || il >= sizeof idbuf)
            continue;
        memcpy(idbuf, r.kvs[i].key + plen, il);
        idbuf[il] = '\0';
        int64_t id = strtoll(idbuf, NULL, 10);
        qv_arena a;
        qv_arena_init(&a, 0);
        qv_load_rec rec;
        qv_coord__load_parse_rec((const char *)r.kvs[i].value,
                                 r.kvs[i].value_len, &a, &rec);
        qv_coll_info *info;
        qv_err e2 = {0};
        qv_code rc =
            qv_catalog_get_collection(cat, rec.db, NULL, id, &a, &info, &e2);
        if (rc == QV_E_COLLECTION_NOT_FOUND || rc == QV_E_DATABASE_NOT_FOUND) {
            pthread_mutex_lock(&c->load_mu);
            qv_coord__load_release_node(c, id);
            pthread_mutex_unlock(&c->load_mu);
            if (metakv_delete(c->opts.kv, r.kvs[i].key, r.kvs[i].key_len, false,
                              NULL, &e2))
                QV_LOG(QV_LOG_WARN, "coord", "load record: %s", e2.msg);
        } else if (!rc && qv_coord__load_refresh(c, info, &rec, true, &e2)) {
            QV_LOG(QV_LOG_WARN, "coord", "cannot serve collection %s: %s",
                   info->name, e2.msg);
        }
        qv_arena_release(&a);
    }
    metakv_kvs_release(&r);
    qv_coord__leave(c);
}

/* The keeper runs on its own thread (query node calls must not delay the
 * time ticks); the ticker starts it and a step-down joins it. */
static pthread_mutex_t keeper_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct keeper_slot {
    qv_coord *c;
    pthread_t t;
    bool on;
} keeper_slot;

static keeper_slot keepers[16];

static void *keeper_main(void *arg)
{
    qv_coord *c = arg;
    while (!c->stopping && atomic_load(&c->active)) {
        keep_round(c);
        for (int i = 0; i < 20 && !c->stopping && atomic_load(&c->active); i++)
            qv_sleep_ms(50);
    }
    return NULL;
}

void qv_coord__keep_loads(qv_coord *c)
{
    pthread_mutex_lock(&keeper_mu);
    keeper_slot *free_slot = NULL;
    for (size_t i = 0; i < sizeof keepers / sizeof keepers[0]; i++) {
        if (keepers[i].on && keepers[i].c == c) {
            pthread_mutex_unlock(&keeper_mu);
            return;
        }
        if (!keepers[i].on && !free_slot)
            free_slot = &keepers[i];
    }
    if (free_slot && pthread_create(&free_slot->t, NULL, keeper_main, c) == 0) {
        free_slot->c = c;
        free_slot->on = true;
    } else if (!free_slot) {
        keep_round(c); /* more coords in one process than slots */
    }
    pthread_mutex_unlock(&keeper_mu);
}

void qv_coord__loads_clear(qv_coord *c)
{
    pthread_mutex_lock(&keeper_mu);
    for (size_t i = 0; i < sizeof keepers / sizeof keepers[0]; i++)
        if (keepers[i].on && keepers[i].c == c) {
            pthread_join(keepers[i].t, NULL);
            keepers[i].on = false;
        }
    pthread_mutex_unlock(&keeper_mu);
    pthread_mutex_lock(&c->load_mu);
    while (c->loads)
        forget_load(c, c->loads->coll);
    pthread_mutex_unlock(&c->load_mu);
}
