/* coord_gc.c -- garbage collection of dropped and compacted data
 * (coord_gc.h). */
#include "coord/coord_gc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hts.h"
#include "common/log.h"
#include "common/metrics/metrics.h"
#include "coord/catalog.h"
#include "coord/segmeta.h"
#include "proto/pb_arena.h"

#define ST(x) QUIVER__INTERNAL__SEGMENT_STATE__SEG_##x
#define LV(x) QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_##x

typedef struct gc {
    const qv_gc_options *o;
    qv_gc_stats *st;
    qv_arena a;
    char key[QV_SEGMETA_KEY_MAX];
} gc;

/* ---- meta KV helpers ----------------------------------------------------- */

typedef qv_code (*kv_fn)(gc *g, const metakv_kv *kv, void *ctx, qv_err *err);

/* Calls fn for every key under prefix, a page at a time. */
static qv_code each_kv(gc *g, const char *prefix, bool keys_only, kv_fn fn,
                       void *ctx, qv_err *err)
{
    size_t plen = strlen(prefix);
    metakv_range_opts ro = {.limit = 500, .keys_only = keys_only};
    char *after = NULL;
    qv_code rc;
    for (;;) {
        metakv_kvs r = METAKV_KVS_INIT;
        rc = metakv_range(g->o->kv, prefix, plen, &ro, &r, err);
        if (rc)
            break;
        for (size_t i = 0; i < r.n && !rc; i++)
            rc = fn(g, &r.kvs[i], ctx, err);
        bool more = !rc && r.more && r.n > 0;
        if (more) {
            free(after);
            ro.after_len = r.kvs[r.n - 1].key_len;
            after = qv_xmalloc(ro.after_len);
            memcpy(after, r.kvs[r.n - 1].key, ro.after_len);
            ro.after = after;
        }
        metakv_kvs_release(&r);
        if (!more)
            break;
    }
    free(after);
    return rc;
}

static qv_code del_key(gc *g, const char *key, bool prefix, qv_err *err)
{
    return metakv_delete(g->o->kv, key, strlen(key), prefix, NULL, err);
}

/* ---- object helpers ------------------------------------------------------ */

static qv_code del_prefix(gc *g, const char *prefix, qv_err *err)
{
    uint64_t n = 0;
    qv_code rc = objstore_delete_prefix(g->o->os, prefix, &n, err);
    g->st->objects_deleted += n;
    return rc;
}

/* Parses up to max '/'-separated decimal ids after `skip` bytes of key;
 * returns how many were read (stops at the first part that is not one). */
static size_t parse_ids(const char *key, size_t skip, int64_t *ids, size_t max)
{
    const char *p = key + skip;
    size_t n = 0;
    while (n < max && *p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != '/'))
            break;
        ids[n++] = (int64_t)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* Deletes the L0 log objects delta_log/{coll}/{part}/0/{log} of every
 * partition. */
static qv_code del_l0_objects(gc *g, int64_t coll, int64_t log, qv_err *err)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "delta_log/%" PRId64 "/", coll);
    char *token = NULL;
    qv_code rc = QV_OK;
    do {
        objstore_list_page pg;
        rc = objstore_list(g->o->os, prefix, token, 0, &pg, err);
        free(token);
        token = NULL;
        if (rc)
            break;
        for (size_t i = 0; i < pg.count && !rc; i++) {
            int64_t id[4];
            if (parse_ids(pg.entries[i].key, strlen("delta_log/"), id, 4) ==
                    4 &&
                id[2] == 0 && id[3] == log) {
                rc = objstore_delete(g->o->os, pg.entries[i].key, err);
                g->st->objects_deleted += !rc;
            }
        }
        if (pg.next_token)
            token = qv_xstrdup(pg.next_token);
        objstore_list_page_release(&pg);
    } while (token && !rc);
    free(token);
    return rc;
}

/* ---- one collection ------------------------------------------------------ */

typedef struct coll {
    int64_t id;
    qv_coll_info *info; /* NULL: segment records without a catalog record */
    char *key;          /* catalog key */
    int64_t mod_rev;
    qv_seg_info **segs;
    size_t nsegs;
    qv_index_info **idx;
    size_t nidx;
    qv_seg_index **builds;
    size_t nbuilds;
} coll;

