/* shard.c -- applying log messages to a shard's segments (shard.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "querynode/shard.h"

/* Explicit deletes newer than tsafe. */
typedef struct del_buf {
    size_t n, cap;
    qv_pk *keys; /* VarChar bytes owned (strs) */
    char **strs;
    qv_ts *ts;
    int64_t *part;
    qv_pk_map *map; /* key -> entry indexes */
} del_buf;

struct qv_shard {
    int64_t collection_id;
    char *vchannel;
    qv_seg_schema schema;
    qv_field_spec *fields; /* owned copy */
    size_t expected_rows;
    qv_dtype pk_type;

    pthread_mutex_t mu; /* guards the segment lists against readers */
    qv_growing **segs;
    size_t nsegs, cap;
    qv_sealed **sealed;
    size_t nsealed, cap_sealed;

    del_buf del;
    qv_rows scratch;
    qv_shard_stats st;
};

static void copy_schema(qv_shard *s, const qv_seg_schema *in)
{
    size_t n = in->nfields;
    s->fields = QV_NEW_ARRAY(qv_field_spec, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        qv_field_spec f = in->fields[i];
        f.name = qv_xstrdup(f.name ? f.name : "");
        if (f.has_default && f.default_value.kind == QV_VAL_STR)
            f.default_value.u.s.ptr =
                qv_xstrndup(f.default_value.u.s.ptr, f.default_value.u.s.len);
        s->fields[i] = f;
        if (f.id == in->pk_field_id)
            s->pk_type = f.type;
    }
    s->schema.fields = s->fields;
    s->schema.nfields = n;
    s->schema.pk_field_id = in->pk_field_id;
}

static void del_clear(del_buf *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->strs[i]);
    d->n = 0;
    qv_pk_map_free(d->map);
    d->map = NULL;
}

qv_code qv_shard_create(const qv_shard_config *cfg, qv_shard **out, qv_err *err)
{
    qv_shard *s = QV_NEW(qv_shard);
    s->collection_id = cfg->collection_id;
    s->vchannel = qv_xstrdup(cfg->vchannel ? cfg->vchannel : "");
    s->expected_rows = cfg->expected_rows;
    pthread_mutex_init(&s->mu, NULL);
    copy_schema(s, &cfg->schema);
    if (s->pk_type != QV_DT_INT64 && s->pk_type != QV_DT_VARCHAR) {
        qv_shard_free(s);
        return qv_fail(err, QV_E_INVALID,
                       "shard '%s': primary key field %lld must be Int64 "
                       "or VarChar",
                       cfg->vchannel ? cfg->vchannel : "",
                       (long long)cfg->schema.pk_field_id);
    }
    *out = s;
    return QV_OK;
}

void qv_shard_free(qv_shard *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsegs; i++)
        qv_growing_unref(s->segs[i]);
    free(s->segs);
    for (size_t i = 0; i < s->nsealed; i++)
        qv_sealed_unref(s->sealed[i]);
    free(s->sealed);
    del_clear(&s->del);
    free(s->del.keys);
    free(s->del.strs);
    free(s->del.ts);
    free(s->del.part);
    qv_rows_release(&s->scratch);
    for (size_t i = 0; i < s->schema.nfields; i++) {
        free((char *)s->fields[i].name);
        if (s->fields[i].has_default &&
            s->fields[i].default_value.kind == QV_VAL_STR)
            free((char *)s->fields[i].default_value.u.s.ptr);
    }
    free(s->fields);
    free(s->vchannel);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const qv_seg_schema *qv_shard_schema(const qv_shard *s)
{
    return &s->schema;
}

static qv_sealed *find_sealed(qv_shard *s, int64_t id)
{
    for (size_t i = 0; i < s->nsealed; i++)
        if (qv_sealed_id(s->sealed[i]) == id)
            return s->sealed[i];
    return NULL;
}

static qv_growing *find_seg(qv_shard *s, int64_t id)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (qv_growing_id(s->segs[i]) == id)
            return s->segs[i];
    return NULL;
}

