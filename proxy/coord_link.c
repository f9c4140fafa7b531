/* coord_link.c -- see coord_link.h. */
#include "proxy/coord_link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc/rpc_client.h"

#define COORD_SERVICE "/quiver.internal.CoordService/"

struct qv_coord_link {
    metakv *kv;
    char *root;
    pthread_mutex_t mu;
    char addr[256];     /* "" = not resolved; guarded by mu */
    qv_rpc_channel *ch; /* to addr; guarded by mu */
};

qv_coord_link *qv_coord_link_create(metakv *kv, const char *root)
{
    qv_coord_link *l = QV_NEW(qv_coord_link);
    l->kv = kv;
    l->root = qv_xstrdup(root ? root : "quiver/");
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void qv_coord_link_destroy(qv_coord_link *l)
{
    if (!l)
        return;
    qv_rpc_channel_close(l->ch);
    pthread_mutex_destroy(&l->mu);
    free(l->root);
    free(l);
}

bool qv_coord_link_parse_address(const char *json, char *buf, size_t cap)
{
    static const char tag[] = "\"address\":\"";
    const char *p = json ? strstr(json, tag) : NULL;
    if (!p)
        return false;
    p += sizeof tag - 1;
    const char *e = strchr(p, '"');
    if (!e || e == p || (size_t)(e - p) >= cap)
        return false;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return true;
}

/* Reads the active coord's address from meta KV. */
static qv_code resolve(qv_coord_link *l, char *addr, size_t cap, qv_err *err)
{
    char key[300];
    snprintf(key, sizeof key, "%ssession/coord-active", l->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(l->kv, key, strlen(key), &r, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_NOT_READY, "no active coord");
    if (rc)
        return rc;
    char skey[300];
    snprintf(skey, sizeof skey, "%.*s", (int)r.kvs[0].value_len,
             (const char *)r.kvs[0].value);
    metakv_kvs_release(&r);
    rc = metakv_get(l->kv, skey, strlen(skey), &r, err);
    if (rc == QV_E_NOT_FOUND)
        return qv_fail(err, QV_E_NOT_READY,
                       "the active coord's session '%s' is gone", skey);
    if (rc)
        return rc;
    bool ok =
        qv_coord_link_parse_address((const char *)r.kvs[0].value, addr, cap);
    metakv_kvs_release(&r);
    if (!ok)
        return qv_fail(err, QV_E_CORRUPT, "session '%s' has no address", skey);
    return QV_OK;
}

qv_code qv_coord_link_check(qv_coord_link *l, qv_err *err)
{
    char addr[256];
    return resolve(l, addr, sizeof addr, err);
}

/* A reference to the channel of the current coord (resolving it first if
 * needed); the caller closes it. */
static qv_code current(qv_coord_link *l, qv_rpc_channel **out, qv_err *err)
{
    pthread_mutex_lock(&l->mu);
    qv_code rc = QV_OK;
    if (!l->ch) {
        char addr[256];
        rc = resolve(l, addr, sizeof addr, err);
        if (!rc)
            rc = qv_rpc_channel_open(addr, &l->ch, err);
        if (!rc)
            snprintf(l->addr, sizeof l->addr, "%s", addr);
    }
    if (!rc)
        rc = qv_rpc_channel_open(l->addr, out, err); /* one more ref */
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* Forgets ch's coord so the next call resolves again. */
static void forget(qv_coord_link *l, qv_rpc_channel *ch)
{
    pthread_mutex_lock(&l->mu);
    if (l->ch == ch) {
        qv_rpc_channel_close(l->ch);
        l->ch = NULL;
        l->addr[0] = '\0';
    }
    pthread_mutex_unlock(&l->mu);
}

qv_code qv_coord_link_call(qv_coord_link *l, const char *method,
                           const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc,
                           qv_arena *a, ProtobufCMessage **resp,
                           int64_t timeout_ms, qv_err *err)
{
    const qv_clock *clk = qv_clock_system();
    uint64_t deadline = qv_mono_ms(clk) + (uint64_t)timeout_ms;
    char path[128];
    snprintf(path, sizeof path, "%s%s", COORD_SERVICE, method);
    for (;;) {
        qv_rpc_channel *ch = NULL;
        qv_code rc = current(l, &ch, err);
        if (!rc) {
            uint64_t now = qv_mono_ms(clk);
            qv_rpc_call_opts o = {
                .timeout_ms = now < deadline ? (int64_t)(deadline - now) : 1,
                .flags = QV_RPC_FAIL_FAST};
            qv_rpc_channel *same = ch;
            rc = qv_rpc_unary(ch, path, req, resp_desc, a, resp, &o, err);
            qv_rpc_channel_close(ch);
            if (rc == QV_E_UNAVAILABLE)
                forget(l, same);
        }
        bool retry = rc == QV_E_UNAVAILABLE || rc == QV_E_NOT_READY;
        if (!retry || qv_mono_ms(clk) + 100 >= deadline)
            return rc;
        qv_sleep_ms(100);
    }
}
