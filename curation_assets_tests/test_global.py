"""near_duplicates and concepts across shards, materialized for real."""

from __future__ import annotations

from pathlib import Path

import av
import dagster as dg
import numpy as np
import pytest

from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, encode_frames, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets_tests.materialize import materialize_shard


def _reencode(source: Path, target: Path, width: int, height: int, crf: int) -> Path:
    """A re-encoded, rescaled copy of the same footage (what a re-upload looks like)."""
    with av.open(str(source)) as src:
        images = (
            av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), "rgb24")
            .reformat(width=width, height=height)
            .to_ndarray()
            for f in src.decode(video=0)
        )
        return encode_frames(target, images, 24, {"crf": str(crf), "preset": "ultrafast"})


def _materialize(home: Path, shard: str) -> dg.ExecuteInProcessResult:
    return materialize_shard(home, shard, with_global=True)


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("global_home")
    layout = Layout(home)
    original = write_video(
        VideoSpec("original.mp4", (Shot(6, "pan_right", seed=31),), 640, 360),
        layout.shard_uploads("first") / "original.mp4",
    )
    write_video(
        VideoSpec("other.mp4", (Shot(6, "pan_left", seed=32),), 640, 360),
        layout.shard_uploads("first") / "other.mp4",
    )
    (layout.shard_uploads("first") / "_READY").write_text("")
    first = _materialize(home, "first")
    second_dir = layout.shard_uploads("second")
    second_dir.mkdir(parents=True)
    _reencode(original, second_dir / "reupload small.mp4", 320, 180, 32)
    write_video(
        VideoSpec("third.mp4", (Shot(6, "tilt_down", seed=33),), 640, 360), second_dir / "third.mp4"
    )
    (second_dir / "_READY").write_text("")
    second = _materialize(home, "second")
    return home, first, second


def _md(result, asset: str) -> dict:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_reencoded_rescaled_copy_in_another_shard_joins_the_original(two_shards) -> None:
    home, _, _ = two_shards
    store = store_for(Layout(home))
    groups = store.query(
        "SELECT v.file_name, l.label FROM clip_labels l JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE l.kind = 'duplicate_group' ORDER BY v.file_name"
    )
    assert groups["file_name"].to_list() == ["original.mp4", "reupload small.mp4"]
    assert groups["label"].n_unique() == 1
    kept = store.query(
        "SELECT v.file_name, d.passed FROM decisions d JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE d.stage = 'near_duplicates' ORDER BY v.file_name"
    ).rows()
    assert kept == [("original.mp4", True), ("reupload small.mp4", False)]  # higher resolution


def test_a_new_shard_is_compared_only_with_what_is_indexed(two_shards) -> None:
    _, first, second = two_shards
    counters_first = _md(first, "near_duplicates")
    counters_second = _md(second, "near_duplicates")
    assert counters_first["counter_comparisons_old_vs_old"] == 0
    assert counters_second["counter_comparisons_old_vs_old"] == 0
    # shard 2 (2 clips) against shard 1 (2 clips): 4 new x old pairs, none of shard 1's own again
    grown = (
        counters_second["counter_comparisons_new_vs_old"]
        - counters_first["counter_comparisons_new_vs_old"]
    )
    assert grown == 4


def test_concept_weights_are_inverse_sqrt_cluster_size_normalised(two_shards) -> None:
    home, _, _ = two_shards
    store = store_for(Layout(home))
    rows = store.query(
        "SELECT l.label, s.value FROM clip_labels l JOIN scores s USING (clip_id) "
        "WHERE l.kind = 'concept' AND s.signal = 'concept_weight'"
    )
    sizes = rows.group_by("label").len()
    size_of = dict(zip(sizes["label"], sizes["len"], strict=True))
    raw = np.array([1 / np.sqrt(size_of[label]) for label in rows["label"]])
    expected = raw * len(raw) / raw.sum()
    assert np.allclose(np.sort(rows["value"].to_numpy()), np.sort(expected))
    assert rows["value"].mean() == pytest.approx(1.0)


def test_global_and_caption_checks_pass_on_real_data(two_shards) -> None:
    home, first, second = two_shards
    from curation_assets.definitions import GLOBAL_ASSETS as assets
    from curation_assets.definitions import GLOBAL_CHECKS

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*assets, *GLOBAL_CHECKS],
            instance=instance,
            resources={"curation": CurationResource(home=str(home))},
        )
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"one_representative_per_group": True, "concept_weights_valid": True}


def test_global_assets_are_requested_by_automation_after_a_shard(tmp_path: Path) -> None:
    """With dagster dev's daemon, new shard outputs make the global assets re-materialize."""
    home = tmp_path / "home"
    folder = Layout(home).shard_uploads("auto")
    write_video(VideoSpec("x.mp4", (Shot(5, "pan_right", seed=51),)), folder / "x.mp4")
    (folder / "_READY").write_text("")
    resources = {"curation": CurationResource(home=str(home))}
    from curation_assets.definitions import defs

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["auto"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # a tick before
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key="auto", resources=resources
        ).success
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
    requested = {r.key.path[-1] for r in result.results if r.true_subset.size}
    assert {"near_duplicates", "concepts"} <= requested
