/* fake_http.h -- a scripted HTTP/1.1 server on 127.0.0.1 for client tests.
 *
 * It records every request it receives (head and body) and answers them
 * with a script of canned responses, one per request; the last entry
 * repeats.  A response may also "hang" (never answer) or "close" (drop the
 * connection without answering), to test timeouts and retries.
 *
 * Threading: the server runs one thread; the recorded requests may be read
 * after fake_http_stop() or while no request is in flight.
 */
#ifndef QV_TEST_FAKE_HTTP_H
#define QV_TEST_FAKE_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define FAKE_HTTP_MAX_REQ 64

typedef struct fake_http_resp {
    int status;          /* 0 = hang, -1 = close the connection */
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;    /* may be NULL */
} fake_http_resp;

typedef struct fake_http_req {
    char *head; /* request line and headers, NUL-terminated */
    char *body;
    size_t body_len;
} fake_http_req;

typedef struct fake_http {
    int port;
    int listen_fd;
    pthread_t thread;
    bool parallel; /* serve each connection on its own thread */
    pthread_t conn_threads[16];
    size_t nconn_threads;
    volatile bool stop;
    const fake_http_resp *script;
    size_t script_n;
    pthread_mutex_t mu; /* guards reqs, nreq */
    fake_http_req reqs[FAKE_HTTP_MAX_REQ];
    size_t nreq;
    size_t nconn; /* connections accepted */
} fake_http;

/* Starts the server with a script of n responses (borrowed).  By default
 * connections are served one after another; fake_http_start_parallel()
 * serves up to 16 at once (responses still follow the request order). */
void fake_http_start(fake_http *f, const fake_http_resp *script, size_t n);
void fake_http_start_parallel(fake_http *f, const fake_http_resp *script,
                              size_t n);
void fake_http_stop(fake_http *f);
size_t fake_http_count(fake_http *f);
/* The value of header `name` in request i (heap string), or NULL. */
char *fake_http_header(fake_http *f, size_t i, const char *name);

#endif