static bool expired(gc *g, uint64_t ts)
{
    return qv_ts_physical(ts) + g->o->retention_ms <= g->o->now_ms;
}

static bool coll_dropped(const coll *c)
{
    return !c->info ||
           c->info->state == QUIVER__INTERNAL__META_STATE__META_DROPPED;
}

static bool has_partition(const coll *c, int64_t part)
{
    if (part == -1 || !c->info)
        return true;
    for (size_t i = 0; i < c->info->n_partitions; i++)
        if (c->info->partitions[i]->id == part)
            return true;
    return false;
}

static const qv_index_info *find_index(const coll *c, int64_t id)
{
    for (size_t i = 0; i < c->nidx; i++)
        if (c->idx[i]->id == id)
            return c->idx[i];
    return NULL;
}

/* True when a FLUSHED output made from seg lacks a finished build of some
 * live index (query nodes still serve seg in its place). */
static bool output_unindexed(gc *g, const coll *c, const qv_seg_info *seg)
{
    uint64_t min_rows = g->o->build_min_rows ? g->o->build_min_rows : 1024;
    for (size_t i = 0; i < c->nsegs; i++) {
        const qv_seg_info *o = c->segs[i];
        bool from = false;
        for (size_t k = 0; k < o->n_compacted_from; k++)
            from |= o->compacted_from[k] == seg->id;
        if (!from || o->state != ST(FLUSHED) || o->rows < min_rows)
            continue;
        for (size_t x = 0; x < c->nidx; x++) {
            if (c->idx[x]->state != QUIVER__INTERNAL__META_STATE__META_CREATED)
                continue;
            bool done = false;
            for (size_t b = 0; b < c->nbuilds; b++)
                done |= c->builds[b] && c->builds[b]->segment_id == o->id &&
                        c->builds[b]->index_id == c->idx[x]->id &&
                        c->builds[b]->state ==
                            QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED;
            if (!done)
                return true;
        }
    }
    return false;
}

/* Index files and the record of one build. */
static qv_code drop_build(gc *g, const qv_seg_index *b, qv_err *err)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "index_files/%" PRId64 "/", b->build_id);
    qv_code rc = del_prefix(g, prefix, err);
    if (!rc) {
        qv_segmeta_segidx_key(g->o->root, b->collection_id, b->segment_id,
                              b->index_id, g->key, sizeof g->key);
        rc = del_key(g, g->key, false, err);
    }
    g->st->builds_removed += !rc;
    return rc;
}

/* Every object, build and the record of one segment. */
static qv_code drop_segment(gc *g, coll *c, const qv_seg_info *s, qv_err *err)
{
    qv_code rc = QV_OK;
    if (s->level == LV(L0)) {
        rc = del_l0_objects(g, c->id, s->log_id, err);
    } else {
        static const char *const kinds[] = {"insert_log", "delta_log",
                                            "stats_log"};
        for (size_t k = 0; k < 3 && !rc; k++) {
            char prefix[160];
            snprintf(prefix, sizeof prefix,
                     "%s/%" PRId64 "/%" PRId64 "/%" PRId64 "/", kinds[k], c->id,
                     s->partition_id, s->id);
            rc = del_prefix(g, prefix, err);
        }
    }
    for (size_t b = 0; b < c->nbuilds && !rc; b++)
        if (c->builds[b] && c->builds[b]->segment_id == s->id) {
            rc = drop_build(g, c->builds[b], err);
            c->builds[b] = NULL;
        }
    if (!rc) {
        qv_segmeta_seg_key(g->o->root, c->id, s->id, g->key, sizeof g->key);
        rc = del_key(g, g->key, false, err);
    }
    g->st->segments_removed += !rc;
    return rc;
}

/* Marks a segment of a dropped partition (or of a collection without a
 * catalog record) DROPPED as of now. */
