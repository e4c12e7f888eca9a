"""Subset stages materialized for real over a shard of synthetic videos: score once, select
many (a threshold change re-selects without decoding), exports that decode and match."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import av
import dagster as dg
import polars as pl
import pytest
import yaml

from curation_assets.assets.subsets import build_subsets
from curation_assets.config import CurationConfig, Layout
from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
from curation_assets.exports import read_manifest
from curation_assets.lineage.queries import explain, stage_funnel
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for

SHARD = "subsets"
VIDEOS = [
    VideoSpec("land pan.mp4", (Shot(6, "pan_right", seed=41),), 480, 270),
    VideoSpec("land tilt.mp4", (Shot(6, "tilt_down", seed=42),), 480, 270),
    VideoSpec("land zoom.mp4", (Shot(6, "zoom_in", seed=43),), 400, 224),
    VideoSpec("land blur.mp4", (Shot(6, "pan_left", seed=44, effects=("blur:2.5",)),), 480, 270),
    VideoSpec("portrait a.mp4", (Shot(6, "pan_right", seed=45),), 270, 480),
    VideoSpec("portrait b.mp4", (Shot(6, "tilt_down", seed=46),), 224, 400),
    VideoSpec("square.mp4", (Shot(6, "pan_left", seed=47),), 320, 320),
]


def _config(home: Path, sharp_min: float) -> CurationConfig:
    """Stages for the test in $CURATION_HOME/curation.yaml (what a user edits)."""
    data = {
        "subsets": {
            "presets": [],
            "stages": {
                "t_base": {"export": {"short_side": 144, "fps": 12, "clips_per_tar": 3}},
                "t_sharp": {
                    "parent": "t_base",
                    "thresholds": {"sharpness": {"sharpness": {"min": sharp_min}}},
                },
                "t_balanced": {
                    "parent": "t_base",
                    "composition": {
                        "orientation": {"landscape": {"share": 0.5}, "portrait": {"share": 0.5}}
                    },
                },
            },
        }
    }
    (home / "curation.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return CurationConfig.from_yaml(home / "curation.yaml")


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("subsets_home")
    layout = Layout(home)
    for spec in VIDEOS:
        write_video(spec, layout.shard_uploads(SHARD) / spec.name)
    (layout.shard_uploads(SHARD) / "_READY").write_text("")
    cfg = _config(home, sharp_min=0.0)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [SHARD])
        resources = {"curation": CurationResource(home=str(home))}
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key=SHARD, resources=resources
        ).success
        assert dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources).success
        assets, _, checks = build_subsets(cfg)
        result = dg.materialize([*assets, *checks], instance=instance, resources=resources)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 3 and all(e.passed for e in evaluations)
    return home, cfg


def _members(home: Path, subset: str) -> set[str]:
    rows = store_for(Layout(home)).query(
        "SELECT clip_id FROM subset_members WHERE subset = ?", [subset]
    )
    return set(rows["clip_id"])


def _sharpness(home: Path) -> dict[str, float]:
    rows = store_for(Layout(home)).query(
        "SELECT clip_id, value FROM scores WHERE signal = 'sharpness'"
    )
    return dict(zip(rows["clip_id"], rows["value"], strict=True))


def test_base_stage_holds_every_clip_that_passes_the_gates(curated) -> None:
    home, _ = curated
    store = store_for(Layout(home))
    base = _members(home, "t_base")
    clips = set(store.query("SELECT clip_id FROM clips")["clip_id"])
    dropped = set(
        store.query("SELECT DISTINCT clip_id FROM decisions WHERE stage = 't_base' AND NOT passed")[
            "clip_id"
        ]
    )
    assert base and base == clips - dropped
    # one decision per clip and filter of the stage, with value and threshold
    rows = store.query(
        "SELECT clip_id, filter, count(*) n FROM decisions WHERE stage = 't_base' GROUP BY ALL"
    )
    assert rows["n"].max() == 1
    sharp = store.query(
        "SELECT value, threshold FROM decisions WHERE stage = 't_base' AND filter = 'sharpness'"
    )
    assert sharp.height == len(clips) and sharp["threshold"].str.contains("sharpness").all()


def test_changing_a_threshold_reselects_exactly_and_decodes_nothing(curated, tmp_path) -> None:
    home, _ = curated
    # a private copy of the data root without any video or sample: nothing could be decoded
    copy = tmp_path / "home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("uploads", "samples"))
    assert not list(copy.rglob("*.mp4")) and not list(copy.rglob("samples"))
    sharp = _sharpness(copy)
    base = _members(copy, "t_base")
    values = sorted(sharp[c] for c in base)
    for threshold in (values[len(values) // 3], values[2 * len(values) // 3]):
        cfg = _config(copy, sharp_min=threshold)
        with dg.instance_for_test() as instance:
            assets, _, _ = build_subsets(cfg)
            stage = next(a for a in assets if a.key.path[-1] == "t_sharp")
            result = dg.materialize(
                [stage], instance=instance, resources={"curation": CurationResource(home=str(copy))}
            )
            assert result.success
        expected = {c for c in base if sharp[c] >= threshold}
        assert _members(copy, "t_sharp") == expected
        assert 0 < len(expected) < len(base)


def test_composition_target_is_met_and_reported(curated) -> None:
    home, _ = curated
    store = store_for(Layout(home))
    members = store.query(
        "SELECT l.label FROM subset_members m JOIN clip_labels l USING (clip_id) "
        "WHERE m.subset = 't_balanced' AND l.kind = 'orientation'"
    )["label"].to_list()
    assert members and members.count("landscape") == members.count("portrait")
    assert "square" not in members
    run = stage_funnel(store, "t_balanced")
    assert run["members"] == len(members)
    assert [o["met"] for o in run["composition"]] == [True, True]
    steps = [s["step"] for s in run["steps"]]
    assert steps[0] == "members of t_base" and steps[-1] == "composition"
    assert run["steps"][-1]["clips"] == len(members)


def test_explain_shows_why_a_clip_is_out_of_a_subset(curated) -> None:
    home, _ = curated
    store = store_for(Layout(home))
    out = store.query(
        "SELECT clip_id FROM decisions WHERE stage = 't_balanced' AND filter = 'composition' "
        "AND NOT passed LIMIT 1"
    )
    assert out.height
    trail = explain(store, out["clip_id"][0])
    mine = [d for d in trail["decisions"] if d["stage"] == "t_balanced"]
    assert any(d["filter"] == "composition" and d["passed"] is False for d in mine)
    assert {s["subset"] for s in trail["subsets"]} >= {"t_base"}


def test_export_shards_decode_and_match_their_manifest(curated) -> None:
    home, cfg = curated
    with dg.instance_for_test() as instance:
        _, exports, _ = build_subsets(cfg)
        export = next(a for a in exports if a.key.path[-1] == "t_base_export")
        resources = {"curation": CurationResource(home=str(home))}
        assert dg.materialize([export], instance=instance, resources=resources).success
        out = Layout(home).exports / "t_base"
        manifest = read_manifest(out)
        assert set(manifest["clip_id"]) == _members(home, "t_base")
        stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
        assert stamps
        assert dg.materialize([export], instance=instance, resources=resources).success
        assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")} == stamps  # idempotent
    ok = manifest.filter(pl.col("status") == "ok") if "status" in manifest.columns else manifest
    assert ok.height == manifest.height
    checked = 0
    for tar_path in sorted(out.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            names = tar.getnames()
            for name in (n for n in names if n.endswith(".mp4")):
                key = name[: -len(".mp4")]
                meta = json.loads(tar.extractfile(f"{key}.json").read())
                row = ok.filter(pl.col("clip_id") == meta["clip_id"]).row(0, named=True)
                with av.open(tar.extractfile(name)) as container:
                    frames = [f for f in container.decode(video=0)]
                    assert min(frames[0].width, frames[0].height) == 144
                assert len(frames) == row["out_frames"]
                assert abs(len(frames) / 12.0 - row["duration_s"]) < 2 / 12
                checked += 1
    assert checked == ok.height
