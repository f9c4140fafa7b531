/* server_int.h -- datanode process internals shared by server.c
 * (lifecycle, channels, WatchDataChannels/ReleaseDataChannels/
 * GetDataChannelStates) and other DataNodeService handlers (compaction).
 * Not part of the public API. */
#ifndef QV_DN_SERVER_INT_H
#define QV_DN_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/rpc/rpc_server.h"
#include "common/session/kept_session.h"
#include "datanode/channel.h"
#include "datanode/server.h"
#include "internal/datanode.pb-c.h"
#include "milvus/schema.pb-c.h"
#include "proxy/coord_link.h"

#define QV_DN_SERVICE "/quiver.internal.DataNodeService/"

/* One consumed vchannel. */
typedef struct dn_chan {
    struct dn_chan *next;
    qv_dnode *node;
    int64_t coll;
    char *vch, *pch;
    uint32_t shard;
    Milvus__Proto__Schema__CollectionSchema *schema; /* owns the names */
    qv_field_spec *specs;
    size_t nfields;
    int64_t pk_field_id;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool done;   /* the thread returned (released or refused) */
    pthread_mutex_t mu; /* guards the state below */
    wal_pos checkpoint;
    uint64_t buffered;
    char error[512];
} dn_chan;

struct qv_dnode {
    qv_dnode_options opts;
    char *root, *host, *advertise;
    qv_rpc_server *srv;
    qv_coord_link *coord;
    qv_kept_session *session; /* set by start, cleared by stop */
    atomic_bool stopping;
    pthread_mutex_t mu; /* guards chans */
    dn_chan *chans;
};

/* The current session key, copied into buf (cap bytes). */
void qv_dn__session_key(qv_dnode *d, char *buf, size_t cap);
/* A new unique id from the coord (AllocID). */
qv_code qv_dn__alloc_id(qv_dnode *d, int64_t *id, qv_err *err) QV_MUST_USE;

/* DataNodeService/Compact (compact_svc.c). */
qv_code qv_dn__compact(qv_rpc_call *call, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, void *ud, qv_err *err);

#endif
