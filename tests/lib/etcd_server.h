/* etcd_server.h -- test helper: a real etcd on 127.0.0.1 (one member, or
 * a cluster of several).
 *
 * Starts `etcd` (Debian etcd-server) on two free ports with its data in a
 * fresh temporary directory, fast raft timings (heartbeat 10 ms, election
 * 100 ms), and waits (bounded) for GET /health to report {"health":"true"}.
 * The server can be stopped and restarted on the same ports and data
 * directory (failure tests), optionally with a user/password (auth enabled
 * through etcdctl) or TLS (a self-signed certificate made with openssl).
 * qv_etcd_cluster_start() runs a multi-member cluster the same way.
 *
 * Each data dir takes ~62 MB (etcd preallocates its WAL); destroy removes it.
 *
 * Threading: one qv_etcd_server is owned by one thread (see proc.h about the
 * spawning thread).
 */
#ifndef QV_TESTLIB_ETCD_SERVER_H
#define QV_TESTLIB_ETCD_SERVER_H

#include <stdbool.h>

#include "tests/lib/proc.h"

typedef struct qv_etcd_server_opts {
    const char *user;        /* non-NULL: create it (root role), enable auth */
    const char *password;    /* with user (root gets the same one) */
    const char *user_prefix; /* non-NULL: user may read/write only keys
                                with this prefix (instead of root role) */
    bool tls;                /* serve clients over TLS (self-signed cert) */
    const char *progress_notify; /* watch progress interval, e.g. "200ms" */
} qv_etcd_server_opts;

typedef struct qv_etcd_server {
    qv_proc proc;
    qv_etcd_server_opts opts;
    char *dir; /* temp dir: data/, etcd.log, tls files (owned) */
    int client_port;
    int peer_port;
    int metrics_port;  /* plain-HTTP /health, also with tls */
    char endpoint[64]; /* "127.0.0.1:<client_port>" */
    char *ca_file;     /* with tls: the certificate to trust (owned) */
    char name[24];     /* member name */
    char *cluster;     /* cluster members: "m0=http://...,..." (owned) */
} qv_etcd_server;

/* Starts a fresh server (opts may be NULL).  Retries with new ports when a
 * port was taken in the meantime.  On failure the error includes the tail of
 * etcd's log.  On success qv_etcd_server_destroy() must be called. */
qv_code qv_etcd_server_start(qv_etcd_server *s, const qv_etcd_server_opts *opts,
                             qv_err *err) QV_MUST_USE;

/* Stops the process (SIGTERM, SIGKILL after 5 s) and keeps the data. */
qv_code qv_etcd_server_stop(qv_etcd_server *s, qv_err *err);

/* Kills the process with SIGKILL (crash) and keeps the data. */
void qv_etcd_server_kill(qv_etcd_server *s);

/* Starts the stopped server again on the same ports and data directory. */
qv_code qv_etcd_server_restart(qv_etcd_server *s, qv_err *err) QV_MUST_USE;

/* Stops the server and removes its directory.  Safe on a zeroed struct. */
void qv_etcd_server_destroy(qv_etcd_server *s);

/* A cluster of n members (m[0..n), plain HTTP, no auth) on 127.0.0.1, each
 * with its own ports and directory; returns once every member is healthy.
 * Members are stopped/killed/restarted with the single-server calls;
 * qv_etcd_cluster_destroy() ends them all. */
qv_code qv_etcd_cluster_start(qv_etcd_server *m, size_t n,
                              qv_err *err) QV_MUST_USE;
/* "host:port,host:port,..." of every member (heap string). */
char *qv_etcd_cluster_endpoints(const qv_etcd_server *m, size_t n);
void qv_etcd_cluster_destroy(qv_etcd_server *m, size_t n);

#endif
