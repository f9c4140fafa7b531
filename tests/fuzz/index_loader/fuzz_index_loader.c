/* fuzz_index_loader.c -- libFuzzer target for qv_index_load().
 *
 * Each input is loaded twice: as is (the checksum must reject almost all
 * of them), and with its length field and trailer checksum repaired so the
 * fuzzer reaches the section and parameter checks behind them.  A loaded
 * index is searched, range-searched and serialized again, so a loader that
 * accepts inconsistent sizes shows up as an out-of-bounds read under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const qv_index *ix)
{
    size_t dim = qv_index_dim(ix);
    size_t qbytes =
        qv_metric_is_binary(qv_index_metric(ix)) ? dim / 8 : dim * 4;
    uint8_t *q = calloc(2, qbytes ? qbytes : 1);
    float d[2 * 5];
    int64_t l[2 * 5];
    qv_kv kv[] = {{"nprobe", "4"}, {"ef", "16"}, {"radius", "1e30"}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p};
    qv_err err;
    (void)qv_index_search(ix, 2, q, 5, &a, d, l, &err);
    p.n = 3;
    if (!qv_metric_is_binary(qv_index_metric(ix))) {
        qv_range_result r;
        if (qv_index_range_search(ix, 1, q, &a, &r, &err) == QV_OK)
            qv_range_result_release(&r);
    }
    int64_t want = 0;
    uint8_t *v = malloc(qbytes ? qbytes : 1);
    (void)qv_index_get_vectors(ix, 1, &want, v, &err);
    free(v);
    qv_buf b = QV_BUF_INIT;
    (void)qv_index_serialize(ix, &b, &err);
    qv_buf_release(&b);
    (void)qv_index_memory_size(ix);
    free(q);
}

static void try_load(const uint8_t *buf, size_t size)
{
    qv_index *ix;
    qv_err err;
    if (qv_index_load(buf, size, &ix, &err) == QV_OK) {
        exercise(ix);
        qv_index_free(ix);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = qv_try_aligned_alloc(size ? size : 1, 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    try_load(buf, size);
    if (size >= 48) {
        uint64_t len = size;
        memcpy(buf + 32, &len, 8);
        uint32_t crc = qv_crc32c(0, buf, size - 8);
        memcpy(buf + size - 8, &crc, 4);
        memcpy(buf + size - 4, "QVIE", 4);
        try_load(buf, size);
    }
    qv_aligned_free(buf);
    return 0;
}
