"""Global (all-shard) steps: concept balancing and the helpers of near-duplicates
(``dedup_steps.py``). No Dagster here.

Both read only what ``content_filter`` stored per shard (``vectors/*.npz``) and the lineage;
neither decodes anything.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation_assets.config import CurationConfig, Layout
from curation_assets.selection.concepts import LABEL_PREFIX, cluster_per_kind
from curation_assets.signals.runner import load_vectors
from curation_assets.vocabulary import Content, Media

WRITER_PARTITION = "all"


def shard_vector_files(layout: Layout, name: str) -> dict[str, Path]:
    root = layout.warehouse / "shards"
    if not root.is_dir():
        return {}
    return {p.parent.parent.name: p for p in sorted(root.glob(f"*/vectors/{name}.npz"))}


def embedding_files(layout: Layout) -> tuple[str, dict[str, Path]]:
    """(kind, shard -> its vectors file): open_clip's embeddings when every shard has them, else
    the offline thumbnail embeddings (the kind says which); shards in ``stored_embeddings``'
    order."""
    real = shard_vector_files(layout, "clip_embedding")
    thumbs = shard_vector_files(layout, "thumbnail_embedding")
    if real and set(real) == set(thumbs):
        return "clip_embedding", real
    return "thumbnail_embedding", thumbs


def stored_embeddings(layout: Layout) -> tuple[str, list[str], np.ndarray]:
    """(kind, clip ids, vectors) over all shards (``embedding_files``)."""
    kind, files = embedding_files(layout)
    ids: list[str] = []
    chunks = []
    for path in files.values():
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


@dataclass
class ConceptResult:
    scores: list[dict] = field(default_factory=list)
    clip_labels: list[dict] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    embedding: str = ""
    k: int = 0  # clusters over all media kinds
    clips: int = 0
    k_by_media: dict[str, int] = field(default_factory=dict)  # concepts are per media kind


def assign_concepts(layout: Layout, store, cfg: CurationConfig) -> ConceptResult:
    with global_lock(layout, "concepts"):
        return _assign_concepts(layout, store, cfg)


def _assign_concepts(layout: Layout, store, cfg: CurationConfig) -> ConceptResult:
    """k-means over clip embeddings -> concept per clip and a 1/sqrt(cluster size) weight.

    Uses the open_clip embeddings when every shard has them, else the offline thumbnail
    embeddings (the scorer name says which). Videos and still images are clustered apart, each
    with its own weights (mean 1 within the kind) and labels (``c00012``, ``image:c00003``).
    """
    kind, ids, vectors = stored_embeddings(layout)
    result = ConceptResult(embedding=kind)
    known = store.query(
        f"SELECT clip_id, shard, coalesce(media, '{Media.VIDEO.value}') AS media FROM clips"
    )
    shard_of = dict(zip(known["clip_id"], known["shard"], strict=True))
    media_of = dict(zip(known["clip_id"], known["media"], strict=True))
    keep = [i for i, c in enumerate(ids) if c in shard_of]
    if not keep:
        return result
    vectors = vectors[keep]
    ids = [ids[i] for i in keep]
    kinds = [media_of[c] for c in ids]
    found = cluster_per_kind(vectors, kinds, cfg.concepts.k, cfg.concepts.seed, cfg.concepts.niter)
    scorer = f"kmeans:{kind}"
    order = np.argsort(np.asarray(ids))
    for i in order:
        cid = ids[i]
        prefix = LABEL_PREFIX.get(kinds[i], f"{kinds[i]}:")
        result.clip_labels.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "kind": "concept",
                "label": found.labels[i],
                "confidence": None,
                "scorer": scorer,
            }
        )
        result.scores.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "signal": Content.CONCEPT_WEIGHT.value,
                "value": float(found.weights[i]),
                "scorer": scorer,
                "scorer_version": f"{prefix}k={found.k[kinds[i]]}:seed={cfg.concepts.seed}",
            }
        )
    result.sizes = [s for media in sorted(found.sizes) for s in found.sizes[media]]
    result.k, result.clips = sum(found.k.values()), len(ids)
    result.k_by_media = dict(found.k)
    return result
