/* rpc_search.c -- Search over one vector field (notes/sdk-compat.md §4.9):
 * placeholder decoding, parameters, per-shard FLAT top-k on the query
 * nodes, k-way merge with primary-key dedupe (newest version wins), offset,
 * round_decimal and output fields with the primary key column always in
 * fields_data. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/column/pk.h"
#include "common/rpc/rpc_client.h"
#include "common/json/json.h"
#include "milvus/common.pb-c.h"
#include "proxy/proxy_read.h"
#include "proxy/search_route.h"
#include "querynode/search.h"

#define M(x) Milvus__Proto__Milvus__##x
typedef Milvus__Proto__Common__KeyValuePair kvp;
typedef Quiver__Internal__ShardSearchResponse shard_resp;

static const char *param(kvp **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0)
            return kv[i]->value ? kv[i]->value : "";
    return NULL;
}

static qv_code int_param(kvp **kv, size_t n, const char *key, int64_t def,
                         int64_t lo, int64_t hi, int64_t *out, qv_err *err)
{
    const char *v = param(kv, n, key);
    *out = def;
    if (!v || !v[0])
        return QV_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < lo || x > hi)
        return qv_fail(err, QV_E_INVALID,
                       "%s '%s' is out of range [%lld, %lld]", key, v,
                       (long long)lo, (long long)hi);
    *out = x;
    return QV_OK;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff,
             f;
    if (e == 0) {
        if (m == 0) {
            f = s;
        } else { /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            f = s | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31) {
        f = s | 0x7f800000u | (m << 13);
    } else {
        f = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float out;
    memcpy(&out, &f, 4);
    return out;
}

/* The query rows in the layout querynode/search.h wants. */
qv_code qv_proxy__decode_queries(qv_arena *a, const ProtobufCBinaryData *pg,
                                 const qv_field_spec *f, int64_t nq_req,
                                 ProtobufCBinaryData *out, size_t *nq,
                                 qv_err *err)
{
    Milvus__Proto__Common__PlaceholderGroup *g =
        milvus__proto__common__placeholder_group__unpack(NULL, pg->len,
                                                         pg->data);
    if (!g)
        return qv_fail(err, QV_E_INVALID, "placeholder group is malformed");
    qv_code rc = QV_OK;
    if (g->n_placeholders != 1)
        rc = qv_fail(err, QV_E_INVALID,
                     "placeholder group must hold exactly one placeholder");
    const Milvus__Proto__Common__PlaceholderValue *v =
        rc ? NULL : g->placeholders[0];
    size_t n = v ? v->n_values : 0;
    if (!rc && (n == 0 || n > QV_SEARCH_MAX_NQ))
        rc = qv_fail(err, QV_E_INVALID, "nq (%zu) must be in [1, %d]", n,
                     QV_SEARCH_MAX_NQ);
    if (!rc && nq_req && (size_t)nq_req != n)
        rc = qv_fail(err, QV_E_INVALID,
                     "nq is %lld but %zu vectors were "
                     "sent",
                     (long long)nq_req, n);
    bool binary = f->type == QV_DT_BINARY_VECTOR;
    size_t dim = f->dim, row = binary ? dim / 8 : dim * sizeof(float);
    uint8_t *buf = rc ? NULL : qv_arena_try_alloc(a, n, row ? row : 1);
    if (!rc && !buf)
        rc = qv_fail(err, QV_E_NOMEM, "search: out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const ProtobufCBinaryData *b = &v->values[i];
        int t = v->type;
        uint8_t *dst = buf + i * row;
        if (binary &&
            t == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__BinaryVector &&
            b->len == row) {
            memcpy(dst, b->data, row);
        } else if (!binary &&
                   t == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector &&
                   b->len == dim * 4) {
            memcpy(dst, b->data, row);
        } else if (
            !binary &&
            (t == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Float16Vector ||
             t == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__BFloat16Vector) &&
            b->len == dim * 2) {
            float *o = (float *)(void *)dst;
            for (size_t j = 0; j < dim; j++) {
                uint16_t h;
                memcpy(&h, b->data + 2 * j, 2);
                if (t ==
                    MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Float16Vector) {
                    o[j] = half_to_float(h);
                } else {
                    uint32_t x = (uint32_t)h << 16;
                    memcpy(&o[j], &x, 4);
                }
            }
        } else if (!binary &&
                   t == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Int8Vector &&
                   b->len == dim) {
            float *o = (float *)(void *)dst;
            for (size_t j = 0; j < dim; j++)
                o[j] = (float)(int8_t)b->data[j];
        } else {
            rc = qv_fail(err, QV_E_INVALID,
                         "query vector %zu does not match field '%s' (%s, "
                         "dim %u): placeholder type %d with %zu bytes",
                         i, f->name, qv_dtype_name(f->type), f->dim, t, b->len);
        }
        if (!rc && !binary) {
            const float *o = (const float *)(const void *)dst;
            for (size_t j = 0; j < dim && !rc; j++)
                if (!isfinite(o[j]))
                    rc = qv_fail(err, QV_E_INVALID,
                                 "query vector %zu has a NaN or infinite "
                                 "value",
                                 i);
        }
    }
    milvus__proto__common__placeholder_group__free_unpacked(g, NULL);
    if (!rc) {
        out->data = buf;
        out->len = n * row;
        *nq = n;
    }
    return rc;
}

