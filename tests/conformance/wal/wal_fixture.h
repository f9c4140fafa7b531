/* wal_fixture.h -- opens a wal of either backend for the wal test suites.
 *
 * "local" gets a fresh temporary directory; "kafka" gets its own
 * qv_kafka_broker (librdkafka's mock cluster in a separate process on
 * 127.0.0.1), stopped and removed by wal_fx_destroy().  The mock keeps only
 * ~5 MiB per partition, so tests keep each channel well below that.
 *
 * Threading: a fixture belongs to the test's main thread.
 */
#ifndef QV_TEST_WAL_FIXTURE_H
#define QV_TEST_WAL_FIXTURE_H

#include "common/wal/wal.h"
#include "tests/lib/kafka_broker.h"

typedef struct wal_fx {
    const char *backend;
    wal *w;
    wal_options opt;
    char *dir;              /* local: the log directory */
    qv_kafka_broker broker; /* kafka */
} wal_fx;

/* Starts what the backend needs and opens the wal with opt (may be NULL;
 * dir/bootstrap are filled in).  Asserts on failure. */
void wal_fx_init(wal_fx *fx, const char *backend, const wal_options *opt);
/* Closes the wal (if open) and opens it again with the same options. */
void wal_fx_reopen(wal_fx *fx);
void wal_fx_destroy(wal_fx *fx);

#endif
