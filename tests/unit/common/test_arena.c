/* Tests of common/arena.c. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"

static int cleaned[3], order;

static void mark(void *arg)
{
    cleaned[(intptr_t)arg] = ++order;
}

Test(arena, allocations_are_aligned_and_distinct)
{
    qv_arena a;
    qv_arena_init(&a, 256);
    char *prev = NULL;
    for (int i = 1; i < 500; i++) {
        char *p = qv_arena_alloc(&a, (size_t)i);
        cr_assert_eq((uintptr_t)p % 16, 0);
        memset(p, 0x5a, (size_t)i);
        cr_assert_neq(p, prev);
        prev = p;
    }
    char *big = qv_arena_alloc(&a, 1 << 20);
    memset(big, 1, 1 << 20);
    qv_arena_release(&a);
}

Test(arena, strdup_and_calloc)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    char *s = qv_arena_strdup(&a, "hello");
    cr_assert_str_eq(s, "hello");
    cr_assert_str_eq(qv_arena_strndup(&a, "hello", 2), "he");
    int *z = qv_arena_calloc(&a, 100, sizeof(int));
    for (int i = 0; i < 100; i++)
        cr_assert_eq(z[i], 0);
    cr_assert_null(qv_arena_try_alloc(&a, SIZE_MAX / 2, 4));
    qv_arena_release(&a);
}

Test(arena, cleanups_run_in_reverse_order)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_arena_on_release(&a, mark, (void *)(intptr_t)0);
    qv_arena_on_release(&a, mark, (void *)(intptr_t)1);
    qv_arena_on_release(&a, mark, (void *)(intptr_t)2);
    qv_arena_release(&a);
    cr_assert_eq(cleaned[2], 1);
    cr_assert_eq(cleaned[1], 2);
    cr_assert_eq(cleaned[0], 3);
}
