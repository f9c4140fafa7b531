/* bitset.h -- fixed-size bitset over 64-bit words.
 *
 * Used for filter results and delete masks.  Convention shared with the
 * index library: a SET bit EXCLUDES a row from search results.
 * Bits past nbits in the last word are kept zero.
 *
 * Threading: readers may share a bitset; writers need exclusive access.
 */
#ifndef QV_BITSET_H
#define QV_BITSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct qv_bitset {
    uint64_t *words;
    size_t nbits;
    bool owned; /* words allocated by us (false when borrowed) */
} qv_bitset;

#define QV_BITSET_WORDS(nbits) (((nbits) + 63) / 64)

/* Allocates nbits zero bits; QV_E_NOMEM on failure. */
qv_code qv_bitset_init(qv_bitset *b, size_t nbits) QV_MUST_USE;
/* Wraps caller-owned words (not freed by release). */
void qv_bitset_borrow(qv_bitset *b, uint64_t *words, size_t nbits);
void qv_bitset_release(qv_bitset *b);

static inline bool qv_bitset_test(const qv_bitset *b, size_t i)
{
    return (b->words[i >> 6] >> (i & 63)) & 1;
}
static inline void qv_bitset_set(qv_bitset *b, size_t i)
{
    b->words[i >> 6] |= (uint64_t)1 << (i & 63);
}
static inline void qv_bitset_clear(qv_bitset *b, size_t i)
{
    b->words[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

void qv_bitset_set_all(qv_bitset *b);
void qv_bitset_clear_all(qv_bitset *b);
/* dst op= src; both must have the same nbits. */
void qv_bitset_or(qv_bitset *dst, const qv_bitset *src);
void qv_bitset_and(qv_bitset *dst, const qv_bitset *src);
void qv_bitset_andnot(qv_bitset *dst, const qv_bitset *src);
void qv_bitset_flip(qv_bitset *b);
size_t qv_bitset_count(const qv_bitset *b);
/* Index of the first set bit >= from, or nbits if none. */
size_t qv_bitset_next_set(const qv_bitset *b, size_t from);

#endif
