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

import polars as pl

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


# -- the same rules over a whole frame at once ---------------------------------------------------
# Subsets re-select over millions of clips: one Python call per clip and filter would take
# minutes, so the rules are also compiled to Polars expressions with the same semantics as
# ``FilterRule.decide`` (tested against it).


def _limits_expr(bound: Bound, col: pl.Expr) -> pl.Expr:
    ok = ~col.is_nan()  # a NaN score fails, like an unparseable one in ``decide``
    if bound.min is not None:
        ok = ok & (col >= bound.min)
    if bound.max is not None:
        ok = ok & (col <= bound.max)
    return ok


def _margin_expr(bound: Bound, col: pl.Expr) -> pl.Expr:
    gaps = []
    if bound.min is not None:
        gaps.append((col - bound.min) / max(abs(bound.min), 1e-9))
    if bound.max is not None:
        gaps.append((bound.max - col) / max(abs(bound.max), 1e-9))
    return gaps[0] if len(gaps) == 1 else pl.min_horizontal(*gaps)


def _first(pairs: list[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr) -> pl.Expr:
    if not pairs:
        return otherwise
    chain = pl.when(pairs[0][0]).then(pairs[0][1])
    for cond, value in pairs[1:]:
        chain = chain.when(cond).then(value)
    return chain.otherwise(otherwise)


def decide_frame(rule: FilterRule, frame: pl.DataFrame) -> pl.DataFrame:
    """``rule`` over every row of ``frame`` (one column per signal; missing column = not
    measured) -> columns ``passed`` (null = not scored), ``value``, ``threshold``, ``reason``.

    Threshold and reason texts come from a handful of codes (which bound failed, which were
    measured), so they are built once per rule, not once per row."""
    k = len(rule.bounds)
    cols = [
        pl.col(b.signal).cast(pl.Float64)
        if b.signal in frame.columns
        else pl.lit(None, dtype=pl.Float64)
        for b in rule.bounds
    ]
    present = [c.is_not_null() for c in cols]
    any_present = pl.any_horizontal(*present)
    texts = {-1: rule.threshold}  # code -> threshold text
    if rule.any_of:
        idx = _first([(p, pl.lit(i)) for i, p in enumerate(present)], pl.lit(-1))
        holds = _first(
            [(p, _limits_expr(b, c)) for p, b, c in zip(present, rule.bounds, cols, strict=True)],
            pl.lit(None, dtype=pl.Boolean),
        )
        passed = pl.when(any_present).then(holds)
        value = pl.coalesce(cols)
        code = idx  # the deciding bound, pass or fail
        texts |= {i: b.describe() for i, b in enumerate(rule.bounds)}
    else:
        fails = [
            p & ~_limits_expr(b, c) for p, b, c in zip(present, rule.bounds, cols, strict=True)
        ]
        any_fail = pl.any_horizontal(*fails)
        margins = [
            pl.when(p).then(_margin_expr(b, c))
            for p, b, c in zip(present, rule.bounds, cols, strict=True)
        ]
        closest = pl.min_horizontal(*margins)
        pass_value = _first(
            [(m == closest, c) for m, c in zip(margins, cols, strict=True)],
            pl.lit(None, dtype=pl.Float64),
        )
        fail_idx = _first([(f, pl.lit(i)) for i, f in enumerate(fails)], pl.lit(-1))
        mask = pl.sum_horizontal(*[p.cast(pl.Int64) * (1 << i) for i, p in enumerate(present)])
        passed = pl.when(any_present).then(~any_fail)
        value = (
            pl.when(any_fail)
            .then(_first(list(zip(fails, cols, strict=True)), pl.lit(None, dtype=pl.Float64)))
            .otherwise(pass_value)
        )
        # codes: -1 none measured, 0..k-1 that bound failed, 1000 + mask: passed with those
        code = (
            pl.when(~any_present)
            .then(pl.lit(-1))
            .when(any_fail)
            .then(fail_idx)
            .otherwise(1000 + mask)
        )
        texts |= {i: b.describe() for i, b in enumerate(rule.bounds)}
        for m in range(1, 1 << k):
            texts[1000 + m] = " and ".join(
                b.describe() for i, b in enumerate(rule.bounds) if m >> i & 1
            )
    wanted = ", ".join(b.signal for b in rule.bounds)
    reasons = {0: f"{NOT_SCORED}: no {wanted}", 1: "ok", 2: rule.name}
    # with_columns broadcasts literals to the frame's height (a rule none of whose signals is a
    # column of the frame is all literals)
    out = (
        frame.with_columns(
            passed.alias("__passed"),
            value.fill_nan(None).alias("__value"),
            code.cast(pl.Int64).alias("__code"),
        )
        .select(pl.col("__passed").alias("passed"), pl.col("__value").alias("value"), "__code")
        .with_columns(
            pl.when(pl.col("passed").is_null())
            .then(None)
            .otherwise(pl.col("value"))
            .alias("value"),
            pl.when(pl.col("passed").is_null())
            .then(0)
            .when(pl.col("passed"))
            .then(1)
            .otherwise(2)
            .alias("__reason"),
        )
    )
    return out.select(
        "passed",
        "value",
        pl.col("__code").replace_strict(texts, return_dtype=pl.Categorical).alias("threshold"),
        pl.col("__reason").replace_strict(reasons, return_dtype=pl.Categorical).alias("reason"),
    )
