"""visual_filter and motion_filter materialized on a shard of clips with known truth."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from curation_assets.assets.filters import FILTER_CHECKS
from curation_assets.assets.ingest import source_videos_integrity
from curation_assets.assets.shots import shot_clips_integrity
from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for

# name -> shot; every video is one 5 s shot, so one clip each (0.25-5.0 s)
CASES = {
    "clean": Shot(5, "drift", seed=11),
    "titles": Shot(5, "drift", seed=11, effects=("title", "text")),
    "letterbox": Shot(5, "drift", seed=11, effects=("letterbox:0.125",)),
    "blurred": Shot(5, "drift", seed=11, effects=("blur:3",)),
    "dark": Shot(5, "drift", seed=11, effects=("dark:0.15",)),
    "still": Shot(5, "static", seed=12, objects=0),
    "pan_right": Shot(5, "pan_right", seed=13),
    "pan_left": Shot(5, "pan_left", seed=13),
    "tilt_down": Shot(5, "tilt_down", seed=14),
    "zoom_in": Shot(5, "zoom_in", seed=15),
    "zoom_out": Shot(5, "zoom_out", seed=15),
    "shaky": Shot(5, "shake", seed=16),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("filters_home")
    folder = Layout(home).shard_uploads("truth")
    for name, shot in CASES.items():
        write_video(VideoSpec(f"{name}.mp4", (shot,), 640, 360, 24), folder / f"{name}.mp4")
    (folder / "_READY").write_text("")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["truth"])
        result = dg.materialize(
            [*PER_SHARD_ASSETS, source_videos_integrity, shot_clips_integrity, *FILTER_CHECKS],
            instance=instance,
            partition_key="truth",
            resources={"curation": CurationResource(home=str(home))},
        )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    clips = store_for(Layout(home)).query(
        "SELECT regexp_replace(v.file_name, '\\.mp4$', '') AS name, c.clip_id "
        "FROM clips c JOIN videos v USING (video_id)"
    )
    return home, dict(zip(clips["name"], clips["clip_id"], strict=True))


def _failed(home: Path, clip_id: str, stage: str) -> set[str]:
    rows = store_for(Layout(home)).query(
        "SELECT filter FROM decisions WHERE clip_id = ? AND stage = ? AND passed = false",
        [clip_id, stage],
    )
    return set(rows["filter"])


def _score(home: Path, clip_id: str, signal: str) -> float:
    return (
        store_for(Layout(home))
        .query("SELECT value FROM scores WHERE clip_id = ? AND signal = ?", [clip_id, signal])
        .item()
    )


def _label(home: Path, clip_id: str, kind: str) -> str:
    return (
        store_for(Layout(home))
        .query("SELECT label FROM clip_labels WHERE clip_id = ? AND kind = ?", [clip_id, kind])
        .item()
    )


def test_every_case_gives_one_clip(scored) -> None:
    _, clips = scored
    assert sorted(clips) == sorted(CASES)


def test_clean_clip_passes_every_visual_filter(scored) -> None:
    home, clips = scored
    assert _failed(home, clips["clean"], "visual_filter") == set()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("titles", "text_overlay", id="burned-in text"),
        pytest.param("blurred", "sharpness", id="blur"),
        pytest.param("dark", "exposure", id="dark"),
    ],
)
def test_visual_rejections_at_default_thresholds(scored, case: str, expected: str) -> None:
    home, clips = scored
    assert expected in _failed(home, clips[case], "visual_filter")


def test_letterbox_bars_are_measured_and_pass_the_loose_gate(scored) -> None:
    home, clips = scored
    clip = clips["letterbox"]
    assert _score(home, clip, "border_top") == pytest.approx(0.125, abs=0.015)
    assert _score(home, clip, "border_bottom") == pytest.approx(0.125, abs=0.015)
    assert _score(home, clip, "border_left") == 0
    assert _score(home, clips["clean"], "border_area") == 0


def test_text_area_separates_text_from_clean(scored) -> None:
    home, clips = scored
    clean, titled = (_score(home, clips[k], "text_area") for k in ("clean", "titles"))
    assert clean < 0.005 < titled


@pytest.mark.parametrize("case", ["pan_right", "pan_left", "tilt_down", "zoom_in", "zoom_out"])
def test_camera_motion_class_matches_the_synthetic_camera(scored, case: str) -> None:
    home, clips = scored
    assert _label(home, clips[case], "camera_motion") == case


def test_still_frame_is_static_and_shaky_clip_is_handheld_with_jitter(scored) -> None:
    home, clips = scored
    assert "static" in _failed(home, clips["still"], "motion_filter")
    assert _label(home, clips["still"], "camera_motion") == "static"
    assert _label(home, clips["shaky"], "camera_motion") == "handheld"
    assert "jitter" in _failed(home, clips["shaky"], "motion_filter")
    assert "jitter" not in _failed(home, clips["pan_right"], "motion_filter")


def test_resolution_tier_and_orientation_labels(scored) -> None:
    home, clips = scored
    assert _label(home, clips["clean"], "resolution_tier") == "360p"
    assert _label(home, clips["clean"], "orientation") == "landscape"


def test_rescoring_with_a_new_threshold_decodes_nothing_and_gives_the_same_scores(
    scored, tmp_path: Path
) -> None:
    """Re-materializing a filter reads stored samples only: deleting the videos changes nothing."""
    import shutil

    home, clips = scored
    store = store_for(Layout(home))
    before = store.query("SELECT * FROM scores ORDER BY clip_id, signal")
    copy = tmp_path / "home"
    shutil.copytree(home, copy, symlinks=True)
    for video in (copy / "uploads" / "truth").glob("*.mp4"):
        video.unlink()  # the filters must not need them
    (copy / "curation.yaml").write_text(
        "filters:\n  visual_filter:\n    sharpness: {sharpness: {min: 1.0e9}}\n"
    )
    # the samples paths in lineage point at the original home; re-point them at the copy
    resource = CurationResource(home=str(copy))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["truth"])
        result = dg.materialize(
            PER_SHARD_ASSETS,
            instance=instance,
            partition_key="truth",
            resources={"curation": resource},
            selection=["visual_filter", "motion_filter"],
        )
    assert result.success
    after = store_for(Layout(copy)).query("SELECT * FROM scores ORDER BY clip_id, signal")
    assert after.equals(before)
    failed = (
        store_for(Layout(copy))
        .query(
            "SELECT count(*) FROM decisions WHERE stage = 'visual_filter' AND filter = 'sharpness' "
            "AND passed = false"
        )
        .item()
    )
    assert failed == len(clips)
    assert isinstance(before, pl.DataFrame)
