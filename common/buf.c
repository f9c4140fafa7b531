/* buf.c -- see buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void qv_buf_init(qv_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : QV_BUF_DEFAULT_CAP;
}

void qv_buf_release(qv_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void qv_buf_reset(qv_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

qv_code qv_buf_reserve(qv_buf *b, size_t extra)
{
    size_t need;
    if (!qv_add_ok(b->len, extra, &need) || need > b->cap)
        return QV_E_NOMEM;
    if (need + 1 <= b->alloc)
        return QV_OK;
    size_t na = b->alloc ? b->alloc : 64;
    while (na < need + 1)
        na = na > SIZE_MAX / 2 ? need + 1 : na * 2;
    char *p = realloc(b->data, na);
    if (!p)
        return QV_E_NOMEM;
    b->data = p;
    b->alloc = na;
    return QV_OK;
}

qv_code qv_buf_append(qv_buf *b, const void *p, size_t n)
{
    qv_code rc = qv_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return QV_OK;
}

qv_code qv_buf_appends(qv_buf *b, const char *s)
{
    return qv_buf_append(b, s, strlen(s));
}

qv_code qv_buf_printf(qv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return QV_E_INVALID;
    qv_code rc = qv_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return QV_OK;
}

qv_code qv_buf_put_u32(qv_buf *b, uint32_t v)
{
    unsigned char le[4];
    for (int i = 0; i < 4; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    return qv_buf_append(b, le, 4);
}

qv_code qv_buf_put_u64(qv_buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    return qv_buf_append(b, le, 8);
}

char *qv_buf_detach(qv_buf *b, size_t *len)
{
    char *p = b->data ? b->data : qv_xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

const char *qv_buf_str(const qv_buf *b)
{
    return b->data ? b->data : "";
}
