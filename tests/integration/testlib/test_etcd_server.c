/* Tests of tests/lib/etcd_server.c against the real etcd binary. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/etcd_server.h"

Test(etcd_server, starts_restarts_and_cleans_up, .timeout = 60)
{
    qv_etcd_server s;
    qv_err err = {0};
    cr_assert_eq(qv_etcd_server_start(&s, NULL, &err), QV_OK, "%s", err.msg);
    cr_assert_gt(s.client_port, 0);
    cr_assert(strstr(s.endpoint, "127.0.0.1:") == s.endpoint);
    pid_t pg = s.proc.pid;
    cr_assert_gt(pg, 0);
    cr_assert_eq(qv_etcd_server_stop(&s, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(s.proc.pid, 0);
    (void)pg;
    cr_assert_eq(qv_etcd_server_restart(&s, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_proc_wait_port(&s.proc, s.client_port, 1000, &err), QV_OK);
    char *dir = strdup(s.dir);
    qv_etcd_server_destroy(&s);
    struct stat st;
    cr_assert_neq(stat(dir, &st), 0);
    free(dir);
}

Test(etcd_server, auth_and_tls_start, .timeout = 60)
{
    qv_etcd_server s;
    qv_err err = {0};
    qv_etcd_server_opts o = {.user = "root", .password = "pw-1", .tls = true};
    cr_assert_eq(qv_etcd_server_start(&s, &o, &err), QV_OK, "%s", err.msg);
    cr_assert_not_null(s.ca_file);
    qv_etcd_server_destroy(&s);
}
