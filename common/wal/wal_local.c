/* wal_local.c -- the "local" write log: one directory per channel holding
 * segment files of framed records (layout: common/wal/README.md).
 *
 *   <dir>/<channel>/<base position, 20 digits>.seg
 *
 * Invariants (per channel, guarded by lchan.mu):
 *   - segs[] is sorted by base; segs[i+1].base == segs[i].base + records
 *     in segs[i]; the last segment is the active one, open for writing as
 *     `fd`, and segs[last].bytes is its committed size.
 *   - Bytes below a segment's committed size never change, so readers read
 *     them without the lock; they take it only to learn the committed size
 *     and to wait for more.
 *   - The last record of every append batch carries WAL__REC_BATCH_END.  On
 *     open, the active segment is scanned and cut back to just after the
 *     last complete batch, so a torn or corrupted tail is never served.
 *
 * Threading: appends to one channel are serialised by lchan.mu (taken with
 * a deadline); encoding happens before it is taken.  Lock order: lw.mu, then
 * lchan.mu.  With WAL_SYNC_INTERVAL a flusher thread fdatasyncs dirty
 * channels every sync_interval_ms.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/wal/wal_local_int.h"

/* ---- small helpers ---------------------------------------------------- */

void wal__local_deadline_in(struct timespec *ts, uint32_t ms, clockid_t clk)
{
    clock_gettime(clk, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

qv_code wal__local_lock_chan(local_wal *lw, lchan *ch, const char *op,
                             qv_err *err)
{
    struct timespec ts;
    wal__local_deadline_in(&ts, lw->timeout_ms, CLOCK_REALTIME);
    int e = pthread_mutex_timedlock(&ch->mu, &ts);
    if (e == 0)
        return QV_OK;
    return qv_fail(err, QV_E_TIMEOUT,
                   "wal %s on channel '%s' (local): channel busy for %u ms", op,
                   ch->name, lw->timeout_ms);
}

char *wal__local_seg_path(const lchan *ch, wal_pos base)
{
    return qv_xasprintf("%s/%020llu.seg", ch->dir, (unsigned long long)base);
}

qv_code wal__local_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return QV_E_IO;
        if (k == 0)
            return QV_E_IO_SHORT_READ;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return QV_OK;
}

static qv_code pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return QV_E_IO;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return QV_OK;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int wal__local_ensure_buf(uint8_t **buf, size_t *cap, size_t need)
{
    if (need == 0)
        need = 1;
    if (*cap >= need)
        return 0;
    uint8_t *p = qv_try_realloc(*buf, need, 1);
    if (!p)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* ---- channel recovery ------------------------------------------------- */

static int parse_seg_name(const char *name, wal_pos *base)
{
    size_t n = strlen(name);
    if (n != 24 || strcmp(name + 20, ".seg") != 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (v > WAL__POS_MAX)
        return 0;
    *base = v;
    return 1;
}

static int cmp_seg(const void *a, const void *b)
{
    const lseg *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

static void push_seg(lchan *ch, wal_pos base, uint64_t bytes)
{
    if (ch->nseg == ch->cap) {
        ch->cap = ch->cap ? ch->cap * 2 : 8;
        ch->segs = qv_xrealloc(ch->segs, ch->cap * sizeof(lseg));
    }
    ch->segs[ch->nseg].base = base;
    ch->segs[ch->nseg].bytes = bytes;
    ch->nseg++;
}

static qv_code list_segments(lchan *ch, qv_err *err)
{
    DIR *d = opendir(ch->dir);
    if (!d)
        return qv_fail_errno(err, QV_E_IO,
                             "wal open channel '%s' (local): "
                             "cannot list '%s'",
                             ch->name, ch->dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        wal_pos base;
        if (parse_seg_name(de->d_name, &base))
            push_seg(ch, base, 0);
    }
    closedir(d);
    if (ch->nseg > 1)
        qsort(ch->segs, ch->nseg, sizeof(lseg), cmp_seg);
    for (size_t i = 0; i + 1 < ch->nseg; i++) {
        char *p = wal__local_seg_path(ch, ch->segs[i].base);
        struct stat st;
        int rc = stat(p, &st);
        free(p);
        if (rc != 0)
            return qv_fail_errno(err, QV_E_IO,
                                 "wal open channel '%s' (local): cannot "
                                 "stat a segment",
                                 ch->name);
        ch->segs[i].bytes = (uint64_t)st.st_size;
    }
    return QV_OK;
}

/* Scans records of fd from the segment header to size; returns the record
 * count and end offset of the last complete batch. */
static qv_code scan_fd(int fd, uint64_t size, size_t max_len, uint64_t *records,
                       uint64_t *valid_end)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t off = WAL__SEG_HDR_BYTES, n = 0;
    *records = 0;
    *valid_end = off;
    while (size - off >= WAL__REC_HDR_BYTES) {
        uint8_t hdr[WAL__REC_HDR_BYTES];
        wal__rec_head h;
        if (wal__local_pread_all(fd, hdr, sizeof(hdr), off) != QV_OK ||
            wal__rec_head_decode(hdr, max_len, &h) != QV_OK ||
            h.len > size - off - WAL__REC_HDR_BYTES)
            break;
        if (wal__local_ensure_buf(&buf, &cap, h.len) != 0) {
            free(buf);
            return QV_E_NOMEM;
        }
        if (wal__local_pread_all(fd, buf, h.len, off + WAL__REC_HDR_BYTES) !=
                QV_OK ||
            !wal__rec_check(&h, hdr, buf))
            break;
        off += WAL__REC_HDR_BYTES + (uint64_t)h.len;
        n++;
        if (h.flags & WAL__REC_BATCH_END) {
            *records = n;
            *valid_end = off;
        }
    }
    free(buf);
    return QV_OK;
}

static qv_code create_segment(local_wal *lw, lchan *ch, wal_pos base,
                              int *fd_out, qv_err *err)
{
    char *p = wal__local_seg_path(ch, base);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        qv_code rc = qv_fail_errno(err, QV_E_IO,
                                   "wal channel '%s' (local): "
                                   "cannot create segment '%s'",
                                   ch->name, p);
        free(p);
        return rc;
    }
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal__seg_header_encode(hdr, base);
    int sync = lw->opt.sync != WAL_SYNC_NEVER;
    if (pwrite_all(fd, hdr, sizeof(hdr), 0) != QV_OK ||
        (sync && fdatasync(fd) != 0) || (sync && fsync_dir(ch->dir) != 0)) {
        qv_code rc = qv_fail_errno(err, QV_E_IO,
                                   "wal channel '%s' (local): "
                                   "cannot write segment '%s'",
                                   ch->name, p);
        close(fd);
        unlink(p);
        free(p);
        return rc;
    }
    free(p);
    *fd_out = fd;
    return QV_OK;
}

/* Opens the active segment, checks its header and cuts a torn tail. */
static qv_code recover_active(local_wal *lw, lchan *ch, qv_err *err)
{
    lseg *s = &ch->segs[ch->nseg - 1];
    char *p = wal__local_seg_path(ch, s->base);
    qv_code rc = QV_OK;
    int fd = open(p, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = qv_fail_errno(err, QV_E_IO,
                           "wal open channel '%s' (local): "
                           "cannot open segment '%s'",
                           ch->name, p);
        goto out;
    }
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal_pos base = 0;
    uint64_t size = (uint64_t)st.st_size, records = 0;
    uint64_t valid_end = WAL__SEG_HDR_BYTES;
    if (size < WAL__SEG_HDR_BYTES ||
        wal__local_pread_all(fd, hdr, sizeof(hdr), 0) != QV_OK ||
        wal__seg_header_decode(hdr, sizeof(hdr), &base, NULL) != QV_OK ||
        base != s->base) {
        /* A crash while the segment was being created: no record can be in
         * it yet (records follow a synced header), so write it afresh. */
        wal__seg_header_encode(hdr, s->base);
        if (pwrite_all(fd, hdr, sizeof(hdr), 0) != QV_OK)
            rc = QV_E_IO;
    } else if (scan_fd(fd, size, lw->max_record, &records, &valid_end) !=
               QV_OK) {
        rc = qv_fail(err, QV_E_NOMEM,
                     "wal open channel '%s' (local): out "
                     "of memory scanning '%s'",
                     ch->name, p);
        goto out;
    }
    if (rc == QV_OK && valid_end != size &&
        (ftruncate(fd, (off_t)valid_end) != 0 || fdatasync(fd) != 0))
        rc = QV_E_IO;
    if (rc != QV_OK) {
        rc = qv_fail_errno(err, QV_E_IO,
                           "wal open channel '%s' (local): "
                           "cannot repair the tail of '%s'",
                           ch->name, p);
        goto out;
    }
    s->bytes = valid_end;
    ch->wbytes = valid_end;
    ch->end = s->base + records;
    ch->wend = ch->end;
    ch->fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(p);
    return rc;
}

static void enforce_retention(local_wal *lw, lchan *ch)
{
    if (!lw->opt.retention_bytes && !lw->opt.retention_ms)
        return;
    uint64_t total = 0;
    for (size_t i = 0; i < ch->nseg; i++)
        total += ch->segs[i].bytes;
    uint64_t now = qv_wall_ms(lw->clock);
    while (ch->nseg > 1) {
        char *p = wal__local_seg_path(ch, ch->segs[0].base);
        int drop = lw->opt.retention_bytes && total > lw->opt.retention_bytes;
        struct stat st;
        if (!drop && lw->opt.retention_ms && stat(p, &st) == 0) {
            uint64_t mtime = (uint64_t)st.st_mtim.tv_sec * 1000u +
                             (uint64_t)st.st_mtim.tv_nsec / 1000000u;
            drop = mtime + lw->opt.retention_ms < now;
        }
        if (!drop || unlink(p) != 0) {
            free(p);
            break;
        }
        free(p);
        total -= ch->segs[0].bytes;
        memmove(ch->segs, ch->segs + 1, (ch->nseg - 1) * sizeof(lseg));
        ch->nseg--;
    }
}

static void free_chan(lchan *ch)
{
    if (ch->fd >= 0)
        close(ch->fd);
    pthread_mutex_destroy(&ch->mu);
    pthread_cond_destroy(&ch->cv);
    free(ch->segs);
    free(ch->name);
    free(ch->dir);
    free(ch);
}

static qv_code open_chan(local_wal *lw, const char *name, lchan **out,
                         qv_err *err)
{
    lchan *ch = QV_NEW(lchan);
    ch->fd = -1;
    ch->name = qv_xstrdup(name);
    ch->dir = qv_xasprintf("%s/%s", lw->root, name);
    pthread_mutex_init(&ch->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ch->cv, &ca);
    pthread_condattr_destroy(&ca);
    qv_code rc = QV_OK;
    if (mkdir(ch->dir, 0755) != 0 && errno != EEXIST) {
        rc = qv_fail_errno(err, QV_E_IO,
                           "wal open channel '%s' (local): "
                           "cannot create '%s'",
                           name, ch->dir);
        goto fail;
    }
    rc = list_segments(ch, err);
    if (rc != QV_OK)
        goto fail;
    if (ch->nseg == 0) {
        rc = create_segment(lw, ch, 0, &ch->fd, err);
        if (rc != QV_OK)
            goto fail;
        push_seg(ch, 0, WAL__SEG_HDR_BYTES);
        ch->wbytes = WAL__SEG_HDR_BYTES;
    } else {
        rc = recover_active(lw, ch, err);
        if (rc != QV_OK)
            goto fail;
        enforce_retention(lw, ch);
    }
    *out = ch;
    return QV_OK;
fail:
    free_chan(ch);
    return rc;
}

qv_code wal__local_get_chan(local_wal *lw, const char *name, lchan **out,
                            qv_err *err)
{
    pthread_mutex_lock(&lw->mu);
    lchan *ch;
    for (ch = lw->chans; ch; ch = ch->next) {
        if (strcmp(ch->name, name) == 0)
            break;
    }
    qv_code rc = QV_OK;
    if (!ch) {
        lchan *fresh = NULL;
        rc = open_chan(lw, name, &fresh, err);
        if (rc == QV_OK && fresh) {
            fresh->next = lw->chans;
            lw->chans = fresh;
            ch = fresh;
        }
    }
    pthread_mutex_unlock(&lw->mu);
    if (rc == QV_OK)
        *out = ch;
    return rc;
}

/* ---- open / close / flusher ------------------------------------------ */

/* Opens (and so recovers) every channel directory under the root. */
static qv_code recover_all(local_wal *lw, qv_err *err)
{
    DIR *d = opendir(lw->root);
    if (!d)
        return qv_fail_errno(err, QV_E_IO,
                             "wal open (local): cannot list "
                             "'%s'",
                             lw->root);
    qv_code rc = QV_OK;
    struct dirent *de;
    while (rc == QV_OK && (de = readdir(d)) != NULL) {
        if (!wal_channel_valid(de->d_name))
            continue;
        char *p = qv_xasprintf("%s/%s", lw->root, de->d_name);
        struct stat st;
        int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        lchan *ch;
        if (is_dir)
            rc = wal__local_get_chan(lw, de->d_name, &ch, err);
    }
    closedir(d);
    return rc;
}

static void sync_chan_locked(lchan *ch)
{
    if (ch->dirty && ch->fd >= 0) {
        if (fdatasync(ch->fd) != 0)
            ch->failed = 1;
        ch->dirty = 0;
    }
}

static void *flusher_main(void *arg)
{
    local_wal *lw = arg;
    pthread_mutex_lock(&lw->mu);
    while (!lw->stopping) {
        struct timespec ts;
        wal__local_deadline_in(&ts, lw->opt.sync_interval_ms, CLOCK_MONOTONIC);
        pthread_cond_timedwait(&lw->fcv, &lw->mu, &ts);
        for (lchan *ch = lw->chans; ch; ch = ch->next) {
            pthread_mutex_lock(&ch->mu);
            sync_chan_locked(ch);
            pthread_mutex_unlock(&ch->mu);
        }
    }
    pthread_mutex_unlock(&lw->mu);
    return NULL;
}

static void local_close(wal *w);

static qv_code local_open(wal *w, const wal_options *opt, qv_err *err)
{
    local_wal *lw = (local_wal *)w;
    if (!opt->dir || !*opt->dir)
        return qv_fail(err, QV_E_INVALID,
                       "wal open (local): options.dir is not set");
    if (opt->sync > WAL_SYNC_NEVER)
        return qv_fail(err, QV_E_INVALID,
                       "wal open (local): unknown sync policy %d",
                       (int)opt->sync);
    if (mkdir(opt->dir, 0755) != 0 && errno != EEXIST)
        return qv_fail_errno(err, QV_E_IO,
                             "wal open (local): cannot create '%s'", opt->dir);
    lw->opt = *opt;
    lw->root = qv_xstrdup(opt->dir);
    lw->opt.dir = lw->root;
    lw->opt.inner = NULL;
    lw->opt.bootstrap = NULL;
    lw->opt.topic_prefix = NULL;
    if (!lw->opt.sync_interval_ms)
        lw->opt.sync_interval_ms = 200;
    if (!lw->opt.segment_bytes)
        lw->opt.segment_bytes = (uint64_t)64 << 20;
    lw->clock = opt->clock ? opt->clock : qv_clock_system();
    lw->timeout_ms = wal__timeout_ms(opt);
    lw->max_record = wal__max_record(opt);
    pthread_mutex_init(&lw->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lw->fcv, &ca);
    pthread_condattr_destroy(&ca);
    if (lw->opt.sync == WAL_SYNC_INTERVAL) {
        if (pthread_create(&lw->flusher, NULL, flusher_main, lw) != 0) {
            pthread_cond_destroy(&lw->fcv);
            pthread_mutex_destroy(&lw->mu);
            free(lw->root);
            return qv_fail(err, QV_E_INTERNAL,
                           "wal open (local): cannot start the flusher");
        }
        lw->flusher_on = 1;
    }
    qv_code rc = recover_all(lw, err);
    if (rc != QV_OK)
        local_close(w);
    return rc;
}

static void local_close(wal *w)
{
    local_wal *lw = (local_wal *)w;
    if (lw->flusher_on) {
        pthread_mutex_lock(&lw->mu);
        lw->stopping = 1;
        pthread_cond_broadcast(&lw->fcv);
        pthread_mutex_unlock(&lw->mu);
        pthread_join(lw->flusher, NULL);
    }
    lchan *ch = lw->chans;
    while (ch) {
        lchan *next = ch->next;
        if (lw->opt.sync != WAL_SYNC_NEVER)
            sync_chan_locked(ch);
        free_chan(ch);
        ch = next;
    }
    pthread_cond_destroy(&lw->fcv);
    pthread_mutex_destroy(&lw->mu);
    free(lw->root);
}

/* ---- append ------------------------------------------------------------ */

/* Makes everything written so far readable. */
static void commit_locked(lchan *ch)
{
    ch->segs[ch->nseg - 1].bytes = ch->wbytes;
    ch->end = ch->wend;
    pthread_cond_broadcast(&ch->cv);
}

/* Waits on ch->cv until *deadline; returns 0 on timeout. */
static int wait_locked(lchan *ch, const struct timespec *deadline)
{
    return pthread_cond_timedwait(&ch->cv, &ch->mu, deadline) != ETIMEDOUT;
}

/* Starts a new active segment.  Call only while no sync is in flight. */
static qv_code roll_locked(local_wal *lw, lchan *ch, qv_err *err)
{
    if (lw->opt.sync != WAL_SYNC_NEVER && ch->dirty && fdatasync(ch->fd) != 0) {
        ch->failed = 1;
        pthread_cond_broadcast(&ch->cv);
        return qv_fail_errno(err, QV_E_IO,
                             "wal append to channel '%s' (local): cannot "
                             "sync the full segment",
                             ch->name);
    }
    ch->dirty = 0;
    commit_locked(ch); /* appenders waiting on the old segment are done */
    int fd = -1;
    qv_code rc = create_segment(lw, ch, ch->end, &fd, err);
    if (rc != QV_OK)
        return rc;
    close(ch->fd);
    ch->fd = fd;
    ch->wbytes = WAL__SEG_HDR_BYTES;
    push_seg(ch, ch->end, WAL__SEG_HDR_BYTES);
    enforce_retention(lw, ch);
    return QV_OK;
}

/* Writes an encoded batch after the written end (rolling first if the
 * active segment is full). */
static qv_code write_batch_locked(local_wal *lw, lchan *ch, const uint8_t *buf,
                                  size_t total, const struct timespec *deadline,
                                  qv_err *err)
{
    /* Waiting for a sync releases the lock, so the need to roll is
     * checked again after every wait (another appender may have rolled). */
    while (ch->wbytes > WAL__SEG_HDR_BYTES &&
           ch->wbytes + total > lw->opt.segment_bytes) {
        if (ch->syncing) {
            if (!wait_locked(ch, deadline) && ch->syncing)
                return qv_fail(err, QV_E_TIMEOUT,
                               "wal append to channel '%s' (local): segment "
                               "still syncing after %u ms",
                               ch->name, lw->timeout_ms);
            continue;
        }
        qv_code rc = roll_locked(lw, ch, err);
        if (rc != QV_OK)
            return rc;
    }
    if (pwrite_all(ch->fd, buf, total, ch->wbytes) != QV_OK) {
        int e = errno;
        if (ftruncate(ch->fd, (off_t)ch->wbytes) != 0)
            ch->failed = 1;
        errno = e;
        return qv_fail_errno(err, QV_E_IO,
                             "wal append to channel '%s' (local): write "
                             "failed",
                             ch->name);
    }
    ch->wbytes += total;
    ch->dirty = 1;
    return QV_OK;
}

/* Group commit: returns once the records before position `upto` are
 * synced.  One waiter at a time runs fdatasync without the lock and
 * commits everything written before it started; the others wait for it. */
static qv_code wait_durable_locked(local_wal *lw, lchan *ch, wal_pos upto,
                                   const struct timespec *deadline, qv_err *err)
{
    while (ch->end < upto) {
        if (ch->failed)
            return qv_fail(err, QV_E_IO,
                           "wal append to channel '%s' (local): fdatasync "
                           "failed",
                           ch->name);
        if (ch->syncing) {
            if (!wait_locked(ch, deadline) && ch->end < upto)
                return qv_fail(err, QV_E_TIMEOUT,
                               "wal append to channel '%s' (local): not "
                               "synced within %u ms",
                               ch->name, lw->timeout_ms);
            continue;
        }
        ch->syncing = 1;
        uint64_t bytes = ch->wbytes;
        wal_pos pos = ch->wend;
        int fd = ch->fd;
        pthread_mutex_unlock(&ch->mu);
        int r = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&ch->mu);
        ch->syncing = 0;
        if (r != 0) {
            ch->failed = 1;
            pthread_cond_broadcast(&ch->cv);
            errno = e;
            return qv_fail_errno(err, QV_E_IO,
                                 "wal append to channel '%s' (local): "
                                 "fdatasync failed",
                                 ch->name);
        }
        /* No roll happens while syncing: still the same segment. */
        lseg *act = &ch->segs[ch->nseg - 1];
        if (bytes > act->bytes)
            act->bytes = bytes;
        if (pos > ch->end)
            ch->end = pos;
        ch->dirty = ch->wbytes > bytes;
        pthread_cond_broadcast(&ch->cv);
    }
    return QV_OK;
}

/* Encodes recs into one buffer; the last record ends the batch. */
static qv_code encode_batch(const local_wal *lw, const char *channel,
                            const wal_record *recs, size_t n, uint8_t **out,
                            size_t *out_len, qv_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > lw->max_record || recs[i].len > WAL__REC_MAX_LEN)
            return qv_fail(err, QV_E_INVALID,
                           "wal append to channel '%s' (local): record %zu "
                           "has %zu bytes, over the limit of %zu",
                           channel, i, recs[i].len, lw->max_record);
        if (!qv_add_ok(total, WAL__REC_HDR_BYTES + recs[i].len, &total))
            return qv_fail(err, QV_E_INVALID,
                           "wal append to channel '%s' (local): batch too "
                           "large",
                           channel);
    }
    uint8_t *buf = qv_try_alloc(total, 1);
    if (!buf)
        return qv_fail(err, QV_E_NOMEM,
                       "wal append to channel '%s' (local): cannot allocate "
                       "%zu bytes",
                       channel, total);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += wal__rec_encode(buf + off, recs[i].data, (uint32_t)recs[i].len,
                               i + 1 == n ? WAL__REC_BATCH_END : 0);
    *out = buf;
    *out_len = total;
    return QV_OK;
}

