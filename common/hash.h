/* hash.h -- the hash and checksum functions whose values are part of
 * Quiver's on-disk and on-wire contracts.
 *
 *  - qv_murmur3_32: MurmurHash3 x86_32.  Shard routing of int64 primary keys
 *    hashes the 8 little-endian bytes with seed 0 and masks the sign bit
 *    (qv_hash_pk_int64), exactly as Milvus does.
 *  - qv_crc32: CRC-32/IEEE (zlib's).  VarChar primary keys route by the
 *    CRC-32 of their first 100 bytes (qv_hash_pk_varchar), as Milvus does.
 *  - qv_crc32c: CRC-32C (Castagnoli), the checksum of our files and log
 *    records; uses the SSE4.2 instruction when the CPU has it.
 *
 * Threading: all functions are pure and thread-safe.
 */
#ifndef QV_HASH_H
#define QV_HASH_H

#include <stddef.h>
#include <stdint.h>

uint32_t qv_murmur3_32(const void *data, size_t len, uint32_t seed);
/* crc is the running value (0 to start); returns the updated CRC. */
uint32_t qv_crc32(uint32_t crc, const void *data, size_t len);
uint32_t qv_crc32c(uint32_t crc, const void *data, size_t len);

#define QV_VARCHAR_HASH_PREFIX 100

uint32_t qv_hash_pk_int64(int64_t pk);
uint32_t qv_hash_pk_varchar(const char *s, size_t len);
/* Shard of a row: hash % shards. */
static inline uint32_t qv_shard_of(uint32_t hash, uint32_t shards)
{
    return hash % shards;
}

/* A general-purpose 64-bit hash for in-memory tables (not persisted). */
uint64_t qv_hash64(const void *data, size_t len);

#endif
