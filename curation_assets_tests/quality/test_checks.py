"""Great Expectations suites on their own, then as blocking, partitioned Dagster asset checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from curation_assets.assets.ingest import source_videos_integrity
from curation_assets.assets.shots import shot_clips_integrity
from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_junk import write_junk
from curation_assets.quality import shard_suites
from curation_assets.quality.expectations import combine
from curation_assets.resources import CurationResource, store_for
from curation_assets.steps import ingest

SHARD = "qa1"
THREE_SHOTS = VideoSpec("three shots.mp4", (Shot(6), Shot(5, "pan_right"), Shot(7, "pan_left")))
LONG_TAKE = VideoSpec("long take.mp4", (Shot(40),), fps=12)

# -- the shard suites on small frames ----------------------------------------------------------


def _videos(**changes) -> pd.DataFrame:
    rows = {
        "video_id": ["v1", "v2", "v3"],
        "file_name": ["a.mp4", "b.mp4", "c.txt"],
        "status": ["admitted", "admitted", "rejected"],
        "reason": [None, None, "unreadable"],
        "duration_s": [5.0, 119.5, None],
    }
    rows.update(changes)
    return pd.DataFrame(rows)


FILES = ["a.mp4", "b.mp4", "c.txt"]


def test_source_videos_suite_passes_on_good_rows() -> None:
    result = shard_suites.validate_source_videos(_videos(), FILES, 4.0, 120.0)
    assert result.passed, result.markdown()
    assert result.failures == []
    assert result.rows == 3
    assert result.statistics["evaluated_expectations"] == len(
        shard_suites.source_videos_expectations(FILES, 4.0, 120.0)
    )
    assert result.statistics["unsuccessful_expectations"] == 0


@pytest.mark.parametrize(
    ("changes", "files", "expectation", "column", "unexpected"),
    [
        (
            {"video_id": ["v1", "v1", "v3"]},
            FILES,
            "expect_column_values_to_be_unique",
            "video_id",
            ["v1", "v1"],
        ),
        (
            {"video_id": ["v1", None, "v3"]},
            FILES,
            "expect_column_values_to_not_be_null",
            "video_id",
            [None],
        ),
        (
            {"status": ["admitted", "pending", "rejected"]},
            FILES,
            "expect_column_values_to_be_in_set",
            "status",
            ["pending"],
        ),
        (
            {"reason": [None, None, "blurry"]},
            FILES,
            "expect_column_values_to_be_in_set",
            "reason",
            ["blurry"],
        ),
        (
            {"reason": [None, None, None]},
            FILES,
            "expect_column_values_to_not_be_null",
            "reason",
            [None],
        ),
        (
            {"reason": ["too_short", None, "unreadable"]},
            FILES,
            "expect_column_values_to_be_null",
            "reason",
            ["too_short"],
        ),
        (
            {"duration_s": [3.0, 119.5, None]},
            FILES,
            "expect_column_values_to_be_between",
            "duration_s",
            [3.0],
        ),
        (
            {"file_name": ["a.mp4", "b.mp4", "d.mp4"]},
            FILES,
            "expect_column_values_to_be_in_set",
            "file_name",
            ["d.mp4"],
        ),
    ],
)
def test_source_videos_suite_names_the_failing_expectation(
    changes: dict, files: list[str], expectation: str, column: str, unexpected: list
) -> None:
    result = shard_suites.validate_source_videos(_videos(**changes), files, 4.0, 120.0)
    assert not result.passed
    assert result.failed_expectations == [expectation], result.markdown()
    failure = result.failed(expectation, column)
    assert failure is not None and failure["column"] == column
    assert failure["unexpected_count"] == len(unexpected)
    assert failure["partial_unexpected_list"] == unexpected
    assert expectation in result.markdown()


def test_source_videos_suite_counts_rows_against_files() -> None:
    # a file of the shard without a row: the row count says so, nothing else is wrong
    result = shard_suites.validate_source_videos(_videos(), [*FILES, "lost.mp4"], 4.0, 120.0)
    assert result.failed_expectations == ["expect_table_row_count_to_equal"]
    failure = result.failed("expect_table_row_count_to_equal")
    assert failure["column"] is None and failure["observed_value"] == 3


def test_a_missing_column_fails_with_the_error_message() -> None:
    result = shard_suites.validate_source_videos(
        _videos().drop(columns=["status"]), FILES, 4.0, 120.0
    )
    assert not result.passed
    failure = result.failed("expect_column_values_to_be_in_set", "status")
    assert failure is not None and 'column "status"' in failure["exception"]


def _clips(**changes) -> pd.DataFrame:
    rows = {
        "clip_id": ["c1", "c2", "c3"],
        "video_id": ["v1", "v1", "v2"],
        "duration_s": [4.0, 16.0000004, 9.5],
        "spans_cut": [False, False, False],
        "video_admitted": [True, True, True],
    }
    rows.update(changes)
    return pd.DataFrame(rows)


def test_shot_clips_suite_passes_within_tolerance() -> None:
    result = shard_suites.validate_shot_clips(_clips(), 4.0, 16.0)
    assert result.passed, result.markdown()


@pytest.mark.parametrize(
    ("changes", "expectation", "column", "unexpected"),
    [
        (
            {"clip_id": ["c1", "c1", "c3"]},
            "expect_column_values_to_be_unique",
            "clip_id",
            ["c1", "c1"],
        ),
        ({"clip_id": ["c1", None, "c3"]}, "expect_column_values_to_not_be_null", "clip_id", [None]),
        (
            {"duration_s": [4.0, 20.0, 3.99]},
            "expect_column_values_to_be_between",
            "duration_s",
            [20.0, 3.99],
        ),
        (
            {"spans_cut": [False, True, False]},
            "expect_column_values_to_be_in_set",
            "spans_cut",
            [True],
        ),
        (
            {"video_admitted": [True, True, False]},
            "expect_column_values_to_be_in_set",
            "video_admitted",
            [False],
        ),
    ],
)
def test_shot_clips_suite_names_the_failing_expectation(
    changes: dict, expectation: str, column: str, unexpected: list
) -> None:
    result = shard_suites.validate_shot_clips(_clips(**changes), 4.0, 16.0)
    assert result.failed_expectations == [expectation], result.markdown()
    failure = result.failed(expectation, column)
    assert failure["unexpected_count"] == len(unexpected)
    assert failure["partial_unexpected_list"] == unexpected


def test_decode_pass_suite_wants_exactly_one_pass_per_admitted_video() -> None:
    good = pd.DataFrame(
        {"video_id": ["v1", "v2"], "admitted": [True, True], "decode_passes": [1, 1]}
    )
    assert shard_suites.validate_decode_passes(good).passed
    bad = pd.DataFrame(
        {
            "video_id": ["v1", "v2", "v3"],
            "admitted": [True, True, False],
            "decode_passes": [0, 2, 1],
        }
    )
    result = shard_suites.validate_decode_passes(bad)
    assert sorted(result.failed_expectations) == [
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    ]
    assert result.failed("expect_column_values_to_be_between")["partial_unexpected_list"] == [0, 2]
    assert result.failed("expect_column_values_to_be_in_set", "admitted")["unexpected_count"] == 1
    merged = combine("both", [shard_suites.validate_decode_passes(good), result])
    assert not merged.passed and len(merged.failures) == 2
    assert merged.statistics["evaluated_expectations"] == 6


# -- the asset checks on a real shard ----------------------------------------------------------


@pytest.fixture(scope="module")
def shard_home(tmp_path_factory: pytest.TempPathFactory):
    """One synthetic shard materialized for real (assets + checks), shared by the module."""
    home = tmp_path_factory.mktemp("quality") / "curation_home"
    folder = Layout(home).shard_uploads(SHARD)
    for spec in (THREE_SHOTS, LONG_TAKE):
        write_video(spec, folder / spec.name)
    junk = write_junk(folder)
    (folder / "_READY").write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATION_HOME", str(home))
        mp.delenv("CURATION_CONFIG", raising=False)
        result = _run(home)
    return home, result, 2 + len(junk)


def _run(home: Path) -> dg.ExecuteInProcessResult:
    """Materialize both per-shard assets and their checks for the shard, in one run."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [SHARD])
        return dg.materialize(
            [*PER_SHARD_ASSETS, source_videos_integrity, shot_clips_integrity],
            instance=instance,
            partition_key=SHARD,
            resources={"curation": CurationResource(home=str(home))},
            raise_on_error=False,
        )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _copy(shard_home, home: Path) -> Path:
    """The shared shard's data root copied into this test's own ``home``."""
    shutil.copytree(shard_home[0], home, dirs_exist_ok=True)
    return home


