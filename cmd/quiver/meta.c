/* meta.c -- the meta KV of a `quiver` process (metakv.* and etcd.* keys)
 * and the coord of `quiver standalone` / `quiver run coord`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/quiver/cli.h"
#include "common/log.h"

qv_code qv_cli_meta_root(const qv_config *cfg, char *buf, size_t cap,
                         qv_err *err)
{
    const char *r = qv_config_str(cfg, "metakv.rootPath");
    size_t n = strlen(r);
    if (n == 0 || n + 2 > cap || strchr(r, '"'))
        return qv_fail(err, QV_E_INVALID, "metakv.rootPath '%s' is invalid", r);
    snprintf(buf, cap, "%s%s", r, r[n - 1] == '/' ? "" : "/");
    return QV_OK;
}

qv_code qv_cli_open_metakv(const qv_config *cfg, bool standalone, metakv **out,
                           qv_err *err)
{
    const char *backend = qv_config_str(cfg, "metakv.backend");
    metakv_config mc = {
        .timeout_ms = (uint32_t)qv_config_duration_ms(cfg, "metakv.timeout")};
    char dir[4096];
    if (strcmp(backend, "local") == 0) {
        if (!standalone)
            return qv_fail(err, QV_E_INVALID,
                           "metakv.backend 'local' works only for quiver "
                           "standalone; set metakv.backend=etcd");
        snprintf(dir, sizeof dir, "%s/meta",
                 qv_config_str(cfg, "localStorage.path"));
        mc.dir = dir;
    } else {
        mc.endpoints = qv_config_str(cfg, "etcd.endpoints");
    }
    qv_code rc = metakv_open(backend, &mc, out, err);
    if (rc)
        return qv_err_prefix(err, "cannot open the meta KV (%s)", backend);
    return QV_OK;
}

qv_code qv_cli_clear_sessions(const qv_config *cfg, metakv *kv, qv_err *err)
{
    char root[512], key[520];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    snprintf(key, sizeof key, "%ssession/", root);
    rc = metakv_delete(kv, key, strlen(key), true, NULL, err);
    if (rc)
        return qv_err_prefix(err, "cannot clear stale sessions");
    return QV_OK;
}

uint64_t qv_cli_retention_ms(const qv_config *cfg)
{
    uint64_t ms = qv_config_duration_ms(cfg, "common.dataRetention");
    return ms ? ms : 1;
}

qv_code qv_cli_start_coord(const qv_config *cfg, metakv *kv, wal *log,
                           objstore *os, bool standalone, qv_coord **out,
                           qv_err *err)
{
    char root[512];
    qv_code rc = qv_cli_meta_root(cfg, root, sizeof root, err);
    if (rc)
        return rc;
    const char *adv = qv_config_str(cfg, "coord.advertiseAddress");
    qv_coord_options o = {
        .kv = kv,
        .root = root,
        .host = standalone ? "127.0.0.1"
                           : qv_config_str(cfg, "coord.listenAddress"),
        .port = standalone ? 0 : (int)qv_config_int(cfg, "coord.port"),
        .advertise = standalone || !adv[0] ? NULL : adv,
        .session_ttl_s =
            (int64_t)(qv_config_duration_ms(cfg, "session.ttl") + 999) / 1000,
        .log = log,
        .os = os,
        .retention_ms = qv_cli_retention_ms(cfg),
        .gc_scan_interval_ms = qv_config_duration_ms(cfg, "gc.scanInterval"),
        .gc_orphan_grace_ms =
            qv_config_duration_ms(cfg, "gc.orphanGracePeriod"),
        .compact_interval_ms =
            qv_config_duration_ms(cfg, "dataCoord.compaction.interval"),
        .compact_min_rows =
            (uint64_t)qv_config_int(cfg, "dataCoord.compaction.minSegmentRows"),
        .compact_max_rows =
            (uint64_t)qv_config_int(cfg, "dataCoord.compaction.maxSegmentRows"),
        .index_min_rows =
            (uint64_t)qv_config_int(cfg, "indexCoord.minSegmentRows"),
        .seg_max_rows =
            (uint64_t)qv_config_int(cfg, "dataCoord.segment.maxRows"),
        .seg_max_bytes = qv_config_size(cfg, "dataCoord.segment.maxSize"),
        .wal_trim_off = !qv_config_bool(cfg, "dataCoord.walTrim.enabled"),
        .wal_trim_margin =
            (uint64_t)qv_config_int(cfg, "dataCoord.walTrim.marginRecords"),
        .wal_trim_interval_ms =
            qv_config_duration_ms(cfg, "dataCoord.walTrim.interval"),
    };
    /* 0 in the configuration = never; 0 in the options = the default */
    uint64_t idle = qv_config_duration_ms(cfg, "dataCoord.segment.idleSeal");
    uint64_t age = qv_config_duration_ms(cfg, "dataCoord.segment.maxAge");
    o.seg_idle_ms = idle ? idle : UINT64_MAX;
    o.seg_max_age_ms = age ? age : UINT64_MAX;
    uint64_t gc = qv_config_duration_ms(cfg, "gc.interval");
    o.gc_interval_ms = gc ? gc : UINT64_MAX;
    qv_coord *c;
    rc = qv_coord_create(&o, &c, err);
    if (!rc)
        rc = qv_coord_start(c, err);
    if (!rc && standalone)
        rc = qv_coord_wait_active(c, 30000, err);
    if (rc) {
        qv_coord_destroy(c);
        return rc;
    }
    QV_LOG(QV_LOG_INFO, "quiver", "coord serving at %s (%s)",
           qv_coord_address(c), qv_coord_active(c) ? "active" : "standby");
    *out = c;
    return QV_OK;
}

