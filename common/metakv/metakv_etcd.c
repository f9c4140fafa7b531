/* metakv_etcd.c -- the cluster meta KV: etcd's v3 gRPC API.
 *
 * Speaks KV (Range, Put, DeleteRange, Txn, Compact), Lease (Grant, Revoke,
 * KeepAlive) and Auth.Authenticate through the RPC client
 * (common/rpc/rpc_client.h) with our own subset of etcd's .proto
 * (proto/etcd/rpc.proto).  Watches are in metakv_etcd_watch.c.
 *
 * Endpoints and failover: `endpoints` lists one or more "host:port"; calls
 * go to the current one and move to the next when it is unreachable.
 * Calls are fail-fast at the gRPC level (no waiting for a connection), and
 * this file retries:
 *   - idempotent calls (range, get, put, delete, keepalive, revoke) are
 *     retried with exponential backoff (50 ms .. 1 s, jittered) over the
 *     endpoints until the store's timeout;
 *   - non-idempotent calls (txn, lease grant, compact) are never resent:
 *     when the last call failed to reach etcd they first probe with a cheap
 *     Range (retried as above), so they go out on a connected endpoint.
 * Auth: with a username, Auth.Authenticate gives a token sent as "token"
 * metadata; a refused token (expired, or etcd restarted) is renewed once
 * per call.
 *
 * Threading: any number of threads; `mu` guards the endpoint cursor, the
 * health flag and the token.  Channels are thread-safe.
 */
#include "common/metakv/metakv_etcd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"

#define BACKOFF_FIRST_MS       50
#define BACKOFF_MAX_MS         1000
#define GRPC_UNAVAILABLE       14
#define GRPC_UNAUTHENTICATED   16
#define GRPC_DEADLINE          4
#define GRPC_PERMISSION_DENIED 7

/* ---- helpers ------------------------------------------------------------ */

int64_t metakv__etcd_left_ms(uint64_t deadline_ms)
{
    uint64_t now = qv_mono_ms(qv_clock_system());
    return now >= deadline_ms ? 0 : (int64_t)(deadline_ms - now);
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    ProtobufCBinaryData b = {.len = n, .data = (uint8_t *)p};
    return b;
}

static const uint8_t zero_byte[1] = {0};

/* Sets key/range_end for "every key starting with prefix". */
static void prefix_range(const void *prefix, size_t prefix_len,
                         ProtobufCBinaryData *key, ProtobufCBinaryData *end,
                         uint8_t *end_buf)
{
    size_t n = 0;
    metakv__prefix_end(prefix, prefix_len, end_buf, &n);
    *key = prefix_len ? bin(prefix, prefix_len) : bin(zero_byte, 1);
    *end = n ? bin(end_buf, n) : bin(zero_byte, 1);
}

size_t metakv__etcd_auth_md(etcd_kv *ek, qv_rpc_md *md, char *tokbuf,
                            size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&ek->mu);
    if (ek->token && strlen(ek->token) < cap) {
        (void)snprintf(tokbuf, cap, "%s", ek->token);
        md[0].key = "token";
        md[0].value = tokbuf;
        n = 1;
    }
    pthread_mutex_unlock(&ek->mu);
    return n;
}

/* Maps etcd's error texts to our codes (the gRPC codes are too coarse). */
static qv_code map_etcd_error(qv_code rc, qv_err *err)
{
    const char *m = err ? err->msg : "";
    qv_code c = rc;
    if (strstr(m, "required revision has been compacted"))
        c = QV_E_COMPACTED;
    else if (strstr(m, "requested lease not found") ||
             strstr(m, "lease not found"))
        c = QV_E_NOT_FOUND;
    else if (strstr(m, "authentication failed") ||
             strstr(m, "permission denied") ||
             strstr(m, "user name is empty") || strstr(m, "invalid auth token"))
        c = QV_E_PERMISSION;
    else if (strstr(m, "required revision is a future revision") ||
             strstr(m, "too many operations") ||
             strstr(m, "request is too large") ||
             strstr(m, "key is not provided"))
        c = QV_E_INVALID;
    if (err)
        err->code = c;
    return c;
}

