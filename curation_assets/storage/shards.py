"""Shards on local disk: names, completeness, listing and ingest (no Dagster here)."""

from __future__ import annotations

import filecmp
import hashlib
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from curation_assets.storage.files import atomic_output

READY_MARKER = "_READY"
# ShardFile.problem of a link whose target lies outside the shard (admission: outside_shard)
ESCAPES_SHARD = "symlink points outside the shard"
# Use with fullmatch: "$" alone would also accept a name ending in a newline.
SHARD_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class ShardError(ValueError):
    """A shard request that cannot be honoured; the message says why."""


def check_shard_name(name: str) -> str:
    if not isinstance(name, str) or not SHARD_NAME.fullmatch(name):
        raise ShardError(
            f"invalid shard name {name!r}: use 1-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def is_ready(folder: Path) -> bool:
    return (folder / READY_MARKER).is_file()


def ready_shards(uploads: Path, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Complete shards under ``uploads`` not in ``skip``; a marker is only stat'ed for new names."""
    if not uploads.is_dir():
        return []
    found = []
    with os.scandir(uploads) as entries:
        for entry in entries:
            if entry.name in skip or not SHARD_NAME.fullmatch(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False) and os.path.isfile(
                os.path.join(entry.path, READY_MARKER)
            ):
                found.append(entry.name)
    return sorted(found)


@dataclass(frozen=True)
class ShardFile:
    rel: str  # path inside the shard, '/'-separated: the file name users see
    path: Path
    problem: str | None = None  # set when the entry must not be opened (e.g. escapes the root)


def list_shard_files(folder: Path) -> list[ShardFile]:
    """Every file of a shard except its marker, sorted; nothing is silently skipped."""
    root = folder.resolve()
    files: list[ShardFile] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            if rel == READY_MARKER:
                continue
            problem = None
            if full.is_symlink():
                target = full.resolve()
                if not target.is_relative_to(root):
                    problem = ESCAPES_SHARD
                elif not target.is_file():
                    problem = "symlink to something that is not a file"
            files.append(ShardFile(rel, full, problem))
    return sorted(files, key=lambda f: f.rel)


def video_id_for(shard: str, rel: str) -> str:
    """Stable id for a file of a shard: the same shard and path always give the same id."""
    return "v" + hashlib.blake2b(f"{shard}/{rel}".encode(), digest_size=8).hexdigest()


def ingest(sources: Iterable[Path], shard: str, uploads: Path) -> tuple[Path, int]:
    """Copy files/folders into ``uploads/<shard>/`` and mark it ready (the marker comes last).

    A source's own ``_READY`` (e.g. when a finished shard folder is ingested again) is not copied:
    only this function writes the target's marker, after every file is in place.
    """
    check_shard_name(shard)
    target = uploads / shard
    marker = target / READY_MARKER
    plan: list[tuple[Path, Path]] = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise ShardError(f"no such file or folder: {source}")
        if source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                plan.append((path, target / path.relative_to(source)))
        else:
            plan.append((source, target / source.name))
    plan = [(src, dst) for src, dst in plan if dst != marker]
    if not plan:
        raise ShardError("nothing to ingest: no files found")
    names = [dst for _, dst in plan]
    if len(set(names)) != len(names):
        raise ShardError("two sources would land on the same file name in the shard")
    if is_ready(target):
        changed = [dst for src, dst in plan if not _same_file(src, dst)]
        if changed:
            raise ShardError(
                f"shard {shard!r} is already complete; ingest new files under a new shard name "
                f"({len(changed)} file(s) differ)"
            )
        return target, 0
    copied = 0
    for src, dst in plan:
        with atomic_output(dst, suffix=".partial") as tmp:
            shutil.copyfile(src, tmp)
        copied += 1
    marker.write_text("", encoding="utf-8")
    return target, copied


def _same_file(src: Path, dst: Path) -> bool:
    """Byte-for-byte equal, read in chunks (videos can be large)."""
    return dst.is_file() and filecmp.cmp(src, dst, shallow=False)
