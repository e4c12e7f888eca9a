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
from curation_assets.storage.files import parse_s3_uri


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

    def sync_dir(self, local: Path, rel: str) -> str:
        """Make ``<prefix>/<rel>/`` hold what ``local`` holds; returns its ``s3://`` URI.

        Changed or new files go up first, manifests (``manifest*``) last, so a reader that sees a
        new manifest finds everything it names; remote files gone locally are removed last.
        Hidden files (locks, temporaries) are not copied.
        """
        root = f"{self.prefix}{rel.strip('/')}/"
        remote: dict[str, tuple[int, float]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=root
        ):
            for obj in page.get("Contents", []):
                remote[obj["Key"]] = (obj["Size"], obj["LastModified"].timestamp())
        files = [
            p
            for p in sorted(Path(local).rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(local).parts)
        ]
        files.sort(key=lambda p: p.name.startswith("manifest"))
        keep = set()
        for path in files:
            key = root + path.relative_to(local).as_posix()
            keep.add(key)
            stat = path.stat()
            known = remote.get(key)
            if known is None or known[0] != stat.st_size or known[1] < stat.st_mtime:
                self.client.upload_file(str(path), self.bucket, key)
        for key in sorted(set(remote) - keep):
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return f"s3://{self.bucket}/{root}"

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
