/* metrics_internal.h -- registry structures shared by metrics.c and
 * metrics_render.c.  Not for use outside common/metrics/. */
#ifndef QV_METRICS_INTERNAL_H
#define QV_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/metrics/metrics.h"

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind;

typedef struct series {
    struct series *next;
    char **values;    /* label values */
    double value;     /* counter/gauge; guarded by family mu */
    uint64_t *counts; /* histogram: nbounds + 1 buckets (not cumulative) */
    double sum;
    uint64_t count;
} series;

struct qv_metric_family {
    qv_metric_family *next;
    kind kind;
    char *name, *help;
    char *labels[QV_METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    pthread_mutex_t mu;
    series *series; /* newest first; rendered sorted by creation */
};

/* The registry: families in registration order, guarded by the mutex. */
extern pthread_mutex_t qv__metrics_reg_mu;
extern qv_metric_family *qv__metrics_families;

#endif
