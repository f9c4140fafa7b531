/* svc_dispatch.c -- the CoordService table: full method name -> request
 * type -> handler (svc_*.c).  Methods not listed are answered
 * UNIMPLEMENTED by the RPC server. */
#include "coord/coord_int.h"

#define COORD(m)   QV_COORD_SERVICE m
#define MREQ(msg)  &milvus__proto__milvus__##msg##__descriptor
#define QIREQ(msg) &quiver__internal__##msg##__descriptor

const qv_coord_rpc qv_coord__rpcs[] = {
    {COORD("AllocTimestamp"), QIREQ(alloc_timestamp_request),
     qv_coord__alloc_timestamp},
    {COORD("AllocID"), QIREQ(alloc_idrequest), qv_coord__alloc_id},
    {COORD("CreateDatabase"), MREQ(create_database_request),
     qv_coord__create_database},
    {COORD("DropDatabase"), MREQ(drop_database_request),
     qv_coord__drop_database},
    {COORD("ListDatabases"), MREQ(list_databases_request),
     qv_coord__list_databases},
    {COORD("AlterDatabase"), MREQ(alter_database_request),
     qv_coord__alter_database},
    {COORD("DescribeDatabase"), MREQ(describe_database_request),
     qv_coord__describe_database},
    {COORD("CreateCollection"), MREQ(create_collection_request),
     qv_coord__create_collection},
    {COORD("DropCollection"), MREQ(drop_collection_request),
     qv_coord__drop_collection},
    {COORD("DescribeCollection"), MREQ(describe_collection_request),
     qv_coord__describe_collection},
    {COORD("ShowCollections"), MREQ(show_collections_request),
     qv_coord__show_collections},
    {COORD("AlterCollection"), MREQ(alter_collection_request),
     qv_coord__alter_collection},
    {COORD("RenameCollection"), MREQ(rename_collection_request),
     qv_coord__rename_collection},
    {COORD("CreatePartition"), MREQ(create_partition_request),
     qv_coord__create_partition},
    {COORD("DropPartition"), MREQ(drop_partition_request),
     qv_coord__drop_partition},
    {COORD("ShowPartitions"), MREQ(show_partitions_request),
     qv_coord__show_partitions},
    {COORD("CreateAlias"), MREQ(create_alias_request), qv_coord__create_alias},
    {COORD("DropAlias"), MREQ(drop_alias_request), qv_coord__drop_alias},
    {COORD("AlterAlias"), MREQ(alter_alias_request), qv_coord__alter_alias},
    {COORD("DescribeAlias"), MREQ(describe_alias_request),
     qv_coord__describe_alias},
    {COORD("ListAliases"), MREQ(list_aliases_request), qv_coord__list_aliases},
    {COORD("AssignSegments"), QIREQ(assign_segments_request),
     qv_coord__assign_segments},
    {COORD("ReportTimeTick"), QIREQ(report_time_tick_request),
     qv_coord__report_time_tick},
    {COORD("GetShardLeaders"), QIREQ(get_shard_leaders_request),
     qv_coord__get_shard_leaders},
    {COORD("LoadCollection"), MREQ(load_collection_request),
     qv_coord__load_collection},
    {COORD("ReleaseCollection"), MREQ(release_collection_request),
     qv_coord__release_collection},
    {COORD("GetLoadState"), MREQ(get_load_state_request),
     qv_coord__get_load_state},
    {COORD("GetLoadingProgress"), MREQ(get_loading_progress_request),
     qv_coord__get_loading_progress},
    {COORD("Flush"), MREQ(flush_request), qv_coord__flush},
    {COORD("CommitSegment"), QIREQ(commit_segment_request),
     qv_coord__commit_segment},
    {COORD("GetFlushState"), MREQ(get_flush_state_request),
     qv_coord__get_flush_state},
};

const size_t qv_coord__n_rpcs =
    sizeof(qv_coord__rpcs) / sizeof(qv_coord__rpcs[0]);
