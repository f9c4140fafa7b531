/* observe.c -- process metrics and the HTTP server (/healthz, /metrics). */
#include <stdlib.h>
#include <string.h>

#include "cmd/quiver/cli.h"
#include "common/alloc.h"
#include "common/httpd/httpd.h"
#include "common/log.h"
#include "common/metrics/metrics.h"
#include "proto/rpc_status.h"
#include "proxy/build_info.h"

struct qv_observe {
    qv_httpd *http;
    int healthy; /* atomic */
};

static qv_metric_family *rpc_total, *rpc_latency, *http_total;

void qv_observe_rpc_done(const char *method, int grpc_code, int64_t duration_ns,
                         void *ud)
{
    (void)ud;
    /* "/milvus.proto.milvus.MilvusService/Search" -> "Search" */
    const char *slash = strrchr(method, '/');
    const char *short_name = slash ? slash + 1 : method;
    const char *l2[] = {short_name, qv_rpc_status_grpc_name(grpc_code)};
    const char *l1[] = {short_name};
    qv_metric_add(rpc_total, l2, 1);
    qv_metric_observe(rpc_latency, l1, (double)duration_ns / 1e9);
}

static void on_healthz(void *ud, const char *method, const char *path,
                       qv_http_response *resp)
{
    qv_observe *o = ud;
    (void)method;
    (void)path;
    const char *l[] = {"/healthz"};
    qv_metric_add(http_total, l, 1);
    int ok = __atomic_load_n(&o->healthy, __ATOMIC_ACQUIRE);
    resp->status = ok ? 200 : 503;
    if (qv_buf_appends(&resp->body, ok ? "OK\n" : "not ready\n"))
        resp->status = 500;
}

static void on_metrics(void *ud, const char *method, const char *path,
                       qv_http_response *resp)
{
    (void)ud;
    (void)method;
    (void)path;
    const char *l[] = {"/metrics"};
    qv_metric_add(http_total, l, 1);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (qv_metrics_render(&resp->body) != QV_OK) {
        resp->status = 500;
        qv_buf_reset(&resp->body);
    }
}

static void register_metrics(const char *role)
{
    static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,  0.1,    0.25,  0.5,
                                        1,      2.5,   5,      10};
    const char *ml[] = {"method", "code", NULL};
    const char *m1[] = {"method", NULL};
    const char *pl[] = {"path", NULL};
    const char *bl[] = {"version", "commit", "role", NULL};
    rpc_total = qv_metrics_counter("quiver_rpc_requests_total",
                                   "gRPC requests served, by method and "
                                   "status",
                                   ml);
    rpc_latency = qv_metrics_histogram(
        "quiver_rpc_latency_seconds", "gRPC request latency by method", m1,
        lat_bounds, sizeof(lat_bounds) / sizeof(lat_bounds[0]));
    http_total = qv_metrics_counter("quiver_http_requests_total",
                                    "HTTP requests served, by path", pl);
    qv_metric_family *info = qv_metrics_gauge(
        "quiver_build_info", "build identity of this process (always 1)", bl);
    const qv_build_info *bi = qv_build_info_get();
    const char *bv[] = {bi->version, bi->git_commit, role};
    qv_metric_set(info, bv, 1);
}

qv_code qv_observe_start(const qv_config *cfg, const char *role,
                         qv_observe **out, qv_err *err)
{
    register_metrics(role);
    qv_observe *o = QV_NEW(qv_observe);
    if (qv_config_bool(cfg, "http.enabled")) {
        o->http = qv_httpd_create();
        qv_httpd_route(o->http, "/healthz", on_healthz, o);
        qv_httpd_route(o->http, "/metrics", on_metrics, o);
        qv_code rc =
            qv_httpd_start(o->http, qv_config_str(cfg, "http.listenAddress"),
                           (int)qv_config_int(cfg, "http.port"), err);
        if (rc) {
            qv_observe_stop(o);
            return rc;
        }
    }
    *out = o;
    return QV_OK;
}

int qv_observe_http_port(const qv_observe *o)
{
    return o->http ? qv_httpd_port(o->http) : 0;
}

void qv_observe_set_healthy(qv_observe *o, int healthy)
{
    __atomic_store_n(&o->healthy, healthy, __ATOMIC_RELEASE);
}

void qv_observe_stop(qv_observe *o)
{
    if (!o)
        return;
    qv_httpd_destroy(o->http);
    free(o);
}
