/* kafka_broker.c -- start, stop and restart qv_kafka_broker for tests
 * (see kafka_broker.h). */
#include "tests/lib/kafka_broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/clock.h"

#ifndef QV_KAFKA_BROKER_BIN
#define QV_KAFKA_BROKER_BIN "qv_kafka_broker"
#endif

#define START_TIMEOUT_MS 10000

static const char *broker_bin(void)
{
    const char *env = getenv("QV_KAFKA_BROKER");
    return env && *env ? env : QV_KAFKA_BROKER_BIN;
}

static qv_code fail_with_log(qv_kafka_broker *b, qv_code rc, qv_err *err)
{
    char *log =
        b->proc.log_path ? qv_test_read_tail(b->proc.log_path, 600) : NULL;
    qv_err_prefix(err, "kafka broker on 127.0.0.1:%d", b->port);
    if (err && log) {
        char msg[sizeof(err->msg)];
        memcpy(msg, err->msg, sizeof(msg));
        qv_fail(err, rc, "%.120s; log: %.120s", msg, log);
    }
    free(log);
    return rc;
}

/* The daemon writes its bootstrap list once it serves: it must be the
 * fixed ports asked for. */
static qv_code check_bootstrap_file(const qv_kafka_broker *b, const char *path,
                                    qv_err *err)
{
    for (int tries = 0; tries < 200; tries++) {
        char *text = qv_test_read_tail(path, sizeof(b->bootstrap));
        if (text) {
            text[strcspn(text, "\n")] = 0;
            int same = strcmp(text, b->bootstrap) == 0;
            qv_code rc = same ? QV_OK
                              : qv_fail(err, QV_E_INTERNAL,
                                        "kafka broker announced '%.100s', "
                                        "expected '%.100s'",
                                        text, b->bootstrap);
            free(text);
            return rc;
        }
        qv_sleep_ms(10);
    }
    return qv_fail(err, QV_E_TIMEOUT, "kafka broker wrote no '%s'", path);
}

/* Spawns the daemon on b->port and waits until every broker listens. */
static qv_code spawn(qv_kafka_broker *b, qv_err *err)
{
    char port[16], nb[16];
    (void)snprintf(port, sizeof(port), "%d", b->port);
    (void)snprintf(nb, sizeof(nb), "%d", b->brokers);
    char *bfile = qv_xasprintf("%s/bootstrap.txt", b->dir);
    char *log = qv_xasprintf("%s/broker.log", b->dir);
    const char *argv[] = {broker_bin(), "--brokers",        nb,    "--port",
                          port,         "--bootstrap-file", bfile, NULL};
    (void)remove(bfile);
    qv_code rc = qv_proc_spawn(&b->proc, argv, log, err);
    for (int i = 0; rc == QV_OK && i < b->brokers; i++)
        rc = qv_proc_wait_port(&b->proc, b->port + i, START_TIMEOUT_MS, err);
    if (rc == QV_OK) {
        size_t off = 0;
        b->bootstrap[0] = 0;
        for (int i = 0; i < b->brokers; i++) {
            int k = snprintf(b->bootstrap + off, sizeof(b->bootstrap) - off,
                             "%s127.0.0.1:%d", i ? "," : "", b->port + i);
            off += (size_t)k;
        }
        rc = check_bootstrap_file(b, bfile, err);
    }
    free(bfile);
    free(log);
    if (rc != QV_OK) {
        rc = fail_with_log(b, rc, err);
        qv_proc_stop(&b->proc, 1000, NULL, NULL);
    }
    return rc;
}

qv_code qv_kafka_broker_start(qv_kafka_broker *b, int brokers, qv_err *err)
{
    memset(b, 0, sizeof(*b));
    b->brokers = brokers < 1 ? 1 : brokers;
    qv_code rc = qv_test_mkdtemp("qv-kafka-", &b->dir, err);
    if (rc != QV_OK)
        return rc;
    for (int attempt = 0; attempt < 5; attempt++) {
        b->port = qv_test_free_port();
        if (b->port <= 0 || b->port + b->brokers > 65535)
            continue;
        rc = spawn(b, err);
        if (rc == QV_OK)
            return QV_OK;
        qv_proc_release(&b->proc);
        memset(&b->proc, 0, sizeof(b->proc));
    }
    qv_test_rmtree(b->dir, NULL);
    free(b->dir);
    b->dir = NULL;
    return rc != QV_OK ? rc
                       : qv_fail(err, QV_E_IO, "kafka broker: no free port");
}

qv_code qv_kafka_broker_stop(qv_kafka_broker *b, qv_err *err)
{
    int status = 0;
    qv_code rc = qv_proc_stop(&b->proc, 5000, &status, err);
    if (rc == QV_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = qv_fail(err, QV_E_INTERNAL,
                     "kafka broker on 127.0.0.1:%d "
                     "exited with status 0x%x",
                     b->port, status);
    return rc;
}

qv_code qv_kafka_broker_restart(qv_kafka_broker *b, qv_err *err)
{
    qv_code rc = QV_E_UNAVAILABLE;
    /* The old listeners' ports can take a moment to be reusable. */
    for (int attempt = 0; attempt < 20; attempt++) {
        rc = spawn(b, err);
        if (rc == QV_OK)
            return QV_OK;
        qv_sleep_ms(100);
    }
    return rc;
}

void qv_kafka_broker_destroy(qv_kafka_broker *b)
{
    if (!b)
        return;
    if (b->proc.pid > 0 || b->proc.log_path)
        qv_proc_release(&b->proc);
    if (b->dir) {
        qv_test_rmtree(b->dir, NULL);
        free(b->dir);
    }
    memset(b, 0, sizeof(*b));
}
