/* expr_schema.h -- the collection schema the filter tests parse against. */
#ifndef QV_TEST_EXPR_SCHEMA_H
#define QV_TEST_EXPR_SCHEMA_H

#include "common/expr/expr.h"

enum {
    F_ID = 100,
    F_B = 101,
    F_I8 = 102,
    F_I16 = 103,
    F_I32 = 104,
    F_I64 = 105,
    F_F = 106,
    F_D = 107,
    F_S = 108,
    F_SN = 109,
    F_J = 110,
    F_AI = 111,
    F_AS = 112,
    F_IN = 113,
    F_V = 114,
    F_A16 = 115,
    F_AF = 116,
    F_META = 199,
};

static const qv_expr_field test_fields[] = {
    {F_ID, "id", QV_DT_INT64, QV_DT_NONE, false, false, true},
    {F_B, "b", QV_DT_BOOL, QV_DT_NONE, true, false, false},
    {F_I8, "i8", QV_DT_INT8, QV_DT_NONE, false, false, false},
    {F_I16, "i16", QV_DT_INT16, QV_DT_NONE, false, false, false},
    {F_I32, "i32", QV_DT_INT32, QV_DT_NONE, false, false, false},
    {F_I64, "i64", QV_DT_INT64, QV_DT_NONE, false, false, false},
    {F_F, "f", QV_DT_FLOAT, QV_DT_NONE, false, false, false},
    {F_D, "d", QV_DT_DOUBLE, QV_DT_NONE, false, false, false},
    {F_S, "s", QV_DT_VARCHAR, QV_DT_NONE, false, false, false},
    {F_SN, "sn", QV_DT_VARCHAR, QV_DT_NONE, true, false, false},
    {F_J, "j", QV_DT_JSON, QV_DT_NONE, true, false, false},
    {F_AI, "ai", QV_DT_ARRAY, QV_DT_INT64, false, false, false},
    {F_AS, "as", QV_DT_ARRAY, QV_DT_VARCHAR, false, false, false},
    {F_IN, "in32", QV_DT_INT32, QV_DT_NONE, true, false, false},
    {F_V, "v", QV_DT_FLOAT_VECTOR, QV_DT_NONE, false, false, false},
    {F_A16, "a16", QV_DT_ARRAY, QV_DT_INT16, true, false, false},
    {F_AF, "af", QV_DT_ARRAY, QV_DT_FLOAT, false, false, false},
    {F_META, "$meta", QV_DT_JSON, QV_DT_NONE, false, true, false},
};

static const qv_expr_schema test_schema = {
    test_fields, sizeof(test_fields) / sizeof(test_fields[0])};
/* The same without the dynamic field. */
static const qv_expr_schema test_schema_static = {
    test_fields, sizeof(test_fields) / sizeof(test_fields[0]) - 1};

#endif