qv_code qv_cli_open_wal(const qv_config *cfg, bool standalone, wal **out,
                        qv_err *err)
{
    *out = NULL;
    qv_code rc;
    if (strcmp(qv_config_str(cfg, "wal.backend"), "kafka") == 0) {
        wal_options o = {.bootstrap = qv_config_str(cfg, "kafka.brokers"),
                         .topic_prefix =
                             qv_config_str(cfg, "kafka.topicPrefix")};
        rc = wal_open("kafka", &o, out, err);
    } else {
        if (!standalone)
            return QV_OK; /* no shared log: DDL only */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/wal",
                 qv_config_str(cfg, "localStorage.path"));
        wal_options o = {.dir = dir, .sync = WAL_SYNC_ALWAYS};
        rc = wal_open("local", &o, out, err);
    }
    return rc ? qv_err_prefix(err, "write log") : QV_OK;
}

qv_code qv_cli_open_objstore(const qv_config *cfg, bool standalone,
                             objstore **out, qv_err *err)
{
    *out = NULL;
    qv_code rc;
    if (strcmp(qv_config_str(cfg, "objstore.backend"), "s3") == 0) {
        objstore_config o = {
            .endpoint = qv_config_str(cfg, "s3.endpoint"),
            .region = qv_config_str(cfg, "s3.region"),
            .bucket = qv_config_str(cfg, "s3.bucket"),
            .access_key = qv_config_str(cfg, "s3.accessKey"),
            .secret_key = qv_config_str(cfg, "s3.secretKey"),
            .path_style = qv_config_bool(cfg, "s3.pathStyle"),
            .create_bucket = qv_config_bool(cfg, "s3.createBucket"),
        };
        rc = objstore_open("s3", &o, out, err);
    } else {
        if (!standalone)
            return qv_fail(err, QV_E_INVALID,
                           "objstore.backend 'fs' works only for quiver "
                           "standalone; set objstore.backend: s3");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/objects",
                 qv_config_str(cfg, "localStorage.path"));
        objstore_config o = {.root = dir};
        rc = objstore_open("fs", &o, out, err);
    }
    return rc ? qv_err_prefix(err, "object store") : QV_OK;
}
