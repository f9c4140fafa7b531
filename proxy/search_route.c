/* search_route.c -- shard leaders, index metrics and query node channels
 * kept for searches (search_route.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/rpc/rpc_client.h"
#include "proxy/search_route.h"

#define M(x) Milvus__Proto__Milvus__##x
typedef Milvus__Proto__Common__KeyValuePair kvp;

static const char *param(kvp **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0)
            return kv[i]->value ? kv[i]->value : "";
    return NULL;
}

/* ---- shard leaders ---------------------------------------------------------
 */

#define LEADER_SLOTS 32

typedef struct leader_slot {
    const qv_proxy *p;
    int64_t coll;
    uint64_t created; /* the collection's creation timestamp */
    char *key;        /* partition names, each followed by '\n' */
    size_t n;
    char **vch, **pch, **addr;
    int64_t *parts;
    size_t nparts;
    uint64_t at_ms;
} leader_slot;

static leader_slot leaders[LEADER_SLOTS];
static pthread_mutex_t leaders_mu = PTHREAD_MUTEX_INITIALIZER;

static void slot_clear(leader_slot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->vch[i]);
        free(s->pch[i]);
        free(s->addr[i]);
    }
    free(s->vch);
    free(s->pch);
    free(s->addr);
    free(s->parts);
    free(s->key);
    memset(s, 0, sizeof *s);
}

static char *names_key(char **parts, size_t n)
{
    qv_buf b = QV_BUF_INIT;
    bool ok = qv_buf_append(&b, "", 0) == QV_OK;
    for (size_t i = 0; ok && i < n; i++)
        ok = qv_buf_append(&b, parts[i], strlen(parts[i])) == QV_OK &&
             qv_buf_append(&b, "\n", 1) == QV_OK;
    char *k = qv_xstrdup(ok && b.data ? b.data : "");
    qv_buf_release(&b);
    return k;
}

/* Copies a cached answer into the arena. */
static void slot_to_plan(const leader_slot *s, qv_arena *a, qv_read_plan *rp)
{
    rp->leaders = qv_arena_calloc(a, s->n + 1, sizeof *rp->leaders);
    for (size_t i = 0; i < s->n; i++) {
        Quiver__Internal__ShardLeader *l = qv_arena_alloc(a, sizeof *l);
        quiver__internal__shard_leader__init(l);
        l->vchannel = qv_arena_strdup(a, s->vch[i]);
        l->pchannel = qv_arena_strdup(a, s->pch[i]);
        l->address = qv_arena_strdup(a, s->addr[i]);
        rp->leaders[i] = l;
    }
    rp->npartitions = s->nparts;
    rp->partitions = qv_arena_calloc(a, s->nparts + 1, sizeof(int64_t));
    if (s->nparts)
        memcpy(rp->partitions, s->parts, s->nparts * sizeof(int64_t));
}

static uint64_t created_of(const qv_coll_ctx *c)
{
    return c->d ? c->d->created_timestamp : 0;
}

static void slot_fill(leader_slot *s, const qv_proxy *p, const qv_coll_ctx *c,
                      char *key, const qv_read_plan *rp, uint64_t now)
{
    size_t n = c->nshards;
    s->p = p;
    s->coll = c->id;
    s->created = created_of(c);
    s->key = key;
    s->n = n;
    s->vch = QV_NEW_ARRAY(char *, n + 1);
    s->pch = QV_NEW_ARRAY(char *, n + 1);
    s->addr = QV_NEW_ARRAY(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        const Quiver__Internal__ShardLeader *l = rp->leaders[i];
        s->vch[i] = qv_xstrdup(l->vchannel ? l->vchannel : "");
        s->pch[i] = qv_xstrdup(l->pchannel ? l->pchannel : "");
        s->addr[i] = qv_xstrdup(l->address ? l->address : "");
    }
    s->nparts = rp->npartitions;
    s->parts = QV_NEW_ARRAY(int64_t, rp->npartitions + 1);
    if (rp->npartitions)
        memcpy(s->parts, rp->partitions, rp->npartitions * sizeof(int64_t));
    s->at_ms = now;
}

