/* fuzz_scalar_index_loader.c -- qv_sindex_load() on outside bytes, then
 * queries over whatever loaded.
 *
 * Input: byte 0 bit 0 asks to rewrite the image checksum first, so the
 * structural checks behind it (counts, section bounds, key order,
 * postings, trie nodes) get explored; the next 16 bytes are query
 * material (values, bounds, a prefix); the rest is the image.  A loaded
 * index must answer every query without error or crash and encode back
 * to identical bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/bitset.h"
#include "common/hash.h"
#include "index/scalar/scalar_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reseal(uint8_t *img, size_t len)
{
    if (len < 64)
        return;
    uint32_t crc = qv_crc32c(0, img, 56);
    crc = qv_crc32c(crc, img + 64, len - 64);
    memcpy(img + 56, &crc, 4);
}

static qv_value value_of(const qv_sindex *ix, const uint8_t *q)
{
    qv_dtype t = qv_sindex_column_type(ix);
    int64_t i;
    memcpy(&i, q, 8);
    if (t == QV_DT_VARCHAR)
        return qv_value_str((const char *)q, q[0] % 9);
    if (t == QV_DT_BOOL)
        return qv_value_bool(q[0] & 1);
    if (q[1] & 1) {
        double d;
        memcpy(&d, q, 8);
        return qv_value_float(d);
    }
    return qv_value_int(i % 1000);
}

static void query(const qv_sindex *ix, const uint8_t *q)
{
    qv_bitset out;
    /* Huge row counts are legal (a column of NULLs indexes to nothing) but
     * make every query clear a huge bitset: skip them to keep runs fast. */
    if (qv_sindex_rows(ix) > ((size_t)1 << 20) ||
        qv_bitset_init(&out, qv_sindex_rows(ix)) != QV_OK)
        return;
    qv_value v[2] = {value_of(ix, q), value_of(ix, q + 8)};
    if (qv_sindex_terms(ix, v, 2, &out, NULL) != QV_OK)
        abort();
    qv_sindex_bound lo = {v[0], q[2] & 1}, hi = {v[1], q[3] & 1};
    if (qv_sindex_range(ix, &lo, &hi, &out, NULL) != QV_OK)
        abort();
    if (qv_sindex_range(ix, NULL, &hi, &out, NULL) != QV_OK)
        abort();
    if (qv_sindex_supports(ix, QV_SOP_PREFIX) &&
        qv_sindex_prefix(ix, (const char *)q + 4, q[4] % 6, &out, NULL) !=
            QV_OK)
        abort();
    qv_bitset_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17)
        return 0;
    const uint8_t *q = data + 1;
    size_t len = size - 17;
    uint8_t *img = qv_try_aligned_alloc(len ? len : 1, 1);
    if (!img)
        return 0;
    if (len)
        memcpy(img, data + 17, len);
    if (data[0] & 1)
        reseal(img, len);
    qv_sindex *ix;
    if (qv_sindex_load(img, len, &ix, NULL) == QV_OK) {
        query(ix, q);
        qv_buf b = QV_BUF_INIT;
        if (qv_sindex_encode(ix, &b, NULL) != QV_OK || b.len != len ||
            memcmp(b.data, img, len) != 0)
            abort();
        qv_buf_release(&b);
        qv_sindex_free(ix);
    }
    qv_aligned_free(img);
    return 0;
}
