"""Near-duplicates across all shards, found incrementally as shards arrive.

Three kinds of evidence, each an *edge* between two clips:

- ``phash``: every clip has three 64-bit perceptual hashes packed as 24 bytes, the middle frame's
  hash first, then the other two frames' (first, last). Candidates come from a Hamming range
  search on the middle hash (``distance <= hash_radius``). By default the other two hashes must
  agree as well (``require_all_hashes``): one matching frame is weak evidence (fades, title cards,
  a shared frame at a cut), three matching frames spread over the clip are strong. The edge's
  distance is then the largest of the three Hamming distances, so ``distance <= radius`` always
  holds for every hash that was compared. (A still image has one sample: its three hashes are
  the same.)
- ``phash_crop``: a clip may also bring *crop hashes* (``crop_hashes``: for a still image the
  hashes of centred crops of its frame, 95/90/85/80% of each side, and of windows cut on one or
  two sides and the mirror, ``signals/content/perceptual_hash.py``).
  A lightly cropped copy's hash is close to one of the original's crop hashes (a 5% crop off each
  side, on skimage's photos: 6-22 bits from the original's hash, 0-2 from one of its crop
  hashes), so a pair is also an edge when one clip's middle hash is within the radius of one of
  the other's crop hashes (searched both ways, new shard only). Only pairs that are not already a
  ``phash`` edge get this kind. Meant for still images: the other two hashes are not checked.
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

Persistence in ``state_dir``: ``dedup_state.py``; the searches: ``dedup_search.py``; groups and
their representatives: ``duplicate_groups.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import polars as pl

from curation_assets.selection.dedup_search import IndexSearch
from curation_assets.selection.dedup_state import MANIFEST, IndexState, ShardEntry, crop_rows
from curation_assets.selection.dedup_types import (
    COUNTERS,
    EDGE_SCHEMA,
    HASH_BYTES,
    KEY_BYTES,
    AddReport,
    DedupSettings,
    EdgeKind,
    Pairs,
    empty_edges,
    hamming,
)

__all__ = [
    "EDGE_SCHEMA",
    "HASH_BYTES",
    "AddReport",
    "DedupSettings",
    "DuplicateIndex",
    "EdgeKind",
    "empty_edges",
    "hamming",
]


class DuplicateIndex(IndexSearch, IndexState):
    """All clips indexed so far, their duplicate edges and counters, persisted in ``state_dir``.

    ``DuplicateIndex(state_dir)`` loads what is there (or starts empty). Settings are stored with
    the index: passing different ones for an existing index raises, because the stored edges were
    decided under the old ones (delete the folder to rebuild).

    In memory: ``_clip_ids``, ``_row_shard``, ``_hashes`` (one row per clip, index order),
    ``_crops`` / ``_crop_owner`` (one row per crop hash and the clip row owning it), faiss indexes
    over the middle hashes, the crop hashes and the embeddings (``_emb_rows``: their clip rows).
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
        self._shards: list[ShardEntry] = []
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
        self._crops = np.empty((0, KEY_BYTES), dtype=np.uint8)
        self._crop_owner = np.empty(0, dtype=np.int64)
        self._hash_index = self._new_hash_index()
        self._crop_index = self._new_hash_index()
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
        crop_hashes: np.ndarray | None = None,
        replace: bool = False,
    ) -> AddReport:
        """Index one shard: compare it with all indexed clips and with itself, then save.

        ``hashes`` is (n, 24) uint8. ``embeddings`` is (n, d) float32 from a real model, or
        None; rows that are not finite or have zero norm are treated as missing, the others are
        re-normalised. ``crop_hashes`` is (n, 8m) uint8: m more search keys per clip (hashes of
        centred crops, see the module docstring), or None. A shard already indexed is skipped
        unless ``replace`` is set: then its clips and every edge touching them are removed
        first, and it is indexed again.
        """
        clip_ids, hashes, embeddings = self._validate(
            shard, clip_ids, hashes, embeddings, embedding_model
        )
        crop_hashes = self._validate_crops(shard, len(clip_ids), crop_hashes)
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
        crop_keys, crop_owners = crop_rows(crop_hashes, n_old)
        crop_pairs = _not_in(
            self._search_crops(n_old, hashes[:, :KEY_BYTES], crop_keys, crop_owners), phash_pairs
        )
        seconds_phash = time.perf_counter() - started

        started = time.perf_counter()
        emb_pairs, emb_old, emb_new = Pairs(), 0, 0
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
            [
                self._pairs_to_edges(phash_pairs, EdgeKind.PHASH),
                self._pairs_to_edges(crop_pairs, EdgeKind.PHASH_CROP),
                self._pairs_to_edges(emb_pairs, EdgeKind.EMBEDDING),
            ]
        )
        self._edges = pl.concat([self._edges, new_edges]).sort(["clip_a", "clip_b", "kind"])
        c = self._counters
        c["comparisons_new_vs_old"] += n_new * n_old
        c["comparisons_new_vs_new"] += n_new * (n_new - 1) // 2
        c["embedding_comparisons_new_vs_old"] += emb_new * emb_old
        c["embedding_comparisons_new_vs_new"] += emb_new * (emb_new - 1) // 2
        c["phash_edges_found"] += len(phash_pairs)
        c["phash_crop_edges_found"] += len(crop_pairs)
        c["embedding_edges_found"] += len(emb_pairs)
        c["shards_added"] += 1
        c["shards_replaced"] += int(replaced)

        started = time.perf_counter()
        self._save(new_shard=(shard, clip_ids, hashes, vectors, rows, crop_hashes))
        seconds_save = time.perf_counter() - started
        return AddReport(
            shard=shard,
            new_clips=n_new,
            comparisons_new_vs_old=n_new * n_old,
            comparisons_new_vs_new=n_new * (n_new - 1) // 2,
            new_edges=new_edges.height,
            skipped_because_already_indexed=False,
            replaced=replaced,
            new_phash_edges=len(phash_pairs),
            new_phash_crop_edges=len(crop_pairs),
            new_embedding_edges=len(emb_pairs),
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

    # -- validation -------------------------------------------------------------------------------

    @staticmethod
    def _validate_crops(shard: str, n: int, crop_hashes: np.ndarray | None) -> np.ndarray:
        if crop_hashes is None:
            return np.zeros((n, 0), np.uint8)
        crops = np.asarray(crop_hashes)
        if crops.dtype != np.uint8 or crops.ndim != 2 or crops.shape[0] != n:
            raise ValueError(
                f"shard {shard!r}: crop_hashes must be uint8 of shape ({n}, 8m), "
                f"got {crops.dtype} {crops.shape}"
            )
        if crops.shape[1] % KEY_BYTES:
            raise ValueError(
                f"shard {shard!r}: crop_hashes rows must be whole 64-bit hashes "
                f"(a multiple of {KEY_BYTES} bytes), got {crops.shape[1]}"
            )
        return np.ascontiguousarray(crops)

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


def _not_in(pairs: Pairs, known: Pairs) -> Pairs:
    """``pairs`` (unordered) that are not in ``known`` (ordered either way)."""
    if not len(pairs) or not len(known):
        return pairs
    seen = set(
        zip(
            np.minimum(known.rows_a, known.rows_b).tolist(),
            np.maximum(known.rows_a, known.rows_b).tolist(),
            strict=True,
        )
    )
    keep = np.array(
        [
            (a, b) not in seen
            for a, b in zip(pairs.rows_a.tolist(), pairs.rows_b.tolist(), strict=True)
        ],
        dtype=bool,
    )
    return Pairs(pairs.rows_a[keep], pairs.rows_b[keep], pairs.distance[keep])
