/* objstore_s3.c -- the "s3" backend: the S3 REST API over libcurl, signed
 * with AWS Signature V4 by curl (CURLOPT_AWS_SIGV4).
 *
 * Requests: PutObject (or CreateMultipartUpload + UploadPart +
 * CompleteMultipartUpload above multipart_threshold, aborted on failure),
 * GetObject (with Range), HeadObject, ListObjectsV2, DeleteObject, and
 * CreateBucket at open when asked.  Addressing is virtual-host style
 * (bucket.host/key) or path style (host/bucket/key, for MinIO and s3rver).
 *
 * Signing rules for curl 7.88 (it signs what it is given, verbatim):
 *   - the path is URI-encoded per segment here ('/' kept);
 *   - the query is built here already sorted by name, each value encoded
 *     (so "?uploads=" rather than "?uploads");
 *   - x-amz-content-sha256 is always set (the body's SHA-256, or
 *     UNSIGNED-PAYLOAD over https), since curl does not add it.
 *
 * Retries: connection failures, timeouts, 429 and 5xx are retried with
 * exponential backoff (retry_base_ms doubling, capped at 2 s, with jitter)
 * while the call's deadline (timeout_ms, one per backend request) allows.
 * Every error names the operation, bucket, key, endpoint and HTTP status.
 *
 * Threading: any number of threads; each request takes a curl easy handle
 * from a mutex-guarded pool and returns it afterwards, so connections are
 * kept alive and reused (up to max_connections idle handles).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/objstore/objstore_int.h"
#include "common/objstore/objstore_s3_req.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static s3_store *s3_of(objstore *os)
{
    return (s3_store *)os;
}

/* ---- open / close ---- */

static qv_code s3_validate(const objstore_config *cfg, qv_err *err)
{
    if (!cfg->endpoint || !cfg->endpoint[0])
        return qv_fail(err, QV_E_INVALID, "s3 objstore: endpoint is not set");
    if (strncmp(cfg->endpoint, "http://", 7) != 0 &&
        strncmp(cfg->endpoint, "https://", 8) != 0)
        return qv_fail(err, QV_E_INVALID,
                       "s3 objstore: endpoint '%s' must start with http:// "
                       "or https://",
                       cfg->endpoint);
    if (!cfg->bucket || !cfg->bucket[0] || strchr(cfg->bucket, '/'))
        return qv_fail(err, QV_E_INVALID,
                       "s3 objstore: bucket is not set or not valid");
    if (!cfg->access_key || !cfg->access_key[0] || !cfg->secret_key ||
        !cfg->secret_key[0])
        return qv_fail(err, QV_E_INVALID,
                       "s3 objstore: access key and secret key are required");
    if (strchr(cfg->access_key, ':'))
        return qv_fail(err, QV_E_INVALID,
                       "s3 objstore: access key must not contain ':'");
    if (cfg->part_size && cfg->part_size < 1024)
        return qv_fail(err, QV_E_INVALID,
                       "s3 objstore: part size %zu is below 1 KiB",
                       cfg->part_size);
    return QV_OK;
}

static qv_code s3_create_bucket(s3_store *s, qv_err *err)
{
    s3_req r = {.op = "create bucket", .method = "PUT"};
    qv_code rc = s3__perform(s, &r, err);
    if (rc && r.status == 409) /* BucketAlreadyOwnedByYou / Exists */
        rc = QV_OK;
    s3__req_release(&r);
    return rc;
}

