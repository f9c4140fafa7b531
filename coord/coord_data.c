/* coord_data.c -- the coord's part of the data path (DESIGN §2, §4):
 *
 *   - time ticks: proxies report "all my messages with ts <= T are in the
 *     log" (ReportTimeTick); every tick_ms the ticker allocates a fresh
 *     timestamp N, then takes the minimum of N and every live report and
 *     appends it as a TimeTick to every pchannel in use.  N is allocated
 *     before the reports are read, so a proxy whose first report arrives
 *     later writes only timestamps above N;
 *   - segments: AssignSegments keeps one growing segment per (collection,
 *     partition, shard), opens it with a SegmentOpen message and seals it
 *     (SegmentSeal, reason rows) when it is full; Flush seals every growing
 *     segment of a collection (SegmentSeal reason flush + Flush);
 *   - seal policies (qv_coord__seal_policies, every second on the ticker):
 *     rows (dataCoord.segment.maxRows, lowered to fit dataCoord.segment.maxSize
 *     at the schema's estimated row width: a segment never gets more), idle (no
 *     rows assigned for dataCoord.segment.idleSeal) and age (open for
 *     dataCoord.segment.maxAge).  The idle and age seals leave a segment
 *     alone for a second after its last assignment, so a proxy's insert
 *     that was assigned to it is in the log before the seal;
 *   - every control message and tick is appended under data_mu with a
 *     timestamp allocated under it, so they are ordered with the ticks.
 *
 * The growing-segment table lives in memory and in meta KV
 * ("<root>meta/growing/<seg id>", written before the SegmentOpen and
 * removed after the seal): a new active coord loads it before it assigns,
 * flushes or applies a policy, so segments that were growing when the
 * previous coord stopped are still sealed (by Flush, the rows, idle or age
 * policy) and flushed.  Their row counts restart at 0 and their idle and
 * age clocks at the load. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/msg/msg.h"
#include "coord/coord_int.h"
#include "proto/convert_fielddata.h"

#define SEGMENT_MAX_BYTES  (1ull << 30)
#define SEGMENT_MAX_ROWS   1000000u
#define SEGMENT_IDLE_MS    10000u
#define SEGMENT_MAX_AGE_MS 600000u
#define ASSIGN_SETTLE_MS   1000u

typedef struct qv__cseg {
    struct qv__cseg *next;
    int64_t coll, part, seg;
    uint32_t shard;
    uint64_t rows;
    uint64_t opened_ms, assigned_ms; /* monotonic */
    char vch[QV_MSG_VCHANNEL_MAX + 1];
    char pch[WAL_CHANNEL_MAX + 1];
} qv__cseg;

typedef struct qv__report {
    struct qv__report *next;
    char *source;
    qv_ts ts;
    uint64_t at_ms; /* monotonic */
} qv__report;

typedef struct qv__pch {
    struct qv__pch *next;
    char *name;
} qv__pch;

/* ---- helpers (data_mu held) ---------------------------------------------- */

void qv_coord__use_pchannel(qv_coord *c, const char *pch)
{
    for (qv__pch *p = c->pchs; p; p = p->next)
        if (strcmp(p->name, pch) == 0)
            return;
    qv__pch *p = QV_NEW(qv__pch);
    p->name = qv_xstrdup(pch);
    p->next = c->pchs;
    c->pchs = p;
}

static qv_code append_msg(qv_coord *c, const char *pch, const qv_msg *m,
                          qv_err *err)
{
    qv_buf b;
    qv_buf_init(&b, 0);
    qv_code rc = qv_msg_encode(m, &b, err);
    if (!rc) {
        wal_record r = {.data = b.data, .len = b.len};
        rc = wal_append(c->opts.log, pch, &r, 1, NULL, err);
    }
    qv_buf_release(&b);
    return rc;
}

static qv_code seal(qv_coord *c, qv_tso *tso, qv__cseg *s, uint32_t reason,
                    qv_err *err)
{
    qv_ts ts;
    qv_code rc = qv_tso_alloc(tso, 1, &ts, err);
    if (rc)
        return rc;
    qv_msg m = {.type = QV_MSG_SEGMENT_SEAL,
                .ts = ts,
                .collection_id = s->coll,
                .vchannel = s->vch,
                .partition_id = s->part,
                .segment_id = s->seg,
                .shard = s->shard,
                .seal_reason = reason};
    return append_msg(c, s->pch, &m, err);
}

