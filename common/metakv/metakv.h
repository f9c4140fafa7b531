/* metakv.h -- the meta KV interface: etcd v3 or an embedded LMDB file.
 *
 * All of Quiver's metadata (collections, segments, sessions, TSO and ID
 * windows) lives in a meta KV with etcd's data model:
 *   - keys and values are byte strings (keys 1..METAKV_MAX_KEY_LEN bytes,
 *     values 0..METAKV_MAX_VALUE_LEN bytes), ordered by memcmp;
 *   - the store has one revision, starting at 1, raised by one for every
 *     request that changes something (a txn is one revision however many
 *     keys it writes; deleting nothing changes nothing);
 *   - every key carries create_rev (revision of its creation), mod_rev (of
 *     its last change) and version (puts since creation, 1 after creating);
 *   - leases: a lease has a TTL in seconds; keys put with a lease are deleted
 *     (as one revision) when the lease expires or is revoked;
 *   - watches deliver every put/delete under a prefix from a revision on, in
 *     revision order, with nothing missed across reconnects; history older
 *     than the compaction revision is gone (QV_E_COMPACTED).
 * README.md in this folder gives the details and the exact semantics.
 *
 * Backends (registry by name): "local" (LMDB, metakv_local.c), "etcd"
 * (metakv_etcd.c); decorators wrap an open store: metakv_fault_wrap()
 * (metakv_fault.c).  Callers use the wrappers below, never ops directly.
 *
 * Errors: every call returns a qv_code and fills err (may be NULL) with a
 * lowercase message naming the backend/endpoint and the operation.  Calls
 * have a timeout (metakv_config.timeout_ms); idempotent calls are retried
 * with backoff inside that timeout.  QV_E_UNAVAILABLE / QV_E_TIMEOUT mean the
 * backend could not be reached: a write that failed so may or may not have
 * been applied (like etcd), a write that returned QV_OK is durable.
 * Out-params are written only on success.
 *
 * Threading: a metakv is usable from any number of threads at once.  A
 * metakv_watch and a metakv_txn belong to one thread at a time.  Result
 * structs (metakv_kvs, metakv_events) are plain values owned by the caller.
 */
#ifndef QV_METAKV_H
#define QV_METAKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/status.h"

#define METAKV_MAX_KEY_LEN   480u
#define METAKV_MAX_VALUE_LEN (1u << 20)
#define METAKV_MAX_TXN_OPS   128u
/* Keys + values of one txn (etcd refuses requests over 1.5 MiB). */
#define METAKV_MAX_TXN_BYTES      (5u << 18)
#define METAKV_DEFAULT_TIMEOUT_MS 5000u

typedef struct metakv metakv;
typedef struct metakv_ops metakv_ops;
typedef struct metakv_txn metakv_txn;
typedef struct metakv_watch metakv_watch;

/* ---- configuration ------------------------------------------------------ */

typedef struct metakv_config {
    uint32_t timeout_ms; /* per call, retries included; 0 = default */
    /* local (LMDB) */
    const char *dir;       /* directory of the LMDB environment (created) */
    uint64_t map_size;     /* max file size; 0 = 4 GiB (sparse) */
    uint64_t keep_revs;    /* auto-compact to rev - keep_revs; 0 = off */
    const qv_clock *clock; /* lease clock; NULL = system */
    /* etcd */
    const char *endpoints; /* "host:port[,host:port...]" */
    const char *username;  /* NULL = no auth */
    const char *password;
    bool tls;              /* TLS to every endpoint (also: https://) */
    const char *ca_file;   /* PEM roots for tls; NULL = system roots */
    const char *cert_file; /* client certificate (mutual TLS) or NULL */
    const char *key_file;  /* its private key, with cert_file */
} metakv_config;

/* ---- results ------------------------------------------------------------ */

typedef struct metakv_kv {
    uint8_t *key; /* key and value share one allocation owned by the kv */
    size_t key_len;
    uint8_t *value; /* NUL-terminated for convenience (not counted) */
    size_t value_len;
    int64_t create_rev;
    int64_t mod_rev;
    int64_t version;
    int64_t lease; /* 0 = none */
} metakv_kv;

typedef struct metakv_kvs {
    metakv_kv *kvs;
    size_t n;
    size_t cap;
    bool more;        /* range: keys remain after the last one returned */
    int64_t revision; /* store revision the answer reflects */
} metakv_kvs;

