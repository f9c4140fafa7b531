/* catalog.h -- the coord's metadata: databases, collections, partitions
 * and aliases in meta KV (DESIGN §3, §4).
 *
 * Key layout under <root>meta/ (values are quiver.internal messages,
 * proto/internal/meta.proto):
 *
 *   db/<name>                  DatabaseInfo
 *   coll/<db id>/<coll id>     CollectionInfo (also dropped ones, until GC)
 *   collname/<db id>/<name>    "<coll id>"   name index of live collections
 *   alias/<db id>/<alias>      "<coll id>"
 *
 * Every DDL is one meta KV transaction guarded by compare-and-swap on the
 * keys it read, so a crash or a failover mid-DDL leaves either the old or
 * the new state, and two coords cannot interleave.  DDL calls are also
 * serialized inside one catalog (a mutex).  A collection name and an alias
 * never collide within a database.  Drop marks the collection DROPPED (its
 * data is collected later) and removes its name and aliases at once.
 *
 * Errors: QV_E_DATABASE_NOT_FOUND, QV_E_COLLECTION_NOT_FOUND,
 * QV_E_PARTITION_NOT_FOUND, QV_E_ALIAS_NOT_FOUND, QV_E_EXISTS,
 * QV_E_INVALID (names, limits, rules), QV_E_CONFLICT (another coord wrote
 * the same keys), backend errors from meta KV.  Messages name the objects.
 *
 * Ownership: the catalog borrows kv and tso.  Results are allocated on the
 * caller's arena.  Threading: every function is thread-safe.
 */
#ifndef QV_COORD_CATALOG_H
#define QV_COORD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "common/status.h"
#include "coord/tso.h"
#include "internal/meta.pb-c.h"

typedef Quiver__Internal__DatabaseInfo qv_db_info;
typedef Quiver__Internal__CollectionInfo qv_coll_info;
typedef Milvus__Proto__Common__KeyValuePair qv_kvp;

#define QV_DEFAULT_DB        "default"
#define QV_DEFAULT_PARTITION "_default"

typedef struct qv_catalog qv_catalog;

typedef struct qv_catalog_options {
    const char *root;        /* key root; NULL = "quiver/" */
    uint32_t pchannels;      /* physical channels; 0 = 16 */
    const char *dml_prefix;  /* pchannel names; NULL = "quiver-dml" */
    uint32_t max_databases;  /* 0 = 64 */
    uint32_t max_partitions; /* per collection; 0 = 1024 */
} qv_catalog_options;

/* Opens the catalog and creates database "default" if it is missing. */
qv_code qv_catalog_open(metakv *kv, qv_tso *tso, const qv_catalog_options *opts,
                        qv_catalog **out, qv_err *err) QV_MUST_USE;
void qv_catalog_close(qv_catalog *c);

/* ---- databases ----------------------------------------------------------- */
qv_code qv_catalog_create_database(qv_catalog *c, const char *name,
                                   qv_kvp **props, size_t nprops,
                                   qv_err *err) QV_MUST_USE;
/* Refuses "default" and databases that still have collections. */
qv_code qv_catalog_drop_database(qv_catalog *c, const char *name,
                                 qv_err *err) QV_MUST_USE;
qv_code qv_catalog_get_database(qv_catalog *c, const char *name,
                                qv_arena *arena, qv_db_info **out,
                                qv_err *err) QV_MUST_USE;
/* All databases in name order. */
qv_code qv_catalog_list_databases(qv_catalog *c, qv_arena *arena,
                                  qv_db_info ***out, size_t *n,
                                  qv_err *err) QV_MUST_USE;
/* Sets props (replacing same keys) and removes delete_keys. */
qv_code qv_catalog_alter_database(qv_catalog *c, const char *name,
                                  qv_kvp **props, size_t nprops,
                                  char **delete_keys, size_t ndelete,
                                  qv_err *err) QV_MUST_USE;

/* ---- collections --------------------------------------------------------- */
/* info: name, schema (already checked by qv_schema_check), shards_num,
 * consistency_level, properties and num_partitions set by the caller; the
 * catalog fills id, db_id, timestamps, partitions and channels.  On success
 * *id_out (may be NULL) is the new collection id. */
qv_code qv_catalog_create_collection(qv_catalog *c, const char *db,
                                     qv_coll_info *info, int64_t *id_out,
                                     qv_err *err) QV_MUST_USE;
/* Looks a live collection up by name or alias (id <= 0), or by id. */
qv_code qv_catalog_get_collection(qv_catalog *c, const char *db,
                                  const char *name, int64_t id, qv_arena *arena,
                                  qv_coll_info **out, qv_err *err) QV_MUST_USE;
/* Live collections of a database in name order. */
qv_code qv_catalog_list_collections(qv_catalog *c, const char *db,
                                    qv_arena *arena, qv_coll_info ***out,
                                    size_t *n, qv_err *err) QV_MUST_USE;
/* Drops by name (not alias); its aliases go with it. */
qv_code qv_catalog_drop_collection(qv_catalog *c, const char *db,
                                   const char *name, qv_err *err) QV_MUST_USE;
/* Renames old_name in db to new_name in new_db (NULL/"" = same db). */
qv_code qv_catalog_rename_collection(qv_catalog *c, const char *db,
                                     const char *old_name, const char *new_db,
                                     const char *new_name,
                                     qv_err *err) QV_MUST_USE;
qv_code qv_catalog_alter_collection(qv_catalog *c, const char *db,
                                    const char *name, qv_kvp **props,
                                    size_t nprops, char **delete_keys,
                                    size_t ndelete, qv_err *err) QV_MUST_USE;

/* ---- partitions ---------------------------------------------------------- */
qv_code qv_catalog_create_partition(qv_catalog *c, const char *db,
                                    const char *coll, const char *partition,
                                    qv_err *err) QV_MUST_USE;
qv_code qv_catalog_drop_partition(qv_catalog *c, const char *db,
                                  const char *coll, const char *partition,
                                  qv_err *err) QV_MUST_USE;

/* ---- aliases ------------------------------------------------------------- */
qv_code qv_catalog_create_alias(qv_catalog *c, const char *db,
                                const char *alias, const char *coll,
                                qv_err *err) QV_MUST_USE;
qv_code qv_catalog_drop_alias(qv_catalog *c, const char *db, const char *alias,
                              qv_err *err) QV_MUST_USE;
/* Points an existing alias at another collection. */
qv_code qv_catalog_alter_alias(qv_catalog *c, const char *db, const char *alias,
                               const char *coll, qv_err *err) QV_MUST_USE;
/* The collection an alias points to (its name on the arena). */
qv_code qv_catalog_describe_alias(qv_catalog *c, const char *db,
                                  const char *alias, qv_arena *arena,
                                  char **coll_name, qv_err *err) QV_MUST_USE;

#endif
