/* svc_load.c -- LoadCollection, LoadPartitions, ReleaseCollection,
 * ReleasePartitions, GetLoadState, GetLoadingProgress, GetShardLeaders
 * and GetReplicas (coord_load.c keeps the assignments and targets they
 * use; see its header comment for the rules). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "coord/coord_int.h"
#include "coord/coord_load.h"
#include "proto/rpc_status.h"

static Milvus__Proto__Common__Status *not_loaded(qv_arena *a, const char *what,
                                                 const char *name)
{
    Milvus__Proto__Common__Status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    char msg[400];
    snprintf(msg, sizeof msg, "%s not loaded[%s=%s]", what, what, name);
    qv_rpc_status_fill(st,
                       strcmp(what, "partition") == 0
                           ? QV_E_PARTITION_NOT_LOADED
                           : QV_E_NOT_READY,
                       QV_SUBJ_COLLECTION, qv_arena_strdup(a, msg));
    return st;
}

static qv_code check_replicas(qv_coord *c, int32_t want, qv_err *err)
{
    if (want <= 1)
        return QV_OK;
    qv_arena a;
    qv_arena_init(&a, 0);
    char **keys, **addrs;
    size_t n = 0;
    qv_code rc = qv_coord__load_nodes(c, &a, &keys, &addrs, &n, err);
    qv_arena_release(&a);
    if (rc)
        return rc;
    if (n < (size_t)want)
        return qv_fail(err, QV_E_INVALID,
                       "failed to load collection: resource group node not "
                       "enough[rg=__default_resource_group][requested=%d]"
                       "[available=%zu]: replica_number %d needs as many "
                       "query nodes",
                       want, n, want);
    return qv_fail(err, QV_E_UNSUPPORTED,
                   "replica_number %d: this version serves one replica per "
                   "collection",
                   want);
}

/* The collection named (db, name) or with id; coord entered. */
static qv_code get_coll(qv_catalog *cat, const char *db, const char *name,
                        int64_t id, qv_arena *a, qv_coll_info **info,
                        qv_err *err)
{
    return qv_catalog_get_collection(cat, qv_coord__db(db),
                                     name && name[0] ? name : NULL,
                                     name && name[0] ? 0 : id, a, info, err);
}

/* Names -> ids; *ids on a. */
static qv_code part_ids(const qv_coll_info *info, char **names, size_t n,
                        qv_arena *a, int64_t **ids, qv_err *err)
{
    *ids = qv_arena_alloc(a, (n + 1) * sizeof(int64_t));
    return qv_coord__partition_ids(info, names, n, *ids, err);
}

/* Writes the load record (parts NULL: the whole collection) and makes the
 * query node serve it.  Coord entered. */