def _checks_only(home: Path, check) -> dg.ExecuteInProcessResult:
    """Run one check (no asset) for the shard, as a run launched for its partition would.

    dagster 1.13.27 refuses ``materialize(..., partition_key=...)`` when the selection holds
    checks but no asset ("no PartitionsDefinition shared by all the provided assets"), so the
    partition goes in as the run tag that ``partition_key`` would have set.
    """
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [SHARD])
        return dg.materialize(
            [*PER_SHARD_ASSETS, source_videos_integrity, shot_clips_integrity],
            instance=instance,
            selection=dg.AssetSelection.checks(check),
            tags={"dagster/partition": SHARD},
            resources={"curation": CurationResource(home=str(home))},
            raise_on_error=False,
        )


def test_checks_pass_on_a_real_shard(shard_home) -> None:
    home, result, files = shard_home
    assert result.success
    evaluations = _evaluations(result)
    assert set(evaluations) == {"videos_integrity", "clips_integrity"}
    for evaluation in evaluations.values():
        assert evaluation.passed, evaluation.metadata["failed_expectations"].value
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.partition == SHARD
        assert evaluation.metadata["expectations_failed"].value == 0
    videos = evaluations["videos_integrity"].metadata
    store = store_for(Layout(home))
    assert store.query("SELECT count(*) AS n FROM videos").item() == files
    assert videos["files"].value == videos["rows"].value == files
    assert videos["admitted"].value == 2
    clips = evaluations["clips_integrity"].metadata
    assert clips["clips"].value == store.query("SELECT count(*) FROM clips").item() == 5
    assert clips["clips_spanning_cuts"].value == 0
    assert clips["admitted_videos"].value == 2
    # blocking: shot_clips starts only after the videos check has passed
    steps_started = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert steps_started.index("source_videos_videos_integrity") < steps_started.index("shot_clips")


