/* metakv_etcd_watch.c -- etcd watches that survive reconnects.
 *
 * A watch owns one Watch bidi stream carrying one etcd watch created with
 * start_revision = next_rev.  next_rev only moves past a revision once its
 * events were handed to the caller, so when the stream breaks (etcd
 * restarted, endpoint gone) the next metakv_watch_next() opens a new stream
 * (on the current endpoint, with a fresh token) from next_rev and nothing
 * is missed or repeated.  etcd reports a start revision older than its
 * compaction by cancelling the watch with compact_revision set; that
 * becomes QV_E_COMPACTED.
 *
 * Threading: a watch is used by one thread at a time (metakv.h).
 */
#include "common/metakv/metakv_etcd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"

#define RECONNECT_FIRST_MS 50
#define RECONNECT_MAX_MS   500
#define PROGRESS_EVERY_MS  1000

typedef struct etcd_watch {
    metakv_watch base;
    uint8_t *prefix;
    size_t prefix_len;
    qv_rpc_stream *s;     /* NULL while disconnected */
    char target[128];     /* endpoint of s, for messages */
    unsigned failures;    /* reconnects failed in a row */
    uint64_t progress_ms; /* when progress was last requested (mono ms) */
} etcd_watch;

static const uint8_t zero_byte[1] = {0};

static void drop_stream(etcd_watch *w)
{
    if (w->s) {
        qv_rpc_stream_cancel(w->s);
        qv_rpc_stream_close(w->s);
        w->s = NULL;
    }
}

static qv_code compacted(etcd_watch *w, int64_t compact_rev, qv_err *err)
{
    return qv_fail(err, QV_E_COMPACTED,
                   "etcd %s: watch from revision %lld: history before "
                   "revision %lld was compacted",
                   w->target, (long long)w->base.next_rev,
                   (long long)compact_rev);
}

/* Handles a cancel response; returns the error to report. */
static qv_code canceled(etcd_watch *w, const Etcdserverpb__WatchResponse *r,
                        qv_err *err)
{
    drop_stream(w);
    if (r->compact_revision > 0)
        return compacted(w, r->compact_revision, err);
    return qv_fail(err,
                   strstr(r->cancel_reason, "permission") ? QV_E_PERMISSION
                                                          : QV_E_UNAVAILABLE,
                   "etcd %s: watch canceled by etcd: %s", w->target,
                   r->cancel_reason);
}

/* Opens a stream and creates the etcd watch from next_rev; waits (at most
 * timeout_ms) for etcd to confirm it. */
static qv_code connect_watch(etcd_watch *w, int64_t timeout_ms, qv_err *err)
{
    etcd_kv *ek = E(w->base.kv);
    pthread_mutex_lock(&ek->mu);
    etcd_ep *ep = &ek->eps[ek->cur];
    pthread_mutex_unlock(&ek->mu);
    (void)snprintf(w->target, sizeof w->target, "%s", ep->target);
    char tok[1024];
    qv_rpc_md md[1];
    size_t n_md = metakv__etcd_auth_md(ek, md, tok, sizeof tok);
    qv_rpc_call_opts o = {.timeout_ms = -1, /* a watch has no deadline */
                          .flags = QV_RPC_FAIL_FAST,
                          .md = md,
                          .n_md = n_md};
    qv_code rc =
        qv_rpc_bidi_open(ep->ch, "/etcdserverpb.Watch/Watch", &o, &w->s, err);
    if (rc != QV_OK) {
        w->s = NULL;
        return rc;
    }
    Etcdserverpb__WatchCreateRequest c =
        ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    uint8_t end[METAKV_MAX_KEY_LEN];
    size_t end_len = 0;
    metakv__prefix_end(w->prefix, w->prefix_len, end, &end_len);
    c.key.data = w->prefix_len ? w->prefix : (uint8_t *)zero_byte;
    c.key.len = w->prefix_len ? w->prefix_len : 1;
    c.range_end.data = end_len ? end : (uint8_t *)zero_byte;
    c.range_end.len = end_len ? end_len : 1;
    c.start_revision = w->base.next_rev;
    /* Progress notifications move next_rev forward on a quiet prefix, so a
     * later compaction does not strand an idle watch. */
    c.progress_notify = true;
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case =
        ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &c;
    rc = qv_rpc_stream_send(w->s, &req.base, err);
    qv_arena a;
    qv_arena_init(&a, 0);
    ProtobufCMessage *m = NULL;
    if (rc == QV_OK)
        rc = qv_rpc_stream_recv(w->s, &etcdserverpb__watch_response__descriptor,
                                &a, &m, timeout_ms > 0 ? timeout_ms : 1, err);
    if (rc == QV_OK && !m)
        rc = qv_fail(err, QV_E_UNAVAILABLE, "etcd %s: watch stream ended",
                     w->target);
    if (rc == QV_OK && m) {
        Etcdserverpb__WatchResponse *r = (void *)m;
        if (r->canceled)
            rc = canceled(w, r, err);
        else if (!r->created)
            rc = qv_fail(err, QV_E_INTERNAL,
                         "etcd %s: watch: expected a created response",
                         w->target);
    }
    qv_arena_release(&a);
    if (rc != QV_OK)
        drop_stream(w);
    return rc;
}

