/* libFuzzer target for CreateIndex parameter normalization
 * (indexnode/index_spec.h): byte 0 picks the field type, the rest is
 * "key=value" lines.  Whatever parses must parse again from its stored form
 * (index_type, metric_type, params JSON) to an equal spec. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "indexnode/index_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const qv_index_field fields[] = {
    {"vec", QV_DT_FLOAT_VECTOR, QV_DT_NONE, 16},
    {"bin", QV_DT_BINARY_VECTOR, QV_DT_NONE, 64},
    {"age", QV_DT_INT64, QV_DT_NONE, 0},
    {"name", QV_DT_VARCHAR, QV_DT_NONE, 0},
    {"tags", QV_DT_ARRAY, QV_DT_INT32, 0},
    {"f16", QV_DT_FLOAT16_VECTOR, QV_DT_NONE, 8},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const qv_index_field *f =
        &fields[data[0] % (sizeof fields / sizeof *fields)];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    qv_kv kv[16];
    size_t n = 0;
    char *p = text;
    while (p && *p && n < 16) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            kv[n++] = (qv_kv){p, eq + 1};
        }
        p = nl ? nl + 1 : NULL;
    }
    qv_index_spec s;
    qv_err err = {0};
    if (qv_index_spec_parse(kv, n, f, &s, &err) == QV_OK) {
        qv_kv stored[3] = {{"index_type", s.index_type},
                           {"metric_type", s.metric_type},
                           {"params", s.params_json}};
        qv_index_spec t;
        if (qv_index_spec_parse(stored, 3, f, &t, &err) != QV_OK ||
            !qv_index_spec_equal(&s, &t))
            abort();
        qv_index_spec_release(&t);
        qv_index_spec_release(&s);
    }
    free(text);
    return 0;
}
