/* test_parse.c -- the filter parser: typed plans, folding, case rules,
 * templates, error messages with positions, plan encoding round trips and
 * a decoder that rejects damage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/expr/expr.h"
#include "common/hash.h"
#include "expr_schema.h"

static char *plan_text(const char *expr, const qv_expr_param *params, size_t np,
                       qv_err *err)
{
    qv_expr_plan *plan = NULL;
    qv_code rc =
        qv_expr_parse(expr, strlen(expr), &test_schema, params, np, &plan, err);
    if (rc != QV_OK)
        return NULL;
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_expr_plan_format(plan, &b), QV_OK);
    qv_expr_plan_free(plan);
    size_t len;
    return qv_buf_detach(&b, &len);
}

static void expect_plan(const char *expr, const char *want)
{
    qv_err err = {0};
    char *got = plan_text(expr, NULL, 0, &err);
    cr_assert_not_null(got, "%s: %s", expr, err.msg);
    cr_assert_str_eq(got, want, "%s", expr);
    free(got);
}

static const struct {
    const char *expr, *plan;
} good[] = {
    {"", "true"},
    {"   ", "true"},
    {"i64 > 5", "(> f105 5)"},
    {"5 < i64", "(> f105 5)"},
    {"i64 >= -3", "(>= f105 -3)"},
    {"1 < i64 <= 5", "(range 1 < f105 <= 5)"},
    {"10 >= i64 > 2", "(range 2 < f105 <= 10)"},
    {"\"a\" <= s < \"b\"", "(range \"a\" <= f108 < \"b\")"},
    {"f == 1", "(== f106 1)"},
    {"d < 2.5e3", "(< f107 2500)"},
    {"i64 in [3, 1, 2, 1]", "(in f105 [1 2 3])"},
    {"i64 IN [3]", "(in f105 [3])"},
    {"i64 not in [1,]", "(not (in f105 [1]))"},
    {"i64 NOT IN []", "(not (in f105 []))"},
    {"s in [\"b\", \"a\", \"b\"]", "(in f108 [\"a\" \"b\"])"},
    {"s like \"ab%\"", "(prefix f108 \"ab\")"},
    {"s LIKE '%ab'", "(suffix f108 \"ab\")"},
    {"s like \"%ab%\"", "(infix f108 \"ab\")"},
    {"s like \"a_b\"", "(pattern f108 \"a_b\")"},
    {"s like \"a%b\"", "(pattern f108 \"a%b\")"},
    {"s like \"abc\"", "(equal f108 \"abc\")"},
    {"s like \"50\\\\%\"", "(equal f108 \"50%\")"},
    {"s like r\"50\\%%\"", "(prefix f108 \"50%\")"},
    {"j[\"a\"][0] == 1", "(== f110[\"a\"][\"0\"] 1)"},
    {"j['a']['b'] != 'x'", "(!= f110[\"a\"][\"b\"] \"x\")"},
    {"tag == 'x'", "(== f199[\"tag\"] \"x\")"},
    {"$meta[\"x\"] > 1", "(> f199[\"x\"] 1)"},
    {"k[\"n\"] < 1.5", "(< f199[\"k\"][\"n\"] 1.5)"},
    {"1 + 2 == 3", "true"},
    {"i64 > 2 and 1 == 1", "(> f105 2)"},
    {"i64 > 2 or 1 == 1", "true"},
    {"i64 > 2 and false", "false"},
    {"not true", "false"},
    {"i64 + 1 == 5", "(== (+ f105 1) 5)"},
    {"2 * i64 < 5", "(< (* f105 2) 5)"},
    {"i64 % 3 != 0", "(!= (% f105 3) 0)"},
    {"7 > i32 - 1", "(< (- f104 1) 7)"},
    {"f / 2 >= 1", "(>= (/ f106 2) 1)"},
    {"j[\"n\"] * 2 == 4", "(== (* f110[\"n\"] 2) 4)"},
    {"array_length(ai) == 3", "(== (array_length f111) 3)"},
    {"ARRAY_LENGTH(j[\"a\"]) > 0", "(> (array_length f110[\"a\"]) 0)"},
    {"array_contains(ai, 5)", "(contains f111 5)"},
    {"array_contains_all(ai, [2, 1])", "(contains_all f111 [1 2])"},
    {"ARRAY_CONTAINS_ANY(as, ['x'])", "(contains_any f112 [\"x\"])"},
    {"json_contains(j[\"a\"], 1)", "(contains f110[\"a\"] 1)"},
    {"json_contains_any(j[\"a\"], [1, 'a'])",
     "(contains_any f110[\"a\"] [1 \"a\"])"},
    {"json_contains(ai, 1)", "(contains f111 1)"},
    {"exists j[\"a\"]", "(exists f110[\"a\"])"},
    {"EXISTS tag", "(exists f199[\"tag\"])"},
    {"sn is null", "(is_null f109)"},
    {"sn IS NOT NULL", "(is_not_null f109)"},
    {"sn is   not  null", "(is_not_null f109)"},
    {"s is null", "false"},
    {"s is not null", "true"},
    {"j[\"a\"] is null", "(is_null f110[\"a\"])"},
    {"b", "(== f101 true)"},
    {"not b", "(not (== f101 true))"},
    {"!b", "(not (== f101 true))"},
    {"not not b", "(== f101 true)"},
    {"b == false", "(== f101 false)"},
    {"not (i64 > 1)", "(not (> f105 1))"},
    {"i64 > 1 && i32 < 2 || i8 == 3",
     "(or (and (> f105 1) (< f104 2)) (== f102 3))"},
    {"i64 > 1 AND (i32 < 2 OR i8 == 3)",
     "(and (> f105 1) (or (< f104 2) (== f102 3)))"},
    {"i64 > 1 and i32 > 1 and i8 > 1",
     "(and (> f105 1) (> f104 1) (> f102 1))"},
    {"-9223372036854775808 == i64", "(== f105 -9223372036854775808)"},
    {"i64 == 9223372036854775807", "(== f105 9223372036854775807)"},
    {"i64 == 0x10", "(== f105 16)"},
    {"i64 == 0b101", "(== f105 5)"},
    {"i64 == 017", "(== f105 15)"},
    {"i64 == 0", "(== f105 0)"},
    {"d == .5", "(== f107 0.5)"},
    {"d == 0x1p-2", "(== f107 0.25)"},
    {"2 ** 3 == 8", "true"},
    {"1 << 3 == 8", "true"},
    {"(6 & 3) == 2 and (6 | 1) == 7 and (6 ^ 3) == 5 and ~0 == -1", "true"},
    {"i64 == -(3)", "(== f105 -3)"},
    {"i64 == 7 / 2", "(== f105 3)"},
    {"d == 7 / 2.0", "(== f107 3.5)"},
    {"i32 < i64", "(< f104 f105)"},
    {"f >= d", "(>= f106 f107)"},
    {"s == \"a\\nb\"", "(== f108 \"a\\x0ab\")"},
    {"s == 'it\\'s'", "(== f108 \"it's\")"},
    {"s == \"\\u00e9\\x41\\101\"", "(== f108 \"\xc3\xa9"
                                   "AA\")"},
    {"s == r\"a\\d\"", "(== f108 \"a\\\\d\")"},
    {"s == \"\xe6\x97\xa5\xe6\x9c\xac\"",
     "(== f108 \"\xe6\x97\xa5\xe6\x9c\xac\")"},
    {"ai == [1, 2]", "(== f111 [1 2])"},
    {"ai[0] > 1", "(> f111[\"0\"] 1)"},
    {"as[2] like 'a%'", "(prefix f112[\"2\"] \"a\")"},
    {"in32 in [1, 2]", "(in f113 [1 2])"},
    {"b == True and b != FALSE", "(and (== f101 true) (!= f101 false))"},
    {"id in [1, 2, 3]", "(in f100 [1 2 3])"},
    {"random_sample(0.25)", "(random_sample 0.25)"},
    {"i64 > 1 and RANDOM_SAMPLE(0.5) and s == 'a'",
     "(and (> f105 1) (random_sample 0.5) (== f108 \"a\"))"},
};

Test(expr_parse, builds_the_expected_plans)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_plan(good[i].expr, good[i].plan);
}

/* expr, 1-based column of the error, a fragment of the message */
static const struct {
    const char *expr;
    int col;
    const char *msg;
} bad[] = {
    {"i64 >", 6, "unexpected end of filter"},
    {"i64 > 'a'", 7, "cannot compare Int64 field 'i64' with a string"},
    {"i64 > 1.5", 7, "cannot compare Int64 field 'i64' with a floating"},
    {"i64 = 1", 5, "use '==' to compare"},
    {"(i64 > 1", 9, "expected ')'"},
    {"i64 > 1)", 8, "unexpected ')' after the end"},
    {"i64 in 5", 8, "'in' needs a list of constants"},
    {"s like 5", 8, "'like' needs a string pattern"},
    {"i64 like 'a%'", 1, "'like' needs a VarChar or JSON field"},
    {"v > 1", 1, "vector field"},
    {"i64 + i32 == 1", 5,
     "arithmetic is only supported as 'field op "
     "constant'"},
    {"not i64 == 1", 1, "'not' needs a boolean operand"},
    {"s == \"abc", 6, "unterminated string"},
    {"s == \"a\\qb\"", 8, "invalid escape sequence '\\q'"},
    {"i64 > 99999999999999999999", 7, "integer literal out of range"},
    {"i64 > 9223372036854775808", 7, "integer literal out of range"},
    {"i64 in {ids}", 8, "template variable 'ids' has no value"},
    {"array_contains(i64, 1)", 16, "needs an Array field or a JSON path"},
    {"array_length(ai) == 'x'", 21, "compares with an integer"},
    {"i64 / 0 == 1", 7, "division or modulo by zero"},
    {"i64 > 1 and", 12, "unexpected end of filter"},
    {"i64 > 1 And i32 > 1", 9, "unexpected field name after the end"},
    {"f % 2 == 0", 3, "'%' needs integer operands"},
    {"ai > 1", 4, "can only be compared with == or != to an array"},
    {"ai[0] < i64", 7, "cannot compare Int64 field 'ai' with Int64 field"},
    {"s in [1, 2]", 6, "element 1 is an integer, expected a VarChar"},
    {"j[\"a\" > 1", 7, "expected ']'"},
    {"$x == 1", 1, "'$') are not supported"},
    {"i64 == 1 == 2", 10,
     "cannot compare a boolean expression with an "
     "integer"},
    {"1 < i64 < i32", 11, "must be constants"},
    {"i64 ** 2 == 4", 5, "'**' is only supported between constants"},
    {"i64 > 1 & i32 < 2", 9, "use 'and' / 'or' to combine conditions"},
    {"i64 in (1, 2)", 8, "'in' takes a list in square brackets"},
    {"random_sample(1.5)", 15, "between 0 and 1"},
    {"random_sample(i64)", 15, "takes a constant ratio"},
    {"i64 > 1 or random_sample(0.1)", 12, "'and' at the top level"},
    {"not random_sample(0.1)", 5, "cannot be negated"},
    {"random_sample(0.1) and random_sample(0.2)", 24, "only once"},
    {"b > 'x'", 5, "cannot compare Bool field 'b' with a string"},
    {"exists i64", 1, "'exists' needs a JSON field"},
    {"text_match(s, 'a')", 1, "function 'text_match' is not supported"},
    {"i64 > 1 not 5", 9, "did you mean 'not in'"},
    {"i64 == 08", 8, "invalid number '08'"},
    {"i64 == 1x", 8, "invalid number"},
    {"j[-1] == 1", 3, "non-negative decimal index"},
    {"i64[0] == 1", 1, "Int64 field 'i64' cannot be indexed"},
    {"ai['x'] == 1", 1, "takes one integer index"},
    {"i64 > 1 #", 9, "unexpected character '#'"},
    {"i64", 1, "must be a boolean expression, got Int64 field 'i64'"},
    {"j[\"a\"] and b", 1, "may hold anything"},
    {"1 + 'a' == 2", 3, "'+' cannot be applied to an integer and a string"},
    {"array_contains_all(ai, 1)", 24, "needs a list like [1, 2]"},
    {"array_contains(as, 1)", 20, "cannot look for an integer"},
    {"array_length(ai, 1) == 1", 1, "takes 1 argument, got 2"},
    {"i64 in [i32]", 9, "array elements must be constants"},
    {"s == \"\\u12\"", 7, "\\u needs 4 hex digits"},
    {"{ == 1", 3, "expected a template variable name"},
    {"'a' like 'b'", 1,
     "'like' needs a VarChar or JSON field on its left, "
     "got a string"},
};

