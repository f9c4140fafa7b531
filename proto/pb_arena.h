/* pb_arena.h -- protobuf-c messages on a qv_arena.
 *
 * qv_pb_unpack() decodes bytes into a message whose memory comes from an
 * arena, so nothing needs free_unpacked: releasing the arena frees it.
 * qv_pb_pack_buf() appends a message's encoding to a qv_buf.
 *
 * Threading: as the arena (one owner at a time).
 */
#ifndef QV_PB_ARENA_H
#define QV_PB_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/status.h"

/* A ProtobufCAllocator that allocates from arena (free is a no-op). */
ProtobufCAllocator qv_pb_arena_allocator(qv_arena *arena);

/* Decodes len bytes as desc into *out (arena-owned).  Malformed bytes give
 * QV_E_CORRUPT naming the message type and what (e.g. a meta key). */
qv_code qv_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *data,
                     size_t len, qv_arena *arena, const char *what,
                     ProtobufCMessage **out, qv_err *err) QV_MUST_USE;

/* Appends the encoding of m to out. */
qv_code qv_pb_pack_buf(const ProtobufCMessage *m, qv_buf *out) QV_MUST_USE;

#endif
