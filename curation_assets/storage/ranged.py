"""Read an S3 object as a seekable file, fetching only the byte ranges a reader asks for.

PyAV (FFmpeg's demuxer) reads a container through ``read``/``seek``: to cut a few seconds out of
a long upload it needs the index and the packets of that stretch, not the whole object. Each
buffered read here is one ranged GET, so previewing a clip costs a fraction of a download and
needs no scratch space.
"""

from __future__ import annotations

import io
from typing import Any

from curation_assets.storage.files import parse_s3_uri

BLOCK = 1 << 20  # bytes per ranged GET (a BufferedReader's buffer)


class S3RangeReader(io.RawIOBase):
    """A read-only, seekable view of one object; counts the requests and bytes it fetched."""

    def __init__(self, client: Any, bucket: str, key: str, size: int | None = None) -> None:
        super().__init__()
        self._client, self.bucket, self.key = client, bucket, key
        if size is None:
            size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        self.size = size
        self._pos = 0
        self.requests = 0
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self.size or len(buffer) == 0:
            return 0
        last = min(self.size, self._pos + len(buffer)) - 1
        body = self._client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self._pos}-{last}"
        )["Body"].read()
        count = len(body)
        buffer[:count] = body
        self._pos += count
        self.requests += 1
        self.bytes_fetched += count
        return count


def open_s3(
    client: Any, uri: str, block: int = BLOCK, size: int | None = None
) -> io.BufferedReader:
    """``s3://bucket/key`` as a buffered, seekable binary file (``.raw`` has the counters).
    ``size``: the object's length when already known (saves the HEAD)."""
    bucket, key = parse_s3_uri(uri)
    return io.BufferedReader(S3RangeReader(client, bucket, key, size), buffer_size=block)
