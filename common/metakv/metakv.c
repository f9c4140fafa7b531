/* metakv.c -- meta KV registry, argument checks, wrappers and txn builder.
 *
 * Every public call goes through a wrapper here that validates arguments
 * once for all backends, then dispatches through kv->ops.
 */
#include "common/metakv/metakv_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* ---- registry ----------------------------------------------------------- */

#define REGISTRY_MAX 16

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const metakv_ops *registry[REGISTRY_MAX];
static size_t n_registry;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static qv_code register_locked(const metakv_ops *ops, qv_err *err)
{
    for (size_t i = 0; i < n_registry; i++)
        if (strcmp(registry[i]->name, ops->name) == 0)
            return qv_fail(err, QV_E_EXISTS,
                           "meta kv backend '%s' is already registered",
                           ops->name);
    if (n_registry == REGISTRY_MAX)
        return qv_fail(err, QV_E_NOMEM, "meta kv backend registry is full");
    registry[n_registry++] = ops;
    return QV_OK;
}

static void register_builtins(void)
{
    (void)register_locked(&metakv__local_ops, NULL);
#ifdef QV_METAKV_HAVE_ETCD
    (void)register_locked(&metakv__etcd_ops, NULL);
#endif
}

qv_code metakv_register(const metakv_ops *ops, qv_err *err)
{
    pthread_once(&builtins_once, register_builtins);
    pthread_mutex_lock(&reg_mu);
    qv_code rc = register_locked(ops, err);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static const metakv_ops *find_backend(const char *name)
{
    pthread_once(&builtins_once, register_builtins);
    const metakv_ops *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < n_registry && !found; i++)
        if (strcmp(registry[i]->name, name) == 0)
            found = registry[i];
    pthread_mutex_unlock(&reg_mu);
    return found;
}

qv_code metakv_open(const char *name, const metakv_config *cfg, metakv **out,
                    qv_err *err)
{
    const metakv_ops *ops = name ? find_backend(name) : NULL;
    if (!ops)
        return qv_fail(err, QV_E_NOT_FOUND, "unknown meta kv backend '%s'",
                       name ? name : "(null)");
    metakv *kv = qv_xcalloc(1, sizeof(metakv) + ops->impl_size);
    kv->ops = ops;
    kv->timeout_ms =
        cfg && cfg->timeout_ms ? cfg->timeout_ms : METAKV_DEFAULT_TIMEOUT_MS;
    metakv_config empty = {0};
    qv_code rc = ops->open(kv, cfg ? cfg : &empty, err);
    if (rc != QV_OK) {
        free(kv);
        return rc;
    }
    *out = kv;
    return QV_OK;
}

void metakv_close(metakv *kv)
{
    if (!kv)
        return;
    kv->ops->close(kv);
    free(kv);
}

const char *metakv_backend(const metakv *kv)
{
    return kv->ops->name;
}

/* ---- results ------------------------------------------------------------ */

static void kv_fill(metakv_kv *kv, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    memset(kv, 0, sizeof *kv);
    uint8_t *block = qv_xmalloc(key_len + value_len + 2);
    memcpy(block, key, key_len);
    block[key_len] = 0;
    if (value_len)
        memcpy(block + key_len + 1, value, value_len);
    block[key_len + 1 + value_len] = 0;
    kv->key = block;
    kv->key_len = key_len;
    kv->value = block + key_len + 1;
    kv->value_len = value_len;
}

metakv_kv *metakv__kvs_push(metakv_kvs *r, const void *key, size_t key_len,
                            const void *value, size_t value_len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->kvs = qv_xrealloc(r->kvs, r->cap * sizeof *r->kvs);
    }
    metakv_kv *kv = &r->kvs[r->n++];
    kv_fill(kv, key, key_len, value, value_len);
    return kv;
}

void metakv_kvs_release(metakv_kvs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->kvs[i].key);
    free(r->kvs);
    memset(r, 0, sizeof *r);
}

metakv_kv *metakv__events_push(metakv_events *e, metakv_event_type type,
                               const void *key, size_t key_len,
                               const void *value, size_t value_len)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->ev = qv_xrealloc(e->ev, e->cap * sizeof *e->ev);
    }
    metakv_event *ev = &e->ev[e->n++];
    ev->type = type;
    kv_fill(&ev->kv, key, key_len, value, value_len);
    return &ev->kv;
}

void metakv_events_release(metakv_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->ev[i].kv.key);
    free(e->ev);
    memset(e, 0, sizeof *e);
}

/* ---- key helpers -------------------------------------------------------- */

void metakv__prefix_end(const void *prefix, size_t prefix_len, uint8_t *out,
                        size_t *end_len)
{
    const uint8_t *p = prefix;
    size_t n = prefix_len;
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0) {
        *end_len = 0;
        return;
    }
    memcpy(out, p, n);
    out[n - 1]++;
    *end_len = n;
}

