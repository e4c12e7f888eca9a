"""A shard of videos, real photos and junk images, as a user runs it: the uploads sensor asks
for it, `curate run` curates it with the packaged presets, images land in `hunyuan_images` (the
clips' visual and content gates minus motion) and its WebDataset export."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import webdataset as wds  # the loader training jobs use (dev dependency)

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.definitions import defs
from curation_assets.media.image_kit import CASES, write_image_shard, write_video_of
from curation_assets.resources import CurationResource, store_for


@pytest.fixture
def ran(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    incoming = tmp_path / "incoming"
    write_image_shard(incoming / "photos")
    write_video_of(incoming)
    assert main(["ingest", str(incoming), "--shard", "mixed"]) == 0

    sensor = defs.resolve_sensor_def("uploads_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"curation": CurationResource(home=str(home))}
        )
        requests = sensor(context).run_requests
    assert [r.partition_key for r in requests] == ["mixed"]

    assert main(["run", "--shard", "mixed"]) == 0
    assert main(["export", "--subset", "hunyuan_images"]) == 0
    capsys.readouterr()
    return home, store_for(Layout(home))


def test_images_are_curated_selected_and_exported(ran, capsys) -> None:
    home, store = ran
    videos = store.query("SELECT file_name, media, reason FROM videos").to_dicts()
    by_name = {Path(r["file_name"]).name: r for r in videos}
    for case in CASES:  # every bad image has its reason, every good one is admitted
        assert by_name[case.name]["reason"] == case.reason, case.name
    members = store.query(
        "SELECT v.file_name, m.media FROM subset_members m JOIN clips c USING (clip_id) "
        "JOIN videos v ON v.video_id = c.video_id WHERE m.subset = 'hunyuan_images'"
    ).to_dicts()
    selected = {Path(r["file_name"]).name for r in members}
    assert {r["media"] for r in members} == {"image"}
    # the kit's other photos have converted copies (CMYK, grey, alpha ...): one of each group
    assert {"astronaut.png", "street cyclists.jpg"} <= selected
    flawed = {"coffee banner.jpg", "chelsea dark.jpg", "rocket blurred.jpg"}
    assert not selected & flawed  # each fails its gate, so no stage takes it
    assert "astronaut small.jpg" not in selected  # a smaller re-encoded copy of a member

    shards = sorted((home / "exports" / "hunyuan_images").rglob("*.tar"))
    assert shards
    samples = list(wds.WebDataset([str(s) for s in shards], shardshuffle=False).decode("pil"))
    assert len(samples) == len(selected)
    for sample in samples:
        assert {"jpg", "json", "txt"} <= set(sample)
        meta = sample["json"] if isinstance(sample["json"], dict) else json.loads(sample["json"])
        assert meta["media"] == "image" and sample["jpg"].mode == "RGB"
        assert min(sample["jpg"].size) <= 256 and sample["txt"]

    assert main(["explain", "photos/coffee banner.jpg"]) == 0
    assert "text_overlay" in capsys.readouterr().out
    assert main(["funnel", "--json"]) == 0
    steps = {s["step"]: s for s in json.loads(capsys.readouterr().out)}
    assert steps["files"]["images"] == sum(1 for c in CASES if c.media == "image")
