/* coord_build.c -- index build scheduling (DESIGN §6, CONTRACT flow 5).
 *
 * Every second, or every 200 ms while builds are pending (on its own
 * thread, qv_coord__builds_start), the active coord polls meta KV
 * and the live indexnodes and moves every build one step:
 *
 *   1. every FLUSHED L1 segment with rows >= index_min_rows that lacks a
 *      SegmentIndex for a live index of its collection gets one (build id
 *      from the id allocator, state UNISSUED);
 *   2. each UNISSUED / RETRY build goes to a live indexnode (sessions
 *      "<root>session/indexnode-*") with a free slot (QueryBuilds reports
 *      them), preferring a node other than the one that failed it; it is
 *      recorded IN_PROGRESS with the node's session key and attempts + 1;
 *   3. each IN_PROGRESS build is checked on its node: FINISHED is recorded
 *      with its files, size and build time; FAILED (permanent: bad params,
 *      damaged input) is recorded with the reason; RETRY (transient), a node
 *      whose session is gone, or a node that no longer holds the build,
 *      make it RETRY; the node then forgets it (DropBuilds);
 *   4. a build whose attempts reach QV_BUILD_MAX_ATTEMPTS fails for good;
 *      builds of dropped indexes or of segments no longer FLUSHED are
 *      cancelled (FAILED "cancelled: ...", the node told to drop them).
 *
 * Everything the scheduler knows is in meta KV, so a new active coord
 * continues where the old one stopped.  Node calls use short deadlines;
 * a node that does not answer keeps its builds until its session ends.
 *
 * Progress (qv_coord__index_progress) counts the rows of FLUSHED L1
 * segments: those under the build threshold count as indexed (they are
 * searched exactly, as in Milvus), the others once their build is FINISHED.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics/metrics.h"
#include "common/rpc/rpc_client.h"
#include "coord/coord_int.h"
#include "coord/segmeta.h"
#include "internal/indexnode.pb-c.h"
#include "proto/pb_arena.h"

#define IN_SERVICE      "/quiver.internal.IndexNodeService/"
#define NODE_TIMEOUT_MS 2000
/* Rounds while builds are pending, and otherwise. */
#define BUSY_ROUND_MS 200
#define IDLE_ROUND_MS 1000

#define ST(x) QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_##x

typedef Quiver__Internal__QueryBuildsResponse qb_resp;

typedef struct inode {
    char key[512];  /* session key */
    char addr[256]; /* host:port */
    qb_resp *r;     /* NULL: did not answer this round */
    uint32_t free_slots;
} inode;

typedef struct round {
    qv_coord *c;
    qv_tso *tso;
    qv_arena *a;
    inode *nodes;
    size_t nn;
    bool busy; /* builds still pending after this round */
} round;

uint64_t qv_coord__index_min_rows(const qv_coord *c)
{
    return c->opts.index_min_rows ? c->opts.index_min_rows : 1024;
}

/* ---- metrics ------------------------------------------------------------- */

/* quiver_index_builds_total{event}: issued, finished, failed, retried. */
static void count(const char *event)
{
    static const char *const labels[] = {"event", NULL};
    qv_metric_family *f = qv_metrics_counter(
        "quiver_index_builds_total",
        "index build events: issued to an indexnode, finished, failed for "
        "good, retried",
        labels);
    const char *v[] = {event};
    if (f)
        qv_metric_add(f, v, 1);
}

static void observe_build(uint64_t ms)
{
    static const double bounds[] = {0.1, 0.5, 1, 5, 15, 60, 300, 1800};
    qv_metric_family *f = qv_metrics_histogram(
        "quiver_index_build_seconds",
        "time an indexnode spent on a finished build (read, build, write)",
        NULL, bounds, sizeof bounds / sizeof bounds[0]);
    if (f)
        qv_metric_observe(f, NULL, (double)ms / 1000.0);
}

/* ---- progress ------------------------------------------------------------ */

