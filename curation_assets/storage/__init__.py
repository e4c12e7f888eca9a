"""Where shards come from and where outputs go: local disk or S3 (no Dagster here)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from curation_assets.config import StorageConfig
from curation_assets.storage.scratch import Scratch
from curation_assets.storage.sources import (
    LocalShardSource,
    S3ShardSource,
    ShardSource,
    SourceFile,
    Staged,
    parse_s3_uri,
)


def shard_source(storage: StorageConfig, home: Path, s3_client: Callable[[], Any]) -> ShardSource:
    """The shard source ``storage.uploads`` names (default ``<home>/uploads``)."""
    uploads = storage.uploads
    if uploads and uploads.startswith("s3://"):
        scratch_dir = home / Path(storage.scratch_dir or "scratch").expanduser()
        scratch = Scratch(scratch_dir, storage.scratch_max_mb * 1024 * 1024)
        return S3ShardSource(
            s3_client(), uploads, scratch, storage.sensor_max_pages, storage.sensor_full_sweep_s
        )
    return LocalShardSource(home / Path(uploads or "uploads").expanduser())


__all__ = [
    "shard_source",
    "LocalShardSource",
    "S3ShardSource",
    "ShardSource",
    "SourceFile",
    "Staged",
    "parse_s3_uri",
]
