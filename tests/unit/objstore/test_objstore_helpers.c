/* test_objstore_helpers.c -- key rules, the backend registry, AWS URI
 * encoding and the S3 XML reader. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/objstore/objstore_int.h"

Test(objstore_keys, valid_keys_pass)
{
    const char *good[] = {"a",         "insert_log/1/2/3/100/7",
                          "a.b",       "...",
                          "a/.hidden", ".qv",
                          "x y/+=&",   "\xe3\x83\x87"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(objstore_key_check(good[i], false, NULL), QV_OK,
                     "key '%s'", good[i]);
}

Test(objstore_keys, invalid_keys_name_the_rule)
{
    static const struct {
        const char *key, *why;
    } bad[] = {{"", "empty key"},         {"/a", "leading '/'"},
               {"a//b", "empty path"},    {"a/", "empty path"},
               {"a/./b", "'.' or '..'"},  {"../x", "'.' or '..'"},
               {"a\nb", "control"},       {"\x7f", "control"},
               {".qv-tmp/1", "reserved"}, {".qv-x", "reserved"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_err err = {0};
        cr_assert_eq(objstore_key_check(bad[i].key, false, &err), QV_E_INVALID,
                     "key #%zu", i);
        cr_assert(strstr(err.msg, bad[i].why), "key #%zu: %s", i, err.msg);
    }
    char *k = malloc(OBJSTORE_KEY_MAX + 1);
    memset(k, 'a', OBJSTORE_KEY_MAX);
    k[OBJSTORE_KEY_MAX] = '\0';
    cr_assert_eq(objstore_key_check(k, false, NULL), QV_OK);
    k = realloc(k, OBJSTORE_KEY_MAX + 2);
    k[OBJSTORE_KEY_MAX] = 'a';
    k[OBJSTORE_KEY_MAX + 1] = '\0';
    cr_assert_eq(objstore_key_check(k, false, NULL), QV_E_INVALID);
    free(k);
}

Test(objstore_keys, prefixes_may_be_empty_or_end_anywhere)
{
    const char *good[] = {"", "a/", "a/b", "a/b/", "seg", "a/."};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(objstore_key_check(good[i], true, NULL), QV_OK,
                     "prefix '%s'", good[i]);
    const char *bad[] = {"/", "a//", "a/../", ".qv-t", "x\x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(objstore_key_check(bad[i], true, NULL), QV_E_INVALID,
                     "prefix '%s'", bad[i]);
}

Test(objstore_registry, unknown_and_duplicate_backends_are_refused)
{
    objstore *os;
    qv_err err = {0};
    cr_assert_eq(objstore_open("nosuch", NULL, &os, &err), QV_E_NOT_FOUND);
    cr_assert_str_eq(err.msg, "unknown objstore backend 'nosuch'");
    cr_assert_eq(objstore_register(&objstore__fs_ops, &err), QV_E_EXISTS);
    cr_assert_str_eq(err.msg, "objstore backend 'fs' is already registered");
    /* the fs backend needs a root */
    cr_assert_eq(objstore_open("fs", NULL, &os, &err), QV_E_INVALID);
}

static char *enc(const char *s, bool keep_slash)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore__s3_uri_encode(&b, s, strlen(s), keep_slash), QV_OK);
    size_t n;
    char *out = qv_buf_detach(&b, &n);
    return out ? out : strdup("");
}

Test(objstore_s3_helpers, uri_encoding_follows_aws_rules)
{
    char *a = enc("AZaz09-_.~/ +=&%$\xc3\xa9", true);
    cr_assert_str_eq(a, "AZaz09-_.~/%20%2B%3D%26%25%24%C3%A9");
    free(a);
    a = enc("a/b", false);
    cr_assert_str_eq(a, "a%2Fb");
    free(a);
    a = enc("", false);
    cr_assert_str_eq(a, "");
    free(a);
}

Test(objstore_s3_helpers, xml_text_decodes_entities)
{
    const char x[] = "<a><K>x &amp; y &lt;z&gt; &quot;q&quot; &apos;"
                     "&#65;&#x42;&#x263A;&bogus;</K><E/></a>";
    char *out = NULL;
    size_t pos = 0;
    cr_assert_eq(objstore__xml_text(x, strlen(x), "K", &out, &pos), QV_OK);
    cr_assert_str_eq(out, "x & y <z> \"q\" 'AB\xe2\x98\xba&bogus;");
    cr_assert(pos > 0 && pos < strlen(x));
    free(out);
    cr_assert_eq(objstore__xml_text(x, strlen(x), "E", &out, NULL), QV_OK);
    cr_assert_str_eq(out, "");
    free(out);
    cr_assert_eq(objstore__xml_text(x, strlen(x), "Missing", &out, NULL),
                 QV_E_NOT_FOUND);
    cr_assert_eq(objstore__xml_text("<K>open", 7, "K", &out, NULL),
                 QV_E_CORRUPT);
}

Test(objstore_s3_helpers, list_result_is_parsed)
{
    const char x[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
        "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;b</Key><LastModified>2026-11-22T10:00:00.250Z"
        "</LastModified><ETag>&quot;x&quot;</ETag><Size>12</Size></Contents>"
        "<Contents><Key>p/c</Key><Size>0</Size></Contents>"
        "<NextContinuationToken>tok/=</NextContinuationToken>"
        "</ListBucketResult>";
    objstore_list_page page = {0};
    cr_assert_eq(objstore__s3_parse_list(x, strlen(x), &page, NULL), QV_OK);
    cr_assert_eq(page.count, 2);
    cr_assert_str_eq(page.entries[0].key, "p/a&b");
    cr_assert_eq(page.entries[0].size, 12);
    cr_assert_eq(page.entries[0].mtime_ms, 1795341600250LL);
    cr_assert_str_eq(page.entries[1].key, "p/c");
    cr_assert_eq(page.entries[1].mtime_ms, 0);
    cr_assert_str_eq(page.next_token, "tok/=");
    objstore_list_page_release(&page);
}

Test(objstore_s3_helpers, malformed_list_results_are_corrupt)
{
    const char *bad[] = {
        "<Error><Code>x</Code></Error>",
        "<ListBucketResult><Contents><Key>a</Key>",
        "<ListBucketResult><Contents><Size>1</Size></Contents>",
        "<ListBucketResult><Contents><Key>a</Key><Size>1x</Size></Contents>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key></Key></Contents>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        objstore_list_page page = {0};
        qv_err err = {0};
        cr_assert_eq(
            objstore__s3_parse_list(bad[i], strlen(bad[i]), &page, &err),
            QV_E_CORRUPT, "document %zu", i);
        cr_assert(strncmp(err.msg, "s3 list:", 8) == 0, "%s", err.msg);
        objstore_list_page_release(&page);
    }
}

Test(objstore_s3_helpers, iso8601_times)
{
    cr_assert_eq(objstore__parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(objstore__parse_iso8601_ms("2026-11-22T10:00:00.5Z"),
                 1795341600500LL);
    cr_assert_eq(objstore__parse_iso8601_ms("garbage"), 0);
    cr_assert_eq(objstore__parse_iso8601_ms("2026-13-22T10:00:00Z"), 0);
}