qv_code qv_proxy__search_leaders(qv_proxy *p, qv_rpc_call *call,
                                 const qv_coll_ctx *c, char **parts,
                                 size_t nparts, bool use_cache,
                                 qv_read_plan *rp, bool *cached, qv_err *err)
{
    uint64_t now = qv_mono_ms(qv_clock_system());
    char *key = names_key(parts, nparts);
    *cached = false;
    pthread_mutex_lock(&leaders_mu);
    for (size_t i = 0; use_cache && i < LEADER_SLOTS; i++) {
        leader_slot *s = &leaders[i];
        if (s->p == p && s->coll == c->id && s->created == created_of(c) &&
            s->key && strcmp(s->key, key) == 0 &&
            now - s->at_ms < QV_PROXY_LEADER_TTL_MS) {
            slot_to_plan(s, qv_rpc_call_arena(call), rp);
            *cached = true;
            break;
        }
    }
    pthread_mutex_unlock(&leaders_mu);
    if (*cached) {
        free(key);
        return QV_OK;
    }
    qv_code rc = qv_proxy__leaders(p, call, c, parts, nparts, rp, err);
    if (rc) {
        free(key);
        return rc;
    }
    pthread_mutex_lock(&leaders_mu);
    size_t victim = 0;
    for (size_t i = 0; i < LEADER_SLOTS; i++) {
        leader_slot *s = &leaders[i];
        if (s->p == p && s->coll == c->id && s->key &&
            strcmp(s->key, key) == 0) {
            victim = i;
            break;
        }
        if (s->at_ms < leaders[victim].at_ms)
            victim = i;
    }
    slot_clear(&leaders[victim]);
    slot_fill(&leaders[victim], p, c, key, rp, now);
    pthread_mutex_unlock(&leaders_mu);
    return QV_OK;
}

void qv_proxy__search_forget(const qv_proxy *p, int64_t coll)
{
    pthread_mutex_lock(&leaders_mu);
    for (size_t i = 0; i < LEADER_SLOTS; i++)
        if (leaders[i].p == p && leaders[i].coll == coll)
            slot_clear(&leaders[i]);
    pthread_mutex_unlock(&leaders_mu);
}

void qv_proxy__search_forget_all(const qv_proxy *p)
{
    pthread_mutex_lock(&leaders_mu);
    for (size_t i = 0; i < LEADER_SLOTS; i++)
        if (leaders[i].p == p)
            slot_clear(&leaders[i]);
    pthread_mutex_unlock(&leaders_mu);
}

/* ---- the index's metric when the request names none ---------------------
 * The SDKs send metric_type "" unless the caller set one; Milvus then
 * searches with the metric of the field's index.  DescribeIndex at the
 * coord answers it; answers (also "no index") are kept METRIC_TTL_MS per
 * (proxy, collection, field) so a search costs no coord call. */
#define METRIC_SLOTS  64
#define METRIC_TTL_MS 2000

typedef struct metric_slot {
    const qv_proxy *p;
    int64_t coll, field;
    uint64_t created; /* the collection's creation timestamp */
    bool has;         /* the field has an index */
    qv_metric m;
    uint64_t at_ms;
} metric_slot;

static metric_slot metric_cache[METRIC_SLOTS];
static pthread_mutex_t metric_mu = PTHREAD_MUTEX_INITIALIZER;

static bool metric_cached(const qv_proxy *p, int64_t coll, uint64_t created,
                          int64_t field, uint64_t now, bool *has, qv_metric *m)
{
    bool hit = false;
    pthread_mutex_lock(&metric_mu);
    for (size_t i = 0; i < METRIC_SLOTS && !hit; i++) {
        metric_slot *s = &metric_cache[i];
        if (s->p == p && s->coll == coll && s->created == created &&
            s->field == field && now - s->at_ms < METRIC_TTL_MS) {
            hit = true;
            *has = s->has;
            *m = s->m;
        }
    }
    pthread_mutex_unlock(&metric_mu);
    return hit;
}

