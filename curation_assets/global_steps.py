"""Global (all-shard) steps: near-duplicates and concept balancing. No Dagster here.

Both read only what ``content_filter`` stored per shard (``vectors/*.npz``) and the lineage;
neither decodes anything.
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from curation_assets.config import CurationConfig, Layout
from curation_assets.selection.concepts import cluster, resampling_weights
from curation_assets.selection.dedup import (
    VISUAL_FAULTS,
    DedupSettings,
    DuplicateIndex,
    duplicate_groups,
)
from curation_assets.signals.runner import load_vectors
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.vocabulary import Content, Stage

WRITER_PARTITION = "all"


def shard_vector_files(layout: Layout, name: str) -> dict[str, Path]:
    root = layout.warehouse / "shards"
    if not root.is_dir():
        return {}
    return {p.parent.parent.name: p for p in sorted(root.glob(f"*/vectors/{name}.npz"))}


def stored_embeddings(layout: Layout) -> tuple[str, list[str], np.ndarray]:
    """(kind, clip ids, vectors) over all shards: open_clip's embeddings when every shard has
    them, else the offline thumbnail embeddings (the kind says which)."""
    real = shard_vector_files(layout, "clip_embedding")
    thumbs = shard_vector_files(layout, "thumbnail_embedding")
    kind = "clip_embedding" if real and set(real) == set(thumbs) else "thumbnail_embedding"
    ids: list[str] = []
    chunks = []
    for path in (real if kind == "clip_embedding" else thumbs).values():
        clip_ids, vectors = load_vectors(path)
        if len(clip_ids):
            ids.extend(clip_ids)
            chunks.append(vectors.astype(np.float32))
    if not chunks:
        return kind, [], np.zeros((0, 1), np.float32)
    return kind, ids, np.concatenate(chunks)


def _fingerprint(*paths: Path | None) -> str:
    parts = []
    for path in paths:
        if path is not None and path.exists():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


@dataclass
class DedupResult:
    clip_labels: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)  # one per shard looked at
    counters: dict[str, int] = field(default_factory=dict)
    groups: pl.DataFrame | None = None
    clips_indexed: int = 0
    embedding_search: str = "none"


@contextmanager
def global_lock(layout: Layout, name: str):
    """One writer at a time for a global index: two shard runs finishing together each trigger
    the global assets, and their index files must not interleave (waits, never fails)."""
    folder = layout.warehouse / "global"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_duplicates(layout: Layout, store, cfg: CurationConfig) -> DedupResult:
    """Index shards new since the last run (new x old, new x new), then regroup everything."""
    with global_lock(layout, "dedup"):
        return _update_duplicates(layout, store, cfg)


def _update_duplicates(layout: Layout, store, cfg: CurationConfig) -> DedupResult:
    state = layout.warehouse / "global" / "dedup"
    settings = DedupSettings(
        hash_radius=cfg.dedup.hamming_radius, embedding_threshold=cfg.dedup.embedding_cosine
    )
    index = DuplicateIndex(state, settings)
    seen_file = state.parent / "dedup_inputs.json"
    seen = json.loads(seen_file.read_text()) if seen_file.exists() else {}
    hashes = shard_vector_files(layout, "phash")
    embeddings = shard_vector_files(layout, "clip_embedding")
    model = (
        f"{cfg.content.clip_model}:{cfg.content.clip_pretrained}"
        if cfg.content.clip_model and cfg.content.clip_pretrained
        else None
    )
    result = DedupResult()
    for shard in sorted(set(index.shards) - set(hashes)):  # a shard whose vectors are gone
        index.remove_shard(shard)
        seen.pop(shard, None)
    for shard, path in hashes.items():
        fingerprint = _fingerprint(path, embeddings.get(shard))
        known = shard in index.shards
        if known and seen.get(shard) == fingerprint:
            result.reports.append(
                {
                    "shard": shard,
                    "status": "unchanged",
                    "new_clips": 0,
                    "new_vs_old": 0,
                    "new_vs_new": 0,
                    "new_edges": 0,
                }
            )
            continue
        clip_ids, vectors = load_vectors(path)
        emb = None
        if shard in embeddings and model:
            emb_ids, emb_vectors = load_vectors(embeddings[shard])
            order = {c: i for i, c in enumerate(emb_ids)}
            emb = np.stack([emb_vectors[order[c]] for c in clip_ids]).astype(np.float32)
        report = index.add_shard(
            shard,
            clip_ids,
            vectors.astype(np.uint8),
            emb,
            embedding_model=model if emb is not None else None,
            replace=known,
        )
        seen[shard] = fingerprint
        result.reports.append(
            {
                "shard": shard,
                "status": "replaced" if known else "added",
                "new_clips": report.new_clips,
                "new_vs_old": report.comparisons_new_vs_old,
                "new_vs_new": report.comparisons_new_vs_new,
                "new_edges": report.new_edges,
            }
        )
    atomic_write_bytes(seen_file, json.dumps(seen, sort_keys=True).encode())
    result.counters = dict(index.counters)
    result.clips_indexed = index.num_clips
    result.embedding_search = index.embedding_search

    faults = ", ".join(f"'{f}'" for f in VISUAL_FAULTS)
    meta = store.query(
        "WITH q AS ("
        " SELECT clip_id, coalesce(max(value) FILTER (WHERE signal = 'aesthetic'),"
        "  max(value) FILTER (WHERE signal = 'technical_quality')) AS quality FROM scores"
        " WHERE signal IN ('aesthetic', 'technical_quality') GROUP BY clip_id), "
        "f AS ("
        " SELECT clip_id, list(DISTINCT filter ORDER BY filter) AS failed_visual FROM decisions"
        f" WHERE stage = 'visual_filter' AND passed = false AND filter IN ({faults})"
        " GROUP BY clip_id) "
        "SELECT c.clip_id, c.shard, c.duration_s, least(v.width, v.height) AS short_side_px, "
        "q.quality, coalesce(f.failed_visual, []::VARCHAR[]) AS failed_visual "
        "FROM clips c JOIN videos v USING (video_id) "
        "LEFT JOIN q ON q.clip_id = c.clip_id LEFT JOIN f ON f.clip_id = c.clip_id"
    )
    edges = index.edges.filter(
        pl.col("clip_a").is_in(meta["clip_id"].implode())
        & pl.col("clip_b").is_in(meta["clip_id"].implode())
    )
    groups = duplicate_groups(
        edges, meta.select("clip_id", "duration_s", "short_side_px", "quality", "failed_visual")
    )
    result.groups = groups
    shard_of = dict(zip(meta["clip_id"], meta["shard"], strict=True))
    reps = {
        row["group_id"]: row["clip_id"]
        for row in groups.filter(pl.col("is_representative")).iter_rows(named=True)
    }
    threshold = f"phash <= {settings.hash_radius} bits" + (
        f" or cosine >= {settings.embedding_threshold:g}" if model else ""
    )
    for row in groups.sort("clip_id").iter_rows(named=True):
        cid = row["clip_id"]
        result.clip_labels.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "kind": "duplicate_group",
                "label": row["group_id"],
                "confidence": None,
                "scorer": "near_duplicates",
            }
        )
        rep = reps[row["group_id"]]
        result.decisions.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "stage": Stage.NEAR_DUPLICATES.value,
                "filter": Content.NEAR_DUPLICATE.value,
                "passed": bool(row["is_representative"]),
                "value": float(row["group_size"]),
                "threshold": threshold,
                "reason": "representative of its group"
                if row["is_representative"]
                else f"{Content.NEAR_DUPLICATE.value} of {rep}, kept for {row['kept_because']}",
            }
        )
    return result


@dataclass
class ConceptResult:
    scores: list[dict] = field(default_factory=list)
    clip_labels: list[dict] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    embedding: str = ""
    k: int = 0
    clips: int = 0


def assign_concepts(layout: Layout, store, cfg: CurationConfig) -> ConceptResult:
    with global_lock(layout, "concepts"):
        return _assign_concepts(layout, store, cfg)


def _assign_concepts(layout: Layout, store, cfg: CurationConfig) -> ConceptResult:
    """k-means over clip embeddings -> concept per clip and a 1/sqrt(cluster size) weight.

    Uses the open_clip embeddings when every shard has them, else the offline thumbnail
    embeddings (the scorer name says which).
    """
    kind, ids, vectors = stored_embeddings(layout)
    result = ConceptResult(embedding=kind)
    known = store.query("SELECT clip_id, shard FROM clips")
    shard_of = dict(zip(known["clip_id"], known["shard"], strict=True))
    keep = [i for i, c in enumerate(ids) if c in shard_of]
    if not keep:
        return result
    vectors = vectors[keep]
    ids = [ids[i] for i in keep]
    k = min(cfg.concepts.k, len(ids))
    clusters = cluster(vectors, k, cfg.concepts.seed, niter=cfg.concepts.niter)
    weights = resampling_weights(clusters.labels)
    scorer = f"kmeans:{kind}"
    version = f"k={k}:seed={cfg.concepts.seed}"
    order = np.argsort(np.asarray(ids))
    for i in order:
        cid, label = ids[i], int(clusters.labels[i])
        result.clip_labels.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "kind": "concept",
                "label": f"c{label:05d}",
                "confidence": None,
                "scorer": scorer,
            }
        )
        result.scores.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "signal": Content.CONCEPT_WEIGHT.value,
                "value": float(weights[i]),
                "scorer": scorer,
                "scorer_version": version,
            }
        )
    result.sizes = [int(s) for s in clusters.sizes]
    result.k, result.clips = k, len(ids)
    return result
