/* objstore.h -- object storage: S3 (libcurl + SigV4) or a local directory.
 *
 * One interface, several backends chosen by name at open time:
 *   "fs"     a directory tree (embedded backend, the standalone default);
 *   "s3"     any S3-compatible server (AWS S3, MinIO, Ceph RGW);
 * and a decorator, objstore_fault_wrap(), that fails the Nth call or adds
 * latency for failure tests.
 *
 * Objects are immutable blobs addressed by a key.  A key is 1..1024 bytes,
 * segments separated by '/', with no empty, "." or ".." segment, no leading
 * or trailing '/', no control characters and not starting with ".qv-" (the
 * fs backend's private names); see objstore_key_check().  Listings are in
 * byte order of the keys.
 *
 * Contract every backend keeps (PostgreSQL f_smgr style):
 *   - every op returns a qv_code; details go to *err (may be NULL) and the
 *     message names the backend, the operation, the bucket or root, the key
 *     and, for S3, the HTTP status;
 *   - a missing key gives QV_E_NOT_FOUND (get, get_range, head); delete of a
 *     missing key succeeds (deletes are idempotent);
 *   - a put is atomic: readers see the old object, or none, or the whole new
 *     object, never a part of it, also across a crash of the writer;
 *   - every call to a remote backend finishes within its timeout
 *     (objstore_config.timeout_ms per backend request, retries included)
 *     and fails with QV_E_TIMEOUT or QV_E_UNAVAILABLE when the backend does
 *     not answer; fs calls are local syscalls and have no timeout of their
 *     own;
 *   - out-params are written only on success.
 *
 * Threading: an objstore is usable from any number of threads at once;
 * backends lock internally.  objstore_close() must not race with calls.
 *
 * Ownership: the caller owns the objstore returned by objstore_open() and
 * closes it with objstore_close().  Buffers filled by get/get_range belong
 * to the caller (qv_buf_release).  A list page is released with
 * objstore_list_page_release().
 */
#ifndef QV_OBJSTORE_H
#define QV_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#define OBJSTORE_KEY_MAX         1024
#define OBJSTORE_LIST_MAX        1000 /* most entries in one list page */
#define OBJSTORE_DEFAULT_TIMEOUT 30000u

enum objstore_caps {
    OBJSTORE_CAP_MULTIPART = 1 << 0,    /* big puts are sent in parts */
    OBJSTORE_CAP_RANGE_GET = 1 << 1,    /* get_range reads only the range */
    OBJSTORE_CAP_DURABLE = 1 << 2,      /* a finished put survives a crash */
    OBJSTORE_CAP_BATCH_DELETE = 1 << 3, /* del_many: many keys per request */
};

/* Settings for every backend; each backend reads the fields it knows and
 * ignores the rest.  Strings are copied by open.  Zero means "default". */
typedef struct objstore_config {
    /* all backends */
    uint32_t timeout_ms; /* per request, retries included (default 30 s) */
    /* fs */
    const char *root; /* directory holding the objects (created) */
    bool no_fsync;    /* skip fsync (tests and benchmarks only) */
    /* s3 */
    const char *endpoint;        /* "https://s3.amazonaws.com",
                                    "http://127.0.0.1:9000" */
    const char *region;          /* default "us-east-1" */
    const char *bucket;          /* required */
    const char *access_key;      /* required */
    const char *secret_key;      /* required */
    const char *session_token;   /* optional (x-amz-security-token) */
    bool path_style;             /* endpoint/bucket/key instead of
                                    bucket.endpoint/key (MinIO, s3rver) */
    bool tls_insecure;           /* do not verify TLS certificates (tests) */
    const char *ca_file;         /* extra CA bundle for TLS verification */
    bool create_bucket;          /* create the bucket at open if missing */
    uint32_t connect_timeout_ms; /* default 5 s (bounded by timeout) */
    uint32_t max_retries;        /* retries after the first try: 3 */
    uint32_t retry_base_ms;      /* first backoff, doubled each retry:
                                    100 ms, capped at 2 s */
    size_t multipart_threshold;  /* puts above this use multipart:
                                    default 64 MiB */
    size_t part_size;            /* multipart part size: default 16 MiB
                                    (AWS needs >= 5 MiB but the last) */
    uint32_t upload_parallelism; /* parts uploaded at once: default 4 */
    uint32_t max_connections;    /* idle connections kept: default 8 */
} objstore_config;

