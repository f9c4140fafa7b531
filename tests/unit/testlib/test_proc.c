/* Tests of tests/lib/proc.c: spawning, readiness probes and clean stops. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/lib/proc.h"

/* True when a live (non-zombie) process is in group pgid.  Orphans that
 * died are reaped by init, possibly late, so zombies do not count. */
static bool group_exists(pid_t pgid)
{
    DIR *d = opendir("/proc");
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 2, "%c %d %d", &state, &ppid, &pgrp) == 3 &&
            pgrp == pgid && state != 'Z')
            found = true;
    }
    if (d)
        closedir(d);
    return found;
}

Test(proc, spawn_and_stop_kills_the_whole_group)
{
    qv_proc p = {0};
    const char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, NULL), QV_OK);
    pid_t pg = p.pid;
    cr_assert(qv_proc_alive(&p));
    cr_assert(group_exists(pg));
    int st = 0;
    cr_assert_eq(qv_proc_stop(&p, 2000, &st, NULL), QV_OK);
    cr_assert(WIFSIGNALED(st));
    cr_assert_eq(WTERMSIG(st), SIGTERM);
    cr_assert_not(qv_proc_alive(&p));
    /* The background sleep in the same group is gone too. */
    for (int i = 0; i < 100 && group_exists(pg); i++)
        qv_sleep_ms(10);
    cr_assert_not(group_exists(pg));
    qv_proc_release(&p);
}

Test(proc, stop_escalates_to_sigkill_after_the_grace_period)
{
    qv_proc p = {0};
    char mark[64];
    snprintf(mark, sizeof mark, "/tmp/qv-proc-trap-%ld", (long)getpid());
    unlink(mark);
    char script[128];
    snprintf(script, sizeof script, "trap '' TERM; : > %s; sleep 30", mark);
    const char *argv[] = {"sh", "-c", script, NULL};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, NULL), QV_OK);
    /* Wait (bounded) until the shell has installed its trap. */
    for (int i = 0; i < 500 && access(mark, F_OK) != 0; i++)
        qv_sleep_ms(10);
    cr_assert_eq(access(mark, F_OK), 0, "the shell never started");
    unlink(mark);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    qv_err err = {0};
    int st = 0;
    cr_assert_eq(qv_proc_stop(&p, 200, &st, &err), QV_E_TIMEOUT);
    uint64_t took = qv_mono_ms(qv_clock_system()) - t0;
    cr_assert(took >= 200 && took < 3000, "took %llu ms",
              (unsigned long long)took);
    cr_assert(WIFSIGNALED(st));
    cr_assert_eq(WTERMSIG(st), SIGKILL);
    cr_assert(strstr(err.msg, "'sh'") != NULL, "%s", err.msg);
    qv_proc_release(&p);
}

Test(proc, missing_program_is_not_found)
{
    qv_proc p = {0};
    const char *argv[] = {"quiver-no-such-program", NULL};
    qv_err err = {0};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "quiver-no-such-program") != NULL);
    qv_proc_release(&p);
}

Test(proc, wait_port_fails_fast_when_the_process_exits)
{
    qv_proc p = {0};
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, NULL), QV_OK);
    qv_err err = {0};
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    int port = qv_test_free_port();
    cr_assert_eq(qv_proc_wait_port(&p, port, 10000, &err), QV_E_UNAVAILABLE);
    cr_assert(qv_mono_ms(qv_clock_system()) - t0 < 5000);
    cr_assert(strstr(err.msg, "status 3") != NULL, "%s", err.msg);
    qv_proc_release(&p);
}

Test(proc, wait_port_times_out_on_a_closed_port)
{
    qv_proc p = {0};
    const char *argv[] = {"sleep", "30", NULL};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, NULL), QV_OK);
    qv_err err = {0};
    int port = qv_test_free_port();
    cr_assert_gt(port, 0);
    cr_assert_eq(qv_proc_wait_port(&p, port, 150, &err), QV_E_TIMEOUT);
    cr_assert(strstr(err.msg, "did not accept") != NULL, "%s", err.msg);
    qv_proc_release(&p);
}

