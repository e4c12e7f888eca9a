"""Previews of clips whose source the browser cannot fetch itself (s3:// uploads).

A local source is played as it is, with HTTP range requests. An object in S3 is not under the
data root and its bucket is usually private, so the app cuts the clip's segment once into a small
H.264 MP4 (the same frame-accurate cut as the exports, read through ranged GETs: only the part of
the object the cut needs is fetched) and serves that from a bounded cache. The preview starts at
the clip's start, so the page shifts its clock by ``start_s``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from curation_assets.media.transcode import transcode_clip
from curation_assets.storage.files import atomic_write_bytes

SHORT_SIDE = 360
CRF = 26


class PreviewCache:
    """``cache_dir/<clip_id>.mp4``, made at most once at a time per clip, oldest evicted first."""

    def __init__(
        self,
        cache_dir: Path,
        open_source: Callable[[str], AbstractContextManager[BinaryIO]],
        max_bytes: int,
    ) -> None:
        self.cache_dir = cache_dir
        self.open_source = open_source
        self.max_bytes = max_bytes
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.made = 0  # previews transcoded by this process (the tests read it)

    def _lock_for(self, clip_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(clip_id, threading.Lock())

    def path(self, clip: dict) -> Path:
        """The clip's preview, cut now if not cached. Raises ``TranscodeError``, ``OSError``."""
        target = self.cache_dir / f"{clip['clip_id']}.mp4"
        with self._lock_for(clip["clip_id"]):
            if target.is_file():
                os.utime(target)  # recently used: evicted last
                return target
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with self.open_source(clip["uri"]) as source:
                cut = transcode_clip(
                    source,
                    float(clip["start_s"]),
                    float(clip["end_s"]),
                    short_side=SHORT_SIDE,
                    crf=CRF,
                    preset="veryfast",
                    tmp_dir=self.cache_dir,
                )
            atomic_write_bytes(target, cut.data, unique=True)
            self.made += 1
        self._evict(keep=target)
        return target

    def _evict(self, keep: Path) -> None:
        """Drop the least recently used previews while the cache is over its size."""
        files = []
        for entry in self.cache_dir.glob("*.mp4"):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in files)
        for _, size, entry in sorted(files):
            if total <= self.max_bytes:
                break
            if entry == keep:
                continue
            entry.unlink(missing_ok=True)
            total -= size
