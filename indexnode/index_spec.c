/* index_spec.c -- CreateIndex parameters normalized and checked (see
 * index_spec.h). */
#include "indexnode/index_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/json/json.h"

/* Keys that are properties, not build parameters (AlterIndex sets them). */
static bool is_property(const char *k)
{
    return strcmp(k, "mmap.enabled") == 0 || strcmp(k, "mmap_enabled") == 0;
}

typedef struct raw {
    char type[64], metric[64];
    qv_kv *kv; /* owned strings */
    size_t n, cap;
} raw;

static void raw_release(raw *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->kv[i].key);
        free((char *)r->kv[i].value);
    }
    free(r->kv);
    memset(r, 0, sizeof *r);
}

/* Sets key (replacing an earlier value). */
static void raw_set(raw *r, const char *k, size_t klen, const char *v,
                    size_t vlen)
{
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->kv[i].key) == klen &&
            memcmp(r->kv[i].key, k, klen) == 0) {
            free((char *)r->kv[i].value);
            r->kv[i].value = qv_xstrndup(v, vlen);
            return;
        }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->kv = qv_xrealloc(r->kv, r->cap * sizeof *r->kv);
    }
    r->kv[r->n].key = qv_xstrndup(k, klen);
    r->kv[r->n].value = qv_xstrndup(v, vlen);
    r->n++;
}

static qv_code copy_name(char *dst, size_t cap, const char *what, const char *v,
                         size_t len, qv_err *err)
{
    if (len >= cap)
        return qv_fail(err, QV_E_INVALID, "%s '%.*s' is too long", what,
                       (int)(len > 64 ? 64 : len), v);
    memcpy(dst, v, len);
    dst[len] = '\0';
    return QV_OK;
}

/* One pair: index_type / metric_type / params (JSON) / a build param. */
static qv_code take(raw *r, const char *k, size_t klen, const char *v,
                    size_t vlen, bool in_json, qv_err *err);

static qv_code take_json(raw *r, const char *v, size_t vlen, qv_err *err)
{
    /* An empty or "{}" params is common (FLAT, AUTOINDEX). */
    size_t i = 0;
    while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n'))
        i++;
    if (i == vlen)
        return QV_OK;
    if (qv_json_validate(v, vlen, NULL) != QV_OK)
        return qv_fail(err, QV_E_INVALID,
                       "index params must be a JSON object, got '%.*s'",
                       (int)(vlen > 80 ? 80 : vlen), v);
    qv_json_val root = qv_json_root(v, vlen);
    if (root.type != QV_JSON_OBJECT)
        return qv_fail(err, QV_E_INVALID,
                       "index params must be a JSON object, got '%.*s'",
                       (int)(vlen > 80 ? 80 : vlen), v);
    qv_json_iter it;
    qv_json_val key, val;
    qv_json_obj_iter_init(&it, &root);
    while (qv_json_obj_next(&it, &key, &val)) {
        char kb[128], vb[512];
        size_t kn = qv_json_string_decode(&key, kb, sizeof kb);
        if (kn == SIZE_MAX || kn >= sizeof kb)
            return qv_fail(err, QV_E_INVALID, "index params: bad key");
        kb[kn] = '\0';
        const char *vp = val.p;
        size_t vn = val.len;
        if (val.type == QV_JSON_STRING) {
            vn = qv_json_string_decode(&val, vb, sizeof vb);
            if (vn == SIZE_MAX || vn >= sizeof vb)
                return qv_fail(err, QV_E_INVALID,
                               "index params: value of '%s' is too long", kb);
            vp = vb;
        } else if (val.type != QV_JSON_NUMBER && val.type != QV_JSON_TRUE &&
                   val.type != QV_JSON_FALSE) {
            return qv_fail(err, QV_E_INVALID,
                           "index params: value of '%s' must be a number, "
                           "string or boolean",
                           kb);
        }
        qv_code rc = take(r, kb, kn, vp, vn, true, err);
        if (rc)
            return rc;
    }
    return QV_OK;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static qv_code take(raw *r, const char *k, size_t klen, const char *v,
                    size_t vlen, bool in_json, qv_err *err)
{
    if (!qv_utf8_valid(k, klen) || !qv_utf8_valid(v, vlen))
        return qv_fail(err, QV_E_INVALID,
                       "index params: keys and values must be UTF-8");
    if (key_is(k, klen, "index_type"))
        return in_json && r->type[0] ? QV_OK
                                     : copy_name(r->type, sizeof r->type,
                                                 "index type", v, vlen, err);
    if (key_is(k, klen, "metric_type"))
        return in_json && r->metric[0] ? QV_OK
                                       : copy_name(r->metric, sizeof r->metric,
                                                   "metric type", v, vlen, err);
    if (!in_json && key_is(k, klen, "params"))
        return take_json(r, v, vlen, err);
    char kb[128];
    if (klen == 0 || klen >= sizeof kb || vlen >= 512)
        return qv_fail(err, QV_E_INVALID,
                       "index params: keys are 1 to 127 bytes and values at "
                       "most 511");
    memcpy(kb, k, klen);
    kb[klen] = '\0';
    if (is_property(kb))
        return QV_OK;
    raw_set(r, k, klen, v, vlen);
    return QV_OK;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const qv_kv *)a)->key, ((const qv_kv *)b)->key);
}

