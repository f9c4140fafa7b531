/* bench_data.h -- data sets of the index benchmark: texmex fvecs / bvecs
 * (widened to float) / ivecs readers and recall@k against ground truth.
 * Single-threaded; the caller owns every returned array. */
#ifndef QV_BENCH_DATA_H
#define QV_BENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_vecs {
    size_t n, d;
    float *x;     /* fvecs / bvecs rows as float */
    int32_t *ids; /* ivecs rows */
} bench_vecs;

typedef struct bench_dataset {
    const char *name;
    int metric_ip;
    bench_vecs base, query, gt;
} bench_dataset;

/* Reads a .fvecs, .bvecs or .ivecs file; 0 on success. */
int bench_vecs_read(const char *path, bench_vecs *out);
void bench_vecs_free(bench_vecs *v);

/* Loads "siftsmall", "localsift" or "fiori-minilm-384" from dir. */
int bench_dataset_load(const char *dir, const char *name, bench_dataset *ds);
void bench_dataset_free(bench_dataset *ds);

/* recall@k of nq x k result ids against the first k ground-truth ids. */
double bench_recall(const bench_dataset *ds, const int64_t *I, size_t k);

#endif
