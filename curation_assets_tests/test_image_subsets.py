"""Subset stages per media kind (issue 15): a shard of real photos (scikit-image's) and one
synthetic video, curated by the real assets; image stages hold images only, video stages video
clips only, no motion gate touches an image, and the UI's funnels count each kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import skimage
import yaml
from PIL import Image

from curation_assets.assets.subsets import build_subsets
from curation_assets.config import CurationConfig, Layout
from curation_assets.config.subsets import StageConfig, SubsetsConfig
from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
from curation_assets.lineage.queries import funnel, stage_funnel
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.selection.stage_gates import effective_gates
from curation_assets.selection.stages import select_stage
from curation_assets.vocabulary import NOT_APPLICABLE_TO_IMAGES, Motion

SHARD = "mixed"
# short sides 300-512 px: above admission's 256 px floor for images
PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png"]
TOO_SMALL = "small coffee.png"  # 200 px short side: refused at admission (too_small)
VIDEO = VideoSpec("pan.mp4", (Shot(6, "pan_right", seed=41),), 480, 270)
MOTION = {m.value for m in Motion}
IMAGE_STAGES = ("t_images", "t_images_hq", "hunyuan_images", "hunyuan_images_hq")
VIDEO_STAGES = ("t_video", "hunyuan_256p", "pretrain_720p")


def _config(home: Path) -> CurationConfig:
    """The presets (untouched) plus test stages whose thresholds admit scikit-image's photos."""
    data = {
        "subsets": {
            "presets": ["movie_gen", "hunyuan"],
            "stages": {
                "t_video": {"description": "every video clip through the gates"},
                "t_images": {"media": "image", "thresholds": {"resolution": {
                    "short_side_px": {"min": 256}}}},
                "t_images_hq": {
                    "media": "image",
                    "parent": "t_images",
                    "thresholds": {"resolution": {"short_side_px": {"min": 400}}},
                    "max_clips": 2,
                },
            },
        }
    }  # fmt: skip
    (home / "curation.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return CurationConfig.from_yaml(home / "curation.yaml")


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("image_subsets_home")
    layout = Layout(home)
    folder = layout.shard_uploads(SHARD)
    folder.mkdir(parents=True)
    data = Path(skimage.data.__file__).parent
    for name in PHOTOS:
        shutil.copyfile(data / name, folder / name)
    with Image.open(data / "coffee.png") as im:  # 400x600 -> 200x300
        im.resize((300, 200)).save(folder / TOO_SMALL)
    write_video(VIDEO, folder / VIDEO.name)
    (folder / "_READY").write_text("")
    cfg = _config(home)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [SHARD])
        resources = {"curation": CurationResource(home=str(home))}
        shard = dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key=SHARD, resources=resources
        )
        assert shard.success
        assert dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources).success
        assets, _, checks = build_subsets(cfg)
        stages = dg.materialize([*assets, *checks], instance=instance, resources=resources)
        assert stages.success
        evaluations = stages.get_asset_check_evaluations()
    return home, cfg, _metadata(shard) | _metadata(stages), evaluations


