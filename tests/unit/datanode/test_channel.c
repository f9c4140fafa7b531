/* The datanode's vchannel consumer: buffering, flush on seal, L0 delete
 * logs, commits and checkpoints, restart from a checkpoint. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../querynode/qn_helpers.h"
#include "common/alloc.h"
#include "common/msg/seglog.h"
#include "datanode/channel.h"
#include "querynode/query.h"
#include "querynode/sealed.h"
#include "tests/lib/proc.h"

#define PCH "p0"

static char *dir;
static objstore *os;
static wal *w;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("qv-dnch-", &dir, NULL), QV_OK);
    char *root = qv_xasprintf("%s/objects", dir);
    char *wdir = qv_xasprintf("%s/wal", dir);
    objstore_config c = {.root = root, .no_fsync = true};
    cr_assert_eq(objstore_open("fs", &c, &os, NULL), QV_OK);
    wal_options o = {.dir = wdir, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &o, &w, NULL), QV_OK);
    free(root);
    free(wdir);
}

static void teardown(void)
{
    wal_close(w);
    objstore_close(os);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(dn_channel, .init = setup, .fini = teardown, .timeout = 30);

typedef struct ctx {
    int64_t next_id;
    int ncommits;
    qv_dn_commit last;
} ctx;

static qv_code alloc_id(void *p, int64_t *id, qv_err *err)
{
    (void)err;
    *id = ++((ctx *)p)->next_id;
    return QV_OK;
}

static qv_code commit(void *p, const qv_dn_commit *c, qv_err *err)
{
    (void)err;
    ctx *x = p;
    x->ncommits++;
    x->last = *c;
    return QV_OK;
}

static void append_msg(const qv_msg *m)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(m, &b, NULL), QV_OK);
    wal_record r = {b.data, b.len};
    cr_assert_eq(wal_append(w, PCH, &r, 1, NULL, NULL), QV_OK);
    qv_buf_release(&b);
}

static void append_insert(int64_t first, size_t n, qv_ts ts, int64_t seg)
{
    int64_t pks[64];
    for (size_t i = 0; i < n; i++)
        pks[i] = first + (int64_t)i;
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ts, seg, 1);
    append_msg(&x.m);
    qn_insert_free(&x);
}

static void append_tick(qv_ts ts)
{
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = ts, .vchannel = ""};
    append_msg(&t);
}

static qv_dn_channel *open_channel_flushed(ctx *c, wal_pos from,
                                           const int64_t *flushed, size_t n)
{
    qv_dn_channel_opts o = {.log = w,
                            .pchannel = PCH,
                            .from = from,
                            .shard = {.collection_id = QN_COLL,
                                      .vchannel = QN_VCH,
                                      .schema = qn_schema},
                            .os = os,
                            .alloc_id = alloc_id,
                            .commit = commit,
                            .ctx = c,
                            .flushed = flushed,
                            .nflushed = n};
    qv_dn_channel *ch;
    qv_err err;
    cr_assert_eq(qv_dn_channel_open(&o, &ch, &err), QV_OK, "%s", err.msg);
    return ch;
}

static qv_dn_channel *open_channel(ctx *c, wal_pos from)
{
    return open_channel_flushed(c, from, NULL, 0);
}

Test(dn_channel, seal_flushes_the_segment_with_l0_deletes_and_a_checkpoint)
{
    append_insert(1, 50, 100, 1);  /* pos 0 */
    append_insert(51, 10, 110, 2); /* pos 1: segment 2 starts */
    int64_t del[2] = {3, 55};
    qn_delete d;
    qn_delete_make(&d, del, 2, 150, QV_PARTITION_ALL);
    append_msg(&d.m); /* pos 2 */
    qn_delete_free(&d);
    qv_msg seal = {.type = QV_MSG_SEGMENT_SEAL,
                   .ts = 200,
                   .collection_id = QN_COLL,
                   .vchannel = QN_VCH,
                   .partition_id = 1,
                   .segment_id = 1,
                   .seal_reason = QV_SEAL_SIZE};
    append_msg(&seal);             /* pos 3 */
    append_tick(180);              /* pos 4: below the seal */
    append_insert(100, 1, 190, 1); /* pos 5: assigned before the seal */
    append_insert(61, 10, 210, 2); /* pos 6 */
    ctx c = {1000, 0, {0}};
    qv_dn_channel *ch = open_channel(&c, WAL_EARLIEST);
    qv_err err;
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c.ncommits, 0, "the seal waits for a tick past it");
    append_tick(250); /* pos 7 */
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c.ncommits, 1);
    cr_assert_eq(c.last.segment_id, 1);
    cr_assert_eq(c.last.rows, 51, "the late insert is in the segment");
    cr_assert_eq(c.last.min_ts, 100);
    cr_assert_eq(c.last.max_ts, 190);
    cr_assert_eq(c.last.hidden, 1, "pk 3, deleted at 150");
    cr_assert_gt(c.last.bytes, 51 * QN_DIM * sizeof(float));
    cr_assert_eq(c.last.l0_min_ts, 150);
    cr_assert_eq(c.last.l0_max_ts, 150);
    cr_assert_eq(c.last.l0_deletes, 2);
    cr_assert_eq(c.last.checkpoint, 1, "segment 2 is still buffered");
    cr_assert_eq(qv_dn_channel_checkpoint(ch), 1);
    cr_assert_eq(qv_dn_channel_buffered(ch), 20);
    /* the flushed segment loads with its own delete applied */
    qv_sealed_source src = {os, QN_COLL, 1, 1, c.last.log_id, NULL};
    qv_sealed *x;
    cr_assert_eq(qv_sealed_load(&src, &qn_schema, &x, &err), QV_OK, "%s",
                 err.msg);
    qv_shard_snap sn = {.schema = &qn_schema, .n = 1};
    sn.snaps = QV_NEW(qv_seg_snap);
    qv_sealed_snap(x, &sn.snaps[0]);
    qv_query_req q = {.count_only = true, .ts = 1000};
    qv_query_result r;
    cr_assert_eq(qv_shard_query(&sn, &q, &r, NULL), QV_OK);
    cr_assert_eq(r.count, 50);
    qv_shard_snap_release(&sn);
    /* the L0 log holds both deletes */
    char *key = qv_seglog_key(QV_SEGLOG_DELTA, QN_COLL, QV_PARTITION_ALL, 0, 0,
                              c.last.l0_log_id);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(os, key, &b, &err), QV_OK, "%s", err.msg);
    qv_delta dl;
    cr_assert_eq(qv_delta_decode(b.data, b.len, &dl, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(dl.n, 2);
    cr_assert_eq(qv_sealed_apply_delta(x, &dl), 0, "pk 3 was already hidden");
    qv_delta_release(&dl);
    qv_buf_release(&b);
    free(key);
    qv_sealed_unref(x);
    qv_dn_channel_close(ch);

    /* restart from the checkpoint (inside segment 1's span): segment 2 is
     * rebuilt; segment 1, flushed, is skipped (its late row is in it) */
    ctx c2 = {2000, 0, {0}};
    int64_t done = 1;
    ch = open_channel_flushed(&c2, c.last.checkpoint, &done, 1);
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c2.ncommits, 0, "segment 1 flushed again");
    cr_assert_eq(qv_dn_channel_buffered(ch), 20);
    qv_dn_channel_close(ch);
    /* without the list the late row would make a second segment 1 */
    ctx c3 = {3000, 0, {0}};
    ch = open_channel(&c3, c.last.checkpoint);
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c3.ncommits, 1);
    cr_assert_eq(c3.last.segment_id, 1);
    cr_assert_eq(c3.last.rows, 1);
    qv_dn_channel_close(ch);
}

