/* qn_int.h -- query node internals shared by qnserver.c (lifecycle,
 * channel assignment) and qn_read.c (Search and Query handlers). */
#ifndef QV_QN_INT_H
#define QV_QN_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "common/rpc/rpc_server.h"
#include "common/session/session.h"
#include "internal/querynode.pb-c.h"
#include "milvus/schema.pb-c.h"
#include "qnserver/qnserver.h"
#include "querynode/delegator.h"

#define QV_QN_SERVICE "/quiver.internal.QueryNodeService/"

/* A watched collection: its schema and one delegator per vchannel. */
typedef struct qn_coll {
    struct qn_coll *next;
    int64_t id;
    Milvus__Proto__Schema__CollectionSchema *schema; /* owns names */
    qv_field_spec *specs;
    size_t nfields;
    int64_t pk_field_id;
    size_t nch;
    char **vch;
    qv_delegator **dels;
} qn_coll;

struct qv_qnode {
    qv_qnode_options opts;
    char *root, *host, *advertise;
    qv_rpc_server *srv;
    qv_session *session; /* sess_mu */
    pthread_mutex_t sess_mu;
    pthread_t keeper;
    bool keeper_started;
    volatile bool stopping;
    pthread_rwlock_t mu; /* guards colls */
    qn_coll *colls;
};

/* The delegator of vchannel in collection coll, or NULL; mu held. */
qv_delegator *qv_qn__find(qv_qnode *q, int64_t coll, const char *vch,
                          qn_coll **c);

qv_code qv_qn__search(qv_rpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, void *ud, qv_err *err);
qv_code qv_qn__query(qv_rpc_call *call, const ProtobufCMessage *req,
                     ProtobufCMessage **resp, void *ud, qv_err *err);

#endif