def _q(home: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    return store_for(Layout(home)).query(sql, params or [])


def _clips(home: Path, media: str) -> set[str]:
    return set(
        _q(home, "SELECT clip_id FROM clips WHERE coalesce(media, 'video') = ?", [media])["clip_id"]
    )


def _members(home: Path, subset: str) -> set[str]:
    return set(_q(home, "SELECT clip_id FROM subset_members WHERE subset = ?", [subset])["clip_id"])


# -- the real path ------------------------------------------------------------------------------


def test_the_shard_holds_one_image_clip_per_admitted_photo_and_the_video_clip(curated) -> None:
    home, *_ = curated
    images, videos = _clips(home, "image"), _clips(home, "video")
    assert len(images) == len(PHOTOS) and len(videos) == 1


def test_images_land_in_image_stages_only_and_video_clips_in_video_stages_only(curated) -> None:
    home, *_ = curated
    images, videos = _clips(home, "image"), _clips(home, "video")
    for stage in VIDEO_STAGES:
        assert not _members(home, stage) & images, stage
    assert _members(home, "t_video") == videos and _members(home, "hunyuan_256p") == videos
    for stage in IMAGE_STAGES:
        assert _members(home, stage) <= images, stage
    members = _members(home, "t_images")
    assert len(members) >= 4, "photos that pass the image gates are selected"
    hq = _members(home, "t_images_hq")
    assert hq <= members and len(hq) == 2  # max_clips caps an image stage
    # a stage decides only clips of its kind: no decision of t_images names the video clip
    decided = set(_q(home, "SELECT clip_id FROM decisions WHERE stage = 't_images'")["clip_id"])
    assert decided == images
    runs = _q(home, "SELECT subset, media, pool_clips FROM subset_runs ORDER BY subset")
    media = dict(zip(runs["subset"], runs["media"], strict=True))
    assert {media[s] for s in IMAGE_STAGES} == {"image"}
    assert {media[s] for s in VIDEO_STAGES} == {"video"}
    pool = dict(zip(runs["subset"], runs["pool_clips"], strict=True))
    assert pool["t_images"] == len(images) and pool["t_video"] == len(videos)
    assert pool["t_images_hq"] == len(members)
    # the presets' thresholds are the papers': 300-512 px photos are too small for Movie Gen
    assert not _members(home, "movie_gen_images")


def test_image_members_have_an_aspect_bucket_and_no_duration_bucket(curated) -> None:
    home, *_ = curated
    rows = _q(home, "SELECT * FROM subset_members WHERE subset = 't_images' ORDER BY clip_id")
    assert rows["duration_bucket"].is_null().all() and (rows["media"] == "image").all()
    assert (rows["bucket"] == "image|" + rows["aspect_bucket"]).all()
    assert set(rows["aspect_bucket"]) <= {"16:9", "4:3", "1:1", "3:4", "9:16"}
    video = _q(home, "SELECT * FROM subset_members WHERE subset = 't_video'")
    assert video["duration_bucket"].is_not_null().all() and (video["media"] == "video").all()


def test_motion_gates_are_not_applied_to_images(curated) -> None:
    home, *_ = curated
    images = _clips(home, "image")
    # per shard: each motion gate of an image is recorded as not applicable, never passed
    rows = _q(home, "SELECT clip_id, filter, passed, reason FROM decisions WHERE stage = ?",
              ["motion_filter"])  # fmt: skip
    on_images = rows.filter(pl.col("clip_id").is_in(list(images)))
    assert on_images.height and on_images["passed"].is_null().all()
    assert set(on_images["reason"]) == {NOT_APPLICABLE_TO_IMAGES}
    # image stages: no motion gate at all (not failed, not passed: skipped)
    for stage in IMAGE_STAGES:
        filters = set(_q(home, "SELECT DISTINCT filter FROM decisions WHERE stage = ?",
                         [stage])["filter"])  # fmt: skip
        assert not filters & MOTION, stage
        run = _q(home, "SELECT thresholds_json FROM subset_runs WHERE subset = ?", [stage])
        assert not set(json.loads(run["thresholds_json"][0])) & MOTION
    # whereas video stages apply them to the video clip
    video_filters = set(
        _q(home, "SELECT DISTINCT filter FROM decisions WHERE stage = 't_video'")["filter"]
    )
    assert MOTION <= video_filters
    # an image selected without motion gates would have failed them (nothing to measure)
    member_signals = _q(
        home,
        "SELECT DISTINCT signal FROM scores WHERE clip_id IN "
        "(SELECT clip_id FROM subset_members WHERE subset = 't_images')",
    )
    signals = set(member_signals["signal"])
    assert "motion_mean" not in signals


def test_the_image_gates_of_curation_yaml_are_the_base_gates(curated) -> None:
    home, cfg, *_ = curated
    run = _q(home, "SELECT thresholds_json FROM subset_runs WHERE subset = 'hunyuan_images'")
    gates = json.loads(run["thresholds_json"][0])
    image = cfg.stage_filters("visual_filter", media="image")
    assert gates["sharpness"] == image["sharpness"]
    assert image["sharpness"] == {"sharpness": {"min": 20.0}, "sharpness_balance": {"min": 0.3}}
    assert gates["exposure"] == image["exposure"]
    assert image["exposure"]["highlights"] == {"min": 0.42}
    video = json.loads(
        _q(home, "SELECT thresholds_json FROM subset_runs WHERE subset = 't_video'")[
            "thresholds_json"
        ][0]
    )
    assert video["sharpness"] == cfg.stage_filters("visual_filter")["sharpness"]


def test_an_unmeasurable_watermark_keeps_the_image_and_says_why(curated) -> None:
    home, *_ = curated
    rows = _q(
        home,
        "SELECT clip_id, passed, reason FROM decisions "
        "WHERE stage = 't_images' AND filter = 'watermark'",
    )
    assert rows.height == len(PHOTOS) and rows["passed"].is_null().all()
    assert rows["reason"].str.starts_with("not_scored").all()
    assert rows["reason"].str.contains("not measured on a single image").all()
    notes = _q(home, "SELECT notes FROM subset_runs WHERE subset = 't_images'")["notes"][0]
    assert "watermark:" in notes and "video clip(s) of the pool left out" in notes


def test_subset_checks_pass_for_both_kinds(curated) -> None:
    *_, evaluations = curated
    by_asset = {e.asset_key.to_user_string(): e for e in evaluations}
    for stage in (*IMAGE_STAGES, *VIDEO_STAGES):
        if stage in by_asset:  # a preset stage the shard leaves empty may only warn
            assert by_asset[stage].passed or by_asset[stage].severity == dg.AssetCheckSeverity.WARN
    assert by_asset["t_images"].passed and by_asset["t_video"].passed


def test_per_shard_metadata_counts_each_media_kind(curated) -> None:
    _, _, meta, _ = curated
    source = meta["source_videos"]
    assert source["files_image"].value == len(PHOTOS) + 1
    assert source["admitted_image"].value == len(PHOTOS)
    assert source["rejected_image"].value == 1
    assert source["files_video"].value == source["admitted_video"].value == 1
    by_reason = source["rejection_reasons_by_media"].value
    assert "| too\\_small | 0 | 1 |" in by_reason
    assert "| step | video | image |" in source["funnel"].value
    assert f"| admitted | 1 | {len(PHOTOS)} |" in source["funnel"].value

    shots = meta["shot_clips"]
    assert shots["clips_image"].value == len(PHOTOS) and shots["clips_video"].value == 1
    assert shots["decoded_image"].value == len(PHOTOS)
    assert shots["contact_sheet_missing_frames"].value == 0  # an image's single sample is shown

    visual = meta["visual_filter"]
    assert visual["clips_image"].value == len(PHOTOS) and visual["clips_video"].value == 1
    assert visual["clips_passing_image"].value + visual["clips_failing_image"].value == len(PHOTOS)
    assert "| watermark | image |" in visual["filters_by_media"].value

    motion = meta["motion_filter"]
    table = motion["filters_by_media"].value
    for gate in MOTION:  # every motion gate: not applicable on each image
        assert (
            f"| {gate.replace('_', chr(92) + '_')} | image | 0 | 0 | 0 | {len(PHOTOS)} |" in table
        )
    assert motion["clips_failing_image"].value == 0


def test_subset_metadata_shows_the_funnel_per_media_kind(curated) -> None:
    home, _, meta, _ = curated
    images = meta["t_images"]
    members = len(_members(home, "t_images"))
    assert images["media"].value == "image"
    assert images["pool_clips_image"].value == len(PHOTOS)
    assert images["pool_clips_video"].value == 1
    assert images["members_image"].value == members and images["members_video"].value == 0
    assert images["rejected_image"].value == len(PHOTOS) - members
    assert images["rejected_video"].value == 0
    table = images["funnel"].value
    assert "| step | video | image | hours |" in table
    assert f"| all clips (both media) | 1 | {len(PHOTOS)} |" in table
    assert f"| pool (image only) | 0 | {len(PHOTOS)} |" in table
    video = meta["t_video"]
    assert video["media"].value == "video" and video["members_video"].value == 1
    assert video["pool_clips_image"].value == len(PHOTOS) and video["members_image"].value == 0
    hq = meta["t_images_hq"]
    assert "| all members of t\\_images (both media) | 0 | " in hq["funnel"].value
    assert "| cap | 0 | " in hq["rejected_by_reason"].value  # max_clips: 2


def test_curate_funnel_prints_each_media_kind(curated, monkeypatch, capsys) -> None:
    from curation_assets.cli import main

    home, *_ = curated
    monkeypatch.setenv("CURATION_HOME", str(home))
    assert main(["funnel", "--json"]) == 0
    steps = {s["step"]: s for s in json.loads(capsys.readouterr().out)}
    assert steps["files"]["images"] == len(PHOTOS) + 1 and steps["files"]["videos"] == 1
    assert steps["admitted"]["images"] == len(PHOTOS)
    assert steps["single-shot clips"]["images"] == len(PHOTOS)
    assert steps["single-shot clips"]["clips"] == 1
    assert steps["motion_filter"]["images"] == len(PHOTOS)  # not applicable is not a failure
    assert main(["funnel"]) == 0
    text = capsys.readouterr().out
    assert "images" in text and "video" in text
    assert main(["funnel", "--subset", "t_images"]) == 0
    text = capsys.readouterr().out
    assert "media image" in text and "images" in text
    run = stage_funnel(store_for(Layout(home)), "t_images")
    assert run["media"] == "image"
    with_subset = funnel(store_for(Layout(home)), subset="t_images")
    assert with_subset[-1].images == len(_members(home, "t_images"))
    assert with_subset[-1].clips == 0


# -- settings and the selection alone -------------------------------------------------------------


def test_a_child_stage_has_its_parents_media() -> None:
    spec = SubsetsConfig(
        stages={
            "imgs": StageConfig(media="image"),
            "vids": StageConfig(parent="imgs"),
        }
    )
    with pytest.raises(ValueError, match="differs from its parent"):
        spec.resolved()


def test_an_image_stage_refuses_motion_thresholds_and_hours() -> None:
    with pytest.raises(ValueError, match="no motion"):
        StageConfig.model_validate(
            {"media": "image", "thresholds": {"motion_low": {"motion_mean": {"min": 0.01}}}}
        )
    with pytest.raises(ValueError, match="max_clips"):
        StageConfig.model_validate({"media": "image", "max_hours": 1.0})


def test_presets_hold_the_image_stages() -> None:
    stages = SubsetsConfig(presets=["movie_gen", "hunyuan"]).resolved()
    assert stages["movie_gen_images"].media == "image"
    assert stages["hunyuan_images"].media == "image"
    hq = stages["hunyuan_images_hq"]
    assert hq.media == "image" and hq.parent == "hunyuan_images" and hq.keep_fraction
    limit = hq.thresholds["resolution"]["short_side_px"].min
    assert limit > stages["hunyuan_images"].thresholds["resolution"]["short_side_px"].min
    assert all(s.media == "video" for n, s in stages.items() if "images" not in n)


def _mixed_pool(n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    image = np.arange(n) % 2 == 0
    return pl.DataFrame(
        {
            "clip_id": [f"c{i:05d}" for i in range(n)],
            "video_id": [f"v{i:05d}" for i in range(n)],
            "shard": "s",
            "start_s": 0.0,
            "end_s": np.where(image, 0.0, 6.0),
            "duration_s": np.where(image, 0.0, 6.0),
            "media": np.where(image, "image", "video"),
            "short_side_px": 720.0,
            "aspect_ratio": rng.choice([16 / 9, 3 / 4], n),
            "sharpness": rng.uniform(0, 100, n),
            "technical_quality": 0.5,
            "motion_mean": np.where(image, None, 0.05),
            "concept_weight": 1.0,
            "label:orientation": np.where(rng.random(n) < 0.5, "landscape", "portrait"),
            "dedup_representative": pl.Series([None] * n, dtype=pl.Boolean),
            "caption_ok": True,
        },
        strict=False,
    )


def test_selection_alone_keeps_its_media_and_composes_per_kind() -> None:
    cfg = CurationConfig()
    pool = _mixed_pool()
    spec = StageConfig.model_validate(
        {
            "media": "image",
            "composition": {
                "orientation": {"landscape": {"share": 0.5}, "portrait": {"share": 0.5}}
            },
            "max_clips": 40,
        }
    )
    sel = select_stage(pool, "imgs", spec, effective_gates(cfg, spec))
    assert sel.pool_clips == 200 and sel.pool_by_media == {"video": 200, "image": 200}
    assert sel.members.height == 40 and (sel.members["media"] == "image").all()
    chosen = pool.filter(pl.col("clip_id").is_in(sel.members["clip_id"].implode()))
    assert (chosen["label:orientation"] == "landscape").sum() == 20
    assert not set(sel.decisions["filter"].cast(pl.String)) & MOTION
    video = StageConfig()
    sel = select_stage(pool, "vids", video, effective_gates(cfg, video))
    assert sel.pool_clips == 200 and (sel.members["media"] == "video").all()
    assert sel.run_record(video)["media"] == "video"