/* ---- auth --------------------------------------------------------------- */

static qv_code auth_attempt(etcd_kv *ek, etcd_ep *ep, const qv_rpc_md *md,
                            size_t n_md, int64_t timeout_ms, void *ctx,
                            int *status, qv_err *err)
{
    (void)md;
    (void)n_md;
    (void)ctx;
    Etcdserverpb__AuthenticateRequest req =
        ETCDSERVERPB__AUTHENTICATE_REQUEST__INIT;
    req.name = ek->username;
    req.password = ek->password;
    qv_arena a;
    qv_arena_init(&a, 0);
    ProtobufCMessage *resp = NULL;
    qv_rpc_call_opts o = {
        .timeout_ms = timeout_ms, .max_attempts = 1, .status_out = status};
    qv_code rc = qv_rpc_unary(
        ep->ch, "/etcdserverpb.Auth/Authenticate", &req.base,
        &etcdserverpb__authenticate_response__descriptor, &a, &resp, &o, err);
    if (rc == QV_OK) {
        Etcdserverpb__AuthenticateResponse *r = (void *)resp;
        pthread_mutex_lock(&ek->mu);
        free(ek->token);
        ek->token = qv_xstrdup(r->token);
        pthread_mutex_unlock(&ek->mu);
    }
    qv_arena_release(&a);
    return rc;
}

static qv_code authenticate(etcd_kv *ek, qv_err *err)
{
    return metakv__etcd_run(ek, "authenticate", ek->username, true,
                            auth_attempt, NULL, err);
}

/* ---- the retry driver --------------------------------------------------- */

static etcd_ep *current_ep(etcd_kv *ek, bool *healthy)
{
    pthread_mutex_lock(&ek->mu);
    etcd_ep *ep = &ek->eps[ek->cur];
    *healthy = ek->healthy;
    pthread_mutex_unlock(&ek->mu);
    return ep;
}

static void mark(etcd_kv *ek, etcd_ep *ep, bool ok)
{
    pthread_mutex_lock(&ek->mu);
    if (&ek->eps[ek->cur] == ep) {
        ek->healthy = ok;
        if (!ok)
            ek->cur = (ek->cur + 1) % ek->n_eps;
    }
    pthread_mutex_unlock(&ek->mu);
}

static qv_code probe_attempt(etcd_kv *ek, etcd_ep *ep, const qv_rpc_md *md,
                             size_t n_md, int64_t timeout_ms, void *ctx,
                             int *status, qv_err *err);

static int64_t backoff(int n)
{
    int64_t ms = BACKOFF_FIRST_MS << (n < 5 ? n : 5);
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    return ms / 2 + (int64_t)(rand() % (int)(ms / 2 + 1));
}

qv_code metakv__etcd_run(etcd_kv *ek, const char *op, const char *subject,
                         bool idempotent, etcd_attempt_fn attempt, void *ctx,
                         qv_err *err)
{
    return metakv__etcd_run_for(ek, ek->base.timeout_ms, op, subject,
                                idempotent, attempt, ctx, err);
}

