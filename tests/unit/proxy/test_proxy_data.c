/* The data path through the proxy's MilvusService over gRPC, in one
 * process: proxy + coord + query node on the LMDB meta KV and a local
 * write log.  Insert, load, count(*), query, search, delete, and bad
 * inserts answered with a Status while the proxy keeps serving. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    pf_setup("qv-pxdata-");
}

TestSuite(proxy_data, .init = setup, .fini = pf_teardown, .timeout = 60);

static int64_t count(void)
{
    char *of[1] = {"count(*)"};
    M(QueryRequest) rq = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    rq.collection_name = "c";
    rq.output_fields = of;
    rq.n_output_fields = 1;
    M(QueryResults) *r = call(
        "Query", &rq.base, &milvus__proto__milvus__query_results__descriptor);
    cr_assert_eq(r->status->code, 0, "%s", r->status->reason);
    cr_assert_eq(r->n_fields_data, 1);
    cr_assert_str_eq(r->fields_data[0]->field_name, "count(*)");
    return r->fields_data[0]->scalars->long_data->data[0];
}

Test(proxy_data, insert_load_read_delete)
{
    create();
    /* Not loaded yet: 101. */
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
    cr_assert_eq(m->insert_cnt, 100);
    cr_assert_eq(m->ids->int_id->n_data, 100);
    cr_assert_gt(m->timestamp, 0);
    M(LoadCollectionRequest)
    l = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    l.collection_name = "c";
    Milvus__Proto__Common__Status *st =
        call("LoadCollection", &l.base, STATUS_D);
    cr_assert_eq(st->code, 0, "%s", st->reason);
    cr_assert_eq(count(), 100);

    /* Bad inserts: a Status, nothing written. */
    m = insert(1000, 3, 3); /* wrong dim */
    cr_assert_neq(m->status->code, 0);
    cr_assert_eq(m->status->error_code,
                 MILVUS__PROTO__COMMON__ERROR_CODE__IllegalArgument);
    M(InsertRequest) empty = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    empty.collection_name = "c";
    m = call("Insert", &empty.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_neq(m->status->code, 0);
    cr_assert_eq(count(), 100);

    /* Search (Strong: consistency level 0 is the default). */
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
    uint8_t pbuf[64];
    Milvus__Proto__Common__KeyValuePair k1, k2, *kvs[2] = {&k1, &k2};
    milvus__proto__common__key_value_pair__init(&k1);
    milvus__proto__common__key_value_pair__init(&k2);
    k1.key = "topk";
    k1.value = "3";
    k2.key = "metric_type";
    k2.value = "L2";
    M(SearchRequest) sr;
    milvus__proto__milvus__search_request__init(&sr);
    sr.collection_name = "c";
    sr.search_input_case =
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    sr.placeholder_group.data = pbuf;
    sr.placeholder_group.len =
        milvus__proto__common__placeholder_group__pack(&pg, pbuf);
    sr.nq = 1;
    sr.search_params = kvs;
    sr.n_search_params = 2;
    M(SearchResults) *res = call(
        "Search", &sr.base, &milvus__proto__milvus__search_results__descriptor);
    cr_assert_eq(res->status->code, 0, "%s", res->status->reason);
    Milvus__Proto__Schema__SearchResultData *d = res->results;
    cr_assert_eq(d->n_topks, 1);
    cr_assert_eq(d->topks[0], 3);
    cr_assert_eq(d->ids->int_id->data[0], 41);
    cr_assert_eq(d->ids->int_id->data[1], 42);
    cr_assert_eq(d->ids->int_id->data[2], 40);
    cr_assert_float_eq(d->scores[0], 0.04f, 1e-4);
    cr_assert_eq(d->n_fields_data, 1); /* the PK column */
    cr_assert_str_eq(d->fields_data[0]->field_name, "id");

    /* Delete by keys and by a filter. */
    M(DeleteRequest) del = MILVUS__PROTO__MILVUS__DELETE_REQUEST__INIT;
    del.collection_name = "c";
    del.expr = "id in [1, 2, 3]";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    cr_assert_eq(m->delete_cnt, 3);
    del.expr = "id > 90";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_eq(m->status->code, 0, "%s", m->status->reason);
    cr_assert_eq(m->delete_cnt, 10);
    cr_assert_eq(count(), 87);
    del.expr = "nope == 1";
    m = call("Delete", &del.base,
             &milvus__proto__milvus__mutation_result__descriptor);
    cr_assert_neq(m->status->code, 0);
}
