/* wal.c -- backend registry and the wrappers every caller uses.
 *
 * The registry is a small fixed table guarded by a mutex; the built-in
 * backends register themselves on first use.  Wrappers validate arguments
 * that every backend would otherwise check (channel names, empty batches)
 * so backends see only well-formed calls.
 */
#include "common/wal/wal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/wal/wal_internal.h"

#define WAL_MAX_BACKENDS 16

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const wal_ops *reg[WAL_MAX_BACKENDS];
static size_t reg_n;
static int reg_builtins_done;

static qv_code register_locked(const wal_ops *ops, qv_err *err)
{
    for (size_t i = 0; i < reg_n; i++) {
        if (strcmp(reg[i]->name, ops->name) == 0)
            return qv_fail(err, QV_E_EXISTS,
                           "wal backend '%s' is already registered", ops->name);
    }
    if (reg_n == WAL_MAX_BACKENDS)
        return qv_fail(err, QV_E_NOMEM, "wal backend registry is full");
    reg[reg_n++] = ops;
    return QV_OK;
}

static void register_builtins_locked(void)
{
    if (reg_builtins_done)
        return;
    reg_builtins_done = 1;
    (void)register_locked(&wal__local_ops, NULL);
    (void)register_locked(&wal__kafka_ops, NULL);
    (void)register_locked(&wal__fault_ops, NULL);
}

qv_code wal_register(const wal_ops *ops, qv_err *err)
{
    if (!ops || !ops->name || !ops->open || !ops->close || !ops->append ||
        !ops->bounds || !ops->reader_open || !ops->reader_next ||
        !ops->reader_close)
        return qv_fail(err, QV_E_INVALID, "wal backend ops are incomplete");
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    qv_code rc = register_locked(ops, err);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const wal_ops *wal_find(const char *name)
{
    const wal_ops *found = NULL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    for (size_t i = 0; name && i < reg_n; i++) {
        if (strcmp(reg[i]->name, name) == 0)
            found = reg[i];
    }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

qv_code wal_open(const char *name, const wal_options *opt, wal **out,
                 qv_err *err)
{
    const wal_ops *ops = wal_find(name);
    if (!ops)
        return qv_fail(err, QV_E_NOT_FOUND, "unknown wal backend '%s'",
                       name ? name : "(null)");
    wal_options zero;
    if (!opt) {
        memset(&zero, 0, sizeof(zero));
        opt = &zero;
    }
    wal *w = qv_xcalloc(1, sizeof(wal) + ops->impl_size);
    w->ops = ops;
    qv_code rc = ops->open(w, opt, err);
    if (rc != QV_OK) {
        free(w);
        return rc;
    }
    *out = w;
    return QV_OK;
}

void wal_close(wal *w)
{
    if (!w)
        return;
    w->ops->close(w);
    free(w);
}

const char *wal_name(const wal *w)
{
    return w->ops->name;
}

uint32_t wal_caps(const wal *w)
{
    return w->ops->caps;
}

int wal_channel_valid(const char *name)
{
    if (!name)
        return 0;
    size_t n = strnlen(name, WAL_CHANNEL_MAX + 1);
    if (n == 0 || n > WAL_CHANNEL_MAX)
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static qv_code check_channel(const wal *w, const char *channel, const char *op,
                             qv_err *err)
{
    if (!wal_channel_valid(channel))
        return qv_fail(err, QV_E_INVALID,
                       "wal %s (%s): invalid channel name '%.64s' (want 1-%d "
                       "of [A-Za-z0-9._-])",
                       op, w->ops->name, channel ? channel : "(null)",
                       WAL_CHANNEL_MAX);
    return QV_OK;
}

qv_code wal_append(wal *w, const char *channel, const wal_record *recs,
                   size_t n, wal_pos *positions, qv_err *err)
{
    qv_code rc = check_channel(w, channel, "append", err);
    if (rc != QV_OK)
        return rc;
    if (n == 0 || !recs)
        return qv_fail(err, QV_E_INVALID,
                       "wal append to channel '%s': empty batch", channel);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > 0 && !recs[i].data)
            return qv_fail(err, QV_E_INVALID,
                           "wal append to channel '%s': record %zu has no "
                           "data",
                           channel, i);
    }
    return w->ops->append(w, channel, recs, n, positions, err);
}

qv_code wal_bounds(wal *w, const char *channel, wal_pos *earliest, wal_pos *end,
                   qv_err *err)
{
    qv_code rc = check_channel(w, channel, "bounds", err);
    if (rc != QV_OK)
        return rc;
    wal_pos e = 0, l = 0;
    rc = w->ops->bounds(w, channel, &e, &l, err);
    if (rc != QV_OK)
        return rc;
    if (earliest)
        *earliest = e;
    if (end)
        *end = l;
    return QV_OK;
}

qv_code wal_latest(wal *w, const char *channel, wal_pos *end, qv_err *err)
{
    return wal_bounds(w, channel, NULL, end, err);
}

qv_code wal_trim(wal *w, const char *channel, wal_pos before, qv_err *err)
{
    qv_code rc = check_channel(w, channel, "trim", err);
    if (rc != QV_OK)
        return rc;
    if (before == WAL_EARLIEST || before == WAL_LATEST || before > INT64_MAX)
        return qv_fail(err, QV_E_INVALID,
                       "wal trim of channel '%s': %llu is not a position",
                       channel, (unsigned long long)before);
    if (!w->ops->trim)
        return qv_fail(err, QV_E_UNSUPPORTED,
                       "wal trim of channel '%s': the %s backend cannot trim",
                       channel, w->ops->name);
    return w->ops->trim(w, channel, before, err);
}

qv_code wal_reader_open(wal *w, const char *channel, wal_pos from,
                        wal_reader **out, qv_err *err)
{
    qv_code rc = check_channel(w, channel, "reader open", err);
    if (rc != QV_OK)
        return rc;
    return w->ops->reader_open(w, channel, from, out, err);
}

qv_code wal_reader_next(wal_reader *r, uint32_t wait_ms, wal_entry *out,
                        qv_err *err)
{
    return r->ops->reader_next(r, wait_ms, out, err);
}

void wal_reader_close(wal_reader *r)
{
    if (r)
        r->ops->reader_close(r);
}

uint32_t wal__timeout_ms(const wal_options *opt)
{
    return opt->timeout_ms ? opt->timeout_ms : WAL_DEFAULT_TIMEOUT_MS;
}

size_t wal__max_record(const wal_options *opt)
{
    return opt->max_record_bytes ? opt->max_record_bytes
                                 : WAL_DEFAULT_MAX_RECORD;
}
