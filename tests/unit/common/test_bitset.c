/* Tests of common/bitset.c. */
#include <criterion/criterion.h>

#include "common/bitset.h"

Test(bitset, set_test_clear_count)
{
    qv_bitset b;
    cr_assert_eq(qv_bitset_init(&b, 130), QV_OK);
    cr_assert_eq(qv_bitset_count(&b), 0);
    qv_bitset_set(&b, 0);
    qv_bitset_set(&b, 64);
    qv_bitset_set(&b, 129);
    cr_assert(qv_bitset_test(&b, 64));
    cr_assert(!qv_bitset_test(&b, 65));
    cr_assert_eq(qv_bitset_count(&b), 3);
    qv_bitset_clear(&b, 64);
    cr_assert_eq(qv_bitset_count(&b), 2);
    qv_bitset_release(&b);
}

Test(bitset, set_all_and_flip_respect_size)
{
    qv_bitset b;
    cr_assert_eq(qv_bitset_init(&b, 70), QV_OK);
    qv_bitset_set_all(&b);
    cr_assert_eq(qv_bitset_count(&b), 70);
    qv_bitset_flip(&b);
    cr_assert_eq(qv_bitset_count(&b), 0);
    qv_bitset_set(&b, 3);
    qv_bitset_flip(&b);
    cr_assert_eq(qv_bitset_count(&b), 69);
    qv_bitset_release(&b);
}

Test(bitset, boolean_ops_and_iteration)
{
    qv_bitset a, c;
    cr_assert_eq(qv_bitset_init(&a, 200), QV_OK);
    cr_assert_eq(qv_bitset_init(&c, 200), QV_OK);
    for (size_t i = 0; i < 200; i += 3)
        qv_bitset_set(&a, i);
    for (size_t i = 0; i < 200; i += 5)
        qv_bitset_set(&c, i);
    qv_bitset and = {0};
    cr_assert_eq(qv_bitset_init(&and, 200), QV_OK);
    qv_bitset_or(&and, &a);
    qv_bitset_and(&and, &c);
    size_t n = 0;
    for (size_t i = qv_bitset_next_set(&and, 0); i < 200;
         i = qv_bitset_next_set(&and, i + 1)) {
        cr_assert_eq(i % 15, 0);
        n++;
    }
    cr_assert_eq(n, 14); /* 0, 15, ..., 195 */
    qv_bitset_andnot(&a, &c);
    cr_assert_eq(qv_bitset_count(&a), 67 - 14);
    qv_bitset_or(&a, &c);
    cr_assert_eq(qv_bitset_count(&a), 67 + 40 - 14);
    cr_assert_eq(qv_bitset_next_set(&a, 200), 200);
    qv_bitset_release(&a);
    qv_bitset_release(&c);
    qv_bitset_release(&and);
}