static qv_code open_seg(qv_shard *s, int64_t id, int64_t part, qv_growing **out,
                        qv_err *err)
{
    qv_growing *g = find_seg(s, id);
    if (g) {
        *out = g;
        return QV_OK;
    }
    qv_code rc =
        qv_growing_create(&s->schema, id, part, s->expected_rows, &g, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    if (s->nsegs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->segs = qv_xrealloc(s->segs, s->cap * sizeof(qv_growing *));
    }
    s->segs[s->nsegs++] = g;
    pthread_mutex_unlock(&s->mu);
    *out = g;
    return QV_OK;
}

/* Removes segments matching part (or all when all is set). */
static void drop_segs(qv_shard *s, bool all, int64_t part)
{
    pthread_mutex_lock(&s->mu);
    size_t k = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        if (all || qv_growing_partition(s->segs[i]) == part)
            qv_growing_unref(s->segs[i]);
        else
            s->segs[k++] = s->segs[i];
    }
    s->nsegs = k;
    k = 0;
    for (size_t i = 0; i < s->nsealed; i++) {
        if (all || qv_sealed_partition(s->sealed[i]) == part)
            qv_sealed_unref(s->sealed[i]);
        else
            s->sealed[k++] = s->sealed[i];
    }
    s->nsealed = k;
    pthread_mutex_unlock(&s->mu);
}

/* ---- inserts ------------------------------------------------------------ */

/* Hides the older of row (g, row, t) and every other version of pk. */
static void resolve_versions(qv_shard *s, qv_growing *g, size_t row, qv_ts t,
                             const qv_pk *pk)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        qv_growing *o = s->segs[i];
        s->scratch.n = 0;
        qv_growing_find(o, pk, &s->scratch);
        for (size_t j = 0; j < s->scratch.n; j++) {
            size_t q = (size_t)s->scratch.v[j];
            if (o == g && q >= row)
                continue; /* itself, or later in the log */
            qv_ts tq = qv_growing_row_ts(o, q);
            if (tq <= t)
                qv_growing_hide(o, q, t);
            else
                qv_growing_hide(g, row, tq);
        }
    }
    for (size_t i = 0; i < s->nsealed; i++) {
        qv_sealed *x = s->sealed[i];
        if (!qv_sealed_may_contain(x, pk))
            continue;
        s->scratch.n = 0;
        qv_sealed_find(x, pk, &s->scratch);
        for (size_t j = 0; j < s->scratch.n; j++) {
            size_t q = (size_t)s->scratch.v[j];
            qv_ts tq = qv_sealed_row_ts(x, q);
            if (tq <= t)
                qv_sealed_hide(x, q, t);
            else
                qv_growing_hide(g, row, tq);
        }
    }
    if (s->del.n == 0)
        return;
    s->scratch.n = 0;
    qv_pk_map_find(s->del.map, pk, &s->scratch);
    for (size_t j = 0; j < s->scratch.n; j++) {
        size_t e = (size_t)s->scratch.v[j];
        if (s->del.ts[e] > t && (s->del.part[e] == QV_PARTITION_ALL ||
                                 s->del.part[e] == qv_growing_partition(g)))
            qv_growing_hide(g, row, s->del.ts[e]);
    }
}

static qv_code apply_insert(qv_shard *s, const qv_msg *m, qv_err *err)
{
    if (m->pk_field_id != s->schema.pk_field_id)
        return qv_fail(err, QV_E_INVALID,
                       "shard '%s': insert names primary key field %lld, "
                       "the schema %lld",
                       s->vchannel, (long long)m->pk_field_id,
                       (long long)s->schema.pk_field_id);
    if (find_sealed(s, m->segment_id)) {
        /* the sealed copy holds these rows already (a consumer that
         * replays the log from a checkpoint inside the segment) */
        s->st.sealed_skipped += m->rows;
        return QV_OK;
    }
    qv_growing *g;
    qv_code rc = open_seg(s, m->segment_id, m->partition_id, &g, err);
    if (rc)
        return rc;
    if (qv_growing_partition(g) != m->partition_id)
        return qv_fail(err, QV_E_INVALID,
                       "shard '%s': segment %lld belongs to partition %lld, "
                       "insert says %lld",
                       s->vchannel, (long long)m->segment_id,
                       (long long)qv_growing_partition(g),
                       (long long)m->partition_id);
    if (qv_growing_sealed(g))
        s->st.late_inserts += m->rows;
    size_t first;
    rc = qv_growing_insert(g, m, &first, err);
    if (rc)
        return rc;
    const qv_col_view *pkv = NULL;
    for (size_t i = 0; i < m->nfields; i++)
        if (m->field_ids[i] == m->pk_field_id)
            pkv = &m->cols[i];
    for (size_t r = 0; r < m->rows; r++) {
        qv_pk pk = qv_pk_of_row(pkv, r);
        resolve_versions(s, g, first + r, m->ts, &pk);
    }
    s->st.inserts++;
    s->st.rows += m->rows;
    return QV_OK;
}

