/* test_objstore_conformance.c -- one suite, every objstore backend.
 *
 * Each test runs once per backend: "fs" (a temporary directory) and "s3"
 * (a fresh s3rver on 127.0.0.1 behind the strict SigV4 verifier, so every
 * request this suite sends is also checked for a correct signature).  The
 * S3 variant is skipped when s3rver is not installed.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/objstore/objstore.h"
#include "tests/conformance/objstore/objstore_fixture.h"

/* Criterion passes parameters by value to a re-executed worker, so the
 * parameter is an index into this table, not a pointer. */
static const char *const backends[] = {"fs", "s3"};
static int backend_ids[] = {0, 1};
static objstore_fixture fx;

static void teardown(void)
{
    objstore_fixture_close(&fx);
}

#define BACKEND_PARAMS(test)                                                   \
    ParameterizedTestParameters(objstore_conformance, test)                    \
    {                                                                          \
        return cr_make_param_array(int, backend_ids,                           \
                                   sizeof(backend_ids) / sizeof(int));         \
    }                                                                          \
    ParameterizedTest(int *backend_id, objstore_conformance, test,             \
                      .fini = teardown, .timeout = 120)

/* Deterministic pseudo-random bytes (xorshift) so failures reproduce. */
static unsigned char *make_bytes(size_t n, uint64_t seed)
{
    unsigned char *p = qv_xmalloc(n ? n : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

static void put_ok(objstore *os, const char *key, const void *p, size_t n)
{
    qv_err err = {0};
    qv_code rc = objstore_put(os, key, p, n, &err);
    cr_assert_eq(rc, QV_OK, "put '%s' (%zu bytes): %s", key, n, err.msg);
}

static void expect_object(objstore *os, const char *key, const void *p,
                          size_t n)
{
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    qv_code rc = objstore_get(os, key, &b, &err);
    cr_assert_eq(rc, QV_OK, "get '%s': %s", key, err.msg);
    cr_assert_eq(b.len, n, "get '%s': %zu bytes, want %zu", key, b.len, n);
    cr_assert(n == 0 || memcmp(b.data, p, n) == 0, "get '%s': bytes differ",
              key);
    qv_buf_release(&b);
    objstore_stat st = {0};
    rc = objstore_head(os, key, &st, &err);
    cr_assert_eq(rc, QV_OK, "head '%s': %s", key, err.msg);
    cr_assert_eq(st.size, n, "head '%s': size %llu, want %zu", key,
                 (unsigned long long)st.size, n);
}

static void expect_missing(objstore *os, const char *key)
{
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get(os, key, &b, &err), QV_E_NOT_FOUND,
                 "get '%s' should be not found (%s)", key, err.msg);
    cr_assert(strstr(err.msg, key) != NULL, "message names the key: %s",
              err.msg);
    cr_assert_eq(b.len, 0);
    objstore_stat st;
    cr_assert_eq(objstore_head(os, key, &st, &err), QV_E_NOT_FOUND,
                 "head '%s' should be not found (%s)", key, err.msg);
    cr_assert_eq(objstore_get_range(os, key, 0, 10, &b, &err), QV_E_NOT_FOUND,
                 "get_range '%s' should be not found (%s)", key, err.msg);
    qv_buf_release(&b);
}

/* Collects every key under prefix with page size max; returns the number of
 * pages and fills keys (heap strings, caller frees). */
static size_t list_all(objstore *os, const char *prefix, size_t max,
                       char ***keys, size_t *nkeys)
{
    char *token = NULL;
    size_t pages = 0, n = 0;
    char **out = NULL;
    do {
        objstore_list_page page;
        qv_err err = {0};
        qv_code rc = objstore_list(os, prefix, token, max, &page, &err);
        cr_assert_eq(rc, QV_OK, "list '%s': %s", prefix, err.msg);
        free(token);
        pages++;
        cr_assert(page.count <= (max ? max : OBJSTORE_LIST_MAX));
        cr_assert(page.count > 0 || !page.next_token,
                  "an empty page must be the last");
        out = qv_xrealloc(out, (n + page.count + 1) * sizeof(*out));
        for (size_t i = 0; i < page.count; i++)
            out[n++] = qv_xstrdup(page.entries[i].key);
        token = page.next_token ? qv_xstrdup(page.next_token) : NULL;
        objstore_list_page_release(&page);
        cr_assert(pages < 10000, "listing does not end");
    } while (token);
    *keys = out;
    *nkeys = n;
    return pages;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

BACKEND_PARAMS(get_returns_the_bytes_put)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    put_ok(fx.os, "bin/all-bytes", all, sizeof(all));
    expect_object(fx.os, "bin/all-bytes", all, sizeof(all));
    unsigned char *big = make_bytes(300 * 1024 + 7, 1);
    put_ok(fx.os, "insert_log/1/2/3/100/1", big, 300 * 1024 + 7);
    expect_object(fx.os, "insert_log/1/2/3/100/1", big, 300 * 1024 + 7);
    free(big);
    /* get appends to what the buffer already holds */
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_buf_appends(&b, "head:"), QV_OK);
    cr_assert_eq(objstore_get(fx.os, "bin/all-bytes", &b, NULL), QV_OK);
    cr_assert_eq(b.len, 5 + 256);
    cr_assert_eq(memcmp(b.data, "head:", 5), 0);
    cr_assert_eq(memcmp(b.data + 5, all, 256), 0);
    qv_buf_release(&b);
}

