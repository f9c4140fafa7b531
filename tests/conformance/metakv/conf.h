/* conf.h -- macros of the meta KV conformance suite.
 *
 * CONF_TEST(name) defines one Criterion test per backend this build has
 * ("local" always, "etcd" with QV_METAKV_HAVE_ETCD) sharing one body; inside,
 * CONF_SETUP() opens the backend as `b` / `kv` with an `err` at hand and
 * CONF_TEARDOWN() closes it.  A failed assertion ends the worker process; its
 * server is still stopped by tests/lib/proc.c's exit handler.
 */
#ifndef QV_TEST_METAKV_CONF_H
#define QV_TEST_METAKV_CONF_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/conformance/metakv/backend.h"

#define S(x) (x), strlen(x)

/* Each test body is shared; one Criterion test per backend gives per-backend
 * names in reports: metakv_local::<name>, metakv_etcd::<name>. */
#ifdef QV_METAKV_HAVE_ETCD
#define CONF_ETCD_TEST(name)                                                   \
    Test(metakv_etcd, name, .timeout = 120)                                    \
    {                                                                          \
        name##_body("etcd");                                                   \
    }
#else
#define CONF_ETCD_TEST(name)
#endif

#define CONF_TEST(name)                                                        \
    static void name##_body(const char *backend_name);                         \
    Test(metakv_local, name, .timeout = 120)                                   \
    {                                                                          \
        name##_body("local");                                                  \
    }                                                                          \
    CONF_ETCD_TEST(name)                                                       \
    static void name##_body(const char *backend_name)

#define CONF_SETUP()                                                           \
    conf_backend b;                                                            \
    conf_backend_open(&b, backend_name);                                       \
    metakv *kv = b.kv;                                                         \
    qv_err err = {0};                                                          \
    (void)kv

#define CONF_TEARDOWN() conf_backend_close(&b)

#endif
