/* qn_helpers.h -- building log messages and shards for querynode tests.
 *
 * Schema: pk Int64 (100), vec FloatVector dim QN_DIM (101), tag Int64
 * (102), name VarChar nullable (103). */
#ifndef QN_HELPERS_H
#define QN_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg/msg.h"
#include "querynode/shard.h"

#define QN_DIM  8
#define QN_COLL 7
#define QN_VCH  "p0_7v0"
#define QN_PK   100
#define QN_VEC  101
#define QN_TAG  102
#define QN_NAME 103

extern const qv_field_spec qn_fields[4];
extern const qv_seg_schema qn_schema;

/* An insert message with its own columns. */
typedef struct qn_insert {
    qv_msg m;
    qv_column *c[4];
    qv_col_view v[4];
    int64_t ids[4];
} qn_insert;

/* Rows i < n: pk pks[i], vec vecs + i*QN_DIM (NULL: derived from pk), tag
 * = pk % 10, name "n<pk>" (NULL for pk % 7 == 3). */
void qn_insert_make(qn_insert *x, const int64_t *pks, size_t n,
                    const float *vecs, qv_ts ts, int64_t seg, int64_t part);
void qn_insert_free(qn_insert *x);
/* The vector of a pk when none was given. */
void qn_vec_of(int64_t pk, float *out);

/* A delete of keys at ts (its column freed by qn_delete_free). */
typedef struct qn_delete {
    qv_msg m;
    qv_column *c;
    qv_col_view v;
} qn_delete;
void qn_delete_make(qn_delete *x, const int64_t *pks, size_t n, qv_ts ts,
                    int64_t part);
void qn_delete_free(qn_delete *x);

qv_shard *qn_shard(void);
/* Applies an insert / delete of one key set; asserts success. */
void qn_apply_insert(qv_shard *s, const int64_t *pks, size_t n, qv_ts ts,
                     int64_t seg);
void qn_apply_delete(qv_shard *s, const int64_t *pks, size_t n, qv_ts ts);
/* The sorted visible PKs at R via qv_shard_query (no filter): count and
 * list (caller frees). */
size_t qn_visible(qv_shard *s, qv_ts R, int64_t **pks);

#endif
