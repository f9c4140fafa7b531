/* wal_local_read.c -- readers of the "local" write log.
 *
 * A reader holds its own descriptor on one segment at a time and reads
 * records below the segment's committed size without the channel lock
 * (those bytes never change); it takes the lock only to learn the
 * committed size, to move to the next segment and to wait for appends.
 * Every record's checksum is verified before it is returned.
 *
 * Threading: a reader belongs to one thread at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/wal/wal_local_int.h"

typedef struct local_reader {
    wal_reader base;
    local_wal *lw;
    lchan *ch;
    int fd;
    wal_pos seg_base;
    uint64_t off;
    wal_pos next;
    uint8_t *buf;
    size_t cap;
} local_reader;

/* ---- readers ------------------------------------------------------------ */

/* Opens the segment at base for r and checks its header.  Called with
 * ch->mu held so retention cannot remove the file meanwhile. */
static qv_code reader_open_seg(local_reader *r, wal_pos base, qv_err *err)
{
    char *p = wal__local_seg_path(r->ch, base);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    qv_code rc = QV_OK;
    uint8_t hdr[WAL__SEG_HDR_BYTES];
    wal_pos got;
    if (fd < 0) {
        rc = qv_fail_errno(err, QV_E_IO,
                           "wal read channel '%s' (local): "
                           "cannot open segment '%s'",
                           r->ch->name, p);
    } else if (wal__local_pread_all(fd, hdr, sizeof(hdr), 0) != QV_OK ||
               wal__seg_header_decode(hdr, sizeof(hdr), &got, err) != QV_OK ||
               got != base) {
        rc = qv_fail(err, QV_E_CORRUPT,
                     "wal read channel '%s' (local): "
                     "segment '%s' has a bad header",
                     r->ch->name, p);
    }
    free(p);
    if (rc != QV_OK) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (r->fd >= 0)
        close(r->fd);
    r->fd = fd;
    r->seg_base = base;
    r->off = WAL__SEG_HDR_BYTES;
    return QV_OK;
}

/* Reads the record at r->off (below limit) into r->buf. */
static qv_code read_record(local_reader *r, uint64_t limit, wal__rec_head *h,
                           qv_err *err)
{
    uint8_t hdr[WAL__REC_HDR_BYTES];
    const char *why = NULL;
    if (limit - r->off < WAL__REC_HDR_BYTES ||
        wal__local_pread_all(r->fd, hdr, sizeof(hdr), r->off) != QV_OK)
        why = "is cut short";
    else if (wal__rec_head_decode(hdr, r->lw->max_record, h) != QV_OK ||
             h->len > limit - r->off - WAL__REC_HDR_BYTES)
        why = "has a bad header";
    else if (wal__local_ensure_buf(&r->buf, &r->cap, h->len) != 0)
        return qv_fail(err, QV_E_NOMEM,
                       "wal read channel '%s' (local): "
                       "cannot allocate %u bytes",
                       r->ch->name, h->len);
    else if (wal__local_pread_all(r->fd, r->buf, h->len,
                                  r->off + WAL__REC_HDR_BYTES) != QV_OK)
        why = "has a cut-short payload";
    else if (!wal__rec_check(h, hdr, r->buf))
        why = "fails its checksum";
    if (why)
        return qv_fail(err, QV_E_CORRUPT,
                       "wal read channel '%s' (local): "
                       "record at position %llu (segment %020llu, offset "
                       "%llu) %s",
                       r->ch->name, (unsigned long long)r->next,
                       (unsigned long long)r->seg_base,
                       (unsigned long long)r->off, why);
    return QV_OK;
}

/* The committed size of r's segment, or 0 when r must move on.  Sets
 * *active when r is in the active segment. */
