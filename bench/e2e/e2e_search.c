/* e2e_search.c -- closed-loop search load: N threads, each sending one
 * query (nq=1) at a time and the next as soon as the answer is back; QPS,
 * latency percentiles and recall over every call. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/e2e/e2e.h"
#include "common/alloc.h"
#include "common/log.h"

double e2e_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct job {
    e2e_search_fn fn;
    void *ctx;
    size_t nq, topk;
    const e2e_vecs *gt;
    double min_seconds;
    size_t min_calls; /* per thread */
    pthread_barrier_t start;
    double t0; /* set by thread 0 after the barrier */
} job;

typedef struct worker {
    job *j;
    int idx;      /* client thread number */
    size_t first; /* first query */
    double *lat;
    size_t n, cap;
    size_t errors;
    double recall_sum;
    double end;
    pthread_t tid;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    int64_t *ids = qv_xcalloc(j->topk, sizeof *ids);
    pthread_barrier_wait(&j->start);
    double t0 = e2e_now();
    size_t q = w->first;
    for (;;) {
        double s = e2e_now();
        int bad = j->fn(j->ctx, w->idx, q, ids);
        double e = e2e_now();
        if (bad) {
            w->errors++;
        } else {
            if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 4096;
                w->lat = qv_xrealloc(w->lat, w->cap * sizeof *w->lat);
            }
            w->lat[w->n++] = e - s;
            if (j->gt)
                w->recall_sum += e2e_recall_one(j->gt, q, ids, j->topk);
        }
        q = (q + 1) % j->nq;
        size_t done = w->n + w->errors;
        if (e - t0 >= j->min_seconds && done >= j->min_calls)
            break;
        if (w->errors > 100 && w->errors > w->n)
            break; /* the server is failing: stop early */
    }
    w->end = e2e_now();
    free(ids);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return sorted[i < n ? i : n - 1];
}

qv_code e2e_search_timed(e2e_search_fn fn, void *ctx, int threads, size_t nq,
                         size_t topk, const e2e_vecs *gt, double min_seconds,
                         size_t min_calls, e2e_point *out, qv_err *err)
{
    if (threads < 1 || nq == 0)
        return qv_fail(err, QV_E_INVALID, "search: %d threads, %zu queries",
                       threads, nq);
    if (min_calls == 0)
        min_calls = nq;
    job j = {.fn = fn,
             .ctx = ctx,
             .nq = nq,
             .topk = topk,
             .gt = gt,
             .min_seconds = min_seconds,
             .min_calls = (min_calls + (size_t)threads - 1) / (size_t)threads};
    pthread_barrier_init(&j.start, NULL, (unsigned)threads + 1);
    worker *w = qv_xcalloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i].j = &j;
        w[i].idx = i;
        w[i].first = (size_t)i * nq / (size_t)threads;
        if (pthread_create(&w[i].tid, NULL, run, &w[i]) != 0)
            QV_ASSERT(!"pthread_create failed");
    }
    double t0 = e2e_now();
    pthread_barrier_wait(&j.start);
    double end = t0;
    size_t n = 0, errors = 0;
    double rsum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        if (w[i].end > end)
            end = w[i].end;
        n += w[i].n;
        errors += w[i].errors;
        rsum += w[i].recall_sum;
    }
    pthread_barrier_destroy(&j.start);
    double *all = qv_xcalloc(n + 1, sizeof *all);
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat);
    }
    free(w);
    for (size_t i = 0; i < n; i++)
        sum += all[i];
    qsort(all, n, sizeof *all, cmp_d);
    memset(out, 0, sizeof *out);
    out->threads = threads;
    out->calls = n;
    out->errors = errors;
    out->qps = (double)n / (end - t0);
    out->p50_ms = pct(all, n, 0.50) * 1e3;
    out->p99_ms = pct(all, n, 0.99) * 1e3;
    out->mean_ms = n ? sum / (double)n * 1e3 : NAN;
    out->recall = gt && n ? rsum / (double)n : NAN;
    free(all);
    return QV_OK;
}
