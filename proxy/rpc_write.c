/* rpc_write.c -- Insert, Upsert and Delete (DESIGN §2, notes/sdk-compat.md
 * §4.4, §4.5).
 *
 * A write is validated completely before anything is logged: every
 * FieldData is converted into a column (proto/convert_fielddata.h), missing
 * fields take their default or NULL, auto-IDs come from the coord.  Rows
 * are routed to shards by their primary key (common/hash.h).  The coord's
 * AssignSegments gives the segments and the write's one timestamp; each
 * shard's messages (an Upsert's Delete first, then the Insert parts cut
 * under the log's record limit) are appended to its pchannel as one batch,
 * and the reply is sent only after every batch is durable.
 *
 * All-or-nothing as far as the client can tell: nothing is appended until
 * the whole request has been checked.  If appending fails for one shard
 * after another shard's batch is durable, the client gets an error and the
 * rows of the durable batch stay (at-least-once, as Milvus): retrying the
 * write inserts those rows again as newer versions of the same keys, which
 * reads deduplicate (newest version wins).  A proxy that dies mid-request
 * leaves the same state: some shards' batches durable, no reply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/msg/msg.h"
#include "internal/coord.pb-c.h"
#include "proto/convert_fielddata.h"
#include "proxy/coll_ctx.h"
#include "proxy/proxy_write.h"

#define M(x) Milvus__Proto__Milvus__##x
typedef Milvus__Proto__Schema__FieldData fielddata;

static void free_cols(qv_column **cols, size_t n)
{
    for (size_t i = 0; cols && i < n; i++)
        qv_column_free(cols[i]);
}

static qv_code auto_ids(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                        size_t n, qv_column **out, qv_err *err)
{
    Quiver__Internal__AllocIDRequest rq =
        QUIVER__INTERNAL__ALLOC_IDREQUEST__INIT;
    rq.count = (uint32_t)n;
    Quiver__Internal__AllocIDResponse *r = NULL;
    qv_code rc =
        qv_proxy__forward(p, call, "AllocID", &rq.base,
                          &quiver__internal__alloc_idresponse__descriptor,
                          (ProtobufCMessage **)&r, err);
    if (!rc && (!r->status || r->status->code != 0))
        rc = qv_fail(err, QV_E_UNAVAILABLE, "auto id: %s",
                     r->status ? r->status->reason : "no status");
    if (rc)
        return rc;
    const qv_field_spec *spec = &c->specs[c->pk];
    if ((rc = qv_column_create(spec, out, err)))
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t id = r->id + (int64_t)i;
        if (spec->type == QV_DT_INT64) {
            rc = qv_column_append_fixed(*out, &id, 1);
        } else {
            char s[32];
            int len = snprintf(s, sizeof s, "%" PRId64, id);
            rc = qv_column_append_var(*out, s, (size_t)len);
        }
    }
    qv_column_publish(*out);
    if (rc)
        return qv_fail(err, rc, "auto id: cannot build the column");
    return QV_OK;
}

/* A column of n rows that the request did not send. */
static qv_code missing_column(const qv_field_spec *spec, size_t n,
                              qv_column **out, qv_err *err)
{
    if (spec->is_dynamic) {
        qv_code rc = qv_column_create(spec, out, err);
        for (size_t i = 0; !rc && i < n; i++)
            rc = qv_column_append_var(*out, "{}", 2);
        if (*out)
            qv_column_publish(*out);
        return rc;
    }
    if (!spec->nullable && !spec->has_default)
        return qv_fail(err, QV_E_INVALID,
                       "field '%s' is missing: it is neither nullable nor has "
                       "a default value",
                       spec->name);
    qv_code rc = qv_column_create(spec, out, err);
    if (!rc && (rc = qv_column_append_default(*out, n)))
        rc = qv_fail(err, rc, "field '%s': cannot fill defaults", spec->name);
    if (*out)
        qv_column_publish(*out);
    return rc;
}

