"""The local model cache: the lock file, what is present, resolving to local files, verifying.

Weights live in a Hugging Face cache (``models.hub_cache``: ``models--org--name/snapshots/
<commit>/<file>``, the layout ``huggingface_hub`` writes and reads), so a cache shared through
``HF_HOME`` works for both. ``<models.dir>/lock.json`` records, per repo, the revision asked
for, the commit it resolved to, the licence, and every pulled file's size and SHA-256 (for LFS
files the hub's own SHA-256; for small files one computed at pull time after checking the git
blob id the hub reported). Everything here is offline: listing, resolving and verifying read
only the lock and the files.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation_assets.config.sections import ModelsConfig
from curation_assets.models.catalog import ModelSource, is_commit
from curation_assets.models.errors import PULL_HINT, ModelNotAvailable
from curation_assets.storage.files import atomic_write_bytes

LOCK_VERSION = 1
UNKNOWN = "unknown until pulled"


def sha256_file(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(path: Path, chunk: int = 8 << 20) -> str:
    """The git object id of a file (what the hub reports as a non-LFS file's ``blobId``)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def select_files(source: ModelSource, available: list[str]) -> tuple[list[str], list[str]]:
    """(files to use, required groups the list cannot satisfy) for ``source`` out of
    ``available`` (a repo's files, or those a lock entry holds)."""
    chosen: list[str] = []
    missing: list[str] = []
    have = set(available)
    for group in source.required:
        hit = next((name for name in group if name in have), None)
        if hit is None:
            missing.append(" | ".join(group))
        elif hit not in chosen:
            chosen.append(hit)
    for name in sorted(available):
        if name in chosen or any(fnmatch.fnmatch(name, pat) for pat in source.ignore):
            continue
        if any(fnmatch.fnmatch(name, pat) for pat in source.optional):
            chosen.append(name)
    if source.loader == "transformers":
        chosen = _prefer_safetensors(chosen)
    return chosen, missing


def _prefer_safetensors(files: list[str]) -> list[str]:
    """transformers loads safetensors when a repo has both: skip the pickled copies."""
    if not any(f.endswith(".safetensors") for f in files):
        return files
    pickled = ("pytorch_model*.bin", "pytorch_model.bin.index.json", "*.pth", "*.pt")
    return [f for f in files if not any(fnmatch.fnmatch(f, p) for p in pickled)]


@dataclass
class FileState:
    name: str
    size: int | None  # from the lock (None: not pulled)
    path: str | None  # where it is (or would be) in the cache
    present: bool
    problem: str | None = None  # missing, size differs, SHA-256 differs


@dataclass
class SourceStatus:
    """What the cache holds for one source, without the network."""

    state: str  # present | not pulled | incomplete | stale revision | local | missing | unmanaged
    commit: str | None = None
    licence: str = UNKNOWN
    size: int | None = None
    path: str | None = None  # snapshot folder, or the local path
    files: list[FileState] = field(default_factory=list)
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state in ("present", "local")

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "present": self.usable,
            "commit": self.commit,
            "licence": self.licence,
            "size_bytes": self.size,
            "path": self.path,
            "files": [vars(f) for f in self.files],
            "detail": self.detail,
        }


