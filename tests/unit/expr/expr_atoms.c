/* expr_atoms.c -- the generated table of atomic filter expressions: every
 * operator on every field type with edge values (INT64_MIN/MAX, NaN rows,
 * empty strings, unicode, JSON shapes, arrays, NULLs). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expr_ref.h"
#include "expr_schema.h"

static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
static const int rev_op[] = {0, 1, 4, 5, 2, 3};

void ref_quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s && o + 6 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[o++] = '\\';
        if (*s == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
            continue;
        }
        out[o++] = *s;
    }
    out[o++] = '"';
    out[o] = 0;
}

typedef struct gen {
    atom *out;
    size_t n, cap;
} gen;

static atom *add(gen *g, int kind, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static atom *add(gen *g, int kind, int field, const char *fmt, ...)
{
    if (g->n == g->cap)
        return &g->out[g->n - 1]; /* table full: overwrite last */
    atom *a = &g->out[g->n++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->field = field;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(a->text, sizeof(a->text), fmt, ap);
    va_end(ap);
    return a;
}

static const char *fname(int f)
{
    switch (f) {
    case F_ID:
        return "id";
    case F_B:
        return "b";
    case F_I8:
        return "i8";
    case F_I16:
        return "i16";
    case F_I32:
        return "i32";
    case F_I64:
        return "i64";
    case F_F:
        return "f";
    case F_D:
        return "d";
    case F_S:
        return "s";
    case F_SN:
        return "sn";
    case F_J:
        return "j";
    case F_AI:
        return "ai";
    case F_AS:
        return "as";
    case F_A16:
        return "a16";
    case F_AF:
        return "af";
    default:
        return "in32";
    }
}

static const char *const paths[P_NPATHS] = {
    "j[\"a\"]",  "j[\"n\"]",     "j[\"o\"][\"b\"]",
    "j['a'][0]", "$meta[\"k\"]", "$meta['tag']",
    "k",         "tag",
};

static void gen_numeric(gen *g)
{
    static const int ifields[] = {F_ID, F_I8, F_I16, F_I32, F_I64, F_IN};
    static const int64_t ivals[] = {0,    3,         -7,        127,
                                    -129, INT64_MIN, INT64_MAX, 2147483647};
    for (size_t f = 0; f < 6; f++)
        for (int op = 0; op < 6; op++)
            for (size_t v = 0; v < 8; v++) {
                atom *a;
                if ((op + v) % 3 == 0)
                    a = add(g, K_INT_CMP, ifields[f], "%lld %s %s",
                            (long long)ivals[v], ops[rev_op[op]],
                            fname(ifields[f]));
                else
                    a = add(g, K_INT_CMP, ifields[f], "%s %s %lld",
                            fname(ifields[f]), ops[op], (long long)ivals[v]);
                a->op = op;
                a->iv = ivals[v];
            }
    static const char *const fvals[] = {"0",    "0.1", "-0.0", "2.5",
                                        "1e30", "-3",  "1e300"};
    static const double fnum[] = {0, 0.1, -0.0, 2.5, 1e30, -3, 1e300};
    for (int f = F_F; f <= F_D; f++)
        for (int op = 0; op < 6; op++)
            for (int v = 0; v < 7; v++) {
                atom *a = add(g, K_FLT_CMP, f, "%s %s %s", fname(f), ops[op],
                              fvals[v]);
                a->op = op;
                a->fv = fnum[v];
            }
    static const int64_t lo[] = {-5, 0, INT64_MIN, 10, INT64_MAX, INT64_MIN};
    static const int64_t hi[] = {5, 0, 0, -10, INT64_MAX, INT64_MIN};
    for (size_t f = 0; f < 6; f++)
        for (int incl = 0; incl < 4; incl++)
            for (int k = 0; k < 6; k++) {
                const char *o1 = incl & 1 ? "<=" : "<";
                const char *o2 = incl & 2 ? "<=" : "<";
                atom *a;
                if (k % 2)
                    a = add(g, K_INT_RANGE, ifields[f], "%lld %s %s %s %lld",
                            (long long)hi[k], incl & 2 ? ">=" : ">",
                            fname(ifields[f]), incl & 1 ? ">=" : ">",
                            (long long)lo[k]);
                else
                    a = add(g, K_INT_RANGE, ifields[f], "%lld %s %s %s %lld",
                            (long long)lo[k], o1, fname(ifields[f]), o2,
                            (long long)hi[k]);
                a->op = incl;
                a->iv = lo[k];
                a->iv2 = hi[k];
            }
    for (int f = F_F; f <= F_D; f++)
        for (int incl = 0; incl < 4; incl++) {
            atom *a =
                add(g, K_FLT_RANGE, f, "-1.5 %s %s %s 2.5",
                    incl & 1 ? "<=" : "<", fname(f), incl & 2 ? "<=" : "<");
            a->op = incl;
            a->fv = -1.5;
            a->fv2 = 2.5;
            a = add(g, K_FLT_RANGE, f, "0 %s %s %s 0.1", incl & 1 ? "<=" : "<",
                    fname(f), incl & 2 ? "<=" : "<");
            a->op = incl;
            a->fv = 0;
            a->fv2 = 0.1;
        }
}