/* ---- the growing-segment records in meta KV ------------------------------ */

static void growing_key(const qv_coord *c, int64_t seg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%smeta/growing/%" PRId64, c->root, seg);
}

static qv_code growing_put(qv_coord *c, const qv__cseg *s, qv_err *err)
{
    char key[600], val[600];
    growing_key(c, s->seg, key, sizeof key);
    int n = snprintf(val, sizeof val,
                     "v1 %" PRId64 " %" PRId64 " %" PRIu32 " %s %s", s->coll,
                     s->part, s->shard, s->vch, s->pch);
    return metakv_put(c->opts.kv, key, strlen(key), val, (size_t)n, 0, NULL,
                      err);
}

static void growing_delete(qv_coord *c, int64_t seg)
{
    char key[600];
    qv_err e = {0};
    growing_key(c, seg, key, sizeof key);
    qv_code rc = metakv_delete(c->opts.kv, key, strlen(key), false, NULL, &e);
    if (rc && rc != QV_E_NOT_FOUND) /* a later coord seals it once more */
        QV_LOG(QV_LOG_WARN, "coord", "growing segment record: %s", e.msg);
}

/* Loads the records once per term (data_mu held). */
static qv_code growing_load(qv_coord *c, qv_err *err)
{
    if (c->segs_loaded)
        return QV_OK;
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%smeta/growing/", c->root);
    size_t plen = strlen(prefix);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_range(c->opts.kv, prefix, plen, NULL, &r, err);
    if (rc)
        return rc;
    uint64_t now = qv_mono_ms(qv_clock_system());
    for (size_t i = 0; i < r.n; i++) {
        qv__cseg *s = QV_NEW(qv__cseg);
        long long coll, part;
        unsigned shard;
        _Static_assert(sizeof s->vch > 200 && sizeof s->pch > 200,
                       "the widths below");
        char id[32];
        size_t il = r.kvs[i].key_len - plen;
        if (il == 0 || il >= sizeof id ||
            sscanf((const char *)r.kvs[i].value, "v1 %lld %lld %u %200s %200s",
                   &coll, &part, &shard, s->vch, s->pch) != 5 ||
            !wal_channel_valid(s->pch)) {
            QV_LOG(QV_LOG_WARN, "coord", "bad growing segment record %.*s",
                   (int)r.kvs[i].key_len, (const char *)r.kvs[i].key);
            free(s);
            continue;
        }
        memcpy(id, r.kvs[i].key + plen, il);
        id[il] = '\0';
        s->seg = strtoll(id, NULL, 10);
        s->coll = coll;
        s->part = part;
        s->shard = shard;
        s->opened_ms = s->assigned_ms = now;
        qv_coord__use_pchannel(c, s->pch);
        s->next = c->segs;
        c->segs = s;
        QV_LOG(QV_LOG_INFO, "coord",
               "growing segment %" PRId64 " of collection %lld taken over",
               s->seg, coll);
    }
    metakv_kvs_release(&r);
    c->segs_loaded = true;
    return QV_OK;
}

/* Forgets a sealed segment (remembering its collection). */
static void unlink_seg(qv_coord *c, qv__cseg *s)
{
    for (qv__cseg **p = &c->segs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            size_t i = c->sealed_next++ % QV_SEALED_RING;
            c->sealed_seg[i] = s->seg;
            c->sealed_coll[i] = s->coll;
            growing_delete(c, s->seg);
            free(s);
            return;
        }
}

/* Estimated bytes of one row: fixed widths from the schema, 128 bytes for
 * each variable-width value, plus the row id and timestamp. */
