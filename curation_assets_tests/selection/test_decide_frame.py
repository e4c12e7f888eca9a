"""The vectorised rules decide exactly like FilterRule.decide, row by row."""

import math
import random

import polars as pl
import pytest

from curation_assets.selection.thresholds import Bound, FilterRule, decide_frame

RULES = [
    FilterRule("both", (Bound("x", 0.2, 0.8), Bound("y", None, 0.5))),
    FilterRule("first_measured", (Bound("x", 0.3), Bound("z", 1, 2)), any_of=True),
    FilterRule("unmeasured", (Bound("q", 0, 1),)),
]


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row = {}
        for signal in "xyz":
            draw = rng.random()
            row[signal] = None if draw < 0.3 else math.nan if draw < 0.35 else rng.random() * 2.5
        rows.append(row)
    return rows


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_frame_matches_row_by_row(rule):
    rows = _rows(2000, seed=7)
    frame = pl.DataFrame(rows, schema={s: pl.Float64 for s in "xyz"}, nan_to_null=False)
    out = decide_frame(rule, frame)
    outcomes = set()
    for row, got in zip(rows, out.iter_rows(named=True), strict=True):
        verdict = rule.decide({k: v for k, v in row.items() if v is not None})
        assert (got["passed"], str(got["threshold"]), str(got["reason"])) == (
            verdict.passed,
            verdict.threshold,
            verdict.reason,
        ), row
        assert got["value"] == verdict.value or (got["value"] is None and verdict.value is None)
        outcomes.add(verdict.passed)
    if rule.name != "unmeasured":
        assert outcomes == {True, False, None}  # every branch was exercised
    else:
        assert outcomes == {None}