static uint64_t seg_limit_locked(local_reader *r, int *active)
{
    lchan *ch = r->ch;
    *active = 0;
    for (size_t i = 0; i < ch->nseg; i++) {
        if (ch->segs[i].base == r->seg_base) {
            *active = i + 1 == ch->nseg;
            return ch->segs[i].bytes;
        }
    }
    struct stat st; /* removed by retention: its size is final */
    return fstat(r->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

qv_code wal__local_reader_next(wal_reader *base, uint32_t wait_ms,
                               wal_entry *out, qv_err *err)
{
    local_reader *r = (local_reader *)base;
    lchan *ch = r->ch;
    struct timespec ts;
    wal__local_deadline_in(&ts, wait_ms, CLOCK_MONOTONIC);
    qv_code rc = wal__local_lock_chan(r->lw, ch, "read", err);
    if (rc != QV_OK)
        return rc;
    uint64_t limit;
    for (;;) {
        int active;
        limit = seg_limit_locked(r, &active);
        if (r->off < limit)
            break;
        if (!active && r->next < ch->end) {
            size_t i = 0;
            while (i < ch->nseg && ch->segs[i].base <= r->seg_base)
                i++;
            if (i == ch->nseg || ch->segs[i].base != r->next) {
                rc = qv_fail(err, QV_E_COMPACTED,
                             "wal read channel '%s' "
                             "(local): position %llu was removed by "
                             "retention",
                             ch->name, (unsigned long long)r->next);
                break;
            }
            rc = reader_open_seg(r, ch->segs[i].base, err);
            if (rc != QV_OK)
                break;
            continue;
        }
        if (pthread_cond_timedwait(&ch->cv, &ch->mu, &ts) == ETIMEDOUT &&
            r->next >= ch->end) {
            rc = qv_fail(err, QV_E_TIMEOUT,
                         "wal read channel '%s' (local): "
                         "no record at position %llu within %u ms",
                         ch->name, (unsigned long long)r->next, wait_ms);
            break;
        }
    }
    pthread_mutex_unlock(&ch->mu);
    if (rc != QV_OK)
        return rc;
    wal__rec_head h = {0, 0, 0};
    rc = read_record(r, limit, &h, err);
    if (rc != QV_OK)
        return rc;
    out->pos = r->next;
    out->data = r->buf;
    out->len = h.len;
    r->off += WAL__REC_HDR_BYTES + (uint64_t)h.len;
    r->next++;
    return QV_OK;
}

void wal__local_reader_close(wal_reader *base)
{
    local_reader *r = (local_reader *)base;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

/* Skips records until r->next == from; the bytes are below limit. */
static qv_code reader_skip(local_reader *r, wal_pos from, uint64_t limit,
                           qv_err *err)
{
    while (r->next < from) {
        uint8_t hdr[WAL__REC_HDR_BYTES];
        wal__rec_head h;
        if (limit - r->off < WAL__REC_HDR_BYTES ||
            wal__local_pread_all(r->fd, hdr, sizeof(hdr), r->off) != QV_OK ||
            wal__rec_head_decode(hdr, r->lw->max_record, &h) != QV_OK ||
            h.len > limit - r->off - WAL__REC_HDR_BYTES)
            return qv_fail(err, QV_E_CORRUPT,
                           "wal reader open on channel "
                           "'%s' (local): bad record header at position %llu",
                           r->ch->name, (unsigned long long)r->next);
        r->off += WAL__REC_HDR_BYTES + (uint64_t)h.len;
        r->next++;
    }
    return QV_OK;
}

qv_code wal__local_reader_open(wal *w, const char *channel, wal_pos from,
                               wal_reader **out, qv_err *err)
{
    local_wal *lw = (local_wal *)w;
    lchan *ch;
    qv_code rc = wal__local_get_chan(lw, channel, &ch, err);
    if (rc == QV_OK)
        rc = wal__local_lock_chan(lw, ch, "reader open", err);
    if (rc != QV_OK)
        return rc;
    wal_pos earliest = ch->segs[0].base;
    if (from == WAL_EARLIEST)
        from = earliest;
    else if (from == WAL_LATEST)
        from = ch->end;
    if (from < earliest || from > ch->end) {
        pthread_mutex_unlock(&ch->mu);
        return qv_fail(err, from < earliest ? QV_E_COMPACTED : QV_E_RANGE,
                       "wal reader open on channel '%s' (local): position "
                       "%llu is outside the retained range [%llu, %llu]",
                       channel, (unsigned long long)from,
                       (unsigned long long)earliest,
                       (unsigned long long)ch->end);
    }
    size_t i = ch->nseg - 1;
    while (ch->segs[i].base > from)
        i--;
    local_reader *r = QV_NEW(local_reader);
    r->base.ops = w->ops;
    r->lw = lw;
    r->ch = ch;
    r->fd = -1;
    rc = reader_open_seg(r, ch->segs[i].base, err);
    uint64_t limit = ch->segs[i].bytes;
    r->next = ch->segs[i].base;
    pthread_mutex_unlock(&ch->mu);
    if (rc == QV_OK)
        rc = reader_skip(r, from, limit, err);
    if (rc != QV_OK) {
        wal__local_reader_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return QV_OK;
}