static uint64_t row_bytes(const qv_coll_info *info)
{
    uint64_t w = 16;
    const Milvus__Proto__Schema__CollectionSchema *sc = info->schema;
    for (size_t i = 0; sc && i < sc->n_fields; i++) {
        qv_field_spec f;
        qv_err e = {0};
        size_t fw = 0;
        if (qv_field_spec_from_schema(sc->fields[i], &f, &e) == QV_OK)
            fw = qv_dtype_width(f.type, f.dim);
        w += fw ? fw : 128;
    }
    return w;
}

/* The row limit of a growing segment: dataCoord.segment.maxRows, lowered
 * so that rows x row width stays within dataCoord.segment.maxSize. */
static uint64_t max_rows_of(const qv_coord *c, const qv_coll_info *info)
{
    uint64_t max_rows =
        c->opts.seg_max_rows ? c->opts.seg_max_rows : SEGMENT_MAX_ROWS;
    uint64_t max_bytes =
        c->opts.seg_max_bytes ? c->opts.seg_max_bytes : SEGMENT_MAX_BYTES;
    uint64_t by_size = max_bytes / row_bytes(info);
    if (by_size < 1)
        by_size = 1;
    return by_size < max_rows ? by_size : max_rows;
}

/* The growing segment of (coll, part, shard) with room for rows more. */
static qv_code assign_one(qv_coord *c, qv_tso *tso, const qv_coll_info *info,
                          int64_t part, uint32_t shard, uint64_t rows,
                          int64_t *seg_out, qv_err *err)
{
    qv_code rc = growing_load(c, err);
    if (rc)
        return rc;
    qv__cseg *s = c->segs;
    for (; s; s = s->next)
        if (s->coll == info->id && s->part == part && s->shard == shard)
            break;
    uint64_t max_rows = max_rows_of(c, info);
    if (s && s->rows > 0 && s->rows + rows > max_rows) {
        if ((rc = seal(c, tso, s, QV_SEAL_ROWS, err)))
            return rc;
        unlink_seg(c, s);
        s = NULL;
    }
    if (!s) {
        int64_t id;
        qv_ts ts;
        if ((rc = qv_tso_alloc_ids(tso, 1, &id, err)) ||
            (rc = qv_tso_alloc(tso, 1, &ts, err)))
            return rc;
        s = QV_NEW(qv__cseg);
        s->coll = info->id;
        s->part = part;
        s->shard = shard;
        s->seg = id;
        s->opened_ms = qv_mono_ms(qv_clock_system());
        snprintf(s->vch, sizeof s->vch, "%s", info->virtual_channels[shard]);
        snprintf(s->pch, sizeof s->pch, "%s", info->physical_channels[shard]);
        qv_msg m = {.type = QV_MSG_SEGMENT_OPEN,
                    .ts = ts,
                    .collection_id = s->coll,
                    .vchannel = s->vch,
                    .partition_id = part,
                    .segment_id = id,
                    .shard = shard};
        qv_coord__use_pchannel(c, s->pch);
        if ((rc = growing_put(c, s, err))) {
            free(s);
            return rc;
        }
        if ((rc = append_msg(c, s->pch, &m, err))) {
            growing_delete(c, s->seg);
            free(s);
            return rc;
        }
        s->next = c->segs;
        c->segs = s;
    }
    s->rows += rows;
    s->assigned_ms = qv_mono_ms(qv_clock_system());
    *seg_out = s->seg;
    return QV_OK;
}

static int64_t find_partition(const qv_coll_info *info, const char *name)
{
    if (!name || !name[0]) {
        if (info->n_partitions > 0)
            return info->partitions[0]->id;
        return -1;
    }
    for (size_t i = 0; i < info->n_partitions; i++)
        if (strcmp(info->partitions[i]->name, name) == 0)
            return info->partitions[i]->id;
    return -1;
}

qv_code qv_coord__partition_ids(const qv_coll_info *info, char **names,
                                size_t n, int64_t *out, qv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = find_partition(info, names[i]);
        if (out[i] < 0)
            return qv_fail(err, QV_E_PARTITION_NOT_FOUND,
                           "partition '%s' not found in collection '%s'",
                           names[i], info->name);
    }
    return QV_OK;
}

/* ---- AssignSegments ------------------------------------------------------ */

