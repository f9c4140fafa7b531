#include "si_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "datanode/flush.h"
#include "querynode/shard.h"
#include "tests/lib/proc.h"

#define SI_COLL 7
#define SI_VCH  "p0_7v0"

static const qv_field_spec si_fields[4] = {
    {.id = SI_PK, .name = "pk", .type = QV_DT_INT64},
    {.id = SI_VEC, .name = "vec", .type = QV_DT_FLOAT_VECTOR, .dim = SI_DIM},
    {.id = SI_TAG, .name = "tag", .type = QV_DT_INT64},
    {.id = SI_BVEC,
     .name = "bvec",
     .type = QV_DT_BINARY_VECTOR,
     .dim = SI_BITS},
};
const qv_seg_schema si_schema = {si_fields, 4, SI_PK};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 32);
}

static float unit(uint64_t *s)
{
    *s = mix(*s + 0x632be59bd9b4e019ull);
    return (float)(*s >> 11) / (float)(1ull << 53);
}

/* Row (or query) vectors: 40 cluster centres plus noise. */
static void gen(uint64_t seed, float *v, uint8_t *b)
{
    uint64_t s = seed * 7919 + 17;
    uint64_t c = mix(seed) % 40, cs = c * 104729 + 3;
    for (int d = 0; d < SI_DIM; d++)
        v[d] = unit(&cs) * 10.0f + unit(&s) * 6.0f;
    uint64_t cb = mix(c + 99), nb = mix(seed + 12345);
    for (int i = 0; i < SI_BITS / 8; i++) {
        uint8_t noise = (uint8_t)(mix(nb + (uint64_t)i) & mix(nb * 3 + 1) &
                                  0x5a); /* a few flipped bits */
        b[i] = (uint8_t)(mix(cb + (uint64_t)i) ^ noise);
    }
}

void si_query(size_t j, float *q, uint8_t *bq)
{
    gen(1000000 + j, q, bq);
}

static void insert(qv_shard *s, si_env *e, size_t from, size_t to, qv_ts ts)
{
    qv_column *c[4];
    qv_col_view v[4];
    int64_t ids[4];
    for (int f = 0; f < 4; f++) {
        cr_assert_eq(qv_column_create(&si_fields[f], &c[f], NULL), QV_OK);
        ids[f] = si_fields[f].id;
    }
    for (size_t i = from; i < to; i++) {
        int64_t pk = (int64_t)i + 1, tag = pk % 10;
        cr_assert_eq(qv_column_append_fixed(c[0], &pk, 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(c[1], e->x + i * SI_DIM, 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(c[2], &tag, 1), QV_OK);
        cr_assert_eq(qv_column_append_fixed(c[3], e->b + i * SI_BITS / 8, 1),
                     QV_OK);
    }
    for (int f = 0; f < 4; f++) {
        qv_column_publish(c[f]);
        v[f] = qv_column_view(c[f]);
    }
    qv_msg m = {.type = QV_MSG_INSERT,
                .ts = ts,
                .collection_id = SI_COLL,
                .vchannel = SI_VCH,
                .partition_id = 1,
                .segment_id = 1,
                .pk_field_id = SI_PK,
                .rows = to - from,
                .nfields = 4,
                .field_ids = ids,
                .cols = v};
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &m, &err), QV_OK, "%s", err.msg);
    for (int f = 0; f < 4; f++)
        qv_column_free(c[f]);
}

static void delete_sevens(qv_shard *s, size_t n)
{
    qv_column *c;
    cr_assert_eq(qv_column_create(&si_fields[0], &c, NULL), QV_OK);
    size_t k = 0;
    for (int64_t pk = 7; pk <= (int64_t)n; pk += 7, k++)
        cr_assert_eq(qv_column_append_fixed(c, &pk, 1), QV_OK);
    qv_column_publish(c);
    qv_col_view v = qv_column_view(c);
    qv_msg m = {.type = QV_MSG_DELETE,
                .ts = 300,
                .collection_id = SI_COLL,
                .vchannel = SI_VCH,
                .partition_id = 1,
                .pk_field_id = SI_PK,
                .rows = k,
                .nfields = 1,
                .cols = &v};
    qv_err err;
    cr_assert_eq(qv_shard_apply(s, &m, &err), QV_OK, "%s", err.msg);
    qv_column_free(c);
}

