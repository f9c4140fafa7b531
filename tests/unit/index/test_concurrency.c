/* Concurrent searches on one built index need no locks and give the same
 * answers as a lone search; a search spread over the pool gives the same
 * answers as one run inline. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "common/pool.h"
#include "ixtest.h"

#define N  3000
#define D  32
#define NQ 64
#define K  10

typedef struct worker {
    const qv_index *ix;
    const float *q;
    const int64_t *want;
    int mismatches;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    float d[NQ * K];
    int64_t l[NQ * K];
    qv_kv kv[] = {{"nprobe", "4"}};
    qv_params p = {kv, 1};
    qv_search_args a = {.params = &p};
    for (int rep = 0; rep < 20; rep++) {
        if (qv_index_search(w->ix, NQ, w->q, K, &a, d, l, NULL) != QV_OK) {
            w->mismatches++;
            continue;
        }
        w->mismatches += memcmp(l, w->want, sizeof(l)) != 0;
    }
    return NULL;
}

static void check_type(qv_index_type t)
{
    float *x = ixt_data(N, D, 31), *q = ixt_queries(x, N, D, NQ, 0.3f, 32);
    qv_kv kv[] = {{"nlist", "16"}, {"m", "8"}};
    qv_params bp = {kv, 2};
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(t, QV_METRIC_L2, D, &bp, &ix, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(qv_index_train(ix, N, x, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_add(ix, N, x, NULL, &err), QV_OK, "%s", err.msg);
    float d[NQ * K], d2[NQ * K];
    int64_t want[NQ * K], l2[NQ * K];
    qv_kv sk[] = {{"nprobe", "4"}};
    qv_params sp = {sk, 1};
    qv_search_args a = {.params = &sp};
    cr_assert_eq(qv_index_search(ix, NQ, q, K, &a, d, want, NULL), QV_OK);
    /* the same batch spread over a pool */
    qv_pool *pool;
    cr_assert_eq(qv_pool_create(3, 64, "t", &pool, NULL), QV_OK);
    a.pool = pool;
    cr_assert_eq(qv_index_search(ix, NQ, q, K, &a, d2, l2, NULL), QV_OK);
    cr_assert_eq(memcmp(want, l2, sizeof(l2)), 0, "pool changed labels");
    cr_assert_eq(memcmp(d, d2, sizeof(d)), 0, "pool changed distances");
    /* one and two queries on the pool: the probed lists are split across
     * threads and merged, with the same answers */
    for (size_t nq = 1; nq <= 2; nq++) {
        qv_search_args inl = {.params = &sp};
        cr_assert_eq(qv_index_search(ix, nq, q + 7 * D, K, &inl, d, want, NULL),
                     QV_OK);
        cr_assert_eq(qv_index_search(ix, nq, q + 7 * D, K, &a, d2, l2, NULL),
                     QV_OK);
        cr_assert_eq(memcmp(want, l2, nq * K * sizeof(int64_t)), 0,
                     "split search changed labels (nq=%zu)", nq);
        cr_assert_eq(memcmp(d, d2, nq * K * sizeof(float)), 0);
    }
    cr_assert_eq(qv_index_search(ix, NQ, q, K, &(qv_search_args){.params = &sp},
                                 d, want, NULL),
                 QV_OK);
    qv_pool_destroy(pool);
    /* four threads searching at once */
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){ix, q, want, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].mismatches, 0, "thread %d saw other results", i);
    }
    qv_index_free(ix);
    free(x);
    free(q);
}

Test(concurrency, flat_searches_share_one_index)
{
    check_type(QV_INDEX_FLAT);
}
Test(concurrency, ivf_flat_searches_share_one_index)
{
    check_type(QV_INDEX_IVF_FLAT);
}
Test(concurrency, ivf_sq8_searches_share_one_index)
{
    check_type(QV_INDEX_IVF_SQ8);
}
Test(concurrency, ivf_pq_searches_share_one_index)
{
    check_type(QV_INDEX_IVF_PQ);
}