Test(expr_parse, errors_name_the_position_and_the_problem)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_err err = {0};
        char *got = plan_text(bad[i].expr, NULL, 0, &err);
        cr_assert_null(got, "%s parsed as %s", bad[i].expr, got);
        cr_assert_eq(err.code, QV_E_INVALID, "%s", bad[i].expr);
        char prefix[64];
        (void)snprintf(prefix, sizeof(prefix),
                       "invalid filter at column %d: ", bad[i].col);
        cr_assert(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "%s: want '%s...', got '%s'", bad[i].expr, prefix, err.msg);
        cr_assert(strstr(err.msg, bad[i].msg), "%s: want '%s' in '%s'",
                  bad[i].expr, bad[i].msg, err.msg);
    }
}

Test(expr_parse, unknown_names_fail_without_a_dynamic_field)
{
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    const char *e = "i64 > 1 and foo == 2";
    cr_assert_eq(
        qv_expr_parse(e, strlen(e), &test_schema_static, NULL, 0, &plan, &err),
        QV_E_INVALID);
    cr_assert_str_eq(err.msg,
                     "invalid filter at column 13: field 'foo' does not exist");
    e = "$meta['a'] == 1";
    cr_assert_eq(
        qv_expr_parse(e, strlen(e), &test_schema_static, NULL, 0, &plan, &err),
        QV_E_INVALID);
    cr_assert(strstr(err.msg, "no dynamic field"), "%s", err.msg);
}

