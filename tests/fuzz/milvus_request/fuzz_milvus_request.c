/* fuzz_milvus_request.c -- protobuf-c unpacking of request bytes from
 * clients, as the RPC layer does it: with the per-call arena as the
 * allocator.  The first input byte picks the message type; the rest are
 * the wire bytes.  A message that unpacks must pack back to exactly its
 * computed size. */
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/arena.h"
#include "milvus/common.pb-c.h"
#include "milvus/milvus.pb-c.h"
#include "milvus/schema.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const types[] = {
    &milvus__proto__milvus__connect_request__descriptor,
    &milvus__proto__milvus__get_version_request__descriptor,
    &milvus__proto__milvus__check_health_request__descriptor,
    &milvus__proto__milvus__client_heartbeat_request__descriptor,
    &milvus__proto__schema__field_data__descriptor,
    &milvus__proto__schema__collection_schema__descriptor,
    &milvus__proto__schema__search_result_data__descriptor,
    &milvus__proto__common__placeholder_group__descriptor,
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

static void *arena_alloc(void *a, size_t n)
{
    return qv_arena_try_alloc(a, 1, n ? n : 1);
}

static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *d = types[data[0] % N_TYPES];
    qv_arena arena;
    qv_arena_init(&arena, 4096);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, &alloc, size - 1, data + 1);
    if (m) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf || protobuf_c_message_pack(m, buf) != n)
            abort();
        /* Unpacking again is not checked: protobuf-c keeps unknown fields
         * verbatim, including tags it would itself reject when re-read
         * (e.g. a non-minimal encoding of field 0). */
        (void)protobuf_c_message_unpack(d, &alloc, n, buf);
        free(buf);
    }
    qv_arena_release(&arena);
    return 0;
}