qv_code metakv__etcd_run_for(etcd_kv *ek, uint32_t timeout_ms, const char *op,
                             const char *subject, bool idempotent,
                             etcd_attempt_fn attempt, void *ctx, qv_err *err)
{
    uint64_t deadline = qv_mono_ms(qv_clock_system()) + timeout_ms;
    qv_code rc = QV_E_UNAVAILABLE;
    bool reauthed = false;
    etcd_ep *ep = NULL;
    qv_err e = {0};
    for (int n = 0;; n++) {
        bool healthy;
        ep = current_ep(ek, &healthy);
        int64_t left = metakv__etcd_left_ms(deadline);
        if (left <= 0 && n > 0) {
            if (rc == QV_OK) /* the probe got through, the call did not */
                rc = qv_fail(&e, QV_E_TIMEOUT, "no time left to send it");
            break;
        }
        char tok[1024];
        qv_rpc_md md[1];
        size_t n_md = metakv__etcd_auth_md(ek, md, tok, sizeof tok);
        int status = 0;
        qv_err_clear(&e);
        bool probing = !idempotent && !healthy;
        /* With several endpoints one attempt gets a share of the time, so
         * a dead endpoint cannot use it all up. */
        int64_t budget = left;
        if (ek->n_eps > 1) {
            budget = (int64_t)(timeout_ms / ek->n_eps);
            budget = budget < 250 ? 250 : budget;
            budget = budget > left ? left : budget;
        }
        rc = (probing ? probe_attempt : attempt)(
            ek, ep, md, n_md, budget, probing ? NULL : ctx, &status, &e);
        if (rc == QV_OK) {
            mark(ek, ep, true);
            if (probing)
                continue; /* reached etcd: now send the real call */
            return QV_OK;
        }
        if ((status == GRPC_UNAUTHENTICATED ||
             strstr(e.msg, "invalid auth token")) &&
            ek->username && !reauthed && attempt != auth_attempt) {
            reauthed = true;
            rc = authenticate(ek, &e);
            if (rc != QV_OK)
                break;
            continue;
        }
        bool unreachable = status == GRPC_UNAVAILABLE ||
                           status == GRPC_DEADLINE ||
                           qv_code_primary(rc) == QV_E_UNAVAILABLE;
        if (!unreachable)
            break;
        mark(ek, ep, false);
        if (!idempotent && !probing)
            break; /* may have been applied: never resend */
        int64_t wait = backoff(n);
        left = metakv__etcd_left_ms(deadline);
        if (left <= 0)
            break;
        qv_sleep_ms((uint64_t)(wait < left ? wait : left));
    }
    rc = map_etcd_error(rc, &e);
    if (qv_code_primary(rc) == QV_E_UNAVAILABLE ||
        qv_code_primary(rc) == QV_E_TIMEOUT)
        (void)qv_err_prefix(&e,
                            "etcd unreachable (endpoints tried until %u "
                            "ms timeout)",
                            timeout_ms);
    (void)qv_fail(err, rc, "etcd %s: %s '%s': %s", ep ? ep->target : "?", op,
                  subject ? subject : "", e.msg);
    if (err)
        err->sys_errno = e.sys_errno;
    return rc;
}

/* ---- unary calls -------------------------------------------------------- */

typedef struct unary_ctx {
    const char *method;
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *desc;
    qv_arena *arena;
    ProtobufCMessage *resp;
} unary_ctx;

static qv_code unary_attempt(etcd_kv *ek, etcd_ep *ep, const qv_rpc_md *md,
                             size_t n_md, int64_t timeout_ms, void *ctx,
                             int *status, qv_err *err)
{
    (void)ek;
    unary_ctx *u = ctx;
    qv_rpc_call_opts o = {.timeout_ms = timeout_ms > 0 ? timeout_ms : 1,
                          .max_attempts = 1,
                          .md = md,
                          .n_md = n_md,
                          .status_out = status};
    return qv_rpc_unary(ep->ch, u->method, u->req, u->desc, u->arena, &u->resp,
                        &o, err);
}

/* A unary call; the reply lives in arena. */
static qv_code call(etcd_kv *ek, const char *op, const void *key,
                    size_t key_len, bool idempotent, unary_ctx *u, qv_err *err)
{
    char ks[80];
    return metakv__etcd_run(
        ek, op, key ? metakv__key_str(key, key_len, ks, sizeof ks) : "",
        idempotent, unary_attempt, u, err);
}

static qv_code probe_attempt(etcd_kv *ek, etcd_ep *ep, const qv_rpc_md *md,
                             size_t n_md, int64_t timeout_ms, void *ctx,
                             int *status, qv_err *err)
{
    (void)ctx;
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin(zero_byte, 1);
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Range", &req.base,
                   &etcdserverpb__range_response__descriptor, &a, NULL};
    qv_code rc = unary_attempt(ek, ep, md, n_md, timeout_ms, &u, status, err);
    if (rc != QV_OK && !ctx && *status == GRPC_PERMISSION_DENIED)
        rc = QV_OK; /* reached etcd; this user may not read "\0" */
    if (rc == QV_OK && ctx)
        *(int64_t *)ctx =
            ((Etcdserverpb__RangeResponse *)u.resp)->header
                ? ((Etcdserverpb__RangeResponse *)u.resp)->header->revision
                : 0;
    qv_arena_release(&a);
    return rc;
}

