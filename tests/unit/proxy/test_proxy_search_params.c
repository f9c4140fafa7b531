/* Search parameters through the proxy's MilvusService over gRPC, in one
 * process (proxy + coord + query node on the LMDB meta KV and a local
 * write log): range search with radius / range_filter given as pairs of
 * their own or inside the `params` JSON, at most topk, closest first; bad
 * values answered with a Status. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord.h"
#include "milvus/milvus.pb-c.h"
#include "proxy/proxy.h"
#include "querynode/qnserver.h"

/* protobuf-c fields are char *: string literals go in as they are; some
 * INIT macros set deprecated fields. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "proxy_fixture.h"

static void setup(void)
{
    pf_setup("qv-pxsp-");
}

TestSuite(proxy_search_params, .init = setup, .fini = pf_teardown,
          .timeout = 60);

static void load(void)
{
    M(LoadCollectionRequest)
    l = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    Milvus__Proto__Common__Status *st =
        call("LoadCollection", &l.base, STATUS_D);
    cr_assert_eq(st->code, 0, "%s", st->reason);
}

/* Searches (41.2, 0) with L2 and the given pairs. */
static M(SearchResults) * search(const char *const *kv, size_t n)
{
    float qv[2] = {41.2f, 0};
    Milvus__Proto__Common__PlaceholderValue pv =
        MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    ProtobufCBinaryData val = {.len = sizeof qv, .data = (uint8_t *)qv};
    pv.tag = "$0";
    pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    pv.values = &val;
    pv.n_values = 1;
    Milvus__Proto__Common__PlaceholderValue *pvp = &pv;
    Milvus__Proto__Common__PlaceholderGroup pg =
        MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    pg.placeholders = &pvp;
    pg.n_placeholders = 1;
    uint8_t *pbuf = qv_arena_alloc(&arena, 64);
    Milvus__Proto__Common__KeyValuePair *p =
        qv_arena_calloc(&arena, n + 1, sizeof *p);
    Milvus__Proto__Common__KeyValuePair **ps =
        qv_arena_calloc(&arena, n + 1, sizeof *ps);
    for (size_t i = 0; i < n; i++) {
        milvus__proto__common__key_value_pair__init(&p[i]);
        p[i].key = (char *)kv[2 * i];
        p[i].value = (char *)kv[2 * i + 1];
        ps[i] = &p[i];
    }
    M(SearchRequest) sr;
    milvus__proto__milvus__search_request__init(&sr);
    sr.collection_name = "c";
    sr.search_input_case =
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    sr.placeholder_group.data = pbuf;
    sr.placeholder_group.len =
        milvus__proto__common__placeholder_group__pack(&pg, pbuf);
    sr.nq = 1;
    sr.search_params = ps;
    sr.n_search_params = n;
    return call("Search", &sr.base,
                &milvus__proto__milvus__search_results__descriptor);
}

static void assert_ids(M(SearchResults) * r, const int64_t *want, size_t n)
{
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->results->topks[0], (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r->results->ids->int_id->data[i], want[i], "hit %zu", i);
        float d = (float)want[i] - 41.2f;
        cr_assert_float_eq(r->results->scores[i], d * d, 1e-3);
    }
}

Test(proxy_search_params, range_search)
{
    create();
    char *of[1] = {"count(*)"};
    M(QueryRequest) q0 = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    q0.collection_name = "c";
    q0.output_fields = of;
    q0.n_output_fields = 1;
    M(QueryResults) *r0 = call(
        "Query", &q0.base, &milvus__proto__milvus__query_results__descriptor);
    cr_assert_eq(r0->status->code, 101, "%s", r0->status->reason);
    M(MutationResult) *m = insert(1, 100, 2);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    load();
    /* |id - 41.2|^2 < 9: ids 41, 42, 40, 43, 39, 44 */
    const char *a[] = {"topk", "100", "metric_type", "L2", "radius", "9"};
    int64_t w1[] = {41, 42, 40, 43, 39, 44};
    assert_ids(search(a, 3), w1, 6);
    /* range_filter 1 <= d: drops 41 and 42; as the params JSON */
    const char *b[] = {"topk",        "100",
                       "metric_type", "L2",
                       "params",      "{\"radius\": 9.0, \"range_filter\": 1}"};
    int64_t w2[] = {40, 43, 39, 44};
    assert_ids(search(b, 3), w2, 4);
    /* at most topk, the closest */
    const char *c[] = {"topk",   "2", "metric_type",  "L2",
                       "radius", "9", "range_filter", "1"};
    assert_ids(search(c, 4), w2, 2);
    /* a plain search with an index parameter the growing data ignores */
    const char *d[] = {"topk", "3",      "metric_type",
                       "L2",   "params", "{\"ef\": 16}"};
    int64_t w3[] = {41, 42, 40};
    assert_ids(search(d, 3), w3, 3);
    /* range_filter on the far side of radius, radius not a number, a
     * params value that is not a JSON object, group_by_field */
    const char *bad[][6] = {
        {"metric_type", "L2", "radius", "1", "range_filter", "5"},
        {"metric_type", "L2", "radius", "near", "topk", "3"},
        {"metric_type", "L2", "params", "[1]", "topk", "3"},
        {"metric_type", "L2", "group_by_field", "v", "topk", "3"},
    };
    for (size_t i = 0; i < 4; i++) {
        M(SearchResults) *r = search(bad[i], 3);
        cr_assert_neq(r->status->code, 0, "bad request %zu accepted", i);
    }
}

/* metric_type "" (what the SDKs send by default): COSINE without an index,
 * the index's metric once the field has one. */
Test(proxy_search_params, metric_of_the_index)
{
    create();
    char *of[1] = {"count(*)"};
    M(QueryRequest) q0 = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    q0.collection_name = "c";
    q0.output_fields = of;
    q0.n_output_fields = 1;
    call("Query", &q0.base, &milvus__proto__milvus__query_results__descriptor);
    M(MutationResult) *m = insert(1, 100, 2);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    load();
    const char *a[] = {"topk", "3", "metric_type", ""};
    M(SearchResults) *r = search(a, 2);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_float_eq(r->results->scores[0], 1.0f, 1e-5, "COSINE");
    Milvus__Proto__Common__KeyValuePair p[2], *pp[2] = {&p[0], &p[1]};
    milvus__proto__common__key_value_pair__init(&p[0]);
    milvus__proto__common__key_value_pair__init(&p[1]);
    p[0].key = "index_type";
    p[0].value = "FLAT";
    p[1].key = "metric_type";
    p[1].value = "L2";
    M(CreateIndexRequest)
    ci = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
    ci.collection_name = "c";
    ci.field_name = "v";
    ci.extra_params = pp;
    ci.n_extra_params = 2;
    Milvus__Proto__Common__Status *st = call("CreateIndex", &ci.base, STATUS_D);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    qv_sleep_ms(2100); /* the proxy keeps "no index" for 2 s */
    int64_t w[] = {41, 42, 40};
    assert_ids(search(a, 2), w, 3);
}
