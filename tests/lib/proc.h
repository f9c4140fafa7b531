/* proc.h -- test helper: run a server process for the length of a test.
 *
 * Tests of cluster backends start real servers (etcd, a Kafka-protocol
 * broker, an S3 server) on 127.0.0.1.  This helper spawns such a server in
 * its own process group with its output going to a log file, waits (always
 * bounded) until a TCP port accepts or an HTTP health URL answers, and stops
 * it: SIGTERM to the whole group, then SIGKILL after a grace period.
 *
 * No server outlives the test process:
 *   - every running qv_proc is kept in a process-wide list and an atexit()
 *     handler kills what is still running (a failed cr_assert still exits
 *     the Criterion worker normally), then removes the temp dirs registered
 *     with qv_test_cleanup_at_exit();
 *   - the child sets PR_SET_PDEATHSIG = SIGKILL, so it also dies when the
 *     test process is killed (e.g. by a Criterion timeout).  PDEATHSIG fires
 *     when the *thread* that spawned the child exits, so spawn from a thread
 *     that lives as long as the server should (normally the test's main
 *     thread).
 *
 * Threading: a qv_proc is owned by one thread; the process-wide list is
 * guarded by a mutex, so different threads may run different processes.
 */
#ifndef QV_TESTLIB_PROC_H
#define QV_TESTLIB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/status.h"

typedef struct qv_proc {
    pid_t pid;      /* > 0 while running; also the process group id */
    int status;     /* wait() status once reaped */
    bool reaped;    /* status is valid */
    char name[64];  /* argv[0] basename, for messages */
    char *log_path; /* owned copy; stdout+stderr are appended here */
} qv_proc;

/* Starts argv[0] (looked up in PATH) with argv (NULL-terminated) in a new
 * process group.  stdout and stderr are appended to log_path (NULL =
 * /dev/null); stdin is /dev/null.  Fails with QV_E_IO (or QV_E_NOT_FOUND
 * when the program does not exist, detected through a close-on-exec pipe).
 * On success qv_proc_stop() or qv_proc_release() must be called. */
qv_code qv_proc_spawn(qv_proc *p, const char *const argv[],
                      const char *log_path, qv_err *err) QV_MUST_USE;

/* True while the process has not exited (reaps it when it has). */
bool qv_proc_alive(qv_proc *p);

/* Waits until 127.0.0.1:port accepts a TCP connection, polling every
 * 10 ms for at most timeout_ms.  Fails early with QV_E_UNAVAILABLE when the
 * process exits, and with QV_E_TIMEOUT at the deadline. */
qv_code qv_proc_wait_port(qv_proc *p, int port, uint64_t timeout_ms,
                          qv_err *err) QV_MUST_USE;

/* Waits until GET http://127.0.0.1:port<path> answers with status 200 and
 * (when expect is not NULL) a response containing expect.  Same failure
 * rules as qv_proc_wait_port(). */
qv_code qv_proc_wait_http(qv_proc *p, int port, const char *path,
                          const char *expect, uint64_t timeout_ms,
                          qv_err *err) QV_MUST_USE;

/* Sends sig to the whole process group (SIGKILL for crash tests, SIGSTOP /
 * SIGCONT to freeze a server).  No-op once the process is gone. */
void qv_proc_signal(qv_proc *p, int sig);

/* SIGTERM to the group, waits up to grace_ms, then SIGKILL and reaps.
 * Sets *exit_status (may be NULL) to the wait() status.  Idempotent; the
 * qv_proc may be spawned again afterwards.  Keeps log_path. */
qv_code qv_proc_stop(qv_proc *p, uint64_t grace_ms, int *exit_status,
                     qv_err *err);

/* Stops the process if needed (SIGKILL, no grace) and frees log_path. */
void qv_proc_release(qv_proc *p);

/* Returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel's
 * choice for a bind to port 0), or -1. */
int qv_test_free_port(void);

/* Creates a fresh directory $TMPDIR/<prefix>XXXXXX; *out is heap-owned. */
qv_code qv_test_mkdtemp(const char *prefix, char **out,
                        qv_err *err) QV_MUST_USE;

/* Registers dir to be removed (rm -rf) at process exit, after the servers
 * are killed, so a failed assertion leaves no temp data behind.  cancel
 * drops the registration (when the caller removed it itself). */
void qv_test_cleanup_at_exit(const char *dir);
void qv_test_cleanup_cancel(const char *dir);

/* Removes a directory tree (like rm -rf); a missing path is not an error. */
qv_code qv_test_rmtree(const char *path, qv_err *err);

/* Reads at most max bytes of a file into a heap string (caller frees);
 * NULL when it cannot be read.  Used to show a server's log on failure. */
char *qv_test_read_tail(const char *path, size_t max);

#endif
