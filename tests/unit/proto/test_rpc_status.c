/* test_rpc_status.c -- the qv_code <-> gRPC <-> Milvus Status tables. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <string.h>

#include "milvus/common.pb-c.h"
#include "proto/rpc_status.h"

#define LEGACY(x) MILVUS__PROTO__COMMON__ERROR_CODE__##x

static const qv_code detail_codes[] = {
    QV_E_IO_SHORT_READ,
    QV_E_CORRUPT_CHECKSUM,
    QV_E_CORRUPT_VERSION,
};

Test(rpc_status, every_primary_code_has_a_name_and_a_mapping)
{
    for (int c = 0; c < QV_CODE_PRIMARY_COUNT; c++) {
        cr_assert_str_neq(qv_code_name((qv_code)c), "QV_E_?", "code %d", c);
        cr_assert(qv_rpc_status_has_mapping((qv_code)c), "code %s",
                  qv_code_name((qv_code)c));
        int g = qv_rpc_status_to_grpc((qv_code)c);
        cr_assert(g >= 0 && g <= GRPC_STATUS_UNAUTHENTICATED);
        qv_milvus_code m = qv_rpc_status_milvus((qv_code)c, QV_SUBJ_NONE);
        if (c == QV_OK) {
            cr_assert_eq(g, GRPC_STATUS_OK);
            cr_assert_eq(m.code, 0);
            cr_assert_eq(m.legacy, LEGACY(Success));
        } else {
            /* Failures must never look like success to any SDK. */
            cr_assert_neq(g, GRPC_STATUS_OK, "%s", qv_code_name((qv_code)c));
            cr_assert_neq(m.code, 0, "%s", qv_code_name((qv_code)c));
            cr_assert_neq(m.legacy, LEGACY(Success), "%s",
                          qv_code_name((qv_code)c));
        }
    }
    cr_assert_not(qv_rpc_status_has_mapping((qv_code)QV_CODE_PRIMARY_COUNT));
}

Test(rpc_status, detail_codes_map_through_their_primary)
{
    for (size_t i = 0; i < sizeof(detail_codes) / sizeof(detail_codes[0]);
         i++) {
        qv_code d = detail_codes[i];
        cr_assert_str_neq(qv_code_name(d), "QV_E_?");
        cr_assert(qv_rpc_status_has_mapping(d));
        cr_assert_eq(qv_rpc_status_to_grpc(d),
                     qv_rpc_status_to_grpc(qv_code_primary(d)));
        cr_assert_eq(
            qv_rpc_status_milvus(d, QV_SUBJ_NONE).code,
            qv_rpc_status_milvus(qv_code_primary(d), QV_SUBJ_NONE).code);
    }
}

Test(rpc_status, grpc_round_trip_for_transport_codes)
{
    const qv_code round[] = {QV_OK,         QV_E_INVALID,     QV_E_NOT_FOUND,
                             QV_E_EXISTS,   QV_E_UNAVAILABLE, QV_E_TIMEOUT,
                             QV_E_CORRUPT,  QV_E_UNSUPPORTED, QV_E_CANCELLED,
                             QV_E_INTERNAL, QV_E_PERMISSION,  QV_E_RANGE};
    for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++)
        cr_assert_eq(qv_rpc_status_from_grpc(qv_rpc_status_to_grpc(round[i])),
                     round[i], "%s", qv_code_name(round[i]));
    cr_assert_eq(qv_rpc_status_from_grpc(GRPC_STATUS_UNAUTHENTICATED),
                 QV_E_PERMISSION);
    cr_assert_eq(qv_rpc_status_from_grpc(99), QV_E_INTERNAL);
    cr_assert_eq(qv_rpc_status_from_grpc(-1), QV_E_INTERNAL);
    cr_assert_str_eq(qv_rpc_status_grpc_name(GRPC_STATUS_UNIMPLEMENTED),
                     "UNIMPLEMENTED");
    cr_assert_str_eq(qv_rpc_status_grpc_name(42), "UNKNOWN");
    for (int g = 0; g <= GRPC_STATUS_UNAUTHENTICATED; g++) {
        if (g != GRPC_STATUS_UNKNOWN)
            cr_assert_str_neq(qv_rpc_status_grpc_name(g), "UNKNOWN",
                              "status %d", g);
    }
}