BACKEND_PARAMS(empty_object_is_an_object)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    put_ok(fx.os, "empty", "", 0);
    put_ok(fx.os, "dir/empty2", NULL, 0);
    expect_object(fx.os, "empty", "", 0);
    expect_object(fx.os, "dir/empty2", "", 0);
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get_range(fx.os, "empty", 0, 10, &b, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(objstore_get_range(fx.os, "empty", 1, 10, &b, &err),
                 QV_E_RANGE, "%s", err.msg);
    qv_buf_release(&b);
    objstore_list_page page;
    cr_assert_eq(objstore_list(fx.os, "", NULL, 0, &page, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(page.count, 2);
    cr_assert_str_eq(page.entries[0].key, "dir/empty2");
    cr_assert_eq(page.entries[0].size, 0);
    cr_assert_str_eq(page.entries[1].key, "empty");
    objstore_list_page_release(&page);
}

BACKEND_PARAMS(put_replaces_the_previous_object)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    put_ok(fx.os, "k", "first version, longer", 21);
    put_ok(fx.os, "k", "second", 6);
    expect_object(fx.os, "k", "second", 6);
    put_ok(fx.os, "k", "", 0);
    expect_object(fx.os, "k", "", 0);
}

BACKEND_PARAMS(missing_keys_are_not_found)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    expect_missing(fx.os, "nope");
    expect_missing(fx.os, "a/b/c/nope");
    put_ok(fx.os, "a/b/c", "x", 1);
    expect_missing(fx.os, "a/b"); /* a "directory" is not an object */
    expect_missing(fx.os, "a/b/cc");
    expect_missing(fx.os, "a/b/c/d");
}