Test(expr_parse, keywords_follow_milvus_case_rules)
{
    const char *ok[] = {"b and b",   "b AND b",   "b && b",    "b or b",
                        "b OR b",    "b || b",    "not b",     "NOT b",
                        "! b",       "b == TRUE", "b == True", "sn is null",
                        "sn IS NULL"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        qv_err err = {0};
        char *p = plan_text(ok[i], NULL, 0, &err);
        cr_assert_not_null(p, "%s: %s", ok[i], err.msg);
        free(p);
    }
    /* mixed case is an identifier, so these fail (with a dynamic field the
     * name becomes a $meta key and the text after it does not parse) */
    const char *no[] = {"b And b",    "b Or b",     "Not b",
                        "sn Is Null", "s Like 'a'", "b == tRUE"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        qv_err err = {0};
        char *p = plan_text(no[i], NULL, 0, &err);
        cr_assert_null(p, "%s parsed as %s", no[i], p);
    }
}

Test(expr_parse, template_variables_bind_values)
{
    qv_expr_value ids[] = {{.kind = QV_EXPR_INT, .u.i = 7},
                           {.kind = QV_EXPR_INT, .u.i = 3}};
    qv_expr_param params[] = {
        {"ids", {.kind = QV_EXPR_ARRAY, .u.a = {ids, 2}}},
        {"name", {.kind = QV_EXPR_STR, .u.s = {"bob", 3}}},
        {"lo", {.kind = QV_EXPR_INT, .u.i = 1}},
        {"hi", {.kind = QV_EXPR_FLOAT, .u.f = 2.5}},
    };
    qv_err err = {0};
    char *p = plan_text("i64 in {ids} and s == {name} and {lo} < d < {hi}",
                        params, 4, &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_str_eq(p, "(and (in f105 [3 7]) (== f108 \"bob\") "
                        "(range 1 < f107 < 2.5))");
    free(p);
    p = plan_text("i64 == {hi}", params, 4, &err);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "cannot compare Int64 field 'i64' with a "
                              "floating"),
              "%s", err.msg);
}

