/* Tests of common/msg: round trips of every message type, damaged-input
 * rejection, insert splitting under a size limit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/msg/msg.h"

#define DIM 8

typedef struct cols {
    qv_column *c[6];
    qv_col_view v[6];
    int64_t ids[6];
} cols;

/* pk Int64, FloatVector, nullable VarChar, JSON, Array<Int32>, Sparse. */
static void make_cols(cols *k, size_t rows, size_t strlen_extra)
{
    qv_field_spec specs[6] = {
        {.id = 100, .name = "pk", .type = QV_DT_INT64},
        {.id = 101, .name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = DIM},
        {.id = 102,
         .name = "s",
         .type = QV_DT_VARCHAR,
         .max_length = 65535,
         .nullable = true},
        {.id = 103, .name = "j", .type = QV_DT_JSON},
        {.id = 104,
         .name = "a",
         .type = QV_DT_ARRAY,
         .elem_type = QV_DT_INT32,
         .max_capacity = 16},
        {.id = 105, .name = "sp", .type = QV_DT_SPARSE_FLOAT_VECTOR},
    };
    for (int f = 0; f < 6; f++) {
        cr_assert_eq(qv_column_create(&specs[f], &k->c[f], NULL), QV_OK);
        k->ids[f] = specs[f].id;
    }
    char *big = qv_xmalloc(strlen_extra + 64);
    for (size_t r = 0; r < rows; r++) {
        int64_t pk = (int64_t)r * 7 + 1;
        cr_assert_eq(qv_column_append_fixed(k->c[0], &pk, 1), QV_OK);
        float vec[DIM];
        for (int d = 0; d < DIM; d++)
            vec[d] = (float)(r * DIM + d) * 0.5f;
        cr_assert_eq(qv_column_append_fixed(k->c[1], vec, 1), QV_OK);
        if (r % 3 == 1) {
            cr_assert_eq(qv_column_append_null(k->c[2], 1), QV_OK);
        } else {
            size_t n = (size_t)snprintf(big, 64, "row-%zu", r);
            memset(big + n, 'x', strlen_extra);
            cr_assert_eq(qv_column_append_var(k->c[2], big, n + strlen_extra),
                         QV_OK);
        }
        char js[64];
        int n = snprintf(js, sizeof js, "{\"r\":%zu}", r);
        cr_assert_eq(qv_column_append_var(k->c[3], js, (size_t)n), QV_OK);
        int32_t arr[3] = {(int32_t)r, (int32_t)r + 1, -(int32_t)r};
        cr_assert_eq(qv_column_append_var(k->c[4], arr, 4 * (r % 4)), QV_OK);
        uint8_t sp[16];
        uint32_t i0 = (uint32_t)r, i1 = (uint32_t)r + 10;
        float f0 = 1.5f, f1 = -2.0f;
        memcpy(sp, &i0, 4);
        memcpy(sp + 4, &f0, 4);
        memcpy(sp + 8, &i1, 4);
        memcpy(sp + 12, &f1, 4);
        cr_assert_eq(qv_column_append_var(k->c[5], sp, 16), QV_OK);
    }
    free(big);
    for (int f = 0; f < 6; f++) {
        qv_column_publish(k->c[f]);
        k->v[f] = qv_column_view(k->c[f]);
    }
}

static void free_cols(cols *k)
{
    for (int f = 0; f < 6; f++)
        qv_column_free(k->c[f]);
}

static qv_msg insert_msg(cols *k, size_t rows, const int64_t *row_ids)
{
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = qv_ts_compose(1700000000000ull, 5),
                .collection_id = 4242,
                .vchannel = "dml_3_4242v0",
                .partition_id = 77,
                .segment_id = 9001,
                .shard = 0,
                .pk_field_id = 100,
                .rows = rows,
                .row_ids = row_ids,
                .nfields = 6,
                .field_ids = k->ids,
                .cols = k->v};
    return m;
}

