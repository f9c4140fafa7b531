/* query.c -- filter / output fields / offset+limit / count(*) over a shard
 * snapshot, in primary-key order (query.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "querynode/query.h"
#include "querynode/search.h"

typedef struct qrow {
    qv_pk pk;
    qv_ts ts;
    uint32_t seg;
    int64_t row;
} qrow;

static int by_pk_newest(const void *a, const void *b)
{
    const qrow *x = a, *y = b;
    int c = qv_pk_cmp(&x->pk, &y->pk);
    if (c)
        return c;
    if (x->ts != y->ts)
        return x->ts > y->ts ? -1 : 1;
    if (x->seg != y->seg)
        return x->seg > y->seg ? -1 : 1;
    return x->row > y->row ? -1 : x->row < y->row;
}

/* Appends the visible matching rows of segment i to *rows. */
static qv_code collect(const qv_shard_snap *snap, size_t i,
                       const qv_query_req *req, qrow **rows, size_t *n,
                       size_t *cap, qv_err *err)
{
    const qv_seg_snap *ss = &snap->snaps[i];
    if (ss->rows == 0)
        return QV_OK;
    qv_bitset ex;
    if (qv_bitset_init(&ex, ss->rows))
        return qv_fail(err, QV_E_NOMEM, "query: cannot allocate a mask");
    qv_code rc = qv_seg_exclude(snap, i, req->ts, req->filter, &ex, err);
    const qv_col_view *pkv = &ss->cols[ss->pk_index];
    for (size_t r = 0; !rc && r < ss->rows; r++) {
        if (qv_bitset_test(&ex, r))
            continue;
        if (!*rows || *n == *cap) {
            *cap = *cap ? 2 * *cap : 1024;
            qrow *p = qv_try_realloc(*rows, *cap, sizeof **rows);
            if (!p) {
                rc = qv_fail(err, QV_E_NOMEM, "query: %zu rows match", *n);
                break;
            }
            *rows = p;
        }
        (*rows)[(*n)++] =
            (qrow){qv_pk_of_row(pkv, r), ss->ops->row_ts(ss->seg, r),
                   (uint32_t)i, (int64_t)r};
    }
    qv_bitset_release(&ex);
    return rc;
}

void qv_query_result_release(qv_query_result *r)
{
    for (size_t i = 0; i < r->ncols; i++)
        qv_column_free(r->cols[i]);
    free(r->cols);
    free(r->field_ids);
    memset(r, 0, sizeof *r);
}

static qv_code build_columns(const qv_shard_snap *snap, const qv_query_req *req,
                             const qrow *rows, size_t n, qv_query_result *res,
                             qv_err *err)
{
    int64_t pk_id = snap->schema->pk_field_id;
    res->field_ids = QV_NEW_ARRAY(int64_t, req->noutput + 1);
    res->field_ids[0] = pk_id;
    size_t nf = 1;
    for (size_t i = 0; i < req->noutput; i++) {
        bool dup = false;
        for (size_t j = 0; j < nf; j++)
            dup |= res->field_ids[j] == req->output_fields[i];
        if (!dup)
            res->field_ids[nf++] = req->output_fields[i];
    }
    uint32_t *seg = QV_NEW_ARRAY(uint32_t, n ? n : 1);
    int64_t *row = QV_NEW_ARRAY(int64_t, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        seg[i] = rows[i].seg;
        row[i] = rows[i].row;
    }
    qv_code rc =
        qv_shard_gather(snap, seg, row, n, res->field_ids, nf, &res->cols, err);
    free(seg);
    free(row);
    if (!rc)
        res->ncols = nf;
    return rc;
}

/* count(*): visible matching rows.  A shard never shows two versions of
 * one key at a read timestamp (shard.h), so no dedupe is needed. */
static qv_code count_rows(const qv_shard_snap *snap, const qv_query_req *req,
                          uint64_t *count, qv_err *err)
{
    uint64_t n = 0;
    for (size_t i = 0; i < snap->n; i++) {
        const qv_seg_snap *ss = &snap->snaps[i];
        if (ss->rows == 0 ||
            !qv_seg_in_partitions(snap, i, req->partitions, req->npartitions))
            continue;
        qv_bitset ex;
        if (qv_bitset_init(&ex, ss->rows))
            return qv_fail(err, QV_E_NOMEM, "count: cannot allocate a mask");
        qv_code rc = qv_seg_exclude(snap, i, req->ts, req->filter, &ex, err);
        n += ss->rows - qv_bitset_count(&ex);
        qv_bitset_release(&ex);
        if (rc)
            return rc;
    }
    *count = n;
    return QV_OK;
}

qv_code qv_shard_query(const qv_shard_snap *snap, const qv_query_req *req,
                       qv_query_result *out, qv_err *err)
{
    if (req->count_only) {
        qv_query_result res;
        memset(&res, 0, sizeof res);
        qv_code rc = count_rows(snap, req, &res.count, err);
        if (!rc)
            *out = res;
        return rc;
    }
    qrow *rows = NULL;
    size_t n = 0, cap = 0;
    qv_code rc = QV_OK;
    for (size_t i = 0; i < snap->n && !rc; i++)
        if (qv_seg_in_partitions(snap, i, req->partitions, req->npartitions))
            rc = collect(snap, i, req, &rows, &n, &cap, err);
    if (rc) {
        free(rows);
        return rc;
    }
    if (n)
        qsort(rows, n, sizeof *rows, by_pk_newest);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || qv_pk_cmp(&rows[u - 1].pk, &rows[i].pk) != 0)
            rows[u++] = rows[i];
    qv_query_result res;
    memset(&res, 0, sizeof res);
    size_t from = req->offset < u ? req->offset : u;
    size_t take = u - from;
    if (req->limit && take > req->limit)
        take = req->limit;
    rc = build_columns(snap, req, rows + from, take, &res, err);
    free(rows);
    if (rc) {
        qv_query_result_release(&res);
        return rc;
    }
    res.count = take;
    *out = res;
    return QV_OK;
}
