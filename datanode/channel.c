/* channel.c -- a datanode's vchannel consumer (channel.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/msg/msg.h"
#include "common/msg/seglog.h"
#include "datanode/channel.h"
#include "datanode/flush.h"

typedef struct seg_pos {
    int64_t id;
    wal_pos first; /* position of the record that created it */
} seg_pos;

/* Explicit deletes since the last commit. */
typedef struct pending_del {
    qv_column *keys; /* PK column */
    int64_t *ts, *part;
    size_t n, cap;
} pending_del;

/* A seal waiting for a time tick at or past its timestamp. */
typedef struct pending_seal {
    int64_t id;
    qv_ts ts;
} pending_seal;

struct qv_dn_channel {
    qv_dn_channel_opts o; /* strings and schema replaced by our copies */
    char *pchannel;
    char *vchannel;
    wal_reader *reader;
    qv_shard *shard;
    seg_pos *segs;
    size_t nsegs, cap;
    pending_del del;
    pending_seal *seals;
    size_t nseals, seals_cap;
    int64_t *flushed; /* sorted: segments committed (here or before) */
    size_t nflushed, flushed_cap;
    wal_pos checkpoint;
    qv_code failed;
    char fail_msg[512];
};

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static bool is_flushed(const qv_dn_channel *ch, int64_t id)
{
    return ch->nflushed &&
           bsearch(&id, ch->flushed, ch->nflushed, sizeof id, cmp_id);
}

static void add_flushed(qv_dn_channel *ch, int64_t id)
{
    if (is_flushed(ch, id))
        return;
    if (ch->nflushed == ch->flushed_cap) {
        ch->flushed_cap = ch->flushed_cap ? 2 * ch->flushed_cap : 16;
        ch->flushed =
            qv_xrealloc(ch->flushed, ch->flushed_cap * sizeof *ch->flushed);
    }
    size_t i = ch->nflushed;
    while (i > 0 && ch->flushed[i - 1] > id) {
        ch->flushed[i] = ch->flushed[i - 1];
        i--;
    }
    ch->flushed[i] = id;
    ch->nflushed++;
}

static qv_code fail(qv_dn_channel *ch, qv_code rc, const qv_err *e, wal_pos pos,
                    qv_err *err)
{
    ch->failed = rc;
    (void)snprintf(ch->fail_msg, sizeof ch->fail_msg,
                   "datanode channel '%s' stopped at log position %llu: %s",
                   ch->vchannel, (unsigned long long)pos, e->msg);
    return qv_fail(err, rc, "%s", ch->fail_msg);
}

static const qv_field_spec *pk_spec(const qv_dn_channel *ch)
{
    const qv_seg_schema *s = qv_shard_schema(ch->shard);
    for (size_t i = 0; i < s->nfields; i++)
        if (s->fields[i].id == s->pk_field_id)
            return &s->fields[i];
    return NULL;
}

qv_code qv_dn_channel_open(const qv_dn_channel_opts *opts, qv_dn_channel **out,
                           qv_err *err)
{
    qv_dn_channel *ch = QV_NEW(qv_dn_channel);
    ch->o = *opts;
    ch->pchannel = qv_xstrdup(opts->pchannel ? opts->pchannel : "");
    ch->vchannel = qv_xstrdup(opts->shard.vchannel ? opts->shard.vchannel : "");
    ch->checkpoint = opts->from;
    for (size_t i = 0; i < opts->nflushed; i++)
        add_flushed(ch, opts->flushed[i]);
    ch->o.flushed = NULL;
    ch->o.nflushed = 0;
    qv_code rc = qv_shard_create(&opts->shard, &ch->shard, err);
    if (!rc && !pk_spec(ch))
        rc = qv_fail(err, QV_E_INVALID, "datanode: schema has no PK field");
    if (!rc)
        rc = qv_column_create(pk_spec(ch), &ch->del.keys, err);
    if (!rc)
        rc = wal_reader_open(opts->log, opts->pchannel, opts->from, &ch->reader,
                             err);
    if (rc) {
        qv_dn_channel_close(ch);
        return rc;
    }
    ch->o.pchannel = ch->pchannel;
    ch->o.shard.vchannel = ch->vchannel;
    ch->o.shard.schema = *qv_shard_schema(ch->shard);
    *out = ch;
    return QV_OK;
}

