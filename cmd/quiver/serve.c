/* serve.c -- `quiver standalone` and `quiver run <role>`: start the
 * process's services, wait for SIGINT/SIGTERM, shut down cleanly.
 *
 * Order at start: logging, data directory lock (standalone), metrics and
 * HTTP, the meta KV, the proxy (standalone, run proxy), the query node,
 * the coord (standalone, run coord), then the datanode (standalone, run
 * datanode; it needs the object store and a shared log); the process reports
 * healthy only when all of them serve (standalone: the coord is active).
 * Standalone's proxy reaches its coord over gRPC on loopback, found through
 * meta KV exactly as in a cluster. Shutdown stops the proxy first (no new
 * client calls; calls in flight to the coord finish), then the coord, the meta
 * KV, HTTP and the lock.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/quiver/cli.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"
#include "common/rpc/rpc_server.h"
#include "datanode/server.h"
#include "indexnode/indexnode.h"
#include "proxy/build_info.h"
#include "proxy/proxy.h"
#include "querynode/qnserver.h"

static qv_code setup_logging(const qv_config *cfg, qv_err *err)
{
    qv_log_level level = QV_LOG_INFO;
    if (!qv_log_level_parse(qv_config_str(cfg, "log.level"), &level))
        return qv_fail(err, QV_E_INVALID, "bad log.level");
    qv_log_set_level(level);
    qv_log_set_json(strcmp(qv_config_str(cfg, "log.format"), "json") == 0);
    const char *file = qv_config_str(cfg, "log.file");
    if (file[0]) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return qv_fail_errno(err, QV_E_IO, "cannot open log file '%s'",
                                 file);
        qv_log_set_fd(fd);
    }
    return QV_OK;
}

/* Blocks the shutdown signals in every thread created from now on, so that
 * only sigwait() in the main thread sees them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static qv_code start_proxy(const qv_config *cfg, const char *deploy_mode,
                           metakv *kv, wal *log, qv_proxy **out, qv_err *err)
{
    char root[512];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    qv_proxy_options opts = {
        .kv = kv,
        .meta_root = root,
        .session_ttl_s =
            (int64_t)(qv_config_duration_ms(cfg, "session.ttl") + 999) / 1000,
        .host = qv_config_str(cfg, "proxy.listenAddress"),
        .port = (int)qv_config_int(cfg, "proxy.port"),
        .workers = (size_t)qv_config_int(cfg, "proxy.workerThreads"),
        .deploy_mode = deploy_mode,
        .max_recv_bytes = (int64_t)qv_config_size(cfg, "proxy.maxRecvMsgSize"),
        .shutdown_grace_ms =
            (int64_t)qv_config_duration_ms(cfg, "proxy.shutdownTimeout"),
        .on_call_done = qv_observe_rpc_done,
        .log = log,
        .retention_ms = qv_cli_retention_ms(cfg),
        /* Kafka: under the broker's default message.max.bytes. */
        .max_record_bytes =
            strcmp(qv_config_str(cfg, "wal.backend"), "kafka") == 0 ? 900000
                                                                    : 8u << 20,
    };
    qv_proxy *p;
    rc = qv_proxy_create(&opts, &p, err);
    if (rc)
        return rc;
    rc = qv_proxy_start(p, err);
    if (rc) {
        qv_proxy_destroy(p);
        return rc;
    }
    *out = p;
    return QV_OK;
}

/* The query node: standalone's on loopback and any free port, found by
 * the coord through its session; `run querynode` on queryNode.*. */
