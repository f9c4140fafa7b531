/* Tests of coord/schema_check.c: every rule rejects with a specific
 * reason, and valid schemas are completed as Milvus does. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "coord/schema_check.h"

#define DT(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

typedef Milvus__Proto__Schema__FieldSchema field_t;

static qv_arena arena;
static Milvus__Proto__Schema__CollectionSchema schema;
static field_t *fields[80];

static void setup(void)
{
    qv_arena_init(&arena, 0);
    milvus__proto__schema__collection_schema__init(&schema);
    schema.fields = fields;
    schema.n_fields = 0;
}

static void teardown(void)
{
    qv_arena_release(&arena);
}

TestSuite(schema_check, .init = setup, .fini = teardown);

/* Adds a field; params are "key=value" strings. */
static field_t *add(const char *name, int type, const char *p1, const char *p2)
{
    field_t *f = qv_arena_alloc(&arena, sizeof(*f));
    milvus__proto__schema__field_schema__init(f);
    f->name = (char *)name;
    f->data_type = type;
    const char *ps[2] = {p1, p2};
    f->type_params = qv_arena_alloc(&arena, 2 * sizeof(void *));
    for (int i = 0; i < 2; i++) {
        if (!ps[i])
            continue;
        Milvus__Proto__Common__KeyValuePair *kv =
            qv_arena_alloc(&arena, sizeof(*kv));
        milvus__proto__common__key_value_pair__init(kv);
        const char *eq = strchr(ps[i], '=');
        kv->key = qv_arena_strndup(&arena, ps[i], (size_t)(eq - ps[i]));
        kv->value = qv_arena_strdup(&arena, eq + 1);
        f->type_params[f->n_type_params++] = kv;
    }
    fields[schema.n_fields++] = f;
    return f;
}

static void base_schema(void)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("vec", DT(FloatVector), "dim=8", NULL);
}

static qv_code check(qv_err *err)
{
    int32_t shards = 0;
    int64_t parts = 0;
    return qv_schema_check(&schema, "c1", &shards, &parts, NULL, &arena, err);
}

static void expect_reject(const char *needle)
{
    qv_err err = {0};
    qv_code rc = check(&err);
    cr_assert_neq(rc, QV_OK, "accepted; wanted '%s'", needle);
    cr_assert(strstr(err.msg, needle), "got '%s', wanted '%s'", err.msg,
              needle);
}

Test(schema_check, valid_schema_gets_field_ids_and_defaults)
{
    base_schema();
    add("title", DT(VarChar), "max_length=64", NULL)->nullable = 1;
    add("tags", DT(Array), "max_capacity=8", NULL)->element_type = DT(Int32);
    int32_t shards = 0;
    int64_t parts = 0;
    qv_err err = {0};
    cr_assert_eq(
        qv_schema_check(&schema, "c1", &shards, &parts, NULL, &arena, &err),
        QV_OK, "%s", err.msg);
    cr_assert_eq(shards, 1);
    cr_assert_eq(parts, 0);
    cr_assert_str_eq(schema.name, "c1");
    for (size_t i = 0; i < schema.n_fields; i++)
        cr_assert_eq(schema.fields[i]->fieldid, 100 + (int64_t)i);
}

Test(schema_check, dynamic_field_is_appended_as_hidden_json)
{
    base_schema();
    schema.enable_dynamic_field = 1;
    cr_assert_eq(check(NULL), QV_OK);
    cr_assert_eq(schema.n_fields, 3);
    field_t *m = schema.fields[2];
    cr_assert_str_eq(m->name, "$meta");
    cr_assert_eq(m->data_type, DT(JSON));
    cr_assert(m->is_dynamic);
    cr_assert_eq(m->fieldid, 102);
}

