/* conf.h -- macros of the meta KV conformance suite.
 *
 * CONF_TEST(name) defines a Criterion parameterized test that runs once per
 * backend in conf_backends; inside, CONF_SETUP() opens the backend as
 * `b` / `kv` with an `err` at hand and CONF_TEARDOWN() closes it.  A failed
 * assertion ends the worker process; its server is still stopped by
 * tests/lib/proc.c's exit handler.
 */
#ifndef QV_TEST_METAKV_CONF_H
#define QV_TEST_METAKV_CONF_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "tests/conformance/metakv/backend.h"

#define S(x) (x), strlen(x)

extern int conf_backend_idx[];

#define CONF_TEST(name)                                                        \
    ParameterizedTestParameters(metakv_conformance, name)                      \
    {                                                                          \
        return cr_make_param_array(int, conf_backend_idx, conf_n_backends);    \
    }                                                                          \
    ParameterizedTest(int *backend, metakv_conformance, name, .timeout = 120)

#define CONF_SETUP()                                                           \
    conf_backend b;                                                            \
    conf_backend_open(&b, conf_backends[*backend]);                            \
    metakv *kv = b.kv;                                                         \
    qv_err err = {0};                                                          \
    (void)kv

#define CONF_TEARDOWN() conf_backend_close(&b)

#endif
