/* ix_helpers.c -- see ix_helpers.h. */
#include "ix_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/msg/seglog.h"

objstore *ixh_open_fs(const char *dir)
{
    char *root = qv_xasprintf("%s/objects", dir);
    objstore_config c = {.root = root, .no_fsync = true};
    objstore *os = NULL;
    qv_err err = {0};
    cr_assert_eq(objstore_open("fs", &c, &os, &err), QV_OK, "%s", err.msg);
    free(root);
    return os;
}

Quiver__Internal__SegmentInfo *ixh_seg(void)
{
    static Quiver__Internal__SegmentInfo s;
    quiver__internal__segment_info__init(&s);
    s.id = 5;
    s.collection_id = 1;
    s.partition_id = 2;
    s.log_id = 77;
    return &s;
}

float *ixh_random_vectors(size_t n, size_t dim, uint32_t seed)
{
    float *x = qv_xmalloc(n * dim * sizeof(float));
    uint64_t st = seed * 2654435761u + 1;
    for (size_t i = 0; i < n * dim; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((st >> 33) % 10000) / 10000.0f;
    }
    return x;
}

static void put_column(objstore *os, const Quiver__Internal__SegmentInfo *s,
                       const qv_field_spec *spec, const void *vals, size_t n)
{
    qv_column *c;
    qv_err err = {0};
    cr_assert_eq(qv_column_create(spec, &c, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_column_append_fixed(c, vals, n), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_buf b;
    qv_buf_init(&b, 0);
    cr_assert_eq(qv_column_file_encode(&v, spec->id, &b, &err), QV_OK, "%s",
                 err.msg);
    char *key = qv_seglog_key(QV_SEGLOG_INSERT, s->collection_id,
                              s->partition_id, s->id, spec->id, s->log_id);
    cr_assert_eq(objstore_put(os, key, b.data, b.len, &err), QV_OK, "%s",
                 err.msg);
    free(key);
    qv_buf_release(&b);
    qv_column_free(c);
}

void ixh_put_float_column(objstore *os, const Quiver__Internal__SegmentInfo *s,
                          int64_t field, const float *x, size_t n, size_t dim)
{
    qv_field_spec spec = {.id = field,
                          .name = "vec",
                          .type = QV_DT_FLOAT_VECTOR,
                          .dim = (uint32_t)dim};
    put_column(os, s, &spec, x, n);
}

void ixh_put_int64_column(objstore *os, const Quiver__Internal__SegmentInfo *s,
                          int64_t field, const int64_t *v, size_t n)
{
    qv_field_spec spec = {.id = field, .name = "age", .type = QV_DT_INT64};
    put_column(os, s, &spec, v, n);
}

size_t ixh_get(objstore *os, const char *key, void **out)
{
    qv_buf b;
    qv_buf_init(&b, 0);
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, key, &b, &err), QV_OK, "%s", err.msg);
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 64, b.len ? b.len : 1), 0);
    memcpy(p, b.data, b.len);
    size_t len = b.len;
    qv_buf_release(&b);
    *out = p;
    return len;
}

static Milvus__Proto__Common__KeyValuePair *
kv(Milvus__Proto__Common__KeyValuePair *p, const char *k, const char *v)
{
    milvus__proto__common__key_value_pair__init(p);
    p->key = (char *)k;
    p->value = (char *)v;
    return p;
}

void ixh_req_init(ixh_req *r, int64_t field, qv_dtype type, size_t dim,
                  const char *index_type, const char *metric,
                  const char *params)
{
    memset(r, 0, sizeof *r);
    quiver__internal__build_index_request__init(&r->rq);
    quiver__internal__segment_index__init(&r->build);
    milvus__proto__schema__field_schema__init(&r->field);
    quiver__internal__index_info__init(&r->index);
    r->build.build_id = 900;
    r->build.segment_id = 5;
    r->build.field_id = field;
    r->field.fieldid = field;
    r->field.name = (char *)(type == QV_DT_INT64 ? "age" : "vec");
    r->field.data_type = (Milvus__Proto__Schema__DataType)type;
    if (dim) {
        snprintf(r->dim, sizeof r->dim, "%zu", dim);
        r->tp[0] = kv(&r->dim_kv, "dim", r->dim);
        r->field.type_params = r->tp;
        r->field.n_type_params = 1;
    }
    size_t n = 0;
    r->pp[n] = kv(&r->p[n], "index_type", index_type);
    n++;
    if (metric) {
        r->pp[n] = kv(&r->p[n], "metric_type", metric);
        n++;
    }
    r->pp[n] = kv(&r->p[n], "params", params);
    n++;
    r->index.params = r->pp;
    r->index.n_params = n;
    r->index.field_id = field;
    r->rq.build = &r->build;
    r->rq.segment = ixh_seg();
    r->rq.field = &r->field;
    r->rq.index = &r->index;
}

void ixh_req_release(ixh_req *r)
{
    (void)r; /* everything is borrowed */
}

static float l2(const float *a, const float *b, size_t d)
{
    float s = 0;
    for (size_t i = 0; i < d; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

double ixh_recall(const float *x, size_t n, size_t dim, const float *q,
                  size_t nq, size_t k, const int64_t *labels)
{
    size_t hit = 0;
    float *d = qv_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < nq; i++) {
        for (size_t j = 0; j < n; j++)
            d[j] = l2(q + i * dim, x + j * dim, dim);
        /* The k-th smallest distance: a hit is any label within it. */
        float *c = qv_xmalloc(n * sizeof(float));
        memcpy(c, d, n * sizeof(float));
        for (size_t a = 0; a < k; a++)
            for (size_t b = a + 1; b < n; b++)
                if (c[b] < c[a]) {
                    float t = c[a];
                    c[a] = c[b];
                    c[b] = t;
                }
        float kth = c[k - 1];
        free(c);
        for (size_t a = 0; a < k; a++) {
            int64_t l = labels[i * k + a];
            if (l >= 0 && (size_t)l < n && d[l] <= kth)
                hit++;
        }
    }
    free(d);
    return (double)hit / (double)(nq * k);
}
