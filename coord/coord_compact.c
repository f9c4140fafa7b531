/* coord_compact.c -- compaction plans, their execution on datanodes, the
 * maintenance thread (compaction and GC rounds) and the compaction RPCs
 * (coord_compact.h). */
#include "coord/coord_compact.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/json/json.h"
#include "common/log.h"
#include "common/metrics/metrics.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord_gc.h"
#include "coord/coord_int.h"
#include "internal/datanode.pb-c.h"
#include "proto/pb_arena.h"

#define ST(x) QUIVER__INTERNAL__SEGMENT_STATE__SEG_##x
#define LV(x) QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_##x

/* ---- planning ------------------------------------------------------------ */

static bool in_list(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static int by_id(const void *x, const void *y)
{
    const qv_seg_info *a = *(qv_seg_info *const *)x;
    const qv_seg_info *b = *(qv_seg_info *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

static bool candidate(const qv_seg_info *s, const int64_t *parts, size_t nparts,
                      const qv_compact_params *p)
{
    return s->level == LV(L1) && s->state == ST(FLUSHED) &&
           (nparts == 0 || in_list(parts, nparts, s->partition_id)) &&
           !in_list(p->busy, p->nbusy, s->id);
}

static bool same_group(const qv_seg_info *a, const qv_seg_info *b)
{
    return a->partition_id == b->partition_id &&
           strcmp(a->vchannel, b->vchannel) == 0;
}

/* Rows of s that a rewrite could purge: those it keeps only for time
 * travel (hidden before it was written), and the entries of the channel's
 * L0 logs committed after it that may hit it. */
static uint64_t pending_deletes(const qv_seg_info *s, qv_seg_info *const *l0,
                                size_t nl0, qv_ts purge_before)
{
    uint64_t n = s->flushed_ts <= purge_before ? s->deleted_rows : 0;
    for (size_t i = 0; i < nl0; i++)
        if (l0[i]->flushed_ts > s->flushed_ts && l0[i]->min_ts <= purge_before)
            n += l0[i]->rows;
    return n;
}

typedef struct plan_out {
    qv_compact_group *v;
    size_t n, cap;
    qv_arena *a;
} plan_out;

static void emit(plan_out *o, qv_seg_info **in, size_t n, qv_seg_info **l0,
                 size_t nl0)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 8;
        qv_compact_group *g = qv_arena_alloc(o->a, nc * sizeof *g);
        if (o->cap)
            memcpy(g, o->v, o->cap * sizeof *g);
        o->v = g;
        o->cap = nc;
    }
    qv_compact_group *g = &o->v[o->n++];
    g->partition_id = in[0]->partition_id;
    g->vchannel = in[0]->vchannel;
    g->inputs = qv_arena_alloc(o->a, n * sizeof *g->inputs);
    memcpy(g->inputs, in, n * sizeof *in);
    g->ninputs = n;
    g->l0 = qv_arena_alloc(o->a, (nl0 ? nl0 : 1) * sizeof *g->l0);
    if (nl0)
        memcpy(g->l0, l0, nl0 * sizeof *l0);
    g->nl0 = nl0;
    g->rows = 0;
    for (size_t i = 0; i < n; i++)
        g->rows += in[i]->rows;
}

typedef struct run {
    qv_seg_info **v;
    size_t *idx;
    size_t k;
    uint64_t rows;
} run;

/* Emits the run as a merge when it has two or more inputs; empties it. */
static void close_run(plan_out *o, run *r, bool *used, qv_seg_info **l0,
                      size_t nl0)
{
    if (r->k >= 2) {
        emit(o, r->v, r->k, l0, nl0);
        for (size_t j = 0; j < r->k; j++)
            used[r->idx[j]] = true;
    }
    r->k = 0;
    r->rows = 0;
}

/* One (partition, vchannel) group of candidates, in id order. */
static void plan_group(plan_out *o, qv_seg_info **c, size_t n, qv_seg_info **l0,
                       size_t nl0, const qv_compact_params *p)
{
    uint64_t small = p->manual ? UINT64_MAX : p->min_rows;
    bool *used = QV_NEW_ARRAY(bool, n ? n : 1);
    run r = {QV_NEW_ARRAY(qv_seg_info *, n ? n : 1),
             QV_NEW_ARRAY(size_t, n ? n : 1), 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (c[i]->rows >= small)
            continue;
        if (r.k > 0 &&
            (r.rows + c[i]->rows > p->max_rows || r.k == QV_COMPACT_MAX_INPUTS))
            close_run(o, &r, used, l0, nl0);
        r.v[r.k] = c[i];
        r.idx[r.k++] = i;
        r.rows += c[i]->rows;
    }
    close_run(o, &r, used, l0, nl0);
    for (size_t i = 0; i < n; i++) {
        if (used[i] || c[i]->rows == 0)
            continue;
        uint64_t d = pending_deletes(c[i], l0, nl0, p->purge_before);
        if ((p->manual && d > 0) ||
            (!p->manual && (double)d > p->deleted_ratio * (double)c[i]->rows))
            emit(o, &c[i], 1, l0, nl0);
    }
    free(used);
    free(r.v);
    free(r.idx);
}

size_t qv_compact_plan(qv_seg_info *const *segs, size_t n, const int64_t *parts,
                       size_t nparts, const qv_compact_params *p, qv_arena *a,
                       qv_compact_group **out)
{
    plan_out o = {.a = a};
    qv_seg_info **c = QV_NEW_ARRAY(qv_seg_info *, n ? n : 1);
    qv_seg_info **l0 = QV_NEW_ARRAY(qv_seg_info *, n ? n : 1);
    bool *done = QV_NEW_ARRAY(bool, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        if (done[i] || !candidate(segs[i], parts, nparts, p))
            continue;
        size_t k = 0, nl = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && candidate(segs[j], parts, nparts, p) &&
                same_group(segs[i], segs[j])) {
                c[k++] = segs[j];
                done[j] = true;
            }
        for (size_t j = 0; j < n; j++) {
            const qv_seg_info *s = segs[j];
            if (s->level == LV(L0) && s->state == ST(FLUSHED) &&
                strcmp(s->vchannel, segs[i]->vchannel) == 0 &&
                (s->partition_id == -1 ||
                 s->partition_id == segs[i]->partition_id))
                l0[nl++] = segs[j];
        }
        qsort(c, k, sizeof *c, by_id);
        qsort(l0, nl, sizeof *l0, by_id);
        plan_group(&o, c, k, l0, nl, p);
    }
    free(c);
    free(l0);
    free(done);
    *out = o.v;
    return o.n;
}

