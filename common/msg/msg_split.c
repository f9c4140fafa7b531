/* msg_split.c -- cutting an Insert into log records under a size limit,
 * and row-range views of columns.
 *
 * The cut is greedy over rows with an upper bound of each part's encoded
 * size: a fixed cost per part (header, field table, per column the image
 * header and worst-case alignment padding) plus a cost per row (its bytes
 * in every column, one offset per variable-width column, one validity byte
 * per nullable column, its row id).  Each part is then encoded exactly and
 * checked against the limit.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/bitset.h"
#include "common/msg/msg_int.h"

void qv_msg_parts_release(qv_msg_parts *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        qv_buf_release(&p->bufs[i]);
    free(p->bufs);
    p->bufs = NULL;
    p->n = 0;
}

qv_code qv_col_view_slice(const qv_col_view *v, size_t first, size_t n,
                          qv_col_view *out, uint64_t **scratch)
{
    *scratch = NULL;
    if (first > v->rows || n > v->rows - first)
        return QV_E_INVALID;
    qv_col_view s = *v;
    s.rows = n;
    if (qv_dtype_is_varwidth(v->type))
        s.offsets = v->offsets + first;
    else
        s.data = v->data + first * v->width;
    if (v->valid && first % 64) {
        size_t words = QV_BITSET_WORDS(n) + 1;
        uint64_t *w = qv_try_calloc(words, 8);
        if (!w)
            return QV_E_NOMEM;
        for (size_t r = 0; r < n; r++)
            if (qv_col_is_valid(v, first + r))
                w[r >> 6] |= (uint64_t)1 << (r & 63);
        s.valid = w;
        *scratch = w;
    } else if (v->valid) {
        s.valid = v->valid + first / 64;
    }
    *out = s;
    return QV_OK;
}

/* Upper bound of the bytes row r adds to a part. */
static size_t row_cost(const qv_msg *m, size_t r)
{
    size_t c = m->row_ids ? 8 : 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const qv_col_view *v = &m->cols[i];
        if (qv_dtype_is_varwidth(v->type))
            c += 8 + (size_t)(v->offsets[r + 1] - v->offsets[r]);
        else
            c += v->width;
        if (v->valid)
            c += 1;
    }
    return c;
}

/* Upper bound of a part's bytes besides its rows. */
static size_t part_overhead(const qv_msg *m)
{
    size_t c = MSG_HDR + ALIGN8(strlen(m->vchannel)) + INS_FIXED +
               16 * m->nfields + IMG_ALIGN;
    /* per column: image header, 3 alignment gaps, validity word rounding,
     * the extra offset */
    c += m->nfields * (IMG_HDR + 3 * IMG_ALIGN + 8 + 8);
    return c;
}

static qv_code encode_part(const qv_msg *m, size_t first, size_t n,
                           qv_col_view *views, uint64_t **scratch, qv_buf *out,
                           qv_err *err)
{
    qv_code rc = QV_OK;
    for (size_t i = 0; i < m->nfields && !rc; i++)
        rc = qv_col_view_slice(&m->cols[i], first, n, &views[i], &scratch[i]);
    if (rc) {
        rc = qv_fail(err, QV_E_NOMEM, "cannot slice insert rows");
    } else {
        qv_msg part = *m;
        part.rows = n;
        part.cols = views;
        part.row_ids = m->row_ids ? m->row_ids + first : NULL;
        part.priv = NULL;
        rc = qv_msg_encode(&part, out, err);
    }
    for (size_t i = 0; i < m->nfields; i++) {
        free(scratch[i]);
        scratch[i] = NULL;
    }
    return rc;
}

static void parts_push(qv_msg_parts *p, size_t *cap, qv_buf *b)
{
    if (p->n == *cap) {
        *cap = *cap ? 2 * *cap : 4;
        p->bufs = qv_xrealloc(p->bufs, *cap * sizeof *p->bufs);
    }
    p->bufs[p->n++] = *b;
}

qv_code qv_msg_insert_split(const qv_msg *m, size_t max_bytes,
                            qv_msg_parts *out, qv_err *err)
{
    if (m->type != QV_MSG_INSERT)
        return qv_fail(err, QV_E_INVALID, "split: not an insert message");
    qv_code rc = msg__check(m, err);
    if (rc)
        return rc;
    size_t over = part_overhead(m);
    qv_msg_parts parts = {NULL, 0};
    size_t cap = 0;
    qv_col_view *views = QV_NEW_ARRAY(qv_col_view, m->nfields);
    uint64_t **scratch = QV_NEW_ARRAY(uint64_t *, m->nfields);
    size_t first = 0;
    do {
        size_t budget = over, n = 0;
        while (first + n < m->rows) {
            size_t c = row_cost(m, first + n);
            if (budget + c > max_bytes)
                break;
            budget += c;
            n++;
        }
        if (n == 0 && m->rows > 0) {
            rc = qv_fail(err, QV_E_INVALID,
                         "insert row %zu needs more than the log's "
                         "%zu-byte record limit",
                         first, max_bytes);
            break;
        }
        qv_buf b = QV_BUF_INIT;
        rc = encode_part(m, first, n, views, scratch, &b, err);
        if (!rc && b.len > max_bytes)
            rc = qv_fail(err, QV_E_INTERNAL,
                         "insert part of %zu bytes passes the %zu limit", b.len,
                         max_bytes);
        if (rc) {
            qv_buf_release(&b);
            break;
        }
        parts_push(&parts, &cap, &b);
        first += n;
    } while (first < m->rows);
    free(views);
    free(scratch);
    if (rc) {
        qv_msg_parts_release(&parts);
        return rc;
    }
    *out = parts;
    return QV_OK;
}
