/* test_eval.c -- filter evaluation against the independent reference:
 * a generated table of atoms (every operator, type, edge value, NULLs,
 * JSON shapes, arrays) plus random and/or/not combinations of them; the
 * bitsets must match the reference exactly, with no scalar index and with
 * each scalar index type bound wherever it fits. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/expr/expr.h"
#include "expr_ref.h"
#include "expr_schema.h"

/* Generated expressions are far shorter than their buffers; gcc -O3 cannot
 * prove it for the nested snprintf calls below. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAX_ATOMS 1600
#define NCOMBOS   300

typedef struct cnode {
    int op; /* 0 atom, 1 and, 2 or, 3 not */
    int atom;
    int kids[3];
    int nk;
} cnode;

typedef struct combo {
    cnode nodes[24];
    int nn;
    char text[8192];
} combo;

typedef struct fixture {
    ref_data *d;
    atom *atoms;
    size_t natoms;
    combo *combos;
    qv_column *cols[REF_NCOLS];
    qv_col_view views[REF_NCOLS];
    int64_t ids[REF_NCOLS];
    qv_sindex *ix[REF_NCOLS];
} fixture;

static fixture F;
static uint64_t combo_rng = 12345;

static uint64_t crnd(void)
{
    combo_rng ^= combo_rng << 13;
    combo_rng ^= combo_rng >> 7;
    combo_rng ^= combo_rng << 17;
    return combo_rng;
}

static int build_combo(combo *c, int depth, char *out, size_t cap)
{
    int me = c->nn++;
    cnode *n = &c->nodes[me];
    int r = (int)(crnd() % 10);
    if (depth >= 3 || c->nn > 18 || r < 3) {
        n->op = 0;
        n->atom = (int)(crnd() % F.natoms);
        (void)snprintf(out, cap, "%s", F.atoms[n->atom].text);
        return me;
    }
    if (r < 5) {
        n->op = 3;
        char inner[4096];
        n->kids[0] = build_combo(c, depth + 1, inner, sizeof(inner));
        n->nk = 1;
        (void)snprintf(out, cap, "%s (%s)", crnd() & 1 ? "not" : "!", inner);
        return me;
    }
    n->op = r < 8 ? 1 : 2;
    n->nk = 2 + (int)(crnd() % 2);
    size_t o = 0;
    for (int k = 0; k < n->nk; k++) {
        char inner[4096];
        n->kids[k] = build_combo(c, depth + 1, inner, sizeof(inner));
        const char *op = n->op == 1 ? (crnd() & 1 ? " and " : " && ")
                                    : (crnd() & 1 ? " OR " : " || ");
        o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s(%s)",
                              k ? op : "", inner);
    }
    return me;
}

static int eval_combo(const combo *c, int i, size_t row)
{
    const cnode *n = &c->nodes[i];
    if (n->op == 0)
        return ref_atom(F.d, &F.atoms[n->atom], row);
    if (n->op == 3) {
        int v = eval_combo(c, n->kids[0], row);
        return v < 0 ? -1 : !v;
    }
    int res = n->op == 1 ? 1 : 0;
    for (int k = 0; k < n->nk; k++) {
        int v = eval_combo(c, n->kids[k], row);
        if (n->op == 1) /* Kleene and: false wins, then unknown */
            res = (res == 0 || v == 0) ? 0 : (res < 0 || v < 0) ? -1 : 1;
        else
            res = (res == 1 || v == 1) ? 1 : (res < 0 || v < 0) ? -1 : 0;
    }
    return res;
}

static void setup(void)
{
    F.d = qv_xcalloc(1, sizeof(ref_data));
    ref_fill(F.d);
    F.atoms = qv_xcalloc(MAX_ATOMS, sizeof(atom));
    F.natoms = ref_atoms(F.atoms, MAX_ATOMS);
    cr_assert_lt(F.natoms, MAX_ATOMS, "atom table overflow");
    F.combos = qv_xcalloc(NCOMBOS, sizeof(combo));
    combo_rng = 12345;
    for (int k = 0; k < NCOMBOS; k++)
        build_combo(&F.combos[k], 0, F.combos[k].text,
                    sizeof(F.combos[k].text));
    ref_columns(F.d, F.cols, F.views, F.ids);
}

