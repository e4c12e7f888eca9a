"""Still images that are (nearly) a frame of a video clip: ``frame_of``, across all shards.

Keys: an image's 64-bit pHash (the first 8 bytes of its ``phash`` vector: the hash of its one
sample); a video clip's frame hashes (``phash_frames``: the pHashes of up to 16 rgb samples spread
over the clip, ``signals/content/perceptual_hash.py``; for vectors stored before those existed, the
three hashes of ``phash``). An image is a frame of a clip when its hash is within ``radius`` bits of
one of the clip's frame hashes; ``distance`` is the closest frame's. A frame grab between two
samples (samples are 2 per second) still lands close unless the camera or the subject moved a lot in
that quarter second.

Incremental like the duplicate index: the state file holds the matches found so far and a
fingerprint per shard. A run compares only the shards that are new or changed: their images with
every clip's frames, and their clips' frames with the images of every other shard; pairs of two
unchanged shards are never compared again. A shard that changed or disappeared loses its matches
first. The state is one JSON file written atomically, so a crash leaves the previous one whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
import polars as pl

from curation_assets.storage.files import atomic_write_bytes

STATE_VERSION = 1
KEY_BYTES = 8

MATCH_SCHEMA = {
    "image_clip": pl.String,
    "video_clip": pl.String,
    "distance": pl.Int64,  # Hamming bits to the closest frame
    "image_shard": pl.String,
    "video_shard": pl.String,
}


@dataclass
class ShardKeys:
    """What one shard brings: its images' hashes and its video clips' frame hashes."""

    image_ids: list[str] = field(default_factory=list)
    image_hashes: np.ndarray = field(default_factory=lambda: np.zeros((0, KEY_BYTES), np.uint8))
    video_ids: list[str] = field(default_factory=list)
    frame_hashes: np.ndarray = field(default_factory=lambda: np.zeros((0, KEY_BYTES), np.uint8))

    def __post_init__(self) -> None:
        for name, ids in (("image_hashes", self.image_ids), ("frame_hashes", self.video_ids)):
            keys = np.asarray(getattr(self, name))
            if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[0] != len(ids):
                raise ValueError(f"{name} must be uint8 ({len(ids)}, 8k), got {keys.shape}")
            if keys.shape[1] % KEY_BYTES or (len(ids) and not keys.shape[1]):
                raise ValueError(f"{name} rows must be whole 64-bit hashes, got {keys.shape[1]}")
        if self.image_hashes.shape[1] != KEY_BYTES and len(self.image_ids):
            raise ValueError("image_hashes must hold one 64-bit hash per image")


@dataclass
class FrameReport:
    shards_compared: list[str] = field(default_factory=list)
    shards_removed: list[str] = field(default_factory=list)
    comparisons: int = 0  # image x frame-hash pairs compared this run
    new_matches: int = 0


class FrameMatches:
    """The ``frame_of`` matches over all shards, kept in ``state_file`` between runs."""

    def __init__(self, state_file: str | Path, radius: int) -> None:
        if not 0 <= radius < 32:
            raise ValueError(f"radius must be in [0, 32), got {radius}")
        self.state_file = Path(state_file)
        self.radius = radius
        self._inputs: dict[str, str] = {}
        self._matches = pl.DataFrame(schema=MATCH_SCHEMA)
        if self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            if state.get("version") == STATE_VERSION and state.get("radius") == radius:
                self._inputs = dict(state["inputs"])
                self._matches = pl.DataFrame(state["matches"], schema=MATCH_SCHEMA, orient="row")
            # another radius or format: compare everything again

    @property
    def matches(self) -> pl.DataFrame:
        return self._matches.clone()

    def update(
        self, fingerprints: Mapping[str, str], load: Callable[[str], ShardKeys]
    ) -> FrameReport:
        """Bring the matches up to date with the shards named in ``fingerprints`` (shard ->
        a string that changes when its inputs do); ``load(shard)`` reads a shard's keys, and is
        called only when some shard changed."""
        report = FrameReport()
        report.shards_removed = sorted(set(self._inputs) - set(fingerprints))
        changed = sorted(s for s, fp in fingerprints.items() if self._inputs.get(s) != fp)
        if not changed and not report.shards_removed:
            return report
        dirty = set(changed) | set(report.shards_removed)
        self._matches = self._matches.filter(
            ~pl.col("image_shard").is_in(dirty) & ~pl.col("video_shard").is_in(dirty)
        )
        report.shards_compared = changed
        if changed:
            keys = {shard: load(shard) for shard in sorted(fingerprints)}
            found = self._search(keys, set(changed), report)
            report.new_matches = found.height
            self._matches = pl.concat([self._matches, found]).sort(["image_clip", "video_clip"])
        self._inputs = dict(fingerprints)
        state = {
            "version": STATE_VERSION,
            "radius": self.radius,
            "inputs": self._inputs,
            "matches": self._matches.rows(),
        }
        atomic_write_bytes(self.state_file, json.dumps(state, sort_keys=True).encode())
        return report

    def _search(
        self, keys: Mapping[str, ShardKeys], changed: set[str], report: FrameReport
    ) -> pl.DataFrame:
        frames, frame_clip, frame_shard = _flatten(
            [(s, k.video_ids, k.frame_hashes) for s, k in keys.items()]
        )
        new_img, new_img_id, new_img_shard = _flatten(
            [(s, k.image_ids, k.image_hashes) for s, k in keys.items() if s in changed]
        )
        old_img, old_img_id, old_img_shard = _flatten(
            [(s, k.image_ids, k.image_hashes) for s, k in keys.items() if s not in changed]
        )
        new_frames = np.isin(frame_shard, sorted(changed))
        rows: list[tuple] = []
        # the changed shards' images against every clip's frames ...
        for q, f, d in _range(frames, new_img, self.radius):
            rows.append((new_img_id[q], frame_clip[f], d, new_img_shard[q], frame_shard[f]))
        # ... and the changed shards' frames against the other shards' images
        for q, f, d in _range(old_img, frames[new_frames], self.radius):
            f = np.flatnonzero(new_frames)[f]
            rows.append((old_img_id[q], frame_clip[f], d, old_img_shard[q], frame_shard[f]))
        report.comparisons = len(new_img) * len(frames) + len(old_img) * int(new_frames.sum())
        found = pl.DataFrame(rows, schema=MATCH_SCHEMA, orient="row")
        return (
            found.sort("distance")
            .unique(["image_clip", "video_clip"], keep="first")
            .sort(["image_clip", "video_clip"])
        )


def _flatten(parts: list[tuple[str, list[str], np.ndarray]]):
    """(keys (r, 8), owning clip id per key, shard per key) from per-shard (ids, (n, 8k))."""
    keys, owners, shards = [], [], []
    for shard, ids, hashes in parts:
        if not len(ids):
            continue
        per_clip = hashes.shape[1] // KEY_BYTES
        keys.append(np.ascontiguousarray(hashes).reshape(len(ids) * per_clip, KEY_BYTES))
        owners.extend(np.repeat(np.asarray(ids, dtype=object), per_clip).tolist())
        shards.extend([shard] * (len(ids) * per_clip))
    if not keys:
        return np.zeros((0, KEY_BYTES), np.uint8), [], np.array([], dtype=object)
    return np.concatenate(keys), owners, np.array(shards, dtype=object)


def _range(indexed: np.ndarray, queries: np.ndarray, radius: int):
    """(query row, indexed row, bits) for every pair within ``radius`` bits (exact)."""
    if not len(indexed) or not len(queries):
        return []
    index = faiss.IndexBinaryFlat(KEY_BYTES * 8)
    index.add(np.ascontiguousarray(indexed))
    # faiss binary range search keeps distances strictly below the radius it is given
    lims, dist, found = index.range_search(np.ascontiguousarray(queries), radius + 1)
    query = np.repeat(np.arange(len(queries)), np.diff(lims).astype(np.int64))
    return zip(
        query.tolist(), found.astype(np.int64).tolist(), dist.astype(int).tolist(), strict=True
    )
