/* search_params.c -- ShardSearchRequest.search_params (a JSON object of
 * index search parameters) into key/value strings and range bounds
 * (search.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/json/json.h"
#include "querynode/search.h"

#define MAX_PARAMS 64
#define MAX_VALUE  256

void qv_search_params_free(qv_params *params)
{
    for (size_t i = 0; i < params->n; i++) {
        free((char *)params->kv[i].key);
        free((char *)params->kv[i].value);
    }
    free((qv_kv *)params->kv);
    params->kv = NULL;
    params->n = 0;
}

/* The value text of v: numbers as written, strings decoded, booleans. */
static char *value_text(const qv_json_val *v)
{
    switch (v->type) {
    case QV_JSON_NUMBER:
        return qv_xstrndup(v->p, v->len);
    case QV_JSON_TRUE:
        return qv_xstrdup("true");
    case QV_JSON_FALSE:
        return qv_xstrdup("false");
    case QV_JSON_STRING: {
        char buf[MAX_VALUE];
        size_t n = qv_json_string_decode(v, buf, sizeof buf - 1);
        if (n >= sizeof buf - 1)
            return NULL;
        return qv_xstrndup(buf, n);
    }
    default:
        return NULL; /* null, arrays and objects are not index params */
    }
}

static const char *find(const qv_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kv[i].key, key) == 0)
            return p->kv[i].value;
    return NULL;
}

static qv_code float_of(const char *key, const char *v, float *out, qv_err *err)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || fabs(d) > 3.0e38)
        return qv_fail(err, QV_E_INVALID,
                       "search parameter %s '%s' is not a finite number", key,
                       v);
    *out = (float)d;
    return QV_OK;
}

/* Fills the range fields of req from radius / range_filter. */
static qv_code range_of(const qv_params *p, qv_search_req *req, qv_err *err)
{
    const char *r = find(p, "radius"), *f = find(p, "range_filter");
    req->has_range = false;
    req->has_range_filter = false;
    if (!r) {
        if (f)
            return qv_fail(err, QV_E_INVALID,
                           "search parameter range_filter needs radius");
        return QV_OK;
    }
    qv_code rc = float_of("radius", r, &req->radius, err);
    if (!rc && f)
        rc = float_of("range_filter", f, &req->range_filter, err);
    if (rc)
        return rc;
    req->has_range = true;
    req->has_range_filter = f != NULL;
    if (f) {
        bool larger = qv_metric_larger_is_closer(req->metric);
        bool ok = larger ? req->range_filter > req->radius
                         : req->range_filter < req->radius;
        if (!ok)
            return qv_fail(err, QV_E_INVALID,
                           "range_filter (%s) must be %s than radius (%s) "
                           "for metric %s",
                           f, larger ? "greater" : "less", r,
                           qv_metric_name(req->metric));
    }
    return QV_OK;
}

/* group_by_field_id / group_size / strict_group_size (the proxy puts
 * them in; the index library ignores them). */
static qv_code group_of(const qv_params *p, qv_search_req *req, qv_err *err)
{
    const char *f = find(p, "group_by_field_id"), *g = find(p, "group_size"),
               *st = find(p, "strict_group_size");
    req->group_field_id = 0;
    req->group_size = 1;
    req->group_strict = false;
    if (!f)
        return QV_OK;
    char *end;
    long long id = strtoll(f, &end, 10);
    if (end == f || *end || id <= 0)
        return qv_fail(err, QV_E_INVALID,
                       "group_by_field_id '%s' is not a "
                       "field id",
                       f);
    req->group_field_id = id;
    if (g) {
        long long v = strtoll(g, &end, 10);
        if (end == g || *end || v < 1 || v > QV_SEARCH_MAX_GROUP_SIZE)
            return qv_fail(err, QV_E_INVALID,
                           "group_size '%s' is out of range [1, %d]", g,
                           QV_SEARCH_MAX_GROUP_SIZE);
        req->group_size = (size_t)v;
    }
    req->group_strict = st && (strcmp(st, "true") == 0 || strcmp(st, "1") == 0);
    return QV_OK;
}

qv_code qv_search_params_parse(const char *json, size_t n, qv_search_req *req,
                               qv_params *params, qv_err *err)
{
    params->kv = NULL;
    params->n = 0;
    req->params = NULL;
    req->has_range = req->has_range_filter = false;
    req->group_field_id = 0;
    req->group_size = 1;
    req->group_strict = false;
    if (!json || n == 0)
        return QV_OK;
    qv_err e = {0};
    qv_code rc = qv_json_validate(json, n, &e);
    if (rc)
        return qv_fail(err, QV_E_INVALID, "search params: %s", e.msg);
    qv_json_val root = qv_json_root(json, n);
    if (root.type != QV_JSON_OBJECT)
        return qv_fail(err, QV_E_INVALID,
                       "search params must be a JSON object");
    qv_kv *kv = QV_NEW_ARRAY(qv_kv, MAX_PARAMS);
    size_t cnt = 0;
    qv_json_iter it;
    qv_json_val k, v;
    qv_json_obj_iter_init(&it, &root);
    while (!rc && qv_json_obj_next(&it, &k, &v)) {
        char key[64];
        size_t kl = qv_json_string_decode(&k, key, sizeof key - 1);
        if (kl >= sizeof key - 1)
            continue; /* not a parameter name of ours */
        key[kl] = 0;
        char *val = value_text(&v);
        if (!val)
            continue;
        bool dup = false;
        for (size_t i = 0; i < cnt && !dup; i++)
            dup = strcmp(kv[i].key, key) == 0;
        if (dup) {
            free(val); /* the first member wins (json.h) */
            continue;
        }
        if (cnt == MAX_PARAMS) {
            free(val);
            rc = qv_fail(err, QV_E_INVALID, "search params: more than %d keys",
                         MAX_PARAMS);
            break;
        }
        kv[cnt].key = qv_xstrdup(key);
        kv[cnt].value = val;
        cnt++;
    }
    params->kv = kv;
    params->n = cnt;
    if (!rc)
        rc = range_of(params, req, err);
    if (!rc)
        rc = group_of(params, req, err);
    if (rc) {
        qv_search_params_free(params);
        return rc;
    }
    req->params = params;
    return QV_OK;
}
