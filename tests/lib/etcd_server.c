/* etcd_server.c -- start/stop a real etcd for tests (see etcd_server.h). */
#include "tests/lib/etcd_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"

#define ETCD_READY_MS      20000
#define ETCD_STOP_GRACE_MS 5000
#define TOOL_TIMEOUT_MS    20000

/* Runs a helper command to completion (bounded); output goes to the log. */
static qv_code run_tool(qv_etcd_server *s, const char *const argv[],
                        qv_err *err)
{
    qv_proc tool = {0};
    char *log = qv_xasprintf("%s/tools.log", s->dir);
    qv_code rc = qv_proc_spawn(&tool, argv, log, err);
    if (rc == QV_OK) {
        uint64_t end = qv_mono_ms(qv_clock_system()) + TOOL_TIMEOUT_MS;
        while (qv_proc_alive(&tool) && qv_mono_ms(qv_clock_system()) < end)
            qv_sleep_ms(5);
        int st = 0;
        bool timed_out = qv_proc_alive(&tool);
        (void)qv_proc_stop(&tool, 0, &st, NULL);
        if (timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char *tail = qv_test_read_tail(log, 400);
            rc = qv_fail(err, QV_E_INTERNAL, "'%s %s' failed: %s", argv[0],
                         argv[1], tail ? tail : "");
            free(tail);
        }
    }
    qv_proc_release(&tool);
    free(log);
    return rc;
}

static qv_code make_cert(qv_etcd_server *s, qv_err *err)
{
    char *key = qv_xasprintf("%s/key.pem", s->dir);
    s->ca_file = qv_xasprintf("%s/cert.pem", s->dir);
    const char *argv[] = {"openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-keyout",
                          key,
                          "-out",
                          s->ca_file,
                          "-days",
                          "2",
                          "-subj",
                          "/CN=127.0.0.1",
                          "-addext",
                          "subjectAltName=IP:127.0.0.1,DNS:localhost",
                          NULL};
    qv_code rc = run_tool(s, argv, err);
    free(key);
    return rc;
}

/* Runs `etcdctl <args...>` against the server (bounded). */
static qv_code ctl(qv_etcd_server *s, const char *const *args, qv_err *err)
{
    char *ep = qv_xasprintf("--endpoints=%s://%s",
                            s->opts.tls ? "https" : "http", s->endpoint);
    char *ca = s->opts.tls ? qv_xasprintf("--cacert=%s", s->ca_file)
                           : qv_xstrdup("--insecure-transport=true");
    const char *argv[16] = {"etcdctl", ep, ca};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    qv_code rc = run_tool(s, argv, err);
    free(ep);
    free(ca);
    return rc;
}

/* Creates opts.user (root role, or read-write on opts.user_prefix only),
 * a root user with the same password, and enables auth. */
static qv_code enable_auth(qv_etcd_server *s, qv_err *err)
{
    char *pw = qv_xasprintf("--new-user-password=%s", s->opts.password);
    const char *user = s->opts.user;
    bool is_root = strcmp(user, "root") == 0;
    const char *add_user[] = {"user", "add", user, pw, NULL};
    const char *add_root[] = {"user", "add", "root", pw, NULL};
    const char *root_role[] = {"user", "grant-role", "root", "root", NULL};
    const char *add_role[] = {"role", "add", "quiver-rw", NULL};
    const char *perm[] = {"role",      "grant-permission", "--prefix",
                          "quiver-rw", "readwrite",        s->opts.user_prefix,
                          NULL};
    const char *user_role[] = {"user", "grant-role", user,
                               s->opts.user_prefix ? "quiver-rw" : "root",
                               NULL};
    const char *enable[] = {"auth", "enable", NULL};
    qv_code rc = ctl(s, add_user, err);
    if (rc == QV_OK && !is_root)
        rc = ctl(s, add_root, err);
    if (rc == QV_OK && !is_root)
        rc = ctl(s, root_role, err);
    if (rc == QV_OK && s->opts.user_prefix) {
        rc = ctl(s, add_role, err);
        if (rc == QV_OK)
            rc = ctl(s, perm, err);
    }
    if (rc == QV_OK)
        rc = ctl(s, user_role, err);
    if (rc == QV_OK)
        rc = ctl(s, enable, err);
    free(pw);
    return rc;
}

