/* sealed.c -- loading flushed segments from the object store (sealed.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/seglog.h"
#include "querynode/sealed.h"

struct qv_sealed {
    _Atomic(int) refs;
    int64_t id, partition;
    size_t rows;
    size_t nfields;
    size_t pk_index;
    int64_t *field_ids;
    qv_column **cols;
    qv_col_view *views;
    qv_column *ts_col;
    const int64_t *ins;
    uint64_t *hide;
    qv_pk_map *pks;
    qv_pk_stats stats;
    bool has_stats;
    qv_buf *bufs; /* objects held in memory (columns borrow them) */
    size_t nbufs;
    bool mapped;
    qv_ts max_ins;              /* newest insert timestamp */
    _Atomic(uint64_t) min_hide; /* oldest hide timestamp */
    /* rows hidden so far, in the order they were first hidden (one
     * writer appends, readers read the published prefix) */
    uint32_t *hidden;
    _Atomic(size_t) nhidden;
    pthread_mutex_t attach_mu; /* guards attach */
    qv_sealed_attach *attach;
};

static void sealed_free(qv_sealed *s)
{
    for (size_t i = 0; i < s->nfields; i++)
        qv_column_free(s->cols[i]);
    qv_column_free(s->ts_col);
    for (size_t i = 0; i < s->nbufs; i++)
        qv_buf_release(&s->bufs[i]);
    free(s->bufs);
    free(s->cols);
    free(s->views);
    free(s->field_ids);
    free(s->hide);
    qv_pk_map_free(s->pks);
    if (s->has_stats)
        qv_pk_stats_release(&s->stats);
    free(s->hidden);
    qv_sealed_attach_unref(s->attach);
    pthread_mutex_destroy(&s->attach_mu);
    free(s);
}

