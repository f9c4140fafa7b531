/* config.c -- loading: defaults, YAML file, environment, --set. */
#include "common/config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config/config_value.h"
#include "common/log.h"

typedef struct entry {
    const qv_config_key *key;
    char *value;
    const char *origin;
    char **items; /* LIST: split items */
    size_t nitems;
} entry;

struct qv_config {
    entry *entries; /* one per declared key, in table order */
    size_t n;
};

static entry *find_entry(const qv_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->entries[i].key->key, key) == 0)
            return &cfg->entries[i];
    return NULL;
}

/* Sets key=value from origin after validating it. */
static qv_code set_value(qv_config *cfg, const char *key, const char *value,
                         const char *origin, qv_err *err)
{
    entry *e = find_entry(cfg, key);
    if (!e)
        return qv_fail(err, QV_E_INVALID, "unknown config key '%s' (from %s)",
                       key, origin);
    qv_code rc = qv_config_check_value(e->key, value, err);
    if (rc) {
        qv_err_prefix(err, "%s", origin);
        return rc;
    }
    free(e->value);
    e->value = qv_xstrdup(value);
    e->origin = origin;
    return QV_OK;
}

/* ---- YAML ---------------------------------------------------------- */

typedef struct yaml_ctx {
    yaml_document_t *doc;
    qv_config *cfg;
    const char *file;
} yaml_ctx;

static qv_code walk_node(yaml_ctx *y, yaml_node_t *node, qv_buf *path,
                         qv_err *err);

/* A sequence of scalars becomes "a,b,c". */
static qv_code sequence_value(yaml_ctx *y, yaml_node_t *node, qv_buf *out,
                              const char *key, qv_err *err)
{
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        yaml_node_t *child = yaml_document_get_node(y->doc, *it);
        if (!child || child->type != YAML_SCALAR_NODE)
            return qv_fail(err, QV_E_INVALID,
                           "config file '%s': key '%s': list items must be "
                           "plain values",
                           y->file, key);
        if (out->len && qv_buf_appends(out, ","))
            return QV_E_NOMEM;
        if (qv_buf_append(out, child->data.scalar.value,
                          child->data.scalar.length))
            return QV_E_NOMEM;
    }
    return QV_OK;
}

static qv_code walk_mapping(yaml_ctx *y, yaml_node_t *node, qv_buf *path,
                            qv_err *err)
{
    size_t base = path->len;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE || !v)
            return qv_fail(err, QV_E_INVALID,
                           "config file '%s': line %lu: keys must be plain "
                           "names",
                           y->file, (unsigned long)node->start_mark.line + 1);
        path->len = base;
        if ((base && qv_buf_appends(path, ".")) ||
            qv_buf_append(path, k->data.scalar.value, k->data.scalar.length))
            return QV_E_NOMEM;
        qv_code rc = walk_node(y, v, path, err);
        if (rc)
            return rc;
    }
    path->len = base;
    if (path->data)
        path->data[base] = '\0';
    return QV_OK;
}

static qv_code walk_node(yaml_ctx *y, yaml_node_t *node, qv_buf *path,
                         qv_err *err)
{
    qv_code rc = QV_OK;
    const char *key = qv_buf_str(path);
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return walk_mapping(y, node, path, err);
    case YAML_SCALAR_NODE: {
        char *v = qv_xstrndup((const char *)node->data.scalar.value,
                              node->data.scalar.length);
        /* "key:" with nothing after it is an empty value, not "~". */
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (strcmp(v, "~") == 0 || strcmp(v, "null") == 0))
            v[0] = '\0';
        rc = set_value(y->cfg, key, v, "file", err);
        free(v);
        break;
    }
    case YAML_SEQUENCE_NODE: {
        qv_buf joined = QV_BUF_INIT;
        rc = sequence_value(y, node, &joined, key, err);
        if (!rc)
            rc = set_value(y->cfg, key, qv_buf_str(&joined), "file", err);
        qv_buf_release(&joined);
        break;
    }
    default:
        rc = QV_OK;
    }
    if (rc && err && !strstr(err->msg, y->file))
        qv_err_prefix(err, "config file '%s' line %lu", y->file,
                      (unsigned long)node->start_mark.line + 1);
    return rc;
}

static qv_code load_yaml(qv_config *cfg, const char *file, qv_err *err)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return qv_fail_errno(err, QV_E_IO, "cannot open config file '%s'",
                             file);
    yaml_parser_t parser;
    yaml_document_t doc;
    qv_code rc = QV_OK;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = qv_fail(err, QV_E_INVALID, "config file '%s' line %lu: %s", file,
                     (unsigned long)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "malformed YAML");
        yaml_parser_delete(&parser);
        fclose(f);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && root->type == YAML_MAPPING_NODE) {
        yaml_ctx y = {&doc, cfg, file};
        qv_buf path = QV_BUF_INIT;
        rc = walk_node(&y, root, &path, err);
        qv_buf_release(&path);
    } else if (root && !(root->type == YAML_SCALAR_NODE &&
                         root->data.scalar.length == 0)) {
        rc = qv_fail(err, QV_E_INVALID,
                     "config file '%s': the top level must be a mapping", file);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* ---- environment and --set ----------------------------------------- */

void qv_config_env_name(const char *key, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "QUIVER_");
    for (const char *p = key; *p && n + 1 < cap; p++)
        buf[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    buf[n < cap ? n : cap - 1] = '\0';
}

static qv_code load_env(qv_config *cfg, char **env, qv_err *err)
{
    char name[160];
    for (size_t i = 0; i < cfg->n; i++) {
        qv_config_env_name(cfg->entries[i].key->key, name, sizeof(name));
        size_t nl = strlen(name);
        for (char **e = env; *e; e++) {
            if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') {
                qv_code rc = set_value(cfg, cfg->entries[i].key->key,
                                       *e + nl + 1, "env", err);
                if (rc)
                    return qv_err_prefix(err, "environment variable %s", name);
            }
        }
    }
    /* A QUIVER_ variable that names no key is a typo worth reporting. */
    for (char **e = env; *e; e++) {
        if (strncmp(*e, "QUIVER_", 7) != 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < cfg->n && !known; i++) {
            qv_config_env_name(cfg->entries[i].key->key, name, sizeof(name));
            size_t nl = strlen(name);
            known = strncmp(*e, name, nl) == 0 && (*e)[nl] == '=';
        }
        /* Variables of the tooling itself are not config keys. */
        if (!known && strncmp(*e, "QUIVER_BIN=", 11) != 0 &&
            strncmp(*e, "QUIVER_SIMD=", 12) != 0) {
            const char *eq = strchr(*e, '=');
            int len = eq ? (int)(eq - *e) : (int)strlen(*e);
            return qv_fail(err, QV_E_INVALID,
                           "environment variable %.*s names no config key", len,
                           *e);
        }
    }
    return QV_OK;
}