/* Spawns etcd on the current ports (does not wait). */
static qv_code spawn_member(qv_etcd_server *s, qv_err *err)
{
    const char *scheme = s->opts.tls ? "https" : "http";
    char *data = qv_xasprintf("%s/data", s->dir);
    char *log = qv_xasprintf("%s/etcd.log", s->dir);
    char *curl = qv_xasprintf("%s://127.0.0.1:%d", scheme, s->client_port);
    char *purl = qv_xasprintf("http://127.0.0.1:%d", s->peer_port);
    char *murl = qv_xasprintf("http://127.0.0.1:%d", s->metrics_port);
    char *cluster = s->cluster ? qv_xstrdup(s->cluster)
                               : qv_xasprintf("%s=%s", s->name, purl);
    char *key = qv_xasprintf("%s/key.pem", s->dir);
    const char *argv[40] = {"etcd",   "--name",
                            s->name,  "--data-dir",
                            data,     "--listen-client-urls",
                            curl,     "--advertise-client-urls",
                            curl,     "--listen-peer-urls",
                            purl,     "--initial-advertise-peer-urls",
                            purl,     "--initial-cluster",
                            cluster,  "--initial-cluster-state",
                            "new",    "--listen-metrics-urls",
                            murl,     "--heartbeat-interval",
                            "10",     "--election-timeout",
                            "100",    "--logger",
                            "zap",    "--log-outputs",
                            "stderr", "--log-level",
                            "warn",   NULL};
    int n = 29;
    if (s->opts.tls) {
        argv[n++] = "--cert-file";
        argv[n++] = s->ca_file;
        argv[n++] = "--key-file";
        argv[n++] = key;
    }
    char *progress = NULL;
    if (s->opts.progress_notify) {
        progress =
            qv_xasprintf("--experimental-watch-progress-notify-interval=%s",
                         s->opts.progress_notify);
        argv[n++] = progress;
    }
    argv[n] = NULL;
    qv_code rc = qv_proc_spawn(&s->proc, argv, log, err);
    free(data);
    free(log);
    free(curl);
    free(purl);
    free(murl);
    free(cluster);
    free(key);
    free(progress);
    return rc;
}

/* Waits until the member reports healthy (it has a leader). */
static qv_code wait_member(qv_etcd_server *s, qv_err *err)
{
    qv_code rc = qv_proc_wait_http(&s->proc, s->metrics_port, "/health",
                                   "\"health\":\"true\"", ETCD_READY_MS, err);
    if (rc != QV_OK) {
        (void)qv_proc_stop(&s->proc, 0, NULL, NULL);
        char *log = qv_xasprintf("%s/etcd.log", s->dir);
        char *tail = qv_test_read_tail(log, 600);
        (void)qv_err_prefix(err, "etcd on %s (log: %s)", s->endpoint,
                            tail ? tail : "");
        free(tail);
        free(log);
    }
    return rc;
}

/* Spawns etcd on the current ports and waits until it is healthy. */
static qv_code launch(qv_etcd_server *s, qv_err *err)
{
    qv_code rc = spawn_member(s, err);
    return rc == QV_OK ? wait_member(s, err) : rc;
}

static void pick_ports(qv_etcd_server *s)
{
    s->client_port = qv_test_free_port();
    do {
        s->peer_port = qv_test_free_port();
    } while (s->peer_port == s->client_port);
    do {
        s->metrics_port = qv_test_free_port();
    } while (s->metrics_port == s->client_port ||
             s->metrics_port == s->peer_port);
    (void)snprintf(s->endpoint, sizeof s->endpoint, "127.0.0.1:%d",
                   s->client_port);
}

qv_code qv_etcd_server_start(qv_etcd_server *s, const qv_etcd_server_opts *opts,
                             qv_err *err)
{
    memset(s, 0, sizeof *s);
    if (opts)
        s->opts = *opts;
    (void)snprintf(s->name, sizeof s->name, "quiver-test");
    qv_code rc = qv_test_mkdtemp("quiver-etcd-", &s->dir, err);
    if (rc != QV_OK)
        return rc;
    qv_test_cleanup_at_exit(s->dir);
    if (s->opts.tls && (rc = make_cert(s, err)) != QV_OK) {
        qv_etcd_server_destroy(s);
        return rc;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        pick_ports(s);
        rc = launch(s, err);
        if (rc == QV_OK)
            break;
        /* A port may have been taken between the probe and etcd's bind;
         * start over with a clean data dir and new ports. */
        char *data = qv_xasprintf("%s/data", s->dir);
        (void)qv_test_rmtree(data, NULL);
        free(data);
    }
    if (rc == QV_OK && s->opts.user)
        rc = enable_auth(s, err);
    if (rc != QV_OK)
        qv_etcd_server_destroy(s);
    return rc;
}

