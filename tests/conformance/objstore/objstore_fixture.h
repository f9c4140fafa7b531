/* objstore_fixture.h -- opens an objstore backend for a test: "fs" on a
 * fresh temporary directory, "s3" on a fresh s3rver behind the strict SigV4
 * verifier (tests/lib/s3_server.h), "s3-direct" on s3rver alone.
 *
 * Threading: one fixture per test process (Criterion forks every test).
 */
#ifndef QV_TEST_OBJSTORE_FIXTURE_H
#define QV_TEST_OBJSTORE_FIXTURE_H

#include "common/objstore/objstore.h"
#include "tests/lib/s3_server.h"

typedef struct objstore_fixture {
    const char *backend;
    objstore *os;
    char *dir;           /* fs root's parent (owned) */
    qv_s3_server server; /* s3 */
    objstore_config cfg; /* what the store was opened with */
} objstore_fixture;

/* Starts what the backend needs and opens it with cfg overrides applied
 * (timeout, multipart sizes; may be NULL).  Skips the test (cr_skip) when
 * the S3 server is not installed; fails the test on any other error. */
void objstore_fixture_open(objstore_fixture *f, const char *backend,
                           const objstore_config *overrides);
/* Opens a second store on the same data (same root or bucket). */
objstore *objstore_fixture_reopen(objstore_fixture *f);
void objstore_fixture_close(objstore_fixture *f);

#endif
