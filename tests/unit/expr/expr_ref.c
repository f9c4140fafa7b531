/* expr_ref.c -- the filter test data set and the row-by-row reference
 * evaluator (see expr_ref.h).  The reference follows the rules documented
 * in common/expr/README.md, written from the rules, not from the code. */
#include "expr_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "expr_schema.h"

const char *const ref_vocab[] = {
    "",
    "a",
    "ab",
    "abc",
    "abd",
    "b",
    "ba",
    "a_b",
    "a%b",
    "x\\y",
    "zz",
    "ab\"c",
    "\xc3\xa9t\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac",
    "abcabc",
    "Ab",
    "a\tb",
    "tag1",
    "tag2",
};
const size_t ref_nvocab = sizeof(ref_vocab) / sizeof(ref_vocab[0]);

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static const int64_t edge_i64[] = {INT64_MIN,     INT64_MAX,    0, -1, 1,
                                   INT64_MIN + 1, INT64_MAX - 1};

static void json_str(char *out, size_t cap, const char *s, bool uescape)
{
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < cap;
         p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (uescape && *p == 0xc3 && p[1] == 0xa9) {
            memcpy(out + o, "\\u00e9", 6);
            o += 6;
            p++;
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = 0;
}

static void gen_jv(jv *v, int shape)
{
    memset(v, 0, sizeof(*v));
    v->t = shape;
    switch (shape) {
    case JV_INT:
        v->i = rnd() % 10 == 0 ? edge_i64[rnd() % 7] : rnd_range(-5, 5);
        break;
    case JV_FLT:
        v->f = (double)rnd_range(-20, 20) / 4.0;
        break;
    case JV_STR:
        v->s = ref_vocab[rnd() % ref_nvocab];
        break;
    case JV_BOOL:
        v->b = rnd() & 1;
        break;
    case JV_ARR:
        v->n = (int)(rnd() % 4);
        for (int k = 0; k < v->n; k++)
            v->arr[k] = rnd_range(0, 4);
        break;
    default:
        break;
    }
}

static int jv_text(char *out, size_t cap, const jv *v)
{
    char tmp[64];
    switch (v->t) {
    case JV_NULL:
        return snprintf(out, cap, "null");
    case JV_INT:
        return snprintf(out, cap, "%lld", (long long)v->i);
    case JV_FLT: /* always with a fraction so it reads back as a float */
        return snprintf(out, cap, "%.2f", v->f);
    case JV_STR:
        json_str(out, cap, v->s, rnd() & 1);
        return (int)strlen(out);
    case JV_BOOL:
        return snprintf(out, cap, "%s", v->b ? "true" : "false");
    case JV_ARR: {
        int o = snprintf(out, cap, "[");
        for (int k = 0; k < v->n; k++)
            o += snprintf(out + o, cap - (size_t)o, "%s%lld", k ? ", " : "",
                          (long long)v->arr[k]);
        return o + snprintf(out + o, cap - (size_t)o, "]");
    }
    case JV_OBJ:
        (void)snprintf(tmp, sizeof(tmp), "{\"x\": 1}");
        return snprintf(out, cap, "%s", tmp);
    default:
        return 0;
    }
}

static void fill_json(ref_data *d, size_t r)
{
    char buf[512], a[128], n[64], b[64];
    d->j_ok[r] = rnd() % 10 != 0;
    d->j_is_array[r] = rnd() % 25 == 0;
    gen_jv(&d->ja[r], (int)(rnd() % 8));
    gen_jv(&d->jn[r], rnd() % 5 ? JV_INT : (int)(rnd() % 3) * 2); /* or
                                                       missing/flt/... */
    gen_jv(&d->job[r], rnd() % 3 ? JV_INT : JV_MISSING);
    if (!d->j_ok[r] || d->j_is_array[r]) {
        memset(&d->ja[r], 0, sizeof(jv));
        memset(&d->jn[r], 0, sizeof(jv));
        memset(&d->job[r], 0, sizeof(jv));
    }
    if (!d->j_ok[r]) {
        d->jdoc[r] = NULL;
        return;
    }
    if (d->j_is_array[r]) {
        d->jdoc[r] = qv_xstrdup("[1, 2]");
        return;
    }
    int o = snprintf(buf, sizeof(buf), "{");
    bool first = true;
    if (d->jn[r].t != JV_MISSING) {
        jv_text(n, sizeof(n), &d->jn[r]);
        o += snprintf(buf + o, sizeof(buf) - (size_t)o, "\"n\":%s", n);
        first = false;
    }
    if (d->ja[r].t != JV_MISSING) {
        jv_text(a, sizeof(a), &d->ja[r]);
        o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s \"a\" : %s",
                      first ? "" : ",", a);
        first = false;
    }
    if (d->job[r].t != JV_MISSING) {
        jv_text(b, sizeof(b), &d->job[r]);
        o += snprintf(buf + o, sizeof(buf) - (size_t)o,
                      "%s\"o\":{\"c\":0,\"b\":%s}", first ? "" : ",", b);
    }
    (void)snprintf(buf + o, sizeof(buf) - (size_t)o, "}");
    d->jdoc[r] = qv_xstrdup(buf);
}