static qv_code do_load(qv_coord *c, const qv_coll_info *info, const char *db,
                       const int64_t *parts, size_t nparts, qv_err *err)
{
    qv_code rc =
        qv_coord__load_put_rec(c, info->id, db, parts, parts ? nparts : 0, err);
    if (rc)
        return rc;
    qv_load_rec rec = {.loaded = true,
                       .db = (char *)db,
                       .parts = (int64_t *)parts,
                       .nparts = nparts};
    rc = qv_coord__load_refresh(c, info, &rec, true, err);
    pthread_mutex_lock(&c->load_mu);
    int64_t p = 0;
    if (!rc)
        rc = qv_coord__load_progress(c, info->id, NULL, 0, &p, err);
    pthread_mutex_unlock(&c->load_mu);
    return rc;
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
    rc = get_coll(cat, db, rq->collection_name, 0, a, &info, err);
    if (!rc)
        rc = check_replicas(c, rq->replica_number, err);
    if (!rc)
        rc = do_load(c, info, db, NULL, 0, err);
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__load_partitions)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__LoadPartitionsRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    const char *db = qv_coord__db(rq->db_name);
    qv_coll_info *info;
    int64_t *ids = NULL;
    qv_load_rec rec;
    rc = get_coll(cat, db, rq->collection_name, 0, a, &info, err);
    if (!rc && rq->n_partition_names == 0)
        rc = qv_fail(err, QV_E_INVALID, "partition names are required");
    if (!rc)
        rc = part_ids(info, rq->partition_names, rq->n_partition_names, a, &ids,
                      err);
    if (!rc)
        rc = check_replicas(c, rq->replica_number, err);
    if (!rc)
        rc = qv_coord__load_get_rec(c, info->id, a, &rec, err);
    if (!rc && rec.loaded && !rec.parts) {
        rc = do_load(c, info, db, NULL, 0, err); /* already whole */
    } else if (!rc) {
        size_t n = rec.loaded ? rec.nparts : 0;
        int64_t *all =
            qv_arena_alloc(a, (n + rq->n_partition_names + 1) * sizeof *all);
        if (n)
            memcpy(all, rec.parts, n * sizeof *all);
        for (size_t i = 0; i < rq->n_partition_names; i++)
            if (!qv_coord__load_has_id(all, n, ids[i]))
                all[n++] = ids[i];
        rc = do_load(c, info, db, all, n, err);
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
    rc = get_coll(cat, rq->db_name, rq->collection_name, 0, a, &info, err);
    if (!rc) {
        char k[600];
        qv_coord__load_key(c, info->id, k, sizeof k);
        rc = metakv_delete(c->opts.kv, k, strlen(k), false, NULL, err);
    }
    if (!rc) {
        pthread_mutex_lock(&c->load_mu);
        qv_coord__load_release_node(c, info->id);
        pthread_mutex_unlock(&c->load_mu);
    }
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__release_partitions)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__ReleasePartitionsRequest *rq =
        (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    const char *db = qv_coord__db(rq->db_name);
    qv_coll_info *info;
    int64_t *ids = NULL;
    qv_load_rec rec = {0};
    rc = get_coll(cat, db, rq->collection_name, 0, a, &info, err);
    if (!rc)
        rc = part_ids(info, rq->partition_names, rq->n_partition_names, a, &ids,
                      err);
    if (!rc)
        rc = qv_coord__load_get_rec(c, info->id, a, &rec, err);
    if (!rc && rec.loaded) {
        /* what stays loaded: the loaded partitions minus the named ones */
        size_t n = 0, cap = rec.parts ? rec.nparts : info->n_partitions;
        int64_t *keep = qv_arena_alloc(a, (cap + 1) * sizeof *keep);
        for (size_t i = 0; i < cap; i++) {
            int64_t id = rec.parts ? rec.parts[i] : info->partitions[i]->id;
            if (!qv_coord__load_has_id(ids, rq->n_partition_names, id))
                keep[n++] = id;
        }
        if (n == 0) {
            char k[600];
            qv_coord__load_key(c, info->id, k, sizeof k);
            rc = metakv_delete(c->opts.kv, k, strlen(k), false, NULL, err);
            pthread_mutex_lock(&c->load_mu);
            qv_coord__load_release_node(c, info->id);
            pthread_mutex_unlock(&c->load_mu);
        } else {
            rc = do_load(c, info, db, keep, n, err);
        }
    }
    qv_coord__leave(c);
    *resp = &qv_coord__status(a, rc, err)->base;
    return QV_OK;
}

/* Resolves a load state / progress request: the collection, its
 * record, the named partitions' ids; then refreshes and measures
 * progress. *state: 1 not loaded, 2 loading, 3 loaded; *bad
 * names a partition that is not loaded. */
static qv_code measure(qv_coord *c, const char *db, const char *name,
                       char **pnames, size_t npn, qv_arena *a, int *state,
                       int64_t *prog, const char **bad, qv_err *err)
{
    qv_catalog *cat;
    *state = 1;
    *prog = 0;
    *bad = NULL;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    int64_t *ids = NULL;
    qv_load_rec rec = {0};
    rc = get_coll(cat, db, name, 0, a, &info, err);
    if (!rc)
        rc = part_ids(info, pnames, npn, a, &ids, err);
    if (!rc)
        rc = qv_coord__load_get_rec(c, info->id, a, &rec, err);
    for (size_t i = 0; !rc && rec.loaded && rec.parts && i < npn; i++)
        if (!qv_coord__load_has_id(rec.parts, rec.nparts, ids[i]))
            *bad = pnames[i];
    if (!rc && rec.loaded && !*bad) {
        rc = qv_coord__load_refresh(c, info, &rec, false, err);
        pthread_mutex_lock(&c->load_mu);
        if (!rc)
            rc = qv_coord__load_progress(c, info->id, npn ? ids : NULL, npn,
                                         prog, err);
        pthread_mutex_unlock(&c->load_mu);
        *state = *prog >= 100 ? 3 : 2;
    }
    qv_coord__leave(c);
    return rc;
}

