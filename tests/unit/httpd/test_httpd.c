/* Tests of common/httpd over real sockets on 127.0.0.1. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/httpd/httpd.h"

/* Sends one request and reads the whole response into buf. */
static void http_get(int port, const char *method, const char *path, char *buf,
                     size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
}

static int calls;

static void hello(void *ud, const char *method, const char *path,
                  qv_http_response *resp)
{
    (void)ud;
    (void)method;
    calls++;
    resp->status = 201;
    cr_assert_eq(qv_buf_printf(&resp->body, "hello %s", path), QV_OK);
}

Test(httpd, serves_routes_404_and_405)
{
    qv_httpd *h = qv_httpd_create();
    qv_httpd_route(h, "/hello", hello, NULL);
    qv_err err = {0};
    cr_assert_eq(qv_httpd_start(h, "127.0.0.1", 0, &err), QV_OK, "%s", err.msg);
    int port = qv_httpd_port(h);
    cr_assert_gt(port, 0);
    char buf[4096];
    http_get(port, "GET", "/hello", buf, sizeof(buf));
    cr_assert(strstr(buf, "HTTP/1.1 201"), "%s", buf);
    cr_assert(strstr(buf, "hello /hello"), "%s", buf);
    http_get(port, "GET", "/nope", buf, sizeof(buf));
    cr_assert(strstr(buf, "HTTP/1.1 404"), "%s", buf);
    http_get(port, "POST", "/hello", buf, sizeof(buf));
    cr_assert(strstr(buf, "HTTP/1.1 405"), "%s", buf);
    qv_httpd_destroy(h);
}

Test(httpd, port_in_use_fails_with_address_in_message)
{
    qv_httpd *a = qv_httpd_create(), *b = qv_httpd_create();
    qv_err err = {0};
    cr_assert_eq(qv_httpd_start(a, "127.0.0.1", 0, &err), QV_OK);
    int port = qv_httpd_port(a);
    cr_assert_eq(qv_httpd_start(b, "127.0.0.1", port, &err), QV_E_UNAVAILABLE);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    cr_assert(strstr(err.msg, "in use"), "%s", err.msg);
    qv_httpd_destroy(b);
    qv_httpd_destroy(a);
}

Test(httpd, bad_address_is_rejected)
{
    qv_httpd *h = qv_httpd_create();
    qv_err err = {0};
    cr_assert_eq(qv_httpd_start(h, "not-an-ip", 0, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "not-an-ip"));
    qv_httpd_destroy(h);
}