qv_code qv_coord__index_progress(qv_coord *c, const qv_index_info *ii,
                                 qv_arena *a, qv_index_progress *out,
                                 qv_err *err)
{
    memset(out, 0, sizeof *out);
    qv_seg_info **segs;
    qv_seg_index **sx;
    size_t ns, nx;
    qv_code rc = qv_segmeta_list_segments(
        c->opts.kv, c->root, ii->collection_id, NULL, a, &segs, &ns, err);
    if (!rc)
        rc = qv_segmeta_list_segidx(c->opts.kv, c->root, ii->collection_id, 0,
                                    a, &sx, &nx, err);
    if (rc)
        return rc;
    uint64_t min_rows = qv_coord__index_min_rows(c);
    bool failed = false;
    for (size_t i = 0; i < ns; i++) {
        const qv_seg_info *s = segs[i];
        if (s->state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED ||
            s->level != QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1)
            continue;
        out->total += (int64_t)s->rows;
        if (s->rows < min_rows) {
            out->indexed += (int64_t)s->rows;
            continue;
        }
        for (size_t k = 0; k < nx; k++) {
            if (sx[k]->segment_id != s->id || sx[k]->index_id != ii->id)
                continue;
            if (sx[k]->state == ST(FINISHED))
                out->indexed += (int64_t)s->rows;
            else if (sx[k]->state == ST(FAILED) && !failed) {
                failed = true;
                out->fail_reason = sx[k]->fail_reason;
            }
        }
    }
    out->pending = out->total - out->indexed;
    out->state = failed ? MILVUS__PROTO__COMMON__INDEX_STATE__Failed
                 : out->pending > 0
                     ? MILVUS__PROTO__COMMON__INDEX_STATE__InProgress
                     : MILVUS__PROTO__COMMON__INDEX_STATE__Finished;
    return QV_OK;
}

/* ---- indexnodes ---------------------------------------------------------- */

static bool parse_address(const char *json, size_t len, char *buf, size_t cap)
{
    const char *end = json + len;
    const char *p = memmem(json, len, "\"address\"", 9);
    if (!p || !(p = memchr(p + 9, '"', (size_t)(end - p - 9))))
        return false;
    p++;
    const char *e = memchr(p, '"', (size_t)(end - p));
    if (!e || e == p || (size_t)(e - p) + 1 > cap)
        return false;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return true;
}

static qv_code call(const char *addr, const char *method,
                    const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *resp_desc, qv_arena *a,
                    ProtobufCMessage **resp, qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(addr, &ch, err);
    if (rc)
        return rc;
    qv_rpc_call_opts o = {.timeout_ms = NODE_TIMEOUT_MS,
                          .flags = QV_RPC_FAIL_FAST};
    rc = qv_rpc_unary(ch, method, req, resp_desc, a, resp, &o, err);
    qv_rpc_channel_close(ch);
    return rc;
}

/* Lists the live indexnodes and asks each for its builds and slots. */
static qv_code list_nodes(round *r, qv_err *err)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%ssession/indexnode-", r->c->root);
    metakv_kvs kvs = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(r->c->opts.kv, prefix, strlen(prefix), NULL, &kvs, err);
    if (rc)
        return rc;
    r->nodes = qv_arena_calloc(r->a, kvs.n + 1, sizeof *r->nodes);
    for (size_t i = 0; i < kvs.n; i++) {
        inode *n = &r->nodes[r->nn];
        if (kvs.kvs[i].key_len >= sizeof n->key ||
            !parse_address((const char *)kvs.kvs[i].value, kvs.kvs[i].value_len,
                           n->addr, sizeof n->addr))
            continue;
        memcpy(n->key, kvs.kvs[i].key, kvs.kvs[i].key_len);
        n->key[kvs.kvs[i].key_len] = '\0';
        Quiver__Internal__QueryBuildsRequest q =
            QUIVER__INTERNAL__QUERY_BUILDS_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        qv_err e = {0};
        if (call(n->addr, IN_SERVICE "QueryBuilds", &q.base,
                 &quiver__internal__query_builds_response__descriptor, r->a, &m,
                 &e) == QV_OK) {
            n->r = (qb_resp *)m;
            n->free_slots = n->r->free_slots;
        } else {
            QV_LOG(QV_LOG_DEBUG, "coord", "indexnode %s: %s", n->key, e.msg);
        }
        r->nn++;
    }
    metakv_kvs_release(&kvs);
    return QV_OK;
}

