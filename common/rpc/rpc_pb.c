/* rpc_pb.c -- protobuf-c <-> grpc_byte_buffer, arena allocator, time. */
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <string.h>

#include "common/rpc/rpc_internal.h"
#include "proto/pb_arena.h"

grpc_byte_buffer *qv_rpc__pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    size_t w = protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    if (w != n) {
        grpc_slice_unref(s);
        return NULL;
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

qv_code qv_rpc__unpack(const ProtobufCMessageDescriptor *desc,
                       grpc_byte_buffer *bb, qv_arena *arena,
                       ProtobufCMessage **out, qv_err *err)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return qv_fail(err, QV_E_INVALID, "cannot read message bytes");
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCAllocator alloc = qv_pb_arena_allocator(arena);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, arena ? &alloc : NULL,
                                                    GRPC_SLICE_LENGTH(s),
                                                    GRPC_SLICE_START_PTR(s));
    size_t len = GRPC_SLICE_LENGTH(s);
    grpc_slice_unref(s);
    if (!m)
        return qv_fail(err, QV_E_INVALID,
                       "cannot parse %zu bytes as message '%s'", len,
                       desc->name);
    *out = m;
    return QV_OK;
}

gpr_timespec qv_rpc__deadline_in(int64_t ms)
{
    if (ms < 0)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                        gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int64_t qv_rpc__ms_until(gpr_timespec t)
{
    if (t.clock_type == GPR_CLOCK_MONOTONIC ||
        t.clock_type == GPR_CLOCK_REALTIME ||
        t.clock_type == GPR_CLOCK_PRECISE) {
        if (gpr_time_cmp(t, gpr_inf_future(t.clock_type)) == 0)
            return INT64_MAX;
        gpr_timespec now = gpr_now(t.clock_type);
        gpr_timespec d = gpr_time_sub(t, now);
        if (d.tv_sec > INT64_MAX / 2000)
            return INT64_MAX;
        return d.tv_sec * 1000 + d.tv_nsec / 1000000;
    }
    return INT64_MAX; /* GPR_TIMESPAN is not a deadline */
}

char *qv_rpc__slice_dup(qv_arena *a, grpc_slice s)
{
    return qv_arena_strndup(a, (const char *)GRPC_SLICE_START_PTR(s),
                            GRPC_SLICE_LENGTH(s));
}