/* ---- jobs and execution (the coord's maintenance thread) ----------------- */

#define DN_COMPACT     "/quiver.internal.DataNodeService/Compact"
#define MAX_JOBS       256
#define NO_NODE_MS     60000 /* a plan waits this long for a datanode */
#define COMPACT_RPC_MS 600000
#define MAX_ATTEMPTS   3

typedef enum pstate { P_PENDING, P_RUNNING, P_DONE, P_FAILED } pstate;

typedef struct cplan {
    pstate state;
    int64_t partition;
    char *vchannel;
    int64_t *inputs;
    size_t n;
    int64_t target;
    unsigned attempts; /* runs that failed on the way to a datanode */
} cplan;

typedef struct cjob {
    struct cjob *next;
    int64_t id;
    int64_t coll;
    cplan *plans;
    size_t n;
    uint64_t created_ms;
} cjob;

struct qv__maint {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    bool kick;
    cjob *jobs; /* newest first */
    size_t njobs;
    uint64_t last_gc_ms, last_scan_ms, last_auto_ms;
};

static uint64_t now_ms(void)
{
    return qv_wall_ms(qv_clock_system());
}

static uint64_t retention_ms(const qv_coord *c)
{
    return c->opts.retention_ms ? c->opts.retention_ms : 3600000;
}

static void job_free(cjob *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->plans[i].vchannel);
        free(j->plans[i].inputs);
    }
    free(j->plans);
    free(j);
}

static bool job_done(const cjob *j)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->plans[i].state == P_PENDING || j->plans[i].state == P_RUNNING)
            return false;
    return true;
}

/* Segment ids held by pending and running plans (mu held). */
static int64_t *busy_ids(struct qv__maint *m, size_t *n)
{
    size_t k = 0, cap = 16;
    int64_t *v = qv_xmalloc(cap * sizeof *v);
    for (cjob *j = m->jobs; j; j = j->next)
        for (size_t p = 0; p < j->n; p++) {
            const cplan *pl = &j->plans[p];
            if (pl->state != P_PENDING && pl->state != P_RUNNING)
                continue;
            for (size_t i = 0; i < pl->n; i++) {
                if (k == cap)
                    v = qv_xrealloc(v, (cap *= 2) * sizeof *v);
                v[k++] = pl->inputs[i];
            }
        }
    *n = k;
    return v;
}

