"""The fine-tune seeds step: marks and the seed file in, ``finetune_seeds`` rows out.

Thin assets call it (``assets/finetune.py``); the rules live in ``selection/seeds.py``. The
search for neighbours of the seeds is ``review/similar.py`` (shared with the review page's "more
like this"); the ``finetune_expansion`` asset's incremental search across shards is
``steps/finetune_expansion.py`` (what it keeps between runs: ``finetune_expansion_state.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curation_assets.review.store import ReviewStore
from curation_assets.selection.expansion import Seed
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


def lineage_seeds(reviews: ReviewStore) -> list[Seed]:
    """The seeds ``finetune_seeds`` recorded (its lineage table), not recomputed."""
    rows = reviews.lineage.query("SELECT * FROM finetune_seeds", tables=["finetune_seeds"])
    return recorded_seeds(rows.to_dicts())
