/* e2e_data.c -- the bench's data: texmex .fvecs/.bvecs/.ivecs readers
 * (../shared/data/README.md), seeded random vectors, exact ground truth
 * with the library's FLAT index, and recall. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/e2e/e2e.h"
#include "common/alloc.h"
#include "common/pool.h"

enum kind { FVECS, BVECS, IVECS };

static int kind_of(const char *path)
{
    size_t n = strlen(path);
    if (n > 6 && strcmp(path + n - 6, ".bvecs") == 0)
        return BVECS;
    if (n > 6 && strcmp(path + n - 6, ".ivecs") == 0)
        return IVECS;
    return FVECS;
}

/* Reads the rows after the first one (whose dimension is known). */
static qv_code read_rows(FILE *f, const char *path, int kind, size_t d,
                         size_t rows, e2e_vecs *out, qv_err *err)
{
    size_t esz = kind == BVECS ? 1 : 4;
    uint8_t *row = qv_xmalloc(d * esz);
    qv_code rc = QV_OK;
    for (size_t r = 0; r < rows && !rc; r++) {
        int32_t dd;
        if (r > 0 && (fread(&dd, 4, 1, f) != 1 || (size_t)dd != d)) {
            rc = qv_fail(err, QV_E_CORRUPT, "'%s': row %zu: bad dimension",
                         path, r);
            break;
        }
        if (fread(row, esz, d, f) != d) {
            rc = qv_fail(err, QV_E_IO_SHORT_READ, "'%s': row %zu: short read",
                         path, r);
            break;
        }
        if (kind == IVECS)
            memcpy(out->ids + r * d, row, d * 4);
        else if (kind == FVECS)
            memcpy(out->x + r * d, row, d * 4);
        else
            for (size_t j = 0; j < d; j++)
                out->x[r * d + j] = (float)row[j];
    }
    free(row);
    return rc;
}

qv_code e2e_vecs_read(const char *path, size_t max_rows, e2e_vecs *out,
                      qv_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return qv_fail(err, QV_E_IO, "cannot open '%s': %s", path,
                       strerror(errno));
    int kind = kind_of(path);
    size_t esz = kind == BVECS ? 1 : 4;
    int32_t d32 = 0;
    qv_code rc = QV_OK;
    if (fread(&d32, 4, 1, f) != 1 || d32 <= 0 || d32 > 65536)
        rc = qv_fail(err, QV_E_CORRUPT, "'%s': bad first dimension", path);
    long size = 0;
    if (!rc && (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
                fseek(f, 4, SEEK_SET) != 0))
        rc = qv_fail(err, QV_E_IO, "cannot seek '%s'", path);
    size_t d = (size_t)d32, rows = 0;
    if (!rc) {
        rows = (size_t)size / (4 + d * esz);
        if (max_rows && rows > max_rows)
            rows = max_rows;
        if (rows == 0)
            rc = qv_fail(err, QV_E_CORRUPT, "'%s': no rows", path);
    }
    if (!rc) {
        if (kind == IVECS)
            out->ids = qv_try_alloc(rows * d, sizeof *out->ids);
        else
            out->x = qv_try_alloc(rows * d, sizeof *out->x);
        if (!out->ids && !out->x)
            rc = qv_fail(err, QV_E_NOMEM, "'%s': %zu rows: out of memory", path,
                         rows);
    }
    if (!rc)
        rc = read_rows(f, path, kind, d, rows, out, err);
    fclose(f);
    if (rc) {
        e2e_vecs_free(out);
        return rc;
    }
    out->n = rows;
    out->d = d;
    return QV_OK;
}

void e2e_vecs_free(e2e_vecs *v)
{
    free(v->x);
    free(v->ids);
    memset(v, 0, sizeof *v);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

qv_code e2e_vecs_random(size_t n, size_t d, uint64_t seed, e2e_vecs *out,
                        qv_err *err)
{
    memset(out, 0, sizeof *out);
    out->x = qv_try_alloc(n * d, sizeof *out->x);
    if (!out->x)
        return qv_fail(err, QV_E_NOMEM,
                       "random vectors %zu x %zu: out of "
                       "memory",
                       n, d);
    uint64_t s = seed;
    for (size_t i = 0; i < n * d; i++)
        out->x[i] = (float)(splitmix64(&s) >> 40) / (float)(1u << 24);
    out->n = n;
    out->d = d;
    return QV_OK;
}

qv_code e2e_ground_truth(const e2e_vecs *base, const e2e_vecs *queries,
                         size_t k, e2e_vecs *out, qv_err *err)
{
    memset(out, 0, sizeof *out);
    qv_index *ix = NULL;
    qv_code rc =
        qv_index_create(QV_INDEX_FLAT, QV_METRIC_L2, base->d, NULL, &ix, err);
    if (!rc)
        rc = qv_index_add(ix, base->n, base->x, NULL, err);
    float *dist = rc ? NULL : qv_try_alloc(queries->n * k, sizeof *dist);
    int64_t *lab = rc ? NULL : qv_try_alloc(queries->n * k, sizeof *lab);
    out->ids = rc ? NULL : qv_try_alloc(queries->n * k, sizeof *out->ids);
    if (!rc && (!dist || !lab || !out->ids))
        rc = qv_fail(err, QV_E_NOMEM, "ground truth: out of memory");
    qv_search_args args = {.pool = qv_pool_shared()};
    if (!rc)
        rc = qv_index_search(ix, queries->n, queries->x, k, &args, dist, lab,
                             err);
    if (!rc) {
        for (size_t i = 0; i < queries->n * k; i++)
            out->ids[i] = (int32_t)lab[i];
        out->n = queries->n;
        out->d = k;
    } else {
        e2e_vecs_free(out);
    }
    free(dist);
    free(lab);
    qv_index_free(ix);
    return rc;
}

double e2e_recall_one(const e2e_vecs *gt, size_t q, const int64_t *ids,
                      size_t k)
{
    const int32_t *g = gt->ids + q * gt->d;
    size_t kk = k < gt->d ? k : gt->d, hit = 0;
    for (size_t i = 0; i < k; i++) {
        if (ids[i] < 0)
            continue;
        for (size_t j = 0; j < kk; j++) {
            if (g[j] == ids[i]) {
                hit++;
                break;
            }
        }
    }
    return (double)hit / (double)kk;
}
