import dagster as dg

SHARD_PARTITIONS = "source_shard"
shard_partitions = dg.DynamicPartitionsDefinition(name=SHARD_PARTITIONS)
