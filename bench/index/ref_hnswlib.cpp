// ref_hnswlib.cpp -- hnswlib adapter of the index benchmark (bench only).
// hnswlib is header-only: this file is compiled with -O3 -march=native so
// the reference runs its best SIMD code on this CPU.  Build and search use
// `threads` std::threads, as hnswlib's own examples do.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "ref_internal.h"

namespace
{

struct HnswRef {
    ref_index base;
    hnswlib::SpaceInterface<float> *space;
    hnswlib::HierarchicalNSW<float> *alg;
};

template <class F> void parallel_for(size_t n, int threads, F fn)
{
    if (threads <= 1 || n < 2) {
        for (size_t i = 0; i < n; i++)
            fn(i);
        return;
    }
    std::atomic<size_t> next(0);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++)
        ts.emplace_back([&] {
            for (;;) {
                size_t i = next.fetch_add(1);
                if (i >= n)
                    break;
                fn(i);
            }
        });
    for (auto &t : ts)
        t.join();
}

void hnsw_search(ref_index *r, size_t nq, const float *q, size_t k, int param,
                 int threads, float *D, int64_t *I)
{
    HnswRef *h = reinterpret_cast<HnswRef *>(r);
    h->alg->setEf((size_t)param);
    size_t d = *(size_t *)h->space->get_dist_func_param();
    parallel_for(nq, threads, [&](size_t i) {
        auto res = h->alg->searchKnn(q + i * d, k);
        size_t m = res.size();
        for (size_t j = k; j > m; j--) {
            D[i * k + j - 1] = 0;
            I[i * k + j - 1] = -1;
        }
        while (!res.empty()) {
            m--;
            D[i * k + m] = res.top().first;
            I[i * k + m] = (int64_t)res.top().second;
            res.pop();
        }
    });
}

void hnsw_destroy(ref_index *r)
{
    HnswRef *h = reinterpret_cast<HnswRef *>(r);
    delete h->alg;
    delete h->space;
    delete h;
}

} // namespace

extern "C" const char *ref_hnswlib_describe(void)
{
    return "hnswlib 0.6.2 (header-only, -O3 -march=native)";
}

extern "C" int ref_hnswlib_supports(const char *kind)
{
    return strcmp(kind, "HNSW") == 0;
}

extern "C" ref_index *ref_hnswlib_build(const ref_build_params *p, size_t n,
                                        const float *x, int threads, char *msg,
                                        size_t msg_len)
{
    if (!ref_hnswlib_supports(p->kind)) {
        snprintf(msg, msg_len, "hnswlib has no %s index", p->kind);
        return nullptr;
    }
    HnswRef *h = new HnswRef();
    h->base.search = hnsw_search;
    h->base.destroy = hnsw_destroy;
    if (p->metric_ip)
        h->space = new hnswlib::InnerProductSpace(p->dim);
    else
        h->space = new hnswlib::L2Space(p->dim);
    h->alg = new hnswlib::HierarchicalNSW<float>(
        h->space, n, (size_t)p->M, (size_t)p->ef_construction, 100);
    size_t d = p->dim;
    if (n > 0)
        h->alg->addPoint(x, 0);
    parallel_for(n > 0 ? n - 1 : 0, threads,
                 [&](size_t i) { h->alg->addPoint(x + (i + 1) * d, i + 1); });
    return &h->base;
}
