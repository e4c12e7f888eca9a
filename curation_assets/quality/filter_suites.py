"""The suites of one filter family's rows in a shard: its ``scores`` (finite, within each
signal's declared range) and its coverage (every clip scored and decided)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from curation_assets.quality.expectations import (
    Expect,
    ValidationResult,
    combine,
    expect,
    validate_frame,
)


def filter_scores_expectations(
    ranges: Mapping[str, tuple[float | None, float | None]],
) -> list[Expect]:
    """``scores`` rows of one filter family and shard: finite values, each signal in its range."""
    specs = [
        expect("expect_column_values_to_not_be_null", column="value"),
        expect(
            "expect_column_values_to_be_in_set",
            "scores are finite numbers",
            column="finite",
            value_set=[True],
        ),
    ]
    for signal, (low, high) in sorted(ranges.items()):
        if low is None and high is None:
            continue
        specs.append(
            expect(
                "expect_column_values_to_be_between",
                f"{signal} within its declared range",
                where={"signal": signal},
                column="value",
                min_value=low,
                max_value=high,
            )
        )
    return specs


def filter_coverage_expectations(signals: int) -> list[Expect]:
    """One row per clip of the shard: whether it has the declared signals (an image: those one
    picture can show), and its decisions beyond one per configured filter of its media kind."""
    return [
        expect("expect_column_values_to_be_unique", column="clip_id"),
        expect(
            "expect_column_values_to_be_in_set",
            f"every clip scored on all {signals} signals (unless an analysis_error is recorded)",
            column="complete",
            value_set=[True],
        ),
        expect(
            "expect_column_values_to_be_between",
            "one decision per configured filter of the clip's media kind",
            column="extra_decisions",
            min_value=0,
            max_value=1,  # + an analysis_error row
        ),
    ]


def validate_filter_scores(
    family: str,
    scores: pd.DataFrame,
    coverage: pd.DataFrame,
    ranges: Mapping[str, tuple[float | None, float | None]],
    signals: int,
) -> ValidationResult:
    return combine(
        family,
        [
            validate_frame(scores, f"{family}_scores", filter_scores_expectations(ranges)),
            validate_frame(coverage, f"{family}_coverage", filter_coverage_expectations(signals)),
        ],
    )