static void gen_in(gen *g)
{
    static const int ifields[] = {F_ID, F_I8, F_I16, F_I32, F_I64, F_IN};
    char buf[1800];
    for (size_t f = 0; f < 6; f++)
        for (int neg = 0; neg < 2; neg++)
            for (int shape = 0; shape < 3; shape++) {
                int n = shape == 0 ? 3 : shape == 1 ? 0 : 100;
                int o = 0;
                atom tmp = {0};
                for (int k = 0; k < n; k++) {
                    int64_t v = shape == 0 ? (k == 2 ? INT64_MIN : k * 3 - 1)
                                           : (int64_t)((k * 37) % 120) - 60;
                    tmp.ilist[k] = v;
                    o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s%lld",
                                  k ? ", " : "", (long long)v);
                }
                atom *a = add(g, K_INT_IN, ifields[f], "%s %s [%s]",
                              fname(ifields[f]), neg ? "not in" : "in", buf);
                memcpy(a->ilist, tmp.ilist, sizeof(tmp.ilist));
                a->nlist = n;
                a->op = neg;
                buf[0] = 0;
            }
    for (int f = F_F; f <= F_D; f++)
        for (int neg = 0; neg < 2; neg++) {
            atom *a = add(g, K_FLT_IN, f, "%s %s [0.1, 2.5, -0.0, 7]", fname(f),
                          neg ? "NOT IN" : "IN");
            a->op = neg;
            a->nlist = 4;
            a->flist[0] = 0.1;
            a->flist[1] = 2.5;
            a->flist[2] = -0.0;
            a->flist[3] = 7;
        }
}

static void gen_strings(gen *g)
{
    static const char *const svals[] = {
        "",     "ab",  "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "ab\"c",
        "x\\y", "a\tb"};
    char q[64], q2[64], buf[1800];
    for (int f = F_S; f <= F_SN; f++) {
        for (int op = 0; op < 6; op++)
            for (size_t v = 0; v < 7; v++) {
                ref_quote(q, sizeof(q), svals[v]);
                atom *a =
                    add(g, K_STR_CMP, f, "%s %s %s", fname(f), ops[op], q);
                a->op = op;
                a->sv = svals[v];
            }
        for (int incl = 0; incl < 4; incl++) {
            ref_quote(q, sizeof(q), "a");
            ref_quote(q2, sizeof(q2), "b");
            atom *a =
                add(g, K_STR_RANGE, f, "%s %s %s %s %s", q,
                    incl & 1 ? "<=" : "<", fname(f), incl & 2 ? "<=" : "<", q2);
            a->op = incl;
            a->sv = "a";
            a->sv2 = "b";
        }
        for (int neg = 0; neg < 2; neg++)
            for (int big = 0; big < 2; big++) {
                int n = big ? 100 : 3, o = 0;
                atom *a = add(g, K_STR_IN, f, "x");
                for (int k = 0; k < n; k++) {
                    a->slist[k] = ref_vocab[((size_t)k * 7) % ref_nvocab];
                    if (big && k >= (int)ref_nvocab)
                        a->slist[k] = "zzz"; /* repeated, no match */
                    ref_quote(q, sizeof(q), a->slist[k]);
                    o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s%s",
                                  k ? "," : "", q);
                }
                a->nlist = n;
                a->op = neg;
                (void)snprintf(a->text, sizeof(a->text), "%s %s [%s]", fname(f),
                               neg ? "not in" : "in", buf);
            }
        static const char *const pats[] = {
            "a%",    "%b",    "%b%",   "a_b",          "_b",
            "%",     "",      "ab",    "\xc3\xa9%",    "_t_",
            "a\\%b", "%\\_%", "a%c%c", "%\xe6\x9c\xac"};
        for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
            ref_quote(q, sizeof(q), pats[p]);
            atom *a = add(g, K_LIKE, f, "%s %s %s", fname(f),
                          p % 2 ? "LIKE" : "like", q);
            a->sv = pats[p];
        }
    }
}

