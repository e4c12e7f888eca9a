"""Concept balancing over every shard's stored embeddings (``concepts`` asset). No Dagster;
nothing is decoded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from curation_assets.config import CurationConfig, Layout
from curation_assets.selection.concepts import LABEL_PREFIX, cluster_per_kind
from curation_assets.storage.vectors import global_lock, stored_embeddings
from curation_assets.vocabulary import Content, Media


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
