/* s3_server.c -- start, stop and restart s3rver (and the SigV4 verifier) for
 * tests; see s3_server.h. */
#include "tests/lib/s3_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"

#define S3RVER_JS   "/tests/e2e/node_modules/s3rver/bin/s3rver.js"
#define VERIFIER_PY "/tests/lib/s3_sigv4_verifier.py"
#define START_MS    20000

/* The repository root: $QV_SOURCE_DIR, else the one this file was built
 * from (tests), else the working directory. */
static const char *source_dir(void)
{
    const char *d = getenv("QV_SOURCE_DIR");
    if (d && d[0])
        return d;
#ifdef QV_SOURCE_DIR
    return QV_SOURCE_DIR;
#else
    return ".";
#endif
}

static char *repo_path(const char *rel)
{
    return qv_xasprintf("%s%s", source_dir(), rel);
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = qv_xstrdup(path);
    bool found = false;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char *f = qv_xasprintf("%s/%s", d, prog);
        found = access(f, X_OK) == 0;
        free(f);
    }
    free(copy);
    return found;
}

bool qv_s3_server_available(const char **why)
{
    const char *w = NULL;
    char *js = repo_path(S3RVER_JS);
    if (!in_path("node"))
        w = "node is not installed";
    else if (access(js, R_OK) != 0)
        w = "s3rver is not installed (run npm ci in tests/e2e)";
    else if (!in_path("python3"))
        w = "python3 is not installed";
    free(js);
    if (why)
        *why = w;
    return w == NULL;
}

static qv_code fail_with_log(qv_code rc, const char *log, qv_err *err)
{
    char *tail = qv_test_read_tail(log, 300);
    if (tail) {
        qv_err_prefix(err, "s3 test server (log: %s)", tail);
        free(tail);
    }
    return rc;
}

/* A self-signed certificate for 127.0.0.1 (openssl, bounded). */
static qv_code make_cert(qv_s3_server *s, qv_err *err)
{
    char *key = qv_xasprintf("%s/key.pem", s->dir);
    char *log = qv_xasprintf("%s/openssl.log", s->dir);
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
                          "subjectAltName=IP:127.0.0.1",
                          NULL};
    qv_proc tool = {0};
    qv_code rc = qv_proc_spawn(&tool, argv, log, err);
    if (rc == QV_OK) {
        uint64_t end = qv_mono_ms(qv_clock_system()) + START_MS;
        while (qv_proc_alive(&tool) && qv_mono_ms(qv_clock_system()) < end)
            qv_sleep_ms(5);
        int st = 0;
        bool late = qv_proc_alive(&tool);
        (void)qv_proc_stop(&tool, 0, &st, NULL);
        if (late || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = fail_with_log(qv_fail(err, QV_E_INTERNAL,
                                       "openssl could not make a certificate"),
                               log, err);
    }
    qv_proc_release(&tool);
    free(key);
    free(log);
    return rc;
}