static void gen_bool_null(gen *g)
{
    static const char *const btext[] = {"b", "not b", "b == false",
                                        "b != false"};
    for (int k = 0; k < 4; k++)
        add(g, K_BOOL, F_B, "%s", btext[k])->op = k;
    static const int nf[] = {F_SN, F_IN, F_B, F_J, F_S, F_JA_PATH};
    for (int k = 0; k < 6; k++)
        for (int neg = 0; neg < 2; neg++) {
            const char *name = nf[k] == F_JA_PATH ? "j[\"a\"]" : fname(nf[k]);
            add(g, K_NULL, nf[k], "%s %s", name,
                neg ? "is not null" : "IS NULL")
                ->op = neg;
        }
}

static void gen_json(gen *g)
{
    static const char *const lits[] = {
        "0",   "3",      "-5",   "9223372036854775807", "1.25", "-2.5",
        "3.0", "\"ab\"", "\"\"", "'\xc3\xa9t\xc3\xa9'", "true"};
    jv lv[11] = {
        {.t = JV_INT, .i = 0},    {.t = JV_INT, .i = 3},
        {.t = JV_INT, .i = -5},   {.t = JV_INT, .i = INT64_MAX},
        {.t = JV_FLT, .f = 1.25}, {.t = JV_FLT, .f = -2.5},
        {.t = JV_FLT, .f = 3.0},  {.t = JV_STR, .s = "ab"},
        {.t = JV_STR, .s = ""},   {.t = JV_STR, .s = "\xc3\xa9t\xc3\xa9"},
        {.t = JV_BOOL, .b = true}};
    for (int p = 0; p < P_NPATHS; p++)
        for (int op = 0; op < 6; op++)
            for (int l = 0; l < 11; l++) {
                if (l == 10 && op > 1)
                    continue; /* booleans: == and != only */
                if ((p + op + l) % 2)
                    continue; /* keep the table moderate */
                atom *a =
                    add(g, K_JCMP, F_J, "%s %s %s", paths[p], ops[op], lits[l]);
                a->op = op;
                a->op2 = p << 4;
                a->jlist[0] = lv[l];
            }
    for (int p = 0; p < P_NPATHS; p++) {
        atom *a = add(g, K_JIN, F_J, "%s in [1, \"ab\", 2.5, true, 'tag1']",
                      paths[p]);
        a->op2 = p << 4;
        a->nlist = 5;
        a->jlist[0] = lv[0];
        a->jlist[0].i = 1;
        a->jlist[1] = lv[7];
        a->jlist[2].t = JV_FLT;
        a->jlist[2].f = 2.5;
        a->jlist[3] = lv[10];
        a->jlist[4].t = JV_STR;
        a->jlist[4].s = "tag1";
        add(g, K_EXISTS, F_J, "exists %s", paths[p])->op2 = p << 4;
    }
    static const struct {
        const char *text;
        int mode, n;
        int64_t v[2];
    } jc[] = {{"json_contains(j[\"a\"], 3)", 0, 1, {3, 0}},
              {"json_contains_all(j[\"a\"], [1, 2])", 1, 2, {1, 2}},
              {"JSON_CONTAINS_ANY(j[\"a\"], [0, 4])", 2, 2, {0, 4}},
              {"json_contains_all(j[\"a\"], [])", 1, 0, {0, 0}},
              {"json_contains_any(j[\"a\"], [])", 2, 0, {0, 0}}};
    for (size_t k = 0; k < sizeof(jc) / sizeof(jc[0]); k++) {
        atom *a = add(g, K_JCONTAINS, F_J, "%s", jc[k].text);
        a->op = jc[k].mode;
        a->nlist = jc[k].n;
        a->ilist[0] = jc[k].v[0];
        a->ilist[1] = jc[k].v[1];
    }
    for (int op = 0; op < 6; op++)
        for (int v = 0; v < 3; v += 2) {
            atom *a = add(g, K_JALEN, F_J, "array_length(j[\"a\"]) %s %d",
                          ops[op], v);
            a->op = op;
            a->iv = v;
        }
    static const struct {
        const char *text;
        int path, aop, op;
        int64_t operand, value;
    } ja[] = {{"j[\"n\"] + 2 == 3", P_JN, 0, 0, 2, 3},
              {"j[\"n\"] * 2 > 4", P_JN, 1, 4, 2, 4},
              {"j[\"n\"] % 3 == 1", P_JN, 2, 0, 3, 1},
              {"$meta[\"k\"] + 1 < 2", P_MK, 0, 2, 1, 2},
              {"k * -1 >= 0", P_K, 1, 5, -1, 0},
              {"j[\"a\"] % 2 != 0", P_JA, 2, 1, 2, 0}};
    for (size_t k = 0; k < sizeof(ja) / sizeof(ja[0]); k++) {
        atom *a = add(g, K_JARITH, F_J, "%s", ja[k].text);
        a->op2 = ja[k].path << 4 | ja[k].aop;
        a->op = ja[k].op;
        a->iv2 = ja[k].operand;
        a->iv = ja[k].value;
    }
}

