/* coord_sessions.c -- the active coord's view of live processes: it lists
 * "<root>session/" when it takes over, then follows a watch on it and logs
 * every join and departure (DESIGN §1).  Later scheduling (channels,
 * segments, replicas) reads this view to know which nodes are alive.
 *
 * Runs on the campaign thread while the coord is active; the view is
 * guarded by sess_mu for readers on other threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "coord/coord_int.h"

typedef struct qv__sess {
    struct qv__sess *next;
    char *name; /* "<role>-<id>" */
} qv__sess;

static bool is_process(const char *name, size_t n)
{
    /* Election keys ("coord-active") are not processes. */
    return !(n >= 7 && memcmp(name + n - 7, "-active", 7) == 0);
}

static void add(qv_coord *c, const char *name, size_t n, const char *value)
{
    if (!is_process(name, n))
        return;
    pthread_mutex_lock(&c->sess_mu);
    for (qv__sess *s = c->sessions; s; s = s->next)
        if (strlen(s->name) == n && memcmp(s->name, name, n) == 0) {
            pthread_mutex_unlock(&c->sess_mu);
            return;
        }
    qv__sess *s = QV_NEW(qv__sess);
    s->name = qv_xmalloc(n + 1);
    memcpy(s->name, name, n);
    s->name[n] = '\0';
    s->next = c->sessions;
    c->sessions = s;
    pthread_mutex_unlock(&c->sess_mu);
    QV_LOG(QV_LOG_INFO, "coord", "session joined: %s %s", s->name,
           value ? value : "");
}

static void del(qv_coord *c, const char *name, size_t n)
{
    pthread_mutex_lock(&c->sess_mu);
    for (qv__sess **p = &c->sessions; *p; p = &(*p)->next) {
        qv__sess *s = *p;
        if (strlen(s->name) == n && memcmp(s->name, name, n) == 0) {
            *p = s->next;
            QV_LOG(QV_LOG_INFO, "coord", "session ended: %s", s->name);
            free(s->name);
            free(s);
            break;
        }
    }
    pthread_mutex_unlock(&c->sess_mu);
}

void qv_coord__sessions_clear(qv_coord *c)
{
    pthread_mutex_lock(&c->sess_mu);
    while (c->sessions) {
        qv__sess *s = c->sessions;
        c->sessions = s->next;
        free(s->name);
        free(s);
    }
    pthread_mutex_unlock(&c->sess_mu);
}

qv_code qv_coord__sessions_open(qv_coord *c, metakv_watch **w, qv_err *err)
{
    char prefix[300];
    size_t pn = (size_t)snprintf(prefix, sizeof prefix, "%ssession/", c->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_range(c->opts.kv, prefix, pn, NULL, &r, err);
    if (rc)
        return rc;
    qv_coord__sessions_clear(c);
    for (size_t i = 0; i < r.n; i++)
        add(c, (const char *)r.kvs[i].key + pn, r.kvs[i].key_len - pn,
            (const char *)r.kvs[i].value);
    int64_t rev = r.revision;
    metakv_kvs_release(&r);
    return metakv_watch_open(c->opts.kv, prefix, pn, rev + 1, w, err);
}

void qv_coord__sessions_follow(qv_coord *c, metakv_watch **w, uint32_t wait_ms)
{
    if (!*w) {
        qv_err e = {0};
        if (qv_coord__sessions_open(c, w, &e) != QV_OK) {
            *w = NULL;
            qv_sleep_ms(wait_ms);
            return;
        }
    }
    size_t pn = strlen(c->root) + strlen("session/");
    metakv_events ev = METAKV_EVENTS_INIT;
    qv_code rc = metakv_watch_next(*w, wait_ms, &ev, NULL);
    for (size_t i = 0; i < ev.n; i++) {
        const metakv_kv *kv = &ev.ev[i].kv;
        if (kv->key_len <= pn)
            continue;
        const char *name = (const char *)kv->key + pn;
        if (ev.ev[i].type == METAKV_EV_PUT)
            add(c, name, kv->key_len - pn, (const char *)kv->value);
        else
            del(c, name, kv->key_len - pn);
    }
    metakv_events_release(&ev);
    if (rc == QV_E_COMPACTED) { /* re-list from a fresh revision */
        metakv_watch_close(*w);
        *w = NULL;
    }
}

size_t qv_coord_sessions(qv_coord *c, const char *role)
{
    size_t n = 0, rn = role ? strlen(role) : 0;
    pthread_mutex_lock(&c->sess_mu);
    for (qv__sess *s = c->sessions; s; s = s->next)
        if (!role || (strncmp(s->name, role, rn) == 0 && s->name[rn] == '-'))
            n++;
    pthread_mutex_unlock(&c->sess_mu);
    return n;
}
