/* rpc_read.c -- the read path shared by Search and Query (DESIGN §5):
 * shard leaders from the coord, the guarantee timestamp of a consistency
 * level, per-shard calls to query nodes, output field resolution and the
 * column images that come back. */
#include "proxy/proxy_read.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json/json.h"
#include "common/rpc/rpc_client.h"
#include "internal/coord.pb-c.h"
#include "proxy/search_route.h"

qv_code qv_proxy__leaders(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                          char **partitions, size_t nparts, qv_read_plan *rp,
                          qv_err *err)
{
    Quiver__Internal__GetShardLeadersRequest rq =
        QUIVER__INTERNAL__GET_SHARD_LEADERS_REQUEST__INIT;
    rq.collection_id = c->id;
    rq.db_name = (char *)c->db;
    rq.partition_names = partitions;
    rq.n_partition_names = nparts;
    Quiver__Internal__GetShardLeadersResponse *r = NULL;
    qv_code rc = qv_proxy__forward(
        p, call, "GetShardLeaders", &rq.base,
        &quiver__internal__get_shard_leaders_response__descriptor,
        (ProtobufCMessage **)&r, err);
    if (rc)
        return rc;
    if (!r->status || r->status->code != 0) {
        int code = r->status ? r->status->code : 0;
        return qv_fail(err,
                       code == 101   ? QV_E_NOT_READY
                       : code == 202 ? QV_E_PARTITION_NOT_LOADED
                       : code == 200 ? QV_E_PARTITION_NOT_FOUND
                       : code == 100 ? QV_E_COLLECTION_NOT_FOUND
                                     : QV_E_UNAVAILABLE,
                       "%s", r->status ? r->status->reason : "no status");
    }
    if (r->n_leaders != c->nshards)
        return qv_fail(err, QV_E_INTERNAL, "%zu shard leaders for %zu shards",
                       r->n_leaders, c->nshards);
    rp->leaders = r->leaders;
    rp->partitions = r->partition_ids;
    rp->npartitions = r->n_partition_ids;
    return QV_OK;
}

/* The last write timestamp this proxy acknowledged for a collection
 * (a small table; an evicted entry only makes a later Bounded or Session
 * read weaker, never wrong for other clients). */
#define LW_SLOTS 256

void qv_proxy__note_write(qv_proxy *p, int64_t coll, qv_ts ts)
{
    pthread_mutex_lock(&p->tt_mu);
    size_t i =
        (size_t)((uint64_t)coll * 0x9e3779b97f4a7c15ull >> 56) % LW_SLOTS;
    if (!p->lw)
        p->lw = calloc(LW_SLOTS, sizeof *p->lw);
    if (p->lw && (p->lw[i].coll != coll || p->lw[i].ts < ts)) {
        p->lw[i].coll = coll;
        p->lw[i].ts = ts;
    }
    pthread_mutex_unlock(&p->tt_mu);
}

static qv_ts last_write(qv_proxy *p, int64_t coll)
{
    qv_ts t = 0;
    pthread_mutex_lock(&p->tt_mu);
    size_t i =
        (size_t)((uint64_t)coll * 0x9e3779b97f4a7c15ull >> 56) % LW_SLOTS;
    if (p->lw && p->lw[i].coll == coll)
        t = p->lw[i].ts;
    pthread_mutex_unlock(&p->tt_mu);
    return t;
}

/* Read-your-writes through this proxy: the guarantee covers its last
 * acknowledged write to the collection; when that is what the read waits
 * for and the write is recent (COVER_FORCE_MS), a tick is asked for at
 * once rather than waiting a period.  Older writes: the coord's periodic
 * ticks (every 100-200 ms) have passed them, so reads cost no coord call
 * (a forced tick appends to every pchannel). */
#define COVER_FORCE_MS 1000
static qv_code cover_writes(qv_proxy *p, qv_rpc_call *call,
                            const qv_coll_ctx *c, qv_ts *g, qv_err *err)
{
    qv_ts w = last_write(p, c->id);
    if (w <= *g)
        return QV_OK;
    *g = w;
    /* an older write is covered by the periodic ticks already (the
     * delegator still waits for tsafe >= w): no forced tick per read */
    if (qv_ts_physical(w) + COVER_FORCE_MS < qv_wall_ms(qv_clock_system()))
        return QV_OK;
    qv_ts fresh;
    return qv_proxy__strong_ts(p, call, &fresh, err);
}

