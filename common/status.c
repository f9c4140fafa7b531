/* status.c -- status code names and error formatting. */
#include "common/status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const primary_names[QV_CODE_PRIMARY_COUNT] = {
    [QV_OK] = "QV_OK",
    [QV_E_INVALID] = "QV_E_INVALID",
    [QV_E_NOT_FOUND] = "QV_E_NOT_FOUND",
    [QV_E_EXISTS] = "QV_E_EXISTS",
    [QV_E_NOMEM] = "QV_E_NOMEM",
    [QV_E_IO] = "QV_E_IO",
    [QV_E_UNAVAILABLE] = "QV_E_UNAVAILABLE",
    [QV_E_TIMEOUT] = "QV_E_TIMEOUT",
    [QV_E_CORRUPT] = "QV_E_CORRUPT",
    [QV_E_UNSUPPORTED] = "QV_E_UNSUPPORTED",
    [QV_E_CANCELLED] = "QV_E_CANCELLED",
    [QV_E_CONFLICT] = "QV_E_CONFLICT",
    [QV_E_INTERNAL] = "QV_E_INTERNAL",
    [QV_E_PERMISSION] = "QV_E_PERMISSION",
    [QV_E_RANGE] = "QV_E_RANGE",
    [QV_E_NOT_READY] = "QV_E_NOT_READY",
    [QV_E_COMPACTED] = "QV_E_COMPACTED",
};

const char *qv_code_name(qv_code c)
{
    switch (c) {
    case QV_E_IO_SHORT_READ:
        return "QV_E_IO_SHORT_READ";
    case QV_E_CORRUPT_CHECKSUM:
        return "QV_E_CORRUPT_CHECKSUM";
    case QV_E_CORRUPT_VERSION:
        return "QV_E_CORRUPT_VERSION";
    case QV_E_COLLECTION_NOT_FOUND:
        return "QV_E_COLLECTION_NOT_FOUND";
    case QV_E_PARTITION_NOT_FOUND:
        return "QV_E_PARTITION_NOT_FOUND";
    case QV_E_DATABASE_NOT_FOUND:
        return "QV_E_DATABASE_NOT_FOUND";
    case QV_E_INDEX_NOT_FOUND:
        return "QV_E_INDEX_NOT_FOUND";
    case QV_E_ALIAS_NOT_FOUND:
        return "QV_E_ALIAS_NOT_FOUND";
    case QV_E_PARTITION_NOT_LOADED:
        return "QV_E_PARTITION_NOT_LOADED";
    default:
        break;
    }
    if ((unsigned)c < QV_CODE_PRIMARY_COUNT && primary_names[c])
        return primary_names[c];
    return "QV_E_?";
}

qv_code qv_vfail(qv_err *err, qv_code c, const char *fmt, va_list ap)
{
    if (err) {
        err->code = c;
        err->sys_errno = 0;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return c;
}

qv_code qv_fail(qv_err *err, qv_code c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qv_vfail(err, c, fmt, ap);
    va_end(ap);
    return c;
}

qv_code qv_fail_errno(qv_err *err, qv_code c, const char *fmt, ...)
{
    int e = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        qv_vfail(err, c, fmt, ap);
        va_end(ap);
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(e));
        err->sys_errno = e;
    }
    return c;
}

qv_code qv_err_prefix(qv_err *err, const char *fmt, ...)
{
    if (!err)
        return QV_E_INTERNAL;
    char old[sizeof(err->msg)], pre[sizeof(err->msg)];
    memcpy(old, err->msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    size_t np = strlen(pre), cap = sizeof(err->msg) - 1;
    size_t no = strlen(old);
    if (np > cap)
        np = cap;
    memcpy(err->msg, pre, np);
    if (np + 2 <= cap) {
        memcpy(err->msg + np, ": ", 2);
        np += 2;
        if (no > cap - np)
            no = cap - np;
        memcpy(err->msg + np, old, no);
        np += no;
    }
    err->msg[np] = '\0';
    return err->code;
}

void qv_err_clear(qv_err *err)
{
    if (err) {
        err->code = QV_OK;
        err->sys_errno = 0;
        err->msg[0] = '\0';
    }
}
