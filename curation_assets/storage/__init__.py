"""Where shards come from and where outputs go: local disk or S3 (no Dagster here).

``storage.files`` (atomic writes, uris) is imported by nearly every package, so this package
imports its source classes only when asked: importing ``storage.files`` pulls in nothing else.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curation_assets.config.sections import StorageConfig
    from curation_assets.storage.sources import ShardSource

_SOURCES = ("LocalShardSource", "S3ShardSource", "ShardSource", "SourceFile", "Staged")


def shard_source(
    storage: "StorageConfig", home: Path, s3_client: Callable[[], Any]
) -> "ShardSource":
    """The shard source ``storage.uploads`` names (default ``<home>/uploads``)."""
    from curation_assets.storage.scratch import Scratch
    from curation_assets.storage.sources import LocalShardSource, S3ShardSource

    uploads = storage.uploads
    if uploads and uploads.startswith("s3://"):
        scratch_dir = home / Path(storage.scratch_dir or "scratch").expanduser()
        scratch = Scratch(scratch_dir, storage.scratch_max_mb * 1024 * 1024)
        return S3ShardSource(
            s3_client(), uploads, scratch, storage.sensor_max_pages, storage.sensor_full_sweep_s
        )
    return LocalShardSource(home / Path(uploads or "uploads").expanduser())


def __getattr__(name: str) -> Any:
    if name in _SOURCES:
        from curation_assets.storage import sources

        return getattr(sources, name)
    if name == "parse_s3_uri":
        from curation_assets.storage.files import parse_s3_uri

        return parse_s3_uri
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["shard_source", *_SOURCES, "parse_s3_uri"]