qv_code qv_proxy__guarantee(qv_proxy *p, qv_rpc_call *call,
                            const qv_coll_ctx *c, int level, bool use_default,
                            uint64_t given, qv_ts *g, qv_err *err)
{
    if (use_default)
        level = (int)c->d->consistency_level;
    /* milvus.proto.common.ConsistencyLevel: Strong 0, Session 1,
     * Bounded 2, Eventually 3, Customized 4 */
    switch (level) {
    case 2: /* Bounded: at most 5 s stale, and this proxy's writes seen */
        *g = qv_ts_compose(qv_wall_ms(qv_clock_system()) - 5000, 0);
        return cover_writes(p, call, c, g, err);
    case 1: /* Session: the client's last write if the SDK sends it, else
             * this proxy's last write to the collection */
        *g = given ? given : 1;
        return given ? QV_OK : cover_writes(p, call, c, g, err);
    case 3: /* Eventually */
        *g = 1;
        return QV_OK;
    case 4: /* Customized */
        *g = given ? given : 1;
        return QV_OK;
    default:
        break;
    }
    return qv_proxy__strong_ts(p, call, g, err); /* Strong */
}

static _Atomic uint64_t retention_ms = QV_PROXY_RETENTION_MS;

void qv_proxy__set_retention_ms(uint64_t ms)
{
    retention_ms = ms;
}

qv_code qv_proxy__travel(Milvus__Proto__Common__KeyValuePair **kv, size_t n,
                         uint64_t field, uint64_t *out, qv_err *err)
{
    uint64_t t = field;
    for (size_t i = 0; !t && i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, "travel_timestamp") == 0 &&
            kv[i]->value) {
            char *end;
            t = strtoull(kv[i]->value, &end, 10);
            if (*end)
                return qv_fail(err, QV_E_INVALID,
                               "travel_timestamp '%s' is not a timestamp",
                               kv[i]->value);
        }
    *out = t;
    if (!t)
        return QV_OK;
    uint64_t now = qv_wall_ms(qv_clock_system());
    uint64_t retention_ms_now = retention_ms;
    if (qv_ts_physical(t) + retention_ms_now < now)
        return qv_fail(err, QV_E_INVALID,
                       "travel_timestamp %llu is older than the retention "
                       "window (%llu ms)",
                       (unsigned long long)t,
                       (unsigned long long)retention_ms_now);
    return QV_OK;
}

uint32_t qv_proxy__read_wait(qv_proxy *p, qv_rpc_call *call)
{
    int64_t w = p->opts.read_wait_ms ? p->opts.read_wait_ms : 10000;
    int64_t left = qv_rpc_call_ms_left(call) - 200;
    if (left < w)
        w = left > 1 ? left : 1;
    return (uint32_t)w;
}

static qv_code unary(const char *addr, const char *method,
                     const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, qv_arena *a,
                     int64_t timeout_ms, ProtobufCMessage **resp, qv_err *err)
{
    /* keep the node's channel cached (common/rpc destroys a channel when
     * its last reference closes): no connection per call */
    qv_proxy__hold_channel(addr);
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(addr, &ch, err);
    if (rc)
        return rc;
    /* Fail fast: a dead query node is replaced by the coord; the client
     * retries rather than waiting out its deadline. */
    qv_rpc_call_opts o = {.timeout_ms = timeout_ms, .flags = QV_RPC_FAIL_FAST};
    char full[128];
    snprintf(full, sizeof full, "/quiver.internal.QueryNodeService/%s", method);
    rc = qv_rpc_unary(ch, full, req, desc, a, resp, &o, err);
    qv_rpc_channel_close(ch);
    return rc;
}

static int64_t node_timeout(qv_rpc_call *call)
{
    int64_t left = qv_rpc_call_ms_left(call);
    return left > 0 && left < 60000 ? left : 60000;
}

