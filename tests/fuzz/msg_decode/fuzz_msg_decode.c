/* fuzz_msg_decode -- libFuzzer target for the log message decoder.
 *
 * Each input is one log record.  qv_msg_decode() must either refuse it or
 * return a message whose every column view is in bounds (all rows are
 * touched); an accepted message must encode again and the encoding must
 * decode to the same shape.  The same bytes also go through the delete log
 * decoder (common/msg/seglog.h), which must refuse them or return columns
 * that are in bounds.  Anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/msg.h"
#include "common/msg/seglog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t touch(const qv_col_view *v)
{
    uint64_t acc = 0;
    for (size_t r = 0; r < v->rows; r++) {
        acc += qv_col_is_valid(v, r);
        if (qv_dtype_is_varwidth(v->type)) {
            size_t n;
            const uint8_t *p = qv_col_var(v, r, &n);
            for (size_t i = 0; i < n; i++)
                acc += p[i];
        } else {
            const uint8_t *p = qv_col_fixed(v, r);
            for (size_t i = 0; i < v->width; i++)
                acc += p[i];
        }
    }
    return acc;
}

static void fuzz_delta(const uint8_t *data, size_t size)
{
    void *copy = qv_try_aligned_alloc(1, size ? size : 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    qv_delta d;
    if (qv_delta_decode(copy, size, &d, NULL) == QV_OK) {
        volatile uint64_t sink = touch(&d.pks) + touch(&d.ts);
        (void)sink;
        if (d.pks.rows != d.n || d.ts.rows != d.n)
            abort();
        qv_delta_release(&d);
    }
    qv_aligned_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_delta(data, size);
    qv_msg m;
    if (qv_msg_decode(data, size, &m, NULL) != QV_OK)
        return 0;
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < m.nfields; i++)
        sink += touch(&m.cols[i]);
    for (size_t i = 0; m.row_ids && i < m.rows; i++)
        sink += (uint64_t)m.row_ids[i];
    for (size_t i = 0; i < m.nsegments; i++)
        sink += (uint64_t)m.segments[i];
    (void)sink;
    qv_buf b = QV_BUF_INIT;
    if (qv_msg_encode(&m, &b, NULL) != QV_OK)
        abort();
    qv_msg d;
    if (qv_msg_decode(b.data, b.len, &d, NULL) != QV_OK)
        abort();
    if (d.type != m.type || d.ts != m.ts || d.rows != m.rows ||
        d.nfields != m.nfields || d.nsegments != m.nsegments ||
        strcmp(d.vchannel, m.vchannel) != 0)
        abort();
    qv_msg_release(&d);
    qv_buf_release(&b);
    qv_msg_release(&m);
    return 0;
}
