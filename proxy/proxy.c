/* proxy.c -- proxy lifecycle: options, handler registration, start/stop. */
#include "proxy/proxy.h"

#include <stdlib.h>
#include <time.h>

#include "common/alloc.h"
#include "proxy/build_info.h"
#include "proxy/proxy_int.h"

Milvus__Proto__Common__Status *
qv_proxy__status(qv_arena *a, qv_code c, qv_subject what, const char *reason)
{
    Milvus__Proto__Common__Status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, c, what, reason);
    return st;
}

qv_code qv_proxy_create(const qv_proxy_options *opts, qv_proxy **out,
                        qv_err *err)
{
    if (!opts)
        return qv_fail(err, QV_E_INVALID, "proxy: no options");
    qv_proxy *p = QV_NEW(qv_proxy);
    p->opts = *opts;
    p->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    p->version = qv_xstrdup(opts->version && *opts->version
                                ? opts->version
                                : qv_build_info_get()->version);
    p->deploy_mode =
        qv_xstrdup(opts->deploy_mode ? opts->deploy_mode : "STANDALONE");
    p->opts.host = p->host;
    p->opts.version = p->version;
    p->opts.deploy_mode = p->deploy_mode;
    /* Identifiers: unique per connection and, being time-based, unlikely
     * to repeat across restarts. */
    atomic_store(&p->next_identifier, (long long)time(NULL) * 1000);

    qv_rpc_server_opts so = {
        .host = p->host,
        .port = opts->port,
        .workers = opts->workers,
        .max_recv_bytes = opts->max_recv_bytes,
        .shutdown_grace_ms = opts->shutdown_grace_ms,
        .on_call_done = opts->on_call_done,
        .on_call_done_data = opts->on_call_done_data,
        .tls_cert_file = opts->tls_cert_file,
        .tls_key_file = opts->tls_key_file,
        .tls_client_ca_file = opts->tls_client_ca_file,
    };
    qv_code rc = qv_rpc_server_create(&so, &p->srv, err);
    /* The RPC server keeps its own copies of the TLS paths. */
    p->opts.tls_cert_file = p->opts.tls_key_file = NULL;
    p->opts.tls_client_ca_file = NULL;
    for (size_t i = 0; rc == QV_OK && i < qv_proxy__n_rpcs; i++) {
        qv_rpc_method m = {.name = qv_proxy__rpcs[i].name,
                           .kind = QV_RPC_UNARY,
                           .req_desc = qv_proxy__rpcs[i].req_desc,
                           .unary = qv_proxy__rpcs[i].fn,
                           .user_data = p};
        rc = qv_rpc_server_register(p->srv, &m, err);
    }
    if (rc != QV_OK) {
        qv_proxy_destroy(p);
        return qv_err_prefix(err, "proxy");
    }
    *out = p;
    return QV_OK;
}

qv_code qv_proxy_start(qv_proxy *p, qv_err *err)
{
    qv_code rc = qv_rpc_server_start(p->srv, err);
    if (rc != QV_OK)
        return qv_err_prefix(err, "proxy");
    return QV_OK;
}

int qv_proxy_port(const qv_proxy *p)
{
    return qv_rpc_server_port(p->srv);
}

void qv_proxy_stop(qv_proxy *p)
{
    if (p && p->srv)
        qv_rpc_server_shutdown(p->srv);
}

void qv_proxy_destroy(qv_proxy *p)
{
    if (!p)
        return;
    qv_rpc_server_destroy(p->srv);
    free(p->host);
    free(p->version);
    free(p->deploy_mode);
    free(p);
}