typedef struct search_in {
    size_t field; /* ctx index of the vector field */
    qv_metric metric;
    size_t nq, topk, offset;
    int64_t round;
    ProtobufCBinaryData queries;
    char *index_params; /* JSON object for the query nodes ("" = none) */
    bool metric_given;  /* metric_type was sent (else the index's) */
    size_t nout;        /* output fields besides the PK */
    int group;          /* ctx index of group_by_field, or -1 */
    int64_t group_id;
    size_t group_size;
    bool group_strict;
} search_in;

/* Hits per query a shard may answer: (topk + offset) groups of group_size
 * when grouping. */
static size_t shard_k(const search_in *in)
{
    return (in->topk + in->offset) * (in->group >= 0 ? in->group_size : 1);
}

/* Index search parameters the SDKs also send as pairs of their own. */
static const char *const index_keys[] = {"ef",
                                         "nprobe",
                                         "radius",
                                         "range_filter",
                                         "level",
                                         "reorder_k",
                                         "search_list",
                                         "max_empty_result_buckets",
                                         "hnsw_filter_mode",
                                         "itopk_size",
                                         "drop_ratio_search"};

static bool key_in(const qv_json_val *obj, const char *key)
{
    qv_json_val v;
    return obj->type == QV_JSON_OBJECT &&
           qv_json_member(obj, key, strlen(key), &v);
}

