/* segmeta.c -- segment, checkpoint and index records in meta KV. */
#include "coord/segmeta.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "proto/pb_arena.h"

size_t qv_segmeta_seg_key(const char *root, int64_t coll, int64_t seg,
                          char *buf, size_t cap)
{
    int n =
        snprintf(buf, cap, "%smeta/seg/%" PRId64 "/%" PRId64, root, coll, seg);
    return n < 0 ? 0 : (size_t)n;
}

size_t qv_segmeta_chkpt_key(const char *root, const char *vchannel, char *buf,
                            size_t cap)
{
    int n = snprintf(buf, cap, "%smeta/chkpt/%s", root, vchannel);
    return n < 0 ? 0 : (size_t)n;
}

size_t qv_segmeta_index_key(const char *root, int64_t coll, int64_t index_id,
                            char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%smeta/index/%" PRId64 "/%" PRId64, root, coll,
                     index_id);
    return n < 0 ? 0 : (size_t)n;
}

size_t qv_segmeta_segidx_key(const char *root, int64_t coll, int64_t seg,
                             int64_t index_id, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%smeta/segidx/%" PRId64 "/%" PRId64 "/%" PRId64,
                     root, coll, seg, index_id);
    return n < 0 ? 0 : (size_t)n;
}

/* Decodes every value under prefix as desc into a sorted array. */
static qv_code list_prefix(metakv *kv, const char *prefix,
                           const ProtobufCMessageDescriptor *desc, qv_arena *a,
                           ProtobufCMessage ***out, size_t *n, qv_err *err)
{
    *out = NULL;
    *n = 0;
    size_t plen = strlen(prefix), cap = 0;
    metakv_kvs r = METAKV_KVS_INIT;
    metakv_range_opts o = {.limit = 1000};
    char *after = NULL;
    size_t after_len = 0;
    qv_code rc;
    for (;;) {
        o.after = after;
        o.after_len = after_len;
        rc = metakv_range(kv, prefix, plen, &o, &r, err);
        if (rc)
            break;
        for (size_t i = 0; i < r.n && !rc; i++) {
            if (*n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                ProtobufCMessage **g = qv_arena_alloc(a, nc * sizeof *g);
                if (cap)
                    memcpy(g, *out, cap * sizeof *g);
                *out = g;
                cap = nc;
            }
            rc = qv_pb_unpack(desc, r.kvs[i].value, r.kvs[i].value_len, a,
                              prefix, &(*out)[*n], err);
            if (!rc)
                (*n)++;
        }
        bool more = r.more && r.n > 0;
        if (more) {
            free(after);
            after_len = r.kvs[r.n - 1].key_len;
            after = qv_xmalloc(after_len);
            memcpy(after, r.kvs[r.n - 1].key, after_len);
        }
        metakv_kvs_release(&r);
        if (rc || !more)
            break;
    }
    free(after);
    return rc;
}

