/* backend.h -- opens each meta KV backend for the conformance suite.
 *
 * "local": a fresh LMDB directory under $TMPDIR.  "etcd": a real etcd on
 * 127.0.0.1 started for the test (tests/lib/etcd_server.h).  Both are torn
 * down (server stopped, directories removed) by conf_backend_close().
 */
#ifndef QV_TEST_METAKV_BACKEND_H
#define QV_TEST_METAKV_BACKEND_H

#include "common/metakv/metakv.h"
#include "tests/lib/etcd_server.h"

typedef struct conf_backend {
    const char *name;
    char *dir;           /* local: the LMDB directory's parent */
    qv_etcd_server etcd; /* etcd: the server */
    metakv_config cfg;
    metakv *kv;
} conf_backend;

/* Starts what the backend needs and opens it; aborts the test on failure. */
void conf_backend_open(conf_backend *b, const char *name);
/* Closes and reopens the store on the same data. */
void conf_backend_reopen(conf_backend *b);
void conf_backend_close(conf_backend *b);

#endif
