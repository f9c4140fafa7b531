/* like.c -- SQL LIKE patterns: `%` any run of bytes, `_` one UTF-8
 * character, a backslash makes the next byte literal.  Patterns of the
 * forms "abc", "abc%", "%abc", "%abc%" are classified so the evaluator can
 * run memcmp/memmem loops (and a Trie index can answer prefixes). */
#include <stdlib.h>
#include <string.h>

#include "common/expr/expr_int.h"
#include "common/alloc.h"
#include "common/banned.h"

enum { IT_LIT = 0, IT_ONE = 1, IT_ANY = 2 };

int qv_expr__like_classify(qv_arena *a, const char *pat, size_t plen,
                           qv_expr_str *lit)
{
    char *out = qv_arena_alloc(a, plen + 1);
    size_t o = 0, lead = 0, trail = 0;
    bool inner_wild = false, seen_lit = false;
    for (size_t i = 0; i < plen; i++) {
        char c = pat[i];
        if (c == '\\') {
            if (i + 1 >= plen)
                return -1;
            if (trail)
                inner_wild = true;
            out[o++] = pat[++i];
            seen_lit = true;
            continue;
        }
        if (c == '_') {
            inner_wild = true;
            continue;
        }
        if (c == '%') {
            if (!seen_lit)
                lead++;
            else
                trail++;
            continue;
        }
        if (trail)
            inner_wild = true;
        out[o++] = c;
        seen_lit = true;
    }
    out[o] = 0;
    lit->ptr = out;
    lit->len = o;
    if (inner_wild)
        return QV_LIKE_GENERAL;
    if (!lead && !trail)
        return QV_LIKE_EQ;
    if (!seen_lit) /* only '%': matches every string */
        return QV_LIKE_PREFIX;
    if (lead && trail)
        return QV_LIKE_INFIX;
    return lead ? QV_LIKE_SUFFIX : QV_LIKE_PREFIX;
}

static size_t u8len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return k <= n ? k : n;
}

/* Next pattern item at *i: kind and, for literals, the byte. */
static int item(const char *pat, size_t plen, size_t *i, char *byte)
{
    char c = pat[*i];
    (*i)++;
    if (c == '%')
        return IT_ANY;
    if (c == '_')
        return IT_ONE;
    if (c == '\\' && *i < plen)
        c = pat[(*i)++];
    *byte = c;
    return IT_LIT;
}

bool qv_expr__like_match(const char *pat, size_t plen, const char *s,
                         size_t slen)
{
    size_t pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen) {
            size_t next = pi;
            char b = 0;
            int k = item(pat, plen, &next, &b);
            if (k == IT_ANY) {
                star_p = next;
                star_s = si;
                pi = next;
                continue;
            }
            if (k == IT_ONE) {
                si += u8len(s + si, slen - si);
                pi = next;
                continue;
            }
            if (s[si] == b) {
                si++;
                pi = next;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        /* let the last % absorb one more character */
        star_s += u8len(s + star_s, slen - star_s);
        si = star_s;
        pi = star_p;
    }
    while (pi < plen && pat[pi] == '%')
        pi++;
    return pi == plen;
}