/* ---- deletes ------------------------------------------------------------- */

static void del_push(del_buf *d, const qv_pk *pk, qv_ts ts, int64_t part)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->keys = qv_xrealloc(d->keys, d->cap * sizeof *d->keys);
        d->strs = qv_xrealloc(d->strs, d->cap * sizeof *d->strs);
        d->ts = qv_xrealloc(d->ts, d->cap * sizeof *d->ts);
        d->part = qv_xrealloc(d->part, d->cap * sizeof *d->part);
    }
    qv_pk k = *pk;
    d->strs[d->n] = NULL;
    if (k.type == QV_DT_VARCHAR) {
        d->strs[d->n] = qv_xstrndup(k.s ? k.s : "", k.len);
        k.s = d->strs[d->n];
    }
    d->keys[d->n] = k;
    d->ts[d->n] = ts;
    d->part[d->n] = part;
    /* qv_pk_map copies what it keeps; allocation failure aborts there */
    if (qv_pk_map_add(d->map, &k, (int64_t)d->n))
        QV_ASSERT(!"delete buffer: cannot index key");
    d->n++;
}

static qv_code apply_delete(qv_shard *s, const qv_msg *m, qv_err *err)
{
    const qv_col_view *kv = &m->cols[0];
    if (kv->type != s->pk_type || m->pk_field_id != s->schema.pk_field_id)
        return qv_fail(err, QV_E_INVALID,
                       "shard '%s': delete keys are %s field %lld, the "
                       "primary key is %s field %lld",
                       s->vchannel, qv_dtype_name(kv->type),
                       (long long)m->pk_field_id, qv_dtype_name(s->pk_type),
                       (long long)s->schema.pk_field_id);
    if (!s->del.map) {
        qv_code rc = qv_pk_map_create(s->pk_type, &s->del.map, err);
        if (rc)
            return rc;
    }
    for (size_t r = 0; r < m->rows; r++) {
        qv_pk pk = qv_pk_of_row(kv, r);
        for (size_t i = 0; i < s->nsegs; i++) {
            qv_growing *g = s->segs[i];
            if (m->partition_id == QV_PARTITION_ALL ||
                qv_growing_partition(g) == m->partition_id)
                s->st.deleted_rows += qv_growing_delete(g, &pk, m->ts);
        }
        for (size_t i = 0; i < s->nsealed; i++) {
            qv_sealed *x = s->sealed[i];
            if ((m->partition_id == QV_PARTITION_ALL ||
                 qv_sealed_partition(x) == m->partition_id) &&
                qv_sealed_may_contain(x, &pk))
                s->st.deleted_rows += qv_sealed_delete(x, &pk, m->ts);
        }
        del_push(&s->del, &pk, m->ts, m->partition_id);
    }
    s->st.deletes++;
    return QV_OK;
}

