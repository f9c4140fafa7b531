/* fuzz_plan_decode.c -- qv_expr_plan_decode() on outside bytes.
 *
 * Input: byte 0 bit 0 asks to rewrite the header checksum first, so the
 * body checks behind it get explored; the rest is the plan image.  A plan
 * that decodes must encode back to identical bytes and evaluate over a
 * small segment without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "tests/fuzz/expr_parser/fuzz_expr_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *img = malloc(len ? len : 1);
    if (!img)
        return 0;
    if (len)
        memcpy(img, data + 1, len);
    if ((data[0] & 1) && len >= 16) {
        uint32_t body = (uint32_t)(len - 16);
        uint32_t crc = qv_crc32c(0, img + 16, len - 16);
        memcpy(img + 8, &body, 4);
        memcpy(img + 12, &crc, 4);
    }
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    if (qv_expr_plan_decode(img, len, &plan, &err) == QV_OK) {
        qv_buf b = QV_BUF_INIT;
        if (qv_expr_plan_encode(plan, &b, &err) != QV_OK || b.len != len ||
            memcmp(b.data, img, len) != 0)
            abort();
        fz_eval(plan);
        qv_buf_release(&b);
        qv_expr_plan_free(plan);
    }
    free(img);
    return 0;
}
