/* fuzz_search_params -- ShardSearchRequest.search_params (JSON text from
 * the proxy, built from what an SDK sent) through qv_search_params_parse
 * under each metric direction: never crashes, leaks or reads out of
 * bounds; on success every key and value is a NUL-terminated string and
 * the range fields agree with the parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "querynode/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    static const qv_metric metrics[] = {QV_METRIC_L2, QV_METRIC_COSINE};
    for (size_t m = 0; m < 2; m++) {
        qv_search_req req = {.metric = metrics[m]};
        qv_params p;
        qv_err err;
        if (qv_search_params_parse(text, size, &req, &p, &err) != QV_OK)
            continue;
        bool has_radius = false;
        for (size_t i = 0; i < p.n; i++) {
            if (strlen(p.kv[i].key) > 4096 || strlen(p.kv[i].value) > 4096)
                abort();
            has_radius |= strcmp(p.kv[i].key, "radius") == 0;
        }
        if (has_radius != req.has_range)
            abort();
        qv_search_params_free(&p);
    }
    free(text);
    return 0;
}