/* Array<Int16> (nullable) and Array<Float>. */
static void gen_small_arrays(gen *g)
{
    static const struct {
        const char *text;
        int field, mode, n;
        int64_t v[2];
        double f[2];
    } ac[] = {
        {"array_contains(a16, 3)", F_A16, 0, 1, {3, 0}, {0}},
        {"array_contains(a16, -32768)", F_A16, 0, 1, {-32768, 0}, {0}},
        {"array_contains_any(a16, [1, 6])", F_A16, 2, 2, {1, 6}, {0}},
        {"array_contains_all(a16, [0, 2])", F_A16, 1, 2, {0, 2}, {0}},
        {"array_contains(af, 0.1)", F_AF, 0, 1, {0}, {0.1, 0}},
        {"array_contains(af, 1)", F_AF, 0, 1, {0}, {1, 0}},
        {"array_contains_any(af, [0.5, -2])", F_AF, 2, 2, {0}, {0.5, -2}},
        {"array_contains_all(af, [0.5, 1.5])", F_AF, 1, 2, {0}, {0.5, 1.5}},
    };
    for (size_t k = 0; k < sizeof(ac) / sizeof(ac[0]); k++) {
        atom *a = add(g, K_ARR_CONTAINS, ac[k].field, "%s", ac[k].text);
        a->op = ac[k].mode;
        a->nlist = ac[k].n;
        for (int i = 0; i < 2; i++) {
            a->ilist[i] = ac[k].v[i];
            a->flist[i] = ac[k].f[i];
        }
    }
    for (int op = 0; op < 6; op++) {
        atom *a = add(g, K_ARR_ELEM, F_A16, "a16[%d] %s 3", op % 3, ops[op]);
        a->op = op;
        a->iv = 3;
        a->iv2 = op % 3;
        a = add(g, K_ARR_ELEM, F_AF, "af[%d] %s 0.1", op % 2, ops[op]);
        a->op = op;
        a->fv = 0.1;
        a->iv2 = op % 2;
        a = add(g, K_ARR_ELEM, F_AF, "af[0] %s -1", ops[op]);
        a->op = op;
        a->fv = -1;
    }
}

static void gen_arrays(gen *g)
{
    static const struct {
        const char *text;
        int field, mode, n;
        int64_t v[2];
        const char *s[2];
    } ac[] = {
        {"array_contains(ai, 3)", F_AI, 0, 1, {3, 0}, {0}},
        {"array_contains(ai, -9223372036854775808)",
         F_AI,
         0,
         1,
         {INT64_MIN},
         {0}},
        {"array_contains_all(ai, [1, 2])", F_AI, 1, 2, {1, 2}, {0}},
        {"array_contains_all(ai, [])", F_AI, 1, 0, {0}, {0}},
        {"ARRAY_CONTAINS_ANY(ai, [0, 9])", F_AI, 2, 2, {0, 9}, {0}},
        {"array_contains_any(ai, [100])", F_AI, 2, 1, {100}, {0}},
        {"json_contains(ai, 4)", F_AI, 0, 1, {4}, {0}},
        {"array_contains(as, \"ab\")", F_AS, 0, 1, {0}, {"ab"}},
        {"array_contains_all(as, ['a', 'b'])", F_AS, 1, 2, {0}, {"a", "b"}},
        {"array_contains_any(as, ['', 'a_b'])", F_AS, 2, 2, {0}, {"", "a_b"}},
    };
    for (size_t k = 0; k < sizeof(ac) / sizeof(ac[0]); k++) {
        atom *a = add(g, K_ARR_CONTAINS, ac[k].field, "%s", ac[k].text);
        a->op = ac[k].mode;
        a->nlist = ac[k].n;
        for (int i = 0; i < 2; i++) {
            a->ilist[i] = ac[k].v[i];
            a->slist[i] = ac[k].s[i];
        }
    }
    static const int arrs[] = {F_AI, F_AS, F_A16, F_AF};
    for (int fi = 0; fi < 4; fi++)
        for (int op = 0; op < 6; op++)
            for (int v = 0; v < 3; v += 2) {
                int f = arrs[fi];
                atom *a = add(g, K_ARR_LEN, f, "array_length(%s) %s %d",
                              fname(f), ops[op], v);
                a->op = op;
                a->iv = v;
            }
    for (int op = 0; op < 6; op++) {
        atom *a = add(g, K_ARR_ELEM, F_AI, "ai[%d] %s 3", op % 4, ops[op]);
        a->op = op;
        a->iv = 3;
        a->iv2 = op % 4;
        a = add(g, K_ARR_ELEM, F_AS, "as[%d] %s 'ab'", op % 3, ops[op]);
        a->op = op;
        a->sv = "ab";
        a->iv2 = op % 3;
    }
    gen_small_arrays(g);
    atom *a = add(g, K_ARR_EQ, F_AI, "ai == [1, 2]");
    a->nlist = 2;
    a->ilist[0] = 1;
    a->ilist[1] = 2;
    add(g, K_ARR_EQ, F_AI, "ai != []")->op = 1;
    add(g, K_ARR_EQ, F_AI, "ai == []");
}