static qv_code start_querynode(const qv_config *cfg, metakv *kv, wal *log,
                               objstore *os, bool standalone, qv_qnode **out,
                               qv_err *err)
{
    char root[512];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    qv_qnode_options o = {
        .kv = kv,
        .log = log,
        .root = root,
        .host = standalone ? "127.0.0.1"
                           : qv_config_str(cfg, "queryNode.listenAddress"),
        .port = standalone ? 0 : (int)qv_config_int(cfg, "queryNode.port"),
        .advertise = standalone
                         ? NULL
                         : qv_config_str(cfg, "queryNode.advertiseAddress"),
        .session_ttl_s =
            (int64_t)(qv_config_duration_ms(cfg, "session.ttl") + 999) / 1000,
        .os = os,
        .cache_dir = qv_config_str(cfg, "queryNode.cacheDir"),
        .memory_limit = qv_config_size(cfg, "queryNode.memoryLimit"),
    };
    rc = qv_qnode_create(&o, out, err);
    if (!rc && (rc = qv_qnode_start(*out, err))) {
        qv_qnode_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* The datanode: standalone's on loopback and any free port; `run datanode`
 * on dataNode.*.  Found by the coord through its session. */
static qv_code start_datanode(const qv_config *cfg, metakv *kv, wal *log,
                              objstore *os, bool standalone, qv_dnode **out,
                              qv_err *err)
{
    char root[512];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    qv_dnode_options o = {
        .kv = kv,
        .log = log,
        .os = os,
        .root = root,
        .host = standalone ? "127.0.0.1"
                           : qv_config_str(cfg, "dataNode.listenAddress"),
        .port = standalone ? 0 : (int)qv_config_int(cfg, "dataNode.port"),
        .advertise =
            standalone ? NULL : qv_config_str(cfg, "dataNode.advertiseAddress"),
        .session_ttl_s =
            (int64_t)(qv_config_duration_ms(cfg, "session.ttl") + 999) / 1000,
    };
    rc = qv_dnode_create(&o, out, err);
    if (!rc && (rc = qv_dnode_start(*out, err))) {
        qv_dnode_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* The indexnode: standalone's on loopback and any free port; `run
 * indexnode` on indexNode.*.  Found by the coord through its session. */
static qv_code start_indexnode(const qv_config *cfg, metakv *kv, objstore *os,
                               bool standalone, qv_inode **out, qv_err *err)
{
    char root[512];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    qv_inode_options o = {
        .kv = kv,
        .os = os,
        .root = root,
        .host = standalone ? "127.0.0.1"
                           : qv_config_str(cfg, "indexNode.listenAddress"),
        .port = standalone ? 0 : (int)qv_config_int(cfg, "indexNode.port"),
        .advertise = standalone
                         ? NULL
                         : qv_config_str(cfg, "indexNode.advertiseAddress"),
        .session_ttl_s =
            (int64_t)(qv_config_duration_ms(cfg, "session.ttl") + 999) / 1000,
        .slots = (uint32_t)qv_config_int(cfg, "indexNode.buildSlots"),
        .threads = (uint32_t)qv_config_int(cfg, "indexNode.buildThreads"),
    };
    rc = qv_inode_create(&o, out, err);
    if (!rc && (rc = qv_inode_start(*out, err))) {
        qv_inode_destroy(*out);
        *out = NULL;
    }
    return rc;
}

typedef struct services {
    int lock_fd;
    qv_observe *observe;
    metakv *kv;
    wal *log;
    objstore *os; /* segments and indexes (datanode, querynode, indexnode,
                     coord's GC); NULL for roles that need none */
    qv_coord *coord;
    qv_proxy *proxy;
    qv_qnode *qnode;
    qv_inode *inode;
    qv_dnode *dnode;
} services;

static void stop_services(services *s)
{
    if (s->observe)
        qv_observe_set_healthy(s->observe, 0);
    if (s->proxy) {
        qv_proxy_stop(s->proxy);
        qv_proxy_destroy(s->proxy);
    }
    qv_dnode_destroy(s->dnode); /* before the coord its commits go to */
    qv_coord_destroy(s->coord);
    qv_qnode_destroy(s->qnode);
    if (s->log)
        wal_close(s->log);
    if (s->os)
        objstore_close(s->os);
    if (s->kv)
        metakv_close(s->kv);
    qv_observe_stop(s->observe);
    qv_datadir_unlock(s->lock_fd);
}

static qv_code start_services(const qv_config *cfg, const char *role,
                              services *s, qv_err *err)
{
    qv_code rc = QV_OK;
    bool standalone = role == NULL;
    /* all roles in this process: their calls to each other skip gRPC */
    qv_rpc_local_enable(standalone);
    /* unary handlers on the completion-queue threads: one hand-off less */
    qv_rpc_server_inline_default(true);
    if (standalone)
        rc = qv_datadir_lock(qv_config_str(cfg, "localStorage.path"),
                             &s->lock_fd, err);
    if (!rc)
        rc = qv_observe_start(cfg, standalone ? "standalone" : role,
                              &s->observe, err);
    if (!rc)
        rc = qv_cli_open_metakv(cfg, standalone, &s->kv, err);
    if (!rc && standalone)
        rc = qv_cli_clear_sessions(cfg, s->kv, err);
    if (!rc)
        rc = qv_cli_open_wal(cfg, standalone, &s->log, err);
    /* Roles that read or write segments open it as they join (datanode,
     * querynode, indexnode); the coord's GC once it has one. */
    bool datanode = !standalone && strcmp(role, "datanode") == 0;
    if (!rc && datanode && !s->log)
        rc = qv_fail(err, QV_E_INVALID,
                     "quiver run datanode needs wal.backend: kafka");
    /* a query node without S3 serves what it reads from the log only */
    bool querynode = !standalone && strcmp(role, "querynode") == 0 &&
                     strcmp(qv_config_str(cfg, "objstore.backend"), "s3") == 0;
    /* the coord's GC deletes objects: with S3 only (coord_gc) */
    bool coord_gc = !standalone && strcmp(role, "coord") == 0 &&
                    strcmp(qv_config_str(cfg, "objstore.backend"), "s3") == 0;
    if (!rc && (standalone || datanode || querynode || coord_gc))
        rc = qv_cli_open_objstore(cfg, standalone, &s->os, err);
    bool indexnode = !standalone && strcmp(role, "indexnode") == 0;
    if (!rc && indexnode)
        rc = qv_cli_open_objstore(cfg, false, &s->os, err);
    /* The proxy binds its public port before the coord takes a free port,
     * so the two can never collide; DDL that arrives before the coord is
     * active waits for it. */
    if (!rc && (standalone || strcmp(role, "proxy") == 0))
        rc = start_proxy(cfg, standalone ? "STANDALONE" : "CLUSTER", s->kv,
                         s->log, &s->proxy, err);
    if (!rc && !standalone && strcmp(role, "querynode") == 0 && !s->log)
        rc = qv_fail(err, QV_E_INVALID,
                     "quiver run querynode needs wal.backend: kafka");
    if (!rc && s->log && (standalone || strcmp(role, "querynode") == 0))
        rc = start_querynode(cfg, s->kv, s->log, s->os, standalone, &s->qnode,
                             err);
    if (!rc && (standalone || strcmp(role, "coord") == 0))
        rc = qv_cli_start_coord(cfg, s->kv, s->log, s->os, standalone,
                                &s->coord, err);
    if (!rc && s->log && (standalone || datanode))
        rc = start_datanode(cfg, s->kv, s->log, s->os, standalone, &s->dnode,
                            err);
    if (!rc && (standalone || indexnode))
        rc = start_indexnode(cfg, s->kv, s->os, standalone, &s->inode, err);
    return rc;
}

int qv_cli_serve(const qv_config *cfg, const char *role)
{
    qv_err err = {0};
    if (setup_logging(cfg, &err) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err.msg);
        return QV_EXIT_FAILURE;
    }
    if (role && strcmp(role, "proxy") != 0 && strcmp(role, "coord") != 0 &&
        strcmp(role, "querynode") != 0 && strcmp(role, "indexnode") != 0 &&
        strcmp(role, "datanode") != 0) {
        fprintf(stderr,
                "quiver: role '%s' cannot run as its own process in this "
                "version; use 'quiver standalone', 'quiver run coord', "
                "'quiver run proxy', 'quiver run querynode', 'quiver run "
                "datanode' or 'quiver run indexnode'\n",
                role);
        return QV_EXIT_FAILURE;
    }
    sigset_t sigs;
    block_signals(&sigs);

    services s = {.lock_fd = -1};
    if (start_services(cfg, role, &s, &err) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err.msg);
        stop_services(&s);
        return QV_EXIT_FAILURE;
    }
    qv_observe_set_healthy(s.observe, 1);
    QV_LOG(QV_LOG_INFO, "quiver",
           "quiver %s %s serving: grpc %s:%d, http port %d%s%s",
           qv_build_info_get()->version, role ? role : "standalone",
           s.proxy   ? qv_config_str(cfg, "proxy.listenAddress")
           : s.coord ? qv_config_str(cfg, "coord.listenAddress")
           : s.dnode ? qv_config_str(cfg, "dataNode.listenAddress")
                     : qv_config_str(cfg, "queryNode.listenAddress"),
           s.proxy   ? qv_proxy_port(s.proxy)
           : s.coord ? qv_coord_port(s.coord)
           : s.dnode ? qv_dnode_port(s.dnode)
                     : (s.qnode ? qv_qnode_port(s.qnode) : 0),
           qv_observe_http_port(s.observe), role ? "" : ", data ",
           role ? "" : qv_config_str(cfg, "localStorage.path"));

    int sig = 0;
    sigwait(&sigs, &sig);
    QV_LOG(QV_LOG_INFO, "quiver", "received %s, shutting down",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop_services(&s);
    QV_LOG(QV_LOG_INFO, "quiver", "stopped");
    return QV_EXIT_OK;
}
