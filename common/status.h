/* status.h -- the one status type of Quiver.
 *
 * Every fallible function returns a qv_code and, when it fails, fills the
 * optional qv_err with a message.  Codes are append-only and never
 * renumbered.  Detail codes keep their primary code in the low byte, so
 * qv_code_primary() gives the class to branch on.
 *
 * Mapping to gRPC status and to Milvus common.Status lives in exactly one
 * place: proto/rpc_status.c.
 *
 * Threading: qv_err is a plain value owned by the caller.
 */
#ifndef QV_STATUS_H
#define QV_STATUS_H

#include <stdarg.h>

typedef enum qv_code {
    QV_OK = 0,
    QV_E_INVALID = 1,     /* bad argument or request */
    QV_E_NOT_FOUND = 2,   /* named thing does not exist */
    QV_E_EXISTS = 3,      /* named thing already exists */
    QV_E_NOMEM = 4,       /* allocation failed or a size cap was hit */
    QV_E_IO = 5,          /* system I/O failed */
    QV_E_UNAVAILABLE = 6, /* a backend or peer cannot be reached */
    QV_E_TIMEOUT = 7,     /* a deadline passed */
    QV_E_CORRUPT = 8,     /* stored bytes fail validation */
    QV_E_UNSUPPORTED = 9, /* valid but not implemented or not enabled */
    QV_E_CANCELLED = 10,  /* the caller or shutdown cancelled the work */
    QV_E_CONFLICT = 11,   /* a compare-and-swap or version check failed */
    QV_E_INTERNAL = 12,   /* a bug: an invariant does not hold */
    QV_E_PERMISSION = 13, /* not authenticated or not allowed */
    QV_E_RANGE = 14,      /* value outside the allowed range */
    QV_E_NOT_READY = 15,  /* the service is starting or not loaded */
    QV_E_COMPACTED = 16,  /* the requested revision or position is gone */
    /* detail codes: primary in the low byte */
    QV_E_IO_SHORT_READ = QV_E_IO | (1 << 8),
    QV_E_CORRUPT_CHECKSUM = QV_E_CORRUPT | (1 << 8),
    QV_E_CORRUPT_VERSION = QV_E_CORRUPT | (2 << 8),
    /* what was not found, for Milvus's distinct error codes */
    QV_E_COLLECTION_NOT_FOUND = QV_E_NOT_FOUND | (1 << 8),
    QV_E_PARTITION_NOT_FOUND = QV_E_NOT_FOUND | (2 << 8),
    QV_E_DATABASE_NOT_FOUND = QV_E_NOT_FOUND | (3 << 8),
    QV_E_INDEX_NOT_FOUND = QV_E_NOT_FOUND | (4 << 8),
    QV_E_ALIAS_NOT_FOUND = QV_E_NOT_FOUND | (5 << 8),
    /* what is not loaded (QV_E_NOT_READY alone: the collection) */
    QV_E_PARTITION_NOT_LOADED = QV_E_NOT_READY | (1 << 8),
} qv_code;

#define QV_CODE_PRIMARY_COUNT 17
#define qv_code_primary(c)    ((qv_code)((c)&0xff))

typedef struct qv_err {
    qv_code code;
    int sys_errno; /* errno at the failure, or 0 */
    char msg[256]; /* lowercase, no final period */
} qv_err;

#define QV_MUST_USE __attribute__((warn_unused_result))

/* The stable name of a code, e.g. "QV_E_INVALID"; "QV_E_?" if unknown. */
const char *qv_code_name(qv_code c);

/* Records code and message in err (if not NULL) and returns c.
 * Usage: return qv_fail(err, QV_E_IO, "cannot write '%s'", key); */
qv_code qv_fail(qv_err *err, qv_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
qv_code qv_vfail(qv_err *err, qv_code c, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Like qv_fail, adding ": <strerror(errno)>" and saving errno. */
qv_code qv_fail_errno(qv_err *err, qv_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "<prefix>: <old message>". */
qv_code qv_err_prefix(qv_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void qv_err_clear(qv_err *err);

#endif
