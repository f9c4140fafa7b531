/* config.h -- Quiver configuration: quiver.yaml + environment + --set.
 *
 * Every key Quiver understands is declared once, with its type, default,
 * allowed range and documentation, in config_keys.c.  Values come from, in
 * increasing priority:
 *   1. the defaults in that table,
 *   2. a YAML file (nested mappings flattened to "section.key"; a sequence
 *      of scalars becomes a comma-separated list),
 *   3. environment variables QUIVER_<SECTION>_<KEY> (the dotted key
 *      upper-cased with dots as underscores: proxy.port ->
 *      QUIVER_PROXY_PORT, localStorage.path -> QUIVER_LOCALSTORAGE_PATH),
 *   4. command-line --set key=value.
 * Unknown keys and bad values are rejected with one message naming the key
 * and where it came from.
 *
 * Ownership: qv_config_load() returns a config the caller frees with
 * qv_config_free(); strings returned by getters live as long as the config.
 * Threading: immutable after load; any thread may read it.
 */
#ifndef QV_CONFIG_H
#define QV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef enum qv_config_type {
    QV_CFG_STRING = 0,
    QV_CFG_INT = 1,      /* integer in [min, max] */
    QV_CFG_BOOL = 2,     /* true/false/yes/no/on/off/1/0 */
    QV_CFG_ENUM = 3,     /* one of the '|'-separated choices */
    QV_CFG_SIZE = 4,     /* bytes; suffixes B, KiB, MiB, GiB, KB, MB, GB */
    QV_CFG_DURATION = 5, /* milliseconds; suffixes ms, s, m, h */
    QV_CFG_DOUBLE = 6,   /* real number in [min, max] */
    QV_CFG_LIST = 7,     /* comma-separated strings */
    QV_CFG_PORT = 8,     /* TCP port 1..65535, or 0 = any free port */
} qv_config_type;

/* One declared key (config_keys.c holds the table). */
typedef struct qv_config_key {
    const char *key; /* "section.key", camelCase as Milvus spells it */
    qv_config_type type;
    const char *def;     /* default, as it would be written in YAML */
    double min, max;     /* for INT, DOUBLE, SIZE, DURATION (0,0 = none) */
    const char *choices; /* for ENUM: "a|b|c" */
    const char *doc;     /* one-line description */
} qv_config_key;

/* The table of keys, terminated by an entry with key == NULL. */
extern const qv_config_key qv_config_keys[];
const qv_config_key *qv_config_find_key(const char *key);

typedef struct qv_config qv_config;

typedef struct qv_config_source {
    const char *file;        /* YAML path, or NULL for none */
    char **environ;          /* environment (NULL = none) */
    const char *const *sets; /* "key=value" strings from --set */
    size_t nsets;
} qv_config_source;

qv_code qv_config_load(const qv_config_source *src, qv_config **out,
                       qv_err *err) QV_MUST_USE;
void qv_config_free(qv_config *cfg);

/* Getters abort on an undeclared key or a type mismatch (programmer
 * error); values were validated at load. */
const char *qv_config_str(const qv_config *cfg, const char *key);
int64_t qv_config_int(const qv_config *cfg, const char *key);
bool qv_config_bool(const qv_config *cfg, const char *key);
double qv_config_double(const qv_config *cfg, const char *key);
/* SIZE in bytes, DURATION in milliseconds. */
uint64_t qv_config_size(const qv_config *cfg, const char *key);
uint64_t qv_config_duration_ms(const qv_config *cfg, const char *key);
/* LIST: number of items and the i-th item. */
size_t qv_config_list_len(const qv_config *cfg, const char *key);
const char *qv_config_list_item(const qv_config *cfg, const char *key,
                                size_t i);
/* Where the value of key came from: "default", "file", "env", "--set". */
const char *qv_config_origin(const qv_config *cfg, const char *key);

/* Validates one value for a key (used by load; exposed for tests). */
qv_code qv_config_check_value(const qv_config_key *k, const char *value,
                              qv_err *err) QV_MUST_USE;

/* The environment variable name for a key into buf. */
void qv_config_env_name(const char *key, char *buf, size_t cap);

#endif