BACKEND_PARAMS(ranged_gets_at_boundaries)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    unsigned char *d = make_bytes(1000, 2);
    put_ok(fx.os, "r/obj", d, 1000);
    static const struct {
        uint64_t off, len, want_off, want_len;
    } cases[] = {
        {0, 1, 0, 1},       {999, 1, 999, 1},
        {999, 10, 999, 1},  {0, 1000, 0, 1000},
        {0, 5000, 0, 1000}, {500, 500, 500, 500},
        {1000, 5, 1000, 0}, {0, 0, 0, 0},
        {1000, 0, 1000, 0}, {1, UINT64_MAX / 4, 1, 999},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qv_buf b = QV_BUF_INIT;
        qv_err err = {0};
        qv_code rc = objstore_get_range(fx.os, "r/obj", cases[i].off,
                                        cases[i].len, &b, &err);
        cr_assert_eq(rc, QV_OK, "range %llu+%llu: %s",
                     (unsigned long long)cases[i].off,
                     (unsigned long long)cases[i].len, err.msg);
        cr_assert_eq(b.len, cases[i].want_len, "range %llu+%llu: %zu bytes",
                     (unsigned long long)cases[i].off,
                     (unsigned long long)cases[i].len, b.len);
        cr_assert(b.len == 0 ||
                  memcmp(b.data, d + cases[i].want_off, b.len) == 0);
        qv_buf_release(&b);
    }
    qv_buf b = QV_BUF_INIT;
    qv_err err = {0};
    cr_assert_eq(objstore_get_range(fx.os, "r/obj", 1001, 1, &b, &err),
                 QV_E_RANGE, "%s", err.msg);
    cr_assert(strstr(err.msg, "r/obj"), "%s", err.msg);
    cr_assert_eq(objstore_get_range(fx.os, "r/obj", 5000, 0, &b, &err),
                 QV_E_RANGE, "%s", err.msg);
    cr_assert_eq(b.len, 0);
    qv_buf_release(&b);
    free(d);
}

BACKEND_PARAMS(large_object_crosses_the_multipart_threshold)
{
    objstore_config c = {.multipart_threshold = 256 * 1024,
                         .part_size = 100 * 1024};
    objstore_fixture_open(&fx, backends[*backend_id], &c);
    size_t n = 1024 * 1024 + 123; /* 11 parts, the last one short */
    unsigned char *d = make_bytes(n, 3);
    put_ok(fx.os, "big/one", d, n);
    expect_object(fx.os, "big/one", d, n);
    /* exactly at and just above the threshold */
    put_ok(fx.os, "big/at", d, 256 * 1024);
    expect_object(fx.os, "big/at", d, 256 * 1024);
    put_ok(fx.os, "big/above", d, 256 * 1024 + 1);
    expect_object(fx.os, "big/above", d, 256 * 1024 + 1);
    /* ranges across part boundaries */
    uint64_t offs[] = {100 * 1024 - 3, 200 * 1024 - 1, n - 10};
    for (size_t i = 0; i < 3; i++) {
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(
            objstore_get_range(fx.os, "big/one", offs[i], 20, &b, NULL), QV_OK);
        size_t want = n - offs[i] < 20 ? n - offs[i] : 20;
        cr_assert_eq(b.len, want);
        cr_assert_eq(memcmp(b.data, d + offs[i], want), 0);
        qv_buf_release(&b);
    }
    /* a multipart put replaces the object like any other */
    put_ok(fx.os, "big/one", d + 5, n - 5);
    expect_object(fx.os, "big/one", d + 5, n - 5);
    free(d);
}

BACKEND_PARAMS(list_pages_cover_every_key_once_in_order)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    const char *keys[] = {"p/a",     "p/b/1", "p/b/2", "p/c",
                          "p/d/e/f", "p/e",   "p/f"};
    for (size_t i = 0; i < 7; i++)
        put_ok(fx.os, keys[i], keys[i], strlen(keys[i]));
    put_ok(fx.os, "p0", "x", 1); /* outside "p/" */
    put_ok(fx.os, "q/a", "x", 1);
    for (size_t max = 1; max <= 9; max++) {
        char **got;
        size_t n;
        size_t pages = list_all(fx.os, "p/", max, &got, &n);
        cr_assert_eq(n, 7, "page size %zu: %zu keys", max, n);
        for (size_t i = 0; i < 7; i++)
            cr_assert_str_eq(got[i], keys[i], "page size %zu", max);
        /* full pages until the last; no empty trailing page */
        size_t want_pages = (7 + max - 1) / max;
        cr_assert_eq(pages, want_pages, "page size %zu: %zu pages", max, pages);
        free_keys(got, n);
    }
    char **got;
    size_t n;
    list_all(fx.os, "", 0, &got, &n);
    cr_assert_eq(n, 9);
    cr_assert_str_eq(got[7], "p0");
    cr_assert_str_eq(got[8], "q/a");
    free_keys(got, n);
    list_all(fx.os, "p/b", 2, &got, &n); /* partial segment */
    cr_assert_eq(n, 2);
    cr_assert_str_eq(got[0], "p/b/1");
    free_keys(got, n);
    list_all(fx.os, "nothing/", 3, &got, &n);
    cr_assert_eq(n, 0);
    free_keys(got, n);
    objstore_list_page page;
    cr_assert_eq(objstore_list(fx.os, "p/d/", NULL, 10, &page, NULL), QV_OK);
    cr_assert_eq(page.count, 1);
    cr_assert_str_eq(page.entries[0].key, "p/d/e/f");
    cr_assert_eq(page.entries[0].size, 7);
    cr_assert(page.entries[0].mtime_ms > 1600000000000LL);
    cr_assert_null(page.next_token);
    objstore_list_page_release(&page);
}

