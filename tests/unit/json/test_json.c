/* test_json.c -- JSON validation and the lazy accessor. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/json/json.h"

static qv_code validate(const char *s)
{
    qv_err err = {0};
    return qv_json_validate(s, strlen(s), &err);
}

Test(json, validate_accepts_valid_documents)
{
    const char *ok[] = {
        "{}",
        "[]",
        "0",
        "-0.5e+10",
        "\"\"",
        "true",
        "false",
        "null",
        " {\"a\" : [1, 2.5, \"x\", null, {\"b\": []}]} ",
        "\"\\u00e9\\ud83d\\ude00\\n\"",
        "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"",
        "[1e5, -0, 0.0, 123456789012345678901234567890]",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_assert_eq(validate(ok[i]), QV_OK, "%s", ok[i]);
}

Test(json, validate_rejects_malformed_documents_with_position)
{
    const char *bad[] = {
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "{a: 1}",
        "01",
        "1.",
        "-",
        "+1",
        "\"abc",
        "\"\\x\"",
        "\"a\x01\"",
        "tru",
        "nul",
        "[1] 2",
        "{\"a\":}",
        "\"\xc3\"",
        "\"\xed\xa0\x80\"",
        "[1,,2]",
        "1e",
        "\"\\u12\"",
        "\"\\ud83d\"",
        "\"\\ude00x\"",
        "\"\\ud83d\\u0041\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_err err = {0};
        cr_assert_eq(qv_json_validate(bad[i], strlen(bad[i]), &err),
                     QV_E_INVALID, "%s", bad[i]);
        cr_assert(strstr(err.msg, "invalid json at byte"), "%s", err.msg);
    }
    char deep[400];
    memset(deep, '[', sizeof(deep));
    qv_err err = {0};
    cr_assert_eq(qv_json_validate(deep, sizeof(deep), &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "nesting too deep"), "%s", err.msg);
}

Test(json, member_index_and_step_walk_paths)
{
    const char *doc = "{\"a\": {\"b\": [10, \"x\", [true]]}, \"k\\\"q\": 7,"
                      " \"a\": 99}";
    qv_json_val root = qv_json_root(doc, strlen(doc)), a, b, e;
    cr_assert_eq(root.type, QV_JSON_OBJECT);
    cr_assert(qv_json_member(&root, "a", 1, &a));
    cr_assert_eq(a.type, QV_JSON_OBJECT, "first duplicate key wins");
    cr_assert(qv_json_step(&a, "b", 1, &b));
    cr_assert_eq(qv_json_array_len(&b), 3);
    cr_assert(qv_json_step(&b, "0", 1, &e));
    int64_t i;
    cr_assert(qv_json_as_int64(&e, &i));
    cr_assert_eq(i, 10);
    cr_assert(qv_json_step(&b, "1", 1, &e));
    bool ok;
    cr_assert_eq(qv_json_string_cmp(&e, "x", 1, &ok), 0);
    cr_assert(ok);
    cr_assert_not(qv_json_step(&b, "3", 1, &e));
    cr_assert_not(qv_json_step(&b, "01", 2, &e));
    cr_assert(qv_json_member(&root, "k\"q", 3, &e), "escaped key");
    cr_assert_not(qv_json_member(&root, "zz", 2, &e));
}

Test(json, numbers_decode_as_int64_or_double)
{
    const char *docs[] = {"-9223372036854775808", "9223372036854775807",
                          "9223372036854775808", "1.5", "1e2"};
    int64_t i;
    double d;
    qv_json_val v = qv_json_root(docs[0], strlen(docs[0]));
    cr_assert(qv_json_as_int64(&v, &i));
    cr_assert_eq(i, INT64_MIN);
    v = qv_json_root(docs[1], strlen(docs[1]));
    cr_assert(qv_json_as_int64(&v, &i));
    cr_assert_eq(i, INT64_MAX);
    v = qv_json_root(docs[2], strlen(docs[2]));
    cr_assert_not(qv_json_as_int64(&v, &i));
    cr_assert(qv_json_as_double(&v, &d));
    cr_assert_float_eq(d, 9223372036854775808.0, 1);
    v = qv_json_root(docs[3], strlen(docs[3]));
    cr_assert_not(qv_json_as_int64(&v, &i));
    cr_assert(qv_json_as_double(&v, &d));
    cr_assert_eq(d, 1.5);
    v = qv_json_root(docs[4], strlen(docs[4]));
    cr_assert(qv_json_as_double(&v, &d));
    cr_assert_eq(d, 100.0);
}

Test(json, strings_decode_escapes_and_surrogates)
{
    const char *doc = "\"a\\n\\u00e9\\ud83d\\ude00\"";
    qv_json_val v = qv_json_root(doc, strlen(doc));
    char out[32];
    size_t n = qv_json_string_decode(&v, out, sizeof(out));
    cr_assert_eq(n, 1 + 1 + 2 + 4);
    cr_assert(memcmp(out, "a\n\xc3\xa9\xf0\x9f\x98\x80", n) == 0);
    bool ok;
    cr_assert_eq(qv_json_string_cmp(&v, "a\n\xc3\xa9\xf0\x9f\x98\x80", 8, &ok),
                 0);
    cr_assert(qv_json_string_cmp(&v, "b", 1, &ok) < 0);
}

Test(json, accessors_stay_in_bounds_on_truncated_text)
{
    const char *doc = "{\"a\": [1, 2, {\"b\": \"x";
    for (size_t n = 0; n <= strlen(doc); n++) {
        qv_json_val root = qv_json_root(doc, n), a;
        if (qv_json_member(&root, "a", 1, &a))
            (void)qv_json_array_len(&a);
    }
    qv_json_val root = qv_json_root(doc, strlen(doc));
    cr_assert_eq(root.type, QV_JSON_INVALID);
}

Test(json, object_iteration_yields_members_in_order)
{
    const char *doc = "{ \"a\" : 1, \"b\":{\"c\":[1,{}]} ,\"d\":\"x\" }";
    qv_json_val root = qv_json_root(doc, strlen(doc)), k, v;
    qv_json_iter it;
    const char *keys[] = {"\"a\"", "\"b\"", "\"d\""};
    const qv_json_type types[] = {QV_JSON_NUMBER, QV_JSON_OBJECT,
                                  QV_JSON_STRING};
    int n = 0;
    qv_json_obj_iter_init(&it, &root);
    while (qv_json_obj_next(&it, &k, &v)) {
        cr_assert_lt(n, 3);
        cr_assert_eq(k.len, strlen(keys[n]));
        cr_assert(memcmp(k.p, keys[n], k.len) == 0);
        cr_assert_eq(v.type, types[n]);
        n++;
    }
    cr_assert_eq(n, 3);
    cr_assert_eq(v.len, 3); /* "x" with quotes */
}
