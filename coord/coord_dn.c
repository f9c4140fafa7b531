/* coord_dn.c -- vchannel placement on datanodes and log trimming (DESIGN §1,
 * §2, §8).
 *
 * Every vchannel of every live collection is consumed by exactly one live
 * datanode (sessions "<root>session/datanode-<id>").  The assignment is a
 * meta KV record "<root>meta/dnchan/<coll id>/<vchannel>" holding the
 * datanode's session key, so a new active coord keeps the placement, and
 * CommitSegment (svc_segment.c) refuses commits from any other node.
 *
 * The keeper (its own thread, started from the ticker by
 * qv_coord__keep_datanodes; a round every second while active):
 *   1. gives every vchannel a checkpoint: one without is recorded at the
 *      pchannel's earliest retained position (nothing of a pchannel is
 *      trimmed while one of its vchannels has no checkpoint, step 4, so the
 *      collection's records are all still there);
 *   2. assigns every vchannel whose datanode's session is gone (or that
 *      has none) to the live datanode with the fewest vchannels, and sends
 *      it DataNodeService/WatchDataChannels with the checkpoint; the new
 *      node resumes from there.  A session lapses within its TTL, so a dead
 *      datanode's channels move within about TTL + 1 s.  Assignments are
 *      re-sent every few rounds (WatchDataChannels is idempotent), which
 *      also restarts channels a datanode lost;
 *   3. releases the vchannels of dropped collections (ReleaseDataChannels)
 *      and removes their assignment and checkpoint records;
 *   4. every wal_trim_interval_ms, trims each pchannel below the smallest
 *      checkpoint of the vchannels on it and the smallest position the
 *      query nodes serving them consumed, less a safety margin, and never
 *      past the end position read before the collections were listed (a
 *      collection created meanwhile has all its records above that).  A
 *      pchannel is not trimmed while one of its vchannels has no
 *      checkpoint, or is assigned to a live query node that has not
 *      reported its position yet (after a coord restart: until its first
 *      SyncSegments answer).
 *
 * Query nodes report, in every SyncSegments answer, the position their
 * delegator has consumed each vchannel up to (its last time tick's;
 * coord_load.c keeps the latest per assignment and asks again at least
 * every trim interval), so a slow or stalled query node holds the trim
 * back instead of losing records (its reader would fail with
 * QV_E_COMPACTED and the vchannel stop serving; a node that lost records
 * anyway, to retention or a trim by hand, says so and coord_load.c
 * restarts the collection on it from the current checkpoints).
 * Released collections and query nodes whose session is gone stop
 * counting.  The positions are read after the checkpoints and under
 * load_mu, which a watch holds from reading its checkpoints to recording
 * its assignment, so a query node assigned meanwhile starts at or past
 * what the trim keeps. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/json/json.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"
#include "common/msg/msg.h"
#include "coord/coord_int.h"
#include "coord/coord_load.h"
#include "coord/segmeta.h"
#include "internal/datanode.pb-c.h"
#include "proto/pb_arena.h"

#define DN_SERVICE       "/quiver.internal.DataNodeService/"
#define REWATCH_ROUNDS   5
#define TRIM_INTERVAL_MS 10000u

typedef struct dn_node {
    char key[QV_SEGMETA_KEY_MAX];
    char addr[300];
    size_t load;
} dn_node;

typedef struct dn_nodes {
    dn_node *v;
    size_t n;
} dn_nodes;

static bool session_address(const uint8_t *val, size_t len, char *buf,
                            size_t cap)
{
    qv_json_val root = qv_json_root((const char *)val, len), a;
    if (!qv_json_member(&root, "address", 7, &a) || a.type != QV_JSON_STRING ||
        a.len < 3 || a.len - 2 >= cap)
        return false;
    memcpy(buf, a.p + 1, a.len - 2);
    buf[a.len - 2] = '\0';
    return true;
}

/* The live datanodes (session key and address). */
static qv_code list_nodes(qv_coord *c, dn_nodes *out, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%ssession/datanode-", c->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(c->opts.kv, prefix, strlen(prefix), NULL, &r, err);
    if (rc)
        return rc;
    out->v = QV_NEW_ARRAY(dn_node, r.n + 1);
    out->n = 0;
    for (size_t i = 0; i < r.n; i++) {
        dn_node *d = &out->v[out->n];
        if (r.kvs[i].key_len >= sizeof d->key ||
            !session_address(r.kvs[i].value, r.kvs[i].value_len, d->addr,
                             sizeof d->addr))
            continue;
        memcpy(d->key, r.kvs[i].key, r.kvs[i].key_len);
        d->key[r.kvs[i].key_len] = '\0';
        d->load = 0;
        out->n++;
    }
    metakv_kvs_release(&r);
    return QV_OK;
}

