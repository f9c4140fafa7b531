/* ref_internal.h -- the vtable behind ref_index (bench only). */
#ifndef QV_BENCH_REF_INTERNAL_H
#define QV_BENCH_REF_INTERNAL_H

#include "ref.h"

struct ref_index {
    void (*search)(ref_index *r, size_t nq, const float *q, size_t k, int param,
                   int threads, float *D, int64_t *I);
    void (*destroy)(ref_index *r);
};

#endif
