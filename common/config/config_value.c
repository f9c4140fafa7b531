/* config_value.c -- parsing and validation of single configuration values
 * (sizes, durations, ports, booleans, enums). */
#include "common/config/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool qv__cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool qv__cfg_parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool qv__cfg_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

/* Parses "<number><unit>" with an optional space; unit from table. */
static bool parse_with_units(const char *s, const unit *units, size_t nunits,
                             uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(end, units[i].name) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return false;
            *out = v * units[i].mult;
            return true;
        }
    }
    return false;
}

bool qv__cfg_parse_size(const char *s, uint64_t *out)
{
    static const unit units[] = {
        {"", 1},          {"B", 1},     {"KiB", 1 << 10}, {"MiB", 1 << 20},
        {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000000},  {"GB", 1000000000},
    };
    return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), out);
}

bool qv__cfg_parse_duration(const char *s, uint64_t *out)
{
    static const unit units[] = {
        {"ms", 1},
        {"s", 1000},
        {"m", 60000},
        {"h", 3600000},
    };
    return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), out);
}

static bool enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, v, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static qv_code out_of_range(const qv_config_key *k, const char *value,
                            qv_err *err)
{
    return qv_fail(err, QV_E_INVALID,
                   "config key '%s': value '%s' is out of range [%.15g, %.15g]",
                   k->key, value, k->min, k->max);
}

static bool in_range(const qv_config_key *k, double v)
{
    if (k->min == 0 && k->max == 0)
        return true;
    return v >= k->min && v <= k->max;
}

qv_code qv_config_check_value(const qv_config_key *k, const char *value,
                              qv_err *err)
{
    bool b;
    int64_t i;
    uint64_t u;
    double d;

    switch (k->type) {
    case QV_CFG_STRING:
    case QV_CFG_LIST:
        return QV_OK;
    case QV_CFG_BOOL:
        if (!qv__cfg_parse_bool(value, &b))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not a boolean "
                           "(true or false)",
                           k->key, value);
        return QV_OK;
    case QV_CFG_INT:
        if (!qv__cfg_parse_int(value, &i))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not an integer", k->key,
                           value);
        return in_range(k, (double)i) ? QV_OK : out_of_range(k, value, err);
    case QV_CFG_PORT:
        if (!qv__cfg_parse_int(value, &i) || i < 0 || i > 65535)
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not a TCP port "
                           "(0..65535)",
                           k->key, value);
        return QV_OK;
    case QV_CFG_DOUBLE:
        if (!qv__cfg_parse_double(value, &d))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not a number", k->key,
                           value);
        return in_range(k, d) ? QV_OK : out_of_range(k, value, err);
    case QV_CFG_SIZE:
        if (!qv__cfg_parse_size(value, &u))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not a size "
                           "(e.g. 512MiB, 4096, 1GB)",
                           k->key, value);
        return in_range(k, (double)u) ? QV_OK : out_of_range(k, value, err);
    case QV_CFG_DURATION:
        if (!qv__cfg_parse_duration(value, &u))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not a duration "
                           "(e.g. 200ms, 5s, 1h)",
                           k->key, value);
        return in_range(k, (double)u) ? QV_OK : out_of_range(k, value, err);
    case QV_CFG_ENUM:
        if (!enum_has(k->choices, value))
            return qv_fail(err, QV_E_INVALID,
                           "config key '%s': '%s' is not one of %s", k->key,
                           value, k->choices);
        return QV_OK;
    }
    return qv_fail(err, QV_E_INTERNAL, "config key '%s': unknown type", k->key);
}
