/* test_objstore_sigv4.c -- the S3 backend's requests carry exactly the
 * SigV4 signatures of AWS's documented examples ("Signature Calculations
 * for the Authorization Header: Transferring Payload in a Single Chunk",
 * Amazon S3 API reference): same credentials, date, host, headers and
 * payload, so the Authorization header must match byte for byte.
 *
 * Requests go to a scripted local HTTP server (fake_http.h); curl is told
 * to connect there while signing for examplebucket.s3.amazonaws.com.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/objstore/objstore_int.h"
#include "common/objstore/objstore_s3_req.h"
#include "tests/unit/objstore/fake_http.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static fake_http srv;
static objstore *os;

static void open_example_store(const fake_http_resp *script, size_t n,
                               const char *token)
{
    fake_http_start(&srv, script, n);
    objstore_config c = {.endpoint = "http://s3.amazonaws.com",
                         .bucket = "examplebucket",
                         .region = "us-east-1",
                         .access_key = AK,
                         .secret_key = SK,
                         .session_token = token,
                         .timeout_ms = 5000};
    qv_err err = {0};
    cr_assert_eq(objstore_open("s3", &c, &os, &err), QV_OK, "%s", err.msg);
    char connect_to[96];
    snprintf(connect_to, sizeof(connect_to),
             "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", srv.port);
    objstore__s3_set_test_hooks(os, "20130524T000000Z", connect_to);
}

static void teardown(void)
{
    objstore_close(os);
    os = NULL;
    fake_http_stop(&srv);
}

TestSuite(objstore_sigv4, .fini = teardown, .timeout = 30);

/* Checks request i's first line, Host and Authorization. */
static void expect_signed(size_t i, const char *request_line,
                          const char *signed_headers, const char *signature)
{
    cr_assert_gt(fake_http_count(&srv), i, "request %zu was not sent", i);
    cr_assert(strncmp(srv.reqs[i].head, request_line, strlen(request_line)) ==
                  0,
              "request line: %.80s", srv.reqs[i].head);
    char *host = fake_http_header(&srv, i, "Host");
    cr_assert_str_eq(host, "examplebucket.s3.amazonaws.com");
    free(host);
    char *auth = fake_http_header(&srv, i, "Authorization");
    cr_assert_not_null(auth);
    char *want =
        qv_xasprintf("AWS4-HMAC-SHA256 "
                     "Credential=" AK "/20130524/us-east-1/s3/aws4_request, "
                     "SignedHeaders=%s, Signature=%s",
                     signed_headers, signature);
    cr_assert_str_eq(auth, want);
    free(want);
    free(auth);
}