/* Adds a job of the groups (mu held); drops the oldest finished jobs
 * beyond MAX_JOBS. */
static void add_job(struct qv__maint *m, int64_t id, int64_t coll,
                    const qv_compact_group *g, size_t n)
{
    cjob *j = QV_NEW(cjob);
    j->id = id;
    j->coll = coll;
    j->n = n;
    j->created_ms = now_ms();
    j->plans = QV_NEW_ARRAY(cplan, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        cplan *p = &j->plans[i];
        p->partition = g[i].partition_id;
        p->vchannel = qv_xstrdup(g[i].vchannel);
        p->n = g[i].ninputs;
        p->inputs = QV_NEW_ARRAY(int64_t, p->n);
        for (size_t k = 0; k < p->n; k++)
            p->inputs[k] = g[i].inputs[k]->id;
    }
    j->next = m->jobs;
    m->jobs = j;
    m->njobs++;
    while (m->njobs > MAX_JOBS) {
        cjob **pp = &m->jobs, **last = NULL;
        for (; *pp; pp = &(*pp)->next)
            if (job_done(*pp))
                last = pp;
        if (!last)
            break;
        cjob *old = *last;
        *last = old->next;
        job_free(old);
        m->njobs--;
    }
    m->kick = true;
    pthread_cond_signal(&m->cv);
}

