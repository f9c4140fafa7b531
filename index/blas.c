/* blas.c -- the one place that calls OpenBLAS.
 *
 * OpenBLAS is held to one thread (we parallelize over queries on the qv_pool
 * instead; OpenBLAS threads and pool threads would fight over the cores).
 * Debian's OpenBLAS 0.3.21 picks its kernels when the library is loaded,
 * from the CPU or from OPENBLAS_CORETYPE, and misdetects recent AVX-512
 * Xeons as "Prescott" (4x slower).  qv_index_blas_check() detects that so
 * the process can warn or re-exec itself with the variable set
 * (scripts/openblas-coretype.sh prints the right value).
 */
#include "index/index_impl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void)
{
    openblas_set_num_threads(1);
}

void qv__sgemm_nt(size_t m, size_t n, size_t k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc)
{
    pthread_once(&blas_once, blas_init);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k,
                alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* Cores that lack AVX2 kernels. */
static const char *const slow_cores[] = {
    "prescott", "core2",  "penryn",      "dunnington",
    "nehalem",  "atom",   "sandybridge", "barcelona",
    "opteron",  "katmai", "coppermine",  "northwood",
    "banias",   "athlon", "bobcat",      "nano",
};

bool qv_index_blas_check(char *msg, size_t cap)
{
    const char *core = openblas_get_corename();
    char lc[32] = "";
    for (size_t i = 0; core && core[i] && i + 1 < sizeof(lc); i++) {
        lc[i] = (char)tolower((unsigned char)core[i]);
        lc[i + 1] = '\0';
    }
    __builtin_cpu_init();
    bool avx512 =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    bool avx2 = __builtin_cpu_supports("avx2");
    bool slow = false;
    for (size_t i = 0; avx2 && i < sizeof(slow_cores) / sizeof(*slow_cores);
         i++)
        slow |= strcmp(lc, slow_cores[i]) == 0;
    if (!slow) {
        if (msg && cap)
            snprintf(msg, cap, "openblas core '%s'", core ? core : "?");
        return true;
    }
    if (msg && cap)
        snprintf(msg, cap,
                 "openblas picked core '%s' on a cpu with %s: set "
                 "OPENBLAS_CORETYPE=%s in the environment before start "
                 "(matrix products run up to 4x slower)",
                 core ? core : "?", avx512 ? "avx-512" : "avx2",
                 avx512 ? "SkylakeX" : "Haswell");
    return false;
}
