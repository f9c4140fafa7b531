/* Failure test of the LMDB meta KV: a writer process is killed with SIGKILL
 * in the middle of a stream of puts and txns; reopening the store must show
 * every write the writer saw acknowledged, and the store must stay usable. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/metakv/metakv.h"
#include "tests/lib/proc.h"

/* Child: put crash/<i> = <i> forever (every 10th as a txn of two keys) and
 * report each acknowledged i on the pipe. */
static void writer(const char *dir, int fd)
{
    metakv_config cfg = {.dir = dir};
    metakv *kv = NULL;
    if (metakv_open("local", &cfg, &kv, NULL) != QV_OK)
        _exit(2);
    for (int i = 0;; i++) {
        char k[32], v[32];
        int kn = snprintf(k, sizeof k, "crash/%06d", i);
        int vn = snprintf(v, sizeof v, "%d", i);
        qv_code rc;
        if (i % 10 == 0) {
            metakv_txn *t = metakv_txn_begin(kv);
            metakv_txn_put(t, METAKV_THEN, k, (size_t)kn, v, (size_t)vn, 0);
            metakv_txn_put(t, METAKV_THEN, "crash/last", 10, v, (size_t)vn, 0);
            rc = metakv_txn_commit(t, NULL, NULL, NULL);
        } else {
            rc = metakv_put(kv, k, (size_t)kn, v, (size_t)vn, 0, NULL, NULL);
        }
        if (rc != QV_OK || write(fd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(3);
    }
}

Test(metakv_local_crash, sigkill_keeps_every_acknowledged_write, .timeout = 60)
{
    char *tmp = NULL;
    cr_assert_eq(qv_test_mkdtemp("quiver-metakv-crash-", &tmp, NULL), QV_OK);
    qv_test_cleanup_at_exit(tmp);
    char *dir = qv_xasprintf("%s/meta", tmp);
    for (int round = 0; round < 3; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            writer(dir, pfd[1]);
        }
        close(pfd[1]);
        int acked = -1, got;
        /* Let it run for a while (a different number of writes each round),
         * then kill it mid-stream. */
        while (acked < 150 * (round + 1) &&
               read(pfd[0], &got, sizeof got) == (ssize_t)sizeof got)
            acked = got;
        kill(pid, SIGKILL);
        while (read(pfd[0], &got, sizeof got) == (ssize_t)sizeof got)
            acked = got; /* acks that were in flight still count */
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFSIGNALED(st), "writer exited early: %d", st);
        close(pfd[0]);

        metakv_config cfg = {.dir = dir};
        metakv *kv = NULL;
        qv_err err = {0};
        cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s",
                     err.msg);
        metakv_kvs out = METAKV_KVS_INIT;
        cr_assert_eq(metakv_range(kv, "crash/0", 7, NULL, &out, &err), QV_OK);
        /* Every acknowledged key is there with its value (one more may be
         * there: written but killed before it was reported). */
        cr_assert_geq((int)out.n, acked + 1, "round %d", round);
        cr_assert_leq((int)out.n, acked + 2, "round %d", round);
        for (int i = 0; i <= acked; i++) {
            char v[32];
            snprintf(v, sizeof v, "%d", i);
            cr_assert_str_eq((char *)out.kvs[i].value, v);
        }
        /* The store is still writable; the next round appends to it. */
        cr_assert_eq(metakv_delete(kv, "crash/", 6, true, NULL, &err), QV_OK,
                     "%s", err.msg);
        metakv_kvs_release(&out);
        metakv_close(kv);
    }
    (void)qv_test_rmtree(tmp, NULL);
    free(dir);
    free(tmp);
}