/* ---- KV ----------------------------------------------------------------- */

static void push_kv(metakv_kvs *out, const Etcdserverpb__KeyValue *k)
{
    metakv_kv *kv = metakv__kvs_push(out, k->key.data, k->key.len,
                                     k->value.data, k->value.len);
    kv->create_rev = k->create_revision;
    kv->mod_rev = k->mod_revision;
    kv->version = k->version;
    kv->lease = k->lease;
}

static int64_t header_rev(const Etcdserverpb__ResponseHeader *h)
{
    return h ? h->revision : 0;
}

static qv_code etcd_get(metakv *kv, const void *key, size_t key_len,
                        metakv_kvs *out, qv_err *err)
{
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin(key, key_len);
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Range", &req.base,
                   &etcdserverpb__range_response__descriptor, &a, NULL};
    qv_code rc = call(E(kv), "get", key, key_len, true, &u, err);
    if (rc == QV_OK) {
        Etcdserverpb__RangeResponse *r = (void *)u.resp;
        char ks[80];
        if (r->n_kvs == 0)
            rc = qv_fail(err, QV_E_NOT_FOUND, "etcd get '%s': no such key",
                         metakv__key_str(key, key_len, ks, sizeof ks));
        else {
            push_kv(out, r->kvs[0]);
            out->revision = header_rev(r->header);
        }
    }
    qv_arena_release(&a);
    return rc;
}

static qv_code etcd_put(metakv *kv, const void *key, size_t key_len,
                        const void *value, size_t value_len, int64_t lease,
                        int64_t *rev, qv_err *err)
{
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = bin(key, key_len);
    req.value = bin(value_len ? value : zero_byte, value_len);
    req.lease = lease;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Put", &req.base,
                   &etcdserverpb__put_response__descriptor, &a, NULL};
    qv_code rc = call(E(kv), "put", key, key_len, true, &u, err);
    if (rc == QV_OK)
        *rev = header_rev(((Etcdserverpb__PutResponse *)u.resp)->header);
    qv_arena_release(&a);
    return rc;
}

static qv_code etcd_del(metakv *kv, const void *key, size_t key_len,
                        bool prefix, int64_t *deleted, qv_err *err)
{
    Etcdserverpb__DeleteRangeRequest req =
        ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    uint8_t end[METAKV_MAX_KEY_LEN];
    if (prefix)
        prefix_range(key, key_len, &req.key, &req.range_end, end);
    else
        req.key = bin(key, key_len);
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/DeleteRange", &req.base,
                   &etcdserverpb__delete_range_response__descriptor, &a, NULL};
    qv_code rc = call(E(kv), prefix ? "delete prefix" : "delete", key, key_len,
                      true, &u, err);
    if (rc == QV_OK)
        *deleted = ((Etcdserverpb__DeleteRangeResponse *)u.resp)->deleted;
    qv_arena_release(&a);
    return rc;
}

static qv_code etcd_range(metakv *kv, const void *prefix, size_t prefix_len,
                          const metakv_range_opts *o, metakv_kvs *out,
                          qv_err *err)
{
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    uint8_t end[METAKV_MAX_KEY_LEN], start[METAKV_MAX_KEY_LEN + 1];
    prefix_range(prefix, prefix_len, &req.key, &req.range_end, end);
    if (o->after &&
        metakv__keycmp(o->after, o->after_len, prefix, prefix_len) >= 0) {
        /* The first key after `after` is after + "\0". */
        memcpy(start, o->after, o->after_len);
        start[o->after_len] = 0;
        req.key = bin(start, o->after_len + 1);
    }
    req.limit = (int64_t)o->limit;
    req.keys_only = o->keys_only;
    req.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__ASCEND;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Range", &req.base,
                   &etcdserverpb__range_response__descriptor, &a, NULL};
    qv_code rc = call(E(kv), "range", prefix, prefix_len, true, &u, err);
    if (rc == QV_OK) {
        Etcdserverpb__RangeResponse *r = (void *)u.resp;
        for (size_t i = 0; i < r->n_kvs; i++)
            push_kv(out, r->kvs[i]);
        out->more = r->more;
        out->revision = header_rev(r->header);
    }
    qv_arena_release(&a);
    return rc;
}

