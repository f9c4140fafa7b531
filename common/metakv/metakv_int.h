/* metakv_int.h -- what meta KV backends implement and share (not for
 * callers, who use metakv.h).
 *
 * Each backend defines one metakv_ops and a state struct that starts with
 * `metakv base;`.  metakv_open() allocates sizeof(metakv) + impl_size bytes,
 * zeroed, sets base.ops and calls ops->open.  The wrappers in metakv.c
 * validate arguments (key and value sizes, txn op counts, ttl ranges) before
 * any backend sees them, so backends may assume:
 *   - keys are 1..METAKV_MAX_KEY_LEN bytes, values <= METAKV_MAX_VALUE_LEN;
 *   - out-params are non-NULL and out structs are empty or hold earlier
 *     results (backends append);
 *   - txns have at most METAKV_MAX_TXN_OPS compares and ops.
 *
 * Contract every backend keeps (the conformance suite checks it):
 *   - every call is bounded by base.timeout_ms;
 *   - errors name the backend (and endpoint) and the operation;
 *   - revisions, versions, leases and watch semantics as in metakv.h;
 *   - all calls may run concurrently from many threads, except that one
 *     watch is used by one thread at a time.
 */
#ifndef QV_METAKV_INT_H
#define QV_METAKV_INT_H

#include "common/metakv/metakv.h"

enum metakv_caps {
    METAKV_CAP_REMOTE = 1 << 0, /* talks to a server over the network */
    METAKV_CAP_AUTH = 1 << 1,   /* username/password */
    METAKV_CAP_TLS = 1 << 2,    /* TLS transport */
};

struct metakv {
    const metakv_ops *ops;
    uint32_t timeout_ms; /* from the config, defaulted */
};

/* Every backend's watch starts with this. */
struct metakv_watch {
    metakv *kv;       /* the store whose ops serve this watch */
    int64_t next_rev; /* next revision to deliver */
};

typedef struct metakv__cmp {
    uint8_t *key;
    size_t key_len;
    metakv_cmp_target target;
    metakv_cmp_op op;
    int64_t n;
    uint8_t *value;
    size_t value_len;
} metakv__cmp;

typedef struct metakv__op {
    metakv_branch branch;
    bool is_delete;
    bool prefix;
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    int64_t lease;
} metakv__op;

struct metakv_txn {
    metakv *kv;
    metakv__cmp *cmps;
    size_t n_cmps, cap_cmps;
    metakv__op *ops;
    size_t n_ops, cap_ops;
    qv_code bad; /* first argument error, reported by commit */
    char bad_msg[128];
};

struct metakv_ops {
    const char *name;
    uint32_t caps;
    size_t impl_size;
    qv_code (*open)(metakv *kv, const metakv_config *cfg, qv_err *err);
    void (*close)(metakv *kv);
    qv_code (*get)(metakv *kv, const void *key, size_t key_len, metakv_kvs *out,
                   qv_err *err);
    qv_code (*put)(metakv *kv, const void *key, size_t key_len,
                   const void *value, size_t value_len, int64_t lease,
                   int64_t *rev, qv_err *err);
    qv_code (*del)(metakv *kv, const void *key, size_t key_len, bool prefix,
                   int64_t *deleted, qv_err *err);
    qv_code (*range)(metakv *kv, const void *prefix, size_t prefix_len,
                     const metakv_range_opts *opts, metakv_kvs *out,
                     qv_err *err);
    qv_code (*revision)(metakv *kv, int64_t *rev, qv_err *err);
    qv_code (*compact)(metakv *kv, int64_t rev, qv_err *err);
    qv_code (*txn)(metakv *kv, const metakv_txn *t, bool *succeeded,
                   int64_t *rev, qv_err *err);
    qv_code (*lease_grant)(metakv *kv, int64_t ttl_s, int64_t *id, qv_err *err);
    qv_code (*lease_keepalive)(metakv *kv, int64_t id, int64_t *ttl_s,
                               qv_err *err);
    qv_code (*lease_revoke)(metakv *kv, int64_t id, qv_err *err);
    qv_code (*watch_open)(metakv *kv, const void *prefix, size_t prefix_len,
                          int64_t from_rev, metakv_watch **out, qv_err *err);
    qv_code (*watch_next)(metakv_watch *w, uint32_t wait_ms, metakv_events *out,
                          qv_err *err);
    void (*watch_close)(metakv_watch *w);
};

/* The built-in backends and decorators. */
extern const metakv_ops metakv__local_ops;
extern const metakv_ops metakv__etcd_ops;
extern const metakv_ops metakv__fault_ops;

/* Registers a backend; QV_E_EXISTS if the name is taken. */
qv_code metakv_register(const metakv_ops *ops, qv_err *err) QV_MUST_USE;

/* ---- helpers shared by backends (metakv.c) ------------------------------ */

/* Appends a kv (copies key and value); returns it. */
metakv_kv *metakv__kvs_push(metakv_kvs *r, const void *key, size_t key_len,
                            const void *value, size_t value_len);
/* Appends an event (copies key and value); returns its kv. */
metakv_kv *metakv__events_push(metakv_events *e, metakv_event_type type,
                               const void *key, size_t key_len,
                               const void *value, size_t value_len);
/* The exclusive end of the range of keys starting with prefix, as etcd
 * computes it: prefix with its last non-0xff byte + 1 and the 0xff tail
 * dropped.  *end_len = 0 means "no end" (prefix empty or all 0xff).  out
 * must hold prefix_len bytes. */
void metakv__prefix_end(const void *prefix, size_t prefix_len, uint8_t *out,
                        size_t *end_len);
/* memcmp order of byte strings (shorter first on a common prefix). */
int metakv__keycmp(const void *a, size_t an, const void *b, size_t bn);
/* True when key starts with prefix. */
bool metakv__has_prefix(const void *key, size_t key_len, const void *prefix,
                        size_t prefix_len);
/* A printable, truncated rendering of a key for error messages (cap must
 * be at least 8). */
const char *metakv__key_str(const void *key, size_t key_len, char *buf,
                            size_t cap);

#endif
