/* wal_fixture.c -- see wal_fixture.h. */
#include "tests/conformance/wal/wal_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

void wal_fx_init(wal_fx *fx, const char *backend, const wal_options *opt)
{
    memset(fx, 0, sizeof(*fx));
    fx->backend = backend;
    if (opt)
        fx->opt = *opt;
    if (!fx->opt.timeout_ms)
        fx->opt.timeout_ms = 5000;
    qv_err err = {0};
    if (strcmp(backend, "local") == 0) {
        cr_assert_eq(qv_test_mkdtemp("qv-wal-", &fx->dir, &err), QV_OK, "%s",
                     err.msg);
        fx->opt.dir = fx->dir;
    } else {
        cr_assert_eq(qv_kafka_broker_start(&fx->broker, 1, &err), QV_OK, "%s",
                     err.msg);
        fx->opt.bootstrap = fx->broker.bootstrap;
    }
    cr_assert_eq(wal_open(backend, &fx->opt, &fx->w, &err), QV_OK, "%s",
                 err.msg);
}

void wal_fx_reopen(wal_fx *fx)
{
    qv_err err = {0};
    wal_close(fx->w);
    fx->w = NULL;
    cr_assert_eq(wal_open(fx->backend, &fx->opt, &fx->w, &err), QV_OK, "%s",
                 err.msg);
}

void wal_fx_destroy(wal_fx *fx)
{
    wal_close(fx->w);
    fx->w = NULL;
    if (fx->dir) {
        qv_test_rmtree(fx->dir, NULL);
        free(fx->dir);
        fx->dir = NULL;
    }
    qv_kafka_broker_destroy(&fx->broker);
}
