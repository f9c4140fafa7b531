/* catalog_names.c -- partitions and aliases in the catalog (catalog.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "coord/catalog_int.h"
#include "coord/schema_check.h"

/* Writes info back to its key if its mod revision is still rev. */
static qv_code put_coll(qv_catalog *c, metakv_txn *t, qv_coll_info *info,
                        int64_t rev, const char *what, qv_err *err)
{
    ckey kc;
    qv__cat_key(c, &kc, "coll/%" PRId64 "/%" PRId64, info->db_id, info->id);
    metakv_txn_cmp_num(t, kc.s, kc.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
    qv_code rc = qv__cat_txn_put_msg(t, &kc, &info->base);
    if (rc) {
        metakv_txn_abort(t);
        return rc;
    }
    return qv__cat_commit(t, what, err);
}

static ssize_t find_partition(const qv_coll_info *info, const char *name)
{
    for (size_t i = 0; i < info->n_partitions; i++)
        if (strcmp(info->partitions[i]->name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static bool has_partition_key(const qv_coll_info *info)
{
    for (size_t i = 0; info->schema && i < info->schema->n_fields; i++)
        if (info->schema->fields[i]->is_partition_key)
            return true;
    return false;
}

qv_code qv_catalog_create_partition(qv_catalog *c, const char *db,
                                    const char *coll, const char *part,
                                    qv_err *err)
{
    qv_code rc = qv_name_check("partition", part, err);
    if (rc)
        return rc;
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    int64_t rev = 0, id = 0;
    rc = qv__cat_resolve(c, db, coll, true, &a, NULL, &info, &rev, err);
    if (!rc && has_partition_key(info))
        rc = qv_fail(err, QV_E_INVALID,
                     "collection '%s' uses a partition key: partitions are "
                     "managed by the server",
                     coll);
    if (!rc && find_partition(info, part) >= 0)
        rc = qv_fail(err, QV_E_EXISTS,
                     "partition '%s' already exists in collection '%s'", part,
                     coll);
    if (!rc && info->n_partitions >= c->max_partitions)
        rc = qv_fail(err, QV_E_INVALID,
                     "collection '%s' already has %zu partitions; the limit "
                     "is %u",
                     coll, info->n_partitions, c->max_partitions);
    if (!rc)
        rc = qv_tso_alloc_ids(c->tso, 1, &id, err);
    uint64_t ts = rc ? 0 : qv__cat_now_ts(c, err, &rc);
    if (!rc) {
        Quiver__Internal__PartitionInfo *p = qv_arena_alloc(&a, sizeof(*p));
        quiver__internal__partition_info__init(p);
        p->id = id;
        p->name = (char *)part;
        p->created_ts = ts;
        Quiver__Internal__PartitionInfo **v =
            qv_arena_alloc(&a, (info->n_partitions + 1) * sizeof(*v));
        if (info->n_partitions)
            memcpy(v, info->partitions, info->n_partitions * sizeof(*v));
        v[info->n_partitions] = p;
        info->partitions = v;
        info->n_partitions++;
        rc = put_coll(c, metakv_txn_begin(c->kv), info, rev, "create partition",
                      err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_drop_partition(qv_catalog *c, const char *db,
                                  const char *coll, const char *part,
                                  qv_err *err)
{
    if (strcmp(part, QV_DEFAULT_PARTITION) == 0)
        return qv_fail(err, QV_E_INVALID,
                       "the default partition '%s' cannot be dropped",
                       QV_DEFAULT_PARTITION);
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    int64_t rev = 0;
    qv_code rc = qv__cat_resolve(c, db, coll, true, &a, NULL, &info, &rev, err);
    if (!rc && has_partition_key(info))
        rc = qv_fail(err, QV_E_INVALID,
                     "collection '%s' uses a partition key: partitions are "
                     "managed by the server",
                     coll);
    ssize_t i = rc ? -1 : find_partition(info, part);
    if (!rc && i < 0)
        rc = qv_fail(err, QV_E_PARTITION_NOT_FOUND,
                     "partition '%s' not found in collection '%s'", part, coll);
    if (!rc) {
        memmove(&info->partitions[i], &info->partitions[i + 1],
                (info->n_partitions - (size_t)i - 1) * sizeof(void *));
        info->n_partitions--;
        rc = put_coll(c, metakv_txn_begin(c->kv), info, rev, "drop partition",
                      err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

/* ---- aliases ------------------------------------------------------------- */

/* Reads alias -> collection (with revisions) in database d. */
static qv_code get_alias(qv_catalog *c, const char *db, const char *alias,
                         qv_arena *a, qv_db_info **d, int64_t *alias_rev,
                         qv_coll_info **info, int64_t *coll_rev, qv_err *err)
{
    qv_code rc = qv_catalog_get_database(c, db, a, d, err);
    if (rc)
        return rc;
    ckey ka;
    int64_t id = 0;
    qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", (*d)->id, alias);
    rc = qv__cat_get_index(c, &ka, &id, alias_rev, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_ALIAS_NOT_FOUND,
                       "alias '%s' not found in database '%s'", alias, db);
    if (!rc)
        rc = qv__cat_get_coll_by_id(c, (*d)->id, id, a, info, coll_rev, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_CORRUPT,
                       "alias '%s' points to a missing collection", alias);
    return rc;
}

static void alias_list_add(qv_arena *a, qv_coll_info *info, const char *al)
{
    char **v = qv_arena_alloc(a, (info->n_aliases + 1) * sizeof(char *));
    if (info->n_aliases)
        memcpy(v, info->aliases, info->n_aliases * sizeof(char *));
    v[info->n_aliases++] = (char *)al;
    info->aliases = v;
}

static void alias_list_remove(qv_coll_info *info, const char *al)
{
    size_t m = 0;
    for (size_t i = 0; i < info->n_aliases; i++)
        if (strcmp(info->aliases[i], al) != 0)
            info->aliases[m++] = info->aliases[i];
    info->n_aliases = m;
}

qv_code qv_catalog_create_alias(qv_catalog *c, const char *db,
                                const char *alias, const char *coll,
                                qv_err *err)
{
    qv_code rc = qv_name_check("alias", alias, err);
    if (rc)
        return rc;
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_coll_info *info;
    int64_t rev = 0;
    rc = qv__cat_resolve(c, db, coll, false, &a, NULL, &info, &rev, err);
    ckey ka, kn;
    int64_t other;
    if (!rc) {
        qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", info->db_id, alias);
        qv__cat_key(c, &kn, "collname/%" PRId64 "/%s", info->db_id, alias);
        if (qv__cat_get_index(c, &ka, &other, NULL, NULL) == QV_OK)
            rc = qv_fail(err, QV_E_EXISTS,
                         "alias '%s' already exists in database '%s'", alias,
                         db);
        else if (qv__cat_get_index(c, &kn, &other, NULL, NULL) == QV_OK)
            rc = qv_fail(err, QV_E_EXISTS,
                         "'%s' is already a collection name in database "
                         "'%s'",
                         alias, db);
    }
    if (!rc) {
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, ka.s, ka.n, METAKV_CMP_CREATE_REV, METAKV_EQ, 0);
        metakv_txn_cmp_num(t, kn.s, kn.n, METAKV_CMP_CREATE_REV, METAKV_EQ, 0);
        qv__cat_txn_put_id(t, &ka, info->id);
        alias_list_add(&a, info, alias);
        rc = put_coll(c, t, info, rev, "create alias", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_drop_alias(qv_catalog *c, const char *db, const char *alias,
                              qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info *d;
    qv_coll_info *info;
    int64_t arev = 0, crev = 0;
    qv_code rc = get_alias(c, db, alias, &a, &d, &arev, &info, &crev, err);
    if (!rc) {
        ckey ka;
        qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", d->id, alias);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, ka.s, ka.n, METAKV_CMP_MOD_REV, METAKV_EQ, arev);
        metakv_txn_delete(t, METAKV_THEN, ka.s, ka.n, false);
        alias_list_remove(info, alias);
        rc = put_coll(c, t, info, crev, "drop alias", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_alter_alias(qv_catalog *c, const char *db, const char *alias,
                               const char *coll, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info *d;
    qv_coll_info *from, *to;
    int64_t arev = 0, frev = 0, trev = 0;
    qv_code rc = get_alias(c, db, alias, &a, &d, &arev, &from, &frev, err);
    if (!rc)
        rc = qv__cat_resolve(c, db, coll, false, &a, NULL, &to, &trev, err);
    if (!rc && from->id != to->id) {
        ckey ka, kt;
        qv__cat_key(c, &ka, "alias/%" PRId64 "/%s", d->id, alias);
        qv__cat_key(c, &kt, "coll/%" PRId64 "/%" PRId64, d->id, to->id);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, ka.s, ka.n, METAKV_CMP_MOD_REV, METAKV_EQ, arev);
        metakv_txn_cmp_num(t, kt.s, kt.n, METAKV_CMP_MOD_REV, METAKV_EQ, trev);
        qv__cat_txn_put_id(t, &ka, to->id);
        alias_list_add(&a, to, alias);
        alias_list_remove(from, alias);
        rc = qv__cat_txn_put_msg(t, &kt, &to->base);
        if (rc)
            metakv_txn_abort(t);
        else
            rc = put_coll(c, t, from, frev, "alter alias", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_describe_alias(qv_catalog *c, const char *db,
                                  const char *alias, qv_arena *a,
                                  char **coll_name, qv_err *err)
{
    qv_db_info *d;
    qv_coll_info *info;
    qv_code rc = get_alias(c, db, alias, a, &d, NULL, &info, NULL, err);
    if (!rc)
        *coll_name = info->name;
    return rc;
}
