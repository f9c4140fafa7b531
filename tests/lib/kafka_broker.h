/* kafka_broker.h -- test helper: a Kafka-protocol broker on 127.0.0.1.
 *
 * Starts tests/kafka_broker's qv_kafka_broker (librdkafka's mock cluster in
 * its own process) on fixed free ports, waits (bounded) until it accepts
 * connections, and can stop and restart it on the same ports, so clients
 * configured with its bootstrap list reconnect by themselves.
 *
 * The mock keeps only the last ~5 MiB of each partition and keeps nothing
 * across a restart (the restarted broker is empty): tests keep their
 * volumes small and expect empty topics after a restart.
 *
 * The binary is found through the QV_KAFKA_BROKER environment variable,
 * else the path compiled in as QV_KAFKA_BROKER_BIN, else PATH.
 *
 * Threading: one qv_kafka_broker is owned by one thread (see proc.h about
 * the spawning thread).
 */
#ifndef QV_TESTLIB_KAFKA_BROKER_H
#define QV_TESTLIB_KAFKA_BROKER_H

#include "tests/lib/proc.h"

typedef struct qv_kafka_broker {
    qv_proc proc;
    char *dir;           /* temp dir: broker.log, bootstrap.txt (owned) */
    int brokers;         /* brokers in the cluster */
    int port;            /* first port; broker i listens on port + i */
    char bootstrap[256]; /* "127.0.0.1:<port>[,...]" */
} qv_kafka_broker;

/* Starts a cluster of `brokers` (>= 1) brokers.  Retries with new ports
 * when a port was taken meanwhile.  On failure the error includes the tail
 * of the broker's log.  On success qv_kafka_broker_destroy() must be
 * called. */
qv_code qv_kafka_broker_start(qv_kafka_broker *b, int brokers,
                              qv_err *err) QV_MUST_USE;

/* Stops the process (SIGTERM, SIGKILL after 5 s).  Its data is gone. */
qv_code qv_kafka_broker_stop(qv_kafka_broker *b, qv_err *err);

/* Starts a stopped broker again on the same ports (empty cluster). */
qv_code qv_kafka_broker_restart(qv_kafka_broker *b, qv_err *err) QV_MUST_USE;

/* Stops the broker and removes its directory.  Safe on a zeroed struct. */
void qv_kafka_broker_destroy(qv_kafka_broker *b);

#endif
