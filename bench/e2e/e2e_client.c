/* e2e_client.c -- the MilvusService calls of e2e_bench, made with the
 * project's gRPC client (common/rpc) and the generated protobuf-c messages
 * of proto/milvus, exactly as an SDK sends them (sdk-compat §4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/e2e/e2e.h"
#include "common/alloc.h"
#include "common/arena.h"
#include "common/clock.h"
#include "milvus/milvus.pb-c.h"

/* protobuf-c fields are char *: string literals go in as they are; some
 * INIT macros set deprecated fields. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SVC                         "/milvus.proto.milvus.MilvusService/"
#define M(x)                        Milvus__Proto__Milvus__##x
#define DT(x)                       MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define KVP                         Milvus__Proto__Common__KeyValuePair
#define STATUS_D                    &milvus__proto__common__status__descriptor
#define MILVUS_INDEX_NOT_EXIST      25 /* common.ErrorCode IndexNotExist */
#define MILVUS_CODE_INDEX_NOT_FOUND 700

qv_code e2e_client_open(e2e_client *c, const char *address, qv_err *err)
{
    memset(c, 0, sizeof *c);
    (void)snprintf(c->address, sizeof c->address, "%s", address);
    c->timeout_ms = 60000;
    return qv_rpc_channel_open(address, &c->ch, err);
}

qv_code e2e_client_open_own(e2e_client *c, const char *address, qv_err *err)
{
    memset(c, 0, sizeof *c);
    (void)snprintf(c->address, sizeof c->address, "%s", address);
    c->timeout_ms = 60000;
    return qv_rpc_channel_open_own(address, &c->ch, err);
}

void e2e_client_close(e2e_client *c)
{
    if (c->ch)
        qv_rpc_channel_close(c->ch);
    c->ch = NULL;
}

/* One unary call; *grpc (may be NULL) gets the gRPC status. */
static qv_code call(e2e_client *c, const char *method,
                    const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *d, qv_arena *a, void *out,
                    int *grpc, qv_err *err)
{
    char path[128];
    (void)snprintf(path, sizeof path, SVC "%s", method);
    int st = -1;
    qv_rpc_call_opts o = {.timeout_ms = c->timeout_ms, .status_out = &st};
    qv_code rc = qv_rpc_unary(c->ch, path, req, d, a, out, &o, err);
    if (grpc)
        *grpc = st;
    return rc;
}

static bool status_ok(const Milvus__Proto__Common__Status *s)
{
    return !s || (s->code == 0 && s->error_code == 0);
}

static const char *reason_of(const Milvus__Proto__Common__Status *s)
{
    return s && s->reason && s->reason[0] ? s->reason : "(no reason)";
}

/* Fails with the Status of a reply that is not Success. */
static qv_code check_status(const Milvus__Proto__Common__Status *s,
                            const char *what, qv_err *err)
{
    if (status_ok(s))
        return QV_OK;
    return qv_fail(err, QV_E_INVALID, "%s: status code %d (error_code %d): %s",
                   what, s->code, (int)s->error_code, reason_of(s));
}

static void fill_reply(e2e_reply *r, int grpc,
                       const Milvus__Proto__Common__Status *s)
{
    memset(r, 0, sizeof *r);
    r->grpc = grpc;
    if (s) {
        r->code = s->code ? s->code : (int)s->error_code;
        (void)snprintf(r->reason, sizeof r->reason, "%s",
                       s->reason ? s->reason : "");
    }
}

qv_code e2e_wait_healthy(e2e_client *c, int64_t timeout_ms, qv_err *err)
{
    uint64_t end = qv_mono_ms(qv_clock_system()) + (uint64_t)timeout_ms;
    qv_err last = {0};
    for (;;) {
        qv_arena a;
        qv_arena_init(&a, 0);
        M(CheckHealthRequest)
        rq = MILVUS__PROTO__MILVUS__CHECK_HEALTH_REQUEST__INIT;
        M(CheckHealthResponse) *r = NULL;
        int64_t saved = c->timeout_ms;
        c->timeout_ms = 2000;
        qv_code rc =
            call(c, "CheckHealth", &rq.base,
                 &milvus__proto__milvus__check_health_response__descriptor, &a,
                 &r, NULL, &last);
        c->timeout_ms = saved;
        bool ok = rc == QV_OK && status_ok(r->status) && r->ishealthy;
        if (rc == QV_OK && !ok)
            (void)qv_fail(&last, QV_E_NOT_READY, "not healthy: %s",
                          r->n_reasons ? r->reasons[0] : reason_of(r->status));
        qv_arena_release(&a);
        if (ok)
            return QV_OK;
        if (qv_mono_ms(qv_clock_system()) >= end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "server %s not healthy after %lld ms: %s",
                           c->address, (long long)timeout_ms, last.msg);
        qv_sleep_ms(100);
    }
}

