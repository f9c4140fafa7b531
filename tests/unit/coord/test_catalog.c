/* Tests of coord/catalog on the LMDB meta KV. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/catalog.h"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static char dir[64];
static metakv *kv;
static qv_tso *tso;
static qv_catalog *cat;
static qv_arena arena;

static void open_all(void)
{
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_tso_open(kv, NULL, &tso, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_catalog_open(kv, tso, NULL, &cat, &err), QV_OK, "%s",
                 err.msg);
}

static void close_all(void)
{
    qv_catalog_close(cat);
    qv_tso_close(tso);
    metakv_close(kv);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-cat-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_arena_init(&arena, 0);
    open_all();
}

static void teardown(void)
{
    close_all();
    qv_arena_release(&arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(catalog, .init = setup, .fini = teardown);

static Milvus__Proto__Schema__FieldSchema *field(const char *name, int type)
{
    Milvus__Proto__Schema__FieldSchema *f = qv_arena_alloc(&arena, sizeof(*f));
    milvus__proto__schema__field_schema__init(f);
    f->name = qv_arena_strdup(&arena, name);
    f->data_type = type;
    return f;
}

/* Creates collection `name` (pk id, vector vec) with `parts` key
 * partitions (0 = none); returns the rc. */
static qv_code create(const char *db, const char *name, int64_t parts,
                      int64_t *id, qv_err *err)
{
    Milvus__Proto__Schema__CollectionSchema *s =
        qv_arena_alloc(&arena, sizeof(*s));
    milvus__proto__schema__collection_schema__init(s);
    s->name = qv_arena_strdup(&arena, name);
    s->fields = qv_arena_alloc(&arena, 3 * sizeof(void *));
    s->fields[s->n_fields++] = field("id", DT(Int64));
    s->fields[0]->is_primary_key = 1;
    s->fields[s->n_fields++] = field("vec", DT(FloatVector));
    if (parts) {
        s->fields[s->n_fields++] = field("tenant", DT(Int64));
        s->fields[2]->is_partition_key = 1;
    }
    qv_coll_info info = QUIVER__INTERNAL__COLLECTION_INFO__INIT;
    info.name = qv_arena_strdup(&arena, name);
    info.schema = s;
    info.shards_num = 2;
    info.num_partitions = parts;
    return qv_catalog_create_collection(cat, db, &info, id, err);
}

static qv_coll_info *get(const char *db, const char *name, qv_code *rc)
{
    qv_coll_info *info = NULL;
    *rc = qv_catalog_get_collection(cat, db, name, 0, &arena, &info, NULL);
    return info;
}