static qv_code local_append(wal *w, const char *channel, const wal_record *recs,
                            size_t n, wal_pos *positions, qv_err *err)
{
    local_wal *lw = (local_wal *)w;
    struct timespec deadline;
    wal__local_deadline_in(&deadline, lw->timeout_ms, CLOCK_MONOTONIC);
    uint8_t *buf = NULL;
    size_t total = 0;
    qv_code rc = encode_batch(lw, channel, recs, n, &buf, &total, err);
    if (rc != QV_OK)
        return rc;
    lchan *ch;
    rc = wal__local_get_chan(lw, channel, &ch, err);
    if (rc == QV_OK)
        rc = wal__local_lock_chan(lw, ch, "append", err);
    if (rc != QV_OK) {
        free(buf);
        return rc;
    }
    wal_pos first = ch->wend;
    if (ch->failed)
        rc = qv_fail(err, QV_E_IO,
                     "wal append to channel '%s' (local): an earlier write "
                     "or sync failed; reopen the log",
                     channel);
    else if (ch->wend > WAL__POS_MAX - n)
        rc = qv_fail(err, QV_E_RANGE,
                     "wal append to channel '%s' (local): positions "
                     "exhausted",
                     channel);
    else
        rc = write_batch_locked(lw, ch, buf, total, &deadline, err);
    if (rc == QV_OK) {
        first = ch->wend;
        ch->wend += n;
        if (lw->opt.sync == WAL_SYNC_ALWAYS)
            rc = wait_durable_locked(lw, ch, first + n, &deadline, err);
        else
            commit_locked(ch);
    }
    pthread_mutex_unlock(&ch->mu);
    free(buf);
    for (size_t i = 0; rc == QV_OK && positions && i < n; i++)
        positions[i] = first + i;
    return rc;
}

