/* index_bench.c -- Quiver's vector indexes against FAISS and hnswlib.
 *
 * For one data set (see ../shared/data/README.md) and each index family it
 * builds the Quiver index and the same index in the references with the
 * same parameters and build threads, then sweeps the search parameter (ef
 * or nprobe) and measures recall@k and QPS with 1 thread and with
 * --threads threads, repeating the sweep --reps times with the
 * implementations alternating.  It prints Markdown tables: build time,
 * memory (heap bytes held after the build, from mallinfo2), recall/QPS per
 * sweep point (median and min-max of the repetitions), and the QPS ratios
 * Quiver/reference at recall 0.90, 0.95 and 0.99 (interpolated linearly
 * between sweep points).  --filter adds the filtered-search crossover
 * study of HNSW (graph walk vs exact scan of the allowed rows).
 *
 * Run it through scripts/bench.sh, which sets OPENBLAS_CORETYPE,
 * OPENBLAS_NUM_THREADS=1 and OMP_WAIT_POLICY=PASSIVE.
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/index/bench_data.h"
#include "bench/index/ref.h"
#include "common/alloc.h"
#include "index/index.h"

/* bench_filter.c: the filtered-search crossover study of HNSW (built may
 * be NULL: it builds its own index). */
void bench_filter_study(const bench_dataset *ds, const qv_index *built, int M,
                        int efc, int ef, int threads, double min_time);

#define MAXV   32
#define MAXREP 9
#define NIMPL  3
#define NSER   3 /* QPS series: 1 thread wall, 1 thread CPU time, N wall */

typedef struct opts {
    const char *data, *set, *index;
    int threads, reps, M, efc, nlist, pq_m, k, filter, filter_ef;
    double min_time;
    int no_faiss, no_hnswlib;
} opts;

typedef struct family {
    const char *name;    /* "HNSW", ... (option name in lower case) */
    qv_index_type qtype; /* Quiver type */
    const char *ref;     /* ref kind */
    const char *key;     /* search param name, NULL = none */
    int values[MAXV];
    int nv;
} family;

