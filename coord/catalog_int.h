/* catalog_int.h -- internals shared by the catalog_*.c files. */
#ifndef QV_COORD_CATALOG_INT_H
#define QV_COORD_CATALOG_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "coord/catalog.h"

struct qv_catalog {
    metakv *kv;
    qv_tso *tso;
    char *root;
    char *dml_prefix;
    uint32_t pchannels, max_databases, max_partitions;
    pthread_mutex_t ddl_mu; /* serializes DDL within this catalog */
};

/* A key built in a fixed buffer. */
typedef struct ckey {
    char s[512];
    size_t n;
} ckey;

void qv__cat_key(const qv_catalog *c, ckey *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads and decodes a record; *mod_rev (may be NULL) gets its revision.
 * Absent: QV_E_NOT_FOUND (no message). */
qv_code qv__cat_get_db(qv_catalog *c, const char *name, qv_arena *a,
                       qv_db_info **out, int64_t *mod_rev, qv_err *err);
qv_code qv__cat_get_coll_by_id(qv_catalog *c, int64_t db_id, int64_t id,
                               qv_arena *a, qv_coll_info **out,
                               int64_t *mod_rev, qv_err *err);
/* Reads a "<id>" index value (collname/ or alias/ key). */
qv_code qv__cat_get_index(qv_catalog *c, const ckey *k, int64_t *id,
                          int64_t *mod_rev, qv_err *err);
/* Resolves a live collection by name (aliases too when allow_alias). */
qv_code qv__cat_resolve(qv_catalog *c, const char *db, const char *name,
                        bool allow_alias, qv_arena *a, qv_db_info **dbi,
                        qv_coll_info **out, int64_t *mod_rev, qv_err *err);

/* Adds a put of a packed message to txn. */
qv_code qv__cat_txn_put_msg(metakv_txn *t, const ckey *k,
                            const ProtobufCMessage *m);
void qv__cat_txn_put_id(metakv_txn *t, const ckey *k, int64_t id);
/* Commits; a failed compare becomes QV_E_CONFLICT with msg. */
qv_code qv__cat_commit(metakv_txn *t, const char *what, qv_err *err);

/* Property helpers: merge set/delete into a new array on the arena. */
void qv__cat_merge_props(qv_arena *a, qv_kvp ***props, size_t *n, qv_kvp **set,
                         size_t nset, char **del, size_t ndel);

uint64_t qv__cat_now_ts(qv_catalog *c, qv_err *err, qv_code *rc);

#endif
