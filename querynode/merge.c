/* merge.c -- merging top-k lists with primary-key dedupe, and gathering
 * result rows into columns (search.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "querynode/search.h"

typedef struct cand {
    qv_hit h;
    size_t list; /* which input list (later lists win timestamp ties) */
} cand;

static int by_key_newest(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    int c = qv_pk_cmp(&x->h.pk, &y->h.pk);
    if (c)
        return c;
    if (x->h.ts != y->h.ts)
        return x->h.ts > y->h.ts ? -1 : 1;
    return x->list > y->list ? -1 : x->list < y->list;
}

static int closest_first(const cand *x, const cand *y, bool larger)
{
    if (x->h.distance != y->h.distance) {
        bool xb = larger ? x->h.distance > y->h.distance
                         : x->h.distance < y->h.distance;
        return xb ? -1 : 1;
    }
    if (x->list != y->list)
        return x->list < y->list ? -1 : 1;
    if (x->h.seg != y->h.seg)
        return x->h.seg < y->h.seg ? -1 : 1;
    return (x->h.row > y->h.row) - (x->h.row < y->h.row);
}

/* A stable bottom-up merge sort by distance (qsort takes no context
 * argument in C11, and the order depends on the metric). */
static void sort_by_distance(cand *c, size_t n, bool larger)
{
    if (n < 2)
        return;
    cand *tmp = qv_xmalloc(n * sizeof *tmp);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] =
                    closest_first(&c[j], &c[i], larger) < 0 ? c[j++] : c[i++];
            while (i < mid)
                tmp[o++] = c[i++];
            while (j < hi)
                tmp[o++] = c[j++];
        }
        memcpy(c, tmp, n * sizeof *c);
    }
    free(tmp);
}

/* Sorted, deduplicated candidates of the lists (closest first); n out. */
static cand *dedupe_sorted(const qv_hit *const *lists, const size_t *counts,
                           size_t nlists, bool larger, size_t *nout)
{
    size_t n = 0;
    for (size_t l = 0; l < nlists; l++)
        n += counts[l];
    cand *c = qv_xmalloc((n ? n : 1) * sizeof *c);
    size_t m = 0;
    for (size_t l = 0; l < nlists; l++)
        for (size_t j = 0; j < counts[l]; j++)
            c[m++] = (cand){lists[l][j], l};
    qsort(c, n, sizeof *c, by_key_newest);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || qv_pk_cmp(&c[u - 1].h.pk, &c[i].h.pk) != 0)
            c[u++] = c[i];
    sort_by_distance(c, u, larger);
    *nout = u;
    return c;
}

size_t qv_hits_merge(const qv_hit *const *lists, const size_t *counts,
                     size_t nlists, size_t k, bool larger_is_closer,
                     qv_hit *out)
{
    size_t u;
    cand *c = dedupe_sorted(lists, counts, nlists, larger_is_closer, &u);
    size_t w = u < k ? u : k;
    for (size_t i = 0; i < w; i++)
        out[i] = c[i].h;
    free(c);
    return w;
}

static bool group_eq(const qv_pk *a, const qv_pk *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == QV_DT_VARCHAR)
        return a->len == b->len && (a->len == 0 || !memcmp(a->s, b->s, a->len));
    return a->type == QV_DT_NONE || a->i == b->i;
}

size_t qv_hits_merge_grouped(const qv_hit *const *lists, const size_t *counts,
                             size_t nlists, size_t groups, size_t group_size,
                             bool larger_is_closer, qv_hit *out,
                             size_t *ngroups, bool *full)
{
    size_t u;
    cand *c = dedupe_sorted(lists, counts, nlists, larger_is_closer, &u);
    qv_pk *keys = QV_NEW_ARRAY(qv_pk, groups ? groups : 1);
    size_t *cnt = QV_NEW_ARRAY(size_t, groups ? groups : 1);
    size_t *rank = QV_NEW_ARRAY(size_t, u ? u : 1);
    size_t ng = 0, kept = 0;
    for (size_t i = 0; i < u; i++) {
        size_t g = 0;
        while (g < ng && !group_eq(&keys[g], &c[i].h.group))
            g++;
        if (g == ng) {
            if (ng == groups)
                continue; /* a new group, and enough groups */
            keys[ng++] = c[i].h.group;
        }
        if (cnt[g] == group_size)
            continue;
        cnt[g]++;
        rank[kept] = g;
        c[kept++] = c[i]; /* kept <= i: in place */
    }
    /* by group (rank of first sight), closest first within (stable) */
    size_t *start = QV_NEW_ARRAY(size_t, ng + 1);
    for (size_t g = 1; g <= ng; g++)
        start[g] = start[g - 1] + cnt[g - 1];
    bool all_full = ng > 0;
    for (size_t g = 0; g < ng; g++)
        all_full = all_full && cnt[g] == group_size;
    for (size_t i = 0; i < kept; i++)
        out[start[rank[i]]++] = c[i].h;
    *ngroups = ng;
    *full = all_full;
    free(start);
    free(rank);
    free(cnt);
    free(keys);
    free(c);
    return kept;
}