qv_code qv_proxy__build_columns(qv_proxy *p, qv_rpc_call *call,
                                const qv_coll_ctx *c, fielddata **fds,
                                size_t nfd, size_t n, bool upsert,
                                qv_column **cols, qv_err *err)
{
    if (n == 0)
        return qv_fail(err, QV_E_INVALID, "num_rows must be greater than 0");
    const fielddata **by =
        qv_arena_calloc(qv_rpc_call_arena(call), c->nfields + 1, sizeof(*by));
    for (size_t i = 0; i < nfd; i++) {
        const fielddata *fd = fds[i];
        int k = fd->is_dynamic ? c->dyn : qv_coll_ctx_field(c, fd->field_name);
        if (k < 0 && fd->field_name && strcmp(fd->field_name, "$meta") == 0)
            k = c->dyn;
        if (k < 0)
            return qv_fail(err, QV_E_INVALID,
                           "field '%s' does not exist in collection '%s'",
                           fd->field_name ? fd->field_name : "",
                           c->d->collection_name);
        if (by[k])
            return qv_fail(err, QV_E_INVALID, "field '%s' is sent twice",
                           c->specs[k].name);
        by[k] = fd;
    }
    qv_code rc = QV_OK;
    for (size_t i = 0; i < c->nfields && !rc; i++) {
        if (i == c->pk && c->autoid && !upsert) {
            if (by[i])
                rc = qv_fail(err, QV_E_INVALID,
                             "the primary key '%s' is generated (auto_id); "
                             "do not send it",
                             c->specs[i].name);
            else
                rc = auto_ids(p, call, c, n, &cols[i], err);
        } else if (by[i]) {
            rc = qv_fielddata_to_column(by[i], &c->specs[i], n, &cols[i], err);
        } else if (i == c->pk) {
            rc = qv_fail(err, QV_E_INVALID, "the primary key '%s' is missing",
                         c->specs[i].name);
        } else {
            rc = missing_column(&c->specs[i], n, &cols[i], err);
        }
    }
    return rc;
}

uint32_t qv_proxy__shard_of(const qv_col_view *pk, size_t row, size_t shards)
{
    if (shards <= 1)
        return 0;
    uint32_t h;
    if (pk->type == QV_DT_INT64) {
        h = qv_hash_pk_int64(qv_col_i64(pk, row));
    } else {
        size_t len;
        const uint8_t *s = qv_col_var(pk, row, &len);
        h = qv_hash_pk_varchar((const char *)s, len);
    }
    return qv_shard_of(h, (uint32_t)shards);
}

qv_code qv_proxy__assign(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                         const char *partition, const uint32_t *shards,
                         const uint64_t *rows, char **partitions, size_t n,
                         qv_assign *out, qv_err *err)
{
    Quiver__Internal__AssignSegmentsRequest rq =
        QUIVER__INTERNAL__ASSIGN_SEGMENTS_REQUEST__INIT;
    rq.collection_id = c->id;
    rq.db_name = (char *)c->db;
    rq.partition_name = (char *)(partition ? partition : "");
    rq.shards = (uint32_t *)shards;
    rq.n_shards = n;
    rq.rows = (uint64_t *)rows;
    rq.n_rows = n;
    rq.partition_names = partitions;
    rq.n_partition_names = partitions ? n : 0;
    rq.count = 1;
    Quiver__Internal__AssignSegmentsResponse *r = NULL;
    qv_code rc = qv_proxy__forward(
        p, call, "AssignSegments", &rq.base,
        &quiver__internal__assign_segments_response__descriptor,
        (ProtobufCMessage **)&r, err);
    if (rc)
        return rc;
    if (!r->status || r->status->code != 0) {
        qv_code code = r->status && r->status->code == 200
                           ? QV_E_PARTITION_NOT_FOUND
                           : QV_E_UNAVAILABLE;
        return qv_fail(err, code, "%s",
                       r->status ? r->status->reason : "assign: no status");
    }
    if (r->n_segment_ids != n)
        return qv_fail(err, QV_E_INTERNAL,
                       "assign: %zu segments for %zu "
                       "shards",
                       r->n_segment_ids, n);
    out->ts = r->timestamp;
    out->partition_id = r->partition_id;
    out->segments = r->segment_ids;
    out->partitions = r->n_partition_ids == n && n ? r->partition_ids : NULL;
    return QV_OK;
}

