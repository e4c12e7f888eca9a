"""Local files and uris: the one way outputs are written (whole or not at all) and the one way a
``file://`` uri becomes a path.

Every output a reader may open while a run is writing it, or after a run was killed (samples,
vectors, keyframes, exports, reviews, caches), is written aside under a hidden name in the same
folder and renamed into place: a rename within a folder is atomic, so a reader sees the old file
or the new one, never half of one. The hidden name is fixed per target, so a run killed
mid-write leaves a ``.*.tmp`` that the re-run overwrites and renames: nothing stays behind.
Targets that several writers may race for (caches filled by web requests) take a unique name.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse


def temp_sibling(target: Path, suffix: str = ".tmp", unique: bool = False) -> Path:
    """A hidden name beside ``target`` (same folder, so the final rename is atomic)."""
    token = f".{uuid.uuid4().hex[:12]}" if unique else ""
    return target.with_name(f".{target.name}{token}{suffix}")


@contextmanager
def atomic_output(
    target: Path, durable: bool = False, suffix: str = ".tmp", unique: bool = False
) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target``, on error it goes.

    ``durable``: the data is on disk (fsync of file and folder) before the rename is reported,
    for records that must survive a power cut once acknowledged (reviews, export state).
    ``suffix``: e.g. ``".jpg"`` for writers that pick the format from the name.
    ``unique``: a name of its own, for targets concurrent writers may race for.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target, suffix, unique)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if durable:
            fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(
    target: Path, data: bytes, durable: bool = False, unique: bool = False
) -> None:
    with atomic_output(target, durable, unique=unique) as tmp:
        tmp.write_bytes(data)


def fsync_folder(folder: Path) -> None:
    """Make a rename or unlink inside ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_path(uri: str) -> Path:
    """A ``file://`` uri (what lineage stores for local sources) as a path; anything else is an
    error, so an ``s3://`` uri is never mistaken for a relative path."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file:// uri: {uri}")
    return Path(unquote(parsed.path))


def path_of(uri: str) -> str:
    """A ``file://`` uri or a plain path, as a path string (``s3://`` uris are left as they are)."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; the key is kept as it is."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key