static inode *node_of(round *r, const char *key)
{
    for (size_t i = 0; i < r->nn; i++)
        if (strcmp(r->nodes[i].key, key) == 0)
            return &r->nodes[i];
    return NULL;
}

static void drop_on_node(round *r, inode *n, int64_t build_id)
{
    if (!n || !n->r)
        return;
    Quiver__Internal__DropBuildsRequest q =
        QUIVER__INTERNAL__DROP_BUILDS_REQUEST__INIT;
    q.build_ids = &build_id;
    q.n_build_ids = 1;
    ProtobufCMessage *m = NULL;
    (void)call(n->addr, IN_SERVICE "DropBuilds", &q.base,
               &milvus__proto__common__status__descriptor, r->a, &m, NULL);
}

/* ---- one collection ------------------------------------------------------ */

typedef struct coll_ctx {
    int64_t id;
    const Milvus__Proto__Schema__CollectionSchema *schema;
    qv_index_info **ix;
    size_t nix;
    qv_seg_info **segs;
    size_t ns;
    qv_seg_index **sx;
    size_t nx;
} coll_ctx;

static void put(round *r, qv_seg_index *b)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_segidx_key(r->c->root, b->collection_id, b->segment_id,
                          b->index_id, key, sizeof key);
    qv_err e = {0};
    if (qv_segmeta_put(r->c->opts.kv, key, &b->base, &e) != QV_OK)
        QV_LOG(QV_LOG_WARN, "coord", "cannot record build %" PRId64 ": %s",
               b->build_id, e.msg);
}

static const qv_seg_info *seg_of(const coll_ctx *cc, int64_t id)
{
    for (size_t i = 0; i < cc->ns; i++)
        if (cc->segs[i]->id == id)
            return cc->segs[i];
    return NULL;
}

static const qv_index_info *index_of(const coll_ctx *cc, int64_t id)
{
    for (size_t i = 0; i < cc->nix; i++)
        if (cc->ix[i]->id == id)
            return cc->ix[i];
    return NULL;
}

static bool has_build(const coll_ctx *cc, int64_t seg, int64_t index)
{
    for (size_t i = 0; i < cc->nx; i++)
        if (cc->sx[i]->segment_id == seg && cc->sx[i]->index_id == index)
            return true;
    return false;
}

/* Step 1: missing builds. */
static void create_builds(round *r, coll_ctx *cc)
{
    uint64_t min_rows = qv_coord__index_min_rows(r->c);
    size_t cap = cc->nx + cc->ns * cc->nix + 1;
    qv_seg_index **sx = qv_arena_calloc(r->a, cap, sizeof *sx);
    if (cc->nx)
        memcpy(sx, cc->sx, cc->nx * sizeof *sx);
    size_t nx = cc->nx;
    for (size_t k = 0; k < cc->nix; k++) {
        const qv_index_info *ii = cc->ix[k];
        if (ii->state != QUIVER__INTERNAL__META_STATE__META_CREATED)
            continue;
        for (size_t i = 0; i < cc->ns; i++) {
            const qv_seg_info *s = cc->segs[i];
            if (s->state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED ||
                s->level != QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1 ||
                s->rows < min_rows || has_build(cc, s->id, ii->id))
                continue;
            qv_seg_index *b = qv_arena_alloc(r->a, sizeof *b);
            quiver__internal__segment_index__init(b);
            qv_err e = {0};
            if (qv_tso_alloc_ids(r->tso, 1, &b->build_id, &e) ||
                qv_tso_alloc(r->tso, 1, &b->create_ts, &e)) {
                QV_LOG(QV_LOG_WARN, "coord", "cannot allocate a build: %s",
                       e.msg);
                return;
            }
            b->collection_id = cc->id;
            b->partition_id = s->partition_id;
            b->segment_id = s->id;
            b->index_id = ii->id;
            b->field_id = ii->field_id;
            b->rows = s->rows;
            b->state = ST(UNISSUED);
            b->node = (char *)"";
            b->fail_reason = (char *)"";
            put(r, b);
            sx[nx++] = b;
            cc->sx = sx;
            cc->nx = nx;
        }
    }
}