qv_code e2e_ping(e2e_client *c, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    M(GetVersionRequest) rq = MILVUS__PROTO__MILVUS__GET_VERSION_REQUEST__INIT;
    M(GetVersionResponse) *r = NULL;
    qv_code rc = call(c, "GetVersion", &rq.base,
                      &milvus__proto__milvus__get_version_response__descriptor,
                      &a, &r, NULL, err);
    if (!rc)
        rc = check_status(r->status, "GetVersion", err);
    qv_arena_release(&a);
    return rc;
}

void e2e_server_version(e2e_client *c, char *out, size_t cap)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    M(GetVersionRequest) rq = MILVUS__PROTO__MILVUS__GET_VERSION_REQUEST__INIT;
    M(GetVersionResponse) *r = NULL;
    qv_err err = {0};
    if (call(c, "GetVersion", &rq.base,
             &milvus__proto__milvus__get_version_response__descriptor, &a, &r,
             NULL, &err) == QV_OK &&
        r->version && r->version[0])
        (void)snprintf(out, cap, "%s", r->version);
    else
        (void)snprintf(out, cap, "?");
    qv_arena_release(&a);
}

qv_code e2e_drop_collection(e2e_client *c, const char *name, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    M(HasCollectionRequest)
    hq = MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
    hq.collection_name = (char *)name;
    M(BoolResponse) *has = NULL;
    qv_code rc = call(c, "HasCollection", &hq.base,
                      &milvus__proto__milvus__bool_response__descriptor, &a,
                      &has, NULL, err);
    if (!rc)
        rc = check_status(has->status, "HasCollection", err);
    if (!rc && has->value) {
        M(DropCollectionRequest)
        rq = MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
        rq.collection_name = (char *)name;
        Milvus__Proto__Common__Status *st = NULL;
        rc = call(c, "DropCollection", &rq.base, STATUS_D, &a, &st, NULL, err);
        if (!rc)
            rc = check_status(st, "DropCollection", err);
    }
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_create_collection(e2e_client *c, const char *name, size_t dim,
                              int shards, int consistency, qv_err *err)
{
    Milvus__Proto__Schema__FieldSchema f[2], *fs[2] = {&f[0], &f[1]};
    milvus__proto__schema__field_schema__init(&f[0]);
    milvus__proto__schema__field_schema__init(&f[1]);
    char dims[24];
    (void)snprintf(dims, sizeof dims, "%zu", dim);
    KVP dkv, *dp = &dkv;
    milvus__proto__common__key_value_pair__init(&dkv);
    dkv.key = "dim";
    dkv.value = dims;
    f[0].name = "id";
    f[0].data_type = DT(Int64);
    f[0].is_primary_key = 1;
    f[1].name = "v";
    f[1].data_type = DT(FloatVector);
    f[1].type_params = &dp;
    f[1].n_type_params = 1;
    Milvus__Proto__Schema__CollectionSchema s =
        MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    s.name = (char *)name;
    s.fields = fs;
    s.n_fields = 2;
    uint8_t buf[1024];
    if (milvus__proto__schema__collection_schema__get_packed_size(&s) >
        sizeof buf)
        return qv_fail(err, QV_E_INVALID, "collection name too long");
    M(CreateCollectionRequest)
    rq = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.shards_num = shards;
    rq.consistency_level = (Milvus__Proto__Common__ConsistencyLevel)consistency;
    rq.schema.data = buf;
    rq.schema.len = milvus__proto__schema__collection_schema__pack(&s, buf);
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    qv_code rc =
        call(c, "CreateCollection", &rq.base, STATUS_D, &a, &st, NULL, err);
    if (!rc)
        rc = check_status(st, "CreateCollection", err);
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_insert(e2e_client *c, const char *name, int64_t first_id, size_t n,
                   size_t dim, const float *x, qv_err *err)
{
    int64_t *ids = qv_try_alloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return qv_fail(err, QV_E_NOMEM, "insert: out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = first_id + (int64_t)i;
    Milvus__Proto__Schema__LongArray la =
        MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.data = ids;
    la.n_data = n;
    Milvus__Proto__Schema__ScalarField sf =
        MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    sf.long_data = &la;
    Milvus__Proto__Schema__FieldData f0 =
        MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    f0.type = DT(Int64);
    f0.field_name = "id";
    f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    f0.scalars = &sf;
    Milvus__Proto__Schema__FloatArray fa =
        MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    fa.data = (float *)x;
    fa.n_data = n * dim;
    Milvus__Proto__Schema__VectorField vf =
        MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    vf.dim = (int64_t)dim;
    vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    vf.float_vector = &fa;
    Milvus__Proto__Schema__FieldData f1 =
        MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    f1.type = DT(FloatVector);
    f1.field_name = "v";
    f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    f1.vectors = &vf;
    Milvus__Proto__Schema__FieldData *fds[2] = {&f0, &f1};
    M(InsertRequest) rq = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.fields_data = fds;
    rq.n_fields_data = 2;
    rq.num_rows = (uint32_t)n;
    qv_arena a;
    qv_arena_init(&a, 0);
    M(MutationResult) *r = NULL;
    qv_code rc = call(c, "Insert", &rq.base,
                      &milvus__proto__milvus__mutation_result__descriptor, &a,
                      &r, NULL, err);
    if (!rc)
        rc = check_status(r->status, "Insert", err);
    if (!rc && r->insert_cnt != (int64_t)n)
        rc = qv_fail(err, QV_E_INTERNAL, "Insert: insert_cnt %lld for %zu rows",
                     (long long)r->insert_cnt, n);
    qv_arena_release(&a);
    free(ids);
    return rc;
}

/* Collects the segment ids of `name` from a FlushResponse into *ids. */
static size_t flush_segments(const M(FlushResponse) * r, const char *name,
                             qv_arena *a, int64_t **ids)
{
    for (size_t i = 0; i < r->n_coll_segids; i++) {
        const M(FlushResponse__CollSegIDsEntry) *e = r->coll_segids[i];
        if (e->key && strcmp(e->key, name) == 0 && e->value) {
            *ids = qv_arena_calloc(a, e->value->n_data + 1, sizeof **ids);
            memcpy(*ids, e->value->data, e->value->n_data * sizeof **ids);
            return e->value->n_data;
        }
    }
    *ids = NULL;
    return 0;
}

qv_code e2e_flush_sync(e2e_client *c, const char *name, int64_t timeout_ms,
                       size_t *nseg, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    char *names[1] = {(char *)name};
    M(FlushRequest) rq = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    rq.collection_names = names;
    rq.n_collection_names = 1;
    M(FlushResponse) *r = NULL;
    qv_code rc = call(c, "Flush", &rq.base,
                      &milvus__proto__milvus__flush_response__descriptor, &a,
                      &r, NULL, err);
    if (!rc)
        rc = check_status(r->status, "Flush", err);
    int64_t *segs = NULL;
    size_t n = rc ? 0 : flush_segments(r, name, &a, &segs);
    uint64_t end = qv_mono_ms(qv_clock_system()) + (uint64_t)timeout_ms;
    while (!rc) {
        M(GetFlushStateRequest)
        fq = MILVUS__PROTO__MILVUS__GET_FLUSH_STATE_REQUEST__INIT;
        fq.segmentids = segs;
        fq.n_segmentids = n;
        fq.collection_name = (char *)name;
        M(GetFlushStateResponse) *fr = NULL;
        rc = call(c, "GetFlushState", &fq.base,
                  &milvus__proto__milvus__get_flush_state_response__descriptor,
                  &a, &fr, NULL, err);
        if (!rc)
            rc = check_status(fr->status, "GetFlushState", err);
        if (rc || fr->flushed)
            break;
        if (qv_mono_ms(qv_clock_system()) >= end)
            rc =
                qv_fail(err, QV_E_TIMEOUT,
                        "GetFlushState: %zu segments not flushed after %lld ms",
                        n, (long long)timeout_ms);
        else
            qv_sleep_ms(100);
    }
    if (!rc)
        *nseg = n;
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_create_index(e2e_client *c, const char *name,
                         const char *index_type, const char *params_json,
                         e2e_reply *out, qv_err *err)
{
    KVP kv[3], *kvp[3] = {&kv[0], &kv[1], &kv[2]};
    for (int i = 0; i < 3; i++)
        milvus__proto__common__key_value_pair__init(&kv[i]);
    kv[0].key = "params";
    kv[0].value = (char *)params_json;
    kv[1].key = "index_type";
    kv[1].value = (char *)index_type;
    kv[2].key = "metric_type";
    kv[2].value = "L2";
    M(CreateIndexRequest)
    rq = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.field_name = "v";
    rq.extra_params = kvp;
    rq.n_extra_params = 3;
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    int grpc = -1;
    qv_err e = {0};
    qv_code rc = call(c, "CreateIndex", &rq.base, STATUS_D, &a, &st, &grpc, &e);
    if (rc && grpc > 0) { /* the server answered with a gRPC error */
        fill_reply(out, grpc, NULL);
        (void)snprintf(out->reason, sizeof out->reason, "%s", e.msg);
        rc = QV_OK;
    } else if (rc) {
        (void)qv_fail(err, rc, "%s", e.msg);
    } else {
        fill_reply(out, 0, st);
    }
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_describe_index(e2e_client *c, const char *name,
                           e2e_index_state *out, qv_err *err)
{
    memset(out, 0, sizeof *out);
    M(DescribeIndexRequest)
    rq = MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.field_name = "v";
    qv_arena a;
    qv_arena_init(&a, 0);
    M(DescribeIndexResponse) *r = NULL;
    int grpc = -1;
    qv_err e = {0};
    qv_code rc =
        call(c, "DescribeIndex", &rq.base,
             &milvus__proto__milvus__describe_index_response__descriptor, &a,
             &r, &grpc, &e);
    if (rc && grpc > 0) {
        fill_reply(&out->reply, grpc, NULL);
        (void)snprintf(out->reply.reason, sizeof out->reply.reason, "%s",
                       e.msg);
        rc = QV_OK;
    } else if (rc) {
        (void)qv_fail(err, rc, "%s", e.msg);
    } else {
        fill_reply(&out->reply, 0, r->status);
        if (status_ok(r->status) && r->n_index_descriptions > 0) {
            const M(IndexDescription) *d = r->index_descriptions[0];
            out->exists = true;
            out->state = (int)d->state;
            out->indexed = d->indexed_rows;
            out->total = d->total_rows;
            out->pending = d->pending_index_rows;
            (void)snprintf(
                out->fail, sizeof out->fail, "%s",
                d->index_state_fail_reason ? d->index_state_fail_reason : "");
        }
    }
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_load(e2e_client *c, const char *name, qv_err *err)
{
    M(LoadCollectionRequest)
    rq = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    qv_code rc =
        call(c, "LoadCollection", &rq.base, STATUS_D, &a, &st, NULL, err);
    if (!rc)
        rc = check_status(st, "LoadCollection", err);
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_release(e2e_client *c, const char *name, qv_err *err)
{
    M(ReleaseCollectionRequest)
    rq = MILVUS__PROTO__MILVUS__RELEASE_COLLECTION_REQUEST__INIT;
    rq.collection_name = (char *)name;
    qv_arena a;
    qv_arena_init(&a, 0);
    Milvus__Proto__Common__Status *st = NULL;
    qv_code rc =
        call(c, "ReleaseCollection", &rq.base, STATUS_D, &a, &st, NULL, err);
    if (!rc)
        rc = check_status(st, "ReleaseCollection", err);
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_loading_progress(e2e_client *c, const char *name, int64_t *out,
                             qv_err *err)
{
    M(GetLoadingProgressRequest)
    rq = MILVUS__PROTO__MILVUS__GET_LOADING_PROGRESS_REQUEST__INIT;
    rq.collection_name = (char *)name;
    qv_arena a;
    qv_arena_init(&a, 0);
    M(GetLoadingProgressResponse) *r = NULL;
    qv_code rc =
        call(c, "GetLoadingProgress", &rq.base,
             &milvus__proto__milvus__get_loading_progress_response__descriptor,
             &a, &r, NULL, err);
    if (!rc)
        rc = check_status(r->status, "GetLoadingProgress", err);
    if (!rc)
        *out = r->progress;
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_count(e2e_client *c, const char *name, int64_t *out, qv_err *err)
{
    char *of[1] = {"count(*)"};
    M(QueryRequest) rq = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    rq.collection_name = (char *)name;
    rq.output_fields = of;
    rq.n_output_fields = 1;
    rq.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong;
    qv_arena a;
    qv_arena_init(&a, 0);
    M(QueryResults) *r = NULL;
    qv_code rc = call(c, "Query", &rq.base,
                      &milvus__proto__milvus__query_results__descriptor, &a, &r,
                      NULL, err);
    if (!rc)
        rc = check_status(r->status, "Query count(*)", err);
    if (!rc && (r->n_fields_data != 1 || !r->fields_data[0]->scalars ||
                !r->fields_data[0]->scalars->long_data ||
                r->fields_data[0]->scalars->long_data->n_data != 1))
        rc = qv_fail(err, QV_E_INTERNAL, "Query count(*): unexpected reply");
    if (!rc)
        *out = r->fields_data[0]->scalars->long_data->data[0];
    qv_arena_release(&a);
    return rc;
}

qv_code e2e_search_one(e2e_client *c, const e2e_search_req *s, const float *q,
                       int64_t *ids, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 8192);
    /* PlaceholderGroup{[{tag "$0", FloatVector, [bytes]}]} */
    ProtobufCBinaryData v = {s->dim * sizeof(float), (uint8_t *)q};
    Milvus__Proto__Common__PlaceholderValue pv =
        MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    pv.tag = "$0";
    pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    pv.values = &v;
    pv.n_values = 1;
    Milvus__Proto__Common__PlaceholderValue *pvs[1] = {&pv};
    Milvus__Proto__Common__PlaceholderGroup pg =
        MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    pg.placeholders = pvs;
    pg.n_placeholders = 1;
    size_t plen =
        milvus__proto__common__placeholder_group__get_packed_size(&pg);
    uint8_t *pbuf = qv_arena_alloc(&a, plen);
    (void)milvus__proto__common__placeholder_group__pack(&pg, pbuf);
    char topk[24], ef[24], params[64];
    (void)snprintf(topk, sizeof topk, "%zu", s->topk);
    (void)snprintf(ef, sizeof ef, "%d", s->ef);
    if (s->ef > 0)
        (void)snprintf(params, sizeof params, "{\"ef\":%d}", s->ef);
    else
        (void)snprintf(params, sizeof params, "{}");
    /* The pairs the SDK sends, in its order (sdk-compat §4.9). */
    KVP kv[6], *kvp[6];
    const char *keys[6] = {"anns_field",  "topk",   "params",
                           "metric_type", "offset", "ef"};
    const char *vals[6] = {"v", topk, params, "L2", "0", ef};
    size_t nkv = s->ef > 0 ? 6 : 5;
    for (size_t i = 0; i < nkv; i++) {
        milvus__proto__common__key_value_pair__init(&kv[i]);
        kv[i].key = (char *)keys[i];
        kv[i].value = (char *)vals[i];
        kvp[i] = &kv[i];
    }
    M(SearchRequest) rq;
    milvus__proto__milvus__search_request__init(&rq);
    rq.collection_name = (char *)s->collection;
    rq.dsl = "";
    rq.dsl_type = MILVUS__PROTO__COMMON__DSL_TYPE__BoolExprV1;
    rq.search_input_case =
        MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    rq.placeholder_group.data = pbuf;
    rq.placeholder_group.len = plen;
    rq.search_params = kvp;
    rq.n_search_params = nkv;
    rq.nq = 1;
    rq.consistency_level =
        (Milvus__Proto__Common__ConsistencyLevel)s->consistency;
    M(SearchResults) *r = NULL;
    qv_code rc = call(c, "Search", &rq.base,
                      &milvus__proto__milvus__search_results__descriptor, &a,
                      &r, NULL, err);
    if (!rc)
        rc = check_status(r->status, "Search", err);
    for (size_t i = 0; i < s->topk; i++)
        ids[i] = -1;
    if (!rc && r->results && r->results->n_topks == 1) {
        const Milvus__Proto__Schema__IDs *pk = r->results->ids;
        size_t got = (size_t)r->results->topks[0];
        if (got > s->topk || !pk ||
            pk->id_field_case != MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID ||
            pk->int_id->n_data < got)
            rc = qv_fail(err, QV_E_INTERNAL,
                         "Search: %zu hits without matching int ids", got);
        for (size_t i = 0; !rc && i < got; i++)
            ids[i] = pk->int_id->data[i];
    } else if (!rc && r->results && r->results->n_topks != 1) {
        rc = qv_fail(err, QV_E_INTERNAL, "Search: %zu topks for nq=1",
                     r->results->n_topks);
    }
    qv_arena_release(&a);
    return rc;
}
