/* e2e_spawn.c -- the servers e2e_bench starts itself: `quiver standalone`
 * on free ports with a fresh data directory, or the cluster of cluster.sh.
 * Children die with the bench (PR_SET_PDEATHSIG) and run in their own
 * process group; stop sends SIGTERM, waits (bounded) and then SIGKILLs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/e2e/e2e.h"
#include "common/alloc.h"
#include "common/clock.h"

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* fork + exec argv with stdout/stderr appended to log; the child gets its
 * own process group and dies with us. */
static int spawn(const char *const argv[], const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return (int)pid; /* -1 on failure */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    (void)setpgid(0, 0);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        (void)dup2(fd, 1);
        (void)dup2(fd, 2);
    }
    if (in >= 0)
        (void)dup2(in, 0);
    execvp(argv[0], (char *const *)argv);
    (void)fprintf(stderr, "e2e_bench: cannot run '%s': %s\n", argv[0],
                  strerror(errno));
    _exit(127);
}

static bool alive(int pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

static bool log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static qv_code make_workdir(e2e_servers *s, qv_err *err)
{
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(s->workdir, sizeof s->workdir, "%s/qv-e2e-bench-XXXXXX",
                   tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(s->workdir))
        return qv_fail(err, QV_E_IO, "cannot create a temp dir: %s",
                       strerror(errno));
    return QV_OK;
}

/* One attempt at starting standalone on fresh ports; *retry is set when
 * a port was taken meanwhile. */
static qv_code try_standalone(e2e_servers *s, const char *bin, bool *retry,
                              qv_err *err)
{
    int port = free_port(), http = free_port();
    if (port < 0 || http < 0 || port == http)
        return qv_fail(err, QV_E_IO, "no free port on 127.0.0.1");
    char a_port[48], a_http[48], a_dir[320], log[300];
    (void)snprintf(a_port, sizeof a_port, "proxy.port=%d", port);
    (void)snprintf(a_http, sizeof a_http, "http.port=%d", http);
    (void)snprintf(a_dir, sizeof a_dir, "localStorage.path=%s/data",
                   s->workdir);
    (void)snprintf(log, sizeof log, "%s/quiver.log", s->workdir);
    const char *argv[] = {bin,     "standalone",
                          "--set", a_port,
                          "--set", a_http,
                          "--set", a_dir,
                          "--set", "proxy.listenAddress=127.0.0.1",
                          "--set", "http.listenAddress=127.0.0.1",
                          NULL};
    s->pid = spawn(argv, log);
    if (s->pid < 0)
        return qv_fail(err, QV_E_IO, "fork: %s", strerror(errno));
    uint64_t end = qv_mono_ms(qv_clock_system()) + 60000;
    while (!port_open(port)) {
        if (!alive(s->pid)) {
            s->pid = 0;
            *retry = log_has(log, "in use");
            return qv_fail(err, QV_E_UNAVAILABLE,
                           "quiver standalone exited at start (see below)");
        }
        if (qv_mono_ms(qv_clock_system()) > end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "quiver standalone: port %d not open after 60 s",
                           port);
        qv_sleep_ms(50);
    }
    (void)snprintf(s->address, sizeof s->address, "127.0.0.1:%d", port);
    s->http_port = http;
    return QV_OK;
}

qv_code e2e_spawn_standalone(e2e_servers *s, const char *quiver_bin,
                             qv_err *err)
{
    memset(s, 0, sizeof *s);
    if (access(quiver_bin, X_OK) != 0)
        return qv_fail(err, QV_E_NOT_FOUND,
                       "quiver binary '%s' not found (build it, or pass "
                       "--quiver PATH)",
                       quiver_bin);
    qv_code rc = make_workdir(s, err);
    if (rc)
        return rc;
    (void)snprintf(s->mode, sizeof s->mode, "standalone");
    for (int attempt = 1; attempt <= 3; attempt++) {
        bool retry = false;
        rc = try_standalone(s, quiver_bin, &retry, err);
        if (!rc || !retry)
            break;
    }
    return rc;
}

static bool read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = 0;
    return ok;
}

qv_code e2e_spawn_cluster(e2e_servers *s, const char *script,
                          const char *quiver_bin, const char *broker_bin,
                          qv_err *err)
{
    memset(s, 0, sizeof *s);
    const char *need[] = {script, quiver_bin, broker_bin};
    for (int i = 0; i < 3; i++)
        if (access(need[i], X_OK) != 0)
            return qv_fail(err, QV_E_NOT_FOUND,
                           "'%s' not found or not "
                           "executable",
                           need[i]);
    qv_code rc = make_workdir(s, err);
    if (rc)
        return rc;
    (void)snprintf(s->mode, sizeof s->mode, "cluster");
    (void)snprintf(s->script, sizeof s->script, "%s", script);
    char log[300], addr[300], roles[300], missing[300];
    (void)snprintf(log, sizeof log, "%s/cluster.log", s->workdir);
    (void)snprintf(addr, sizeof addr, "%s/address", s->workdir);
    (void)snprintf(roles, sizeof roles, "%s/roles", s->workdir);
    (void)snprintf(missing, sizeof missing, "%s/missing", s->workdir);
    const char *argv[] = {"bash",     script,     "run", s->workdir,
                          quiver_bin, broker_bin, NULL};
    s->pid = spawn(argv, log);
    if (s->pid < 0)
        return qv_fail(err, QV_E_IO, "fork: %s", strerror(errno));
    uint64_t end = qv_mono_ms(qv_clock_system()) + 180000;
    while (!read_line(addr, s->address, sizeof s->address)) {
        if (!alive(s->pid)) {
            s->pid = 0;
            return qv_fail(err, QV_E_UNAVAILABLE,
                           "cluster.sh exited before serving (see below)");
        }
        if (qv_mono_ms(qv_clock_system()) > end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "cluster.sh: not serving after 180 s");
        qv_sleep_ms(100);
    }
    char m[200] = "";
    (void)snprintf(missing, sizeof missing, "%s/proxy_http", s->workdir);
    if (read_line(missing, m, sizeof m))
        s->http_port = atoi(m);
    m[0] = 0;
    (void)snprintf(missing, sizeof missing, "%s/missing", s->workdir);
    (void)read_line(roles, s->roles, sizeof s->roles);
    if (read_line(missing, m, sizeof m) && m[0]) {
        size_t l = strlen(s->roles);
        (void)snprintf(s->roles + l, sizeof s->roles - l,
                       " (not available: %s)", m);
    }
    return QV_OK;
}

