/* rpc_init.c -- starting gRPC core with the project's polling engine.
 *
 * gRPC core's default engine on Linux (epoll1) polls every socket of the
 * process from one global epoll set and passes the "designated poller" role
 * from thread to thread: each event wakes one thread to poll while another
 * runs the callbacks, and a request read by one completion queue's thread
 * is handed to another's.  Quiver runs one thread per completion queue and
 * runs unary handlers on it, so the per-pollset `poll` engine fits: a
 * connection is read by the one thread that serves it, and an idle server
 * of the same process never wakes.  Measured on the public server
 * (e2e_bench, HNSW search, 2 client threads on a 2-core machine): 4,029
 * QPS with epoll1 in the server, 5,228 with poll; 7,630 with poll in the
 * client as well.
 *
 * With `poll`, a client channel's socket is read only while a call on it
 * waits, or by gRPC's backup poller (every 5 s by default): an idle
 * channel would answer a server's shutdown PING (graceful GOAWAY) up to
 * 5 s late, and a server stopping gracefully waits for that (a coord
 * handing its election over took 2.5-4.7 s instead of ~20 ms).  The
 * backup poller therefore runs every 100 ms (one short poll per process).
 *
 * Both are environment variables gRPC core reads in grpc_init()
 * (GRPC_POLL_STRATEGY, GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS); the
 * constructor below sets them before main() (one thread, no race with
 * getenv) unless they are set already, so an operator can still choose.
 * Every process that links common/rpc uses them: servers, clients, tests
 * and benchmarks.
 */
#include <grpc/grpc.h>
#include <stdlib.h>

#include "common/rpc/rpc_internal.h"

__attribute__((constructor)) static void pick_poll_engine(void)
{
    (void)setenv("GRPC_POLL_STRATEGY", "poll", 0);
    (void)setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 0);
}

void qv_rpc__grpc_init(void)
{
    grpc_init();
}
