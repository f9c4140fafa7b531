/* alloc.c -- see alloc.h. */
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "quiver: out of memory allocating %zu bytes\n", n);
    abort();
}

void *qv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *qv_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *qv_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *qv_xstrdup(const char *s)
{
    return qv_xstrndup(s, strlen(s));
}

char *qv_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = qv_xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *qv_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

void *qv_try_alloc(size_t count, size_t size)
{
    size_t n;
    if (!qv_mul_ok(count, size, &n))
        return NULL;
    return malloc(n ? n : 1);
}

void *qv_try_calloc(size_t count, size_t size)
{
    size_t n;
    if (!qv_mul_ok(count, size, &n))
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *qv_try_realloc(void *p, size_t count, size_t size)
{
    size_t n;
    if (!qv_mul_ok(count, size, &n))
        return NULL;
    return realloc(p, n ? n : 1);
}

void *qv_try_aligned_alloc(size_t count, size_t size)
{
    size_t n;
    void *p = NULL;
    if (!qv_mul_ok(count, size, &n) || !qv_add_ok(n, 63, &n))
        return NULL;
    n &= ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    return p;
}

void qv_aligned_free(void *p)
{
    free(p);
}