static void teardown(void)
{
    for (int k = 0; k < REF_NCOLS; k++) {
        qv_sindex_free(F.ix[k]);
        F.ix[k] = NULL;
        qv_column_free(F.cols[k]);
    }
    ref_free(F.d);
    free(F.d);
    free(F.atoms);
    free(F.combos);
}

TestSuite(expr_eval, .init = setup, .fini = teardown, .timeout = 240);

/* Builds index type t on every column it fits; returns how many. */
static int bind_indexes(qv_sindex_type t)
{
    int built = 0;
    for (int k = 0; k < REF_NCOLS; k++) {
        const qv_col_view *v = &F.views[k];
        if (!qv_sindex_type_fits(t, v->type, v->elem_type))
            continue;
        qv_err err = {0};
        if (qv_sindex_build(t, v, NULL, 0, &F.ix[k], &err) == QV_OK)
            built++;
        else
            F.ix[k] = NULL; /* e.g. BITMAP over too many values */
    }
    return built;
}

typedef struct tally {
    size_t exprs, informative, checked_rows;
} tally;

/* Parses, evaluates and compares one expression; ref(i) is the reference
 * for row i. */
/* NOLINTNEXTLINE(readability-function-size): Criterion asserts expand */
static void check_expr(const char *text, int (*ref)(const void *, size_t),
                       const void *arg, bool round_trip, tally *t)
{
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_expr_parse(text, strlen(text), &test_schema, NULL, 0, &plan, &err),
        QV_OK, "%s: %s", text, err.msg);
    if (round_trip) { /* evaluate the decoded plan instead */
        qv_buf b = QV_BUF_INIT;
        cr_assert_eq(qv_expr_plan_encode(plan, &b, &err), QV_OK);
        qv_expr_plan_free(plan);
        cr_assert_eq(qv_expr_plan_decode(b.data, b.len, &plan, &err), QV_OK,
                     "%s: %s", text, err.msg);
        qv_buf_release(&b);
    }
    qv_expr_binding binds[REF_NCOLS];
    for (int k = 0; k < REF_NCOLS; k++) {
        binds[k].field_id = F.ids[k];
        binds[k].col = F.views[k];
        binds[k].index = F.ix[k];
    }
    qv_bitset bs;
    cr_assert_eq(qv_bitset_init(&bs, REF_ROWS), QV_OK);
    cr_assert_eq(qv_expr_eval(plan, binds, REF_NCOLS, REF_ROWS, &bs, &err),
                 QV_OK, "%s: %s", text, err.msg);
    size_t matches = 0;
    for (size_t r = 0; r < REF_ROWS; r++) {
        bool want = ref(arg, r) == 1;
        bool got = qv_bitset_test(&bs, r);
        if (want != got) {
            qv_buf p = QV_BUF_INIT;
            (void)!qv_expr_plan_format(plan, &p);
            cr_assert_fail("%s\nplan %s\nrow %zu: want %d got %d "
                           "(i64=%lld i32=%d f=%g d=%g s='%s' sn='%s'%s "
                           "j=%s meta=%s)",
                           text, qv_buf_str(&p), r, want, got,
                           (long long)F.d->i64[r], F.d->i32[r], F.d->f[r],
                           F.d->d[r], F.d->s[r], F.d->sn[r],
                           F.d->sn_ok[r] ? "" : "(null)",
                           F.d->jdoc[r] ? F.d->jdoc[r] : "NULL", F.d->mdoc[r]);
        }
        matches += want;
    }
    t->exprs++;
    t->checked_rows += REF_ROWS;
    if (matches > 0 && matches < REF_ROWS)
        t->informative++;
    qv_bitset_release(&bs);
    qv_expr_plan_free(plan);
}