qv_code qv_proxy__call_node(qv_rpc_call *call, const char *addr,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *desc,
                            ProtobufCMessage **resp, qv_err *err)
{
    return unary(addr, method, req, desc, qv_rpc_call_arena(call),
                 node_timeout(call), resp, err);
}

static void *node_call_main(void *arg)
{
    qv_node_call *n = arg;
    n->rc = unary(n->addr, n->method, n->req, n->desc, &n->arena, n->timeout_ms,
                  &n->resp, &n->err);
    return NULL;
}

static void release_arena(void *a)
{
    qv_arena_release(a);
}

qv_code qv_proxy__call_nodes(qv_rpc_call *call, qv_node_call *calls, size_t n,
                             qv_err *err)
{
    return qv_proxy__call_nodes_in(qv_rpc_call_arena(call), node_timeout(call),
                                   calls, n, err);
}

qv_code qv_proxy__call_nodes_in(qv_arena *a, int64_t t, qv_node_call *calls,
                                size_t n, qv_err *err)
{
    pthread_t *th = qv_arena_calloc(a, n + 1, sizeof *th);
    bool *started = qv_arena_calloc(a, n + 1, sizeof *started);
    for (size_t i = 0; i < n; i++) {
        qv_arena_init(&calls[i].arena, 0);
        qv_arena_on_release(a, release_arena, &calls[i].arena);
        calls[i].timeout_ms = t;
        calls[i].resp = NULL;
    }
    /* One thread per extra shard; the first runs here. */
    for (size_t i = 1; i < n; i++)
        started[i] =
            pthread_create(&th[i], NULL, node_call_main, &calls[i]) == 0;
    if (n > 0)
        node_call_main(&calls[0]);
    for (size_t i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            node_call_main(&calls[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (calls[i].rc)
            return qv_fail(err, calls[i].rc, "%s", calls[i].err.msg);
    return QV_OK;
}

qv_code qv_proxy__call_grouped(qv_rpc_call *call, const qv_grouped_rpc *g,
                               const char *const *addrs,
                               ProtobufCMessage **reqs, size_t S,
                               ProtobufCMessage **resp, qv_err *err)
{
    return qv_proxy__call_grouped_in(qv_rpc_call_arena(call),
                                     node_timeout(call), g, addrs, reqs, S,
                                     resp, err);
}

qv_code qv_proxy__call_grouped_in(qv_arena *a, int64_t timeout_ms,
                                  const qv_grouped_rpc *g,
                                  const char *const *addrs,
                                  ProtobufCMessage **reqs, size_t S,
                                  ProtobufCMessage **resp, qv_err *err)
{
    size_t *group = qv_arena_calloc(a, S + 1, sizeof *group);
    size_t *slot = qv_arena_calloc(a, S + 1, sizeof *slot);
    size_t *count = qv_arena_calloc(a, S + 1, sizeof *count);
    size_t *first = qv_arena_calloc(a, S + 1, sizeof *first);
    size_t G = 0;
    for (size_t s = 0; s < S; s++) {
        size_t k = 0;
        while (k < G && strcmp(addrs[first[k]], addrs[s]) != 0)
            k++;
        if (k == G)
            first[G++] = s;
        group[s] = k;
        slot[s] = count[k]++;
    }
    qv_node_call *calls = qv_arena_calloc(a, G + 1, sizeof *calls);
    for (size_t k = 0; k < G; k++) {
        calls[k].addr = addrs[first[k]];
        if (count[k] == 1) {
            calls[k].method = g->one_method;
            calls[k].req = reqs[first[k]];
            calls[k].desc = g->one_resp;
            continue;
        }
        ProtobufCMessage **part = qv_arena_calloc(a, count[k], sizeof *part);
        for (size_t s = 0; s < S; s++)
            if (group[s] == k)
                part[slot[s]] = reqs[s];
        calls[k].method = g->batch_method;
        calls[k].req = g->batch(a, part, count[k]);
        calls[k].desc = g->batch_resp;
    }
    qv_code rc = qv_proxy__call_nodes_in(a, timeout_ms, calls, G, err);
    ProtobufCMessage ***answers = qv_arena_calloc(a, G + 1, sizeof *answers);
    for (size_t k = 0; !rc && k < G; k++) {
        if (count[k] == 1)
            continue;
        size_t n = 0;
        rc = qv_proxy__status_of(g->unbatch(calls[k].resp, &n, &answers[k]),
                                 err);
        if (!rc && n != count[k])
            rc = qv_fail(err, QV_E_INTERNAL,
                         "query node %s answered %zu of %zu shard requests",
                         calls[k].addr, n, count[k]);
    }
    for (size_t s = 0; !rc && s < S; s++) {
        size_t k = group[s];
        resp[s] = count[k] == 1 ? calls[k].resp : answers[k][slot[s]];
    }
    return rc;
}

static void free_col(void *c)
{
    qv_column_free(c);
}

qv_code qv_proxy__load_image(qv_arena *a, const ProtobufCBinaryData *img,
                             qv_column **out, qv_err *err)
{
    void *buf = malloc(img->len ? img->len : 1);
    if (!buf)
        return qv_fail(err, QV_E_NOMEM, "result column: out of memory");
    memcpy(buf, img->data, img->len);
    qv_arena_on_release(a, free, buf);
    qv_code rc = qv_column_load(buf, img->len, 0, out, err);
    if (!rc)
        qv_arena_on_release(a, free_col, *out);
    return rc;
}

qv_code qv_proxy__status_of(const Milvus__Proto__Common__Status *st,
                            qv_err *err)
{
    if (!st)
        return qv_fail(err, QV_E_INTERNAL, "query node: no status");
    if (st->code == 0)
        return QV_OK;
    qv_code rc = st->code == 101    ? QV_E_NOT_READY
                 : st->code == 1100 ? QV_E_INVALID
                 : st->code == 2    ? QV_E_UNAVAILABLE
                                    : QV_E_INTERNAL;
    if (strstr(st->reason, "timeout") || strstr(st->reason, "timed out"))
        rc = QV_E_TIMEOUT;
    return qv_fail(err, rc, "%s", st->reason);
}

/* ---- output fields ------------------------------------------------------- */

static bool has_id(const qv_outputs *o, int64_t id)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->idx[i] >= 0 && o->ids[i] == id)
            return true;
    return false;
}

static void add_field(qv_outputs *o, const qv_coll_ctx *c, size_t i)
{
    if (has_id(o, c->specs[i].id))
        return;
    o->idx[o->n] = (int)i;
    o->ids[o->n] = c->specs[i].id;
    o->n++;
}

qv_code qv_proxy__outputs(qv_arena *a, const qv_coll_ctx *c, char **names,
                          size_t n, bool with_vectors, qv_outputs *o,
                          qv_err *err)
{
    memset(o, 0, sizeof *o);
    size_t cap = c->nfields + n + 2;
    o->idx = qv_arena_calloc(a, cap, sizeof(int));
    o->ids = qv_arena_calloc(a, cap, sizeof(int64_t));
    o->names = qv_arena_calloc(a, cap + 1, sizeof(char *));
    bool star = false;
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        if (strcmp(nm, "*") == 0) {
            star = true;
            continue;
        }
        if (strcmp(nm, "count(*)") == 0) {
            o->count = true;
            continue;
        }
        int k = qv_coll_ctx_field(c, nm);
        if (k >= 0) {
            add_field(o, c, (size_t)k);
            continue;
        }
        if (c->dyn < 0)
            return qv_fail(err, QV_E_INVALID,
                           "field %s does not exist in collection '%s'", nm,
                           c->d->collection_name);
        add_field(o, c, (size_t)c->dyn);
        o->names[o->nnames++] = (char *)nm; /* a dynamic key */
    }
    if (star)
        for (size_t i = 0; i < c->nfields; i++)
            if (with_vectors || !qv_dtype_is_vector(c->specs[i].type))
                add_field(o, c, i);
    /* Names the SDK will look up: real fields (not $meta itself), then the
     * dynamic keys collected above. */
    size_t keys = o->nnames;
    char **dyn = qv_arena_calloc(a, keys + 1, sizeof(char *));
    memcpy(dyn, o->names, keys * sizeof(char *));
    o->nnames = 0;
    o->names[o->nnames++] = (char *)c->specs[c->pk].name;
    for (size_t i = 0; i < o->n; i++)
        if ((size_t)o->idx[i] != c->pk && o->idx[i] != c->dyn)
            o->names[o->nnames++] = (char *)c->specs[o->idx[i]].name;
    for (size_t i = 0; i < keys; i++)
        o->names[o->nnames++] = dyn[i];
    if (star && c->dyn >= 0 && keys == 0)
        o->names[o->nnames++] = (char *)c->specs[c->dyn].name;
    o->star = star;
    o->keys = dyn;
    o->nkeys = keys;
    /* The primary key is always column 0 of a shard's answer: drop it from
     * the list of extra fields. */
    size_t m = 0;
    for (size_t i = 0; i < o->n; i++)
        if ((size_t)o->idx[i] != c->pk) {
            o->idx[m] = o->idx[i];
            o->ids[m++] = o->ids[i];
        }
    o->n = m;
    return QV_OK;
}

