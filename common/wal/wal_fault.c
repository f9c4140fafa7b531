/* wal_fault.c -- the "fault" decorator: wraps another wal (options.inner)
 * and, following a plan set with wal_fault_set(), fails the Nth matching
 * call (and optionally the ones after it) or adds latency to every matching
 * call.  Failure tests use it to drive callers through backend errors
 * without a real outage.
 *
 * An injected failure never reaches the inner wal, so it has no side
 * effects; its message names the operation, the channel and "injected".
 *
 * Threading: the plan and counters are guarded by a mutex; calls run
 * concurrently on the inner wal.  Readers opened through the decorator wrap
 * the inner reader and are counted as WAL_FAULT_READER_NEXT calls.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/wal/wal_internal.h"

typedef struct fault_wal {
    wal base;
    wal *inner;
    pthread_mutex_t mu;
    wal_fault_plan plan;
    uint64_t calls;
    uint64_t failures;
} fault_wal;

typedef struct fault_reader {
    wal_reader base;
    fault_wal *fw;
    wal_reader *inner;
} fault_reader;

/* Counts a call of kind op; returns the code to inject (QV_OK = none)
 * after sleeping the configured latency. */
static qv_code fault_check(fault_wal *fw, uint32_t op)
{
    pthread_mutex_lock(&fw->mu);
    wal_fault_plan p = fw->plan;
    qv_code inject = QV_OK;
    if (p.ops & op) {
        uint64_t nth = ++fw->calls;
        uint64_t count = p.fail_count ? p.fail_count : 1;
        if (p.fail_nth && nth >= p.fail_nth &&
            (count == UINT64_MAX || nth - p.fail_nth < count)) {
            inject = p.code ? p.code : QV_E_UNAVAILABLE;
            fw->failures++;
        }
    }
    pthread_mutex_unlock(&fw->mu);
    if ((p.ops & op) && p.latency_ms)
        qv_sleep_ms(p.latency_ms);
    return inject;
}

static qv_code fault_open(wal *w, const wal_options *opt, qv_err *err)
{
    fault_wal *fw = (fault_wal *)w;
    if (!opt->inner)
        return qv_fail(err, QV_E_INVALID,
                       "wal open (fault): options.inner is not set");
    fw->inner = opt->inner;
    pthread_mutex_init(&fw->mu, NULL);
    return QV_OK;
}

static void fault_close(wal *w)
{
    fault_wal *fw = (fault_wal *)w;
    wal_close(fw->inner);
    pthread_mutex_destroy(&fw->mu);
}

static qv_code injected(qv_err *err, qv_code c, const char *op,
                        const char *channel, const fault_wal *fw)
{
    return qv_fail(err, c,
                   "wal %s on channel '%s' (fault over %s): "
                   "injected failure %s",
                   op, channel, wal_name(fw->inner), qv_code_name(c));
}

static qv_code fault_append(wal *w, const char *channel, const wal_record *recs,
                            size_t n, wal_pos *positions, qv_err *err)
{
    fault_wal *fw = (fault_wal *)w;
    qv_code c = fault_check(fw, WAL_FAULT_APPEND);
    if (c != QV_OK)
        return injected(err, c, "append", channel, fw);
    return wal_append(fw->inner, channel, recs, n, positions, err);
}

static qv_code fault_bounds(wal *w, const char *channel, wal_pos *earliest,
                            wal_pos *end, qv_err *err)
{
    fault_wal *fw = (fault_wal *)w;
    qv_code c = fault_check(fw, WAL_FAULT_BOUNDS);
    if (c != QV_OK)
        return injected(err, c, "bounds", channel, fw);
    return wal_bounds(fw->inner, channel, earliest, end, err);
}

/* Trimming is passed through (not a fault-plan operation). */
static qv_code fault_trim(wal *w, const char *channel, wal_pos before,
                          qv_err *err)
{
    fault_wal *fw = (fault_wal *)w;
    return wal_trim(fw->inner, channel, before, err);
}

static qv_code fault_reader_open(wal *w, const char *channel, wal_pos from,
                                 wal_reader **out, qv_err *err)
{
    fault_wal *fw = (fault_wal *)w;
    qv_code c = fault_check(fw, WAL_FAULT_READER_OPEN);
    if (c != QV_OK)
        return injected(err, c, "reader open", channel, fw);
    wal_reader *inner;
    c = wal_reader_open(fw->inner, channel, from, &inner, err);
    if (c != QV_OK)
        return c;
    fault_reader *r = QV_NEW(fault_reader);
    r->base.ops = w->ops;
    r->fw = fw;
    r->inner = inner;
    *out = &r->base;
    return QV_OK;
}

static qv_code fault_reader_next(wal_reader *base, uint32_t wait_ms,
                                 wal_entry *out, qv_err *err)
{
    fault_reader *r = (fault_reader *)base;
    qv_code c = fault_check(r->fw, WAL_FAULT_READER_NEXT);
    if (c != QV_OK)
        return qv_fail(err, c,
                       "wal read (fault over %s): injected failure "
                       "%s",
                       wal_name(r->fw->inner), qv_code_name(c));
    return wal_reader_next(r->inner, wait_ms, out, err);
}

static void fault_reader_close(wal_reader *base)
{
    fault_reader *r = (fault_reader *)base;
    wal_reader_close(r->inner);
    free(r);
}

qv_code wal_fault_set(wal *w, const wal_fault_plan *plan, qv_err *err)
{
    if (!w || w->ops != &wal__fault_ops)
        return qv_fail(err, QV_E_INVALID,
                       "wal fault plan: the wal is not a fault decorator");
    fault_wal *fw = (fault_wal *)w;
    pthread_mutex_lock(&fw->mu);
    if (plan)
        fw->plan = *plan;
    else
        memset(&fw->plan, 0, sizeof(fw->plan));
    fw->calls = 0;
    fw->failures = 0;
    pthread_mutex_unlock(&fw->mu);
    return QV_OK;
}

void wal_fault_counts(wal *w, uint64_t *calls, uint64_t *failures)
{
    uint64_t c = 0, f = 0;
    if (w && w->ops == &wal__fault_ops) {
        fault_wal *fw = (fault_wal *)w;
        pthread_mutex_lock(&fw->mu);
        c = fw->calls;
        f = fw->failures;
        pthread_mutex_unlock(&fw->mu);
    }
    if (calls)
        *calls = c;
    if (failures)
        *failures = f;
}

const wal_ops wal__fault_ops = {
    .name = "fault",
    .caps = WAL_CAP_DECORATOR,
    .impl_size = sizeof(fault_wal) - sizeof(wal),
    .open = fault_open,
    .close = fault_close,
    .append = fault_append,
    .bounds = fault_bounds,
    .reader_open = fault_reader_open,
    .reader_next = fault_reader_next,
    .reader_close = fault_reader_close,
    .trim = fault_trim,
};