static dn_node *find_node(dn_nodes *ns, const char *key)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i].key, key) == 0)
            return &ns->v[i];
    return NULL;
}

static dn_node *least_loaded(dn_nodes *ns)
{
    dn_node *best = NULL;
    for (size_t i = 0; i < ns->n; i++)
        if (!best || ns->v[i].load < best->load)
            best = &ns->v[i];
    return best;
}

static qv_code call_dn(const char *addr, const char *method,
                       const ProtobufCMessage *req, qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(addr, &ch, err);
    if (rc)
        return rc;
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    qv_rpc_call_opts o = {.timeout_ms = 10000, .flags = QV_RPC_FAIL_FAST};
    rc = qv_rpc_unary(ch, method, req,
                      &milvus__proto__common__status__descriptor, &a,
                      (ProtobufCMessage **)&st, &o, err);
    if (!rc && st->code != 0)
        rc = qv_fail(err, QV_E_INTERNAL, "datanode %s: %s", addr, st->reason);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    return rc;
}

/* One assignment record (dnchan/<coll>/<vchannel>). */
typedef struct dn_assign {
    int64_t coll;
    char vch[QV_MSG_VCHANNEL_MAX + 1];
    char node[QV_SEGMETA_KEY_MAX];
    bool live; /* its collection is live */
} dn_assign;

typedef struct dn_assigns {
    dn_assign *v;
    size_t n, cap;
} dn_assigns;

static qv_code list_assigns(qv_coord *c, dn_assigns *out, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/dnchan/", c->root);
    size_t plen = strlen(prefix);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_range(c->opts.kv, prefix, plen, NULL, &r, err);
    if (rc)
        return rc;
    out->v = QV_NEW_ARRAY(dn_assign, r.n + 1);
    out->n = 0;
    for (size_t i = 0; i < r.n; i++) {
        const char *k = (const char *)r.kvs[i].key + plen;
        size_t kl = r.kvs[i].key_len - plen;
        const char *slash = memchr(k, '/', kl);
        dn_assign *d = &out->v[out->n];
        size_t vl = slash ? kl - (size_t)(slash - k) - 1 : 0;
        if (!slash || vl == 0 || vl >= sizeof d->vch ||
            r.kvs[i].value_len >= sizeof d->node)
            continue;
        d->coll = strtoll(k, NULL, 10);
        memcpy(d->vch, slash + 1, vl);
        d->vch[vl] = '\0';
        memcpy(d->node, r.kvs[i].value, r.kvs[i].value_len);
        d->node[r.kvs[i].value_len] = '\0';
        d->live = false;
        out->n++;
    }
    metakv_kvs_release(&r);
    return QV_OK;
}

static dn_assign *find_assign(dn_assigns *as, int64_t coll, const char *vch)
{
    for (size_t i = 0; i < as->n; i++)
        if (as->v[i].coll == coll && strcmp(as->v[i].vch, vch) == 0)
            return &as->v[i];
    return NULL;
}

/* The vchannel's checkpoint; records one at the pchannel's earliest
 * position when there is none.  *out on arena a. */
static qv_code ensure_checkpoint(qv_coord *c, const qv_coll_info *info,
                                 size_t shard, qv_arena *a, qv_checkpoint **out,
                                 qv_err *err)
{
    const char *vch = info->virtual_channels[shard];
    const char *pch = info->physical_channels[shard];
    qv_code rc =
        qv_segmeta_get_checkpoint(c->opts.kv, c->root, vch, a, out, err);
    if (rc || *out)
        return rc;
    wal_pos earliest = 0, end = 0;
    if ((rc = wal_bounds(c->opts.log, pch, &earliest, &end, err)))
        return rc;
    qv_checkpoint *k = qv_arena_alloc(a, sizeof *k);
    quiver__internal__channel_checkpoint__init(k);
    k->vchannel = (char *)vch;
    k->pchannel = (char *)pch;
    k->position = earliest;
    k->collection_id = info->id;
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_chkpt_key(c->root, vch, key, sizeof key);
    metakv_txn *t = metakv_txn_begin(c->opts.kv);
    metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_VERSION, METAKV_EQ, 0);
    qv_segmeta_txn_put(t, METAKV_THEN, key, &k->base);
    bool ok = false;
    if ((rc = metakv_txn_commit(t, &ok, NULL, err)))
        return rc;
    if (!ok) /* a commit got there first */
        return qv_segmeta_get_checkpoint(c->opts.kv, c->root, vch, a, out, err);
    *out = k;
    return QV_OK;
}

