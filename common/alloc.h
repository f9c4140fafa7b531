/* alloc.h -- memory allocation helpers.
 *
 * qv_xmalloc() and friends are for small allocations: they abort the process
 * with a message on out-of-memory (as PostgreSQL's palloc does), so callers
 * never check for NULL.  qv_try_alloc() is for big, size-driven allocations
 * (vectors, index codes, request payloads): it returns NULL and the caller
 * turns that into QV_E_NOMEM.  Array sizes are overflow-checked.
 *
 * Threading: all functions are thread-safe.
 */
#ifndef QV_ALLOC_H
#define QV_ALLOC_H

#include <stddef.h>
#include <stdbool.h>

void *qv_xmalloc(size_t n);
void *qv_xcalloc(size_t count, size_t size);
void *qv_xrealloc(void *p, size_t n);
char *qv_xstrdup(const char *s);
char *qv_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; the caller frees it. */
char *qv_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns NULL on failure or overflow of count * size; never aborts. */
void *qv_try_alloc(size_t count, size_t size);
void *qv_try_calloc(size_t count, size_t size);
void *qv_try_realloc(void *p, size_t count, size_t size);
/* 64-byte aligned allocation for SIMD data; free with qv_aligned_free(). */
void *qv_try_aligned_alloc(size_t count, size_t size);
void qv_aligned_free(void *p);

/* Sets *out = a * b and returns true, or returns false on overflow. */
static inline bool qv_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool qv_add_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

#define QV_NEW(type)          ((type *)qv_xcalloc(1, sizeof(type)))
#define QV_NEW_ARRAY(type, n) ((type *)qv_xcalloc((n), sizeof(type)))

#endif
