/* kept_session.h -- a role process's session, kept: registered with a
 * random server id, and replaced by a new one (new id, new key) when it is
 * lost, i.e. when meta KV was unreachable past the TTL, so the coord can
 * assign work to the process again.  Used by the query node, datanode and
 * indexnode processes (proxy and coord manage their sessions themselves:
 * the coord campaigns with its session, the proxy reports under its key).
 *
 * Ownership: borrows the metakv; copies every string it is given.
 * Threading: a checker thread looks every 250 ms; qv_kept_session_key may
 * be called from any thread; start and stop from the owner.
 */
#ifndef QV_KEPT_SESSION_H
#define QV_KEPT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/status.h"

typedef struct qv_kept_session qv_kept_session;

typedef struct qv_kept_session_options {
    metakv *kv;
    const char *root;    /* key root; NULL = "quiver/" */
    const char *role;    /* "querynode", "datanode", ... (also the log tag) */
    const char *address; /* where peers reach the process */
    int64_t ttl_s;       /* lease TTL; 0 = 10 */
} qv_kept_session_options;

/* Registers the session and starts the checker. */
qv_code qv_kept_session_start(const qv_kept_session_options *o,
                              qv_kept_session **out, qv_err *err) QV_MUST_USE;
/* The current session key into buf ("" when none). */
void qv_kept_session_key(qv_kept_session *k, char *buf, size_t cap);
/* Stops the checker and closes the session (its key vanishes at once). */
void qv_kept_session_stop(qv_kept_session *k);

/* A random server id in [1, 2^40] for session keys. */
int64_t qv_session_random_id(void);

#endif
