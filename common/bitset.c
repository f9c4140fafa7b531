/* bitset.c -- see bitset.h. */
#include "common/bitset.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

qv_code qv_bitset_init(qv_bitset *b, size_t nbits)
{
    size_t nw = QV_BITSET_WORDS(nbits);
    b->words = qv_try_calloc(nw ? nw : 1, sizeof(uint64_t));
    if (!b->words)
        return QV_E_NOMEM;
    b->nbits = nbits;
    b->owned = true;
    return QV_OK;
}

void qv_bitset_borrow(qv_bitset *b, uint64_t *words, size_t nbits)
{
    b->words = words;
    b->nbits = nbits;
    b->owned = false;
}

void qv_bitset_release(qv_bitset *b)
{
    if (b->owned)
        free(b->words);
    b->words = NULL;
    b->nbits = 0;
}

static void trim_tail(qv_bitset *b)
{
    size_t r = b->nbits & 63;
    if (r)
        b->words[b->nbits >> 6] &= ((uint64_t)1 << r) - 1;
}

void qv_bitset_set_all(qv_bitset *b)
{
    memset(b->words, 0xff, QV_BITSET_WORDS(b->nbits) * sizeof(uint64_t));
    trim_tail(b);
}

void qv_bitset_clear_all(qv_bitset *b)
{
    memset(b->words, 0, QV_BITSET_WORDS(b->nbits) * sizeof(uint64_t));
}

void qv_bitset_or(qv_bitset *dst, const qv_bitset *src)
{
    size_t nw = QV_BITSET_WORDS(dst->nbits);
    for (size_t i = 0; i < nw; i++)
        dst->words[i] |= src->words[i];
}

void qv_bitset_and(qv_bitset *dst, const qv_bitset *src)
{
    size_t nw = QV_BITSET_WORDS(dst->nbits);
    for (size_t i = 0; i < nw; i++)
        dst->words[i] &= src->words[i];
}

void qv_bitset_andnot(qv_bitset *dst, const qv_bitset *src)
{
    size_t nw = QV_BITSET_WORDS(dst->nbits);
    for (size_t i = 0; i < nw; i++)
        dst->words[i] &= ~src->words[i];
}

void qv_bitset_flip(qv_bitset *b)
{
    size_t nw = QV_BITSET_WORDS(b->nbits);
    for (size_t i = 0; i < nw; i++)
        b->words[i] = ~b->words[i];
    trim_tail(b);
}

size_t qv_bitset_count(const qv_bitset *b)
{
    size_t nw = QV_BITSET_WORDS(b->nbits), c = 0;
    for (size_t i = 0; i < nw; i++)
        c += (size_t)__builtin_popcountll(b->words[i]);
    return c;
}

size_t qv_bitset_next_set(const qv_bitset *b, size_t from)
{
    if (from >= b->nbits)
        return b->nbits;
    size_t w = from >> 6;
    uint64_t cur = b->words[w] & (~(uint64_t)0 << (from & 63));
    size_t nw = QV_BITSET_WORDS(b->nbits);
    for (;;) {
        if (cur) {
            size_t i = (w << 6) + (size_t)__builtin_ctzll(cur);
            return i < b->nbits ? i : b->nbits;
        }
        if (++w >= nw)
            return b->nbits;
        cur = b->words[w];
    }
}