/* Rows of one shard, as views over cols (sliced copies when S > 1). */
typedef struct shard_rows {
    int64_t *rows;
    size_t n;
    qv_column **cols; /* NULL when the shard takes every row */
} shard_rows;

static qv_code append_batch(qv_proxy *p, const char *pch, qv_msg_parts *parts,
                            qv_buf *del, qv_err *err)
{
    size_t n = parts->n + (del ? 1 : 0);
    wal_record *recs = calloc(n ? n : 1, sizeof *recs);
    if (!recs)
        return qv_fail(err, QV_E_NOMEM, "write: out of memory");
    size_t k = 0;
    if (del)
        recs[k++] = (wal_record){.data = del->data, .len = del->len};
    for (size_t i = 0; i < parts->n; i++)
        recs[k++] = (wal_record){.data = parts->bufs[i].data,
                                 .len = parts->bufs[i].len};
    qv_code rc = wal_append(p->opts.log, pch, recs, k, NULL, err);
    free(recs);
    return rc;
}

size_t qv_proxy__max_record(const qv_proxy *p)
{
    return p->opts.max_record_bytes ? p->opts.max_record_bytes : 1000000;
}

/* Encodes and appends one shard's messages. */
static qv_code write_shard(qv_proxy *p, const qv_coll_ctx *c, uint32_t sh,
                           qv_column **cols, size_t n, const qv_assign *as,
                           int64_t seg, bool upsert, qv_err *err)
{
    size_t nf = c->nfields;
    qv_col_view *views = calloc(nf, sizeof *views);
    int64_t *ids = calloc(nf, sizeof *ids);
    if (!views || !ids) {
        free(views);
        free(ids);
        return qv_fail(err, QV_E_NOMEM, "write: out of memory");
    }
    for (size_t i = 0; i < nf; i++) {
        views[i] = qv_column_view(cols[i]);
        ids[i] = c->specs[i].id;
    }
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = as->ts,
                .collection_id = c->id,
                .vchannel = c->vch[sh],
                .partition_id = as->partition_id,
                .segment_id = seg,
                .shard = sh,
                .pk_field_id = c->specs[c->pk].id,
                .rows = n,
                .nfields = nf,
                .field_ids = ids,
                .cols = views};
    qv_msg_parts parts = {0};
    qv_code rc = qv_msg_insert_split(&m, qv_proxy__max_record(p), &parts, err);
    qv_buf del;
    qv_buf_init(&del, 0);
    if (!rc && upsert) {
        qv_msg d = {.type = QV_MSG_DELETE,
                    .ts = as->ts,
                    .collection_id = c->id,
                    .vchannel = c->vch[sh],
                    .partition_id = QV_PARTITION_ALL,
                    .shard = sh,
                    .pk_field_id = c->specs[c->pk].id,
                    .rows = n,
                    .nfields = 1,
                    .field_ids = &ids[c->pk],
                    .cols = &views[c->pk]};
        rc = qv_msg_encode(&d, &del, err);
    }
    if (!rc)
        rc = append_batch(p, c->pch[sh], &parts, upsert ? &del : NULL, err);
    qv_buf_release(&del);
    qv_msg_parts_release(&parts);
    free(views);
    free(ids);
    return rc;
}

/* The partition-key field's index in c, or -1. */
static int partition_key(const qv_coll_ctx *c)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (c->fs[i] && c->fs[i]->is_partition_key)
            return (int)i;
    return -1;
}

