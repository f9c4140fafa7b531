/* Fuzzes qv_proxy__decode_queries(): arbitrary bytes as a search's
 * placeholder group against a float vector field (dim 4), a Float16 field
 * and a binary field (dim 16).  Any input must give QV_OK with consistent
 * sizes or an error, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const qv_field_spec fields[] = {
        {.id = 101, .name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = 4},
        {.id = 102, .name = "h", .type = QV_DT_FLOAT16_VECTOR, .dim = 4},
        {.id = 103, .name = "b", .type = QV_DT_BINARY_VECTOR, .dim = 16},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        qv_arena a;
        qv_arena_init(&a, 0);
        ProtobufCBinaryData in = {.len = size, .data = (uint8_t *)data};
        ProtobufCBinaryData out = {0};
        size_t nq = 0;
        qv_err err = {0};
        if (qv_proxy__decode_queries(&a, &in, &fields[i], 0, &out, &nq, &err) ==
            QV_OK) {
            size_t row = fields[i].type == QV_DT_BINARY_VECTOR
                             ? fields[i].dim / 8
                             : fields[i].dim * sizeof(float);
            if (nq == 0 || out.len != nq * row)
                abort();
        }
        qv_arena_release(&a);
    }
    return 0;
}
