/* session.h -- process sessions and leader election in meta KV (DESIGN §1).
 *
 * Session: every Quiver process registers "<root>session/<role>-<id>" under
 * a lease (TTL ~10 s) and refreshes it from a background thread every
 * TTL/3.  When the process dies, the lease lapses and the key disappears;
 * the coord watches "<root>session/" to learn about joins and deaths.  If a
 * refresh finds the lease gone (the process was cut off longer than the
 * TTL), the session is LOST: the on_lost callback runs once, and the
 * process must stop serving (others may already have taken over its work).
 *
 * Election: an active/standby pair (the coord) campaigns on
 * "<root>session/<name>-active": the key is created only if absent
 * (compare create_rev == 0), attached to the campaigner's session lease.
 * A standby waits on a watch of the key until it is deleted, then
 * campaigns again.  Leadership ends with the session.
 *
 * Value of a session key: one line of JSON,
 *   {"role":"coord","id":7,"address":"10.0.0.5:19531","pid":123,
 *    "start_ms":1700000000000}
 *
 * Ownership: a session borrows the metakv (it must outlive the session).
 * Threading: the keepalive thread belongs to the session; the other
 * functions are called from one owning thread; on_lost runs on the
 * keepalive thread.
 */
#ifndef QV_SESSION_H
#define QV_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/status.h"

typedef struct qv_session qv_session;

typedef struct qv_session_options {
    const char *root;          /* key root; NULL = "quiver/" */
    const char *role;          /* "proxy", "coord", ... */
    int64_t server_id;         /* unique per process (from the ID allocator or
                                  random); part of the key */
    const char *address;       /* where peers reach it ("" if none) */
    int64_t ttl_s;             /* lease TTL; 0 = 10 */
    void (*on_lost)(void *ud); /* may be NULL */
    void *on_lost_ud;
} qv_session_options;

/* Grants the lease, writes the session key and starts the keepalive
 * thread.  A key that already exists (same role and id) is QV_E_EXISTS. */
qv_code qv_session_register(metakv *kv, const qv_session_options *opts,
                            qv_session **out, qv_err *err) QV_MUST_USE;
/* Revokes the lease (the key vanishes at once) and stops the thread. */
void qv_session_close(qv_session *s);
int64_t qv_session_lease(const qv_session *s);
bool qv_session_lost(const qv_session *s);
/* The session key, e.g. "quiver/session/proxy-12". */
const char *qv_session_key(const qv_session *s);

/* One attempt to become the active instance of `name`: *won = true when
 * this session now holds "<root>session/<name>-active". */
qv_code qv_session_campaign(qv_session *s, const char *name, bool *won,
                            qv_err *err) QV_MUST_USE;
/* Campaigns until won, waiting on a watch between attempts, for at most
 * wait_ms (0 = forever) or until *stop becomes true.  QV_E_TIMEOUT or
 * QV_E_CANCELLED when it gave up. */
qv_code qv_session_campaign_wait(qv_session *s, const char *name,
                                 uint32_t wait_ms, const volatile bool *stop,
                                 qv_err *err) QV_MUST_USE;

#endif