qv_code qv_proxy__write_rows(qv_proxy *p, qv_rpc_call *call,
                             const qv_coll_ctx *c, const char *partition,
                             qv_column **cols, size_t n, bool upsert,
                             qv_ts *ts_out, qv_err *err)
{
    /* Rows go to groups (shard, partition): shard = hash(pk) % S, and with
     * a partition key, partition = hash(key) % num_partitions (the hidden
     * partitions "_default_<i>"). */
    int pkey = partition_key(c);
    size_t S = c->nshards;
    size_t P = pkey >= 0 && c->d->num_partitions > 0
                   ? (size_t)c->d->num_partitions
                   : 1;
    if (P > 1 && partition && partition[0])
        return qv_fail(err, QV_E_INVALID,
                       "partition names cannot be given when the partition "
                       "key is used (collection '%s')",
                       c->d->collection_name);
    size_t G = S * P;
    shard_rows *sr = calloc(G, sizeof *sr);
    uint32_t *shards = calloc(G, sizeof *shards);
    uint64_t *counts = calloc(G, sizeof *counts);
    char **pnames = calloc(G, sizeof *pnames);
    size_t *group = calloc(G, sizeof *group);
    qv_code rc = (!sr || !shards || !counts || !pnames || !group)
                     ? qv_fail(err, QV_E_NOMEM, "write: out of memory")
                     : QV_OK;
    qv_col_view pk = rc ? (qv_col_view){0} : qv_column_view(cols[c->pk]);
    qv_col_view kv =
        rc || pkey < 0 ? (qv_col_view){0} : qv_column_view(cols[pkey]);
    for (size_t r = 0; !rc && G > 1 && r < n; r++) {
        size_t g = qv_proxy__shard_of(&pk, r, S) * P;
        if (P > 1)
            g += qv_proxy__shard_of(&kv, r, P);
        shard_rows *s = &sr[g];
        if (s->n == 0)
            s->rows = malloc(n * sizeof(int64_t));
        if (!s->rows) {
            rc = qv_fail(err, QV_E_NOMEM, "write: out of memory");
            break;
        }
        s->rows[s->n++] = (int64_t)r;
    }
    if (!rc && G == 1)
        sr[0].n = n;
    size_t used = 0;
    qv_arena *a = qv_rpc_call_arena(call);
    for (size_t g = 0; !rc && g < G; g++)
        if (sr[g].n) {
            shards[used] = (uint32_t)(g / P);
            counts[used] = sr[g].n;
            if (P > 1) {
                char nm[64];
                snprintf(nm, sizeof nm, "_default_%zu", g % P);
                pnames[used] = qv_arena_strdup(a, nm);
            }
            group[used++] = g;
        }
    /* Per-group columns. */
    for (size_t g = 0; !rc && G > 1 && g < G; g++) {
        if (!sr[g].n)
            continue;
        sr[g].cols = calloc(c->nfields, sizeof(qv_column *));
        for (size_t f = 0; !rc && f < c->nfields; f++) {
            qv_col_view v = qv_column_view(cols[f]);
            rc = qv_column_create(&c->specs[f], &sr[g].cols[f], err);
            if (!rc)
                rc = qv_column_append_rows(sr[g].cols[f], &v, sr[g].rows,
                                           sr[g].n, err);
            if (!rc)
                qv_column_publish(sr[g].cols[f]);
        }
    }
    qv_inflight f;
    bool begun = false;
    qv_assign as = {0};
    if (!rc && !(rc = qv_proxy__dml_begin(p, call, &f, err))) {
        begun = true;
        rc = qv_proxy__assign(p, call, c, partition, shards, counts,
                              P > 1 ? pnames : NULL, used, &as, err);
        if (!rc)
            qv_proxy__dml_set_ts(p, &f, as.ts);
    }
    for (size_t i = 0; !rc && i < used; i++) {
        size_t g = group[i];
        qv_assign one = as;
        if (as.partitions)
            one.partition_id = as.partitions[i];
        rc = write_shard(p, c, shards[i], G > 1 ? sr[g].cols : cols, sr[g].n,
                         &one, as.segments[i], upsert, err);
    }
    if (begun)
        qv_proxy__dml_end(p, &f);
    if (!rc)
        qv_proxy__note_write(p, c->id, as.ts);
    for (size_t g = 0; sr && g < G; g++) {
        free(sr[g].rows);
        free_cols(sr[g].cols, c->nfields);
        free(sr[g].cols);
    }
    free(sr);
    free(shards);
    free(counts);
    free(pnames);
    free(group);
    if (!rc)
        *ts_out = as.ts;
    return rc;
}

