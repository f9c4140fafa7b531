/* segmeta.h -- segment, channel checkpoint and index metadata in meta KV
 * (DESIGN §3, §4, §6): the records the datanode's commits, the index
 * builds and compaction produce, and that load, scheduling and GC read.
 *
 * Key layout under <root>meta/ (values: proto/internal/meta.proto):
 *
 *   seg/<coll id>/<segment id>                 SegmentInfo
 *   chkpt/<vchannel>                           ChannelCheckpoint
 *   index/<coll id>/<index id>                 IndexInfo
 *   segidx/<coll id>/<segment id>/<index id>   SegmentIndex
 *   dnchan/<coll id>/<vchannel>                the datanode session key
 *                                              assigned the vchannel
 *
 * Ids are written in decimal, so key order is not numeric order; lists are
 * returned sorted by id.  Writers that must be atomic together (a segment
 * and its checkpoint, a compaction's inputs and output) build one
 * transaction with qv_segmeta_txn_put(); every other function is one
 * call to meta KV.
 *
 * Ownership: results live on the caller's arena.  Threading: pure functions
 * over a thread-safe meta KV.
 */
#ifndef QV_COORD_SEGMETA_H
#define QV_COORD_SEGMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "common/status.h"
#include "internal/meta.pb-c.h"

typedef Quiver__Internal__SegmentInfo qv_seg_info;
typedef Quiver__Internal__ChannelCheckpoint qv_checkpoint;
typedef Quiver__Internal__IndexInfo qv_index_info;
typedef Quiver__Internal__SegmentIndex qv_seg_index;

#define QV_SEGMETA_KEY_MAX 640

/* Keys (root ends in '/'); return the key length. */
size_t qv_segmeta_seg_key(const char *root, int64_t coll, int64_t seg,
                          char *buf, size_t cap);
size_t qv_segmeta_chkpt_key(const char *root, const char *vchannel, char *buf,
                            size_t cap);
size_t qv_segmeta_index_key(const char *root, int64_t coll, int64_t index_id,
                            char *buf, size_t cap);
size_t qv_segmeta_segidx_key(const char *root, int64_t coll, int64_t seg,
                             int64_t index_id, char *buf, size_t cap);

size_t qv_segmeta_dnchan_key(const char *root, int64_t coll,
                             const char *vchannel, char *buf, size_t cap);

/* Every SegmentInfo of a collection (all states, both levels), sorted by
 * id; vchannel != NULL keeps only that channel's. */
qv_code qv_segmeta_list_segments(metakv *kv, const char *root, int64_t coll,
                                 const char *vchannel, qv_arena *a,
                                 qv_seg_info ***out, size_t *n,
                                 qv_err *err) QV_MUST_USE;
/* One segment; QV_E_NOT_FOUND when absent. */
qv_code qv_segmeta_get_segment(metakv *kv, const char *root, int64_t coll,
                               int64_t seg, qv_arena *a, qv_seg_info **out,
                               qv_err *err) QV_MUST_USE;
/* The checkpoint of a vchannel, or *out = NULL when none is recorded. */
qv_code qv_segmeta_get_checkpoint(metakv *kv, const char *root,
                                  const char *vchannel, qv_arena *a,
                                  qv_checkpoint **out, qv_err *err) QV_MUST_USE;
/* Every IndexInfo of a collection (live and dropped), sorted by id. */
qv_code qv_segmeta_list_indexes(metakv *kv, const char *root, int64_t coll,
                                qv_arena *a, qv_index_info ***out, size_t *n,
                                qv_err *err) QV_MUST_USE;
/* Every SegmentIndex of a collection (seg = 0) or of one segment, sorted by
 * (segment id, index id). */
qv_code qv_segmeta_list_segidx(metakv *kv, const char *root, int64_t coll,
                               int64_t seg, qv_arena *a, qv_seg_index ***out,
                               size_t *n, qv_err *err) QV_MUST_USE;

/* Adds a put of message m under key to branch b of transaction t (the txn
 * copies key and value). */
void qv_segmeta_txn_put(metakv_txn *t, metakv_branch b, const char *key,
                        const ProtobufCMessage *m);

/* Plain writes (one call each). */
qv_code qv_segmeta_put(metakv *kv, const char *key, const ProtobufCMessage *m,
                       qv_err *err) QV_MUST_USE;

/* ---- datanode commits (coord CommitSegment) ----------------------------- */

typedef struct qv_segmeta_commit {
    const char *node; /* the committing datanode's session key; NULL = no
                         assignee check */
    int64_t coll;
    const char *vchannel;
    qv_seg_info *segment;      /* L1, or NULL */
    qv_seg_info *l0;           /* L0 delete log, or NULL */
    qv_checkpoint *checkpoint; /* required */
    uint64_t flushed_ts;       /* stamped on segment and l0 */
} qv_segmeta_commit;

/* Records a datanode commit in ONE transaction: the segment (state
 * FLUSHED, level L1), the L0 log (state FLUSHED, level L0) and the
 * checkpoint.  Refuses with QV_E_CONFLICT: a checkpoint behind the
 * recorded one; a node that is not the vchannel's assignee (dnchan key);
 * a segment id already recorded with another log id.  A retry of the same
 * commit succeeds without rewriting the segment (so a COMPACTED state is
 * never reverted).  Races with other writers are retried. */
qv_code qv_segmeta_commit_put(metakv *kv, const char *root,
                              const qv_segmeta_commit *c,
                              qv_err *err) QV_MUST_USE;

/* Flush state of segment ids: *flushed = every id has a SegmentInfo (any
 * state, any level).  coll > 0 looks only in that collection, else in
 * every collection. */
qv_code qv_segmeta_flushed(metakv *kv, const char *root, int64_t coll,
                           const int64_t *ids, size_t n, bool *flushed,
                           qv_err *err) QV_MUST_USE;

#endif
