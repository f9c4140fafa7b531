/* wal_internal.h -- what the wal backends share with wal.c (not public).
 *
 * The ops tables of the built-in backends, option defaults, and the
 * record/segment codec of the local backend (wal_record.c), which is kept
 * apart so the fuzz target can drive the decoder directly.
 *
 * Threading: the codec functions are pure.
 */
#ifndef QV_WAL_INTERNAL_H
#define QV_WAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/wal/wal.h"

#define WAL_DEFAULT_TIMEOUT_MS 10000u
#define WAL_DEFAULT_MAX_RECORD ((size_t)64 << 20)

extern const wal_ops wal__local_ops;
extern const wal_ops wal__kafka_ops;
extern const wal_ops wal__fault_ops;

uint32_t wal__timeout_ms(const wal_options *opt);
size_t wal__max_record(const wal_options *opt);

/* ---- local segment files (see common/wal/README.md for the layout) ---- */

#define WAL__SEG_MAGIC     "QVWALSEG"
#define WAL__SEG_VERSION   1u
#define WAL__SEG_HDR_BYTES 32u
#define WAL__REC_HDR_BYTES 9u
/* Largest payload the format can describe (length is a u32 and must keep
 * the framed record addressable). */
#define WAL__REC_MAX_LEN ((size_t)UINT32_MAX - 64u)

/* Positions stay below 2^63, far from WAL_EARLIEST/WAL_LATEST. */
#define WAL__POS_MAX ((wal_pos)INT64_MAX)

enum wal__rec_flags {
    WAL__REC_BATCH_END = 1 << 0, /* last record of its append batch */
};

/* Writes the 32-byte segment header for a segment starting at base. */
void wal__seg_header_encode(uint8_t hdr[WAL__SEG_HDR_BYTES], wal_pos base);
/* Checks magic, version and checksum; sets *base.  QV_E_CORRUPT (or
 * QV_E_CORRUPT_VERSION) when the header is bad. */
qv_code wal__seg_header_decode(const uint8_t *hdr, size_t len, wal_pos *base,
                               qv_err *err);

/* Writes one framed record (header + payload) to dst, which must hold
 * WAL__REC_HDR_BYTES + len bytes.  Returns the bytes written. */
size_t wal__rec_encode(uint8_t *dst, const void *data, uint32_t len,
                       uint8_t flags);

typedef struct wal__rec_head {
    uint32_t len;
    uint32_t crc;
    uint8_t flags;
} wal__rec_head;

/* Decodes a 9-byte record header; QV_E_CORRUPT if the flags are unknown or
 * len exceeds max_len. */
qv_code wal__rec_head_decode(const uint8_t *hdr, size_t max_len,
                             wal__rec_head *out);
/* True if payload (head->len bytes) matches the header's checksum. */
int wal__rec_check(const wal__rec_head *head, const uint8_t *hdr,
                   const void *payload);

/* Result of scanning a segment image held in memory. */
typedef struct wal__seg_scan {
    wal_pos base;        /* from the header */
    uint64_t records;    /* records up to the last complete batch */
    uint64_t valid_end;  /* byte offset just past that batch */
    uint64_t torn_bytes; /* bytes after valid_end (a torn/corrupt tail) */
} wal__seg_scan;

/* Scans a whole segment: header, then records until the data ends or a
 * record is short or fails its checksum.  QV_E_CORRUPT only when the header
 * itself is bad; a bad tail is reported through torn_bytes. */
qv_code wal__seg_scan_buf(const uint8_t *buf, size_t len, size_t max_len,
                          wal__seg_scan *out, qv_err *err);

#endif