typedef struct impl {
    const char *name;
    qv_index *qv;
    ref_index *ref;
    double build_s;
    size_t mem;
    double recall[MAXV];
    double qps[NSER][MAXV][MAXREP]; /* per series, see series_name */
} impl;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *lo, double *hi)
{
    double s[MAXREP];
    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    *lo = s[0];
    *hi = s[n - 1];
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* ---- building --------------------------------------------------------- */

static int build_quiver(const opts *o, const family *f, const bench_dataset *ds,
                        impl *im)
{
    char m[32], efc[32], nl[32], pm[32], th[32];
    snprintf(m, sizeof(m), "%d", o->M);
    snprintf(efc, sizeof(efc), "%d", o->efc);
    snprintf(nl, sizeof(nl), "%d", o->nlist);
    snprintf(pm, sizeof(pm), "%d", o->pq_m);
    snprintf(th, sizeof(th), "%d", o->threads);
    qv_kv kv[6];
    size_t n = 0;
    if (f->qtype == QV_INDEX_HNSW) {
        kv[n++] = (qv_kv){"M", m};
        kv[n++] = (qv_kv){"efConstruction", efc};
        kv[n++] = (qv_kv){"num_build_thread", th};
    } else if (f->qtype != QV_INDEX_FLAT) {
        kv[n++] = (qv_kv){"nlist", nl};
        kv[n++] = (qv_kv){"num_build_thread", th};
        if (f->qtype == QV_INDEX_IVF_PQ) {
            kv[n++] = (qv_kv){"m", pm};
            kv[n++] = (qv_kv){"nbits", "8"};
        }
    }
    qv_params p = {kv, n};
    qv_err err = {0};
    size_t before = heap_in_use();
    double t0 = now();
    qv_code rc =
        qv_index_create(f->qtype, ds->metric_ip ? QV_METRIC_IP : QV_METRIC_L2,
                        ds->base.d, &p, &im->qv, &err);
    if (!rc && qv_index_needs_training(im->qv))
        rc = qv_index_train(im->qv, ds->base.n, ds->base.x, &err);
    if (!rc)
        rc = qv_index_add(im->qv, ds->base.n, ds->base.x, NULL, &err);
    im->build_s = now() - t0;
    im->mem = heap_in_use() - before;
    if (rc) {
        printf("Quiver %s: %s (%s)\n\n", f->name, err.msg, qv_code_name(rc));
        qv_index_free(im->qv);
        im->qv = NULL;
        return -1;
    }
    return 0;
}

static int build_ref(const opts *o, const family *f, const bench_dataset *ds,
                     impl *im, int faiss)
{
    ref_build_params p = {.kind = f->ref,
                          .metric_ip = ds->metric_ip,
                          .dim = ds->base.d,
                          .M = o->M,
                          .ef_construction = o->efc,
                          .nlist = o->nlist,
                          .pq_m = o->pq_m,
                          .pq_nbits = 8};
    char msg[256] = "";
    size_t before = heap_in_use();
    double t0 = now();
    im->ref = faiss ? ref_faiss_build(&p, ds->base.n, ds->base.x, o->threads,
                                      msg, sizeof(msg))
                    : ref_hnswlib_build(&p, ds->base.n, ds->base.x, o->threads,
                                        msg, sizeof(msg));
    im->build_s = now() - t0;
    im->mem = heap_in_use() - before;
    if (!im->ref) {
        printf("%s %s: %s\n\n", im->name, f->name, msg);
        return -1;
    }
    return 0;
}

/* ---- searching -------------------------------------------------------- */

static int search_once(const opts *o, const family *f, const bench_dataset *ds,
                       impl *im, int value, int threads, qv_pool *pool,
                       float *D, int64_t *I)
{
    size_t nq = ds->query.n, k = (size_t)o->k;
    if (im->ref) {
        ref_search(im->ref, nq, ds->query.x, k, value, threads, D, I);
        return 0;
    }
    char v[32];
    snprintf(v, sizeof(v), "%d", value);
    qv_kv kv[1] = {{f->key, v}};
    qv_params p = {kv, f->key ? 1 : 0};
    qv_search_args a = {.params = &p, .pool = threads > 1 ? pool : NULL};
    qv_err err = {0};
    qv_code rc = qv_index_search(im->qv, nq, ds->query.x, k, &a, D, I, &err);
    if (rc) {
        fprintf(stderr, "index_bench: Quiver search failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Runs the whole query batch until min_time passes; returns QPS by the
 * wall clock and, in *cpu_qps, by the calling thread's CPU time (which is
 * what a single-threaded search costs even when other processes share the
 * cores). */
static double timed(const opts *o, const family *f, const bench_dataset *ds,
                    impl *im, int value, int threads, qv_pool *pool, float *D,
                    int64_t *I, double *cpu_qps)
{
    size_t runs = 0;
    double t0 = now(), c0 = cpu_now(), t;
    *cpu_qps = NAN;
    do {
        if (search_once(o, f, ds, im, value, threads, pool, D, I))
            return NAN;
        runs++;
        t = now() - t0;
    } while (t < o->min_time);
    *cpu_qps = (double)(runs * ds->query.n) / (cpu_now() - c0);
    return (double)(runs * ds->query.n) / t;
}

static const char *series_name(const opts *o, int t)
{
    static char buf[32];
    if (t == 0)
        return "1 thr";
    if (t == 1)
        return "1 thr CPU-time";
    snprintf(buf, sizeof(buf), "%d thr", o->threads);
    return buf;
}

/* QPS at recall r, interpolated between the sweep points; NAN when the
 * sweep never reaches r.  *edge is set when the first point already
 * exceeds r (the figure is then a lower bound). */
static double qps_at(const family *f, const impl *im, const double *qps,
                     double r, int *edge)
{
    *edge = 0;
    for (int i = 0; i < f->nv; i++) {
        if (im->recall[i] < r)
            continue;
        if (i == 0) {
            *edge = 1;
            return qps[0];
        }
        double r0 = im->recall[i - 1], r1 = im->recall[i];
        double q0 = qps[i - 1], q1 = qps[i];
        if (r1 <= r0)
            return q1;
        return q0 + (r - r0) * (q1 - q0) / (r1 - r0);
    }
    return NAN;
}

static void print_family(const opts *o, const family *f, impl *im, int nimpl)
{
    int tcount = o->threads > 1 ? NSER : NSER - 1;
    printf("| impl | build s (%d thr) | memory MiB |\n|---|---|---|\n",
           o->threads);
    for (int i = 0; i < nimpl; i++)
        if (im[i].qv || im[i].ref)
            printf("| %s | %.2f | %.1f |\n", im[i].name, im[i].build_s,
                   (double)im[i].mem / 1048576.0);
    printf("\n| %s | impl | recall@%d | QPS 1 thr | QPS 1 thr CPU-time | "
           "QPS %d thr |\n|---|---|---|---|---|---|\n",
           f->key ? f->key : "-", o->k, o->threads);
    for (int v = 0; v < f->nv; v++)
        for (int i = 0; i < nimpl; i++) {
            if (!im[i].qv && !im[i].ref)
                continue;
            printf("| %d | %s | %.4f |", f->values[v], im[i].name,
                   im[i].recall[v]);
            for (int t = 0; t < tcount; t++) {
                double lo, hi;
                double m = median(im[i].qps[t][v], o->reps, &lo, &hi);
                printf(" %.0f (%.0f-%.0f) |", m, lo, hi);
            }
            if (tcount < NSER)
                printf(" - |");
            printf("\n");
        }
    if (!f->key) {
        printf("\n");
        return;
    }
    /* Targets: 0.90, 0.95, 0.99 and, when some implementation never
     * reaches 0.90 (plain PQ), the best recall all of them reach. */
    double targets[4] = {0.90, 0.95, 0.99, 1.0};
    size_t ntargets = 3;
    for (int i = 0; i < nimpl; i++) {
        if (!im[i].qv && !im[i].ref)
            continue;
        double best = 0;
        for (int v = 0; v < f->nv; v++)
            best = im[i].recall[v] > best ? im[i].recall[v] : best;
        targets[3] = best < targets[3] ? best : targets[3];
    }
    if (targets[3] < 0.90)
        ntargets = 4;
    printf("\n| recall@%d | QPS series | Quiver QPS", o->k);
    for (int i = 1; i < nimpl; i++)
        if (im[i].ref)
            printf(" | %s QPS | Quiver/%s", im[i].name, im[i].name);
    printf(" |\n|---|---|---");
    for (int i = 1; i < nimpl; i++)
        if (im[i].ref)
            printf("|---|---");
    printf("|\n");
    for (int t = 0; t < tcount; t++)
        for (size_t r = 0; r < ntargets; r++) {
            double med[NIMPL][MAXV];
            for (int i = 0; i < nimpl; i++)
                for (int v = 0; v < f->nv; v++) {
                    double lo, hi;
                    med[i][v] = median(im[i].qps[t][v], o->reps, &lo, &hi);
                }
            int e0;
            double q0 =
                im[0].qv ? qps_at(f, &im[0], med[0], targets[r], &e0) : NAN;
            printf("| %.3f | %s | %.0f%s", targets[r], series_name(o, t), q0,
                   e0 ? "*" : "");
            for (int i = 1; i < nimpl; i++) {
                if (!im[i].ref)
                    continue;
                int e;
                double qi = qps_at(f, &im[i], med[i], targets[r], &e);
                printf(" | %.0f%s | %.2f", qi, e ? "*" : "", q0 / qi);
            }
            printf(" |\n");
        }
    printf("\n(* = the lowest sweep point already exceeds the recall: a lower "
           "bound; nan = not reached)\n\n");
}

static void run_family(const opts *o, const family *f, const bench_dataset *ds,
                       qv_pool *pool)
{
    impl im[NIMPL];
    memset(im, 0, sizeof(im));
    im[0].name = "Quiver";
    im[1].name = "hnswlib";
    im[2].name = "FAISS";
    printf("## %s %s", ds->name, f->name);
    if (f->qtype == QV_INDEX_HNSW)
        printf(" (M=%d, efConstruction=%d)", o->M, o->efc);
    else if (f->qtype != QV_INDEX_FLAT)
        printf(" (nlist=%d%s)", o->nlist,
               f->qtype == QV_INDEX_IVF_PQ ? ", m=PQ m, nbits=8" : "");
    printf(", n=%zu, d=%zu, nq=%zu, k=%d\n\n", ds->base.n, ds->base.d,
           ds->query.n, o->k);
    fflush(stdout);
    build_quiver(o, f, ds, &im[0]);
    if (!o->no_hnswlib && ref_hnswlib_supports(f->ref))
        build_ref(o, f, ds, &im[1], 0);
    if (!o->no_faiss && ref_faiss_supports(f->ref))
        build_ref(o, f, ds, &im[2], 1);
    size_t nk = ds->query.n * (size_t)o->k;
    float *D = qv_xmalloc(nk * sizeof(float));
    int64_t *I = qv_xmalloc(nk * sizeof(int64_t));
    for (int v = 0; v < f->nv; v++)
        for (int i = 0; i < NIMPL; i++) {
            if (!im[i].qv && !im[i].ref)
                continue;
            search_once(o, f, ds, &im[i], f->values[v], 1, pool, D, I);
            im[i].recall[v] = bench_recall(ds, I, (size_t)o->k);
        }
    int tcount = o->threads > 1 ? 2 : 1;
    for (int rep = 0; rep < o->reps; rep++)
        for (int t = 0; t < tcount; t++)
            for (int v = 0; v < f->nv; v++)
                for (int j = 0; j < NIMPL; j++) {
                    int i = (j + rep + v) % NIMPL; /* alternate the order */
                    if (!im[i].qv && !im[i].ref)
                        continue;
                    double cpu = NAN;
                    double w = timed(o, f, ds, &im[i], f->values[v],
                                     t ? o->threads : 1, pool, D, I, &cpu);
                    if (t == 0) {
                        im[i].qps[0][v][rep] = w;
                        im[i].qps[1][v][rep] = cpu;
                    } else {
                        im[i].qps[2][v][rep] = w;
                    }
                }
    print_family(o, f, im, NIMPL);
    fflush(stdout);
    if (o->filter && f->qtype == QV_INDEX_HNSW && im[0].qv)
        bench_filter_study(ds, im[0].qv, o->M, o->efc, o->filter_ef, o->threads,
                           o->min_time);
    free(D);
    free(I);
    qv_index_free(im[0].qv);
    ref_free(im[1].ref);
    ref_free(im[2].ref);
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: index_bench [--data DIR] [--set siftsmall|localsift|"
            "fiori-minilm-384]\n"
            "  [--index flat,hnsw,ivf_flat,ivf_sq8,ivf_pq] [--threads N] "
            "[--reps N]\n"
            "  [--M N] [--efc N] [--nlist N] [--pq-m N] [--k N] "
            "[--min-time S]\n"
            "  [--no-faiss] [--no-hnswlib] [--filter] [--filter-ef N]\n");
    exit(2);
}

static void parse(int argc, char **argv, opts *o)
{
    *o = (opts){.data = "../shared/data",
                .set = "siftsmall",
                .index = "flat,hnsw,ivf_flat,ivf_sq8,ivf_pq",
                .threads = 2,
                .reps = 3,
                .M = 16,
                .efc = 200,
                .pq_m = 32,
                .k = 10,
                .filter_ef = 64,
                .min_time = 0.3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-faiss"))
            o->no_faiss = 1;
        else if (!strcmp(a, "--no-hnswlib"))
            o->no_hnswlib = 1;
        else if (!strcmp(a, "--filter"))
            o->filter = 1;
        else if (!v)
            usage();
        else if (!strcmp(a, "--data"))
            o->data = v;
        else if (!strcmp(a, "--set"))
            o->set = v;
        else if (!strcmp(a, "--index"))
            o->index = v;
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--reps"))
            o->reps = atoi(v);
        else if (!strcmp(a, "--M"))
            o->M = atoi(v);
        else if (!strcmp(a, "--efc"))
            o->efc = atoi(v);
        else if (!strcmp(a, "--nlist"))
            o->nlist = atoi(v);
        else if (!strcmp(a, "--pq-m"))
            o->pq_m = atoi(v);
        else if (!strcmp(a, "--k"))
            o->k = atoi(v);
        else if (!strcmp(a, "--filter-ef"))
            o->filter_ef = atoi(v);
        else if (!strcmp(a, "--min-time"))
            o->min_time = atof(v);
        else
            usage();
        if (strncmp(a, "--no-", 5) && strcmp(a, "--filter"))
            i++;
    }
    if (o->threads < 1 || o->reps < 1 || o->reps > MAXREP || o->k < 1)
        usage();
}

static int has_index(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    bench_dataset ds;
    if (bench_dataset_load(o.data, o.set, &ds))
        return 1;
    if (o.nlist <= 0)
        o.nlist = (int)(4.0 * sqrt((double)ds.base.n));
    qv_pool *pool = NULL;
    qv_err err = {0};
    if (o.threads > 1 &&
        qv_pool_create((size_t)o.threads - 1, 256, "bench", &pool, &err)) {
        fprintf(stderr, "index_bench: %s\n", err.msg);
        return 1;
    }
    printf("# index_bench: %s (n=%zu, d=%zu, nq=%zu), threads=%d, reps=%d\n\n"
           "References: %s; %s.\n\n",
           o.set, ds.base.n, ds.base.d, ds.query.n, o.threads, o.reps,
           ref_faiss_describe(), ref_hnswlib_describe());
    static const family fams[] = {
        {"flat", QV_INDEX_FLAT, "Flat", NULL, {0}, 1},
        {"hnsw",
         QV_INDEX_HNSW,
         "HNSW",
         "ef",
         {10, 12, 14, 16,  20,  24,  28,  32,  40,  48,  56,
          64, 80, 96, 112, 128, 160, 192, 256, 320, 384, 512},
         22},
        {"ivf_flat",
         QV_INDEX_IVF_FLAT,
         "IVFFlat",
         "nprobe",
         {1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256},
         15},
        {"ivf_sq8",
         QV_INDEX_IVF_SQ8,
         "IVFSQ8",
         "nprobe",
         {1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256},
         15},
        {"ivf_pq",
         QV_INDEX_IVF_PQ,
         "IVFPQ",
         "nprobe",
         {1, 2, 4, 8, 16, 32, 64, 128, 256},
         9},
    };
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
        if (has_index(o.index, fams[i].name))
            run_family(&o, &fams[i], &ds, pool);
    if (o.filter && !has_index(o.index, "hnsw"))
        bench_filter_study(&ds, NULL, o.M, o.efc, o.filter_ef, o.threads,
                           o.min_time);
    qv_pool_destroy(pool);
    bench_dataset_free(&ds);
    return 0;
}
