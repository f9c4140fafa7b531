/* filter_bench.c -- evaluation speed of typical filters.
 *
 * For each case one column of --rows rows (default 10M) is generated, the
 * filter is parsed once and evaluated --reps times (best time counts),
 * first by scanning the column, then with each scalar index that fits,
 * whose build time is reported too.  One column lives at a time to keep
 * memory small.  Output: a Markdown table.
 *
 *   filter_bench [--rows N] [--reps R] [--only NAME]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/column/column.h"
#include "common/expr/expr.h"
#include "index/scalar/scalar_index.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Evaluation runs on this thread alone, so its CPU time is the cost, and
 * it does not change when other processes share the cores. */
static double cpu_s(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void die(const char *what, const qv_err *err)
{
    (void)fprintf(stderr, "filter_bench: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

enum { C_INT, C_VARCHAR, C_JSON, C_ARRAY };

static qv_column *make_column(int kind, size_t rows)
{
    qv_field_spec s = {0};
    s.id = 100;
    s.name = "x";
    s.max_length = 64;
    s.max_capacity = 16;
    s.type = kind == C_INT       ? QV_DT_INT64
             : kind == C_VARCHAR ? QV_DT_VARCHAR
             : kind == C_JSON    ? QV_DT_JSON
                                 : QV_DT_ARRAY;
    s.elem_type = kind == C_ARRAY ? QV_DT_INT64 : QV_DT_NONE;
    qv_column *c = NULL;
    qv_err err = {0};
    if (qv_column_create(&s, &c, &err) != QV_OK)
        die("column", &err);
    if (qv_column_reserve(c, rows, kind == C_INT ? 0 : rows * 32) != QV_OK)
        die("reserve", NULL);
    char buf[128];
    int64_t arr[16];
    for (size_t r = 0; r < rows; r++) {
        qv_code rc;
        switch (kind) {
        case C_INT: {
            int64_t v = (int64_t)(rnd() % 10000000);
            rc = qv_column_append_fixed(c, &v, 1);
            break;
        }
        case C_VARCHAR: {
            int n = snprintf(buf, sizeof(buf), "key-%" PRIu64, rnd() % 1000000);
            rc = qv_column_append_var(c, buf, (size_t)n);
            break;
        }
        case C_JSON: {
            int n = snprintf(buf, sizeof(buf),
                             "{\"name\": \"n%" PRIu64 "\", \"a\": %" PRIu64
                             ", \"tags\": [1, 2]}",
                             rnd() % 1000, rnd() % 1000);
            rc = qv_column_append_var(c, buf, (size_t)n);
            break;
        }
        default: {
            size_t n = rnd() % 9;
            for (size_t k = 0; k < n; k++)
                arr[k] = (int64_t)(rnd() % 100);
            rc = qv_column_append_var(c, arr, n * sizeof(int64_t));
        }
        }
        if (rc != QV_OK)
            die("append", NULL);
    }
    qv_column_publish(c);
    return c;
}

typedef struct bcase {
    const char *name;
    int kind;
    const char *expr; /* NULL: built at run time */
} bcase;

/* Best-of-reps evaluation time; *matches = matching rows. */
static double time_eval(const qv_expr_plan *plan, const qv_expr_binding *b,
                        size_t rows, int reps, size_t *matches)
{
    qv_bitset bs;
    qv_err err = {0};
    if (qv_bitset_init(&bs, rows) != QV_OK)
        die("bitset", NULL);
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = cpu_s();
        if (qv_expr_eval(plan, b, 1, rows, &bs, &err) != QV_OK)
            die("eval", &err);
        double t = cpu_s() - t0;
        if (t < best)
            best = t;
    }
    *matches = qv_bitset_count(&bs);
    qv_bitset_release(&bs);
    return best;
}

static char *in_list_expr(void)
{
    size_t cap = 4096, o = 0;
    char *s = qv_xmalloc(cap);
    o += (size_t)snprintf(s, cap, "x in [");
    for (int k = 0; k < 100; k++)
        o += (size_t)snprintf(s + o, cap - o, "%s\"key-%" PRIu64 "\"",
                              k ? ", " : "", rnd() % 1000000);
    (void)snprintf(s + o, cap - o, "]");
    return s;
}

static void run_case(const bcase *bc, size_t rows, int reps)
{
    qv_column *col = make_column(bc->kind, rows);
    qv_col_view view = qv_column_view(col);
    qv_expr_field field = {100,   "x",   view.type, view.elem_type,
                           false, false, false};
    qv_expr_schema schema = {&field, 1};
    char *owned = bc->expr ? NULL : in_list_expr();
    const char *text = bc->expr ? bc->expr : owned;
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    if (qv_expr_parse(text, strlen(text), &schema, NULL, 0, &plan, &err) !=
        QV_OK)
        die("parse", &err);
    qv_expr_binding b = {100, view, NULL};
    size_t matches;
    double t = time_eval(plan, &b, rows, reps, &matches);
    char shown[64];
    (void)snprintf(shown, sizeof(shown), "%.50s%s", text,
                   strlen(text) > 50 ? "..." : "");
    (void)printf("| %s | `%s` | %zu | scan | - | %.1f | %.2f |\n", bc->name,
                 shown, matches, (double)rows / t / 1e6, t * 1e3);
    static const qv_sindex_type types[] = {QV_SINDEX_STL_SORT,
                                           QV_SINDEX_INVERTED, QV_SINDEX_BITMAP,
                                           QV_SINDEX_TRIE};
    for (size_t k = 0; k < 4; k++) {
        if (!qv_sindex_type_fits(types[k], view.type, view.elem_type))
            continue;
        qv_sindex *ix = NULL;
        double t0 = now_s();
        if (qv_sindex_build(types[k], &view, NULL, 0, &ix, &err) != QV_OK) {
            (void)printf("| %s | | | %s | not built: %s | | |\n", bc->name,
                         qv_sindex_type_name(types[k]), err.msg);
            continue;
        }
        double build = now_s() - t0;
        b.index = ix;
        size_t m2;
        double ti = time_eval(plan, &b, rows, reps, &m2);
        if (m2 != matches)
            die("index result differs from the scan", NULL);
        (void)printf("| %s | | %zu | %s | %.2f | %.1f | %.2f |\n", bc->name, m2,
                     qv_sindex_type_name(types[k]), build,
                     (double)rows / ti / 1e6, ti * 1e3);
        b.index = NULL;
        qv_sindex_free(ix);
    }
    (void)fflush(stdout);
    qv_expr_plan_free(plan);
    free(owned);
    qv_column_free(col);
}

/* Proxy-side cost: parse, encode and decode of a filter, best of reps. */
static void plan_costs(const char *name, const char *text, int reps)
{
    static const qv_expr_field fields[] = {
        {100, "id", QV_DT_INT64, QV_DT_NONE, false, false, true},
        {101, "x", QV_DT_VARCHAR, QV_DT_NONE, false, false, false},
    };
    qv_expr_schema schema = {fields, 2};
    double tp = 1e30, te = 1e30, td = 1e30;
    size_t bytes = 0;
    for (int i = 0; i < reps; i++) {
        qv_expr_plan *plan = NULL, *back = NULL;
        qv_err err = {0};
        qv_buf b = QV_BUF_INIT;
        double t0 = cpu_s();
        if (qv_expr_parse(text, strlen(text), &schema, NULL, 0, &plan, &err))
            die("parse", &err);
        double t1 = cpu_s();
        if (qv_expr_plan_encode(plan, &b, &err))
            die("encode", &err);
        double t2 = cpu_s();
        if (qv_expr_plan_decode(b.data, b.len, &back, &err))
            die("decode", &err);
        double t3 = cpu_s();
        tp = t1 - t0 < tp ? t1 - t0 : tp;
        te = t2 - t1 < te ? t2 - t1 : te;
        td = t3 - t2 < td ? t3 - t2 : td;
        bytes = b.len;
        qv_buf_release(&b);
        qv_expr_plan_free(plan);
        qv_expr_plan_free(back);
    }
    (void)printf("| %s | %zu | %.1f | %.1f | %.1f | %zu |\n", name,
                 strlen(text), tp * 1e6, te * 1e6, td * 1e6, bytes);
}

static void plan_section(int reps)
{
    (void)printf("\n## plan costs (proxy side), best of %d\n\n", reps);
    (void)printf("| filter | text bytes | parse us | encode us | decode us "
                 "| plan bytes |\n|---|---|---|---|---|---|\n");
    char *in = in_list_expr();
    plan_costs("VarChar in (100 values)", in, reps);
    free(in);
    plan_costs("typical",
               "id > 10 and (x like \"ab%\" or x in [\"a\", "
               "\"b\"]) and not (id in [1, 2, 3])",
               reps);
    size_t n = 200000, cap = n * 8 + 16, o = 0;
    char *pk = qv_xmalloc(cap);
    o += (size_t)snprintf(pk, cap, "id in [");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(pk + o, cap - o, "%s%zu", i ? "," : "", i * 3);
    (void)snprintf(pk + o, cap - o, "]");
    plan_costs("delete by 200000 ids", pk, reps);
    free(pk);
}

int main(int argc, char **argv)
{
    size_t rows = 10000000;
    int reps = 3;
    const char *only = NULL; /* run the cases whose name contains this */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else {
            (void)fprintf(stderr, "usage: filter_bench [--rows N] [--reps R] "
                                  "[--only NAME]\n");
            return 2;
        }
    }
    if (rows == 0 || reps < 1)
        return 2;
    static const bcase cases[] = {
        {"int range", C_INT, "1000000 <= x < 1500000"},
        {"int equality", C_INT, "x == 4242"},
        {"VarChar in (100 values)", C_VARCHAR, NULL},
        {"VarChar prefix", C_VARCHAR, "x like \"key-12%\""},
        {"JSON path equality", C_JSON, "x[\"a\"] == 42"},
        {"array_contains", C_ARRAY, "array_contains(x, 7)"},
    };
    (void)printf("## filter_bench: %zu rows, best of %d\n\n", rows, reps);
    (void)printf(
        "Mrows/s = million rows evaluated per second of one thread's CPU "
        "time (a scan of the column, or a query of the scalar index "
        "named, whose build is timed apart); ms = CPU ms per "
        "evaluation.\n\n");
    (void)printf(
        "| filter | expression | matches | index | build s | Mrows/s | "
        "ms |\n");
    (void)printf("|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!only || strstr(cases[i].name, only))
            run_case(&cases[i], rows, reps);
    if (!only || strstr("plan", only))
        plan_section(reps);
    return 0;
}
