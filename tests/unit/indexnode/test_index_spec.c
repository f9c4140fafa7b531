/* CreateIndex parameters: the shapes the SDKs send, normalization, and
 * every refusal with its code (indexnode/index_spec.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "indexnode/index_spec.h"

static const qv_index_field fvec = {"vec", QV_DT_FLOAT_VECTOR, QV_DT_NONE, 128};
static const qv_index_field bvec = {"bin", QV_DT_BINARY_VECTOR, QV_DT_NONE, 64};
static const qv_index_field i64 = {"age", QV_DT_INT64, QV_DT_NONE, 0};
static const qv_index_field str = {"name", QV_DT_VARCHAR, QV_DT_NONE, 0};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static qv_code parse(const qv_kv *kv, size_t n, const qv_index_field *f,
                     qv_index_spec *s, qv_err *err)
{
    return qv_index_spec_parse(kv, n, f, s, err);
}

Test(index_spec, sdk_shape_with_params_json)
{
    qv_kv kv[] = {{"params", "{\"M\":16,\"efConstruction\":200}"},
                  {"index_type", "HNSW"},
                  {"metric_type", "L2"}};
    qv_index_spec s;
    qv_err err = {0};
    cr_assert_eq(parse(kv, N(kv), &fvec, &s, &err), QV_OK, "%s", err.msg);
    cr_assert(s.is_vector);
    cr_assert_str_eq(s.index_type, "HNSW");
    cr_assert_str_eq(s.metric_type, "L2");
    cr_assert_eq(s.vtype, QV_INDEX_HNSW);
    cr_assert_eq(s.metric, QV_METRIC_L2);
    cr_assert_str_eq(qv_index_spec_param(&s, "M"), "16");
    cr_assert_str_eq(qv_index_spec_param(&s, "efConstruction"), "200");
    cr_assert_str_eq(s.params_json, "{\"M\":16,\"efConstruction\":200}");
    qv_index_spec_release(&s);
}

Test(index_spec, legacy_separate_keys_equal_json_shape)
{
    qv_kv a[] = {
        {"index_type", "IVF_FLAT"}, {"metric_type", "IP"}, {"nlist", "64"}};
    qv_kv b[] = {{"metric_type", "IP"},
                 {"params", "{\"nlist\": \"64\"}"},
                 {"index_type", "ivf_flat"}};
    qv_index_spec s1, s2;
    qv_err err = {0};
    cr_assert_eq(parse(a, N(a), &fvec, &s1, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(parse(b, N(b), &fvec, &s2, &err), QV_OK, "%s", err.msg);
    cr_assert(qv_index_spec_equal(&s1, &s2));
    cr_assert_str_eq(s1.index_type, "IVF_FLAT");
    cr_assert_str_eq(s1.params_json, "{\"nlist\":64}");
    qv_index_spec_release(&s1);
    qv_index_spec_release(&s2);
}

Test(index_spec, missing_type_is_autoindex_and_metric_defaults)
{
    qv_index_spec s;
    qv_err err = {0};
    cr_assert_eq(parse(NULL, 0, &fvec, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(s.index_type, "AUTOINDEX");
    cr_assert_str_eq(s.metric_type, "COSINE");
    cr_assert_eq(s.vtype, QV_INDEX_AUTOINDEX);
    cr_assert_str_eq(s.params_json, "{}");
    qv_index_spec_release(&s);
    cr_assert_eq(parse(NULL, 0, &bvec, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(s.metric_type, "HAMMING");
    cr_assert_eq(s.vtype, QV_INDEX_BIN_IVF_FLAT);
    qv_index_spec_release(&s);
}

Test(index_spec, stored_params_parse_to_the_same_spec)
{
    qv_kv kv[] = {{"index_type", "IVF_PQ"},
                  {"metric_type", "L2"},
                  {"params", "{\"nlist\":32,\"m\":8,\"nbits\":8}"},
                  {"mmap.enabled", "true"}};
    qv_index_spec s, t;
    qv_err err = {0};
    cr_assert_eq(parse(kv, N(kv), &fvec, &s, &err), QV_OK, "%s", err.msg);
    qv_kv stored[] = {{"index_type", s.index_type},
                      {"metric_type", s.metric_type},
                      {"params", s.params_json}};
    cr_assert_eq(parse(stored, N(stored), &fvec, &t, &err), QV_OK, "%s",
                 err.msg);
    cr_assert(qv_index_spec_equal(&s, &t));
    cr_assert_null(qv_index_spec_param(&s, "mmap.enabled"));
    qv_index_spec_release(&s);
    qv_index_spec_release(&t);
}

Test(index_spec, scalar_indexes)
{
    qv_kv sort[] = {{"index_type", "STL_SORT"}};
    qv_kv trie[] = {{"index_type", "Trie"}, {"metric_type", ""}};
    qv_kv bitmap[] = {{"index_type", "BITMAP"},
                      {"params", "{\"bitmap_cardinality_limit\":100}"}};
    qv_index_spec s;
    qv_err err = {0};
    cr_assert_eq(parse(sort, N(sort), &i64, &s, &err), QV_OK, "%s", err.msg);
    cr_assert(!s.is_vector);
    cr_assert_eq(s.stype, QV_SINDEX_STL_SORT);
    cr_assert_str_eq(s.metric_type, "");
    qv_index_spec_release(&s);
    cr_assert_eq(parse(trie, N(trie), &str, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(s.stype, QV_SINDEX_TRIE);
    qv_index_spec_release(&s);
    cr_assert_eq(parse(bitmap, N(bitmap), &i64, &s, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(s.stype, QV_SINDEX_BITMAP);
    qv_index_spec_release(&s);
    cr_assert_eq(parse(NULL, 0, &str, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(s.index_type, "AUTOINDEX");
    cr_assert_eq(s.stype, QV_SINDEX_INVERTED);
    qv_index_spec_release(&s);
}

static void refused(const qv_kv *kv, size_t n, const qv_index_field *f,
                    qv_code want, const char *needle)
{
    qv_index_spec s;
    qv_err err = {0};
    qv_code rc = parse(kv, n, f, &s, &err);
    cr_assert_eq(rc, want, "got %d (%s)", rc, err.msg);
    cr_assert(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
    cr_assert_null(s.build);
}

Test(index_spec, refusals)
{
    qv_kv bad_m[] = {{"index_type", "HNSW"}, {"params", "{\"M\":1}"}};
    refused(bad_m, N(bad_m), &fvec, QV_E_INVALID, "M");
    qv_kv bad_nlist[] = {{"index_type", "IVF_FLAT"}, {"nlist", "0"}};
    refused(bad_nlist, N(bad_nlist), &fvec, QV_E_INVALID, "nlist");
    qv_kv pq_m[] = {{"index_type", "IVF_PQ"}, {"m", "7"}};
    refused(pq_m, N(pq_m), &fvec, QV_E_INVALID, "IVF_PQ");
    qv_kv unknown[] = {{"index_type", "NO_SUCH_INDEX"}};
    refused(unknown, N(unknown), &fvec, QV_E_UNSUPPORTED, "NO_SUCH_INDEX");
    qv_kv ham[] = {{"index_type", "HNSW"}, {"metric_type", "HAMMING"}};
    refused(ham, N(ham), &fvec, QV_E_INVALID, "metric type HAMMING");
    qv_kv l2bin[] = {{"index_type", "BIN_FLAT"}, {"metric_type", "L2"}};
    refused(l2bin, N(l2bin), &bvec, QV_E_INVALID, "metric type L2");
    qv_kv binf[] = {{"index_type", "BIN_FLAT"}};
    refused(binf, N(binf), &fvec, QV_E_INVALID, "BIN_FLAT");
    qv_kv vec_on_scalar[] = {{"index_type", "HNSW"}};
    refused(vec_on_scalar, N(vec_on_scalar), &i64, QV_E_INVALID,
            "for vector fields");
    qv_kv scalar_on_vec[] = {{"index_type", "STL_SORT"}};
    refused(scalar_on_vec, N(scalar_on_vec), &fvec, QV_E_INVALID,
            "for scalar fields");
    qv_kv sort_str[] = {{"index_type", "STL_SORT"}};
    refused(sort_str, N(sort_str), &str, QV_E_INVALID, "does not support");
    qv_kv bad_json[] = {{"index_type", "HNSW"}, {"params", "{\"M\":"}};
    refused(bad_json, N(bad_json), &fvec, QV_E_INVALID, "JSON object");
    qv_kv card[] = {{"index_type", "BITMAP"},
                    {"bitmap_cardinality_limit", "0"}};
    refused(card, N(card), &i64, QV_E_INVALID, "bitmap_cardinality_limit");
    qv_kv extra[] = {{"index_type", "INVERTED"}, {"foo", "1"}};
    refused(extra, N(extra), &i64, QV_E_INVALID, "foo");
    const qv_index_field sparse = {"sp", QV_DT_SPARSE_FLOAT_VECTOR, QV_DT_NONE,
                                   0};
    refused(NULL, 0, &sparse, QV_E_UNSUPPORTED, "SparseFloatVector");
    const qv_index_field json = {"j", QV_DT_JSON, QV_DT_NONE, 0};
    refused(NULL, 0, &json, QV_E_UNSUPPORTED, "JSON");
}

Test(index_spec, bytes_that_are_not_utf8_are_refused)
{
    qv_kv kv[] = {{"index_type", "HNSW"}, {"M\xff", "16"}};
    refused(kv, N(kv), &fvec, QV_E_INVALID, "UTF-8");
}

Test(index_spec, long_params_survive_the_stored_form)
{
    qv_kv kv[] = {{"index_type", "HNSW"},
                  {"metric_type", "IP"},
                  {"params", "{\"M\":24,\"efConstruction\":360,"
                             "\"num_build_thread\":2,\"seed\":12345,"
                             "\"comment\":\"a \\\"quoted\\\" note\"}"}};
    qv_index_spec s, t;
    qv_err err = {0};
    cr_assert_eq(parse(kv, N(kv), &fvec, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_gt(strlen(s.params_json), 64);
    qv_kv stored[] = {{"index_type", s.index_type},
                      {"metric_type", s.metric_type},
                      {"params", s.params_json}};
    cr_assert_eq(parse(stored, N(stored), &fvec, &t, &err), QV_OK, "%s",
                 err.msg);
    cr_assert(qv_index_spec_equal(&s, &t));
    cr_assert_str_eq(qv_index_spec_param(&t, "comment"), "a \"quoted\" note");
    qv_index_spec_release(&s);
    qv_index_spec_release(&t);
}
