/* buf.h -- growable byte buffer with a hard size cap (after curl's dynbuf
 * and git's strbuf).
 *
 * The buffer always keeps a NUL after len so it can be used as a C string.
 * Appends that would pass the cap fail with QV_E_NOMEM and leave the buffer
 * unchanged.  qv_buf_detach() hands the bytes to the caller.
 *
 * Threading: a qv_buf is owned by one thread at a time.
 */
#ifndef QV_BUF_H
#define QV_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define QV_BUF_DEFAULT_CAP ((size_t)1 << 34) /* 16 GiB */

typedef struct qv_buf {
    char *data;   /* NUL-terminated; NULL while empty and never grown */
    size_t len;   /* bytes used */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* hard limit on len */
} qv_buf;

#define QV_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0, QV_BUF_DEFAULT_CAP                                         \
    }

void qv_buf_init(qv_buf *b, size_t cap);
void qv_buf_release(qv_buf *b);
void qv_buf_reset(qv_buf *b);
qv_code qv_buf_reserve(qv_buf *b, size_t extra) QV_MUST_USE;
qv_code qv_buf_append(qv_buf *b, const void *p, size_t n) QV_MUST_USE;
qv_code qv_buf_appends(qv_buf *b, const char *s) QV_MUST_USE;
qv_code qv_buf_printf(qv_buf *b, const char *fmt, ...) QV_MUST_USE
    __attribute__((format(printf, 2, 3)));
/* Little-endian fixed-width appends. */
qv_code qv_buf_put_u32(qv_buf *b, uint32_t v) QV_MUST_USE;
qv_code qv_buf_put_u64(qv_buf *b, uint64_t v) QV_MUST_USE;
/* Returns the bytes (caller frees) and leaves the buffer empty. */
char *qv_buf_detach(qv_buf *b, size_t *len);
/* Pointer to the data, never NULL ("" when empty). */
const char *qv_buf_str(const qv_buf *b);

#endif