QV_COORD_HANDLER(qv_coord__assign_segments)
{
    qv_coord *c = ud;
    const Quiver__Internal__AssignSegmentsRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    Quiver__Internal__AssignSegmentsResponse *r = qv_arena_alloc(a, sizeof *r);
    quiver__internal__assign_segments_response__init(r);
    *resp = &r->base;
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    qv_coll_info *info = NULL;
    rc = c->opts.log
             ? qv_catalog_get_collection(cat, qv_coord__db(rq->db_name), NULL,
                                         rq->collection_id, a, &info, err)
             : qv_fail(err, QV_E_NOT_READY, "coord has no write log");
    int64_t part = -1;
    if (!rc && (part = find_partition(info, rq->partition_name)) < 0)
        rc = qv_fail(err, QV_E_PARTITION_NOT_FOUND,
                     "partition '%s' not found in collection '%s'",
                     rq->partition_name, info->name);
    if (!rc && rq->n_shards != rq->n_rows)
        rc = qv_fail(err, QV_E_INVALID,
                     "assign segments: %zu shards, %zu "
                     "row counts",
                     rq->n_shards, rq->n_rows);
    bool per_entry = rq->n_partition_names > 0;
    if (!rc && per_entry && rq->n_partition_names != rq->n_shards)
        rc = qv_fail(err, QV_E_INVALID,
                     "assign segments: %zu partition "
                     "names for %zu entries",
                     rq->n_partition_names, rq->n_shards);
    r->segment_ids = qv_arena_alloc(a, (rq->n_shards + 1) * sizeof(int64_t));
    r->partition_ids = qv_arena_alloc(a, (rq->n_shards + 1) * sizeof(int64_t));
    if (!rc && per_entry)
        rc = qv_coord__partition_ids(info, rq->partition_names, rq->n_shards,
                                     r->partition_ids, err);
    pthread_mutex_lock(&c->data_mu);
    for (size_t i = 0; !rc && i < rq->n_shards; i++) {
        if (rq->shards[i] >= info->n_virtual_channels) {
            rc = qv_fail(err, QV_E_INVALID, "shard %u out of range",
                         rq->shards[i]);
            break;
        }
        rc = assign_one(c, tso, info, per_entry ? r->partition_ids[i] : part,
                        rq->shards[i], rq->rows[i], &r->segment_ids[i], err);
    }
    if (!rc && rq->count > 0)
        rc = qv_tso_alloc(tso, rq->count, &r->timestamp, err);
    pthread_mutex_unlock(&c->data_mu);
    qv_coord__leave(c);
    r->status = qv_coord__status(a, rc, err);
    if (!rc) {
        r->n_segment_ids = rq->n_shards;
        r->n_partition_ids = per_entry ? rq->n_shards : 0;
        r->partition_id = part;
    }
    return QV_OK;
}

/* ---- idle and age seals ---------------------------------------------------
 */

static uint64_t policy_ms(uint64_t v, uint64_t dflt)
{
    return v ? v : dflt;
}

void qv_coord__seal_policies(qv_coord *c)
{
    qv_catalog *cat;
    qv_tso *tso;
    qv_err e = {0};
    if (!c->opts.log || qv_coord__enter(c, &cat, &tso, &e))
        return;
    uint64_t idle = policy_ms(c->opts.seg_idle_ms, SEGMENT_IDLE_MS);
    uint64_t age = policy_ms(c->opts.seg_max_age_ms, SEGMENT_MAX_AGE_MS);
    pthread_mutex_lock(&c->data_mu);
    uint64_t now = qv_mono_ms(qv_clock_system());
    qv_code rc = growing_load(c, &e);
    for (qv__cseg *s = c->segs, *next; s && !rc; s = next) {
        next = s->next;
        if (now - s->assigned_ms < ASSIGN_SETTLE_MS)
            continue;
        uint32_t reason = 0;
        if (idle != UINT64_MAX && now - s->assigned_ms >= idle)
            reason = QV_SEAL_IDLE;
        else if (age != UINT64_MAX && now - s->opened_ms >= age)
            reason = QV_SEAL_AGE;
        if (!reason)
            continue;
        rc = seal(c, tso, s, reason, &e);
        if (!rc) {
            QV_LOG(QV_LOG_DEBUG, "coord",
                   "segment %" PRId64 " sealed (%s, %" PRIu64 " rows)", s->seg,
                   reason == QV_SEAL_IDLE ? "idle" : "age", s->rows);
            unlink_seg(c, s);
        }
    }
    pthread_mutex_unlock(&c->data_mu);
    qv_coord__leave(c);
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "seal policy: %s", e.msg);
}

