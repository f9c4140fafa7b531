/* main.c -- the `quiver` command: argument parsing and dispatch only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/quiver/cli.h"
#include "common/alloc.h"
#include "common/log.h"
#include "proxy/build_info.h"

extern char **environ;

static const char usage[] =
    "usage: quiver <command> [options]\n"
    "\n"
    "commands:\n"
    "  standalone         run every role in one process on embedded storage\n"
    "  run <role>         run one role: proxy, coord, querynode, datanode,\n"
    "                     indexnode\n"
    "  version            print the version and build information\n"
    "\n"
    "options:\n"
    "  --config FILE      read configuration from FILE (YAML; see\n"
    "                     configs/quiver.yaml for every key)\n"
    "  --set KEY=VALUE    override one configuration key (repeatable), e.g.\n"
    "                     --set proxy.port=19531 --set http.port=9092\n"
    "                     --set localStorage.path=/tmp/qv\n"
    "  -h, --help         show this help\n"
    "\n"
    "Environment variables QUIVER_<SECTION>_<KEY> override the file; --set\n"
    "overrides both (docs/configuration.md).\n";

static const char *const roles[] = {"proxy",    "coord",     "querynode",
                                    "datanode", "indexnode", NULL};

static int print_version(void)
{
    const qv_build_info *bi = qv_build_info_get();
    printf("quiver %s\ncommit %s, built %s, %s, %s\n", bi->version,
           bi->git_commit, bi->build_time, bi->build_type, bi->compiler);
    return QV_EXIT_OK;
}

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "quiver: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nrun 'quiver --help' for usage\n");
    return QV_EXIT_USAGE;
}

static bool known_role(const char *r)
{
    for (size_t i = 0; roles[i]; i++)
        if (strcmp(roles[i], r) == 0)
            return true;
    return false;
}

typedef struct args {
    const char *command, *role, *config;
    const char **sets;
    size_t nsets;
} args;

/* Parses argv into a; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    a->sets = QV_NEW_ARRAY(const char *, (size_t)argc);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            fputs(usage, stdout);
            return QV_EXIT_OK;
        } else if (strcmp(s, "--version") == 0) {
            return print_version();
        } else if (strcmp(s, "--config") == 0 || strcmp(s, "--set") == 0) {
            if (i + 1 >= argc)
                return bad_usage("option '%s' needs a value", s);
            if (s[2] == 'c')
                a->config = argv[++i];
            else
                a->sets[a->nsets++] = argv[++i];
        } else if (strncmp(s, "--config=", 9) == 0) {
            a->config = s + 9;
        } else if (strncmp(s, "--set=", 6) == 0) {
            a->sets[a->nsets++] = s + 6;
        } else if (s[0] == '-') {
            return bad_usage("unknown option '%s'", s);
        } else if (!a->command) {
            a->command = s;
        } else if (strcmp(a->command, "run") == 0 && !a->role) {
            a->role = s;
        } else {
            return bad_usage("unexpected argument '%s'", s);
        }
    }
    if (!a->command) {
        fputs(usage, stderr);
        return QV_EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        goto out;
    if (strcmp(a.command, "version") == 0) {
        rc = print_version();
        goto out;
    }
    if (strcmp(a.command, "run") == 0) {
        if (!a.role) {
            rc = bad_usage("'run' needs a role: %s",
                           "proxy, coord, querynode, datanode or indexnode");
            goto out;
        }
        if (!known_role(a.role)) {
            rc = bad_usage("unknown role '%s'", a.role);
            goto out;
        }
    } else if (strcmp(a.command, "standalone") != 0) {
        rc = bad_usage("unknown command '%s'", a.command);
        goto out;
    }

    qv_config_source src = {a.config, environ, a.sets, a.nsets};
    qv_config *cfg;
    qv_err err = {0};
    if (qv_config_load(&src, &cfg, &err) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err.msg);
        rc = QV_EXIT_USAGE;
        goto out;
    }
    rc = qv_cli_serve(cfg, a.role);
    qv_config_free(cfg);
out:
    free(a.sets);
    return rc;
}