/* Appends "key": "value" (value: a plain token, no quotes or escapes). */
static qv_code put_pair(qv_buf *b, bool *first, const char *key,
                        const char *val, qv_err *err)
{
    for (const char *c = val; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            return qv_fail(err, QV_E_INVALID,
                           "search parameter %s '%s' is malformed", key, val);
    qv_code rc = qv_buf_append(b, *first ? "\"" : ", \"", *first ? 1 : 3);
    if (!rc)
        rc = qv_buf_append(b, key, strlen(key));
    if (!rc)
        rc = qv_buf_append(b, "\": \"", 4);
    if (!rc)
        rc = qv_buf_append(b, val, strlen(val));
    if (!rc)
        rc = qv_buf_append(b, "\"", 1);
    *first = false;
    return rc ? qv_fail(err, rc, "search: out of memory") : QV_OK;
}

/* The index search parameters as one JSON object for the query nodes: the
 * members of the `params` JSON, then the known keys sent as pairs of their
 * own that `params` lacks.  Checked here (radius / range_filter) so a bad
 * value fails before any query node is asked. */
static qv_code index_params(qv_arena *a, kvp **kv, size_t n, search_in *in,
                            qv_err *err)
{
    const char *pj = param(kv, n, "params");
    qv_json_val root = {QV_JSON_INVALID, NULL, 0};
    qv_code rc = QV_OK;
    if (pj && pj[0]) {
        rc = qv_json_validate(pj, strlen(pj), err);
        root = rc ? root : qv_json_root(pj, strlen(pj));
        if (!rc && root.type != QV_JSON_OBJECT)
            rc = qv_fail(err, QV_E_INVALID,
                         "search params must be a JSON object");
        if (rc)
            return rc;
    }
    qv_buf b;
    qv_buf_init(&b, 1 << 16);
    bool first = true;
    if (root.type == QV_JSON_OBJECT) {
        /* the object without its closing brace, members kept as sent */
        size_t end = root.len - 1;
        rc = qv_buf_append(&b, root.p, end);
        qv_json_iter it;
        qv_json_val k, v;
        qv_json_obj_iter_init(&it, &root);
        first = !qv_json_obj_next(&it, &k, &v);
    } else {
        rc = qv_buf_append(&b, "{", 1);
    }
    for (size_t i = 0; !rc && i < sizeof index_keys / sizeof index_keys[0];
         i++) {
        const char *v = param(kv, n, index_keys[i]);
        if (v && v[0] && !key_in(&root, index_keys[i]))
            rc = put_pair(&b, &first, index_keys[i], v, err);
    }
    if (!rc && in->group >= 0) {
        char v[32];
        (void)snprintf(v, sizeof v, "%lld", (long long)in->group_id);
        rc = put_pair(&b, &first, "group_by_field_id", v, err);
        (void)snprintf(v, sizeof v, "%zu", in->group_size);
        if (!rc)
            rc = put_pair(&b, &first, "group_size", v, err);
        if (!rc)
            rc = put_pair(&b, &first, "strict_group_size",
                          in->group_strict ? "true" : "false", err);
    }
    if (!rc)
        rc = qv_buf_append(&b, "}", 1);
    if (!rc) {
        qv_search_req chk = {.metric = in->metric};
        qv_params prm;
        rc = qv_search_params_parse(b.data, b.len, &chk, &prm, err);
        bool any = prm.n > 0;
        qv_search_params_free(&prm);
        in->index_params = qv_arena_strdup(a, !rc && any ? b.data : "");
    }
    qv_buf_release(&b);
    return rc;
}

/* metric_type "" = the index's metric (when the field has an index of the
 * right kind), then the index parameters for the query nodes. */
static qv_code finish_params(qv_proxy *p, qv_rpc_call *call,
                             const qv_coll_ctx *c, const M(SearchRequest) * rq,
                             search_in *in, qv_err *err)
{
    const qv_field_spec *f = &c->specs[in->field];
    if (!in->metric_given) {
        bool has = false;
        qv_metric m = in->metric;
        qv_err e = {0};
        if (qv_proxy__index_metric(p, call, c, rq->collection_name, f, &has, &m,
                                   &e) == QV_OK &&
            has && qv_metric_is_binary(m) == (f->type == QV_DT_BINARY_VECTOR))
            in->metric = m;
    }
    return index_params(qv_rpc_call_arena(call), rq->search_params,
                        rq->n_search_params, in, err);
}

/* group_by_field (a Bool, Int or VarChar field), group_size [1, 1024],
 * strict_group_size; not with range search. */
static qv_code group_params(const qv_coll_ctx *c, kvp **kv, size_t n,
                            search_in *in, qv_err *err)
{
    in->group = -1;
    in->group_size = 1;
    const char *g = param(kv, n, "group_by_field");
    if (!g || !g[0])
        return QV_OK;
    int f = qv_coll_ctx_field(c, g);
    if (f < 0 || (int)f == c->dyn || !qv_search_group_type_ok(c->specs[f].type))
        return qv_fail(err, QV_E_INVALID,
                       "group_by_field '%s' is not a Bool, Int or VarChar "
                       "field",
                       g);
    const char *r = param(kv, n, "radius");
    if (r && r[0])
        return qv_fail(err, QV_E_INVALID,
                       "range search cannot group by a field");
    int64_t gs;
    qv_code rc = int_param(kv, n, "group_size", 1, 1, QV_SEARCH_MAX_GROUP_SIZE,
                           &gs, err);
    if (rc)
        return rc;
    const char *st = param(kv, n, "strict_group_size");
    in->group = f;
    in->group_id = c->specs[f].id;
    in->group_size = (size_t)gs;
    in->group_strict = st && (strcmp(st, "true") == 0 ||
                              strcmp(st, "True") == 0 || strcmp(st, "1") == 0);
    return QV_OK;
}

static qv_code parse_params(qv_arena *a, const qv_coll_ctx *c,
                            const M(SearchRequest) * rq, search_in *in,
                            qv_err *err)
{
    kvp **kv = rq->search_params;
    size_t n = rq->n_search_params;
    const char *anns = param(kv, n, "anns_field");
    int f = -1;
    if (anns && anns[0]) {
        f = qv_coll_ctx_field(c, anns);
        if (f < 0 || !qv_dtype_is_vector(c->specs[f].type))
            return qv_fail(err, QV_E_INVALID,
                           "anns_field '%s' is not a vector field", anns);
    } else {
        for (size_t i = 0; i < c->nfields && f < 0; i++)
            if (qv_dtype_is_vector(c->specs[i].type))
                f = (int)i;
    }
    if (f < 0)
        return qv_fail(err, QV_E_INVALID,
                       "the collection has no vector "
                       "field");
    in->field = (size_t)f;
    const qv_field_spec *spec = &c->specs[f];
    if (spec->type == QV_DT_SPARSE_FLOAT_VECTOR)
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "search on sparse vectors is not supported yet");
    qv_code rc = group_params(c, kv, n, in, err);
    if (rc)
        return rc;
    int64_t topk, offset;
    rc = int_param(kv, n, "topk", 100, 1, QV_SEARCH_MAX_TOPK, &topk, err);
    if (!rc)
        rc = int_param(kv, n, "offset", 0, 0, QV_SEARCH_MAX_TOPK, &offset, err);
    if (!rc)
        rc = int_param(kv, n, "round_decimal", -1, -1, 6, &in->round, err);
    if (rc)
        return rc;
    if (topk + offset > QV_SEARCH_MAX_TOPK)
        return qv_fail(err, QV_E_INVALID,
                       "topk + offset (%lld) must be at most %d",
                       (long long)(topk + offset), QV_SEARCH_MAX_TOPK);
    in->topk = (size_t)topk;
    in->offset = (size_t)offset;
    if (shard_k(in) > QV_SEARCH_MAX_TOPK)
        return qv_fail(err, QV_E_INVALID,
                       "(topk + offset) * group_size (%zu) must be at most "
                       "%d",
                       shard_k(in), QV_SEARCH_MAX_TOPK);
    const char *m = param(kv, n, "metric_type");
    bool binary = spec->type == QV_DT_BINARY_VECTOR;
    if (m && m[0]) {
        if ((rc = qv_metric_parse(m, &in->metric, err)))
            return rc;
        in->metric_given = true;
        if (qv_metric_is_binary(in->metric) != binary)
            return qv_fail(err, QV_E_INVALID,
                           "metric %s does not apply to field '%s' (%s)", m,
                           spec->name, qv_dtype_name(spec->type));
    } else {
        in->metric = binary ? QV_METRIC_HAMMING : QV_METRIC_COSINE;
    }
    if (rq->search_input_case ==
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_IDS)
        return rc; /* vectors fetched later (by_ids) */
    if (rq->search_input_case !=
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP)
        return qv_fail(err, QV_E_INVALID, "search: no query vectors");
    return qv_proxy__decode_queries(a, &rq->placeholder_group, spec, rq->nq,
                                    &in->queries, &in->nq, err);
}

