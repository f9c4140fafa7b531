/* metrics.h -- a small metrics registry rendered in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Families (counter, gauge, histogram) are registered once by name and live
 * until qv_metrics_reset() (tests) or process exit.  Each family has fixed
 * label names; a series is one combination of label values, created on
 * first use.  Registering the same name twice returns the existing family
 * if the type and labels match, and NULL otherwise.
 *
 * Ownership: the registry owns families and series; callers keep the
 * returned family pointers without freeing them.
 * Threading: all functions are thread-safe.  Updates take a per-family
 * mutex only to find the series; values are updated atomically.
 */
#ifndef QV_METRICS_H
#define QV_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

typedef struct qv_metric_family qv_metric_family;

#define QV_METRICS_MAX_LABELS 6

/* label_names: NULL-terminated array (may be NULL for no labels). */
qv_metric_family *qv_metrics_counter(const char *name, const char *help,
                                     const char *const *label_names);
qv_metric_family *qv_metrics_gauge(const char *name, const char *help,
                                   const char *const *label_names);
/* bounds: ascending upper bounds of the buckets (+Inf is implicit). */
qv_metric_family *qv_metrics_histogram(const char *name, const char *help,
                                       const char *const *label_names,
                                       const double *bounds, size_t nbounds);

/* label_values: as many as the family has label names (NULL if none). */
void qv_metric_add(qv_metric_family *f, const char *const *label_values,
                   double delta);
void qv_metric_set(qv_metric_family *f, const char *const *label_values,
                   double value);
void qv_metric_observe(qv_metric_family *f, const char *const *label_values,
                       double value);
/* Current value of a counter/gauge series (0 if it does not exist). */
double qv_metric_value(qv_metric_family *f, const char *const *label_values);

/* Appends every family in registration order to out. */
qv_code qv_metrics_render(qv_buf *out) QV_MUST_USE;

/* Frees every family (tests only; no concurrent use allowed). */
void qv_metrics_reset(void);

#endif
