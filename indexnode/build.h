/* build.h -- one index build of an indexnode: the column file of one field
 * of one flushed segment in, one index file out (DESIGN §3, §6).
 *
 * Input object: insert_log/{coll}/{part}/{seg}/{field}/{log}
 * (common/msg/seglog.h), checked with common/column (magic, sizes,
 * checksum, field id and type).  The IndexInfo's stored params are parsed
 * again with indexnode/index_spec.h.
 *
 * Output object: index_files/{build}/{seg}/index, holding exactly
 *   vector fields: qv_index_serialize() output (index/index.h), labels =
 *     row offsets in the segment (NULL vector rows are left out);
 *   scalar fields: the qv_sindex_encode() image (index/scalar).
 * Loaders tell the two apart by the field type (or the magic).
 *
 * Errors carry whether a retry elsewhere can help: qv_ixbuild_transient()
 * is true for object store and memory failures, false for bad params,
 * damaged or missing input (the coord then marks the build FAILED).
 *
 * Threading: a build is self-contained; run any number at once (the
 * objstore is thread-safe).  `threads` bounds the HNSW build threads.
 */
#ifndef QV_INDEXNODE_BUILD_H
#define QV_INDEXNODE_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/objstore/objstore.h"
#include "common/status.h"
#include "internal/indexnode.pb-c.h"

#define QV_INDEX_FILE_NAME "index"

typedef struct qv_ixbuild_result {
    char *key;         /* the index object written (heap; caller frees) */
    uint64_t bytes;    /* its size */
    uint64_t build_ms; /* reading, building and serializing */
    uint64_t rows;     /* rows indexed */
} qv_ixbuild_result;

/* The key of a build's index file; heap string. */
char *qv_ixbuild_key(int64_t build_id, int64_t seg_id);

qv_code qv_ixbuild_run(const Quiver__Internal__BuildIndexRequest *rq,
                       objstore *os, uint32_t threads, qv_ixbuild_result *out,
                       qv_err *err) QV_MUST_USE;

/* Whether a failed build may succeed on another attempt. */
bool qv_ixbuild_transient(qv_code rc);

#endif