static void fill_meta(ref_data *d, size_t r)
{
    char buf[256], k[64], t[64];
    int ks = (int)(rnd() % 6);
    gen_jv(&d->mk[r], ks < 4 ? JV_INT : ks == 4 ? JV_MISSING : JV_FLT);
    gen_jv(&d->mtag[r], rnd() % 8 ? JV_STR : JV_NULL);
    int o = snprintf(buf, sizeof(buf), "{\"tag\": ");
    jv_text(t, sizeof(t), &d->mtag[r]);
    o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%s", t);
    if (d->mk[r].t != JV_MISSING) {
        jv_text(k, sizeof(k), &d->mk[r]);
        o += snprintf(buf + o, sizeof(buf) - (size_t)o, ", \"k\": %s", k);
    }
    (void)snprintf(buf + o, sizeof(buf) - (size_t)o, "}");
    d->mdoc[r] = qv_xstrdup(buf);
}

void ref_fill(ref_data *d)
{
    static const float edge_f[] = {0.1f, -0.0f, 0.0f, 1e30f, -1e-30f};
    static const double edge_d[] = {0.1, -0.0, 1e308, -1e-300, 2.5};
    rng_state = 0x9e3779b97f4a7c15ull;
    for (size_t r = 0; r < REF_ROWS; r++) {
        d->id[r] = (int64_t)r;
        d->b[r] = rnd() & 1;
        d->b_ok[r] = rnd() % 7 != 0;
        d->i8[r] = (int8_t)rnd_range(-128, 127);
        d->i16[r] = (int16_t)(rnd() % 4 ? rnd_range(-100, 100)
                                        : rnd_range(-32768, 32767));
        d->i32[r] =
            (int32_t)(rnd() % 20 == 0 ? (rnd() & 1 ? INT32_MIN : INT32_MAX)
                                      : rnd_range(-60, 60));
        d->i64[r] = rnd() % 15 == 0 ? edge_i64[rnd() % 7] : rnd_range(-60, 60);
        d->in32[r] = (int32_t)rnd_range(-10, 10);
        d->in32_ok[r] = rnd() % 4 != 0;
        int fk = (int)(rnd() % 40);
        d->f[r] = fk == 0   ? NAN
                  : fk == 1 ? INFINITY
                  : fk < 7  ? edge_f[fk - 2]
                            : (float)rnd_range(-40, 40) / 4.0f;
        int dk = (int)(rnd() % 40);
        d->d[r] = dk == 0   ? NAN
                  : dk == 1 ? -INFINITY
                  : dk < 7  ? edge_d[dk - 2]
                            : (double)rnd_range(-40, 40) / 8.0;
        d->s[r] = ref_vocab[rnd() % ref_nvocab];
        d->sn[r] = ref_vocab[rnd() % ref_nvocab];
        d->sn_ok[r] = rnd() % 5 != 0;
        fill_json(d, r);
        d->ai_n[r] = (int)(rnd() % 5);
        for (int k = 0; k < d->ai_n[r]; k++)
            d->ai[r][k] = rnd() % 30 == 0 ? INT64_MIN : rnd_range(0, 9);
        d->as_n[r] = (int)(rnd() % 4);
        for (int k = 0; k < d->as_n[r]; k++)
            d->as[r][k] = ref_vocab[rnd() % 8];
        d->a16_ok[r] = rnd() % 6 != 0;
        d->a16_n[r] = d->a16_ok[r] ? (int)(rnd() % 5) : 0;
        for (int k = 0; k < d->a16_n[r]; k++)
            d->a16[r][k] =
                (int16_t)(rnd() % 20 == 0 ? -32768 : rnd_range(0, 6));
        d->af_n[r] = (int)(rnd() % 4);
        for (int k = 0; k < d->af_n[r]; k++)
            d->af[r][k] =
                rnd() % 9 == 0 ? 0.1f : (float)rnd_range(-4, 4) / 2.0f;
        fill_meta(d, r);
    }
}

void ref_free(ref_data *d)
{
    for (size_t r = 0; r < REF_ROWS; r++) {
        free(d->jdoc[r]);
        free(d->mdoc[r]);
    }
}

