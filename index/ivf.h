/* ivf.h -- the inverted-file framework shared by IVF_FLAT, IVF_SQ8 and
 * IVF_PQ (internal to the index library).
 *
 * An IVF index = a coarse quantizer (nlist k-means centroids) + one
 * inverted list per centroid holding (code, label) pairs + a codec that
 * turns a vector into a code and scores codes against a query.  The
 * framework (index_ivf.c) does training of the coarse quantizer,
 * assignment, list storage, probing, filtering, parallel search and the
 * file sections; a codec (flat in index_ivf.c, SQ8 in index_ivf_sq8.c, PQ
 * in index_ivf_pq.c) does the rest.
 *
 * Threading: immutable after add; every search allocates its own scratch.
 */
#ifndef QV_IVF_H
#define QV_IVF_H

#include "index/index_impl.h"

typedef struct ivf_list {
    uint8_t *codes; /* n * code_size */
    int64_t *ids;   /* n labels */
    size_t n, cap;
} ivf_list;

typedef struct ivf_index ivf_index;

/* Per-query scan state.  scratch holds codec->scratch(ivf) floats. */
typedef struct ivf_scan {
    const float *q;
    float qnorm; /* |q|^2 */
    float *scratch;
} ivf_scan;

typedef struct ivf_codec {
    /* Trains the codec on n vectors x with their coarse lists. */
    qv_code (*train)(ivf_index *ivf, size_t n, const float *x,
                     const int64_t *lists, qv_err *err);
    /* Encodes one vector of list `list` into code (tmp: dim floats). */
    void (*encode)(const ivf_index *ivf, size_t list, const float *x,
                   uint8_t *code, float *tmp);
    /* Floats of per-query scratch. */
    size_t (*scratch)(const ivf_index *ivf);
    /* Per-query preparation. */
    void (*set_query)(const ivf_index *ivf, ivf_scan *s);
    /* Scores of the codes of one list: all n when sel is NULL, else only
     * positions sel[0..nsel).  coarse is the list's coarse score (L2:
     * |c|^2 - 2 q.c; IP: -q.c).  out receives scores (smaller closer). */
    void (*score)(const ivf_index *ivf, ivf_scan *s, size_t list, float coarse,
                  const uint8_t *codes, size_t n, const uint32_t *sel,
                  size_t nsel, float *out);
    /* Codec sections. */
    qv_code (*write)(const ivf_index *ivf, qv__writer *w, qv_err *err);
    qv_code (*read)(ivf_index *ivf, const qv__reader *r, qv_err *err);
    size_t (*memory)(const ivf_index *ivf);
    void (*release)(ivf_index *ivf);
} ivf_codec;

struct ivf_index {
    qv_index base;
    const ivf_codec *codec;
    size_t nlist;
    size_t code_size;
    float *centroids; /* nlist * dim */
    float *cnorms;    /* |c|^2 */
    ivf_list *lists;
    size_t max_list; /* longest list (scratch sizing) */
    bool borrowed;   /* centroids, codes and ids point into a loaded file */
    /* SQ8: decoded x[i] = vmin[i] + (code[i] + 0.5) * scale[i] */
    float *sq_vmin, *sq_scale; /* trained (saved) */
    float *sq_w, *sq_inv;      /* derived: scale^2 and 1 / scale */
    bool sq_borrowed;
    /* PQ */
    size_t pq_m, pq_nbits, pq_ksub, pq_dsub;
    float *pq_cent;    /* m * ksub * dsub */
    float *pq_centT;   /* derived: m * dsub * ksub (transposed per j) */
    float *pq_cnorm;   /* derived: m * ksub, squared norms */
    float *pq_precomp; /* L2: nlist * m * ksub (|r|^2 + 2 c.r) */
    bool pq_borrowed;
};

extern const ivf_codec qv__ivf_codec_flat;
extern const ivf_codec qv__ivf_codec_sq8;
extern const ivf_codec qv__ivf_codec_pq;

/* Parses PQ's build params (m, nbits) into ivf (index_ivf_pq.c). */
qv_code qv__ivf_pq_init(ivf_index *ivf, const qv_params *build,
                        qv_err *err) QV_MUST_USE;

/* get_vectors over lists whose codes are raw rows of row_bytes (IVF_FLAT,
 * BIN_IVF_FLAT): one pass over all lists, binary search among the sorted
 * wanted labels; duplicates in labels are fine. */
qv_code qv__lists_get(const ivf_list *lists, size_t nlist, size_t row_bytes,
                      size_t n, const int64_t *labels, void *out,
                      qv_err *err) QV_MUST_USE;

/* Residual x - centroid[list] into out. */
static inline void qv__ivf_residual(const ivf_index *ivf, size_t list,
                                    const float *x, float *out)
{
    const float *c = ivf->centroids + list * ivf->base.dim;
    for (size_t i = 0; i < ivf->base.dim; i++)
        out[i] = x[i] - c[i];
}

#endif