void qv_shard_trim(qv_shard *s, qv_ts t)
{
    del_buf *d = &s->del;
    size_t keep = 0;
    for (size_t i = 0; i < d->n; i++)
        keep += d->ts[i] > t;
    if (keep < d->n) {
        del_buf old = *d;
        d->keys = QV_NEW_ARRAY(qv_pk, old.cap ? old.cap : 1);
        d->strs = QV_NEW_ARRAY(char *, old.cap ? old.cap : 1);
        d->ts = QV_NEW_ARRAY(qv_ts, old.cap ? old.cap : 1);
        d->part = QV_NEW_ARRAY(int64_t, old.cap ? old.cap : 1);
        d->n = 0;
        d->map = NULL;
        if (keep && qv_pk_map_create(s->pk_type, &d->map, NULL))
            QV_ASSERT(!"delete buffer: cannot create map");
        for (size_t i = 0; i < old.n; i++)
            if (old.ts[i] > t)
                del_push(d, &old.keys[i], old.ts[i], old.part[i]);
        del_clear(&old);
        free(old.keys);
        free(old.strs);
        free(old.ts);
        free(old.part);
    }
    for (size_t i = 0; i < s->nsegs; i++)
        qv_growing_reclaim(s->segs[i]);
}

/* ---- dispatch ------------------------------------------------------------ */

static void seal(qv_shard *s, int64_t id)
{
    qv_growing *g = find_seg(s, id);
    if (g)
        qv_growing_seal(g);
}

qv_code qv_shard_apply(qv_shard *s, const qv_msg *m, qv_err *err)
{
    bool pchannel_tick = m->type == QV_MSG_TIME_TICK && !m->vchannel[0];
    if (!pchannel_tick && (m->collection_id != s->collection_id ||
                           strcmp(m->vchannel, s->vchannel) != 0))
        return qv_fail(err, QV_E_INVALID,
                       "shard '%s': %s message for vchannel '%s' of "
                       "collection %lld",
                       s->vchannel, qv_msg_type_name(m->type), m->vchannel,
                       (long long)m->collection_id);
    qv_growing *g;
    switch (m->type) {
    case QV_MSG_INSERT:
        return apply_insert(s, m, err);
    case QV_MSG_DELETE:
        return apply_delete(s, m, err);
    case QV_MSG_SEGMENT_OPEN:
        return open_seg(s, m->segment_id, m->partition_id, &g, err);
    case QV_MSG_SEGMENT_SEAL:
        seal(s, m->segment_id);
        return QV_OK;
    case QV_MSG_FLUSH:
        for (size_t i = 0; i < m->nsegments; i++)
            seal(s, m->segments[i]);
        return QV_OK;
    case QV_MSG_DROP_PARTITION:
        drop_segs(s, false, m->partition_id);
        return QV_OK;
    case QV_MSG_DROP_COLLECTION:
        drop_segs(s, true, 0);
        return QV_OK;
    case QV_MSG_TIME_TICK:
        return QV_OK;
    }
    return qv_fail(err, QV_E_INVALID, "shard '%s': unknown message type %d",
                   s->vchannel, (int)m->type);
}

void qv_shard_stats_get(qv_shard *s, qv_shard_stats *out)
{
    *out = s->st;
    out->segments = s->nsegs;
    out->sealed = s->nsealed;
    out->delete_buffer = s->del.n;
}

/* ---- readers ------------------------------------------------------------- */

void qv_shard_acquire(qv_shard *s, qv_shard_snap *out)
{
    pthread_mutex_lock(&s->mu);
    out->schema = &s->schema;
    size_t ng = s->nsegs, n = s->nsegs + s->nsealed;
    qv_growing **segs = QV_NEW_ARRAY(qv_growing *, ng ? ng : 1);
    for (size_t i = 0; i < ng; i++) {
        segs[i] = s->segs[i];
        qv_growing_ref(s->segs[i]);
    }
    out->n = n;
    out->snaps = QV_NEW_ARRAY(qv_seg_snap, n ? n : 1);
    /* sealed snaps take their reference under the lock */
    for (size_t i = 0; i < s->nsealed; i++)
        qv_sealed_snap(s->sealed[i], &out->snaps[ng + i]);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < ng; i++)
        qv_growing_pin(segs[i], &out->snaps[i]);
    free(segs);
}

void qv_shard_snap_release(qv_shard_snap *snap)
{
    for (size_t i = 0; i < snap->n; i++)
        snap->snaps[i].ops->release(snap->snaps[i].seg, &snap->snaps[i]);
    free(snap->snaps);
    memset(snap, 0, sizeof *snap);
}

