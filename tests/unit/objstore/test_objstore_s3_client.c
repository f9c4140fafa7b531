/* test_objstore_s3_client.c -- the S3 backend's HTTP behaviour against a
 * scripted local server: retries with backoff on 5xx, 429, dropped
 * connections and timeouts; no retry on 4xx; error messages that name the
 * operation, bucket, key, endpoint and HTTP status; multipart uploads and
 * their abort; connection reuse; servers that answer ranges loosely.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/objstore/objstore_int.h"
#include "tests/unit/objstore/fake_http.h"

static fake_http srv;
static objstore *os;
static char endpoint[64];

static void open_store(const fake_http_resp *script, size_t n,
                       const objstore_config *over)
{
    fake_http_start(&srv, script, n);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
    objstore_config c = {0};
    if (over)
        c = *over;
    c.endpoint = endpoint;
    c.bucket = "bkt";
    c.access_key = "AK";
    c.secret_key = "SK";
    c.path_style = true;
    if (!c.retry_base_ms)
        c.retry_base_ms = 10;
    /* The fake server serves one connection at a time: upload parts one
     * after another so the script's order holds. */
    if (!c.upload_parallelism)
        c.upload_parallelism = 1;
    if (!c.timeout_ms)
        c.timeout_ms = 5000;
    qv_err err = {0};
    cr_assert_eq(objstore_open("s3", &c, &os, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    objstore_close(os);
    os = NULL;
    fake_http_stop(&srv);
}

TestSuite(objstore_s3_client, .fini = teardown, .timeout = 30);

static const char internal_error[] =
    "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We "
    "encountered an internal error &amp; stopped.</Message></Error>";
static const char no_such_key[] =
    "<Error><Code>NoSuchKey</Code><Message>The specified key does not "
    "exist.</Message></Error>";

Test(objstore_s3_client, server_errors_are_retried_until_success)
{
    static const fake_http_resp s[] = {{503, NULL, internal_error},
                                       {500, NULL, internal_error},
                                       {429, NULL, NULL},
                                       {-1, NULL, NULL},
                                       {200, NULL, "payload"}};
    open_store(s, 5, &(objstore_config){.max_retries = 5});
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, "a/b", &b, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(b.data, "payload");
    cr_assert_eq(fake_http_count(&srv), 5);
    qv_buf_release(&b);
}

Test(objstore_s3_client, persistent_server_errors_fail_with_a_clear_message)
{
    static const fake_http_resp s[] = {{500, NULL, internal_error}};
    open_store(s, 1, &(objstore_config){.max_retries = 2});
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_buf_appends(&b, "keep"), QV_OK);
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, "dir/key.bin", &b, &err), QV_E_UNAVAILABLE);
    cr_assert_eq(fake_http_count(&srv), 3, "one try and two retries");
    cr_assert_str_eq(b.data, "keep", "out is unchanged on failure");
    char *want = qv_xasprintf("s3 get 'bkt/dir/key.bin' at %s: http 500 "
                              "InternalError: We encountered an internal "
                              "error & stopped. (3 attempts)",
                              endpoint);
    cr_assert_str_eq(err.msg, want);
    free(want);
    qv_buf_release(&b);
}

