/* si_helpers.h -- real sealed segments with real index files for the
 * sealed-index tests: rows go through a shard, qv_flush_segment writes the
 * segment to a filesystem object store, qv_sealed_load loads it, and index
 * files are built with the index library, serialized, stored under
 * index_files/{build}/{seg}/index and loaded with qv_seg_index_load.
 *
 * Schema: pk Int64 (100), vec FloatVector dim SI_DIM (101), tag Int64
 * (102) = pk % 10, bvec BinaryVector SI_BITS (103).  Row i (0-based, in
 * insert order) has pk i + 1; the first si_n_a rows are inserted at ts
 * 100, the rest at 200; every 7th pk (pk % 7 == 0) is deleted at 300. */
#ifndef SI_HELPERS_H
#define SI_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/expr/expr.h"
#include "common/objstore/objstore.h"
#include "index/index.h"
#include "querynode/sealed.h"
#include "querynode/sealed_index.h"
#include "querynode/search.h"

#define SI_DIM  32
#define SI_BITS 64
#define SI_PK   100
#define SI_VEC  101
#define SI_TAG  102
#define SI_BVEC 103

typedef struct si_env {
    char *dir;
    objstore *os;
    size_t n, n_a;
    float *x;   /* n * SI_DIM */
    uint8_t *b; /* n * SI_BITS / 8 */
    qv_sealed *seg;
} si_env;

extern const qv_seg_schema si_schema;

/* Writes and loads a segment of n rows (n_a at ts 100); cache: NULL =
 * in memory, else a directory to map the columns from. */
void si_setup(si_env *e, size_t n, size_t n_a, int mapped);
void si_teardown(si_env *e);

/* Deterministic clustered data: query j (float and binary). */
void si_query(size_t j, float *q, uint8_t *bq);

/* Builds an index of the given type over the float (or binary) vectors,
 * with build params "k=v,k=v". */
qv_index *si_build(si_env *e, qv_index_type t, qv_metric m, const char *params);
/* Stores ix's file under index_files/{build}/1/index and loads it. */
qv_seg_index *si_store_load(si_env *e, const qv_index *ix, int64_t build,
                            int64_t field, const char *cache_dir);

/* A one-segment shard snapshot of e->seg. */
void si_snap(si_env *e, qv_shard_snap *out);

/* Parses a filter over pk / tag. */
qv_expr_plan *si_filter(const char *text);

/* Parses "k=v,k=v" into kv (static storage for up to 8 pairs). */
qv_params si_params(const char *text);

/* Whether row r is visible at R (insert and delete rules above). */
int si_visible(const si_env *e, size_t r, qv_ts R);

#endif