QV_COORD_HANDLER(qv_coord__get_load_state)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetLoadStateRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    int st = 1;
    int64_t p = 0;
    const char *bad = NULL;
    qv_code rc =
        measure(c, rq->db_name, rq->collection_name, rq->partition_names,
                rq->n_partition_names, a, &st, &p, &bad, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    Milvus__Proto__Milvus__GetLoadStateResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_load_state_response__init(r);
    r->status = qv_coord__status(a, rc, err);
    r->state = (Milvus__Proto__Common__LoadState)(bad ? 1 : st);
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_loading_progress)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetLoadingProgressRequest *rq =
        (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    int st = 1;
    int64_t p = 0;
    const char *bad = NULL;
    qv_code rc =
        measure(c, rq->db_name, rq->collection_name, rq->partition_names,
                rq->n_partition_names, a, &st, &p, &bad, err);
    if (rc == QV_E_UNAVAILABLE)
        return rc;
    Milvus__Proto__Milvus__GetLoadingProgressResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_loading_progress_response__init(r);
    if (!rc && bad) {
        r->status = not_loaded(a, "partition", bad);
    } else if (!rc && st == 1) {
        r->status = not_loaded(a, "collection", rq->collection_name);
    } else {
        r->status = qv_coord__status(a, rc, err);
        r->progress = rc ? 0 : p;
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
    qv_load_rec rec = {0};
    if (!rc)
        rc = qv_coord__load_get_rec(c, info->id, a, &rec, err);
    const char *addr = NULL, *bad = NULL;
    if (!rc && rec.loaded) {
        pthread_mutex_lock(&c->load_mu);
        rc = qv_coord__load_watch(c, info, &rec, false, &addr, err);
        if (!rc)
            addr = qv_arena_strdup(a, addr);
        pthread_mutex_unlock(&c->load_mu);
    }
    if (!rc && rec.loaded) {
        int64_t *ids = NULL;
        rc = part_ids(info, rq->partition_names, rq->n_partition_names, a, &ids,
                      err);
        for (size_t i = 0; !rc && rec.parts && i < rq->n_partition_names; i++)
            if (!qv_coord__load_has_id(rec.parts, rec.nparts, ids[i]))
                bad = rq->partition_names[i];
        r->partition_ids = ids;
        r->n_partition_ids = rc ? 0 : rq->n_partition_names;
        if (!rc && rec.parts && rq->n_partition_names == 0) {
            /* a partial load reads only the loaded partitions */
            r->partition_ids = rec.parts;
            r->n_partition_ids = rec.nparts;
        }
    }
    qv_coord__leave(c);
    if (!rc && (!rec.loaded || bad)) {
        r->status = bad ? not_loaded(a, "partition", bad)
                        : not_loaded(a, "collection", info->name);
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

/* The node id in a session key ".../querynode-<id>". */
static int64_t node_id(const char *session)
{
    const char *d = strrchr(session, '-');
    return d ? strtoll(d + 1, NULL, 10) : 0;
}

QV_COORD_HANDLER(qv_coord__get_replicas)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__GetReplicasRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__GetReplicasResponse *r =
        qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_replicas_response__init(r);
    *resp = &r->base;
    qv_catalog *cat;
    qv_code rc = qv_coord__enter(c, &cat, NULL, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    qv_load_rec rec = {0};
    rc = get_coll(cat, rq->db_name, rq->collection_name, rq->collectionid, a,
                  &info, err);
    if (!rc)
        rc = qv_coord__load_get_rec(c, info->id, a, &rec, err);
    const char *addr = NULL;
    int64_t nid = 0;
    if (!rc && rec.loaded) {
        pthread_mutex_lock(&c->load_mu);
        rc = qv_coord__load_watch(c, info, &rec, false, &addr, err);
        if (!rc) {
            addr = qv_arena_strdup(a, addr);
            nid = node_id(qv_coord__load_session(c, info->id));
        }
        pthread_mutex_unlock(&c->load_mu);
    }
    qv_coord__leave(c);
    if (!rc && !rec.loaded) {
        r->status = not_loaded(a, "collection", info->name);
        return QV_OK;
    }
    r->status = qv_coord__status(a, rc, err);
    if (rc)
        return QV_OK;
    Milvus__Proto__Milvus__ReplicaInfo *ri = qv_arena_alloc(a, sizeof *ri);
    milvus__proto__milvus__replica_info__init(ri);
    ri->replicaid = info->id; /* one replica per collection */
    ri->collectionid = info->id;
    size_t np = rec.parts ? rec.nparts : info->n_partitions;
    ri->partition_ids = qv_arena_alloc(a, (np + 1) * sizeof(int64_t));
    for (size_t i = 0; i < np; i++)
        ri->partition_ids[i] =
            rec.parts ? rec.parts[i] : info->partitions[i]->id;
    ri->n_partition_ids = np;
    ri->node_ids = qv_arena_alloc(a, sizeof(int64_t));
    ri->node_ids[0] = nid;
    ri->n_node_ids = 1;
    ri->resource_group_name = (char *)"__default_resource_group";
    size_t n = info->n_virtual_channels;
    ri->shard_replicas = qv_arena_alloc(a, (n + 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        Milvus__Proto__Milvus__ShardReplica *s = qv_arena_alloc(a, sizeof *s);
        milvus__proto__milvus__shard_replica__init(s);
        s->leaderid = nid;
        s->leader_addr = (char *)addr;
        s->dm_channel_name = info->virtual_channels[i];
        s->node_ids = ri->node_ids;
        s->n_node_ids = 1;
        ri->shard_replicas[i] = s;
    }
    ri->n_shard_replicas = n;
    r->replicas = qv_arena_alloc(a, sizeof(void *));
    r->replicas[0] = ri;
    r->n_replicas = 1;
    return QV_OK;
}