void qv_dn_channel_close(qv_dn_channel *ch)
{
    if (!ch)
        return;
    if (ch->reader)
        wal_reader_close(ch->reader);
    qv_shard_free(ch->shard);
    qv_column_free(ch->del.keys);
    free(ch->del.ts);
    free(ch->del.part);
    free(ch->segs);
    free(ch->seals);
    free(ch->flushed);
    free(ch->pchannel);
    free(ch->vchannel);
    free(ch);
}

static void note_segment(qv_dn_channel *ch, int64_t id, wal_pos pos)
{
    for (size_t i = 0; i < ch->nsegs; i++)
        if (ch->segs[i].id == id)
            return;
    if (ch->nsegs == ch->cap) {
        ch->cap = ch->cap ? 2 * ch->cap : 8;
        ch->segs = qv_xrealloc(ch->segs, ch->cap * sizeof *ch->segs);
    }
    ch->segs[ch->nsegs++] = (seg_pos){id, pos};
}

static qv_code note_deletes(qv_dn_channel *ch, const qv_msg *m, qv_err *err)
{
    pending_del *d = &ch->del;
    qv_code rc = qv_column_append_view(d->keys, &m->cols[0], err);
    if (rc)
        return rc;
    qv_column_publish(d->keys);
    if (d->n + m->rows > d->cap) {
        d->cap = (d->n + m->rows) * 2;
        d->ts = qv_xrealloc(d->ts, d->cap * sizeof *d->ts);
        d->part = qv_xrealloc(d->part, d->cap * sizeof *d->part);
    }
    for (size_t i = 0; i < m->rows; i++) {
        d->ts[d->n + i] = (int64_t)m->ts;
        d->part[d->n + i] = m->partition_id;
    }
    d->n += m->rows;
    return QV_OK;
}

/* Writes the pending deletes as one L0 log per partition value. */
static qv_code write_l0(qv_dn_channel *ch, qv_dn_commit *c, qv_err *err)
{
    pending_del *d = &ch->del;
    if (d->n == 0)
        return QV_OK;
    qv_code rc = ch->o.alloc_id(ch->o.ctx, &c->l0_log_id, err);
    qv_col_view kv = qv_column_view(d->keys);
    int64_t *rows = QV_NEW_ARRAY(int64_t, d->n);
    int64_t *ts = QV_NEW_ARRAY(int64_t, d->n);
    bool *done = QV_NEW_ARRAY(bool, d->n);
    for (size_t i = 0; !rc && i < d->n; i++) {
        if (done[i])
            continue;
        size_t k = 0;
        for (size_t j = i; j < d->n; j++)
            if (!done[j] && d->part[j] == d->part[i]) {
                done[j] = true;
                rows[k] = (int64_t)j;
                ts[k++] = d->ts[j];
            }
        qv_column *keys;
        rc = qv_column_create(pk_spec(ch), &keys, err);
        if (rc)
            break;
        rc = qv_column_append_rows(keys, &kv, rows, k, err);
        qv_buf b = QV_BUF_INIT;
        if (!rc) {
            qv_column_publish(keys);
            qv_col_view v = qv_column_view(keys);
            rc = qv_delta_encode(&v, ts, &b, err);
        }
        if (!rc) {
            char *key =
                qv_seglog_key(QV_SEGLOG_DELTA, ch->o.shard.collection_id,
                              d->part[i], 0, 0, c->l0_log_id);
            rc = objstore_put(ch->o.os, key, b.data, b.len, err);
            free(key);
        }
        qv_buf_release(&b);
        qv_column_free(keys);
    }
    free(rows);
    free(ts);
    free(done);
    if (!rc) {
        c->l0_deletes = d->n;
        for (size_t i = 0; i < d->n; i++) {
            if (i == 0 || (qv_ts)d->ts[i] < c->l0_min_ts)
                c->l0_min_ts = (qv_ts)d->ts[i];
            if ((qv_ts)d->ts[i] > c->l0_max_ts)
                c->l0_max_ts = (qv_ts)d->ts[i];
        }
    }
    return rc;
}