BACKEND_PARAMS(list_exact_multiple_of_page_size_has_no_extra_page)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    char key[32];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "m/%02d", i);
        put_ok(fx.os, key, key, strlen(key));
    }
    objstore_list_page p1, p2;
    cr_assert_eq(objstore_list(fx.os, "m/", NULL, 3, &p1, NULL), QV_OK);
    cr_assert_eq(p1.count, 3);
    cr_assert_not_null(p1.next_token);
    cr_assert_eq(objstore_list(fx.os, "m/", p1.next_token, 3, &p2, NULL),
                 QV_OK);
    cr_assert_eq(p2.count, 3);
    cr_assert_str_eq(p2.entries[0].key, "m/03");
    cr_assert_null(p2.next_token, "the last full page ends the listing");
    objstore_list_page_release(&p1);
    objstore_list_page_release(&p2);
}

BACKEND_PARAMS(many_keys_list_past_one_thousand)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    char key[32];
    for (int i = 0; i < 1003; i++) {
        snprintf(key, sizeof(key), "many/%04d", i);
        put_ok(fx.os, key, "", 0);
    }
    objstore_list_page page;
    cr_assert_eq(objstore_list(fx.os, "many/", NULL, 0, &page, NULL), QV_OK);
    cr_assert_eq(page.count, OBJSTORE_LIST_MAX);
    cr_assert_not_null(page.next_token);
    objstore_list_page_release(&page);
    char **got;
    size_t n;
    list_all(fx.os, "many/", 0, &got, &n);
    cr_assert_eq(n, 1003);
    cr_assert_str_eq(got[1002], "many/1002");
    free_keys(got, n);
}

BACKEND_PARAMS(delete_is_idempotent)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    qv_err err = {0};
    put_ok(fx.os, "d/x/y", "1", 1);
    cr_assert_eq(objstore_delete(fx.os, "d/x/y", &err), QV_OK, "%s", err.msg);
    expect_missing(fx.os, "d/x/y");
    cr_assert_eq(objstore_delete(fx.os, "d/x/y", &err), QV_OK, "%s", err.msg);
    cr_assert_eq(objstore_delete(fx.os, "never/was", &err), QV_OK, "%s",
                 err.msg);
    char **got;
    size_t n;
    list_all(fx.os, "", 0, &got, &n);
    cr_assert_eq(n, 0);
    free_keys(got, n);
    /* the key can be written again after a delete */
    put_ok(fx.os, "d/x/y", "2", 1);
    expect_object(fx.os, "d/x/y", "2", 1);
}