Test(objstore_sigv4, get_object_with_range_matches_the_aws_example)
{
    static const fake_http_resp ok[] = {
        {206, "Content-Range: bytes 0-9/100\r\n", "0123456789"}};
    open_example_store(ok, 1, NULL);
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get_range(os, "test.txt", 0, 10, &b, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(b.len, 10);
    cr_assert_str_eq(b.data, "0123456789");
    qv_buf_release(&b);
    expect_signed(0, "GET /test.txt HTTP/1.1",
                  "host;range;x-amz-content-sha256;x-amz-date",
                  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6"
                  "036bdb41");
    char *range = fake_http_header(&srv, 0, "Range");
    cr_assert_str_eq(range, "bytes=0-9");
    free(range);
}

Test(objstore_sigv4, put_object_matches_the_aws_example)
{
    static const fake_http_resp ok[] = {{200, "ETag: \"x\"\r\n", NULL}};
    open_example_store(ok, 1, NULL);
    static const char body[] = "Welcome to Amazon S3.";
    s3_req r = {.op = "put",
                .method = "PUT",
                .key = "test$file.text",
                .body = body,
                .body_len = strlen(body),
                .header = {"Date: Fri, 24 May 2013 00:00:00 GMT",
                           "x-amz-storage-class: REDUCED_REDUNDANCY"}};
    qv_err err = {0};
    cr_assert_eq(s3__perform((s3_store *)os, &r, &err), QV_OK, "%s", err.msg);
    s3__req_release(&r);
    expect_signed(0, "PUT /test%24file.text HTTP/1.1",
                  "date;host;x-amz-content-sha256;x-amz-date;"
                  "x-amz-storage-class",
                  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0"
                  "ece108bd");
    char *h = fake_http_header(&srv, 0, "x-amz-content-sha256");
    cr_assert_str_eq(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034"
                        "a8b803f8b072");
    free(h);
    cr_assert_eq(srv.reqs[0].body_len, strlen(body));
    cr_assert_str_eq(srv.reqs[0].body, body);
}

Test(objstore_sigv4, bucket_lifecycle_query_matches_the_aws_example)
{
    static const fake_http_resp ok[] = {{200, NULL, "<x/>"}};
    open_example_store(ok, 1, NULL);
    s3_req r = {.op = "get lifecycle", .method = "GET", .query = "lifecycle="};
    cr_assert_eq(s3__perform((s3_store *)os, &r, NULL), QV_OK);
    s3__req_release(&r);
    expect_signed(0, "GET /?lifecycle= HTTP/1.1",
                  "host;x-amz-content-sha256;x-amz-date",
                  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a01"
                  "36783543");
}

Test(objstore_sigv4, list_objects_query_matches_the_aws_example)
{
    static const fake_http_resp ok[] = {{200, NULL, "<x/>"}};
    open_example_store(ok, 1, NULL);
    s3_req r = {.op = "list", .method = "GET", .query = "max-keys=2&prefix=J"};
    cr_assert_eq(s3__perform((s3_store *)os, &r, NULL), QV_OK);
    s3__req_release(&r);
    expect_signed(0, "GET /?max-keys=2&prefix=J HTTP/1.1",
                  "host;x-amz-content-sha256;x-amz-date",
                  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711e"
                  "f69dc6f7");
}

Test(objstore_sigv4, list_sends_sorted_encoded_parameters)
{
    static const char page[] =
        "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false"
        "</IsTruncated><Contents><Key>x/y z/1</Key><Size>3</Size>"
        "<LastModified>2026-11-22T10:00:00.000Z</LastModified></Contents>"
        "</ListBucketResult>";
    static const fake_http_resp ok[] = {{200, NULL, page}};
    open_example_store(ok, 1, NULL);
    objstore_list_page p;
    qv_err err = {0};
    cr_assert_eq(objstore_list(os, "x/y z+", "tok/en=+", 5, &p, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(p.count, 1);
    cr_assert_str_eq(p.entries[0].key, "x/y z/1");
    cr_assert_eq(p.entries[0].mtime_ms, 1795341600000LL);
    objstore_list_page_release(&p);
    cr_assert(strncmp(srv.reqs[0].head,
                      "GET /?continuation-token=tok%2Fen%3D%2B&list-type=2&"
                      "max-keys=5&prefix=x%2Fy%20z%2B HTTP/1.1",
                      88) == 0,
              "%.120s", srv.reqs[0].head);
}

Test(objstore_sigv4, session_token_is_sent_and_signed)
{
    static const fake_http_resp ok[] = {{200, NULL, "abc"}};
    open_example_store(ok, 1, "session-token/x=");
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(os, "k", &b, NULL), QV_OK);
    cr_assert_str_eq(b.data, "abc");
    qv_buf_release(&b);
    char *t = fake_http_header(&srv, 0, "x-amz-security-token");
    cr_assert_str_eq(t, "session-token/x=");
    free(t);
    char *auth = fake_http_header(&srv, 0, "Authorization");
    cr_assert(strstr(auth, "SignedHeaders=host;x-amz-content-sha256;"
                           "x-amz-date;x-amz-security-token,"),
              "%s", auth);
    free(auth);
}
