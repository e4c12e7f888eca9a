"""The per-shard assets materialized for real on a synthetic shard."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_junk import write_junk
from curation_assets.resources import CurationResource, store_for


def _shard(home: Path, name: str, specs: list[VideoSpec], junk: bool = False) -> Path:
    folder = Layout(home).shard_uploads(name)
    for spec in specs:
        write_video(spec, folder / spec.name)
    if junk:
        write_junk(folder)
    (folder / "_READY").write_text("")
    return folder


def _materialize(home: Path, shard: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [shard])
        return dg.materialize(
            PER_SHARD_ASSETS,
            instance=instance,
            partition_key=shard,
            resources={"curation": CurationResource(home=str(home))},
        )


def test_every_file_gets_one_row_and_admitted_videos_become_clips(home: Path) -> None:
    specs = [
        VideoSpec("three shots.mp4", (Shot(6), Shot(5, "pan_right"), Shot(7, "pan_left"))),
        VideoSpec("long take.mp4", (Shot(40),), fps=12),
    ]
    folder = _shard(home, "s1", specs, junk=True)
    result = _materialize(home, "s1")
    assert result.success
    store = store_for(Layout(home))
    videos = store.query("SELECT file_name, status, reason FROM videos ORDER BY file_name")
    files = sorted(p.name for p in folder.iterdir() if p.name != "_READY")
    assert videos["file_name"].to_list() == files
    reasons = dict(zip(videos["file_name"], videos["reason"], strict=True))
    assert reasons["three shots.mp4"] is None and reasons["long take.mp4"] is None
    assert reasons["tone only.m4a"] == "no_video_stream"
    assert reasons["empty.mp4"] == "unreadable"
    clips = store.query(
        "SELECT v.file_name, c.start_s, c.end_s, c.duration_s FROM clips c "
        "JOIN videos v USING (video_id) ORDER BY v.file_name, c.start_s"
    )
    by_file = clips.partition_by("file_name", as_dict=True)
    three = by_file[("three shots.mp4",)]
    # shots 0-6 s, 6-11 s, 11-18 s; 0.25 s trimmed after each cut
    assert three["start_s"].to_list() == [0.25, 6.25, 11.25]
    assert three["end_s"].to_list() == [6.0, 11.0, 18.0]
    long_take = by_file[("long take.mp4",)]
    assert len(long_take) == 2 and all(4 <= d <= 16 for d in long_take["duration_s"])
