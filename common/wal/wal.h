/* wal.h -- the write log: named channels of ordered, durable records.
 *
 * The log is the source of truth for recent changes (DESIGN §2): proxies
 * append DML batches, the coord appends control messages and time ticks,
 * data and query nodes read every channel in order.  Two backends implement
 * this one interface:
 *   - "local": a directory per channel holding segment files of
 *     length + crc32c framed records (wal_local.c, the standalone default);
 *   - "kafka": one single-partition topic per channel through librdkafka
 *     (wal_kafka.c, the cluster backend);
 * plus the "fault" decorator (wal_fault.c) for failure tests.
 *
 * Model.
 *   - A channel is created on first use (append, reader or bounds).  Names
 *     are 1..200 bytes of [A-Za-z0-9._-], not "." or "..".
 *   - Every record of a channel has a position (wal_pos).  Positions grow
 *     strictly in append order; they are dense (0, 1, 2, ...) in the local
 *     backend and are Kafka offsets in the Kafka backend, where a record
 *     larger than one broker message takes several offsets.
 *   - wal_append() returns only once the whole batch is durable under the
 *     backend's policy (local: written and fsynced per the sync policy;
 *     kafka: acknowledged by all in-sync replicas).  The records of one
 *     batch are contiguous in the channel, and concurrent appends to one
 *     channel are serialised: no record is lost or reordered.  A failed
 *     append may have stored a prefix of its batch (at-least-once: callers
 *     that retry may write duplicates).
 *   - A reader starts at a position, at the earliest retained record
 *     (WAL_EARLIEST) or after the last record (WAL_LATEST: it sees only
 *     records appended after it opened) and returns records in order,
 *     waiting a bounded time for new ones.  Positions below the earliest
 *     retained record fail with QV_E_COMPACTED.
 *
 * Errors.  Every call returns qv_code and fills the optional qv_err with a
 * message naming the channel, the operation and (kafka) the broker.  Every
 * call is bounded by wal_options.timeout_ms (reads by their wait argument).
 *
 * Threading.  A wal handle may be used from any number of threads; backends
 * lock internally.  A wal_reader belongs to one thread at a time.  Readers
 * must be closed before the wal they came from.
 */
#ifndef QV_WAL_H
#define QV_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/status.h"

typedef uint64_t wal_pos;

/* Special start positions for wal_reader_open(). */
#define WAL_EARLIEST ((wal_pos)UINT64_MAX - 1)
#define WAL_LATEST   ((wal_pos)UINT64_MAX)

#define WAL_CHANNEL_MAX 200

typedef enum wal_sync_policy {
    WAL_SYNC_ALWAYS = 0,   /* fdatasync before every append returns */
    WAL_SYNC_INTERVAL = 1, /* fdatasync at most sync_interval_ms later */
    WAL_SYNC_NEVER = 2,    /* leave it to the OS (survives a process
                              crash, not a power loss) */
} wal_sync_policy;

/* Capabilities a backend declares (ops->caps). */
enum wal_caps {
    WAL_CAP_DENSE_POSITIONS = 1 << 0, /* positions are 0, 1, 2, ... */
    WAL_CAP_PERSISTENT = 1 << 1,      /* records survive a process restart */
    WAL_CAP_RETENTION = 1 << 2,       /* retention by size and age */
    WAL_CAP_DECORATOR = 1 << 3,       /* wraps another wal (options.inner) */
};

typedef struct wal wal;
typedef struct wal_reader wal_reader;

/* Options of wal_open().  Zero means "default" for every number. */
typedef struct wal_options {
    uint32_t timeout_ms;     /* bound of every call; default 10000 */
    size_t max_record_bytes; /* larger records are refused; default 64 MiB */
    const qv_clock *clock;   /* NULL = the system clock */

    /* local */
    const char *dir;           /* root directory (created if missing) */
    wal_sync_policy sync;      /* default WAL_SYNC_ALWAYS */
    uint32_t sync_interval_ms; /* WAL_SYNC_INTERVAL period; default 200 */
    uint64_t segment_bytes;    /* roll segments past this; default 64 MiB */
    uint64_t retention_bytes;  /* per channel; 0 = keep everything */
    uint64_t retention_ms;     /* drop segments older than this; 0 = keep */

    /* kafka */
    const char *bootstrap;    /* "host:port,host:port" */
    const char *topic_prefix; /* topic = prefix + channel; default "" */
    int replication_factor;   /* of topics we create; default 1 */
    size_t max_message_bytes; /* broker's message size limit; default
                                 1000000 (Kafka's message.max.bytes) */

    /* fault */
    wal *inner; /* the wal to decorate; owned by the decorator once its
                   open succeeds (closed with it) */
} wal_options;

/* One record handed to wal_append(); the bytes stay the caller's. */
typedef struct wal_record {
    const void *data; /* may be NULL when len == 0 */
    size_t len;
} wal_record;

/* One record returned by wal_reader_next().  data belongs to the reader and
 * stays valid until the next call on that reader or its close. */
typedef struct wal_entry {
    wal_pos pos;
    const void *data; /* never NULL, even when len == 0 */
    size_t len;
} wal_entry;

/* Backend contract.  Every op returns qv_code, writes out-params only on
 * success and names the channel and operation in *err (err may be NULL).
 * Ops are called from any thread except the reader ops, which a single
 * thread calls per reader.  open() gets zeroed backend state after the base
 * (impl_size bytes); if open fails, close is not called. */
