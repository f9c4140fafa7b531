/* catalog.c -- catalog plumbing and databases (see catalog.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "coord/catalog_int.h"
#include "coord/schema_check.h"
#include "proto/pb_arena.h"

void qv__cat_key(const qv_catalog *c, ckey *k, const char *fmt, ...)
{
    int n = snprintf(k->s, sizeof(k->s), "%smeta/", c->root);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(k->s + n, sizeof(k->s) - (size_t)n, fmt, ap);
    va_end(ap);
    k->n = (size_t)n < sizeof(k->s) ? (size_t)n : sizeof(k->s) - 1;
}

/* Gets key k and decodes it as desc. */
static qv_code get_msg(qv_catalog *c, const ckey *k,
                       const ProtobufCMessageDescriptor *desc, qv_arena *a,
                       ProtobufCMessage **out, int64_t *mod_rev, qv_err *err)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(c->kv, k->s, k->n, &r, err);
    if (rc == QV_E_NOT_FOUND)
        return QV_E_NOT_FOUND;
    if (rc)
        return rc;
    rc = qv_pb_unpack(desc, r.kvs[0].value, r.kvs[0].value_len, a, k->s, out,
                      err);
    if (!rc && mod_rev)
        *mod_rev = r.kvs[0].mod_rev;
    metakv_kvs_release(&r);
    return rc;
}

qv_code qv__cat_get_db(qv_catalog *c, const char *name, qv_arena *a,
                       qv_db_info **out, int64_t *mod_rev, qv_err *err)
{
    ckey k;
    qv__cat_key(c, &k, "db/%s", name);
    return get_msg(c, &k, &quiver__internal__database_info__descriptor, a,
                   (ProtobufCMessage **)out, mod_rev, err);
}

qv_code qv__cat_get_coll_by_id(qv_catalog *c, int64_t db_id, int64_t id,
                               qv_arena *a, qv_coll_info **out,
                               int64_t *mod_rev, qv_err *err)
{
    ckey k;
    qv__cat_key(c, &k, "coll/%" PRId64 "/%" PRId64, db_id, id);
    return get_msg(c, &k, &quiver__internal__collection_info__descriptor, a,
                   (ProtobufCMessage **)out, mod_rev, err);
}

qv_code qv__cat_get_index(qv_catalog *c, const ckey *k, int64_t *id,
                          int64_t *mod_rev, qv_err *err)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(c->kv, k->s, k->n, &r, err);
    if (rc)
        return rc;
    char *end;
    long long v = strtoll((const char *)r.kvs[0].value, &end, 10);
    bool bad = r.kvs[0].value_len == 0 || *end != '\0' || v <= 0;
    if (mod_rev)
        *mod_rev = r.kvs[0].mod_rev;
    metakv_kvs_release(&r);
    if (bad)
        return qv_fail(err, QV_E_CORRUPT, "meta key '%s' is not an id", k->s);
    *id = v;
    return QV_OK;
}

qv_code qv__cat_resolve(qv_catalog *c, const char *db, const char *name,
                        bool allow_alias, qv_arena *a, qv_db_info **dbi,
                        qv_coll_info **out, int64_t *mod_rev, qv_err *err)
{
    qv_db_info *d;
    qv_code rc = qv__cat_get_db(c, db, a, &d, NULL, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_DATABASE_NOT_FOUND, "database '%s' not found",
                       db);
    if (rc)
        return rc;
    ckey k;
    int64_t id = 0;
    qv__cat_key(c, &k, "collname/%" PRId64 "/%s", d->id, name);
    rc = qv__cat_get_index(c, &k, &id, NULL, err);
    if (rc == QV_E_NOT_FOUND && allow_alias) {
        qv__cat_key(c, &k, "alias/%" PRId64 "/%s", d->id, name);
        rc = qv__cat_get_index(c, &k, &id, NULL, err);
    }
    if (!rc)
        rc = qv__cat_get_coll_by_id(c, d->id, id, a, out, mod_rev, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_COLLECTION_NOT_FOUND,
                       "collection '%s' not found in database '%s'", name, db);
    if (!rc && dbi)
        *dbi = d;
    return rc;
}

qv_code qv__cat_txn_put_msg(metakv_txn *t, const ckey *k,
                            const ProtobufCMessage *m)
{
    qv_buf b = QV_BUF_INIT;
    qv_code rc = qv_pb_pack_buf(m, &b);
    if (!rc)
        metakv_txn_put(t, METAKV_THEN, k->s, k->n, b.data ? b.data : "", b.len,
                       0);
    qv_buf_release(&b);
    return rc;
}