static cjob *find_job(struct qv__maint *m, int64_t id)
{
    for (cjob *j = m->jobs; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

/* The collection by name (in db) or by id (in db, else in any database). */
static qv_code find_coll(qv_catalog *cat, const char *db, const char *name,
                         int64_t id, qv_arena *a, qv_coll_info **out,
                         qv_err *err)
{
    if (name && name[0])
        return qv_catalog_get_collection(cat, qv_coord__db(db), name, 0, a, out,
                                         err);
    if (db && db[0])
        return qv_catalog_get_collection(cat, db, NULL, id, a, out, err);
    qv_db_info **dbs;
    size_t n;
    qv_code rc = qv_catalog_list_databases(cat, a, &dbs, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (qv_catalog_get_collection(cat, dbs[i]->name, NULL, id, a, out,
                                      NULL) == QV_OK)
            return QV_OK;
    return rc ? rc
              : qv_fail(err, QV_E_COLLECTION_NOT_FOUND,
                        "collection id %" PRId64 " not found", id);
}

/* Plans for one collection and queues them as job `id` (0 = allocate). */
static qv_code plan_job(qv_coord *c, qv_catalog *cat, qv_tso *tso,
                        const qv_coll_info *info, bool manual, int64_t part,
                        const char *vch, const int64_t *only, size_t nonly,
                        int64_t *job_id, size_t *nplans, qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_seg_info **segs;
    size_t n;
    qv_code rc = qv_segmeta_list_segments(c->opts.kv, c->root, info->id, NULL,
                                          &a, &segs, &n, err);
    qv_ts now = 0;
    if (!rc)
        rc = qv_tso_alloc(tso, 1, &now, err);
    if (!rc && *job_id == 0)
        rc = qv_tso_alloc_ids(tso, 1, job_id, err);
    (void)cat;
    if (rc) {
        qv_arena_release(&a);
        return rc;
    }
    size_t k = 0; /* filters of a manual request */
    for (size_t i = 0; i < n; i++) {
        qv_seg_info *s = segs[i];
        bool l1 = s->level == LV(L1);
        if ((part > 0 && s->partition_id != part &&
             (l1 || s->partition_id != -1)) ||
            (vch && vch[0] && strcmp(s->vchannel, vch) != 0) ||
            (l1 && nonly && !in_list(only, nonly, s->id)))
            continue;
        segs[k++] = s;
    }
    int64_t *parts = QV_NEW_ARRAY(int64_t, info->n_partitions + 1);
    for (size_t i = 0; i < info->n_partitions; i++)
        parts[i] = info->partitions[i]->id;
    pthread_mutex_lock(&c->maint->mu);
    qv_compact_params p = {
        .min_rows = c->opts.compact_min_rows ? c->opts.compact_min_rows : 1024,
        .max_rows =
            c->opts.compact_max_rows ? c->opts.compact_max_rows : 1000000,
        .deleted_ratio = 0.2,
        .purge_before = qv_ts_add_ms(now, -(int64_t)retention_ms(c)),
        .manual = manual};
    int64_t *busy = busy_ids(c->maint, &p.nbusy);
    p.busy = busy;
    qv_compact_group *g;
    size_t ng = qv_compact_plan(segs, k, parts, info->n_partitions, &p, &a, &g);
    if (manual || ng)
        add_job(c->maint, *job_id, info->id, g, ng);
    pthread_mutex_unlock(&c->maint->mu);
    if (ng)
        QV_LOG(QV_LOG_INFO, "compact",
               "collection %" PRId64 ": compaction %" PRId64 " with %zu plans",
               info->id, *job_id, ng);
    *nplans = ng;
    free(busy);
    free(parts);
    qv_arena_release(&a);
    return QV_OK;
}

/* A live datanode's address ("" when none). */
static qv_code pick_datanode(qv_coord *c, char *addr, size_t cap, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%ssession/datanode-", c->root);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(c->opts.kv, prefix, strlen(prefix), NULL, &r, err);
    if (rc)
        return rc;
    addr[0] = '\0';
    /* spread plans over the nodes */
    static _Atomic unsigned turn;
    for (size_t t = 0; t < r.n && !addr[0]; t++) {
        const metakv_kv *kv = &r.kvs[(t + turn) % r.n];
        qv_json_val root = qv_json_root((const char *)kv->value, kv->value_len);
        qv_json_val v;
        if (qv_json_member(&root, "address", 7, &v) &&
            v.type == QV_JSON_STRING && v.len >= 3 && v.len - 2 < cap) {
            memcpy(addr, v.p + 1, v.len - 2);
            addr[v.len - 2] = '\0';
        }
    }
    turn++;
    metakv_kvs_release(&r);
    return QV_OK;
}

/* Reads the plan's inputs (with their revisions) and the channel's L0
 * logs; every input must still be a FLUSHED L1 segment. */
static qv_code read_inputs(qv_coord *c, int64_t coll, const cplan *p,
                           qv_arena *a, qv_seg_info **in, int64_t *revs,
                           qv_seg_info ***l0, size_t *nl0, qv_err *err)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_code rc = QV_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        qv_segmeta_seg_key(c->root, coll, p->inputs[i], key, sizeof key);
        metakv_kvs r = METAKV_KVS_INIT;
        rc = metakv_get(c->opts.kv, key, strlen(key), &r, err);
        if (!rc)
            rc = qv_pb_unpack(&quiver__internal__segment_info__descriptor,
                              r.kvs[0].value, r.kvs[0].value_len, a, key,
                              (ProtobufCMessage **)&in[i], err);
        if (!rc) {
            revs[i] = r.kvs[0].mod_rev;
            if (in[i]->state != ST(FLUSHED) || in[i]->level != LV(L1))
                rc = qv_fail(err, QV_E_CONFLICT,
                             "segment %" PRId64 " is no longer a flushed "
                             "segment",
                             p->inputs[i]);
        }
        metakv_kvs_release(&r);
    }
    qv_seg_info **all;
    size_t n = 0;
    if (!rc)
        rc = qv_segmeta_list_segments(c->opts.kv, c->root, coll, p->vchannel, a,
                                      &all, &n, err);
    *nl0 = 0;
    *l0 = qv_arena_alloc(a, (n ? n : 1) * sizeof **l0);
    for (size_t i = 0; !rc && i < n; i++)
        if (all[i]->level == LV(L0) && all[i]->state == ST(FLUSHED) &&
            (all[i]->partition_id == -1 ||
             all[i]->partition_id == p->partition))
            (*l0)[(*nl0)++] = all[i];
    return rc;
}

/* The swap: inputs COMPACTED, output FLUSHED, in one transaction guarded
 * by the inputs' revisions. */
static qv_code swap(qv_coord *c, int64_t coll, qv_seg_info **in,
                    const int64_t *revs, size_t n, qv_seg_info *out,
                    qv_err *err)
{
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    qv_ts now;
    rc = qv_tso_alloc(tso, 1, &now, err);
    if (!rc) {
        char key[QV_SEGMETA_KEY_MAX];
        metakv_txn *t = metakv_txn_begin(c->opts.kv);
        for (size_t i = 0; i < n; i++) {
            qv_segmeta_seg_key(c->root, coll, in[i]->id, key, sizeof key);
            metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_MOD_REV,
                               METAKV_EQ, revs[i]);
            in[i]->state = ST(COMPACTED);
            in[i]->dropped_ts = now;
            qv_segmeta_txn_put(t, METAKV_THEN, key, &in[i]->base);
        }
        out->state = ST(FLUSHED);
        out->flushed_ts = now;
        qv_segmeta_seg_key(c->root, coll, out->id, key, sizeof key);
        metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_VERSION, METAKV_EQ,
                           0);
        qv_segmeta_txn_put(t, METAKV_THEN, key, &out->base);
        bool ok = false;
        rc = metakv_txn_commit(t, &ok, NULL, err);
        if (!rc && !ok)
            rc = qv_fail(err, QV_E_CONFLICT,
                         "inputs changed while they were compacted");
    }
    qv_coord__leave(c);
    return rc;
}

