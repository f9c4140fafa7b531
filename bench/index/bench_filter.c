/* bench_filter.c -- the filtered-search crossover study of HNSW.
 *
 * Builds one Quiver HNSW index, then for a range of pass ratios (share of
 * rows the filter lets through, chosen at random with a fixed seed) times
 * the graph walk (hnsw_filter_mode=1) and the exact scan of the allowed
 * rows (hnsw_filter_mode=2) single-threaded, with recall@10 against the
 * filtered exact answer from a FLAT index, and shows what the automatic
 * rule (mode 0) picks.  The crossover constant of the rule,
 * gamma = pass^2 / (n * ef), is printed for the measured crossover.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/index/bench_data.h"
#include "common/alloc.h"
#include "common/bitset.h"
#include "index/hnsw/hnsw.h"
#include "index/index.h"

void bench_filter_study(const bench_dataset *ds, const qv_index *built, int M,
                        int efc, int ef, int threads, double min_time);

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double overlap(const int64_t *a, const int64_t *b, size_t nq, size_t k)
{
    size_t hit = 0, tot = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < k; j++) {
            if (b[i * k + j] < 0)
                continue;
            tot++;
            for (size_t t = 0; t < k; t++)
                if (a[i * k + t] == b[i * k + j]) {
                    hit++;
                    break;
                }
        }
    return tot ? (double)hit / (double)tot : 1.0;
}

static double run_mode(const qv_index *ix, const bench_dataset *ds, size_t nq,
                       const qv_bitset *f, int ef, int mode, double min_time,
                       float *D, int64_t *I)
{
    char efs[16], ms[8];
    snprintf(efs, sizeof(efs), "%d", ef);
    snprintf(ms, sizeof(ms), "%d", mode);
    qv_kv kv[2] = {{"ef", efs}, {"hnsw_filter_mode", ms}};
    qv_params p = {kv, 2};
    qv_search_args a = {.params = &p, .filter = f};
    size_t runs = 0;
    double t0 = now_s(), c0 = cpu_s();
    do {
        if (qv_index_search(ix, nq, ds->query.x, 10, &a, D, I, NULL))
            return NAN;
        runs++;
    } while (now_s() - t0 < min_time);
    return (double)(runs * nq) / (cpu_s() - c0);
}

void bench_filter_study(const bench_dataset *ds, const qv_index *built, int M,
                        int efc, int ef, int threads, double min_time)
{
    char m[16], e[16], th[16];
    snprintf(m, sizeof(m), "%d", M);
    snprintf(e, sizeof(e), "%d", efc);
    snprintf(th, sizeof(th), "%d", threads);
    qv_kv kv[3] = {{"M", m}, {"efConstruction", e}, {"num_build_thread", th}};
    qv_params p = {kv, 3};
    qv_metric metric = ds->metric_ip ? QV_METRIC_IP : QV_METRIC_L2;
    /* At most 200 queries: the slow plans of this study (a graph walk
     * over a 0.2% filter, a scan of half the rows) take long. */
    size_t n = ds->base.n, nq = ds->query.n < 200 ? ds->query.n : 200;
    size_t k = 10;
    qv_index *own = NULL, *flat = NULL;
    const qv_index *h = built;
    if ((!built &&
         (qv_index_create(QV_INDEX_HNSW, metric, ds->base.d, &p, &own, NULL) ||
          qv_index_add(own, n, ds->base.x, NULL, NULL))) ||
        qv_index_create(QV_INDEX_FLAT, metric, ds->base.d, NULL, &flat, NULL) ||
        qv_index_add(flat, n, ds->base.x, NULL, NULL)) {
        printf("filter study: cannot build the indexes\n");
        qv_index_free(own);
        qv_index_free(flat);
        return;
    }
    if (!built)
        h = own;
    printf("## %s filtered HNSW search: graph walk vs exact scan "
           "(M=%d, efConstruction=%d, ef=%d, 1 thread; QPS by thread CPU "
           "time)\n\n"
           "| pass ratio | allowed rows | graph QPS | graph recall | exact "
           "QPS | auto picks | gamma = pass^2/(n*ef) |\n"
           "|---|---|---|---|---|---|---|\n",
           ds->name, M, efc, ef);
    static const double ratios[] = {1.0,  0.5,  0.3,  0.2,   0.1,  0.05,
                                    0.03, 0.02, 0.01, 0.005, 0.002};
    float *D = qv_xmalloc(nq * k * sizeof(float));
    int64_t *I = qv_xmalloc(nq * k * sizeof(int64_t));
    int64_t *T = qv_xmalloc(nq * k * sizeof(int64_t));
    double q0 = run_mode(h, ds, nq, NULL, ef, 0, min_time, D, I);
    printf("| no filter | %zu | %.0f | - | - | - | - |\n", n, q0);
    double prev_ratio = 0, prev_log = 0, cross = NAN;
    int prev_graph_wins = -1;
    for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++) {
        qv_bitset f;
        if (qv_bitset_init(&f, n))
            break;
        srand(1234 + (unsigned)r);
        size_t pass = 0;
        for (size_t i = 0; i < n; i++) {
            if ((double)rand() / RAND_MAX < ratios[r])
                pass++;
            else
                qv_bitset_set(&f, i);
        }
        qv_search_args fa = {.filter = &f};
        if (qv_index_search(flat, nq, ds->query.x, k, &fa, D, T, NULL)) {
            qv_bitset_release(&f);
            break;
        }
        double qg = run_mode(h, ds, nq, &f, ef, 1, min_time, D, I);
        double rg = overlap(I, T, nq, k);
        double qe = run_mode(h, ds, nq, &f, ef, 2, min_time, D, I);
        double gamma = (double)pass * (double)pass / ((double)n * ef);
        /* the rule of hnsw.h: exact when gamma < HNSW_EXACT_GAMMA */
        printf("| %.3f | %zu | %.0f | %.4f | %.0f | %s | %.2f |\n", ratios[r],
               pass, qg, rg, qe, gamma < HNSW_EXACT_GAMMA ? "exact" : "graph",
               gamma);
        /* Where log(graph QPS / exact QPS) crosses zero, interpolated
         * linearly in log(pass ratio). */
        int graph_wins = qg > qe;
        double lr = log(qg / qe);
        if (prev_graph_wins == 1 && !graph_wins) {
            double x0 = log(prev_ratio), x1 = log(ratios[r]);
            cross = exp(x0 + (x1 - x0) * prev_log / (prev_log - lr));
        }
        prev_graph_wins = graph_wins;
        prev_ratio = ratios[r];
        prev_log = lr;
        qv_bitset_release(&f);
    }
    if (!isnan(cross))
        printf("\nMeasured crossover at pass ratio %.3f: gamma = %.2f "
               "(the rule uses %.1f)\n\n",
               cross, cross * cross * (double)n / ef, HNSW_EXACT_GAMMA);
    else
        printf("\nNo crossover inside the measured ratios.\n\n");
    free(D);
    free(I);
    free(T);
    qv_index_free(own);
    qv_index_free(flat);
}
