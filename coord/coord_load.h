/* coord_load.c / svc_load.c -- load, release and progress: what the
 * handlers (svc_load.c) use of the assignments and targets that
 * coord_load.c keeps.  Not part of the public API.
 *
 * Threading: functions marked "load_mu held" must be called with
 * c->load_mu locked; the others are pure meta KV calls.
 */
#ifndef QV_COORD_LOAD_H
#define QV_COORD_LOAD_H

#include "coord/coord_int.h"

/* A collection's load record: loaded or not, its database, the loaded
 * partitions (parts NULL: every partition). */
typedef struct qv_load_rec {
    bool loaded;
    char *db;       /* arena */
    int64_t *parts; /* NULL: every partition */
    size_t nparts;
} qv_load_rec;

void qv_coord__load_key(qv_coord *c, int64_t coll, char *buf, size_t cap);
/* The record of coll (out->loaded false when none); strings on a. */
qv_code qv_coord__load_get_rec(qv_coord *c, int64_t coll, qv_arena *a,
                               qv_load_rec *out, qv_err *err);
/* A load record's value (len bytes) into out (strings on a). */
void qv_coord__load_parse_rec(const char *v, size_t len, qv_arena *a,
                              qv_load_rec *out);
/* Writes the record (parts NULL / n 0: the whole collection). */
qv_code qv_coord__load_put_rec(qv_coord *c, int64_t coll, const char *db,
                               const int64_t *parts, size_t n, qv_err *err);
bool qv_coord__load_has_id(const int64_t *v, size_t n, int64_t id);
/* Live query nodes: session keys and addresses on a. */
qv_code qv_coord__load_nodes(qv_coord *c, qv_arena *a, char ***keys,
                             char ***addrs, size_t *n, qv_err *err);
/* A live query node watches every vchannel of info (assigned with
 * checkpoints and initial targets when not); *addr (may be NULL) gets its
 * address, valid while load_mu is held.  load_mu held. */
qv_code qv_coord__load_watch(qv_coord *c, const qv_coll_info *info,
                             const qv_load_rec *rec, bool recheck,
                             const char **addr, qv_err *err);
/* load_watch, then every vchannel's target recomputed and synced.
 * load_mu NOT held (it is taken briefly; syncs wait for query nodes). */
qv_code qv_coord__load_refresh(qv_coord *c, const qv_coll_info *info,
                               const qv_load_rec *rec, bool recheck,
                               qv_err *err);
/* 0..100 for the partitions parts (NULL: all) from the nodes' last
 * answers, or a node's load error.  load_mu held. */
qv_code qv_coord__load_progress(qv_coord *c, int64_t coll, const int64_t *parts,
                                size_t nparts, int64_t *out, qv_err *err);
/* The serving node's session key, or NULL.  load_mu held. */
const char *qv_coord__load_session(qv_coord *c, int64_t coll);
/* Tells the node to release coll and forgets the assignment.  load_mu
 * held. */
void qv_coord__load_release_node(qv_coord *c, int64_t coll);

#endif