/* The output record from the datanode's answer and the plan. */
static void fill_output(qv_seg_info *o, int64_t coll, const cplan *p,
                        qv_seg_info *const *in, int64_t seg, int64_t log,
                        qv_arena *a)
{
    o->id = seg;
    o->collection_id = coll;
    o->partition_id = p->partition;
    o->vchannel = qv_arena_strdup(a, p->vchannel);
    o->shard = in[0]->shard;
    o->level = LV(L1);
    o->log_id = log;
    o->dropped_ts = 0;
    o->compacted_from = qv_arena_alloc(a, p->n * sizeof(int64_t));
    memcpy(o->compacted_from, p->inputs, p->n * sizeof(int64_t));
    o->n_compacted_from = p->n;
    if (o->n_field_ids == 0) {
        o->field_ids = in[0]->field_ids;
        o->n_field_ids = in[0]->n_field_ids;
    }
}

/* Ids, schema and purge timestamp of a plan (under the active lock). */
static qv_code prepare(qv_coord *c, int64_t coll, qv_arena *a,
                       Quiver__Internal__CompactRequest *rq, qv_err *err)
{
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    qv_coll_info *info;
    rc = find_coll(cat, NULL, NULL, coll, a, &info, err);
    int64_t ids = 0;
    qv_ts now = 0;
    if (!rc)
        rc = qv_tso_alloc_ids(tso, 2, &ids, err);
    if (!rc)
        rc = qv_tso_alloc(tso, 1, &now, err);
    qv_coord__leave(c);
    if (rc)
        return rc;
    rq->schema = info->schema;
    rq->output_segment_id = ids;
    rq->output_log_id = ids + 1;
    rq->purge_before_ts = qv_ts_add_ms(now, -(int64_t)retention_ms(c));
    return QV_OK;
}

static qv_code
call_compact(const char *addr, const Quiver__Internal__CompactRequest *rq,
             qv_arena *a, Quiver__Internal__CompactResponse **resp, qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(addr, &ch, err);
    if (rc)
        return rc;
    qv_rpc_call_opts o = {.timeout_ms = COMPACT_RPC_MS,
                          .flags = QV_RPC_FAIL_FAST};
    rc = qv_rpc_unary(ch, DN_COMPACT, &rq->base,
                      &quiver__internal__compact_response__descriptor, a,
                      (ProtobufCMessage **)resp, &o, err);
    qv_rpc_channel_close(ch);
    if (!rc && (*resp)->status && (*resp)->status->code != 0)
        rc = qv_fail(err, QV_E_INTERNAL, "datanode %s: %s", addr,
                     (*resp)->status->reason);
    if (!rc && !(*resp)->output)
        rc =
            qv_fail(err, QV_E_INTERNAL, "datanode %s: no output segment", addr);
    return rc;
}