static int ref_of_atom(const void *a, size_t r)
{
    return ref_atom(F.d, a, r);
}

static int ref_of_combo(const void *c, size_t r)
{
    return eval_combo(c, 0, r);
}

static void run_table(const char *config)
{
    tally t = {0};
    for (size_t i = 0; i < F.natoms; i++)
        check_expr(F.atoms[i].text, ref_of_atom, &F.atoms[i], i % 5 == 0, &t);
    for (int k = 0; k < NCOMBOS; k++)
        check_expr(F.combos[k].text, ref_of_combo, &F.combos[k], k % 5 == 0,
                   &t);
    cr_log_info("%s: %zu expressions, %zu informative, %zu rows checked",
                config, t.exprs, t.informative, t.checked_rows);
    cr_assert_geq(t.exprs, 800);
    /* the table must not be vacuous: most expressions split the rows */
    cr_assert_gt(t.informative * 10, t.exprs * 6, "%zu of %zu informative",
                 t.informative, t.exprs);
}

Test(expr_eval, matches_reference_without_indexes)
{
    run_table("scan");
}

Test(expr_eval, matches_reference_with_stl_sort)
{
    cr_assert_geq(bind_indexes(QV_SINDEX_STL_SORT), 6);
    run_table("STL_SORT");
}

Test(expr_eval, matches_reference_with_inverted)
{
    cr_assert_geq(bind_indexes(QV_SINDEX_INVERTED), 8);
    run_table("INVERTED");
}

Test(expr_eval, matches_reference_with_bitmap)
{
    cr_assert_geq(bind_indexes(QV_SINDEX_BITMAP), 3);
    run_table("BITMAP");
}

Test(expr_eval, matches_reference_with_trie)
{
    cr_assert_geq(bind_indexes(QV_SINDEX_TRIE), 2);
    run_table("Trie");
}

Test(expr_eval, filter_returns_the_exclude_polarity)
{
    const char *text = "i64 > 0 and sn is not null";
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_expr_parse(text, strlen(text), &test_schema, NULL, 0, &plan, &err),
        QV_OK);
    qv_expr_binding binds[REF_NCOLS];
    for (int k = 0; k < REF_NCOLS; k++)
        binds[k] = (qv_expr_binding){F.ids[k], F.views[k], NULL};
    qv_bitset match, excl;
    cr_assert_eq(qv_bitset_init(&match, REF_ROWS), QV_OK);
    cr_assert_eq(qv_bitset_init(&excl, REF_ROWS), QV_OK);
    cr_assert_eq(qv_expr_eval(plan, binds, REF_NCOLS, REF_ROWS, &match, &err),
                 QV_OK);
    cr_assert_eq(qv_expr_filter(plan, binds, REF_NCOLS, REF_ROWS, &excl, &err),
                 QV_OK);
    size_t n = 0;
    for (size_t r = 0; r < REF_ROWS; r++) {
        bool want = F.d->i64[r] > 0 && F.d->sn_ok[r];
        cr_assert_eq(qv_bitset_test(&match, r), want);
        cr_assert_eq(qv_bitset_test(&excl, r), !want);
        n += want;
    }
    cr_assert_gt(n, 0);
    cr_assert_eq(qv_bitset_count(&match) + qv_bitset_count(&excl), REF_ROWS);
    /* a missing column and a mistyped binding are errors */
    cr_assert_eq(qv_expr_eval(plan, binds, 3, REF_ROWS, &match, &err),
                 QV_E_NOT_FOUND);
    binds[5].col.type = QV_DT_INT32;
    cr_assert_eq(qv_expr_eval(plan, binds, REF_NCOLS, REF_ROWS, &match, &err),
                 QV_E_INVALID);
    qv_bitset_release(&match);
    qv_bitset_release(&excl);
    qv_expr_plan_free(plan);
}

/* An index built over other data of the same type shows whether the
 * evaluator consults it (it must, for every index-answerable leaf). */
