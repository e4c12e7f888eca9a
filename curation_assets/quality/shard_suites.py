"""The suites of one shard's lineage rows: its ``videos`` (admission), ``clips`` (shot cuts)
and decode passes, each as a list of :class:`Expect` and a ``validate_*`` that runs it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from curation_assets.quality.expectations import Expect, ValidationResult, expect, validate_frame
from curation_assets.vocabulary import Admission, Media, VideoStatus

DURATION_TOLERANCE_S = 1e-6


def source_videos_expectations(
    expected_files: Sequence[str],
    min_duration_s: float,
    max_duration_s: float,
    reasons: Iterable[str] = tuple(Admission),
) -> list[Expect]:
    """``videos`` rows of one shard: one per file, unique ids, known status and reasons."""
    admitted = {"status": VideoStatus.ADMITTED.value}
    admitted_video = {**admitted, "media": Media.VIDEO.value}
    rejected = {"status": VideoStatus.REJECTED.value}
    files = sorted(set(expected_files))
    return [
        expect(
            "expect_table_row_count_to_equal",
            "exactly one row per file of the shard",
            value=len(files),
        ),
        expect("expect_column_values_to_not_be_null", column="file_name"),
        expect("expect_column_values_to_be_unique", column="file_name"),
        expect(
            "expect_column_values_to_be_in_set",
            "every row names a file of the shard",
            column="file_name",
            value_set=files,
        ),
        expect("expect_column_values_to_not_be_null", column="video_id"),
        expect("expect_column_values_to_be_unique", column="video_id"),
        expect("expect_column_values_to_not_be_null", column="status"),
        expect(
            "expect_column_values_to_be_in_set",
            column="status",
            value_set=[s.value for s in VideoStatus],
        ),
        expect(
            "expect_column_values_to_not_be_null",
            "a rejected file says why",
            column="reason",
            where=rejected,
        ),
        expect(
            "expect_column_values_to_be_in_set",
            "rejection reasons come from the admission vocabulary",
            column="reason",
            value_set=sorted(str(r) for r in reasons),
            where=rejected,
        ),
        expect(
            "expect_column_values_to_be_null",
            "an admitted file has no rejection reason",
            column="reason",
            where=admitted,
        ),
        expect(
            "expect_column_values_to_not_be_null",
            column="duration_s",
            where=admitted_video,
        ),
        expect(
            "expect_column_values_to_be_between",
            "admitted durations lie within admission bounds",
            column="duration_s",
            min_value=min_duration_s,
            max_value=max_duration_s,
            where=admitted_video,
        ),
        expect(
            "expect_column_values_to_be_null",
            "a still image has no duration",
            column="duration_s",
            where={**admitted, "media": Media.IMAGE.value},
        ),
    ]


def validate_source_videos(
    videos: pd.DataFrame,
    expected_files: Sequence[str],
    min_duration_s: float,
    max_duration_s: float,
    reasons: Iterable[str] = tuple(Admission),
) -> ValidationResult:
    return validate_frame(
        with_media(videos),
        "source_videos",
        source_videos_expectations(expected_files, min_duration_s, max_duration_s, reasons),
    )


def shot_clips_expectations(
    min_s: float, max_s: float, tolerance_s: float = DURATION_TOLERANCE_S
) -> list[Expect]:
    """``clips`` rows of one shard plus two derived boolean columns.

    ``spans_cut``: the clip is not inside its shot, or another shot boundary of its video lies
    strictly inside it. ``video_admitted``: its video is an admitted video of the shard.
    """
    return [
        expect("expect_column_values_to_not_be_null", column="clip_id"),
        expect("expect_column_values_to_be_unique", column="clip_id"),
        expect("expect_column_values_to_not_be_null", column="duration_s"),
        expect(
            "expect_column_values_to_be_between",
            "clip length within clips.min_s..clips.max_s",
            column="duration_s",
            min_value=min_s - tolerance_s,
            max_value=max_s + tolerance_s,
            where={"media": Media.VIDEO.value},
        ),
        expect(
            "expect_column_values_to_be_between",
            "an image's clip has no time span",
            column="duration_s",
            min_value=0.0,
            max_value=0.0,
            where={"media": Media.IMAGE.value},
        ),
        expect(
            "expect_column_values_to_be_in_set",
            "no clip spans a detected cut",
            column="spans_cut",
            value_set=[False],
        ),
        expect("expect_column_values_to_not_be_null", column="spans_cut"),
        expect(
            "expect_column_values_to_be_in_set",
            "every clip comes from an admitted video of the shard",
            column="video_admitted",
            value_set=[True],
        ),
        expect("expect_column_values_to_not_be_null", column="video_admitted"),
    ]


def validate_shot_clips(
    clips: pd.DataFrame, min_s: float, max_s: float, tolerance_s: float = DURATION_TOLERANCE_S
) -> ValidationResult:
    return validate_frame(
        with_media(clips), "shot_clips", shot_clips_expectations(min_s, max_s, tolerance_s)
    )


def with_media(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows written before images existed have no ``media``: they are videos."""
    media = frame["media"] if "media" in frame.columns else None
    if media is None:
        return frame.assign(media=Media.VIDEO.value)
    return frame.assign(media=media.fillna(Media.VIDEO.value))


def decode_passes_expectations() -> list[Expect]:
    """One row per video that is admitted or has a decode pass: ``admitted``, ``decode_passes``."""
    return [
        expect("expect_column_values_to_be_unique", column="video_id"),
        expect(
            "expect_column_values_to_be_in_set",
            "decode passes only for admitted videos",
            column="admitted",
            value_set=[True],
        ),
        expect(
            "expect_column_values_to_be_between",
            "every admitted video has exactly one decode pass",
            column="decode_passes",
            min_value=1,
            max_value=1,
        ),
    ]


def validate_decode_passes(coverage: pd.DataFrame) -> ValidationResult:
    return validate_frame(coverage, "decode_passes", decode_passes_expectations())
