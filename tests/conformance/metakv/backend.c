/* backend.c -- see backend.h. */
#include "tests/conformance/metakv/backend.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void conf_backend_open(conf_backend *b, const char *name)
{
    memset(b, 0, sizeof *b);
    b->name = name;
    qv_err err = {0};
    b->cfg.timeout_ms = 5000;
    if (strcmp(name, "local") == 0) {
        cr_assert_eq(qv_test_mkdtemp("quiver-metakv-", &b->dir, &err), QV_OK,
                     "%s", err.msg);
        qv_test_cleanup_at_exit(b->dir);
        char *db = qv_xasprintf("%s/meta", b->dir);
        b->cfg.dir = db;
    } else {
        cr_assert_eq(qv_etcd_server_start(&b->etcd, NULL, &err), QV_OK, "%s",
                     err.msg);
        b->cfg.endpoints = b->etcd.endpoint;
    }
    cr_assert_eq(metakv_open(name, &b->cfg, &b->kv, &err), QV_OK, "%s",
                 err.msg);
}

void conf_backend_reopen(conf_backend *b)
{
    metakv_close(b->kv);
    b->kv = NULL;
    qv_err err = {0};
    cr_assert_eq(metakv_open(b->name, &b->cfg, &b->kv, &err), QV_OK, "%s",
                 err.msg);
}

void conf_backend_close(conf_backend *b)
{
    metakv_close(b->kv);
    b->kv = NULL;
    if (b->dir) {
        (void)qv_test_rmtree(b->dir, NULL);
        qv_test_cleanup_cancel(b->dir);
        free(b->dir);
        free((char *)b->cfg.dir);
    } else {
        qv_etcd_server_destroy(&b->etcd);
    }
    memset(b, 0, sizeof *b);
}
