/* build.c -- one index build: column file in, index file out (build.h). */
#include "indexnode/build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/column/column.h"
#include "common/msg/seglog.h"
#include "index/index.h"
#include "index/scalar/scalar_index.h"
#include "indexnode/index_spec.h"
#include "proto/convert_fielddata.h"

char *qv_ixbuild_key(int64_t build_id, int64_t seg_id)
{
    return qv_xasprintf("index_files/%" PRId64 "/%" PRId64 "/%s", build_id,
                        seg_id, QV_INDEX_FILE_NAME);
}

bool qv_ixbuild_transient(qv_code rc)
{
    switch (qv_code_primary(rc)) {
    case QV_E_IO:
    case QV_E_UNAVAILABLE:
    case QV_E_TIMEOUT:
    case QV_E_NOMEM:
    case QV_E_CANCELLED:
        return true;
    default:
        return false;
    }
}

static qv_vec_elem elem_of(qv_dtype t)
{
    switch (t) {
    case QV_DT_FLOAT16_VECTOR:
        return QV_ELEM_FLOAT16;
    case QV_DT_BFLOAT16_VECTOR:
        return QV_ELEM_BFLOAT16;
    case QV_DT_INT8_VECTOR:
        return QV_ELEM_INT8;
    case QV_DT_BINARY_VECTOR:
        return QV_ELEM_BINARY;
    default:
        return QV_ELEM_FLOAT32;
    }
}

/* The rows to index as the index's element type: float32 rows (converted
 * from half, bfloat16 and int8) or binary rows; NULL rows left out (their
 * labels are skipped).  *owned is freed by the caller. */
static qv_code vector_rows(const qv_col_view *v, const void **x,
                           int64_t **labels, size_t *n, void **owned,
                           qv_err *err)
{
    qv_vec_elem el = elem_of(v->type);
    size_t out_w = el == QV_ELEM_BINARY ? v->dim / 8 : (size_t)v->dim * 4;
    size_t nvalid = 0;
    for (size_t i = 0; i < v->rows; i++)
        nvalid += qv_col_is_valid(v, i);
    *owned = NULL;
    *labels = NULL;
    *n = nvalid;
    if (nvalid == v->rows && (el == QV_ELEM_FLOAT32 || el == QV_ELEM_BINARY)) {
        *x = v->data;
        return QV_OK;
    }
    uint8_t *buf = qv_try_alloc(nvalid ? nvalid : 1, out_w);
    int64_t *lab = nvalid == v->rows
                       ? NULL
                       : qv_try_alloc(nvalid ? nvalid : 1, sizeof(int64_t));
    if (!buf || (nvalid != v->rows && !lab)) {
        free(buf);
        free(lab);
        return qv_fail(err, QV_E_NOMEM, "cannot allocate %zu vectors", nvalid);
    }
    size_t j = 0;
    qv_code rc = QV_OK;
    for (size_t i = 0; i < v->rows && !rc; i++) {
        if (!qv_col_is_valid(v, i))
            continue;
        if (el == QV_ELEM_FLOAT32 || el == QV_ELEM_BINARY)
            memcpy(buf + j * out_w, qv_col_fixed(v, i), out_w);
        else
            rc = qv_vec_to_float(el, 1, v->dim, qv_col_fixed(v, i),
                                 (float *)(void *)(buf + j * out_w), err);
        if (lab)
            lab[j] = (int64_t)i;
        j++;
    }
    if (rc) {
        free(buf);
        free(lab);
        return rc;
    }
    *x = buf;
    *labels = lab;
    *owned = buf;
    return QV_OK;
}

static qv_code build_vector(const qv_index_spec *s, const qv_col_view *v,
                            uint32_t threads, qv_buf *out, qv_err *err)
{
    /* HNSW (and AUTOINDEX, which is HNSW) take the build thread count. */
    size_t np = s->nbuild;
    qv_kv *kv = qv_xcalloc(np + 1, sizeof *kv);
    if (np)
        memcpy(kv, s->build, np * sizeof *kv);
    char tbuf[16];
    if ((s->vtype == QV_INDEX_HNSW || s->vtype == QV_INDEX_AUTOINDEX) &&
        threads > 0 && !qv_index_spec_param(s, "num_build_thread")) {
        snprintf(tbuf, sizeof tbuf, "%u", threads > 1024 ? 1024u : threads);
        kv[np++] = (qv_kv){"num_build_thread", tbuf};
    }
    qv_params p = {kv, np};
    qv_index *ix = NULL;
    qv_code rc = qv_index_create(s->vtype, s->metric, v->dim, &p, &ix, err);
    free(kv);
    if (rc)
        return rc;
    const void *x = NULL;
    int64_t *labels = NULL;
    void *owned = NULL;
    size_t n = 0;
    rc = vector_rows(v, &x, &labels, &n, &owned, err);
    if (!rc && n > 0 && qv_index_needs_training(ix))
        rc = qv_index_train(ix, n, x, err);
    if (!rc && n > 0)
        rc = qv_index_add(ix, n, x, labels, err);
    if (!rc)
        rc = qv_index_serialize(ix, out, err);
    free(owned);
    free(labels);
    qv_index_free(ix);
    return rc;
}