/* Runs one plan; QV_E_NOT_READY = no datanode yet (try again later). */
static qv_code run_plan(qv_coord *c, int64_t job, int64_t coll, cplan *p,
                        qv_err *err)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_seg_info **in = qv_arena_alloc(&a, p->n * sizeof *in);
    int64_t *revs = qv_arena_alloc(&a, p->n * sizeof *revs);
    qv_seg_info **l0;
    size_t nl0;
    char addr[300];
    Quiver__Internal__CompactRequest rq =
        QUIVER__INTERNAL__COMPACT_REQUEST__INIT;
    Quiver__Internal__CompactResponse *resp = NULL;
    qv_code rc = pick_datanode(c, addr, sizeof addr, err);
    if (!rc && !addr[0])
        rc = qv_fail(err, QV_E_NOT_READY, "no datanode is running");
    if (!rc)
        rc = read_inputs(c, coll, p, &a, in, revs, &l0, &nl0, err);
    if (!rc)
        rc = prepare(c, coll, &a, &rq, err);
    if (!rc) {
        rq.plan_id = job;
        rq.collection_id = coll;
        rq.inputs = in;
        rq.n_inputs = p->n;
        rq.l0 = l0;
        rq.n_l0 = nl0;
        rc = call_compact(addr, &rq, &a, &resp, err);
    }
    if (!rc) {
        fill_output(resp->output, coll, p, in, rq.output_segment_id,
                    rq.output_log_id, &a);
        rc = swap(c, coll, in, revs, p->n, resp->output, err);
    }
    if (!rc) {
        p->target = rq.output_segment_id;
        QV_LOG(QV_LOG_INFO, "compact",
               "compaction %" PRId64 ": %zu segments -> segment %" PRId64
               " (%" PRIu64 " rows)",
               job, p->n, p->target, resp->output->rows);
    }
    qv_arena_release(&a);
    return rc;
}

static void count_plan(const char *result)
{
    static const char *const labels[] = {"result", NULL};
    qv_metric_family *f = qv_metrics_counter(
        "quiver_compaction_plans_total", "compaction plans by result", labels);
    const char *v[] = {result};
    if (f)
        qv_metric_add(f, v, 1);
}

/* Runs the oldest pending plan, if any; false when none is pending. */
static bool run_next(qv_coord *c)
{
    struct qv__maint *m = c->maint;
    pthread_mutex_lock(&m->mu);
    cjob *job = NULL;
    cplan *p = NULL;
    for (cjob *j = m->jobs; j; j = j->next)
        for (size_t i = 0; i < j->n; i++)
            if (j->plans[i].state == P_PENDING) {
                job = j; /* keep the oldest job's first pending plan */
                p = &j->plans[i];
                break;
            }
    if (p)
        p->state = P_RUNNING;
    int64_t id = job ? job->id : 0, coll = job ? job->coll : 0;
    uint64_t created = job ? job->created_ms : 0;
    pthread_mutex_unlock(&m->mu);
    if (!p)
        return false;
    qv_err e = {0};
    qv_code rc = run_plan(c, id, coll, p, &e);
    qv_code prc = qv_code_primary(rc);
    bool transient = prc == QV_E_UNAVAILABLE || prc == QV_E_TIMEOUT;
    pthread_mutex_lock(&m->mu);
    if (rc == QV_E_NOT_READY && now_ms() - created < NO_NODE_MS) {
        p->state = P_PENDING; /* no datanode yet */
    } else if (transient && ++p->attempts < MAX_ATTEMPTS) {
        p->state = P_PENDING; /* a datanode went away: another one */
        QV_LOG(QV_LOG_WARN, "compact",
               "compaction %" PRId64 " attempt %u failed: %s", id, p->attempts,
               e.msg);
        rc = QV_E_NOT_READY; /* next round */
    } else {
        p->state = rc ? P_FAILED : P_DONE;
        count_plan(rc ? "failed" : "completed");
        if (rc)
            QV_LOG(QV_LOG_WARN, "compact", "compaction %" PRId64 " failed: %s",
                   id, e.msg);
    }
    pthread_mutex_unlock(&m->mu);
    return rc != QV_E_NOT_READY;
}

/* Automatic compaction of every live collection. */
static void auto_round(qv_coord *c)
{
    qv_catalog *cat;
    qv_tso *tso;
    qv_err e = {0};
    if (qv_coord__enter(c, &cat, &tso, &e))
        return;
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_db_info **dbs;
    size_t ndb = 0;
    qv_code rc = qv_catalog_list_databases(cat, &a, &dbs, &ndb, &e);
    for (size_t d = 0; !rc && d < ndb; d++) {
        qv_coll_info **cs;
        size_t nc = 0;
        if (qv_catalog_list_collections(cat, dbs[d]->name, &a, &cs, &nc, &e))
            continue;
        for (size_t i = 0; i < nc && !rc; i++) {
            int64_t job = 0;
            size_t np;
            rc = plan_job(c, cat, tso, cs[i], false, 0, NULL, NULL, 0, &job,
                          &np, &e);
        }
    }
    qv_coord__leave(c);
    qv_arena_release(&a);
    if (rc)
        QV_LOG(QV_LOG_WARN, "compact", "automatic compaction: %s", e.msg);
}

