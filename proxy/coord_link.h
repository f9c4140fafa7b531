/* coord_link.h -- the proxy's client of the active coord's CoordService.
 *
 * The active coord is found in meta KV: "<root>session/coord-active" holds
 * the active coord's session key, whose JSON value has its "address".  The
 * link keeps one channel to that address and re-resolves it whenever a call
 * finds the coord UNAVAILABLE (it died, or it is a standby that lost the
 * election), retrying until the call's deadline: a coord failover is
 * ridden out by waiting, not seen by clients.  A call that is retried after
 * the coord went away may have been applied already; the DDL it forwards
 * is checked by name, so a repeated create fails with "already exists"
 * rather than doing it twice.
 *
 * Ownership: the link borrows the metakv.  Threading: calls may come from
 * any number of threads; the address and channel are guarded by a mutex.
 */
#ifndef QV_PROXY_COORD_LINK_H
#define QV_PROXY_COORD_LINK_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "common/status.h"

typedef struct qv_coord_link qv_coord_link;

qv_coord_link *qv_coord_link_create(metakv *kv, const char *root);
void qv_coord_link_destroy(qv_coord_link *l);

/* Calls CoordService `method` (e.g. "CreateCollection") with req; on
 * success *resp (in arena a) is the reply of type resp_desc.  Fails with
 * QV_E_NOT_READY when no coord is active within timeout_ms, or the RPC
 * error of the last attempt. */
qv_code qv_coord_link_call(qv_coord_link *l, const char *method,
                           const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc,
                           qv_arena *a, ProtobufCMessage **resp,
                           int64_t timeout_ms, qv_err *err) QV_MUST_USE;

/* QV_OK when meta KV names an active coord (for health checks); else
 * QV_E_NOT_READY or the meta KV's error, with a message. */
qv_code qv_coord_link_check(qv_coord_link *l, qv_err *err) QV_MUST_USE;

/* Parses "address" out of a session value; false if absent.  Exposed for
 * tests. */
bool qv_coord_link_parse_address(const char *json, char *buf, size_t cap);

#endif