static bool plain_key(const char *k)
{
    for (; *k; k++)
        if (*k == '"' || *k == '\\' || (unsigned char)*k < 0x20)
            return false;
    return true;
}

/* A JSON column of the rows of v keeping only the members named in keys. */
static qv_code restrict_meta(const qv_field_spec *spec, const qv_col_view *v,
                             char **keys, size_t nkeys, qv_column **out,
                             qv_err *err)
{
    qv_code rc = qv_column_create(spec, out, err);
    qv_buf b;
    qv_buf_init(&b, 0);
    for (size_t r = 0; !rc && r < v->rows; r++) {
        if (qv_col_is_null(v, r)) {
            rc = qv_column_append_null(*out, 1);
            continue;
        }
        size_t len;
        const uint8_t *p = qv_col_var(v, r, &len);
        qv_json_val root = qv_json_root((const char *)p, len);
        qv_buf_reset(&b);
        rc = qv_buf_append(&b, "{", 1);
        bool first = true;
        for (size_t k = 0; !rc && k < nkeys; k++) {
            qv_json_val m;
            if (!plain_key(keys[k]) ||
                !qv_json_member(&root, keys[k], strlen(keys[k]), &m))
                continue;
            rc = qv_buf_printf(&b, "%s\"%s\":", first ? "" : ",", keys[k]);
            if (!rc)
                rc = qv_buf_append(&b, m.p, m.len);
            first = false;
        }
        if (!rc)
            rc = qv_buf_append(&b, "}", 1);
        if (!rc)
            rc = qv_column_append_var(*out, b.data, b.len);
    }
    qv_buf_release(&b);
    if (*out)
        qv_column_publish(*out);
    if (rc && !err->msg[0])
        qv_fail(err, rc, "dynamic field: cannot build the result");
    return rc;
}

