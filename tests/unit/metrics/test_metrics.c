/* Tests of common/metrics: values and Prometheus text output. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/metrics/metrics.h"

static void reset(void)
{
    qv_metrics_reset();
}

TestSuite(metrics, .fini = reset);

Test(metrics, counters_with_labels_render_in_text_format)
{
    const char *names[] = {"method", "code", NULL};
    qv_metric_family *c =
        qv_metrics_counter("qv_rpc_total", "RPCs \"served\"", names);
    const char *a[] = {"Search", "OK"}, *b[] = {"Insert", "a\"b\\c"};
    qv_metric_add(c, a, 1);
    qv_metric_add(c, a, 2);
    qv_metric_add(c, b, 1);
    qv_metric_add(c, b, -5); /* counters never go down */
    cr_assert_eq(qv_metric_value(c, a), 3);
    qv_buf out = QV_BUF_INIT;
    cr_assert_eq(qv_metrics_render(&out), QV_OK);
    const char *want =
        "# HELP qv_rpc_total RPCs \"served\"\n"
        "# TYPE qv_rpc_total counter\n"
        "qv_rpc_total{method=\"Search\",code=\"OK\"} 3\n"
        "qv_rpc_total{method=\"Insert\",code=\"a\\\"b\\\\c\"} 1\n";
    cr_assert_str_eq(qv_buf_str(&out), want);
    qv_buf_release(&out);
}

Test(metrics, gauges_set_and_add)
{
    qv_metric_family *g = qv_metrics_gauge("qv_up", "up", NULL);
    qv_metric_set(g, NULL, 5);
    qv_metric_add(g, NULL, -2.5);
    cr_assert_float_eq(qv_metric_value(g, NULL), 2.5, 1e-12);
    qv_buf out = QV_BUF_INIT;
    cr_assert_eq(qv_metrics_render(&out), QV_OK);
    cr_assert(strstr(qv_buf_str(&out), "qv_up 2.5\n"));
    qv_buf_release(&out);
}

Test(metrics, histogram_buckets_are_cumulative)
{
    const double bounds[] = {0.1, 1, 10};
    qv_metric_family *h =
        qv_metrics_histogram("qv_lat_seconds", "latency", NULL, bounds, 3);
    qv_metric_observe(h, NULL, 0.05);
    qv_metric_observe(h, NULL, 0.5);
    qv_metric_observe(h, NULL, 0.7);
    qv_metric_observe(h, NULL, 100);
    qv_buf out = QV_BUF_INIT;
    cr_assert_eq(qv_metrics_render(&out), QV_OK);
    const char *s = qv_buf_str(&out);
    cr_assert(strstr(s, "qv_lat_seconds_bucket{le=\"0.1\"} 1\n"), "%s", s);
    cr_assert(strstr(s, "qv_lat_seconds_bucket{le=\"1\"} 3\n"), "%s", s);
    cr_assert(strstr(s, "qv_lat_seconds_bucket{le=\"10\"} 3\n"), "%s", s);
    cr_assert(strstr(s, "qv_lat_seconds_bucket{le=\"+Inf\"} 4\n"), "%s", s);
    cr_assert(strstr(s, "qv_lat_seconds_count 4\n"), "%s", s);
    cr_assert(strstr(s, "qv_lat_seconds_sum 101.25\n"), "%s", s);
    qv_buf_release(&out);
}

Test(metrics, re_registration_returns_same_family_or_null)
{
    const char *l1[] = {"x", NULL}, *l2[] = {"y", NULL};
    qv_metric_family *a = qv_metrics_counter("qv_c", "c", l1);
    cr_assert_eq(qv_metrics_counter("qv_c", "c", l1), a);
    cr_assert_null(qv_metrics_counter("qv_c", "c", l2));
    cr_assert_null(qv_metrics_gauge("qv_c", "c", l1));
    const double bad[] = {1, 1};
    cr_assert_null(qv_metrics_histogram("qv_h", "h", NULL, bad, 2));
}