/* ---- sealed segments ----------------------------------------------------- */

static void push_sealed(qv_shard *s, qv_sealed *x)
{
    if (s->nsealed == s->cap_sealed) {
        s->cap_sealed = s->cap_sealed ? 2 * s->cap_sealed : 4;
        s->sealed = qv_xrealloc(s->sealed, s->cap_sealed * sizeof(qv_sealed *));
    }
    qv_sealed_ref(x);
    s->sealed[s->nsealed++] = x;
}

static bool in_ids(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Resolves the versions of x's keys against the shard's segments (except
 * those in skip[0..nskip)) and the delete buffer, as for an insert. */
static void resolve_sealed(qv_shard *s, qv_sealed *x, const int64_t *skip,
                           size_t nskip)
{
    qv_rows rows = {NULL, 0, 0};
    size_t n = qv_sealed_rows(x);
    for (size_t r = 0; r < n; r++) {
        qv_pk pk = qv_sealed_pk(x, r);
        qv_ts t = qv_sealed_row_ts(x, r);
        for (size_t i = 0; i < s->nsegs; i++) {
            rows.n = 0;
            qv_growing_find(s->segs[i], &pk, &rows);
            for (size_t j = 0; j < rows.n; j++) {
                size_t q = (size_t)rows.v[j];
                qv_ts tq = qv_growing_row_ts(s->segs[i], q);
                if (tq < t)
                    qv_growing_hide(s->segs[i], q, t);
                else /* growing rows came later in the log */
                    qv_sealed_hide(x, r, tq);
            }
        }
        for (size_t i = 0; i < s->nsealed; i++) {
            qv_sealed *o = s->sealed[i];
            if (in_ids(skip, nskip, qv_sealed_id(o)) ||
                !qv_sealed_may_contain(o, &pk))
                continue;
            rows.n = 0;
            qv_sealed_find(o, &pk, &rows);
            for (size_t j = 0; j < rows.n; j++) {
                size_t q = (size_t)rows.v[j];
                qv_ts tq = qv_sealed_row_ts(o, q);
                if (tq < t)
                    qv_sealed_hide(o, q, t);
                else /* equal: the segment already served counts as newer */
                    qv_sealed_hide(x, r, tq);
            }
        }
        rows.n = 0;
        if (s->del.n)
            qv_pk_map_find(s->del.map, &pk, &rows);
        for (size_t j = 0; j < rows.n; j++) {
            size_t e = (size_t)rows.v[j];
            if (s->del.ts[e] > t && (s->del.part[e] == QV_PARTITION_ALL ||
                                     s->del.part[e] == qv_sealed_partition(x)))
                qv_sealed_hide(x, r, s->del.ts[e]);
        }
    }
    qv_rows_release(&rows);
}

qv_code qv_shard_add_sealed(qv_shard *s, qv_sealed *x, qv_err *err)
{
    int64_t id = qv_sealed_id(x);
    if (find_seg(s, id) || find_sealed(s, id))
        return qv_fail(err, QV_E_EXISTS,
                       "shard '%s': segment %lld is "
                       "already served",
                       s->vchannel, (long long)id);
    resolve_sealed(s, x, NULL, 0);
    pthread_mutex_lock(&s->mu);
    push_sealed(s, x);
    pthread_mutex_unlock(&s->mu);
    return QV_OK;
}

qv_code qv_shard_replace(qv_shard *s, qv_sealed *x, const int64_t *inputs,
                         size_t ninputs, qv_err *err)
{
    int64_t id = qv_sealed_id(x);
    if (find_seg(s, id) || find_sealed(s, id))
        return qv_fail(err, QV_E_EXISTS,
                       "shard '%s': segment %lld is already served",
                       s->vchannel, (long long)id);
    /* Hide timestamps the inputs gained after the compaction read them
     * (deletes and newer versions) carry over row by row: same key, same
     * insert timestamp. */
    qv_rows rows = {NULL, 0, 0};
    size_t n = qv_sealed_rows(x);
    for (size_t r = 0; r < n; r++) {
        qv_pk pk = qv_sealed_pk(x, r);
        qv_ts t = qv_sealed_row_ts(x, r);
        for (size_t i = 0; i < s->nsealed; i++) {
            qv_sealed *o = s->sealed[i];
            if (!in_ids(inputs, ninputs, qv_sealed_id(o)) ||
                !qv_sealed_may_contain(o, &pk))
                continue;
            rows.n = 0;
            qv_sealed_find(o, &pk, &rows);
            for (size_t j = 0; j < rows.n; j++)
                if (qv_sealed_row_ts(o, (size_t)rows.v[j]) == t)
                    qv_sealed_hide(x, r,
                                   qv_sealed_row_hide(o, (size_t)rows.v[j]));
        }
    }
    qv_rows_release(&rows);
    resolve_sealed(s, x, inputs, ninputs);
    qv_sealed *gone[64];
    size_t ngone = 0;
    pthread_mutex_lock(&s->mu);
    size_t k = 0;
    for (size_t i = 0; i < s->nsealed; i++) {
        if (in_ids(inputs, ninputs, qv_sealed_id(s->sealed[i])) &&
            ngone < sizeof gone / sizeof gone[0])
            gone[ngone++] = s->sealed[i];
        else
            s->sealed[k++] = s->sealed[i];
    }
    s->nsealed = k;
    push_sealed(s, x);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < ngone; i++)
        qv_sealed_unref(gone[i]);
    return QV_OK;
}

