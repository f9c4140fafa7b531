/* rpc_status.c -- qv_code <-> gRPC status <-> Milvus common.Status.
 *
 * Milvus numbers come from its merr package: 1 service not ready,
 * 2 service unavailable, 3 memory limit, 5 internal, 10 unimplemented,
 * 100 collection not found, 101 collection not loaded, 200 partition not
 * found, 202 partition not loaded, 700 index not found, 702 index duplicate,
 * 800 database not found, 1001 I/O failed, 1100 parameter invalid, 1600 alias
 * not found, 1400 not authenticated, 1401 not permitted, 65535 undefined.  The
 * legacy ErrorCode follows merr.oldCode and notes/sdk-compat.md §3.
 */
#include "proto/rpc_status.h"

#include <grpc/status.h>

#include "milvus/common.pb-c.h"

#define LEGACY(x) MILVUS__PROTO__COMMON__ERROR_CODE__##x

typedef struct code_row {
    bool set;
    grpc_status_code grpc;
    qv_milvus_code milvus;
} code_row;

#define ROW(g, code, legacy, retry)                                            \
    {                                                                          \
        true, GRPC_STATUS_##g,                                                 \
        {                                                                      \
            code, LEGACY(legacy), retry                                        \
        }                                                                      \
    }

/* One row per primary code; the unit test checks every code has one. */
static const code_row rows[QV_CODE_PRIMARY_COUNT] = {
    [QV_OK] = ROW(OK, 0, Success, false),
    [QV_E_INVALID] = ROW(INVALID_ARGUMENT, 1100, IllegalArgument, false),
    [QV_E_NOT_FOUND] = ROW(NOT_FOUND, 65535, UnexpectedError, false),
    [QV_E_EXISTS] = ROW(ALREADY_EXISTS, 1100, IllegalArgument, false),
    [QV_E_NOMEM] = ROW(RESOURCE_EXHAUSTED, 3, InsufficientMemoryToLoad, true),
    [QV_E_IO] = ROW(INTERNAL, 1001, UnexpectedError, true),
    [QV_E_UNAVAILABLE] = ROW(UNAVAILABLE, 2, UnexpectedError, true),
    [QV_E_TIMEOUT] = ROW(DEADLINE_EXCEEDED, 65535, UnexpectedError, true),
    [QV_E_CORRUPT] = ROW(DATA_LOSS, 65535, UnexpectedError, false),
    [QV_E_UNSUPPORTED] = ROW(UNIMPLEMENTED, 10, UnexpectedError, false),
    [QV_E_CANCELLED] = ROW(CANCELLED, 65535, UnexpectedError, false),
    [QV_E_CONFLICT] = ROW(ABORTED, 65535, UnexpectedError, true),
    [QV_E_INTERNAL] = ROW(INTERNAL, 5, UnexpectedError, false),
    [QV_E_PERMISSION] = ROW(PERMISSION_DENIED, 1401, PermissionDenied, false),
    [QV_E_RANGE] = ROW(OUT_OF_RANGE, 1100, IllegalArgument, false),
    [QV_E_NOT_READY] = ROW(UNAVAILABLE, 1, NotReadyServe, true),
    [QV_E_COMPACTED] = ROW(OUT_OF_RANGE, 65535, UnexpectedError, false),
};

/* Subject-specific overrides of the Milvus pair: (primary, subject). */
typedef struct subject_row {
    qv_code primary;
    qv_subject what;
    qv_milvus_code milvus;
} subject_row;

static const subject_row subject_rows[] = {
    {QV_E_NOT_FOUND, QV_SUBJ_COLLECTION, {100, LEGACY(CollectionNotExists), 0}},
    {QV_E_NOT_FOUND, QV_SUBJ_PARTITION, {200, LEGACY(MetaFailed), 0}},
    {QV_E_NOT_FOUND, QV_SUBJ_INDEX, {700, LEGACY(IndexNotExist), 0}},
    {QV_E_NOT_FOUND, QV_SUBJ_DATABASE, {800, LEGACY(UnexpectedError), 0}},
    {QV_E_NOT_READY, QV_SUBJ_COLLECTION, {101, LEGACY(UnexpectedError), 0}},
    {QV_E_NOT_READY, QV_SUBJ_PARTITION, {202, LEGACY(UnexpectedError), 0}},
    {QV_E_EXISTS, QV_SUBJ_INDEX, {702, LEGACY(UnexpectedError), 0}},
    {QV_E_PERMISSION, QV_SUBJ_CREDENTIAL, {1400, LEGACY(PermissionDenied), 0}},
    {QV_E_CONFLICT, QV_SUBJ_SCHEMA, {109, LEGACY(SchemaMismatch), 0}},
    {QV_E_NOT_FOUND, QV_SUBJ_ALIAS, {1600, LEGACY(UnexpectedError), 0}},
};

/* Detail codes that say what an error is about; they win over the
 * caller's subject (a DescribeCollection in a missing database is a
 * database error). */
typedef struct detail_row {
    qv_code code;
    qv_subject what;
} detail_row;