static qv_code s3_open(objstore *os, const objstore_config *cfg, qv_err *err)
{
    s3_store *s = s3_of(os);
    qv_code rc = s3_validate(cfg, err);
    if (rc)
        return rc;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return qv_fail(err, QV_E_INTERNAL, "s3 objstore: curl init failed: %s",
                       curl_easy_strerror(curl_init_rc));
    size_t el = strlen(cfg->endpoint);
    while (el > 0 && cfg->endpoint[el - 1] == '/')
        el--;
    s->endpoint = qv_xstrndup(cfg->endpoint, el);
    s->https = strncmp(s->endpoint, "https://", 8) == 0;
    s->bucket = qv_xstrdup(cfg->bucket);
    s->region =
        qv_xstrdup(cfg->region && cfg->region[0] ? cfg->region : "us-east-1");
    s->access_key = qv_xstrdup(cfg->access_key);
    s->secret_key = qv_xstrdup(cfg->secret_key);
    s->session_token = cfg->session_token && cfg->session_token[0]
                           ? qv_xstrdup(cfg->session_token)
                           : NULL;
    s->ca_file = cfg->ca_file ? qv_xstrdup(cfg->ca_file) : NULL;
    s->sigv4 = qv_xasprintf("aws:amz:%s:s3", s->region);
    s->path_style = cfg->path_style;
    s->tls_insecure = cfg->tls_insecure;
    s->connect_timeout_ms =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
    s->max_retries = cfg->max_retries ? cfg->max_retries : 3;
    s->retry_base_ms = cfg->retry_base_ms ? cfg->retry_base_ms : 100;
    s->mp_threshold =
        cfg->multipart_threshold ? cfg->multipart_threshold : (size_t)64 << 20;
    s->part_size = cfg->part_size ? cfg->part_size : (size_t)16 << 20;
    s->upload_parallelism =
        cfg->upload_parallelism ? cfg->upload_parallelism : 4;
    s->max_idle = cfg->max_connections ? cfg->max_connections : 8;
    pthread_mutex_init(&s->pool_mu, NULL);
    s->pool = qv_xcalloc(s->max_idle, sizeof(CURL *));
    atomic_init(&s->rng, 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)s);
    if (cfg->create_bucket) {
        rc = s3_create_bucket(s, err);
        if (rc) {
            s->base.ops->close(os);
            return rc;
        }
    }
    return QV_OK;
}

static void s3_close(objstore *os)
{
    s3_store *s = s3_of(os);
    for (size_t i = 0; i < s->pool_n; i++)
        curl_easy_cleanup(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->pool_mu);
    free(s->endpoint);
    free(s->bucket);
    free(s->region);
    free(s->access_key);
    free(s->secret_key);
    free(s->session_token);
    free(s->ca_file);
    free(s->sigv4);
    free(s->fixed_date);
    curl_slist_free_all(s->connect_to);
}

void objstore__s3_set_test_hooks(objstore *os, const char *amz_date,
                                 const char *connect_to)
{
    s3_store *s = s3_of(os);
    free(s->fixed_date);
    s->fixed_date = amz_date ? qv_xstrdup(amz_date) : NULL;
    curl_slist_free_all(s->connect_to);
    s->connect_to = connect_to ? curl_slist_append(NULL, connect_to) : NULL;
}

/* ---- object operations ---- */

static qv_code s3_put_single(s3_store *s, const char *key, const void *buf,
                             size_t len, qv_err *err)
{
    s3_req r = {
        .op = "put", .method = "PUT", .key = key, .body = buf, .body_len = len};
    qv_code rc = s3__perform(s, &r, err);
    s3__req_release(&r);
    return rc;
}

static qv_code s3_put(objstore *os, const char *key, const void *buf,
                      size_t len, qv_err *err)
{
    s3_store *s = s3_of(os);
    if (len > s->mp_threshold)
        return s3__put_multipart(s, key, buf, len, -1, err);
    return s3_put_single(s, key, buf, len, err);
}

static qv_code s3_put_fd(objstore *os, const char *key, int fd, uint64_t size,
                         qv_err *err)
{
    s3_store *s = s3_of(os);
    if (size > s->mp_threshold)
        return s3__put_multipart(s, key, NULL, size, fd, err);
    char *buf = qv_try_alloc(size ? (size_t)size : 1, 1);
    if (!buf)
        return qv_fail(err, QV_E_NOMEM,
                       "s3 put '%s/%s': cannot buffer %llu bytes", s->bucket,
                       key, (unsigned long long)size);
    qv_code rc;
    if (objstore__pread_all(fd, buf, (size_t)size, 0) != 0)
        rc = qv_fail_errno(err, QV_E_IO,
                           "s3 put '%s/%s': cannot read the local file",
                           s->bucket, key);
    else
        rc = s3_put_single(s, key, buf, (size_t)size, err);
    free(buf);
    return rc;
}