void qv__cat_txn_put_id(metakv_txn *t, const ckey *k, int64_t id)
{
    char v[24];
    int n = snprintf(v, sizeof(v), "%" PRId64, id);
    metakv_txn_put(t, METAKV_THEN, k->s, k->n, v, (size_t)n, 0);
}

qv_code qv__cat_commit(metakv_txn *t, const char *what, qv_err *err)
{
    bool ok = false;
    qv_code rc = metakv_txn_commit(t, &ok, NULL, err);
    if (rc)
        return qv_err_prefix(err, "%s", what);
    if (!ok)
        return qv_fail(err, QV_E_CONFLICT,
                       "%s: the metadata changed concurrently; retry", what);
    return QV_OK;
}

void qv__cat_merge_props(qv_arena *a, qv_kvp ***props, size_t *n, qv_kvp **set,
                         size_t nset, char **del, size_t ndel)
{
    qv_kvp **out = qv_arena_alloc(a, (*n + nset + 1) * sizeof(qv_kvp *));
    size_t m = 0;
    for (size_t i = 0; i < *n; i++) {
        bool drop = false;
        for (size_t j = 0; j < nset && !drop; j++)
            drop = strcmp((*props)[i]->key, set[j]->key) == 0;
        for (size_t j = 0; j < ndel && !drop; j++)
            drop = strcmp((*props)[i]->key, del[j]) == 0;
        if (!drop)
            out[m++] = (*props)[i];
    }
    for (size_t j = 0; j < nset; j++)
        out[m++] = set[j];
    *props = out;
    *n = m;
}

uint64_t qv__cat_now_ts(qv_catalog *c, qv_err *err, qv_code *rc)
{
    qv_ts ts = 0;
    *rc = qv_tso_alloc(c->tso, 1, &ts, err);
    return ts;
}

/* ---- open ------------------------------------------------------------- */

static qv_code put_database(qv_catalog *c, const char *name, qv_kvp **props,
                            size_t nprops, bool *created, qv_err *err)
{
    int64_t id;
    qv_code rc = qv_tso_alloc_ids(c->tso, 1, &id, err);
    uint64_t ts = rc ? 0 : qv__cat_now_ts(c, err, &rc);
    if (rc)
        return rc;
    qv_db_info d = QUIVER__INTERNAL__DATABASE_INFO__INIT;
    d.id = id;
    d.name = (char *)name;
    d.created_ts = ts;
    d.properties = props;
    d.n_properties = nprops;
    ckey k;
    qv__cat_key(c, &k, "db/%s", name);
    metakv_txn *t = metakv_txn_begin(c->kv);
    metakv_txn_cmp_num(t, k.s, k.n, METAKV_CMP_CREATE_REV, METAKV_EQ, 0);
    rc = qv__cat_txn_put_msg(t, &k, &d.base);
    if (rc) {
        metakv_txn_abort(t);
        return rc;
    }
    bool ok = false;
    rc = metakv_txn_commit(t, &ok, NULL, err);
    if (!rc)
        *created = ok;
    return rc;
}

qv_code qv_catalog_open(metakv *kv, qv_tso *tso, const qv_catalog_options *o,
                        qv_catalog **out, qv_err *err)
{
    qv_catalog *c = QV_NEW(qv_catalog);
    c->kv = kv;
    c->tso = tso;
    c->root = qv_xstrdup(o && o->root ? o->root : "quiver/");
    c->dml_prefix =
        qv_xstrdup(o && o->dml_prefix ? o->dml_prefix : "quiver-dml");
    c->pchannels = o && o->pchannels ? o->pchannels : 16;
    c->max_databases = o && o->max_databases ? o->max_databases : 64;
    c->max_partitions = o && o->max_partitions ? o->max_partitions : 1024;
    pthread_mutex_init(&c->ddl_mu, NULL);
    bool created = false;
    qv_code rc = put_database(c, QV_DEFAULT_DB, NULL, 0, &created, err);
    if (rc) {
        qv_catalog_close(c);
        return qv_err_prefix(err, "cannot create database '%s'", QV_DEFAULT_DB);
    }
    *out = c;
    return QV_OK;
}

void qv_catalog_close(qv_catalog *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->ddl_mu);
    free(c->root);
    free(c->dml_prefix);
    free(c);
}

/* ---- databases -------------------------------------------------------- */

