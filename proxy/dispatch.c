/* dispatch.c -- the proxy's RPC table: full method name -> handler.
 * Add a row (and a rpc_<method>.c) for each implemented RPC; methods not
 * listed are answered UNIMPLEMENTED by the RPC server. */
#include "proxy/proxy_int.h"

#define MILVUS(m) QV_MILVUS_SERVICE m
#define REQ(msg)  &milvus__proto__milvus__##msg##__descriptor

const qv_proxy_rpc qv_proxy__rpcs[] = {
    {MILVUS("Connect"), REQ(connect_request), qv_proxy__connect},
    {MILVUS("GetVersion"), REQ(get_version_request), qv_proxy__get_version},
    {MILVUS("CheckHealth"), REQ(check_health_request), qv_proxy__check_health},
    /* Telemetry is optional for the SDK: answered UNIMPLEMENTED on
     * purpose, which makes the SDK back off (sdk-compat §1.5). */
    {QV_TELEMETRY_SERVICE "ClientHeartbeat", REQ(client_heartbeat_request),
     qv_proxy__client_heartbeat},
};

const size_t qv_proxy__n_rpcs =
    sizeof(qv_proxy__rpcs) / sizeof(qv_proxy__rpcs[0]);
