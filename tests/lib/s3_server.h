/* s3_server.h -- test helper: a real S3 server (s3rver 3.7.1 from npm) on
 * 127.0.0.1, optionally behind a strict SigV4 verifier.
 *
 * s3rver comes from tests/e2e/node_modules (run `npm ci` in tests/e2e, or
 * scripts/install-deps.sh) under the repository root: $QV_SOURCE_DIR, else
 * the QV_SOURCE_DIR the file was compiled with, else the working directory.  It
 * keeps its objects in a fresh temporary directory, answers path-style requests
 * for one bucket created at start, and accepts the key pair S3RVER / S3RVER. It
 * does not check SigV4 signatures, so with opts.strict the endpoint is a Python
 * verifier (tests/lib/s3_sigv4_verifier.py) that rejects any request whose
 * signature, payload hash or credentials are wrong and forwards the rest.
 *
 * The server can be stopped and restarted on the same port and directory
 * (failure tests); objects survive a restart.
 *
 * Threading: one qv_s3_server is owned by one thread (see proc.h about the
 * spawning thread).
 */
#ifndef QV_TESTLIB_S3_SERVER_H
#define QV_TESTLIB_S3_SERVER_H

#include <stdbool.h>

#include "tests/lib/proc.h"

#define QV_S3_SERVER_KEY "S3RVER" /* access key and secret */

typedef struct qv_s3_server_opts {
    const char *bucket; /* default "quiver-test" */
    bool strict;        /* put the SigV4 verifier in front */
    bool tls;           /* serve https with a fresh self-signed certificate
                           (for 127.0.0.1); no verifier then */
} qv_s3_server_opts;

typedef struct qv_s3_server {
    qv_proc s3rver;
    qv_proc verifier; /* with strict */
    bool strict;
    bool tls;
    bool running;
    char *dir; /* temp dir: data/, s3rver.log, verifier.log (owned) */
    int s3rver_port;
    int port;          /* what clients use (the verifier's with strict) */
    char endpoint[64]; /* "http[s]://127.0.0.1:<port>" */
    char *ca_file;     /* with tls: the certificate to trust (owned) */
    char bucket[64];
} qv_s3_server;

/* True when node and s3rver are installed; *why (may be NULL) says what is
 * missing otherwise. */
bool qv_s3_server_available(const char **why);

/* Starts a fresh server (opts may be NULL) and waits (bounded) until it
 * answers.  On failure the error includes the tail of the server's log.
 * On success qv_s3_server_destroy() must be called. */
qv_code qv_s3_server_start(qv_s3_server *s, const qv_s3_server_opts *opts,
                           qv_err *err) QV_MUST_USE;

/* Stops the processes (SIGTERM, then SIGKILL) and keeps the data. */
qv_code qv_s3_server_stop(qv_s3_server *s, qv_err *err);

/* Starts the stopped server again on the same port and directory. */
qv_code qv_s3_server_restart(qv_s3_server *s, qv_err *err) QV_MUST_USE;

/* Stops the server and removes its directory.  Safe on a zeroed struct. */
void qv_s3_server_destroy(qv_s3_server *s);

#endif