static qv_code build_scalar(const qv_index_spec *s, const qv_col_view *v,
                            qv_buf *out, qv_err *err)
{
    qv_sindex *ix = NULL;
    qv_code rc = qv_sindex_build(s->stype, v, (const qv_sindex_param *)s->build,
                                 s->nbuild, &ix, err);
    if (!rc)
        rc = qv_sindex_encode(ix, out, err);
    qv_sindex_free(ix);
    return rc;
}

static qv_code check_request(const Quiver__Internal__BuildIndexRequest *rq,
                             qv_field_spec *fs, qv_err *err)
{
    if (!rq->build || !rq->segment || !rq->field || !rq->index)
        return qv_fail(err, QV_E_INVALID,
                       "build request needs build, segment, field and index");
    qv_code rc = qv_field_spec_from_schema(rq->field, fs, err);
    if (rc)
        return qv_err_prefix(err, "build %" PRId64, rq->build->build_id);
    return QV_OK;
}

/* Loads the column and checks it is the field's. */
static qv_code load_column(const Quiver__Internal__BuildIndexRequest *rq,
                           const qv_field_spec *fs, objstore *os, qv_buf *raw,
                           qv_column **col, qv_err *err)
{
    const Quiver__Internal__SegmentInfo *sg = rq->segment;
    char *key = qv_seglog_key(QV_SEGLOG_INSERT, sg->collection_id,
                              sg->partition_id, sg->id, fs->id, sg->log_id);
    qv_code rc = objstore_get(os, key, raw, err);
    if (!rc)
        rc = qv_column_load(raw->data, raw->len, 0, col, err);
    if (!rc && (qv_column_field_id(*col) != fs->id ||
                qv_column_view(*col).type != fs->type)) {
        rc = qv_fail(err, QV_E_CORRUPT,
                     "column file '%s' holds field %lld of type %s, not "
                     "field %lld (%s)",
                     key, (long long)qv_column_field_id(*col),
                     qv_dtype_name(qv_column_view(*col).type),
                     (long long)fs->id, qv_dtype_name(fs->type));
        qv_column_free(*col);
        *col = NULL;
    }
    if (rc)
        qv_err_prefix(err, "segment %lld field %lld", (long long)sg->id,
                      (long long)fs->id);
    free(key);
    return rc;
}

static qv_code spec_of(const Quiver__Internal__BuildIndexRequest *rq,
                       const qv_field_spec *fs, qv_index_spec *s, qv_err *err)
{
    const Quiver__Internal__IndexInfo *ii = rq->index;
    qv_kv *kv = qv_xcalloc(ii->n_params + 1, sizeof *kv);
    for (size_t i = 0; i < ii->n_params; i++)
        kv[i] = (qv_kv){ii->params[i]->key, ii->params[i]->value};
    qv_index_field f = {.name = fs->name,
                        .type = fs->type,
                        .elem_type = fs->elem_type,
                        .dim = fs->dim};
    qv_code rc = qv_index_spec_parse(kv, ii->n_params, &f, s, err);
    free(kv);
    return rc;
}

qv_code qv_ixbuild_run(const Quiver__Internal__BuildIndexRequest *rq,
                       objstore *os, uint32_t threads, qv_ixbuild_result *out,
                       qv_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    qv_field_spec fs;
    qv_code rc = check_request(rq, &fs, err);
    if (rc)
        return rc;
    qv_index_spec s;
    rc = spec_of(rq, &fs, &s, err);
    if (rc)
        return rc;
    qv_buf raw, img;
    qv_buf_init(&raw, 0);
    qv_buf_init(&img, 0);
    qv_column *col = NULL;
    rc = load_column(rq, &fs, os, &raw, &col, err);
    qv_col_view v = col ? qv_column_view(col) : (qv_col_view){0};
    if (!rc && s.is_vector && v.dim != fs.dim)
        rc = qv_fail(err, QV_E_CORRUPT,
                     "column of field %lld has dim %u, the schema says %u",
                     (long long)fs.id, v.dim, fs.dim);
    if (!rc)
        rc = s.is_vector ? build_vector(&s, &v, threads, &img, err)
                         : build_scalar(&s, &v, &img, err);
    char *key = qv_ixbuild_key(rq->build->build_id, rq->segment->id);
    if (!rc)
        rc = objstore_put(os, key, img.data, img.len, err);
    if (!rc) {
        out->key = key;
        out->bytes = img.len;
        out->rows = v.rows;
        out->build_ms = qv_mono_ms(qv_clock_system()) - t0;
    } else {
        free(key);
    }
    qv_column_free(col);
    qv_buf_release(&raw);
    qv_buf_release(&img);
    qv_index_spec_release(&s);
    return rc;
}
