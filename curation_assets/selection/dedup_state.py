"""Persistence of ``DuplicateIndex`` (``dedup.py``) in its ``state_dir``.

``manifest.json`` names everything else: one write-once ``.npz`` per shard (clip ids, hashes,
crop hashes, embeddings), one Parquet file of edges, the trained empty IVF index when there is
one, the settings, the embedding model and the counters. A save writes new files under fresh
names, then replaces ``manifest.json`` atomically (tmp + ``os.replace``), then deletes files the
new manifest no longer names. A crash at any point leaves the previous manifest and every file it
names intact. Loading re-adds the stored vectors to fresh faiss indexes (the IVF keeps its stored
training), so results do not depend on whether the index was reloaded.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from curation_assets.selection.dedup_types import EDGE_SCHEMA, KEY_BYTES
from curation_assets.storage.files import atomic_output

MANIFEST = "manifest.json"
STATE_VERSION = 1


@dataclass
class ShardEntry:
    name: str
    file: str
    clips: int
    embeddings: int


class ShardData(NamedTuple):
    clip_ids: list[str]
    hashes: np.ndarray  # (n, 24) uint8
    embeddings: np.ndarray  # (e, d) float32, unit norm
    embedding_rows: np.ndarray  # (e,) rows of the shard that have an embedding
    crop_hashes: np.ndarray  # (n, 8m) uint8, m = 0 when the shard has none


def crop_rows(crop_hashes: np.ndarray, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 8m) crop hashes -> (n*m, 8) search keys and the index row owning each."""
    n, width = crop_hashes.shape
    per_clip = width // KEY_BYTES
    keys = np.ascontiguousarray(crop_hashes).reshape(n * per_clip, KEY_BYTES)
    owners = np.repeat(np.arange(first_row, first_row + n, dtype=np.int64), per_clip)
    return keys, owners


class IndexState:
    """Loading, saving and shard removal of ``DuplicateIndex``."""

    def _remove_in_memory(self, shard: str) -> None:
        """Drop a shard's rows and edges, rebuild the faiss indexes from what remains."""
        gone = self._row_shard == shard
        gone_ids = set(self._clip_ids[gone].tolist())
        self._edges = self._edges.filter(
            ~pl.col("clip_a").is_in(gone_ids) & ~pl.col("clip_b").is_in(gone_ids)
        )
        self._shards = [s for s in self._shards if s.name != shard]
        self._clip_set.difference_update(gone_ids)
        kept_crops = ~gone[self._crop_owner]
        new_row = np.cumsum(~gone) - 1  # old row -> row after removal
        self._crops = self._crops[kept_crops]
        self._crop_owner = new_row[self._crop_owner[kept_crops]]
        self._clip_ids = self._clip_ids[~gone]
        self._row_shard = self._row_shard[~gone]
        self._hashes = self._hashes[~gone]
        self._rebuild_indexes()

    def _read_shard(self, entry: ShardEntry) -> ShardData:
        with np.load(self.state_dir / entry.file) as data:
            ids = data["clip_ids"].tolist()
            crops = (
                data["crop_hashes"]
                if "crop_hashes" in data.files  # written before crop hashes existed: none
                else np.zeros((len(ids), 0), np.uint8)
            )
            return ShardData(ids, data["hashes"], data["embeddings"], data["embedding_rows"], crops)

    def _load(self, manifest: dict) -> None:
        if manifest.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_dir}: unknown state version {manifest.get('version')}")
        self._shards = [ShardEntry(**s) for s in manifest["shards"]]
        self._counters.update(manifest["counters"])
        self._embedding_model = manifest["embedding_model"]
        self._embedding_dim = manifest["embedding_dim"]
        self._generation = manifest["generation"]
        self._edges_file = manifest["edges"]
        self._ivf_file = manifest["ivf"]
        if self._ivf_file:
            self._ivf_template = (self.state_dir / self._ivf_file).read_bytes()
        self._edges = pl.read_parquet(self.state_dir / self._edges_file).cast(EDGE_SCHEMA)
        ids, shards, hashes, crops, owners = [], [], [], [], []
        for entry in self._shards:
            stored = self._read_shard(entry)
            keys, owned = crop_rows(stored.crop_hashes, len(ids))
            crops.append(keys)
            owners.append(owned)
            ids.extend(stored.clip_ids)
            shards.extend([entry.name] * len(stored.clip_ids))
            hashes.append(stored.hashes)
        self._clip_ids = np.array(ids, dtype=object)
        self._row_shard = np.array(shards, dtype=object)
        self._hashes = np.concatenate(hashes) if hashes else self._hashes
        if crops:
            self._crops = np.concatenate(crops)
            self._crop_owner = np.concatenate(owners)
        self._clip_set = set(ids)
        self._rebuild_indexes()

    def _save(self, new_shard: tuple | None) -> None:
        """Write new files under fresh names, swap the manifest atomically, then clean up."""
        self._generation += 1
        token = f"{self._generation:06d}-{uuid.uuid4().hex[:8]}"
        (self.state_dir / "shards").mkdir(parents=True, exist_ok=True)
        if new_shard is not None:
            shard, clip_ids, hashes, vectors, rows, crops = new_shard
            name = f"shards/{_safe(shard)}.{token}.npz"
            _write_atomic(
                self.state_dir / name,
                lambda f: np.savez(
                    f,
                    clip_ids=np.array(clip_ids, dtype=str),
                    hashes=hashes,
                    embeddings=vectors,
                    embedding_rows=rows,
                    crop_hashes=crops,
                ),
            )
            self._shards.append(ShardEntry(shard, name, len(clip_ids), len(rows)))
        self._edges_file = f"edges.{token}.parquet"
        _write_atomic(self.state_dir / self._edges_file, self._edges.write_parquet)
        if self._ivf_template is not None and self._ivf_file is None:
            self._ivf_file = f"ivf.{token}.faiss"
            _write_atomic(self.state_dir / self._ivf_file, lambda f: f.write(self._ivf_template))
        manifest = {
            "version": STATE_VERSION,
            "generation": self._generation,
            "settings": asdict(self.settings),
            "shards": [asdict(s) for s in self._shards],
            "edges": self._edges_file,
            "ivf": self._ivf_file,
            "embedding_model": self._embedding_model,
            "embedding_dim": self._embedding_dim,
            "counters": self._counters,
        }
        payload = json.dumps(manifest, indent=1).encode()
        _write_atomic(self.state_dir / MANIFEST, lambda f: f.write(payload))
        self._collect_garbage(manifest)

    def _collect_garbage(self, manifest: dict) -> None:
        """Delete only files this class writes (never anything else in the folder)."""
        keep = {MANIFEST, manifest["edges"], manifest["ivf"]} | {s.file for s in self._shards}
        ours = ["edges.*.parquet", "ivf.*.faiss", "*.tmp", "shards/*.npz", "shards/*.tmp"]
        for path in [p for pattern in ours for p in self.state_dir.glob(pattern)]:
            if path.is_file() and path.relative_to(self.state_dir).as_posix() not in keep:
                path.unlink(missing_ok=True)


def _safe(shard: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in shard)[:64]


def _write_atomic(path: Path, write) -> None:
    with atomic_output(path, durable=True) as tmp, open(tmp, "wb") as fh:
        write(fh)
