"""Near-duplicates across all shards, found incrementally as shards arrive.

Two kinds of evidence, each an *edge* between two clips:

- ``phash``: every clip has three 64-bit perceptual hashes packed as 24 bytes, the middle frame's
  hash first, then the other two frames' (first, last). Candidates come from a Hamming range
  search on the middle hash (``distance <= hash_radius``). By default the other two hashes must
  agree as well (``require_all_hashes``): one matching frame is weak evidence (fades, title cards,
  a shared frame at a cut), three matching frames spread over the clip are strong. The edge's
  distance is then the largest of the three Hamming distances, so ``distance <= radius`` always
  holds for every hash that was compared.
- ``embedding``: copy-detection on unit-norm model embeddings; cosine similarity ``>= 0.99`` is a
  duplicate (Movie Gen keeps clips below 0.99). The edge's distance is ``1 - cosine``. Only
  embeddings from a real model may be passed: the offline "thumbnail" embeddings are not
  discriminative enough for copy detection and must not reach this index (pass ``None``). One
  index holds one embedding model; a shard with another model is refused.

Incremental: a new shard is compared with everything already indexed (new x old) and with itself
(new x new); old x old pairs are never compared again. The counters in ``DuplicateIndex.counters``
record the pairs each search covered, computed from the queries actually sent to faiss (only the
new shard's rows are ever queries), so ``comparisons_old_vs_old`` stays 0.

Scale: Hamming search is brute force by default (``faiss.IndexBinaryFlat``: SIMD popcount,
multi-threaded, exact). ``hash_tables=4`` uses multi-index hashing instead
(``faiss.IndexBinaryMultiHash``: 4 tables of 16 bits, each probed within ``nflip`` flips); with
``nflip >= ceil((radius + 1) / tables) - 1`` the pigeonhole principle makes it exact too (if two
64-bit hashes differ in at most ``radius`` bits, one 16-bit quarter differs in at most ``nflip``
bits). Measured here (2 cores, 50k-200k hashes) faiss's multi-hash range search was 5-7x slower
than brute force at radius 8, so it is not the default. Embeddings use exact ``IndexFlatIP``
range search until the index would exceed ``ivf_after`` embeddings, then switch once to
``IndexIVFFlat`` (trained on a sample of what is indexed at that moment, searched with
``ivf_nprobe`` lists): approximate, but near-copies (cosine >= 0.99) almost always share their
nearest list (see ``benchmarks/dedup_scale.py`` for measured recall).

Persistence (``state_dir``): ``manifest.json`` names everything else: one write-once ``.npz`` per
shard (clip ids, hashes, embeddings), one Parquet file of edges, the trained empty IVF index when
there is one, the settings, the embedding model and the counters. A save writes new files under
fresh names, then replaces ``manifest.json`` atomically (tmp + ``os.replace``), then deletes
files the new manifest no longer names. A crash at any point leaves the previous manifest and
every file it names intact. Loading re-adds the stored vectors to fresh faiss indexes (the IVF
keeps its stored training), so results do not depend on whether the index was reloaded.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import faiss
import numpy as np
import polars as pl

from curation_assets.storage.files import atomic_output

HASH_BYTES = 24
"""Three 64-bit pHashes per clip, the middle frame's first."""

MANIFEST = "manifest.json"
STATE_VERSION = 1


class EdgeKind(StrEnum):
    PHASH = "phash"
    EMBEDDING = "embedding"


EDGE_SCHEMA: dict[str, pl.DataType] = {
    "clip_a": pl.String(),  # clip_a < clip_b
    "clip_b": pl.String(),
    "kind": pl.String(),  # EdgeKind
    "distance": pl.Float64(),  # Hamming bits (phash) or 1 - cosine (embedding)
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
    new_embedding_edges: int = 0
    embedding_clips: int = 0  # new clips that had a usable embedding
    embedding_comparisons_new_vs_old: int = 0
    embedding_comparisons_new_vs_new: int = 0
    seconds_phash: float = 0.0
    seconds_embedding: float = 0.0
    seconds_save: float = 0.0


@dataclass
class _Shard:
    name: str
    file: str
    clips: int
    embeddings: int


@dataclass
class _Pairs:
    """Pairs found for one shard's queries: row indexes into the index, and distances."""

    rows_a: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rows_b: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    distance: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))