static qv_code mark_dropped(gc *g, coll *c, qv_seg_info *s, qv_err *err)
{
    s->state = ST(DROPPED);
    s->dropped_ts = qv_ts_compose(g->o->now_ms, 0);
    qv_segmeta_seg_key(g->o->root, c->id, s->id, g->key, sizeof g->key);
    qv_code rc = qv_segmeta_put(g->o->kv, g->key, &s->base, err);
    g->st->segments_marked += !rc;
    return rc;
}

/* Segments: live bytes, pending bytes, marks and collection.  *all_gone =
 * no segment record is left. */
static qv_code gc_segments(gc *g, coll *c, bool *all_gone, qv_err *err)
{
    bool cdrop = coll_dropped(c);
    uint64_t cdrop_ts = c->info ? c->info->drop_ts : 0;
    qv_code rc = QV_OK;
    size_t left = 0;
    for (size_t i = 0; i < c->nsegs && !rc; i++) {
        qv_seg_info *s = c->segs[i];
        uint64_t dts;
        if (s->state == ST(COMPACTED) || s->state == ST(DROPPED)) {
            dts = s->dropped_ts;
        } else if (cdrop && c->info) {
            dts = cdrop_ts;
        } else if (cdrop || !has_partition(c, s->partition_id)) {
            rc = mark_dropped(g, c, s, err);
            dts = s->dropped_ts;
        } else {
            g->st->bytes_live += s->bytes;
            left++;
            continue;
        }
        if (rc || !expired(g, dts) ||
            (s->state == ST(COMPACTED) && !cdrop &&
             output_unindexed(g, c, s))) {
            g->st->bytes_pending += s->bytes;
            left++;
            continue;
        }
        rc = drop_segment(g, c, s, err);
        if (rc)
            left++;
    }
    *all_gone = !rc && left == 0;
    return rc;
}

/* Read again: an index created after the list was read may have builds
 * already. */
static bool index_exists(gc *g, const coll *c, int64_t id)
{
    qv_segmeta_index_key(g->o->root, c->id, id, g->key, sizeof g->key);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(g->o->kv, g->key, strlen(g->key), &r, NULL);
    metakv_kvs_release(&r);
    return rc != QV_E_NOT_FOUND;
}

/* Dropped indexes (all of them once the collection's window passed). */
static qv_code gc_indexes(gc *g, coll *c, bool cexpired, qv_err *err)
{
    qv_code rc = QV_OK;
    for (size_t i = 0; i < c->nidx && !rc; i++) {
        qv_index_info *x = c->idx[i];
        bool gone = x->state == QUIVER__INTERNAL__META_STATE__META_DROPPED &&
                    expired(g, x->drop_ts);
        if (!gone && !cexpired)
            continue;
        for (size_t b = 0; b < c->nbuilds && !rc; b++)
            if (c->builds[b] && c->builds[b]->index_id == x->id) {
                rc = drop_build(g, c->builds[b], err);
                c->builds[b] = NULL;
            }
        if (!rc) {
            qv_segmeta_index_key(g->o->root, c->id, x->id, g->key,
                                 sizeof g->key);
            rc = del_key(g, g->key, false, err);
            g->st->indexes_removed += !rc;
        }
    }
    for (size_t b = 0; b < c->nbuilds && !rc; b++)
        if (c->builds[b] && !find_index(c, c->builds[b]->index_id) &&
            !index_exists(g, c, c->builds[b]->index_id)) {
            rc = drop_build(g, c->builds[b], err); /* index record gone */
            c->builds[b] = NULL;
        }
    for (size_t b = 0; b < c->nbuilds; b++)
        if (c->builds[b] &&
            c->builds[b]->state ==
                QUIVER__INTERNAL__INDEX_BUILD_STATE__BUILD_FINISHED)
            g->st->bytes_live += c->builds[b]->serialized_bytes;
    return rc;
}

/* What is left of a dropped collection whose window passed, then its
 * catalog record. */
