"""The fine-tune seeds and expansion steps: lineage and stored vectors in, table rows out.

Thin assets call these (``assets/finetune_assets.py``); the rules live in
``selection/seeds.py`` and ``selection/expansion.py``. The ``finetune_expansion`` asset's
incremental search across shards is ``finetune_expansion_steps.py`` (what it keeps between runs:
``finetune_expansion_state.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation_assets.global_steps import stored_embeddings
from curation_assets.review.store import ReviewStore
from curation_assets.selection.expansion import Expansion, Seed, expand
from curation_assets.selection.seeds import (
    SeedsFileError,
    read_seeds_file,
    recorded_seeds,
    seeds_in_force,
)
from curation_assets.vocabulary import Stage


@dataclass
class SeedsResult:
    seeds: list[Seed] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the file as a whole


@dataclass
class ExpansionResult:
    expansion: Expansion = field(default_factory=Expansion)
    rows: list[dict] = field(default_factory=list)
    embedding: str = ""
    pool: int = 0  # eligible clips with a stored embedding, over every shard
    mode: str = "full"  # "incremental (searched shards: ...)" or "full (<why>)"
    searched: int = 0  # pool clips this run searched
    searched_shards: list[str] = field(default_factory=list)


def _dropped_copies(reviews: ReviewStore) -> dict[str, str]:
    """clip -> the kept copy of its near-duplicate group, for every dropped copy."""
    stage = Stage.NEAR_DUPLICATES.value
    rows = reviews.lineage.query(
        "SELECT l.clip_id, any_value(k.clip_id) AS kept FROM clip_labels l "
        "JOIN decisions d ON d.clip_id = l.clip_id AND d.stage = ? AND NOT d.passed "
        "AND d.filter = 'near_duplicate' "
        "JOIN clip_labels k ON k.kind = 'duplicate_group' AND k.label = l.label "
        "JOIN decisions dk ON dk.clip_id = k.clip_id AND dk.stage = ? AND dk.passed "
        "AND dk.filter = 'near_duplicate' "
        "WHERE l.kind = 'duplicate_group' GROUP BY l.clip_id",
        [stage, stage],
        tables=["clip_labels", "decisions"],
    )
    return dict(rows.rows())


def update_seeds(reviews: ReviewStore) -> SeedsResult:
    result = SeedsResult()
    file_seeds: list[Seed] = []
    path = reviews.config.finetune.seeds_file
    if path:
        try:
            file_seeds = read_seeds_file(Path(path).expanduser())
        except SeedsFileError as err:
            result.problems.append(str(err))
    known = set(reviews.lineage.query("SELECT clip_id FROM clips", tables=["clips"])["clip_id"])
    result.seeds, result.rows = seeds_in_force(
        reviews.seed_marks().to_dicts(), file_seeds, known, _dropped_copies(reviews)
    )
    return result


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
    result.rows = _rows(result.expansion, kind)
    return result


def _rows(expansion: Expansion, kind: str) -> list[dict]:
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


def _concepts(reviews: ReviewStore) -> dict[str, str]:
    return dict(
        reviews.lineage.query(
            "SELECT clip_id, any_value(label) FROM clip_labels WHERE kind = 'concept' "
            "GROUP BY clip_id",
            tables=["clip_labels"],
        ).rows()
    )


def lineage_seeds(reviews: ReviewStore) -> list[Seed]:
    """The seeds ``finetune_seeds`` recorded (its lineage table), not recomputed."""
    rows = reviews.lineage.query("SELECT * FROM finetune_seeds", tables=["finetune_seeds"])
    return recorded_seeds(rows.to_dicts())
