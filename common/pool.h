/* pool.h -- fixed-size thread pool with a bounded FIFO queue.
 *
 * Two uses:
 *  - qv_pool_submit(): fire-and-forget jobs (RPC handlers, flushes).  When
 *    the queue is full, submit blocks until there is room (backpressure) or
 *    returns QV_E_UNAVAILABLE with QV_POOL_NOWAIT.
 *  - qv_pool_parallel_for(): split [0, n) into chunks run on the workers and
 *    on the calling thread, and wait for all of them.  Called from inside a
 *    worker it runs inline, so parallelism is one level deep (no nested
 *    pools, as the FAISS wiki advises).
 *
 * Ownership: the pool owns its threads; qv_pool_destroy() finishes queued
 * jobs, joins the workers and frees the pool.
 * Threading: every function except destroy may be called from any thread.
 */
#ifndef QV_POOL_H
#define QV_POOL_H

#include <stddef.h>

#include "common/status.h"

typedef struct qv_pool qv_pool;

enum qv_pool_flags { QV_POOL_NOWAIT = 1 << 0 };

/* threads == 0 means the number of online CPUs. */
qv_code qv_pool_create(size_t threads, size_t queue_cap, const char *name,
                       qv_pool **out, qv_err *err) QV_MUST_USE;
void qv_pool_destroy(qv_pool *p);
size_t qv_pool_threads(const qv_pool *p);

qv_code qv_pool_submit(qv_pool *p, void (*fn)(void *), void *arg,
                       unsigned flags) QV_MUST_USE;

/* Calls fn(arg, begin, end, worker) over chunks of [0, n) of about `grain`
 * items; worker is in [0, qv_pool_threads(p)] (the caller is the last) and
 * can index per-thread scratch.  p may be NULL: runs inline. */
void qv_pool_parallel_for(qv_pool *p, size_t n, size_t grain,
                          void (*fn)(void *arg, size_t begin, size_t end,
                                     size_t worker),
                          void *arg);

/* True when the calling thread is a worker of any pool. */
int qv_pool_in_worker(void);

/* A lazily created process-wide pool for compute (index build/search),
 * sized to the CPU count.  Never destroyed before exit. */
qv_pool *qv_pool_shared(void);

#endif