Test(expr_eval, bound_indexes_are_used)
{
    static const struct {
        qv_sindex_type t;
        const char *expr;
    } cases[] = {
        {QV_SINDEX_STL_SORT, "i64 == 7"},
        {QV_SINDEX_STL_SORT, "i64 > 6"},
        {QV_SINDEX_INVERTED, "i64 in [7, 8]"},
        {QV_SINDEX_BITMAP, "i64 != 8"},
        {QV_SINDEX_STL_SORT, "5 < i64 < 9"},
        {QV_SINDEX_INVERTED, "array_contains(ai, 7)"},
        {QV_SINDEX_BITMAP, "array_contains_all(ai, [7])"},
    };
    int64_t *sevens = qv_xcalloc(REF_ROWS, sizeof(int64_t));
    for (size_t r = 0; r < REF_ROWS; r++)
        sevens[r] = 7;
    qv_col_view fake = F.views[5];
    fake.data = (const uint8_t *)sevens;
    qv_buf arr = QV_BUF_INIT;
    uint64_t *offs = qv_xcalloc(REF_ROWS + 1, sizeof(uint64_t));
    for (size_t r = 0; r < REF_ROWS; r++) {
        int64_t v = 7;
        cr_assert_eq(qv_buf_append(&arr, &v, 8), QV_OK);
        offs[r + 1] = arr.len;
    }
    qv_col_view fake_arr = F.views[11];
    fake_arr.data = (const uint8_t *)arr.data;
    fake_arr.offsets = offs;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool is_arr = strstr(cases[i].expr, "ai") != NULL;
        qv_sindex *ix = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_sindex_build(cases[i].t, is_arr ? &fake_arr : &fake,
                                     NULL, 0, &ix, &err),
                     QV_OK, "%s", err.msg);
        qv_expr_binding binds[REF_NCOLS];
        for (int k = 0; k < REF_NCOLS; k++)
            binds[k] = (qv_expr_binding){F.ids[k], F.views[k], NULL};
        binds[is_arr ? 11 : 5].index = ix;
        qv_expr_plan *plan = NULL;
        cr_assert_eq(qv_expr_parse(cases[i].expr, strlen(cases[i].expr),
                                   &test_schema, NULL, 0, &plan, &err),
                     QV_OK);
        qv_bitset bs;
        cr_assert_eq(qv_bitset_init(&bs, REF_ROWS), QV_OK);
        cr_assert_eq(qv_expr_eval(plan, binds, REF_NCOLS, REF_ROWS, &bs, &err),
                     QV_OK, "%s", err.msg);
        cr_assert_eq(qv_bitset_count(&bs), REF_ROWS,
                     "%s: the index (all 7s) was not used", cases[i].expr);
        qv_bitset_release(&bs);
        qv_expr_plan_free(plan);
        qv_sindex_free(ix);
    }
    free(sevens);
    free(offs);
    qv_buf_release(&arr);
}

/* Sealed segments: columns loaded from column files and indexes loaded
 * from their images (both in place, no copy) evaluate like memory ones. */
