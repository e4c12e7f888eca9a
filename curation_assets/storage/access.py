"""Read a source video wherever its uri points, without staging whole files.

Exports and the review app cut a few seconds out of sources that may be local files
(``file://`` or a plain path) or S3 objects. Local files are read in place; S3 objects through
ranged GETs (``ranged.open_s3``), so an export needs no cache of whole uploads. ``stat`` gives
what identifies a source's bytes (size and modification time), which export fingerprints use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, BinaryIO

from curation_assets.storage.files import is_s3, parse_s3_uri, path_of
from curation_assets.storage.ranged import open_s3

SourceStat = tuple[int, int]  # (bytes, modification time in ns)
HEAD_THREADS = 16


def boto3_s3_client() -> Any:
    """An S3 client from boto3's own settings: endpoint (``AWS_ENDPOINT_URL_S3``), region and
    credentials from the environment, a profile or the task role. For code outside Dagster
    (the CLI, the review app); assets use the ``curation`` resource's client."""
    import boto3

    return boto3.client("s3")


class SourceAccess:
    """Local files in place; s3:// objects through ``s3_client`` (made once, on first use)."""

    def __init__(self, s3_client: Callable[[], Any] | None = None) -> None:
        self._factory = s3_client
        self._client: Any = None
        self._sizes: dict[str, int] = {}  # from ``stat``: ``open`` needs no second HEAD

    def _s3(self) -> Any:
        if self._factory is None:
            raise FileNotFoundError("an s3:// source, but no S3 client is configured")
        if self._client is None:
            self._client = self._factory()
        return self._client

    def stat(self, uris: Iterable[str]) -> dict[str, SourceStat | None]:
        """Each distinct uri's (size, mtime_ns); None where it cannot be reached. S3 HEADs run
        in a thread pool (an export of many videos would otherwise wait on them one by one)."""
        distinct = sorted(set(uris))
        out: dict[str, SourceStat | None] = {}
        remote = [u for u in distinct if is_s3(u)]
        for uri in distinct:
            if not is_s3(uri):
                try:
                    st = os.stat(path_of(uri))
                    out[uri] = (st.st_size, st.st_mtime_ns)
                except OSError:
                    out[uri] = None
        if remote:
            with ThreadPoolExecutor(min(HEAD_THREADS, len(remote))) as pool:
                out.update(zip(remote, pool.map(self._head, remote), strict=True))
        return out

    def _head(self, uri: str) -> SourceStat | None:
        try:
            bucket, key = parse_s3_uri(uri)
            head = self._s3().head_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: BLE001 - missing object, no access, no client: unreachable
            return None
        self._sizes[uri] = int(head["ContentLength"])
        return self._sizes[uri], int(head["LastModified"].timestamp() * 1e9)

    @contextmanager
    def open(self, uri: str) -> Iterator[str | BinaryIO]:
        """A path (local) or a seekable binary file (S3) that PyAV can open."""
        if not is_s3(uri):
            yield path_of(uri)
            return
        with open_s3(self._s3(), uri, size=self._sizes.get(uri)) as fh:
            yield fh