static void gc_round(qv_coord *c, bool scan)
{
    qv_gc_options o = {.kv = c->opts.kv,
                       .root = c->root,
                       .os = c->opts.os,
                       .now_ms = now_ms(),
                       .retention_ms = retention_ms(c),
                       .orphan_grace_ms = c->opts.gc_orphan_grace_ms
                                              ? c->opts.gc_orphan_grace_ms
                                              : 3600000,
                       .scan_orphans = scan,
                       .build_min_rows = qv_coord__index_min_rows(c)};
    qv_gc_stats st;
    qv_err e = {0};
    if (qv_gc_run(&o, &st, &e)) {
        QV_LOG(QV_LOG_WARN, "gc", "%s", e.msg);
        return;
    }
    QV_LOG(QV_LOG_DEBUG, "gc",
           "round: %" PRIu64 " bytes live, %" PRIu64 " pending, %" PRIu64
           " segments removed",
           st.bytes_live, st.bytes_pending, st.segments_removed);
    if (st.objects_deleted || st.segments_removed || st.collections_removed)
        QV_LOG(QV_LOG_INFO, "gc",
               "deleted %" PRIu64 " objects (%" PRIu64 " orphans), %" PRIu64
               " segments, %" PRIu64 " index builds, %" PRIu64 " collections",
               st.objects_deleted, st.orphans_deleted, st.segments_removed,
               st.builds_removed, st.collections_removed);
}

static void *maint_main(void *arg)
{
    qv_coord *c = arg;
    struct qv__maint *m = c->maint;
    uint64_t gc_every = c->opts.gc_interval_ms ? c->opts.gc_interval_ms : 60000;
    uint64_t scan_every =
        c->opts.gc_scan_interval_ms ? c->opts.gc_scan_interval_ms : 3600000;
    while (!c->stopping) {
        pthread_mutex_lock(&m->mu);
        if (!m->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        }
        m->kick = false;
        pthread_mutex_unlock(&m->mu);
        if (c->stopping || !atomic_load(&c->active))
            continue;
        while (!c->stopping && run_next(c))
            ;
        uint64_t now = now_ms();
        if (c->opts.compact_interval_ms &&
            now - m->last_auto_ms >= c->opts.compact_interval_ms) {
            m->last_auto_ms = now;
            auto_round(c);
        }
        if (c->opts.os && c->opts.gc_interval_ms != UINT64_MAX &&
            now - m->last_gc_ms >= gc_every) {
            bool scan = now - m->last_scan_ms >= scan_every;
            m->last_gc_ms = now;
            if (scan)
                m->last_scan_ms = now;
            gc_round(c, scan);
        }
    }
    return NULL;
}

qv_code qv_coord__maint_start(qv_coord *c, qv_err *err)
{
    struct qv__maint *m = QV_NEW(struct qv__maint);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    /* the first GC round waits a full interval: a new active coord lets
     * the cluster settle before deleting anything */
    m->last_gc_ms = m->last_scan_ms = m->last_auto_ms = now_ms();
    c->maint = m;
    if (!c->opts.os)
        QV_LOG(QV_LOG_INFO, "gc",
               "no object store configured for the coord: garbage collection "
               "is off");
    if (pthread_create(&m->thread, NULL, maint_main, c) != 0)
        return qv_fail(err, QV_E_NOMEM,
                       "coord: cannot start its maintenance "
                       "thread");
    m->started = true;
    return QV_OK;
}

void qv_coord__maint_stop(qv_coord *c)
{
    struct qv__maint *m = c->maint;
    if (!m || !m->started)
        return;
    pthread_mutex_lock(&m->mu);
    m->kick = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    m->started = false;
}