Test(expr_eval, matches_reference_on_loaded_files)
{
    void *images[REF_NCOLS * 2] = {0};
    qv_column *loaded[REF_NCOLS];
    for (int k = 0; k < REF_NCOLS; k++) {
        qv_buf b = QV_BUF_INIT;
        qv_err err = {0};
        cr_assert_eq(qv_column_file_encode(&F.views[k], F.ids[k], &b, &err),
                     QV_OK, "%s", err.msg);
        images[k] = qv_try_aligned_alloc(b.len, 1);
        memcpy(images[k], b.data, b.len);
        cr_assert_eq(qv_column_load(images[k], b.len, 0, &loaded[k], &err),
                     QV_OK, "%s", err.msg);
        qv_buf_release(&b);
        /* swap in the loaded view; the memory column stays for teardown */
        F.views[k] = qv_column_view(loaded[k]);
        qv_sindex_type t = F.views[k].type == QV_DT_VARCHAR
                               ? QV_SINDEX_TRIE
                               : QV_SINDEX_INVERTED;
        qv_sindex *ix = NULL;
        if (!qv_sindex_type_fits(t, F.views[k].type, F.views[k].elem_type) ||
            qv_sindex_build(t, &F.views[k], NULL, 0, &ix, &err) != QV_OK)
            continue;
        qv_buf ib = QV_BUF_INIT;
        cr_assert_eq(qv_sindex_encode(ix, &ib, &err), QV_OK, "%s", err.msg);
        qv_sindex_free(ix);
        images[REF_NCOLS + k] = qv_try_aligned_alloc(ib.len, 1);
        memcpy(images[REF_NCOLS + k], ib.data, ib.len);
        cr_assert_eq(
            qv_sindex_load(images[REF_NCOLS + k], ib.len, &F.ix[k], &err),
            QV_OK, "%s", err.msg);
        qv_buf_release(&ib);
    }
    tally t = {0};
    for (size_t i = 0; i < F.natoms; i += 2)
        check_expr(F.atoms[i].text, ref_of_atom, &F.atoms[i], false, &t);
    for (int k = 0; k < NCOMBOS; k += 3)
        check_expr(F.combos[k].text, ref_of_combo, &F.combos[k], false, &t);
    cr_assert_gt(t.informative, 300);
    for (int k = 0; k < REF_NCOLS; k++) {
        qv_sindex_free(F.ix[k]);
        F.ix[k] = NULL;
        qv_column_free(loaded[k]);
    }
    for (int k = 0; k < REF_NCOLS * 2; k++)
        qv_aligned_free(images[k]);
}

/* `exists` is Milvus's "present and not empty"; `is null` tests the row. */
Test(expr_eval, exists_and_is_null_on_json_paths)
{
    static const struct {
        const char *doc; /* NULL: a NULL row */
        bool exists;
    } rows[] = {
        {"{\"a\": {}}", false},
        {"{\"a\": {\"b\": null}}", false},
        {"{\"a\": [null, []]}", false},
        {"{\"a\": [[{}]]}", false},
        {"{\"a\": {\"b\": 0}}", true},
        {"{\"a\": \"\"}", true},
        {"{\"a\": 0}", true},
        {"{\"a\": false}", true},
        {"{}", false},
        {"{\"a\": null}", false},
        {"{\"a\": [1]}", true},
        {NULL, false},
    };
    size_t n = sizeof(rows) / sizeof(rows[0]);
    qv_field_spec spec = {
        .id = F_J, .name = "j", .type = QV_DT_JSON, .nullable = true};
    qv_column *col = NULL;
    cr_assert_eq(qv_column_create(&spec, &col, NULL), QV_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rows[i].doc ? qv_column_append_var(col, rows[i].doc,
                                                        strlen(rows[i].doc))
                                 : qv_column_append_null(col, 1),
                     QV_OK);
    qv_column_publish(col);
    qv_expr_binding b = {F_J, qv_column_view(col), NULL};
    const char *exprs[] = {"exists j[\"a\"]", "j[\"a\"] is null",
                           "j[\"a\"] is not null", "not exists j['a']"};
    for (int k = 0; k < 4; k++) {
        qv_expr_plan *plan = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_expr_parse(exprs[k], strlen(exprs[k]), &test_schema,
                                   NULL, 0, &plan, &err),
                     QV_OK, "%s", err.msg);
        qv_bitset bs;
        cr_assert_eq(qv_bitset_init(&bs, n), QV_OK);
        cr_assert_eq(qv_expr_eval(plan, &b, 1, n, &bs, &err), QV_OK);
        for (size_t i = 0; i < n; i++) {
            bool null_row = rows[i].doc == NULL;
            bool want = k == 0   ? rows[i].exists
                        : k == 1 ? null_row
                        : k == 2 ? !null_row
                                 : !null_row && !rows[i].exists;
            cr_assert_eq(qv_bitset_test(&bs, i), want, "%s on %s", exprs[k],
                         rows[i].doc ? rows[i].doc : "NULL");
        }
        qv_bitset_release(&bs);
        qv_expr_plan_free(plan);
    }
    qv_column_free(col);
}

