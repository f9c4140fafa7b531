/* test_proxy.c -- the proxy's first RPCs over a real gRPC connection:
 * Connect, GetVersion, CheckHealth, telemetry and unknown methods. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/rpc/rpc_client.h"
#include "milvus/milvus.pb-c.h"
#include "proxy/build_info.h"
#include "proxy/proxy.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SVC "/milvus.proto.milvus.MilvusService/"

typedef struct fixture {
    qv_proxy *p;
    qv_rpc_channel *ch;
    qv_arena a;
    atomic_int done;
    atomic_int unimplemented;
} fixture;

static void on_done(const char *m, int st, int64_t ns, void *ud)
{
    fixture *f = ud;
    (void)m, (void)ns;
    atomic_fetch_add(&f->done, 1);
    if (st == GRPC_STATUS_UNIMPLEMENTED)
        atomic_fetch_add(&f->unimplemented, 1);
}

static qv_code sick(void *ud, qv_err *err)
{
    (void)ud;
    return qv_fail(err, QV_E_UNAVAILABLE, "meta store 'etcd' unreachable");
}

static void start(fixture *f, qv_proxy_health_fn health)
{
    memset(f, 0, sizeof *f);
    qv_proxy_options o = {.host = "127.0.0.1",
                          .port = 0,
                          .workers = 2,
                          .on_call_done = on_done,
                          .on_call_done_data = f,
                          .health = health};
    qv_err err;
    cr_assert_eq(qv_proxy_create(&o, &f->p, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proxy_start(f->p, &err), QV_OK, "%s", err.msg);
    cr_assert_gt(qv_proxy_port(f->p), 0);
    char target[64];
    (void)snprintf(target, sizeof target, "127.0.0.1:%d", qv_proxy_port(f->p));
    cr_assert_eq(qv_rpc_channel_open(target, &f->ch, &err), QV_OK);
    qv_arena_init(&f->a, 4096);
}

static void stop(fixture *f)
{
    qv_rpc_channel_close(f->ch);
    qv_proxy_destroy(f->p);
    qv_arena_release(&f->a);
}

static ProtobufCMessage *call(fixture *f, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = NULL;
    qv_err err;
    qv_rpc_md md[] = {{"dbname", "default"}};
    qv_rpc_call_opts o = {.timeout_ms = 5000, .md = md, .n_md = 1};
    cr_assert_eq(qv_rpc_unary(f->ch, method, req, d, &f->a, &m, &o, &err),
                 QV_OK, "%s", err.msg);
    return m;
}

Test(proxy, connect_returns_distinct_identifiers_and_server_info)
{
    fixture f;
    start(&f, NULL);
    Milvus__Proto__Common__ClientInfo ci =
        MILVUS__PROTO__COMMON__CLIENT_INFO__INIT;
    ci.sdk_type = (char *)"nodejs";
    ci.sdk_version = (char *)"3.0.6";
    Milvus__Proto__Milvus__ConnectRequest rq =
        MILVUS__PROTO__MILVUS__CONNECT_REQUEST__INIT;
    rq.client_info = &ci;
    const ProtobufCMessageDescriptor *d =
        &milvus__proto__milvus__connect_response__descriptor;
    Milvus__Proto__Milvus__ConnectResponse *r1 =
        (void *)call(&f, SVC "Connect", &rq.base, d);
    Milvus__Proto__Milvus__ConnectResponse *r2 =
        (void *)call(&f, SVC "Connect", &rq.base, d);
    cr_assert_not_null(r1->status);
    cr_assert_eq(r1->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__Success);
    cr_assert_eq(r1->status->code, 0);
    cr_assert_neq(r1->identifier, 0);
    cr_assert_neq(r2->identifier, 0);
    cr_assert_neq(r1->identifier, r2->identifier);
    const Milvus__Proto__Common__ServerInfo *si = r1->server_info;
    cr_assert_not_null(si);
    const qv_build_info *b = qv_build_info_get();
    cr_assert_str_eq(si->build_tags, b->version);
    cr_assert_str_eq(si->git_commit, b->git_commit);
    cr_assert_str_eq(si->build_time, b->build_time);
    cr_assert_str_eq(si->deploy_mode, "STANDALONE");
    cr_assert_gt(strlen(si->go_version), 0);
    cr_assert_eq(si->n_reserved, 2);
    cr_assert_str_eq(si->reserved[0]->key, "server");
    cr_assert_str_eq(si->reserved[0]->value, "quiver");
    stop(&f);
}

Test(proxy, get_version_is_the_build_version_and_semver_like)
{
    fixture f;
    start(&f, NULL);
    Milvus__Proto__Milvus__GetVersionRequest rq =
        MILVUS__PROTO__MILVUS__GET_VERSION_REQUEST__INIT;
    Milvus__Proto__Milvus__GetVersionResponse *r =
        (void *)call(&f, SVC "GetVersion", &rq.base,
                     &milvus__proto__milvus__get_version_response__descriptor);
    cr_assert_not_null(r->status);
    cr_assert_eq(r->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__Success);
    cr_assert_str_eq(r->version, qv_build_info_get()->version);
    unsigned maj, min, pat;
    cr_assert_eq(sscanf(r->version, "v%u.%u.%u", &maj, &min, &pat), 3,
                 "version '%s'", r->version);
    stop(&f);
}

Test(proxy, check_health_reports_healthy_and_the_probe_reason)
{
    fixture f;
    start(&f, NULL);
    Milvus__Proto__Milvus__CheckHealthRequest rq =
        MILVUS__PROTO__MILVUS__CHECK_HEALTH_REQUEST__INIT;
    const ProtobufCMessageDescriptor *d =
        &milvus__proto__milvus__check_health_response__descriptor;
    Milvus__Proto__Milvus__CheckHealthResponse *r =
        (void *)call(&f, SVC "CheckHealth", &rq.base, d);
    cr_assert_not_null(r->status);
    cr_assert(r->ishealthy);
    cr_assert_eq(r->n_reasons, 0);
    stop(&f);

    start(&f, sick);
    r = (void *)call(&f, SVC "CheckHealth", &rq.base, d);
    cr_assert_not_null(r->status);
    cr_assert_eq(r->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__Success);
    cr_assert_not(r->ishealthy);
    cr_assert_eq(r->n_reasons, 1);
    cr_assert_str_eq(r->reasons[0], "meta store 'etcd' unreachable");
    stop(&f);
}

Test(proxy, telemetry_and_unknown_methods_are_unimplemented)
{
    fixture f;
    start(&f, NULL);
    Milvus__Proto__Milvus__ClientHeartbeatRequest hb =
        MILVUS__PROTO__MILVUS__CLIENT_HEARTBEAT_REQUEST__INIT;
    const char *methods[] = {
        "/milvus.proto.milvus.ClientTelemetryService/ClientHeartbeat",
        SVC "NoSuchMethod"};
    for (int i = 0; i < 2; i++) {
        ProtobufCMessage *m = NULL;
        int st = -1;
        qv_rpc_call_opts o = {.timeout_ms = 5000, .status_out = &st};
        qv_err err;
        qv_code rc = qv_rpc_unary(
            f.ch, methods[i], &hb.base,
            &milvus__proto__milvus__client_heartbeat_response__descriptor, NULL,
            &m, &o, &err);
        cr_assert_eq(rc, QV_E_UNSUPPORTED, "%s", err.msg);
        cr_assert_eq(st, GRPC_STATUS_UNIMPLEMENTED);
    }
    qv_proxy_stop(f.p);
    cr_assert_eq(atomic_load(&f.unimplemented), 2);
    cr_assert_eq(atomic_load(&f.done), 2);
    stop(&f);
}

Test(proxy, second_proxy_on_the_same_port_fails_clearly)
{
    fixture f;
    start(&f, NULL);
    qv_proxy_options o = {.host = "127.0.0.1", .port = qv_proxy_port(f.p)};
    qv_proxy *p2;
    qv_err err;
    cr_assert_eq(qv_proxy_create(&o, &p2, &err), QV_OK);
    cr_assert_neq(qv_proxy_start(p2, &err), QV_OK);
    char want[64];
    (void)snprintf(want, sizeof want, "127.0.0.1:%d", qv_proxy_port(f.p));
    cr_assert(strstr(err.msg, want) && strstr(err.msg, "in use"), "%s",
              err.msg);
    qv_proxy_destroy(p2);
    stop(&f);
}

Test(proxy, unreadable_tls_certificate_fails_at_start_naming_the_file)
{
    qv_proxy_options o = {.host = "127.0.0.1",
                          .tls_cert_file = "/nonexistent/quiver.pem",
                          .tls_key_file = "/nonexistent/quiver.key"};
    qv_proxy *p;
    qv_err err;
    cr_assert_eq(qv_proxy_create(&o, &p, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proxy_start(p, &err), QV_E_IO, "%s", err.msg);
    cr_assert(strstr(err.msg, "/nonexistent/quiver.pem"), "%s", err.msg);
    qv_proxy_destroy(p);
}
