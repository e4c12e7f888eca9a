"""Composition targets (e.g. 80% landscape / 20% portrait, >= 60% with humans) as a small
linear programme over label cells.

Procedure (documented in the README): clips are grouped into cells by the labels the targets
name (e.g. orientation x has_human). Phase 1 finds the largest subset size N for which every
target holds (exact shares within the tolerance; min/max shares as bounds; caps in clips and
seconds). Phase 2 keeps N and spreads it over the cells as close as possible to the pool's own
proportions, so nothing is skewed beyond what the targets ask. Counts are rounded down and the
remainder goes to the largest fractional parts. A target that no N > 0 can meet (the pool has
no clip of that label, say) is dropped and reported as such, never silently ignored. Within a
cell, clips are then taken in priority order (see ``stages``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Target:
    kind: str  # a clip_labels kind, e.g. orientation
    label: str  # e.g. landscape
    share: float | None = None
    min: float | None = None
    max: float | None = None

    def bounds(self, tolerance: float) -> tuple[float, float]:
        if self.share is not None:
            return max(0.0, self.share - tolerance), min(1.0, self.share + tolerance)
        return (self.min or 0.0), (1.0 if self.max is None else self.max)

    def describe(self) -> str:
        if self.share is not None:
            return f"{self.share:.0%}"
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:.0%}")
        if self.max is not None:
            parts.append(f"<= {self.max:.0%}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Cell:
    labels: tuple[tuple[str, str], ...]  # ((kind, label), ...)
    available: int
    mean_seconds: float

    def has(self, kind: str, label: str) -> bool:
        return (kind, label) in self.labels


@dataclass
class Outcome:
    kind: str
    label: str
    target: str
    available: int
    selected: int = 0
    achieved: float = 0.0
    met: bool = True
    note: str = ""


@dataclass
class Allocation:
    counts: list[int]  # per cell
    outcomes: list[Outcome]
    size_without_targets: int  # what caps alone would allow: the price of the targets
    notes: list[str]


def allocate(
    cells: list[Cell],
    targets: list[Target],
    tolerance: float = 0.01,
    max_clips: int | None = None,
    max_seconds: float | None = None,
) -> Allocation:
    notes: list[str] = []
    total = sum(c.available for c in cells)
    unlimited = _solve(cells, [], tolerance, max_clips, max_seconds)
    active = list(targets)
    # Unlisted labels of a kind whose exact shares add up to 1 get no room (80/20 leaves 0%
    # for square clips).
    implicit = _implicit_zero(cells, active)
    counts = _solve(cells, active + implicit, tolerance, max_clips, max_seconds)
    if counts is None or (sum(counts) == 0 and total > 0 and active):
        dropped = []
        for target in active:
            alone = _solve(
                cells, [target] + _implicit_zero(cells, [target]), tolerance, max_clips, max_seconds
            )
            if alone is None or sum(alone) == 0:
                dropped.append(target)
        if not dropped and active:
            dropped = list(active)
            notes.append("the targets cannot hold together in this pool; all were dropped")
        active = [t for t in active if t not in dropped]
        implicit = _implicit_zero(cells, active)
        counts = _solve(cells, active + implicit, tolerance, max_clips, max_seconds)
        dropped_set = set(dropped)
    else:
        dropped_set = set()
    if total == 0:  # nothing eligible: no target can be met
        dropped_set = set(targets)
    counts = counts or [0] * len(cells)
    size = sum(counts)
    outcomes = []
    for target in targets:
        have = sum(c.available for c in cells if c.has(target.kind, target.label))
        chosen = sum(
            n for c, n in zip(cells, counts, strict=True) if c.has(target.kind, target.label)
        )
        achieved = chosen / size if size else 0.0
        lo, hi = target.bounds(tolerance)
        slack = 1.0 / size + 1e-9 if size else 0.0  # rounding to whole clips
        met = size > 0 and lo - slack <= achieved <= hi + slack
        outcome = Outcome(target.kind, target.label, target.describe(), have, chosen, achieved, met)
        if target in dropped_set:
            outcome.met = False
            outcome.note = (
                f"cannot be met: the eligible pool has {have} clip(s) with "
                f"{target.kind}={target.label}" + ("" if total == 0 else "; target dropped")
            )
        elif not met and size > 0:
            outcome.note = "missed after rounding (a clip or two); see achieved"
        outcomes.append(outcome)
    limit = sum(unlimited or [])
    if size < limit:
        notes.append(f"targets kept {size} of the {limit} clips the caps allow")
    return Allocation(counts, outcomes, limit, notes)


def _implicit_zero(cells: list[Cell], targets: list[Target]) -> list[Target]:
    extra = []
    kinds = {t.kind for t in targets}
    for kind in kinds:
        exact = [t for t in targets if t.kind == kind and t.share is not None]
        if exact and sum(t.share for t in exact) >= 1 - 1e-9:
            listed = {t.label for t in targets if t.kind == kind}
            labels = {lab for c in cells for k, lab in c.labels if k == kind}
            extra += [Target(kind, lab, max=0.0) for lab in sorted(labels - listed)]
    return extra


def _solve(
    cells: list[Cell],
    targets: list[Target],
    tolerance: float,
    max_clips: int | None,
    max_seconds: float | None,
) -> list[int] | None:
    """Integer counts per cell, or None when infeasible."""
    from scipy.optimize import linprog  # 0.5 s of imports: only when a stage balances

    n = len(cells)
    if n == 0:
        return []
    avail = np.array([c.available for c in cells], dtype=float)
    rows, rhs = [], []
    for t in targets:
        member = np.array([1.0 if c.has(t.kind, t.label) else 0.0 for c in cells])
        lo, hi = t.bounds(tolerance)
        rows.append(member - hi)  # S_L - hi N <= 0
        rhs.append(0.0)
        if lo > 0:
            rows.append(lo - member)  # lo N - S_L <= 0
            rhs.append(0.0)
    if max_clips is not None:
        rows.append(np.ones(n))
        rhs.append(float(max_clips))
    if max_seconds is not None:
        rows.append(np.array([c.mean_seconds for c in cells]))
        rhs.append(float(max_seconds))
    a_ub = np.array(rows) if rows else None
    b_ub = np.array(rhs) if rows else None
    bounds = [(0.0, a) for a in avail]
    first = linprog(-np.ones(n), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if first.status != 0:
        return None
    size = float(-first.fun)
    if size < 0.5:
        return [0] * n
    # Phase 2: same size, as close to the pool's own proportions as the targets allow.
    ideal = avail * (size / avail.sum())
    # variables: x (n), t (n) with t >= |x - ideal|
    c = np.concatenate([np.zeros(n), np.ones(n)])
    rows2 = [np.concatenate([r, np.zeros(n)]) for r in rows]
    rhs2 = list(rhs)
    eye = np.eye(n)
    for i in range(n):
        rows2.append(np.concatenate([eye[i], -eye[i]]))  # x - t <= ideal
        rhs2.append(ideal[i])
        rows2.append(np.concatenate([-eye[i], -eye[i]]))  # -x - t <= -ideal
        rhs2.append(-ideal[i])
    rows2.append(np.concatenate([-np.ones(n), np.zeros(n)]))  # sum x >= size
    rhs2.append(-(size - 1e-6))
    second = linprog(
        c,
        A_ub=np.array(rows2),
        b_ub=np.array(rhs2),
        bounds=bounds + [(0.0, None)] * n,
        method="highs",
    )
    x = second.x[:n] if second.status == 0 else first.x
    return _round(x, avail, int(math.floor(size + 1e-6)))


def _round(x: np.ndarray, avail: np.ndarray, size: int) -> list[int]:
    counts = np.minimum(np.floor(x + 1e-9), avail).astype(int)
    spare = size - int(counts.sum())
    order = np.argsort(-(x - np.floor(x + 1e-9)), kind="stable")
    for i in order:
        if spare <= 0:
            break
        if counts[i] < avail[i]:
            counts[i] += 1
            spare -= 1
    return [int(v) for v in counts]
