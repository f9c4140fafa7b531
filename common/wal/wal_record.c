/* wal_record.c -- encode and decode the local log's segment header and
 * framed records (layout: common/wal/README.md).
 *
 * All integers are little-endian.  A record's crc32c covers its length,
 * its flags and its payload, so a damaged length is caught as well.
 */
#include <string.h>

#include "common/banned.h"
#include "common/hash.h"
#include "common/wal/wal_internal.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void wal__seg_header_encode(uint8_t hdr[WAL__SEG_HDR_BYTES], wal_pos base)
{
    static const uint8_t magic[8] = {'Q', 'V', 'W', 'A', 'L', 'S', 'E', 'G'};
    memset(hdr, 0, WAL__SEG_HDR_BYTES);
    for (size_t i = 0; i < sizeof(magic); i++)
        hdr[i] = magic[i];
    put_u32(hdr + 8, WAL__SEG_VERSION);
    put_u64(hdr + 16, base);
    put_u32(hdr + 24, qv_crc32c(0, hdr, 24));
}

qv_code wal__seg_header_decode(const uint8_t *hdr, size_t len, wal_pos *base,
                               qv_err *err)
{
    if (len < WAL__SEG_HDR_BYTES)
        return qv_fail(err, QV_E_CORRUPT,
                       "segment header is short (%zu of %u bytes)", len,
                       WAL__SEG_HDR_BYTES);
    if (memcmp(hdr, WAL__SEG_MAGIC, 8) != 0)
        return qv_fail(err, QV_E_CORRUPT, "segment header has a bad magic");
    if (get_u32(hdr + 24) != qv_crc32c(0, hdr, 24))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "segment header fails its checksum");
    uint32_t version = get_u32(hdr + 8);
    if (version != WAL__SEG_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "segment format version %u is not supported (want "
                       "%u)",
                       version, WAL__SEG_VERSION);
    uint64_t b = get_u64(hdr + 16);
    if (b > WAL__POS_MAX)
        return qv_fail(err, QV_E_CORRUPT,
                       "segment base position %llu is out of range",
                       (unsigned long long)b);
    *base = b;
    return QV_OK;
}

static uint32_t rec_crc(const uint8_t *hdr, const void *payload, size_t len)
{
    uint32_t c = qv_crc32c(0, hdr, 4);
    c = qv_crc32c(c, hdr + 8, 1);
    return qv_crc32c(c, payload, len);
}

size_t wal__rec_encode(uint8_t *dst, const void *data, uint32_t len,
                       uint8_t flags)
{
    put_u32(dst, len);
    dst[8] = flags;
    if (len)
        memcpy(dst + WAL__REC_HDR_BYTES, data, len);
    put_u32(dst + 4, rec_crc(dst, dst + WAL__REC_HDR_BYTES, len));
    return WAL__REC_HDR_BYTES + (size_t)len;
}

qv_code wal__rec_head_decode(const uint8_t *hdr, size_t max_len,
                             wal__rec_head *out)
{
    uint32_t len = get_u32(hdr);
    uint8_t flags = hdr[8];
    if (flags & ~(uint8_t)WAL__REC_BATCH_END)
        return QV_E_CORRUPT;
    if ((size_t)len > max_len || (size_t)len > WAL__REC_MAX_LEN)
        return QV_E_CORRUPT;
    out->len = len;
    out->crc = get_u32(hdr + 4);
    out->flags = flags;
    return QV_OK;
}

int wal__rec_check(const wal__rec_head *head, const uint8_t *hdr,
                   const void *payload)
{
    return rec_crc(hdr, payload, head->len) == head->crc;
}

qv_code wal__seg_scan_buf(const uint8_t *buf, size_t len, size_t max_len,
                          wal__seg_scan *out, qv_err *err)
{
    wal_pos base;
    qv_code rc = wal__seg_header_decode(buf, len, &base, err);
    if (rc != QV_OK)
        return rc;
    size_t off = WAL__SEG_HDR_BYTES;
    uint64_t n = 0;
    wal__seg_scan s = {base, 0, off, 0};
    while (len - off >= WAL__REC_HDR_BYTES) {
        wal__rec_head h;
        if (wal__rec_head_decode(buf + off, max_len, &h) != QV_OK)
            break;
        if ((size_t)h.len > len - off - WAL__REC_HDR_BYTES)
            break;
        if (!wal__rec_check(&h, buf + off, buf + off + WAL__REC_HDR_BYTES))
            break;
        off += WAL__REC_HDR_BYTES + (size_t)h.len;
        n++;
        if (h.flags & WAL__REC_BATCH_END) {
            s.records = n;
            s.valid_end = off;
        }
    }
    s.torn_bytes = len - s.valid_end;
    *out = s;
    return QV_OK;
}
