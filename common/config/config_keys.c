/* config_keys.c -- every configuration key of Quiver, in one table.
 *
 * configs/quiver.yaml ships every key with its default and a comment;
 * docs/configuration.md documents them; tests/unit/config checks that the
 * three agree.  Add new keys here first.
 */
#include "common/config/config.h"

#include <string.h>

const qv_config_key qv_config_keys[] = {
    /* proxy: the public MilvusService endpoint */
    {"proxy.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the gRPC MilvusService listens on"},
    {"proxy.port", QV_CFG_PORT, "19530", 0, 0, NULL,
     "gRPC port of the MilvusService (0 = any free port)"},
    {"proxy.workerThreads", QV_CFG_INT, "0", 0, 1024, NULL,
     "threads that run RPC handlers (0 = number of CPUs)"},
    {"proxy.maxRecvMsgSize", QV_CFG_SIZE, "256MiB", 4096, 2147483647.0, NULL,
     "largest request message accepted"},
    {"proxy.shutdownTimeout", QV_CFG_DURATION, "10s", 0, 3600000, NULL,
     "how long in-flight calls may finish at shutdown before they are "
     "cancelled"},

    /* http: health, metrics */
    {"http.enabled", QV_CFG_BOOL, "true", 0, 0, NULL,
     "serve /healthz and /metrics over HTTP"},
    {"http.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the HTTP server listens on"},
    {"http.port", QV_CFG_PORT, "9091", 0, 0, NULL,
     "HTTP port for /healthz and /metrics (0 = any free port)"},

    /* localStorage: the standalone data directory */
    {"localStorage.path", QV_CFG_STRING, "./quiver-data", 0, 0, NULL,
     "data directory of quiver standalone (meta, log, objects)"},

    /* log */
    {"log.level", QV_CFG_ENUM, "info", 0, 0, "debug|info|warn|error",
     "minimum level of log lines"},
    {"log.format", QV_CFG_ENUM, "text", 0, 0, "text|json",
     "log line format: text or JSON lines"},
    {"log.file", QV_CFG_STRING, "", 0, 0, NULL,
     "append logs to this file instead of stderr (empty = stderr)"},

    {NULL, QV_CFG_STRING, NULL, 0, 0, NULL, NULL},
};

const qv_config_key *qv_config_find_key(const char *key)
{
    for (const qv_config_key *k = qv_config_keys; k->key; k++)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}