void qv_sealed_ref(qv_sealed *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void qv_sealed_unref(qv_sealed *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        sealed_free(s);
}

size_t qv_sealed_rows(const qv_sealed *s)
{
    return s->rows;
}

/* Fetches key into a held buffer; *bytes points at it. */
static qv_code fetch(qv_sealed *s, objstore *os, const char *key,
                     const void **bytes, size_t *len, qv_err *err)
{
    s->bufs = qv_xrealloc(s->bufs, (s->nbufs + 1) * sizeof *s->bufs);
    qv_buf *b = &s->bufs[s->nbufs++];
    qv_buf_init(b, QV_BUF_DEFAULT_CAP);
    qv_code rc = objstore_get(os, key, b, err);
    *bytes = b->data ? (const void *)b->data : (const void *)"";
    *len = b->len;
    return rc;
}

/* One column file: mapped from the cache, or loaded from memory. */
static qv_code load_column(qv_sealed *s, const qv_sealed_source *src,
                           int64_t field, qv_column **out, qv_err *err)
{
    char *key =
        qv_seglog_key(QV_SEGLOG_INSERT, src->collection_id, src->partition_id,
                      src->segment_id, field, src->log_id);
    qv_code rc;
    if (src->cache_dir) {
        char *path = qv_xasprintf("%s/%lld_%lld_%lld", src->cache_dir,
                                  (long long)src->segment_id, (long long)field,
                                  (long long)src->log_id);
        rc = objstore_get_file(src->os, key, path, NULL, err);
        if (!rc)
            rc = qv_column_open_file(path, 0, out, err);
        free(path);
    } else {
        const void *p;
        size_t n;
        rc = fetch(s, src->os, key, &p, &n, err);
        if (!rc)
            rc = qv_column_load(p, n, 0, out, err);
    }
    free(key);
    return rc;
}

static qv_code check_col(const qv_sealed *s, const qv_field_spec *f,
                         const qv_col_view *v, qv_err *err)
{
    bool dim_ok = f->type == QV_DT_SPARSE_FLOAT_VECTOR || v->dim == f->dim;
    if (v->type != f->type || !dim_ok || v->rows != s->rows ||
        (f->type == QV_DT_ARRAY && v->elem_type != f->elem_type) ||
        (v->valid && !f->nullable))
        return qv_fail(err, QV_E_CORRUPT,
                       "segment %lld: column of field '%s' is %s dim %u "
                       "with %zu rows, expected %s dim %u with %zu rows",
                       (long long)s->id, f->name, qv_dtype_name(v->type),
                       v->dim, v->rows, qv_dtype_name(f->type), f->dim,
                       s->rows);
    return QV_OK;
}

static void hide(qv_sealed *s, size_t r, qv_ts ts)
{
    uint64_t old = __atomic_load_n(&s->hide[r], __ATOMIC_RELAXED);
    if (ts >= old)
        return;
    __atomic_store_n(&s->hide[r], ts, __ATOMIC_RELAXED);
    if (ts < atomic_load_explicit(&s->min_hide, memory_order_relaxed))
        atomic_store_explicit(&s->min_hide, ts, memory_order_relaxed);
    if (old == QV_TS_MAX) {
        size_t n = atomic_load_explicit(&s->nhidden, memory_order_relaxed);
        s->hidden[n] = (uint32_t)r;
        atomic_store_explicit(&s->nhidden, n + 1, memory_order_release);
    }
}

/* Newest version of each PK wins inside the segment. */
static qv_code resolve_versions(qv_sealed *s, qv_err *err)
{
    const qv_col_view *pkv = &s->views[s->pk_index];
    qv_code rc = qv_pk_map_create(pkv->type, &s->pks, err);
    if (rc)
        return rc;
    if (qv_pk_map_add_column(s->pks, pkv, 0))
        return qv_fail(err, QV_E_NOMEM, "segment %lld: cannot index keys",
                       (long long)s->id);
    if (qv_pk_map_size(s->pks) == s->rows)
        return QV_OK; /* no duplicates */
    qv_rows rows = {NULL, 0, 0};
    for (size_t r = 0; r < s->rows; r++) {
        qv_pk pk = qv_pk_of_row(pkv, r);
        rows.n = 0;
        qv_pk_map_find(s->pks, &pk, &rows);
        for (size_t j = 0; j < rows.n && (size_t)rows.v[j] < r; j++) {
            size_t q = (size_t)rows.v[j];
            if ((qv_ts)s->ins[q] <= (qv_ts)s->ins[r])
                hide(s, q, (qv_ts)s->ins[r]);
            else
                hide(s, r, (qv_ts)s->ins[q]);
        }
    }
    qv_rows_release(&rows);
    return QV_OK;
}

size_t qv_sealed_delete(qv_sealed *s, const qv_pk *pk, qv_ts ts)
{
    qv_rows rows = {NULL, 0, 0};
    qv_pk_map_find(s->pks, pk, &rows);
    size_t hit = 0;
    for (size_t i = 0; i < rows.n; i++) {
        size_t r = (size_t)rows.v[i];
        if ((qv_ts)s->ins[r] < ts) {
            hit += __atomic_load_n(&s->hide[r], __ATOMIC_RELAXED) > ts;
            hide(s, r, ts);
        }
    }
    qv_rows_release(&rows);
    return hit;
}

size_t qv_sealed_apply_delta(qv_sealed *s, const qv_delta *d)
{
    size_t n = 0;
    if (d->pks.type != s->views[s->pk_index].type)
        return 0;
    for (size_t i = 0; i < d->n; i++) {
        qv_pk pk = qv_pk_of_row(&d->pks, i);
        if (qv_sealed_may_contain(s, &pk))
            n += qv_sealed_delete(s, &pk, (qv_ts)qv_col_i64(&d->ts, i));
    }
    return n;
}

static qv_code load_deltas(qv_sealed *s, const qv_sealed_source *src,
                           qv_err *err)
{
    char *key =
        qv_seglog_key(QV_SEGLOG_DELTA, src->collection_id, src->partition_id,
                      src->segment_id, 0, src->log_id);
    const void *p;
    size_t n;
    qv_code rc = fetch(s, src->os, key, &p, &n, err);
    free(key);
    if (qv_code_primary(rc) == QV_E_NOT_FOUND)
        return QV_OK; /* no deletes */
    qv_delta d;
    if (!rc)
        rc = qv_delta_decode(p, n, &d, err);
    if (rc)
        return rc;
    if (d.pks.type != s->views[s->pk_index].type)
        rc = qv_fail(err, QV_E_CORRUPT, "segment %lld: delete log keys are %s",
                     (long long)s->id, qv_dtype_name(d.pks.type));
    for (size_t i = 0; !rc && i < d.n; i++) {
        qv_pk pk = qv_pk_of_row(&d.pks, i);
        qv_sealed_delete(s, &pk, (qv_ts)qv_col_i64(&d.ts, i));
    }
    qv_delta_release(&d);
    return rc;
}

static qv_code load_stats(qv_sealed *s, const qv_sealed_source *src,
                          int64_t pk_field, qv_err *err)
{
    char *key =
        qv_seglog_key(QV_SEGLOG_STATS, src->collection_id, src->partition_id,
                      src->segment_id, pk_field, src->log_id);
    const void *p;
    size_t n;
    qv_code rc = fetch(s, src->os, key, &p, &n, err);
    free(key);
    if (!rc)
        rc = qv_pk_stats_decode(p, n, &s->stats, err);
    if (!rc)
        s->has_stats = true;
    return rc;
}

static qv_code load_all(qv_sealed *s, const qv_sealed_source *src,
                        const qv_seg_schema *schema, qv_err *err)
{
    qv_code rc = load_column(s, src, QV_FIELD_TIMESTAMP, &s->ts_col, err);
    if (rc)
        return rc;
    qv_col_view tv = qv_column_view(s->ts_col);
    if (tv.type != QV_DT_INT64 || tv.valid)
        return qv_fail(err, QV_E_CORRUPT,
                       "segment %lld: timestamp column is not Int64",
                       (long long)s->id);
    s->rows = tv.rows;
    if (s->rows > UINT32_MAX)
        return qv_fail(err, QV_E_CORRUPT, "segment %lld: %zu rows",
                       (long long)s->id, s->rows);
    s->ins = (const int64_t *)(const void *)tv.data;
    for (size_t r = 0; r < s->rows; r++)
        if ((qv_ts)s->ins[r] > s->max_ins)
            s->max_ins = (qv_ts)s->ins[r];
    for (size_t i = 0; i < schema->nfields && !rc; i++) {
        const qv_field_spec *f = &schema->fields[i];
        rc = load_column(s, src, f->id, &s->cols[i], err);
        if (rc)
            break;
        s->nfields++;
        s->field_ids[i] = f->id;
        s->views[i] = qv_column_view(s->cols[i]);
        rc = check_col(s, f, &s->views[i], err);
        if (f->id == schema->pk_field_id)
            s->pk_index = i;
    }
    if (rc)
        return rc;
    s->hide = qv_try_alloc(s->rows ? s->rows : 1, sizeof(uint64_t));
    s->hidden = qv_try_alloc(s->rows ? s->rows : 1, sizeof(uint32_t));
    if (!s->hide || !s->hidden)
        return qv_fail(err, QV_E_NOMEM, "segment %lld: %zu rows",
                       (long long)s->id, s->rows);
    for (size_t r = 0; r < s->rows; r++)
        s->hide[r] = QV_TS_MAX;
    rc = resolve_versions(s, err);
    if (!rc)
        rc = load_deltas(s, src, err);
    if (!rc)
        rc = load_stats(s, src, schema->pk_field_id, err);
    return rc;
}

qv_code qv_sealed_load(const qv_sealed_source *src, const qv_seg_schema *schema,
                       qv_sealed **out, qv_err *err)
{
    qv_sealed *s = QV_NEW(qv_sealed);
    atomic_init(&s->refs, 1);
    atomic_init(&s->min_hide, QV_TS_MAX);
    atomic_init(&s->nhidden, 0);
    pthread_mutex_init(&s->attach_mu, NULL);
    s->mapped = src->cache_dir != NULL;
    s->id = src->segment_id;
    s->partition = src->partition_id;
    size_t nf = schema->nfields ? schema->nfields : 1;
    s->cols = QV_NEW_ARRAY(qv_column *, nf);
    s->views = QV_NEW_ARRAY(qv_col_view, nf);
    s->field_ids = QV_NEW_ARRAY(int64_t, nf);
    qv_code rc = load_all(s, src, schema, err);
    if (rc) {
        sealed_free(s);
        return rc;
    }
    *out = s;
    return QV_OK;
}

int64_t qv_sealed_id(const qv_sealed *s)
{
    return s->id;
}
int64_t qv_sealed_partition(const qv_sealed *s)
{
    return s->partition;
}
qv_ts qv_sealed_row_ts(const qv_sealed *s, size_t row)
{
    return (qv_ts)s->ins[row];
}
qv_ts qv_sealed_row_hide(const qv_sealed *s, size_t row)
{
    return __atomic_load_n(&s->hide[row], __ATOMIC_RELAXED);
}
void qv_sealed_hide(qv_sealed *s, size_t row, qv_ts ts)
{
    hide(s, row, ts);
}
size_t qv_sealed_find(const qv_sealed *s, const qv_pk *pk, qv_rows *out)
{
    return qv_pk_map_find(s->pks, pk, out);
}
qv_pk qv_sealed_pk(const qv_sealed *s, size_t row)
{
    return qv_pk_of_row(&s->views[s->pk_index], row);
}

bool qv_sealed_may_contain(const qv_sealed *s, const qv_pk *pk)
{
    return !s->has_stats || qv_pk_stats_may_contain(&s->stats, pk);
}

/* ---- reader ops ---------------------------------------------------------- */

static void ops_mask(const void *seg, qv_ts R, size_t rows, qv_bitset *ex)
{
    const qv_sealed *s = seg;
    qv_bitset_clear_all(ex);
    if (R >= s->max_ins) { /* only hidden rows can be excluded */
        size_t n = atomic_load_explicit(&((qv_sealed *)s)->nhidden,
                                        memory_order_acquire);
        for (size_t i = 0; i < n; i++) {
            size_t r = s->hidden[i];
            if (r < rows && __atomic_load_n(&s->hide[r], __ATOMIC_RELAXED) <= R)
                qv_bitset_set(ex, r);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++)
        if ((qv_ts)s->ins[r] > R ||
            __atomic_load_n(&s->hide[r], __ATOMIC_RELAXED) <= R)
            qv_bitset_set(ex, r);
}
static qv_ts ops_row_ts(const void *seg, size_t row)
{
    return (qv_ts)((const qv_sealed *)seg)->ins[row];
}
static qv_ts ops_row_hide(const void *seg, size_t row)
{
    return __atomic_load_n(&((const qv_sealed *)seg)->hide[row],
                           __ATOMIC_RELAXED);
}
static void ops_release(void *seg, qv_seg_snap *snap)
{
    free(snap->cols);
    snap->cols = NULL;
    qv_sealed_attach_unref(snap->attach);
    snap->attach = NULL;
    qv_sealed_unref(seg);
}
static const qv_seg_ops sealed_ops = {ops_mask, ops_row_ts, ops_row_hide,
                                      ops_release};

void qv_sealed_snap(qv_sealed *s, qv_seg_snap *snap)
{
    qv_sealed_ref(s);
    memset(snap, 0, sizeof *snap);
    snap->ops = &sealed_ops;
    snap->seg = s;
    snap->segment_id = s->id;
    snap->partition_id = s->partition;
    snap->rows = s->rows;
    snap->nfields = s->nfields;
    snap->field_ids = s->field_ids;
    snap->pk_index = s->pk_index;
    snap->cols = QV_NEW_ARRAY(qv_col_view, s->nfields ? s->nfields : 1);
    memcpy(snap->cols, s->views, s->nfields * sizeof *s->views);
    snap->attach = qv_sealed_attach_get(s);
}

bool qv_sealed_all_visible(const qv_sealed *s, qv_ts R)
{
    return R >= s->max_ins && atomic_load_explicit(&((qv_sealed *)s)->min_hide,
                                                   memory_order_relaxed) > R;
}

bool qv_sealed_mapped(const qv_sealed *s)
{
    return s->mapped;
}

/* ---- attachments --------------------------------------------------------- */

void qv_sealed_attach_ref(qv_sealed_attach *a)
{
    atomic_fetch_add(&a->refs, 1);
}

void qv_sealed_attach_unref(qv_sealed_attach *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1)
        a->destroy(a);
}

void qv_sealed_attach_set(qv_sealed *s, qv_sealed_attach *a)
{
    pthread_mutex_lock(&s->attach_mu);
    qv_sealed_attach *old = s->attach;
    s->attach = a;
    pthread_mutex_unlock(&s->attach_mu);
    qv_sealed_attach_unref(old);
}

qv_sealed_attach *qv_sealed_attach_get(qv_sealed *s)
{
    pthread_mutex_lock(&s->attach_mu);
    qv_sealed_attach *a = s->attach;
    if (a)
        qv_sealed_attach_ref(a);
    pthread_mutex_unlock(&s->attach_mu);
    return a;
}