/* ---- time ticks ---------------------------------------------------------- */

QV_COORD_HANDLER(qv_coord__report_time_tick)
{
    qv_coord *c = ud;
    const Quiver__Internal__ReportTimeTickRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    (void)err;
    pthread_mutex_lock(&c->data_mu);
    qv__report *p = c->reports;
    for (; p; p = p->next)
        if (strcmp(p->source, rq->source) == 0)
            break;
    if (!p) {
        p = QV_NEW(qv__report);
        p->source = qv_xstrdup(rq->source);
        p->next = c->reports;
        c->reports = p;
    }
    if (rq->timestamp > p->ts)
        p->ts = rq->timestamp;
    p->at_ms = qv_mono_ms(qv_clock_system());
    pthread_mutex_unlock(&c->data_mu);
    if (rq->tick_now)
        qv_coord__tick(c);
    *resp = &qv_coord__status(a, QV_OK, NULL)->base;
    return QV_OK;
}

/* One round of the ticker: drops stale reports, appends the tick. */
void qv_coord__tick(qv_coord *c)
{
    qv_catalog *cat;
    qv_tso *tso;
    qv_err e = {0};
    if (!c->opts.log || qv_coord__enter(c, &cat, &tso, &e))
        return;
    pthread_mutex_lock(&c->data_mu);
    qv_ts now;
    qv_code rc = qv_tso_alloc(tso, 1, &now, &e);
    uint64_t mono = qv_mono_ms(qv_clock_system());
    uint64_t stale =
        (uint64_t)(c->opts.session_ttl_s ? c->opts.session_ttl_s : 10) * 1000u;
    qv_ts tick = now;
    for (qv__report **pp = &c->reports; *pp;) {
        qv__report *p = *pp;
        if (mono - p->at_ms > stale) {
            QV_LOG(QV_LOG_INFO, "coord", "time ticks: %s stopped reporting",
                   p->source);
            *pp = p->next;
            free(p->source);
            free(p);
            continue;
        }
        if (p->ts < tick)
            tick = p->ts;
        pp = &p->next;
    }
    if (!rc && tick > c->last_tick) {
        qv_msg m = {.type = QV_MSG_TIME_TICK, .ts = tick, .vchannel = ""};
        for (qv__pch *p = c->pchs; p && !rc; p = p->next)
            rc = append_msg(c, p->name, &m, &e);
        if (!rc)
            c->last_tick = tick;
    }
    pthread_mutex_unlock(&c->data_mu);
    qv_coord__leave(c);
    if (rc)
        QV_LOG(QV_LOG_WARN, "coord", "time tick: %s", e.msg);
}

/* ---- Flush --------------------------------------------------------------- */

typedef Milvus__Proto__Milvus__FlushResponse flush_resp;
typedef Milvus__Proto__Milvus__FlushResponse__CollSegIDsEntry segids_entry;
typedef Milvus__Proto__Milvus__FlushResponse__CollFlushTsEntry flushts_entry;