class ModelStore:
    """The cache folders of one data root (``models:`` settings, resolved)."""

    def __init__(self, settings: ModelsConfig) -> None:
        if not settings.dir or not settings.hub_cache:
            raise ValueError("ModelStore needs resolved settings (ModelsConfig.resolved)")
        self.settings = settings
        self.dir = Path(settings.dir)
        self.hub_cache = Path(settings.hub_cache)
        self.lock_path = self.dir / "lock.json"

    # -- the lock -----------------------------------------------------------------------------

    def read_lock(self) -> dict:
        try:
            data = json.loads(self.lock_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": LOCK_VERSION, "models": {}}
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ValueError(f"{self.lock_path}: not a models lock file")
        return data

    def locked(self, repo_id: str) -> dict | None:
        return self.read_lock()["models"].get(repo_id)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock.json.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def record(self, repo_id: str, entry: dict) -> None:
        """Write one repo's entry (read-modify-write under a file lock, atomic rename)."""
        with self._exclusive():
            data = self.read_lock()
            data["version"] = LOCK_VERSION
            data["models"][repo_id] = entry
            data["models"] = dict(sorted(data["models"].items()))
            text = json.dumps(data, indent=2, sort_keys=False) + "\n"
            atomic_write_bytes(self.lock_path, text.encode("utf-8"), unique=True)

    # -- the cache ----------------------------------------------------------------------------

    def repo_folder(self, repo_id: str) -> Path:
        return self.hub_cache / ("models--" + repo_id.replace("/", "--"))

    def snapshot(self, repo_id: str, commit: str) -> Path:
        return self.repo_folder(repo_id) / "snapshots" / commit

    def _entry_for(self, source: ModelSource) -> tuple[dict | None, str | None]:
        """The lock entry for a hub source, or why it does not count (stale revision)."""
        entry = self.locked(source.repo_id or "")
        if entry is None:
            return None, None
        asked = source.revision
        if entry.get("revision") == asked or (is_commit(asked) and entry.get("commit") == asked):
            return entry, None
        return None, (
            f"locked at {entry.get('revision')} ({str(entry.get('commit'))[:12]}) but "
            f"curation.yaml asks for {asked}"
        )

    def status(self, source: ModelSource) -> SourceStatus:
        if source.kind == "local":
            path = Path(os.path.expanduser(source.path or ""))
            if source.path and path.exists():
                size = (
                    sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                    if path.is_dir()
                    else path.stat().st_size
                )
                return SourceStatus("local", path=str(path), size=size, licence="local file")
            return SourceStatus(
                "missing", path=str(path), licence="local file", detail="path not found"
            )
        if source.kind != "hub":
            return SourceStatus(
                "unmanaged",
                path=source.path,
                detail="open_clip downloads this tag from its URL itself (no hub repo to pin)",
            )
        entry, stale = self._entry_for(source)
        if entry is None:
            return SourceStatus("stale revision" if stale else "not pulled", detail=stale or "")
        files, missing = select_files(source, list(entry["files"]))
        snap = self.snapshot(source.repo_id or "", entry["commit"])
        states = []
        for name in files:
            meta = entry["files"][name]
            path = snap / name
            present = path.is_file() and path.stat().st_size == meta["size"]
            problem = None
            if not path.is_file():
                problem = "missing"
            elif not present:
                problem = f"size {path.stat().st_size} != {meta['size']}"
            states.append(FileState(name, meta["size"], str(path), present, problem))
        broken = [f for f in states if not f.present]
        state = "present"
        detail = ""
        if missing:
            state, detail = "incomplete", f"the lock has none of: {'; '.join(missing)}"
        elif broken:
            state = "incomplete"
            detail = ", ".join(f"{f.name}: {f.problem}" for f in broken)
        return SourceStatus(
            state,
            commit=entry["commit"],
            licence=entry.get("licence") or "unknown",
            size=sum(f.size or 0 for f in states),
            path=str(snap),
            files=states,
            detail=detail,
        )

    def resolve(self, source: ModelSource, what: str = "") -> tuple[Path, list[Path]]:
        """(snapshot folder, the source's files in it) of a pulled hub source, offline.

        Raises ``ModelNotAvailable`` naming the command that fixes it.
        """
        status = self.status(source)
        if status.state != "present":
            reason = {
                "not pulled": "has not been pulled",
                "stale revision": status.detail,
                "incomplete": f"is incomplete in the cache ({status.detail})",
            }.get(status.state, status.detail or status.state)
            label = f"{what}: " if what else ""
            raise ModelNotAvailable(
                f"{label}{source.repo_id} (revision {source.revision}) {reason}; looked in "
                f"{self.hub_cache} with the lock {self.lock_path}. To fix: {PULL_HINT}."
            )
        return Path(status.path or ""), [Path(f.path or "") for f in status.files]

    def verify_entry(self, repo_id: str, entry: dict, names: list[str] | None = None) -> list[dict]:
        """Check files of a lock entry against their recorded size and SHA-256 (offline)."""
        snap = self.snapshot(repo_id, entry["commit"])
        checks = []
        for name in names if names is not None else sorted(entry["files"]):
            meta = entry["files"][name]
            path = snap / name
            row = {"repo_id": repo_id, "file": name, "path": str(path), "ok": False}
            if not path.is_file():
                row["problem"] = "missing"
            elif path.stat().st_size != meta["size"]:
                row["problem"] = f"size {path.stat().st_size} bytes, expected {meta['size']}"
            else:
                actual = sha256_file(path)
                if actual != meta["sha256"]:
                    row["problem"] = f"SHA-256 {actual[:16]}..., expected {meta['sha256'][:16]}..."
                else:
                    row["ok"] = True
            checks.append(row)
        return checks