Test(rpc_status, subjects_give_the_codes_the_sdk_checks)
{
    qv_milvus_code m = qv_rpc_status_milvus(QV_E_NOT_FOUND, QV_SUBJ_COLLECTION);
    cr_assert_eq(m.code, 100);
    cr_assert_eq(m.legacy, LEGACY(CollectionNotExists));
    m = qv_rpc_status_milvus(QV_E_NOT_FOUND, QV_SUBJ_INDEX);
    cr_assert_eq(m.code, 700);
    cr_assert_eq(m.legacy, LEGACY(IndexNotExist));
    m = qv_rpc_status_milvus(QV_E_INVALID, QV_SUBJ_COLLECTION);
    cr_assert_eq(m.code, 1100);
    cr_assert_eq(m.legacy, LEGACY(IllegalArgument));
    m = qv_rpc_status_milvus(QV_E_NOT_READY, QV_SUBJ_NONE);
    cr_assert_eq(m.legacy, LEGACY(NotReadyServe));
    cr_assert(m.retriable);
    m = qv_rpc_status_milvus(QV_E_CONFLICT, QV_SUBJ_SCHEMA);
    cr_assert_eq(m.legacy, LEGACY(SchemaMismatch));
    m = qv_rpc_status_milvus(QV_E_PERMISSION, QV_SUBJ_CREDENTIAL);
    cr_assert_eq(m.code, 1400);
    cr_assert_eq(m.legacy, LEGACY(PermissionDenied));
}

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Test(rpc_status, fill_sets_both_codes_and_packs)
{
    Milvus__Proto__Common__Status st = MILVUS__PROTO__COMMON__STATUS__INIT;
    qv_err err;
    qv_fail(&err, QV_E_NOT_FOUND, "collection 'c1' not found");
    qv_rpc_status_fill_err(&st, &err, QV_SUBJ_COLLECTION);
    cr_assert_eq(st.code, 100);
    cr_assert_eq(st.error_code, LEGACY(CollectionNotExists));
    cr_assert_str_eq(st.reason, "collection 'c1' not found");

    uint8_t buf[512];
    size_t n = milvus__proto__common__status__pack(&st, buf);
    Milvus__Proto__Common__Status *back =
        milvus__proto__common__status__unpack(NULL, n, buf);
    cr_assert_not_null(back);
    cr_assert_eq(back->code, 100);
    cr_assert_eq(back->error_code, LEGACY(CollectionNotExists));
    cr_assert_str_eq(back->reason, "collection 'c1' not found");
    milvus__proto__common__status__free_unpacked(back, NULL);

    Milvus__Proto__Common__Status ok = MILVUS__PROTO__COMMON__STATUS__INIT;
    qv_rpc_status_fill(&ok, QV_OK, QV_SUBJ_NONE, NULL);
    cr_assert_eq(ok.code, 0);
    cr_assert_eq(ok.error_code, LEGACY(Success));
    cr_assert_str_eq(ok.reason, "");
    cr_assert_eq(milvus__proto__common__status__get_packed_size(&ok), 0);
}

Test(rpc_status, not_found_detail_codes_carry_their_subject)
{
    struct {
        qv_code c;
        int32_t code;
        int legacy;
    } want[] = {
        {QV_E_COLLECTION_NOT_FOUND, 100, LEGACY(CollectionNotExists)},
        {QV_E_PARTITION_NOT_FOUND, 200, LEGACY(MetaFailed)},
        {QV_E_DATABASE_NOT_FOUND, 800, LEGACY(UnexpectedError)},
        {QV_E_INDEX_NOT_FOUND, 700, LEGACY(IndexNotExist)},
        {QV_E_ALIAS_NOT_FOUND, 1600, LEGACY(UnexpectedError)},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        /* With no subject and with a different one: the detail wins. */
        qv_milvus_code m = qv_rpc_status_milvus(want[i].c, QV_SUBJ_NONE);
        cr_assert_eq(m.code, want[i].code, "%s", qv_code_name(want[i].c));
        cr_assert_eq(m.legacy, want[i].legacy, "%s", qv_code_name(want[i].c));
        m = qv_rpc_status_milvus(want[i].c, QV_SUBJ_COLLECTION);
        cr_assert_eq(m.code, want[i].code, "%s", qv_code_name(want[i].c));
        cr_assert_eq(qv_rpc_status_to_grpc(want[i].c), GRPC_STATUS_NOT_FOUND);
    }
    Milvus__Proto__Common__Status st = MILVUS__PROTO__COMMON__STATUS__INIT;
    qv_err err;
    qv_fail(&err, QV_E_DATABASE_NOT_FOUND, "database 'x' not found");
    qv_rpc_status_fill_err(&st, &err, QV_SUBJ_COLLECTION);
    cr_assert_eq(st.code, 800);
    cr_assert_neq(st.error_code, LEGACY(Success));
    /* Not loaded: the collection (101) or, with the detail code, a
     * partition (202), whatever subject the caller passes. */
    cr_assert_eq(qv_rpc_status_milvus(QV_E_NOT_READY, QV_SUBJ_COLLECTION).code,
                 101);
    cr_assert_eq(
        qv_rpc_status_milvus(QV_E_PARTITION_NOT_LOADED, QV_SUBJ_COLLECTION)
            .code,
        202);
    cr_assert_eq(qv_rpc_status_to_grpc(QV_E_PARTITION_NOT_LOADED),
                 GRPC_STATUS_UNAVAILABLE);
    /* A plain not-found stays generic. */
    cr_assert_eq(qv_rpc_status_milvus(QV_E_NOT_FOUND, QV_SUBJ_NONE).code,
                 65535);
}