qv_code qv_shard_handoff(qv_shard *s, qv_sealed *x, qv_err *err)
{
    int64_t id = qv_sealed_id(x);
    qv_growing *g = find_seg(s, id);
    if (!g)
        return qv_shard_add_sealed(s, x, err);
    size_t n = qv_sealed_rows(x);
    if (!qv_growing_sealed(g) || qv_growing_rows(g) != n)
        return qv_fail(err, QV_E_CONFLICT,
                       "shard '%s': segment %lld: the growing copy (%zu "
                       "rows, %s) does not match the sealed copy (%zu rows)",
                       s->vchannel, (long long)id, qv_growing_rows(g),
                       qv_growing_sealed(g) ? "sealed" : "still growing", n);
    for (size_t r = 0; r < n; r++)
        if (qv_growing_row_ts(g, r) != qv_sealed_row_ts(x, r))
            return qv_fail(err, QV_E_CONFLICT,
                           "shard '%s': segment %lld: row %zu differs "
                           "between the growing and the sealed copy",
                           s->vchannel, (long long)id, r);
    for (size_t r = 0; r < n; r++)
        qv_sealed_hide(x, r, qv_growing_row_hide(g, r));
    pthread_mutex_lock(&s->mu);
    size_t k = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i] != g)
            s->segs[k++] = s->segs[i];
    s->nsegs = k;
    push_sealed(s, x);
    pthread_mutex_unlock(&s->mu);
    qv_growing_unref(g);
    return QV_OK;
}

qv_code qv_shard_drop_segment(qv_shard *s, int64_t segment_id, qv_err *err)
{
    qv_growing *gone = NULL;
    qv_sealed *xgone = NULL;
    pthread_mutex_lock(&s->mu);
    size_t k = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        if (qv_growing_id(s->segs[i]) == segment_id)
            gone = s->segs[i];
        else
            s->segs[k++] = s->segs[i];
    }
    s->nsegs = k;
    k = 0;
    for (size_t i = 0; i < s->nsealed; i++) {
        if (qv_sealed_id(s->sealed[i]) == segment_id)
            xgone = s->sealed[i];
        else
            s->sealed[k++] = s->sealed[i];
    }
    s->nsealed = k;
    pthread_mutex_unlock(&s->mu);
    if (!gone && !xgone)
        return qv_fail(err, QV_E_NOT_FOUND, "shard '%s': no segment %lld",
                       s->vchannel, (long long)segment_id);
    qv_growing_unref(gone);
    qv_sealed_unref(xgone);
    return QV_OK;
}
