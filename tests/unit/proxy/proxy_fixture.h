/* proxy_fixture.h -- one process with a proxy, a coord and a query node on
 * an LMDB meta KV and a local write log, reached over gRPC like a client
 * (test_proxy_data.c, test_proxy_search_params.c); a collection "c" with
 * an Int64 key `id` and a 2-d FloatVector `v`, and an insert helper.
 * Replies live on `arena`, released by pf_teardown(). */
#ifndef QV_PROXY_FIXTURE_H
#define QV_PROXY_FIXTURE_H

#include "common/arena.h"
#include "common/metakv/metakv.h"
#include "common/rpc/rpc_client.h"
#include "common/wal/wal.h"
#include "coord/coord.h"
#include "milvus/milvus.pb-c.h"
#include "proxy/proxy.h"
#include "querynode/qnserver.h"

#define SVC      "/milvus.proto.milvus.MilvusService/"
#define DT(x)    MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define M(x)     Milvus__Proto__Milvus__##x
#define STATUS_D &milvus__proto__common__status__descriptor

extern char dir[64];
extern metakv *kv;
extern wal *log_;
extern qv_coord *co;
extern qv_qnode *qn;
extern qv_proxy *px;
extern qv_rpc_channel *ch;
extern qv_arena arena;

void pf_setup(const char *prefix);
void pf_teardown(void);
void *call(const char *m, const ProtobufCMessage *req,
           const ProtobufCMessageDescriptor *d);
void create(void);
M(MutationResult) * insert(int64_t from, size_t n, size_t dim);

#endif
