/* httpd.c -- see httpd.h; a thin layer over libmicrohttpd. */
#include "common/httpd/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#define MAX_ROUTES 32

typedef struct route {
    char *path;
    qv_http_handler fn;
    void *ud;
} route;

struct qv_httpd {
    struct MHD_Daemon *daemon;
    int fd;
    int port;
    route routes[MAX_ROUTES];
    size_t nroutes;
};

qv_httpd *qv_httpd_create(void)
{
    qv_httpd *h = QV_NEW(qv_httpd);
    h->fd = -1;
    return h;
}

void qv_httpd_route(qv_httpd *h, const char *path, qv_http_handler fn, void *ud)
{
    QV_ASSERT(h->nroutes < MAX_ROUTES && !h->daemon);
    h->routes[h->nroutes++] = (route){qv_xstrdup(path), fn, ud};
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
                                 const char *ctype, char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    qv_httpd *h = cls;
    (void)version;
    (void)upload;
    if (*state == NULL) { /* first call: headers only */
        *state = h;
        return MHD_YES;
    }
    *upload_size = 0;
    const route *rt = NULL;
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, url) == 0)
            rt = &h->routes[i];
    if (!rt)
        return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain",
                         qv_xstrdup("not found\n"), 10);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                         qv_xstrdup("method not allowed\n"), 19);
    qv_http_response resp = {200, "text/plain; charset=utf-8", QV_BUF_INIT};
    rt->fn(rt->ud, method, url, &resp);
    size_t len;
    char *body = qv_buf_detach(&resp.body, &len);
    return send_text(c, (unsigned)resp.status, resp.content_type, body, len);
}

/* Binds the listening socket ourselves for precise errors and port 0. */
static qv_code bind_socket(qv_httpd *h, const char *addr, int port, qv_err *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return qv_fail(err, QV_E_INVALID,
                       "http listen address '%s' is not an IPv4 address", addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_fail_errno(err, QV_E_IO, "cannot create http socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 128) != 0) {
        qv_fail_errno(err, QV_E_UNAVAILABLE, "cannot listen for http on %s:%d",
                      addr, port);
        close(fd);
        return QV_E_UNAVAILABLE;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    h->fd = fd;
    h->port = ntohs(sa.sin_port);
    return QV_OK;
}

qv_code qv_httpd_start(qv_httpd *h, const char *addr, int port, qv_err *err)
{
    qv_code rc = bind_socket(h, addr, port, err);
    if (rc)
        return rc;
    h->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0,
                         NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET,
                         h->fd, MHD_OPTION_THREAD_POOL_SIZE, 2u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!h->daemon) {
        close(h->fd);
        h->fd = -1;
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "cannot start http server on %s:%d", addr, port);
    }
    return QV_OK;
}

int qv_httpd_port(const qv_httpd *h)
{
    return h->port;
}

void qv_httpd_destroy(qv_httpd *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    if (h->fd >= 0)
        close(h->fd);
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    free(h);
}
