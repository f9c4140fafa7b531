/* kafka_broker.c -- qv_kafka_broker: a small Kafka-protocol broker daemon
 * for tests, built on librdkafka's in-process mock cluster
 * (<librdkafka/rdkafka_mock.h>).
 *
 * Usage: qv_kafka_broker [--brokers N] [--port P] [--bootstrap-file F]
 *   --brokers N         brokers in the cluster (default 1)
 *   --port P            listen on 127.0.0.1:P .. P+N-1 (default: random
 *                       ports); a fixed port lets a test restart the broker
 *                       at the same address
 *   --bootstrap-file F  also write the bootstrap list to F (atomically)
 * Prints "BOOTSTRAP host:port[,host:port...]" on stdout once serving, and
 * exits 0 on SIGTERM or SIGINT.
 *
 * Limits of the mock (librdkafka 2.0.2, see infra-recipes §4.3): each
 * partition keeps only its last ~5 MiB (older messages are dropped
 * silently), everything is in memory (a restart gives an empty cluster),
 * and the listeners bind 127.0.0.1 only.
 *
 * The mock has no setting for its listen port, so this program interposes
 * bind(): the mock's listeners bind 127.0.0.1:0, and while a base port is
 * set those binds are redirected to consecutive fixed ports (with
 * SO_REUSEADDR, so a restart is not blocked by TIME_WAIT).
 *
 * Threading: the mock cluster runs its own thread; main only polls.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

static volatile sig_atomic_t stop_flag;
static int fixed_port_base; /* 0 = leave binds alone */
static int fixed_port_next;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

/* Redirects binds to 127.0.0.1:0 to the next fixed port (see header). */
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "bind");
        memcpy(&real, &sym, sizeof(real));
    }
    if (fixed_port_base > 0 && addr && addr->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof(a));
        if (a.sin_port == 0 && a.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            int one = 1;
            a.sin_port = htons((uint16_t)(fixed_port_base + fixed_port_next));
            fixed_port_next++;
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            return real(fd, (const struct sockaddr *)&a, sizeof(a));
        }
    }
    return real(fd, addr, len);
}

static int write_file_atomic(const char *path, const char *text)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    (void)snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        rc = fprintf(f, "%s\n", text) < 0 ? -1 : 0;
        if (fclose(f) != 0)
            rc = -1;
        if (rc == 0)
            rc = rename(tmp, path);
    }
    free(tmp);
    return rc;
}

static int usage(void)
{
    (void)fprintf(stderr, "usage: qv_kafka_broker [--brokers N] [--port P] "
                          "[--bootstrap-file F]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int brokers = 1;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            fixed_port_base = atoi(argv[++i]);
        else if (strcmp(argv[i], "--bootstrap-file") == 0 && i + 1 < argc)
            file = argv[++i];
        else
            return usage();
    }
    if (brokers < 1 || brokers > 16 || fixed_port_base < 0 ||
        fixed_port_base + brokers > 65536)
        return usage();

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* A bookkeeping handle only: it never connects anywhere. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        (void)fprintf(stderr, "qv_kafka_broker: cannot create handle: %s\n",
                      err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        (void)fprintf(stderr,
                      "qv_kafka_broker: cannot start the mock cluster "
                      "(port %d taken?)\n",
                      fixed_port_base);
        rd_kafka_destroy(rk);
        return 1;
    }
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    printf("BOOTSTRAP %s\n", bs);
    (void)fflush(stdout);
    if (file && write_file_atomic(file, bs) != 0) {
        (void)fprintf(stderr, "qv_kafka_broker: cannot write '%s': %s\n", file,
                      strerror(errno));
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    while (!stop_flag)
        rd_kafka_poll(rk, 100);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    (void)fprintf(stderr, "qv_kafka_broker: stopped\n");
    return 0;
}
