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