static void metric_store(const qv_proxy *p, int64_t coll, uint64_t created,
                         int64_t field, uint64_t now, bool has, qv_metric m)
{
    pthread_mutex_lock(&metric_mu);
    size_t victim = 0;
    for (size_t i = 0; i < METRIC_SLOTS; i++) {
        metric_slot *s = &metric_cache[i];
        if (s->p == p && s->coll == coll && s->created == created &&
            s->field == field) {
            victim = i;
            break;
        }
        if (s->at_ms < metric_cache[victim].at_ms)
            victim = i;
    }
    metric_cache[victim] = (metric_slot){p, coll, field, created, has, m, now};
    pthread_mutex_unlock(&metric_mu);
}

/* The metric of field f's index, if it has one (*has). */
qv_code qv_proxy__index_metric(qv_proxy *p, qv_rpc_call *call,
                               const qv_coll_ctx *c, const char *coll_name,
                               const qv_field_spec *f, bool *has, qv_metric *m,
                               qv_err *err)
{
    uint64_t now = qv_mono_ms(qv_clock_system());
    if (metric_cached(p, c->id, created_of(c), f->id, now, has, m))
        return QV_OK;
    M(DescribeIndexRequest)
    dr = MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
    dr.db_name = (char *)c->db;
    dr.collection_name = (char *)coll_name;
    dr.field_name = (char *)f->name;
    ProtobufCMessage *out = NULL;
    qv_code rc = qv_proxy__forward(
        p, call, "DescribeIndex", &dr.base,
        &milvus__proto__milvus__describe_index_response__descriptor, &out, err);
    *has = false;
    const M(DescribeIndexResponse) *r = (const void *)out;
    if (!rc && r && r->status && r->status->code == 0) {
        for (size_t i = 0; i < r->n_index_descriptions && !*has; i++) {
            const M(IndexDescription) *d = r->index_descriptions[i];
            if (d->field_name && strcmp(d->field_name, f->name) != 0)
                continue;
            const char *mt = param(d->params, d->n_params, "metric_type");
            *has = mt && mt[0] && qv_metric_parse(mt, m, NULL) == QV_OK;
        }
    } else if (rc && qv_code_primary(rc) != QV_E_NOT_FOUND) {
        return rc; /* no coord: the caller keeps the default */
    }
    metric_store(p, c->id, created_of(c), f->id, now, *has, *m);
    return QV_OK;
}

/* ---- query node channels --------------------------------------------------
 * qv_proxy__call_nodes opens the channel of a query node for each call and
 * closes it after; the channel cache (common/rpc) destroys a channel when
 * its last reference closes, so a search that found no other call in
 * flight to that node would connect again (TCP and HTTP/2 handshakes, most
 * of a millisecond of CPU per search).  Every query node call of the read
 * path (Search, Query, by-id lookups) first keeps one reference to the
 * channel of its address here (the most recent HELD_CHANNELS addresses), so
 * calls reuse one connection. */
#define HELD_CHANNELS 32

typedef struct held_channel {
    char addr[96];
    qv_rpc_channel *ch;
    uint64_t used; /* a counter: the smallest is let go first */
} held_channel;

static held_channel held[HELD_CHANNELS];
static uint64_t held_clock;
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;

void qv_proxy__hold_channel(const char *addr)
{
    if (!addr || strlen(addr) >= sizeof held[0].addr)
        return;
    qv_rpc_channel *drop = NULL;
    pthread_mutex_lock(&held_mu);
    size_t victim = 0;
    for (size_t i = 0; i < HELD_CHANNELS; i++) {
        if (held[i].ch && strcmp(held[i].addr, addr) == 0) {
            held[i].used = ++held_clock;
            pthread_mutex_unlock(&held_mu);
            return;
        }
        if (held[i].used < held[victim].used)
            victim = i;
    }
    qv_rpc_channel *ch = NULL;
    if (qv_rpc_channel_open(addr, &ch, NULL) == QV_OK) {
        drop = held[victim].ch;
        held[victim].ch = ch;
        (void)snprintf(held[victim].addr, sizeof held[victim].addr, "%s", addr);
        held[victim].used = ++held_clock;
    }
    pthread_mutex_unlock(&held_mu);
    qv_rpc_channel_close(drop);
}

bool qv_proxy__route_stale(qv_code rc)
{
    switch (rc & 0xff) {
    case QV_E_UNAVAILABLE:
    case QV_E_NOT_READY:
    case QV_E_NOT_FOUND:
    case QV_E_CANCELLED:
        return true;
    default:
        return false;
    }
}
