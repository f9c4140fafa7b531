/* ref.h -- reference implementations for the index benchmark (bench only).
 *
 * One small C interface over FAISS and hnswlib, so that index_bench.c can
 * build and search the same index in Quiver and in the references with the
 * same data, parameters and thread counts.  The adapters are C++
 * (ref_faiss.cpp, ref_hnswlib.cpp) and are compiled only with the benchmark.
 *
 * Kinds: "Flat", "HNSW", "IVFFlat", "IVFSQ8", "IVFPQ".  `param` of search is
 * efSearch for HNSW, nprobe for IVF and ignored for Flat.
 *
 * Threading: one thread drives a ref_index; `threads` says how many threads
 * the adapter may use inside build and search.
 */
#ifndef QV_BENCH_REF_H
#define QV_BENCH_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ref_build_params {
    const char *kind; /* "Flat", "HNSW", "IVFFlat", "IVFSQ8", "IVFPQ" */
    int metric_ip;    /* 0: L2, 1: inner product */
    size_t dim;
    int M; /* HNSW */
    int ef_construction;
    int nlist; /* IVF */
    int pq_m;  /* IVFPQ */
    int pq_nbits;
} ref_build_params;

typedef struct ref_index ref_index;

/* Library name and flavour, e.g. "FAISS 1.7.3 (AVX2 build)". */
const char *ref_faiss_describe(void);
const char *ref_hnswlib_describe(void);
/* 1 when this reference supports `kind`. */
int ref_faiss_supports(const char *kind);
int ref_hnswlib_supports(const char *kind);

/* Builds (trains and adds) n rows; returns NULL with a message in msg. */
ref_index *ref_faiss_build(const ref_build_params *p, size_t n, const float *x,
                           int threads, char *msg, size_t msg_len);
ref_index *ref_hnswlib_build(const ref_build_params *p, size_t n,
                             const float *x, int threads, char *msg,
                             size_t msg_len);

/* Searches nq queries for the k nearest; D and I are nq*k. */
void ref_search(ref_index *r, size_t nq, const float *q, size_t k, int param,
                int threads, float *D, int64_t *I);
void ref_free(ref_index *r);

/* Limits OpenMP and OpenBLAS threads of the FAISS side. */
void ref_faiss_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