#define METAKV_KVS_INIT                                                        \
    {                                                                          \
        NULL, 0, 0, false, 0                                                   \
    }
void metakv_kvs_release(metakv_kvs *r);

typedef enum metakv_event_type {
    METAKV_EV_PUT = 0,
    METAKV_EV_DELETE = 1,
} metakv_event_type;

/* A delete event carries the key, mod_rev = the deleting revision, the
 * rest zero. */
typedef struct metakv_event {
    metakv_event_type type;
    metakv_kv kv;
} metakv_event;

typedef struct metakv_events {
    metakv_event *ev;
    size_t n;
    size_t cap;
} metakv_events;

#define METAKV_EVENTS_INIT                                                     \
    {                                                                          \
        NULL, 0, 0                                                             \
    }
void metakv_events_release(metakv_events *e);

/* ---- opening ------------------------------------------------------------ */

/* Opens backend `name` ("local", "etcd", or a registered one).  On success
 * metakv_close() must be called. */
qv_code metakv_open(const char *name, const metakv_config *cfg, metakv **out,
                    qv_err *err) QV_MUST_USE;
/* Closes the store; open watches and txns must be closed first. */
void metakv_close(metakv *kv);
/* Backend name ("local", "etcd", "fault"). */
const char *metakv_backend(const metakv *kv);

/* ---- key/value ---------------------------------------------------------- */

/* Reads one key: QV_E_NOT_FOUND when absent.  *out gets one kv. */
qv_code metakv_get(metakv *kv, const void *key, size_t key_len, metakv_kvs *out,
                   qv_err *err) QV_MUST_USE;

/* Writes key = value (lease 0 = none; an unknown lease is QV_E_NOT_FOUND).
 * *rev (may be NULL) = the revision of the write. */
qv_code metakv_put(metakv *kv, const void *key, size_t key_len,
                   const void *value, size_t value_len, int64_t lease,
                   int64_t *rev, qv_err *err) QV_MUST_USE;

/* Deletes key (prefix = false) or every key starting with key (prefix =
 * true; an empty prefix is refused).  *deleted (may be NULL) = how many. */
qv_code metakv_delete(metakv *kv, const void *key, size_t key_len, bool prefix,
                      int64_t *deleted, qv_err *err) QV_MUST_USE;

typedef struct metakv_range_opts {
    const void *after; /* start strictly after this key (NULL = at prefix) */
    size_t after_len;
    size_t limit;   /* max kvs returned; 0 = all */
    bool keys_only; /* values left empty */
} metakv_range_opts;

/* Keys starting with prefix (empty prefix = all keys), in key order, one
 * page at a time: out->more says whether to ask again with after = the
 * last key returned.  opts may be NULL. */
qv_code metakv_range(metakv *kv, const void *prefix, size_t prefix_len,
                     const metakv_range_opts *opts, metakv_kvs *out,
                     qv_err *err) QV_MUST_USE;

/* The store's current revision. */
qv_code metakv_revision(metakv *kv, int64_t *rev, qv_err *err) QV_MUST_USE;

/* Drops history before rev (watches from an older revision then fail with
 * QV_E_COMPACTED).  rev > current is QV_E_INVALID; rev <= the last
 * compaction is QV_E_COMPACTED. */
qv_code metakv_compact(metakv *kv, int64_t rev, qv_err *err) QV_MUST_USE;

/* ---- compare-and-swap transactions --------------------------------------
 * txn = metakv_txn_begin(kv);              (prepare)
 * metakv_txn_cmp_num(txn, k, kl, METAKV_CMP_MOD_REV, METAKV_EQ, rev);
 * metakv_txn_put(txn, METAKV_THEN, k, kl, v, vl, 0);
 * metakv_txn_put(txn, METAKV_ELSE, ...);   (optional else branch)
 * rc = metakv_txn_commit(txn, &ok, &rev, &err);   or metakv_txn_abort(txn)
 * All compares true -> the THEN ops run, else the ELSE ops; atomically, at
 * one revision.  A missing key has version/create_rev/mod_rev 0; a value
 * compare on a missing key is false (as etcd). */

typedef enum metakv_cmp_target {
    METAKV_CMP_VALUE = 0,
    METAKV_CMP_VERSION = 1,
    METAKV_CMP_CREATE_REV = 2,
    METAKV_CMP_MOD_REV = 3,
} metakv_cmp_target;

