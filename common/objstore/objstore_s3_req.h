/* objstore_s3_req.h -- internal: the S3 backend's state and its request
 * engine (one signed HTTP request with retries), shared by objstore_s3.c
 * and objstore_s3_req.c.
 *
 * Threading: s3__perform() may run on many threads at once; the handle
 * pool is guarded by pool_mu, everything else in s3_store is immutable
 * after open (test hooks are set before use).
 */
#ifndef QV_OBJSTORE_S3_REQ_H
#define QV_OBJSTORE_S3_REQ_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/objstore/objstore_int.h"

typedef struct s3_store {
    objstore base;
    char *endpoint; /* scheme://host[:port][/path], no trailing '/' */
    bool https;
    char *bucket, *region, *access_key, *secret_key, *session_token;
    char *ca_file;
    char *sigv4; /* "aws:amz:<region>:s3" */
    bool path_style, tls_insecure;
    uint32_t connect_timeout_ms, max_retries, retry_base_ms;
    size_t mp_threshold, part_size;
    uint32_t upload_parallelism; /* parts in flight per multipart put */
    pthread_mutex_t pool_mu;     /* guards pool, pool_n */
    CURL **pool;                 /* idle handles (keep their connections) */
    size_t pool_n, max_idle;
    atomic_uint_fast64_t rng; /* backoff jitter */
    /* test hooks */
    char *fixed_date;              /* x-amz-date to send, or NULL */
    struct curl_slist *connect_to; /* CURLOPT_CONNECT_TO, or NULL */
} s3_store;

/* One S3 request.  Inputs are borrowed for the call. */
typedef struct s3_req {
    const char *op;     /* "put", "get", ... for messages */
    const char *method; /* GET PUT POST DELETE HEAD */
    const char *key;    /* object key, or NULL for the bucket itself */
    const char *query;  /* sorted and encoded, without '?', or NULL */
    const void *body;   /* request body (PUT/POST) */
    size_t body_len;
    const char *header[3]; /* extra header lines ("Range: ..."), NULL ends */
    qv_buf *out;           /* 2xx body is appended here (NULL: dropped) */
    bool to_fd;            /* ... or written to out_fd (emptied per try) */
    int out_fd;
    const char *err_key; /* name used in messages when key is NULL */
    /* results */
    long status;       /* last HTTP status, 0 if none */
    char err_code[64]; /* S3 <Code> of an error answer, or "" */
    char etag[128];    /* ETag response header, quotes kept */
    int64_t content_length;
    int64_t filetime;                   /* Last-Modified, Unix seconds, or -1 */
    int64_t cr_start, cr_end, cr_total; /* Content-Range, or -1 */
    bool bad_range; /* Content-Range was inconsistent: transfer stopped */
    /* internal */
    qv_buf errbody; /* body of a non-2xx answer (capped) */
    size_t out_before;
    size_t upload_pos;
    bool out_full;
    bool fd_failed; /* writing out_fd failed (errno saved in fd_errno) */
    int fd_errno;
    uint64_t fd_bytes;
} s3_req;

/* Sends r (with retries) and classifies the answer: QV_OK for 2xx, else a
 * code from the HTTP status or the curl error, with the message in err.
 * r->status and r->err_code tell what the server said. */
qv_code s3__perform(s3_store *s, s3_req *r, qv_err *err) QV_MUST_USE;
void s3__req_release(s3_req *r);

/* DeleteObjects for n (<= 1000) keys in one request. */
qv_code s3__delete_many(s3_store *s, const char *const *keys, size_t n,
                        qv_err *err) QV_MUST_USE;

/* Records an HTTP failure of r (status, S3 code and message) in err. */
qv_code s3__fail_http(s3_store *s, s3_req *r, int attempts, qv_err *err);

/* Multipart upload (objstore_s3_mp.c) of len bytes from buf, or (buf NULL) read
 * part by part from file fd with pread, so memory use is one part per uploading
 * thread. Parts are part_size bytes, up to upload_parallelism in flight; a
 * failed upload is aborted. */
qv_code s3__put_multipart(s3_store *s, const char *key, const void *buf,
                          uint64_t len, int fd, qv_err *err) QV_MUST_USE;

#endif