/* Metadata of one object. */
typedef struct objstore_stat {
    uint64_t size;    /* bytes */
    int64_t mtime_ms; /* last modification, Unix ms (0 if unknown) */
} objstore_stat;

typedef struct objstore_entry {
    char *key; /* owned by the page */
    uint64_t size;
    int64_t mtime_ms;
} objstore_entry;

/* One page of a listing.  next_token is NULL on the last page; otherwise
 * pass it to the next objstore_list() call to continue. */
typedef struct objstore_list_page {
    objstore_entry *entries;
    size_t count;
    char *next_token;
} objstore_list_page;

typedef struct objstore objstore;

/* The ops every backend implements.  All ops receive a valid key (checked
 * by the wrappers) and must keep the contract stated at the top. */
typedef struct objstore_ops {
    const char *name; /* registry key: "fs", "s3" */
    uint32_t caps;    /* enum objstore_caps */
    size_t impl_size; /* bytes of backend state, base included */
    qv_code (*open)(objstore *os, const objstore_config *cfg, qv_err *err);
    void (*close)(objstore *os);
    qv_code (*put)(objstore *os, const char *key, const void *buf, size_t len,
                   qv_err *err);
    /* Appends the object's bytes to out. */
    qv_code (*get)(objstore *os, const char *key, qv_buf *out, qv_err *err);
    /* Appends bytes [off, off+len) clipped to the object's end.  off beyond
     * the end is QV_E_RANGE; off == size gives no bytes. */
    qv_code (*get_range)(objstore *os, const char *key, uint64_t off,
                         uint64_t len, qv_buf *out, qv_err *err);
    qv_code (*head)(objstore *os, const char *key, objstore_stat *st,
                    qv_err *err);
    /* Keys starting with prefix in byte order, after token (NULL = from the
     * start), at most max (1..OBJSTORE_LIST_MAX) entries. */
    qv_code (*list)(objstore *os, const char *prefix, const char *token,
                    size_t max, objstore_list_page *page, qv_err *err);
    qv_code (*del)(objstore *os, const char *key, qv_err *err);
    /* Optional (OBJSTORE_CAP_BATCH_DELETE): deletes n (1..OBJSTORE_LIST_MAX)
     * keys; missing keys count as deleted.  NULL: del is called per key. */
    qv_code (*del_many)(objstore *os, const char *const *keys, size_t n,
                        qv_err *err);
    /* Optional: stores the first size bytes of file fd (read with pread
     * from offset 0) under key.  NULL: the wrapper reads the file into
     * memory and calls put. */
    qv_code (*put_fd)(objstore *os, const char *key, int fd, uint64_t size,
                      qv_err *err);
    /* Optional: writes the whole object to fd, an empty file open for
     * writing; sets *size.  NULL: the wrapper gets it into memory first. */
    qv_code (*get_fd)(objstore *os, const char *key, int fd, uint64_t *size,
                      qv_err *err);
} objstore_ops;

/* Every backend's state starts with this base. */
struct objstore {
    const objstore_ops *ops;
    uint32_t timeout_ms; /* resolved default */
    uint32_t caps;       /* ops->caps, or what a decorator passes on */
};

/* Registers a backend (the built-in ones are registered on first use).
 * Fails with QV_E_EXISTS for a duplicate name, QV_E_RANGE when full. */
qv_code objstore_register(const objstore_ops *ops, qv_err *err) QV_MUST_USE;

/* Opens backend `name` with cfg.  On success *out must be closed. */
qv_code objstore_open(const char *name, const objstore_config *cfg,
                      objstore **out, qv_err *err) QV_MUST_USE;
void objstore_close(objstore *os);

const char *objstore_name(const objstore *os);
uint32_t objstore_caps(const objstore *os);