typedef enum metakv_cmp_op {
    METAKV_EQ = 0,
    METAKV_NE = 1,
    METAKV_LT = 2, /* key's value/number < the given one */
    METAKV_GT = 3,
} metakv_cmp_op;

typedef enum metakv_branch {
    METAKV_THEN = 0,
    METAKV_ELSE = 1,
} metakv_branch;

/* Starts building a txn (never fails; bad arguments are reported by
 * commit).  The txn copies every key and value it is given. */
metakv_txn *metakv_txn_begin(metakv *kv);
void metakv_txn_cmp_value(metakv_txn *t, const void *key, size_t key_len,
                          metakv_cmp_op op, const void *value,
                          size_t value_len);
void metakv_txn_cmp_num(metakv_txn *t, const void *key, size_t key_len,
                        metakv_cmp_target target, metakv_cmp_op op, int64_t n);
void metakv_txn_put(metakv_txn *t, metakv_branch b, const void *key,
                    size_t key_len, const void *value, size_t value_len,
                    int64_t lease);
void metakv_txn_delete(metakv_txn *t, metakv_branch b, const void *key,
                       size_t key_len, bool prefix);
/* Runs the txn and frees it (also on failure).  *succeeded = compares held
 * (THEN ran); *rev = store revision after it.  Either may be NULL. */
qv_code metakv_txn_commit(metakv_txn *t, bool *succeeded, int64_t *rev,
                          qv_err *err) QV_MUST_USE;
/* Frees the txn without running it.  NULL is a no-op. */
void metakv_txn_abort(metakv_txn *t);

/* ---- leases ------------------------------------------------------------- */

/* Grants a lease of ttl_s seconds (1..86400*365); *id != 0. */
qv_code metakv_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id,
                           qv_err *err) QV_MUST_USE;
/* Refreshes the lease to its full TTL; *ttl_s (may be NULL) = the TTL.
 * QV_E_NOT_FOUND once it expired or was revoked. */
qv_code metakv_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                               qv_err *err) QV_MUST_USE;
/* Revokes the lease and deletes its keys; QV_E_NOT_FOUND if unknown. */
qv_code metakv_lease_revoke(metakv *kv, int64_t id, qv_err *err) QV_MUST_USE;

/* ---- watches ------------------------------------------------------------ */

/* Watches keys starting with prefix from revision from_rev on (0 = changes
 * after the current revision).  from_rev older than the compaction revision
 * gives QV_E_COMPACTED (here or from metakv_watch_next()).  On success
 * metakv_watch_close() must be called. */
qv_code metakv_watch_open(metakv *kv, const void *prefix, size_t prefix_len,
                          int64_t from_rev, metakv_watch **out,
                          qv_err *err) QV_MUST_USE;
/* Waits up to wait_ms (0 = poll) for events and appends them to out in
 * revision order (all events of one revision arrive in the same call).
 * QV_OK with nothing appended when the wait passed.  While the backend is
 * unreachable it returns QV_E_UNAVAILABLE or QV_E_TIMEOUT (after at most
 * about wait_ms) and stays usable: a later call reconnects and resumes at
 * metakv_watch_next_rev(), so no event is missed or repeated.
 * QV_E_COMPACTED when events it still had to deliver were compacted away
 * (reopen from a fresh revision and re-read the state). */
qv_code metakv_watch_next(metakv_watch *w, uint32_t wait_ms, metakv_events *out,
                          qv_err *err) QV_MUST_USE;
/* The revision the watch will deliver next (reopen from it to resume). */
int64_t metakv_watch_next_rev(const metakv_watch *w);
void metakv_watch_close(metakv_watch *w);

/* ---- fault decorator (metakv_fault.c) ------------------------------------ */

/* Wraps inner (taking ownership) in a decorator that can fail calls and add
 * latency; metakv_close() on it closes inner. */
qv_code metakv_fault_wrap(metakv *inner, metakv **out, qv_err *err) QV_MUST_USE;
/* From now on: the nth call (1 = next) counted across all operations fails
 * with code (0 = never); every call sleeps latency_ms first.  Only valid on
 * a store from metakv_fault_wrap(). */
void metakv_fault_set(metakv *kv, uint64_t fail_nth, qv_code code,
                      uint32_t latency_ms);
/* Calls seen by the decorator so far. */
uint64_t metakv_fault_calls(const metakv *kv);

#endif
