/* sealed_index.c -- loading index files and attaching them to sealed
 * segments (sealed_index.h). */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "querynode/sealed_index.h"

struct qv_seg_index {
    _Atomic(int) refs;
    qv_index *ix;
    int64_t build_id, index_id, field_id;
    void *mem; /* aligned copy of the file (memory mode) */
    size_t mem_len;
    void *map; /* mapped file (cache mode) */
    size_t map_len;
};

/* The immutable set of a segment's indexes (its attachment). */
typedef struct idx_set {
    qv_sealed_attach base; /* first: sealed.h casts */
    size_t n;
    qv_seg_index **ix;
} idx_set;

/* Serializes attach/detach (read-modify-write of a segment's set). */
static pthread_mutex_t attach_mu = PTHREAD_MUTEX_INITIALIZER;

static void seg_index_free(qv_seg_index *x)
{
    if (x->ix)
        qv_index_free(x->ix);
    if (x->mem)
        qv_aligned_free(x->mem);
    if (x->map)
        munmap(x->map, x->map_len);
    free(x);
}

void qv_seg_index_ref(qv_seg_index *x)
{
    atomic_fetch_add(&x->refs, 1);
}

void qv_seg_index_unref(qv_seg_index *x)
{
    if (x && atomic_fetch_sub(&x->refs, 1) == 1)
        seg_index_free(x);
}

const qv_index *qv_seg_index_index(const qv_seg_index *x)
{
    return x->ix;
}
int64_t qv_seg_index_build_id(const qv_seg_index *x)
{
    return x->build_id;
}
int64_t qv_seg_index_field_id(const qv_seg_index *x)
{
    return x->field_id;
}
size_t qv_seg_index_memory(const qv_seg_index *x)
{
    return qv_index_memory_size(x->ix) + x->mem_len;
}

qv_seg_index *qv_seg_index_wrap(qv_index *ix, int64_t build_id,
                                int64_t index_id, int64_t field_id)
{
    qv_seg_index *x = QV_NEW(qv_seg_index);
    atomic_init(&x->refs, 1);
    x->ix = ix;
    x->build_id = build_id;
    x->index_id = index_id;
    x->field_id = field_id;
    return x;
}

/* Reads the object into 64-byte aligned memory (the index uses it in
 * place; an unaligned buffer would be copied again by the loader). */
static qv_code fetch_mem(qv_seg_index *x, const qv_seg_index_source *src,
                         qv_err *err)
{
    qv_buf b;
    qv_buf_init(&b, QV_BUF_DEFAULT_CAP);
    qv_code rc = objstore_get(src->os, src->key, &b, err);
    if (!rc && b.len == 0)
        rc = qv_fail(err, QV_E_CORRUPT, "index file '%s' is empty", src->key);
    if (!rc) {
        x->mem = qv_try_aligned_alloc(b.len, 1);
        if (!x->mem)
            rc = qv_fail(err, QV_E_NOMEM,
                         "index file '%s': cannot allocate %zu bytes", src->key,
                         b.len);
        else
            memcpy(x->mem, b.data, b.len);
        x->mem_len = b.len;
    }
    qv_buf_release(&b);
    return rc;
}

/* Downloads the object under cache_dir and maps it read-only. */
static qv_code fetch_map(qv_seg_index *x, const qv_seg_index_source *src,
                         qv_err *err)
{
    char *path =
        qv_xasprintf("%s/index_%lld_%lld", src->cache_dir,
                     (long long)src->build_id, (long long)src->field_id);
    uint64_t size = 0;
    qv_code rc = objstore_get_file(src->os, src->key, path, &size, err);
    int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (!rc && (fd < 0 || fstat(fd, &st) != 0))
        rc = qv_fail(err, QV_E_IO, "cannot open index cache file '%s'", path);
    if (!rc && st.st_size <= 0)
        rc = qv_fail(err, QV_E_CORRUPT, "index file '%s' is empty", src->key);
    if (!rc) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc =
                qv_fail(err, QV_E_IO, "cannot map index cache file '%s'", path);
        } else {
            x->map = m;
            x->map_len = (size_t)st.st_size;
        }
    }
    if (fd >= 0)
        close(fd);
    unlink(path); /* the mapping keeps the bytes; nothing to clean up */
    free(path);
    return rc;
}

qv_code qv_seg_index_load(const qv_seg_index_source *src, qv_seg_index **out,
                          qv_err *err)
{
    if (!src || !src->os || !src->key || !src->key[0])
        return qv_fail(err, QV_E_INVALID, "index load: no object key");
    qv_seg_index *x = QV_NEW(qv_seg_index);
    atomic_init(&x->refs, 1);
    x->build_id = src->build_id;
    x->index_id = src->index_id;
    x->field_id = src->field_id;
    qv_code rc =
        src->cache_dir ? fetch_map(x, src, err) : fetch_mem(x, src, err);
    if (!rc) {
        const void *p = x->map ? x->map : x->mem;
        size_t n = x->map ? x->map_len : x->mem_len;
        qv_err e = {0};
        rc = qv_index_load(p, n, &x->ix, &e);
        if (rc)
            qv_fail(err, rc, "index file '%s' (build %lld): %s", src->key,
                    (long long)src->build_id, e.msg);
    }
    if (rc) {
        seg_index_free(x);
        return rc;
    }
    *out = x;
    return QV_OK;
}

/* ---- attach -------------------------------------------------------------- */

static void set_destroy(qv_sealed_attach *a)
{
    idx_set *st = (idx_set *)a;
    for (size_t i = 0; i < st->n; i++)
        qv_seg_index_unref(st->ix[i]);
    free(st->ix);
    free(st);
}