/* A tiny HTTP server thread answering one request per accept. */
struct mini_http {
    int fd;
    int port;
    int served;
};

static void *serve(void *arg)
{
    struct mini_http *h = arg;
    for (;;) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[1024];
        ssize_t n = read(c, req, sizeof req);
        (void)n;
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n"
                        "{\"health\":\"true\"}";
        ssize_t w = write(c, r, strlen(r));
        (void)w;
        close(c);
        h->served++;
    }
}

Test(proc, wait_http_sees_a_healthy_answer)
{
    struct mini_http h = {0};
    h.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(h.fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(h.fd, 4), 0);
    cr_assert_eq(getsockname(h.fd, (struct sockaddr *)&a, &len), 0);
    h.port = ntohs(a.sin_port);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve, &h), 0);

    qv_proc p = {0};
    const char *argv[] = {"sleep", "30", NULL};
    cr_assert_eq(qv_proc_spawn(&p, argv, NULL, NULL), QV_OK);
    cr_assert_eq(qv_proc_wait_http(&p, h.port, "/health", "\"health\":\"true\"",
                                   3000, NULL),
                 QV_OK);
    qv_err err = {0};
    cr_assert_eq(qv_proc_wait_http(&p, h.port, "/health", "nope", 100, &err),
                 QV_E_TIMEOUT);
    cr_assert_geq(h.served, 2);
    qv_proc_release(&p);
    shutdown(h.fd, SHUT_RDWR);
    close(h.fd);
    pthread_join(t, NULL);
}

Test(proc, exit_without_stop_still_kills_the_server)
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t child = fork();
    if (child == 0) {
        qv_proc p = {0};
        const char *argv[] = {"sleep", "30", NULL};
        if (qv_proc_spawn(&p, argv, NULL, NULL) != QV_OK)
            _exit(1);
        ssize_t w = write(pfd[1], &p.pid, sizeof p.pid);
        exit(w == sizeof p.pid ? 0 : 1); /* atexit handler must kill it */
    }
    pid_t server = 0;
    cr_assert_eq(read(pfd[0], &server, sizeof server), (ssize_t)sizeof server);
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 200 && group_exists(server); i++)
        qv_sleep_ms(10);
    cr_assert_not(group_exists(server));
    close(pfd[0]);
    close(pfd[1]);
}

Test(proc, temp_dirs_are_created_and_removed)
{
    char *dir = NULL;
    cr_assert_eq(qv_test_mkdtemp("quiver-proc-", &dir, NULL), QV_OK);
    char *sub = NULL;
    cr_assert(asprintf(&sub, "%s/a/b", dir) > 0);
    char *a = NULL;
    cr_assert(asprintf(&a, "%s/a", dir) > 0);
    cr_assert_eq(mkdir(a, 0755), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    struct stat st;
    cr_assert_neq(stat(dir, &st), 0);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK); /* missing is fine */
    free(a);
    free(sub);
    free(dir);
}

Test(proc, registered_temp_dirs_are_removed_at_exit)
{
    char *dir = NULL;
    cr_assert_eq(qv_test_mkdtemp("quiver-proc-exit-", &dir, NULL), QV_OK);
    pid_t child = fork();
    if (child == 0) {
        qv_test_cleanup_at_exit(dir);
        exit(0); /* e.g. a failed assertion: no explicit cleanup */
    }
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    struct stat sb;
    cr_assert_neq(stat(dir, &sb), 0, "'%s' is still there", dir);
    free(dir);
    /* A cancelled registration leaves the directory alone. */
    cr_assert_eq(qv_test_mkdtemp("quiver-proc-exit-", &dir, NULL), QV_OK);
    child = fork();
    if (child == 0) {
        qv_test_cleanup_at_exit(dir);
        qv_test_cleanup_cancel(dir);
        exit(0);
    }
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert_eq(stat(dir, &sb), 0);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}
