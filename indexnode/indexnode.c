/* indexnode.c -- the indexnode role: IndexNodeService, the build queue and
 * its workers, the session (see indexnode.h). */
#include "indexnode/indexnode.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc/rpc_server.h"
#include "common/session/kept_session.h"
#include "indexnode/build.h"
#include "internal/indexnode.pb-c.h"
#include "proto/rpc_status.h"

#define IN_SERVICE "/quiver.internal.IndexNodeService/"

typedef Milvus__Proto__Common__Status pb_status;
typedef Quiver__Internal__BuildIndexRequest build_req;

typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct job {
    struct job *next;
    int64_t build_id, seg_id;
    build_req *rq; /* private copy; freed when the build ends */
    job_state st;
    bool dropped;      /* forget it when it ends */
    int result;        /* IndexBuildState once done */
    char *fail_reason; /* FAILED / RETRY */
    char *file;        /* FINISHED */
    uint64_t bytes, build_ms, rows;
} job;

struct qv_inode {
    qv_inode_options opts;
    char *root, *host, *advertise;
    qv_rpc_server *srv;
    pthread_mutex_t mu; /* guards jobs, stopping and the workers' wait */
    pthread_cond_t cv;
    job *jobs;
    volatile bool stopping;
    pthread_t *workers;
    size_t nworkers;
    qv_kept_session *session; /* set by start, cleared by stop */
};

static pb_status *mk_status(qv_arena *a, qv_code rc, const qv_err *err)
{
    pb_status *st = qv_arena_alloc(a, sizeof *st);
    milvus__proto__common__status__init(st);
    qv_rpc_status_fill(st, rc, QV_SUBJ_NONE,
                       rc ? qv_arena_strdup(a, err && err->msg[0]
                                                   ? err->msg
                                                   : qv_code_name(rc))
                          : NULL);
    return st;
}

static void job_free(job *j)
{
    if (j->rq)
        protobuf_c_message_free_unpacked(&j->rq->base, NULL);
    free(j->fail_reason);
    free(j->file);
    free(j);
}

/* Queued + running builds (mu held). */
static uint32_t busy(qv_inode *n)
{
    uint32_t b = 0;
    for (job *j = n->jobs; j; j = j->next)
        b += j->st != JOB_DONE && !j->dropped;
    return b;
}

static job *find(qv_inode *n, int64_t id)
{
    for (job *j = n->jobs; j; j = j->next)
        if (j->build_id == id)
            return j;
    return NULL;
}

static void unlink_job(qv_inode *n, job *x)
{
    for (job **p = &n->jobs; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            return;
        }
}

/* ---- workers ------------------------------------------------------------- */

static void run_job(qv_inode *n, job *j)
{
    qv_ixbuild_result res;
    qv_err e = {0};
    QV_LOG(QV_LOG_INFO, "indexnode", "build %lld of segment %lld started",
           (long long)j->build_id, (long long)j->seg_id);
    qv_code rc = qv_ixbuild_run(j->rq, n->opts.os, n->opts.threads, &res, &e);
    long long id = (long long)j->build_id;
    unsigned long long bytes = res.bytes, ms = res.build_ms;
    pthread_mutex_lock(&n->mu);
    j->st = JOB_DONE;
    protobuf_c_message_free_unpacked(&j->rq->base, NULL);
    j->rq = NULL;
    if (rc == QV_OK) {
        j->result = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
        j->file = res.key;
        j->bytes = res.bytes;
        j->build_ms = res.build_ms;
        j->rows = res.rows;
    } else {
        j->result = qv_ixbuild_transient(rc)
                        ? QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_RETRY
                        : QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FAILED;
        j->fail_reason = qv_xstrdup(e.msg[0] ? e.msg : qv_code_name(rc));
    }
    if (j->dropped) {
        unlink_job(n, j);
        job_free(j);
        j = NULL;
    }
    pthread_mutex_unlock(&n->mu);
    if (rc == QV_OK)
        QV_LOG(QV_LOG_INFO, "indexnode",
               "build %lld finished: %llu bytes in %llu ms", id, bytes, ms);
    else
        QV_LOG(QV_LOG_WARN, "indexnode", "build %lld failed: %s", id, e.msg);
}