/* A JSON number exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool looks_numeric(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static void json_str(qv_buf *b, const char *s)
{
    qv_code rc = qv_buf_appends(b, "\"");
    for (const char *p = s; !rc && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            rc = qv_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            rc = qv_buf_printf(b, "\\u%04x", ch);
        else
            rc = qv_buf_append(b, p, 1);
    }
    if (!rc)
        rc = qv_buf_appends(b, "\"");
    (void)rc; /* qv_buf grows with qv_xmalloc: only a cap can fail */
}

static char *to_json(const qv_kv *kv, size_t n)
{
    qv_buf b;
    qv_buf_init(&b, 0); /* 0: the default cap */
    qv_code rc = qv_buf_appends(&b, "{");
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = qv_buf_appends(&b, ",");
        json_str(&b, kv[i].key);
        rc = qv_buf_appends(&b, ":");
        const char *v = kv[i].value;
        if (looks_numeric(v) || strcmp(v, "true") == 0 ||
            strcmp(v, "false") == 0)
            rc = rc ? rc : qv_buf_appends(&b, v);
        else
            json_str(&b, v);
    }
    if (!rc)
        rc = qv_buf_appends(&b, "}");
    size_t len;
    char *s = qv_buf_detach(&b, &len);
    return s ? s : qv_xstrdup("{}");
}

static qv_code check_vector(raw *r, const qv_index_field *f, qv_index_spec *s,
                            qv_err *err)
{
    bool bin = f->type == QV_DT_BINARY_VECTOR;
    s->is_vector = true;
    qv_index_type t;
    if (!r->type[0] || strcasecmp(r->type, "AUTOINDEX") == 0) {
        snprintf(s->index_type, sizeof s->index_type, "AUTOINDEX");
        t = bin ? QV_INDEX_BIN_IVF_FLAT : QV_INDEX_AUTOINDEX;
    } else {
        qv_sindex_type st;
        if (qv_sindex_type_parse(r->type, &st, NULL) == QV_OK)
            return qv_fail(err, QV_E_INVALID,
                           "index type %s is for scalar fields; field '%s' "
                           "is %s",
                           qv_sindex_type_name(st), f->name,
                           qv_dtype_name(f->type));
        if (qv_index_type_parse(r->type, &t, NULL) != QV_OK)
            return qv_fail(err, QV_E_UNSUPPORTED,
                           "invalid index type: %s (supported for vector "
                           "fields: FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ, HNSW, "
                           "BIN_FLAT, BIN_IVF_FLAT, AUTOINDEX)",
                           r->type);
        snprintf(s->index_type, sizeof s->index_type, "%s",
                 qv_index_type_name(t));
        bool bin_type = t == QV_INDEX_BIN_FLAT || t == QV_INDEX_BIN_IVF_FLAT;
        if (bin != bin_type)
            return qv_fail(err, QV_E_INVALID,
                           "index type %s is not valid for %s field '%s'",
                           s->index_type, qv_dtype_name(f->type), f->name);
    }
    s->vtype = t;
    if (!r->metric[0])
        s->metric = bin ? QV_METRIC_HAMMING : QV_METRIC_COSINE;
    else if (qv_metric_parse(r->metric, &s->metric, NULL) != QV_OK)
        return qv_fail(err, QV_E_INVALID,
                       "invalid metric type: %s (expected %s)", r->metric,
                       bin ? "HAMMING or JACCARD" : "L2, IP or COSINE");
    if (qv_metric_is_binary(s->metric) != bin)
        return qv_fail(err, QV_E_INVALID,
                       "metric type %s is not valid for %s field '%s' "
                       "(expected %s)",
                       qv_metric_name(s->metric), qv_dtype_name(f->type),
                       f->name,
                       bin ? "HAMMING or JACCARD" : "L2, IP or COSINE");
    snprintf(s->metric_type, sizeof s->metric_type, "%s",
             qv_metric_name(s->metric));
    qv_params p = {r->kv, r->n};
    qv_index *ix = NULL;
    qv_err e = {0};
    qv_code rc = qv_index_create(t, s->metric, f->dim, &p, &ix, &e);
    qv_index_free(ix);
    if (rc)
        return qv_fail(err, QV_E_INVALID,
                       "invalid %s index params for "
                       "field '%s': %s",
                       s->index_type, f->name, e.msg);
    return QV_OK;
}