static qv_code s3_get_fd(objstore *os, const char *key, int fd, uint64_t *size,
                         qv_err *err)
{
    s3_req r = {
        .op = "get", .method = "GET", .key = key, .to_fd = true, .out_fd = fd};
    qv_code rc = s3__perform(s3_of(os), &r, err);
    if (rc == QV_OK)
        *size = r.fd_bytes;
    s3__req_release(&r);
    return rc;
}

static qv_code s3_get(objstore *os, const char *key, qv_buf *out, qv_err *err)
{
    s3_req r = {.op = "get", .method = "GET", .key = key, .out = out};
    qv_code rc = s3__perform(s3_of(os), &r, err);
    s3__req_release(&r);
    return rc;
}

static qv_code s3_head(objstore *os, const char *key, objstore_stat *st,
                       qv_err *err)
{
    s3_req r = {.op = "head", .method = "HEAD", .key = key};
    qv_code rc = s3__perform(s3_of(os), &r, err);
    if (rc == QV_OK) {
        st->size = r.content_length > 0 ? (uint64_t)r.content_length : 0;
        st->mtime_ms = r.filetime > 0 ? r.filetime * 1000 : 0;
    }
    s3__req_release(&r);
    return rc;
}

/* A range that starts at or past the end: decide by the object's size. */
static qv_code range_at_end(objstore *os, const char *key, uint64_t off,
                            qv_err *err)
{
    objstore_stat st;
    qv_code rc = s3_head(os, key, &st, err);
    if (rc)
        return rc;
    if (off <= st.size)
        return QV_OK; /* nothing to read */
    return qv_fail(err, QV_E_RANGE,
                   "s3 get_range '%s/%s': offset %llu is past the end (%llu "
                   "bytes)",
                   s3_of(os)->bucket, key, (unsigned long long)off,
                   (unsigned long long)st.size);
}

/* Some servers answer a range with more than was asked (the whole object
 * with 200, or a wider 206): keep exactly [off, off+len) of what came. */
static qv_code keep_requested(s3_store *s, const char *key, const s3_req *r,
                              uint64_t off, uint64_t len, size_t before,
                              qv_buf *out, qv_err *err)
{
    uint64_t got_start = 0;
    if (r->status == 206 && r->cr_start >= 0)
        got_start = (uint64_t)r->cr_start;
    size_t got = out->len - before;
    if (got_start == off && got <= len)
        return QV_OK;
    if (off < got_start || off - got_start > got) {
        out->len = before;
        out->data[before] = '\0';
        return qv_fail(err, off - got_start > got ? QV_E_RANGE : QV_E_IO,
                       "s3 get_range '%s/%s': answer holds bytes from %llu "
                       "(%zu bytes), not from %llu",
                       s->bucket, key, (unsigned long long)got_start, got,
                       (unsigned long long)off);
    }
    size_t skip = (size_t)(off - got_start);
    size_t n = got - skip < len ? got - skip : (size_t)len;
    memmove(out->data + before, out->data + before + skip, n);
    out->len = before + n;
    out->data[out->len] = '\0';
    return QV_OK;
}