int metakv__keycmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

bool metakv__has_prefix(const void *key, size_t key_len, const void *prefix,
                        size_t prefix_len)
{
    return key_len >= prefix_len &&
           (prefix_len == 0 || memcmp(key, prefix, prefix_len) == 0);
}

const char *metakv__key_str(const void *key, size_t key_len, char *buf,
                            size_t cap)
{
    const uint8_t *k = key;
    size_t o = 0;
    for (size_t i = 0; i < key_len; i++) {
        char tmp[8];
        size_t w = 1;
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
            tmp[0] = (char)k[i];
        else
            w = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", k[i]);
        if (o + w + 4 > cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, tmp, w);
        o += w;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- argument checks ---------------------------------------------------- */

static qv_code check_key(const metakv *kv, const char *op, const void *key,
                         size_t key_len, qv_err *err)
{
    if (key_len == 0 || !key)
        return qv_fail(err, QV_E_INVALID, "%s %s: key is empty", kv->ops->name,
                       op);
    if (key_len > METAKV_MAX_KEY_LEN)
        return qv_fail(err, QV_E_INVALID,
                       "%s %s: key of %zu bytes is longer than %u",
                       kv->ops->name, op, key_len, METAKV_MAX_KEY_LEN);
    return QV_OK;
}

static qv_code check_value(const metakv *kv, const char *op, const void *value,
                           size_t value_len, qv_err *err)
{
    if (value_len > METAKV_MAX_VALUE_LEN)
        return qv_fail(err, QV_E_INVALID,
                       "%s %s: value of %zu bytes is larger than %u",
                       kv->ops->name, op, value_len, METAKV_MAX_VALUE_LEN);
    if (value_len && !value)
        return qv_fail(err, QV_E_INVALID, "%s %s: value is NULL", kv->ops->name,
                       op);
    return QV_OK;
}

/* ---- wrappers ----------------------------------------------------------- */

qv_code metakv_get(metakv *kv, const void *key, size_t key_len, metakv_kvs *out,
                   qv_err *err)
{
    qv_code rc = check_key(kv, "get", key, key_len, err);
    if (rc != QV_OK)
        return rc;
    metakv_kvs tmp = METAKV_KVS_INIT;
    rc = kv->ops->get(kv, key, key_len, &tmp, err);
    if (rc != QV_OK) {
        metakv_kvs_release(&tmp);
        return rc;
    }
    metakv_kvs_release(out);
    *out = tmp;
    return QV_OK;
}

qv_code metakv_put(metakv *kv, const void *key, size_t key_len,
                   const void *value, size_t value_len, int64_t lease,
                   int64_t *rev, qv_err *err)
{
    qv_code rc = check_key(kv, "put", key, key_len, err);
    if (rc == QV_OK)
        rc = check_value(kv, "put", value, value_len, err);
    if (rc == QV_OK && lease < 0)
        rc = qv_fail(err, QV_E_INVALID, "%s put: negative lease id",
                     kv->ops->name);
    if (rc != QV_OK)
        return rc;
    int64_t r = 0;
    rc = kv->ops->put(kv, key, key_len, value, value_len, lease, &r, err);
    if (rc == QV_OK && rev)
        *rev = r;
    return rc;
}

qv_code metakv_delete(metakv *kv, const void *key, size_t key_len, bool prefix,
                      int64_t *deleted, qv_err *err)
{
    qv_code rc =
        check_key(kv, prefix ? "delete prefix" : "delete", key, key_len, err);
    if (rc != QV_OK)
        return rc;
    int64_t d = 0;
    rc = kv->ops->del(kv, key, key_len, prefix, &d, err);
    if (rc == QV_OK && deleted)
        *deleted = d;
    return rc;
}

qv_code metakv_range(metakv *kv, const void *prefix, size_t prefix_len,
                     const metakv_range_opts *opts, metakv_kvs *out,
                     qv_err *err)
{
    metakv_range_opts o = {0};
    if (opts)
        o = *opts;
    if (prefix_len > METAKV_MAX_KEY_LEN || (prefix_len && !prefix))
        return qv_fail(err, QV_E_INVALID, "%s range: bad prefix",
                       kv->ops->name);
    if (o.after && o.after_len > METAKV_MAX_KEY_LEN)
        return qv_fail(err, QV_E_INVALID, "%s range: bad start key",
                       kv->ops->name);
    if (o.after_len == 0)
        o.after = NULL;
    metakv_kvs tmp = METAKV_KVS_INIT;
    qv_code rc = kv->ops->range(kv, prefix, prefix_len, &o, &tmp, err);
    if (rc != QV_OK) {
        metakv_kvs_release(&tmp);
        return rc;
    }
    metakv_kvs_release(out);
    *out = tmp;
    return QV_OK;
}

qv_code metakv_revision(metakv *kv, int64_t *rev, qv_err *err)
{
    int64_t r = 0;
    qv_code rc = kv->ops->revision(kv, &r, err);
    if (rc == QV_OK)
        *rev = r;
    return rc;
}

qv_code metakv_compact(metakv *kv, int64_t rev, qv_err *err)
{
    if (rev <= 0)
        return qv_fail(err, QV_E_INVALID, "%s compact: bad revision %lld",
                       kv->ops->name, (long long)rev);
    return kv->ops->compact(kv, rev, err);
}

qv_code metakv_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id, qv_err *err)
{
    if (ttl_s < 1 || ttl_s > 86400LL * 365)
        return qv_fail(err, QV_E_INVALID, "%s lease grant: bad ttl %lld s",
                       kv->ops->name, (long long)ttl_s);
    int64_t i = 0;
    qv_code rc = kv->ops->lease_grant(kv, ttl_s, &i, err);
    if (rc == QV_OK)
        *id = i;
    return rc;
}

qv_code metakv_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                               qv_err *err)
{
    if (id <= 0)
        return qv_fail(err, QV_E_NOT_FOUND, "%s lease keepalive: no lease %lld",
                       kv->ops->name, (long long)id);
    int64_t t = 0;
    qv_code rc = kv->ops->lease_keepalive(kv, id, &t, err);
    if (rc == QV_OK && ttl_s)
        *ttl_s = t;
    return rc;
}