/* Seals every growing segment of collection id; appends them to ids. */
static qv_code flush_collection(qv_coord *c, qv_tso *tso,
                                const qv_coll_info *info, int64_t *ids,
                                size_t *n, size_t cap, qv_ts *flush_ts,
                                qv_err *err)
{
    qv_code rc = growing_load(c, err);
    for (size_t sh = 0; sh < info->n_virtual_channels && !rc; sh++) {
        int64_t sealed[64];
        size_t ns = 0;
        for (qv__cseg *s = c->segs, *next; s && !rc; s = next) {
            next = s->next;
            if (s->coll != info->id || s->shard != sh || ns == 64)
                continue;
            rc = seal(c, tso, s, QV_SEAL_FLUSH, err);
            if (!rc) {
                sealed[ns++] = s->seg;
                if (*n < cap)
                    ids[(*n)++] = s->seg;
                unlink_seg(c, s);
            }
        }
        qv_ts ts;
        if (!rc)
            rc = qv_tso_alloc(tso, 1, &ts, err);
        if (!rc) {
            qv_msg m = {.type = QV_MSG_FLUSH,
                        .ts = ts,
                        .collection_id = info->id,
                        .vchannel = info->virtual_channels[sh],
                        .nsegments = ns,
                        .segments = sealed};
            qv_coord__use_pchannel(c, info->physical_channels[sh]);
            rc = append_msg(c, info->physical_channels[sh], &m, err);
            *flush_ts = ts;
        }
    }
    return rc;
}

QV_COORD_HANDLER(qv_coord__flush)
{
    qv_coord *c = ud;
    const Milvus__Proto__Milvus__FlushRequest *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    flush_resp *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__flush_response__init(r);
    *resp = &r->base;
    const char *db = qv_coord__db(rq->db_name);
    r->db_name = qv_arena_strdup(a, db);
    qv_catalog *cat;
    qv_tso *tso;
    qv_code rc = qv_coord__enter(c, &cat, &tso, err);
    if (rc)
        return rc;
    size_t nc = rq->n_collection_names;
    r->coll_segids = qv_arena_alloc(a, (nc + 1) * sizeof(segids_entry *));
    r->coll_flush_ts = qv_arena_alloc(a, (nc + 1) * sizeof(flushts_entry *));
    for (size_t i = 0; i < nc && !rc; i++) {
        qv_coll_info *info;
        rc = qv_catalog_get_collection(cat, db, rq->collection_names[i], 0, a,
                                       &info, err);
        if (rc)
            break;
        size_t cap = 4096, n = 0;
        int64_t *ids = qv_arena_alloc(a, cap * sizeof(int64_t));
        qv_ts fts = 0;
        pthread_mutex_lock(&c->data_mu);
        rc = c->opts.log
                 ? flush_collection(c, tso, info, ids, &n, cap, &fts, err)
                 : QV_OK;
        pthread_mutex_unlock(&c->data_mu);
        segids_entry *e = qv_arena_alloc(a, sizeof *e);
        milvus__proto__milvus__flush_response__coll_seg_ids_entry__init(e);
        e->key = rq->collection_names[i];
        e->value = qv_arena_alloc(a, sizeof *e->value);
        milvus__proto__schema__long_array__init(e->value);
        e->value->data = ids;
        e->value->n_data = n;
        r->coll_segids[r->n_coll_segids++] = e;
        flushts_entry *f = qv_arena_alloc(a, sizeof *f);
        milvus__proto__milvus__flush_response__coll_flush_ts_entry__init(f);
        f->key = rq->collection_names[i];
        f->value = fts;
        r->coll_flush_ts[r->n_coll_flush_ts++] = f;
    }
    qv_coord__leave(c);
    r->status = qv_coord__status(a, rc, err);
    return QV_OK;
}

bool qv_coord__sealed_coll(qv_coord *c, int64_t seg, int64_t *coll)
{
    pthread_mutex_lock(&c->data_mu);
    size_t n =
        c->sealed_next < QV_SEALED_RING ? c->sealed_next : QV_SEALED_RING;
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        if (c->sealed_seg[i] == seg) {
            *coll = c->sealed_coll[i];
            found = true;
        }
    pthread_mutex_unlock(&c->data_mu);
    return found;
}

void qv_coord__data_clear(qv_coord *c)
{
    pthread_mutex_lock(&c->data_mu);
    c->segs_loaded = false;
    while (c->segs) {
        qv__cseg *s = c->segs;
        c->segs = s->next;
        free(s);
    }
    while (c->reports) {
        qv__report *p = c->reports;
        c->reports = p->next;
        free(p->source);
        free(p);
    }
    while (c->pchs) {
        qv__pch *p = c->pchs;
        c->pchs = p->next;
        free(p->name);
        free(p);
    }
    pthread_mutex_unlock(&c->data_mu);
}
