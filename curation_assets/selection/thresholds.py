"""Thresholds over stored scores -> decisions. Nothing here decodes or re-scores anything.

A filter (a vocabulary name such as ``sharpness``) holds bounds on one or more signals. Like a
datatrove filter it answers ``(passed, reason)``; here also the value and the threshold that
decided, so every decision is explainable. A clip none of whose signals were measured is
recorded as not scored (``passed = None``), never as a silent pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

NOT_SCORED = "not_scored"


@dataclass(frozen=True)
class Bound:
    signal: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError(f"bound on {self.signal!r} needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"bound on {self.signal!r}: min {self.min} > max {self.max}")

    def holds(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def margin(self, value: float) -> float:
        """Signed distance to the nearest limit, relative to it: < 0 fails, near 0 borderline."""
        gaps = []
        if self.min is not None:
            gaps.append((value - self.min) / max(abs(self.min), 1e-9))
        if self.max is not None:
            gaps.append((self.max - value) / max(abs(self.max), 1e-9))
        return min(gaps)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g} <= {self.signal} <= {self.max:g}"
        if self.min is not None:
            return f"{self.signal} >= {self.min:g}"
        return f"{self.signal} <= {self.max:g}"


@dataclass(frozen=True)
class Verdict:
    passed: bool | None
    value: float | None
    threshold: str
    reason: str
    margin: float | None = None  # relative distance to the deciding limit (< 0 failed)


@dataclass(frozen=True)
class FilterRule:
    """``name`` is the vocabulary reason; ``any_of``: the first measured signal decides alone
    (e.g. aesthetic: the model score when there is one, else the offline stand-in)."""

    name: str
    bounds: tuple[Bound, ...]
    any_of: bool = False

    def decide(self, scores: Mapping[str, float]) -> Verdict:
        present = [b for b in self.bounds if b.signal in scores]
        if not present:
            wanted = ", ".join(b.signal for b in self.bounds)
            return Verdict(None, None, self.threshold, f"{NOT_SCORED}: no {wanted}")
        if self.any_of:
            present = present[:1]
        for bound in present:
            value = _num(scores[bound.signal])
            if value is None or not bound.holds(value):
                margin = None if value is None else bound.margin(value)
                return Verdict(False, value, bound.describe(), self.name, margin)
        margins = [bound.margin(_num(scores[bound.signal])) for bound in present]
        closest = present[margins.index(min(margins))]
        return Verdict(
            True,
            _num(scores[closest.signal]),
            " and ".join(b.describe() for b in present),
            "ok",
            min(margins),
        )

    @property
    def threshold(self) -> str:
        joiner = " or " if self.any_of else " and "
        return joiner.join(b.describe() for b in self.bounds)


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def rules_from_config(
    spec: Mapping[str, Mapping[str, Mapping[str, float]]], any_of: frozenset[str] = frozenset()
) -> list[FilterRule]:
    """``{filter: {signal: {min: .., max: ..}}}`` (curation.yaml) -> rules, in config order."""
    rules = []
    for name, signals in spec.items():
        bounds = tuple(
            Bound(signal, limits.get("min"), limits.get("max"))
            for signal, limits in signals.items()
        )
        rules.append(FilterRule(name, bounds, any_of=name in any_of))
    return rules


def decide_all(
    rules: list[FilterRule], scores: Mapping[str, float]
) -> list[tuple[FilterRule, Verdict]]:
    return [(rule, rule.decide(scores)) for rule in rules]
