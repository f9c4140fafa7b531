/* proxy.c -- proxy lifecycle: options, handler registration, start/stop. */
#include "proxy/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "proxy/build_info.h"
#include "proxy/proxy_int.h"
#include "proxy/proxy_read.h"

Milvus__Proto__Common__Status *
qv_proxy__status(qv_arena *a, qv_code c, qv_subject what, const char *reason)
{
    Milvus__Proto__Common__Status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, c, what, reason);
    return st;
}

ProtobufCMessage *qv_proxy__reply(qv_arena *a,
                                  const ProtobufCMessageDescriptor *desc,
                                  qv_code rc, const qv_err *err)
{
    const char *why = err && err->msg[0] ? err->msg : qv_code_name(rc);
    Milvus__Proto__Common__Status *st = qv_proxy__status(
        a, rc, QV_SUBJ_NONE, rc ? qv_arena_strdup(a, why) : NULL);
    if (desc == &milvus__proto__common__status__descriptor)
        return &st->base;
    ProtobufCMessage *m = qv_arena_calloc(a, 1, desc->sizeof_message);
    desc->message_init(m);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(desc, "status");
    if (f && f->type == PROTOBUF_C_TYPE_MESSAGE)
        *(Milvus__Proto__Common__Status **)((char *)m + f->offset) = st;
    return m;
}

const char *qv_proxy__db(qv_rpc_call *call, const char *db_name)
{
    if (db_name && db_name[0])
        return db_name;
    const char *h = qv_rpc_call_metadata(call, "dbname");
    return h && h[0] ? h : "default";
}

qv_code qv_proxy__forward(qv_proxy *p, qv_rpc_call *call, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, qv_err *err)
{
    if (!p->link)
        return qv_fail(err, QV_E_NOT_READY,
                       "this proxy has no coord (no meta KV configured)");
    /* Keep a tenth of what is left (at least 50 ms) to answer in: a
     * client should get the coord's error ("no active coord"), not its
     * own deadline. */
    int64_t left = qv_rpc_call_ms_left(call);
    int64_t margin = left / 10 > 50 ? left / 10 : 50;
    int64_t t = left < 60000 ? left - margin : 60000;
    if (t <= 0)
        return qv_fail(err, QV_E_TIMEOUT, "%s: the call's deadline passed",
                       method);
    return qv_coord_link_call(p->link, method, req, resp_desc,
                              qv_rpc_call_arena(call), resp, t, err);
}

qv_code qv_proxy__check_name(const char *what, const char *name, qv_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return qv_fail(err, QV_E_INVALID, "%s name must not be empty", what);
    if (n > 255)
        return qv_fail(err, QV_E_INVALID,
                       "%s name '%.40s...' is longer than 255 characters", what,
                       name);
    unsigned char c0 = (unsigned char)name[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
        return qv_fail(err, QV_E_INVALID,
                       "%s name '%s': the first character must be a letter "
                       "or an underscore",
                       what, name);
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return qv_fail(err, QV_E_INVALID,
                           "%s name '%s' may contain only letters, digits "
                           "and underscores",
                           what, name);
    }
    return QV_OK;
}

qv_code qv_proxy_create(const qv_proxy_options *opts, qv_proxy **out,
                        qv_err *err)
{
    if (!opts)
        return qv_fail(err, QV_E_INVALID, "proxy: no options");
    qv_proxy *p = QV_NEW(qv_proxy);
    p->opts = *opts;
    if (opts->retention_ms)
        qv_proxy__set_retention_ms(opts->retention_ms);
    p->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    p->version = qv_xstrdup(opts->version && *opts->version
                                ? opts->version
                                : qv_build_info_get()->version);
    p->deploy_mode =
        qv_xstrdup(opts->deploy_mode ? opts->deploy_mode : "STANDALONE");
    p->opts.host = p->host;
    p->opts.version = p->version;
    p->opts.deploy_mode = p->deploy_mode;
    p->meta_root = qv_xstrdup(opts->meta_root ? opts->meta_root : "quiver/");
    p->advertise = qv_xstrdup(opts->advertise ? opts->advertise : "");
    p->opts.meta_root = p->meta_root;
    p->opts.advertise = NULL;
    if (opts->kv)
        p->link = qv_coord_link_create(opts->kv, p->meta_root);
    p->cache = qv_meta_cache_create(opts->kv, p->meta_root);
    pthread_mutex_init(&p->tt_mu, NULL);
    pthread_cond_init(&p->tt_cv, NULL);
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
    if (rc == QV_OK)
        rc = qv_rpc_server_register_unary(p->srv, qv_proxy__rpcs,
                                          qv_proxy__n_rpcs, p, err);
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
    if (rc == QV_OK && p->opts.kv)
        rc = qv_proxy__session_start(p, err);
    if (rc != QV_OK)
        return qv_err_prefix(err, "proxy");
    if (p->opts.kv && p->opts.log)
        qv_proxy__tt_start(p);
    return QV_OK;
}

int qv_proxy_port(const qv_proxy *p)
{
    return qv_rpc_server_port(p->srv);
}

void qv_proxy_stop(qv_proxy *p)
{
    if (!p)
        return;
    if (p->srv)
        qv_rpc_server_shutdown(p->srv);
    qv_proxy__tt_stop(p);
    qv_proxy__session_stop(p);
}

void qv_proxy_destroy(qv_proxy *p)
{
    if (!p)
        return;
    qv_rpc_server_destroy(p->srv);
    qv_proxy__tt_stop(p);
    qv_proxy__session_stop(p);
    free(p->lw);
    pthread_mutex_destroy(&p->tt_mu);
    pthread_cond_destroy(&p->tt_cv);
    qv_meta_cache_destroy(p->cache);
    qv_coord_link_destroy(p->link);
    free(p->meta_root);
    free(p->advertise);
    free(p->host);
    free(p->version);
    free(p->deploy_mode);
    free(p);
}