qv_code qv_proxy__fielddata(qv_arena *a, const qv_coll_ctx *c,
                            const qv_outputs *out, size_t field, qv_column *col,
                            Milvus__Proto__Schema__FieldData **fd, qv_err *err)
{
    qv_col_view v = qv_column_view(col);
    if ((int)field != c->dyn || !out || out->star || out->nkeys == 0)
        return qv_column_to_fielddata(&v, &c->specs[field], NULL, 0, a, fd,
                                      err);
    qv_column *m = NULL;
    qv_code rc =
        restrict_meta(&c->specs[field], &v, out->keys, out->nkeys, &m, err);
    if (!rc) {
        qv_col_view mv = qv_column_view(m);
        rc = qv_column_to_fielddata(&mv, &c->specs[field], NULL, 0, a, fd, err);
    }
    qv_column_free(m);
    return rc;
}

qv_code qv_proxy__plan_bytes(qv_arena *a, const qv_expr_plan *plan,
                             ProtobufCBinaryData *out, qv_err *err)
{
    out->data = NULL;
    out->len = 0;
    if (!plan || qv_expr_plan_always_true(plan))
        return QV_OK;
    qv_buf b;
    qv_buf_init(&b, 0);
    qv_code rc = qv_expr_plan_encode(plan, &b, err);
    if (!rc) {
        out->data = qv_arena_alloc(a, b.len ? b.len : 1);
        memcpy(out->data, b.data, b.len);
        out->len = b.len;
    }
    qv_buf_release(&b);
    return rc;
}
