/* pk.h -- primary key helpers: PK -> row offsets for growing segments
 * (hash map) and sealed segments (sorted order + binary search), the PK
 * bloom filter and min/max PK statistics with their file format.
 *
 * Primary keys are Int64 or VarChar (qv_pk).  A PK may map to several rows
 * of one segment (an upsert re-inserts the key); lookups return every row,
 * in ascending row order.
 *
 * Ownership: every object is created and freed by the caller.  qv_pk
 * strings are borrowed for the call only (maps copy what they keep).
 * Threading:
 *   qv_pk_map: internally locked; one or more threads may insert while
 *     others look up.
 *   qv_pk_sorted, qv_pk_bloom (after building), qv_pk_stats: immutable, any
 *     number of readers.  qv_pk_bloom_add needs exclusive access.
 */
#ifndef QV_PK_H
#define QV_PK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/column/column.h"
#include "common/status.h"

typedef struct qv_pk {
    qv_dtype type; /* QV_DT_INT64 or QV_DT_VARCHAR */
    int64_t i;
    const char *s;
    size_t len;
} qv_pk;

static inline qv_pk qv_pk_int(int64_t i)
{
    qv_pk k = {QV_DT_INT64, i, NULL, 0};
    return k;
}
static inline qv_pk qv_pk_str(const char *s, size_t len)
{
    qv_pk k = {QV_DT_VARCHAR, 0, s, len};
    return k;
}
/* Row r of an Int64 or VarChar column as a PK (string borrowed). */
qv_pk qv_pk_of_row(const qv_col_view *v, size_t row);
/* -1, 0, 1; Int64 numerically, VarChar bytewise. */
int qv_pk_cmp(const qv_pk *a, const qv_pk *b);

/* A growable list of row offsets (lookup results). */
typedef struct qv_rows {
    int64_t *v;
    size_t n, cap;
} qv_rows;
void qv_rows_release(qv_rows *r);

/* ---- growing: hash map ------------------------------------------------ */

typedef struct qv_pk_map qv_pk_map;

qv_code qv_pk_map_create(qv_dtype pk_type, qv_pk_map **out,
                         qv_err *err) QV_MUST_USE;
void qv_pk_map_free(qv_pk_map *m);
/* Records that row holds pk.  Rows must be added in ascending order. */
qv_code qv_pk_map_add(qv_pk_map *m, const qv_pk *pk, int64_t row) QV_MUST_USE;
/* Adds rows [first, first + v->rows) from a PK column view. */
qv_code qv_pk_map_add_column(qv_pk_map *m, const qv_col_view *v,
                             int64_t first) QV_MUST_USE;
/* Appends the rows of pk (ascending) to out; returns how many. */
size_t qv_pk_map_find(qv_pk_map *m, const qv_pk *pk, qv_rows *out);
/* The last (newest) row of pk, or -1. */
int64_t qv_pk_map_last(qv_pk_map *m, const qv_pk *pk);
size_t qv_pk_map_size(qv_pk_map *m); /* distinct keys */

/* ---- sealed: sorted order over a PK column ---------------------------- */

typedef struct qv_pk_sorted qv_pk_sorted;

/* Sorts the rows of v (Int64 or VarChar, no nulls) by PK.  The result
 * BORROWS v's buffers (the column must outlive it).  A column already in
 * PK order costs no extra memory. */
qv_code qv_pk_sorted_build(const qv_col_view *v, qv_pk_sorted **out,
                           qv_err *err) QV_MUST_USE;
void qv_pk_sorted_free(qv_pk_sorted *s);
size_t qv_pk_sorted_find(const qv_pk_sorted *s, const qv_pk *pk, qv_rows *out);
bool qv_pk_sorted_contains(const qv_pk_sorted *s, const qv_pk *pk);

/* ---- bloom filter ----------------------------------------------------- */

typedef struct qv_pk_bloom qv_pk_bloom;

/* Sized for n keys at false-positive rate fpp (e.g. 0.001). */
qv_code qv_pk_bloom_create(qv_dtype pk_type, size_t n, double fpp,
                           qv_pk_bloom **out, qv_err *err) QV_MUST_USE;
void qv_pk_bloom_free(qv_pk_bloom *b);
void qv_pk_bloom_add(qv_pk_bloom *b, const qv_pk *pk);
/* False: pk is certainly absent.  True: pk may be present. */
bool qv_pk_bloom_test(const qv_pk_bloom *b, const qv_pk *pk);
size_t qv_pk_bloom_bits(const qv_pk_bloom *b);
unsigned qv_pk_bloom_hashes(const qv_pk_bloom *b);

/* ---- PK statistics: min, max, rows, bloom ------------------------------ */

typedef struct qv_pk_stats {
    qv_dtype type;
    uint64_t rows;
    bool has_minmax; /* false when rows == 0 */
    int64_t min_i, max_i;
    char *min_s, *max_s; /* heap, NUL-terminated copies */
    size_t min_len, max_len;
    qv_pk_bloom *bloom;
} qv_pk_stats;

/* Computes stats over a PK column view (bloom at fpp 0.001). */
qv_code qv_pk_stats_build(const qv_col_view *v, qv_pk_stats *out,
                          qv_err *err) QV_MUST_USE;
void qv_pk_stats_release(qv_pk_stats *s);
/* False if pk is certainly not among the rows (range or bloom). */
bool qv_pk_stats_may_contain(const qv_pk_stats *s, const qv_pk *pk);
/* File format (README.md): magic "QVPS", version, type, rows, min/max,
 * bloom parameters and bits, crc32c.  Decode copies what it keeps. */
qv_code qv_pk_stats_encode(const qv_pk_stats *s, qv_buf *out,
                           qv_err *err) QV_MUST_USE;
qv_code qv_pk_stats_decode(const void *bytes, size_t len, qv_pk_stats *out,
                           qv_err *err) QV_MUST_USE;

#endif
