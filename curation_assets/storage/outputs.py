"""Outputs on S3: every lineage part written locally is also put under ``s3://.../lineage/``.

The local parts stay the working copy (DuckDB reads them while runs write); the S3 copy is what
other machines and readers use, e.g. DuckDB's httpfs:
``read_parquet('s3://bucket/prefix/lineage/videos/*.parquet', union_by_name = true)``.
An S3 PUT is atomic, so a part is never visible half-written there either.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from curation_assets.lineage.store import LineageStore
from curation_assets.storage.sources import parse_s3_uri


class S3Mirror:
    """Copies local files to ``s3://bucket/prefix/<rel>``."""

    def __init__(self, client: Any, outputs_uri: str) -> None:
        self.client = client
        self.bucket, prefix = parse_s3_uri(outputs_uri)
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""

    def uri(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{rel}"

    def put(self, local: Path, rel: str) -> str:
        self.client.upload_file(str(local), self.bucket, f"{self.prefix}{rel}")
        return self.uri(rel)

    def exists(self, rel: str) -> bool:
        found = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}{rel}", MaxKeys=1
        )
        return any(o["Key"] == f"{self.prefix}{rel}" for o in found.get("Contents", []))


class MirroredLineageStore(LineageStore):
    """A lineage store whose every ``replace`` is followed by an upload of the parts it wrote."""

    def __init__(self, parts_dir: Path, catalog_path: Path, mirror: S3Mirror) -> None:
        super().__init__(parts_dir, catalog_path)
        self.mirror = mirror
        self.uploaded: list[str] = []

    def replace(
        self, writer: str, partition: str, tables: Mapping[str, list[dict] | pl.DataFrame]
    ) -> None:
        started = time.time() - 1.0  # mtime granularity
        super().replace(writer, partition, tables)
        for table in tables:
            folder = self.parts_dir / table
            for part in sorted(folder.glob("*.parquet")):
                if part.name.startswith("."):
                    continue
                rel = f"lineage/{table}/{part.name}"
                fresh = part.stat().st_mtime >= started
                # the empty part keeps the table's schema readable before any run wrote there
                if fresh or (part.name == "_empty.parquet" and not self.mirror.exists(rel)):
                    self.uploaded.append(self.mirror.put(part, rel))
