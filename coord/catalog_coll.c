/* catalog_coll.c -- collections in the catalog (see catalog.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/catalog_int.h"
#include "coord/schema_check.h"
#include "proto/pb_arena.h"

/* Fails with QV_E_EXISTS when name is a live collection or an alias in
 * db_id; adds compares asserting both keys stay absent. */
static qv_code claim_name(qv_catalog *c, metakv_txn *t, int64_t db_id,
                          const char *db, const char *name, qv_err *err)
{
    ckey kn, ka;
    int64_t id;
    qv__cat_key(c, &kn, "collname/%" PRId64 "/%s", db_id, name);
    qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", db_id, name);
    qv_code rc = qv__cat_get_index(c, &kn, &id, NULL, err);
    if (rc == QV_OK)
        return qv_fail(err, QV_E_EXISTS,
                       "collection '%s' already exists in database '%s'", name,
                       db);
    if (rc != QV_E_NOT_FOUND)
        return rc;
    rc = qv__cat_get_index(c, &ka, &id, NULL, err);
    if (rc == QV_OK)
        return qv_fail(err, QV_E_EXISTS,
                       "'%s' is already an alias in database '%s'", name, db);
    if (rc != QV_E_NOT_FOUND)
        return rc;
    metakv_txn_cmp_num(t, kn.s, kn.n, METAKV_CMP_CREATE_REV, METAKV_EQ, 0);
    metakv_txn_cmp_num(t, ka.s, ka.n, METAKV_CMP_CREATE_REV, METAKV_EQ, 0);
    return QV_OK;
}

/* Partitions and channels of a new collection. */
static qv_code fill_new(qv_catalog *c, qv_arena *a, qv_coll_info *info,
                        uint64_t ts, qv_err *err)
{
    int64_t nparts = info->num_partitions > 0 ? info->num_partitions : 1;
    int64_t first;
    qv_code rc = qv_tso_alloc_ids(c->tso, (uint32_t)nparts, &first, err);
    if (rc)
        return rc;
    info->partitions = qv_arena_alloc(a, (size_t)nparts * sizeof(void *));
    info->n_partitions = (size_t)nparts;
    for (int64_t i = 0; i < nparts; i++) {
        Quiver__Internal__PartitionInfo *p = qv_arena_alloc(a, sizeof(*p));
        quiver__internal__partition_info__init(p);
        p->id = first + i;
        p->created_ts = ts;
        if (info->num_partitions > 0) {
            char nm[64];
            snprintf(nm, sizeof(nm), "%s_%" PRId64, QV_DEFAULT_PARTITION, i);
            p->name = qv_arena_strdup(a, nm);
        } else {
            p->name = qv_arena_strdup(a, QV_DEFAULT_PARTITION);
        }
        info->partitions[i] = p;
    }
    size_t shards = (size_t)info->shards_num;
    info->virtual_channels = qv_arena_alloc(a, shards * sizeof(char *));
    info->physical_channels = qv_arena_alloc(a, shards * sizeof(char *));
    info->n_virtual_channels = info->n_physical_channels = shards;
    for (size_t s = 0; s < shards; s++) {
        char pch[128], vch[192];
        uint64_t p = ((uint64_t)info->id + s) % c->pchannels;
        snprintf(pch, sizeof(pch), "%s_%" PRIu64, c->dml_prefix, p);
        snprintf(vch, sizeof(vch), "%s_%" PRId64 "v%zu", pch, info->id, s);
        info->physical_channels[s] = qv_arena_strdup(a, pch);
        info->virtual_channels[s] = qv_arena_strdup(a, vch);
    }
    return QV_OK;
}