static qv_code load_sets(qv_config *cfg, const char *const *sets, size_t n,
                         qv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i])
            return qv_fail(err, QV_E_INVALID, "--set '%s': expected key=value",
                           sets[i]);
        char *key = qv_xstrndup(sets[i], (size_t)(eq - sets[i]));
        qv_code rc = set_value(cfg, key, eq + 1, "--set", err);
        free(key);
        if (rc)
            return rc;
    }
    return QV_OK;
}

static void split_lists(qv_config *cfg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        entry *e = &cfg->entries[i];
        if (e->key->type != QV_CFG_LIST || !e->value[0])
            continue;
        size_t cap = 1;
        for (const char *p = e->value; *p; p++)
            cap += *p == ',';
        e->items = QV_NEW_ARRAY(char *, cap);
        for (const char *p = e->value;;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            while (len && isspace((unsigned char)*p)) {
                p++;
                len--;
            }
            while (len && isspace((unsigned char)p[len - 1]))
                len--;
            if (len)
                e->items[e->nitems++] = qv_xstrndup(p, len);
            if (!c)
                break;
            p = c + 1;
        }
    }
}

qv_code qv_config_load(const qv_config_source *src, qv_config **out,
                       qv_err *err)
{
    qv_config *cfg = QV_NEW(qv_config);
    for (const qv_config_key *k = qv_config_keys; k->key; k++)
        cfg->n++;
    cfg->entries = QV_NEW_ARRAY(entry, cfg->n);
    for (size_t i = 0; i < cfg->n; i++) {
        cfg->entries[i].key = &qv_config_keys[i];
        cfg->entries[i].value = qv_xstrdup(qv_config_keys[i].def);
        cfg->entries[i].origin = "default";
    }
    qv_code rc = QV_OK;
    if (src && src->file)
        rc = load_yaml(cfg, src->file, err);
    if (!rc && src && src->environ)
        rc = load_env(cfg, src->environ, err);
    if (!rc && src && src->sets)
        rc = load_sets(cfg, src->sets, src->nsets, err);
    if (rc) {
        qv_config_free(cfg);
        return rc;
    }
    split_lists(cfg);
    *out = cfg;
    return QV_OK;
}

void qv_config_free(qv_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].value);
        for (size_t j = 0; j < cfg->entries[i].nitems; j++)
            free(cfg->entries[i].items[j]);
        free(cfg->entries[i].items);
    }
    free(cfg->entries);
    free(cfg);
}

/* ---- getters --------------------------------------------------------- */

static const entry *get(const qv_config *cfg, const char *key, qv_config_type t)
{
    const entry *e = find_entry(cfg, key);
    if (!e || e->key->type != t) {
        QV_LOG(QV_LOG_ERROR, "config", "bug: key '%s' read as type %d", key,
               (int)t);
        QV_ASSERT(!"undeclared config key or wrong type");
    }
    return e;
}

const char *qv_config_str(const qv_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    QV_ASSERT(e != NULL);
    return e->value;
}

int64_t qv_config_int(const qv_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    QV_ASSERT(e && (e->key->type == QV_CFG_INT || e->key->type == QV_CFG_PORT));
    int64_t v = 0;
    qv__cfg_parse_int(e->value, &v);
    return v;
}

bool qv_config_bool(const qv_config *cfg, const char *key)
{
    bool v = false;
    qv__cfg_parse_bool(get(cfg, key, QV_CFG_BOOL)->value, &v);
    return v;
}

double qv_config_double(const qv_config *cfg, const char *key)
{
    double v = 0;
    qv__cfg_parse_double(get(cfg, key, QV_CFG_DOUBLE)->value, &v);
    return v;
}

uint64_t qv_config_size(const qv_config *cfg, const char *key)
{
    uint64_t v = 0;
    qv__cfg_parse_size(get(cfg, key, QV_CFG_SIZE)->value, &v);
    return v;
}

uint64_t qv_config_duration_ms(const qv_config *cfg, const char *key)
{
    uint64_t v = 0;
    qv__cfg_parse_duration(get(cfg, key, QV_CFG_DURATION)->value, &v);
    return v;
}

size_t qv_config_list_len(const qv_config *cfg, const char *key)
{
    return get(cfg, key, QV_CFG_LIST)->nitems;
}

const char *qv_config_list_item(const qv_config *cfg, const char *key, size_t i)
{
    const entry *e = get(cfg, key, QV_CFG_LIST);
    QV_ASSERT(i < e->nitems);
    return e->items[i];
}

const char *qv_config_origin(const qv_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    return e ? e->origin : NULL;
}
