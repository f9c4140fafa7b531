/* fuzz_column_loader.c -- the loaders of column bytes from outside: column
 * files (qv_column_load), PK stats files (qv_pk_stats_decode), JSON
 * documents (qv_col_json_valid) and insert payloads (schema.FieldData ->
 * column through qv_fielddata_to_column).
 *
 * Input: byte 0 picks the loader (low 2 bits) and, for column files,
 * whether to rewrite both checksums first (bit 2) so that the structural
 * checks behind them get explored; the rest is the payload.  A column
 * that loads has every row read through the accessors and must encode
 * back to bytes that load again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/column/pk.h"
#include "common/hash.h"
#include "proto/convert_fielddata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const qv_col_view *v)
{
    for (size_t r = 0; r < v->rows; r++) {
        if (qv_col_is_null(v, r))
            continue;
        if (v->width) {
            sink += ((const uint8_t *)qv_col_fixed(v, r))[v->width - 1];
            continue;
        }
        size_t len;
        const uint8_t *p = qv_col_var(v, r, &len);
        if (len)
            sink += p[len - 1];
        if (v->type == QV_DT_ARRAY) {
            size_t n = qv_col_arr_len(v, r);
            for (size_t j = 0; j < n; j++) {
                if (v->elem_type == QV_DT_VARCHAR) {
                    size_t l;
                    const char *s = qv_col_arr_str(v, r, j, &l);
                    if (l)
                        sink += (uint8_t)s[l - 1];
                } else {
                    sink += (uint64_t)qv_col_arr_int(v, r, j);
                }
            }
        } else if (v->type == QV_DT_SPARSE_FLOAT_VECTOR) {
            for (size_t k = 0; k < qv_col_sparse_nnz(v, r); k++) {
                uint32_t idx;
                float val;
                qv_col_sparse_at(v, r, k, &idx, &val);
                sink += idx;
            }
        } else if (v->type == QV_DT_JSON) {
            sink += qv_col_json_valid((const char *)p, len, NULL);
        }
    }
}

static void reseal(uint8_t *f, size_t len)
{
    if (len < 128)
        return;
    uint32_t body = qv_crc32c(0, f + 128, len - 128);
    memcpy(f + 104, &body, 4);
    uint32_t hdr = qv_crc32c(0, f, 108);
    memcpy(f + 108, &hdr, 4);
}

static void column_file(const uint8_t *data, size_t size, bool do_reseal)
{
    uint8_t *img = qv_try_aligned_alloc(size ? size : 1, 1);
    if (!img)
        return;
    if (size)
        memcpy(img, data, size);
    if (do_reseal)
        reseal(img, size);
    qv_column *c;
    if (qv_column_load(img, size, 0, &c, NULL) == QV_OK) {
        qv_col_view v = qv_column_view(c);
        touch(&v);
        qv_buf b = QV_BUF_INIT;
        if (qv_column_file_encode(&v, qv_column_field_id(c), &b, NULL) ==
            QV_OK) {
            uint8_t *img2 = qv_try_aligned_alloc(b.len, 1);
            qv_column *c2;
            if (img2) {
                memcpy(img2, b.data, b.len);
                if (qv_column_load(img2, b.len, 0, &c2, NULL) != QV_OK)
                    abort(); /* our own encoding must load */
                qv_column_free(c2);
                qv_aligned_free(img2);
            }
        }
        qv_buf_release(&b);
        qv_column_free(c);
    }
    qv_aligned_free(img);
}

static void pk_stats(const uint8_t *data, size_t size)
{
    qv_pk_stats s;
    if (qv_pk_stats_decode(data, size, &s, NULL) != QV_OK)
        return;
    qv_pk k = qv_pk_int(42);
    qv_pk t = qv_pk_str("42", 2);
    sink += qv_pk_stats_may_contain(&s, &k) + qv_pk_stats_may_contain(&s, &t);
    qv_pk_stats_release(&s);
}

/* FieldData bytes against a spec chosen by the first payload bytes. */
static void fielddata(const uint8_t *data, size_t size)
{
    static const qv_dtype types[] = {
        QV_DT_BOOL,           QV_DT_INT8,
        QV_DT_INT16,          QV_DT_INT32,
        QV_DT_INT64,          QV_DT_FLOAT,
        QV_DT_DOUBLE,         QV_DT_VARCHAR,
        QV_DT_JSON,           QV_DT_ARRAY,
        QV_DT_FLOAT_VECTOR,   QV_DT_BINARY_VECTOR,
        QV_DT_FLOAT16_VECTOR, QV_DT_BFLOAT16_VECTOR,
        QV_DT_INT8_VECTOR,    QV_DT_SPARSE_FLOAT_VECTOR};
    if (size < 2)
        return;
    qv_field_spec s = {.id = 100,
                       .name = "f",
                       .type = types[data[0] % 16],
                       .elem_type = types[(data[0] >> 4) % 8],
                       .dim = 8u * (1u + (data[1] & 7)),
                       .max_length = 1u + data[1],
                       .max_capacity = 1u + (data[1] >> 2),
                       .nullable = data[1] & 1,
                       .is_dynamic = false,
                       .has_default = (data[1] & 2) && data[0] % 16 < 8};
    if (s.has_default)
        s.default_value = s.type == QV_DT_BOOL      ? qv_value_bool(true)
                          : s.type == QV_DT_VARCHAR ? qv_value_str("", 0)
                          : s.type == QV_DT_FLOAT || s.type == QV_DT_DOUBLE
                              ? qv_value_float(1.5)
                              : qv_value_int(1);
    s.is_dynamic = s.type == QV_DT_JSON && (data[1] & 4);
    if (s.type == QV_DT_ARRAY && !qv_dtype_array_elem_ok(s.elem_type))
        s.elem_type = QV_DT_INT64;
    Milvus__Proto__Schema__FieldData *fd =
        milvus__proto__schema__field_data__unpack(NULL, size - 2, data + 2);
    if (!fd)
        return;
    qv_column *c;
    if (qv_fielddata_to_column(fd, &s, QV_ROWS_ANY, &c, NULL) == QV_OK) {
        qv_col_view v = qv_column_view(c);
        touch(&v);
        qv_arena a;
        qv_arena_init(&a, 0);
        Milvus__Proto__Schema__FieldData *out;
        if (qv_column_to_fielddata(&v, &s, NULL, 0, &a, &out, NULL) != QV_OK)
            abort();
        qv_arena_release(&a);
        qv_column_free(c);
    }
    milvus__proto__schema__field_data__free_unpacked(fd, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        column_file(data + 1, size - 1, data[0] & 4);
        break;
    case 1:
        pk_stats(data + 1, size - 1);
        break;
    case 2:
        fielddata(data + 1, size - 1);
        break;
    default:
        sink += qv_col_json_valid((const char *)data + 1, size - 1, NULL);
        break;
    }
    return 0;
}
