/* cli.h -- pieces of the `quiver` command shared by its source files.
 *
 * main.c parses the command line and loads the configuration; each
 * subcommand (standalone.c, ...) runs with the loaded config and returns the
 * process exit status.  Threading: called on the main thread only.
 */
#ifndef QV_CLI_H
#define QV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config/config.h"
#include "common/metakv/metakv.h"
#include "common/objstore/objstore.h"
#include "common/status.h"
#include "common/wal/wal.h"
#include "coord/coord.h"

/* Exit statuses. */
enum { QV_EXIT_OK = 0, QV_EXIT_FAILURE = 1, QV_EXIT_USAGE = 2 };

/* Runs `quiver standalone` (role == NULL) or `quiver run <role>`. */
int qv_cli_serve(const qv_config *cfg, const char *role);

/* The data directory lock: creates the directory if missing, checks that it
 * is writable and takes an exclusive lock on <dir>/LOCK so that a second
 * process on the same directory fails at once.  Returns the lock fd. */
qv_code qv_datadir_lock(const char *dir, int *lock_fd, qv_err *err);
void qv_datadir_unlock(int lock_fd);

/* Meta KV and coord (meta.c).  The key root from metakv.rootPath, ending
 * in '/'. */
qv_code qv_cli_meta_root(const qv_config *cfg, char *buf, size_t cap,
                         qv_err *err);
/* Opens metakv.backend: "local" (LMDB under localStorage.path/meta, only
 * when standalone) or "etcd" (etcd.endpoints). */
qv_code qv_cli_open_metakv(const qv_config *cfg, bool standalone, metakv **out,
                           qv_err *err);
/* Standalone only: the data directory is locked by this process, so
 * sessions left by an earlier process (killed before its lease ran out) are
 * stale; removes them rather than waiting for their leases. */
qv_code qv_cli_clear_sessions(const qv_config *cfg, metakv *kv, qv_err *err);
/* The write log: standalone uses the local backend under
 * localStorage.path/wal; other roles get NULL (no data path yet). */
qv_code qv_cli_open_wal(const qv_config *cfg, bool standalone, wal **out,
                        qv_err *err);
/* The object store: objstore.backend "fs" (standalone only, under
 * localStorage.path/objects) or "s3" (s3.*). */
qv_code qv_cli_open_objstore(const qv_config *cfg, bool standalone,
                             objstore **out, qv_err *err);
/* Creates and starts the coord (log may be NULL: no data path); standalone: on
 * 127.0.0.1:0, and waits until it is active. */
qv_code qv_cli_start_coord(const qv_config *cfg, metakv *kv, wal *log,
                           objstore *os, bool standalone, qv_coord **out,
                           qv_err *err);
/* common.dataRetention in ms; 0 in the configuration (keep nothing) is 1,
 * since 0 in the role options means the default. */
uint64_t qv_cli_retention_ms(const qv_config *cfg);

/* Observability wiring: registers the process metrics, starts the HTTP
 * server with /healthz and /metrics when http.enabled. */
typedef struct qv_observe qv_observe;
qv_code qv_observe_start(const qv_config *cfg, const char *role,
                         qv_observe **out, qv_err *err);
int qv_observe_http_port(const qv_observe *o);
/* Marks the process healthy (/healthz returns 200 OK) or not (503). */
void qv_observe_set_healthy(qv_observe *o, int healthy);
/* Records one finished RPC (the proxy's call-done hook). */
void qv_observe_rpc_done(const char *method, int grpc_code, int64_t duration_ns,
                         void *ud);
void qv_observe_stop(qv_observe *o);

#endif
