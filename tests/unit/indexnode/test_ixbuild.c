/* One indexnode build (indexnode/build.h): a real column file in a real
 * object store in, an index file out that loads with the index libraries
 * and answers like the data it was built from. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/msg/seglog.h"
#include "index/index.h"
#include "index/scalar/scalar_index.h"
#include "indexnode/build.h"
#include "ix_helpers.h"
#include "tests/lib/proc.h"

static char *dir;
static objstore *os;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-ixbuild-", &dir, NULL), QV_OK);
    os = ixh_open_fs(dir);
}

static void teardown(void)
{
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(ixbuild, .init = setup, .fini = teardown, .timeout = 120);

/* Builds index `type` over n random vectors and checks recall@10 of 50
 * queries against exact L2 results. */
static void vector_case(const char *type, const char *params, double min)
{
    const size_t n = 3000, dim = 32, nq = 50, k = 10;
    float *x = ixh_random_vectors(n, dim, 7);
    ixh_put_float_column(os, ixh_seg(), 101, x, n, dim);
    ixh_req rq;
    ixh_req_init(&rq, 101, QV_DT_FLOAT_VECTOR, dim, type, "L2", params);
    qv_ixbuild_result res;
    qv_err err = {0};
    cr_assert_eq(qv_ixbuild_run(&rq.rq, os, 2, &res, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_str_eq(res.key, "index_files/900/5/index");
    cr_assert_eq(res.rows, n);
    cr_assert_gt(res.bytes, 0);
    void *img = NULL;
    size_t len = ixh_get(os, res.key, &img);
    cr_assert_eq(len, res.bytes);
    qv_index *ix;
    cr_assert_eq(qv_index_load(img, len, &ix, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_index_ntotal(ix), n);
    cr_assert_eq(qv_index_metric(ix), QV_METRIC_L2);
    float *q = ixh_random_vectors(nq, dim, 99);
    float *d = qv_xmalloc(nq * k * sizeof(float));
    int64_t *lab = qv_xmalloc(nq * k * sizeof(int64_t));
    qv_kv sp[] = {{"ef", "64"}, {"nprobe", "16"}};
    qv_params p = {sp, 2};
    qv_search_args a = {.params = strcmp(type, "FLAT") == 0 ? NULL : &p};
    cr_assert_eq(qv_index_search(ix, nq, q, k, &a, d, lab, &err), QV_OK, "%s",
                 err.msg);
    double r = ixh_recall(x, n, dim, q, nq, k, lab);
    cr_assert_geq(r, min, "%s recall@10 %.3f < %.3f", type, r, min);
    qv_index_free(ix);
    free(img);
    free(q);
    free(d);
    free(lab);
    free(x);
    free(res.key);
    ixh_req_release(&rq);
}

Test(ixbuild, flat_is_exact)
{
    vector_case("FLAT", "{}", 1.0);
}

Test(ixbuild, hnsw)
{
    vector_case("HNSW", "{\"M\":16,\"efConstruction\":100}", 0.95);
}

Test(ixbuild, ivf_flat)
{
    vector_case("IVF_FLAT", "{\"nlist\":32}", 0.9);
}

Test(ixbuild, ivf_sq8)
{
    vector_case("IVF_SQ8", "{\"nlist\":32}", 0.85);
}

Test(ixbuild, autoindex)
{
    vector_case("AUTOINDEX", "{}", 0.95);
}

Test(ixbuild, scalar_stl_sort)
{
    const size_t n = 5000;
    int64_t *v = qv_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)((i * 7919) % 1000) - 500;
    ixh_put_int64_column(os, ixh_seg(), 102, v, n);
    ixh_req rq;
    ixh_req_init(&rq, 102, QV_DT_INT64, 0, "STL_SORT", NULL, "{}");
    qv_ixbuild_result res;
    qv_err err = {0};
    cr_assert_eq(qv_ixbuild_run(&rq.rq, os, 1, &res, &err), QV_OK, "%s",
                 err.msg);
    void *img = NULL;
    size_t len = ixh_get(os, res.key, &img);
    qv_sindex *ix;
    cr_assert_eq(qv_sindex_load(img, len, &ix, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_sindex_kind(ix), QV_SINDEX_STL_SORT);
    cr_assert_eq(qv_sindex_rows(ix), n);
    qv_bitset bs;
    cr_assert_eq(qv_bitset_init(&bs, n), QV_OK);
    qv_sindex_bound lo = {qv_value_int(-10), true},
                    hi = {qv_value_int(10), false};
    cr_assert_eq(qv_sindex_range(ix, &lo, &hi, &bs, &err), QV_OK, "%s",
                 err.msg);
    size_t want = 0, got = 0;
    for (size_t i = 0; i < n; i++) {
        bool in = v[i] >= -10 && v[i] < 10;
        want += in;
        got += qv_bitset_test(&bs, i);
        cr_assert_eq(qv_bitset_test(&bs, i), in, "row %zu", i);
    }
    cr_assert_eq(got, want);
    cr_assert_gt(want, 0);
    qv_bitset_release(&bs);
    qv_sindex_free(ix);
    free(img);
    free(v);
    free(res.key);
    ixh_req_release(&rq);
}

Test(ixbuild, missing_column_fails_for_good)
{
    ixh_req rq;
    ixh_req_init(&rq, 101, QV_DT_FLOAT_VECTOR, 32, "HNSW", "L2", "{}");
    qv_ixbuild_result res;
    qv_err err = {0};
    qv_code rc = qv_ixbuild_run(&rq.rq, os, 1, &res, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_NOT_FOUND, "%s", err.msg);
    cr_assert(!qv_ixbuild_transient(rc));
    cr_assert_null(res.key);
    ixh_req_release(&rq);
}

Test(ixbuild, damaged_column_is_corrupt)
{
    const size_t n = 200, dim = 32;
    float *x = ixh_random_vectors(n, dim, 1);
    ixh_put_float_column(os, ixh_seg(), 101, x, n, dim);
    /* Flip a payload byte of the stored file. */
    char *key = qv_seglog_key(QV_SEGLOG_INSERT, 1, 2, 5, 101, 77);
    void *img = NULL;
    size_t len = ixh_get(os, key, &img);
    ((uint8_t *)img)[len - 5] ^= 0x40;
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, key, img, len, &err), QV_OK);
    ixh_req rq;
    ixh_req_init(&rq, 101, QV_DT_FLOAT_VECTOR, dim, "FLAT", "L2", "{}");
    qv_ixbuild_result res;
    qv_code rc = qv_ixbuild_run(&rq.rq, os, 1, &res, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%s", err.msg);
    cr_assert(!qv_ixbuild_transient(rc));
    ixh_req_release(&rq);
    free(img);
    free(key);
    free(x);
}

Test(ixbuild, wrong_dim_is_refused)
{
    const size_t n = 100;
    float *x = ixh_random_vectors(n, 16, 1);
    ixh_put_float_column(os, ixh_seg(), 101, x, n, 16);
    ixh_req rq;
    ixh_req_init(&rq, 101, QV_DT_FLOAT_VECTOR, 32, "FLAT", "L2", "{}");
    qv_ixbuild_result res;
    qv_err err = {0};
    qv_code rc = qv_ixbuild_run(&rq.rq, os, 1, &res, &err);
    cr_assert_neq(rc, QV_OK);
    cr_assert(strstr(err.msg, "dim"), "%s", err.msg);
    ixh_req_release(&rq);
    free(x);
}
