/* Tests of the proxy's placeholder group decoder (Search query vectors). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "milvus/common.pb-c.h"
#include "proxy/proxy_read.h"

#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define PT(x) MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__##x

static qv_arena arena;
static void setup(void)
{
    qv_arena_init(&arena, 0);
}
static void teardown(void)
{
    qv_arena_release(&arena);
}
TestSuite(placeholder, .init = setup, .fini = teardown);

/* Packs one placeholder of type t with n values of len bytes each. */
static ProtobufCBinaryData group(int t, const void *vals, size_t n, size_t len)
{
    ProtobufCBinaryData *v = qv_arena_calloc(&arena, n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].data = (uint8_t *)vals + i * len;
        v[i].len = len;
    }
    Milvus__Proto__Common__PlaceholderValue pv =
        MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    pv.tag = "$0";
    pv.type = t;
    pv.values = v;
    pv.n_values = n;
    Milvus__Proto__Common__PlaceholderValue *pp = &pv;
    Milvus__Proto__Common__PlaceholderGroup g =
        MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    g.placeholders = &pp;
    g.n_placeholders = 1;
    ProtobufCBinaryData out;
    out.len = milvus__proto__common__placeholder_group__get_packed_size(&g);
    out.data = qv_arena_alloc(&arena, out.len);
    milvus__proto__common__placeholder_group__pack(&g, out.data);
    return out;
}

static const qv_field_spec fvec = {
    .id = 101, .name = "v", .type = QV_DT_FLOAT_VECTOR, .dim = 2};

Test(placeholder, float_rows_decode)
{
    float q[4] = {1, 2, 3, 4};
    ProtobufCBinaryData pg = group(PT(FloatVector), q, 2, 8), out;
    size_t nq;
    qv_err err = {0};
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 2, &out, &nq, &err), QV_OK,
        "%s", err.msg);
    cr_assert_eq(nq, 2);
    cr_assert_eq(out.len, 16);
    cr_assert_eq(memcmp(out.data, q, 16), 0);
}

Test(placeholder, float16_and_bfloat16_widen)
{
    uint16_t h[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
    ProtobufCBinaryData pg = group(PT(Float16Vector), h, 1, 4), out;
    size_t nq;
    qv_err err = {0};
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err), QV_OK,
        "%s", err.msg);
    const float *f = (const float *)(const void *)out.data;
    cr_assert_eq(f[0], 1.0f);
    cr_assert_eq(f[1], -2.0f);
    uint16_t b[2] = {0x3fc0, 0x4040}; /* 1.5, 3.0 */
    pg = group(PT(BFloat16Vector), b, 1, 4);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err), QV_OK,
        "%s", err.msg);
    f = (const float *)(const void *)out.data;
    cr_assert_eq(f[0], 1.5f);
    cr_assert_eq(f[1], 3.0f);
}

Test(placeholder, bad_input_is_refused_with_a_reason)
{
    size_t nq;
    qv_err err = {0};
    ProtobufCBinaryData out;
    float q3[3] = {1, 2, 3};
    ProtobufCBinaryData pg = group(PT(FloatVector), q3, 1, 12);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err),
        QV_E_INVALID);
    cr_assert_not_null(strstr(err.msg, "dim 2"), "%s", err.msg);
    float q[2] = {1, NAN};
    pg = group(PT(FloatVector), q, 1, 8);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err),
        QV_E_INVALID);
    cr_assert_not_null(strstr(err.msg, "NaN"), "%s", err.msg);
    float ok[2] = {1, 2};
    pg = group(PT(FloatVector), ok, 1, 8);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 3, &out, &nq, &err),
        QV_E_INVALID); /* nq says 3 */
    pg = group(PT(BinaryVector), ok, 1, 2);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err),
        QV_E_INVALID);
    uint8_t junk[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    pg.data = junk;
    pg.len = sizeof junk;
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err),
        QV_E_INVALID);
    pg = group(PT(FloatVector), ok, 0, 8);
    cr_assert_eq(
        qv_proxy__decode_queries(&arena, &pg, &fvec, 0, &out, &nq, &err),
        QV_E_INVALID);
}