Test(expr_parse, deep_nesting_is_an_error_not_a_crash)
{
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        buf[n++] = '(';
    buf[n++] = 'b';
    for (int i = 0; i < 1000; i++)
        buf[n++] = ')';
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_expr_parse(buf, n, &test_schema, NULL, 0, &plan, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "nested too deeply"), "%s", err.msg);
}

Test(expr_parse, plan_lists_the_fields_it_reads)
{
    const char *e = "i64 > 1 and (s == 'a' or i32 < i64) and tag == 1";
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_expr_parse(e, strlen(e), &test_schema, NULL, 0, &plan, &err), QV_OK,
        "%s", err.msg);
    int64_t ids[8];
    size_t n = qv_expr_plan_fields(plan, ids, 8);
    cr_assert_eq(n, 4);
    cr_assert_eq(ids[0], F_I32);
    cr_assert_eq(ids[1], F_I64);
    cr_assert_eq(ids[2], F_S);
    cr_assert_eq(ids[3], F_META);
    cr_assert_not(qv_expr_plan_always_true(plan));
    qv_expr_plan_free(plan);
}

/* ---- binary plans ------------------------------------------------------ */

static void encode(const char *e, qv_buf *out)
{
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_expr_parse(e, strlen(e), &test_schema, NULL, 0, &plan, &err), QV_OK,
        "%s: %s", e, err.msg);
    cr_assert_eq(qv_expr_plan_encode(plan, out, &err), QV_OK);
    qv_expr_plan_free(plan);
}

