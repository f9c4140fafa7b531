/* pool.c -- see pool.h. */
#include "common/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"

typedef struct job {
    void (*fn)(void *);
    void *arg;
} job;

struct qv_pool {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    job *q; /* ring buffer; guarded by mu */
    size_t cap, head, count;
    bool stopping; /* guarded by mu */
    size_t nthreads;
    pthread_t *threads;
};

static __thread int tls_in_worker;

int qv_pool_in_worker(void)
{
    return tls_in_worker;
}

static void *worker_main(void *arg)
{
    qv_pool *p = arg;
    tls_in_worker = 1;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->nonempty, &p->mu);
        if (p->count == 0 && p->stopping)
            break;
        job j = p->q[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_cond_signal(&p->nonfull);
        pthread_mutex_unlock(&p->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

qv_code qv_pool_create(size_t threads, size_t queue_cap, const char *name,
                       qv_pool **out, qv_err *err)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (size_t)n : 1;
    }
    if (threads > 1024)
        return qv_fail(err, QV_E_INVALID, "pool '%s': %zu threads is too many",
                       name, threads);
    qv_pool *p = QV_NEW(qv_pool);
    p->cap = queue_cap ? queue_cap : 1024;
    p->q = QV_NEW_ARRAY(job, p->cap);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->nonempty, NULL);
    pthread_cond_init(&p->nonfull, NULL);
    p->threads = QV_NEW_ARRAY(pthread_t, threads);
    for (size_t i = 0; i < threads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            p->nthreads = i;
            qv_pool_destroy(p);
            return qv_fail(err, QV_E_NOMEM,
                           "pool '%s': cannot start thread %zu: %s", name, i,
                           strerror(rc));
        }
        char tname[16];
        snprintf(tname, sizeof(tname), "%.10s-%zu", name, i);
        pthread_setname_np(p->threads[i], tname);
    }
    p->nthreads = threads;
    *out = p;
    return QV_OK;
}

void qv_pool_destroy(qv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->nonempty);
    pthread_cond_destroy(&p->nonfull);
    free(p->threads);
    free(p->q);
    free(p);
}

size_t qv_pool_threads(const qv_pool *p)
{
    return p ? p->nthreads : 0;
}

qv_code qv_pool_submit(qv_pool *p, void (*fn)(void *), void *arg,
                       unsigned flags)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == p->cap && !p->stopping) {
        if (flags & QV_POOL_NOWAIT) {
            pthread_mutex_unlock(&p->mu);
            return QV_E_UNAVAILABLE;
        }
        pthread_cond_wait(&p->nonfull, &p->mu);
    }
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return QV_E_CANCELLED;
    }
    p->q[(p->head + p->count) % p->cap] = (job){fn, arg};
    p->count++;
    pthread_cond_signal(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
    return QV_OK;
}

/* State shared by the chunks of one parallel_for. */
typedef struct pfor {
    void (*fn)(void *, size_t, size_t, size_t);
    void *arg;
    size_t n, grain;
    size_t next;         /* atomic: next unclaimed item */
    size_t done_helpers; /* guarded by mu */
    size_t helpers;
    size_t worker_ids; /* atomic: hands out worker indices */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pfor;

static void pfor_run(pfor *f, size_t worker)
{
    for (;;) {
        size_t b = __atomic_fetch_add(&f->next, f->grain, __ATOMIC_RELAXED);
        if (b >= f->n)
            break;
        size_t e = b + f->grain < f->n ? b + f->grain : f->n;
        f->fn(f->arg, b, e, worker);
    }
}

static void pfor_helper(void *arg)
{
    pfor *f = arg;
    size_t w = __atomic_fetch_add(&f->worker_ids, 1, __ATOMIC_RELAXED);
    pfor_run(f, w);
    pthread_mutex_lock(&f->mu);
    f->done_helpers++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void qv_pool_parallel_for(qv_pool *p, size_t n, size_t grain,
                          void (*fn)(void *arg, size_t begin, size_t end,
                                     size_t worker),
                          void *arg)
{
    if (n == 0)
        return;
    if (grain == 0)
        grain = 1;
    if (!p || tls_in_worker || n <= grain || p->nthreads == 0) {
        fn(arg, 0, n, p ? p->nthreads : 0);
        return;
    }
    pfor f = {.fn = fn, .arg = arg, .n = n, .grain = grain};
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    size_t chunks = (n + grain - 1) / grain;
    size_t want = chunks - 1 < p->nthreads ? chunks - 1 : p->nthreads;
    for (size_t i = 0; i < want; i++) {
        if (qv_pool_submit(p, pfor_helper, &f, QV_POOL_NOWAIT) != QV_OK)
            break;
        f.helpers++;
    }
    pfor_run(&f, p->nthreads);
    pthread_mutex_lock(&f.mu);
    while (f.done_helpers < f.helpers)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cv);
}

static qv_pool *shared_pool;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void make_shared(void)
{
    if (qv_pool_create(0, 4096, "qv-compute", &shared_pool, NULL) != QV_OK)
        shared_pool = NULL;
}

qv_pool *qv_pool_shared(void)
{
    pthread_once(&shared_once, make_shared);
    return shared_pool;
}