qv_code qv_catalog_create_collection(qv_catalog *c, const char *db,
                                     qv_coll_info *info, int64_t *id_out,
                                     qv_err *err)
{
    if (info->shards_num < 1)
        return qv_fail(err, QV_E_INVALID, "shards_num %d must be >= 1",
                       info->shards_num);
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info *d;
    int64_t db_rev = 0;
    qv_code rc = qv__cat_get_db(c, db, &a, &d, &db_rev, err);
    if (rc == QV_E_NOT_FOUND)
        rc = qv_fail(err, QV_E_DATABASE_NOT_FOUND, "database '%s' not found",
                     db);
    metakv_txn *t = rc ? NULL : metakv_txn_begin(c->kv);
    if (!rc)
        rc = claim_name(c, t, d->id, db, info->name, err);
    uint64_t ts = 0;
    if (!rc)
        rc = qv_tso_alloc_ids(c->tso, 1, &info->id, err);
    if (!rc)
        ts = qv__cat_now_ts(c, err, &rc);
    if (!rc) {
        info->db_id = d->id;
        info->created_ts = info->update_ts = ts;
        info->state = QUIVER__INTERNAL__META_STATE__META_CREATED;
        rc = fill_new(c, &a, info, ts, err);
    }
    if (!rc) {
        ckey kd, kc, kn;
        qv__cat_key(c, &kd, "db/%s", db);
        qv__cat_key(c, &kc, "coll/%" PRId64 "/%" PRId64, d->id, info->id);
        qv__cat_key(c, &kn, "collname/%" PRId64 "/%s", d->id, info->name);
        metakv_txn_cmp_num(t, kd.s, kd.n, METAKV_CMP_MOD_REV, METAKV_EQ,
                           db_rev);
        rc = qv__cat_txn_put_msg(t, &kc, &info->base);
        qv__cat_txn_put_id(t, &kn, info->id);
        if (!rc) {
            rc = qv__cat_commit(t, "create collection", err);
            t = NULL;
        }
    }
    metakv_txn_abort(t);
    pthread_mutex_unlock(&c->ddl_mu);
    if (!rc && id_out)
        *id_out = info->id;
    /* info's partitions and channels pointed into a; clear them. */
    info->partitions = NULL;
    info->n_partitions = 0;
    info->virtual_channels = info->physical_channels = NULL;
    info->n_virtual_channels = info->n_physical_channels = 0;
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_get_collection(qv_catalog *c, const char *db,
                                  const char *name, int64_t id, qv_arena *a,
                                  qv_coll_info **out, qv_err *err)
{
    if (id <= 0)
        return qv__cat_resolve(c, db, name, true, a, NULL, out, NULL, err);
    qv_db_info *d;
    qv_code rc = qv_catalog_get_database(c, db, a, &d, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    rc = qv__cat_get_coll_by_id(c, d->id, id, a, &info, NULL, err);
    if (rc == QV_OK &&
        info->state == QUIVER__INTERNAL__META_STATE__META_DROPPED)
        rc = QV_E_NOT_FOUND;
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_COLLECTION_NOT_FOUND,
                       "collection id %" PRId64 " not found in database '%s'",
                       id, db);
    if (!rc)
        *out = info;
    return rc;
}

qv_code qv_catalog_list_collections(qv_catalog *c, const char *db, qv_arena *a,
                                    qv_coll_info ***out, size_t *n, qv_err *err)
{
    qv_db_info *d;
    qv_code rc = qv_catalog_get_database(c, db, a, &d, err);
    if (rc)
        return rc;
    ckey k;
    qv__cat_key(c, &k, "collname/%" PRId64 "/", d->id);
    metakv_kvs r = METAKV_KVS_INIT;
    rc = metakv_range(c->kv, k.s, k.n, NULL, &r, err);
    if (rc)
        return rc;
    qv_coll_info **v = qv_arena_alloc(a, (r.n + 1) * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < r.n && !rc; i++) {
        long long id = strtoll((const char *)r.kvs[i].value, NULL, 10);
        rc = qv__cat_get_coll_by_id(c, d->id, id, a, &v[m], NULL, err);
        if (rc == QV_E_NOT_FOUND) { /* dropped between the two reads */
            rc = QV_OK;
            continue;
        }
        m++;
    }
    metakv_kvs_release(&r);
    if (!rc) {
        *out = v;
        *n = m;
    }
    return rc;
}

/* Deletes the alias keys of info into t. */
static void delete_aliases(qv_catalog *c, metakv_txn *t,
                           const qv_coll_info *info)
{
    for (size_t i = 0; i < info->n_aliases; i++) {
        ckey ka;
        qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", info->db_id,
                    info->aliases[i]);
        metakv_txn_delete(t, METAKV_THEN, ka.s, ka.n, false);
    }
}

