/* bench_data.c -- readers of the texmex vector formats (fvecs, bvecs,
 * ivecs) for the index benchmark.  See ../shared/data/README.md. */
#include "bench/index/bench_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = qv_try_alloc((size_t)n + 1, 1);
            if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            }
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

/* Reads rows of (int32 d, d elements of esize bytes). */
static int read_vecs(const char *path, size_t esize, bench_vecs *out)
{
    size_t len = 0;
    unsigned char *buf = slurp(path, &len);
    memset(out, 0, sizeof(*out));
    if (!buf) {
        fprintf(stderr, "index_bench: cannot read '%s'\n", path);
        return -1;
    }
    int32_t d = 0;
    if (len >= 4)
        memcpy(&d, buf, 4);
    size_t row = 4 + (size_t)d * esize;
    if (d <= 0 || len % row != 0) {
        fprintf(stderr, "index_bench: '%s' is not a vecs file\n", path);
        free(buf);
        return -1;
    }
    size_t n = len / row;
    out->n = n;
    out->d = (size_t)d;
    if (esize == 4 && strstr(path, ".ivecs")) {
        out->ids = qv_xmalloc(n * (size_t)d * sizeof(int32_t));
    } else {
        out->x = qv_try_alloc(n * (size_t)d, sizeof(float));
        if (!out->x) {
            free(buf);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = buf + i * row;
        int32_t di;
        memcpy(&di, r, 4);
        if (di != d) {
            fprintf(stderr, "index_bench: '%s' row %zu has d=%d\n", path, i,
                    di);
            free(buf);
            bench_vecs_free(out);
            return -1;
        }
        if (out->ids)
            memcpy(out->ids + i * (size_t)d, r + 4, (size_t)d * 4);
        else if (esize == 4)
            memcpy(out->x + i * (size_t)d, r + 4, (size_t)d * 4);
        else
            for (size_t j = 0; j < (size_t)d; j++)
                out->x[i * (size_t)d + j] = (float)r[4 + j];
    }
    free(buf);
    return 0;
}

int bench_vecs_read(const char *path, bench_vecs *out)
{
    size_t n = strlen(path);
    if (n > 6 && strcmp(path + n - 6, ".bvecs") == 0)
        return read_vecs(path, 1, out);
    return read_vecs(path, 4, out);
}

void bench_vecs_free(bench_vecs *v)
{
    free(v->x);
    free(v->ids);
    memset(v, 0, sizeof(*v));
}

int bench_dataset_load(const char *dir, const char *name, bench_dataset *ds)
{
    char b[1024], q[1024], g[1024];
    memset(ds, 0, sizeof(*ds));
    ds->name = name;
    ds->metric_ip = 0;
    if (strcmp(name, "siftsmall") == 0) {
        snprintf(b, sizeof(b), "%s/siftsmall/siftsmall_base.fvecs", dir);
        snprintf(q, sizeof(q), "%s/siftsmall/siftsmall_query.fvecs", dir);
        snprintf(g, sizeof(g), "%s/siftsmall/siftsmall_groundtruth.ivecs", dir);
    } else if (strcmp(name, "localsift") == 0) {
        snprintf(b, sizeof(b), "%s/localsift/base.bvecs", dir);
        snprintf(q, sizeof(q), "%s/localsift/query.bvecs", dir);
        snprintf(g, sizeof(g), "%s/localsift/groundtruth.ivecs", dir);
    } else if (strcmp(name, "fiori-minilm-384") == 0) {
        snprintf(b, sizeof(b), "%s/fiori-minilm-384/base.fvecs", dir);
        snprintf(q, sizeof(q), "%s/fiori-minilm-384/query.fvecs", dir);
        snprintf(g, sizeof(g), "%s/fiori-minilm-384/groundtruth.ivecs", dir);
        ds->metric_ip = 1;
    } else {
        fprintf(stderr, "index_bench: unknown data set '%s'\n", name);
        return -1;
    }
    if (bench_vecs_read(b, &ds->base) || bench_vecs_read(q, &ds->query) ||
        bench_vecs_read(g, &ds->gt) || ds->base.d != ds->query.d ||
        ds->gt.n != ds->query.n) {
        bench_dataset_free(ds);
        return -1;
    }
    return 0;
}

void bench_dataset_free(bench_dataset *ds)
{
    bench_vecs_free(&ds->base);
    bench_vecs_free(&ds->query);
    bench_vecs_free(&ds->gt);
}

double bench_recall(const bench_dataset *ds, const int64_t *I, size_t k)
{
    size_t hit = 0, nq = ds->query.n, gk = ds->gt.d;
    size_t kk = k < gk ? k : gk;
    for (size_t i = 0; i < nq; i++) {
        const int32_t *gt = ds->gt.ids + i * gk;
        for (size_t j = 0; j < kk; j++) {
            int64_t id = I[i * k + j];
            for (size_t t = 0; t < kk; t++)
                if (gt[t] == id) {
                    hit++;
                    break;
                }
        }
    }
    return (double)hit / (double)(nq * kk);
}