static int cmp_seg(const void *x, const void *y)
{
    const qv_seg_info *a = *(qv_seg_info *const *)x;
    const qv_seg_info *b = *(qv_seg_info *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

qv_code qv_segmeta_list_segments(metakv *kv, const char *root, int64_t coll,
                                 const char *vchannel, qv_arena *a,
                                 qv_seg_info ***out, size_t *n, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/seg/%" PRId64 "/", root, coll);
    qv_code rc =
        list_prefix(kv, prefix, &quiver__internal__segment_info__descriptor, a,
                    (ProtobufCMessage ***)out, n, err);
    if (rc)
        return rc;
    if (vchannel) {
        size_t k = 0;
        for (size_t i = 0; i < *n; i++)
            if (strcmp((*out)[i]->vchannel, vchannel) == 0)
                (*out)[k++] = (*out)[i];
        *n = k;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_seg);
    return QV_OK;
}

static qv_code get_one(metakv *kv, const char *key,
                       const ProtobufCMessageDescriptor *desc, qv_arena *a,
                       ProtobufCMessage **out, qv_err *err)
{
    *out = NULL;
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(kv, key, strlen(key), &r, err);
    if (rc == QV_E_NOT_FOUND)
        rc = QV_OK; /* absent: *out stays NULL */
    if (!rc && r.n == 1)
        rc = qv_pb_unpack(desc, r.kvs[0].value, r.kvs[0].value_len, a, key, out,
                          err);
    metakv_kvs_release(&r);
    return rc;
}

qv_code qv_segmeta_get_segment(metakv *kv, const char *root, int64_t coll,
                               int64_t seg, qv_arena *a, qv_seg_info **out,
                               qv_err *err)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_seg_key(root, coll, seg, key, sizeof key);
    qv_code rc = get_one(kv, key, &quiver__internal__segment_info__descriptor,
                         a, (ProtobufCMessage **)out, err);
    if (!rc && !*out)
        rc = qv_fail(err, QV_E_NOT_FOUND,
                     "segment %" PRId64 " of collection %" PRId64 " not found",
                     seg, coll);
    return rc;
}

qv_code qv_segmeta_get_checkpoint(metakv *kv, const char *root,
                                  const char *vchannel, qv_arena *a,
                                  qv_checkpoint **out, qv_err *err)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_segmeta_chkpt_key(root, vchannel, key, sizeof key);
    return get_one(kv, key, &quiver__internal__channel_checkpoint__descriptor,
                   a, (ProtobufCMessage **)out, err);
}

