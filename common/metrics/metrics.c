/* metrics.c -- see metrics.h. */
#include "common/metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/metrics/metrics_internal.h"

pthread_mutex_t qv__metrics_reg_mu = PTHREAD_MUTEX_INITIALIZER;
qv_metric_family *qv__metrics_families;
static qv_metric_family **families_tail = &qv__metrics_families;

static size_t count_labels(const char *const *names)
{
    size_t n = 0;
    while (names && names[n])
        n++;
    return n;
}

static bool same_shape(const qv_metric_family *f, kind k,
                       const char *const *names)
{
    size_t n = count_labels(names);
    if (f->kind != k || f->nlabels != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], names[i]) != 0)
            return false;
    return true;
}

static qv_metric_family *reg(kind k, const char *name, const char *help,
                             const char *const *names, const double *bounds,
                             size_t nbounds)
{
    size_t n = count_labels(names);
    if (n > QV_METRICS_MAX_LABELS)
        return NULL;
    pthread_mutex_lock(&qv__metrics_reg_mu);
    for (qv_metric_family *f = qv__metrics_families; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            pthread_mutex_unlock(&qv__metrics_reg_mu);
            return same_shape(f, k, names) ? f : NULL;
        }
    }
    qv_metric_family *f = QV_NEW(qv_metric_family);
    f->kind = k;
    f->name = qv_xstrdup(name);
    f->help = qv_xstrdup(help ? help : "");
    f->nlabels = n;
    for (size_t i = 0; i < n; i++)
        f->labels[i] = qv_xstrdup(names[i]);
    if (nbounds) {
        f->bounds = QV_NEW_ARRAY(double, nbounds);
        memcpy(f->bounds, bounds, nbounds * sizeof(double));
        f->nbounds = nbounds;
    }
    pthread_mutex_init(&f->mu, NULL);
    *families_tail = f;
    families_tail = &f->next;
    pthread_mutex_unlock(&qv__metrics_reg_mu);
    return f;
}

qv_metric_family *qv_metrics_counter(const char *name, const char *help,
                                     const char *const *label_names)
{
    return reg(K_COUNTER, name, help, label_names, NULL, 0);
}

qv_metric_family *qv_metrics_gauge(const char *name, const char *help,
                                   const char *const *label_names)
{
    return reg(K_GAUGE, name, help, label_names, NULL, 0);
}

qv_metric_family *qv_metrics_histogram(const char *name, const char *help,
                                       const char *const *label_names,
                                       const double *bounds, size_t nbounds)
{
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    return reg(K_HISTOGRAM, name, help, label_names, bounds, nbounds);
}

/* Finds or creates a series; called with f->mu held. */
static series *find_series(qv_metric_family *f, const char *const *values,
                           bool create)
{
    series **tail = &f->series;
    for (series *s = f->series; s; s = s->next) {
        bool eq = true;
        for (size_t i = 0; i < f->nlabels && eq; i++)
            eq = strcmp(s->values[i], values[i] ? values[i] : "") == 0;
        if (eq)
            return s;
        tail = &s->next;
    }
    if (!create)
        return NULL;
    series *s = QV_NEW(series);
    s->values = QV_NEW_ARRAY(char *, f->nlabels ? f->nlabels : 1);
    for (size_t i = 0; i < f->nlabels; i++)
        s->values[i] = qv_xstrdup(values[i] ? values[i] : "");
    if (f->kind == K_HISTOGRAM)
        s->counts = QV_NEW_ARRAY(uint64_t, f->nbounds + 1);
    *tail = s; /* append: render order = creation order */
    return s;
}

void qv_metric_add(qv_metric_family *f, const char *const *values, double delta)
{
    if (!f || f->kind == K_HISTOGRAM || (f->kind == K_COUNTER && delta < 0))
        return;
    pthread_mutex_lock(&f->mu);
    find_series(f, values, true)->value += delta;
    pthread_mutex_unlock(&f->mu);
}

void qv_metric_set(qv_metric_family *f, const char *const *values, double value)
{
    if (!f || f->kind != K_GAUGE)
        return;
    pthread_mutex_lock(&f->mu);
    find_series(f, values, true)->value = value;
    pthread_mutex_unlock(&f->mu);
}

void qv_metric_observe(qv_metric_family *f, const char *const *values,
                       double value)
{
    if (!f || f->kind != K_HISTOGRAM || isnan(value))
        return;
    size_t b = 0;
    while (b < f->nbounds && value > f->bounds[b])
        b++;
    pthread_mutex_lock(&f->mu);
    series *s = find_series(f, values, true);
    s->counts[b]++;
    s->sum += value;
    s->count++;
    pthread_mutex_unlock(&f->mu);
}

double qv_metric_value(qv_metric_family *f, const char *const *values)
{
    if (!f)
        return 0;
    pthread_mutex_lock(&f->mu);
    series *s = find_series(f, values, false);
    double v = s ? (f->kind == K_HISTOGRAM ? (double)s->count : s->value) : 0;
    pthread_mutex_unlock(&f->mu);
    return v;
}

void qv_metrics_reset(void)
{
    pthread_mutex_lock(&qv__metrics_reg_mu);
    while (qv__metrics_families) {
        qv_metric_family *f = qv__metrics_families;
        qv__metrics_families = f->next;
        while (f->series) {
            series *s = f->series;
            f->series = s->next;
            for (size_t i = 0; i < f->nlabels; i++)
                free(s->values[i]);
            free(s->values);
            free(s->counts);
            free(s);
        }
        for (size_t i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f->bounds);
        pthread_mutex_destroy(&f->mu);
        free(f);
    }
    families_tail = &qv__metrics_families;
    pthread_mutex_unlock(&qv__metrics_reg_mu);
}