BACKEND_PARAMS(delete_by_prefix_removes_only_that_prefix)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    char key[64];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "delta_log/1/2/%d/%d", i % 3, i);
        put_ok(fx.os, key, key, strlen(key));
    }
    put_ok(fx.os, "delta_log/1/20/0/1", "keep", 4);
    put_ok(fx.os, "delta_log/10", "keep", 4);
    uint64_t deleted = 99;
    qv_err err = {0};
    cr_assert_eq(
        objstore_delete_prefix(fx.os, "delta_log/1/2/", &deleted, &err), QV_OK,
        "%s", err.msg);
    cr_assert_eq(deleted, 25);
    char **got;
    size_t n;
    list_all(fx.os, "delta_log/", 0, &got, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(got[0], "delta_log/1/20/0/1");
    cr_assert_str_eq(got[1], "delta_log/10");
    free_keys(got, n);
    cr_assert_eq(
        objstore_delete_prefix(fx.os, "delta_log/1/2/", &deleted, &err), QV_OK);
    cr_assert_eq(deleted, 0);
    cr_assert_eq(objstore_delete_prefix(fx.os, "", &deleted, &err),
                 QV_E_INVALID);
    expect_object(fx.os, "delta_log/10", "keep", 4);
}

BACKEND_PARAMS(keys_with_special_characters_round_trip)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    const char *keys[] = {
        "sp ace/plus+eq=amp&pct%q?hash#.bin",
        "utf8/\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87/\xe3\x83\x87\xe3\x83\xbc",
        "tilde~under_dash-dot.x",
        "xml/<tag>&\"quote'",
        "star*paren(1)comma,semi;colon:at@dollar$excl!",
    };
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nk; i++)
        put_ok(fx.os, keys[i], keys[i], strlen(keys[i]));
    for (size_t i = 0; i < nk; i++)
        expect_object(fx.os, keys[i], keys[i], strlen(keys[i]));
    char **got;
    size_t n;
    list_all(fx.os, "", 2, &got, &n);
    cr_assert_eq(n, nk);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < nk; j++)
            found = found || strcmp(got[i], keys[j]) == 0;
        cr_assert(found, "listed key '%s' was never written", got[i]);
        if (i > 0)
            cr_assert(strcmp(got[i - 1], got[i]) < 0, "byte order");
    }
    free_keys(got, n);
    list_all(fx.os, "sp ace/plus+", 1, &got, &n);
    cr_assert_eq(n, 1);
    free_keys(got, n);
    for (size_t i = 0; i < nk; i++)
        cr_assert_eq(objstore_delete(fx.os, keys[i], NULL), QV_OK);
    list_all(fx.os, "", 0, &got, &n);
    cr_assert_eq(n, 0);
    free_keys(got, n);
}

BACKEND_PARAMS(invalid_keys_are_rejected)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    const char *bad[] = {"",   "/abs", "a//b",    "a/./b",    "a/../b",
                         "..", "a/",   "ctl\x01", "tab\tkey", ".qv-tmp/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_err err = {0};
        cr_assert_eq(objstore_put(fx.os, bad[i], "x", 1, &err), QV_E_INVALID,
                     "key #%zu accepted", i);
        cr_assert(strstr(err.msg, "invalid object key"), "%s", err.msg);
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(objstore_get(fx.os, bad[i], &b, NULL), QV_E_INVALID);
        cr_assert_eq(objstore_delete(fx.os, bad[i], NULL), QV_E_INVALID);
    }
    char *longkey = qv_xmalloc(OBJSTORE_KEY_MAX + 2);
    memset(longkey, 'k', OBJSTORE_KEY_MAX + 1);
    longkey[OBJSTORE_KEY_MAX + 1] = '\0';
    cr_assert_eq(objstore_put(fx.os, longkey, "x", 1, NULL), QV_E_INVALID);
    free(longkey);
    objstore_list_page page;
    cr_assert_eq(objstore_list(fx.os, "/x", NULL, 1, &page, NULL),
                 QV_E_INVALID);
    /* nothing was stored */
    char **got;
    size_t n;
    list_all(fx.os, "", 0, &got, &n);
    cr_assert_eq(n, 0);
    free_keys(got, n);
}

