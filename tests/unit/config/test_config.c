/* Tests of common/config: sources, priorities, validation messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/config.h"

static char path[64];

static const char *write_yaml(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/qv-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void cleanup(void)
{
    if (path[0])
        unlink(path);
}

TestSuite(config, .fini = cleanup);

Test(config, defaults_apply_without_sources)
{
    qv_config *c;
    cr_assert_eq(qv_config_load(NULL, &c, NULL), QV_OK);
    cr_assert_eq(qv_config_int(c, "proxy.port"), 19530);
    cr_assert_eq(qv_config_int(c, "http.port"), 9091);
    cr_assert_str_eq(qv_config_str(c, "localStorage.path"), "./quiver-data");
    cr_assert_eq(qv_config_size(c, "proxy.maxRecvMsgSize"), 256u << 20);
    cr_assert_eq(qv_config_duration_ms(c, "proxy.shutdownTimeout"), 10000u);
    cr_assert(qv_config_bool(c, "http.enabled"));
    cr_assert_str_eq(qv_config_origin(c, "proxy.port"), "default");
    qv_config_free(c);
}

Test(config, file_env_and_set_override_in_order)
{
    const char *f = write_yaml("proxy:\n  port: 19600\n"
                               "http:\n  port: 9200\n  enabled: off\n"
                               "log:\n  level: debug\n");
    static char e1[] = "QUIVER_HTTP_PORT=9300", e2[] = "PATH=/bin";
    char *env[] = {e1, e2, NULL};
    const char *sets[] = {"localStorage.path=/tmp/qv", "proxy.port=19531"};
    qv_config_source src = {f, env, sets, 2};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_config_int(c, "proxy.port"), 19531);
    cr_assert_str_eq(qv_config_origin(c, "proxy.port"), "--set");
    cr_assert_eq(qv_config_int(c, "http.port"), 9300);
    cr_assert_str_eq(qv_config_origin(c, "http.port"), "env");
    cr_assert(!qv_config_bool(c, "http.enabled"));
    cr_assert_str_eq(qv_config_str(c, "log.level"), "debug");
    cr_assert_str_eq(qv_config_str(c, "localStorage.path"), "/tmp/qv");
    qv_config_free(c);
}

Test(config, unknown_file_key_is_rejected_by_name)
{
    const char *f = write_yaml("proxy:\n  prot: 1\n");
    qv_config_source src = {f, NULL, NULL, 0};
    qv_config *c = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "unknown config key 'proxy.prot'"), "%s",
              err.msg);
    cr_assert_null(c);
}

Test(config, bad_port_is_rejected_with_key_and_origin)
{
    const char *sets[] = {"proxy.port=70000"};
    qv_config_source src = {NULL, NULL, sets, 1};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "--set"), "%s", err.msg);
    cr_assert(strstr(err.msg, "'proxy.port'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "70000"), "%s", err.msg);
}

Test(config, bad_values_of_each_type_are_rejected)
{
    static const char *bad[] = {
        "proxy.workerThreads=abc",
        "proxy.workerThreads=5000",
        "http.enabled=maybe",
        "log.level=loud",
        "proxy.maxRecvMsgSize=12XB",
        "proxy.shutdownTimeout=5 fortnights",
        "proxy.maxRecvMsgSize=1",
        "noequals",
        "=value",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_config_source src = {NULL, NULL, &bad[i], 1};
        qv_config *c = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_INVALID,
                     "accepted %s", bad[i]);
        cr_assert_neq(err.msg[0], '\0');
    }
}

Test(config, unknown_quiver_env_variable_is_reported)
{
    static char e1[] = "QUIVER_PROXY_PROT=1";
    char *env[] = {e1, NULL};
    qv_config_source src = {NULL, env, NULL, 0};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "QUIVER_PROXY_PROT"), "%s", err.msg);
}

Test(config, malformed_yaml_names_file_and_line)
{
    const char *f = write_yaml("proxy:\n  port: [1, 2\n");
    qv_config_source src = {f, NULL, NULL, 0};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, f), "%s", err.msg);
    cr_assert(strstr(err.msg, "line"), "%s", err.msg);
}

Test(config, missing_file_is_an_io_error)
{
    qv_config_source src = {"/nonexistent/quiver.yaml", NULL, NULL, 0};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_E_IO);
    cr_assert(strstr(err.msg, "/nonexistent/quiver.yaml"));
}

Test(config, size_and_duration_units)
{
    const char *sets[] = {"proxy.maxRecvMsgSize=1GiB",
                          "proxy.shutdownTimeout=2m"};
    qv_config_source src = {NULL, NULL, sets, 2};
    qv_config *c;
    cr_assert_eq(qv_config_load(&src, &c, NULL), QV_OK);
    cr_assert_eq(qv_config_size(c, "proxy.maxRecvMsgSize"), 1u << 30);
    cr_assert_eq(qv_config_duration_ms(c, "proxy.shutdownTimeout"), 120000u);
    qv_config_free(c);
}

Test(config, env_names_follow_the_documented_rule)
{
    char buf[64];
    qv_config_env_name("localStorage.path", buf, sizeof(buf));
    cr_assert_str_eq(buf, "QUIVER_LOCALSTORAGE_PATH");
}