/* One merged hit: shard s, row r of that shard's answer. */
typedef struct mhit {
    float score;
    uint32_t s;
    int64_t r;
} mhit;

static bool same_group(const qv_pk *a, const qv_pk *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == QV_DT_VARCHAR)
        return a->len == b->len && (a->len == 0 || !memcmp(a->s, b->s, a->len));
    return a->type == QV_DT_NONE || a->i == b->i;
}

/* Hits of the first `groups` groups of a grouped merge (hits of a group
 * are together). */
static size_t group_hits(const qv_hit *h, size_t n, size_t groups)
{
    size_t i = 0;
    for (size_t g = 0; g < groups && i < n; g++) {
        size_t j = i + 1;
        while (j < n && same_group(&h[j].group, &h[i].group))
            j++;
        i = j;
    }
    return i;
}

static qv_code merge(qv_arena *a, const qv_coll_ctx *c, const search_in *in,
                     shard_resp **resp, qv_column ***cols, size_t S, mhit **out,
                     int64_t *topks, size_t *total, qv_err *err)
{
    size_t K = shard_k(in), nc = 1 + in->nout;
    mhit *res = qv_arena_try_alloc(a, in->nq * in->topk * in->group_size + 1,
                                   sizeof *res);
    qv_hit *buf = qv_arena_try_alloc(a, K + 1, sizeof *buf);
    const qv_hit **lists = qv_arena_calloc(a, S + 1, sizeof *lists);
    size_t *counts = qv_arena_calloc(a, S + 1, sizeof *counts);
    size_t *first = qv_arena_calloc(a, S + 1, sizeof *first);
    if (!res || !buf)
        return qv_fail(err, QV_E_NOMEM, "search: out of memory");
    bool larger = qv_metric_larger_is_closer(in->metric);
    (void)c;
    size_t m = 0;
    for (size_t q = 0; q < in->nq; q++) {
        for (size_t s = 0; s < S; s++) {
            size_t cnt = (size_t)resp[s]->counts[q];
            qv_hit *l = qv_arena_calloc(a, cnt + 1, sizeof *l);
            qv_col_view pk = qv_column_view(cols[s][0]);
            qv_col_view gv = in->group >= 0 ? qv_column_view(cols[s][nc]) : pk;
            for (size_t j = 0; j < cnt; j++) {
                size_t r = first[s] + j;
                l[j] = (qv_hit){.distance = resp[s]->distances[r],
                                .seg = (uint32_t)s,
                                .row = (int64_t)r,
                                .ts = resp[s]->row_ts[r],
                                .pk = qv_pk_of_row(&pk, r)};
                if (in->group >= 0)
                    l[j].group = qv_hit_group_of(&gv, r);
            }
            lists[s] = l;
            counts[s] = cnt;
            first[s] += cnt;
        }
        size_t got, skip = in->offset;
        if (in->group >= 0) {
            size_t ng;
            bool full;
            got =
                qv_hits_merge_grouped(lists, counts, S, in->topk + in->offset,
                                      in->group_size, larger, buf, &ng, &full);
            skip = group_hits(buf, got, in->offset);
        } else {
            got = qv_hits_merge(lists, counts, S, K, larger, buf);
        }
        size_t k = 0;
        for (size_t j = skip; j < got; j++, k++) {
            float sc = buf[j].distance;
            if (in->round >= 0) {
                double p = pow(10.0, (double)in->round);
                sc = (float)(round((double)sc * p) / p);
            }
            res[m++] = (mhit){sc, buf[j].seg, buf[j].row};
        }
        topks[q] = (int64_t)k;
    }
    *out = res;
    *total = m;
    return QV_OK;
}