qv_code qv_catalog_drop_collection(qv_catalog *c, const char *db,
                                   const char *name, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    int64_t rev = 0;
    qv_code rc =
        qv__cat_resolve(c, db, name, false, &a, NULL, &info, &rev, err);
    uint64_t ts = rc ? 0 : qv__cat_now_ts(c, err, &rc);
    if (!rc) {
        ckey kc, kn;
        qv__cat_key(c, &kc, "coll/%" PRId64 "/%" PRId64, info->db_id, info->id);
        qv__cat_key(c, &kn, "collname/%" PRId64 "/%s", info->db_id, name);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, kc.s, kc.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
        delete_aliases(c, t, info);
        metakv_txn_delete(t, METAKV_THEN, kn.s, kn.n, false);
        info->state = QUIVER__INTERNAL__META_STATE__META_DROPPED;
        info->drop_ts = ts;
        info->n_aliases = 0;
        rc = qv__cat_txn_put_msg(t, &kc, &info->base);
        if (rc)
            metakv_txn_abort(t);
        else
            rc = qv__cat_commit(t, "drop collection", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_rename_collection(qv_catalog *c, const char *db,
                                     const char *old_name, const char *new_db,
                                     const char *new_name, qv_err *err)
{
    qv_code rc = qv_name_check("collection", new_name, err);
    if (rc)
        return rc;
    if (!new_db || !new_db[0])
        new_db = db;
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    qv_db_info *to;
    int64_t rev = 0, to_rev = 0;
    metakv_txn *t = NULL;
    rc = qv__cat_resolve(c, db, old_name, false, &a, NULL, &info, &rev, err);
    if (!rc) {
        rc = qv__cat_get_db(c, new_db, &a, &to, &to_rev, err);
        if (rc == QV_E_NOT_FOUND)
            rc = qv_fail(err, QV_E_DATABASE_NOT_FOUND,
                         "database '%s' not found", new_db);
    }
    if (!rc && to->id != info->db_id && info->n_aliases > 0)
        rc = qv_fail(err, QV_E_INVALID,
                     "collection '%s' has aliases; drop them before moving "
                     "it to another database",
                     old_name);
    if (!rc) {
        t = metakv_txn_begin(c->kv);
        rc = claim_name(c, t, to->id, new_db, new_name, err);
    }
    uint64_t ts = rc ? 0 : qv__cat_now_ts(c, err, &rc);
    if (!rc) {
        ckey kc, kn, kd, kc2, kn2;
        qv__cat_key(c, &kc, "coll/%" PRId64 "/%" PRId64, info->db_id, info->id);
        qv__cat_key(c, &kn, "collname/%" PRId64 "/%s", info->db_id, old_name);
        qv__cat_key(c, &kd, "db/%s", new_db);
        qv__cat_key(c, &kc2, "coll/%" PRId64 "/%" PRId64, to->id, info->id);
        qv__cat_key(c, &kn2, "collname/%" PRId64 "/%s", to->id, new_name);
        metakv_txn_cmp_num(t, kc.s, kc.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
        metakv_txn_cmp_num(t, kd.s, kd.n, METAKV_CMP_MOD_REV, METAKV_EQ,
                           to_rev);
        metakv_txn_delete(t, METAKV_THEN, kn.s, kn.n, false);
        if (to->id != info->db_id)
            metakv_txn_delete(t, METAKV_THEN, kc.s, kc.n, false);
        info->name = (char *)new_name;
        info->db_id = to->id;
        info->update_ts = ts;
        if (info->schema)
            info->schema->name = (char *)new_name;
        rc = qv__cat_txn_put_msg(t, &kc2, &info->base);
        qv__cat_txn_put_id(t, &kn2, info->id);
        if (!rc) {
            rc = qv__cat_commit(t, "rename collection", err);
            t = NULL;
        }
    }
    metakv_txn_abort(t);
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_alter_collection(qv_catalog *c, const char *db,
                                    const char *name, qv_kvp **props,
                                    size_t nprops, char **del, size_t ndel,
                                    qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    int64_t rev = 0;
    qv_code rc = qv__cat_resolve(c, db, name, true, &a, NULL, &info, &rev, err);
    uint64_t ts = rc ? 0 : qv__cat_now_ts(c, err, &rc);
    if (!rc) {
        qv__cat_merge_props(&a, &info->properties, &info->n_properties, props,
                            nprops, del, ndel);
        info->update_ts = ts;
        ckey kc;
        qv__cat_key(c, &kc, "coll/%" PRId64 "/%" PRId64, info->db_id, info->id);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, kc.s, kc.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
        rc = qv__cat_txn_put_msg(t, &kc, &info->base);
        if (rc)
            metakv_txn_abort(t);
        else
            rc = qv__cat_commit(t, "alter collection", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}
