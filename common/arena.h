/* arena.h -- region allocator: many allocations, one free.
 *
 * Used for per-request memory (an RPC's unpacked message, its scratch) so
 * that cleanup is a single qv_arena_release().  Cleanup callbacks run in
 * reverse order of registration at release (after nginx's pool cleanups).
 * Allocation aborts on OOM like qv_xmalloc; qv_arena_try_alloc returns NULL.
 *
 * Threading: an arena is owned by one thread at a time.
 */
#ifndef QV_ARENA_H
#define QV_ARENA_H

#include <stddef.h>

typedef struct qv_arena_block qv_arena_block;
typedef struct qv_arena_cleanup qv_arena_cleanup;

typedef struct qv_arena {
    qv_arena_block *head;
    qv_arena_cleanup *cleanups;
    size_t block_size; /* default size of new blocks */
    size_t total;      /* bytes handed out, for accounting */
} qv_arena;

void qv_arena_init(qv_arena *a, size_t block_size);
/* Runs cleanups, frees every block; the arena may be reused afterwards. */
void qv_arena_release(qv_arena *a);
/* 16-byte aligned; never NULL (aborts on OOM). */
void *qv_arena_alloc(qv_arena *a, size_t n);
void *qv_arena_calloc(qv_arena *a, size_t count, size_t size);
/* NULL on OOM or overflow. */
void *qv_arena_try_alloc(qv_arena *a, size_t count, size_t size);
char *qv_arena_strdup(qv_arena *a, const char *s);
char *qv_arena_strndup(qv_arena *a, const char *s, size_t n);
/* Registers fn(arg) to run at release. */
void qv_arena_on_release(qv_arena *a, void (*fn)(void *), void *arg);

#endif
