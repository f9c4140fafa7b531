/* test_rpc_tls.c -- TLS and mutual TLS between the RPC server and client,
 * with self-signed certificates made by the openssl tool per test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_service.h"

static char dir[] = "/tmp/qv-rpc-tls-XXXXXX";
static char server_cert[128], server_key[128], other_cert[128], other_key[128],
    client_cert[128], client_key[128];

/* A self-signed EC certificate valid for 127.0.0.1 and localhost. */
static void make_cert(const char *cert, const char *key, const char *cn)
{
    char cmd[1024];
    (void)snprintf(cmd, sizeof cmd,
                   "openssl req -x509 -newkey ec -pkeyopt "
                   "ec_paramgen_curve:prime256v1 -nodes -keyout '%s' -out "
                   "'%s' -days 2 -subj '/CN=%s' -addext "
                   "'subjectAltName=IP:127.0.0.1,DNS:localhost' "
                   ">/dev/null 2>&1",
                   key, cert, cn);
    cr_assert_eq(system(cmd), 0, "openssl failed: %s", cmd);
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
#define P(var, name) (void)snprintf(var, sizeof var, "%s/" name, dir)
    P(server_cert, "server.pem");
    P(server_key, "server.key");
    P(other_cert, "other.pem");
    P(other_key, "other.key");
    P(client_cert, "client.pem");
    P(client_key, "client.key");
#undef P
    make_cert(server_cert, server_key, "quiver-test-server");
    make_cert(other_cert, other_key, "someone-else");
    make_cert(client_cert, client_key, "quiver-test-client");
}

static void teardown(void)
{
    char cmd[256];
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)system(cmd);
}

TestSuite(rpc_tls, .init = setup, .fini = teardown);

static void start_tls(echo_server *e, const char *client_ca)
{
    qv_rpc_server_opts o = {.host = "127.0.0.1",
                            .workers = 2,
                            .tls_cert_file = server_cert,
                            .tls_key_file = server_key,
                            .tls_client_ca_file = client_ca};
    echo_start(e, &o);
}

/* One Say over a channel with tls (NULL: plaintext). */
static qv_code say_over(const char *target, const qv_rpc_tls *tls, qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open_tls(target, tls, &ch, err);
    if (rc != QV_OK)
        return rc;
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"secret";
    qv_rpc_call_opts o = {.timeout_ms = 3000, .flags = QV_RPC_FAIL_FAST};
    ProtobufCMessage *m = NULL;
    rc = qv_rpc_unary(ch, ECHO_SAY, &rq.base, &qvtest__echo_reply__descriptor,
                      NULL, &m, &o, err);
    if (rc == QV_OK) {
        cr_assert_str_eq(((Qvtest__EchoReply *)m)->text, "echo:secret");
        protobuf_c_message_free_unpacked(m, NULL);
    }
    qv_rpc_channel_close(ch);
    return rc;
}

Test(rpc_tls, round_trip_with_the_servers_certificate_as_root)
{
    echo_server e;
    start_tls(&e, NULL);
    qv_rpc_tls tls = {.ca_file = server_cert};
    qv_err err;
    cr_assert_eq(say_over(e.target, &tls, &err), QV_OK, "%s", err.msg);
    /* The name to verify can be given instead of the target's host. */
    qv_rpc_tls by_name = {.ca_file = server_cert, .server_name = "localhost"};
    cr_assert_eq(say_over(e.target, &by_name, &err), QV_OK, "%s", err.msg);
    echo_stop(&e);
}

Test(rpc_tls, plaintext_client_and_wrong_root_are_refused)
{
    echo_server e;
    start_tls(&e, NULL);
    qv_err err;
    qv_code rc = say_over(e.target, NULL, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s: %s", qv_code_name(rc), err.msg);
    qv_rpc_tls wrong = {.ca_file = other_cert};
    rc = say_over(e.target, &wrong, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s: %s", qv_code_name(rc), err.msg);
    cr_assert(strstr(err.msg, e.target), "%s", err.msg);
    cr_assert_eq(atomic_load(&e.stats.calls_done), 0);
    echo_stop(&e);
}

Test(rpc_tls, mutual_tls_requires_a_client_certificate)
{
    echo_server e;
    start_tls(&e, client_cert);
    qv_err err;
    qv_rpc_tls anon = {.ca_file = server_cert};
    cr_assert_eq(say_over(e.target, &anon, &err), QV_E_UNAVAILABLE, "%s",
                 err.msg);
    qv_rpc_tls wrong = {
        .ca_file = server_cert, .cert_file = other_cert, .key_file = other_key};
    cr_assert_eq(say_over(e.target, &wrong, &err), QV_E_UNAVAILABLE, "%s",
                 err.msg);
    qv_rpc_tls ok = {.ca_file = server_cert,
                     .cert_file = client_cert,
                     .key_file = client_key};
    cr_assert_eq(say_over(e.target, &ok, &err), QV_OK, "%s", err.msg);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.calls_done), 1);
}

Test(rpc_tls, unreadable_files_are_named)
{
    qv_rpc_server_opts o = {.host = "127.0.0.1",
                            .tls_cert_file = "/nonexistent/cert.pem",
                            .tls_key_file = server_key};
    qv_rpc_server *s;
    qv_err err;
    cr_assert_eq(qv_rpc_server_create(&o, &s, &err), QV_OK);
    cr_assert_eq(qv_rpc_server_start(s, &err), QV_E_IO, "%s", err.msg);
    cr_assert(strstr(err.msg, "/nonexistent/cert.pem"), "%s", err.msg);
    cr_assert_eq(qv_rpc_server_port(s), 0);
    qv_rpc_server_destroy(s);

    qv_rpc_server_opts half = {.host = "127.0.0.1",
                               .tls_cert_file = server_cert};
    cr_assert_eq(qv_rpc_server_create(&half, &s, &err), QV_OK);
    cr_assert_eq(qv_rpc_server_start(s, &err), QV_E_INVALID, "%s", err.msg);
    qv_rpc_server_destroy(s);

    qv_rpc_tls tls = {.ca_file = "/nonexistent/ca.pem"};
    qv_rpc_channel *ch;
    cr_assert_eq(qv_rpc_channel_open_tls("127.0.0.1:1", &tls, &ch, &err),
                 QV_E_IO);
    cr_assert(strstr(err.msg, "/nonexistent/ca.pem"), "%s", err.msg);
    qv_rpc_tls not_pem = {.ca_file = "/etc/hostname"};
    cr_assert_neq(qv_rpc_channel_open_tls("127.0.0.1:1", &not_pem, &ch, &err),
                  QV_OK);
}

Test(rpc_tls, channels_are_shared_only_with_equal_settings)
{
    qv_rpc_tls a = {.ca_file = server_cert};
    qv_rpc_tls b = {.ca_file = other_cert};
    qv_rpc_channel *c1, *c2, *c3, *c4;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open_tls("127.0.0.1:9", &a, &c1, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open_tls("127.0.0.1:9", &a, &c2, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open_tls("127.0.0.1:9", &b, &c3, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open("127.0.0.1:9", &c4, &err), QV_OK);
    cr_assert_eq(c1, c2);
    cr_assert_neq(c1, c3);
    cr_assert_neq(c1, c4);
    cr_assert_neq(c3, c4);
    qv_rpc_channel_close(c1);
    qv_rpc_channel_close(c2);
    qv_rpc_channel_close(c3);
    qv_rpc_channel_close(c4);
}