/* QV_OK when key is a valid object key; QV_E_INVALID (naming the rule)
 * otherwise.  A prefix (allow_prefix) may be empty and may end in '/'. */
qv_code objstore_key_check(const char *key, bool allow_prefix, qv_err *err);

/* Stores len bytes of buf under key, replacing any previous object. */
qv_code objstore_put(objstore *os, const char *key, const void *buf, size_t len,
                     qv_err *err) QV_MUST_USE;
/* Appends the whole object to out (out keeps its cap). */
qv_code objstore_get(objstore *os, const char *key, qv_buf *out,
                     qv_err *err) QV_MUST_USE;
/* Appends bytes [off, off+len) clipped to the object's end to out. */
qv_code objstore_get_range(objstore *os, const char *key, uint64_t off,
                           uint64_t len, qv_buf *out, qv_err *err) QV_MUST_USE;
qv_code objstore_head(objstore *os, const char *key, objstore_stat *st,
                      qv_err *err) QV_MUST_USE;
/* One page of the keys starting with prefix ("" = all).  token is NULL for
 * the first page, then the previous page's next_token.  max is clamped to
 * 1..OBJSTORE_LIST_MAX (0 = OBJSTORE_LIST_MAX).  On success the caller
 * releases *page. */
qv_code objstore_list(objstore *os, const char *prefix, const char *token,
                      size_t max, objstore_list_page *page,
                      qv_err *err) QV_MUST_USE;
void objstore_list_page_release(objstore_list_page *page);
/* Deletes key; a missing key is not an error. */
qv_code objstore_delete(objstore *os, const char *key, qv_err *err) QV_MUST_USE;
/* Deletes every key starting with prefix (which must not be empty: deleting
 * everything is refused with QV_E_INVALID).  *deleted (may be NULL) gets the
 * number of keys deleted, also when it fails part-way. */
qv_code objstore_delete_prefix(objstore *os, const char *prefix,
                               uint64_t *deleted, qv_err *err) QV_MUST_USE;

/* Uploads the file at path as key, with put's atomicity.  Memory use is
 * bounded (a part on S3) when the backend streams files; see caps. */
qv_code objstore_put_file(objstore *os, const char *key, const char *path,
                          qv_err *err) QV_MUST_USE;
/* Downloads key into the file at path: written to a temp file next to it,
 * fsynced and renamed, so path holds the old file or the whole object.
 * *size (may be NULL) gets the object's size. */
qv_code objstore_get_file(objstore *os, const char *key, const char *path,
                          uint64_t *size, qv_err *err) QV_MUST_USE;

/* ---- fault decorator (objstore_fault.c) ---- */

enum objstore_fault_ops {
    OBJSTORE_FAULT_PUT = 1 << 0,
    OBJSTORE_FAULT_GET = 1 << 1, /* get and get_range */
    OBJSTORE_FAULT_HEAD = 1 << 2,
    OBJSTORE_FAULT_LIST = 1 << 3,
    OBJSTORE_FAULT_DEL = 1 << 4,
    OBJSTORE_FAULT_ALL = 0x1f,
};

typedef struct objstore_fault_config {
    uint32_t ops;        /* which ops count and fail (0 = all) */
    uint64_t fail_nth;   /* fail the Nth counted call (1-based; 0 = never) */
    bool fail_after;     /* also fail every counted call after the Nth */
    qv_code fail_code;   /* code of injected failures (0 = QV_E_IO) */
    uint32_t latency_ms; /* added before every counted call */
} objstore_fault_config;

/* Wraps inner (ownership moves to the decorator, also on failure) in a
 * fault injector.  Closing the result closes inner. */
qv_code objstore_fault_wrap(objstore *inner, const objstore_fault_config *fc,
                            objstore **out, qv_err *err) QV_MUST_USE;
/* Counted calls so far, and the number of injected failures. */
uint64_t objstore_fault_calls(const objstore *fault);
uint64_t objstore_fault_injected(const objstore *fault);
/* Changes the settings of a live decorator and resets its counter. */
void objstore_fault_set(objstore *fault, const objstore_fault_config *fc);

#endif