static void gen_arith_cols(gen *g)
{
    static const struct {
        const char *text;
        int field, aop, op;
        int64_t operand, value;
    } ar[] = {
        {"i8 + 5 > 10", F_I8, 0, 4, 5, 10},
        {"i32 * 2 == 20", F_I32, 1, 0, 2, 20},
        {"2 * i32 == 20", F_I32, 1, 0, 2, 20},
        {"i16 % 7 == 3", F_I16, 4, 0, 7, 3},
        {"i64 / 3 < 4", F_I64, 3, 2, 3, 4},
        {"i64 - 1 == 9223372036854775807", F_I64, 2, 0, 1, INT64_MAX},
        {"i64 % -3 == 0", F_I64, 4, 0, -3, 0},
        {"i64 / -1 == -9223372036854775808", F_I64, 3, 0, -1, INT64_MIN},
        {"in32 + 1 != 2", F_IN, 0, 1, 1, 2},
        {"10 + i8 <= 0", F_I8, 0, 3, 10, 0},
    };
    for (size_t k = 0; k < sizeof(ar) / sizeof(ar[0]); k++) {
        atom *a = add(g, K_ARITH, ar[k].field, "%s", ar[k].text);
        a->op2 = ar[k].aop;
        a->op = ar[k].op;
        a->iv2 = ar[k].operand;
        a->iv = ar[k].value;
    }
    static const struct {
        const char *text;
        int field, aop, op;
        double operand, value;
    } fr[] = {{"f * 2 > 1.0", F_F, 1, 4, 2, 1.0},
              {"d - 1 <= 0", F_D, 2, 3, 1, 0},
              {"f + 0.5 == 1", F_F, 0, 0, 0.5, 1},
              {"d * 2 != 5", F_D, 1, 1, 2, 5}};
    for (size_t k = 0; k < sizeof(fr) / sizeof(fr[0]); k++) {
        atom *a = add(g, K_FLT_ARITH, fr[k].field, "%s", fr[k].text);
        a->op2 = fr[k].aop;
        a->op = fr[k].op;
        a->fv2 = fr[k].operand;
        a->fv = fr[k].value;
    }
    static const struct {
        int f1, f2;
    } cc[] = {{F_I32, F_I64}, {F_I8, F_I16}, {F_IN, F_I8},
              {F_F, F_D},     {F_S, F_SN},   {F_B, F_B}};
    for (size_t k = 0; k < sizeof(cc) / sizeof(cc[0]); k++)
        for (int op = 0; op < 6; op++) {
            if (cc[k].f1 == F_B && op > 1)
                continue;
            atom *a = add(g, K_COLS, cc[k].f1, "%s %s %s", fname(cc[k].f1),
                          ops[op], fname(cc[k].f2));
            a->op = op;
            a->iv = cc[k].f2;
        }
}

size_t ref_atoms(atom *out, size_t cap)
{
    gen g = {out, 0, cap};
    gen_numeric(&g);
    gen_in(&g);
    gen_strings(&g);
    gen_bool_null(&g);
    gen_json(&g);
    gen_arrays(&g);
    gen_arith_cols(&g);
    return g.n;
}