typedef struct wal_ops {
    const char *name; /* registry key: "local", "kafka", "fault" */
    uint32_t caps;    /* enum wal_caps */
    size_t impl_size; /* bytes of backend state after the base */
    qv_code (*open)(wal *w, const wal_options *opt, qv_err *err);
    void (*close)(wal *w);
    qv_code (*append)(wal *w, const char *channel, const wal_record *recs,
                      size_t n, wal_pos *positions, qv_err *err);
    qv_code (*bounds)(wal *w, const char *channel, wal_pos *earliest,
                      wal_pos *end, qv_err *err);
    qv_code (*reader_open)(wal *w, const char *channel, wal_pos from,
                           wal_reader **out, qv_err *err);
    qv_code (*reader_next)(wal_reader *r, uint32_t wait_ms, wal_entry *out,
                           qv_err *err);
    void (*reader_close)(wal_reader *r);
    /* Optional (NULL = QV_E_UNSUPPORTED): drops records below `before`. */
    qv_code (*trim)(wal *w, const char *channel, wal_pos before, qv_err *err);
} wal_ops;

/* Every backend's state starts with this. */
struct wal {
    const wal_ops *ops;
};
/* Every backend's reader starts with this. */
struct wal_reader {
    const wal_ops *ops;
};

/* Registers a backend; QV_E_EXISTS if the name is taken.  The built-in
 * backends ("local", "kafka", "fault") are registered on first use. */
qv_code wal_register(const wal_ops *ops, qv_err *err) QV_MUST_USE;
/* The registered ops for a name, or NULL. */
const wal_ops *wal_find(const char *name);

/* Opens a backend by name.  On success *out must be closed. */
qv_code wal_open(const char *name, const wal_options *opt, wal **out,
                 qv_err *err) QV_MUST_USE;
void wal_close(wal *w);
const char *wal_name(const wal *w);
uint32_t wal_caps(const wal *w);

/* Appends n >= 1 records to channel as one batch; returns once all are
 * durable.  positions (NULL, or n entries) receives each record's position.
 * QV_E_INVALID for a bad channel name, n == 0 or a record over
 * max_record_bytes; QV_E_TIMEOUT/QV_E_UNAVAILABLE/QV_E_IO when the backend
 * fails. */
qv_code wal_append(wal *w, const char *channel, const wal_record *recs,
                   size_t n, wal_pos *positions, qv_err *err) QV_MUST_USE;

/* The earliest retained position and the end position (the one the next
 * record will get, so earliest == end means empty). */
qv_code wal_bounds(wal *w, const char *channel, wal_pos *earliest, wal_pos *end,
                   qv_err *err) QV_MUST_USE;
/* Shorthand for the end position of wal_bounds(). */
qv_code wal_latest(wal *w, const char *channel, wal_pos *end,
                   qv_err *err) QV_MUST_USE;

/* Opens a reader at `from` (a position, WAL_EARLIEST or WAL_LATEST).
 * A position below the earliest retained one fails with QV_E_COMPACTED,
 * one past the end with QV_E_RANGE.  On success *out must be closed. */
qv_code wal_reader_open(wal *w, const char *channel, wal_pos from,
                        wal_reader **out, qv_err *err) QV_MUST_USE;
/* Returns the next record, waiting up to wait_ms for one to be appended.
 * QV_E_TIMEOUT when none arrived in time (the reader stays usable);
 * QV_E_CORRUPT when stored bytes fail their checksum; QV_E_COMPACTED when
 * retention removed the records the reader was about to read. */
qv_code wal_reader_next(wal_reader *r, uint32_t wait_ms, wal_entry *out,
                        qv_err *err) QV_MUST_USE;
void wal_reader_close(wal_reader *r);

/* Log trimming: releases the records of channel below position `before`
 * that no consumer needs any more (the coord calls it with the minimum
 * checkpoint of the channel's consumers).  Records at or above `before`
 * are never removed; records below it may stay (local: only whole segment
 * files entirely below `before` are deleted, never the active one;
 * kafka: DeleteRecords moves the log start offset to `before`, capped at
 * the end).  After it, readers opened below the new earliest position fail
 * with QV_E_COMPACTED as with retention.  QV_E_UNSUPPORTED if the backend
 * cannot trim. */
qv_code wal_trim(wal *w, const char *channel, wal_pos before,
                 qv_err *err) QV_MUST_USE;

/* True if name is a valid channel name. */
int wal_channel_valid(const char *name);

/* ---- fault decorator (wal_fault.c) ------------------------------------ */

/* Operations a fault plan applies to. */
enum wal_fault_ops {
    WAL_FAULT_APPEND = 1 << 0,
    WAL_FAULT_BOUNDS = 1 << 1,
    WAL_FAULT_READER_OPEN = 1 << 2,
    WAL_FAULT_READER_NEXT = 1 << 3,
    WAL_FAULT_ALL = 0xf,
};

typedef struct wal_fault_plan {
    uint32_t ops;        /* enum wal_fault_ops the plan counts */
    uint64_t fail_nth;   /* 1-based matching call that fails; 0 = none */
    uint64_t fail_count; /* how many calls fail from the Nth on; 0 = 1,
                            UINT64_MAX = all of them */
    qv_code code;        /* code of injected failures; 0 = QV_E_UNAVAILABLE */
    uint32_t latency_ms; /* added before every matching call */
} wal_fault_plan;

/* Replaces the plan of a "fault" wal and resets its call counter.
 * QV_E_INVALID if w is not a fault decorator. */
qv_code wal_fault_set(wal *w, const wal_fault_plan *plan,
                      qv_err *err) QV_MUST_USE;
/* Matching calls seen and failures injected since the last wal_fault_set. */
void wal_fault_counts(wal *w, uint64_t *calls, uint64_t *failures);

#endif