static qv_code reconnect(etcd_watch *w, uint64_t deadline, qv_err *err);

qv_code metakv__etcd_watch_open(metakv *kv, const void *prefix,
                                size_t prefix_len, int64_t from_rev,
                                metakv_watch **out, qv_err *err)
{
    int64_t next = from_rev;
    if (next == 0) {
        qv_code rc =
            metakv__etcd_prefix_rev(kv, prefix, prefix_len, &next, err);
        if (rc != QV_OK)
            return rc;
        next++;
    }
    etcd_watch *w = QV_NEW(etcd_watch);
    w->base.kv = kv;
    w->base.next_rev = next;
    w->prefix = qv_xmalloc(prefix_len + 1);
    if (prefix_len)
        memcpy(w->prefix, prefix, prefix_len);
    w->prefix_len = prefix_len;
    /* The first connection gets the store's timeout and retries. */
    uint64_t deadline = qv_mono_ms(qv_clock_system()) + kv->timeout_ms;
    qv_code rc;
    do {
        rc = reconnect(w, deadline, err);
    } while (rc != QV_OK &&
             (qv_code_primary(rc) == QV_E_UNAVAILABLE ||
              qv_code_primary(rc) == QV_E_TIMEOUT) &&
             metakv__etcd_left_ms(deadline) > 0);
    if (rc != QV_OK) {
        free(w->prefix);
        free(w);
        return rc;
    }
    *out = &w->base;
    return QV_OK;
}

static void push_events(etcd_watch *w, const Etcdserverpb__WatchResponse *r,
                        metakv_events *out)
{
    for (size_t i = 0; i < r->n_events; i++) {
        const Etcdserverpb__Event *e = r->events[i];
        const Etcdserverpb__KeyValue *k = e->kv;
        if (!k)
            continue;
        bool del = e->type == ETCDSERVERPB__EVENT__EVENT_TYPE__DELETE;
        metakv_kv *kv = metakv__events_push(
            out, del ? METAKV_EV_DELETE : METAKV_EV_PUT, k->key.data,
            k->key.len, k->value.data, del ? 0 : k->value.len);
        kv->create_rev = k->create_revision;
        kv->mod_rev = k->mod_revision;
        kv->version = k->version;
        kv->lease = k->lease;
        if (k->mod_revision >= w->base.next_rev)
            w->base.next_rev = k->mod_revision + 1;
    }
}

/* Reconnects (one try); on failure sleeps a backoff within the wait.  A
 * probe call first brings the channel up: gRPC makes connection progress
 * only while a call waits on it, and the stream is opened fail-fast. */