typedef struct thr_arg {
    const qv_expr_plan *plan;
    const qv_expr_binding *binds;
    qv_bitset out;
    qv_code rc;
} thr_arg;

static void *eval_thread(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 20 && a->rc == QV_OK; i++)
        a->rc =
            qv_expr_eval(a->plan, a->binds, REF_NCOLS, REF_ROWS, &a->out, NULL);
    return NULL;
}

/* One plan, evaluated by several threads at once, gives every thread the
 * same answer (plans and indexes are read-only during evaluation). */
Test(expr_eval, concurrent_evaluations_agree)
{
    cr_assert_geq(bind_indexes(QV_SINDEX_INVERTED), 8);
    const char *text = "(i64 > 0 and s in ['a', 'ab']) or j['a'] == 3 or "
                       "array_contains_any(ai, [1, 2]) or sn like 'a%'";
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    cr_assert_eq(
        qv_expr_parse(text, strlen(text), &test_schema, NULL, 0, &plan, &err),
        QV_OK, "%s", err.msg);
    qv_expr_binding binds[REF_NCOLS];
    for (int k = 0; k < REF_NCOLS; k++)
        binds[k] = (qv_expr_binding){F.ids[k], F.views[k], F.ix[k]};
    thr_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){plan, binds, {0}, QV_OK};
        cr_assert_eq(qv_bitset_init(&args[i].out, REF_ROWS), QV_OK);
        cr_assert_eq(pthread_create(&th[i], NULL, eval_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    size_t n = qv_bitset_count(&args[0].out);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, REF_ROWS);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(args[i].rc, QV_OK);
        cr_assert(memcmp(args[i].out.words, args[0].out.words,
                         QV_BITSET_WORDS(REF_ROWS) * 8) == 0);
    }
    for (int i = 0; i < 4; i++)
        qv_bitset_release(&args[i].out);
    qv_expr_plan_free(plan);
}

/* random_sample keeps about `ratio` of the matching rows, the same rows
 * every time, and only rows the rest of the filter matches. */
Test(expr_eval, random_sample_keeps_a_stable_fraction)
{
    qv_expr_binding binds[REF_NCOLS];
    for (int k = 0; k < REF_NCOLS; k++)
        binds[k] = (qv_expr_binding){F.ids[k], F.views[k], NULL};
    const char *texts[] = {"i64 >= 0", "i64 >= 0 and random_sample(0.3)",
                           "random_sample(0.3) and i64 >= 0"};
    qv_bitset bs[3];
    for (int k = 0; k < 3; k++) {
        qv_expr_plan *plan = NULL;
        qv_err err = {0};
        cr_assert_eq(qv_expr_parse(texts[k], strlen(texts[k]), &test_schema,
                                   NULL, 0, &plan, &err),
                     QV_OK, "%s", err.msg);
        cr_assert_eq(qv_bitset_init(&bs[k], REF_ROWS), QV_OK);
        cr_assert_eq(
            qv_expr_eval(plan, binds, REF_NCOLS, REF_ROWS, &bs[k], &err),
            QV_OK);
        qv_expr_plan_free(plan);
    }
    size_t all = qv_bitset_count(&bs[0]), some = qv_bitset_count(&bs[1]);
    cr_assert_gt(all, 1000);
    /* 30% of the matches, within a generous binomial margin */
    cr_assert(some > all * 25 / 100 && some < all * 35 / 100, "%zu of %zu",
              some, all);
    for (size_t r = 0; r < REF_ROWS; r++) {
        if (qv_bitset_test(&bs[1], r))
            cr_assert(qv_bitset_test(&bs[0], r), "row %zu not a match", r);
        cr_assert_eq(qv_bitset_test(&bs[1], r), qv_bitset_test(&bs[2], r));
    }
    for (int k = 0; k < 3; k++)
        qv_bitset_release(&bs[k]);
}
