/* e2e_report.c -- e2e_bench's output: a header, Markdown tables of writes,
 * index build and load, and the search sweep with the server/library
 * ratios (at the same ef, and at the same recall by interpolating the
 * library's sweep), then one SUMMARY line. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/e2e/e2e_run.h"

static const char *level_name(int c)
{
    static const char *const names[] = {"Strong", "Session", "Bounded",
                                        "Eventually"};
    return c >= 0 && c < 4 ? names[c] : "?";
}

void e2e_print_header(const e2e_opts *o, const e2e_run *r)
{
    printf("## Quiver end to end (e2e_bench)\n\n");
    if (r->servers.mode[0])
        printf("- server: `quiver %s` started by the bench, proxy %s%s%s, "
               "version %s\n",
               strcmp(r->servers.mode, "cluster") == 0 ? "run <role> x N"
                                                       : "standalone",
               r->servers.address, r->servers.roles[0] ? ", roles: " : "",
               r->servers.roles, r->version);
    else
        printf("- server: %s (already running), version %s\n", o->address,
               r->version);
    printf("- data: localsift %zu x %zu (uint8 widened to float), %zu "
           "queries, ground truth: %s\n",
           r->base.n, r->base.d, r->queries.n, r->gt_source);
    printf("- search: nq=1, top-%zu, L2, consistency %s, no output fields; "
           "each point runs >= %.1f s and >= one pass over the queries; "
           "client threads send one query at a time\n",
           o->topk, level_name(o->consistency), o->seconds);
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(load, sizeof load, f))
            (void)snprintf(load, sizeof load, "?");
        fclose(f);
        load[strcspn(load, "\n")] = 0;
    }
    printf("- index: %s M=%d efConstruction=%d; collection: %d shard(s); "
           "machine: %ld CPUs (client, server and library share them), "
           "load average at start: %s\n\n",
           o->index_type, o->M, o->efc, o->shards,
           sysconf(_SC_NPROCESSORS_ONLN), load);
    (void)fflush(stdout);
}

static void print_writes(const e2e_run *r)
{
    if (r->ping.calls)
        printf("\nRPC floor: GetVersion round trip p50 %.3f ms, p99 %.3f ms "
               "(%.0f calls/s, 1 client thread)\n",
               r->ping.p50_ms, r->ping.p99_ms, r->ping.qps);
    printf("\n### Writes\n\n| case | rows | batch | client threads | "
           "seconds | rows/s | MB/s (vectors) | batch p50 ms | batch p99 ms "
           "|\n|---|---|---|---|---|---|---|---|---|\n");
    const e2e_insert_result *in[2] = {&r->ins128, &r->ins768};
    for (int i = 0; i < 2; i++) {
        if (!in[i]->done)
            continue;
        printf("| insert %zu-d | %zu | %zu | %d | %.1f | %.0f | %.1f | %.1f "
               "| %.1f |\n",
               in[i]->dim, in[i]->rows, in[i]->batch, in[i]->threads,
               in[i]->seconds, in[i]->rows_s, in[i]->mb_s, in[i]->p50_ms,
               in[i]->p99_ms);
    }
    if (r->flushed)
        printf("| flush (Flush + GetFlushState until flushed) | %zu segments "
               "| | | %.1f | | | | |\n",
               r->nseg, r->flush_s);
}

static void print_index(const e2e_opts *o, const e2e_run *r)
{
    printf("\n### Index build and load\n\n| step | seconds | detail |\n"
           "|---|---|---|\n");
    if (r->flat)
        printf("| server index | – | %s |\n", r->index_note);
    else if (r->index_done)
        printf("| server: CreateIndex -> build finished (DescribeIndex) | "
               "%.1f | %s; server CPU %.1f s; %s |\n",
               r->index_s, o->index_type, r->index_cpu_s, r->index_note);
    if (r->load_s > 0)
        printf("| server: LoadCollection -> GetLoadingProgress 100 | %.1f | "
               "count(*) %lld |\n",
               r->load_s, (long long)r->count);
    if (r->index_done)
        printf("| server: CreateIndex -> loaded | %.1f | |\n",
               r->index_s + r->load_s);
    if (r->lib.done && !r->flat)
        printf("| library: the same index in-process | %.1f | CPU %.1f s; "
               "%.1f MiB; build threads: the shared pool |\n",
               r->lib_build_s, r->lib_build_cpu_s,
               (double)r->lib_mem / 1048576.0);
    if (r->lib.done && !r->flat && r->index_done && r->lib_build_s > 0)
        printf("| ratio server / library build | %.2f | with load: %.2f; "
               "CPU seconds: %.2f |\n",
               r->index_s / r->lib_build_s,
               (r->index_s + r->load_s) / r->lib_build_s,
               r->index_cpu_s / r->lib_build_cpu_s);
}

/* The library's QPS (thread column t) at recall `want`, interpolated
 * linearly between its sweep points.  *bound: 0 exact, 1 the want is below
 * the sweep (the lowest point's QPS: a lower bound, so the ratio is an
 * upper bound), 2 above it (NAN). */