/* Byte-for-byte equality of row r of two views. */
static void assert_row_eq(const qv_col_view *a, size_t ra, const qv_col_view *b,
                          size_t rb)
{
    cr_assert_eq(a->type, b->type);
    cr_assert_eq(qv_col_is_valid(a, ra), qv_col_is_valid(b, rb));
    if (qv_dtype_is_varwidth(a->type)) {
        size_t la, lb;
        const uint8_t *pa = qv_col_var(a, ra, &la);
        const uint8_t *pb = qv_col_var(b, rb, &lb);
        cr_assert_eq(la, lb);
        cr_assert(memcmp(pa, pb, la) == 0);
    } else {
        cr_assert_eq(a->width, b->width);
        cr_assert(memcmp(qv_col_fixed(a, ra), qv_col_fixed(b, rb), a->width) ==
                  0);
    }
}

Test(msg, insert_round_trip_keeps_every_field)
{
    cols k;
    make_cols(&k, 100, 3);
    int64_t rid[100];
    for (int i = 0; i < 100; i++)
        rid[i] = 500000 + i;
    qv_msg m = insert_msg(&k, 100, rid);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&m, &b, NULL), QV_OK);
    cr_assert_eq(b.len, qv_msg_encoded_size(&m));
    qv_msg d;
    qv_err err;
    cr_assert_eq(qv_msg_decode(b.data, b.len, &d, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(d.type, QV_MSG_INSERT);
    cr_assert_eq(d.ts, m.ts);
    cr_assert_eq(d.collection_id, 4242);
    cr_assert_str_eq(d.vchannel, "dml_3_4242v0");
    cr_assert_eq(d.partition_id, 77);
    cr_assert_eq(d.segment_id, 9001);
    cr_assert_eq(d.pk_field_id, 100);
    cr_assert_eq(d.rows, 100);
    cr_assert_eq(d.nfields, 6);
    cr_assert_not_null(d.row_ids);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(d.row_ids[i], 500000 + i);
    for (size_t f = 0; f < 6; f++) {
        cr_assert_eq(d.field_ids[f], k.ids[f]);
        for (size_t r = 0; r < 100; r++)
            assert_row_eq(&k.v[f], r, &d.cols[f], r);
    }
    cr_assert_eq(d.cols[1].dim, DIM);
    cr_assert_null(d.cols[0].valid);
    cr_assert_not_null(d.cols[2].valid);
    qv_msg_release(&d);
    qv_buf_release(&b);
    free_cols(&k);
}

Test(msg, misaligned_input_is_copied_and_decodes)
{
    cols k;
    make_cols(&k, 10, 0);
    qv_msg m = insert_msg(&k, 10, NULL);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&m, &b, NULL), QV_OK);
    uint8_t *odd = qv_xmalloc(b.len + 1);
    memcpy(odd + 1, b.data, b.len);
    qv_msg d;
    cr_assert_eq(qv_msg_decode(odd + 1, b.len, &d, NULL), QV_OK);
    memset(odd, 0, b.len + 1); /* the message does not borrow odd bytes */
    cr_assert_null(d.row_ids);
    cr_assert_eq(qv_col_i64(&d.cols[0], 9), 9 * 7 + 1);
    qv_msg_release(&d);
    free(odd);
    qv_buf_release(&b);
    free_cols(&k);
}

