/* schema_check.h -- validation and completion of collection schemas with
 * Milvus's rules (CreateCollection).
 *
 * qv_schema_check() accepts a CollectionSchema as the SDK sends it and
 * either rejects it with a reason naming the field and the rule, or
 * completes it in place: field IDs assigned from 100 in declaration order,
 * the deprecated schema-level autoID moved onto the primary key, and the
 * hidden dynamic field "$meta" (JSON, is_dynamic) appended when
 * enable_dynamic_field is set.
 *
 * Ownership: new arrays and fields are allocated on the caller's arena and
 * live as long as it; the schema keeps pointing into the caller's message.
 * Threading: pure functions.
 */
#ifndef QV_COORD_SCHEMA_CHECK_H
#define QV_COORD_SCHEMA_CHECK_H

#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"
#include "milvus/schema.pb-c.h"

#define QV_FIRST_USER_FIELD_ID 100
#define QV_DYNAMIC_FIELD_NAME  "$meta"

typedef struct qv_schema_limits {
    uint32_t max_fields;        /* 0 = 64 */
    uint32_t max_vector_fields; /* 0 = 4 */
    uint32_t max_dim;           /* 0 = 32768 */
    uint32_t max_varchar;       /* 0 = 65535 */
    uint32_t max_capacity;      /* 0 = 4096 (Array) */
    uint32_t max_shards;        /* 0 = 16 */
    uint32_t max_partitions;    /* 0 = 4096 (partition-key partitions) */
} qv_schema_limits;

/* Checks a name of kind what ("collection", "field", "partition", "alias",
 * "database"): 1..255 characters, letters, digits and '_', not starting
 * with a digit.  The message quotes the name and says what is wrong. */
qv_code qv_name_check(const char *what, const char *name,
                      qv_err *err) QV_MUST_USE;

/* Validates and completes schema for collection `name`.  *shards and
 * *num_partitions are the request's values (0 = default); on success they
 * hold the effective values (shards default 1; num_partitions 16 with a
 * partition key, else 0).  lim may be NULL for the defaults. */
qv_code qv_schema_check(Milvus__Proto__Schema__CollectionSchema *schema,
                        const char *name, int32_t *shards,
                        int64_t *num_partitions, const qv_schema_limits *lim,
                        qv_arena *arena, qv_err *err) QV_MUST_USE;

/* The type parameter `key` of a field, or NULL. */
const char *qv_field_type_param(const Milvus__Proto__Schema__FieldSchema *f,
                                const char *key);

/* Milvus's name of a data type ("Int64", "FloatVector", ...). */
const char *qv_data_type_name(int data_type);

#endif