qv_code qv_catalog_list_databases(qv_catalog *c, qv_arena *a, qv_db_info ***out,
                                  size_t *n, qv_err *err)
{
    ckey k;
    qv__cat_key(c, &k, "db/");
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_range(c->kv, k.s, k.n, NULL, &r, err);
    if (rc)
        return rc;
    qv_db_info **v = qv_arena_alloc(a, (r.n + 1) * sizeof(*v));
    for (size_t i = 0; i < r.n && !rc; i++)
        rc = qv_pb_unpack(&quiver__internal__database_info__descriptor,
                          r.kvs[i].value, r.kvs[i].value_len, a,
                          (const char *)r.kvs[i].key,
                          (ProtobufCMessage **)&v[i], err);
    if (!rc) {
        *out = v;
        *n = r.n;
    }
    metakv_kvs_release(&r);
    return rc;
}

qv_code qv_catalog_get_database(qv_catalog *c, const char *name, qv_arena *a,
                                qv_db_info **out, qv_err *err)
{
    qv_code rc = qv__cat_get_db(c, name, a, out, NULL, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_DATABASE_NOT_FOUND, "database '%s' not found",
                       name);
    return rc;
}

qv_code qv_catalog_create_database(qv_catalog *c, const char *name,
                                   qv_kvp **props, size_t nprops, qv_err *err)
{
    qv_code rc = qv_name_check("database", name, err);
    if (rc)
        return rc;
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info **all;
    size_t n = 0;
    rc = qv_catalog_list_databases(c, &a, &all, &n, err);
    if (!rc && n >= c->max_databases)
        rc = qv_fail(err, QV_E_INVALID,
                     "cannot create database '%s': the limit of %u "
                     "databases is reached",
                     name, c->max_databases);
    bool created = false;
    if (!rc)
        rc = put_database(c, name, props, nprops, &created, err);
    if (!rc && !created)
        rc = qv_fail(err, QV_E_EXISTS, "database '%s' already exists", name);
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_drop_database(qv_catalog *c, const char *name, qv_err *err)
{
    if (strcmp(name, QV_DEFAULT_DB) == 0)
        return qv_fail(err, QV_E_INVALID, "database '%s' cannot be dropped",
                       QV_DEFAULT_DB);
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info *d;
    int64_t rev = 0;
    qv_code rc = qv__cat_get_db(c, name, &a, &d, &rev, err);
    if (rc == QV_E_NOT_FOUND)
        rc = qv_fail(err, QV_E_DATABASE_NOT_FOUND, "database '%s' not found",
                     name);
    ckey names, k;
    if (!rc) {
        qv__cat_key(c, &names, "collname/%" PRId64 "/", d->id);
        metakv_range_opts ro = {.limit = 1, .keys_only = true};
        metakv_kvs r = METAKV_KVS_INIT;
        rc = metakv_range(c->kv, names.s, names.n, &ro, &r, err);
        if (!rc && r.n > 0)
            rc = qv_fail(err, QV_E_INVALID,
                         "database '%s' still has collections; drop them "
                         "first",
                         name);
        metakv_kvs_release(&r);
    }
    if (!rc) {
        qv__cat_key(c, &k, "db/%s", name);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, k.s, k.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
        metakv_txn_delete(t, METAKV_THEN, k.s, k.n, false);
        rc = qv__cat_commit(t, "drop database", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}

qv_code qv_catalog_alter_database(qv_catalog *c, const char *name,
                                  qv_kvp **props, size_t nprops, char **del,
                                  size_t ndel, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    pthread_mutex_lock(&c->ddl_mu);
    qv_db_info *d;
    int64_t rev = 0;
    qv_code rc = qv__cat_get_db(c, name, &a, &d, &rev, err);
    if (rc == QV_E_NOT_FOUND)
        rc = qv_fail(err, QV_E_DATABASE_NOT_FOUND, "database '%s' not found",
                     name);
    if (!rc) {
        qv__cat_merge_props(&a, &d->properties, &d->n_properties, props, nprops,
                            del, ndel);
        ckey k;
        qv__cat_key(c, &k, "db/%s", name);
        metakv_txn *t = metakv_txn_begin(c->kv);
        metakv_txn_cmp_num(t, k.s, k.n, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
        rc = qv__cat_txn_put_msg(t, &k, &d->base);
        if (rc)
            metakv_txn_abort(t);
        else
            rc = qv__cat_commit(t, "alter database", err);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    qv_arena_release(&a);
    return rc;
}
