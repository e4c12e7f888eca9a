"""Shard sources: list complete shards and their files, and make files readable locally.

``LocalShardSource`` is the upload folder on disk (files are read where they are).
``S3ShardSource`` is ``s3://bucket/prefix/<shard>/...``: listed with ``list_objects_v2``
(paginated; ``Delimiter='/'`` gives one entry per shard), a shard is complete when
``<shard>/_READY`` exists, and files are downloaded in batches into a bounded scratch area that
is emptied after each batch and removed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from curation_assets.storage.files import atomic_output, file_path, parse_s3_uri
from curation_assets.storage.scratch import Scratch
from curation_assets.storage.shards import (
    READY_MARKER,
    SHARD_NAME,
    ShardError,
    check_shard_name,
    ingest,
    is_ready,
    list_shard_files,
    ready_shards,
)

MAX_PENDING = 500  # incomplete S3 shards re-checked every sensor tick


@dataclass(frozen=True)
class SourceFile:
    rel: str  # path inside the shard, '/'-separated: the file name users see
    uri: str  # file:///... or s3://bucket/key: what lineage records
    size: int | None = None
    problem: str | None = None  # set when the file must not be opened (e.g. escapes the root)


@dataclass(frozen=True)
class Staged:
    """A file made readable on local disk for the duration of its batch, or why it could not be."""

    file: SourceFile
    path: Path | None
    problem: str | None = None


class ShardSource(Protocol):
    uploads_uri: str

    def exists(self, shard: str) -> bool: ...

    def is_ready(self, shard: str) -> bool: ...

    def marker(self, shard: str) -> str:
        """Where the shard's ``_READY`` marker is (for messages)."""
        ...

    def ingest(self, sources: Sequence[Path], shard: str) -> tuple[str, int]:
        """Copy files/folders into the shard, the marker last; (where, files copied)."""
        ...

    def list_files(self, shard: str) -> list[SourceFile]: ...

    def ready_shards(
        self, skip: set[str] | frozenset[str], state: dict | None = None
    ) -> tuple[list[str], dict]:
        """New complete shards (not in ``skip``), and the listing state for the next call."""
        ...

    def staged(self, files: Sequence[SourceFile]) -> Any:
        """Context manager yielding an iterator of batches (lists of ``Staged``)."""
        ...


class LocalShardSource:
    """Shards as folders on local disk; nothing is copied."""

    def __init__(self, uploads: Path) -> None:
        self.uploads = Path(uploads)
        self.uploads_uri = str(self.uploads)

    def exists(self, shard: str) -> bool:
        return (self.uploads / shard).is_dir()

    def is_ready(self, shard: str) -> bool:
        return is_ready(self.uploads / shard)

    def marker(self, shard: str) -> str:
        return str(self.uploads / shard / READY_MARKER)

    def ingest(self, sources: Sequence[Path], shard: str) -> tuple[str, int]:
        target, copied = ingest(sources, shard, self.uploads)
        return str(target), copied

    def list_files(self, shard: str) -> list[SourceFile]:
        return [
            SourceFile(f.rel, f.path.absolute().as_uri(), None, f.problem)
            for f in list_shard_files(self.uploads / shard)
        ]

    def ready_shards(
        self, skip: set[str] | frozenset[str], state: dict | None = None
    ) -> tuple[list[str], dict]:
        # one scandir of the folder is cheap; only unknown names are stat'ed for their marker
        return ready_shards(self.uploads, skip=skip), {}

    @contextmanager
    def staged(self, files: Sequence[SourceFile]) -> Iterator[Iterator[list[Staged]]]:
        yield iter([[Staged(f, file_path(f.uri)) for f in files]] if files else [])


