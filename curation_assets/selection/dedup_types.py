"""What the near-duplicate index works with: settings, edge schema, counters, reports, pairs.

Shared by ``dedup.py`` (the index), ``dedup_search.py`` (faiss searches) and ``dedup_state.py``
(persistence); no faiss and no files here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import polars as pl

HASH_BYTES = 24
"""Three 64-bit pHashes per clip, the middle frame's first."""

KEY_BYTES = 8
"""One 64-bit hash: the unit of a search key (middle hash, crop hash)."""


class EdgeKind(StrEnum):
    PHASH = "phash"
    PHASH_CROP = "phash_crop"  # one clip's hash within the radius of a crop hash of the other
    EMBEDDING = "embedding"


EDGE_SCHEMA: dict[str, pl.DataType] = {
    "clip_a": pl.String(),  # clip_a < clip_b
    "clip_b": pl.String(),
    "kind": pl.String(),  # EdgeKind
    "distance": pl.Float64(),  # Hamming bits (phash, phash_crop) or 1 - cosine (embedding)
    "shard_a": pl.String(),
    "shard_b": pl.String(),
}

COUNTERS = (
    "comparisons_new_vs_old",  # clip pairs compared by hash (every indexed clip has one)
    "comparisons_new_vs_new",
    "comparisons_old_vs_old",  # stays 0: old rows are never queried again
    "embedding_comparisons_new_vs_old",  # pairs where both clips have an embedding
    "embedding_comparisons_new_vs_new",
    "embedding_comparisons_old_vs_old",
    "phash_edges_found",
    "phash_crop_edges_found",  # pairs only the crop hashes found (not already a phash edge)
    "embedding_edges_found",
    "shards_added",
    "shards_replaced",
)


@dataclass(frozen=True)
class DedupSettings:
    """What counts as a duplicate and how the search scales. Stored with the index."""

    hash_radius: int = 8
    require_all_hashes: bool = True
    hash_tables: int = 0  # 0 = brute force; 2/4/8 = multi-index hashing tables
    embedding_threshold: float = 0.99
    ivf_after: int = 100_000  # exact search up to this many embeddings, IVF beyond
    ivf_nlist: int = 1024
    ivf_nprobe: int = 8
    ivf_train_per_list: int = 32  # training sample = nlist * this (k-means cost)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hash_radius < 32:
            raise ValueError(f"hash_radius must be in [0, 32), got {self.hash_radius}")
        if self.hash_tables not in (0, 1, 2, 4, 8):
            raise ValueError(
                f"hash_tables must be 0 (brute force), 1, 2, 4 or 8, got {self.hash_tables}"
            )
        if self.hash_tables and self.hash_flips > 4:
            raise ValueError(
                f"hash_radius {self.hash_radius} needs {self.hash_flips} flips per table with "
                f"{self.hash_tables} tables; use more tables or hash_tables=0"
            )
        if not 0.0 < self.embedding_threshold <= 1.0:
            raise ValueError(
                f"embedding_threshold must be in (0, 1], got {self.embedding_threshold}"
            )
        for name in ("ivf_after", "ivf_nlist", "ivf_nprobe", "ivf_train_per_list"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def hash_flips(self) -> int:
        """Flips probed per table so that multi-index hashing misses no pair within the radius."""
        if not self.hash_tables:
            return 0
        return math.ceil((self.hash_radius + 1) / self.hash_tables) - 1


@dataclass(frozen=True)
class AddReport:
    shard: str
    new_clips: int
    comparisons_new_vs_old: int
    comparisons_new_vs_new: int
    new_edges: int
    skipped_because_already_indexed: bool
    replaced: bool = False
    new_phash_edges: int = 0
    new_phash_crop_edges: int = 0
    new_embedding_edges: int = 0
    embedding_clips: int = 0  # new clips that had a usable embedding
    embedding_comparisons_new_vs_old: int = 0
    embedding_comparisons_new_vs_new: int = 0
    seconds_phash: float = 0.0
    seconds_embedding: float = 0.0
    seconds_save: float = 0.0


@dataclass
class Pairs:
    """Pairs found for one shard's queries: row indexes into the index, and distances."""

    rows_a: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rows_b: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    distance: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))

    def __len__(self) -> int:
        return len(self.rows_a)


def empty_edges() -> pl.DataFrame:
    return pl.DataFrame(schema=EDGE_SCHEMA)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance between (n, 8k) uint8 arrays -> (n, k) int."""
    a64 = np.ascontiguousarray(a).view(np.uint64)
    b64 = np.ascontiguousarray(b).view(np.uint64)
    return np.bitwise_count(a64 ^ b64).astype(np.int64)


def new_pairs(query: np.ndarray, found: np.ndarray, distance: np.ndarray, n_old: int) -> Pairs:
    """Keep each new x old pair once and each new x new pair once (query < found), no self."""
    keep = (found < n_old) | (found > query)
    return Pairs(query[keep], found[keep], np.asarray(distance, np.float64)[keep])


def unique_pairs(a: np.ndarray, b: np.ndarray, distance: np.ndarray) -> Pairs:
    """Unordered pairs (self pairs dropped), each once with its smallest distance."""
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    dist = np.asarray(distance, np.float64)[keep]
    if not len(lo):
        return Pairs()
    order = np.lexsort((dist, hi, lo))
    lo, hi, dist = lo[order], hi[order], dist[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return Pairs(lo[first], hi[first], dist[first])