qv_code metakv__etcd_revision(metakv *kv, int64_t *rev, qv_err *err)
{
    return metakv__etcd_probe(kv, kv->timeout_ms, rev, err);
}

qv_code metakv__etcd_reach(metakv *kv, uint32_t timeout_ms, qv_err *err)
{
    return metakv__etcd_run_for(E(kv), timeout_ms, "connect", "", true,
                                probe_attempt, NULL, err);
}

qv_code metakv__etcd_prefix_rev(metakv *kv, const void *prefix,
                                size_t prefix_len, int64_t *rev, qv_err *err)
{
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    uint8_t end[METAKV_MAX_KEY_LEN];
    prefix_range(prefix, prefix_len, &req.key, &req.range_end, end);
    req.count_only = true;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Range", &req.base,
                   &etcdserverpb__range_response__descriptor, &a, NULL};
    qv_code rc = call(E(kv), "watch", prefix, prefix_len, true, &u, err);
    if (rc == QV_OK)
        *rev = header_rev(((Etcdserverpb__RangeResponse *)u.resp)->header);
    qv_arena_release(&a);
    return rc;
}

qv_code metakv__etcd_probe(metakv *kv, uint32_t timeout_ms, int64_t *rev,
                           qv_err *err)
{
    int64_t r = 0;
    qv_code rc = metakv__etcd_run_for(E(kv), timeout_ms, "revision", "", true,
                                      probe_attempt, &r, err);
    if (rc == QV_OK)
        *rev = r;
    return rc;
}

static qv_code etcd_compact(metakv *kv, int64_t rev, qv_err *err)
{
    Etcdserverpb__CompactionRequest req =
        ETCDSERVERPB__COMPACTION_REQUEST__INIT;
    req.revision = rev;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.KV/Compact", &req.base,
                   &etcdserverpb__compaction_response__descriptor, &a, NULL};
    char subj[32];
    (void)snprintf(subj, sizeof subj, "%lld", (long long)rev);
    qv_code rc =
        metakv__etcd_run(E(kv), "compact", subj, false, unary_attempt, &u, err);
    qv_arena_release(&a);
    return rc;
}

/* ---- txn ---------------------------------------------------------------- */

static const Etcdserverpb__Compare__CompareResult cmp_ops[] = {
    [METAKV_EQ] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL,
    [METAKV_NE] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL,
    [METAKV_LT] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS,
    [METAKV_GT] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER,
};

static Etcdserverpb__Compare *build_cmp(qv_arena *a, const metakv__cmp *c)
{
    Etcdserverpb__Compare *m = qv_arena_alloc(a, sizeof *m);
    etcdserverpb__compare__init(m);
    m->key = bin(c->key, c->key_len);
    m->result = cmp_ops[c->op];
    switch (c->target) {
    case METAKV_CMP_VALUE:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
        m->value = bin(c->value_len ? c->value : zero_byte, c->value_len);
        break;
    case METAKV_CMP_VERSION:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
        m->version = c->n;
        break;
    case METAKV_CMP_CREATE_REV:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
        m->target_union_case =
            ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
        m->create_revision = c->n;
        break;
    case METAKV_CMP_MOD_REV:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
        m->mod_revision = c->n;
        break;
    }
    return m;
}