void si_setup(si_env *e, size_t n, size_t n_a, int mapped)
{
    memset(e, 0, sizeof *e);
    cr_assert_eq(qv_test_mkdtemp("qv-sidx-", &e->dir, NULL), QV_OK);
    char *root = qv_xasprintf("%s/objects", e->dir);
    objstore_config c = {.root = root, .no_fsync = true};
    qv_err err;
    cr_assert_eq(objstore_open("fs", &c, &e->os, &err), QV_OK, "%s", err.msg);
    free(root);
    e->n = n;
    e->n_a = n_a;
    e->x = qv_xmalloc(n * SI_DIM * sizeof(float));
    e->b = qv_xmalloc(n * SI_BITS / 8);
    for (size_t i = 0; i < n; i++)
        gen(i, e->x + i * SI_DIM, e->b + i * SI_BITS / 8);
    qv_shard_config cfg = {
        .collection_id = SI_COLL, .vchannel = SI_VCH, .schema = si_schema};
    qv_shard *s;
    cr_assert_eq(qv_shard_create(&cfg, &s, NULL), QV_OK);
    insert(s, e, 0, n_a, 100);
    insert(s, e, n_a, n, 200);
    delete_sevens(s, n);
    qv_shard_snap g;
    qv_shard_acquire(s, &g);
    cr_assert_eq(g.n, 1);
    qv_flush_target t = {e->os, SI_COLL, 77};
    qv_flush_result res;
    cr_assert_eq(qv_flush_segment(&t, &si_schema, &g.snaps[0], &res, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(res.rows, n);
    qv_shard_snap_release(&g);
    qv_shard_free(s);
    char *cache = NULL;
    if (mapped) {
        cache = qv_xasprintf("%s/cache", e->dir);
        cr_assert_eq(mkdir(cache, 0700), 0);
    }
    qv_sealed_source src = {e->os, SI_COLL, 1, 1, 77, cache};
    cr_assert_eq(qv_sealed_load(&src, &si_schema, &e->seg, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(qv_sealed_rows(e->seg), n);
    free(cache);
}

void si_teardown(si_env *e)
{
    qv_sealed_unref(e->seg);
    objstore_close(e->os);
    cr_assert_eq(qv_test_rmtree(e->dir, NULL), QV_OK);
    free(e->dir);
    free(e->x);
    free(e->b);
}

qv_params si_params(const char *text)
{
    static char buf[8][2][32];
    static qv_kv kv[8];
    size_t n = 0;
    const char *p = text;
    while (p && *p && n < 8) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        snprintf(buf[n][0], 32, "%.*s", (int)(eq - p), p);
        snprintf(buf[n][1], 32, "%.*s", (int)(end - eq - 1), eq + 1);
        kv[n].key = buf[n][0];
        kv[n].value = buf[n][1];
        n++;
        p = *end ? end + 1 : NULL;
    }
    return (qv_params){kv, n};
}

qv_index *si_build(si_env *e, qv_index_type t, qv_metric m, const char *params)
{
    qv_params p = si_params(params);
    bool bin = qv_metric_is_binary(m);
    qv_index *ix;
    qv_err err;
    cr_assert_eq(qv_index_create(t, m, bin ? SI_BITS : SI_DIM, &p, &ix, &err),
                 QV_OK, "%s", err.msg);
    const void *data = bin ? (const void *)e->b : (const void *)e->x;
    if (qv_index_needs_training(ix))
        cr_assert_eq(qv_index_train(ix, e->n, data, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(qv_index_add(ix, e->n, data, NULL, &err), QV_OK, "%s",
                 err.msg);
    return ix;
}

qv_seg_index *si_store_load(si_env *e, const qv_index *ix, int64_t build,
                            int64_t field, const char *cache_dir)
{
    qv_buf b;
    qv_buf_init(&b, QV_BUF_DEFAULT_CAP);
    qv_err err;
    cr_assert_eq(qv_index_serialize(ix, &b, &err), QV_OK, "%s", err.msg);
    char key[128];
    snprintf(key, sizeof key, "index_files/%lld/1/index", (long long)build);
    cr_assert_eq(objstore_put(e->os, key, b.data, b.len, &err), QV_OK, "%s",
                 err.msg);
    qv_buf_release(&b);
    qv_seg_index_source src = {e->os, key, build, 9, field, cache_dir};
    qv_seg_index *x;
    cr_assert_eq(qv_seg_index_load(&src, &x, &err), QV_OK, "%s", err.msg);
    return x;
}

void si_snap(si_env *e, qv_shard_snap *out)
{
    out->schema = &si_schema;
    out->n = 1;
    out->snaps = QV_NEW(qv_seg_snap);
    qv_sealed_snap(e->seg, &out->snaps[0]);
}

qv_expr_plan *si_filter(const char *text)
{
    static const qv_expr_field xf[] = {
        {.id = SI_PK, .name = "pk", .type = QV_DT_INT64, .is_primary = true},
        {.id = SI_TAG, .name = "tag", .type = QV_DT_INT64},
    };
    qv_expr_schema sch = {xf, 2};
    qv_expr_plan *p;
    qv_err err;
    cr_assert_eq(qv_expr_parse(text, strlen(text), &sch, NULL, 0, &p, &err),
                 QV_OK, "%s", err.msg);
    return p;
}

int si_visible(const si_env *e, size_t r, qv_ts R)
{
    qv_ts ins = r < e->n_a ? 100 : 200;
    int64_t pk = (int64_t)r + 1;
    return ins <= R && !(pk % 7 == 0 && R >= 300);
}
