/* rpc_client_heartbeat.c -- ClientTelemetryService/ClientHeartbeat.
 *
 * Client telemetry is not collected: the call is answered UNIMPLEMENTED,
 * which the Node.js SDK handles by backing off (up to 30 min) without
 * affecting the connection (sdk-compat §1.5).  Registered explicitly so
 * metrics show it under its own name. */
#include "proxy/proxy_int.h"

qv_code qv_proxy__client_heartbeat(qv_rpc_call *call,
                                   const ProtobufCMessage *req,
                                   ProtobufCMessage **resp, void *ud,
                                   qv_err *err)
{
    (void)call;
    (void)req;
    (void)resp;
    (void)ud;
    return qv_fail(err, QV_E_UNSUPPORTED,
                   "client telemetry is not "
                   "collected by this server");
}
