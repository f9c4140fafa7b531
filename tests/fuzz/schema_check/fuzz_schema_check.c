/* fuzz_schema_check.c -- the CreateCollection path of the coord on
 * client bytes: the `schema` field unpacked on an arena, then validated and
 * completed by qv_schema_check().  The first input byte gives shards_num
 * and num_partitions; the rest is the CollectionSchema.  A schema that
 * passes must have field IDs from 100 and pack back to its computed size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "coord/schema_check.h"
#include "proto/pb_arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Schema__CollectionSchema *s = NULL;
    if (qv_pb_unpack(&milvus__proto__schema__collection_schema__descriptor,
                     data + 1, size - 1, &a, "schema", (ProtobufCMessage **)&s,
                     NULL) == QV_OK) {
        int32_t shards = data[0] & 0x1f;
        int64_t nparts = data[0] >> 5;
        const char *name = s->name[0] ? s->name : "fuzz";
        if (qv_schema_check(s, name, &shards, &nparts, NULL, &a, NULL) ==
            QV_OK) {
            if (shards < 1 || s->n_fields == 0 ||
                s->fields[0]->fieldid != QV_FIRST_USER_FIELD_ID)
                abort();
            size_t n = protobuf_c_message_get_packed_size(&s->base);
            uint8_t *buf = malloc(n ? n : 1);
            if (protobuf_c_message_pack(&s->base, buf) != n)
                abort();
            free(buf);
        }
    }
    qv_arena_release(&a);
    return 0;
}