static qv_code gc_collection_record(gc *g, coll *c, qv_err *err)
{
    static const char *const kinds[] = {"insert_log", "delta_log", "stats_log"};
    qv_code rc = QV_OK;
    for (size_t k = 0; k < 3 && !rc; k++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "%s/%" PRId64 "/", kinds[k], c->id);
        rc = del_prefix(g, prefix, err);
    }
    static const char *const metas[] = {"seg", "segidx", "index", "dnchan"};
    for (size_t k = 0; k < 4 && !rc; k++) {
        snprintf(g->key, sizeof g->key, "%smeta/%s/%" PRId64 "/", g->o->root,
                 metas[k], c->id);
        rc = del_key(g, g->key, true, err);
    }
    for (size_t v = 0; c->info && v < c->info->n_virtual_channels && !rc; v++) {
        qv_segmeta_chkpt_key(g->o->root, c->info->virtual_channels[v], g->key,
                             sizeof g->key);
        rc = del_key(g, g->key, false, err);
    }
    if (rc || !c->key)
        return rc;
    /* compare-and-delete: a record changed since it was read stays */
    metakv_txn *t = metakv_txn_begin(g->o->kv);
    metakv_txn_cmp_num(t, c->key, strlen(c->key), METAKV_CMP_MOD_REV, METAKV_EQ,
                       c->mod_rev);
    metakv_txn_delete(t, METAKV_THEN, c->key, strlen(c->key), false);
    bool ok = false;
    rc = metakv_txn_commit(t, &ok, NULL, err);
    if (!rc && ok) {
        g->st->collections_removed++;
        QV_LOG(QV_LOG_INFO, "gc", "collection %" PRId64 " ('%s') collected",
               c->id, c->info ? c->info->name : "");
    }
    return rc;
}

/* Reads the catalog record again after the segments were listed: a
 * partition created (and given segments) since the round began is in it. */
static qv_code refresh_info(gc *g, coll *c, qv_err *err)
{
    if (!c->key)
        return QV_OK;
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(g->o->kv, c->key, strlen(c->key), &r, err);
    if (rc == QV_E_NOT_FOUND) {
        c->info = NULL;
        c->key = NULL;
        return QV_OK;
    }
    qv_coll_info *info;
    if (!rc)
        rc = qv_pb_unpack(&quiver__internal__collection_info__descriptor,
                          r.kvs[0].value, r.kvs[0].value_len, &g->a,
                          "collection record", (ProtobufCMessage **)&info, err);
    if (!rc) {
        c->info = info;
        c->mod_rev = r.kvs[0].mod_rev;
    }
    metakv_kvs_release(&r);
    return rc;
}

static qv_code gc_collection(gc *g, coll *c, qv_err *err)
{
    qv_code rc = qv_segmeta_list_segments(g->o->kv, g->o->root, c->id, NULL,
                                          &g->a, &c->segs, &c->nsegs, err);
    if (!rc)
        rc = refresh_info(g, c, err);
    if (!rc)
        rc = qv_segmeta_list_indexes(g->o->kv, g->o->root, c->id, &g->a,
                                     &c->idx, &c->nidx, err);
    if (!rc)
        rc = qv_segmeta_list_segidx(g->o->kv, g->o->root, c->id, 0, &g->a,
                                    &c->builds, &c->nbuilds, err);
    bool all_gone = false;
    if (!rc)
        rc = gc_segments(g, c, &all_gone, err);
    bool cexpired = c->info && coll_dropped(c) && expired(g, c->info->drop_ts);
    if (!rc)
        rc = gc_indexes(g, c, cexpired, err);
    if (!rc && cexpired && all_gone)
        rc = gc_collection_record(g, c, err);
    return rc;
}

/* ---- collections ------------------------------------------------------- */

typedef struct colls {
    coll *v;
    size_t n, cap;
} colls;

static coll *add_coll(colls *cs, int64_t id)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cs->v[i].id == id)
            return &cs->v[i];
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->v = qv_xrealloc(cs->v, cs->cap * sizeof *cs->v);
    }
    coll *c = &cs->v[cs->n++];
    memset(c, 0, sizeof *c);
    c->id = id;
    return c;
}

