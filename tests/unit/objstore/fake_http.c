/* fake_http.c -- see fake_http.h. */
#include "tests/unit/objstore/fake_http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"

/* Waits up to 50 ms for fd to be readable; returns >0 readable, 0 idle,
 * <0 error. */
static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 50);
}

static bool read_more(fake_http *f, int fd, qv_buf *in)
{
    for (;;) {
        if (f->stop)
            return false;
        int w = wait_readable(fd);
        if (w < 0)
            return false;
        if (w == 0)
            continue;
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return false;
        return qv_buf_append(in, tmp, (size_t)n) == QV_OK;
    }
}

static size_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoull(p + 15, NULL, 10);
    }
    return 0;
}

static void answer(int fd, const fake_http_resp *r, bool head_only)
{
    size_t bl = r->body ? strlen(r->body) : 0;
    char *msg = qv_xasprintf("HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n"
                             "%s",
                             r->status, bl, r->headers ? r->headers : "",
                             r->body && !head_only ? r->body : "");
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = write(fd, msg + off, len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(msg);
}

/* Serves requests on one connection until it closes; false = stop. */
static void serve_conn(fake_http *f, int fd)
{
    qv_buf in = QV_BUF_INIT;
    for (;;) {
        char *end;
        while (!(end = in.data ? strstr(in.data, "\r\n\r\n") : NULL))
            if (!read_more(f, fd, &in))
                goto out;
        size_t head_len = (size_t)(end - in.data) + 4;
        char *head = qv_xstrndup(in.data, head_len);
        size_t bl = content_length(head);
        bool head_only = strncmp(head, "HEAD ", 5) == 0;
        if (bl > 0 && in.len < head_len + bl &&
            strcasestr(head, "\nExpect: 100-continue")) {
            static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (write(fd, go, sizeof(go) - 1) != (ssize_t)(sizeof(go) - 1)) {
                free(head);
                goto out;
            }
        }
        while (in.len < head_len + bl)
            if (!read_more(f, fd, &in)) {
                free(head);
                goto out;
            }
        pthread_mutex_lock(&f->mu);
        size_t idx = f->nreq;
        if (f->nreq < FAKE_HTTP_MAX_REQ) {
            f->reqs[f->nreq].head = head;
            f->reqs[f->nreq].body = qv_xstrndup(in.data + head_len, bl);
            f->reqs[f->nreq].body_len = bl;
            f->nreq++;
        } else {
            free(head);
        }
        pthread_mutex_unlock(&f->mu);
        size_t rest = in.len - head_len - bl;
        memmove(in.data, in.data + head_len + bl, rest);
        in.len = rest;
        in.data[rest] = '\0';
        const fake_http_resp *r =
            &f->script[idx < f->script_n ? idx : f->script_n - 1];
        if (r->status < 0)
            goto out;
        if (r->status == 0) { /* hang until the client gives up */
            while (read_more(f, fd, &in))
                ;
            goto out;
        }
        answer(fd, r, head_only);
    }
out:
    qv_buf_release(&in);
    close(fd);
}

typedef struct conn_arg {
    fake_http *f;
    int fd;
} conn_arg;

static void *conn_main(void *p)
{
    conn_arg *a = p;
    serve_conn(a->f, a->fd);
    free(a);
    return NULL;
}

static void *run(void *p)
{
    fake_http *f = p;
    while (!f->stop) {
        if (wait_readable(f->listen_fd) <= 0)
            continue;
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&f->mu);
        f->nconn++;
        pthread_mutex_unlock(&f->mu);
        if (f->parallel && f->nconn_threads < 16) {
            conn_arg *a = qv_xmalloc(sizeof(*a));
            a->f = f;
            a->fd = fd;
            if (pthread_create(&f->conn_threads[f->nconn_threads], NULL,
                               conn_main, a) == 0) {
                f->nconn_threads++;
                continue;
            }
            free(a);
        }
        serve_conn(f, fd);
    }
    for (size_t i = 0; i < f->nconn_threads; i++)
        pthread_join(f->conn_threads[i], NULL);
    return NULL;
}

static void start(fake_http *f, const fake_http_resp *script, size_t n,
                  bool parallel)
{
    memset(f, 0, sizeof(*f));
    f->parallel = parallel;
    f->script = script;
    f->script_n = n;
    pthread_mutex_init(&f->mu, NULL);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(f->listen_fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(f->listen_fd, 16), 0);
    cr_assert_eq(getsockname(f->listen_fd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&f->thread, NULL, run, f), 0);
}

void fake_http_start(fake_http *f, const fake_http_resp *script, size_t n)
{
    start(f, script, n, false);
}

void fake_http_start_parallel(fake_http *f, const fake_http_resp *script,
                              size_t n)
{
    start(f, script, n, true);
}

void fake_http_stop(fake_http *f)
{
    if (f->listen_fd <= 0)
        return;
    f->stop = true;
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    f->listen_fd = -1;
    for (size_t i = 0; i < f->nreq; i++) {
        free(f->reqs[i].head);
        free(f->reqs[i].body);
    }
    f->nreq = 0;
    pthread_mutex_destroy(&f->mu);
}

size_t fake_http_count(fake_http *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

char *fake_http_header(fake_http *f, size_t i, const char *name)
{
    pthread_mutex_lock(&f->mu);
    char *out = NULL;
    if (i < f->nreq) {
        size_t nl = strlen(name);
        for (const char *p = strchr(f->reqs[i].head, '\n'); p && !out;
             p = strchr(p + 1, '\n')) {
            if (strncasecmp(p + 1, name, nl) == 0 && p[1 + nl] == ':') {
                const char *v = p + 2 + nl;
                while (*v == ' ')
                    v++;
                const char *e = strstr(v, "\r\n");
                out = qv_xstrndup(v, e ? (size_t)(e - v) : strlen(v));
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    return out;
}