class S3ShardSource:
    """Shards under ``s3://bucket/prefix/``; ``client`` is a boto3 S3 client."""

    def __init__(
        self,
        client: Any,
        uploads_uri: str,
        scratch: Scratch,
        max_pages: int = 50,
        full_sweep_s: float = 600.0,
    ) -> None:
        self.client = client
        self.bucket, prefix = parse_s3_uri(uploads_uri)
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.uploads_uri = f"s3://{self.bucket}/{self.prefix}"
        self.scratch = scratch
        self.max_pages = max_pages
        self.full_sweep_s = full_sweep_s

    def _shard_prefix(self, shard: str) -> str:
        return f"{self.prefix}{shard}/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def exists(self, shard: str) -> bool:
        page = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._shard_prefix(shard), MaxKeys=1
        )
        return page.get("KeyCount", 0) > 0

    def is_ready(self, shard: str) -> bool:
        return self._is_ready(shard)

    def marker(self, shard: str) -> str:
        return self.uri(f"{self._shard_prefix(shard)}{READY_MARKER}")

    def ingest(self, sources: Sequence[Path], shard: str) -> tuple[str, int]:
        """Upload files/folders under ``<prefix>/<shard>/``, then put ``_READY`` (never before).

        A complete shard is never changed: ingesting the same files again copies nothing,
        different ones are refused (use a new shard name).
        """
        check_shard_name(shard)
        plan: list[tuple[Path, str]] = []
        for source in map(Path, sources):
            if not source.exists():
                raise ShardError(f"no such file or folder: {source}")
            if source.is_dir():
                for path in sorted(p for p in source.rglob("*") if p.is_file()):
                    plan.append((path, path.relative_to(source).as_posix()))
            else:
                plan.append((source, source.name))
        plan = [(src, rel) for src, rel in plan if rel != READY_MARKER]
        if not plan:
            raise ShardError("nothing to ingest: no files found")
        if len({rel for _, rel in plan}) != len(plan):
            raise ShardError("two sources would land on the same file name in the shard")
        where = self.uri(self._shard_prefix(shard))
        if self.is_ready(shard):
            remote = {f.rel: f.size for f in self.list_files(shard)}
            changed = [rel for src, rel in plan if remote.get(rel) != src.stat().st_size]
            if changed:
                raise ShardError(
                    f"shard {shard!r} is already complete; ingest new files under a new shard "
                    f"name ({len(changed)} file(s) differ)"
                )
            return where, 0
        for src, rel in plan:
            self.client.upload_file(str(src), self.bucket, f"{self._shard_prefix(shard)}{rel}")
        key = f"{self._shard_prefix(shard)}{READY_MARKER}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=b"")
        return where, len(plan)

    def list_files(self, shard: str) -> list[SourceFile]:
        """Every object of the shard but its marker, sorted; pages of 1000 are followed."""
        prefix = self._shard_prefix(shard)
        files = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix) :]
                if rel == READY_MARKER or rel.endswith("/"):  # marker, "folder" placeholders
                    continue
                problem = None
                if any(part in ("", ".", "..") for part in rel.split("/")):
                    problem = "object key has an empty, '.' or '..' path segment"
                files.append(SourceFile(rel, self.uri(obj["Key"]), obj["Size"], problem))
        return sorted(files, key=lambda f: f.rel)

    def ready_shards(
        self, skip: set[str] | frozenset[str], state: dict | None = None
    ) -> tuple[list[str], dict]:
        """New complete shards not in ``skip``, and the listing state for the next call.

        Usually only names after the highest one seen are listed (``StartAfter``): a tick costs
        one LIST request however many shards exist. Every ``full_sweep_s`` the whole prefix is
        swept again, so a shard whose name sorts before ones already seen is found too. Either
        listing reads at most ``max_pages`` pages per call and resumes where it stopped. Only
        names not in ``skip`` are checked for their marker (one HEAD each, in parallel).
        """
        state = dict(state or {})
        now = time.time()
        sweeping = state.get("sweep_after") is not None or (
            now - state.get("swept_at", 0.0) >= self.full_sweep_s
        )
        start = state.get("sweep_after") if sweeping else state.get("high")
        names, last, complete = self._list_shards(start, skip)
        if last is not None and (state.get("high") is None or last > state["high"]):
            state["high"] = last
        whole = sweeping and start is None and complete  # this call saw every shard
        if sweeping:
            state["sweep_after"] = None if complete else last
            if complete:
                state["swept_at"] = now
        # shards seen without their marker are checked again every tick until it lands
        if not whole:
            listed = set(names)
            names += [n for n in state.get("pending", []) if n not in skip and n not in listed]
        ready: list[bool] = []
        if names:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:  # < boto pool
                ready = list(pool.map(self._is_ready, names))
        waiting = sorted(n for n, ok in zip(names, ready, strict=True) if not ok)
        state["pending"] = waiting[:MAX_PENDING]  # more: left to the next full sweep
        return sorted(n for n, ok in zip(names, ready, strict=True) if ok), state

    def _list_shards(
        self, after: str | None, skip: set[str] | frozenset[str]
    ) -> tuple[list[str], str | None, bool]:
        """Shard names after ``after`` not in ``skip``; the last name listed; whether the
        listing reached the end (False: stopped at ``max_pages``)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "Delimiter": "/"}
        if after:
            # '0' is the character right after '/': resume after every key under "<after>/"
            kwargs["StartAfter"] = f"{self.prefix}{after}0"
        names: list[str] = []
        last = None
        pages = self.client.get_paginator("list_objects_v2").paginate(**kwargs)
        for n, page in enumerate(pages, start=1):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self.prefix) :].rstrip("/")
                if SHARD_NAME.fullmatch(name) and name not in skip:
                    names.append(name)
                last = name
            if n >= self.max_pages and page.get("IsTruncated"):
                return names, last, False
        return names, last, True

    def _is_ready(self, shard: str) -> bool:
        try:
            key = f"{self._shard_prefix(shard)}{READY_MARKER}"
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @contextmanager
    def staged(self, files: Sequence[SourceFile]) -> Iterator[Iterator[list[Staged]]]:
        """Batches of downloaded files that fit the scratch area, each deleted after its use."""
        with self.scratch.area() as area:
            yield self._batches(files, area)

    def _batches(self, files: Sequence[SourceFile], area: Path) -> Iterator[list[Staged]]:
        for group in self.scratch.plan([f.size for f in files]):
            batch = [self._download(files[i], area, i) for i in group]
            try:
                yield batch
            finally:
                for staged in batch:
                    if staged.path is not None:
                        staged.path.unlink(missing_ok=True)

    def _download(self, f: SourceFile, area: Path, index: int) -> Staged:
        if f.size is not None and f.size > self.scratch.max_bytes:
            return Staged(
                f,
                None,
                f"{f.size} bytes do not fit the scratch area ({self.scratch.max_bytes} bytes, "
                "storage.scratch_max_mb)",
            )
        bucket, key = parse_s3_uri(f.uri)
        # a plain local name: object keys may hold spaces, non-ASCII or odd characters
        target = area / f"{index:06d}{PurePosixPath(f.rel).suffix[:16]}"
        try:
            with atomic_output(target, suffix=".partial") as tmp:
                self.client.download_file(bucket, key, str(tmp))
        except (ClientError, BotoCoreError, OSError) as error:
            return Staged(f, None, f"download failed: {error}")
        return Staged(f, target)