Test(catalog, default_database_exists_once)
{
    qv_db_info **dbs;
    size_t n;
    cr_assert_eq(qv_catalog_list_databases(cat, &arena, &dbs, &n, NULL), QV_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(dbs[0]->name, "default");
    close_all();
    open_all(); /* reopening does not create a second one */
    cr_assert_eq(qv_catalog_list_databases(cat, &arena, &dbs, &n, NULL), QV_OK);
    cr_assert_eq(n, 1);
    qv_err err = {0};
    cr_assert_eq(qv_catalog_drop_database(cat, "default", &err), QV_E_INVALID);
}

Test(catalog, databases_create_list_drop)
{
    qv_err err = {0};
    cr_assert_eq(qv_catalog_create_database(cat, "db1", NULL, 0, &err), QV_OK);
    cr_assert_eq(qv_catalog_create_database(cat, "db1", NULL, 0, &err),
                 QV_E_EXISTS);
    cr_assert(strstr(err.msg, "database 'db1' already exists"), "%s", err.msg);
    cr_assert_eq(qv_catalog_create_database(cat, "bad-name", NULL, 0, &err),
                 QV_E_INVALID);
    cr_assert_eq(create("db1", "c", 0, NULL, NULL), QV_OK);
    cr_assert_eq(qv_catalog_drop_database(cat, "db1", &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "still has collections"), "%s", err.msg);
    cr_assert_eq(qv_catalog_drop_collection(cat, "db1", "c", NULL), QV_OK);
    cr_assert_eq(qv_catalog_drop_database(cat, "db1", &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(qv_catalog_drop_database(cat, "db1", &err),
                 QV_E_DATABASE_NOT_FOUND);
    qv_db_info *d;
    cr_assert_eq(qv_catalog_get_database(cat, "db1", &arena, &d, &err),
                 QV_E_DATABASE_NOT_FOUND);
}

Test(catalog, database_properties_alter)
{
    Milvus__Proto__Common__KeyValuePair p =
        MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    static char k1[] = "database.replica.number", v2[] = "2", v3[] = "3";
    p.key = k1;
    p.value = v2;
    qv_kvp *props[] = {&p};
    cr_assert_eq(qv_catalog_create_database(cat, "d", props, 1, NULL), QV_OK);
    p.value = v3;
    static char nothing[] = "nothing";
    char *del[] = {nothing};
    cr_assert_eq(qv_catalog_alter_database(cat, "d", props, 1, del, 1, NULL),
                 QV_OK);
    qv_db_info *d;
    cr_assert_eq(qv_catalog_get_database(cat, "d", &arena, &d, NULL), QV_OK);
    cr_assert_eq(d->n_properties, 1);
    cr_assert_str_eq(d->properties[0]->value, "3");
    char *del2[] = {k1};
    cr_assert_eq(qv_catalog_alter_database(cat, "d", NULL, 0, del2, 1, NULL),
                 QV_OK);
    cr_assert_eq(qv_catalog_get_database(cat, "d", &arena, &d, NULL), QV_OK);
    cr_assert_eq(d->n_properties, 0);
}

Test(catalog, collection_create_get_list_and_survive_restart)
{
    int64_t id = 0;
    qv_err err = {0};
    cr_assert_eq(create("default", "books", 0, &id, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_gt(id, 0);
    cr_assert_eq(create("default", "books", 0, NULL, &err), QV_E_EXISTS);
    cr_assert(strstr(err.msg, "collection 'books' already exists"));
    cr_assert_eq(create("nodb", "books", 0, NULL, &err),
                 QV_E_DATABASE_NOT_FOUND);
    cr_assert_eq(create("default", "films", 0, NULL, NULL), QV_OK);

    close_all();
    open_all();
    qv_code rc;
    qv_coll_info *b = get("default", "books", &rc);
    cr_assert_eq(rc, QV_OK);
    cr_assert_eq(b->id, id);
    cr_assert_str_eq(b->name, "books");
    cr_assert_eq(b->shards_num, 2);
    cr_assert_eq(b->n_virtual_channels, 2);
    cr_assert_eq(b->n_partitions, 1);
    cr_assert_str_eq(b->partitions[0]->name, "_default");
    cr_assert_gt(b->created_ts, 0);
    cr_assert_eq(b->schema->n_fields, 2);
    qv_coll_info *byid;
    cr_assert_eq(qv_catalog_get_collection(cat, "default", NULL, id, &arena,
                                           &byid, NULL),
                 QV_OK);
    cr_assert_str_eq(byid->name, "books");
    qv_coll_info **all;
    size_t n;
    cr_assert_eq(
        qv_catalog_list_collections(cat, "default", &arena, &all, &n, NULL),
        QV_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(all[0]->name, "books");
    cr_assert_str_eq(all[1]->name, "films");
}

Test(catalog, same_name_in_two_databases_is_two_collections)
{
    int64_t a, b;
    cr_assert_eq(qv_catalog_create_database(cat, "other", NULL, 0, NULL),
                 QV_OK);
    cr_assert_eq(create("default", "c", 0, &a, NULL), QV_OK);
    cr_assert_eq(create("other", "c", 0, &b, NULL), QV_OK);
    cr_assert_neq(a, b);
    cr_assert_eq(qv_catalog_drop_collection(cat, "other", "c", NULL), QV_OK);
    qv_code rc;
    cr_assert_eq(get("default", "c", &rc)->id, a);
    get("other", "c", &rc);
    cr_assert_eq(rc, QV_E_COLLECTION_NOT_FOUND);
}

Test(catalog, drop_then_recreate_gets_a_new_id)
{
    int64_t a, b;
    qv_err err = {0};
    cr_assert_eq(create("default", "c", 0, &a, NULL), QV_OK);
    cr_assert_eq(qv_catalog_drop_collection(cat, "default", "c", NULL), QV_OK);
    cr_assert_eq(qv_catalog_drop_collection(cat, "default", "c", &err),
                 QV_E_COLLECTION_NOT_FOUND);
    cr_assert(strstr(err.msg, "collection 'c' not found in database "
                              "'default'"),
              "%s", err.msg);
    qv_coll_info *x;
    cr_assert_eq(
        qv_catalog_get_collection(cat, "default", NULL, a, &arena, &x, NULL),
        QV_E_COLLECTION_NOT_FOUND);
    cr_assert_eq(create("default", "c", 0, &b, NULL), QV_OK);
    cr_assert_gt(b, a);
}

Test(catalog, rename_within_and_across_databases)
{
    int64_t id;
    qv_err err = {0};
    cr_assert_eq(create("default", "old", 0, &id, NULL), QV_OK);
    cr_assert_eq(create("default", "taken", 0, NULL, NULL), QV_OK);
    cr_assert_eq(qv_catalog_rename_collection(cat, "default", "old", NULL,
                                              "taken", &err),
                 QV_E_EXISTS);
    cr_assert_eq(
        qv_catalog_rename_collection(cat, "default", "old", "", "new", &err),
        QV_OK, "%s", err.msg);
    qv_code rc;
    get("default", "old", &rc);
    cr_assert_eq(rc, QV_E_COLLECTION_NOT_FOUND);
    qv_coll_info *n = get("default", "new", &rc);
    cr_assert_eq(rc, QV_OK);
    cr_assert_eq(n->id, id);
    cr_assert_str_eq(n->schema->name, "new");
    cr_assert_eq(qv_catalog_create_database(cat, "d2", NULL, 0, NULL), QV_OK);
    cr_assert_eq(qv_catalog_rename_collection(cat, "default", "new", "d2",
                                              "moved", &err),
                 QV_OK, "%s", err.msg);
    get("default", "new", &rc);
    cr_assert_eq(rc, QV_E_COLLECTION_NOT_FOUND);
    cr_assert_eq(get("d2", "moved", &rc)->id, id);
}

Test(catalog, partitions)
{
    qv_err err = {0};
    cr_assert_eq(create("default", "c", 0, NULL, NULL), QV_OK);
    cr_assert_eq(qv_catalog_create_partition(cat, "default", "c", "p1", &err),
                 QV_OK);
    cr_assert_eq(qv_catalog_create_partition(cat, "default", "c", "p1", &err),
                 QV_E_EXISTS);
    cr_assert_eq(qv_catalog_create_partition(cat, "default", "c", "p-2", &err),
                 QV_E_INVALID);
    cr_assert_eq(qv_catalog_create_partition(cat, "default", "nope", "p", &err),
                 QV_E_COLLECTION_NOT_FOUND);
    qv_code rc;
    qv_coll_info *c = get("default", "c", &rc);
    cr_assert_eq(c->n_partitions, 2);
    cr_assert_str_eq(c->partitions[0]->name, "_default");
    cr_assert_str_eq(c->partitions[1]->name, "p1");
    cr_assert_neq(c->partitions[0]->id, c->partitions[1]->id);
    cr_assert_eq(
        qv_catalog_drop_partition(cat, "default", "c", "_default", &err),
        QV_E_INVALID);
    cr_assert_eq(qv_catalog_drop_partition(cat, "default", "c", "p9", &err),
                 QV_E_PARTITION_NOT_FOUND);
    cr_assert_eq(qv_catalog_drop_partition(cat, "default", "c", "p1", &err),
                 QV_OK);
    cr_assert_eq(get("default", "c", &rc)->n_partitions, 1);
}

Test(catalog, partition_key_collections_get_hidden_partitions)
{
    qv_err err = {0};
    cr_assert_eq(create("default", "pk", 4, NULL, &err), QV_OK, "%s", err.msg);
    qv_code rc;
    qv_coll_info *c = get("default", "pk", &rc);
    cr_assert_eq(c->n_partitions, 4);
    cr_assert_str_eq(c->partitions[3]->name, "_default_3");
    cr_assert_eq(qv_catalog_create_partition(cat, "default", "pk", "p1", &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "partition key"), "%s", err.msg);
}

Test(catalog, aliases_resolve_collide_move_and_go_with_drop)
{
    qv_err err = {0};
    int64_t a, b;
    cr_assert_eq(create("default", "ca", 0, &a, NULL), QV_OK);
    cr_assert_eq(create("default", "cb", 0, &b, NULL), QV_OK);
    cr_assert_eq(qv_catalog_create_alias(cat, "default", "al", "ca", &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(qv_catalog_create_alias(cat, "default", "al", "cb", &err),
                 QV_E_EXISTS);
    cr_assert_eq(qv_catalog_create_alias(cat, "default", "cb", "ca", &err),
                 QV_E_EXISTS);
    cr_assert(strstr(err.msg, "already a collection name"), "%s", err.msg);
    cr_assert_eq(create("default", "al", 0, NULL, &err), QV_E_EXISTS);
    cr_assert(strstr(err.msg, "already an alias"), "%s", err.msg);

    qv_code rc;
    qv_coll_info *via = get("default", "al", &rc);
    cr_assert_eq(rc, QV_OK);
    cr_assert_eq(via->id, a);
    cr_assert_eq(via->n_aliases, 1);
    char *name;
    cr_assert_eq(
        qv_catalog_describe_alias(cat, "default", "al", &arena, &name, NULL),
        QV_OK);
    cr_assert_str_eq(name, "ca");

    cr_assert_eq(qv_catalog_alter_alias(cat, "default", "al", "cb", &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(get("default", "al", &rc)->id, b);
    cr_assert_eq(get("default", "ca", &rc)->n_aliases, 0);
    cr_assert_eq(get("default", "cb", &rc)->n_aliases, 1);

    cr_assert_eq(qv_catalog_drop_collection(cat, "default", "al", &err),
                 QV_E_COLLECTION_NOT_FOUND, "drop by alias is refused");
    cr_assert_eq(qv_catalog_drop_collection(cat, "default", "cb", NULL), QV_OK);
    cr_assert_eq(
        qv_catalog_describe_alias(cat, "default", "al", &arena, &name, &err),
        QV_E_ALIAS_NOT_FOUND);
    cr_assert_eq(qv_catalog_create_alias(cat, "default", "al", "ca", &err),
                 QV_OK, "the alias name is free again: %s", err.msg);
    cr_assert_eq(qv_catalog_drop_alias(cat, "default", "al", &err), QV_OK);
    cr_assert_eq(qv_catalog_drop_alias(cat, "default", "al", &err),
                 QV_E_ALIAS_NOT_FOUND);
}

Test(catalog, collection_properties_alter)
{
    cr_assert_eq(create("default", "c", 0, NULL, NULL), QV_OK);
    Milvus__Proto__Common__KeyValuePair p =
        MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    static char k[] = "collection.ttl.seconds", v[] = "60";
    p.key = k;
    p.value = v;
    qv_kvp *props[] = {&p};
    cr_assert_eq(qv_catalog_alter_collection(cat, "default", "c", props, 1,
                                             NULL, 0, NULL),
                 QV_OK);
    qv_code rc;
    qv_coll_info *c = get("default", "c", &rc);
    cr_assert_eq(c->n_properties, 1);
    cr_assert_str_eq(c->properties[0]->key, "collection.ttl.seconds");
    cr_assert_gt(c->update_ts, c->created_ts);
}

Test(catalog, a_conflicting_writer_makes_ddl_fail_cleanly)
{
    metakv *fk;
    cr_assert_eq(metakv_fault_wrap(kv, &fk, NULL), QV_OK);
    kv = fk;
    qv_catalog_close(cat);
    qv_tso_close(tso);
    cr_assert_eq(qv_tso_open(kv, NULL, &tso, NULL), QV_OK);
    cr_assert_eq(qv_catalog_open(kv, tso, NULL, &cat, NULL), QV_OK);
    metakv_fault_set(kv, 1, QV_E_UNAVAILABLE, 0);
    qv_err err = {0};
    qv_code rc = create("default", "c", 0, NULL, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s", err.msg);
    metakv_fault_set(kv, 0, QV_OK, 0);
    get("default", "c", &rc);
    cr_assert_eq(rc, QV_E_COLLECTION_NOT_FOUND, "nothing half-created");
    cr_assert_eq(create("default", "c", 0, NULL, &err), QV_OK, "%s", err.msg);
}
