/* proc.c -- spawn, probe and stop server processes for tests (see proc.h).
 *
 * Live process groups are tracked in a small fixed table guarded by a mutex;
 * an atexit() handler SIGKILLs and reaps whatever is left in it.
 */
#include "tests/lib/proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"

/* ---- process-wide table of live groups -------------------------------- */

#define LIVE_MAX 64

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t live[LIVE_MAX];
static bool atexit_set;

#define DIRS_MAX 32
static char *cleanup_dirs[DIRS_MAX]; /* guarded by live_mu */

static void live_kill_all(void)
{
    pthread_mutex_lock(&live_mu);
    for (int i = 0; i < LIVE_MAX; i++) {
        if (live[i] > 0) {
            kill(-live[i], SIGKILL);
            (void)waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
    for (int i = 0; i < DIRS_MAX; i++) {
        if (cleanup_dirs[i]) {
            (void)qv_test_rmtree(cleanup_dirs[i], NULL);
            free(cleanup_dirs[i]);
            cleanup_dirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&live_mu);
}

static void ensure_atexit(void)
{
    if (!atexit_set) {
        atexit_set = true;
        (void)atexit(live_kill_all);
    }
}

void qv_test_cleanup_at_exit(const char *dir)
{
    pthread_mutex_lock(&live_mu);
    ensure_atexit();
    for (int i = 0; i < DIRS_MAX; i++) {
        if (!cleanup_dirs[i]) {
            cleanup_dirs[i] = qv_xstrdup(dir);
            break;
        }
    }
    pthread_mutex_unlock(&live_mu);
}

void qv_test_cleanup_cancel(const char *dir)
{
    pthread_mutex_lock(&live_mu);
    for (int i = 0; i < DIRS_MAX; i++) {
        if (cleanup_dirs[i] && strcmp(cleanup_dirs[i], dir) == 0) {
            free(cleanup_dirs[i]);
            cleanup_dirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&live_mu);
}

static void live_add(pid_t pid)
{
    pthread_mutex_lock(&live_mu);
    ensure_atexit();
    for (int i = 0; i < LIVE_MAX; i++) {
        if (live[i] == 0) {
            live[i] = pid;
            break;
        }
    }
    pthread_mutex_unlock(&live_mu);
}

static void live_remove(pid_t pid)
{
    pthread_mutex_lock(&live_mu);
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == pid)
            live[i] = 0;
    pthread_mutex_unlock(&live_mu);
}

/* ---- spawn ------------------------------------------------------------- */

static void set_name(qv_proc *p, const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    (void)snprintf(p->name, sizeof p->name, "%s", slash ? slash + 1 : argv0);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void child_exec(const char *const argv[], int out_fd, int in_fd,
                       int err_pipe, pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(argv[0], (char *const *)argv);
    int e = errno;
    ssize_t w = write(err_pipe, &e, sizeof e);
    (void)w;
    _exit(127);
}

static qv_code open_fds(const char *log_path, int *out_fd, int *in_fd,
                        qv_err *err)
{
    *in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (*in_fd < 0)
        return qv_fail_errno(err, QV_E_IO, "cannot open /dev/null");
    const char *path = log_path ? log_path : "/dev/null";
    *out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*out_fd < 0) {
        close(*in_fd);
        return qv_fail_errno(err, QV_E_IO, "cannot open log '%s'", path);
    }
    return QV_OK;
}

qv_code qv_proc_spawn(qv_proc *p, const char *const argv[],
                      const char *log_path, qv_err *err)
{
    char *keep_log = p->log_path;
    memset(p, 0, sizeof *p);
    set_name(p, argv[0]);
    if (keep_log && log_path && strcmp(keep_log, log_path) == 0) {
        p->log_path = keep_log;
    } else {
        free(keep_log);
        p->log_path = log_path ? qv_xstrdup(log_path) : NULL;
    }
    int out_fd = -1, in_fd = -1, pfd[2];
    qv_code rc = open_fds(log_path, &out_fd, &in_fd, err);
    if (rc != QV_OK)
        return rc;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        close(out_fd);
        close(in_fd);
        return qv_fail_errno(err, QV_E_IO, "cannot create pipe for '%s'",
                             p->name);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, out_fd, in_fd, pfd[1], parent);
    int fork_errno = errno;
    close(out_fd);
    close(in_fd);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        errno = fork_errno;
        return qv_fail_errno(err, QV_E_IO, "cannot fork for '%s'", p->name);
    }
    /* Also set the group from the parent so a kill right after spawn can
     * never miss the child (the classic setpgid race). */
    setpgid(pid, pid);
    p->pid = pid;
    live_add(pid);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(pfd[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close(pfd[0]);
    if (n == (ssize_t)sizeof child_errno) {
        (void)waitpid(pid, NULL, 0);
        live_remove(pid);
        p->pid = 0;
        errno = child_errno;
        return qv_fail_errno(err,
                             child_errno == ENOENT ? QV_E_NOT_FOUND : QV_E_IO,
                             "cannot execute '%s'", argv[0]);
    }
    return QV_OK;
}

bool qv_proc_alive(qv_proc *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->status = st;
        p->reaped = true;
        /* Kill what the leader may have left in its group. */
        kill(-p->pid, SIGKILL);
        live_remove(p->pid);
        p->pid = 0;
        return false;
    }
    return true;
}

/* ---- readiness probes -------------------------------------------------- */

static int connect_local(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&pf, 1, timeout_ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        close(fd);
        return -1;
    }
    return fd;
}

static qv_code exited_error(qv_proc *p, qv_err *err)
{
    int st = p->status;
    if (WIFEXITED(st))
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "'%s' exited with status %d before it was ready",
                       p->name, WEXITSTATUS(st));
    return qv_fail(err, QV_E_UNAVAILABLE,
                   "'%s' died of signal %d before it was ready", p->name,
                   WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

qv_code qv_proc_wait_port(qv_proc *p, int port, uint64_t timeout_ms,
                          qv_err *err)
{
    const qv_clock *c = qv_clock_system();
    uint64_t end = qv_mono_ms(c) + timeout_ms;
    for (;;) {
        if (!qv_proc_alive(p))
            return exited_error(p, err);
        int fd = connect_local(port, 100);
        if (fd >= 0) {
            close(fd);
            return QV_OK;
        }
        if (qv_mono_ms(c) >= end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "'%s' did not accept on 127.0.0.1:%d within "
                           "%llu ms",
                           p->name, port, (unsigned long long)timeout_ms);
        qv_sleep_ms(10);
    }
}

/* One GET; returns true when the answer is 200 and contains expect. */
static bool http_probe(int port, const char *path, const char *expect)
{
    int fd = connect_local(port, 200);
    if (fd < 0)
        return false;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
                     "Connection: close\r\n\r\n",
                     path, port);
    bool ok = false;
    if (n > 0 && n < (int)sizeof req && write(fd, req, (size_t)n) == n) {
        char resp[4096];
        size_t got = 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        while (got < sizeof resp - 1 && poll(&pf, 1, 500) == 1) {
            ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        resp[got] = '\0';
        ok = strncmp(resp, "HTTP/1.", 7) == 0 && got > 12 &&
             strncmp(resp + 9, "200", 3) == 0 &&
             (!expect || strstr(resp, expect) != NULL);
    }
    close(fd);
    return ok;
}

qv_code qv_proc_wait_http(qv_proc *p, int port, const char *path,
                          const char *expect, uint64_t timeout_ms, qv_err *err)
{
    const qv_clock *c = qv_clock_system();
    uint64_t end = qv_mono_ms(c) + timeout_ms;
    for (;;) {
        if (!qv_proc_alive(p))
            return exited_error(p, err);
        if (http_probe(port, path, expect))
            return QV_OK;
        if (qv_mono_ms(c) >= end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "'%s' did not answer http://127.0.0.1:%d%s "
                           "within %llu ms",
                           p->name, port, path, (unsigned long long)timeout_ms);
        qv_sleep_ms(10);
    }
}

/* ---- stop -------------------------------------------------------------- */

void qv_proc_signal(qv_proc *p, int sig)
{
    if (p->pid > 0)
        kill(-p->pid, sig);
}

qv_code qv_proc_stop(qv_proc *p, uint64_t grace_ms, int *exit_status,
                     qv_err *err)
{
    if (p->pid <= 0) {
        if (exit_status)
            *exit_status = p->status;
        return QV_OK;
    }
    const qv_clock *c = qv_clock_system();
    kill(-p->pid, SIGCONT);
    kill(-p->pid, SIGTERM);
    uint64_t end = qv_mono_ms(c) + grace_ms;
    bool killed = false;
    while (qv_proc_alive(p)) {
        if (qv_mono_ms(c) >= end) {
            kill(-p->pid, SIGKILL);
            int st;
            (void)waitpid(p->pid, &st, 0);
            p->status = st;
            p->reaped = true;
            live_remove(p->pid);
            p->pid = 0;
            killed = true;
            break;
        }
        qv_sleep_ms(5);
    }
    if (exit_status)
        *exit_status = p->status;
    if (killed)
        return qv_fail(err, QV_E_TIMEOUT,
                       "'%s' ignored SIGTERM for %llu ms and was killed",
                       p->name, (unsigned long long)grace_ms);
    return QV_OK;
}

void qv_proc_release(qv_proc *p)
{
    (void)qv_proc_stop(p, 0, NULL, NULL);
    free(p->log_path);
    p->log_path = NULL;
}

/* ---- ports and directories --------------------------------------------- */

int qv_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = 0,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

qv_code qv_test_mkdtemp(const char *prefix, char **out, qv_err *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char *path = qv_xasprintf("%s/%sXXXXXX", tmp, prefix);
    if (!mkdtemp(path)) {
        qv_code rc = qv_fail_errno(err, QV_E_IO, "cannot create '%s'", path);
        free(path);
        return rc;
    }
    *out = path;
    return QV_OK;
}

qv_code qv_test_rmtree(const char *path, qv_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT
                   ? QV_OK
                   : qv_fail_errno(err, QV_E_IO, "cannot stat '%s'", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return qv_fail_errno(err, QV_E_IO, "cannot remove '%s'", path);
        return QV_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return qv_fail_errno(err, QV_E_IO, "cannot open '%s'", path);
    qv_code rc = QV_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = qv_xasprintf("%s/%s", path, e->d_name);
        qv_code r = qv_test_rmtree(child, err);
        if (r != QV_OK && rc == QV_OK)
            rc = r;
        free(child);
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT && rc == QV_OK)
        rc = qv_fail_errno(err, QV_E_IO, "cannot remove '%s'", path);
    return rc;
}

char *qv_test_read_tail(const char *path, size_t max)
{
    if (!path)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)max ? size - (off_t)max : 0;
    char *s = qv_xmalloc(max + 1);
    ssize_t n = pread(fd, s, max, from);
    close(fd);
    s[n > 0 ? n : 0] = '\0';
    return s;
}