/* IDs of the reply from the PK column. */
qv_code qv_proxy__ids(qv_arena *a, const qv_col_view *pk,
                      Milvus__Proto__Schema__IDs **out, qv_err *err)
{
    Milvus__Proto__Schema__IDs *ids = qv_arena_alloc(a, sizeof *ids);
    milvus__proto__schema__ids__init(ids);
    if (pk->type == QV_DT_INT64) {
        Milvus__Proto__Schema__LongArray *l = qv_arena_alloc(a, sizeof *l);
        milvus__proto__schema__long_array__init(l);
        l->data = qv_arena_try_alloc(a, pk->rows + 1, sizeof(int64_t));
        if (!l->data)
            return qv_fail(err, QV_E_NOMEM, "ids: out of memory");
        if (pk->rows)
            memcpy(l->data, pk->data, pk->rows * sizeof(int64_t));
        l->n_data = pk->rows;
        ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
        ids->int_id = l;
    } else {
        Milvus__Proto__Schema__StringArray *s = qv_arena_alloc(a, sizeof *s);
        milvus__proto__schema__string_array__init(s);
        s->data = qv_arena_try_alloc(a, pk->rows + 1, sizeof(char *));
        if (!s->data)
            return qv_fail(err, QV_E_NOMEM, "ids: out of memory");
        for (size_t i = 0; i < pk->rows; i++) {
            size_t len;
            const uint8_t *b = qv_col_var(pk, i, &len);
            s->data[i] = qv_arena_strndup(a, (const char *)b, len);
        }
        s->n_data = pk->rows;
        ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
        ids->str_id = s;
    }
    *out = ids;
    return QV_OK;
}

static M(MutationResult) * mutation(qv_arena *a, qv_code rc, const qv_err *err)
{
    M(MutationResult) *r = qv_arena_alloc(a, sizeof *r);
    milvus__proto__milvus__mutation_result__init(r);
    r->status = qv_proxy__status(
        a, rc, QV_SUBJ_COLLECTION,
        rc ? (err && err->msg[0] ? err->msg : qv_code_name(rc)) : NULL);
    return r;
}

static qv_code insert_or_upsert(qv_rpc_call *call, ProtobufCMessage **resp,
                                qv_proxy *p, const char *db_name,
                                const char *coll, const char *partition,
                                fielddata **fds, size_t nfd, uint32_t num_rows,
                                bool upsert, qv_err *err)
{
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_proxy__db(call, db_name);
    qv_coll_ctx c;
    qv_code rc = qv_coll_ctx_get(p, call, db, coll, &c, err);
    qv_column **cols = NULL;
    if (!rc) {
        cols = qv_arena_calloc(a, c.nfields + 1, sizeof(*cols));
        rc = qv_proxy__build_columns(p, call, &c, fds, nfd, num_rows, upsert,
                                     cols, err);
    }
    qv_ts ts = 0;
    if (!rc)
        rc = qv_proxy__write_rows(p, call, &c, partition, cols, num_rows,
                                  upsert, &ts, err);
    M(MutationResult) *r = mutation(a, rc, err);
    if (!rc) {
        qv_col_view pk = qv_column_view(cols[c.pk]);
        rc = qv_proxy__ids(a, &pk, &r->ids, err);
        r->succ_index = qv_arena_calloc(a, num_rows + 1, sizeof(uint32_t));
        for (uint32_t i = 0; i < num_rows; i++)
            r->succ_index[i] = i;
        r->n_succ_index = num_rows;
        r->insert_cnt = num_rows;
        r->upsert_cnt = upsert ? num_rows : 0;
        r->timestamp = ts;
        if (rc)
            r = mutation(a, rc, err);
    }
    if (rc)
        QV_LOG(QV_LOG_DEBUG, "proxy", "%s into %s failed: %s",
               upsert ? "upsert" : "insert", coll, err->msg);
    free_cols(cols, cols ? c.nfields : 0);
    *resp = &r->base;
    return QV_OK;
}