BACKEND_PARAMS(a_second_store_sees_the_same_objects)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    put_ok(fx.os, "shared/k", "v", 1);
    objstore *other = objstore_fixture_reopen(&fx);
    expect_object(other, "shared/k", "v", 1);
    cr_assert_eq(objstore_delete(other, "shared/k", NULL), QV_OK);
    expect_missing(fx.os, "shared/k");
    objstore_close(other);
}

typedef struct worker_arg {
    objstore *os;
    int id;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char key[64];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "conc/%d/%d", a->id, i);
        unsigned char *d =
            make_bytes(1000 + (size_t)i, (uint64_t)(a->id * 100 + i));
        qv_buf b = QV_BUF_INIT;
        if (objstore_put(a->os, key, d, 1000 + (size_t)i, NULL) != QV_OK ||
            objstore_get(a->os, key, &b, NULL) != QV_OK ||
            b.len != 1000 + (size_t)i || memcmp(b.data, d, b.len) != 0)
            a->failures++;
        qv_buf_release(&b);
        free(d);
    }
    return NULL;
}

BACKEND_PARAMS(concurrent_callers_do_not_interfere)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    pthread_t t[4];
    worker_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){.os = fx.os, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].failures, 0, "worker %d failed %d times", i,
                     a[i].failures);
    }
    char **got;
    size_t n;
    list_all(fx.os, "conc/", 7, &got, &n);
    cr_assert_eq(n, 80);
    free_keys(got, n);
}

BACKEND_PARAMS(fault_decorator_fails_the_nth_call_and_adds_latency)
{
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    objstore_fault_config fc = {.ops = OBJSTORE_FAULT_PUT,
                                .fail_nth = 2,
                                .fail_code = QV_E_UNAVAILABLE};
    objstore *f;
    qv_err err = {0};
    cr_assert_eq(objstore_fault_wrap(fx.os, &fc, &f, &err), QV_OK);
    uint32_t inner_caps = objstore_caps(fx.os);
    fx.os = f; /* closed by teardown, inner with it */
    cr_assert_eq(objstore_caps(f),
                 inner_caps & ~(uint32_t)OBJSTORE_CAP_BATCH_DELETE);
    put_ok(f, "f/1", "a", 1);
    cr_assert_eq(objstore_put(f, "f/2", "b", 1, &err), QV_E_UNAVAILABLE);
    cr_assert(strstr(err.msg, "injected"), "%s", err.msg);
    put_ok(f, "f/3", "c", 1);
    expect_missing(f, "f/2"); /* the failed put never reached the store */
    expect_object(f, "f/3", "c", 1);
    cr_assert_eq(objstore_fault_calls(f), 3); /* gets are not counted */
    cr_assert_eq(objstore_fault_injected(f), 1);
    objstore_fault_config lat = {.ops = OBJSTORE_FAULT_GET, .latency_ms = 50};
    objstore_fault_set(f, &lat);
    const qv_clock *c = qv_clock_system();
    uint64_t t0 = qv_mono_ms(c);
    expect_object(f, "f/1", "a", 1);
    cr_assert_geq(qv_mono_ms(c) - t0, 50);
    objstore_fault_config after = {.fail_nth = 1, .fail_after = true};
    objstore_fault_set(f, &after);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(f, "f/1", &b, NULL), QV_E_IO);
    cr_assert_eq(objstore_delete(f, "f/1", NULL), QV_E_IO);
    qv_buf_release(&b);
}