static const Milvus__Proto__Schema__FieldSchema *field_of(const coll_ctx *cc,
                                                          int64_t id)
{
    for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++)
        if (cc->schema->fields[i]->fieldid == id)
            return cc->schema->fields[i];
    return NULL;
}

static void fail(round *r, qv_seg_index *b, const char *why)
{
    b->state = ST(FAILED);
    b->fail_reason = qv_arena_strdup(r->a, why);
    b->node = (char *)"";
    put(r, b);
    count("failed");
    QV_LOG(QV_LOG_WARN, "coord",
           "build %" PRId64 " of segment %" PRId64 " failed: %s", b->build_id,
           b->segment_id, why);
}

/* Step 2: hands an UNISSUED / RETRY build to a node with a free slot. */
static void issue(round *r, const coll_ctx *cc, qv_seg_index *b)
{
    if (b->attempts >= QV_BUILD_MAX_ATTEMPTS) {
        char why[600];
        snprintf(why, sizeof why, "build failed %u times; last: %s",
                 b->attempts, b->fail_reason ? b->fail_reason : "");
        fail(r, b, why);
        return;
    }
    const qv_seg_info *s = seg_of(cc, b->segment_id);
    const qv_index_info *ii = index_of(cc, b->index_id);
    const Milvus__Proto__Schema__FieldSchema *f = field_of(cc, b->field_id);
    if (!s || !ii || !f)
        return;
    /* The node with the most free slots, another one than the last. */
    inode *pick = NULL, *same = NULL;
    for (size_t i = 0; i < r->nn; i++) {
        inode *n = &r->nodes[i];
        if (!n->r || n->free_slots == 0)
            continue;
        if (b->node && strcmp(b->node, n->key) == 0)
            same = n;
        else if (!pick || n->free_slots > pick->free_slots)
            pick = n;
    }
    if (!pick)
        pick = same;
    if (!pick)
        return;
    Quiver__Internal__BuildIndexRequest q =
        QUIVER__INTERNAL__BUILD_INDEX_REQUEST__INIT;
    q.build = b;
    q.segment = (qv_seg_info *)s;
    q.field = (Milvus__Proto__Schema__FieldSchema *)f;
    q.index = (qv_index_info *)ii;
    ProtobufCMessage *m = NULL;
    qv_err e = {0};
    qv_code rc = call(pick->addr, IN_SERVICE "BuildIndex", &q.base,
                      &milvus__proto__common__status__descriptor, r->a, &m, &e);
    const Milvus__Proto__Common__Status *st = (const void *)m;
    if (rc || st->code != 0) {
        pick->free_slots = 0; /* full, or not answering: not this round */
        QV_LOG(QV_LOG_DEBUG, "coord",
               "indexnode %s refused build %" PRId64 ": %s", pick->key,
               b->build_id, rc ? e.msg : st->reason);
        return;
    }
    pick->free_slots--;
    b->state = ST(IN_PROGRESS);
    b->node = pick->key;
    b->attempts++;
    put(r, b);
    count("issued");
    QV_LOG(QV_LOG_INFO, "coord",
           "build %" PRId64 " (segment %" PRId64 ", index %" PRId64 ", %" PRIu64
           " rows) issued to %s, attempt %u",
           b->build_id, b->segment_id, b->index_id, b->rows, pick->key,
           b->attempts);
}

static const Quiver__Internal__SegmentIndex *reported(const inode *n,
                                                      int64_t build_id)
{
    for (size_t i = 0; n->r && i < n->r->n_builds; i++)
        if (n->r->builds[i]->build_id == build_id)
            return n->r->builds[i];
    return NULL;
}

static void retry(round *r, qv_seg_index *b, const char *why)
{
    b->state = ST(RETRY);
    b->fail_reason = qv_arena_strdup(r->a, why);
    put(r, b);
    count("retried");
    QV_LOG(QV_LOG_WARN, "coord", "build %" PRId64 " will be retried: %s",
           b->build_id, why);
}

