/* arena.c -- see arena.h. */
#include "common/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct qv_arena_block {
    qv_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct qv_arena_cleanup {
    qv_arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

void qv_arena_init(qv_arena *a, size_t block_size)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->block_size = block_size ? block_size : 16384;
    a->total = 0;
}

void qv_arena_release(qv_arena *a)
{
    while (a->cleanups) {
        qv_arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
    while (a->head) {
        qv_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->total = 0;
}

void *qv_arena_try_alloc(qv_arena *a, size_t count, size_t size)
{
    size_t n;
    if (!qv_mul_ok(count, size, &n) || n > SIZE_MAX - 64)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    qv_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t bs = n > a->block_size / 4 ? n : a->block_size;
        b = malloc(sizeof(*b) + bs);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = bs;
        if (bs == n && a->head) {
            /* Big allocation: keep the current block first for small ones. */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    return p;
}

void *qv_arena_alloc(qv_arena *a, size_t n)
{
    void *p = qv_arena_try_alloc(a, 1, n);
    if (!p)
        p = qv_xmalloc(SIZE_MAX); /* aborts with a message */
    return p;
}

void *qv_arena_calloc(qv_arena *a, size_t count, size_t size)
{
    size_t n;
    if (!qv_mul_ok(count, size, &n))
        return qv_arena_alloc(a, SIZE_MAX);
    void *p = qv_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *qv_arena_strndup(qv_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = qv_arena_alloc(a, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *qv_arena_strdup(qv_arena *a, const char *s)
{
    return qv_arena_strndup(a, s, strlen(s));
}

void qv_arena_on_release(qv_arena *a, void (*fn)(void *), void *arg)
{
    qv_arena_cleanup *c = qv_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}
