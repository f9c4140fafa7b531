/* wal_kafka_int.h -- state shared by wal_kafka.c (producer, topics,
 * appends) and wal_kafka_read.c (offsets, bounds, readers).  Not public.
 *
 * Threading: see wal_kafka.c.
 */
#ifndef QV_WAL_KAFKA_INT_H
#define QV_WAL_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/wal/wal_internal.h"

#define KMSG_OVERHEAD 512 /* record batch + record framing per message */

enum { KIND_WHOLE = 0, KIND_FIRST = 1, KIND_MIDDLE = 2, KIND_LAST = 3 };

typedef struct ktopic {
    struct ktopic *next;
    char *channel;
    char *topic;
    pthread_mutex_t produce_mu;
    int created; /* guarded by kafka_wal.mu */
} ktopic;

/* The client used for metadata, offset and admin queries.  It is shared
 * with query threads that may outlive a wal_close() (librdkafka 2.0.2's
 * rd_kafka_query_watermark_offsets() can block past its timeout while the
 * broker is down), so it is reference counted and has no callbacks that
 * touch the wal. */
typedef struct kquery {
    pthread_mutex_t mu;
    int refs;
    rd_kafka_t *rk;
} kquery;

typedef struct kafka_wal {
    wal base;
    char *bootstrap;
    char *prefix;
    int rf;
    uint32_t timeout_ms;
    size_t max_record;
    size_t max_msg;
    size_t chunk;
    pthread_rwlock_t plock;
    rd_kafka_t *prod;
    kquery *q; /* metadata, offsets, admin (see kquery) */
    pthread_mutex_t mu;
    ktopic *topics;
    char last_error[256];
    pthread_t poller;
    atomic_int stop;
    atomic_int no_delete_records; /* the broker refused DeleteRecords */
} kafka_wal;

uint64_t wal__kafka_mono_ms(void);
/* Milliseconds left until deadline (a wal__kafka_mono_ms() value), at
 * least 1 so librdkafka never reads 0 as "no wait" by accident. */
int wal__kafka_left_ms(uint64_t deadline);
/* Copies the last error the producer's client reported. */
void wal__kafka_last_error(kafka_wal *kw, char *out, size_t n);
qv_code wal__kafka_map_err(rd_kafka_resp_err_t e);
int wal__kafka_set_conf(rd_kafka_conf_t *conf, const char *k, const char *v,
                        qv_err *err);
/* Client settings common to every handle; with_cb installs the error
 * callback that records the last broker error in kw. */
rd_kafka_conf_t *wal__kafka_base_conf(kafka_wal *kw, int with_cb, qv_err *err);
/* Takes kw->plock for reading (replacing a failed producer first). */
qv_code wal__kafka_producer_acquire(kafka_wal *kw, const char *channel,
                                    qv_err *err);
/* Finds or creates the channel's topic; call with kw->plock held. */
qv_code wal__kafka_ensure_topic(kafka_wal *kw, const char *channel,
                                uint64_t deadline, ktopic **out, qv_err *err);
void wal__kafka_set_created(kafka_wal *kw, ktopic *t, int v);
void wal__kafka_query_unref(kquery *q);

/* wal_kafka_read.c */
qv_code wal__kafka_bounds(wal *w, const char *channel, wal_pos *earliest,
                          wal_pos *end, qv_err *err);
qv_code wal__kafka_reader_open(wal *w, const char *channel, wal_pos from,
                               wal_reader **out, qv_err *err);
qv_code wal__kafka_reader_next(wal_reader *r, uint32_t wait_ms, wal_entry *out,
                               qv_err *err);
void wal__kafka_reader_close(wal_reader *r);
qv_code wal__kafka_trim(wal *w, const char *channel, wal_pos before,
                        qv_err *err);

#endif