static void *worker_main(void *arg)
{
    qv_inode *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        job *pick = NULL;
        for (job *j = n->jobs; j; j = j->next)
            if (j->st == JOB_QUEUED && !j->dropped)
                pick = j; /* the oldest: jobs are pushed at the head */
        if (!pick) {
            pthread_cond_wait(&n->cv, &n->mu);
            continue;
        }
        pick->st = JOB_RUNNING;
        pthread_mutex_unlock(&n->mu);
        run_job(n, pick);
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ---- RPCs ---------------------------------------------------------------- */

static build_req *copy_req(const build_req *rq)
{
    size_t len = protobuf_c_message_get_packed_size(&rq->base);
    uint8_t *buf = qv_xmalloc(len + 1);
    protobuf_c_message_pack(&rq->base, buf);
    build_req *c =
        quiver__internal__build_index_request__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static qv_code enqueue(qv_inode *n, const build_req *rq, qv_err *err)
{
    if (!rq->build || !rq->segment || !rq->field || !rq->index)
        return qv_fail(err, QV_E_INVALID,
                       "build index: build, segment, field and index are "
                       "required");
    pthread_mutex_lock(&n->mu);
    qv_code rc = QV_OK;
    job *j = find(n, rq->build->build_id);
    if (j && !j->dropped) {
        pthread_mutex_unlock(&n->mu);
        return QV_OK; /* already held */
    }
    if (busy(n) >= n->opts.slots) {
        rc = qv_fail(err, QV_E_RANGE,
                     "indexnode %s has no free build slot (%u in use)",
                     n->advertise, n->opts.slots);
    } else {
        j = QV_NEW(job);
        j->build_id = rq->build->build_id;
        j->seg_id = rq->segment->id;
        j->rq = copy_req(rq);
        if (!j->rq) {
            free(j);
            rc = qv_fail(err, QV_E_INVALID, "build index: bad request");
        } else {
            j->next = n->jobs;
            n->jobs = j;
            pthread_cond_broadcast(&n->cv);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static qv_code rpc_build(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_code rc = enqueue(ud, (const build_req *)req, err);
    *resp = &mk_status(qv_rpc_call_arena(call), rc, err)->base;
    return QV_OK;
}

static Quiver__Internal__SegmentIndex *describe(qv_arena *a, const job *j)
{
    Quiver__Internal__SegmentIndex *s = qv_arena_alloc(a, sizeof *s);
    quiver__internal__segment_index__init(s);
    s->build_id = j->build_id;
    s->segment_id = j->seg_id;
    if (j->st != JOB_DONE) {
        s->state = QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_IN_PROGRESS;
        return s;
    }
    s->state = (Quiver__Internal__IndexBuildState)j->result;
    if (j->fail_reason)
        s->fail_reason = qv_arena_strdup(a, j->fail_reason);
    if (j->file) {
        s->files = qv_arena_alloc(a, sizeof(char *));
        s->files[0] = qv_arena_strdup(a, j->file);
        s->n_files = 1;
    }
    s->serialized_bytes = j->bytes;
    s->build_ms = j->build_ms;
    s->rows = j->rows;
    return s;
}

static qv_code rpc_query(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    (void)err;
    qv_inode *n = ud;
    const Quiver__Internal__QueryBuildsRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__QueryBuildsResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__query_builds_response__init(r);
    r->status = mk_status(a, QV_OK, NULL);
    pthread_mutex_lock(&n->mu);
    size_t cnt = 0;
    for (job *j = n->jobs; j; j = j->next)
        cnt++;
    r->builds = qv_arena_calloc(a, cnt + 1, sizeof *r->builds);
    for (job *j = n->jobs; j; j = j->next) {
        if (j->dropped)
            continue;
        bool want = rq->n_build_ids == 0;
        for (size_t i = 0; !want && i < rq->n_build_ids; i++)
            want = rq->build_ids[i] == j->build_id;
        if (want)
            r->builds[r->n_builds++] = describe(a, j);
    }
    uint32_t b = busy(n);
    r->total_slots = n->opts.slots;
    r->free_slots = b >= n->opts.slots ? 0 : n->opts.slots - b;
    pthread_mutex_unlock(&n->mu);
    *resp = &r->base;
    return QV_OK;
}

static qv_code rpc_drop(qv_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_inode *n = ud;
    const Quiver__Internal__DropBuildsRequest *rq = (const void *)req;
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < rq->n_build_ids; i++) {
        job *j = find(n, rq->build_ids[i]);
        if (!j)
            continue;
        if (j->st == JOB_RUNNING) {
            j->dropped = true; /* the worker frees it when it ends */
        } else {
            unlink_job(n, j);
            job_free(j);
        }
    }
    pthread_mutex_unlock(&n->mu);
    *resp = &mk_status(qv_rpc_call_arena(call), QV_OK, err)->base;
    return QV_OK;
}

static const qv_rpc_unary_def rpcs[] = {
    {IN_SERVICE "BuildIndex",
     &quiver__internal__build_index_request__descriptor, rpc_build},
    {IN_SERVICE "QueryBuilds",
     &quiver__internal__query_builds_request__descriptor, rpc_query},
    {IN_SERVICE "DropBuilds",
     &quiver__internal__drop_builds_request__descriptor, rpc_drop},
};

/* ---- lifecycle ----------------------------------------------------------- */

qv_code qv_inode_create(const qv_inode_options *opts, qv_inode **out,
                        qv_err *err)
{
    if (!opts || !opts->kv || !opts->os)
        return qv_fail(err, QV_E_INVALID,
                       "indexnode: meta KV and object store are required");
    qv_inode *n = QV_NEW(qv_inode);
    n->opts = *opts;
    n->root = qv_xstrdup(opts->root ? opts->root : "quiver/");
    n->host = qv_xstrdup(opts->host ? opts->host : "0.0.0.0");
    n->advertise = qv_xstrdup(opts->advertise ? opts->advertise : "");
    if (!n->opts.slots)
        n->opts.slots = 1;
    if (!n->opts.threads) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n->opts.threads = c > 0 ? (uint32_t)c : 1;
    }
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    qv_rpc_server_opts so = {.host = n->host,
                             .port = opts->port,
                             .workers = opts->workers ? opts->workers : 2};
    qv_code rc = qv_rpc_server_create(&so, &n->srv, err);
    if (!rc)
        rc = qv_rpc_server_register_unary(n->srv, rpcs,
                                          sizeof rpcs / sizeof rpcs[0], n, err);
    if (rc) {
        qv_inode_destroy(n);
        return qv_err_prefix(err, "indexnode");
    }
    *out = n;
    return QV_OK;
}

qv_code qv_inode_start(qv_inode *n, qv_err *err)
{
    qv_code rc = qv_rpc_server_start(n->srv, err);
    if (rc)
        return qv_err_prefix(err, "indexnode");
    char a[300];
    qv_rpc_server_advertise(n->srv, n->advertise, a, sizeof a);
    free(n->advertise);
    n->advertise = qv_xstrdup(a);
    n->workers = qv_xcalloc(n->opts.slots, sizeof(pthread_t));
    for (uint32_t i = 0; i < n->opts.slots; i++) {
        if (pthread_create(&n->workers[i], NULL, worker_main, n) != 0)
            return qv_fail(err, QV_E_NOMEM,
                           "indexnode: cannot start a build worker");
        n->nworkers++;
    }
    qv_kept_session_options ko = {.kv = n->opts.kv,
                                  .root = n->root,
                                  .role = "indexnode",
                                  .address = n->advertise,
                                  .ttl_s = n->opts.session_ttl_s};
    rc = qv_kept_session_start(&ko, &n->session, err);
    if (rc)
        return qv_err_prefix(err, "indexnode");
    QV_LOG(QV_LOG_INFO, "indexnode",
           "serving at %s: %u build slot(s), %u thread(s) per build",
           n->advertise, n->opts.slots, n->opts.threads);
    return QV_OK;
}

int qv_inode_port(const qv_inode *n)
{
    return qv_rpc_server_port(n->srv);
}

void qv_inode_session_key(qv_inode *n, char *buf, size_t cap)
{
    if (n->session)
        qv_kept_session_key(n->session, buf, cap);
    else if (cap)
        buf[0] = '\0';
}

void qv_inode_stop(qv_inode *n)
{
    if (!n)
        return;
    n->stopping = true;
    if (n->srv)
        qv_rpc_server_shutdown(n->srv);
    qv_kept_session_stop(n->session);
    n->session = NULL;
    pthread_mutex_lock(&n->mu);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < n->nworkers; i++)
        pthread_join(n->workers[i], NULL);
    n->nworkers = 0;
}

void qv_inode_destroy(qv_inode *n)
{
    if (!n)
        return;
    qv_inode_stop(n);
    qv_rpc_server_destroy(n->srv);
    while (n->jobs) {
        job *j = n->jobs;
        n->jobs = j->next;
        job_free(j);
    }
    free(n->workers);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n->root);
    free(n->host);
    free(n->advertise);
    free(n);
}