static void round_trip_small(const qv_msg *m, qv_msg *d, qv_buf *b)
{
    qv_err err;
    cr_assert_eq(qv_msg_encode(m, b, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_msg_decode(b->data, b->len, d, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(d->type, m->type);
    cr_assert_eq(d->ts, m->ts);
    cr_assert_eq(d->collection_id, m->collection_id);
    cr_assert_str_eq(d->vchannel, m->vchannel);
}

Test(msg, control_messages_round_trip)
{
    int64_t segs[3] = {11, 12, 13};
    qv_msg ms[] = {
        {.type = QV_MSG_TIME_TICK, .ts = 123456789, .vchannel = ""},
        {.type = QV_MSG_SEGMENT_OPEN,
         .ts = 5,
         .collection_id = 1,
         .vchannel = "p0_1v0",
         .partition_id = 2,
         .segment_id = 3,
         .shard = 1},
        {.type = QV_MSG_SEGMENT_SEAL,
         .ts = 6,
         .collection_id = 1,
         .vchannel = "p0_1v0",
         .partition_id = 2,
         .segment_id = 3,
         .seal_reason = QV_SEAL_ROWS},
        {.type = QV_MSG_FLUSH,
         .ts = 7,
         .collection_id = 1,
         .vchannel = "p0_1v0",
         .nsegments = 3,
         .segments = segs},
        {.type = QV_MSG_DROP_COLLECTION,
         .ts = 8,
         .collection_id = 1,
         .vchannel = "p0_1v0"},
        {.type = QV_MSG_DROP_PARTITION,
         .ts = 9,
         .collection_id = 1,
         .vchannel = "p0_1v0",
         .partition_id = 44},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        qv_msg d;
        qv_buf b = QV_BUF_INIT;
        round_trip_small(&ms[i], &d, &b);
        cr_assert_eq(d.partition_id, ms[i].partition_id);
        cr_assert_eq(d.segment_id, ms[i].segment_id);
        cr_assert_eq(d.shard, ms[i].shard);
        cr_assert_eq(d.seal_reason, ms[i].seal_reason);
        cr_assert_eq(d.nsegments, ms[i].nsegments);
        for (size_t s = 0; s < d.nsegments; s++)
            cr_assert_eq(d.segments[s], segs[s]);
        qv_msg_release(&d);
        qv_buf_release(&b);
    }
}

Test(msg, delete_round_trip_varchar_keys)
{
    qv_field_spec spec = {
        .id = 100, .name = "pk", .type = QV_DT_VARCHAR, .max_length = 64};
    qv_column *c;
    cr_assert_eq(qv_column_create(&spec, &c, NULL), QV_OK);
    const char *keys[] = {"alpha", "", "gamma-long-key"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qv_column_append_var(c, keys[i], strlen(keys[i])), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_msg m = {.type = QV_MSG_DELETE,
                .ts = 99,
                .collection_id = 3,
                .vchannel = "p1_3v1",
                .partition_id = QV_PARTITION_ALL,
                .shard = 1,
                .pk_field_id = 100,
                .rows = 3,
                .nfields = 1,
                .cols = &v};
    qv_msg d;
    qv_buf b = QV_BUF_INIT;
    round_trip_small(&m, &d, &b);
    cr_assert_eq(d.partition_id, QV_PARTITION_ALL);
    cr_assert_eq(d.rows, 3);
    cr_assert_eq(d.pk_field_id, 100);
    for (size_t r = 0; r < 3; r++) {
        size_t n;
        const uint8_t *s = qv_col_var(&d.cols[0], r, &n);
        cr_assert_eq(n, strlen(keys[r]));
        cr_assert(memcmp(s, keys[r], n) == 0);
    }
    qv_msg_release(&d);
    qv_buf_release(&b);
    qv_column_free(c);
}

Test(msg, encoder_refuses_bad_shapes)
{
    cols k;
    make_cols(&k, 4, 0);
    qv_msg m = insert_msg(&k, 4, NULL);
    qv_buf b = QV_BUF_INIT;
    qv_err err;
    m.pk_field_id = 999;
    cr_assert_eq(qv_msg_encode(&m, &b, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "primary key") != NULL, "%s", err.msg);
    m.pk_field_id = 102; /* nullable VarChar has NULLs */
    cr_assert_eq(qv_msg_encode(&m, &b, &err), QV_E_INVALID);
    m = insert_msg(&k, 5, NULL); /* row count mismatch */
    cr_assert_eq(qv_msg_encode(&m, &b, &err), QV_E_INVALID);
    m = insert_msg(&k, 4, NULL);
    m.vchannel = "bad channel";
    cr_assert_eq(qv_msg_encode(&m, &b, &err), QV_E_INVALID);
    cr_assert_eq(b.len, 0);
    qv_buf_release(&b);
    free_cols(&k);
}

Test(msg, every_flipped_byte_and_truncation_is_rejected)
{
    cols k;
    make_cols(&k, 5, 0);
    qv_msg m = insert_msg(&k, 5, NULL);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&m, &b, NULL), QV_OK);
    uint8_t *copy = qv_try_aligned_alloc(1, b.len);
    for (size_t i = 0; i < b.len; i++) {
        memcpy(copy, b.data, b.len);
        copy[i] ^= 0x20;
        qv_msg d;
        qv_code rc = qv_msg_decode(copy, b.len, &d, NULL);
        cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "byte %zu accepted", i);
    }
    for (size_t n = 0; n < b.len; n++) {
        qv_msg d;
        cr_assert_neq(qv_msg_decode(b.data, n, &d, NULL), QV_OK,
                      "truncation to %zu accepted", n);
    }
    qv_aligned_free(copy);
    qv_buf_release(&b);
    free_cols(&k);
}

/* Rewrites the checksum so that only the structural checks can object. */
static void fix_crc(uint8_t *p, size_t len)
{
    uint32_t c = qv_crc32c(0, p, 8);
    c = qv_crc32c(c, p + 12, len - 12);
    memcpy(p + 8, &c, 4);
}

Test(msg, structural_damage_with_valid_checksum_is_rejected)
{
    cols k;
    make_cols(&k, 5, 0);
    qv_msg m = insert_msg(&k, 5, NULL);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&m, &b, NULL), QV_OK);
    size_t body = 48 + 16; /* vchannel "dml_3_4242v0" = 12 bytes -> 16 */
    uint8_t *copy = qv_try_aligned_alloc(1, b.len);
    size_t spots[] = {body + 20, body + 32,     body + 44, body + 48,
                      body + 56, body + 64 + 8, 6,         40};
    for (size_t s = 0; s < sizeof spots / sizeof spots[0]; s++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, b.data, b.len);
            copy[spots[s]] ^= (uint8_t)(1u << bit);
            fix_crc(copy, b.len);
            qv_msg d;
            qv_err err;
            qv_code rc = qv_msg_decode(copy, b.len, &d, &err);
            cr_assert_neq(rc, QV_OK, "offset %zu bit %d accepted", spots[s],
                          bit);
        }
    }
    qv_aligned_free(copy);
    qv_buf_release(&b);
    free_cols(&k);
}

