/* The IndexNodeService over gRPC (indexnode/indexnode.h): the session,
 * BuildIndex into a slot (refused when none is free, a no-op for a build
 * already held), QueryBuilds states and slots, DropBuilds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/rpc/rpc_client.h"
#include "indexnode/indexnode.h"
#include "ix_helpers.h"
#include "tests/lib/proc.h"

#define SVC "/quiver.internal.IndexNodeService/"

static char *dir;
static metakv *kv;
static objstore *os;
static qv_arena arena;
static qv_inode *node;
static char addr[64];

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-inode-", &dir, NULL), QV_OK);
    qv_arena_init(&arena, 0);
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    os = ixh_open_fs(dir);
    qv_inode_options o = {.kv = kv,
                          .os = os,
                          .host = "127.0.0.1",
                          .session_ttl_s = 2,
                          .slots = 1,
                          .threads = 1};
    cr_assert_eq(qv_inode_create(&o, &node, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_inode_start(node, &err), QV_OK, "%s", err.msg);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", qv_inode_port(node));
}

static void teardown(void)
{
    qv_inode_destroy(node);
    objstore_close(os);
    metakv_close(kv);
    qv_arena_release(&arena);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(inode, .init = setup, .fini = teardown, .timeout = 120);

static void call(const char *m, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *d, void *out)
{
    qv_rpc_channel *ch;
    qv_err err = {0};
    cr_assert_eq(qv_rpc_channel_open(addr, &ch, &err), QV_OK);
    char path[128];
    snprintf(path, sizeof path, SVC "%s", m);
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    qv_code rc = qv_rpc_unary(ch, path, req, d, &arena,
                              (ProtobufCMessage **)out, &o, &err);
    qv_rpc_channel_close(ch);
    cr_assert_eq(rc, QV_OK, "%s: %s", m, err.msg);
}

#define STATUS &milvus__proto__common__status__descriptor

static Milvus__Proto__Common__Status *build(ixh_req *r, int64_t id)
{
    r->build.build_id = id;
    Milvus__Proto__Common__Status *st;
    call("BuildIndex", &r->rq.base, STATUS, &st);
    return st;
}

static Quiver__Internal__QueryBuildsResponse *query(void)
{
    Quiver__Internal__QueryBuildsRequest q =
        QUIVER__INTERNAL__QUERY_BUILDS_REQUEST__INIT;
    Quiver__Internal__QueryBuildsResponse *r;
    call("QueryBuilds", &q.base,
         &quiver__internal__query_builds_response__descriptor, &r);
    cr_assert_eq(r->status->code, 0);
    return r;
}

Test(inode, slots_states_and_drop)
{
    /* The session is in meta KV with the node's address. */
    char key[256];
    qv_inode_session_key(node, key, sizeof key);
    cr_assert(strstr(key, "quiver/session/indexnode-") == key, "%s", key);
    metakv_kvs got = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, key, strlen(key), &got, NULL), QV_OK);
    cr_assert_eq(got.n, 1);
    cr_assert(strstr((const char *)got.kvs[0].value, addr));
    metakv_kvs_release(&got);

    const size_t n = 20000, dim = 64;
    float *x = ixh_random_vectors(n, dim, 5);
    ixh_put_float_column(os, ixh_seg(), 101, x, n, dim);
    ixh_req r;
    ixh_req_init(&r, 101, QV_DT_FLOAT_VECTOR, dim, "HNSW", "L2",
                 "{\"M\":16,\"efConstruction\":200}");
    cr_assert_eq(build(&r, 900)->code, 0);
    /* One slot: a second build is refused while the first runs; the same
     * build again is accepted (held already). */
    Milvus__Proto__Common__Status *st = build(&r, 901);
    cr_assert_neq(st->code, 0);
    cr_assert(strstr(st->reason, "no free build slot"), "%s", st->reason);
    cr_assert_eq(build(&r, 900)->code, 0);
    Quiver__Internal__QueryBuildsResponse *q = query();
    cr_assert_eq(q->total_slots, 1);
    cr_assert_eq(q->free_slots, 0);
    cr_assert_eq(q->n_builds, 1);
    cr_assert_eq(q->builds[0]->build_id, 900);
    cr_assert_eq(q->builds[0]->state,
                 QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS);
    for (int i = 0; i < 1200; i++) {
        q = query();
        if (q->builds[0]->state !=
            QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS)
            break;
        qv_sleep_ms(50);
    }
    cr_assert_eq(q->builds[0]->state,
                 QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED, "%s",
                 q->builds[0]->fail_reason);
    cr_assert_eq(q->free_slots, 1);
    cr_assert_eq(q->builds[0]->n_files, 1);
    cr_assert_str_eq(q->builds[0]->files[0], "index_files/900/5/index");
    cr_assert_gt(q->builds[0]->serialized_bytes, n * dim * 4);
    cr_assert_gt(q->builds[0]->build_ms, 0);
    cr_assert_eq(q->builds[0]->rows, n);
    /* A failing build (a missing column) reports FAILED with its reason. */
    ixh_req bad;
    ixh_req_init(&bad, 102, QV_DT_FLOAT_VECTOR, dim, "FLAT", "L2", "{}");
    cr_assert_eq(build(&bad, 902)->code, 0);
    const Quiver__Internal__SegmentIndex *f = NULL;
    for (int i = 0; i < 200 && !f; i++) {
        q = query();
        for (size_t k = 0; k < q->n_builds; k++)
            if (q->builds[k]->build_id == 902 &&
                q->builds[k]->state !=
                    QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS)
                f = q->builds[k];
        if (!f)
            qv_sleep_ms(50);
    }
    cr_assert_not_null(f);
    cr_assert_eq(f->state, QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FAILED);
    cr_assert(strstr(f->fail_reason, "no such object"), "%s", f->fail_reason);
    /* DropBuilds forgets them. */
    int64_t ids[] = {900, 902};
    Quiver__Internal__DropBuildsRequest dq =
        QUIVER__INTERNAL__DROP_BUILDS_REQUEST__INIT;
    dq.build_ids = ids;
    dq.n_build_ids = 2;
    call("DropBuilds", &dq.base, STATUS, &st);
    cr_assert_eq(st->code, 0);
    q = query();
    cr_assert_eq(q->n_builds, 0);
    cr_assert_eq(q->free_slots, 1);
    free(x);
}

Test(inode, bad_requests_are_refused)
{
    Quiver__Internal__BuildIndexRequest rq =
        QUIVER__INTERNAL__BUILD_INDEX_REQUEST__INIT;
    Milvus__Proto__Common__Status *st;
    call("BuildIndex", &rq.base, STATUS, &st);
    cr_assert_eq(st->code, 1100, "%d %s", st->code, st->reason);
    cr_assert(strstr(st->reason, "required"), "%s", st->reason);
    cr_assert_eq(query()->n_builds, 0);
}
