"""A bounded local scratch area for videos that live elsewhere (S3): filled, read, emptied."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Scratch:
    """``root/<unique>/`` per use; at most ``max_bytes`` are staged at once by the callers."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"scratch max_bytes must be positive, got {max_bytes}")
        self.root = Path(root)
        self.max_bytes = max_bytes

    @contextmanager
    def area(self) -> Iterator[Path]:
        """A fresh folder that is removed on exit, whatever happened inside.

        Its name starts with the owner's pid, so areas left by a killed run (kill -9, OOM) are
        removed by the next one; areas of live processes (parallel runs) are left alone.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_orphans()
        folder = self.root / f"{os.getpid()}-{uuid.uuid4().hex}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def remove_orphans(self) -> list[Path]:
        """Remove areas whose owning process no longer exists (on this machine)."""
        removed = []
        for folder in self.root.iterdir() if self.root.is_dir() else []:
            pid, sep, _ = folder.name.partition("-")
            if not sep or not pid.isdigit() or _alive(int(pid)):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    def plan(self, sizes: list[int | None]) -> Iterator[list[int]]:
        """Indexes of ``sizes`` grouped so that each group fits (unknown sizes count as 0).

        An item larger than the whole area is yielded alone; the caller refuses it.
        """
        group: list[int] = []
        used = 0
        for i, size in enumerate(sizes):
            size = size or 0
            if group and used + size > self.max_bytes:
                yield group
                group, used = [], 0
            group.append(i)
            used += size
        if group:
            yield group


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
