"""The Dagster groups, the sections of the asset graph in the UI, named once."""

PER_SHARD_GROUP = "per_shard"  # one partition per source shard: ingest, shots, filters, captions
GLOBAL_GROUP = "global"  # over all shards: near-duplicates, concepts, the fine-tune set
SUBSET_GROUP = "subsets"  # one asset per subset stage of curation.yaml
EXPORT_GROUP = "exports"  # one training export per subset stage
