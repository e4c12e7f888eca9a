"""More like these: the nearest eligible neighbours of seed clips, for the review page's "more
like this" and the ``finetune_expansion`` asset. The rules (MMR, per-concept caps, dedup) live
in ``selection/expansion.py``; this reads the candidate pool, stored embeddings and concepts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from curation_assets.review.store import ReviewStore
from curation_assets.selection.expansion import Expansion, Seed, expand
from curation_assets.storage.vectors import stored_embeddings


@dataclass
class ExpansionResult:
    expansion: Expansion = field(default_factory=Expansion)
    rows: list[dict] = field(default_factory=list)
    embedding: str = ""
    pool: int = 0  # eligible clips with a stored embedding, over every shard
    mode: str = "full"  # "incremental (searched shards: ...)" or "full (<why>)"
    searched: int = 0  # pool clips this run searched
    searched_shards: list[str] = field(default_factory=list)


def similar_clips(reviews: ReviewStore, clip_id: str, k: int = 12) -> ExpansionResult:
    """ "More like this": one clip's nearest eligible neighbours (the review page)."""
    return expand_seeds(reviews, [Seed(clip_id, f"like:{clip_id}")], k=k, per_concept=None)


def expand_seeds(
    reviews: ReviewStore, seeds: list[Seed], k: int | None = None, per_concept: int | None = -1
) -> ExpansionResult:
    """Neighbours of the seeds among the clips that pass the candidate pool's strictest limits
    (every gate, every subset stage, ``finetune.filters``)."""
    cfg = reviews.config.finetune
    pool, _ = reviews.build_candidates()
    eligible = set(pool.eligible)
    kind, ids, vectors = stored_embeddings(reviews.layout)
    row_of = {cid: i for i, cid in enumerate(ids)}
    pool_rows = sorted(row_of[c] for c in eligible if c in row_of)
    concept_of = dict(
        reviews.lineage.query(
            "SELECT clip_id, any_value(label) FROM clip_labels WHERE kind = 'concept' "
            "GROUP BY clip_id",
            tables=["clip_labels"],
        ).rows()
    )
    result = ExpansionResult(embedding=kind, pool=len(pool_rows))
    result.expansion = expand(
        seeds,
        {s.clip_id: vectors[row_of[s.clip_id]] for s in seeds if s.clip_id in row_of},
        [ids[r] for r in pool_rows],
        vectors[pool_rows] if pool_rows else np.zeros((0, vectors.shape[1]), np.float32),
        k or cfg.expansion_k,
        mmr_lambda=cfg.expansion_mmr_lambda,
        per_concept=cfg.expansion_per_concept if per_concept == -1 else per_concept,
        concept_of=concept_of,
    )
    result.rows = neighbour_rows(result.expansion, kind)
    return result


def neighbour_rows(expansion: Expansion, kind: str) -> list[dict]:
    return [
        {
            "theme": n.theme,
            "clip_id": n.clip_id,
            "neighbour_of": n.neighbour_of,
            "similarity": n.similarity,
            "rank": n.rank,
            "embedding": kind,
        }
        for n in expansion.neighbours
    ]


def concepts_by_clip(reviews: ReviewStore) -> dict[str, str]:
    return dict(
        reviews.lineage.query(
            "SELECT clip_id, any_value(label) FROM clip_labels WHERE kind = 'concept' "
            "GROUP BY clip_id",
            tables=["clip_labels"],
        ).rows()
    )
