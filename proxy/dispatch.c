/* dispatch.c -- the proxy's RPC table: full method name -> handler.
 * Add a row (and a rpc_<method>.c) for each implemented RPC; methods not
 * listed are answered UNIMPLEMENTED by the RPC server. */
#include "proxy/proxy_int.h"

#define MILVUS(m) QV_MILVUS_SERVICE m
#define REQ(msg)  &milvus__proto__milvus__##msg##__descriptor

const qv_proxy_rpc qv_proxy__rpcs[] = {
    {MILVUS("Connect"), REQ(connect_request), qv_proxy__connect},
    {MILVUS("GetVersion"), REQ(get_version_request), qv_proxy__get_version},
    {MILVUS("CheckHealth"), REQ(check_health_request), qv_proxy__check_health},
    /* Databases (rpc_ddl.c forwards to the coord). */
    {MILVUS("CreateDatabase"), REQ(create_database_request), qv_proxy__ddl},
    {MILVUS("DropDatabase"), REQ(drop_database_request), qv_proxy__ddl},
    {MILVUS("AlterDatabase"), REQ(alter_database_request), qv_proxy__ddl},
    {MILVUS("DescribeDatabase"), REQ(describe_database_request), qv_proxy__ddl},
    {MILVUS("ListDatabases"), REQ(list_databases_request), qv_proxy__ddl},
    /* Collections. */
    {MILVUS("CreateCollection"), REQ(create_collection_request), qv_proxy__ddl},
    {MILVUS("DropCollection"), REQ(drop_collection_request), qv_proxy__ddl},
    {MILVUS("AlterCollection"), REQ(alter_collection_request), qv_proxy__ddl},
    {MILVUS("RenameCollection"), REQ(rename_collection_request), qv_proxy__ddl},
    {MILVUS("ShowCollections"), REQ(show_collections_request), qv_proxy__ddl},
    {MILVUS("DescribeCollection"), REQ(describe_collection_request),
     qv_proxy__describe_collection},
    {MILVUS("HasCollection"), REQ(has_collection_request),
     qv_proxy__has_collection},
    {MILVUS("GetCollectionStatistics"), REQ(get_collection_statistics_request),
     qv_proxy__get_collection_statistics},
    /* Partitions. */
    {MILVUS("CreatePartition"), REQ(create_partition_request), qv_proxy__ddl},
    {MILVUS("DropPartition"), REQ(drop_partition_request), qv_proxy__ddl},
    {MILVUS("ShowPartitions"), REQ(show_partitions_request), qv_proxy__ddl},
    {MILVUS("HasPartition"), REQ(has_partition_request),
     qv_proxy__has_partition},
    {MILVUS("GetPartitionStatistics"), REQ(get_partition_statistics_request),
     qv_proxy__get_partition_statistics},
    /* Aliases. */
    {MILVUS("CreateAlias"), REQ(create_alias_request), qv_proxy__ddl},
    {MILVUS("DropAlias"), REQ(drop_alias_request), qv_proxy__ddl},
    {MILVUS("AlterAlias"), REQ(alter_alias_request), qv_proxy__ddl},
    {MILVUS("DescribeAlias"), REQ(describe_alias_request), qv_proxy__ddl},
    {MILVUS("ListAliases"), REQ(list_aliases_request), qv_proxy__ddl},
    /* Data path (rpc_write.c, rpc_search.c, rpc_query.c). */
    {MILVUS("Insert"), REQ(insert_request), qv_proxy__insert},
    {MILVUS("Upsert"), REQ(upsert_request), qv_proxy__upsert},
    {MILVUS("Delete"), REQ(delete_request), qv_proxy__delete},
    {MILVUS("Search"), REQ(search_request), qv_proxy__search},
    {MILVUS("Query"), REQ(query_request), qv_proxy__query},
    {MILVUS("LoadCollection"), REQ(load_collection_request), qv_proxy__ddl},
    {MILVUS("ReleaseCollection"), REQ(release_collection_request),
     qv_proxy__ddl},
    {MILVUS("GetLoadState"), REQ(get_load_state_request), qv_proxy__ddl},
    {MILVUS("GetLoadingProgress"), REQ(get_loading_progress_request),
     qv_proxy__ddl},
    {MILVUS("LoadPartitions"), REQ(load_partitions_request), qv_proxy__ddl},
    {MILVUS("ReleasePartitions"), REQ(release_partitions_request),
     qv_proxy__ddl},
    {MILVUS("GetReplicas"), REQ(get_replicas_request), qv_proxy__ddl},
    {MILVUS("Flush"), REQ(flush_request), qv_proxy__ddl},
    /* Compaction (rpc_compact.c forwards to the coord). */
    {MILVUS("ManualCompaction"), REQ(manual_compaction_request),
     qv_proxy__manual_compaction},
    {MILVUS("GetCompactionState"), REQ(get_compaction_state_request),
     qv_proxy__get_compaction_state},
    {MILVUS("GetCompactionStateWithPlans"), REQ(get_compaction_plans_request),
     qv_proxy__get_compaction_plans},
    {MILVUS("GetPersistentSegmentInfo"),
     REQ(get_persistent_segment_info_request),
     qv_proxy__get_persistent_segment_info},
    {MILVUS("GetFlushState"), REQ(get_flush_state_request),
     qv_proxy__get_flush_state},
    /* Indexes (rpc_index.c checks, the coord answers). */
    {MILVUS("CreateIndex"), REQ(create_index_request), qv_proxy__index},
    {MILVUS("DescribeIndex"), REQ(describe_index_request), qv_proxy__index},
    {MILVUS("GetIndexStatistics"), REQ(get_index_statistics_request),
     qv_proxy__index},
    {MILVUS("DropIndex"), REQ(drop_index_request), qv_proxy__index},
    {MILVUS("GetIndexState"), REQ(get_index_state_request), qv_proxy__index},
    {MILVUS("GetIndexBuildProgress"), REQ(get_index_build_progress_request),
     qv_proxy__index},
    {MILVUS("AlterIndex"), REQ(alter_index_request), qv_proxy__index},
    /* Telemetry is optional for the SDK: answered UNIMPLEMENTED on
     * purpose, which makes the SDK back off (sdk-compat §1.5). */
    {QV_TELEMETRY_SERVICE "ClientHeartbeat", REQ(client_heartbeat_request),
     qv_proxy__client_heartbeat},
};

const size_t qv_proxy__n_rpcs =
    sizeof(qv_proxy__rpcs) / sizeof(qv_proxy__rpcs[0]);