Test(objstore_s3_client, client_errors_are_not_retried)
{
    static const fake_http_resp s[] = {
        {404, NULL, no_such_key},
        {403, NULL, "<Error><Code>AccessDenied</Code></Error>"},
        {400, NULL, "<Error><Code>InvalidArgument</Code></Error>"},
        {404, NULL, no_such_key}};
    open_store(s, 4, NULL);
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, "k", &b, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "http 404 NoSuchKey"), "%s", err.msg);
    cr_assert_eq(objstore_put(os, "k", "x", 1, &err), QV_E_PERMISSION);
    cr_assert(strstr(err.msg, "s3 put 'bkt/k'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "http 403 AccessDenied"), "%s", err.msg);
    cr_assert_eq(objstore_put(os, "k", "x", 1, &err), QV_E_INVALID);
    cr_assert_eq(fake_http_count(&srv), 3);
    /* HEAD answers have no body: the status alone decides */
    objstore_stat st;
    cr_assert_eq(objstore_head(os, "k", &st, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "http 404"), "%s", err.msg);
    qv_buf_release(&b);
}

Test(objstore_s3_client, a_silent_server_times_out_within_the_deadline)
{
    static const fake_http_resp s[] = {{0, NULL, NULL}};
    open_store(s, 1, &(objstore_config){.timeout_ms = 400});
    const qv_clock *c = qv_clock_system();
    uint64_t t0 = qv_mono_ms(c);
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, "slow", &b, &err), QV_E_TIMEOUT, "%s",
                 err.msg);
    uint64_t took = qv_mono_ms(c) - t0;
    cr_assert(took >= 350 && took < 1500, "took %llu ms",
              (unsigned long long)took);
    cr_assert(strstr(err.msg, "s3 get 'bkt/slow'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "no http status"), "%s", err.msg);
    qv_buf_release(&b);
}

Test(objstore_s3_client, a_closed_port_is_unavailable)
{
    static const fake_http_resp s[] = {{200, NULL, NULL}};
    open_store(s, 1, &(objstore_config){.max_retries = 2});
    fake_http_stop(&srv); /* nothing listens on the port any more */
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, "k", "v", 1, &err), QV_E_UNAVAILABLE);
    cr_assert(strstr(err.msg, "after 3 attempts"), "%s", err.msg);
    cr_assert(strstr(err.msg, endpoint), "%s", err.msg);
}

Test(objstore_s3_client, connections_are_reused)
{
    static const fake_http_resp s[] = {{200, NULL, "v"}};
    open_store(s, 1, NULL);
    for (int i = 0; i < 5; i++) {
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(objstore_get(os, "k", &b, NULL), QV_OK);
        qv_buf_release(&b);
    }
    cr_assert_eq(fake_http_count(&srv), 5);
    cr_assert_eq(srv.nconn, 1, "%zu connections for 5 requests", srv.nconn);
}