static M(SearchResults) * results(qv_arena *a, qv_code rc, const qv_err *err)
{
    M(SearchResults) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__search_results__init(r);
    r->status =
        qv_proxy__status(a, rc, QV_SUBJ_COLLECTION, rc ? err->msg : NULL);
    return r;
}

static void free_col(void *c)
{
    qv_column_free(c);
}

/* The group values of the hits (the group field's column, last of each
 * shard's columns). */
static qv_code group_values(qv_arena *a, const qv_coll_ctx *c,
                            qv_column ***cols, size_t nc, const mhit *hits,
                            size_t n, size_t field,
                            Milvus__Proto__Schema__FieldData **fd, qv_err *err)
{
    qv_column *col = NULL;
    qv_code rc = qv_column_create(&c->specs[field], &col, err);
    for (size_t i = 0; !rc && i < n; i++) {
        qv_col_view v = qv_column_view(cols[hits[i].s][nc]);
        rc = qv_column_append_rows(col, &v, &hits[i].r, 1, err);
    }
    if (col) {
        qv_column_publish(col);
        qv_arena_on_release(a, free_col, col);
    }
    if (!rc)
        rc = qv_proxy__fielddata(a, c, NULL, field, col, fd, err);
    return rc;
}

static qv_code build_data(qv_arena *a, const qv_coll_ctx *c,
                          const search_in *in, const qv_outputs *out,
                          qv_column ***cols, const mhit *hits, size_t n,
                          int64_t *topks, M(SearchResults) * r, qv_err *err)
{
    Milvus__Proto__Schema__SearchResultData *d = qv_arena_alloc(a, sizeof *d);
    milvus__proto__schema__search_result_data__init(d);
    d->num_queries = (int64_t)in->nq;
    d->top_k = (int64_t)in->topk;
    d->topks = topks;
    d->n_topks = in->nq;
    d->scores = qv_arena_try_alloc(a, n + 1, sizeof(float));
    if (!d->scores)
        return qv_fail(err, QV_E_NOMEM, "search: out of memory");
    for (size_t i = 0; i < n; i++)
        d->scores[i] = hits[i].score;
    d->n_scores = n;
    size_t nc = 1 + out->n;
    d->fields_data = qv_arena_calloc(a, nc + 1, sizeof(*d->fields_data));
    qv_code rc = QV_OK;
    for (size_t f = 0; !rc && f < nc; f++) {
        size_t idx = f == 0 ? c->pk : (size_t)out->idx[f - 1];
        qv_column *col = NULL;
        rc = qv_column_create(&c->specs[idx], &col, err);
        for (size_t i = 0; !rc && i < n; i++) {
            qv_col_view v = qv_column_view(cols[hits[i].s][f]);
            rc = qv_column_append_rows(col, &v, &hits[i].r, 1, err);
        }
        if (col) {
            qv_column_publish(col);
            qv_arena_on_release(a, free_col, col);
        }
        if (!rc)
            rc = qv_proxy__fielddata(a, c, out, idx, col, &d->fields_data[f],
                                     err);
        if (!rc && f == 0) {
            qv_col_view v = qv_column_view(col);
            rc = qv_proxy__ids(a, &v, &d->ids, err);
        }
    }
    d->n_fields_data = nc;
    d->output_fields = out->names;
    d->n_output_fields = out->nnames;
    d->primary_field_name = (char *)c->specs[c->pk].name;
    if (!rc && in->group >= 0)
        rc = group_values(a, c, cols, nc, hits, n, (size_t)in->group,
                          &d->group_by_field_value, err);
    r->results = d;
    return rc;
}

