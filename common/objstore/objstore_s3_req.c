/* objstore_s3_req.c -- the S3 request engine: URL and header building,
 * one signed curl transfer, retries with backoff, error classification, and
 * multipart uploads.  See objstore_s3.c for the rules curl 7.88 imposes.
 *
 * Threading: see objstore_s3_req.h.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/objstore/objstore_s3_req.h"

#define ERRBODY_CAP     ((size_t)64 * 1024)
#define BACKOFF_MAXMS   2000u
#define EXPECT_MIN_BODY ((size_t)1 << 20)

static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ---- handle pool ---- */

static CURL *pool_get(s3_store *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n > 0)
        h = s->pool[--s->pool_n];
    pthread_mutex_unlock(&s->pool_mu);
    if (h)
        curl_easy_reset(h); /* keeps the live connection */
    else
        h = curl_easy_init();
    return h;
}

static void pool_put(s3_store *s, CURL *h)
{
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n < s->max_idle) {
        s->pool[s->pool_n++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- request building ---- */

static qv_code build_url(s3_store *s, const s3_req *r, qv_buf *url)
{
    qv_code rc;
    if (s->path_style) {
        rc = qv_buf_printf(url, "%s/%s", s->endpoint, s->bucket);
        if (rc == QV_OK && r->key)
            rc = qv_buf_appends(url, "/");
    } else {
        const char *host = strstr(s->endpoint, "://") + 3;
        rc = qv_buf_printf(url, "%.*s%s.%s/", (int)(host - s->endpoint),
                           s->endpoint, s->bucket, host);
    }
    if (rc == QV_OK && r->key)
        rc = objstore__s3_uri_encode(url, r->key, strlen(r->key), true);
    if (rc == QV_OK && r->query)
        rc = qv_buf_printf(url, "?%s", r->query);
    return rc;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (EVP_Digest(p, n, md, &ml, EVP_sha256(), NULL) != 1 || ml != 32) {
        hex[0] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *h,
                                     bool *ok)
{
    struct curl_slist *n = curl_slist_append(l, h);
    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

static struct curl_slist *build_headers(s3_store *s, const s3_req *r)
{
    bool sends_body =
        strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0;
    char hash[65 + 32] = "x-amz-content-sha256: ";
    size_t hl = strlen(hash);
    if (!sends_body || r->body_len == 0)
        memcpy(hash + hl, empty_sha256, sizeof(empty_sha256));
    else if (s->https)
        memcpy(hash + hl, "UNSIGNED-PAYLOAD", 17);
    else
        sha256_hex(r->body, r->body_len, hash + hl);
    bool ok = true;
    /* No "Expect:" line to suppress 100-continue: curl 7.88 would sign it
     * as an empty header that is never sent.  curl adds its own unsigned
     * "Expect: 100-continue" to big uploads, which S3 supports. */
    struct curl_slist *l = add_header(NULL, hash, &ok);
    if (s->fixed_date) {
        char d[64];
        snprintf(d, sizeof(d), "x-amz-date: %s", s->fixed_date);
        l = add_header(l, d, &ok);
    }
    if (s->session_token) {
        char *t = qv_xasprintf("x-amz-security-token: %s", s->session_token);
        l = add_header(l, t, &ok);
        free(t);
    }
    for (size_t i = 0; i < 3 && r->header[i]; i++)
        l = add_header(l, r->header[i], &ok);
    if (!ok) {
        curl_slist_free_all(l);
        return NULL;
    }
    return l;
}

/* ---- curl callbacks ---- */

typedef struct xfer {
    s3_req *r;
    CURL *h;
} xfer;

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        if (x->r->to_fd) {
            if (objstore__write_all(x->r->out_fd, p, n) != 0) {
                x->r->fd_failed = true;
                x->r->fd_errno = errno;
                return 0;
            }
            x->r->fd_bytes += n;
            return n;
        }
        if (!x->r->out)
            return n;
        if (qv_buf_append(x->r->out, p, n) != QV_OK) {
            x->r->out_full = true;
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        }
        return n;
    }
    size_t room = ERRBODY_CAP - x->r->errbody.len;
    if (qv_buf_append(&x->r->errbody, p, n < room ? n : room))
        return n; /* keep what fits; the status tells the story */
    return n;
}

static size_t read_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_req *r = ud;
    size_t room = size * nmemb;
    size_t left = r->body_len - r->upload_pos;
    size_t n = left < room ? left : room;
    if (n)
        memcpy(p, (const char *)r->body + r->upload_pos, n);
    r->upload_pos += n;
    return n;
}

static int seek_cb(void *ud, curl_off_t off, int origin)
{
    s3_req *r = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
        return CURL_SEEKFUNC_FAIL;
    r->upload_pos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

/* Content-Range: bytes <start>-<end>/<total>.  A range that cannot be
 * right (total 0, end past total) stops the transfer: some servers then
 * announce a body they never send. */
static bool parse_content_range(s3_req *r, const char *p, size_t n)
{
    char line[128];
    size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, p, l);
    line[l] = '\0';
    long long a, b, t;
    if (sscanf(line + 14, " bytes %lld-%lld/%lld", &a, &b, &t) != 3) {
        long long t2;
        if (sscanf(line + 14, " bytes */%lld", &t2) == 1)
            r->cr_total = t2;
        return true;
    }
    r->cr_start = a;
    r->cr_end = b;
    r->cr_total = t;
    if (a < 0 || b < a || t <= b) {
        r->bad_range = true;
        return false;
    }
    return true;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_req *r = ud;
    size_t n = size * nmemb;
    if (n > 14 && strncasecmp(p, "Content-Range:", 14) == 0 &&
        !parse_content_range(r, p, n))
        return 0;
    if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        size_t i = 5, e = n;
        while (i < e && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (e > i &&
               (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        size_t l = e - i < sizeof(r->etag) - 1 ? e - i : sizeof(r->etag) - 1;
        memcpy(r->etag, p + i, l);
        r->etag[l] = '\0';
    }
    return n;
}

static void setup_handle(s3_store *s, s3_req *r, xfer *x, const char *url,
                         struct curl_slist *hdrs, uint64_t remaining_ms)
{
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)remaining_ms);
    uint64_t ct = s->connect_timeout_ms < remaining_ms ? s->connect_timeout_ms
                                                       : remaining_ms;
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ct);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (s->tls_insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    if (s->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, s->connect_to);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        /* curl asks "Expect: 100-continue" before sending a body.  For
         * small bodies the round trip costs more than it could save, so
         * send them at once (the header itself cannot be removed: a blank
         * "Expect:" line would be signed, see build_headers). */
        if (r->body_len < EXPECT_MIN_BODY)
            curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
        if (strcmp(r->method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
}

/* ---- classification ---- */

static bool curl_transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static bool status_transient(long st)
{
    return st == 429 || st >= 500;
}

static qv_code code_of_status(long st, const char *s3code)
{
    if (st < 300) /* an error inside a 200 answer */
        return QV_E_IO;
    if (st == 404)
        return QV_E_NOT_FOUND;
    if (st == 401 || st == 403)
        return QV_E_PERMISSION;
    if (st == 416)
        return QV_E_RANGE;
    if (st == 409 || st == 412)
        return QV_E_CONFLICT;
    if (st == 429 || st >= 500)
        return QV_E_UNAVAILABLE;
    if (strcmp(s3code, "EntityTooLarge") == 0)
        return QV_E_RANGE;
    return QV_E_INVALID;
}

/* Fills r->err_code and returns the server's <Message> (heap) or NULL. */
static char *parse_error_body(s3_req *r)
{
    char *code = NULL, *msg = NULL;
    const char *b = qv_buf_str(&r->errbody);
    if (objstore__xml_text(b, r->errbody.len, "Code", &code, NULL) == QV_OK) {
        snprintf(r->err_code, sizeof(r->err_code), "%s", code);
        free(code);
    }
    if (objstore__xml_text(b, r->errbody.len, "Message", &msg, NULL) != QV_OK)
        msg = NULL;
    return msg;
}

qv_code s3__fail_http(s3_store *s, s3_req *r, int attempts, qv_err *err)
{
    char *msg = parse_error_body(r);
    if (!r->err_code[0] && r->status == 404)
        snprintf(r->err_code, sizeof(r->err_code), "%s", "NotFound");
    qv_code c = code_of_status(r->status, r->err_code);
    const char *name = r->key ? r->key : (r->err_key ? r->err_key : "");
    qv_fail(err, c, "s3 %s '%s/%s' at %s: http %ld %s%s%s (%d attempt%s)",
            r->op, s->bucket, name, s->endpoint, r->status,
            r->err_code[0] ? r->err_code : "error", msg ? ": " : "",
            msg ? msg : "", attempts, attempts == 1 ? "" : "s");
    free(msg);
    return c;
}

static qv_code fail_curl(s3_store *s, s3_req *r, CURLcode cc, int attempts,
                         uint64_t elapsed_ms, qv_err *err)
{
    qv_code c = cc == CURLE_OPERATION_TIMEDOUT           ? QV_E_TIMEOUT
                : curl_transient(cc)                     ? QV_E_UNAVAILABLE
                : cc == CURLE_WRITE_ERROR && r->out_full ? QV_E_NOMEM
                : cc == CURLE_PEER_FAILED_VERIFICATION   ? QV_E_PERMISSION
                                                         : QV_E_IO;
    const char *name = r->key ? r->key : (r->err_key ? r->err_key : "");
    if (r->fd_failed) {
        errno = r->fd_errno;
        return qv_fail_errno(err, QV_E_IO,
                             "s3 %s '%s/%s': cannot write the local file",
                             r->op, s->bucket, name);
    }
    char status[32] = "no http status";
    if (r->status > 0)
        snprintf(status, sizeof(status), "http %ld", r->status);
    return qv_fail(err, c,
                   "s3 %s '%s/%s' at %s: %s (curl %d, %s) after %d attempt%s "
                   "in %llu ms",
                   r->op, s->bucket, name, s->endpoint,
                   r->out_full ? "answer exceeds the buffer cap"
                               : curl_easy_strerror(cc),
                   (int)cc, status, attempts, attempts == 1 ? "" : "s",
                   (unsigned long long)elapsed_ms);
}

static uint64_t backoff_ms(s3_store *s, int attempt)
{
    uint64_t b = (uint64_t)s->retry_base_ms << (attempt < 16 ? attempt : 16);
    if (b > BACKOFF_MAXMS)
        b = BACKOFF_MAXMS;
    /* Jitter: between half and all of b (xorshift, shared state). */
    uint64_t x = atomic_load(&s->rng);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    atomic_store(&s->rng, x);
    return b / 2 + (b / 2 ? x % (b / 2 + 1) : 0);
}

/* One transfer; returns the curl result. */
static CURLcode transfer(s3_store *s, s3_req *r, const char *url,
                         struct curl_slist *hdrs, uint64_t remaining_ms)
{
    xfer x = {.r = r, .h = NULL};
    r->status = 0;
    r->err_code[0] = r->etag[0] = '\0';
    r->content_length = -1;
    r->filetime = -1;
    r->cr_start = r->cr_end = r->cr_total = -1;
    r->bad_range = false;
    r->upload_pos = 0;
    r->out_full = false;
    r->fd_failed = false;
    r->fd_bytes = 0;
    if (r->to_fd &&
        (ftruncate(r->out_fd, 0) != 0 || lseek(r->out_fd, 0, SEEK_SET) != 0)) {
        r->fd_failed = true;
        r->fd_errno = errno;
        return CURLE_WRITE_ERROR;
    }
    qv_buf_reset(&r->errbody);
    if (r->out) {
        r->out->len = r->out_before;
        if (r->out->data)
            r->out->data[r->out_before] = '\0';
    }
    x.h = pool_get(s);
    if (!x.h)
        return CURLE_OUT_OF_MEMORY;
    setup_handle(s, r, &x, url, hdrs, remaining_ms);
    CURLcode cc = curl_easy_perform(x.h);
    curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_off_t cl = -1, ft = -1;
    curl_easy_getinfo(x.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    curl_easy_getinfo(x.h, CURLINFO_FILETIME_T, &ft);
    r->content_length = cl;
    r->filetime = ft;
    if (cc == CURLE_OK)
        pool_put(s, x.h);
    else
        curl_easy_cleanup(x.h); /* drop a possibly broken connection */
    return cc;
}

qv_code s3__perform(s3_store *s, s3_req *r, qv_err *err)
{
    qv_buf url = QV_BUF_INIT;
    if (build_url(s, r, &url) != QV_OK)
        return qv_fail(err, QV_E_NOMEM, "s3 %s: url too long", r->op);
    struct curl_slist *hdrs = build_headers(s, r);
    if (!hdrs) {
        qv_buf_release(&url);
        return qv_fail(err, QV_E_NOMEM, "s3 %s: cannot build headers", r->op);
    }
    qv_buf_init(&r->errbody, ERRBODY_CAP + 1);
    r->out_before = r->out ? r->out->len : 0;
    const qv_clock *clk = qv_clock_system();
    uint64_t start = qv_mono_ms(clk);
    uint64_t deadline = start + s->base.timeout_ms;
    qv_code rc = QV_OK;
    for (int attempt = 0;; attempt++) {
        uint64_t now = qv_mono_ms(clk);
        uint64_t remaining = deadline > now ? deadline - now : 1;
        CURLcode cc = transfer(s, r, qv_buf_str(&url), hdrs, remaining);
        bool retry;
        if (cc != CURLE_OK) {
            retry = curl_transient(cc);
            rc = fail_curl(s, r, cc, attempt + 1, qv_mono_ms(clk) - start, err);
        } else if (r->status >= 200 && r->status < 300) {
            rc = QV_OK;
            break;
        } else {
            retry = status_transient(r->status);
            rc = s3__fail_http(s, r, attempt + 1, err);
        }
        now = qv_mono_ms(clk);
        uint64_t wait = backoff_ms(s, attempt);
        if (!retry || (uint32_t)attempt >= s->max_retries ||
            now + wait >= deadline)
            break;
        qv_sleep_ms(wait);
    }
    if (rc && r->out) {
        r->out->len = r->out_before;
        if (r->out->data)
            r->out->data[r->out_before] = '\0';
    }
    curl_slist_free_all(hdrs);
    qv_buf_release(&url);
    return rc;
}

void s3__req_release(s3_req *r)
{
    qv_buf_release(&r->errbody);
}

/* ---- multi-object delete ---- */

static qv_code xml_escape(qv_buf *b, const char *s)
{
    qv_code rc = QV_OK;
    for (; *s && rc == QV_OK; s++) {
        switch (*s) {
        case '&':
            rc = qv_buf_appends(b, "&amp;");
            break;
        case '<':
            rc = qv_buf_appends(b, "&lt;");
            break;
        case '>':
            rc = qv_buf_appends(b, "&gt;");
            break;
        case '"':
            rc = qv_buf_appends(b, "&quot;");
            break;
        case '\'':
            rc = qv_buf_appends(b, "&apos;");
            break;
        default:
            rc = qv_buf_append(b, s, 1);
        }
    }
    return rc;
}

/* "Content-MD5: <base64 of md5(p)>" into out. */
static void content_md5(const void *p, size_t n, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    int l = snprintf(out, 64, "Content-MD5: ");
    if (EVP_Digest(p, n, md, &ml, EVP_md5(), NULL) == 1 && ml == 16)
        EVP_EncodeBlock((unsigned char *)out + l, md, 16);
}

qv_code s3__delete_many(s3_store *s, const char *const *keys, size_t n,
                        qv_err *err)
{
    qv_buf body = QV_BUF_INIT;
    qv_code rc = qv_buf_appends(&body, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n && rc == QV_OK; i++) {
        rc = qv_buf_appends(&body, "<Object><Key>");
        if (rc == QV_OK)
            rc = xml_escape(&body, keys[i]);
        if (rc == QV_OK)
            rc = qv_buf_appends(&body, "</Key></Object>");
    }
    if (rc == QV_OK)
        rc = qv_buf_appends(&body, "</Delete>");
    if (rc) {
        qv_buf_release(&body);
        return qv_fail(err, QV_E_NOMEM, "s3 delete: request too large");
    }
    char md5[64];
    content_md5(body.data, body.len, md5);
    qv_buf answer = QV_BUF_INIT;
    s3_req r = {.op = "delete (batch)",
                .method = "POST",
                .query = "delete=",
                .body = body.data,
                .body_len = body.len,
                .header = {md5, "Content-Type: application/xml"},
                .out = &answer,
                .err_key = keys[0]};
    rc = s3__perform(s, &r, err);
    /* With <Quiet>, only the keys that could not be deleted are listed. */
    const char *e = rc == QV_OK ? strstr(qv_buf_str(&answer), "<Error>") : NULL;
    if (e) {
        size_t off = (size_t)(e - answer.data);
        char *key = NULL;
        qv_buf_reset(&r.errbody);
        if (qv_buf_append(&r.errbody, e, answer.len - off) != QV_OK)
            qv_buf_reset(&r.errbody);
        if (objstore__xml_text(e, answer.len - off, "Key", &key, NULL) ==
            QV_OK) {
            r.err_key = key;
        }
        r.status = 200;
        rc = s3__fail_http(s, &r, 1, err);
        free(key);
    }
    s3__req_release(&r);
    qv_buf_release(&answer);
    qv_buf_release(&body);
    return rc;
}
