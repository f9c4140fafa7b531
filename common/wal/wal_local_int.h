/* wal_local_int.h -- state shared by wal_local.c (channels, recovery,
 * appends, retention) and wal_local_read.c (readers).  Not public.
 *
 * Threading and invariants: see wal_local.c.
 */
#ifndef QV_WAL_LOCAL_INT_H
#define QV_WAL_LOCAL_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/wal/wal_internal.h"

typedef struct lseg {
    wal_pos base;
    uint64_t bytes;
} lseg;

typedef struct lchan {
    struct lchan *next;
    char *name;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast when end grows (CLOCK_MONOTONIC) */
    lseg *segs;
    size_t nseg, cap;
    int fd;          /* active segment */
    wal_pos end;     /* next committed (readable) position */
    wal_pos wend;    /* next written position (>= end) */
    uint64_t wbytes; /* bytes written to the active segment (>= its
                        committed size segs[last].bytes) */
    int syncing;     /* an appender's fdatasync is in flight (group
                        commit): the active segment must not roll */
    int dirty;       /* written since the last fdatasync */
    int failed;      /* a write or sync failed: appends are refused */
} lchan;

typedef struct local_wal {
    wal base;
    char *root;
    wal_options opt;
    const qv_clock *clock;
    uint32_t timeout_ms;
    size_t max_record;
    pthread_mutex_t mu; /* guards chans and stopping */
    pthread_cond_t fcv;
    lchan *chans;
    int stopping;
    int flusher_on;
    pthread_t flusher;
} local_wal;

void wal__local_deadline_in(struct timespec *ts, uint32_t ms, clockid_t clk);
/* Locks ch->mu within lw->timeout_ms, else QV_E_TIMEOUT naming op. */
qv_code wal__local_lock_chan(local_wal *lw, lchan *ch, const char *op,
                             qv_err *err);
/* "<channel dir>/<base, 20 digits>.seg"; the caller frees it. */
char *wal__local_seg_path(const lchan *ch, wal_pos base);
qv_code wal__local_pread_all(int fd, void *buf, size_t n, uint64_t off);
/* Grows *buf to at least need (>= 1) bytes; -1 when out of memory. */
int wal__local_ensure_buf(uint8_t **buf, size_t *cap, size_t need);
/* Finds the channel, opening (and recovering) it on first use. */
qv_code wal__local_get_chan(local_wal *lw, const char *name, lchan **out,
                            qv_err *err);

/* wal_local_read.c */
qv_code wal__local_reader_open(wal *w, const char *channel, wal_pos from,
                               wal_reader **out, qv_err *err);
qv_code wal__local_reader_next(wal_reader *r, uint32_t wait_ms, wal_entry *out,
                               qv_err *err);
void wal__local_reader_close(wal_reader *r);

#endif