static const detail_row detail_rows[] = {
    {QV_E_COLLECTION_NOT_FOUND, QV_SUBJ_COLLECTION},
    {QV_E_PARTITION_NOT_FOUND, QV_SUBJ_PARTITION},
    {QV_E_DATABASE_NOT_FOUND, QV_SUBJ_DATABASE},
    {QV_E_INDEX_NOT_FOUND, QV_SUBJ_INDEX},
    {QV_E_ALIAS_NOT_FOUND, QV_SUBJ_ALIAS},
    {QV_E_PARTITION_NOT_LOADED, QV_SUBJ_PARTITION},
};

static const char *const grpc_names[] = {
    [GRPC_STATUS_OK] = "OK",
    [GRPC_STATUS_CANCELLED] = "CANCELLED",
    [GRPC_STATUS_UNKNOWN] = "UNKNOWN",
    [GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
    [GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [GRPC_STATUS_ABORTED] = "ABORTED",
    [GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [GRPC_STATUS_INTERNAL] = "INTERNAL",
    [GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
    [GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
    [GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

/* Client side: gRPC status -> qv_code. */
static const qv_code from_grpc[] = {
    [GRPC_STATUS_OK] = QV_OK,
    [GRPC_STATUS_CANCELLED] = QV_E_CANCELLED,
    [GRPC_STATUS_UNKNOWN] = QV_E_INTERNAL,
    [GRPC_STATUS_INVALID_ARGUMENT] = QV_E_INVALID,
    [GRPC_STATUS_DEADLINE_EXCEEDED] = QV_E_TIMEOUT,
    [GRPC_STATUS_NOT_FOUND] = QV_E_NOT_FOUND,
    [GRPC_STATUS_ALREADY_EXISTS] = QV_E_EXISTS,
    [GRPC_STATUS_PERMISSION_DENIED] = QV_E_PERMISSION,
    [GRPC_STATUS_RESOURCE_EXHAUSTED] = QV_E_RANGE,
    [GRPC_STATUS_FAILED_PRECONDITION] = QV_E_CONFLICT,
    [GRPC_STATUS_ABORTED] = QV_E_CONFLICT,
    [GRPC_STATUS_OUT_OF_RANGE] = QV_E_RANGE,
    [GRPC_STATUS_UNIMPLEMENTED] = QV_E_UNSUPPORTED,
    [GRPC_STATUS_INTERNAL] = QV_E_INTERNAL,
    [GRPC_STATUS_UNAVAILABLE] = QV_E_UNAVAILABLE,
    [GRPC_STATUS_DATA_LOSS] = QV_E_CORRUPT,
    [GRPC_STATUS_UNAUTHENTICATED] = QV_E_PERMISSION,
};

#define N_GRPC ((int)(sizeof(grpc_names) / sizeof(grpc_names[0])))

static const code_row *row_of(qv_code c)
{
    unsigned p = (unsigned)qv_code_primary(c);
    if (p >= QV_CODE_PRIMARY_COUNT || !rows[p].set)
        return NULL;
    return &rows[p];
}

int qv_rpc_status_to_grpc(qv_code c)
{
    const code_row *r = row_of(c);
    return r ? (int)r->grpc : (int)GRPC_STATUS_INTERNAL;
}

qv_code qv_rpc_status_from_grpc(int grpc_status)
{
    if (grpc_status < 0 || grpc_status >= N_GRPC)
        return QV_E_INTERNAL;
    return from_grpc[grpc_status];
}

const char *qv_rpc_status_grpc_name(int grpc_status)
{
    if (grpc_status < 0 || grpc_status >= N_GRPC || !grpc_names[grpc_status])
        return "UNKNOWN";
    return grpc_names[grpc_status];
}

qv_milvus_code qv_rpc_status_milvus(qv_code c, qv_subject what)
{
    qv_code p = qv_code_primary(c);
    for (size_t i = 0; i < sizeof(detail_rows) / sizeof(detail_rows[0]); i++)
        if (detail_rows[i].code == c)
            what = detail_rows[i].what;
    for (size_t i = 0; i < sizeof(subject_rows) / sizeof(subject_rows[0]);
         i++) {
        if (subject_rows[i].primary == p && subject_rows[i].what == what)
            return subject_rows[i].milvus;
    }
    const code_row *r = row_of(c);
    if (r)
        return r->milvus;
    qv_milvus_code undefined = {65535, LEGACY(UnexpectedError), false};
    return undefined;
}

bool qv_rpc_status_has_mapping(qv_code c)
{
    return row_of(c) != NULL;
}

void qv_rpc_status_fill(Milvus__Proto__Common__Status *st, qv_code c,
                        qv_subject what, const char *reason)
{
    qv_milvus_code m = qv_rpc_status_milvus(c, what);
    /* error_code is deprecated upstream, yet it is what the Node.js SDK
     * reads to decide success, so it must be set. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    st->error_code = (Milvus__Proto__Common__ErrorCode)m.legacy;
#pragma GCC diagnostic pop
    st->code = m.code;
    st->retriable = m.retriable;
    st->reason = (char *)(reason ? reason : "");
}

void qv_rpc_status_fill_err(Milvus__Proto__Common__Status *st,
                            const qv_err *err, qv_subject what)
{
    if (!err) {
        qv_rpc_status_fill(st, QV_E_INTERNAL, what, "unknown error");
        return;
    }
    qv_rpc_status_fill(st, err->code, what, err->msg);
}