/* Step 3: an IN_PROGRESS build on its node. */
static void check(round *r, qv_seg_index *b)
{
    inode *n = node_of(r, b->node ? b->node : "");
    char why[700];
    if (!n) {
        snprintf(why, sizeof why, "indexnode %s is gone",
                 b->node ? b->node : "?");
        retry(r, b, why);
        return;
    }
    if (!n->r)
        return; /* did not answer: wait for it or for its session to end */
    const Quiver__Internal__SegmentIndex *x = reported(n, b->build_id);
    if (!x) {
        snprintf(why, sizeof why, "indexnode %s no longer holds the build",
                 n->key);
        retry(r, b, why);
        return;
    }
    if (x->state == ST(IN_PROGRESS))
        return;
    if (x->state == ST(FINISHED)) {
        b->state = ST(FINISHED);
        b->files = x->files;
        b->n_files = x->n_files;
        b->serialized_bytes = x->serialized_bytes;
        b->build_ms = x->build_ms;
        b->fail_reason = (char *)"";
        qv_err e = {0};
        if (qv_tso_alloc(r->tso, 1, &b->finish_ts, &e))
            return;
        put(r, b);
        count("finished");
        observe_build(b->build_ms);
        QV_LOG(QV_LOG_INFO, "coord",
               "build %" PRId64 " of segment %" PRId64 " finished on %s: "
               "%" PRIu64 " bytes in %" PRIu64 " ms",
               b->build_id, b->segment_id, n->key, b->serialized_bytes,
               b->build_ms);
    } else if (x->state == ST(FAILED)) {
        fail(r, b, x->fail_reason ? x->fail_reason : "build failed");
    } else {
        retry(r, b, x->fail_reason ? x->fail_reason : "transient failure");
    }
    drop_on_node(r, n, b->build_id);
}

static bool pending(const qv_seg_index *b)
{
    return b->state == ST(UNISSUED) || b->state == ST(RETRY) ||
           b->state == ST(IN_PROGRESS);
}

static void step_builds(round *r, coll_ctx *cc)
{
    for (size_t i = 0; i < cc->nx; i++) {
        qv_seg_index *b = cc->sx[i];
        if (!pending(b))
            continue;
        const qv_index_info *ii = index_of(cc, b->index_id);
        const qv_seg_info *s = seg_of(cc, b->segment_id);
        const char *cancel =
            !ii || ii->state != QUIVER__INTERNAL__META_STATE__META_CREATED
                ? "cancelled: the index was dropped"
            : !s || s->state != QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED
                ? "cancelled: the segment is no longer flushed"
                : NULL;
        if (cancel) {
            if (b->state == ST(IN_PROGRESS))
                drop_on_node(r, node_of(r, b->node ? b->node : ""),
                             b->build_id);
            fail(r, b, cancel);
        } else if (b->state == ST(IN_PROGRESS)) {
            check(r, b);
        }
        if (!cancel && (b->state == ST(UNISSUED) || b->state == ST(RETRY)))
            issue(r, cc, b);
        r->busy |= pending(b);
    }
}

/* ---- the round ----------------------------------------------------------- */

/* Every collection id with an IndexInfo, and the schemas of live
 * collections (by id). */
static qv_code collections(round *r, int64_t **ids, size_t *n,
                           Quiver__Internal__CollectionInfo ***colls,
                           size_t *ncolls, qv_err *err)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%smeta/index/", r->c->root);
    metakv_kvs kvs = METAKV_KVS_INIT;
    qv_code rc =
        metakv_range(r->c->opts.kv, prefix, strlen(prefix), NULL, &kvs, err);
    if (rc)
        return rc;
    *ids = qv_arena_calloc(r->a, kvs.n + 1, sizeof **ids);
    *n = 0;
    size_t pn = strlen(prefix);
    for (size_t i = 0; i < kvs.n; i++) {
        int64_t id = strtoll((const char *)kvs.kvs[i].key + pn, NULL, 10);
        if (*n == 0 || (*ids)[*n - 1] != id)
            (*ids)[(*n)++] = id;
    }
    metakv_kvs_release(&kvs);
    if (*n == 0)
        return QV_OK;
    snprintf(prefix, sizeof prefix, "%smeta/coll/", r->c->root);
    rc = metakv_range(r->c->opts.kv, prefix, strlen(prefix), NULL, &kvs, err);
    if (rc)
        return rc;
    *colls = qv_arena_calloc(r->a, kvs.n + 1, sizeof **colls);
    *ncolls = 0;
    ProtobufCAllocator pa = qv_pb_arena_allocator(r->a);
    for (size_t i = 0; i < kvs.n; i++) {
        Quiver__Internal__CollectionInfo *ci =
            quiver__internal__collection_info__unpack(&pa, kvs.kvs[i].value_len,
                                                      kvs.kvs[i].value);
        if (ci && ci->state == QUIVER__INTERNAL__META_STATE__META_CREATED)
            (*colls)[(*ncolls)++] = ci;
    }
    metakv_kvs_release(&kvs);
    return QV_OK;
}

