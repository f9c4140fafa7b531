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

    /* coord: the coordinator's internal CoordService */
    {"coord.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the coord's internal gRPC service listens on (quiver run "
     "coord)"},
    {"coord.port", QV_CFG_PORT, "19531", 0, 0, NULL,
     "port of the coord's internal gRPC service (0 = any free port)"},
    {"coord.advertiseAddress", QV_CFG_STRING, "", 0, 0, NULL,
     "host:port other processes reach the coord at (empty = listen "
     "address and port, 127.0.0.1 for 0.0.0.0)"},

    /* queryNode: the query node's internal QueryNodeService */
    {"queryNode.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the query node's internal gRPC service listens on (quiver "
     "run querynode)"},
    {"queryNode.port", QV_CFG_PORT, "19532", 0, 0, NULL,
     "port of the query node's internal gRPC service (0 = any free port)"},
    {"queryNode.advertiseAddress", QV_CFG_STRING, "", 0, 0, NULL,
     "host:port other processes reach the query node at (empty = listen "
     "address and port, 127.0.0.1 for 0.0.0.0)"},
    {"queryNode.memoryLimit", QV_CFG_SIZE, "0", 0, 1e18, NULL,
     "sealed segment bytes a query node may load; a load over it fails "
     "with a clear error (0 = 90% of the machine's memory)"},
    {"queryNode.cacheDir", QV_CFG_STRING, "", 0, 0, NULL,
     "directory sealed segments' column files are cached in and mapped "
     "from (empty = held in memory)"},

    /* dataNode: the datanode's internal DataNodeService */
    {"dataNode.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the datanode's internal gRPC service listens on (quiver run "
     "datanode)"},
    {"dataNode.port", QV_CFG_PORT, "19533", 0, 0, NULL,
     "port of the datanode's internal gRPC service (0 = any free port)"},
    {"dataNode.advertiseAddress", QV_CFG_STRING, "", 0, 0, NULL,
     "host:port other processes reach the datanode at (empty = listen "
     "address and port, 127.0.0.1 for 0.0.0.0)"},

    /* indexNode: the indexnode's internal IndexNodeService */
    {"indexNode.listenAddress", QV_CFG_STRING, "0.0.0.0", 0, 0, NULL,
     "address the indexnode's internal gRPC service listens on (quiver run "
     "indexnode)"},
    {"indexNode.port", QV_CFG_PORT, "19534", 0, 0, NULL,
     "port of the indexnode's internal gRPC service (0 = any free port)"},
    {"indexNode.advertiseAddress", QV_CFG_STRING, "", 0, 0, NULL,
     "host:port other processes reach the indexnode at (empty = listen "
     "address and port, 127.0.0.1 for 0.0.0.0)"},
    {"indexNode.buildSlots", QV_CFG_INT, "1", 1, 1024, NULL,
     "index builds an indexnode runs at once"},
    {"indexNode.buildThreads", QV_CFG_INT, "0", 0, 1024, NULL,
     "threads one index build may use (0 = number of CPUs)"},

    /* indexCoord: index build scheduling (the coord) */
    {"indexCoord.minSegmentRows", QV_CFG_INT, "1024", 1, 1000000000, NULL,
     "flushed segments with fewer rows get no index build (they are "
     "searched exactly)"},

    /* dataCoord: segment seal policies and log trimming (the coord) */
    {"dataCoord.segment.maxRows", QV_CFG_INT, "1000000", 1, 1000000000, NULL,
     "a growing segment is sealed before it would exceed this many rows"},
    {"dataCoord.segment.maxSize", QV_CFG_SIZE, "1GiB", 1048576, 68719476736.0,
     NULL,
     "seal a growing segment at this estimated size (rows x the schema's "
     "row width, variable-width fields counted at 128 bytes)"},
    {"dataCoord.segment.idleSeal", QV_CFG_DURATION, "10s", 0, 86400000, NULL,
     "a growing segment that got no rows for this long is sealed (0 = "
     "never)"},
    {"dataCoord.segment.maxAge", QV_CFG_DURATION, "10m", 0, 604800000, NULL,
     "a growing segment open this long is sealed (0 = never)"},
    {"dataCoord.walTrim.enabled", QV_CFG_BOOL, "true", 0, 0, NULL,
     "trim each log channel below the checkpoints of its vchannels"},
    {"dataCoord.walTrim.marginRecords", QV_CFG_INT, "10000", 0, 1000000000000.0,
     NULL, "log positions kept below the smallest checkpoint of a channel"},
    {"dataCoord.walTrim.interval", QV_CFG_DURATION, "10s", 100, 86400000, NULL,
     "time between two trims of the log"},

    /* common: settings every role agrees on */
    {"common.dataRetention", QV_CFG_DURATION, "1h", 0, 31536000000.0, NULL,
     "time travel window: reads at any timestamp this recent answer exactly; "
     "compaction and GC keep every version newer than now - retention"},

    /* dataCoord.compaction: merging small segments (the coord) */
    {"dataCoord.compaction.interval", QV_CFG_DURATION, "10m", 0, 86400000, NULL,
     "time between two automatic compaction rounds (0 = off; "
     "ManualCompaction still works)"},
    {"dataCoord.compaction.minSegmentRows", QV_CFG_INT, "100000", 1, 1000000000,
     NULL, "automatic compaction merges flushed segments with fewer rows"},
    {"dataCoord.compaction.maxSegmentRows", QV_CFG_INT, "1000000", 1,
     1000000000, NULL, "most rows of one compaction output"},

    /* gc: garbage collection of object store data (the coord) */
    {"gc.interval", QV_CFG_DURATION, "60s", 0, 86400000, NULL,
     "time between two garbage collection rounds (0 = off)"},
    {"gc.scanInterval", QV_CFG_DURATION, "1h", 0, 604800000, NULL,
     "time between two scans of the object store for orphan objects"},
    {"gc.orphanGracePeriod", QV_CFG_DURATION, "1h", 0, 604800000, NULL,
     "objects no metadata names are deleted once they are this old"},

    /* objstore: where segments and indexes live */
    {"objstore.backend", QV_CFG_ENUM, "fs", 0, 0, "fs|s3",
     "object store backend: fs (a directory under localStorage.path, "
     "standalone only) or s3"},
    {"s3.endpoint", QV_CFG_STRING, "http://127.0.0.1:9000", 0, 0, NULL,
     "S3 endpoint URL (objstore.backend: s3)"},
    {"s3.bucket", QV_CFG_STRING, "quiver", 0, 0, NULL,
     "S3 bucket holding Quiver's objects"},
    {"s3.region", QV_CFG_STRING, "us-east-1", 0, 0, NULL,
     "S3 region used in request signatures"},
    {"s3.accessKey", QV_CFG_STRING, "", 0, 0, NULL, "S3 access key id"},
    {"s3.secretKey", QV_CFG_STRING, "", 0, 0, NULL, "S3 secret access key"},
    {"s3.pathStyle", QV_CFG_BOOL, "true", 0, 0, NULL,
     "path-style requests (endpoint/bucket/key), as MinIO and s3rver need"},
    {"s3.createBucket", QV_CFG_BOOL, "false", 0, 0, NULL,
     "create the bucket at start when it does not exist"},

    /* wal: the write log */
    {"wal.backend", QV_CFG_ENUM, "local", 0, 0, "local|kafka",
     "write log backend: local (segment files in the data directory, "
     "standalone only) or kafka"},
    {"kafka.brokers", QV_CFG_STRING, "127.0.0.1:9092", 0, 0, NULL,
     "Kafka bootstrap brokers, host:port[,host:port...] (wal.backend: "
     "kafka)"},
    {"kafka.topicPrefix", QV_CFG_STRING, "", 0, 0, NULL,
     "prefix of the Kafka topics that hold Quiver's channels"},

    /* metakv: where metadata lives */
    {"metakv.backend", QV_CFG_ENUM, "local", 0, 0, "local|etcd",
     "meta KV backend: local (LMDB in the data directory, standalone only) "
     "or etcd"},
    {"metakv.rootPath", QV_CFG_STRING, "quiver/", 0, 0, NULL,
     "key prefix of all of Quiver's metadata in the meta KV"},
    {"metakv.timeout", QV_CFG_DURATION, "5s", 100, 600000, NULL,
     "timeout of one meta KV call, retries included"},
    {"etcd.endpoints", QV_CFG_STRING, "127.0.0.1:2379", 0, 0, NULL,
     "etcd client endpoints, host:port[,host:port...]"},

    /* session: liveness of every process */
    {"session.ttl", QV_CFG_DURATION, "10s", 1000, 3600000, NULL,
     "lease TTL of process sessions; a standby coord takes over within "
     "about this long after the active one dies"},

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