bool qv_search_group_type_ok(qv_dtype t)
{
    return t == QV_DT_BOOL || t == QV_DT_INT8 || t == QV_DT_INT16 ||
           t == QV_DT_INT32 || t == QV_DT_INT64 || t == QV_DT_VARCHAR;
}

qv_pk qv_hit_group_of(const qv_col_view *v, size_t row)
{
    qv_pk g = {.type = QV_DT_NONE};
    if (qv_col_is_null(v, row))
        return g;
    if (v->type == QV_DT_VARCHAR) {
        size_t len;
        const uint8_t *p = qv_col_var(v, row, &len);
        return qv_pk_str((const char *)p, len);
    }
    if (v->type == QV_DT_BOOL)
        return qv_pk_int(*(const uint8_t *)qv_col_fixed(v, row) != 0);
    return qv_pk_int(qv_col_get_int(v, row));
}

static long field_index(const qv_seg_snap *ss, int64_t fid)
{
    for (size_t f = 0; f < ss->nfields; f++)
        if (ss->field_ids[f] == fid)
            return (long)f;
    return -1;
}

static qv_code gather_one(const qv_shard_snap *snap, const qv_field_spec *spec,
                          const uint32_t *seg, const int64_t *rows, size_t n,
                          qv_column **out, qv_err *err)
{
    qv_column *c;
    qv_code rc = qv_column_create(spec, &c, err);
    if (rc)
        return rc;
    if (n && qv_column_reserve(c, n, 0))
        rc = qv_fail(err, QV_E_NOMEM, "cannot gather %zu rows of field '%s'", n,
                     spec->name);
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i + 1; /* a run of rows of one segment */
        while (j < n && seg[j] == seg[i])
            j++;
        const qv_seg_snap *ss = &snap->snaps[seg[i]];
        long f = field_index(ss, spec->id);
        if (f < 0)
            rc = qv_column_append_default(c, j - i)
                     ? qv_fail(err, QV_E_INVALID,
                               "segment %lld lacks field '%s'",
                               (long long)ss->segment_id, spec->name)
                     : QV_OK;
        else
            rc = qv_column_append_rows(c, &ss->cols[f], rows + i, j - i, err);
        i = j;
    }
    if (rc) {
        qv_column_free(c);
        return rc;
    }
    qv_column_publish(c);
    *out = c;
    return QV_OK;
}

qv_code qv_shard_gather(const qv_shard_snap *snap, const uint32_t *seg,
                        const int64_t *rows, size_t n, const int64_t *field_ids,
                        size_t nfields, qv_column ***cols, qv_err *err)
{
    qv_column **out = QV_NEW_ARRAY(qv_column *, nfields ? nfields : 1);
    qv_code rc = QV_OK;
    size_t made = 0;
    for (size_t f = 0; f < nfields && !rc; f++) {
        const qv_field_spec *spec = NULL;
        for (size_t i = 0; i < snap->schema->nfields; i++)
            if (snap->schema->fields[i].id == field_ids[f])
                spec = &snap->schema->fields[i];
        if (!spec)
            rc = qv_fail(err, QV_E_NOT_FOUND,
                         "output field %lld is not in the schema",
                         (long long)field_ids[f]);
        else if (!(rc = gather_one(snap, spec, seg, rows, n, &out[f], err)))
            made++;
    }
    if (rc) {
        for (size_t f = 0; f < made; f++)
            qv_column_free(out[f]);
        free(out);
        return rc;
    }
    *cols = out;
    return QV_OK;
}