static qv_code on_coll(gc *g, const metakv_kv *kv, void *ctx, qv_err *err)
{
    qv_coll_info *info;
    qv_code rc =
        qv_pb_unpack(&quiver__internal__collection_info__descriptor, kv->value,
                     kv->value_len, &g->a, "collection record",
                     (ProtobufCMessage **)&info, err);
    if (rc)
        return rc;
    coll *c = add_coll(ctx, info->id);
    c->info = info;
    c->key = qv_arena_alloc(&g->a, kv->key_len + 1);
    memcpy(c->key, kv->key, kv->key_len);
    c->key[kv->key_len] = '\0';
    c->mod_rev = kv->mod_rev;
    return QV_OK;
}

/* Collections with segment records (keys seg/<coll>/<seg>). */
static qv_code on_seg_key(gc *g, const metakv_kv *kv, void *ctx, qv_err *err)
{
    (void)err;
    char k[QV_SEGMETA_KEY_MAX];
    size_t plen = strlen(g->o->root) + strlen("meta/seg/");
    if (kv->key_len >= sizeof k)
        return QV_OK;
    memcpy(k, kv->key, kv->key_len);
    k[kv->key_len] = '\0';
    int64_t id[2];
    if (parse_ids(k, plen, id, 2) == 2)
        add_coll(ctx, id[0]);
    return QV_OK;
}

/* ---- orphans ------------------------------------------------------------- */

typedef struct known {
    int64_t coll, seg, log; /* seg 0 = an L0 log */
} known;

typedef struct knowns {
    known *v;
    size_t n, cap;
    int64_t *builds;
    size_t nb, capb;
} knowns;

static int cmp_known(const void *x, const void *y)
{
    const known *a = x, *b = y;
    if (a->coll != b->coll)
        return a->coll < b->coll ? -1 : 1;
    if (a->seg != b->seg)
        return a->seg < b->seg ? -1 : 1;
    return (a->log > b->log) - (a->log < b->log);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static qv_code on_known_seg(gc *g, const metakv_kv *kv, void *ctx, qv_err *err)
{
    knowns *k = ctx;
    qv_seg_info *s;
    qv_code rc = qv_pb_unpack(&quiver__internal__segment_info__descriptor,
                              kv->value, kv->value_len, &g->a, "segment record",
                              (ProtobufCMessage **)&s, err);
    if (rc)
        return rc;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->v = qv_xrealloc(k->v, k->cap * sizeof *k->v);
    }
    k->v[k->n++] =
        (known){s->collection_id, s->level == LV(L0) ? 0 : s->id, s->log_id};
    return QV_OK;
}

static qv_code on_known_build(gc *g, const metakv_kv *kv, void *ctx,
                              qv_err *err)
{
    knowns *k = ctx;
    qv_seg_index *b;
    qv_code rc = qv_pb_unpack(&quiver__internal__segment_index__descriptor,
                              kv->value, kv->value_len, &g->a, "build record",
                              (ProtobufCMessage **)&b, err);
    if (rc)
        return rc;
    if (k->nb == k->capb) {
        k->capb = k->capb ? k->capb * 2 : 64;
        k->builds = qv_xrealloc(k->builds, k->capb * sizeof *k->builds);
    }
    k->builds[k->nb++] = b->build_id;
    return QV_OK;
}

/* True when some record names the object key. */
static bool named(const knowns *k, const char *key)
{
    int64_t id[5];
    if (strncmp(key, "index_files/", 12) == 0) {
        if (parse_ids(key, 12, id, 1) != 1)
            return false;
        return k->nb && bsearch(&id[0], k->builds, k->nb, sizeof *k->builds,
                                cmp_i64) != NULL;
    }
    known q;
    if (strncmp(key, "delta_log/", 10) == 0) {
        if (parse_ids(key, 10, id, 4) != 4)
            return false;
        q = (known){id[0], id[2], id[3]};
    } else {
        size_t skip = strncmp(key, "insert_log/", 11) == 0 ? 11 : 10;
        if (parse_ids(key, skip, id, 5) != 5)
            return false;
        q = (known){id[0], id[2], id[4]};
    }
    return k->n && bsearch(&q, k->v, k->n, sizeof *k->v, cmp_known) != NULL;
}