static qv_code s3_get_range(objstore *os, const char *key, uint64_t off,
                            uint64_t len, qv_buf *out, qv_err *err)
{
    if (len == 0)
        return range_at_end(os, key, off, err);
    char range[64];
    uint64_t last = len - 1 > UINT64_MAX - off ? UINT64_MAX - 1 : off + len - 1;
    snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
             (unsigned long long)off, (unsigned long long)last);
    size_t before = out->len;
    s3_req r = {.op = "get_range",
                .method = "GET",
                .key = key,
                .out = out,
                .header = {range}};
    qv_code rc = s3__perform(s3_of(os), &r, err);
    if (rc && r.bad_range && r.cr_total >= 0 && off >= (uint64_t)r.cr_total) {
        /* The server described an empty or shorter object. */
        uint64_t total = (uint64_t)r.cr_total;
        s3__req_release(&r);
        if (off == total)
            return QV_OK;
        return qv_fail(err, QV_E_RANGE,
                       "s3 get_range '%s/%s': offset %llu is past the end "
                       "(%llu bytes)",
                       s3_of(os)->bucket, key, (unsigned long long)off,
                       (unsigned long long)total);
    }
    if (rc && r.status == 416) {
        s3__req_release(&r);
        return range_at_end(os, key, off, err);
    }
    if (rc == QV_OK)
        rc = keep_requested(s3_of(os), key, &r, off, len, before, out, err);
    s3__req_release(&r);
    return rc;
}

static qv_code s3_list(objstore *os, const char *prefix, const char *token,
                       size_t max, objstore_list_page *page, qv_err *err)
{
    s3_store *s = s3_of(os);
    qv_buf q = QV_BUF_INIT;
    qv_code rc = QV_OK;
    /* Parameters sorted by name, values AWS-encoded (see the top). */
    if (token) {
        rc = qv_buf_appends(&q, "continuation-token=");
        if (rc == QV_OK)
            rc = objstore__s3_uri_encode(&q, token, strlen(token), false);
        if (rc == QV_OK)
            rc = qv_buf_appends(&q, "&");
    }
    if (rc == QV_OK)
        rc = qv_buf_printf(&q, "list-type=2&max-keys=%zu", max);
    if (rc == QV_OK && prefix[0]) {
        rc = qv_buf_appends(&q, "&prefix=");
        if (rc == QV_OK)
            rc = objstore__s3_uri_encode(&q, prefix, strlen(prefix), false);
    }
    if (rc) {
        qv_buf_release(&q);
        return qv_fail(err, QV_E_NOMEM, "s3 list '%s': query too long", prefix);
    }
    s3_req r = {.op = "list", .method = "GET", .query = qv_buf_str(&q)};
    qv_buf body = QV_BUF_INIT;
    qv_buf_init(&body, (size_t)64 << 20);
    r.out = &body;
    r.err_key = prefix;
    rc = s3__perform(s, &r, err);
    objstore_list_page tmp = {0};
    if (rc == QV_OK) {
        rc = objstore__s3_parse_list(body.data ? body.data : "", body.len, &tmp,
                                     err);
        if (rc) {
            qv_err_prefix(err, "s3 list '%s/%s' at %s", s->bucket, prefix,
                          s->endpoint);
            objstore_list_page_release(&tmp);
        }
    }
    qv_buf_release(&body);
    qv_buf_release(&q);
    s3__req_release(&r);
    if (rc == QV_OK)
        *page = tmp;
    return rc;
}

static qv_code s3_del(objstore *os, const char *key, qv_err *err)
{
    s3_req r = {.op = "delete", .method = "DELETE", .key = key};
    qv_code rc = s3__perform(s3_of(os), &r, err);
    /* Deleting a missing key succeeds (S3 itself answers 204), but a
     * missing bucket stays an error. */
    if (rc == QV_E_NOT_FOUND && strcmp(r.err_code, "NoSuchBucket") != 0)
        rc = QV_OK;
    s3__req_release(&r);
    return rc;
}

static qv_code s3_del_many(objstore *os, const char *const *keys, size_t n,
                           qv_err *err)
{
    return s3__delete_many(s3_of(os), keys, n, err);
}

const objstore_ops objstore__s3_ops = {
    .name = "s3",
    .caps = OBJSTORE_CAP_MULTIPART | OBJSTORE_CAP_RANGE_GET |
            OBJSTORE_CAP_DURABLE | OBJSTORE_CAP_BATCH_DELETE,
    .impl_size = sizeof(s3_store),
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .get = s3_get,
    .get_range = s3_get_range,
    .head = s3_head,
    .list = s3_list,
    .del = s3_del,
    .del_many = s3_del_many,
    .put_fd = s3_put_fd,
    .get_fd = s3_get_fd,
};
