/* growing.c -- growing segments (growing.h).
 *
 * Timestamps live in chunked arrays (QV_TS_CHUNK rows per chunk, a fixed
 * directory of chunk pointers), so they never move once written: readers
 * index them without locks while the writer appends.  Columns grow with
 * qv_column's retire-then-reclaim scheme; reclaim runs only when no reader
 * holds a pin (a try-lock, so the writer never waits for readers).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "querynode/growing.h"

#define QV_TS_CHUNK_BITS 16
#define QV_TS_CHUNK      ((size_t)1 << QV_TS_CHUNK_BITS)
#define QV_TS_CHUNKS     (QV_GROWING_MAX_ROWS / QV_TS_CHUNK)

struct qv_growing {
    int64_t id, partition;
    _Atomic(int) refs;
    size_t nfields;
    size_t pk_index;
    int64_t *field_ids;
    qv_column **cols;
    qv_pk_map *pks;
    /* per chunk: ins_ts[QV_TS_CHUNK] then hide_ts[QV_TS_CHUNK] */
    _Atomic(uint64_t *) *chunks;
    _Atomic(size_t) rows; /* published */
    _Atomic(bool) sealed;
    bool broken; /* an append failed midway: columns disagree (writer) */
    pthread_rwlock_t pin;
};

static void free_segment(qv_growing *g)
{
    for (size_t i = 0; i < g->nfields; i++)
        qv_column_free(g->cols[i]);
    for (size_t c = 0; c < QV_TS_CHUNKS; c++)
        free(atomic_load(&g->chunks[c]));
    free(g->chunks);
    free(g->cols);
    free(g->field_ids);
    qv_pk_map_free(g->pks);
    pthread_rwlock_destroy(&g->pin);
    free(g);
}

qv_code qv_growing_create(const qv_seg_schema *schema, int64_t segment_id,
                          int64_t partition_id, size_t expected_rows,
                          qv_growing **out, qv_err *err)
{
    qv_growing *g = QV_NEW(qv_growing);
    g->id = segment_id;
    g->partition = partition_id;
    atomic_init(&g->refs, 1);
    pthread_rwlock_init(&g->pin, NULL);
    g->chunks = QV_NEW_ARRAY(_Atomic(uint64_t *), QV_TS_CHUNKS);
    g->cols = QV_NEW_ARRAY(qv_column *, schema->nfields ? schema->nfields : 1);
    g->field_ids = QV_NEW_ARRAY(int64_t, schema->nfields ? schema->nfields : 1);
    qv_code rc = QV_OK;
    bool has_pk = false;
    qv_dtype pk_type = QV_DT_NONE;
    for (size_t i = 0; i < schema->nfields && !rc; i++) {
        const qv_field_spec *f = &schema->fields[i];
        rc = qv_column_create(f, &g->cols[i], err);
        if (rc)
            break;
        g->nfields++;
        g->field_ids[i] = f->id;
        if (f->id == schema->pk_field_id) {
            has_pk = true;
            g->pk_index = i;
            pk_type = f->type;
        }
        if (expected_rows && qv_column_reserve(g->cols[i], expected_rows, 0))
            rc = qv_fail(err, QV_E_NOMEM,
                         "segment %lld: cannot reserve %zu rows",
                         (long long)segment_id, expected_rows);
    }
    if (!rc &&
        (!has_pk || (pk_type != QV_DT_INT64 && pk_type != QV_DT_VARCHAR)))
        rc = qv_fail(err, QV_E_INVALID,
                     "segment %lld: primary key field %lld must be an "
                     "Int64 or VarChar field of the schema",
                     (long long)segment_id, (long long)schema->pk_field_id);
    if (!rc)
        rc = qv_pk_map_create(pk_type, &g->pks, err);
    if (rc) {
        free_segment(g);
        return rc;
    }
    *out = g;
    return QV_OK;
}

void qv_growing_ref(qv_growing *g)
{
    atomic_fetch_add(&g->refs, 1);
}

void qv_growing_unref(qv_growing *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        free_segment(g);
}

int64_t qv_growing_id(const qv_growing *g)
{
    return g->id;
}
int64_t qv_growing_partition(const qv_growing *g)
{
    return g->partition;
}
size_t qv_growing_rows(const qv_growing *g)
{
    return atomic_load_explicit(&g->rows, memory_order_acquire);
}
bool qv_growing_sealed(const qv_growing *g)
{
    return atomic_load(&g->sealed);
}
void qv_growing_seal(qv_growing *g)
{
    atomic_store(&g->sealed, true);
}

size_t qv_growing_memory_size(const qv_growing *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nfields; i++)
        n += qv_column_memory_size(g->cols[i]);
    size_t rows = qv_growing_rows(g);
    n += ((rows + QV_TS_CHUNK - 1) / QV_TS_CHUNK) * QV_TS_CHUNK * 16;
    return n;
}

