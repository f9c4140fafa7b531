/* coord_load_rec.c -- the load records of coord_load.c: "<root>meta/load/
 * <coll id>" in meta KV, whose value is the collection's database name,
 * then "\n" and the loaded partition ids, comma-separated, when only some
 * partitions are loaded (none: the whole collection).  Read and written
 * with the callers' locking (coord_load.c, svc_load.c). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "coord/coord_int.h"
#include "coord/coord_load.h"

void qv_coord__load_parse_rec(const char *v, size_t len, qv_arena *a,
                              qv_load_rec *out)
{
    char *s = qv_arena_alloc(a, len + 1);
    memcpy(s, v, len);
    s[len] = '\0';
    out->loaded = true;
    out->parts = NULL;
    out->nparts = 0;
    char *nl = strchr(s, '\n');
    out->db = s;
    if (!nl)
        return;
    *nl = '\0';
    size_t cap = 1;
    for (const char *p = nl + 1; *p; p++)
        cap += *p == ',';
    out->parts = qv_arena_alloc(a, cap * sizeof(int64_t));
    for (char *p = nl + 1; *p;) {
        char *end;
        long long id = strtoll(p, &end, 10);
        if (end == p)
            break;
        out->parts[out->nparts++] = id;
        p = *end == ',' ? end + 1 : end;
    }
}

qv_code qv_coord__load_get_rec(qv_coord *c, int64_t coll, qv_arena *a,
                               qv_load_rec *out, qv_err *err)
{
    char k[600];
    qv_coord__load_key(c, coll, k, sizeof k);
    metakv_kvs r = METAKV_KVS_INIT;
    memset(out, 0, sizeof *out);
    qv_code rc = metakv_get(c->opts.kv, k, strlen(k), &r, err);
    if (!rc && r.n > 0)
        qv_coord__load_parse_rec((const char *)r.kvs[0].value,
                                 r.kvs[0].value_len, a, out);
    if (rc == QV_E_NOT_FOUND)
        rc = QV_OK;
    metakv_kvs_release(&r);
    return rc;
}

qv_code qv_coord__load_put_rec(qv_coord *c, int64_t coll, const char *db,
                               const int64_t *parts, size_t n, qv_err *err)
{
    qv_buf b;
    qv_buf_init(&b, 64);
    qv_code rc = qv_buf_appends(&b, db);
    for (size_t i = 0; !rc && i < n; i++)
        rc = qv_buf_printf(&b, "%s%" PRId64, i ? "," : "\n", parts[i]);
    char k[600];
    qv_coord__load_key(c, coll, k, sizeof k);
    if (!rc)
        rc = metakv_put(c->opts.kv, k, strlen(k), (const char *)b.data, b.len,
                        0, NULL, err);
    qv_buf_release(&b);
    return rc;
}

bool qv_coord__load_has_id(const int64_t *v, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}