def empty_edges() -> pl.DataFrame:
    return pl.DataFrame(schema=EDGE_SCHEMA)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance between (n, 8k) uint8 arrays -> (n, k) int."""
    a64 = np.ascontiguousarray(a).view(np.uint64)
    b64 = np.ascontiguousarray(b).view(np.uint64)
    return np.bitwise_count(a64 ^ b64).astype(np.int64)


class DuplicateIndex:
    """All clips indexed so far, their duplicate edges and counters, persisted in ``state_dir``.

    ``DuplicateIndex(state_dir)`` loads what is there (or starts empty). Settings are stored with
    the index: passing different ones for an existing index raises, because the stored edges were
    decided under the old ones (delete the folder to rebuild).
    """

    def __init__(self, state_dir: str | Path, settings: DedupSettings | None = None) -> None:
        self.state_dir = Path(state_dir)
        manifest_path = self.state_dir / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
        if manifest is not None:
            stored = DedupSettings(**manifest["settings"])
            if settings is not None and settings != stored:
                raise ValueError(
                    f"{self.state_dir} was built with {stored}, not {settings}; "
                    "delete the folder to rebuild with new settings"
                )
            settings = stored
        self.settings = settings or DedupSettings()
        self._shards: list[_Shard] = []
        self._edges = empty_edges()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._embedding_model: str | None = None
        self._embedding_dim: int | None = None
        self._ivf_template: bytes | None = None
        self._ivf_file: str | None = None
        self._edges_file: str | None = None
        self._generation = 0
        self._clip_ids = np.empty(0, dtype=object)
        self._row_shard = np.empty(0, dtype=object)
        self._hashes = np.empty((0, HASH_BYTES), dtype=np.uint8)
        self._clip_set: set[str] = set()
        self._hash_index = self._new_hash_index()
        self._emb_index: faiss.Index | None = None
        self._emb_rows = np.empty(0, dtype=np.int64)
        if manifest is not None:
            self._load(manifest)

    # -- public views -------------------------------------------------------------------------

    @property
    def shards(self) -> list[str]:
        return [s.name for s in self._shards]

    @property
    def num_clips(self) -> int:
        return len(self._clip_ids)

    @property
    def num_embeddings(self) -> int:
        return len(self._emb_rows)

    @property
    def embedding_model(self) -> str | None:
        return self._embedding_model

    @property
    def embedding_search(self) -> str:
        """``none``, ``flat`` (exact) or ``ivf`` (approximate)."""
        if self._emb_index is None:
            return "none"
        return "ivf" if self._ivf_template is not None else "flat"

    @property
    def edges(self) -> pl.DataFrame:
        return self._edges.clone()

    @property
    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def clips(self) -> pl.DataFrame:
        """Every indexed clip with its shard."""
        return pl.DataFrame(
            {"clip_id": self._clip_ids.tolist(), "shard": self._row_shard.tolist()},
            schema={"clip_id": pl.String, "shard": pl.String},
        )

    # -- adding and removing shards -----------------------------------------------------------

    def add_shard(
        self,
        shard: str,
        clip_ids: Sequence[str],
        hashes: np.ndarray,
        embeddings: np.ndarray | None = None,
        *,
        embedding_model: str | None = None,
        replace: bool = False,
    ) -> AddReport:
        """Index one shard: compare it with all indexed clips and with itself, then save.

        ``hashes`` is (n, 24) uint8. ``embeddings`` is (n, d) float32 from a real model, or
        None; rows that are not finite or have zero norm are treated as missing, the others are
        re-normalised. A shard already indexed is skipped unless ``replace`` is set: then its
        clips and every edge touching them are removed first, and it is indexed again.
        """
        clip_ids, hashes, embeddings = self._validate(
            shard, clip_ids, hashes, embeddings, embedding_model
        )
        replaced = shard in self.shards
        if replaced and not replace:
            return AddReport(shard, 0, 0, 0, 0, skipped_because_already_indexed=True)
        clashes = self._clip_set.intersection(clip_ids)
        if replaced:
            clashes -= set(self._clip_ids[self._row_shard == shard].tolist())
        if clashes:
            example = sorted(clashes)[:3]
            raise ValueError(f"shard {shard!r}: clip ids already indexed elsewhere: {example}")
        if replaced:
            self._remove_in_memory(shard)

        n_old = self.num_clips
        n_new = len(clip_ids)
        started = time.perf_counter()
        self._clip_ids = np.concatenate([self._clip_ids, np.array(clip_ids, dtype=object)])
        self._row_shard = np.concatenate([self._row_shard, np.full(n_new, shard, dtype=object)])
        self._hashes = np.concatenate([self._hashes, hashes])
        self._clip_set.update(clip_ids)
        phash_pairs = self._search_hashes(n_old, hashes)
        seconds_phash = time.perf_counter() - started

        started = time.perf_counter()
        emb_pairs, emb_old, emb_new = _Pairs(), 0, 0
        rows = np.empty(0, np.int64)
        vectors = np.empty((0, self._embedding_dim or 0), np.float32)
        if embeddings is not None:
            with np.errstate(invalid="ignore", over="ignore"):
                norms = np.linalg.norm(embeddings, axis=1)
            rows = np.flatnonzero(np.isfinite(norms) & (norms > 0))
            if len(rows):
                self._embedding_model = embedding_model
                self._embedding_dim = embeddings.shape[1]
                vectors = np.ascontiguousarray(embeddings[rows] / norms[rows, None], np.float32)
                emb_old, emb_new = self.num_embeddings, len(rows)
                emb_pairs = self._search_embeddings(n_old + rows, vectors)
        seconds_embedding = time.perf_counter() - started

        new_edges = pl.concat(
            [self._pairs_to_edges(phash_pairs, EdgeKind.PHASH)]
            + [self._pairs_to_edges(emb_pairs, EdgeKind.EMBEDDING)]
        )
        self._edges = pl.concat([self._edges, new_edges]).sort(["clip_a", "clip_b", "kind"])
        c = self._counters
        c["comparisons_new_vs_old"] += n_new * n_old
        c["comparisons_new_vs_new"] += n_new * (n_new - 1) // 2
        c["embedding_comparisons_new_vs_old"] += emb_new * emb_old
        c["embedding_comparisons_new_vs_new"] += emb_new * (emb_new - 1) // 2
        c["phash_edges_found"] += len(phash_pairs.rows_a)
        c["embedding_edges_found"] += len(emb_pairs.rows_a)
        c["shards_added"] += 1
        c["shards_replaced"] += int(replaced)

        started = time.perf_counter()
        self._save(new_shard=(shard, clip_ids, hashes, vectors, rows))
        seconds_save = time.perf_counter() - started
        return AddReport(
            shard=shard,
            new_clips=n_new,
            comparisons_new_vs_old=n_new * n_old,
            comparisons_new_vs_new=n_new * (n_new - 1) // 2,
            new_edges=new_edges.height,
            skipped_because_already_indexed=False,
            replaced=replaced,
            new_phash_edges=len(phash_pairs.rows_a),
            new_embedding_edges=len(emb_pairs.rows_a),
            embedding_clips=emb_new,
            embedding_comparisons_new_vs_old=emb_new * emb_old,
            embedding_comparisons_new_vs_new=emb_new * (emb_new - 1) // 2,
            seconds_phash=seconds_phash,
            seconds_embedding=seconds_embedding,
            seconds_save=seconds_save,
        )

    def remove_shard(self, shard: str) -> bool:
        """Forget a shard's clips and every edge touching them. False if it was not indexed."""
        if shard not in self.shards:
            return False
        self._remove_in_memory(shard)
        self._save(new_shard=None)
        return True

    # -- search ---------------------------------------------------------------------------------

    def _new_hash_index(self) -> faiss.IndexBinary:
        s = self.settings
        if not s.hash_tables:
            return faiss.IndexBinaryFlat(64)
        index = faiss.IndexBinaryMultiHash(64, s.hash_tables, 64 // s.hash_tables)
        index.nflip = s.hash_flips
        return index

    def _search_hashes(self, n_old: int, hashes: np.ndarray) -> _Pairs:
        """Add the new middle hashes, then query them against everything (old + new)."""
        middle = np.ascontiguousarray(hashes[:, :8])
        self._hash_index.add(middle)
        # faiss binary range search keeps distances strictly below the radius it is given.
        lims, dist, found = self._hash_index.range_search(middle, self.settings.hash_radius + 1)
        query = (
            np.repeat(np.arange(len(middle), dtype=np.int64), np.diff(lims).astype(np.int64))
            + n_old
        )
        pairs = _new_pairs(query, found.astype(np.int64), dist.astype(np.float64), n_old)
        if self.settings.require_all_hashes and len(pairs.rows_a):
            all_three = hamming(self._hashes[pairs.rows_a], self._hashes[pairs.rows_b])
            keep = (all_three <= self.settings.hash_radius).all(axis=1)
            pairs = _Pairs(
                pairs.rows_a[keep], pairs.rows_b[keep], all_three[keep].max(axis=1).astype(float)
            )
        return pairs

    def _search_embeddings(self, rows: np.ndarray, vectors: np.ndarray) -> _Pairs:
        s = self.settings
        if self._emb_index is None:
            self._emb_index = faiss.IndexFlatIP(vectors.shape[1])
        if self._ivf_template is None and self.num_embeddings + len(rows) > s.ivf_after:
            self._switch_to_ivf(vectors)
        n_old = self.num_embeddings
        self._emb_index.add(vectors)
        self._emb_rows = np.concatenate([self._emb_rows, rows.astype(np.int64)])
        if self._ivf_template is not None:
            self._emb_index.nprobe = s.ivf_nprobe
        # IP range search keeps similarities strictly above the radius: go one float below.
        radius = float(np.nextafter(np.float32(s.embedding_threshold), np.float32(-1)))
        lims, sim, found = self._emb_index.range_search(vectors, radius)
        keep = sim >= np.float32(s.embedding_threshold)
        query = (
            np.repeat(np.arange(len(vectors), dtype=np.int64), np.diff(lims).astype(np.int64))
            + n_old
        )
        distance = np.maximum(0.0, 1.0 - sim[keep].astype(np.float64))
        pairs = _new_pairs(query[keep], found[keep].astype(np.int64), distance, n_old)
        return _Pairs(self._emb_rows[pairs.rows_a], self._emb_rows[pairs.rows_b], pairs.distance)

    def _switch_to_ivf(self, new_vectors: np.ndarray) -> None:
        """Train an IVF index once, on a sample of the indexed + new embeddings; move old ones."""
        s = self.settings
        old = self._stored_embeddings()
        pool = np.concatenate([old, new_vectors]) if len(old) else new_vectors
        nlist = min(s.ivf_nlist, len(pool))
        rng = np.random.default_rng(s.seed)
        sample_size = min(len(pool), nlist * s.ivf_train_per_list)
        sample = pool[np.sort(rng.choice(len(pool), sample_size, replace=False))]
        quantizer = faiss.IndexFlatIP(pool.shape[1])
        index = faiss.IndexIVFFlat(quantizer, pool.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = s.seed
        index.cp.niter = 10
        index.train(sample)
        self._ivf_template = faiss.serialize_index(index).tobytes()
        self._ivf_file = None
        self._emb_index = self._index_from_template()
        if len(old):
            self._emb_index.add(old)

    def _index_from_template(self) -> faiss.Index:
        template = np.frombuffer(self._ivf_template, dtype=np.uint8)
        index = faiss.deserialize_index(template.copy())
        index.nprobe = self.settings.ivf_nprobe
        return index

    def _stored_embeddings(self) -> np.ndarray:
        """Embeddings of every saved shard, in index order (read back from their files)."""
        parts = [self._read_shard(s)[2] for s in self._shards if s.embeddings]
        dim = self._embedding_dim or 0
        return np.concatenate(parts) if parts else np.empty((0, dim), np.float32)

    def _pairs_to_edges(self, pairs: _Pairs, kind: EdgeKind) -> pl.DataFrame:
        if not len(pairs.rows_a):
            return empty_edges()
        a, b = self._clip_ids[pairs.rows_a], self._clip_ids[pairs.rows_b]
        sa, sb = self._row_shard[pairs.rows_a], self._row_shard[pairs.rows_b]
        swap = b < a
        return pl.DataFrame(
            {
                "clip_a": np.where(swap, b, a).tolist(),
                "clip_b": np.where(swap, a, b).tolist(),
                "kind": [str(kind)] * len(a),
                "distance": pairs.distance.astype(np.float64),
                "shard_a": np.where(swap, sb, sa).tolist(),
                "shard_b": np.where(swap, sa, sb).tolist(),
            },
            schema=EDGE_SCHEMA,
        )

    # -- removal and persistence --------------------------------------------------------------

    def _remove_in_memory(self, shard: str) -> None:
        """Drop a shard's rows and edges, rebuild the faiss indexes from what remains."""
        gone = self._row_shard == shard
        gone_ids = set(self._clip_ids[gone].tolist())
        self._edges = self._edges.filter(
            ~pl.col("clip_a").is_in(gone_ids) & ~pl.col("clip_b").is_in(gone_ids)
        )
        self._shards = [s for s in self._shards if s.name != shard]
        self._clip_set.difference_update(gone_ids)
        self._clip_ids = self._clip_ids[~gone]
        self._row_shard = self._row_shard[~gone]
        self._hashes = self._hashes[~gone]
        self._rebuild_indexes()

    def _rebuild_indexes(self) -> None:
        self._hash_index = self._new_hash_index()
        if len(self._hashes):
            self._hash_index.add(np.ascontiguousarray(self._hashes[:, :8]))
        self._emb_rows = np.empty(0, dtype=np.int64)
        self._emb_index = None
        if self._ivf_template is not None:
            self._emb_index = self._index_from_template()
        elif self._embedding_dim is not None:
            self._emb_index = faiss.IndexFlatIP(self._embedding_dim)
        start = 0
        rows = []
        for entry in self._shards:
            if entry.embeddings:
                _, _, vectors, shard_rows = self._read_shard(entry)
                self._emb_index.add(vectors)
                rows.append(shard_rows + start)
            start += entry.clips
        if rows:
            self._emb_rows = np.concatenate(rows)

    def _read_shard(self, entry: _Shard) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self.state_dir / entry.file) as data:
            ids = data["clip_ids"].tolist()
            return ids, data["hashes"], data["embeddings"], data["embedding_rows"]

    def _load(self, manifest: dict) -> None:
        if manifest.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_dir}: unknown state version {manifest.get('version')}")
        self._shards = [_Shard(**s) for s in manifest["shards"]]
        self._counters.update(manifest["counters"])
        self._embedding_model = manifest["embedding_model"]
        self._embedding_dim = manifest["embedding_dim"]
        self._generation = manifest["generation"]
        self._edges_file = manifest["edges"]
        self._ivf_file = manifest["ivf"]
        if self._ivf_file:
            self._ivf_template = (self.state_dir / self._ivf_file).read_bytes()
        self._edges = pl.read_parquet(self.state_dir / self._edges_file).cast(EDGE_SCHEMA)
        ids, shards, hashes = [], [], []
        for entry in self._shards:
            shard_ids, shard_hashes, _, _ = self._read_shard(entry)
            ids.extend(shard_ids)
            shards.extend([entry.name] * len(shard_ids))
            hashes.append(shard_hashes)
        self._clip_ids = np.array(ids, dtype=object)
        self._row_shard = np.array(shards, dtype=object)
        self._hashes = np.concatenate(hashes) if hashes else self._hashes
        self._clip_set = set(ids)
        self._rebuild_indexes()

    def _save(self, new_shard: tuple | None) -> None:
        """Write new files under fresh names, swap the manifest atomically, then clean up."""
        self._generation += 1
        token = f"{self._generation:06d}-{uuid.uuid4().hex[:8]}"
        (self.state_dir / "shards").mkdir(parents=True, exist_ok=True)
        if new_shard is not None:
            shard, clip_ids, hashes, vectors, rows = new_shard
            name = f"shards/{_safe(shard)}.{token}.npz"
            _write_atomic(
                self.state_dir / name,
                lambda f: np.savez(
                    f,
                    clip_ids=np.array(clip_ids, dtype=str),
                    hashes=hashes,
                    embeddings=vectors,
                    embedding_rows=rows,
                ),
            )
            self._shards.append(_Shard(shard, name, len(clip_ids), len(rows)))
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

    # -- validation -------------------------------------------------------------------------------

    def _validate(
        self,
        shard: str,
        clip_ids: Sequence[str],
        hashes: np.ndarray,
        embeddings: np.ndarray | None,
        embedding_model: str | None,
    ) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        if not shard or not isinstance(shard, str):
            raise ValueError(f"shard must be a non-empty string, got {shard!r}")
        ids = [str(c) for c in clip_ids]
        if len(set(ids)) != len(ids):
            raise ValueError(f"shard {shard!r}: clip ids are not unique")
        hashes = np.asarray(hashes)
        if hashes.dtype != np.uint8 or hashes.shape != (len(ids), HASH_BYTES):
            raise ValueError(
                f"shard {shard!r}: hashes must be uint8 of shape ({len(ids)}, {HASH_BYTES}), "
                f"got {hashes.dtype} {hashes.shape}"
            )
        hashes = np.ascontiguousarray(hashes)
        if embeddings is None:
            return ids, hashes, None
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(ids) or embeddings.shape[1] < 1:
            raise ValueError(
                f"shard {shard!r}: embeddings must be ({len(ids)}, d), got {embeddings.shape}"
            )
        if not embedding_model:
            raise ValueError(f"shard {shard!r}: embeddings need embedding_model (the scorer name)")
        if self._embedding_model is not None and embedding_model != self._embedding_model:
            raise ValueError(
                f"shard {shard!r}: embeddings from {embedding_model!r} cannot be compared with "
                f"the indexed {self._embedding_model!r}"
            )
        if self._embedding_dim is not None and embeddings.shape[1] != self._embedding_dim:
            raise ValueError(
                f"shard {shard!r}: embedding dimension {embeddings.shape[1]}, "
                f"index has {self._embedding_dim}"
            )
        return ids, hashes, embeddings