static int cmp_index(const void *x, const void *y)
{
    const qv_index_info *a = *(qv_index_info *const *)x;
    const qv_index_info *b = *(qv_index_info *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

qv_code qv_segmeta_list_indexes(metakv *kv, const char *root, int64_t coll,
                                qv_arena *a, qv_index_info ***out, size_t *n,
                                qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%smeta/index/%" PRId64 "/", root, coll);
    qv_code rc =
        list_prefix(kv, prefix, &quiver__internal__index_info__descriptor, a,
                    (ProtobufCMessage ***)out, n, err);
    if (!rc && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_index);
    return rc;
}

static int cmp_segidx(const void *x, const void *y)
{
    const qv_seg_index *a = *(qv_seg_index *const *)x;
    const qv_seg_index *b = *(qv_seg_index *const *)y;
    if (a->segment_id != b->segment_id)
        return (a->segment_id > b->segment_id) -
               (a->segment_id < b->segment_id);
    return (a->index_id > b->index_id) - (a->index_id < b->index_id);
}

qv_code qv_segmeta_list_segidx(metakv *kv, const char *root, int64_t coll,
                               int64_t seg, qv_arena *a, qv_seg_index ***out,
                               size_t *n, qv_err *err)
{
    char prefix[QV_SEGMETA_KEY_MAX];
    if (seg)
        snprintf(prefix, sizeof prefix,
                 "%smeta/segidx/%" PRId64 "/%" PRId64 "/", root, coll, seg);
    else
        snprintf(prefix, sizeof prefix, "%smeta/segidx/%" PRId64 "/", root,
                 coll);
    qv_code rc =
        list_prefix(kv, prefix, &quiver__internal__segment_index__descriptor, a,
                    (ProtobufCMessage ***)out, n, err);
    if (!rc && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_segidx);
    return rc;
}

void qv_segmeta_txn_put(metakv_txn *t, metakv_branch b, const char *key,
                        const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *v = qv_xmalloc(len + 1);
    protobuf_c_message_pack(m, v);
    metakv_txn_put(t, b, key, strlen(key), v, len, 0);
    free(v);
}

qv_code qv_segmeta_put(metakv *kv, const char *key, const ProtobufCMessage *m,
                       qv_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *v = qv_xmalloc(len + 1);
    protobuf_c_message_pack(m, v);
    qv_code rc = metakv_put(kv, key, strlen(key), v, len, 0, NULL, err);
    free(v);
    return rc;
}

size_t qv_segmeta_dnchan_key(const char *root, int64_t coll,
                             const char *vchannel, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%smeta/dnchan/%" PRId64 "/%s", root, coll,
                     vchannel);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- commits ------------------------------------------------------------- */

/* What one commit attempt read: the checkpoint (and its mod revision), the
 * assignee, whether the segment is already recorded. */
typedef struct commit_seen {
    int64_t chk_rev;
    bool put_segment;
} commit_seen;

static qv_code commit_check(metakv *kv, const char *root,
                            const qv_segmeta_commit *c, commit_seen *s,
                            qv_err *err)
{
    char key[QV_SEGMETA_KEY_MAX];
    qv_arena a;
    qv_arena_init(&a, 0);
    qv_segmeta_chkpt_key(root, c->vchannel, key, sizeof key);
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(kv, key, strlen(key), &r, err);
    if (rc == QV_E_NOT_FOUND)
        rc = QV_OK;
    s->chk_rev = 0;
    if (!rc && r.n == 1) {
        ProtobufCMessage *m;
        s->chk_rev = r.kvs[0].mod_rev;
        rc = qv_pb_unpack(&quiver__internal__channel_checkpoint__descriptor,
                          r.kvs[0].value, r.kvs[0].value_len, &a, key, &m, err);
        const qv_checkpoint *old = (const void *)m;
        if (!rc && c->checkpoint->position < old->position)
            rc = qv_fail(err, QV_E_CONFLICT,
                         "stale checkpoint for vchannel '%s': position %" PRIu64
                         " is behind the recorded %" PRIu64,
                         c->vchannel, c->checkpoint->position, old->position);
    }
    metakv_kvs_release(&r);
    if (!rc && c->node) {
        qv_segmeta_dnchan_key(root, c->coll, c->vchannel, key, sizeof key);
        rc = metakv_get(kv, key, strlen(key), &r, err);
        bool same = !rc && r.n == 1 && r.kvs[0].value_len == strlen(c->node) &&
                    memcmp(r.kvs[0].value, c->node, r.kvs[0].value_len) == 0;
        if ((!rc || rc == QV_E_NOT_FOUND) && !same)
            rc = qv_fail(err, QV_E_CONFLICT,
                         "datanode '%s' is not the assignee of vchannel '%s' "
                         "(assigned: '%s')",
                         c->node, c->vchannel,
                         !rc && r.n == 1 ? (const char *)r.kvs[0].value
                                         : "none");
        metakv_kvs_release(&r);
    }
    s->put_segment = c->segment != NULL;
    if (!rc && c->segment) {
        qv_seg_info *old = NULL;
        qv_err e2 = {0};
        qv_code g = qv_segmeta_get_segment(kv, root, c->coll, c->segment->id,
                                           &a, &old, &e2);
        if (g == QV_OK && old->log_id == c->segment->log_id)
            s->put_segment = false; /* a retried commit */
        else if (g == QV_OK)
            rc = qv_fail(err, QV_E_CONFLICT,
                         "segment %" PRId64
                         " is already recorded with log id %" PRId64
                         " (commit has %" PRId64 ")",
                         c->segment->id, old->log_id, c->segment->log_id);
        else if (g != QV_E_NOT_FOUND)
            rc = qv_fail(err, g, "%s", e2.msg);
    }
    qv_arena_release(&a);
    return rc;
}

qv_code qv_segmeta_commit_put(metakv *kv, const char *root,
                              const qv_segmeta_commit *c, qv_err *err)
{
    if (!c->checkpoint || !c->vchannel || !c->vchannel[0])
        return qv_fail(err, QV_E_INVALID,
                       "commit segment: vchannel and checkpoint are required");
    if (c->segment)
        c->segment->level = QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L1;
    if (c->l0)
        c->l0->level = QUIVER__INTERNAL__SEGMENT_LEVEL__SEG_L0;
    qv_seg_info *segs[2] = {c->segment, c->l0};
    for (int i = 0; i < 2; i++) {
        if (!segs[i])
            continue;
        if (segs[i]->id <= 0)
            return qv_fail(err, QV_E_INVALID,
                           "commit segment: %s id must be positive",
                           i ? "l0 log" : "segment");
        segs[i]->state = QUIVER__INTERNAL__SEGMENT_STATE__SEG_FLUSHED;
        segs[i]->flushed_ts = c->flushed_ts;
        segs[i]->collection_id = c->coll;
    }
    qv_code rc = QV_OK;
    for (int attempt = 0; attempt < 8; attempt++) {
        commit_seen s;
        if ((rc = commit_check(kv, root, c, &s, err)))
            return rc;
        char key[QV_SEGMETA_KEY_MAX];
        metakv_txn *t = metakv_txn_begin(kv);
        qv_segmeta_chkpt_key(root, c->vchannel, key, sizeof key);
        metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_MOD_REV, METAKV_EQ,
                           s.chk_rev);
        qv_segmeta_txn_put(t, METAKV_THEN, key, &c->checkpoint->base);
        if (c->node) {
            qv_segmeta_dnchan_key(root, c->coll, c->vchannel, key, sizeof key);
            metakv_txn_cmp_value(t, key, strlen(key), METAKV_EQ, c->node,
                                 strlen(c->node));
        }
        if (s.put_segment) {
            qv_segmeta_seg_key(root, c->coll, c->segment->id, key, sizeof key);
            metakv_txn_cmp_num(t, key, strlen(key), METAKV_CMP_VERSION,
                               METAKV_EQ, 0);
            qv_segmeta_txn_put(t, METAKV_THEN, key, &c->segment->base);
        }
        if (c->l0) {
            qv_segmeta_seg_key(root, c->coll, c->l0->id, key, sizeof key);
            qv_segmeta_txn_put(t, METAKV_THEN, key, &c->l0->base);
        }
        bool ok = false;
        rc = metakv_txn_commit(t, &ok, NULL, err);
        if (rc || ok)
            return rc;
    }
    return qv_fail(err, QV_E_CONFLICT,
                   "commit segment on vchannel '%s': meta KV kept changing "
                   "under the transaction",
                   c->vchannel);
}

/* ---- flush state --------------------------------------------------------- */

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

qv_code qv_segmeta_flushed(metakv *kv, const char *root, int64_t coll,
                           const int64_t *ids, size_t n, bool *flushed,
                           qv_err *err)
{
    *flushed = true;
    if (n == 0)
        return QV_OK;
    int64_t *want = QV_NEW_ARRAY(int64_t, n);
    bool *seen = QV_NEW_ARRAY(bool, n);
    memcpy(want, ids, n * sizeof *want);
    qsort(want, n, sizeof *want, cmp_i64);
    char prefix[QV_SEGMETA_KEY_MAX];
    if (coll > 0)
        snprintf(prefix, sizeof prefix, "%smeta/seg/%" PRId64 "/", root, coll);
    else
        snprintf(prefix, sizeof prefix, "%smeta/seg/", root);
    size_t plen = strlen(prefix);
    metakv_range_opts o = {.limit = 1000, .keys_only = true};
    char *after = NULL;
    size_t after_len = 0;
    qv_code rc = QV_OK;
    for (;;) {
        metakv_kvs r = METAKV_KVS_INIT;
        o.after = after;
        o.after_len = after_len;
        if ((rc = metakv_range(kv, prefix, plen, &o, &r, err)))
            break;
        for (size_t i = 0; i < r.n; i++) {
            const uint8_t *k = r.kvs[i].key;
            size_t e = r.kvs[i].key_len, b = e;
            while (b > plen && k[b - 1] != '/')
                b--;
            char num[24];
            if (e - b == 0 || e - b >= sizeof num)
                continue;
            memcpy(num, k + b, e - b);
            num[e - b] = '\0';
            int64_t id = strtoll(num, NULL, 10);
            int64_t *hit = bsearch(&id, want, n, sizeof *want, cmp_i64);
            if (hit)
                seen[hit - want] = true;
        }
        bool more = r.more && r.n > 0;
        if (more) {
            free(after);
            after_len = r.kvs[r.n - 1].key_len;
            after = qv_xmalloc(after_len);
            memcpy(after, r.kvs[r.n - 1].key, after_len);
        }
        metakv_kvs_release(&r);
        if (!more)
            break;
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (!seen[i]) {
            /* duplicates in want: a later equal id may be the one seen */
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = want[j] == want[i] && seen[j];
            if (!dup)
                *flushed = false;
        }
    free(want);
    free(seen);
    free(after);
    return rc;
}
