/* sindex_trie.c -- the radix trie of the Trie index.
 *
 * Built over the sorted distinct VarChar keys.  Every node covers a
 * contiguous key range [lo, hi) (the keys that start with the node's
 * path); edges carry compressed labels, stored as an offset and length
 * into the key bytes, so the trie adds no string storage.  Nodes are laid
 * out breadth first: the children of a node are contiguous, sorted by
 * their first label byte, and always come after their parent, so a walk
 * moves forward and ends.  A prefix query walks the trie and answers with
 * the key range of the node where the prefix ends.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/scalar/sindex_int.h"

typedef struct tb {
    uint32_t *n; /* TN_FIELDS per node */
    uint32_t *depth;
    size_t count, cap;
} tb;

static bool tb_add(tb *t, uint32_t loff, uint32_t llen, uint32_t lo,
                   uint32_t hi, uint32_t depth)
{
    if (t->count == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        uint32_t *nn = qv_try_realloc(t->n, nc, (size_t)TN_FIELDS * 4);
        if (!nn)
            return false;
        t->n = nn;
        uint32_t *nd = qv_try_realloc(t->depth, nc, 4);
        if (!nd)
            return false;
        t->depth = nd;
        t->cap = nc;
    }
    uint32_t *x = t->n + t->count * TN_FIELDS;
    x[TN_LABEL_OFF] = loff;
    x[TN_LABEL_LEN] = llen;
    x[TN_FIRST] = 0;
    x[TN_NCHILD] = 0;
    x[TN_LO] = lo;
    x[TN_HI] = hi;
    t->depth[t->count] = depth;
    t->count++;
    return true;
}

/* Adds the children of node x (keys [lo, hi) at depth d). */
static bool expand(tb *t, size_t x, const uint64_t *soffs, const uint8_t *sb)
{
    uint32_t lo = t->n[x * TN_FIELDS + TN_LO];
    uint32_t hi = t->n[x * TN_FIELDS + TN_HI];
    uint32_t d = t->depth[x];
    size_t i = lo;
#define KLEN(k)  ((size_t)(soffs[(k) + 1] - soffs[(k)]))
#define KB(k, j) (sb[soffs[(k)] + (j)])
    if (i < hi && KLEN(i) == d)
        i++; /* the key that ends at this node sorts first */
    size_t first = t->count, nchild = 0;
    while (i < hi) {
        uint8_t c = KB(i, d);
        size_t j = i + 1;
        while (j < hi && KB(j, d) == c)
            j++;
        /* LCP of a sorted group = LCP of its first and last keys. */
        size_t a = KLEN(i), b = KLEN(j - 1), l = d + 1;
        while (l < a && l < b && KB(i, l) == KB(j - 1, l))
            l++;
        if (!tb_add(t, (uint32_t)(soffs[i] + d), (uint32_t)(l - d), (uint32_t)i,
                    (uint32_t)j, (uint32_t)l))
            return false;
        nchild++;
        i = j;
    }
#undef KLEN
#undef KB
    t->n[x * TN_FIELDS + TN_FIRST] = nchild ? (uint32_t)first : 0;
    t->n[x * TN_FIELDS + TN_NCHILD] = (uint32_t)nchild;
    return true;
}

uint32_t *qv__trie_build(const uint64_t *soffs, const uint8_t *sbytes,
                         size_t nkeys, size_t *nnodes)
{
    tb t = {NULL, NULL, 0, 0};
    if (soffs[nkeys] > UINT32_MAX || !tb_add(&t, 0, 0, 0, (uint32_t)nkeys, 0))
        goto fail;
    for (size_t x = 0; x < t.count; x++)
        if (!expand(&t, x, soffs, sbytes))
            goto fail;
    free(t.depth);
    *nnodes = t.count;
    return t.n;
fail:
    free(t.n);
    free(t.depth);
    return NULL;
}

bool qv__trie_check(const qv_sindex *ix)
{
    if (ix->nnodes == 0 || !ix->nodes)
        return false;
    for (size_t x = 0; x < ix->nnodes; x++) {
        const uint32_t *n = ix->nodes + x * TN_FIELDS;
        if ((uint64_t)n[TN_LABEL_OFF] + n[TN_LABEL_LEN] > ix->sbytes_len)
            return false;
        if ((x == 0) != (n[TN_LABEL_LEN] == 0))
            return false;
        if (n[TN_LO] > n[TN_HI] || n[TN_HI] > ix->nkeys)
            return false;
        if (n[TN_NCHILD] && (n[TN_FIRST] <= x ||
                             (uint64_t)n[TN_FIRST] + n[TN_NCHILD] > ix->nnodes))
            return false;
    }
    return true;
}

void qv__trie_prefix(const qv_sindex *ix, const uint8_t *p, size_t len,
                     size_t *lo, size_t *hi)
{
    const uint32_t *node = ix->nodes;
    size_t m = 0;
    *lo = *hi = 0;
    while (m < len) {
        const uint32_t *kids = ix->nodes + (size_t)node[TN_FIRST] * TN_FIELDS;
        size_t a = 0, b = node[TN_NCHILD];
        while (a < b) { /* children sorted by first label byte */
            size_t mid = a + (b - a) / 2;
            uint8_t c = ix->sbytes[kids[mid * TN_FIELDS + TN_LABEL_OFF]];
            if (c < p[m])
                a = mid + 1;
            else
                b = mid;
        }
        if (a == node[TN_NCHILD])
            return;
        const uint32_t *ch = kids + a * TN_FIELDS;
        const uint8_t *label = ix->sbytes + ch[TN_LABEL_OFF];
        size_t ll = ch[TN_LABEL_LEN], k = len - m < ll ? len - m : ll;
        if (memcmp(label, p + m, k) != 0)
            return;
        m += k;
        node = ch;
    }
    *lo = node[TN_LO];
    *hi = node[TN_HI];
}