Test(dn_channel, a_damaged_record_fails_the_channel)
{
    append_insert(1, 5, 100, 1);
    qv_msg seal = {.type = QV_MSG_SEGMENT_SEAL,
                   .ts = 200,
                   .collection_id = QN_COLL,
                   .vchannel = QN_VCH,
                   .partition_id = 1,
                   .segment_id = 1};
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&seal, &b, NULL), QV_OK);
    b.data[b.len - 1] ^= 1;
    wal_record r = {b.data, b.len};
    cr_assert_eq(wal_append(w, PCH, &r, 1, NULL, NULL), QV_OK);
    qv_buf_release(&b);
    ctx c = {0, 0, {0}};
    qv_dn_channel *ch = open_channel(&c, WAL_EARLIEST);
    qv_err err;
    qv_code rc = qv_dn_channel_poll(ch, 50, 100, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%s", err.msg);
    cr_assert(strstr(err.msg, "log position 1") != NULL, "%s", err.msg);
    cr_assert_eq(qv_code_primary(qv_dn_channel_poll(ch, 50, 100, &err)),
                 QV_E_CORRUPT);
    cr_assert_eq(c.ncommits, 0);
    qv_dn_channel_close(ch);
}

Test(dn_channel, an_empty_sealed_segment_is_still_committed)
{
    qv_msg open = {.type = QV_MSG_SEGMENT_OPEN,
                   .ts = 100,
                   .collection_id = QN_COLL,
                   .vchannel = QN_VCH,
                   .partition_id = 1,
                   .segment_id = 9};
    append_msg(&open); /* pos 0: no insert ever follows */
    qv_msg seal = open;
    seal.type = QV_MSG_SEGMENT_SEAL;
    seal.ts = 200;
    append_msg(&seal); /* pos 1 */
    append_tick(250);  /* pos 2 */
    ctx c = {0, 0, {0}};
    qv_dn_channel *ch = open_channel(&c, WAL_EARLIEST);
    qv_err err;
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c.ncommits, 1);
    cr_assert_eq(c.last.segment_id, 9);
    cr_assert_eq(c.last.rows, 0);
    cr_assert_eq(c.last.log_id, 0, "no objects for an empty segment");
    cr_assert_eq(c.last.checkpoint, 3, "after the tick that applied it");
    cr_assert_eq(c.next_id, 0, "no id allocated");
    qv_dn_channel_close(ch);
}

Test(dn_channel, a_flush_commits_its_deletes_and_tick_even_with_nothing_sealed)
{
    append_insert(1, 5, 100, 1); /* pos 0 */
    int64_t del = 2;
    qn_delete d;
    qn_delete_make(&d, &del, 1, 150, QV_PARTITION_ALL);
    append_msg(&d.m); /* pos 1 */
    qn_delete_free(&d);
    qv_msg fl = {.type = QV_MSG_FLUSH,
                 .ts = 300,
                 .collection_id = QN_COLL,
                 .vchannel = QN_VCH};
    append_msg(&fl);  /* pos 2: nothing sealed */
    append_tick(250); /* pos 3: below the flush */
    append_tick(320); /* pos 4 */
    ctx c = {0, 0, {0}};
    qv_dn_channel *ch = open_channel(&c, WAL_EARLIEST);
    qv_err err;
    cr_assert_eq(qv_dn_channel_poll(ch, 50, 100, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(c.ncommits, 1);
    cr_assert_eq(c.last.segment_id, 0);
    cr_assert_eq(c.last.tick, 320);
    cr_assert_eq(c.last.l0_deletes, 1, "the delete is in an L0 log");
    cr_assert_eq(c.last.checkpoint, 0, "segment 1 is still buffered");
    qv_dn_channel_close(ch);
}
