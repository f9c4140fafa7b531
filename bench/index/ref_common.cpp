// ref_common.cpp -- dispatch of the reference adapters (bench only).
#include "ref_internal.h"

extern "C" void ref_search(ref_index *r, size_t nq, const float *q, size_t k,
                           int param, int threads, float *D, int64_t *I)
{
    r->search(r, nq, q, k, param, threads, D, I);
}

extern "C" void ref_free(ref_index *r)
{
    if (r)
        r->destroy(r);
}