static qv_code check_scalar(raw *r, const qv_index_field *f, qv_index_spec *s,
                            qv_err *err)
{
    if (f->type == QV_DT_JSON)
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "indexes on JSON field '%s' are not supported", f->name);
    qv_sindex_type t;
    if (!r->type[0] || strcasecmp(r->type, "AUTOINDEX") == 0) {
        snprintf(s->index_type, sizeof s->index_type, "AUTOINDEX");
        t = qv_sindex_type_fits(QV_SINDEX_INVERTED, f->type, f->elem_type)
                ? QV_SINDEX_INVERTED
                : QV_SINDEX_STL_SORT;
    } else {
        qv_index_type vt;
        if (qv_index_type_parse(r->type, &vt, NULL) == QV_OK)
            return qv_fail(err, QV_E_INVALID,
                           "index type %s is for vector fields; field '%s' "
                           "is %s",
                           qv_index_type_name(vt), f->name,
                           qv_dtype_name(f->type));
        if (qv_sindex_type_parse(r->type, &t, NULL) != QV_OK)
            return qv_fail(err, QV_E_UNSUPPORTED,
                           "invalid index type: %s (supported for scalar "
                           "fields: STL_SORT, INVERTED, BITMAP, Trie, "
                           "AUTOINDEX)",
                           r->type);
        snprintf(s->index_type, sizeof s->index_type, "%s",
                 qv_sindex_type_name(t));
    }
    s->stype = t;
    if (!qv_sindex_type_fits(t, f->type, f->elem_type))
        return qv_fail(err, QV_E_INVALID,
                       "index type %s does not support %s field '%s'",
                       qv_sindex_type_name(t), qv_dtype_name(f->type), f->name);
    /* The library checks the parameters: build over no rows. */
    uint64_t zero = 0;
    qv_col_view v = {.type = f->type,
                     .elem_type = f->elem_type,
                     .width = (uint32_t)qv_dtype_width(f->type, 0),
                     .rows = 0,
                     .data = (const uint8_t *)&zero,
                     .offsets = qv_dtype_is_varwidth(f->type) ? &zero : NULL};
    qv_sindex *ix = NULL;
    qv_err e = {0};
    qv_code rc =
        qv_sindex_build(t, &v, (const qv_sindex_param *)r->kv, r->n, &ix, &e);
    qv_sindex_free(ix);
    if (rc)
        return qv_fail(err, QV_E_INVALID,
                       "invalid %s index params for "
                       "field '%s': %s",
                       s->index_type, f->name, e.msg);
    return QV_OK;
}

qv_code qv_index_spec_parse(const qv_kv *kv, size_t n, const qv_index_field *f,
                            qv_index_spec *out, qv_err *err)
{
    memset(out, 0, sizeof *out);
    raw r = {0};
    qv_code rc = QV_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *k = kv[i].key ? kv[i].key : "";
        const char *v = kv[i].value ? kv[i].value : "";
        rc = take(&r, k, strlen(k), v, strlen(v), false, err);
    }
    if (!rc) {
        if (r.n > 1)
            qsort(r.kv, r.n, sizeof *r.kv, kv_cmp);
        if (qv_dtype_is_vector(f->type) && f->type != QV_DT_SPARSE_FLOAT_VECTOR)
            rc = check_vector(&r, f, out, err);
        else if (f->type == QV_DT_SPARSE_FLOAT_VECTOR)
            rc = qv_fail(err, QV_E_UNSUPPORTED,
                         "indexes on SparseFloatVector field '%s' are not "
                         "supported",
                         f->name);
        else
            rc = check_scalar(&r, f, out, err);
    }
    if (rc) {
        raw_release(&r);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->build = r.kv;
    out->nbuild = r.n;
    out->params_json = to_json(r.kv, r.n);
    return QV_OK;
}

void qv_index_spec_release(qv_index_spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nbuild; i++) {
        free((char *)s->build[i].key);
        free((char *)s->build[i].value);
    }
    free(s->build);
    free(s->params_json);
    memset(s, 0, sizeof *s);
}

bool qv_index_spec_equal(const qv_index_spec *a, const qv_index_spec *b)
{
    return a->is_vector == b->is_vector &&
           strcmp(a->index_type, b->index_type) == 0 &&
           strcmp(a->metric_type, b->metric_type) == 0 &&
           strcmp(a->params_json, b->params_json) == 0;
}

const char *qv_index_spec_param(const qv_index_spec *s, const char *key)
{
    for (size_t i = 0; i < s->nbuild; i++)
        if (strcmp(s->build[i].key, key) == 0)
            return s->build[i].value;
    return NULL;
}
