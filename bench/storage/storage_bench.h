/* storage_bench.h -- the sections of storage_bench (bench/storage).
 *
 * storage_bench.c holds main() and the write-log section; the object-store
 * section lives in storage_bench_objstore.c and is linked in (and called)
 * when that file exists.  Each section reads only its own --<section>-*
 * options and ignores the rest, prints Markdown tables to stdout and
 * returns 0, or 1 if a backend failed.
 *
 * Threading: sections run one after another on the main thread.
 */
#ifndef QV_BENCH_STORAGE_BENCH_H
#define QV_BENCH_STORAGE_BENCH_H

/* Append throughput and latency of the write logs (storage_bench.c). */
int storage_bench_wal(int argc, char **argv);

/* Put/get throughput of the object stores (storage_bench_objstore.c). */
int storage_bench_objstore(int argc, char **argv);

#endif
