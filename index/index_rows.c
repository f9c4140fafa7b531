/* index_rows.c -- the raw row store shared by FLAT and BIN_FLAT (see
 * qv__rows in index_impl.h). */
#include "index/index_impl.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define TAG_ROWS QV_FOURCC('R', 'O', 'W', 'S')
#define TAG_IDS  QV_FOURCC('I', 'D', 'S', ' ')

static qv_code grow(qv__rows *r, size_t need, qv_err *err)
{
    if (need <= r->cap)
        return QV_OK;
    size_t nc = r->cap + r->cap / 2;
    if (nc < need)
        nc = need;
    uint8_t *d = qv_try_aligned_alloc(nc, r->row_bytes);
    if (!d)
        return qv_fail(err, QV_E_NOMEM, "cannot allocate %zu rows", nc);
    if (r->n)
        memcpy(d, r->data, r->n * r->row_bytes);
    qv_aligned_free(r->data);
    r->data = d;
    if (r->ids) {
        int64_t *ids = qv_try_realloc(r->ids, nc, sizeof(int64_t));
        if (!ids)
            return qv_fail(err, QV_E_NOMEM, "cannot allocate %zu labels", nc);
        r->ids = ids;
    }
    r->cap = nc;
    return QV_OK;
}

qv_code qv__rows_add(qv__rows *r, size_t n, const void *x,
                     const int64_t *labels, qv_err *err)
{
    qv_code rc = grow(r, r->n + n, err);
    if (rc)
        return rc;
    bool identity = !r->ids;
    for (size_t i = 0; identity && i < n; i++)
        identity = labels[i] == (int64_t)(r->n + i);
    if (!identity && !r->ids) {
        r->ids = qv_try_alloc(r->cap, sizeof(int64_t));
        if (!r->ids)
            return qv_fail(err, QV_E_NOMEM, "cannot allocate labels");
        for (size_t i = 0; i < r->n; i++)
            r->ids[i] = (int64_t)i;
    }
    if (r->ids)
        memcpy(r->ids + r->n, labels, n * sizeof(int64_t));
    memcpy(r->data + r->n * r->row_bytes, x, n * r->row_bytes);
    r->n += n;
    return QV_OK;
}

qv_code qv__rows_find(const qv__rows *r, int64_t label, size_t *row,
                      qv_err *err)
{
    if (!r->ids) {
        if (label >= 0 && (uint64_t)label < r->n) {
            *row = (size_t)label;
            return QV_OK;
        }
    } else {
        for (size_t i = 0; i < r->n; i++)
            if (r->ids[i] == label) {
                *row = i;
                return QV_OK;
            }
    }
    return qv_fail(err, QV_E_NOT_FOUND, "label %lld is not in the index",
                   (long long)label);
}

qv_code qv__rows_get(const qv__rows *r, size_t n, const int64_t *labels,
                     void *out, qv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t row = 0;
        qv_code rc = qv__rows_find(r, labels[i], &row, err);
        if (rc)
            return rc;
        memcpy((uint8_t *)out + i * r->row_bytes, r->data + row * r->row_bytes,
               r->row_bytes);
    }
    return QV_OK;
}

qv_code qv__rows_write(const qv__rows *r, qv__writer *w, qv_err *err)
{
    qv_code rc =
        qv__writer_section(w, TAG_ROWS, r->data, r->n * r->row_bytes, err);
    if (!rc && r->ids)
        rc =
            qv__writer_section(w, TAG_IDS, r->ids, r->n * sizeof(int64_t), err);
    return rc;
}

qv_code qv__rows_read(qv__rows *r, const qv__reader *rd, size_t ntotal,
                      qv_err *err)
{
    const void *p;
    qv_code rc = qv__reader_exact(rd, TAG_ROWS, r->row_bytes, ntotal, &p, err);
    if (rc)
        return rc;
    r->data = (uint8_t *)p;
    r->n = r->cap = ntotal;
    r->borrowed = true;
    size_t nids;
    const void *ids;
    if (qv__reader_section(rd, TAG_IDS, sizeof(int64_t), &nids, &ids, NULL) ==
        QV_OK) {
        if (nids != ntotal)
            return qv_fail(err, QV_E_CORRUPT,
                           "index section 'IDS ' holds %zu labels, "
                           "expected %zu",
                           nids, ntotal);
        r->ids = (int64_t *)ids;
    }
    return QV_OK;
}

size_t qv__rows_memory(const qv__rows *r)
{
    if (r->borrowed)
        return 0;
    return r->cap * r->row_bytes + (r->ids ? r->cap * sizeof(int64_t) : 0);
}

void qv__rows_release(qv__rows *r)
{
    if (!r->borrowed) {
        qv_aligned_free(r->data);
        free(r->ids);
    }
    memset(r, 0, sizeof(*r));
}