/* ---- timestamps ------------------------------------------------------ */

static uint64_t *ts_slot(const qv_growing *g, size_t row)
{
    uint64_t *c = atomic_load_explicit(&g->chunks[row >> QV_TS_CHUNK_BITS],
                                       memory_order_acquire);
    return c + (row & (QV_TS_CHUNK - 1));
}

qv_ts qv_growing_row_ts(const qv_growing *g, size_t row)
{
    return __atomic_load_n(ts_slot(g, row), __ATOMIC_RELAXED);
}

qv_ts qv_growing_row_hide(const qv_growing *g, size_t row)
{
    return __atomic_load_n(ts_slot(g, row) + QV_TS_CHUNK, __ATOMIC_RELAXED);
}

void qv_growing_hide(qv_growing *g, size_t row, qv_ts ts)
{
    uint64_t *h = ts_slot(g, row) + QV_TS_CHUNK;
    if (ts < __atomic_load_n(h, __ATOMIC_RELAXED))
        __atomic_store_n(h, ts, __ATOMIC_RELAXED);
}

/* Makes sure chunks exist for rows [0, rows). */
static qv_code ts_reserve(qv_growing *g, size_t rows, qv_err *err)
{
    if (rows > QV_GROWING_MAX_ROWS)
        return qv_fail(err, QV_E_RANGE, "segment %lld: more than %zu rows",
                       (long long)g->id, QV_GROWING_MAX_ROWS);
    for (size_t c = 0; c * QV_TS_CHUNK < rows; c++) {
        if (atomic_load(&g->chunks[c]))
            continue;
        uint64_t *p = qv_try_alloc(2 * QV_TS_CHUNK, sizeof(uint64_t));
        if (!p)
            return qv_fail(err, QV_E_NOMEM,
                           "segment %lld: cannot grow timestamps",
                           (long long)g->id);
        atomic_store_explicit(&g->chunks[c], p, memory_order_release);
    }
    return QV_OK;
}

/* ---- writer ------------------------------------------------------------ */

/* Index of field fid in the message, or -1. */
static long msg_field(const qv_msg *m, int64_t fid)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->field_ids[i] == fid)
            return (long)i;
    return -1;
}

static qv_code check_fields(const qv_growing *g, const qv_msg *m, qv_err *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        size_t j = 0;
        while (j < g->nfields && g->field_ids[j] != m->field_ids[i])
            j++;
        if (j == g->nfields)
            return qv_fail(err, QV_E_INVALID,
                           "segment %lld: insert has field %lld that the "
                           "schema lacks",
                           (long long)g->id, (long long)m->field_ids[i]);
        const qv_field_spec *s = qv_column_spec(g->cols[j]);
        const qv_col_view *v = &m->cols[i];
        bool dim_ok = s->type == QV_DT_SPARSE_FLOAT_VECTOR || v->dim == s->dim;
        if (v->type != s->type ||
            (s->type == QV_DT_ARRAY && v->elem_type != s->elem_type) ||
            !dim_ok || (v->valid && !s->nullable))
            return qv_fail(err, QV_E_INVALID,
                           "segment %lld: insert field %lld is %s dim %u, "
                           "the schema says %s dim %u%s",
                           (long long)g->id, (long long)m->field_ids[i],
                           qv_dtype_name(v->type), v->dim,
                           qv_dtype_name(s->type), s->dim,
                           s->nullable ? "" : " (not nullable)");
    }
    if (msg_field(m, g->field_ids[g->pk_index]) < 0)
        return qv_fail(err, QV_E_INVALID,
                       "segment %lld: insert lacks the primary key",
                       (long long)g->id);
    return QV_OK;
}