static double lib_qps_at(const e2e_sweep *lib, int t, double want, int *bound)
{
    *bound = 0;
    int lo = -1, hi = -1;
    for (int e = 0; e < lib->nef; e++) {
        double rc = lib->points[e][t].recall;
        if (rc <= want && (lo < 0 || rc > lib->points[lo][t].recall))
            lo = e;
        if (rc >= want && (hi < 0 || rc < lib->points[hi][t].recall))
            hi = e;
    }
    if (hi < 0) {
        *bound = 2;
        return NAN;
    }
    if (lo < 0) {
        *bound = 1;
        return lib->points[hi][t].qps;
    }
    const e2e_point *a = &lib->points[lo][t], *b = &lib->points[hi][t];
    if (b->recall - a->recall < 1e-9)
        return (a->qps + b->qps) / 2;
    double f = (want - a->recall) / (b->recall - a->recall);
    return a->qps + f * (b->qps - a->qps);
}

static const e2e_point *lib_same_ef(const e2e_run *r, int ef, int t)
{
    for (int e = 0; r->lib.done && e < r->lib.nef; e++)
        if (r->lib.efs[e] == ef)
            return &r->lib.points[e][t];
    return NULL;
}

static void print_search(const e2e_opts *o, const e2e_run *r)
{
    printf("\n### Search (nq=1, top-%zu)\n\n| ef | client threads | server "
           "QPS | p50 ms | p99 ms | mean ms: client / proxy | recall@%zu | "
           "server CPU ms/query | "
           "library QPS | lib p50 ms | lib recall | lib CPU ms/query | "
           "server/library QPS, same ef | server/library QPS, same recall "
           "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           o->topk, o->topk);
    for (int e = 0; e < r->srv.nef; e++) {
        for (int t = 0; t < o->nthreads; t++) {
            const e2e_point *s = &r->srv.points[e][t];
            const e2e_point *l = lib_same_ef(r, r->srv.efs[e], t);
            int bound = 0;
            double lq =
                r->lib.done ? lib_qps_at(&r->lib, t, s->recall, &bound) : NAN;
            char ef[16];
            (void)snprintf(ef, sizeof ef, r->flat ? "FLAT" : "%d",
                           r->srv.efs[e]);
            printf("| %s | %d | %.0f | %.2f | %.2f | %.2f / %.2f | %.4f | "
                   "%.3f |",
                   ef, s->threads, s->qps, s->p50_ms, s->p99_ms, s->mean_ms,
                   s->srv_ms, s->recall, s->cpu_ms);
            if (l)
                printf(" %.0f | %.3f | %.4f | %.3f | %.3f |", l->qps, l->p50_ms,
                       l->recall, l->cpu_ms, s->qps / l->qps);
            else
                printf(" – | – | – | – | – |");
            if (!r->lib.done)
                printf(" – |\n");
            else if (bound == 2 || isnan(lq))
                printf(" – (above the library's sweep) |\n");
            else
                printf(" %s%.3f |\n", bound == 1 ? "<= " : "", s->qps / lq);
        }
    }
    if (r->lib.done && !r->flat) {
        printf("\nLibrary-only sweep points (for the interpolation):");
        for (int e = 0; e < r->lib.nef; e++)
            printf(" ef=%d recall %.4f QPS(%d thr) %.0f;", r->lib.efs[e],
                   r->lib.points[e][0].recall, o->threads[0],
                   r->lib.points[e][0].qps);
        printf("\n");
    }
}

/* The 2-thread column (or the largest), and the first ef whose server
 * recall reaches the target (else the best recall). */
static void headline(const e2e_opts *o, const e2e_run *r, int *pe, int *pt)
{
    int t = o->nthreads - 1;
    for (int i = 0; i < o->nthreads; i++)
        if (o->threads[i] == 2)
            t = i;
    int best = 0;
    for (int e = 0; e < r->srv.nef; e++)
        if (r->srv.points[e][t].recall > r->srv.points[best][t].recall)
            best = e;
    int pick = -1;
    for (int e = 0; e < r->srv.nef && pick < 0; e++)
        if (r->srv.points[e][t].recall >= o->target_recall)
            pick = e;
    *pe = pick < 0 ? best : pick;
    *pt = t;
}

static void print_summary(const e2e_opts *o, e2e_run *r)
{
    printf("\nSUMMARY e2e_bench %s localsift-%zu:",
           r->servers.mode[0] ? r->servers.mode : "external", r->base.n);
    if (r->ins128.done)
        printf(" insert128 %.0f rows/s;", r->ins128.rows_s);
    if (r->ins768.done)
        printf(" insert768 %.0f rows/s;", r->ins768.rows_s);
    if (r->flushed)
        printf(" flush %.1f s;", r->flush_s);
    if (r->flat)
        printf(" index: none (FLAT);");
    else if (r->index_done)
        printf(" index build %.1f s + load %.1f s", r->index_s, r->load_s);
    if (r->index_done && r->lib.done)
        printf(" (library %.1f s, ratio %.2f);", r->lib_build_s,
               r->index_s / r->lib_build_s);
    else if (r->index_done)
        printf(";");
    if (r->srv.done) {
        int e, t;
        headline(o, r, &e, &t);
        const e2e_point *s = &r->srv.points[e][t];
        char ef[16];
        (void)snprintf(ef, sizeof ef, r->flat ? "FLAT" : "ef=%d",
                       r->srv.efs[e]);
        printf(" search %d thr %s: %.0f QPS, p50 %.2f ms, p99 %.2f ms, "
               "recall@%zu %.4f",
               s->threads, ef, s->qps, s->p50_ms, s->p99_ms, o->topk,
               s->recall);
        int bound = 0;
        double lq =
            r->lib.done ? lib_qps_at(&r->lib, t, s->recall, &bound) : NAN;
        if (!isnan(lq))
            printf("; library %s%.0f QPS at that recall, server/library %s%.3f",
                   bound == 1 ? ">= " : "", lq, bound == 1 ? "<= " : "",
                   s->qps / lq);
        printf(";");
        if (o->min_recall > 0 && s->recall < o->min_recall) {
            printf(" RECALL BELOW %.2f;", o->min_recall);
            r->failures++;
        }
    }
    printf(" failures %d\n", r->failures);
}

void e2e_print_report(const e2e_opts *o, e2e_run *r)
{
    print_writes(r);
    print_index(o, r);
    if (r->srv.done)
        print_search(o, r);
    if (r->nnotes) {
        printf("\nNotes:\n");
        for (int i = 0; i < r->nnotes; i++)
            printf("- %s\n", r->notes[i]);
    }
    print_summary(o, r);
    (void)fflush(stdout);
}
