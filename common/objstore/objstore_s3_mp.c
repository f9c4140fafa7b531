/* objstore_s3_mp.c -- S3 multipart uploads: CreateMultipartUpload, the
 * parts (up to upload_parallelism at once), CompleteMultipartUpload, and
 * AbortMultipartUpload when anything fails.
 *
 * Parts come from memory or are read from a file with pread, one scratch
 * buffer per uploading thread, so a file upload holds at most
 * upload_parallelism parts in memory.  The object becomes visible only when
 * Complete succeeds.
 *
 * Threading: one call uses its own worker threads (the caller is one of
 * them); they share the store's handle pool and only the job below, whose
 * failure slot is guarded by a mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/objstore/objstore_s3_req.h"

#define MAX_PARTS   10000u
#define MAX_WORKERS 32u
#define ETAG_MAX    128

static qv_code mp_initiate(s3_store *s, const char *key, char **upload_id,
                           qv_err *err)
{
    qv_buf body = QV_BUF_INIT;
    s3_req r = {.op = "put (initiate multipart)",
                .method = "POST",
                .key = key,
                .query = "uploads=",
                .out = &body};
    qv_code rc = s3__perform(s, &r, err);
    s3__req_release(&r);
    if (rc == QV_OK && objstore__xml_text(qv_buf_str(&body), body.len,
                                          "UploadId", upload_id, NULL) != QV_OK)
        rc = qv_fail(err, QV_E_CORRUPT,
                     "s3 put '%s/%s' at %s: no UploadId in the answer",
                     s->bucket, key, s->endpoint);
    qv_buf_release(&body);
    return rc;
}

static void mp_abort(s3_store *s, const char *key, const char *enc_id)
{
    char *q = qv_xasprintf("uploadId=%s", enc_id);
    s3_req r = {.op = "put (abort multipart)",
                .method = "DELETE",
                .key = key,
                .query = q};
    if (s3__perform(s, &r, NULL) != QV_OK) {
        /* Best effort: an unfinished upload costs only storage, and
         * bucket lifecycle rules remove it. */
    }
    s3__req_release(&r);
    free(q);
}

/* One upload shared by its worker threads. */
typedef struct mp_job {
    s3_store *s;
    const char *key;
    const char *enc_id;
    const char *buf; /* parts from memory, or NULL: from fd */
    int fd;
    uint64_t len;
    size_t part;
    unsigned nparts;
    char (*etags)[ETAG_MAX]; /* per part, filled by its uploader */
    atomic_uint next;        /* next part to take (0-based) */
    atomic_bool failed;
    pthread_mutex_t mu; /* guards rc, err */
    qv_code rc;
    qv_err err;
} mp_job;

static void mp_fail(mp_job *j, qv_code rc, const qv_err *e)
{
    pthread_mutex_lock(&j->mu);
    if (j->rc == QV_OK) {
        j->rc = rc;
        j->err = *e;
    }
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->failed, true);
}

static qv_code mp_part(mp_job *j, unsigned n, const char *body, size_t len,
                       qv_err *err)
{
    s3_store *s = j->s;
    char *q = qv_xasprintf("partNumber=%u&uploadId=%s", n, j->enc_id);
    char op[48];
    snprintf(op, sizeof(op), "put (part %u)", n);
    s3_req r = {.op = op,
                .method = "PUT",
                .key = j->key,
                .query = q,
                .body = body,
                .body_len = len};
    qv_code rc = s3__perform(s, &r, err);
    if (rc == QV_OK && (!r.etag[0] || strlen(r.etag) >= ETAG_MAX))
        rc = qv_fail(err, QV_E_CORRUPT,
                     "s3 put '%s/%s' at %s: part %u answer has no usable ETag",
                     s->bucket, j->key, s->endpoint, n);
    if (rc == QV_OK)
        snprintf(j->etags[n - 1], ETAG_MAX, "%s", r.etag);
    s3__req_release(&r);
    free(q);
    return rc;
}