qv_code qv_proxy__insert(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    const M(InsertRequest) *rq = (const void *)req;
    return insert_or_upsert(call, resp, ud, rq->db_name, rq->collection_name,
                            rq->partition_name, rq->fields_data,
                            rq->n_fields_data, rq->num_rows, false, err);
}

qv_code qv_proxy__upsert(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    const M(UpsertRequest) *rq = (const void *)req;
    if (rq->partial_update) {
        qv_fail(err, QV_E_UNSUPPORTED, "partial upsert is not supported");
        *resp = &mutation(qv_rpc_call_arena(call), QV_E_UNSUPPORTED, err)->base;
        return QV_OK;
    }
    return insert_or_upsert(call, resp, ud, rq->db_name, rq->collection_name,
                            rq->partition_name, rq->fields_data,
                            rq->n_fields_data, rq->num_rows, true, err);
}

/* ---- Delete -------------------------------------------------------------- */

/* The keys of a pk-only plan as a PK column. */
static qv_code pk_column_of(const qv_coll_ctx *c, const qv_expr_value *v,
                            size_t n, qv_column **out, qv_err *err)
{
    const qv_field_spec *spec = &c->specs[c->pk];
    qv_code rc = qv_column_create(spec, out, err);
    for (size_t i = 0; !rc && i < n; i++) {
        if (spec->type == QV_DT_INT64 && v[i].kind == QV_EXPR_INT)
            rc = qv_column_append_fixed(*out, &v[i].u.i, 1);
        else if (spec->type == QV_DT_VARCHAR && v[i].kind == QV_EXPR_STR)
            rc = qv_column_append_var(*out, v[i].u.s.ptr, v[i].u.s.len);
        else
            rc = qv_fail(err, QV_E_INVALID,
                         "delete: a key does not match the primary key type");
    }
    if (*out)
        qv_column_publish(*out);
    return rc;
}