Test(expr_plan, encoding_round_trips_every_plan)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        qv_buf b1 = QV_BUF_INIT, b2 = QV_BUF_INIT, txt = QV_BUF_INIT;
        encode(good[i].expr, &b1);
        qv_expr_plan *plan = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_expr_plan_decode(b1.data, b1.len, &plan, &err), QV_OK,
                     "%s: %s", good[i].expr, err.msg);
        cr_assert_eq(qv_expr_plan_format(plan, &txt), QV_OK);
        cr_assert_str_eq(qv_buf_str(&txt), good[i].plan, "%s", good[i].expr);
        cr_assert_eq(qv_expr_plan_encode(plan, &b2, &err), QV_OK);
        cr_assert_eq(b1.len, b2.len);
        cr_assert(memcmp(b1.data, b2.data, b1.len) == 0, "%s", good[i].expr);
        qv_expr_plan_free(plan);
        qv_buf_release(&b1);
        qv_buf_release(&b2);
        qv_buf_release(&txt);
    }
}

static const char *complex_expr =
    "(i64 > 1 and 2 <= d < 9.5) or (s in ['a', 'b'] and not sn is null) or "
    "array_contains_any(ai, [1, 2]) or j['x'][0] == [1, 'a', [true]] or "
    "i32 + 2 == 5 or s like 'a_c%' or exists tag or i8 < i16";

Test(expr_plan, decoder_rejects_truncation_and_damage)
{
    qv_buf b = QV_BUF_INIT;
    encode(complex_expr, &b);
    qv_err err = {0};
    qv_expr_plan *plan = NULL;
    for (size_t n = 0; n < b.len; n++) {
        qv_code rc = qv_expr_plan_decode(b.data, n, &plan, &err);
        cr_assert_neq(rc, QV_OK, "truncated to %zu bytes", n);
        cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT);
    }
    /* a flipped bit: the checksum catches it */
    b.data[b.len / 2] ^= 0x10;
    cr_assert_eq(qv_expr_plan_decode(b.data, b.len, &plan, &err),
                 QV_E_CORRUPT_CHECKSUM);
    b.data[b.len / 2] ^= 0x10;
    /* with the checksum fixed up, every byte value in every position
     * decodes to a valid plan or fails cleanly */
    size_t ok = 0, failed = 0;
    for (size_t pos = 16; pos < b.len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[pos] ^= (char)(1 << bit);
            uint32_t crc = qv_crc32c(0, b.data + 16, b.len - 16);
            memcpy(b.data + 12, &crc, 4);
            qv_code rc = qv_expr_plan_decode(b.data, b.len, &plan, &err);
            if (rc == QV_OK) {
                ok++;
                qv_expr_plan_free(plan);
            } else {
                failed++;
                cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT);
            }
            b.data[pos] ^= (char)(1 << bit);
        }
    }
    cr_assert_gt(failed, 0);
    cr_assert_gt(ok, 0);
    cr_assert_eq(
        qv_expr_plan_decode("QVXP\x02\0\0\0\0\0\0\0\0\0\0\0", 16, &plan, &err),
        QV_E_CORRUPT_VERSION);
    qv_buf_release(&b);
}