qv_code qv_etcd_server_stop(qv_etcd_server *s, qv_err *err)
{
    return qv_proc_stop(&s->proc, ETCD_STOP_GRACE_MS, NULL, err);
}

void qv_etcd_server_kill(qv_etcd_server *s)
{
    qv_proc_signal(&s->proc, SIGKILL);
    (void)qv_proc_stop(&s->proc, ETCD_STOP_GRACE_MS, NULL, NULL);
}

qv_code qv_etcd_server_restart(qv_etcd_server *s, qv_err *err)
{
    qv_code rc = qv_proc_stop(&s->proc, ETCD_STOP_GRACE_MS, NULL, err);
    if (rc != QV_OK)
        return rc;
    return launch(s, err);
}

void qv_etcd_server_destroy(qv_etcd_server *s)
{
    qv_proc_release(&s->proc);
    if (s->dir) {
        (void)qv_test_rmtree(s->dir, NULL);
        qv_test_cleanup_cancel(s->dir);
    }
    free(s->dir);
    free(s->ca_file);
    free(s->cluster);
    memset(s, 0, sizeof *s);
}

/* ---- clusters ------------------------------------------------------------ */

static bool port_used(const qv_etcd_server *m, size_t n, int port)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].client_port == port || m[i].peer_port == port ||
            m[i].metrics_port == port)
            return true;
    return false;
}

static qv_code cluster_try(qv_etcd_server *m, size_t n, qv_err *err);

qv_code qv_etcd_cluster_start(qv_etcd_server *m, size_t n, qv_err *err)
{
    /* A port may be taken between the probe and etcd's bind (other tests
     * run in parallel): start over with new ports and directories. */
    qv_code rc = QV_E_INTERNAL;
    for (int attempt = 0; attempt < 3 && rc != QV_OK; attempt++)
        rc = cluster_try(m, n, err);
    return rc;
}

static qv_code cluster_try(qv_etcd_server *m, size_t n, qv_err *err)
{
    memset(m, 0, n * sizeof *m);
    qv_code rc = QV_OK;
    qv_buf cluster = QV_BUF_INIT;
    for (size_t i = 0; i < n && rc == QV_OK; i++) {
        (void)snprintf(m[i].name, sizeof m[i].name, "m%zu", i);
        rc = qv_test_mkdtemp("quiver-etcd-", &m[i].dir, err);
        if (rc != QV_OK)
            break;
        qv_test_cleanup_at_exit(m[i].dir);
        do {
            pick_ports(&m[i]);
        } while (port_used(m, i, m[i].client_port) ||
                 port_used(m, i, m[i].peer_port) ||
                 port_used(m, i, m[i].metrics_port));
        rc = qv_buf_printf(&cluster, "%s%s=http://127.0.0.1:%d", i ? "," : "",
                           m[i].name, m[i].peer_port);
    }
    for (size_t i = 0; i < n && rc == QV_OK; i++) {
        m[i].cluster = qv_xstrdup(qv_buf_str(&cluster));
        rc = spawn_member(&m[i], err);
    }
    for (size_t i = 0; i < n && rc == QV_OK; i++)
        rc = wait_member(&m[i], err);
    qv_buf_release(&cluster);
    if (rc != QV_OK)
        qv_etcd_cluster_destroy(m, n);
    return rc;
}

char *qv_etcd_cluster_endpoints(const qv_etcd_server *m, size_t n)
{
    qv_buf b = QV_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        if (qv_buf_printf(&b, "%s%s", i ? "," : "", m[i].endpoint) != QV_OK)
            break;
    return qv_buf_detach(&b, NULL);
}

void qv_etcd_cluster_destroy(qv_etcd_server *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qv_etcd_server_destroy(&m[i]);
}
