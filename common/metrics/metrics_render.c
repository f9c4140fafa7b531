/* metrics_render.c -- Prometheus text exposition of the registry. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "common/metrics/metrics.h"
#include "common/metrics/metrics_internal.h"

/* Label values escape backslash, double quote and newline; HELP escapes
 * backslash and newline. */
static qv_code put_escaped(qv_buf *out, const char *s, bool quote)
{
    for (; *s; s++) {
        qv_code rc;
        if (*s == '\\')
            rc = qv_buf_appends(out, "\\\\");
        else if (*s == '\n')
            rc = qv_buf_appends(out, "\\n");
        else if (quote && *s == '"')
            rc = qv_buf_appends(out, "\\\"");
        else
            rc = qv_buf_append(out, s, 1);
        if (rc)
            return rc;
    }
    return QV_OK;
}

static qv_code put_number(qv_buf *out, double v)
{
    if (isinf(v))
        return qv_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
    if (isnan(v))
        return qv_buf_appends(out, "NaN");
    if (v == (double)(int64_t)v && fabs(v) < 1e15)
        return qv_buf_printf(out, "%lld", (long long)v);
    return qv_buf_printf(out, "%.17g", v);
}

/* Writes {a="x",b="y"[,le="..."]} (nothing when there are no labels). */
static qv_code put_labels(qv_buf *out, const qv_metric_family *f, char **values,
                          const char *le)
{
    if (f->nlabels == 0 && !le)
        return QV_OK;
    qv_code rc = qv_buf_appends(out, "{");
    for (size_t i = 0; !rc && i < f->nlabels; i++) {
        rc = qv_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (!rc)
            rc = put_escaped(out, values[i], true);
        if (!rc)
            rc = qv_buf_appends(out, "\"");
    }
    if (!rc && le)
        rc = qv_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    if (!rc)
        rc = qv_buf_appends(out, "}");
    return rc;
}

static qv_code render_histogram(qv_buf *out, const qv_metric_family *f,
                                const series *s)
{
    uint64_t cum = 0;
    qv_code rc = QV_OK;
    char le[48];
    for (size_t b = 0; !rc && b <= f->nbounds; b++) {
        cum += s->counts[b];
        if (b < f->nbounds)
            snprintf(le, sizeof(le), "%.15g", f->bounds[b]);
        else
            snprintf(le, sizeof(le), "+Inf");
        rc = qv_buf_printf(out, "%s_bucket", f->name);
        if (!rc)
            rc = put_labels(out, f, s->values, le);
        if (!rc)
            rc = qv_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    if (!rc)
        rc = qv_buf_printf(out, "%s_sum", f->name);
    if (!rc)
        rc = put_labels(out, f, s->values, NULL);
    if (!rc)
        rc = qv_buf_appends(out, " ");
    if (!rc)
        rc = put_number(out, s->sum);
    if (!rc)
        rc = qv_buf_printf(out, "\n%s_count", f->name);
    if (!rc)
        rc = put_labels(out, f, s->values, NULL);
    if (!rc)
        rc = qv_buf_printf(out, " %llu\n", (unsigned long long)s->count);
    return rc;
}

static qv_code render_family(qv_buf *out, qv_metric_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    qv_code rc = qv_buf_printf(out, "# HELP %s ", f->name);
    if (!rc)
        rc = put_escaped(out, f->help, false);
    if (!rc)
        rc = qv_buf_printf(out, "\n# TYPE %s %s\n", f->name,
                           type_names[f->kind]);
    pthread_mutex_lock(&f->mu);
    for (series *s = f->series; !rc && s; s = s->next) {
        if (f->kind == K_HISTOGRAM) {
            rc = render_histogram(out, f, s);
            continue;
        }
        rc = qv_buf_appends(out, f->name);
        if (!rc)
            rc = put_labels(out, f, s->values, NULL);
        if (!rc)
            rc = qv_buf_appends(out, " ");
        if (!rc)
            rc = put_number(out, s->value);
        if (!rc)
            rc = qv_buf_appends(out, "\n");
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

qv_code qv_metrics_render(qv_buf *out)
{
    qv_code rc = QV_OK;
    pthread_mutex_lock(&qv__metrics_reg_mu);
    for (qv_metric_family *f = qv__metrics_families; !rc && f; f = f->next)
        rc = render_family(out, f);
    pthread_mutex_unlock(&qv__metrics_reg_mu);
    return rc;
}
