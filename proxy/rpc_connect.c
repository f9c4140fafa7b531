/* rpc_connect.c -- MilvusService/Connect.
 *
 * The SDK calls Connect from its constructor and treats any decoded reply
 * as CONNECTED; without it, database APIs and dynamic-schema collections
 * are refused client-side (sdk-compat §1.4).  The reply carries a non-zero
 * identifier, unique per connection, that the SDK then sends back as the
 * `identifier` header, and the ServerInfo of this build.
 */
#include "common/log.h"
#include "proxy/build_info.h"
#include "proxy/proxy_int.h"

#define ENTRY(k, v)                                                            \
    {                                                                          \
        PROTOBUF_C_MESSAGE_INIT(                                               \
            &milvus__proto__common__server_info__reserved_entry__descriptor),  \
            (char *)(k), (char *)(v)                                           \
    }

static Milvus__Proto__Common__ServerInfo *server_info(qv_proxy *p, qv_arena *a)
{
    const qv_build_info *b = qv_build_info_get();
    Milvus__Proto__Common__ServerInfo *si = qv_arena_alloc(a, sizeof *si);
    milvus__proto__common__server_info__init(si);
    si->build_tags = p->version;
    si->build_time = (char *)b->build_time;
    si->git_commit = (char *)b->git_commit;
    si->go_version = (char *)b->compiler; /* the field Milvus fills with Go's
                                             version */
    si->deploy_mode = p->deploy_mode;
    Milvus__Proto__Common__ServerInfo__ReservedEntry *e =
        qv_arena_alloc(a, 2 * sizeof *e);
    Milvus__Proto__Common__ServerInfo__ReservedEntry init[2] = {
        ENTRY("server", "quiver"), ENTRY("build_type", b->build_type)};
    e[0] = init[0];
    e[1] = init[1];
    /* An array of two entry pointers. */
    si->reserved = qv_arena_calloc(
        a, 2, sizeof(si->reserved[0])); // NOLINT(bugprone-sizeof-expression)
    si->reserved[0] = &e[0];
    si->reserved[1] = &e[1];
    si->n_reserved = 2;
    return si;
}

qv_code qv_proxy__connect(qv_rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)err;
    qv_proxy *p = ud;
    const Milvus__Proto__Milvus__ConnectRequest *rq =
        (const Milvus__Proto__Milvus__ConnectRequest *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Milvus__Proto__Milvus__ConnectResponse *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__connect_response__init(r);
    r->status = qv_proxy__status(a, QV_OK, QV_SUBJ_NONE, NULL);
    r->server_info = server_info(p, a);
    r->identifier = (int64_t)atomic_fetch_add(&p->next_identifier, 1) + 1;
    const Milvus__Proto__Common__ClientInfo *ci = rq->client_info;
    QV_LOG(QV_LOG_INFO, "proxy",
           "client connected: identifier %lld peer %s sdk %s %s user '%s'",
           (long long)r->identifier, qv_rpc_call_peer(call),
           ci ? ci->sdk_type : "?", ci ? ci->sdk_version : "?",
           ci ? ci->user : "");
    *resp = &r->base;
    return QV_OK;
}