static void clear_deletes(qv_dn_channel *ch)
{
    const qv_field_spec *spec = pk_spec(ch);
    qv_column *fresh;
    if (qv_column_create(spec, &fresh, NULL) == QV_OK) {
        qv_column_free(ch->del.keys);
        ch->del.keys = fresh;
        ch->del.n = 0;
    }
}

/* Flushes segment id (if buffered) and commits; pos = the sealing record. */
static qv_code seal_and_commit(qv_dn_channel *ch, int64_t id, wal_pos pos,
                               qv_ts tick, qv_err *err)
{
    qv_dn_commit c = {.tick = tick};
    qv_shard_snap snap;
    qv_shard_acquire(ch->shard, &snap);
    const qv_seg_snap *ss = NULL;
    for (size_t i = 0; i < snap.n; i++)
        if (snap.snaps[i].segment_id == id)
            ss = &snap.snaps[i];
    bool held = ss != NULL;
    qv_code rc = QV_OK;
    if (ss) { /* recorded even with 0 rows, so its flush state turns true */
        c.segment_id = id;
        c.partition_id = ss->partition_id;
        c.rows = ss->rows;
    }
    if (ss && ss->rows) {
        rc = ch->o.alloc_id(ch->o.ctx, &c.log_id, err);
        qv_flush_target t = {ch->o.os, ch->o.shard.collection_id, c.log_id};
        qv_flush_result res;
        if (!rc)
            rc =
                qv_flush_segment(&t, qv_shard_schema(ch->shard), ss, &res, err);
        if (!rc) {
            c.bytes = res.bytes;
            c.hidden = res.deletes;
            for (size_t r = 0; r < ss->rows; r++) {
                qv_ts ts = ss->ops->row_ts(ss->seg, r);
                if (r == 0 || ts < c.min_ts)
                    c.min_ts = ts;
                if (ts > c.max_ts)
                    c.max_ts = ts;
            }
        }
    }
    qv_shard_snap_release(&snap);
    if (!rc)
        rc = write_l0(ch, &c, err);
    if (rc)
        return rc;
    /* the segment leaves the buffer; the checkpoint moves */
    size_t k = 0;
    for (size_t i = 0; i < ch->nsegs; i++)
        if (ch->segs[i].id != id)
            ch->segs[k++] = ch->segs[i];
    ch->nsegs = k;
    c.checkpoint = pos + 1;
    for (size_t i = 0; i < ch->nsegs; i++)
        if (ch->segs[i].first < c.checkpoint)
            c.checkpoint = ch->segs[i].first;
    rc = ch->o.commit(ch->o.ctx, &c, err);
    if (rc)
        return rc;
    if (c.segment_id)
        add_flushed(ch, id);
    if (held && (rc = qv_shard_drop_segment(ch->shard, id, err)))
        return rc;
    clear_deletes(ch);
    ch->checkpoint = c.checkpoint;
    return QV_OK;
}

/* id 0 = a Flush: a commit (checkpoint, L0 deletes) at the first tick
 * past ts even when nothing is sealed, so the checkpoint's tick shows that
 * everything up to the Flush is recorded. */
static void defer_seal(qv_dn_channel *ch, int64_t id, qv_ts ts)
{
    if (id && is_flushed(ch, id))
        return;
    for (size_t i = 0; i < ch->nseals; i++)
        if (ch->seals[i].id == id) {
            if (ts > ch->seals[i].ts)
                ch->seals[i].ts = ts;
            return;
        }
    if (ch->nseals == ch->seals_cap) {
        ch->seals_cap = ch->seals_cap ? 2 * ch->seals_cap : 8;
        ch->seals = qv_xrealloc(ch->seals, ch->seals_cap * sizeof *ch->seals);
    }
    ch->seals[ch->nseals++] = (pending_seal){id, ts};
}

