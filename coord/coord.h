/* coord.h -- the coord process role: one active coordinator, any number of
 * standbys (DESIGN §1, §8).
 *
 * A qv_coord serves quiver.internal.CoordService (proto/internal/
 * coord.proto) on its own port from the moment it starts, registers its
 * session "<root>session/coord-<id>" (value: JSON with its address) and
 * campaigns for "<root>session/coord-active" (whose value is the winner's
 * session key).  A standby answers every call with gRPC UNAVAILABLE, so a
 * client re-resolves the active coord and retries.  Once it wins it opens
 * the TSO/ID allocator and the catalog (coord/tso.h, coord/catalog.h) and
 * serves DDL and metadata; while active it follows every process's
 * session (joins and departures are logged; qv_coord_sessions()).  If its
 * session is lost (cut off from meta KV
 * longer than the TTL) it stops serving at once, registers a fresh session
 * and campaigns again; its TSO and catalog writes are fenced by
 * compare-and-swap, so a deposed coord cannot corrupt what its successor
 * does.
 *
 * Ownership: the coord borrows the metakv (it must outlive the coord) and
 * owns its RPC server, session, TSO, catalog and campaign thread.
 * Threading: create/start/stop/destroy from one thread; handlers run on
 * the RPC server's workers and use the catalog under a read lock that the
 * campaign thread takes exclusively to switch between active and standby.
 */
#ifndef QV_COORD_H
#define QV_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "common/wal/wal.h"

typedef struct qv_coord qv_coord;

typedef struct qv_coord_options {
    metakv *kv;              /* borrowed; required */
    const char *root;        /* meta KV key root; NULL = "quiver/" */
    const char *host;        /* listen host; NULL = "0.0.0.0" */
    int port;                /* 0 = ephemeral (see qv_coord_port) */
    const char *advertise;   /* address peers use; NULL/"" = host:port, with
                                127.0.0.1 for a wildcard host */
    size_t workers;          /* handler threads; 0 = 4 */
    int64_t session_ttl_s;   /* session lease TTL; 0 = 10 */
    uint32_t pchannels;      /* physical DML channels; 0 = 16 */
    wal *log;                /* the write log (borrowed; NULL = no data path:
                                no time ticks, segments or flush) */
    uint32_t tick_ms;        /* time tick period; 0 = 100 */
    uint64_t index_min_rows; /* segments with fewer rows get no index
                                build (indexCoord.minSegmentRows); 0 = 1024 */
    /* Segment seal policies (coord_data.c; dataCoord.segment.*). */
    uint64_t seg_max_rows;   /* seal a growing segment at this many rows;
                                0 = 1,000,000 */
    uint64_t seg_max_bytes;  /* ... or at this many estimated bytes (row
                                width from the schema); 0 = 1 GiB */
    uint64_t seg_idle_ms;    /* seal one that got no rows for this long;
                                0 = 10 s; UINT64_MAX = never */
    uint64_t seg_max_age_ms; /* seal one open this long; 0 = 10 min;
                                UINT64_MAX = never */
    /* Log trimming (coord_dn.c; dataCoord.walTrim.*). */
    bool wal_trim_off;             /* never trim the log */
    uint64_t wal_trim_margin;      /* records kept below the smallest
                                      checkpoint of a pchannel */
    uint64_t wal_trim_interval_ms; /* between two trims; 0 = 10 s */
    /* Compaction and garbage collection (coord_compact.c, coord_gc.c). */
    objstore *os;                 /* borrowed; NULL = no garbage collection */
    uint64_t retention_ms;        /* time travel window; 0 = 1 h */
    uint64_t gc_interval_ms;      /* 0 = 60 s; UINT64_MAX = off */
    uint64_t gc_scan_interval_ms; /* orphan scans; 0 = 1 h */
    uint64_t gc_orphan_grace_ms;  /* 0 = 1 h */
    uint64_t compact_interval_ms; /* automatic compaction; 0 = off */
    uint64_t compact_min_rows;    /* smaller segments merge; 0 = 1024 */
    uint64_t compact_max_rows;    /* most rows of an output; 0 = 1000000 */
} qv_coord_options;

/* Creates the coord (nothing runs yet).  Strings in opts are copied. */
qv_code qv_coord_create(const qv_coord_options *opts, qv_coord **out,
                        qv_err *err) QV_MUST_USE;
/* Starts serving (as a standby), registers the session and starts the
 * campaign thread.  A busy port fails with a message naming it. */
qv_code qv_coord_start(qv_coord *c, qv_err *err) QV_MUST_USE;
/* The bound port after a successful start, else 0. */
int qv_coord_port(const qv_coord *c);
/* The advertised address ("host:port") after start. */
const char *qv_coord_address(const qv_coord *c);
/* True while this coord is the active one and serves DDL. */
bool qv_coord_active(qv_coord *c);
/* Waits up to wait_ms for the coord to become active: QV_E_TIMEOUT if it
 * did not. */
qv_code qv_coord_wait_active(qv_coord *c, uint32_t wait_ms,
                             qv_err *err) QV_MUST_USE;
/* While active: the number of live process sessions of `role` ("proxy",
 * ...; NULL = all) that this coord has seen join and not leave.  0 on a
 * standby. */
size_t qv_coord_sessions(qv_coord *c, const char *role);
/* Stops serving, leaves the election (a standby takes over at once) and
 * joins the thread; idempotent. */
void qv_coord_stop(qv_coord *c);
/* Stops if needed and frees.  NULL is a no-op. */
void qv_coord_destroy(qv_coord *c);

#endif
