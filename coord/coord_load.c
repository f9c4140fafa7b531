/* coord_load.c -- load / release and shard leaders (DESIGN §1, §5).
 *
 * A loaded collection has a record "<root>meta/load/<coll id>" (value: its
 * database name) in meta KV, so a restarted or new active coord loads it
 * again.  The coord assigns every vchannel of a loaded collection to one
 * live query node (sessions "<root>session/querynode-<id>") with
 * QueryNodeService/WatchChannels, which is idempotent.  Every second the
 * keeper (qv_coord__keep_loads, on the ticker thread) checks that the
 * assigned node's session still exists and re-assigns otherwise, and
 * releases collections that were dropped.  GetShardLeaders answers Milvus's
 * "collection not loaded" (code 101) when there is no record.
 *
 * This is the single-replica minimum: one query node serves every shard of
 * a collection; collections go to the live node serving the fewest. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord_int.h"
#include "internal/querynode.pb-c.h"
#include "proto/rpc_status.h"

#define QN_SERVICE "/quiver.internal.QueryNodeService/"

typedef struct qv__load {
    struct qv__load *next;
    int64_t coll;
    char *session; /* the query node's session key */
    char *address;
} qv__load;

static void load_key(qv_coord *c, int64_t coll, char *buf, size_t cap)
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

/* The live query node serving the fewest collections (ties: the first in
 * key order): its session key and address.  load_mu held. */
static qv_code pick_node(qv_coord *c, char *key, size_t kcap, char *addr,
                         size_t acap, qv_err *err)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%ssession/querynode-", c->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(c->opts.kv, prefix, strlen(prefix), NULL, &r, err);
    if (rc)
        return rc;
    rc = qv_fail(err, QV_E_NOT_READY, "no query node is running");
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < r.n; i++) {
        char k[600], a[300];
        if (r.kvs[i].key_len >= sizeof k || r.kvs[i].key_len >= kcap ||
            !parse_address((const char *)r.kvs[i].value, a, sizeof a) ||
            strlen(a) >= acap)
            continue;
        memcpy(k, r.kvs[i].key, r.kvs[i].key_len);
        k[r.kvs[i].key_len] = '\0';
        size_t n = loads_on(c, k);
        if (n < best) {
            best = n;
            memcpy(key, k, r.kvs[i].key_len + 1);
            memcpy(addr, a, strlen(a) + 1);
            rc = QV_OK;
        }
    }
    metakv_kvs_release(&r);
    return rc;
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

static qv_code call_node(const char *addr, const char *method,
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
        rc = qv_fail(err, QV_E_INTERNAL, "query node %s: %s", addr, st->reason);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    return rc;
}

static qv__load *find_load(qv_coord *c, int64_t coll)
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

static void forget_load(qv_coord *c, int64_t coll)
{
    for (qv__load **p = &c->loads; *p; p = &(*p)->next)
        if ((*p)->coll == coll) {
            qv__load *l = *p;
            *p = l->next;
            free(l->session);
            free(l->address);
            free(l);
            return;
        }
}

/* Makes sure a live query node watches every vchannel of info; load_mu
 * held.  *addr (may be NULL) receives the node's address (borrowed). */
static qv_code ensure_watched(qv_coord *c, const qv_coll_info *info,
                              bool recheck, const char **addr, qv_err *err)
{
    qv__load *l = find_load(c, info->id);
    if (l && (!recheck || session_alive(c, l->session))) {
        if (addr)
            *addr = l->address;
        return QV_OK;
    }
    char key[600], ad[300];
    qv_code rc = pick_node(c, key, sizeof key, ad, sizeof ad, err);
    if (rc)
        return rc;
    Quiver__Internal__WatchChannelsRequest w =
        QUIVER__INTERNAL__WATCH_CHANNELS_REQUEST__INIT;
    w.collection_id = info->id;
    w.schema = info->schema;
    w.vchannels = info->virtual_channels;
    w.n_vchannels = info->n_virtual_channels;
    w.pchannels = info->physical_channels;
    w.n_pchannels = info->n_physical_channels;
    rc = call_node(ad, QN_SERVICE "WatchChannels", &w.base, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->data_mu);
    for (size_t i = 0; i < info->n_physical_channels; i++)
        qv_coord__use_pchannel(c, info->physical_channels[i]);
    pthread_mutex_unlock(&c->data_mu);
    forget_load(c, info->id);
    l = QV_NEW(qv__load);
    l->coll = info->id;
    l->session = qv_xstrdup(key);
    l->address = qv_xstrdup(ad);
    l->next = c->loads;
    c->loads = l;
    QV_LOG(QV_LOG_INFO, "coord", "collection %s (%" PRId64 ") served by %s",
           info->name, info->id, ad);
    if (addr)
        *addr = l->address;
    return QV_OK;
}