/* Search by primary keys: the query vectors are the stored vectors of the
 * keys, in the order given; a missing key is an error. */
static qv_code by_ids(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                      const Milvus__Proto__Schema__IDs *ids, search_in *in,
                      qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    const qv_field_spec *pks = &c->specs[c->pk];
    size_t n = 0;
    qv_expr_value *vals = NULL;
    if (ids &&
        ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID &&
        pks->type == QV_DT_INT64) {
        n = ids->int_id->n_data;
        vals = qv_arena_calloc(a, n + 1, sizeof *vals);
        for (size_t i = 0; i < n; i++)
            vals[i] = (qv_expr_value){.kind = QV_EXPR_INT,
                                      .u.i = ids->int_id->data[i]};
    } else if (ids &&
               ids->id_field_case ==
                   MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID &&
               pks->type == QV_DT_VARCHAR) {
        n = ids->str_id->n_data;
        vals = qv_arena_calloc(a, n + 1, sizeof *vals);
        for (size_t i = 0; i < n; i++)
            vals[i] = (qv_expr_value){
                .kind = QV_EXPR_STR,
                .u.s = {ids->str_id->data[i], strlen(ids->str_id->data[i])}};
    } else {
        return qv_fail(err, QV_E_INVALID,
                       "search ids must match the primary key type");
    }
    if (n == 0 || n > QV_SEARCH_MAX_NQ)
        return qv_fail(err, QV_E_INVALID, "nq (%zu) must be in [1, %d]", n,
                       QV_SEARCH_MAX_NQ);
    qv_expr_param prm = {.name = "ids",
                         .value = {.kind = QV_EXPR_ARRAY, .u.a = {vals, n}}};
    char text[300];
    snprintf(text, sizeof text, "%s in {ids}", pks->name);
    qv_expr_plan *plan = NULL;
    qv_code rc =
        qv_expr_parse(text, strlen(text), &c->xschema, &prm, 1, &plan, err);
    qv_column *pkc = NULL, *vc = NULL;
    if (!rc)
        rc = qv_proxy__fetch_field(p, call, c, plan, in->field, &pkc, &vc, err);
    qv_expr_plan_free(plan);
    if (rc)
        return rc;
    const qv_field_spec *f = &c->specs[in->field];
    bool binary = f->type == QV_DT_BINARY_VECTOR;
    size_t row = binary ? f->dim / 8 : f->dim * sizeof(float);
    uint8_t *buf = qv_arena_try_alloc(a, n, row);
    if (!buf)
        return qv_fail(err, QV_E_NOMEM, "search: out of memory");
    qv_col_view pv = qv_column_view(pkc), vv = qv_column_view(vc);
    for (size_t i = 0; i < n; i++) {
        qv_pk want = vals[i].kind == QV_EXPR_INT
                         ? qv_pk_int(vals[i].u.i)
                         : qv_pk_str(vals[i].u.s.ptr, vals[i].u.s.len);
        size_t r = 0;
        for (; r < pv.rows; r++) {
            qv_pk got = qv_pk_of_row(&pv, r);
            if (qv_pk_cmp(&got, &want) == 0)
                break;
        }
        if (r == pv.rows)
            return qv_fail(err, QV_E_INVALID,
                           "search id %zu does not exist in the collection", i);
        const uint8_t *src = qv_col_fixed(&vv, r);
        float *dst = (float *)(void *)(buf + i * row);
        if (binary || f->type == QV_DT_FLOAT_VECTOR) {
            memcpy(buf + i * row, src, row);
        } else if (f->type == QV_DT_INT8_VECTOR) {
            for (size_t j = 0; j < f->dim; j++)
                dst[j] = (float)(int8_t)src[j];
        } else {
            for (size_t j = 0; j < f->dim; j++) {
                uint16_t h;
                memcpy(&h, src + 2 * j, 2);
                if (f->type == QV_DT_FLOAT16_VECTOR) {
                    dst[j] = half_to_float(h);
                } else {
                    uint32_t x = (uint32_t)h << 16;
                    memcpy(&dst[j], &x, 4);
                }
            }
        }
    }
    in->queries.data = buf;
    in->queries.len = n * row;
    in->nq = n;
    return QV_OK;
}