/* Takes parts until none is left or one failed. */
static void *mp_worker(void *arg)
{
    mp_job *j = arg;
    qv_err e = {0};
    char *scratch = NULL;
    if (!j->buf && !(scratch = qv_try_alloc(j->part, 1))) {
        qv_fail(&e, QV_E_NOMEM,
                "s3 put '%s/%s': cannot allocate a %zu-byte part", j->s->bucket,
                j->key, j->part);
        mp_fail(j, QV_E_NOMEM, &e);
        return NULL;
    }
    while (!atomic_load(&j->failed)) {
        unsigned i = atomic_fetch_add(&j->next, 1);
        if (i >= j->nparts)
            break;
        uint64_t off = (uint64_t)i * j->part;
        size_t plen = j->len - off < j->part ? (size_t)(j->len - off) : j->part;
        const char *body = j->buf ? j->buf + off : scratch;
        qv_code rc = QV_OK;
        if (!j->buf && objstore__pread_all(j->fd, scratch, plen, off) != 0)
            rc = qv_fail_errno(&e, QV_E_IO,
                               "s3 put '%s/%s': cannot read the local file",
                               j->s->bucket, j->key);
        if (rc == QV_OK)
            rc = mp_part(j, i + 1, body, plen, &e);
        if (rc)
            mp_fail(j, rc, &e);
    }
    free(scratch);
    return NULL;
}

/* Uploads every part; the caller's thread is one of the workers. */
static qv_code mp_upload_parts(mp_job *j, qv_err *err)
{
    unsigned want = j->s->upload_parallelism;
    if (want > j->nparts)
        want = j->nparts;
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    pthread_t tids[MAX_WORKERS];
    unsigned started = 0;
    for (unsigned t = 1; t < want; t++) {
        if (pthread_create(&tids[started], NULL, mp_worker, j) != 0)
            break; /* fewer helpers: still correct */
        started++;
    }
    mp_worker(j);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    if (j->rc && err)
        *err = j->err;
    return j->rc;
}

static qv_code mp_complete(s3_store *s, const char *key, const mp_job *j,
                           qv_err *err)
{
    qv_buf body = QV_BUF_INIT;
    qv_code rc = qv_buf_appends(&body, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < j->nparts && rc == QV_OK; i++)
        rc = qv_buf_printf(&body,
                           "<Part><PartNumber>%u</PartNumber>"
                           "<ETag>%s</ETag></Part>",
                           i + 1, j->etags[i]);
    if (rc == QV_OK)
        rc = qv_buf_appends(&body, "</CompleteMultipartUpload>");
    if (rc) {
        qv_buf_release(&body);
        return qv_fail(err, QV_E_NOMEM, "s3 put '%s': part list too long", key);
    }
    char *q = qv_xasprintf("uploadId=%s", j->enc_id);
    qv_buf answer = QV_BUF_INIT;
    s3_req r = {.op = "put (complete multipart)",
                .method = "POST",
                .key = key,
                .query = q,
                .body = body.data,
                .body_len = body.len,
                .out = &answer};
    rc = s3__perform(s, &r, err);
    /* S3 may answer 200 and still report an error in the body. */
    if (rc == QV_OK && strstr(qv_buf_str(&answer), "<Error>")) {
        qv_buf_reset(&r.errbody);
        size_t n = answer.len < 65536 ? answer.len : 65536;
        if (qv_buf_append(&r.errbody, answer.data, n) != QV_OK)
            qv_buf_reset(&r.errbody);
        rc = s3__fail_http(s, &r, 1, err);
    }
    s3__req_release(&r);
    qv_buf_release(&answer);
    qv_buf_release(&body);
    free(q);
    return rc;
}

qv_code s3__put_multipart(s3_store *s, const char *key, const void *buf,
                          uint64_t len, int fd, qv_err *err)
{
    size_t part = s->part_size;
    if (len / part >= MAX_PARTS)
        part = (size_t)(len / (MAX_PARTS - 1) + 1);
    char *id = NULL;
    qv_code rc = mp_initiate(s, key, &id, err);
    if (rc)
        return rc;
    qv_buf enc = QV_BUF_INIT;
    if (objstore__s3_uri_encode(&enc, id, strlen(id), false) != QV_OK) {
        free(id);
        return qv_fail(err, QV_E_NOMEM, "s3 put '%s': upload id too long", key);
    }
    mp_job j = {.s = s,
                .key = key,
                .enc_id = qv_buf_str(&enc),
                .buf = buf,
                .fd = fd,
                .len = len,
                .part = part,
                .nparts = (unsigned)((len + part - 1) / part)};
    j.etags = qv_xcalloc(j.nparts, sizeof(*j.etags));
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    pthread_mutex_init(&j.mu, NULL);
    rc = mp_upload_parts(&j, err);
    if (rc == QV_OK)
        rc = mp_complete(s, key, &j, err);
    if (rc)
        mp_abort(s, key, j.enc_id);
    pthread_mutex_destroy(&j.mu);
    free(j.etags);
    qv_buf_release(&enc);
    free(id);
    return rc;
}
