/* search_route.h -- what a search or query needs to know before it asks
 * the query nodes, kept so that a read costs no coord call and no new
 * connection (rpc_search.c, rpc_query.c):
 *
 *   shard leaders   GetShardLeaders answers per (collection, partition
 *                   names), kept QV_PROXY_LEADER_TTL_MS; a read whose
 *                   shard calls fail with cached leaders as a stale route
 *                   does (qv_proxy__route_stale) forgets them and asks the
 *                   coord again once (a query node that died is replaced
 *                   by the coord);
 *   index metric    the metric of a field's index (DescribeIndex at the
 *                   coord) for requests that name none, kept 2 s;
 *   channels        one reference to the channel of each query node address
 *                   the read path calls (Search and Query; common/rpc
 *                   destroys a channel when its last reference closes, and
 *                   the read path opens one per call), so calls reuse one
 *                   connection.
 *
 * Ownership: cached answers are copied into the caller's arena.
 * Threading: any thread; each cache has its own mutex.
 */
#ifndef QV_PROXY_SEARCH_ROUTE_H
#define QV_PROXY_SEARCH_ROUTE_H

#include <stdbool.h>

#include "index/index.h"
#include "proxy/proxy_read.h"

#define QV_PROXY_LEADER_TTL_MS 1000

/* qv_proxy__leaders through the cache (use_cache false: always ask, and
 * keep the answer); *cached tells where rp came from. */
qv_code qv_proxy__search_leaders(qv_proxy *p, qv_rpc_call *call,
                                 const qv_coll_ctx *c, char **parts,
                                 size_t nparts, bool use_cache,
                                 qv_read_plan *rp, bool *cached,
                                 qv_err *err) QV_MUST_USE;
/* Whether a failed shard call may mean the cached leaders are stale (the
 * node is gone, no longer serves the channel, or is not loaded yet): the
 * caller forgets them and asks again.  Timeouts and bad requests are
 * not: asking again would only repeat them. */
bool qv_proxy__route_stale(qv_code rc);
/* Drops the cached leaders of a collection. */
void qv_proxy__search_forget(const qv_proxy *p, int64_t coll);
/* Drops every cached leader answer of proxy p (after a load, release or
 * drop through it). */
void qv_proxy__search_forget_all(const qv_proxy *p);

/* The metric of field f's index: *has = false when it has none (or no
 * coord answered). */
qv_code qv_proxy__index_metric(qv_proxy *p, qv_rpc_call *call,
                               const qv_coll_ctx *c, const char *coll_name,
                               const qv_field_spec *f, bool *has, qv_metric *m,
                               qv_err *err) QV_MUST_USE;

/* Keeps the channel to addr open (the most recent 32 addresses). */
void qv_proxy__hold_channel(const char *addr);

#endif