Test(msg, split_insert_respects_limit_and_keeps_rows)
{
    cols k;
    make_cols(&k, 1000, 40);
    int64_t *rid = qv_xmalloc(1000 * 8);
    for (int i = 0; i < 1000; i++)
        rid[i] = i * 3;
    qv_msg m = insert_msg(&k, 1000, rid);
    size_t whole = qv_msg_encoded_size(&m);
    size_t limit = 16384;
    qv_msg_parts parts;
    qv_err err;
    cr_assert_eq(qv_msg_insert_split(&m, limit, &parts, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_gt(parts.n, whole / limit);
    size_t seen = 0;
    for (size_t p = 0; p < parts.n; p++) {
        cr_assert_leq(parts.bufs[p].len, limit);
        qv_msg d;
        cr_assert_eq(
            qv_msg_decode(parts.bufs[p].data, parts.bufs[p].len, &d, &err),
            QV_OK, "%s", err.msg);
        cr_assert_gt(d.rows, 0);
        cr_assert_eq(d.segment_id, 9001);
        for (size_t r = 0; r < d.rows; r++) {
            cr_assert_eq(d.row_ids[r], rid[seen + r]);
            for (size_t f = 0; f < 6; f++)
                assert_row_eq(&k.v[f], seen + r, &d.cols[f], r);
        }
        seen += d.rows;
        qv_msg_release(&d);
    }
    cr_assert_eq(seen, 1000);
    qv_msg_parts_release(&parts);
    /* one row larger than the limit */
    cr_assert_eq(qv_msg_insert_split(&m, 900, &parts, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "row 0") != NULL, "%s", err.msg);
    free(rid);
    free_cols(&k);
}

Test(msg, peek_reads_routing_header)
{
    qv_msg m = {.type = QV_MSG_TIME_TICK, .ts = 77, .vchannel = "abc"};
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&m, &b, NULL), QV_OK);
    qv_msg_type t;
    qv_ts ts;
    int64_t coll;
    char vc[QV_MSG_VCHANNEL_MAX + 1];
    cr_assert_eq(
        qv_msg_peek(b.data, b.len, &t, &ts, &coll, vc, sizeof vc, NULL), QV_OK);
    cr_assert_eq(t, QV_MSG_TIME_TICK);
    cr_assert_eq(ts, 77);
    cr_assert_str_eq(vc, "abc");
    qv_buf_release(&b);
}