static qv_code local_bounds(wal *w, const char *channel, wal_pos *earliest,
                            wal_pos *end, qv_err *err)
{
    local_wal *lw = (local_wal *)w;
    lchan *ch;
    qv_code rc = wal__local_get_chan(lw, channel, &ch, err);
    if (rc == QV_OK)
        rc = wal__local_lock_chan(lw, ch, "bounds", err);
    if (rc != QV_OK)
        return rc;
    *earliest = ch->segs[0].base;
    *end = ch->end;
    pthread_mutex_unlock(&ch->mu);
    return QV_OK;
}

/* Deletes the segment files that lie entirely below `before` (their
 * successor starts at or below it), oldest first, never the active one.
 * A reader holding a deleted file open keeps reading it; later opens below
 * the new first segment get QV_E_COMPACTED, as with retention. */
static qv_code local_trim(wal *w, const char *channel, wal_pos before,
                          qv_err *err)
{
    local_wal *lw = (local_wal *)w;
    lchan *ch;
    qv_code rc = wal__local_get_chan(lw, channel, &ch, err);
    if (rc == QV_OK)
        rc = wal__local_lock_chan(lw, ch, "trim", err);
    if (rc != QV_OK)
        return rc;
    size_t gone = 0;
    while (gone + 1 < ch->nseg && ch->segs[gone + 1].base <= before) {
        char *p = wal__local_seg_path(ch, ch->segs[gone].base);
        int r = unlink(p);
        if (r != 0 && errno != ENOENT) {
            rc = qv_fail_errno(err, QV_E_IO,
                               "wal trim of channel '%s': cannot delete '%s'",
                               channel, p);
            free(p);
            break;
        }
        free(p);
        gone++;
    }
    if (gone) {
        memmove(ch->segs, ch->segs + gone, (ch->nseg - gone) * sizeof(lseg));
        ch->nseg -= gone;
        if (fsync_dir(ch->dir) != 0 && rc == QV_OK)
            rc = qv_fail_errno(err, QV_E_IO,
                               "wal trim of channel '%s': cannot sync '%s'",
                               channel, ch->dir);
    }
    pthread_mutex_unlock(&ch->mu);
    return rc;
}

const wal_ops wal__local_ops = {
    .name = "local",
    .caps = WAL_CAP_DENSE_POSITIONS | WAL_CAP_PERSISTENT | WAL_CAP_RETENTION,
    .impl_size = sizeof(local_wal) - sizeof(wal),
    .open = local_open,
    .close = local_close,
    .append = local_append,
    .bounds = local_bounds,
    .reader_open = wal__local_reader_open,
    .reader_next = wal__local_reader_next,
    .reader_close = wal__local_reader_close,
    .trim = local_trim,
};