void qv_coord__maint_free(qv_coord *c)
{
    struct qv__maint *m = c->maint;
    if (!m)
        return;
    qv_coord__maint_stop(c);
    while (m->jobs) {
        cjob *j = m->jobs;
        m->jobs = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
    c->maint = NULL;
}

/* ---- handlers ------------------------------------------------------------ */

#define M(x)  Milvus__Proto__Milvus__##x
#define CS(x) MILVUS__PROTO__COMMON__COMPACTION_STATE__##x

QV_COORD_HANDLER(qv_coord__manual_compaction)
{
    qv_coord *c = ud;
    const M(ManualCompactionRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(ManualCompactionResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__manual_compaction_response__init(r);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (!rc) {
        qv_coll_info *info = NULL;
        if (!rq->collection_name[0] && rq->collectionid <= 0)
            rc = qv_fail(err, QV_E_INVALID,
                         "manual compaction: collection name or id is "
                         "required");
        else
            rc = find_coll(cat, rq->db_name, rq->collection_name,
                           rq->collectionid, a, &info, err);
        int64_t job = 0;
        size_t np = 0;
        if (!rc)
            rc =
                plan_job(c, cat, tso, info, true, rq->partition_id, rq->channel,
                         rq->segment_ids, rq->n_segment_ids, &job, &np, err);
        if (!rc) {
            r->compactionid = job;
            r->compactionplancount = (int32_t)np;
        }
        qv_coord__leave(c);
    }
    r->status = qv_coord__status(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

/* Plan counts of a job: executing (pending or running), completed,
 * failed. */
static void job_counts(const cjob *j, int64_t *exec, int64_t *done,
                       int64_t *failed)
{
    *exec = *done = *failed = 0;
    for (size_t i = 0; j && i < j->n; i++) {
        pstate s = j->plans[i].state;
        *exec += s == P_PENDING || s == P_RUNNING;
        *done += s == P_DONE;
        *failed += s == P_FAILED;
    }
}

QV_COORD_HANDLER(qv_coord__get_compaction_state)
{
    qv_coord *c = ud;
    const M(GetCompactionStateRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetCompactionStateResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_compaction_state_response__init(r);
    qv_code rc = QV_OK;
    if (rq->compactionid <= 0)
        rc = qv_fail(err, QV_E_INVALID, "compaction id %" PRId64 " is invalid",
                     rq->compactionid);
    else if (!c->maint)
        rc = qv_fail(err, QV_E_NOT_READY, "compaction is not running");
    if (!rc) {
        pthread_mutex_lock(&c->maint->mu);
        int64_t e, d, f;
        job_counts(find_job(c->maint, rq->compactionid), &e, &d, &f);
        pthread_mutex_unlock(&c->maint->mu);
        r->state = e ? CS(Executing) : CS(Completed);
        r->executingplanno = e;
        r->completedplanno = d;
        r->failedplanno = f;
    }
    r->status = qv_coord__status(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}

QV_COORD_HANDLER(qv_coord__get_compaction_plans)
{
    qv_coord *c = ud;
    const M(GetCompactionPlansRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    M(GetCompactionPlansResponse) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__get_compaction_plans_response__init(r);
    qv_code rc = QV_OK;
    if (rq->compactionid <= 0)
        rc = qv_fail(err, QV_E_INVALID, "compaction id %" PRId64 " is invalid",
                     rq->compactionid);
    else if (!c->maint)
        rc = qv_fail(err, QV_E_NOT_READY, "compaction is not running");
    if (!rc) {
        pthread_mutex_lock(&c->maint->mu);
        const cjob *j = find_job(c->maint, rq->compactionid);
        int64_t e, d, f;
        job_counts(j, &e, &d, &f);
        r->state = e ? CS(Executing) : CS(Completed);
        size_t n = j ? j->n : 0;
        r->mergeinfos = qv_arena_alloc(a, (n ? n : 1) * sizeof *r->mergeinfos);
        for (size_t i = 0; i < n; i++) {
            M(CompactionMergeInfo) *mi = qv_arena_alloc(a, sizeof *mi);
            milvus__proto__milvus__compaction_merge_info__init(mi);
            mi->n_sources = j->plans[i].n;
            mi->sources = qv_arena_alloc(a, mi->n_sources * sizeof(int64_t));
            memcpy(mi->sources, j->plans[i].inputs,
                   mi->n_sources * sizeof(int64_t));
            mi->target = j->plans[i].target;
            r->mergeinfos[r->n_mergeinfos++] = mi;
        }
        pthread_mutex_unlock(&c->maint->mu);
    }
    r->status = qv_coord__status(a, rc, err);
    *resp = &r->base;
    return QV_OK;
}