static Etcdserverpb__RequestOp *build_op(qv_arena *a, const metakv__op *o)
{
    Etcdserverpb__RequestOp *r = qv_arena_alloc(a, sizeof *r);
    etcdserverpb__request_op__init(r);
    if (o->is_delete) {
        Etcdserverpb__DeleteRangeRequest *d = qv_arena_alloc(a, sizeof *d);
        etcdserverpb__delete_range_request__init(d);
        if (o->prefix) {
            uint8_t *end = qv_arena_alloc(a, o->key_len);
            prefix_range(o->key, o->key_len, &d->key, &d->range_end, end);
        } else {
            d->key = bin(o->key, o->key_len);
        }
        r->request_case =
            ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
        r->request_delete_range = d;
    } else {
        Etcdserverpb__PutRequest *p = qv_arena_alloc(a, sizeof *p);
        etcdserverpb__put_request__init(p);
        p->key = bin(o->key, o->key_len);
        p->value = bin(o->value_len ? o->value : zero_byte, o->value_len);
        p->lease = o->lease;
        r->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
        r->request_put = p;
    }
    return r;
}

/* An arena array of n pointers (zeroed). */
static void **ptr_array(qv_arena *a, size_t n)
{
    return qv_arena_calloc(a, n, sizeof(void *));
}

static qv_code etcd_txn(metakv *kv, const metakv_txn *t, bool *succeeded,
                        int64_t *rev, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.compare = (Etcdserverpb__Compare **)ptr_array(&a, t->n_cmps + 1);
    req.success = (Etcdserverpb__RequestOp **)ptr_array(&a, t->n_ops + 1);
    req.failure = (Etcdserverpb__RequestOp **)ptr_array(&a, t->n_ops + 1);
    for (size_t i = 0; i < t->n_cmps; i++)
        req.compare[req.n_compare++] = build_cmp(&a, &t->cmps[i]);
    for (size_t i = 0; i < t->n_ops; i++) {
        Etcdserverpb__RequestOp *op = build_op(&a, &t->ops[i]);
        if (t->ops[i].branch == METAKV_THEN)
            req.success[req.n_success++] = op;
        else
            req.failure[req.n_failure++] = op;
    }
    unary_ctx u = {"/etcdserverpb.KV/Txn", &req.base,
                   &etcdserverpb__txn_response__descriptor, &a, NULL};
    const metakv__cmp *c0 = t->n_cmps ? &t->cmps[0] : NULL;
    const metakv__op *o0 = t->n_ops ? &t->ops[0] : NULL;
    const uint8_t *k = c0 ? c0->key : o0 ? o0->key : NULL;
    size_t kl = c0 ? c0->key_len : o0 ? o0->key_len : 0;
    qv_code rc = call(E(kv), "txn", k, kl, false, &u, err);
    if (rc == QV_OK) {
        Etcdserverpb__TxnResponse *r = (void *)u.resp;
        *succeeded = r->succeeded;
        *rev = header_rev(r->header);
    }
    qv_arena_release(&a);
    return rc;
}

/* ---- leases ------------------------------------------------------------- */

static qv_code etcd_lease_grant(metakv *kv, int64_t ttl_s, int64_t *id,
                                qv_err *err)
{
    Etcdserverpb__LeaseGrantRequest req =
        ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
    req.ttl = ttl_s;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.Lease/LeaseGrant", &req.base,
                   &etcdserverpb__lease_grant_response__descriptor, &a, NULL};
    char subj[32];
    (void)snprintf(subj, sizeof subj, "ttl %lld s", (long long)ttl_s);
    qv_code rc = metakv__etcd_run(E(kv), "lease grant", subj, false,
                                  unary_attempt, &u, err);
    if (rc == QV_OK) {
        Etcdserverpb__LeaseGrantResponse *r = (void *)u.resp;
        if (r->error && *r->error)
            rc = qv_fail(err, QV_E_INTERNAL, "etcd lease grant: %s", r->error);
        else
            *id = r->id;
    }
    qv_arena_release(&a);
    return rc;
}

typedef struct keepalive_ctx {
    int64_t id;
    int64_t ttl;
} keepalive_ctx;