static qv_code spawn_all(qv_s3_server *s, qv_err *err)
{
    char port[16], vport[16], uport[16];
    snprintf(port, sizeof(port), "%d", s->s3rver_port);
    char *data = qv_xasprintf("%s/data", s->dir);
    char *log = qv_xasprintf("%s/s3rver.log", s->dir);
    char *js = repo_path(S3RVER_JS);
    const char *argv[] = {"node",
                          "--openssl-legacy-provider",
                          js,
                          "-d",
                          data,
                          "-a",
                          "127.0.0.1",
                          "-p",
                          port,
                          "--silent",
                          "--configure-bucket",
                          s->bucket,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL};
    char *key = qv_xasprintf("%s/key.pem", s->dir);
    if (s->tls) {
        argv[12] = "--key";
        argv[13] = key;
        argv[14] = "--cert";
        argv[15] = s->ca_file;
    }
    qv_code rc = qv_proc_spawn(&s->s3rver, argv, log, err);
    if (rc == QV_OK) {
        rc = s->tls
                 ? qv_proc_wait_port(&s->s3rver, s->s3rver_port, START_MS, err)
                 : qv_proc_wait_http(&s->s3rver, s->s3rver_port, "/", NULL,
                                     START_MS, err);
        if (rc)
            fail_with_log(rc, log, err);
    }
    free(key);
    free(data);
    free(log);
    free(js);
    if (rc || !s->strict)
        return rc;
    snprintf(vport, sizeof(vport), "%d", s->port);
    snprintf(uport, sizeof(uport), "%d", s->s3rver_port);
    char *vlog = qv_xasprintf("%s/verifier.log", s->dir);
    char *py = repo_path(VERIFIER_PY);
    const char *vargv[] = {
        "python3", py, vport, uport, QV_S3_SERVER_KEY, QV_S3_SERVER_KEY, NULL};
    rc = qv_proc_spawn(&s->verifier, vargv, vlog, err);
    if (rc == QV_OK) {
        rc = qv_proc_wait_port(&s->verifier, s->port, START_MS, err);
        if (rc)
            fail_with_log(rc, vlog, err);
    }
    free(vlog);
    free(py);
    return rc;
}

static void stop_all(qv_s3_server *s)
{
    if (s->strict)
        (void)qv_proc_stop(&s->verifier, 2000, NULL, NULL);
    (void)qv_proc_stop(&s->s3rver, 2000, NULL, NULL);
}

qv_code qv_s3_server_start(qv_s3_server *s, const qv_s3_server_opts *opts,
                           qv_err *err)
{
    memset(s, 0, sizeof(*s));
    const char *why;
    if (!qv_s3_server_available(&why))
        return qv_fail(err, QV_E_UNSUPPORTED, "cannot start s3rver: %s", why);
    s->tls = opts && opts->tls;
    s->strict = opts && opts->strict && !s->tls;
    snprintf(s->bucket, sizeof(s->bucket), "%s",
             opts && opts->bucket ? opts->bucket : "quiver-test");
    qv_code rc = qv_test_mkdtemp("qv-s3-", &s->dir, err);
    if (rc == QV_OK && s->tls)
        rc = make_cert(s, err);
    if (rc) {
        qv_s3_server_destroy(s);
        return rc;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        s->s3rver_port = qv_test_free_port();
        s->port = s->strict ? qv_test_free_port() : s->s3rver_port;
        if (s->s3rver_port < 0 || s->port < 0 || s->port == s->s3rver_port) {
            if (s->strict || s->s3rver_port < 0) {
                rc = qv_fail(err, QV_E_IO, "no free port for s3rver");
                continue;
            }
        }
        snprintf(s->endpoint, sizeof(s->endpoint), "%s://127.0.0.1:%d",
                 s->tls ? "https" : "http", s->port);
        rc = spawn_all(s, err);
        if (rc == QV_OK) {
            s->running = true;
            return QV_OK;
        }
        stop_all(s);
    }
    qv_s3_server_destroy(s);
    return rc;
}

qv_code qv_s3_server_stop(qv_s3_server *s, qv_err *err)
{
    (void)err;
    stop_all(s);
    s->running = false;
    return QV_OK;
}

qv_code qv_s3_server_restart(qv_s3_server *s, qv_err *err)
{
    if (s->running)
        return QV_OK;
    qv_code rc = spawn_all(s, err);
    if (rc) {
        stop_all(s);
        return rc;
    }
    s->running = true;
    return QV_OK;
}

void qv_s3_server_destroy(qv_s3_server *s)
{
    if (s->s3rver.log_path || s->s3rver.pid > 0)
        qv_proc_release(&s->s3rver);
    if (s->verifier.log_path || s->verifier.pid > 0)
        qv_proc_release(&s->verifier);
    if (s->dir) {
        (void)qv_test_rmtree(s->dir, NULL);
        free(s->dir);
    }
    free(s->ca_file);
    memset(s, 0, sizeof(*s));
}