static qv_code delete_keys(qv_proxy *p, qv_rpc_call *call, const qv_coll_ctx *c,
                           const char *partition, qv_column *keys, qv_ts *ts,
                           qv_err *err)
{
    qv_col_view pk = qv_column_view(keys);
    size_t S = c->nshards, n = pk.rows;
    int64_t **rows = calloc(S, sizeof *rows);
    size_t *cnt = calloc(S, sizeof *cnt);
    qv_code rc =
        (!rows || !cnt) ? qv_fail(err, QV_E_NOMEM, "delete: memory") : QV_OK;
    for (size_t r = 0; !rc && r < n; r++) {
        uint32_t s = qv_proxy__shard_of(&pk, r, S);
        if (!rows[s] && !(rows[s] = malloc(n * sizeof(int64_t))))
            rc = qv_fail(err, QV_E_NOMEM, "delete: out of memory");
        else
            rows[s][cnt[s]++] = (int64_t)r;
    }
    qv_inflight f;
    bool begun = false;
    qv_assign as = {0};
    if (!rc && !(rc = qv_proxy__dml_begin(p, call, &f, err))) {
        begun = true;
        rc = qv_proxy__assign(p, call, c, partition, NULL, NULL, NULL, 0, &as,
                              err);
        if (!rc)
            qv_proxy__dml_set_ts(p, &f, as.ts);
    }
    int64_t part =
        partition && partition[0] ? as.partition_id : QV_PARTITION_ALL;
    for (size_t s = 0; !rc && s < S; s++) {
        if (!cnt[s])
            continue;
        qv_column *sub = NULL;
        rc = qv_column_create(&c->specs[c->pk], &sub, err);
        if (!rc)
            rc = qv_column_append_rows(sub, &pk, rows[s], cnt[s], err);
        if (!rc) {
            qv_column_publish(sub);
            qv_col_view v = qv_column_view(sub);
            int64_t fid = c->specs[c->pk].id;
            qv_msg d = {.type = QV_MSG_DELETE,
                        .ts = as.ts,
                        .collection_id = c->id,
                        .vchannel = c->vch[s],
                        .partition_id = part,
                        .shard = (uint32_t)s,
                        .pk_field_id = fid,
                        .rows = cnt[s],
                        .nfields = 1,
                        .field_ids = &fid,
                        .cols = &v};
            qv_buf b;
            qv_buf_init(&b, 0);
            rc = qv_msg_encode(&d, &b, err);
            if (!rc) {
                wal_record rec = {.data = b.data, .len = b.len};
                rc = wal_append(p->opts.log, c->pch[s], &rec, 1, NULL, err);
            }
            qv_buf_release(&b);
        }
        qv_column_free(sub);
    }
    if (begun)
        qv_proxy__dml_end(p, &f);
    if (!rc)
        qv_proxy__note_write(p, c->id, as.ts);
    for (size_t s = 0; rows && s < S; s++)
        free(rows[s]);
    free(rows);
    free(cnt);
    *ts = as.ts;
    return rc;
}

qv_code qv_proxy__delete(qv_rpc_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp, void *ud, qv_err *err)
{
    qv_proxy *p = ud;
    const M(DeleteRequest) *rq = (const void *)req;
    qv_arena *a = qv_rpc_call_arena(call);
    const char *db = qv_proxy__db(call, rq->db_name);
    qv_coll_ctx c;
    qv_expr_plan *plan = NULL;
    qv_column *keys = NULL;
    qv_code rc = qv_coll_ctx_get(p, call, db, rq->collection_name, &c, err);
    if (!rc && (!rq->expr || !rq->expr[0]))
        rc = qv_fail(err, QV_E_INVALID,
                     "delete: a filter expression is "
                     "required");
    if (!rc)
        rc = qv_coll_ctx_parse(&c, a, rq->expr,
                               (const void *const *)rq->expr_template_values,
                               rq->n_expr_template_values, &plan, err);
    qv_expr_value *vals = NULL;
    size_t nv = 0;
    if (!rc) {
        if (qv_expr_plan_pk_values(plan, c.specs[c.pk].id, &vals, &nv))
            rc = pk_column_of(&c, vals, nv, &keys, err);
        else
            rc = qv_proxy__query_keys(p, call, &c, plan, rq->partition_name,
                                      &keys, err);
    }
    free(vals);
    qv_ts ts = 0;
    size_t n = keys ? qv_column_rows(keys) : 0;
    if (!rc && n > 0)
        rc = delete_keys(p, call, &c, rq->partition_name, keys, &ts, err);
    M(MutationResult) *r = mutation(a, rc, err);
    if (!rc) {
        qv_col_view pk = qv_column_view(keys);
        if ((rc = qv_proxy__ids(a, &pk, &r->ids, err)))
            r = mutation(a, rc, err);
        r->delete_cnt = (int64_t)n;
        r->timestamp = ts;
    }
    qv_column_free(keys);
    qv_expr_plan_free(plan);
    *resp = &r->base;
    return QV_OK;
}
