/* objstore_fixture.c -- see objstore_fixture.h. */
#include "tests/conformance/objstore/objstore_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void objstore_fixture_open(objstore_fixture *f, const char *backend,
                           const objstore_config *overrides)
{
    memset(f, 0, sizeof(*f));
    f->backend = backend;
    objstore_config c = {0};
    if (overrides)
        c = *overrides;
    qv_err err = {0};
    const char *name = backend;
    if (strcmp(backend, "fs") == 0) {
        cr_assert_eq(qv_test_mkdtemp("qv-objfs-", &f->dir, &err), QV_OK, "%s",
                     err.msg);
        char *root = qv_xasprintf("%s/objects", f->dir);
        c.root = root;
        f->cfg = c;
        qv_code rc = objstore_open("fs", &c, &f->os, &err);
        free(root);
        f->cfg.root = NULL;
        cr_assert_eq(rc, QV_OK, "open fs: %s", err.msg);
        return;
    }
    const char *why;
    if (!qv_s3_server_available(&why))
        cr_skip_test("s3 backend not tested: %s", why);
    qv_s3_server_opts so = {.strict = strcmp(backend, "s3") == 0};
    qv_code rc = qv_s3_server_start(&f->server, &so, &err);
    cr_assert_eq(rc, QV_OK, "start s3 server: %s", err.msg);
    c.endpoint = f->server.endpoint;
    c.bucket = f->server.bucket;
    c.access_key = QV_S3_SERVER_KEY;
    c.secret_key = QV_S3_SERVER_KEY;
    c.path_style = true;
    c.region = "us-east-1";
    f->cfg = c;
    name = "s3";
    rc = objstore_open(name, &c, &f->os, &err);
    cr_assert_eq(rc, QV_OK, "open s3: %s", err.msg);
}

objstore *objstore_fixture_reopen(objstore_fixture *f)
{
    objstore_config c = f->cfg;
    char *root = NULL;
    if (strcmp(f->backend, "fs") == 0) {
        root = qv_xasprintf("%s/objects", f->dir);
        c.root = root;
    }
    objstore *os = NULL;
    qv_err err = {0};
    qv_code rc = objstore_open(strcmp(f->backend, "fs") == 0 ? "fs" : "s3", &c,
                               &os, &err);
    free(root);
    cr_assert_eq(rc, QV_OK, "reopen: %s", err.msg);
    return os;
}

void objstore_fixture_close(objstore_fixture *f)
{
    objstore_close(f->os);
    f->os = NULL;
    if (f->dir) {
        (void)qv_test_rmtree(f->dir, NULL);
        free(f->dir);
        f->dir = NULL;
    }
    qv_s3_server_destroy(&f->server);
}
