/* The shipped configs/quiver.yaml and docs/configuration.md must document
 * every key, and the shipped file must load to exactly the defaults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

Test(config_docs, shipped_yaml_loads_to_the_defaults)
{
    qv_config_source src = {QV_SOURCE_DIR "/configs/quiver.yaml", NULL, NULL,
                            0};
    qv_config *c;
    qv_err err = {0};
    cr_assert_eq(qv_config_load(&src, &c, &err), QV_OK, "%s", err.msg);
    for (const qv_config_key *k = qv_config_keys; k->key; k++) {
        cr_assert_str_eq(qv_config_origin(c, k->key), "file",
                         "key %s missing from configs/quiver.yaml", k->key);
        cr_assert_str_eq(qv_config_str(c, k->key), k->def,
                         "key %s: shipped value differs from the default",
                         k->key);
    }
    qv_config_free(c);
}

Test(config_docs, configuration_md_documents_every_key)
{
    char *doc = slurp(QV_SOURCE_DIR "/docs/configuration.md");
    for (const qv_config_key *k = qv_config_keys; k->key; k++) {
        char needle[200];
        snprintf(needle, sizeof(needle), "`%s`", k->key);
        cr_assert(strstr(doc, needle), "docs/configuration.md lacks %s",
                  needle);
        char env[160];
        qv_config_env_name(k->key, env, sizeof(env));
        cr_assert(strstr(doc, env), "docs/configuration.md lacks %s", env);
    }
    free(doc);
}
