"""The faiss searches of ``DuplicateIndex`` (``dedup.py``): Hamming range search on the middle
hashes, on crop hashes, and cosine range search on embeddings (exact, then IVF at scale).

A mixin: it works on the index's arrays (``_hashes``, ``_crops``, ``_emb_rows`` ...) and faiss
indexes; only the new shard's rows are ever queries, so old x old pairs are never compared.
"""

from __future__ import annotations

import faiss
import numpy as np
import polars as pl

from curation_assets.selection.dedup_types import (
    EDGE_SCHEMA,
    KEY_BYTES,
    EdgeKind,
    Pairs,
    empty_edges,
    hamming,
    new_pairs,
    unique_pairs,
)


class IndexSearch:
    """Search methods of ``DuplicateIndex``; see its docstring for the state they use."""

    def _new_hash_index(self) -> faiss.IndexBinary:
        s = self.settings
        if not s.hash_tables:
            return faiss.IndexBinaryFlat(64)
        index = faiss.IndexBinaryMultiHash(64, s.hash_tables, 64 // s.hash_tables)
        index.nflip = s.hash_flips
        return index

    def _range(self, index: faiss.IndexBinary, queries: np.ndarray):
        """(query row per hit, found row, distance) within the radius (inclusive)."""
        # faiss binary range search keeps distances strictly below the radius it is given.
        lims, dist, found = index.range_search(queries, self.settings.hash_radius + 1)
        query = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(lims).astype(np.int64))
        return query, found.astype(np.int64), dist.astype(np.float64)

    def _search_hashes(self, n_old: int, hashes: np.ndarray) -> Pairs:
        """Add the new middle hashes, then query them against everything (old + new)."""
        middle = np.ascontiguousarray(hashes[:, :KEY_BYTES])
        self._hash_index.add(middle)
        query, found, dist = self._range(self._hash_index, middle)
        pairs = new_pairs(query + n_old, found, dist, n_old)
        if self.settings.require_all_hashes and len(pairs):
            all_three = hamming(self._hashes[pairs.rows_a], self._hashes[pairs.rows_b])
            keep = (all_three <= self.settings.hash_radius).all(axis=1)
            pairs = Pairs(
                pairs.rows_a[keep], pairs.rows_b[keep], all_three[keep].max(axis=1).astype(float)
            )
        return pairs

    def _search_crops(
        self, n_old: int, middle: np.ndarray, crops: np.ndarray, owners: np.ndarray
    ) -> Pairs:
        """New middle hashes against every crop hash, new crop hashes against every middle hash
        (the new shard's middle hashes are already indexed): a lightly cropped copy's hash is
        close to one of the original's crop hashes, and the other way round."""
        if len(crops):
            self._crop_index.add(crops)
            self._crops = np.concatenate([self._crops, crops])
            self._crop_owner = np.concatenate([self._crop_owner, owners])
        rows_a, rows_b, dist = [], [], []
        if self._crop_index.ntotal and len(middle):
            query, found, d = self._range(self._crop_index, np.ascontiguousarray(middle))
            rows_a.append(query + n_old)
            rows_b.append(self._crop_owner[found])
            dist.append(d)
        if len(crops):
            query, found, d = self._range(self._hash_index, crops)
            rows_a.append(owners[query])
            rows_b.append(found)
            dist.append(d)
        if not rows_a:
            return Pairs()
        return unique_pairs(np.concatenate(rows_a), np.concatenate(rows_b), np.concatenate(dist))

    def _search_embeddings(self, rows: np.ndarray, vectors: np.ndarray) -> Pairs:
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
        pairs = new_pairs(query[keep], found[keep].astype(np.int64), distance, n_old)
        return Pairs(self._emb_rows[pairs.rows_a], self._emb_rows[pairs.rows_b], pairs.distance)

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
        parts = [self._read_shard(s).embeddings for s in self._shards if s.embeddings]
        dim = self._embedding_dim or 0
        return np.concatenate(parts) if parts else np.empty((0, dim), np.float32)

    def _rebuild_indexes(self) -> None:
        """Fresh faiss indexes from the in-memory hashes and the stored embeddings."""
        self._hash_index = self._new_hash_index()
        if len(self._hashes):
            self._hash_index.add(np.ascontiguousarray(self._hashes[:, :KEY_BYTES]))
        self._crop_index = self._new_hash_index()
        if len(self._crops):
            self._crop_index.add(np.ascontiguousarray(self._crops))
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
                stored = self._read_shard(entry)
                self._emb_index.add(stored.embeddings)
                rows.append(stored.embedding_rows + start)
            start += entry.clips
        if rows:
            self._emb_rows = np.concatenate(rows)

    def _pairs_to_edges(self, pairs: Pairs, kind: EdgeKind) -> pl.DataFrame:
        if not len(pairs):
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
