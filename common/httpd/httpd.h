/* httpd.h -- the HTTP server of a Quiver process (:9091 by default):
 * /healthz, /metrics and, later, the REST API.
 *
 * Routes are exact paths registered before qv_httpd_start().  A handler
 * fills a qv_http_response; the server owns the response body buffer and
 * frees it after sending.  Unknown paths get 404, unsupported methods 405.
 *
 * Threading: libmicrohttpd runs handlers on its own internal threads
 * (a small thread pool), so handlers must be thread-safe.  start/stop are
 * called from one thread.
 */
#ifndef QV_HTTPD_H
#define QV_HTTPD_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

typedef struct qv_http_response {
    int status;               /* HTTP status code, default 200 */
    const char *content_type; /* static string; default text/plain */
    qv_buf body;              /* filled by the handler */
} qv_http_response;

/* method is "GET", "POST", ...; returns nothing: errors go in resp. */
typedef void (*qv_http_handler)(void *ud, const char *method, const char *path,
                                qv_http_response *resp);

typedef struct qv_httpd qv_httpd;

qv_httpd *qv_httpd_create(void);
/* Registers a handler for GET (and HEAD) on an exact path. */
void qv_httpd_route(qv_httpd *h, const char *path, qv_http_handler fn,
                    void *ud);
/* Binds addr:port (port 0 = any free port) and starts serving.  A port in
 * use fails with QV_E_UNAVAILABLE and a message naming the address. */
qv_code qv_httpd_start(qv_httpd *h, const char *addr, int port,
                       qv_err *err) QV_MUST_USE;
int qv_httpd_port(const qv_httpd *h);
/* Stops serving (if started) and frees the server. */
void qv_httpd_destroy(qv_httpd *h);

#endif
