/* sindex_int.h -- internals shared by the files of index/scalar/.
 *
 * Every scalar index, built or loaded, is queried from one image (the
 * serialized form): qv_sindex_build() assembles the image in memory and
 * loads it, so the query code has a single representation.
 *
 * Image layout (little-endian):
 *   offset size field
 *   0      4    magic "QVSX"
 *   4      4    version (1)
 *   8      4    index type (qv_sindex_type)
 *   12     4    key type (qv_dtype of the column, element type for Arrays)
 *   16     4    flags: bit 0 = the column is an Array
 *   20     4    key kind: 1 int64, 2 double, 3 string
 *   24     8    rows of the column
 *   32     8    nkeys: distinct keys (STL_SORT: entries, with repeats)
 *   40     8    nposts: row ids in S_ROWS
 *   48     8    nnodes: trie nodes
 *   56     4    crc32c of bytes [0, 56) and [64, end)
 *   60     4    reserved, 0
 *   64     112  section table: 7 x (offset u64, length u64)
 *   192         sections, each 64-byte aligned
 * Sections:
 *   S_KEYS    int64[nkeys] | double[nkeys] | u64 string offsets[nkeys + 1]
 *   S_KBYTES  string key bytes
 *   S_POFF    u64[nkeys + 1] postings offsets (INVERTED, Trie, BITMAP)
 *   S_ROWS    u32 row ids: STL_SORT one per key entry; else postings
 *   S_BITMAPS u64[nbitmaps * words(rows)] row bitmaps (BITMAP)
 *   S_NODES   u32[6 * nnodes] trie nodes (Trie)
 *   S_BMIDX   u32[nkeys] (BITMAP): the bitmap of key k, or UINT32_MAX when
 *             the key's rows are a postings list instead.  A key gets a
 *             bitmap when its postings would take at least as many bytes
 *             (count * 4 >= rows / 8), so rare values cost 4 bytes a row
 *             and common ones rows / 8 bytes.
 */
#ifndef QV_SINDEX_INT_H
#define QV_SINDEX_INT_H

#include "index/scalar/scalar_index.h"

enum { KIND_INT = 1, KIND_FLOAT = 2, KIND_STR = 3 };
enum { S_KEYS, S_KBYTES, S_POFF, S_ROWS, S_BITMAPS, S_NODES, S_BMIDX, S_COUNT };
#define SX_NO_BITMAP UINT32_MAX

#define SX_MAGIC      0x58535651u /* "QVSX" */
#define SX_VERSION    1u
#define SX_HDR        192
#define SX_FLAG_ARRAY 1u

/* Trie node fields (u32 each). */
enum {
    TN_LABEL_OFF,
    TN_LABEL_LEN,
    TN_FIRST,
    TN_NCHILD,
    TN_LO,
    TN_HI,
    TN_FIELDS
};

struct qv_sindex {
    qv_sindex_type type;
    qv_dtype ktype;
    bool is_array;
    int kind;
    size_t rows, nkeys, nposts, nnodes, words, nbitmaps;
    const int64_t *ikeys;
    const double *fkeys;
    const uint64_t *soffs;
    const uint8_t *sbytes;
    size_t sbytes_len;
    const uint64_t *poff;
    const uint32_t *prow;
    const uint64_t *bitmaps;
    const uint32_t *bmidx;
    const uint32_t *nodes;
    const uint8_t *image;
    size_t image_len;
    void *owned; /* image allocated by build, freed with the index */
    void *map;   /* mapping owned by the index (qv_sindex_open_file) */
    size_t map_len;
};

/* Key k of a string index. */
static inline const uint8_t *sx_str(const qv_sindex *ix, size_t k, size_t *len)
{
    *len = (size_t)(ix->soffs[k + 1] - ix->soffs[k]);
    return ix->sbytes + ix->soffs[k];
}

/* Builds trie nodes over the sorted distinct string keys of a loaded-like
 * view (soffs/sbytes/nkeys set).  Returns a heap array of
 * TN_FIELDS * *nnodes u32 (caller frees) or NULL on OOM. */
uint32_t *qv__trie_build(const uint64_t *soffs, const uint8_t *sbytes,
                         size_t nkeys, size_t *nnodes);
/* Key range [*lo, *hi) of the keys starting with prefix, via the trie. */
void qv__trie_prefix(const qv_sindex *ix, const uint8_t *p, size_t len,
                     size_t *lo, size_t *hi);
/* Structural check of the trie nodes of a loaded image. */
bool qv__trie_check(const qv_sindex *ix);

#endif
