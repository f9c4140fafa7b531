/* echo_service.h -- the Echo test service (echo.proto) on a real server on
 * 127.0.0.1, for the RPC layer's unit tests. */
#ifndef QV_TEST_ECHO_SERVICE_H
#define QV_TEST_ECHO_SERVICE_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/rpc/rpc_client.h"
#include "common/rpc/rpc_server.h"
#include "echo.pb-c.h"

#define ECHO_SAY    "/qvtest.Echo/Say"
#define ECHO_STREAM "/qvtest.Echo/SayStream"

/* What on_call_done and the handlers observed. */
typedef struct echo_stats {
    atomic_int calls_done;
    atomic_int by_status[17]; /* index: gRPC status */
    atomic_int unknown_calls; /* on_call_done with method "unknown" */
    atomic_int handler_saw_expiry;
    atomic_int handlers_finished;
} echo_stats;

typedef struct echo_server {
    qv_rpc_server *srv;
    int port;
    char target[64];
    echo_stats stats;
} echo_server;

/* Starts the service; opts may be NULL (defaults, ephemeral port).
 * Asserts on failure. */
void echo_start(echo_server *e, const qv_rpc_server_opts *opts);
void echo_stop(echo_server *e);

int64_t test_now_ms(void);

#endif