static qv_code reconnect(etcd_watch *w, uint64_t deadline, qv_err *err)
{
    int64_t left = metakv__etcd_left_ms(deadline);
    qv_code rc =
        metakv__etcd_reach(w->base.kv, (uint32_t)(left > 50 ? left : 50), err);
    if (rc == QV_OK)
        rc = connect_watch(w, metakv__etcd_left_ms(deadline), err);
    if (rc == QV_OK) {
        w->failures = 0;
        return QV_OK;
    }
    if (qv_code_primary(rc) == QV_E_UNAVAILABLE ||
        qv_code_primary(rc) == QV_E_TIMEOUT) {
        int64_t b = RECONNECT_FIRST_MS << (w->failures < 4 ? w->failures : 4);
        if (b > RECONNECT_MAX_MS)
            b = RECONNECT_MAX_MS;
        w->failures++;
        /* Try the next endpoint on the next attempt. */
        etcd_kv *ek = E(w->base.kv);
        pthread_mutex_lock(&ek->mu);
        ek->cur = (ek->cur + 1) % ek->n_eps;
        pthread_mutex_unlock(&ek->mu);
        int64_t left = metakv__etcd_left_ms(deadline);
        qv_sleep_ms((uint64_t)(b < left ? b : left));
    }
    return rc;
}

/* On a quiet watch, asks etcd (at most once a second) to confirm how far
 * it is; the answer moves next_rev past revisions without our events. */
static void request_progress(etcd_watch *w)
{
    uint64_t now = qv_mono_ms(qv_clock_system());
    if (!w->s || now - w->progress_ms < PROGRESS_EVERY_MS)
        return;
    w->progress_ms = now;
    Etcdserverpb__WatchProgressRequest p =
        ETCDSERVERPB__WATCH_PROGRESS_REQUEST__INIT;
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case =
        ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST;
    req.progress_request = &p;
    qv_code rc = qv_rpc_stream_send(w->s, &req.base, NULL);
    (void)rc; /* a broken stream shows up on the next receive */
}

qv_code metakv__etcd_watch_next(metakv_watch *base, uint32_t wait_ms,
                                metakv_events *out, qv_err *err)
{
    etcd_watch *w = (etcd_watch *)base;
    uint64_t deadline = qv_mono_ms(qv_clock_system()) + wait_ms;
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_code rc = QV_OK;
    for (;;) {
        if (!w->s) {
            rc = reconnect(w, deadline, err);
            if (rc != QV_OK) {
                if (qv_code_primary(rc) == QV_E_UNAVAILABLE ||
                    qv_code_primary(rc) == QV_E_TIMEOUT) {
                    if (metakv__etcd_left_ms(deadline) > 0)
                        continue;
                    (void)qv_err_prefix(err,
                                        "etcd watch (resumes at "
                                        "revision %lld when etcd is "
                                        "back)",
                                        (long long)base->next_rev);
                }
                break;
            }
        }
        ProtobufCMessage *m = NULL;
        qv_err e = {0};
        rc = qv_rpc_stream_recv(w->s, &etcdserverpb__watch_response__descriptor,
                                &a, &m, metakv__etcd_left_ms(deadline), &e);
        if (rc == QV_E_TIMEOUT && strstr(e.msg, "wait")) {
            rc = QV_OK; /* nothing within the wait */
            request_progress(w);
            break;
        }
        if (rc != QV_OK || !m) {
            drop_stream(w); /* broken: resume from next_rev */
            continue;
        }
        Etcdserverpb__WatchResponse *r = (void *)m;
        if (r->canceled) {
            rc = canceled(w, r, err);
            break;
        }
        size_t before = out->n;
        push_events(w, r, out);
        if (r->n_events == 0 && !r->created && r->header &&
            r->header->revision >= base->next_rev)
            base->next_rev = r->header->revision + 1; /* progress notify */
        qv_arena_release(&a);
        if (out->n > before)
            break;
    }
    qv_arena_release(&a);
    return rc;
}

void metakv__etcd_watch_close(metakv_watch *base)
{
    etcd_watch *w = (etcd_watch *)base;
    drop_stream(w);
    free(w->prefix);
    free(w);
}