qv_code metakv_lease_revoke(metakv *kv, int64_t id, qv_err *err)
{
    if (id <= 0)
        return qv_fail(err, QV_E_NOT_FOUND, "%s lease revoke: no lease %lld",
                       kv->ops->name, (long long)id);
    return kv->ops->lease_revoke(kv, id, err);
}

qv_code metakv_watch_open(metakv *kv, const void *prefix, size_t prefix_len,
                          int64_t from_rev, metakv_watch **out, qv_err *err)
{
    if (prefix_len > METAKV_MAX_KEY_LEN || (prefix_len && !prefix) ||
        from_rev < 0)
        return qv_fail(err, QV_E_INVALID, "%s watch: bad prefix or revision",
                       kv->ops->name);
    metakv_watch *w = NULL;
    qv_code rc = kv->ops->watch_open(kv, prefix, prefix_len, from_rev, &w, err);
    if (rc == QV_OK)
        *out = w;
    return rc;
}

qv_code metakv_watch_next(metakv_watch *w, uint32_t wait_ms, metakv_events *out,
                          qv_err *err)
{
    return w->kv->ops->watch_next(w, wait_ms, out, err);
}

int64_t metakv_watch_next_rev(const metakv_watch *w)
{
    return w->next_rev;
}

void metakv_watch_close(metakv_watch *w)
{
    if (w)
        w->kv->ops->watch_close(w);
}

/* ---- txn builder -------------------------------------------------------- */

metakv_txn *metakv_txn_begin(metakv *kv)
{
    metakv_txn *t = QV_NEW(metakv_txn);
    t->kv = kv;
    return t;
}

static void txn_bad(metakv_txn *t, const char *what, size_t key_len,
                    size_t value_len)
{
    if (t->bad != QV_OK)
        return;
    t->bad = QV_E_INVALID;
    (void)snprintf(t->bad_msg, sizeof t->bad_msg,
                   "%s (key %zu bytes, value %zu bytes)", what, key_len,
                   value_len);
}

static bool txn_key_ok(metakv_txn *t, const char *what, const void *key,
                       size_t key_len, size_t value_len)
{
    if (!key || key_len == 0 || key_len > METAKV_MAX_KEY_LEN ||
        value_len > METAKV_MAX_VALUE_LEN) {
        txn_bad(t, what, key_len, value_len);
        return false;
    }
    if (t->n_cmps + t->n_ops >= 2 * (size_t)METAKV_MAX_TXN_OPS) {
        txn_bad(t, "too many operations", key_len, value_len);
        return false;
    }
    return true;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = qv_xmalloc(n + 1);
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    return d;
}

static metakv__cmp *cmp_push(metakv_txn *t, const void *key, size_t key_len)
{
    if (t->n_cmps == t->cap_cmps) {
        t->cap_cmps = t->cap_cmps ? t->cap_cmps * 2 : 4;
        t->cmps = qv_xrealloc(t->cmps, t->cap_cmps * sizeof *t->cmps);
    }
    metakv__cmp *c = &t->cmps[t->n_cmps++];
    memset(c, 0, sizeof *c);
    c->key = dup_bytes(key, key_len);
    c->key_len = key_len;
    return c;
}