/* A shard's answer must be self-consistent before the merge indexes it. */
static qv_code check_shard(const shard_resp *r, qv_column **cols, size_t nc,
                           size_t k, qv_err *err)
{
    size_t total = 0;
    for (size_t q = 0; q < r->n_counts; q++) {
        if (r->counts[q] < 0 || (size_t)r->counts[q] > k)
            return qv_fail(err, QV_E_INTERNAL,
                           "query node answered %lld hits for top %zu",
                           (long long)r->counts[q], k);
        total += (size_t)r->counts[q];
    }
    bool ok = r->n_distances == total && r->n_row_ts == total;
    for (size_t f = 0; ok && f < nc; f++)
        ok = qv_column_rows(cols[f]) == total;
    if (!ok)
        return qv_fail(err, QV_E_INTERNAL,
                       "query node answered inconsistent hit arrays");
    return QV_OK;
}

/* What every shard request shares. */
typedef struct shard_ask {
    ProtobufCBinaryData plan;
    qv_ts guarantee;
    uint64_t travel;
} shard_ask;

/* SearchBatch for qv_proxy__call_grouped. */
static ProtobufCMessage *search_batch(qv_arena *a, ProtobufCMessage **reqs,
                                      size_t n)
{
    Quiver__Internal__ShardSearchBatchRequest *b = qv_arena_alloc(a, sizeof *b);
    quiver__internal__shard_search_batch_request__init(b);
    b->requests = (Quiver__Internal__ShardSearchRequest **)reqs;
    b->n_requests = n;
    return &b->base;
}

static const Milvus__Proto__Common__Status *
search_batch_status(const ProtobufCMessage *m, size_t *n,
                    ProtobufCMessage ***answers)
{
    const Quiver__Internal__ShardSearchBatchResponse *r = (const void *)m;
    *n = r->n_responses;
    *answers = (ProtobufCMessage **)r->responses;
    return r->status;
}

const qv_grouped_rpc qv_proxy__search_rpc = {
    .one_method = "Search",
    .batch_method = "SearchBatch",
    .one_resp = &quiver__internal__shard_search_response__descriptor,
    .batch_resp = &quiver__internal__shard_search_batch_response__descriptor,
    .batch = search_batch,
    .unbatch = search_batch_status};

/* Asks every shard's leader and checks the answers. */
static qv_code ask_shards(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                          const search_in *in, const qv_outputs *out,
                          const shard_ask *sa, const qv_read_plan *rp,
                          shard_resp **resp, qv_column ***cols, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    size_t S = c->nshards, nc = 1 + out->n + (in->group >= 0);
    Quiver__Internal__ShardSearchRequest **reqs =
        qv_arena_calloc(a, S + 1, sizeof *reqs);
    /* grouping: the group field's column comes back last */
    int64_t *ids = qv_arena_calloc(a, out->n + 2, sizeof(int64_t));
    if (out->n)
        memcpy(ids, out->ids, out->n * sizeof(int64_t));
    if (in->group >= 0)
        ids[out->n] = in->group_id;
    for (size_t s = 0; s < S; s++) {
        Quiver__Internal__ShardSearchRequest *q = qv_arena_alloc(a, sizeof *q);
        quiver__internal__shard_search_request__init(q);
        q->collection_id = c->id;
        q->vchannel = rp->leaders[s]->vchannel;
        q->guarantee_ts = sa->guarantee;
        q->travel_ts = sa->travel;
        q->timeout_ms = qv_proxy__read_wait(p, call);
        q->plan = sa->plan;
        q->field_id = c->specs[in->field].id;
        q->metric = (int32_t)in->metric;
        q->nq = (int64_t)in->nq;
        q->topk = (int64_t)(in->topk + in->offset);
        /* grouping: topk + offset groups (search_params carries the rest) */
        q->queries = in->queries;
        q->partition_ids = rp->partitions;
        q->n_partition_ids = rp->npartitions;
        q->output_field_ids = ids;
        q->n_output_field_ids = nc - 1;
        q->search_params = in->index_params;
        reqs[s] = q;
    }
    const char **addrs = qv_arena_calloc(a, S + 1, sizeof *addrs);
    for (size_t s = 0; s < S; s++)
        addrs[s] = rp->leaders[s]->address;
    qv_code rc = qv_proxy__call_grouped(call, &qv_proxy__search_rpc, addrs,
                                        (ProtobufCMessage **)reqs, S,
                                        (ProtobufCMessage **)resp, err);
    for (size_t s = 0; !rc && s < S; s++) {
        rc = qv_proxy__status_of(resp[s]->status, err);
        if (!rc && (resp[s]->n_columns != nc || resp[s]->n_counts != in->nq))
            rc = qv_fail(err, QV_E_INTERNAL,
                         "query node answered %zu "
                         "columns, %zu queries",
                         resp[s]->n_columns, resp[s]->n_counts);
        cols[s] = qv_arena_calloc(a, nc + 1, sizeof(qv_column *));
        for (size_t f = 0; !rc && f < nc; f++)
            rc =
                qv_proxy__load_image(a, &resp[s]->columns[f], &cols[s][f], err);
        if (!rc)
            rc = check_shard(resp[s], cols[s], nc, shard_k(in), err);
    }
    return rc;
}