static qv_code scan_prefix(gc *g, const knowns *k, const char *prefix,
                           qv_err *err)
{
    char *token = NULL;
    qv_code rc = QV_OK;
    do {
        objstore_list_page pg;
        rc = objstore_list(g->o->os, prefix, token, 0, &pg, err);
        free(token);
        token = NULL;
        if (rc)
            break;
        for (size_t i = 0; i < pg.count && !rc; i++) {
            const objstore_entry *e = &pg.entries[i];
            if (named(k, e->key) ||
                (uint64_t)e->mtime_ms + g->o->orphan_grace_ms > g->o->now_ms)
                continue;
            rc = objstore_delete(g->o->os, e->key, err);
            if (!rc) {
                g->st->objects_deleted++;
                g->st->orphans_deleted++;
            }
        }
        if (pg.next_token)
            token = qv_xstrdup(pg.next_token);
        objstore_list_page_release(&pg);
    } while (token && !rc);
    free(token);
    return rc;
}

static qv_code gc_orphans(gc *g, qv_err *err)
{
    knowns k = {0};
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/seg/", g->o->root);
    qv_code rc = each_kv(g, prefix, false, on_known_seg, &k, err);
    snprintf(prefix, sizeof prefix, "%smeta/segidx/", g->o->root);
    if (!rc)
        rc = each_kv(g, prefix, false, on_known_build, &k, err);
    if (!rc && k.n > 1)
        qsort(k.v, k.n, sizeof *k.v, cmp_known);
    if (!rc && k.nb > 1)
        qsort(k.builds, k.nb, sizeof *k.builds, cmp_i64);
    static const char *const prefixes[] = {"insert_log/", "delta_log/",
                                           "stats_log/", "index_files/"};
    for (size_t i = 0; i < 4 && !rc; i++)
        rc = scan_prefix(g, &k, prefixes[i], err);
    free(k.v);
    free(k.builds);
    return rc;
}

/* ---- the round ----------------------------------------------------------- */

static void publish(const qv_gc_stats *st)
{
    qv_metric_family *live = qv_metrics_gauge(
        "quiver_gc_bytes_live",
        "bytes of flushed segments and finished index builds", NULL);
    qv_metric_family *pend = qv_metrics_gauge(
        "quiver_gc_bytes_pending",
        "bytes of compacted or dropped segments waiting for collection", NULL);
    qv_metric_family *del =
        qv_metrics_counter("quiver_gc_objects_deleted_total",
                           "objects the garbage collector deleted", NULL);
    qv_metric_family *runs = qv_metrics_counter(
        "quiver_gc_runs_total", "garbage collection rounds", NULL);
    if (live)
        qv_metric_set(live, NULL, (double)st->bytes_live);
    if (pend)
        qv_metric_set(pend, NULL, (double)st->bytes_pending);
    if (del)
        qv_metric_add(del, NULL, (double)st->objects_deleted);
    if (runs)
        qv_metric_add(runs, NULL, 1);
}

qv_code qv_gc_run(const qv_gc_options *o, qv_gc_stats *st, qv_err *err)
{
    if (!o || !o->kv || !o->os || !o->root)
        return qv_fail(err, QV_E_INVALID, "gc: no meta KV or object store");
    qv_gc_stats s = {0};
    gc g = {.o = o, .st = &s};
    qv_arena_init(&g.a, 0);
    colls cs = {0};
    /* segment keys first: a collection that has segments then has its
     * catalog record when the records are read (created before them) */
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/seg/", o->root);
    qv_code rc = each_kv(&g, prefix, true, on_seg_key, &cs, err);
    snprintf(prefix, sizeof prefix, "%smeta/coll/", o->root);
    if (!rc)
        rc = each_kv(&g, prefix, false, on_coll, &cs, err);
    for (size_t i = 0; i < cs.n && !rc; i++)
        rc = gc_collection(&g, &cs.v[i], err);
    if (!rc && o->scan_orphans)
        rc = gc_orphans(&g, err);
    free(cs.v);
    qv_arena_release(&g.a);
    publish(&s);
    if (st)
        *st = s;
    if (rc)
        return qv_err_prefix(err, "gc");
    return QV_OK;
}
