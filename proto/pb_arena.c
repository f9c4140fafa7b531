/* pb_arena.c -- see pb_arena.h. */
#include "proto/pb_arena.h"

static void *arena_alloc(void *data, size_t size)
{
    return qv_arena_try_alloc(data, 1, size ? size : 1);
}

static void arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCAllocator qv_pb_arena_allocator(qv_arena *arena)
{
    ProtobufCAllocator a = {arena_alloc, arena_free, arena};
    return a;
}

qv_code qv_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *data,
                     size_t len, qv_arena *arena, const char *what,
                     ProtobufCMessage **out, qv_err *err)
{
    ProtobufCAllocator a = qv_pb_arena_allocator(arena);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, data);
    if (!m)
        return qv_fail(err, QV_E_CORRUPT,
                       "cannot decode %s as '%s' (%zu bytes)", what, desc->name,
                       len);
    *out = m;
    return QV_OK;
}

qv_code qv_pb_pack_buf(const ProtobufCMessage *m, qv_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    qv_code rc = qv_buf_reserve(out, n);
    if (rc)
        return rc;
    protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
    return QV_OK;
}
