/* Tests of common/hash.c against published test vectors and Milvus's
 * shard routing. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/hash.h"

Test(hash, murmur3_32_known_vectors)
{
    cr_assert_eq(qv_murmur3_32("", 0, 0), 0u);
    cr_assert_eq(qv_murmur3_32("", 0, 1), 0x514e28b7u);
    cr_assert_eq(qv_murmur3_32("hello", 5, 0), 0x248bfa47u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    cr_assert_eq(qv_murmur3_32(fox, strlen(fox), 0), 0x2e4ff723u);
    cr_assert_eq(qv_murmur3_32("abc", 3, 0), 0xb3dd93fau);
}

Test(hash, crc32_and_crc32c_check_values)
{
    cr_assert_eq(qv_crc32(0, "123456789", 9), 0xcbf43926u);
    cr_assert_eq(qv_crc32c(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(qv_crc32c(0, "", 0), 0u);
    /* Incremental equals one-shot. */
    uint32_t c = qv_crc32c(0, "12345", 5);
    cr_assert_eq(qv_crc32c(c, "6789", 4), 0xe3069283u);
    cr_assert_eq(qv_crc32(qv_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

Test(hash, crc32c_long_input_matches_bytewise)
{
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uint32_t one = qv_crc32c(0, buf, sizeof(buf)), step = 0;
    for (int i = 0; i < 1000; i++)
        step = qv_crc32c(step, buf + i, 1);
    cr_assert_eq(one, step);
}

Test(hash, int64_pk_routing_is_murmur_of_le_bytes_masked)
{
    unsigned char le[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    uint32_t h = qv_murmur3_32(le, 8, 0) & 0x7fffffffu;
    cr_assert_eq(qv_hash_pk_int64(1), h);
    cr_assert_eq(qv_hash_pk_int64(-1) >> 31, 0u);
    for (int64_t pk = -1000; pk < 1000; pk++)
        cr_assert_lt(qv_hash_pk_int64(pk), 0x80000000u);
}

Test(hash, varchar_pk_routing_uses_first_100_bytes)
{
    char a[150], b[150];
    memset(a, 'x', sizeof(a));
    memcpy(b, a, sizeof(b));
    b[120] = 'y';
    cr_assert_eq(qv_hash_pk_varchar(a, 150), qv_hash_pk_varchar(b, 150));
    cr_assert_eq(qv_hash_pk_varchar("123456789", 9), 0xcbf43926u);
    cr_assert_eq(qv_shard_of(10, 4), 2u);
}
