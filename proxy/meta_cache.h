/* meta_cache.h -- the proxy's cache of collection descriptions.
 *
 * Entries are DescribeCollection replies (packed bytes) keyed by database
 * and the name the client used (a collection name or an alias).  Any
 * change under "<root>meta/" in meta KV, seen by a watch thread, clears
 * the whole cache (while the meta KV is unreachable the watch resumes
 * later without missing changes, so cached replies keep being served), and so
 * does every DDL this proxy forwards; a reply fetched before a clear is never
 * stored after it (epochs), so no stale schema survives a drop and re-create.
 * Metadata changes are rare, so clearing everything keeps the rules simple.
 *
 * Ownership: the cache borrows the metakv (NULL = no watch; the proxy's
 * own DDL still clears it).  Threading: every function is thread-safe;
 * the watch thread belongs to the cache.
 */
#ifndef QV_PROXY_META_CACHE_H
#define QV_PROXY_META_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "milvus/milvus.pb-c.h"

typedef struct qv_meta_cache qv_meta_cache;
typedef Milvus__Proto__Milvus__DescribeCollectionResponse qv_describe_resp;

qv_meta_cache *qv_meta_cache_create(metakv *kv, const char *root);
void qv_meta_cache_destroy(qv_meta_cache *c);

/* The current epoch: take it before asking the coord, pass it to put. */
uint64_t qv_meta_cache_epoch(qv_meta_cache *c);
/* A copy of the entry for (db, name) in arena a, or NULL. */
qv_describe_resp *qv_meta_cache_get(qv_meta_cache *c, const char *db,
                                    const char *name, qv_arena *a);
/* Stores r for (db, name) unless the cache was cleared since epoch. */
void qv_meta_cache_put(qv_meta_cache *c, const char *db, const char *name,
                       const qv_describe_resp *r, uint64_t epoch);
void qv_meta_cache_clear(qv_meta_cache *c);
/* Entries cached now (tests). */
size_t qv_meta_cache_size(qv_meta_cache *c);

#endif