def test_checks_run_on_their_own_for_a_partition(shard_home, home: Path) -> None:
    result = _checks_only(_copy(shard_home, home), source_videos_integrity)
    assert result.success
    assert result.get_asset_materialization_events() == []  # the assets were not re-run
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "videos_integrity" and evaluation.passed


def _clip_rows(home: Path) -> list[dict]:
    return (
        store_for(Layout(home))
        .query("SELECT * FROM clips WHERE shard = ? ORDER BY clip_id", [SHARD])
        .to_dicts()
    )


def _video_id(home: Path, file_name: str) -> str:
    return (
        store_for(Layout(home))
        .query("SELECT video_id FROM videos WHERE file_name = ?", [file_name])
        .item()
    )


def test_a_clip_across_a_cut_or_too_long_fails_the_clip_check(shard_home, home: Path) -> None:
    home = _copy(shard_home, home)
    rows = _clip_rows(home)
    three, long_take = _video_id(home, THREE_SHOTS.name), _video_id(home, LONG_TAKE.name)
    base = {"shard": SHARD, "start_frame": None, "end_frame": None}
    rows += [
        # 6 s inside the bounds, but it crosses the cut at 6.0 s of "three shots"
        {
            **base,
            "clip_id": "bad-across",
            "video_id": three,
            "shot_index": 0,
            "start_s": 3.0,
            "end_s": 9.0,
            "duration_s": 6.0,
        },
        # inside the single 40 s shot of "long take", but 20 s long
        {
            **base,
            "clip_id": "bad-long",
            "video_id": long_take,
            "shot_index": 0,
            "start_s": 10.0,
            "end_s": 30.0,
            "duration_s": 20.0,
        },
    ]
    store_for(Layout(home)).replace("shot_clips", SHARD, {"clips": rows})

    result = _checks_only(home, shot_clips_integrity)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "clips_integrity"
    assert not evaluation.passed
    meta = evaluation.metadata
    assert meta["clips_spanning_cuts"].value == 1
    assert meta["clips_out_of_length"].value == 1
    assert "bad-across" in meta["spanning_examples"].value
    assert "bad-long" in meta["length_examples"].value
    failures = {(f["expectation"], f["column"]): f for f in meta["gx_failures"].value}
    assert set(failures) == {
        ("expect_column_values_to_be_in_set", "spans_cut"),
        ("expect_column_values_to_be_between", "duration_s"),
    }
    assert failures[("expect_column_values_to_be_between", "duration_s")][
        "partial_unexpected_list"
    ] == [20.0]


