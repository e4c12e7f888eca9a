"""Near-duplicates, ``frame_of`` and concepts for still images, materialized for real: two shards
of scikit-image photos, a half-size JPEG q70 re-encode, a 5%-cropped copy, a smaller copy cut on
the left and a smaller mirrored copy (found by the window keys), two synthetic videos,
a video of a still photo and a PNG grabbed from one video's frames. The pieces on their own:
``test_image_hashes.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import dagster as dg
import numpy as np
import polars as pl
import pytest
from PIL import Image

from curation_assets.config import CurationConfig, Layout
from curation_assets.definitions import GLOBAL_ASSETS
from curation_assets.lineage.queries import explain
from curation_assets.media.synthetic import Shot, VideoSpec, encode_frames, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.selection.dedup import DuplicateIndex
from curation_assets.steps import near_duplicates
from curation_assets.storage.vectors import load_vectors
from curation_assets_tests.materialize import materialize_shard
from curation_assets_tests.selection.test_image_hashes import (
    PHOTOS,
    crop_each_side,
    cut_left_mirrored,
    half_q70,
)

# --- materialized: two shards of photos, copies, videos and a frame grab ------------------------

SHARD_PHOTOS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "moon.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)
FRAME_INDEX = 50  # 2.08 s at 24 fps: between two 2-per-second samples


def _materialize(home: Path, shard: str) -> None:
    materialize_shard(home, shard, with_global=True)


def _frame(video: Path, index: int) -> np.ndarray:
    with av.open(str(video)) as src:
        for i, frame in enumerate(src.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{video} has no frame {index}")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("image_dedup_home")
    layout = Layout(home)
    first = layout.shard_uploads("first")
    first.mkdir(parents=True)
    for name in SHARD_PHOTOS:
        (first / name).write_bytes((PHOTOS / name).read_bytes())
    write_video(VideoSpec("pan.mp4", (Shot(6, "pan_right", seed=41),), 640, 360), first / "pan.mp4")
    # a video of a still photo: the same picture as astronaut.png, yet never in its group
    with Image.open(PHOTOS / "astronaut.png") as img:
        still = np.asarray(img.convert("RGB"))
    encode_frames(first / "astronaut still.mp4", (still for _ in range(24 * 5)), 24)
    (first / "_READY").write_text("")
    _materialize(home, "first")

    second = layout.shard_uploads("second")
    second.mkdir(parents=True)
    half_q70(PHOTOS / "astronaut.png", second / "astronaut half.jpg")
    crop_each_side(PHOTOS / "coffee.png", second / "coffee crop.png")
    for name, left, mirror in (("camera left.png", 0.12, False), ("grass mirror.png", 0, True)):
        source = PHOTOS / name.replace(" left", "").replace(" mirror", "")
        cut_left_mirrored(source, second / name, left, mirror)
        with Image.open(second / name) as img:  # smaller, so the original is the one kept
            img.resize((img.width * 3 // 4, img.height * 3 // 4)).save(second / name)
    Image.fromarray(_frame(first / "pan.mp4", FRAME_INDEX)).save(second / "pan frame.png")
    write_video(
        VideoSpec("tilt.mp4", (Shot(6, "tilt_down", seed=42),), 640, 360), second / "tilt.mp4"
    )
    (second / "_READY").write_text("")
    _materialize(home, "second")
    return home


def _clips(home: Path) -> dict[str, dict]:
    rows = store_for(Layout(home)).query(
        "SELECT v.file_name, c.clip_id, coalesce(c.media, 'video') AS media "
        "FROM clips c JOIN videos v USING (video_id)"
    )
    return {r["file_name"]: r for r in rows.iter_rows(named=True)}


def test_copies_join_their_originals_and_the_smaller_copy_is_dropped(mixed) -> None:
    store, clips = store_for(Layout(mixed)), _clips(mixed)
    names = {c["clip_id"]: name for name, c in clips.items()}
    labels = store.query(
        "SELECT clip_id, label FROM clip_labels WHERE kind = 'duplicate_group' ORDER BY clip_id"
    )
    groups: dict[str, set[str]] = {}
    for cid, label in labels.rows():
        groups.setdefault(label, set()).add(names[cid])
    assert sorted(groups.values(), key=sorted) == [
        {"astronaut half.jpg", "astronaut.png"},
        {"camera left.png", "camera.png"},
        {"coffee crop.png", "coffee.png"},
        {"grass mirror.png", "grass.png"},
    ]
    decisions = store.query(
        "SELECT clip_id, passed, reason FROM decisions "
        "WHERE stage = 'near_duplicates' AND filter = 'near_duplicate'"
    )
    verdict = {names[c]: (p, r) for c, p, r in decisions.rows()}
    for original, copy in (
        ("astronaut.png", "astronaut half.jpg"),
        ("coffee.png", "coffee crop.png"),
        ("camera.png", "camera left.png"),
        ("grass.png", "grass mirror.png"),
    ):
        assert verdict[original][0] is True
        passed, reason = verdict[copy]
        assert passed is False
        assert clips[original]["clip_id"] in reason and "higher resolution" in reason, reason
    trail = explain(store, clips["coffee crop.png"]["clip_id"])
    (dup,) = [d for d in trail["decisions"] if d["filter"] == "near_duplicate"]
    assert clips["coffee.png"]["clip_id"] in dup["reason"]


def test_images_and_videos_are_never_in_one_group(mixed) -> None:
    store, clips = store_for(Layout(mixed)), _clips(mixed)
    media = {c["clip_id"]: c["media"] for c in clips.values()}
    labels = store.query("SELECT clip_id, label FROM clip_labels WHERE kind = 'duplicate_group'")
    kinds = labels.with_columns(media=pl.col("clip_id").replace_strict(media)).group_by("label")
    assert all(n == 1 for n in kinds.agg(pl.col("media").n_unique())["media"])
    assert clips["astronaut still.mp4"]["clip_id"] not in set(labels["clip_id"])


def test_a_frame_grab_is_labelled_frame_of_its_clip_and_nothing_is_dropped(mixed) -> None:
    store, clips = store_for(Layout(mixed)), _clips(mixed)
    names = {c["clip_id"]: name for name, c in clips.items()}
    frame_of = store.query(
        "SELECT clip_id, label, confidence FROM clip_labels WHERE kind = 'frame_of'"
    )
    found = {(names[c], names[label]) for c, label, _ in frame_of.rows()}
    # the grab of pan.mp4, and the astronaut photo and its copy: frames of the still video
    assert found == {
        ("pan frame.png", "pan.mp4"),
        ("astronaut.png", "astronaut still.mp4"),
        ("astronaut half.jpg", "astronaut still.mp4"),
    }
    assert all(0.85 < conf <= 1.0 for conf in frame_of["confidence"])
    grab, pan = clips["pan frame.png"]["clip_id"], clips["pan.mp4"]["clip_id"]
    for cid in (grab, pan):
        decisions = [d for d in explain(store, cid)["decisions"] if d["stage"] == "near_duplicates"]
        assert [(d["filter"], d["passed"]) for d in decisions] == [("frame_of", True)]
    (mine,) = [d for d in explain(store, grab)["decisions"] if d["filter"] == "frame_of"]
    assert mine["reason"].startswith(f"frame of {pan} (")


def test_drop_frames_of_videos_drops_the_image_instead(mixed) -> None:
    layout, clips = Layout(mixed), _clips(mixed)
    cfg = CurationConfig()
    cfg = cfg.model_copy(
        update={"dedup": cfg.dedup.model_copy(update={"drop_frames_of_videos": True})}
    )
    result = near_duplicates.update_duplicates(layout, store_for(layout), cfg)
    frame_of = {d["clip_id"]: d for d in result.decisions if d["filter"] == "frame_of"}
    grab, pan = clips["pan frame.png"]["clip_id"], clips["pan.mp4"]["clip_id"]
    assert frame_of[grab]["passed"] is False and "drop_frames_of_videos" in frame_of[grab]["reason"]
    assert frame_of[pan]["passed"] is True
    assert result.counters["frame_of_comparisons"] == 0  # nothing new to compare


def test_concepts_are_per_media_kind(mixed) -> None:
    store, clips = store_for(Layout(mixed)), _clips(mixed)
    media = {c["clip_id"]: c["media"] for c in clips.values()}
    rows = store.query(
        "SELECT l.clip_id, l.label, s.value FROM clip_labels l JOIN scores s USING (clip_id) "
        "WHERE l.kind = 'concept' AND s.signal = 'concept_weight'"
    ).with_columns(media=pl.col("clip_id").replace_strict(media))
    assert set(rows["media"]) == {"image", "video"}
    for kind, part in rows.group_by("media"):
        assert part["value"].mean() == pytest.approx(1.0)
        assert all(label.startswith("image:") == (kind[0] == "image") for label in part["label"])
        sizes = part.group_by("label").len()
        size_of = dict(zip(sizes["label"], sizes["len"], strict=True))
        raw = np.array([1 / np.sqrt(size_of[label]) for label in part["label"]])
        assert np.allclose(part["value"].to_numpy(), raw * len(raw) / raw.sum())


def test_global_checks_pass_with_images(mixed) -> None:
    from curation_assets.definitions import GLOBAL_CHECKS

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*GLOBAL_ASSETS, *GLOBAL_CHECKS],
            instance=instance,
            resources={"curation": CurationResource(home=str(mixed))},
        )
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"one_representative_per_group": True, "concept_weights_valid": True}


def test_an_index_built_before_the_media_split_is_redone(mixed, tmp_path) -> None:
    """A video index that still holds image clips (written before images were indexed apart)
    has those shards indexed again, with their videos only."""
    home = tmp_path / "home"
    shutil.copytree(mixed, home)
    layout = Layout(home)
    state = layout.warehouse / "global" / "dedup"
    index = DuplicateIndex(state)
    path = layout.shard_warehouse("second") / "vectors" / "phash.npz"
    ids, hashes = load_vectors(path)
    index.add_shard("second", ids, hashes.astype(np.uint8), replace=True)  # images too
    assert len(index.clips()) > 2 + 2
    store = store_for(layout)
    result = near_duplicates.update_duplicates(layout, store, CurationConfig())
    media = {c["clip_id"]: c["media"] for c in _clips(home).values()}
    indexed = DuplicateIndex(state).clips()
    assert {media[c] for c in indexed["clip_id"]} == {"video"}
    assert sorted(indexed["shard"]) == ["first", "first", "second"]
    assert {(r["shard"], r["media"], r["status"]) for r in result.reports} >= {
        ("second", "video", "replaced")
    }
