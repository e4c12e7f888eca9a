"""What finished, so a re-run or a resumed run does only what is missing: one record per shard
under ``.export_state/``, renaming shards whose numbers moved, one export per directory at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from curation_assets.exports.plan import Shard
from curation_assets.exports.spec import ExportReport
from curation_assets.storage.files import atomic_write_bytes

STATE_DIR = ".export_state"
STATE_VERSION = 1


class State:
    """What finished: one small file per shard in ``.export_state/`` (written once per shard, so
    a large export does not rewrite one big file after every shard), plus the manifest's
    fingerprint once a complete manifest is in place."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / STATE_DIR
        self.dir.mkdir(exist_ok=True)
        self.tars: dict[str, dict] = {}
        for path in sorted(self.dir.glob("*.tar.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # unreadable record: its shard is rebuilt
            if entry.get("version") == STATE_VERSION:
                self.tars[path.name.removesuffix(".json")] = entry

    def put(self, name: str, entry: dict) -> None:
        entry = {"version": STATE_VERSION, **entry}
        data = json.dumps(entry, sort_keys=True).encode()
        atomic_write_bytes(self.dir / f"{name}.json", data, durable=True)
        self.tars[name] = entry

    def drop(self, name: str) -> None:
        (self.dir / f"{name}.json").unlink(missing_ok=True)
        self.tars.pop(name, None)

    @property
    def manifest(self) -> str | None:
        try:
            return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))["fp"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @manifest.setter
    def manifest(self, fingerprint: str | None) -> None:
        if fingerprint is None:
            (self.dir / "manifest.json").unlink(missing_ok=True)
        else:
            atomic_write_bytes(
                self.dir / "manifest.json", json.dumps({"fp": fingerprint}).encode(), durable=True
            )

    def done(self, out_dir: Path, shard: Shard) -> bool:
        entry = self.tars.get(shard.name)
        if not entry or entry.get("fingerprint") != shard.fingerprint:
            return False
        return intact(out_dir / shard.name, entry)


def intact(path: Path, entry: dict) -> bool:
    """The file is the one the record describes: same size and modification time (tar pads to
    whole records, so a shard edited by hand can keep its size)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == entry["bytes"] and st.st_mtime_ns == entry.get("mtime_ns")


def move_renumbered(
    out_dir: Path, state: State, shards: list[Shard], pending: set[str], report: ExportReport
) -> list[str]:
    """Shards whose exact content sits finished under another name (a bucket earlier in the
    order gained or lost a shard, so the numbers after it moved) are renamed, not rebuilt.
    Returns the planned names now complete."""
    finished = {
        entry["fingerprint"]: name
        for name, entry in state.tars.items()
        if intact(out_dir / name, entry)
    }
    moves = {
        s.name: finished[s.fingerprint]
        for s in shards
        if s.name in pending and finished.get(s.fingerprint) not in (None, s.name)
    }
    if not moves:
        return []
    entries = {new: state.tars[old] for new, old in moves.items()}
    # two steps, so a chain of renames (000002 -> 000003 -> 000004) never overwrites a source
    for old in moves.values():
        os.replace(out_dir / old, out_dir / f".{old}.move.tmp")
    for new, old in moves.items():
        os.replace(out_dir / f".{old}.move.tmp", out_dir / new)
    for new, entry in entries.items():
        clips = {
            cid: {**r, "tar": new if r.get("tar") else None} for cid, r in entry["clips"].items()
        }
        state.put(new, {**entry, "clips": clips})
        report.tars_moved.append(out_dir / new)
        report.skipped += len(entry["clips"])
    for old in set(moves.values()) - set(moves):
        state.drop(old)
    return list(moves)


@contextmanager
def locked(out_dir: Path):
    """One export of a directory at a time: a second one waits for the first."""
    with open(out_dir / ".export.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
