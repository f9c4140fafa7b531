/* rpc_status.h -- the one place that maps Quiver status codes to the wire.
 *
 * Three mappings, all table-driven in rpc_status.c:
 *  - qv_code -> gRPC status code (server side, transport-level failures),
 *  - gRPC status code -> qv_code (client side),
 *  - qv_code (+ what the error is about) -> Milvus common.Status: the
 *    modern `code` (Milvus merr numbers) AND the legacy `error_code` enum,
 *    which is what the Node.js SDK reads (notes/sdk-compat.md §3).
 * Detail codes map through their primary code; the not-found detail codes
 * (QV_E_COLLECTION_NOT_FOUND, ...) also set the subject themselves,
 * overriding the caller's.
 *
 * Application errors of MilvusService RPCs go in common.Status with gRPC
 * OK (the SDK retries most gRPC errors, which would repeat writes); gRPC
 * status codes are for transport and authentication failures.
 *
 * Threading: pure functions over constant tables.
 */
#ifndef QV_PROTO_RPC_STATUS_H
#define QV_PROTO_RPC_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

typedef struct Milvus__Proto__Common__Status Milvus__Proto__Common__Status;

/* What an error is about; refines the Milvus code (collection not found is
 * 100, index not found 700, ...).  QV_SUBJ_NONE gives the generic code. */
typedef enum qv_subject {
    QV_SUBJ_NONE = 0,
    QV_SUBJ_COLLECTION,
    QV_SUBJ_PARTITION,
    QV_SUBJ_INDEX,
    QV_SUBJ_DATABASE,
    QV_SUBJ_CREDENTIAL, /* authentication: user, password, token */
    QV_SUBJ_SCHEMA,     /* the client's cached schema is stale */
    QV_SUBJ_ALIAS,
    QV_SUBJ_COUNT
} qv_subject;

/* The Milvus pair for a failure (or success). */
typedef struct qv_milvus_code {
    int32_t code;   /* merr code: 0, 100, 1100, 65535, ... */
    int legacy;     /* common.ErrorCode value: 0 Success, 1 Unexpected */
    bool retriable; /* Status.retriable */
} qv_milvus_code;

/* gRPC status (grpc_status_code value) for a qv_code; QV_OK -> 0. */
int qv_rpc_status_to_grpc(qv_code c);
/* qv_code for a gRPC status code; 0 -> QV_OK, unknown -> QV_E_INTERNAL. */
qv_code qv_rpc_status_from_grpc(int grpc_status);
/* The upper-case gRPC name of a status code ("UNAVAILABLE"), "UNKNOWN"
 * for values outside the enum. */
const char *qv_rpc_status_grpc_name(int grpc_status);

/* Milvus code pair for c about `what`.  Never fails: unknown codes give
 * 65535 / UnexpectedError. */
qv_milvus_code qv_rpc_status_milvus(qv_code c, qv_subject what);
/* True when c (and every detail code of it) has a row in the tables;
 * tests use it to prove the tables cover every code. */
bool qv_rpc_status_has_mapping(qv_code c);

/* Fills st (already initialised with MILVUS__PROTO__COMMON__STATUS__INIT)
 * for code c about `what` with reason text `reason` (borrowed: it must
 * outlive packing; NULL = ""), setting error_code, code and retriable. */
void qv_rpc_status_fill(Milvus__Proto__Common__Status *st, qv_code c,
                        qv_subject what, const char *reason);
/* Same from a qv_err (c = err->code, reason = err->msg). */
void qv_rpc_status_fill_err(Milvus__Proto__Common__Status *st,
                            const qv_err *err, qv_subject what);

#endif