/* A pchannel time tick at position pos: every insert with a timestamp at
 * or below it is in the log, so the seals up to it can be flushed. */
static qv_code on_tick(qv_dn_channel *ch, qv_ts tick, wal_pos pos, qv_err *err)
{
    qv_code rc = QV_OK;
    size_t i = 0;
    while (!rc && i < ch->nseals) {
        if (ch->seals[i].ts > tick) {
            i++;
            continue;
        }
        int64_t id = ch->seals[i].id;
        rc = seal_and_commit(ch, id, pos, tick, err);
        if (!rc) {
            memmove(&ch->seals[i], &ch->seals[i + 1],
                    (ch->nseals - i - 1) * sizeof *ch->seals);
            ch->nseals--;
        }
    }
    return rc;
}

/* Records of segments already flushed (here, or before a restart from a
 * checkpoint inside their span) are skipped: they are in that segment. */
static bool skip_flushed(const qv_dn_channel *ch, const qv_msg *m)
{
    return (m->type == QV_MSG_INSERT || m->type == QV_MSG_SEGMENT_OPEN ||
            m->type == QV_MSG_SEGMENT_SEAL) &&
           is_flushed(ch, m->segment_id);
}

static qv_code handle(qv_dn_channel *ch, const wal_entry *e, qv_err *err)
{
    qv_msg_type type;
    qv_ts ts;
    int64_t coll;
    char vc[QV_MSG_VCHANNEL_MAX + 1];
    qv_code rc =
        qv_msg_peek(e->data, e->len, &type, &ts, &coll, vc, sizeof vc, err);
    if (rc)
        return rc;
    if (!vc[0] && type == QV_MSG_TIME_TICK)
        return on_tick(ch, ts, e->pos, err);
    if (!vc[0] || strcmp(vc, ch->vchannel) != 0)
        return QV_OK; /* other vchannels */
    qv_msg m;
    memset(&m, 0, sizeof m);
    rc = qv_msg_decode(e->data, e->len, &m, err);
    if (!rc && skip_flushed(ch, &m)) {
        qv_msg_release(&m);
        return QV_OK;
    }
    if (!rc && (type == QV_MSG_INSERT || type == QV_MSG_SEGMENT_OPEN))
        note_segment(ch, m.segment_id, e->pos);
    if (!rc)
        rc = qv_shard_apply(ch->shard, &m, err);
    if (!rc && type == QV_MSG_DELETE)
        rc = note_deletes(ch, &m, err);
    if (!rc && type == QV_MSG_SEGMENT_SEAL)
        defer_seal(ch, m.segment_id, m.ts);
    for (size_t i = 0; !rc && type == QV_MSG_FLUSH && i < m.nsegments; i++)
        defer_seal(ch, m.segments[i], m.ts);
    if (!rc && type == QV_MSG_FLUSH)
        defer_seal(ch, 0, m.ts);
    qv_msg_release(&m);
    return rc;
}

qv_code qv_dn_channel_poll(qv_dn_channel *ch, uint32_t wait_ms, size_t max,
                           qv_err *err)
{
    if (ch->failed)
        return qv_fail(err, ch->failed, "%s", ch->fail_msg);
    for (size_t i = 0; i < max; i++) {
        wal_entry e;
        qv_err e2;
        qv_code rc = wal_reader_next(ch->reader, wait_ms, &e, &e2);
        if (rc == QV_E_TIMEOUT)
            return QV_OK;
        if (rc)
            return fail(ch, rc, &e2, 0, err);
        rc = handle(ch, &e, &e2);
        if (rc)
            return fail(ch, rc, &e2, e.pos, err);
    }
    return QV_OK;
}

uint64_t qv_dn_channel_buffered(qv_dn_channel *ch)
{
    qv_shard_snap snap;
    qv_shard_acquire(ch->shard, &snap);
    uint64_t n = 0;
    for (size_t i = 0; i < snap.n; i++)
        n += snap.snaps[i].rows;
    qv_shard_snap_release(&snap);
    return n;
}

wal_pos qv_dn_channel_checkpoint(qv_dn_channel *ch)
{
    return ch->checkpoint;
}
