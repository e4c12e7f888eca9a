"""How far reviewers agree, over the whole fine-tune review: Krippendorff's alpha per rating
dimension (interval data, 1-5) and for the accept/reject decision (nominal), plus the clips
they disagree on, for a second look. No Dagster.

Why alpha and not Cohen's kappa: any number of reviewers, clips reviewed by only some of them
and missing ratings are all handled, and one number per dimension is comparable across
dimensions (1 = perfect, 0 = chance, < 0 = systematic disagreement). Only clips with two or more
values in a dimension count (a single review cannot disagree with anyone).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping

from curation_assets.selection.finetune import ACCEPT, DIMENSIONS

DISAGREE_SPREAD = 2  # a rating spread (max - min) this large marks a clip for a second look


def krippendorff_alpha(units: Iterable[Iterable[float]], metric: str = "interval") -> float | None:
    """Alpha over units (one list of values per clip); None when no unit has two values or
    every pairable value is the same (no variation to agree about)."""
    pairable = [list(values) for values in units]
    pairable = [values for values in pairable if len(values) >= 2]
    if not pairable:
        return None

    def distance(a: float, b: float) -> float:
        return float(a != b) if metric == "nominal" else (a - b) ** 2

    n = sum(len(values) for values in pairable)
    observed = 0.0
    for values in pairable:
        m = len(values)
        observed += sum(
            distance(a, b) for i, a in enumerate(values) for j, b in enumerate(values) if i != j
        ) / (m - 1)
    observed /= n
    every = [v for values in pairable for v in values]
    expected = sum(distance(a, b) for a in every for b in every) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def review_agreement(latest: Iterable[Mapping]) -> dict:
    """Alpha per dimension and for decisions, how many clips each rests on, and the clips to
    look at again (decisions split, or a rating spread >= ``DISAGREE_SPREAD``)."""
    by_clip: dict[str, list[Mapping]] = defaultdict(list)
    for row in latest:
        by_clip[row["clip_id"]].append(row)
    ratings: dict[str, list[list[float]]] = {dim: [] for dim in DIMENSIONS}
    decisions: list[list[float]] = []
    second_look = []
    for clip_id, rows in sorted(by_clip.items()):
        per_dim: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            for dim, value in json.loads(row.get("ratings_json") or "{}").items():
                per_dim[dim].append(float(value))
        for dim in DIMENSIONS:
            ratings[dim].append(per_dim.get(dim, []))
        decisions.append([1.0 if r["decision"] == ACCEPT else 0.0 for r in rows])
        if len(rows) < 2:
            continue
        split = len({r["decision"] for r in rows}) > 1
        spread = {d: max(v) - min(v) for d, v in per_dim.items() if len(v) >= 2}
        wide = sorted(d for d, s in spread.items() if s >= DISAGREE_SPREAD)
        if split or wide:
            second_look.append(
                {
                    "clip_id": clip_id,
                    "reviewers": ", ".join(sorted(r["reviewer"] for r in rows)),
                    "decisions": ", ".join(sorted(r["decision"] for r in rows)),
                    "wide_ratings": ", ".join(f"{d} {int(spread[d])}" for d in wide),
                }
            )

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "alpha_decision": rounded(krippendorff_alpha(decisions, "nominal")),
        "alpha": {dim: rounded(krippendorff_alpha(ratings[dim])) for dim in DIMENSIONS},
        "clips_with_two_or_more": sum(len(rows) >= 2 for rows in by_clip.values()),
        "second_look": second_look,
    }