BACKEND_PARAMS(list_order_is_byte_order_across_directories)
{
    /* S3 lists in UTF-8 byte order, but s3rver 3.7.1 (a directory walk)
     * lists "d/..." before "d!a" and "d-x", and its continuation then
     * skips them; the fs backend must get this right. */
    if (*backend_id != 0)
        cr_skip_test("s3rver does not list in byte order around '/'");
    objstore_fixture_open(&fx, backends[*backend_id], NULL);
    /* '!' < '-' < '/' < '0' < '~': "d/..." sorts between "d-x" and "d0" */
    const char *keys[] = {"d!a", "d-x", "d/y", "d/z/1", "d/z/2", "d0", "d~"};
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = nk; i-- > 0;)
        put_ok(fx.os, keys[i], "v", 1);
    for (size_t max = 1; max <= 3; max++) {
        char **got;
        size_t n;
        list_all(fx.os, "d", max, &got, &n);
        cr_assert_eq(n, nk, "%s: page size %zu: %zu keys", fx.backend, max, n);
        for (size_t i = 0; i < nk; i++)
            cr_assert_str_eq(got[i], keys[i], "page size %zu", max);
        free_keys(got, n);
    }
    /* a token inside a directory resumes inside it */
    objstore_list_page page;
    cr_assert_eq(objstore_list(fx.os, "d", NULL, 4, &page, NULL), QV_OK);
    cr_assert_str_eq(page.next_token ? page.entries[3].key : "", "d/z/1");
    objstore_list_page p2;
    cr_assert_eq(objstore_list(fx.os, "d", page.next_token, 2, &p2, NULL),
                 QV_OK);
    cr_assert_eq(p2.count, 2);
    cr_assert_str_eq(p2.entries[0].key, "d/z/2");
    cr_assert_str_eq(p2.entries[1].key, "d0");
    objstore_list_page_release(&page);
    objstore_list_page_release(&p2);
}

static char *write_local(const char *dir, const char *name, const void *p,
                         size_t n)
{
    char *path = qv_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void expect_local(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *got = qv_xmalloc(n + 1);
    size_t r = fread(got, 1, n + 1, f);
    fclose(f);
    cr_assert_eq(r, n, "'%s' holds %zu bytes, want %zu", path, r, n);
    cr_assert(n == 0 || memcmp(got, p, n) == 0, "'%s' differs", path);
    free(got);
}

BACKEND_PARAMS(files_upload_and_download_whole)
{
    objstore_config c = {.multipart_threshold = 256 * 1024,
                         .part_size = 100 * 1024};
    objstore_fixture_open(&fx, backends[*backend_id], &c);
    char *dir = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_test_mkdtemp("qv-objfiles-", &dir, &err), QV_OK);
    size_t n = 700 * 1024 + 5; /* multipart on S3 */
    unsigned char *d = make_bytes(n, 9);
    char *src = write_local(dir, "src.bin", d, n);
    char *empty = write_local(dir, "empty.bin", "", 0);
    cr_assert_eq(objstore_put_file(fx.os, "files/big", src, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(objstore_put_file(fx.os, "files/empty", empty, &err), QV_OK,
                 "%s", err.msg);
    expect_object(fx.os, "files/big", d, n);
    expect_object(fx.os, "files/empty", "", 0);
    /* download over an existing file: replaced whole */
    char *dst = write_local(dir, "dst.bin", "old contents", 12);
    uint64_t size = 0;
    cr_assert_eq(objstore_get_file(fx.os, "files/big", dst, &size, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(size, n);
    expect_local(dst, d, n);
    cr_assert_eq(objstore_get_file(fx.os, "files/empty", dst, &size, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(size, 0);
    expect_local(dst, "", 0);
    /* failures leave the target alone and no temp file behind */
    char *none = qv_xasprintf("%s/none.bin", dir);
    cr_assert_eq(objstore_get_file(fx.os, "files/missing", none, NULL, &err),
                 QV_E_NOT_FOUND, "%s", err.msg);
    cr_assert(strstr(err.msg, "files/missing"), "%s", err.msg);
    cr_assert_neq(access(none, F_OK), 0);
    cr_assert_eq(objstore_put_file(fx.os, "files/x", none, &err),
                 QV_E_NOT_FOUND);
    char *cmd = qv_xasprintf("test $(ls -A '%s' | wc -l) -eq 3", dir);
    cr_assert_eq(system(cmd), 0, "only src, empty and dst remain");
    free(cmd);
    free(none);
    free(dst);
    free(empty);
    free(src);
    free(d);
    (void)qv_test_rmtree(dir, NULL);
    free(dir);
}
