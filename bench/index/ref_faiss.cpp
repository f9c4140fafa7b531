// ref_faiss.cpp -- FAISS adapter of the index benchmark (bench only).
// Linked against libfaiss_avx2.a built for this CPU by
// scripts/build-faiss-avx2.sh, or against Debian's libfaiss-dev (an
// SSE-only build) when that is not available; QV_FAISS_FLAVOR says which.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>

#include <omp.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "ref_internal.h"

#ifndef QV_FAISS_FLAVOR
#define QV_FAISS_FLAVOR "unknown build"
#endif

extern "C" void openblas_set_num_threads(int);

namespace
{

struct FaissRef {
    ref_index base;
    std::unique_ptr<faiss::Index> quantizer;
    std::unique_ptr<faiss::Index> index;
    bool hnsw;
    bool ivf;
};

void faiss_search(ref_index *r, size_t nq, const float *q, size_t k, int param,
                  int threads, float *D, int64_t *I)
{
    FaissRef *f = reinterpret_cast<FaissRef *>(r);
    ref_faiss_set_threads(threads);
    if (f->hnsw)
        static_cast<faiss::IndexHNSW *>(f->index.get())->hnsw.efSearch = param;
    if (f->ivf)
        static_cast<faiss::IndexIVF *>(f->index.get())->nprobe = (size_t)param;
    f->index->search((faiss::Index::idx_t)nq, q, (faiss::Index::idx_t)k, D,
                     reinterpret_cast<faiss::Index::idx_t *>(I));
}

void faiss_destroy(ref_index *r)
{
    delete reinterpret_cast<FaissRef *>(r);
}

} // namespace

extern "C" void ref_faiss_set_threads(int threads)
{
    omp_set_num_threads(threads < 1 ? 1 : threads);
    openblas_set_num_threads(1);
}

extern "C" const char *ref_faiss_describe(void)
{
    return "FAISS 1.7.3 (" QV_FAISS_FLAVOR ")";
}

extern "C" int ref_faiss_supports(const char *kind)
{
    return !strcmp(kind, "Flat") || !strcmp(kind, "HNSW") ||
           !strcmp(kind, "IVFFlat") || !strcmp(kind, "IVFSQ8") ||
           !strcmp(kind, "IVFPQ");
}

extern "C" ref_index *ref_faiss_build(const ref_build_params *p, size_t n,
                                      const float *x, int threads, char *msg,
                                      size_t msg_len)
{
    faiss::MetricType mt =
        p->metric_ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    faiss::Index::idx_t d = (faiss::Index::idx_t)p->dim;
    std::unique_ptr<FaissRef> f(new FaissRef());
    f->base.search = faiss_search;
    f->base.destroy = faiss_destroy;
    f->hnsw = f->ivf = false;
    ref_faiss_set_threads(threads);
    try {
        if (!strcmp(p->kind, "Flat")) {
            f->index.reset(new faiss::IndexFlat(d, mt));
        } else if (!strcmp(p->kind, "HNSW")) {
            auto *h = new faiss::IndexHNSWFlat((int)d, p->M, mt);
            h->hnsw.efConstruction = p->ef_construction;
            f->index.reset(h);
            f->hnsw = true;
        } else {
            f->quantizer.reset(new faiss::IndexFlat(d, mt));
            size_t nl = (size_t)p->nlist;
            faiss::IndexIVF *ivf;
            if (!strcmp(p->kind, "IVFFlat"))
                ivf = new faiss::IndexIVFFlat(f->quantizer.get(), d, nl, mt);
            else if (!strcmp(p->kind, "IVFSQ8"))
                ivf = new faiss::IndexIVFScalarQuantizer(
                    f->quantizer.get(), d, nl, faiss::ScalarQuantizer::QT_8bit,
                    mt);
            else if (!strcmp(p->kind, "IVFPQ"))
                ivf = new faiss::IndexIVFPQ(f->quantizer.get(), d, nl,
                                            (size_t)p->pq_m,
                                            (size_t)p->pq_nbits, mt);
            else {
                snprintf(msg, msg_len, "faiss: unknown kind %s", p->kind);
                return nullptr;
            }
            ivf->cp.seed = 1234;
            f->index.reset(ivf);
            f->ivf = true;
        }
        if (!f->index->is_trained)
            f->index->train((faiss::Index::idx_t)n, x);
        f->index->add((faiss::Index::idx_t)n, x);
    } catch (const std::exception &e) {
        snprintf(msg, msg_len, "faiss: %s", e.what());
        return nullptr;
    }
    return &f.release()->base;
}