/* ---- columns ----------------------------------------------------------- */

static qv_column *new_col(int64_t id, qv_dtype t, qv_dtype et, bool nullable)
{
    qv_field_spec spec = {0};
    spec.id = id;
    spec.name = "f";
    spec.type = t;
    spec.elem_type = et;
    spec.nullable = nullable;
    spec.max_length = 65535;
    spec.max_capacity = 16;
    qv_column *c = NULL;
    qv_err err = {0};
    if (qv_column_create(&spec, &c, &err) != QV_OK) {
        (void)fprintf(stderr, "column create: %s\n", err.msg);
        abort();
    }
    return c;
}

static void must(qv_code rc)
{
    if (rc != QV_OK)
        abort();
}

static void put_fixed(qv_column *c, const void *v, bool ok)
{
    must(ok ? qv_column_append_fixed(c, v, 1) : qv_column_append_null(c, 1));
}

static void put_str(qv_column *c, const char *s, bool ok)
{
    must(ok ? qv_column_append_var(c, s, s ? strlen(s) : 0)
            : qv_column_append_null(c, 1));
}

void ref_columns(const ref_data *d, qv_column **cols, qv_col_view *views,
                 int64_t *ids)
{
    static const struct {
        int64_t id;
        qv_dtype t, et;
        bool nullable;
    } defs[REF_NCOLS] = {
        {F_ID, QV_DT_INT64, 0, false},
        {F_B, QV_DT_BOOL, 0, true},
        {F_I8, QV_DT_INT8, 0, false},
        {F_I16, QV_DT_INT16, 0, false},
        {F_I32, QV_DT_INT32, 0, false},
        {F_I64, QV_DT_INT64, 0, false},
        {F_F, QV_DT_FLOAT, 0, false},
        {F_D, QV_DT_DOUBLE, 0, false},
        {F_S, QV_DT_VARCHAR, 0, false},
        {F_SN, QV_DT_VARCHAR, 0, true},
        {F_J, QV_DT_JSON, 0, true},
        {F_AI, QV_DT_ARRAY, QV_DT_INT64, false},
        {F_AS, QV_DT_ARRAY, QV_DT_VARCHAR, false},
        {F_IN, QV_DT_INT32, 0, true},
        {F_META, QV_DT_JSON, 0, false},
        {F_A16, QV_DT_ARRAY, QV_DT_INT16, true},
        {F_AF, QV_DT_ARRAY, QV_DT_FLOAT, false},
    };
    for (int k = 0; k < REF_NCOLS; k++) {
        cols[k] = new_col(defs[k].id, defs[k].t, defs[k].et, defs[k].nullable);
        ids[k] = defs[k].id;
    }
    qv_buf tmp = QV_BUF_INIT;
    for (size_t r = 0; r < REF_ROWS; r++) {
        uint8_t b = d->b[r];
        put_fixed(cols[0], &d->id[r], true);
        put_fixed(cols[1], &b, d->b_ok[r]);
        put_fixed(cols[2], &d->i8[r], true);
        put_fixed(cols[3], &d->i16[r], true);
        put_fixed(cols[4], &d->i32[r], true);
        put_fixed(cols[5], &d->i64[r], true);
        put_fixed(cols[6], &d->f[r], true);
        put_fixed(cols[7], &d->d[r], true);
        put_str(cols[8], d->s[r], true);
        put_str(cols[9], d->sn[r], d->sn_ok[r]);
        put_str(cols[10], d->jdoc[r], d->j_ok[r]);
        must(qv_column_append_var(cols[11], d->ai[r],
                                  (size_t)d->ai_n[r] * sizeof(int64_t)));
        size_t lens[3];
        for (int k = 0; k < d->as_n[r]; k++)
            lens[k] = strlen(d->as[r][k]);
        qv_buf_reset(&tmp);
        must(qv_col_arr_str_encode(&tmp, d->as[r], lens, (size_t)d->as_n[r]));
        must(qv_column_append_var(cols[12], tmp.data, tmp.len));
        put_fixed(cols[13], &d->in32[r], d->in32_ok[r]);
        put_str(cols[14], d->mdoc[r], true);
        if (d->a16_ok[r])
            must(qv_column_append_var(cols[15], d->a16[r],
                                      (size_t)d->a16_n[r] * sizeof(int16_t)));
        else
            must(qv_column_append_null(cols[15], 1));
        must(qv_column_append_var(cols[16], d->af[r],
                                  (size_t)d->af_n[r] * sizeof(float)));
    }
    qv_buf_release(&tmp);
    for (int k = 0; k < REF_NCOLS; k++) {
        qv_column_publish(cols[k]);
        views[k] = qv_column_view(cols[k]);
    }
}