qv_code qv_growing_insert(qv_growing *g, const qv_msg *m, size_t *first,
                          qv_err *err)
{
    if (g->broken)
        return qv_fail(err, QV_E_INTERNAL,
                       "segment %lld: an earlier insert failed midway; the "
                       "segment takes no more rows",
                       (long long)g->id);
    qv_code rc = check_fields(g, m, err);
    if (rc)
        return rc;
    size_t base = atomic_load(&g->rows);
    rc = ts_reserve(g, base + m->rows, err);
    for (size_t i = 0; i < g->nfields && !rc; i++) {
        long k = msg_field(m, g->field_ids[i]);
        if (k >= 0)
            rc = qv_column_append_view(g->cols[i], &m->cols[k], err);
        else if (qv_column_append_default(g->cols[i], m->rows))
            rc = qv_fail(err, QV_E_INVALID,
                         "segment %lld: insert lacks field %lld, which "
                         "has no default and is not nullable",
                         (long long)g->id, (long long)g->field_ids[i]);
    }
    if (rc) {
        /* An append failed midway: the columns may now disagree, so the
         * segment cannot take more rows consistently. */
        g->broken = true;
        qv_growing_seal(g);
        return rc;
    }
    for (size_t r = 0; r < m->rows; r++) {
        uint64_t *s = ts_slot(g, base + r);
        __atomic_store_n(s, m->ts, __ATOMIC_RELAXED);
        __atomic_store_n(s + QV_TS_CHUNK, QV_TS_MAX, __ATOMIC_RELAXED);
    }
    const qv_col_view *pkv = &m->cols[msg_field(m, g->field_ids[g->pk_index])];
    if (qv_pk_map_add_column(g->pks, pkv, (int64_t)base)) {
        g->broken = true;
        qv_growing_seal(g);
        return qv_fail(err, QV_E_NOMEM, "segment %lld: cannot index keys",
                       (long long)g->id);
    }
    for (size_t i = 0; i < g->nfields; i++)
        qv_column_publish(g->cols[i]);
    atomic_store_explicit(&g->rows, base + m->rows, memory_order_release);
    *first = base;
    return QV_OK;
}

size_t qv_growing_delete(qv_growing *g, const qv_pk *pk, qv_ts ts)
{
    qv_rows rows = {NULL, 0, 0};
    qv_pk_map_find(g->pks, pk, &rows);
    size_t hit = 0;
    for (size_t i = 0; i < rows.n; i++) {
        size_t r = (size_t)rows.v[i];
        if (qv_growing_row_ts(g, r) < ts) {
            if (qv_growing_row_hide(g, r) > ts)
                hit++;
            qv_growing_hide(g, r, ts);
        }
    }
    qv_rows_release(&rows);
    return hit;
}

size_t qv_growing_find(qv_growing *g, const qv_pk *pk, qv_rows *out)
{
    return qv_pk_map_find(g->pks, pk, out);
}

void qv_growing_reclaim(qv_growing *g)
{
    if (pthread_rwlock_trywrlock(&g->pin) != 0)
        return;
    for (size_t i = 0; i < g->nfields; i++)
        qv_column_reclaim(g->cols[i]);
    pthread_rwlock_unlock(&g->pin);
}

/* ---- readers ----------------------------------------------------------- */

static void ops_mask(const void *seg, qv_ts R, size_t rows, qv_bitset *ex)
{
    qv_growing_mask(seg, R, rows, ex);
}
static qv_ts ops_row_ts(const void *seg, size_t row)
{
    return qv_growing_row_ts(seg, row);
}
static qv_ts ops_row_hide(const void *seg, size_t row)
{
    return qv_growing_row_hide(seg, row);
}
static void ops_release(void *seg, qv_seg_snap *snap)
{
    qv_growing_unpin(seg, snap);
    qv_growing_unref(seg);
}
static const qv_seg_ops growing_ops = {ops_mask, ops_row_ts, ops_row_hide,
                                       ops_release};

void qv_growing_pin(qv_growing *g, qv_seg_snap *snap)
{
    pthread_rwlock_rdlock(&g->pin);
    memset(snap, 0, sizeof *snap);
    snap->ops = &growing_ops;
    snap->seg = g;
    snap->segment_id = g->id;
    snap->partition_id = g->partition;
    snap->rows = qv_growing_rows(g);
    snap->nfields = g->nfields;
    snap->field_ids = g->field_ids;
    snap->pk_index = g->pk_index;
    snap->cols = QV_NEW_ARRAY(qv_col_view, g->nfields ? g->nfields : 1);
    for (size_t i = 0; i < g->nfields; i++)
        snap->cols[i] = qv_column_view(g->cols[i]);
}

void qv_growing_unpin(qv_growing *g, qv_seg_snap *snap)
{
    free(snap->cols);
    snap->cols = NULL;
    pthread_rwlock_unlock(&g->pin);
}

void qv_growing_mask(const qv_growing *g, qv_ts R, size_t rows,
                     qv_bitset *exclude)
{
    qv_bitset_clear_all(exclude);
    for (size_t c = 0; c * QV_TS_CHUNK < rows; c++) {
        const uint64_t *p =
            atomic_load_explicit(&g->chunks[c], memory_order_acquire);
        size_t base = c * QV_TS_CHUNK;
        size_t n = rows - base < QV_TS_CHUNK ? rows - base : QV_TS_CHUNK;
        for (size_t i = 0; i < n; i++) {
            uint64_t ins = __atomic_load_n(&p[i], __ATOMIC_RELAXED);
            uint64_t hide =
                __atomic_load_n(&p[QV_TS_CHUNK + i], __ATOMIC_RELAXED);
            if (ins > R || hide <= R)
                qv_bitset_set(exclude, base + i);
        }
    }
}