static qv_code watch_one(const dn_node *n, const qv_coll_info *info,
                         qv_checkpoint *k, qv_err *err)
{
    Quiver__Internal__WatchDataChannelsRequest w =
        QUIVER__INTERNAL__WATCH_DATA_CHANNELS_REQUEST__INIT;
    w.collection_id = info->id;
    w.schema = info->schema;
    w.checkpoints = &k;
    w.n_checkpoints = 1;
    return call_dn(n->addr, DN_SERVICE "WatchDataChannels", &w.base, err);
}

/* Steps 1 and 2 for one vchannel. */
/* The vchannels that have a checkpoint (keys only), sorted. */
typedef struct chk_names {
    metakv_kvs r;
    size_t plen;
} chk_names;

static qv_code list_chk_names(qv_coord *c, chk_names *out, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    qv_segmeta_chkpt_key(c->root, "", prefix, sizeof prefix);
    out->plen = strlen(prefix);
    metakv_range_opts o = {.keys_only = true};
    metakv_kvs r = METAKV_KVS_INIT;
    out->r = r;
    return metakv_range(c->opts.kv, prefix, out->plen, &o, &out->r, err);
}

static bool has_chk(const chk_names *ks, const char *vch)
{
    size_t lo = 0, hi = ks->r.n, vl = strlen(vch);
    while (lo < hi) { /* keys come in memcmp order */
        size_t mid = lo + (hi - lo) / 2;
        const metakv_kv *kv = &ks->r.kvs[mid];
        size_t kl = kv->key_len - ks->plen;
        int cmp = memcmp(kv->key + ks->plen, vch, kl < vl ? kl : vl);
        if (cmp == 0)
            cmp = (kl > vl) - (kl < vl);
        if (cmp == 0)
            return true;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void keep_vchannel(qv_coord *c, const qv_coll_info *info, size_t shard,
                          dn_nodes *nodes, dn_assigns *as, const chk_names *ks,
                          bool rewatch)
{
    const char *vch = info->virtual_channels[shard];
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_err e = {0};
    dn_assign *cur = find_assign(as, info->id, vch);
    if (cur)
        cur->live = true;
    dn_node *n = cur ? find_node(nodes, cur->node) : NULL;
    /* the checkpoint is read only when it is needed (steady state: no
     * meta KV read per vchannel and round) */
    bool watch = (n && rewatch) || (!n && nodes->n > 0);
    qv_checkpoint *k = NULL;
    qv_code rc = QV_OK;
    if (watch || !has_chk(ks, vch))
        rc = ensure_checkpoint(c, info, shard, &a, &k, &e);
    if (!rc && n && rewatch)
        rc = watch_one(n, info, k, &e);
    if (!rc && !n && nodes->n > 0) {
        n = least_loaded(nodes);
        char key[QV_SEGMETA_KEY_MAX];
        qv_segmeta_dnchan_key(c->root, info->id, vch, key, sizeof key);
        rc = metakv_put(c->opts.kv, key, strlen(key), n->key, strlen(n->key), 0,
                        NULL, &e);
        if (!rc) {
            n->load++;
            QV_LOG(QV_LOG_INFO, "coord",
                   "vchannel %s of collection %s assigned to datanode %s "
                   "(from position %" PRIu64 "%s%s)",
                   vch, info->name, n->addr, k->position, cur ? ", was " : "",
                   cur ? cur->node : "");
            rc = watch_one(n, info, k, &e);
        }
    }
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "vchannel %s of collection %s: %s", vch,
               info->name, e.msg);
    qv_arena_release(&a);
}

/* Step 3: a dropped collection's vchannel. */
static void release_dropped(qv_coord *c, const dn_assign *d, dn_nodes *nodes)
{
    qv_err e = {0};
    dn_node *n = find_node(nodes, d->node);
    if (n) {
        Quiver__Internal__ReleaseDataChannelsRequest x =
            QUIVER__INTERNAL__RELEASE_DATA_CHANNELS_REQUEST__INIT;
        char *v = (char *)d->vch;
        x.collection_id = d->coll;
        x.vchannels = &v;
        x.n_vchannels = 1;
        if (call_dn(n->addr, DN_SERVICE "ReleaseDataChannels", &x.base, &e)) {
            QV_LOG(QV_LOG_WARN, "coord", "release vchannel %s: %s", d->vch,
                   e.msg);
            return; /* try again next round */
        }
    }
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_dnchan_key(c->root, d->coll, d->vch, key, sizeof key);
    qv_code rc = metakv_delete(c->opts.kv, key, strlen(key), false, NULL, &e);
    qv_segmeta_chkpt_key(c->root, d->vch, key, sizeof key);
    if (!rc)
        rc = metakv_delete(c->opts.kv, key, strlen(key), false, NULL, &e);
    if (rc && rc != QV_E_NOT_FOUND)
        QV_LOG(QV_LOG_WARN, "coord", "release vchannel %s: %s", d->vch, e.msg);
    else
        QV_LOG(QV_LOG_INFO, "coord",
               "vchannel %s of dropped collection %" PRId64 " released", d->vch,
               d->coll);
}

/* Every live collection of every database, on arena a. */
static qv_code live_collections(qv_catalog *cat, qv_arena *a,
                                qv_coll_info ***out, size_t *n, qv_err *err)
{
    qv_db_info **dbs;
    size_t ndb;
    qv_code rc = qv_catalog_list_databases(cat, a, &dbs, &ndb, err);
    size_t cap = 16;
    *out = qv_arena_alloc(a, cap * sizeof **out);
    *n = 0;
    for (size_t i = 0; !rc && i < ndb; i++) {
        qv_coll_info **cs;
        size_t nc;
        rc = qv_catalog_list_collections(cat, dbs[i]->name, a, &cs, &nc, err);
        if (rc == QV_E_DATABASE_NOT_FOUND) { /* dropped meanwhile */
            rc = QV_OK;
            continue;
        }
        for (size_t j = 0; !rc && j < nc; j++) {
            if (*n == cap) {
                qv_coll_info **g = qv_arena_alloc(a, 2 * cap * sizeof *g);
                memcpy(g, *out, cap * sizeof *g);
                *out = g;
                cap *= 2;
            }
            (*out)[(*n)++] = cs[j];
        }
    }
    return rc;
}

/* ---- step 4: trimming ---------------------------------------------------- */

typedef struct trim_pch {
    const char *name;
    wal_pos end_before; /* end read before the collections were listed */
    wal_pos min_chk;
    wal_pos min_qn;     /* smallest position a query node reported */
    const char *qn_vch; /* its vchannel (for the log) */
    bool blocked;       /* a vchannel without a checkpoint, or one a live query
                           node consumes without having said where */
} trim_pch;

static trim_pch *find_pch(trim_pch *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

/* One served vchannel seen under load_mu (trim_query_nodes). */
typedef struct qn_use {
    trim_pch *p;
    const char *vch;
    qv_qn_pos st;
    char session[QV_SEGMETA_KEY_MAX];
    uint64_t pos;
} qn_use;

/* Ids of the collections with a load record (meta/load/<id>), on a. */
static qv_code loaded_ids(qv_coord *c, qv_arena *a, int64_t **ids, size_t *n,
                          qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/load/", c->root);
    size_t plen = strlen(prefix);
    metakv_range_opts o = {.keys_only = true};
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_range(c->opts.kv, prefix, plen, &o, &r, err);
    if (rc)
        return rc;
    *ids = qv_arena_alloc(a, (r.n + 1) * sizeof **ids);
    *n = 0;
    for (size_t i = 0; i < r.n; i++) {
        char buf[32];
        size_t il = r.kvs[i].key_len - plen;
        if (il == 0 || il >= sizeof buf)
            continue;
        memcpy(buf, r.kvs[i].key + plen, il);
        buf[il] = '\0';
        (*ids)[(*n)++] = strtoll(buf, NULL, 10);
    }
    metakv_kvs_release(&r);
    return QV_OK;
}

static bool key_in(char **keys, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

/* Lowers each pchannel's limit to the positions its query nodes reported
 * (or blocks it while one has not).  Called after the checkpoints were
 * read; takes load_mu, which a watch holds from reading its checkpoints
 * until its assignment is recorded: an assignment not seen here starts
 * at or past the checkpoints already read.  A node whose session is gone
 * no longer counts. */
static void trim_query_nodes(qv_coord *c, qv_coll_info **cs, size_t nc,
                             trim_pch *ps, size_t np, qv_arena *a)
{
    size_t nv = 0;
    for (size_t i = 0; i < nc; i++)
        nv += cs[i]->n_virtual_channels;
    qn_use *us = qv_arena_alloc(a, (nv + 1) * sizeof *us);
    size_t nu = 0;
    int64_t *lids;
    size_t nl = 0;
    qv_err e = {0};
    if (loaded_ids(c, a, &lids, &nl, &e)) {
        for (size_t i = 0; i < np; i++) /* cannot tell what is loaded */
            ps[i].blocked = true;
        return;
    }
    pthread_mutex_lock(&c->load_mu);
    for (size_t i = 0; i < nc; i++)
        for (size_t s = 0; s < cs[i]->n_virtual_channels; s++) {
            trim_pch *p = find_pch(ps, np, cs[i]->physical_channels[s]);
            if (!p || p->blocked)
                continue;
            qn_use *u = &us[nu];
            bool loaded = qv_coord__load_has_id(lids, nl, cs[i]->id);
            u->st = qv_coord__load_consumed(c, cs[i]->id, loaded, s, u->session,
                                            sizeof u->session, &u->pos);
            if (u->st == QV_QN_POS_NONE)
                continue;
            u->p = p;
            u->vch = cs[i]->virtual_channels[s];
            nu++;
        }
    pthread_mutex_unlock(&c->load_mu);
    if (nu == 0)
        return;
    char **keys, **addrs;
    size_t nk = 0;
    if (qv_coord__load_nodes(c, a, &keys, &addrs, &nk, &e)) {
        for (size_t i = 0; i < nu; i++) /* cannot tell who lives */
            us[i].p->blocked = true;
        return;
    }
    for (size_t i = 0; i < nu; i++) {
        qn_use *u = &us[i];
        if (u->session[0] && !key_in(keys, nk, u->session))
            continue; /* that node is gone */
        if (u->st == QV_QN_POS_UNKNOWN) {
            u->p->blocked = true;
            QV_LOG(QV_LOG_DEBUG, "coord",
                   "trim of %s waits: the query node of vchannel %s has not "
                   "reported its position yet",
                   u->p->name, u->vch);
        } else if (u->pos < u->p->min_qn) {
            u->p->min_qn = u->pos;
            u->p->qn_vch = u->vch;
        }
    }
}

static void trim_logs(qv_coord *c, qv_catalog *cat)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_err e = {0};
    qv_coll_info **cs;
    size_t nc;
    if (live_collections(cat, &a, &cs, &nc, &e))
        goto out;
    /* the pchannels in use and their ends, before listing again */
    size_t np = 0;
    trim_pch *ps = qv_arena_alloc(&a, (nc * 16 + 1) * sizeof *ps);
    for (size_t i = 0; i < nc; i++)
        for (size_t s = 0; s < cs[i]->n_physical_channels; s++) {
            const char *pch = cs[i]->physical_channels[s];
            if (find_pch(ps, np, pch) || np == nc * 16)
                continue;
            trim_pch *p = &ps[np];
            p->name = pch;
            p->min_chk = p->min_qn = UINT64_MAX;
            p->qn_vch = NULL;
            p->blocked = wal_latest(c->opts.log, pch, &p->end_before, &e) != 0;
            np++;
        }
    if (live_collections(cat, &a, &cs, &nc, &e))
        goto out;
    for (size_t i = 0; i < nc; i++)
        for (size_t s = 0; s < cs[i]->n_virtual_channels; s++) {
            trim_pch *p = find_pch(ps, np, cs[i]->physical_channels[s]);
            if (!p)
                continue; /* created after the ends were read: skip */
            qv_checkpoint *k = NULL;
            if (qv_segmeta_get_checkpoint(c->opts.kv, c->root,
                                          cs[i]->virtual_channels[s], &a, &k,
                                          &e) ||
                !k)
                p->blocked = true;
            else if (k->position < p->min_chk)
                p->min_chk = k->position;
        }
    trim_query_nodes(c, cs, nc, ps, np, &a);
    uint64_t margin = c->opts.wal_trim_margin;
    for (size_t i = 0; i < np; i++) {
        trim_pch *p = &ps[i];
        if (p->blocked || p->min_chk == UINT64_MAX)
            continue;
        wal_pos to = p->min_chk < p->end_before ? p->min_chk : p->end_before;
        if (p->min_qn < to) {
            to = p->min_qn;
            if (p->min_chk - p->min_qn > margin)
                QV_LOG(QV_LOG_DEBUG, "coord",
                       "trim of %s held at %" PRIu64 " by the query node of "
                       "vchannel %s (datanode checkpoints from %" PRIu64 ")",
                       p->name, p->min_qn, p->qn_vch, p->min_chk);
        }
        if (to <= margin)
            continue;
        to -= margin;
        qv_code rc = wal_trim(c->opts.log, p->name, to, &e);
        if (rc && rc != QV_E_UNSUPPORTED)
            QV_LOG(QV_LOG_WARN, "coord", "trim of %s below %" PRIu64 ": %s",
                   p->name, to, e.msg);
    }
out:
    qv_arena_release(&a);
}

/* ---- the keeper ---------------------------------------------------------- */

static void keeper_round(qv_coord *c)
{
    uint64_t round = c->dn_rounds++;
    qv_catalog *cat;
    qv_err e = {0};
    if (!c->opts.log || qv_coord__enter(c, &cat, NULL, &e))
        return;
    dn_nodes nodes = {0};
    dn_assigns as = {0};
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_coll_info **cs = NULL;
    size_t nc = 0;
    qv_code rc = list_nodes(c, &nodes, &e);
    if (!rc)
        rc = list_assigns(c, &as, &e);
    for (size_t i = 0; !rc && i < as.n; i++) {
        dn_node *n = find_node(&nodes, as.v[i].node);
        if (n)
            n->load++;
    }
    if (!rc)
        rc = live_collections(cat, &a, &cs, &nc, &e);
    chk_names ks = {METAKV_KVS_INIT, 0};
    if (!rc)
        rc = list_chk_names(c, &ks, &e);
    for (size_t i = 0; !rc && i < nc; i++)
        for (size_t s = 0; s < cs[i]->n_virtual_channels; s++)
            keep_vchannel(c, cs[i], s, &nodes, &as, &ks,
                          round % REWATCH_ROUNDS == 0);
    metakv_kvs_release(&ks.r);
    for (size_t i = 0; !rc && i < as.n; i++)
        if (!as.v[i].live)
            release_dropped(c, &as.v[i], &nodes);
    uint64_t now = qv_mono_ms(qv_clock_system());
    uint64_t every = c->opts.wal_trim_interval_ms ? c->opts.wal_trim_interval_ms
                                                  : TRIM_INTERVAL_MS;
    if (!c->dn_last_trim_ms)
        c->dn_last_trim_ms = now;
    if (!rc && !c->opts.wal_trim_off && now - c->dn_last_trim_ms >= every) {
        c->dn_last_trim_ms = now;
        trim_logs(c, cat);
    }
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "datanode placement: %s", e.msg);
    qv_arena_release(&a);
    free(nodes.v);
    free(as.v);
    qv_coord__leave(c);
}

static void *keeper_main(void *arg)
{
    qv_coord *c = arg;
    while (!c->stopping) {
        if (atomic_load(&c->active))
            keeper_round(c);
        for (int i = 0; i < 20 && !c->stopping; i++)
            qv_sleep_ms(50);
    }
    return NULL;
}

void qv_coord__keep_datanodes(qv_coord *c)
{
    if (atomic_load(&c->dn_started) || c->stopping)
        return;
    if (pthread_create(&c->dn_thread, NULL, keeper_main, c) != 0) {
        QV_LOG(QV_LOG_WARN, "coord", "cannot start the datanode keeper");
        return;
    }
    atomic_store(&c->dn_started, true);
}

void qv_coord__dn_stop(qv_coord *c)
{
    if (!atomic_load(&c->dn_started))
        return;
    pthread_join(c->dn_thread, NULL);
    atomic_store(&c->dn_started, false);
}