static qv_code run_search(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                          const M(SearchRequest) * rq, search_in *in,
                          const qv_outputs *out, M(SearchResults) * r,
                          qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    qv_expr_plan *plan = NULL;
    shard_ask sa = {{0, NULL}, 0, 0};
    qv_code rc = qv_coll_ctx_parse(
        c, a, rq->dsl, (const void *const *)rq->expr_template_values,
        rq->n_expr_template_values, &plan, err);
    if (!rc)
        rc = qv_proxy__plan_bytes(a, plan, &sa.plan, err);
    qv_expr_plan_free(plan);
    if (!rc && rq->search_input_case ==
                   MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_IDS)
        rc = by_ids(p, call, c, rq->ids, in, err);
    if (!rc)
        rc = qv_proxy__guarantee(p, call, c, rq->consistency_level,
                                 rq->use_default_consistency,
                                 rq->guarantee_timestamp, &sa.guarantee, err);
    if (!rc)
        rc = qv_proxy__travel(rq->search_params, rq->n_search_params,
                              rq->travel_timestamp, &sa.travel, err);
    size_t S = c->nshards;
    shard_resp **resp = qv_arena_calloc(a, S + 1, sizeof *resp);
    qv_column ***cols = qv_arena_calloc(a, S + 1, sizeof *cols);
    /* cached leaders first; when the shards fail with them, once more with
     * the coord's answer */
    for (int attempt = 0; !rc && attempt < 2; attempt++) {
        qv_read_plan rp;
        bool cached = false;
        rc = qv_proxy__search_leaders(p, call, c, rq->partition_names,
                                      rq->n_partition_names, attempt == 0, &rp,
                                      &cached, err);
        if (!rc)
            rc = ask_shards(p, call, c, in, out, &sa, &rp, resp, cols, err);
        if (!rc || !cached || !qv_proxy__route_stale(rc))
            break;
        qv_proxy__search_forget(p, c->id);
        rc = QV_OK;
    }
    mhit *hits = NULL;
    size_t total = 0;
    int64_t *topks = qv_arena_calloc(a, in->nq + 1, sizeof(int64_t));
    if (!rc)
        rc = merge(a, c, in, resp, cols, S, &hits, topks, &total, err);
    if (!rc)
        rc = build_data(a, c, in, out, cols, hits, total, topks, r, err);
    return rc;
}

qv_code qv_proxy__search(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const M(SearchRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_proxy__db(call, rq->db_name);
    qv_coll_ctx c;
    qv_outputs out;
    search_in in = {0};
    qv_code rc = qv_coll_ctx_get(p, call, db, rq->collection_name, &c, err);
    if (!rc && rq->n_sub_reqs > 0)
        rc = qv_fail(err, QV_E_UNSUPPORTED,
                     "search with sub-requests is not supported yet");
    if (!rc)
        rc = parse_params(a, &c, rq, &in, err);
    if (!rc)
        rc = finish_params(p, call, &c, rq, &in, err);
    if (!rc)
        rc = qv_proxy__outputs(a, &c, rq->output_fields, rq->n_output_fields,
                               true, &out, err);
    if (!rc && out.count)
        rc = qv_fail(err, QV_E_INVALID, "count(*) is not an output of search");
    in.nout = out.n;
    M(SearchResults) *r = results(a, rc, err);
    if (!rc)
        rc = run_search(p, call, &c, rq, &in, &out, r, err);
    if (rc)
        r = results(a, rc, err);
    r->collection_name = rq->collection_name;
    *resp = &r->base;
    return QV_OK;
}