Test(schema_check, partition_key_defaults_to_16_partitions)
{
    base_schema();
    add("tenant", DT(VarChar), "max_length=32", NULL)->is_partition_key = 1;
    int32_t shards = 4;
    int64_t parts = 0;
    cr_assert_eq(
        qv_schema_check(&schema, "c1", &shards, &parts, NULL, &arena, NULL),
        QV_OK);
    cr_assert_eq(shards, 4);
    cr_assert_eq(parts, 16);
}

Test(schema_check, names_are_checked)
{
    qv_err err;
    cr_assert_eq(qv_name_check("collection", "ok_Name9", &err), QV_OK);
    cr_assert_eq(qv_name_check("collection", "_x", &err), QV_OK);
    cr_assert_eq(qv_name_check("collection", "", &err), QV_E_INVALID);
    cr_assert_eq(qv_name_check("collection", "9abc", &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "first character"), "%s", err.msg);
    cr_assert_eq(qv_name_check("field", "a-b", &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "'a-b'"), "%s", err.msg);
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    cr_assert_eq(qv_name_check("alias", longname, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "255"), "%s", err.msg);
}

Test(schema_check, primary_key_rules)
{
    add("vec", DT(FloatVector), "dim=8", NULL);
    expect_reject("exactly one field is_primary_key");
}

Test(schema_check, two_primary_keys)
{
    base_schema();
    add("id2", DT(Int64), NULL, NULL)->is_primary_key = 1;
    expect_reject("2 primary key fields");
}

Test(schema_check, float_primary_key)
{
    add("id", DT(Float), NULL, NULL)->is_primary_key = 1;
    add("vec", DT(FloatVector), "dim=8", NULL);
    expect_reject("must be Int64 or VarChar");
}

Test(schema_check, varchar_pk_needs_max_length_and_no_auto_id)
{
    field_t *f = add("id", DT(VarChar), NULL, NULL);
    f->is_primary_key = 1;
    add("vec", DT(FloatVector), "dim=8", NULL);
    expect_reject("needs the type parameter 'max_length'");
}

Test(schema_check, auto_id_on_varchar)
{
    field_t *f = add("id", DT(VarChar), "max_length=10", NULL);
    f->is_primary_key = 1;
    f->autoid = 1;
    add("vec", DT(FloatVector), "dim=8", NULL);
    expect_reject("auto_id needs an Int64 primary key");
}

Test(schema_check, auto_id_off_the_pk)
{
    base_schema();
    add("x", DT(Int64), NULL, NULL)->autoid = 1;
    expect_reject("auto_id is only allowed on the primary key");
}

Test(schema_check, vector_dims)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("vec", DT(FloatVector), "dim=40000", NULL);
    expect_reject("dim '40000' must be an integer in [1, 32768]");
}

Test(schema_check, vector_dim_missing)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("vec", DT(FloatVector), NULL, NULL);
    expect_reject("needs the type parameter 'dim'");
}

Test(schema_check, binary_dim_multiple_of_8)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("bv", DT(BinaryVector), "dim=12", NULL);
    expect_reject("multiple of 8");
}

Test(schema_check, no_vector_field)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    expect_reject("no vector field");
}

Test(schema_check, too_many_vector_fields)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("v1", DT(FloatVector), "dim=8", NULL);
    add("v2", DT(FloatVector), "dim=8", NULL);
    add("v3", DT(BinaryVector), "dim=8", NULL);
    add("v4", DT(Float16Vector), "dim=8", NULL);
    add("v5", DT(SparseFloatVector), NULL, NULL);
    expect_reject("5 vector fields; the limit is 4");
}

Test(schema_check, varchar_max_length_range)
{
    base_schema();
    add("s", DT(VarChar), "max_length=70000", NULL);
    expect_reject("max_length '70000' must be an integer in [1, 65535]");
}

Test(schema_check, array_rules)
{
    base_schema();
    field_t *a = add("arr", DT(Array), "max_capacity=8", NULL);
    a->element_type = DT(JSON);
    expect_reject("element type JSON is not supported");
}

