"""Where shards come from and where outputs go: local disk or S3 (no Dagster here)."""

from curation_assets.storage.sources import (
    LocalShardSource,
    S3ShardSource,
    ShardSource,
    SourceFile,
    Staged,
    parse_s3_uri,
)

__all__ = [
    "LocalShardSource",
    "S3ShardSource",
    "ShardSource",
    "SourceFile",
    "Staged",
    "parse_s3_uri",
]
