/* config_value.h -- internal parsers of configuration values, shared by
 * config.c and config_value.c.  Each returns false on malformed input. */
#ifndef QV_CONFIG_VALUE_H
#define QV_CONFIG_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config/config.h"

bool qv__cfg_parse_bool(const char *s, bool *out);
bool qv__cfg_parse_int(const char *s, int64_t *out);
bool qv__cfg_parse_double(const char *s, double *out);
bool qv__cfg_parse_size(const char *s, uint64_t *out);
bool qv__cfg_parse_duration(const char *s, uint64_t *out);

#endif