def _new_pairs(query: np.ndarray, found: np.ndarray, distance: np.ndarray, n_old: int) -> _Pairs:
    """Keep each new x old pair once and each new x new pair once (query < found), no self."""
    keep = (found < n_old) | (found > query)
    return _Pairs(query[keep], found[keep], np.asarray(distance, np.float64)[keep])


VISUAL_FAULTS = ("watermark", "text_overlay", "borders", "sharpness", "exposure")
"""Visual filters whose failures rank a copy below its near-duplicates (``duplicate_groups``)."""


def duplicate_groups(edges: pl.DataFrame, clips: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the duplicate graph, one representative kept per group.

    ``clips`` has ``clip_id, duration_s, short_side_px, quality`` (quality nullable) and
    optionally ``failed_visual`` (list of the ``VISUAL_FAULTS`` filters the clip failed). Only
    clips that appear in at least one edge are returned; a clip absent from the output has no
    duplicate. Representative: the copy with the fewest failing visual filters (a watermarked,
    subtitled, letterboxed, blurred or badly exposed copy loses to a clean one), then the
    highest resolution (short side), then the best quality score, then the longest, then the
    smallest clip_id, so the choice is deterministic; missing values rank last. ``kept_because``
    says, for every other copy, the first of these on which the representative won (null for
    the representative). ``group_id`` is ``"dup-" + the smallest clip_id of the group``:
    readable, and unchanged by new shards unless they bring a smaller id into the group or
    merge groups. Attributes missing for a clip (absent from ``clips``) rank last.
    """
    out_schema = {
        "clip_id": pl.String,
        "group_id": pl.String,
        "is_representative": pl.Boolean,
        "group_size": pl.UInt32,
        "kept_because": pl.String,
    }
    if edges.height == 0:
        return pl.DataFrame(schema=out_schema)
    a = edges.get_column("clip_a").cast(pl.String)
    b = edges.get_column("clip_b").cast(pl.String)
    nodes = pl.concat([a, b]).unique().sort()
    position = pl.DataFrame({"clip_id": nodes, "i": np.arange(len(nodes), dtype=np.int64)})
    ia = pl.DataFrame({"clip_id": a}).join(position, on="clip_id", how="left")["i"].to_numpy()
    ib = pl.DataFrame({"clip_id": b}).join(position, on="clip_id", how="left")["i"].to_numpy()
    root = _components(len(nodes), ia, ib)
    groups = pl.DataFrame({"clip_id": nodes, "root": root}).with_columns(
        group_id=pl.lit("dup-") + pl.col("clip_id").gather(pl.col("root")),
    )
    failed = (
        pl.col("failed_visual").cast(pl.List(pl.String))
        if "failed_visual" in clips.columns
        else pl.lit([], dtype=pl.List(pl.String))
    )
    attrs = clips.select(
        pl.col("clip_id").cast(pl.String),
        failed.alias("failed_visual"),
        pl.col("short_side_px").cast(pl.Float64).fill_nan(None),
        pl.col("quality").cast(pl.Float64).fill_nan(None),
        pl.col("duration_s").cast(pl.Float64).fill_nan(None),
    ).unique("clip_id", keep="first")
    ranked = (
        groups.join(attrs, on="clip_id", how="left")
        .with_columns(faults=pl.col("failed_visual").list.len())
        .sort(
            ["group_id", "faults", "short_side_px", "quality", "duration_s", "clip_id"],
            descending=[False, False, True, True, True, False],
            nulls_last=True,
        )
        .with_columns(
            is_representative=pl.col("group_id").is_first_distinct(),
            group_size=pl.len().over("group_id").cast(pl.UInt32),
        )
    )
    rep = ranked.filter("is_representative").select(
        "group_id", *[pl.col(c).alias(f"rep_{c}") for c in _RANKED]
    )
    reasons = [_why(row) for row in ranked.join(rep, on="group_id").iter_rows(named=True)]
    return (
        ranked.join(rep, on="group_id")
        .with_columns(kept_because=pl.Series(reasons, dtype=pl.String))
        .select(list(out_schema))
        .sort(["group_id", "clip_id"])
    )


_RANKED = ("clip_id", "failed_visual", "faults", "short_side_px", "quality", "duration_s")


def _why(row: dict) -> str | None:
    """Why the representative was kept instead of this copy: the first criterion that differs."""
    if row["is_representative"]:
        return None

    def named(filters) -> str:
        return ", ".join(filters) if filters else "none"

    ours, theirs = row["faults"], row["rep_faults"]
    if ours != theirs and (ours is None or (theirs is not None and theirs < ours)):
        return (
            f"fewer failing visual filters ({theirs}: {named(row['rep_failed_visual'])}; "
            f"this copy {ours if ours is not None else 'unknown'}: "
            f"{named(row['failed_visual'])})"
        )
    for column, text, unit in (
        ("short_side_px", "higher resolution", " px"),
        ("quality", "better quality", ""),
        ("duration_s", "longer", " s"),
    ):
        mine, kept = row[column], row[f"rep_{column}"]
        if mine != kept:
            shown = "missing" if mine is None else f"{mine:g}{unit}"
            return f"{text} ({kept:g}{unit} vs {shown})"
    return "the same on every criterion: smallest clip id"


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find, vectorised: hook larger roots under smaller ones, compress, repeat.

    Returns for every node the smallest node index of its component.
    """
    parent = np.arange(n, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        lo = np.minimum(ra[differ], rb[differ])
        hi = np.maximum(ra[differ], rb[differ])
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def _safe(shard: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in shard)[:64]


def _write_atomic(path: Path, write) -> None:
    with atomic_output(path, durable=True) as tmp, open(tmp, "wb") as fh:
        write(fh)