Test(objstore_s3_client, head_reads_size_and_time)
{
    static const fake_http_resp s[] = {
        {200, "Last-Modified: Sun, 22 Nov 2026 10:00:00 GMT\r\n", "12345"}};
    open_store(s, 1, NULL);
    objstore_stat st;
    qv_err err = {0};
    cr_assert_eq(objstore_head(os, "k", &st, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(st.size, 5);
    cr_assert_eq(st.mtime_ms, 1795341600000LL);
    cr_assert(strncmp(srv.reqs[0].head, "HEAD /bkt/k HTTP/1.1", 20) == 0);
}

Test(objstore_s3_client, loose_range_answers_are_trimmed)
{
    static const fake_http_resp s[] = {
        {200, NULL, "0123456789"},                              /* whole */
        {206, "Content-Range: bytes 0-9/10\r\n", "0123456789"}, /* wider */
        {206, "Content-Range: bytes 0-0/0\r\n", "x"},           /* bogus */
        {206, "Content-Range: bytes 0-0/0\r\n", "x"}};
    open_store(s, 4, NULL);
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get_range(os, "k", 3, 4, &b, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_str_eq(b.data, "3456");
    qv_buf_reset(&b);
    cr_assert_eq(objstore_get_range(os, "k", 2, 1, &b, &err), QV_OK);
    cr_assert_str_eq(b.data, "2");
    qv_buf_reset(&b);
    /* the server says the object is empty: offset 0 reads nothing */
    cr_assert_eq(objstore_get_range(os, "k", 0, 5, &b, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(objstore_get_range(os, "k", 1, 5, &b, &err), QV_E_RANGE);
    qv_buf_release(&b);
}

Test(objstore_s3_client, delete_of_a_missing_key_succeeds_but_not_bucket)
{
    static const fake_http_resp s[] = {
        {204, NULL, NULL},
        {404, NULL, no_such_key},
        {404, NULL, "<Error><Code>NoSuchBucket</Code></Error>"}};
    open_store(s, 3, NULL);
    qv_err err = {0};
    cr_assert_eq(objstore_delete(os, "k", &err), QV_OK);
    cr_assert_eq(objstore_delete(os, "k", &err), QV_OK);
    cr_assert_eq(objstore_delete(os, "k", &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "NoSuchBucket"), "%s", err.msg);
    cr_assert(strncmp(srv.reqs[0].head, "DELETE /bkt/k HTTP/1.1", 22) == 0);
}

static const char initiated[] =
    "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>big</Key>"
    "<UploadId>up/id+1</UploadId></InitiateMultipartUploadResult>";

Test(objstore_s3_client, multipart_upload_sends_parts_and_completes)
{
    static const fake_http_resp s[] = {
        {200, NULL, initiated},
        {200, "ETag: \"e1\"\r\n", NULL},
        {200, "ETag: \"e2\"\r\n", NULL},
        {200, "ETag: \"e3\"\r\n", NULL},
        {200, NULL, "<CompleteMultipartUploadResult/>"}};
    open_store(
        s, 5,
        &(objstore_config){.multipart_threshold = 4096, .part_size = 2048});
    char *data = qv_xmalloc(5000);
    memset(data, 'z', 5000);
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, "big", data, 5000, &err), QV_OK, "%s",
                 err.msg);
    free(data);
    cr_assert_eq(fake_http_count(&srv), 5);
    cr_assert(strncmp(srv.reqs[0].head, "POST /bkt/big?uploads= ", 23) == 0);
    cr_assert(strncmp(srv.reqs[1].head,
                      "PUT /bkt/big?partNumber=1&uploadId=up%2Fid%2B1 ",
                      47) == 0,
              "%.60s", srv.reqs[1].head);
    cr_assert_eq(srv.reqs[1].body_len, 2048);
    cr_assert_eq(srv.reqs[3].body_len, 5000 - 4096);
    cr_assert(strncmp(srv.reqs[4].head, "POST /bkt/big?uploadId=up%2Fid%2B1 ",
                      35) == 0);
    cr_assert_str_eq(
        srv.reqs[4].body,
        "<CompleteMultipartUpload>"
        "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part>"
        "<Part><PartNumber>3</PartNumber><ETag>\"e3\"</ETag></Part>"
        "</CompleteMultipartUpload>");
}

Test(objstore_s3_client, a_failed_multipart_upload_is_aborted)
{
    static const fake_http_resp s[] = {
        {200, NULL, initiated},
        {200, "ETag: \"e1\"\r\n", NULL},
        {400, NULL, "<Error><Code>EntityTooSmall</Code></Error>"},
        {204, NULL, NULL}};
    open_store(
        s, 4,
        &(objstore_config){.multipart_threshold = 4096, .part_size = 2048});
    char *data = qv_xcalloc(1, 5000);
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, "big", data, 5000, &err), QV_E_INVALID);
    free(data);
    cr_assert(strstr(err.msg, "s3 put (part 2) 'bkt/big'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "EntityTooSmall"), "%s", err.msg);
    cr_assert_eq(fake_http_count(&srv), 4);
    cr_assert(strncmp(srv.reqs[3].head, "DELETE /bkt/big?uploadId=up%2Fid%2B1 ",
                      37) == 0);
}

Test(objstore_s3_client, an_error_inside_a_complete_answer_fails_the_put)
{
    static const fake_http_resp s[] = {{200, NULL, initiated},
                                       {200, "ETag: \"e1\"\r\n", NULL},
                                       {200, "ETag: \"e2\"\r\n", NULL},
                                       {200, NULL, internal_error},
                                       {204, NULL, NULL}};
    open_store(
        s, 5,
        &(objstore_config){.multipart_threshold = 2048, .part_size = 2048});
    char *data = qv_xcalloc(1, 4096);
    qv_err err = {0};
    cr_assert_neq(objstore_put(os, "big", data, 4096, &err), QV_OK);
    free(data);
    cr_assert(strstr(err.msg, "InternalError"), "%s", err.msg);
    cr_assert(strncmp(srv.reqs[4].head, "DELETE /bkt/big?uploadId=", 25) == 0);
}

Test(objstore_s3_client, create_bucket_accepts_an_existing_bucket)
{
    static const fake_http_resp s[] = {
        {409, NULL, "<Error><Code>BucketAlreadyOwnedByYou</Code></Error>"}};
    fake_http_start(&srv, s, 1);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/", srv.port);
    objstore_config c = {.endpoint = endpoint,
                         .bucket = "bkt",
                         .access_key = "AK",
                         .secret_key = "SK",
                         .path_style = true,
                         .create_bucket = true};
    qv_err err = {0};
    cr_assert_eq(objstore_open("s3", &c, &os, &err), QV_OK, "%s", err.msg);
    cr_assert(strncmp(srv.reqs[0].head, "PUT /bkt HTTP/1.1", 17) == 0);
}

Test(objstore_s3_client, bad_configurations_are_refused)
{
    objstore_config bad[] = {
        {.bucket = "b", .access_key = "a", .secret_key = "s"},
        {.endpoint = "ftp://x",
         .bucket = "b",
         .access_key = "a",
         .secret_key = "s"},
        {.endpoint = "http://x", .access_key = "a", .secret_key = "s"},
        {.endpoint = "http://x", .bucket = "b", .secret_key = "s"},
        {.endpoint = "http://x",
         .bucket = "b/c",
         .access_key = "a",
         .secret_key = "s"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        objstore *o = NULL;
        qv_err err = {0};
        cr_assert_eq(objstore_open("s3", &bad[i], &o, &err), QV_E_INVALID,
                     "config %zu", i);
        cr_assert(strncmp(err.msg, "s3 objstore:", 12) == 0, "%s", err.msg);
    }
}

static const char two_keys[] =
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<Contents><Key>gc/a&amp;1</Key><Size>1</Size></Contents>"
    "<Contents><Key>gc/b</Key><Size>1</Size></Contents></ListBucketResult>";

Test(objstore_s3_client, delete_prefix_sends_one_batch_per_page)
{
    static const fake_http_resp s[] = {
        {200, NULL, two_keys}, {200, NULL, "<DeleteResult></DeleteResult>"}};
    open_store(s, 2, NULL);
    cr_assert(objstore_caps(os) & OBJSTORE_CAP_BATCH_DELETE);
    uint64_t n = 0;
    qv_err err = {0};
    cr_assert_eq(objstore_delete_prefix(os, "gc/", &n, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(fake_http_count(&srv), 2);
    cr_assert(strncmp(srv.reqs[1].head, "POST /bkt?delete= HTTP/1.1", 26) == 0);
    cr_assert_str_eq(srv.reqs[1].body,
                     "<Delete><Quiet>true</Quiet>"
                     "<Object><Key>gc/a&amp;1</Key></Object>"
                     "<Object><Key>gc/b</Key></Object></Delete>");
    char *md5 = fake_http_header(&srv, 1, "Content-MD5");
    cr_assert_not_null(md5);
    cr_assert_eq(strlen(md5), 24, "%s", md5);
    free(md5);
}

Test(objstore_s3_client, a_key_the_batch_could_not_delete_is_reported)
{
    static const fake_http_resp s[] = {
        {200, NULL, two_keys},
        {200, NULL,
         "<DeleteResult><Error><Key>gc/b</Key><Code>AccessDenied</Code>"
         "<Message>Access Denied</Message></Error></DeleteResult>"}};
    open_store(s, 2, NULL);
    uint64_t n = 7;
    qv_err err = {0};
    cr_assert_eq(objstore_delete_prefix(os, "gc/", &n, &err), QV_E_IO);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err.msg, "'bkt/gc/b'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "AccessDenied: Access Denied"), "%s", err.msg);
}

Test(objstore_s3_client, big_bodies_wait_for_100_continue)
{
    static const fake_http_resp s[] = {{200, NULL, NULL}};
    open_store(s, 1, NULL);
    size_t n = (size_t)2 << 20;
    char *d = qv_xcalloc(1, n);
    const qv_clock *c = qv_clock_system();
    uint64_t t0 = qv_mono_ms(c);
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, "big", d, n, &err), QV_OK, "%s", err.msg);
    free(d);
    char *e = fake_http_header(&srv, 0, "Expect");
    cr_assert_str_eq(e, "100-continue");
    free(e);
    cr_assert_eq(srv.reqs[0].body_len, n);
    cr_assert_lt(qv_mono_ms(c) - t0, 900, "the server's 100 was not used");
    /* a small body is sent at once, whether curl asks or not */
    t0 = qv_mono_ms(c);
    cr_assert_eq(objstore_put(os, "small", "x", 1, &err), QV_OK);
    cr_assert_lt(qv_mono_ms(c) - t0, 900);
    cr_assert_eq(srv.reqs[1].body_len, 1);
}

Test(objstore_s3_client, get_file_retries_and_keeps_only_the_answer)
{
    static const fake_http_resp s[] = {{503, NULL, internal_error},
                                       {200, NULL, "file body"}};
    open_store(s, 2, NULL);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/qv-objget-%ld", (long)getpid());
    uint64_t n = 0;
    qv_err err = {0};
    cr_assert_eq(objstore_get_file(os, "k", path, &n, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(n, 9);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char buf[32] = {0};
    cr_assert_eq(fread(buf, 1, sizeof(buf), f), 9);
    fclose(f);
    cr_assert_str_eq(buf, "file body");
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(fake_http_count(&srv), 2);
}

Test(objstore_s3_client, put_file_streams_parts_from_the_file)
{
    static const fake_http_resp s[] = {
        {200, NULL, initiated},
        {200, "ETag: \"e1\"\r\n", NULL},
        {200, "ETag: \"e2\"\r\n", NULL},
        {200, NULL, "<CompleteMultipartUploadResult/>"}};
    open_store(
        s, 4,
        &(objstore_config){.multipart_threshold = 4096, .part_size = 4096});
    char path[64];
    snprintf(path, sizeof(path), "/tmp/qv-objput-%ld", (long)getpid());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 5000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    qv_err err = {0};
    cr_assert_eq(objstore_put_file(os, "big", path, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(srv.reqs[1].body_len, 4096);
    cr_assert_eq(srv.reqs[2].body_len, 5000 - 4096);
    cr_assert_eq(srv.reqs[2].body[0], 'a' + 4096 % 26);
}

Test(objstore_s3_client, parallel_parts_each_go_once_and_complete_in_order)
{
    static const fake_http_resp s[] = {
        {200, NULL, initiated},
        {200, "ETag: \"e\"\r\n", NULL}, /* every part, then complete */
    };
    fake_http_start_parallel(&srv, s, 2);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
    objstore_config c = {.endpoint = endpoint,
                         .bucket = "bkt",
                         .access_key = "AK",
                         .secret_key = "SK",
                         .path_style = true,
                         .multipart_threshold = 4096,
                         .part_size = 4096,
                         .upload_parallelism = 3};
    qv_err err = {0};
    cr_assert_eq(objstore_open("s3", &c, &os, &err), QV_OK, "%s", err.msg);
    size_t n = 6 * 4096 - 100; /* 6 parts */
    char *d = qv_xcalloc(1, n);
    cr_assert_eq(objstore_put(os, "big", d, n, &err), QV_OK, "%s", err.msg);
    free(d);
    cr_assert_eq(fake_http_count(&srv), 8);
    bool seen[7] = {false};
    for (size_t i = 1; i <= 6; i++) {
        unsigned part = 0;
        cr_assert_eq(
            sscanf(srv.reqs[i].head, "PUT /bkt/big?partNumber=%u&", &part), 1,
            "%.60s", srv.reqs[i].head);
        cr_assert(part >= 1 && part <= 6 && !seen[part], "part %u", part);
        seen[part] = true;
        cr_assert_eq(srv.reqs[i].body_len, part == 6 ? 4096 - 100 : 4096);
    }
    cr_assert(strncmp(srv.reqs[7].head, "POST /bkt/big?uploadId=", 23) == 0);
    qv_buf want = QV_BUF_INIT;
    cr_assert_eq(qv_buf_appends(&want, "<CompleteMultipartUpload>"), QV_OK);
    for (int i = 1; i <= 6; i++)
        cr_assert_eq(qv_buf_printf(&want,
                                   "<Part><PartNumber>%d</PartNumber>"
                                   "<ETag>\"e\"</ETag></Part>",
                                   i),
                     QV_OK);
    cr_assert_eq(qv_buf_appends(&want, "</CompleteMultipartUpload>"), QV_OK);
    cr_assert_str_eq(srv.reqs[7].body, want.data);
    qv_buf_release(&want);
    /* How many connections carried the parts depends on scheduling (under
     * load one worker may send them all), so it is not asserted. */
}