def test_a_clip_crossing_a_boundary_of_another_shot_fails(shard_home, home: Path) -> None:
    """The clip claims shot 1 of "three shots" but starts inside shot 0."""
    home = _copy(shard_home, home)
    three = _video_id(home, THREE_SHOTS.name)
    rows = [
        {**r, "start_s": 5.0, "duration_s": round(r["end_s"] - 5.0, 6)}
        if r["video_id"] == three and r["shot_index"] == 1
        else r
        for r in _clip_rows(home)
    ]
    store_for(Layout(home)).replace("shot_clips", SHARD, {"clips": rows})
    (evaluation,) = _checks_only(home, shot_clips_integrity).get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["clips_spanning_cuts"].value == 1
    assert evaluation.metadata["clips_out_of_length"].value == 0


def test_decode_passes_and_clip_videos_are_checked(shard_home, home: Path) -> None:
    home = _copy(shard_home, home)
    store = store_for(Layout(home))
    three = _video_id(home, THREE_SHOTS.name)
    rejected = store.query("SELECT video_id FROM videos WHERE status = 'rejected' LIMIT 1").item()
    passes = store.query("SELECT * FROM decode_passes WHERE video_id <> ?", [three]).to_dicts()
    clips = _clip_rows(home)
    clips[0] = {**clips[0], "video_id": rejected}
    store.replace("shot_clips", SHARD, {"decode_passes": passes, "clips": clips})

    (evaluation,) = _checks_only(home, shot_clips_integrity).get_asset_check_evaluations()
    assert not evaluation.passed
    meta = evaluation.metadata
    assert meta["videos_without_one_decode_pass"].value == 1
    assert meta["clips_of_unadmitted_videos"].value == 1
    failures = {(f["expectation"], f["column"]) for f in meta["gx_failures"].value}
    assert failures == {
        ("expect_column_values_to_be_between", "decode_passes"),
        ("expect_column_values_to_be_in_set", "video_admitted"),
        # the rejected video has no shots, so the moved clip is inside none of them either
        ("expect_column_values_to_be_in_set", "spans_cut"),
    }


def test_a_failed_videos_check_blocks_shot_clips_in_the_same_run(
    shard_home, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regression in admission that silently drops a file must not reach decoding."""
    home = _copy(shard_home, home)
    real = ingest.admit_shard

    def admit_but_lose_one(*args, **kwargs):
        rows = real(*args, **kwargs)
        return [r for r in rows if r["file_name"] != THREE_SHOTS.name]

    monkeypatch.setattr(ingest, "admit_shard", admit_but_lose_one)
    # the shared shard's shot_clips output would be stale after this run: start from none
    shutil.rmtree(Layout(home).lineage_parts / "clips")

    result = _run(home)
    assert not result.success
    evaluations = _evaluations(result)
    assert set(evaluations) == {"videos_integrity"}  # clips_integrity never ran
    videos = evaluations["videos_integrity"]
    assert not videos.passed and videos.severity == dg.AssetCheckSeverity.ERROR
    assert THREE_SHOTS.name in videos.metadata["files_without_row"].value
    failed = [f["expectation"] for f in videos.metadata["gx_failures"].value]
    assert failed == ["expect_table_row_count_to_equal"]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"source_videos"}
    # the blocking check failed its step; shot_clips never started (its upstream failed)
    assert [e.step_key for e in result.get_step_failure_events()] == [
        "source_videos_videos_integrity"
    ]
    assert "shot_clips" not in {e.step_key for e in result.all_events}
    assert store_for(Layout(home)).query("SELECT count(*) FROM clips").item() == 0