Test(expr_parse, large_in_lists_parse_quickly)
{
    /* delete by primary keys sends `pk in [...]` with many ids */
    size_t n = 200000, cap = n * 12 + 32, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text, cap, "id in [");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, cap - o, "%s%zu", i ? "," : "",
                              (i * 7919) % n);
    o += (size_t)snprintf(text + o, cap - o, "]");
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_expr_parse(text, o, &test_schema, NULL, 0, &plan, &err),
                 QV_OK, "%s", err.msg);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_expr_plan_encode(plan, &b, &err), QV_OK);
    /* 200000 distinct ints: 9 bytes each plus the node */
    cr_assert_gt(b.len, n * 9);
    cr_assert_lt(b.len, n * 9 + 100);
    qv_buf_release(&b);
    qv_expr_plan_free(plan);
    free(text);
}

Test(expr_plan, primary_key_selections_are_extracted)
{
    static const struct {
        const char *expr;
        int n; /* -1: not a pk selection */
        int64_t first, last;
    } cases[] = {
        {"id == 5", 1, 5, 5},
        {"id in [3, 1, 2, 3]", 3, 1, 3},
        {"id == 9 or id in [1, 9] or id == 4", 3, 1, 9},
        {"id in [] or false", 0, 0, 0},
        {"id > 5", -1, 0, 0},
        {"id == 5 and i64 == 1", -1, 0, 0},
        {"i64 in [1, 2]", -1, 0, 0},
        {"id == 1 or i64 == 2", -1, 0, 0},
        {"not (id == 1)", -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qv_expr_plan *plan = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_expr_parse(cases[i].expr, strlen(cases[i].expr),
                                   &test_schema, NULL, 0, &plan, &err),
                     QV_OK, "%s", err.msg);
        qv_expr_value *vals = NULL;
        size_t n = 0;
        bool ok = qv_expr_plan_pk_values(plan, F_ID, &vals, &n);
        cr_assert_eq(ok, cases[i].n >= 0, "%s", cases[i].expr);
        if (ok) {
            cr_assert_eq(n, (size_t)cases[i].n, "%s", cases[i].expr);
            if (n) {
                cr_assert_eq(vals[0].u.i, cases[i].first);
                cr_assert_eq(vals[n - 1].u.i, cases[i].last);
            }
            free(vals);
        }
        qv_expr_plan_free(plan);
    }
}

Test(expr_plan, field_bounds_support_pruning)
{
    static const struct {
        const char *expr;
        int n; /* -1: no bound */
        int64_t first, last;
    } cases[] = {
        {"id == 5 and i64 > 1", 1, 5, 5},
        {"id in [1, 2, 3] and (id in [2, 3, 4] and s == 'a')", 2, 2, 3},
        {"(id == 1 and b) or id in [7, 1]", 2, 1, 7},
        {"id == 1 or i64 == 2", -1, 0, 0},
        {"id in [1] and id in [2]", 0, 0, 0},
        {"not (id == 1)", -1, 0, 0},
        {"id > 1", -1, 0, 0},
        {"false", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qv_expr_plan *plan = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_expr_parse(cases[i].expr, strlen(cases[i].expr),
                                   &test_schema, NULL, 0, &plan, &err),
                     QV_OK, "%s", err.msg);
        qv_expr_value *vals = NULL;
        size_t n = 0;
        bool ok = qv_expr_plan_field_bound(plan, F_ID, &vals, &n);
        cr_assert_eq(ok, cases[i].n >= 0, "%s", cases[i].expr);
        if (ok) {
            cr_assert_eq(n, (size_t)cases[i].n, "%s", cases[i].expr);
            if (n) {
                cr_assert_eq(vals[0].u.i, cases[i].first, "%s", cases[i].expr);
                cr_assert_eq(vals[n - 1].u.i, cases[i].last);
            }
            free(vals);
        }
        qv_expr_plan_free(plan);
    }
}
