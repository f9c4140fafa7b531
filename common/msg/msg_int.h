/* msg_int.h -- layout constants and byte helpers shared by the files of
 * common/msg/.  Not for use outside the module.  Layout: README.md.
 */
#ifndef QV_MSG_INT_H
#define QV_MSG_INT_H

#include <stdint.h>
#include <string.h>

#include "common/msg/msg.h"

#define MSG_MAGIC      0x534d5651u /* "QVMS" little-endian */
#define MSG_HDR        48          /* fixed header before the vchannel */
#define MSG_OFF_CRC    8
#define MSG_OFF_VCLEN  12
#define MSG_OFF_TOTAL  16
#define MSG_OFF_TS     24
#define MSG_OFF_COLL   32
#define INS_FIXED      48 /* Insert body before the field table */
#define DEL_FIXED      48 /* Delete body, including the image entry */
#define SEG_FIXED      24 /* SegmentOpen / SegmentSeal body */
#define INS_FLAG_ROWID 1u
#define IMG_ALIGN      64  /* column images start at multiples of this */
#define IMG_HDR        128 /* column file header (common/column) */

#define ALIGN8(x)  (((x) + 7) & ~(size_t)7)
#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static inline void msg__put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void msg__put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline uint32_t msg__get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t msg__get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Checks the shape of a message to encode; QV_E_INVALID with a reason. */
qv_code msg__check(const qv_msg *m, qv_err *err);
/* crc32c of the whole message except the crc field. */
uint32_t msg__crc(const uint8_t *p, size_t total);
/* Exact bytes of the column file image of v. */
size_t msg__image_size(const qv_col_view *v);

#endif