/* One keepalive round trip on a short LeaseKeepAlive stream. */
static qv_code keepalive_attempt(etcd_kv *ek, etcd_ep *ep, const qv_rpc_md *md,
                                 size_t n_md, int64_t timeout_ms, void *ctx,
                                 int *status, qv_err *err)
{
    (void)ek;
    keepalive_ctx *k = ctx;
    qv_rpc_call_opts o = {.timeout_ms = timeout_ms > 0 ? timeout_ms : 1,
                          .md = md,
                          .n_md = n_md,
                          .status_out = status};
    qv_rpc_stream *s = NULL;
    qv_code rc = qv_rpc_bidi_open(ep->ch, "/etcdserverpb.Lease/LeaseKeepAlive",
                                  &o, &s, err);
    if (rc != QV_OK) {
        if (*status == 0)
            *status = GRPC_UNAVAILABLE;
        return rc;
    }
    Etcdserverpb__LeaseKeepAliveRequest req =
        ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    req.id = k->id;
    qv_arena a;
    qv_arena_init(&a, 0);
    ProtobufCMessage *m = NULL;
    rc = qv_rpc_stream_send(s, &req.base, err);
    if (rc == QV_OK)
        rc = qv_rpc_stream_recv(
            s, &etcdserverpb__lease_keep_alive_response__descriptor, &a, &m,
            timeout_ms, err);
    if (rc == QV_OK && !m)
        rc = qv_fail(err, QV_E_UNAVAILABLE, "keepalive stream ended early");
    if (rc == QV_OK && m) {
        Etcdserverpb__LeaseKeepAliveResponse *r = (void *)m;
        k->ttl = r->ttl;
        if (r->ttl <= 0)
            rc = qv_fail(err, QV_E_NOT_FOUND,
                         "lease not found (expired or revoked)");
    } else {
        /* No answer in time (the stream is cancelled at its deadline; we
         * never cancel it ourselves): etcd is unreachable or frozen. */
        qv_code p = qv_code_primary(rc);
        if (p == QV_E_CANCELLED || p == QV_E_TIMEOUT || p == QV_E_UNAVAILABLE) {
            *status = GRPC_UNAVAILABLE;
            rc = QV_E_UNAVAILABLE;
            if (err)
                err->code = rc;
        }
    }
    qv_code ign = qv_rpc_stream_close_send(s, NULL);
    (void)ign;
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    return rc;
}

static qv_code etcd_lease_keepalive(metakv *kv, int64_t id, int64_t *ttl_s,
                                    qv_err *err)
{
    keepalive_ctx k = {.id = id};
    char subj[32];
    (void)snprintf(subj, sizeof subj, "%lld", (long long)id);
    qv_code rc = metakv__etcd_run(E(kv), "lease keepalive", subj, true,
                                  keepalive_attempt, &k, err);
    if (rc == QV_OK)
        *ttl_s = k.ttl;
    return rc;
}

