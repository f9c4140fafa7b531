/* coll_ctx.h -- what the proxy's data path needs to know about a
 * collection, built from its (cached) DescribeCollection reply: field specs
 * for validation and conversion (proto/convert_fielddata.h), the filter
 * schema (common/expr), the primary key and dynamic field, and the shards.
 *
 * DescribeCollection leaves the hidden `$meta` field out; a dynamic schema
 * gets it back here with the id the coord gave it (100 + the number of
 * user fields, coord/schema_check.c).
 *
 * Ownership: everything lives in the call's arena; strings are borrowed
 * from the describe reply.  Threading: per call.
 */
#ifndef QV_PROXY_COLL_CTX_H
#define QV_PROXY_COLL_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"
#include "common/expr/expr.h"
#include "proxy/proxy_int.h"

typedef struct qv_coll_ctx {
    qv_describe_resp *d;
    const char *db;
    int64_t id;
    size_t nfields; /* user fields, then $meta when dynamic */
    Milvus__Proto__Schema__FieldSchema **fs; /* NULL for $meta */
    qv_field_spec *specs;
    qv_expr_field *xfields;
    qv_expr_schema xschema;
    size_t pk; /* index of the primary key */
    int dyn;   /* index of $meta, or -1 */
    bool autoid;
    size_t nshards;
    char **vch, **pch;
} qv_coll_ctx;

/* Describes (db, name) and builds the context. */
qv_code qv_coll_ctx_get(qv_proxy *p, qv_rpc_call *call, const char *db,
                        const char *name, qv_coll_ctx *out,
                        qv_err *err) QV_MUST_USE;

/* Index of the field named name, or -1. */
int qv_coll_ctx_field(const qv_coll_ctx *c, const char *name);

/* Parses a filter (with template values) against the collection.
 * Empty text gives a match-all plan. */
/* tv: the request's expr_template_values entries (every request type's
 * map entry has the layout {base, key, value}). */
qv_code qv_coll_ctx_parse(const qv_coll_ctx *c, qv_arena *a, const char *text,
                          const void *const *tv, size_t ntv, qv_expr_plan **out,
                          qv_err *err) QV_MUST_USE;

#endif