/* The collection's load record: true if it exists. */
static qv_code is_loaded(qv_coord *c, int64_t coll, bool *loaded, qv_err *err)
{
    char k[600];
    load_key(c, coll, k, sizeof k);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(c->opts.kv, k, strlen(k), &r, err);
    *loaded = !rc && r.n > 0;
    if (rc == QV_E_NOT_FOUND)
        rc = QV_OK;
    metakv_kvs_release(&r);
    return rc;
}

static Milvus__Proto__Common__Status *not_loaded(qv_arena *a, const char *name)
{
    Milvus__Proto__Common__Status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    char msg[400];
    snprintf(msg, sizeof msg, "collection not loaded[collection=%s]", name);
    qv_rpc_status_fill(st, QV_E_NOT_READY, QV_SUBJ_COLLECTION,
                       qv_arena_strdup(a, msg));
    return st;
}

/* ---- handlers ------------------------------------------------------------ */

QV_COORD_HANDLER(qv_coord__load_collection)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__LoadCollectionRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    const char *db = qv_coord__db(rq->db_name);
    qv_coll_info *info;
    rc = qv_catalog_get_collection(cat, db, rq->collection_name, 0, a, &info,
                                   err);
    if (!rc) {
        char k[600];
        load_key(c, info->id, k, sizeof k);
        rc = metakv_put(c->opts.kv, k, strlen(k), db, strlen(db), 0, NULL, err);
    }
    if (!rc) {
        pthread_mutex_lock(&c->load_mu);
        rc = ensure_watched(c, info, true, NULL, err);
        pthread_mutex_unlock(&c->load_mu);
    }
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__release_collection)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__ReleaseCollectionRequest *rq =
        (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    rc = qv_catalog_get_collection(cat, qv_coord__db(rq->db_name),
                                   rq->collection_name, 0, a, &info, err);
    if (!rc) {
        char k[600];
        load_key(c, info->id, k, sizeof k);
        rc = metakv_delete(c->opts.kv, k, strlen(k), false, NULL, err);
    }
    if (!rc) {
        pthread_mutex_lock(&c->load_mu);
        qv__load *l = find_load(c, info->id);
        if (l) {
            Quiver__Internal__ReleaseChannelsRequest x =
                QUIVER__INTERNAL__RELEASE_CHANNELS_REQUEST__INIT;
            x.collection_id = info->id;
            qv_err e2 = {0};
            if (call_node(l->address, QN_SERVICE "ReleaseChannels", &x.base,
                          &e2))
                QV_LOG(QV_LOG_WARN, "coord", "release: %s", e2.msg);
            forget_load(c, info->id);
        }
        pthread_mutex_unlock(&c->load_mu);
    }
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

/* Load state of (db, name): 0 = no collection, 1 = not loaded, 3 loaded. */
static qv_code load_state(qv_coord *c, const char *db, const char *name,
                          qv_arena *a, int *state, qv_err *err)
{
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    rc = qv_catalog_get_collection(cat, qv_coord__db(db), name, 0, a, &info,
                                   err);
    bool loaded = false;
    if (!rc)
        rc = is_loaded(c, info->id, &loaded, err);
    if (!rc && loaded) {
        pthread_mutex_lock(&c->load_mu);
        rc = ensure_watched(c, info, false, NULL, err);
        pthread_mutex_unlock(&c->load_mu);
    }
    qv_coord__leave(c);
    *state = loaded ? 3 : 1;
    return rc;
}

QV_COORD_HANDLER(qv_coord__get_load_state)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetLoadStateRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    int st = 0;
    qv_code rc = load_state(c, rq->db_name, rq->collection_name, a, &st, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    Milvus__Proto__Milvus__GetLoadStateResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_load_state_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    r->state = (Milvus__Proto__Common__LoadState)st;
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_loading_progress)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetLoadingProgressRequest *rq =
        (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    int st = 0;
    qv_code rc = load_state(c, rq->db_name, rq->collection_name, a, &st, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    Milvus__Proto__Milvus__GetLoadingProgressResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_loading_progress_response__init(r);
    if (!rc && st != 3) {
        r->status = not_loaded(a, rq->collection_name);
    } else {
        r->status = qv_coord__status(a, rc, err);
        r->progress = rc ? 0 : 100;
        r->refresh_progress = r->progress;
    }
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_shard_leaders)
{
    qv_coord *c = ud;
    const Quiver__Internal__GetShardLeadersRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__GetShardLeadersResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__get_shard_leaders_response__init(r);
    *resp = &r->base;
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    rc = qv_catalog_get_collection(cat, qv_coord__db(rq->db_name), NULL,
                                   rq->collection_id, a, &info, err);
    bool loaded = false;
    if (!rc)
        rc = is_loaded(c, info->id, &loaded, err);
    const char *addr = NULL;
    if (!rc && loaded) {
        pthread_mutex_lock(&c->load_mu);
        rc = ensure_watched(c, info, false, &addr, err);
        if (!rc)
            addr = qv_arena_strdup(a, addr);
        pthread_mutex_unlock(&c->load_mu);
    }
    if (!rc && loaded) {
        r->partition_ids =
            qv_arena_alloc(a, (rq->n_partition_names + 1) * sizeof(int64_t));
        rc = qv_coord__partition_ids(info, rq->partition_names,
                                     rq->n_partition_names, r->partition_ids,
                                     err);
        r->n_partition_ids = rc ? 0 : rq->n_partition_names;
    }
    qv_coord__leave(c);
    if (!rc && !loaded) {
        r->status = not_loaded(a, info->name);
        return QV_OK;
    }
    r->status = qv_coord__status(a, rc, err);
    if (rc)
        return QV_OK;
    size_t n = info->n_virtual_channels;
    r->leaders = qv_arena_alloc(a, (n + 1) * sizeof(*r->leaders));
    for (size_t i = 0; i < n; i++) {
        Quiver__Internal__ShardLeader *l = qv_arena_alloc(a, sizeof *l);
        quiver__internal__shard_leader__init(l);
        l->vchannel = info->virtual_channels[i];
        l->pchannel = info->physical_channels[i];
        l->address = (char *)addr;
        r->leaders[i] = l;
    }
    r->n_leaders = n;
    return QV_OK;
}

/* ---- keeper -------------------------------------------------------------- */

void qv_coord__keep_loads(qv_coord *c)
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
    for (size_t i = 0; i < r.n; i++) {
        char idbuf[32];
        size_t il = r.kvs[i].key_len - plen;
        if (il == 0 || il >= sizeof idbuf)
            continue;
        memcpy(idbuf, r.kvs[i].key + plen, il);
        idbuf[il] = '\0';
        int64_t id = strtoll(idbuf, NULL, 10);
        qv_arena a;
        qv_arena_init(&a, 0);
        qv_coll_info *info;
        qv_err e2 = {0};
        qv_code rc = qv_catalog_get_collection(
            cat, (const char *)r.kvs[i].value, NULL, id, &a, &info, &e2);
        pthread_mutex_lock(&c->load_mu);
        if (rc == QV_E_COLLECTION_NOT_FOUND || rc == QV_E_DATABASE_NOT_FOUND) {
            qv__load *l = find_load(c, id);
            if (l) {
                Quiver__Internal__ReleaseChannelsRequest x =
                    QUIVER__INTERNAL__RELEASE_CHANNELS_REQUEST__INIT;
                x.collection_id = id;
                if (call_node(l->address, QN_SERVICE "ReleaseChannels", &x.base,
                              &e2))
                    QV_LOG(QV_LOG_WARN, "coord", "release: %s", e2.msg);
            }
            forget_load(c, id);
            if (metakv_delete(c->opts.kv, r.kvs[i].key, r.kvs[i].key_len, false,
                              NULL, &e2))
                QV_LOG(QV_LOG_WARN, "coord", "load record: %s", e2.msg);
        } else if (!rc && ensure_watched(c, info, true, NULL, &e2)) {
            QV_LOG(QV_LOG_WARN, "coord", "cannot serve collection %s: %s",
                   info->name, e2.msg);
        }
        pthread_mutex_unlock(&c->load_mu);
        qv_arena_release(&a);
    }
    metakv_kvs_release(&r);
    qv_coord__leave(c);
}

void qv_coord__loads_clear(qv_coord *c)
{
    pthread_mutex_lock(&c->load_mu);
    while (c->loads)
        forget_load(c, c->loads->coll);
    pthread_mutex_unlock(&c->load_mu);
}