Test(schema_check, array_capacity)
{
    base_schema();
    field_t *a = add("arr", DT(Array), "max_capacity=0", NULL);
    a->element_type = DT(Int64);
    expect_reject("max_capacity '0'");
}

Test(schema_check, array_of_varchar_needs_max_length)
{
    base_schema();
    field_t *a = add("arr", DT(Array), "max_capacity=4", NULL);
    a->element_type = DT(VarChar);
    expect_reject("'max_length'");
}

Test(schema_check, duplicate_field_names)
{
    base_schema();
    add("vec", DT(Int32), NULL, NULL);
    expect_reject("duplicate field name 'vec'");
}

Test(schema_check, bad_field_name)
{
    base_schema();
    add("1st", DT(Int32), NULL, NULL);
    expect_reject("field name '1st'");
}

Test(schema_check, partition_key_type_and_count)
{
    base_schema();
    add("p", DT(Float), NULL, NULL)->is_partition_key = 1;
    expect_reject("partition key field 'p' must be an Int64 or VarChar");
}

Test(schema_check, num_partitions_without_partition_key)
{
    base_schema();
    int32_t shards = 0;
    int64_t parts = 8;
    qv_err err = {0};
    cr_assert_eq(
        qv_schema_check(&schema, "c1", &shards, &parts, NULL, &arena, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "partition key"), "%s", err.msg);
}

Test(schema_check, shards_range)
{
    base_schema();
    int32_t shards = 17;
    int64_t parts = 0;
    qv_err err = {0};
    cr_assert_eq(
        qv_schema_check(&schema, "c1", &shards, &parts, NULL, &arena, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "shards_num 17"), "%s", err.msg);
}

Test(schema_check, nullable_vector_and_pk)
{
    add("id", DT(Int64), NULL, NULL)->is_primary_key = 1;
    add("vec", DT(FloatVector), "dim=8", NULL)->nullable = 1;
    expect_reject("vector field 'vec' cannot be nullable");
}

Test(schema_check, default_value_types)
{
    base_schema();
    field_t *f = add("n", DT(Int8), NULL, NULL);
    Milvus__Proto__Schema__ValueField v =
        MILVUS__PROTO__SCHEMA__VALUE_FIELD__INIT;
    v.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA;
    v.int_data = 300;
    f->default_value = &v;
    expect_reject("default value 300 is out of range for Int8");
}

Test(schema_check, default_value_mismatch)
{
    base_schema();
    field_t *f = add("s", DT(VarChar), "max_length=4", NULL);
    Milvus__Proto__Schema__ValueField v =
        MILVUS__PROTO__SCHEMA__VALUE_FIELD__INIT;
    v.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA;
    f->default_value = &v;
    expect_reject("does not match VarChar");
}

Test(schema_check, default_value_too_long)
{
    base_schema();
    field_t *f = add("s", DT(VarChar), "max_length=4", NULL);
    Milvus__Proto__Schema__ValueField v =
        MILVUS__PROTO__SCHEMA__VALUE_FIELD__INIT;
    v.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
    v.string_data = qv_arena_strdup(&arena, "toolong");
    f->default_value = &v;
    expect_reject("longer than max_length 4");
}

Test(schema_check, unsupported_types_are_named)
{
    base_schema();
    add("g", DT(Geometry), NULL, NULL);
    expect_reject("data type Geometry (24) is not supported");
}

Test(schema_check, user_set_dynamic_is_refused)
{
    base_schema();
    add("m", DT(JSON), NULL, NULL)->is_dynamic = 1;
    expect_reject("is_dynamic is set by the server");
}

Test(schema_check, schema_name_must_match)
{
    base_schema();
    schema.name = qv_arena_strdup(&arena, "other");
    expect_reject("the schema names collection 'other'");
}

Test(schema_check, too_many_fields)
{
    base_schema();
    char names[70][8];
    for (int i = 0; i < 63; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        add(names[i], DT(Int32), NULL, NULL);
    }
    expect_reject("65 fields; the limit is 64");
}