static qv_code etcd_lease_revoke(metakv *kv, int64_t id, qv_err *err)
{
    Etcdserverpb__LeaseRevokeRequest req =
        ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
    req.id = id;
    qv_arena a;
    qv_arena_init(&a, 0);
    unary_ctx u = {"/etcdserverpb.Lease/LeaseRevoke", &req.base,
                   &etcdserverpb__lease_revoke_response__descriptor, &a, NULL};
    char subj[32];
    (void)snprintf(subj, sizeof subj, "%lld", (long long)id);
    qv_code rc = metakv__etcd_run(E(kv), "lease revoke", subj, true,
                                  unary_attempt, &u, err);
    qv_arena_release(&a);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

static void etcd_close(metakv *kv)
{
    etcd_kv *ek = E(kv);
    for (size_t i = 0; i < ek->n_eps; i++) {
        if (ek->eps[i].ch)
            qv_rpc_channel_close(ek->eps[i].ch);
        free(ek->eps[i].target);
    }
    free(ek->eps);
    free(ek->username);
    free(ek->password);
    free(ek->token);
    pthread_mutex_destroy(&ek->mu);
}

/* True for "a.b.c.d:port". */
static bool is_ipv4_hostport(const char *t)
{
    unsigned a, b, c, d, port;
    char tail;
    return sscanf(t, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &tail) == 5 &&
           a < 256 && b < 256 && c < 256 && d < 256 && port < 65536;
}

/* Opens the channel of one endpoint ("host:port", "http://host:port" or
 * "https://host:port"; https or cfg->tls selects TLS). */
static qv_code open_endpoint(etcd_ep *ep, const char *t,
                             const metakv_config *cfg, qv_err *err)
{
    bool tls = cfg->tls;
    if (strncmp(t, "http://", 7) == 0) {
        t += 7;
    } else if (strncmp(t, "https://", 8) == 0) {
        t += 8;
        tls = true;
    }
    ep->target = qv_xstrdup(t);
    /* IPv4 literals skip gRPC's name resolution (nothing to resolve, and
     * no re-resolution delay after a failed connect). */
    char *chan =
        is_ipv4_hostport(t) ? qv_xasprintf("ipv4:%s", t) : qv_xstrdup(t);
    qv_code rc;
    if (tls) {
        qv_rpc_tls o = {.ca_file = cfg->ca_file,
                        .cert_file = cfg->cert_file,
                        .key_file = cfg->key_file};
        rc = qv_rpc_channel_open_tls(chan, &o, &ep->ch, err);
    } else {
        rc = qv_rpc_channel_open(chan, &ep->ch, err);
    }
    free(chan);
    if (rc != QV_OK)
        return qv_err_prefix(err, "etcd endpoint '%s'", t);
    return QV_OK;
}

static qv_code parse_endpoints(etcd_kv *ek, const metakv_config *cfg,
                               qv_err *err)
{
    char *copy = qv_xstrdup(cfg->endpoints);
    char *save = NULL;
    size_t cap = 4;
    qv_code rc = QV_OK;
    ek->eps = qv_xcalloc(cap, sizeof *ek->eps);
    for (char *t = strtok_r(copy, ", ", &save); t && rc == QV_OK;
         t = strtok_r(NULL, ", ", &save)) {
        if (ek->n_eps == cap) {
            cap *= 2;
            ek->eps = qv_xrealloc(ek->eps, cap * sizeof *ek->eps);
        }
        etcd_ep *ep = &ek->eps[ek->n_eps++];
        memset(ep, 0, sizeof *ep);
        rc = open_endpoint(ep, t, cfg, err);
    }
    free(copy);
    if (rc == QV_OK && ek->n_eps == 0)
        rc = qv_fail(err, QV_E_INVALID, "etcd: no endpoints in '%s'",
                     cfg->endpoints);
    return rc;
}

static qv_code etcd_open(metakv *kv, const metakv_config *cfg, qv_err *err)
{
    etcd_kv *ek = E(kv);
    pthread_mutex_init(&ek->mu, NULL);
    qv_code rc = QV_OK;
    if (!cfg->endpoints || !*cfg->endpoints)
        rc = qv_fail(err, QV_E_INVALID, "etcd: no endpoints configured");
    else
        rc = parse_endpoints(ek, cfg, err);
    if (rc == QV_OK && cfg->username && *cfg->username) {
        ek->username = qv_xstrdup(cfg->username);
        ek->password = qv_xstrdup(cfg->password ? cfg->password : "");
        rc = authenticate(ek, err);
    }
    if (rc == QV_OK) {
        /* Fail early and clearly when no endpoint answers. */
        rc = metakv__etcd_reach(kv, kv->timeout_ms, err);
    }
    if (rc != QV_OK)
        etcd_close(kv);
    return rc;
}

const metakv_ops metakv__etcd_ops = {
    .name = "etcd",
    .caps = METAKV_CAP_REMOTE | METAKV_CAP_AUTH | METAKV_CAP_TLS,
    .impl_size = sizeof(etcd_kv) - sizeof(metakv),
    .open = etcd_open,
    .close = etcd_close,
    .get = etcd_get,
    .put = etcd_put,
    .del = etcd_del,
    .range = etcd_range,
    .revision = metakv__etcd_revision,
    .compact = etcd_compact,
    .txn = etcd_txn,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .watch_open = metakv__etcd_watch_open,
    .watch_next = metakv__etcd_watch_next,
    .watch_close = metakv__etcd_watch_close,
};
