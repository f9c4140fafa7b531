/* Tests of common/wal/wal_record.c: the local log's segment header and
 * record framing. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/hash.h"
#include "common/wal/wal_internal.h"

Test(wal_record, segment_header_round_trips)
{
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal__seg_header_encode(hdr, 123456789012345ull);
    cr_assert(memcmp(hdr, "QVWALSEG", 8) == 0);
    wal_pos base = 0;
    qv_err err = {0};
    cr_assert_eq(wal__seg_header_decode(hdr, sizeof(hdr), &base, &err), QV_OK);
    cr_assert_eq(base, 123456789012345ull);
}

Test(wal_record, damaged_segment_headers_are_refused)
{
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal_pos base = 7;
    qv_err err = {0};
    wal__seg_header_encode(hdr, 5);
    cr_assert_eq(wal__seg_header_decode(hdr, 31, &base, &err), QV_E_CORRUPT);
    hdr[17] ^= 1; /* base changed: checksum fails */
    cr_assert_eq(wal__seg_header_decode(hdr, sizeof(hdr), &base, &err),
                 QV_E_CORRUPT_CHECKSUM);
    wal__seg_header_encode(hdr, 5);
    hdr[0] = 'X';
    cr_assert_eq(wal__seg_header_decode(hdr, sizeof(hdr), &base, &err),
                 QV_E_CORRUPT);
    cr_assert(strstr(err.msg, "magic"), "%s", err.msg);
    cr_assert_eq(base, 7, "out-param written on failure");
}

Test(wal_record, unknown_format_version_is_refused)
{
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal__seg_header_encode(hdr, 5);
    hdr[8] = 2; /* version 2, checksum recomputed */
    uint32_t c = qv_crc32c(0, hdr, 24);
    memcpy(hdr + 24, &c, 4);
    wal_pos base;
    qv_err err = {0};
    cr_assert_eq(wal__seg_header_decode(hdr, sizeof(hdr), &base, &err),
                 QV_E_CORRUPT_VERSION);
}

Test(wal_record, record_layout_is_length_crc_flags_payload)
{
    uint8_t buf[64];
    size_t n = wal__rec_encode(buf, "hello", 5, WAL__REC_BATCH_END);
    cr_assert_eq(n, WAL__REC_HDR_BYTES + 5);
    cr_assert_eq(buf[0], 5);
    cr_assert_eq(buf[1] | buf[2] | buf[3], 0);
    cr_assert_eq(buf[8], WAL__REC_BATCH_END);
    cr_assert(memcmp(buf + 9, "hello", 5) == 0);
    uint32_t c = qv_crc32c(0, buf, 4);
    c = qv_crc32c(c, buf + 8, 1);
    c = qv_crc32c(c, "hello", 5);
    uint32_t stored;
    memcpy(&stored, buf + 4, 4);
    cr_assert_eq(stored, c);
    wal__rec_head h;
    cr_assert_eq(wal__rec_head_decode(buf, 100, &h), QV_OK);
    cr_assert_eq(h.len, 5);
    cr_assert(wal__rec_check(&h, buf, buf + 9));
    buf[10] ^= 0x40;
    cr_assert(!wal__rec_check(&h, buf, buf + 9));
}

Test(wal_record, record_header_limits)
{
    uint8_t buf[16];
    wal__rec_encode(buf, "abc", 3, 0);
    wal__rec_head h;
    cr_assert_eq(wal__rec_head_decode(buf, 2, &h), QV_E_CORRUPT);
    buf[8] = 0x80; /* unknown flag */
    cr_assert_eq(wal__rec_head_decode(buf, 100, &h), QV_E_CORRUPT);
}

static size_t build_segment(uint8_t *seg, int batches, int per_batch)
{
    size_t off = WAL__SEG_HDR_BYTES;
    wal__seg_header_encode(seg, 40);
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < per_batch; i++)
            off += wal__rec_encode(seg + off, "rec", 3,
                                   i + 1 == per_batch ? WAL__REC_BATCH_END : 0);
    }
    return off;
}

Test(wal_record, scan_counts_complete_batches)
{
    uint8_t seg[1024];
    size_t len = build_segment(seg, 3, 2);
    wal__seg_scan s;
    qv_err err = {0};
    cr_assert_eq(wal__seg_scan_buf(seg, len, 1 << 20, &s, &err), QV_OK);
    cr_assert_eq(s.base, 40);
    cr_assert_eq(s.records, 6);
    cr_assert_eq(s.valid_end, len);
    cr_assert_eq(s.torn_bytes, 0);
}

Test(wal_record, scan_stops_at_a_torn_or_corrupt_tail)
{
    uint8_t seg[1024];
    size_t len = build_segment(seg, 3, 2);
    size_t batch = (size_t)2 * (WAL__REC_HDR_BYTES + 3);
    wal__seg_scan s;
    qv_err err = {0};
    /* Cut inside the last record: the last batch is incomplete. */
    cr_assert_eq(wal__seg_scan_buf(seg, len - 2, 1 << 20, &s, &err), QV_OK);
    cr_assert_eq(s.records, 4);
    cr_assert_eq(s.valid_end, len - batch);
    cr_assert_eq(s.torn_bytes, batch - 2);
    /* Cut after the first record of the last batch: still incomplete. */
    cr_assert_eq(wal__seg_scan_buf(seg, len - batch / 2, 1 << 20, &s, &err),
                 QV_OK);
    cr_assert_eq(s.records, 4);
    /* A flipped payload byte in batch 2 drops batches 2 and 3. */
    seg[WAL__SEG_HDR_BYTES + batch + WAL__REC_HDR_BYTES] ^= 1;
    cr_assert_eq(wal__seg_scan_buf(seg, len, 1 << 20, &s, &err), QV_OK);
    cr_assert_eq(s.records, 2);
    cr_assert_eq(s.valid_end, WAL__SEG_HDR_BYTES + batch);
}

Test(wal_record, scan_rejects_a_bad_header)
{
    uint8_t seg[64] = {0};
    wal__seg_scan s;
    qv_err err = {0};
    cr_assert_eq(wal__seg_scan_buf(seg, sizeof(seg), 100, &s, &err),
                 QV_E_CORRUPT);
    cr_assert_eq(wal__seg_scan_buf(seg, 3, 100, &s, &err), QV_E_CORRUPT);
}
