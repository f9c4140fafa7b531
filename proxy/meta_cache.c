/* meta_cache.c -- see meta_cache.h. */
#include "proxy/meta_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "proto/pb_arena.h"

#define MAX_ENTRIES 4096

typedef struct entry {
    struct entry *next;
    char *key; /* "<db>\0<name>" flattened to "<db>/<name>" (names have no
                  '/') */
    uint8_t *bytes;
    size_t len;
} entry;

struct qv_meta_cache {
    metakv *kv;
    char prefix[300];
    pthread_mutex_t mu;
    entry *head; /* guarded by mu */
    size_t n;
    uint64_t epoch;
    pthread_t thread;
    bool thread_started;
    volatile bool stopping;
};

static void clear_locked(qv_meta_cache *c)
{
    entry *e = c->head;
    while (e) {
        entry *next = e->next;
        free(e->key);
        free(e->bytes);
        free(e);
        e = next;
    }
    c->head = NULL;
    c->n = 0;
    c->epoch++;
}

void qv_meta_cache_clear(qv_meta_cache *c)
{
    pthread_mutex_lock(&c->mu);
    clear_locked(c);
    pthread_mutex_unlock(&c->mu);
}

/* Watches <root>meta/ and clears on every change.  While the meta KV is
 * unreachable the watch reports errors and then resumes where it stopped
 * (nothing is missed, metakv.h), so the cache stays valid meanwhile: the
 * coord cannot change metadata in a store that is down.  Only history that
 * was compacted away (changes may have been missed) or a watch that cannot
 * be opened clears it. */
static void *watch_main(void *arg)
{
    qv_meta_cache *c = arg;
    metakv_watch *w = NULL;
    while (!c->stopping) {
        qv_err e = {0};
        if (!w && metakv_watch_open(c->kv, c->prefix, strlen(c->prefix), 0, &w,
                                    &e) != QV_OK) {
            w = NULL;
            qv_meta_cache_clear(c);
            qv_sleep_ms(200);
            continue;
        }
        metakv_events ev = METAKV_EVENTS_INIT;
        qv_code rc = metakv_watch_next(w, 200, &ev, &e);
        if (rc == QV_E_COMPACTED) {
            metakv_watch_close(w);
            w = NULL;
        }
        if (rc == QV_E_COMPACTED || ev.n)
            qv_meta_cache_clear(c);
        else if (rc)
            qv_sleep_ms(50); /* the store is away; the watch resumes later */
        metakv_events_release(&ev);
    }
    metakv_watch_close(w);
    return NULL;
}

qv_meta_cache *qv_meta_cache_create(metakv *kv, const char *root)
{
    qv_meta_cache *c = QV_NEW(qv_meta_cache);
    c->kv = kv;
    snprintf(c->prefix, sizeof c->prefix, "%smeta/", root ? root : "quiver/");
    pthread_mutex_init(&c->mu, NULL);
    if (kv && pthread_create(&c->thread, NULL, watch_main, c) == 0)
        c->thread_started = true;
    return c;
}

void qv_meta_cache_destroy(qv_meta_cache *c)
{
    if (!c)
        return;
    c->stopping = true;
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    clear_locked(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t qv_meta_cache_epoch(qv_meta_cache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t e = c->epoch;
    pthread_mutex_unlock(&c->mu);
    return e;
}

static char *make_key(const char *db, const char *name)
{
    size_t n = strlen(db) + strlen(name) + 2;
    char *k = qv_xmalloc(n);
    snprintf(k, n, "%s/%s", db, name);
    return k;
}

qv_describe_resp *qv_meta_cache_get(qv_meta_cache *c, const char *db,
                                    const char *name, qv_arena *a)
{
    char *k = make_key(db, name);
    qv_describe_resp *out = NULL;
    pthread_mutex_lock(&c->mu);
    for (entry *e = c->head; e; e = e->next) {
        if (strcmp(e->key, k) != 0)
            continue;
        if (qv_pb_unpack(
                &milvus__proto__milvus__describe_collection_response__descriptor,
                e->bytes, e->len, a, "cached describe",
                (ProtobufCMessage **)&out, NULL) != QV_OK)
            out = NULL;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    free(k);
    return out;
}

void qv_meta_cache_put(qv_meta_cache *c, const char *db, const char *name,
                       const qv_describe_resp *r, uint64_t epoch)
{
    size_t len =
        milvus__proto__milvus__describe_collection_response__get_packed_size(r);
    entry *e = QV_NEW(entry);
    e->key = make_key(db, name);
    e->bytes = qv_xmalloc(len ? len : 1);
    e->len =
        milvus__proto__milvus__describe_collection_response__pack(r, e->bytes);
    pthread_mutex_lock(&c->mu);
    bool keep = c->epoch == epoch;
    for (entry *x = c->head; keep && x; x = x->next)
        keep = strcmp(x->key, e->key) != 0;
    if (keep) {
        if (c->n >= MAX_ENTRIES)
            clear_locked(c);
        e->next = c->head;
        c->head = e;
        c->n++;
    }
    pthread_mutex_unlock(&c->mu);
    if (!keep) {
        free(e->key);
        free(e->bytes);
        free(e);
    }
}

size_t qv_meta_cache_size(qv_meta_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}
