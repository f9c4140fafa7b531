/* e2e_run.c -- the phases of an e2e_bench run, in order: insert (128-d),
 * flush, CreateIndex + wait for the build + load, count(*), search sweep
 * through the server, the library's own build and search sweep on the same
 * data, insert (768-d). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench/e2e/e2e_run.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"

#define INDEX_FINISHED 3 /* common.IndexState */
#define INDEX_FAILED   4

void e2e_note(e2e_run *r, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("  note: %s\n", buf);
    (void)fflush(stdout);
    if (r->nnotes < (int)(sizeof r->notes / sizeof r->notes[0]))
        (void)snprintf(r->notes[r->nnotes++], sizeof r->notes[0], "%s", buf);
}

static void progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  .. ");
    (void)vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    (void)fflush(stdout);
}

/* ---- inserts ------------------------------------------------------------ */

typedef struct ins_job {
    e2e_client *c;
    const char *coll;
    const float *x;
    size_t n, d, batch;
    atomic_size_t next;
    atomic_int failed;
    double *lat; /* one per batch */
    pthread_mutex_t mu;
    qv_err err;
} ins_job;

static void *ins_worker(void *arg)
{
    ins_job *j = arg;
    for (;;) {
        size_t off = atomic_fetch_add(&j->next, j->batch);
        if (off >= j->n || atomic_load(&j->failed))
            break;
        size_t cnt = j->n - off < j->batch ? j->n - off : j->batch;
        qv_err e = {0};
        double t = e2e_now();
        qv_code rc = e2e_insert(j->c, j->coll, (int64_t)off, cnt, j->d,
                                j->x + off * j->d, &e);
        j->lat[off / j->batch] = e2e_now() - t;
        if (rc) {
            pthread_mutex_lock(&j->mu);
            if (!atomic_exchange(&j->failed, 1))
                j->err = e;
            pthread_mutex_unlock(&j->mu);
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static qv_code insert_all(const e2e_opts *o, e2e_run *r, const char *coll,
                          const e2e_vecs *v, e2e_insert_result *out,
                          qv_err *err)
{
    ins_job j = {.c = &r->c,
                 .coll = coll,
                 .x = v->x,
                 .n = v->n,
                 .d = v->d,
                 .batch = o->batch};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.mu, NULL);
    size_t nb = (v->n + o->batch - 1) / o->batch;
    j.lat = qv_xcalloc(nb + 1, sizeof *j.lat);
    int nt = o->insert_threads;
    pthread_t *t = qv_xcalloc((size_t)nt, sizeof *t);
    double t0 = e2e_now();
    for (int i = 0; i < nt; i++)
        if (pthread_create(&t[i], NULL, ins_worker, &j) != 0)
            QV_ASSERT(!"pthread_create failed");
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    double dt = e2e_now() - t0;
    free(t);
    pthread_mutex_destroy(&j.mu);
    qv_code rc = QV_OK;
    if (atomic_load(&j.failed)) {
        rc = qv_fail(err, j.err.code ? j.err.code : QV_E_INTERNAL,
                     "insert into %s: %s", coll, j.err.msg);
    } else {
        qsort(j.lat, nb, sizeof *j.lat, cmp_d);
        *out = (e2e_insert_result){
            .done = true,
            .rows = v->n,
            .dim = v->d,
            .batch = o->batch,
            .threads = nt,
            .seconds = dt,
            .rows_s = (double)v->n / dt,
            .mb_s = (double)v->n * (double)v->d * 4.0 / dt / 1048576.0,
            .p50_ms = j.lat[(nb - 1) / 2] * 1e3,
            .p99_ms = j.lat[(size_t)ceil(0.99 * (double)nb) - 1] * 1e3};
        progress("inserted %zu x %zu-d rows in %.1f s: %.0f rows/s", v->n, v->d,
                 dt, out->rows_s);
    }
    free(j.lat);
    return rc;
}

static qv_code phase_insert128(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    qv_code rc = e2e_drop_collection(&r->c, E2E_COLL_128, err);
    if (!rc)
        rc = e2e_create_collection(&r->c, E2E_COLL_128, r->base.d, o->shards,
                                   o->consistency, err);
    if (!rc)
        rc = insert_all(o, r, E2E_COLL_128, &r->base, &r->ins128, err);
    if (rc)
        return rc;
    double t0 = e2e_now();
    rc = e2e_flush_sync(&r->c, E2E_COLL_128, (int64_t)o->timeout_s * 1000,
                        &r->nseg, err);
    if (rc)
        return rc;
    r->flush_s = e2e_now() - t0;
    r->flushed = true;
    progress("flushed %zu segments in %.1f s", r->nseg, r->flush_s);
    return QV_OK;
}

/* ---- index and load ----------------------------------------------------- */

/* Polls DescribeIndex until the build is finished; r->index_done. */
static qv_code wait_index(const e2e_opts *o, e2e_run *r, double t0, qv_err *err)
{
    double end = t0 + o->timeout_s;
    e2e_index_state st;
    for (;;) {
        qv_code rc = e2e_describe_index(&r->c, E2E_COLL_128, &st, err);
        if (rc)
            return rc;
        if (st.reply.grpc == E2E_GRPC_UNIMPLEMENTED) {
            e2e_note(r, "DescribeIndex answered UNIMPLEMENTED: the build "
                        "time below is the load time only");
            return QV_OK;
        }
        double now = e2e_now();
        if (st.exists && st.state == INDEX_FAILED)
            return qv_fail(err, QV_E_INTERNAL, "index build failed: %s",
                           st.fail);
        bool finished = st.exists && (st.state == INDEX_FINISHED ||
                                      (st.total > 0 && st.indexed >= st.total));
        /* right after CreateIndex the coord may not have planned the builds
         * yet: a "finished" with nothing indexed counts only after 10 s */
        if (finished && (st.indexed > 0 || now - t0 > 10)) {
            r->index_s = now - t0;
            r->index_cpu_s = e2e_servers_cpu_s(&r->servers) - r->index_cpu_s;
            r->index_done = true;
            (void)snprintf(r->index_note, sizeof r->index_note,
                           "DescribeIndex: state %d, indexed %lld of %lld "
                           "rows, pending %lld",
                           st.state, (long long)st.indexed, (long long)st.total,
                           (long long)st.pending);
            progress("index built in %.1f s (%s)", r->index_s, r->index_note);
            return QV_OK;
        }
        if (now > end)
            return qv_fail(err, QV_E_TIMEOUT,
                           "index not finished after %d s: state %d, indexed "
                           "%lld of %lld, pending %lld (%s)",
                           o->timeout_s, st.state, (long long)st.indexed,
                           (long long)st.total, (long long)st.pending,
                           st.exists ? st.fail : st.reply.reason);
        qv_sleep_ms(200);
    }
}

static qv_code create_index(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    if (strcasecmp(o->index_type, "FLAT") == 0) {
        r->flat = true;
        (void)snprintf(r->index_note, sizeof r->index_note,
                       "no index (--index FLAT): exact search");
        return QV_OK;
    }
    char params[128];
    (void)snprintf(params, sizeof params, "{\"M\":%d,\"efConstruction\":%d}",
                   o->M, o->efc);
    e2e_reply rep;
    double t0 = e2e_now();
    r->index_cpu_s = e2e_servers_cpu_s(&r->servers);
    qv_code rc =
        e2e_create_index(&r->c, E2E_COLL_128, o->index_type, params, &rep, err);
    if (rc)
        return rc;
    if (rep.grpc == E2E_GRPC_UNIMPLEMENTED) {
        r->flat = true;
        (void)snprintf(r->index_note, sizeof r->index_note,
                       "CreateIndex answered UNIMPLEMENTED: the server "
                       "searches FLAT (exact), compared with the library's "
                       "FLAT");
        e2e_note(r, "%s", r->index_note);
        return QV_OK;
    }
    if (rep.grpc != 0 || rep.code != 0) {
        r->flat = true;
        (void)snprintf(
            r->index_note, sizeof r->index_note,
            "CreateIndex %.16s %.64s refused (grpc %d, code %d: %.200s): "
            "searching FLAT",
            o->index_type, params, rep.grpc, rep.code, rep.reason);
        e2e_note(r, "%s", r->index_note);
        r->failures++;
        return QV_OK;
    }
    progress("CreateIndex %s %s accepted; waiting for the build", o->index_type,
             params);
    return wait_index(o, r, t0, err);
}

static qv_code phase_index_load(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    qv_code rc = create_index(o, r, err);
    if (rc)
        return rc;
    double t0 = e2e_now();
    if ((rc = e2e_load(&r->c, E2E_COLL_128, err)))
        return rc;
    int64_t p = 0;
    while (p < 100) {
        if ((rc = e2e_loading_progress(&r->c, E2E_COLL_128, &p, err)))
            return rc;
        if (p >= 100)
            break;
        if (e2e_now() - t0 > o->timeout_s)
            return qv_fail(err, QV_E_TIMEOUT,
                           "loading progress %lld after %d s", (long long)p,
                           o->timeout_s);
        qv_sleep_ms(200);
    }
    r->load_s = e2e_now() - t0;
    progress("loaded (progress 100) in %.1f s", r->load_s);
    /* Every row must be visible (Strong): a loss is a server bug. */
    if ((rc = e2e_count(&r->c, E2E_COLL_128, &r->count, err)))
        return rc;
    if (r->count != (int64_t)r->base.n) {
        e2e_note(r, "count(*) at Strong is %lld after inserting %zu rows",
                 (long long)r->count, r->base.n);
        r->failures++;
    }
    return QV_OK;
}

/* ---- search ------------------------------------------------------------- */

/* Each client thread searches on a connection of its own, as separate
 * client processes do (a server reads one connection on one thread). */
typedef struct srv_ctx {
    e2e_client *own; /* [n_own] */
    int n_own;
    e2e_search_req rq;
    const e2e_vecs *q;
} srv_ctx;

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static int err_printed;

static void report_search_error(const char *who, const qv_err *e)
{
    pthread_mutex_lock(&err_mu);
    if (err_printed++ < 3)
        (void)fprintf(stderr, "e2e_bench: %s search failed: %s\n", who, e->msg);
    pthread_mutex_unlock(&err_mu);
}

static int srv_search(void *ctx, int thread, size_t q, int64_t *ids)
{
    srv_ctx *s = ctx;
    qv_err e = {0};
    QV_ASSERT(thread < s->n_own);
    qv_code rc =
        e2e_search_one(&s->own[thread], &s->rq, s->q->x + q * s->q->d, ids, &e);
    if (rc)
        report_search_error("server", &e);
    return rc != QV_OK;
}

typedef struct lib_ctx {
    const qv_index *ix;
    const e2e_vecs *q;
    size_t topk;
    int ef;
} lib_ctx;

static int lib_search(void *ctx, int thread, size_t q, int64_t *ids)
{
    lib_ctx *l = ctx;
    (void)thread;
    float dist[E2E_MAX_TOPK];
    char ef[24];
    (void)snprintf(ef, sizeof ef, "%d", l->ef);
    qv_kv kv = {"ef", ef};
    qv_params p = {&kv, l->ef > 0 ? 1 : 0};
    qv_search_args a = {.params = &p};
    qv_err e = {0};
    qv_code rc = qv_index_search(l->ix, 1, l->q->x + q * l->q->d, l->topk, &a,
                                 dist, ids, &e);
    if (rc)
        report_search_error("library", &e);
    return rc != QV_OK;
}

static double server_cpu(const e2e_run *r)
{
    return e2e_servers_cpu_s(&r->servers);
}

static double self_cpu(const e2e_run *r)
{
    (void)r;
    return e2e_self_cpu_s();
}

static qv_code sweep(const e2e_opts *o, e2e_run *r, e2e_sweep *sw,
                     const char *who, e2e_search_fn fn, void *ctx, int *ef,
                     double (*cpu)(const e2e_run *), qv_err *err)
{
    /* exact search over the whole set is slow: one pass over at most 200
     * queries is enough to time it and check its recall */
    size_t min_calls = r->queries.n;
    if (r->flat && min_calls > 200)
        min_calls = 200;
    for (int e = 0; e < sw->nef; e++) {
        *ef = sw->efs[e];
        for (int t = 0; t < o->nthreads; t++) {
            e2e_point *pt = &sw->points[e][t];
            double c0 = cpu(r), ssum0 = NAN, scnt0 = NAN, ssum, scnt;
            qv_err ignore = {0};
            if (cpu == server_cpu &&
                e2e_servers_search_stats(&r->servers, &ssum0, &scnt0,
                                         &ignore) != QV_OK)
                ssum0 = NAN;
            qv_code rc =
                e2e_search_timed(fn, ctx, o->threads[t], r->queries.n, o->topk,
                                 &r->gt, o->seconds, min_calls, pt, err);
            if (rc)
                return rc;
            pt->cpu_ms = (cpu(r) - c0) / (double)pt->calls * 1e3;
            pt->srv_ms = NAN;
            if (!isnan(ssum0) &&
                e2e_servers_search_stats(&r->servers, &ssum, &scnt, &ignore) ==
                    QV_OK &&
                scnt > scnt0)
                pt->srv_ms = (ssum - ssum0) / (scnt - scnt0) * 1e3;
            progress("%s ef=%d threads=%d: %.0f QPS, p50 %.2f ms, p99 %.2f "
                     "ms (proxy-side mean %.2f ms), recall@%zu %.4f, %.3f CPU "
                     "ms/query%s",
                     who, sw->efs[e], o->threads[t], pt->qps, pt->p50_ms,
                     pt->p99_ms, pt->srv_ms, o->topk, pt->recall, pt->cpu_ms,
                     pt->errors ? " (ERRORS)" : "");
            if (pt->errors) {
                r->failures++;
                return qv_fail(err, QV_E_INTERNAL,
                               "%s search: %zu of %zu calls failed", who,
                               pt->errors, pt->errors + pt->calls);
            }
        }
    }
    sw->done = true;
    return QV_OK;
}

static qv_code search_points(const e2e_opts *o, e2e_run *r, srv_ctx *sp,
                             qv_err *err);

static qv_code phase_server_search(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    srv_ctx s = {.rq = {.collection = E2E_COLL_128,
                        .dim = r->base.d,
                        .topk = o->topk,
                        .consistency = o->consistency},
                 .q = &r->queries};
    int maxt = 1;
    for (int t = 0; t < o->nthreads; t++)
        maxt = o->threads[t] > maxt ? o->threads[t] : maxt;
    s.own = qv_xcalloc((size_t)maxt, sizeof *s.own);
    qv_code rc = QV_OK;
    for (; s.n_own < maxt && rc == QV_OK; s.n_own++)
        rc = e2e_client_open_own(&s.own[s.n_own], r->c.address, err);
    if (rc == QV_OK)
        rc = search_points(o, r, &s, err);
    for (int i = 0; i < s.n_own; i++)
        e2e_client_close(&s.own[i]);
    free(s.own);
    return rc;
}

static qv_code search_points(const e2e_opts *o, e2e_run *r, srv_ctx *sp,
                             qv_err *err)
{
    srv_ctx s = *sp;
    e2e_sweep *sw = &r->srv;
    if (r->flat) {
        sw->nef = 1;
        sw->efs[0] = 0;
    } else {
        sw->nef = o->nef;
        memcpy(sw->efs, o->efs, sizeof o->efs);
    }
    /* warm-up: one pass over (up to) 200 queries, every connection */
    e2e_point warm;
    s.rq.ef = sw->efs[0];
    size_t nw = r->queries.n < 200 ? r->queries.n : 200;
    qv_code rc = e2e_search_timed(srv_search, &s, s.n_own, nw, o->topk, NULL, 0,
                                  nw, &warm, err);
    if (!rc && warm.errors)
        rc = qv_fail(err, QV_E_INTERNAL,
                     "server search: %zu of %zu warm-up "
                     "calls failed",
                     warm.errors, nw);
    if (!rc)
        rc = sweep(o, r, sw, "server", srv_search, &s, &s.rq.ef, server_cpu,
                   err);
    return rc;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* The library sweeps the same efs plus one below and one above, so the
 * server's recall points can be matched by interpolation. */
static void lib_efs(const e2e_opts *o, const e2e_run *r, e2e_sweep *sw)
{
    if (r->flat) {
        sw->nef = 1;
        sw->efs[0] = 0;
        return;
    }
    int n = 0, lo = o->efs[0], hi = o->efs[0];
    for (int i = 0; i < o->nef; i++) {
        sw->efs[n++] = o->efs[i];
        lo = o->efs[i] < lo ? o->efs[i] : lo;
        hi = o->efs[i] > hi ? o->efs[i] : hi;
    }
    if (lo > (int)o->topk) /* ef below k is k */
        sw->efs[n++] = lo / 2 > (int)o->topk ? lo / 2 : (int)o->topk;
    sw->efs[n++] = hi * 2;
    qsort(sw->efs, (size_t)n, sizeof(int), cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || sw->efs[m - 1] != sw->efs[i])
            sw->efs[m++] = sw->efs[i];
    sw->nef = m;
}

static qv_code phase_library(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    qv_index_type type = r->flat ? QV_INDEX_FLAT : QV_INDEX_HNSW;
    if (!r->flat && strcasecmp(o->index_type, "HNSW") != 0) {
        e2e_note(r, "library comparison is HNSW only; skipped for %s",
                 o->index_type);
        return QV_OK;
    }
    char m[16], efc[16];
    (void)snprintf(m, sizeof m, "%d", o->M);
    (void)snprintf(efc, sizeof efc, "%d", o->efc);
    qv_kv kv[2] = {{"M", m}, {"efConstruction", efc}};
    qv_params p = {kv, r->flat ? 0 : 2};
    qv_index *ix = NULL;
    progress("library: building %s in-process", qv_index_type_name(type));
    double t0 = e2e_now(), c0 = e2e_self_cpu_s();
    qv_code rc = qv_index_create(type, QV_METRIC_L2, r->base.d, &p, &ix, err);
    if (!rc)
        rc = qv_index_add(ix, r->base.n, r->base.x, NULL, err);
    r->lib_build_s = e2e_now() - t0;
    r->lib_build_cpu_s = e2e_self_cpu_s() - c0;
    if (!rc) {
        r->lib_mem = qv_index_memory_size(ix);
        progress("library build %.1f s", r->lib_build_s);
        lib_ctx l = {.ix = ix, .q = &r->queries, .topk = o->topk};
        lib_efs(o, r, &r->lib);
        rc = sweep(o, r, &r->lib, "library", lib_search, &l, &l.ef, self_cpu,
                   err);
    }
    qv_index_free(ix);
    return rc;
}

/* ---- 768-d inserts ------------------------------------------------------ */

static qv_code phase_insert768(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    e2e_vecs v;
    qv_code rc = e2e_vecs_random(o->n768, 768, 768, &v, err);
    if (rc)
        return rc;
    rc = e2e_drop_collection(&r->c, E2E_COLL_768, err);
    if (!rc)
        rc = e2e_create_collection(&r->c, E2E_COLL_768, 768, o->shards,
                                   o->consistency, err);
    if (!rc)
        rc = insert_all(o, r, E2E_COLL_768, &v, &r->ins768, err);
    e2e_vecs_free(&v);
    if (!rc && !o->keep)
        rc = e2e_drop_collection(&r->c, E2E_COLL_768, err);
    return rc;
}

/* --search-only: the collection a --keep run left, loaded, with every
 * row; FLAT when it has no index. */
static qv_code reuse_collection(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    e2e_index_state st;
    qv_code rc = e2e_describe_index(&r->c, E2E_COLL_128, &st, err);
    if (rc)
        return rc;
    r->flat = !st.exists;
    (void)snprintf(r->index_note, sizeof r->index_note, "--search-only: %s",
                   st.exists ? "existing index"
                             : "no "
                               "index (FLAT)");
    if ((rc = e2e_load(&r->c, E2E_COLL_128, err)) ||
        (rc = e2e_count(&r->c, E2E_COLL_128, &r->count, err)))
        return rc;
    if (r->count != (int64_t)r->base.n)
        return qv_fail(err, QV_E_INVALID,
                       "--search-only: %s holds %lld rows, not %zu (run "
                       "once with --keep and the same --n)",
                       E2E_COLL_128, (long long)r->count, r->base.n);
    (void)o;
    return QV_OK;
}

static int ping(void *ctx, int thread, size_t q, int64_t *ids)
{
    (void)thread;
    (void)q;
    (void)ids;
    qv_err e = {0};
    qv_code rc = e2e_ping(ctx, &e);
    if (rc)
        report_search_error("GetVersion", &e);
    return rc != QV_OK;
}

qv_code e2e_run_all(const e2e_opts *o, e2e_run *r, qv_err *err)
{
    if (strcmp(r->servers.mode, "cluster") == 0)
        e2e_note(r,
                 "cluster write log = the Kafka test broker, which keeps only "
                 "the last ~5 MiB of each partition: %zu rows over %d shards "
                 "= %.1f MiB of vectors per shard",
                 r->base.n, o->shards,
                 (double)r->base.n * (double)r->base.d * 4 / o->shards /
                     1048576.0);
    /* the RPC floor: GetVersion round trips for 1 s (after a warm-up) */
    qv_code rc =
        e2e_search_timed(ping, &r->c, 1, 1, 1, NULL, 0.2, 1, &r->ping, err);
    if (!rc)
        rc =
            e2e_search_timed(ping, &r->c, 1, 1, 1, NULL, 1.0, 1, &r->ping, err);
    if (!rc && o->search_only)
        rc = reuse_collection(o, r, err);
    else if (!rc)
        rc = phase_insert128(o, r, err);
    if (!rc && !o->search_only)
        rc = phase_index_load(o, r, err);
    if (!rc)
        rc = phase_server_search(o, r, err);
    /* the library runs next, on the same machine, while the server idles */
    if (!rc && !o->no_lib)
        rc = phase_library(o, r, err);
    if (!rc && !o->no_768 && o->n768 > 0)
        rc = phase_insert768(o, r, err);
    return rc;
}

void e2e_cleanup(const e2e_opts *o, e2e_run *r)
{
    if (o->keep || !r->c.ch)
        return;
    qv_err err = {0};
    if (e2e_drop_collection(&r->c, E2E_COLL_128, &err) ||
        e2e_drop_collection(&r->c, E2E_COLL_768, &err))
        (void)fprintf(stderr, "e2e_bench: cleanup: %s\n", err.msg);
}

void e2e_run_free(e2e_run *r)
{
    e2e_vecs_free(&r->base);
    e2e_vecs_free(&r->queries);
    e2e_vecs_free(&r->gt);
}