void metakv_txn_cmp_value(metakv_txn *t, const void *key, size_t key_len,
                          metakv_cmp_op op, const void *value, size_t value_len)
{
    if (!txn_key_ok(t, "bad compare", key, key_len, value_len))
        return;
    if (value_len && !value) {
        txn_bad(t, "compare value is NULL", key_len, value_len);
        return;
    }
    metakv__cmp *c = cmp_push(t, key, key_len);
    c->target = METAKV_CMP_VALUE;
    c->op = op;
    c->value = dup_bytes(value, value_len);
    c->value_len = value_len;
}

void metakv_txn_cmp_num(metakv_txn *t, const void *key, size_t key_len,
                        metakv_cmp_target target, metakv_cmp_op op, int64_t n)
{
    if (!txn_key_ok(t, "bad compare", key, key_len, 0))
        return;
    if (target == METAKV_CMP_VALUE) {
        txn_bad(t, "numeric compare on the value", key_len, 0);
        return;
    }
    metakv__cmp *c = cmp_push(t, key, key_len);
    c->target = target;
    c->op = op;
    c->n = n;
}

static metakv__op *op_push(metakv_txn *t, metakv_branch b, const void *key,
                           size_t key_len)
{
    if (t->n_ops == t->cap_ops) {
        t->cap_ops = t->cap_ops ? t->cap_ops * 2 : 4;
        t->ops = qv_xrealloc(t->ops, t->cap_ops * sizeof *t->ops);
    }
    metakv__op *o = &t->ops[t->n_ops++];
    memset(o, 0, sizeof *o);
    o->branch = b;
    o->key = dup_bytes(key, key_len);
    o->key_len = key_len;
    return o;
}

void metakv_txn_put(metakv_txn *t, metakv_branch b, const void *key,
                    size_t key_len, const void *value, size_t value_len,
                    int64_t lease)
{
    if (!txn_key_ok(t, "bad put", key, key_len, value_len))
        return;
    if ((value_len && !value) || lease < 0) {
        txn_bad(t, "bad put value or lease", key_len, value_len);
        return;
    }
    metakv__op *o = op_push(t, b, key, key_len);
    o->value = dup_bytes(value, value_len);
    o->value_len = value_len;
    o->lease = lease;
}

void metakv_txn_delete(metakv_txn *t, metakv_branch b, const void *key,
                       size_t key_len, bool prefix)
{
    if (!txn_key_ok(t, "bad delete", key, key_len, 0))
        return;
    metakv__op *o = op_push(t, b, key, key_len);
    o->is_delete = true;
    o->prefix = prefix;
}

void metakv_txn_abort(metakv_txn *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cmps; i++) {
        free(t->cmps[i].key);
        free(t->cmps[i].value);
    }
    for (size_t i = 0; i < t->n_ops; i++) {
        free(t->ops[i].key);
        free(t->ops[i].value);
    }
    free(t->cmps);
    free(t->ops);
    free(t);
}

qv_code metakv_txn_commit(metakv_txn *t, bool *succeeded, int64_t *rev,
                          qv_err *err)
{
    metakv *kv = t->kv;
    qv_code rc;
    size_t n_then = 0, n_else = 0, bytes = 0;
    for (size_t i = 0; i < t->n_ops; i++) {
        if (t->ops[i].branch == METAKV_THEN)
            n_then++;
        else
            n_else++;
        bytes += t->ops[i].key_len + t->ops[i].value_len;
    }
    for (size_t i = 0; i < t->n_cmps; i++)
        bytes += t->cmps[i].key_len + t->cmps[i].value_len;
    if (t->bad != QV_OK)
        rc = qv_fail(err, t->bad, "%s txn: %s", kv->ops->name, t->bad_msg);
    else if (t->n_cmps > METAKV_MAX_TXN_OPS || n_then > METAKV_MAX_TXN_OPS ||
             n_else > METAKV_MAX_TXN_OPS)
        rc = qv_fail(err, QV_E_INVALID,
                     "%s txn: more than %u compares or ops in a branch",
                     kv->ops->name, METAKV_MAX_TXN_OPS);
    else if (bytes > METAKV_MAX_TXN_BYTES)
        rc = qv_fail(err, QV_E_INVALID,
                     "%s txn: %zu bytes of keys and values, more than %u",
                     kv->ops->name, bytes, METAKV_MAX_TXN_BYTES);
    else {
        bool ok = false;
        int64_t r = 0;
        rc = kv->ops->txn(kv, t, &ok, &r, err);
        if (rc == QV_OK) {
            if (succeeded)
                *succeeded = ok;
            if (rev)
                *rev = r;
        }
    }
    metakv_txn_abort(t);
    return rc;
}