static idx_set *set_new(size_t cap)
{
    idx_set *st = QV_NEW(idx_set);
    atomic_init(&st->base.refs, 1);
    st->base.destroy = set_destroy;
    st->ix = QV_NEW_ARRAY(qv_seg_index *, cap ? cap : 1);
    return st;
}

static long field_of(const qv_seg_snap *ss, int64_t fid)
{
    for (size_t f = 0; f < ss->nfields; f++)
        if (ss->field_ids[f] == fid)
            return (long)f;
    return -1;
}

static qv_code check_fit(const qv_seg_snap *ss, const qv_seg_index *x,
                         qv_err *err)
{
    long f = field_of(ss, x->field_id);
    const qv_index *ix = x->ix;
    if (f < 0)
        return qv_fail(err, QV_E_INVALID,
                       "segment %lld has no field %lld for index build %lld",
                       (long long)ss->segment_id, (long long)x->field_id,
                       (long long)x->build_id);
    const qv_col_view *v = &ss->cols[f];
    bool bin = qv_metric_is_binary(qv_index_metric(ix));
    bool type_ok = bin ? v->type == QV_DT_BINARY_VECTOR
                       : (v->type == QV_DT_FLOAT_VECTOR ||
                          v->type == QV_DT_FLOAT16_VECTOR ||
                          v->type == QV_DT_BFLOAT16_VECTOR ||
                          v->type == QV_DT_INT8_VECTOR);
    if (!type_ok || qv_index_dim(ix) != v->dim ||
        qv_index_ntotal(ix) > ss->rows)
        return qv_fail(err, QV_E_INVALID,
                       "index build %lld (%s %s dim %zu, %zu rows) does not "
                       "fit field %lld of segment %lld (%s dim %u, %zu rows)",
                       (long long)x->build_id,
                       qv_index_type_name(qv_index_type_of(ix)),
                       qv_metric_name(qv_index_metric(ix)), qv_index_dim(ix),
                       qv_index_ntotal(ix), (long long)x->field_id,
                       (long long)ss->segment_id, qv_dtype_name(v->type),
                       v->dim, ss->rows);
    return QV_OK;
}

/* A mapped vector column is read again only for output fields once the
 * index serves: drop its pages from memory (they stay in the file). */
static void release_column(qv_sealed *s, const qv_seg_snap *ss, int64_t fid)
{
    long f = field_of(ss, fid);
    if (f < 0 || !qv_sealed_mapped(s))
        return;
    const qv_col_view *v = &ss->cols[f];
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)v->data + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)v->data + v->rows * v->width) & ~(page - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

qv_code qv_sealed_index_attach(qv_sealed *s, qv_seg_index *x, qv_err *err)
{
    qv_seg_snap ss;
    qv_sealed_snap(s, &ss);
    qv_code rc = check_fit(&ss, x, err);
    if (rc) {
        ss.ops->release(ss.seg, &ss);
        qv_seg_index_unref(x);
        return rc;
    }
    pthread_mutex_lock(&attach_mu);
    idx_set *cur = (idx_set *)qv_sealed_attach_get(s);
    idx_set *st = set_new((cur ? cur->n : 0) + 1);
    for (size_t i = 0; cur && i < cur->n; i++) {
        if (cur->ix[i]->field_id == x->field_id)
            continue; /* replaced */
        qv_seg_index_ref(cur->ix[i]);
        st->ix[st->n++] = cur->ix[i];
    }
    st->ix[st->n++] = x;
    qv_sealed_attach_set(s, &st->base);
    pthread_mutex_unlock(&attach_mu);
    qv_sealed_attach_unref(cur ? &cur->base : NULL);
    release_column(s, &ss, x->field_id);
    ss.ops->release(ss.seg, &ss);
    return QV_OK;
}

size_t qv_sealed_index_detach(qv_sealed *s, int64_t field_id)
{
    pthread_mutex_lock(&attach_mu);
    idx_set *cur = (idx_set *)qv_sealed_attach_get(s);
    size_t dropped = 0;
    if (cur) {
        idx_set *st = set_new(cur->n);
        for (size_t i = 0; i < cur->n; i++) {
            if (field_id < 0 || cur->ix[i]->field_id == field_id) {
                dropped++;
                continue;
            }
            qv_seg_index_ref(cur->ix[i]);
            st->ix[st->n++] = cur->ix[i];
        }
        if (dropped == 0) {
            set_destroy(&st->base);
        } else if (st->n == 0) {
            set_destroy(&st->base);
            qv_sealed_attach_set(s, NULL);
        } else {
            qv_sealed_attach_set(s, &st->base);
        }
    }
    pthread_mutex_unlock(&attach_mu);
    qv_sealed_attach_unref(cur ? &cur->base : NULL);
    return dropped;
}

size_t qv_sealed_index_builds(qv_sealed *s, int64_t *builds, size_t cap)
{
    idx_set *cur = (idx_set *)qv_sealed_attach_get(s);
    size_t n = cur ? cur->n : 0;
    for (size_t i = 0; i < n && i < cap; i++)
        builds[i] = cur->ix[i]->build_id;
    qv_sealed_attach_unref(cur ? &cur->base : NULL);
    return n;
}

const qv_seg_index *qv_seg_snap_index(const qv_seg_snap *ss, int64_t field_id)
{
    const idx_set *st = (const idx_set *)ss->attach;
    for (size_t i = 0; st && i < st->n; i++)
        if (st->ix[i]->field_id == field_id)
            return st->ix[i];
    return NULL;
}
