/* tso.h -- the timestamp oracle and the ID allocator of the coord
 * (DESIGN §2).
 *
 * Timestamps are hybrid: physical Unix ms << 18 | 18-bit logical counter
 * (common/hts.h).  The TSO never hands out a timestamp whose physical part
 * is at or above the bound persisted in meta KV under "<root>tso"; it
 * persists a new bound ("now + window", default 3 s) before it needs it.
 * A restarted or failed-over coord starts above the persisted bound, so
 * timestamps never go backwards, even when the wall clock does.
 *
 * IDs (collection, partition, segment, row, build) come from one persisted
 * counter "<root>ids" in windows of `id_window` IDs: a window is reserved in
 * meta KV before any of its IDs is handed out, so a restart skips at most
 * the unused rest of a window and never reuses an ID.
 *
 * Fencing: every save is a compare-and-swap on the key's mod revision.  If
 * another coord wrote the key since, the save fails with QV_E_CONFLICT and
 * this allocator stops handing out timestamps or IDs (the caller steps
 * down).
 *
 * Ownership: the allocator borrows the metakv and the clock; both outlive
 * it.  Threading: every function is thread-safe (one mutex); meta KV writes
 * happen under it, about once per window.
 */
#ifndef QV_COORD_TSO_H
#define QV_COORD_TSO_H

#include <stdint.h>

#include "common/clock.h"
#include "common/hts.h"
#include "common/metakv/metakv.h"
#include "common/status.h"

typedef struct qv_tso qv_tso;

typedef struct qv_tso_options {
    const char *root;      /* key root, e.g. "quiver/"; NULL = that */
    const qv_clock *clock; /* NULL = system clock */
    uint32_t window_ms;    /* persisted look-ahead; 0 = 3000 */
    uint32_t id_window;    /* IDs reserved per meta KV write; 0 = 10000 */
} qv_tso_options;

/* Loads the persisted bounds and reserves the first windows. */
qv_code qv_tso_open(metakv *kv, const qv_tso_options *opts, qv_tso **out,
                    qv_err *err) QV_MUST_USE;
void qv_tso_close(qv_tso *t);

/* Allocates count (1..2^18) consecutive timestamps; *first is the lowest.
 * Every timestamp is greater than every one handed out before, by this
 * process or any earlier coord on the same meta KV. */
qv_code qv_tso_alloc(qv_tso *t, uint32_t count, qv_ts *first,
                     qv_err *err) QV_MUST_USE;

/* Allocates count (1..10^7) consecutive IDs; *first is the lowest (>= 1). */
qv_code qv_tso_alloc_ids(qv_tso *t, uint32_t count, int64_t *first,
                         qv_err *err) QV_MUST_USE;

#endif