void e2e_servers_stop(e2e_servers *s)
{
    if (s->pid > 0) {
        (void)kill(s->pid, SIGTERM);
        uint64_t end = qv_mono_ms(qv_clock_system()) + 30000;
        int st;
        while (waitpid(s->pid, &st, WNOHANG) == 0) {
            if (qv_mono_ms(qv_clock_system()) > end) {
                (void)kill(-s->pid, SIGKILL);
                (void)kill(s->pid, SIGKILL);
                (void)waitpid(s->pid, &st, 0);
                break;
            }
            qv_sleep_ms(50);
        }
        s->pid = 0;
    }
    if (s->workdir[0] && !s->keep) {
        char *cmd = qv_xasprintf("rm -rf '%s'", s->workdir);
        if (system(cmd) != 0)
            (void)fprintf(stderr, "e2e_bench: could not remove %s\n",
                          s->workdir);
        free(cmd);
    }
    s->workdir[0] = 0;
}

/* utime + stime of one process from /proc/<pid>/stat, or -1. */
static double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    (void)snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ... utime(14) stime(15) */
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%llu %llu",
                     &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double e2e_servers_cpu_s(const e2e_servers *s)
{
    if (strcmp(s->mode, "standalone") == 0 && s->pid > 0) {
        double c = proc_cpu_s(s->pid);
        return c < 0 ? NAN : c;
    }
    if (strcmp(s->mode, "cluster") != 0)
        return NAN;
    char path[300], role[32];
    (void)snprintf(path, sizeof path, "%s/pids", s->workdir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    double sum = 0;
    int pid, n = 0;
    while (fscanf(f, "%31s %d", role, &pid) == 2) {
        double c = proc_cpu_s(pid);
        if (c >= 0) {
            sum += c;
            n++;
        }
    }
    fclose(f);
    return n ? sum : NAN;
}

/* GET http://127.0.0.1:port/metrics into a heap string (caller frees). */
static char *http_metrics(int port, qv_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        (void)qv_fail(err, QV_E_IO, "socket: %s", strerror(errno));
        return NULL;
    }
    struct timeval tv = {.tv_sec = 5};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static const char rq[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, rq, sizeof rq - 1) != (ssize_t)(sizeof rq - 1)) {
        (void)qv_fail(err, QV_E_UNAVAILABLE, "metrics on port %d: %s", port,
                      strerror(errno));
        close(fd);
        return NULL;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = qv_xmalloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 4096)
            buf = qv_xrealloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

/* The value of the first line that starts with `name`, or NAN. */
static double metric(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
    return NAN;
}

qv_code e2e_servers_search_stats(const e2e_servers *s, double *sum,
                                 double *count, qv_err *err)
{
    if (s->http_port <= 0)
        return qv_fail(err, QV_E_UNAVAILABLE, "no metrics port");
    char *text = http_metrics(s->http_port, err);
    if (!text)
        return err ? err->code : QV_E_UNAVAILABLE;
    *sum = metric(text, "quiver_rpc_latency_seconds_sum{method=\"Search\"}");
    *count =
        metric(text, "quiver_rpc_latency_seconds_count{method=\"Search\"}");
    free(text);
    if (isnan(*sum) || isnan(*count))
        return qv_fail(err, QV_E_NOT_FOUND, "no Search latency in /metrics");
    return QV_OK;
}

double e2e_self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void dump(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > (long)bytes)
            (void)fseek(f, size - (long)bytes, SEEK_SET);
        else
            (void)fseek(f, 0, SEEK_SET);
    }
    (void)fprintf(stderr, "---- %s (tail) ----\n", path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        (void)fwrite(buf, 1, n, stderr);
    fclose(f);
}

void e2e_servers_dump_logs(const e2e_servers *s, size_t bytes)
{
    if (!s->workdir[0])
        return;
    static const char *const logs[] = {
        "quiver.log",   "cluster.log",  "etcd.log",  "kafka.log",
        "s3rver.log",   "coord.log",    "proxy.log", "querynode.log",
        "datanode.log", "indexnode.log"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        char p[400];
        (void)snprintf(p, sizeof p, "%s/%s", s->workdir, logs[i]);
        dump(p, bytes);
    }
}