static void one_collection(round *r, int64_t id,
                           const Quiver__Internal__CollectionInfo *ci)
{
    coll_ctx cc = {.id = id, .schema = ci ? ci->schema : NULL};
    qv_err e = {0};
    if (qv_segmeta_list_indexes(r->c->opts.kv, r->c->root, id, r->a, &cc.ix,
                                &cc.nix, &e) ||
        qv_segmeta_list_segments(r->c->opts.kv, r->c->root, id, NULL, r->a,
                                 &cc.segs, &cc.ns, &e) ||
        qv_segmeta_list_segidx(r->c->opts.kv, r->c->root, id, 0, r->a, &cc.sx,
                               &cc.nx, &e)) {
        QV_LOG(QV_LOG_WARN, "coord",
               "index builds of collection %" PRId64 ": %s", id, e.msg);
        return;
    }
    if (ci)
        create_builds(r, &cc);
    else /* dropped collection: cancel what is pending */
        for (size_t i = 0; i < cc.nix; i++)
            cc.ix[i]->state = QUIVER__INTERNAL__META_STATE__META_DROPPED;
    step_builds(r, &cc);
}

static void keep_builds(qv_coord *c)
{
    uint64_t now = qv_mono_ms(qv_clock_system());
    if (now < c->build_next_ms)
        return;
    qv_catalog *cat;
    qv_tso *tso;
    qv_err e = {0};
    if (qv_coord__enter(c, &cat, &tso, &e))
        return;
    qv_arena a;
    qv_arena_init(&a, 0);
    round r = {.c = c, .tso = tso, .a = &a};
    int64_t *ids = NULL;
    size_t n = 0, ncolls = 0;
    Quiver__Internal__CollectionInfo **colls = NULL;
    qv_code rc = collections(&r, &ids, &n, &colls, &ncolls, &e);
    if (!rc && n > 0)
        rc = list_nodes(&r, &e);
    for (size_t i = 0; !rc && i < n; i++) {
        const Quiver__Internal__CollectionInfo *ci = NULL;
        for (size_t k = 0; k < ncolls; k++)
            if (colls[k]->id == ids[i])
                ci = colls[k];
        one_collection(&r, ids[i], ci);
    }
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "index build round: %s", e.msg);
    c->build_next_ms = now + (r.busy ? BUSY_ROUND_MS : IDLE_ROUND_MS);
    qv_arena_release(&a);
    qv_coord__leave(c);
}

/* The scheduler's own thread: node calls never hold up time ticks. */
static void *builder_main(void *arg)
{
    qv_coord *c = arg;
    while (!c->stopping) {
        qv_sleep_ms(50);
        if (atomic_load(&c->active))
            keep_builds(c);
    }
    return NULL;
}

void qv_coord__builds_start(qv_coord *c)
{
    if (c->builder_started)
        return;
    if (pthread_create(&c->builder, NULL, builder_main, c) == 0)
        c->builder_started = true;
    else
        QV_LOG(QV_LOG_ERROR, "coord",
               "cannot start the index build scheduler's thread");
}

void qv_coord__builds_stop(qv_coord *c)
{
    if (!c->builder_started)
        return;
    pthread_join(c->builder, NULL);
    c->builder_started = false;
}
