/* e2e_run.h -- one e2e_bench run: its options, what it measured, and the
 * phases (e2e_run.c) and report (e2e_report.c) over them.
 *
 * Ownership: an e2e_run owns its data sets, client and servers;
 * e2e_run_free() releases the data (the caller closes client and servers).
 * Threading: main thread only (the phases start their own workers).
 */
#ifndef QV_E2E_RUN_H
#define QV_E2E_RUN_H

#include "bench/e2e/e2e.h"

#define E2E_MAX_POINTS     16
#define E2E_MAX_TOPK       256
#define E2E_LOCALSIFT_ROWS 332069
#define E2E_COLL_128       "e2e_bench_d128"
#define E2E_COLL_768       "e2e_bench_d768"

typedef struct e2e_opts {
    const char *address, *spawn;
    const char *data, *quiver, *broker, *script;
    const char *index_type;
    size_t n, nq, batch, n768, topk;
    int insert_threads, M, efc, shards, consistency, timeout_s;
    int efs[E2E_MAX_POINTS], nef;
    int threads[E2E_MAX_POINTS], nthreads;
    double seconds, target_recall, min_recall;
    bool quick, no_lib, no_768, keep, search_only;
} e2e_opts;

typedef struct e2e_insert_result {
    bool done;
    size_t rows, dim, batch;
    int threads;
    double seconds, rows_s, mb_s, p50_ms, p99_ms;
} e2e_insert_result;

/* A search sweep: points[e][t] for ef efs[e] and thread count t. */
typedef struct e2e_sweep {
    bool done;
    int nef;
    int efs[E2E_MAX_POINTS + 2];
    e2e_point points[E2E_MAX_POINTS + 2][E2E_MAX_POINTS];
} e2e_sweep;

typedef struct e2e_run {
    e2e_vecs base, queries, gt;
    bool full_set;
    char gt_source[96];
    e2e_servers servers;
    e2e_client c;
    char version[64];

    e2e_point ping; /* GetVersion round trips, 1 thread */
    e2e_insert_result ins128, ins768;
    bool flushed;
    double flush_s;
    size_t nseg;
    bool flat;            /* the server searches without an index */
    char index_note[400]; /* why FLAT, or what DescribeIndex said */
    bool index_done;
    double index_s;     /* CreateIndex -> DescribeIndex finished */
    double index_cpu_s; /* the server's CPU seconds meanwhile (NAN: unknown) */
    double load_s;      /* LoadCollection -> GetLoadingProgress 100 */
    int64_t count;
    e2e_sweep srv, lib;
    double lib_build_s, lib_build_cpu_s;
    size_t lib_mem;

    int failures;
    char notes[12][300];
    int nnotes;
} e2e_run;

/* Records (and prints at once) a remark for the report. */
void e2e_note(e2e_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The phases: insert, flush, index + load, count, server search, library
 * build and search, 768-d insert.  Stops at the first error. */
qv_code e2e_run_all(const e2e_opts *o, e2e_run *r, qv_err *err) QV_MUST_USE;
/* Drops the bench's collections unless --keep. */
void e2e_cleanup(const e2e_opts *o, e2e_run *r);
void e2e_run_free(e2e_run *r);

void e2e_print_header(const e2e_opts *o, const e2e_run *r);
/* Tables of everything measured and the final SUMMARY line. */
void e2e_print_report(const e2e_opts *o, e2e_run *r);

#endif
