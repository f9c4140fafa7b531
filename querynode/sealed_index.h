/* sealed_index.h -- vector indexes of sealed segments on a query node:
 * loading an index file from the object store and attaching it to a
 * serving segment, and finding it again from a reader's snapshot.
 *
 * An index file (`index_files/{build}/{seg}/{file}`, written by an
 * indexnode) is exactly index/index.h's serialize output.  Load fetches
 * it into 64-byte aligned memory, or downloads it under a cache directory
 * and maps it read-only; qv_index_load() verifies it (magic, version,
 * section bounds, CRC-32C) and uses the bytes in place.
 *
 * Attach checks the index against the segment (the field exists and is a
 * vector field of the index's dimension, no more labels than rows) and
 * publishes a new immutable set of the segment's indexes through the
 * segment's attachment slot (sealed.h): a reader's snapshot holds the set
 * that was current when it was taken, so it searches the segment with or
 * without the index, never a torn state; a replaced set (and an index no
 * set references any more) is freed by its last holder.  The segment's
 * raw vector column is not copied: when the segment is mapped from a
 * cache file, the pages of the indexed vector column are dropped from
 * memory after the attach (they are read back from the file only when a
 * result asks for the vector as an output field); in memory it stays
 * resident (querynode/README.md, "Raw vectors").
 *
 * Ownership: qv_seg_index is reference counted; load returns one
 * reference, attach takes it over.  qv_seg_snap_index() borrows from the
 * snapshot (valid until the snapshot is released).
 * Threading: load is independent per call; attach and detach serialize
 * among themselves (one lock for all segments: they are rare); readers
 * never wait for them beyond the attachment slot's short lock.
 */
#ifndef QV_SEALED_INDEX_H
#define QV_SEALED_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/objstore/objstore.h"
#include "common/status.h"
#include "index/index.h"
#include "querynode/sealed.h"

typedef struct qv_seg_index qv_seg_index;

typedef struct qv_seg_index_source {
    objstore *os;
    const char *key; /* the index file's object key */
    int64_t build_id, index_id, field_id;
    const char *cache_dir; /* NULL: hold the file in memory; else download
                              it there and map it */
} qv_seg_index_source;

qv_code qv_seg_index_load(const qv_seg_index_source *src, qv_seg_index **out,
                          qv_err *err) QV_MUST_USE;
/* Wraps an index built in this process (tests, benchmarks); takes it. */
qv_seg_index *qv_seg_index_wrap(qv_index *ix, int64_t build_id,
                                int64_t index_id, int64_t field_id);
void qv_seg_index_ref(qv_seg_index *x);
void qv_seg_index_unref(qv_seg_index *x); /* NULL: no-op */

const qv_index *qv_seg_index_index(const qv_seg_index *x);
int64_t qv_seg_index_build_id(const qv_seg_index *x);
int64_t qv_seg_index_field_id(const qv_seg_index *x);
/* Resident bytes: the index's own memory plus the file when held in
 * memory (a mapped file counts 0). */
size_t qv_seg_index_memory(const qv_seg_index *x);

/* Attaches x to segment s, replacing an index of the same field; takes
 * over the caller's reference (also on failure).  QV_E_INVALID when the
 * index does not fit the segment. */
qv_code qv_sealed_index_attach(qv_sealed *s, qv_seg_index *x,
                               qv_err *err) QV_MUST_USE;
/* Detaches the index of field_id (every index when field_id < 0); returns
 * how many were detached. */
size_t qv_sealed_index_detach(qv_sealed *s, int64_t field_id);
/* Build ids of the attached indexes (up to cap written); returns how many
 * are attached. */
size_t qv_sealed_index_builds(qv_sealed *s, int64_t *builds, size_t cap);

/* The index of field_id in a snapshot taken of a sealed segment, or NULL
 * (growing segments, nothing attached). */
const qv_seg_index *qv_seg_snap_index(const qv_seg_snap *ss, int64_t field_id);

#endif
