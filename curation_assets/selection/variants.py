"""K seeded variants of the accepted fine-tune set, for training several models to average
(Movie Gen averages models fine-tuned on different subsets). No Dagster.

Each variant draws ``fraction`` of the set, stratified by stratum (the seed theme a clip came
from, else its concept), so every variant keeps the set's mix; variant ``i`` uses the random
generator seeded with ``(seed, i)``, so the same settings always give the same variants, and a
clip's membership does not depend on the order rows arrive in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np


def variant_members(
    clip_ids: Sequence[str],
    stratum_of: Mapping[str, str],
    variants: int,
    fraction: float,
    seed: int,
) -> list[tuple[int, str]]:
    """(variant, clip_id) rows, variants numbered from 0, each variant's clips sorted."""
    if variants < 0:
        raise ValueError(f"variants must be >= 0, got {variants}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    strata: dict[str, list[str]] = defaultdict(list)
    for cid in sorted(set(clip_ids)):
        strata[stratum_of.get(cid, "")].append(cid)
    rows: list[tuple[int, str]] = []
    for v in range(variants):
        rng = np.random.default_rng([seed, v])
        chosen: list[str] = []
        for name in sorted(strata):
            members = strata[name]
            take = max(1, math.floor(fraction * len(members) + 0.5))
            picks = rng.choice(len(members), size=min(take, len(members)), replace=False)
            chosen.extend(members[i] for i in sorted(picks))
        rows.extend((v, cid) for cid in sorted(chosen))
    return rows
