"""The bad-input corpus through the real pipeline: every file rejected with its exact reason or
processed correctly, and the shard completes (``bad_corpus`` says what each file is)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from curation_assets.assets.captions import captions
from curation_assets.assets.filters import content_filter, motion_filter, visual_filter
from curation_assets.assets.ingest import source_videos, source_videos_integrity
from curation_assets.assets.shots import shot_clips, shot_clips_integrity
from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.lineage.store import LineageStore
from curation_assets.media.stored_samples import load_samples
from curation_assets.resources import CurationResource, store_for
from curation_assets_tests.bad_corpus import DELETED, KINDS, Case, build_corpus

SHARD = "bad-inputs"


@dataclass
class Ran:
    home: Path
    folder: Path
    cases: dict[str, Case]
    admitted: dg.ExecuteInProcessResult
    clipped: dg.ExecuteInProcessResult
    store: LineageStore

    def one(self, table: str, name: str) -> dict | None:
        rows = self.store.query(
            f"SELECT t.* FROM {table} t JOIN videos v USING (video_id) WHERE v.file_name = ?",
            [name],
        ).to_dicts()
        assert len(rows) <= 1
        return rows[0] if rows else None

    def video(self, name: str) -> dict:
        rows = self.store.query("SELECT * FROM videos WHERE file_name = ?", [name]).to_dicts()
        assert len(rows) == 1, f"{name!r} has {len(rows)} videos rows"
        return rows[0]

    def clips(self, name: str) -> list[dict]:
        return self.store.query(
            "SELECT c.* FROM clips c JOIN videos v USING (video_id) WHERE v.file_name = ? "
            "ORDER BY c.start_s",
            [name],
        ).to_dicts()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Built and run once: source_videos, then the file DELETED goes, then shot_clips."""
    root = tmp_path_factory.mktemp("bad_inputs")
    home = root / "curation_home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATION_HOME", str(home))
        mp.delenv("CURATION_CONFIG", raising=False)
        layout = Layout(home)
        folder = layout.shard_uploads(SHARD)
        cases = {c.kind: c for c in build_corpus(folder, root / "outside the upload root")}
        (folder / "_READY").write_text("")
        resources = {"curation": CurationResource(home=str(home))}
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("source_shard", [SHARD])
            admitted = dg.materialize(
                [source_videos, source_videos_integrity],
                instance=instance,
                partition_key=SHARD,
                resources=resources,
            )
            (folder / DELETED).unlink()  # after admission, before its decode pass
            clipped = dg.materialize(
                [shot_clips, shot_clips_integrity],
                instance=instance,
                partition_key=SHARD,
                resources=resources,
            )
        yield Ran(home, folder, cases, admitted, clipped, store_for(layout))


def test_the_corpus_has_every_kind_and_the_shard_completes(ran: Ran) -> None:
    assert sorted(ran.cases) == sorted(KINDS) and len(KINDS) >= 15
    assert ran.admitted.success and ran.clipped.success
    # the blocking Great Expectations checks hold on this shard too
    checks = [
        *ran.admitted.get_asset_check_evaluations(),
        *ran.clipped.get_asset_check_evaluations(),
    ]
    assert sorted(c.check_name for c in checks) == ["clips_integrity", "videos_integrity"]
    assert all(c.passed for c in checks), [c.metadata for c in checks if not c.passed]
    videos = ran.store.query("SELECT file_name FROM videos WHERE shard = ?", [SHARD])
    assert sorted(videos["file_name"]) == sorted(c.name for c in ran.cases.values())
    statuses = ran.store.query(
        "SELECT status, count(*) AS n FROM videos GROUP BY status ORDER BY status"
    ).rows()
    expected = {"admitted": 0, "rejected": 0}
    for case in ran.cases.values():
        expected[case.status] += 1
    assert dict(statuses) == expected
    passes = ran.store.query("SELECT count(*) FROM decode_passes").item()
    assert passes == expected["admitted"]  # one pass row per admitted file, the deleted one too


def test_the_rest_of_the_shard_runs_on_what_survived(ran: Ran) -> None:
    """Filters and captions read only the stored samples: every clip gets its decisions."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [SHARD])
        result = dg.materialize(
            [visual_filter, motion_filter, content_filter, captions],
            instance=instance,
            partition_key=SHARD,
            resources={"curation": CurationResource(home=str(ran.home))},
        )
    assert result.success
    clips = ran.store.query("SELECT count(*) FROM clips").item()
    expected = sum(1 if c.clips_s is None else len(c.clips_s) for c in ran.cases.values())
    assert clips == expected
    per_stage = ran.store.query(
        "SELECT stage, count(DISTINCT clip_id) FROM decisions GROUP BY stage"
    ).rows()
    for stage in ("shot_clips", "visual_filter", "motion_filter", "content_filter"):
        assert dict(per_stage)[stage] == clips, stage


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_rejected_with_its_reason_or_processed(ran: Ran, kind: str) -> None:
    case = ran.cases[kind]
    video = ran.video(case.name)
    assert (video["status"], video["reason"]) == (case.status, case.reason), video["detail"]
    assert case.detail in video["detail"]
    decode = ran.one("decode_passes", case.name)
    clips = ran.clips(case.name)
    if case.status == "rejected":
        assert decode is None and clips == []
        return
    assert (video["codec"], video["pix_fmt"]) == (case.codec, case.pix_fmt)
    assert (video["width"], video["height"]) == case.display
    if case.decode_reason:
        assert (decode["status"], decode["reason"]) == ("failed", case.decode_reason)
        assert decode["detail"] and clips == []
        return
    assert (decode["status"], decode["reason"]) == ("ok", None)
    if case.decode_detail:
        assert case.decode_detail in decode["detail"]
    else:
        assert decode["detail"] is None
    # the probe predicted what the decoder read (a cut-off file may lose its last frame or two)
    slack = 2.0 / video["fps"] if video["truncated"] else 0.01
    assert decode["decoded_s"] == pytest.approx(video["duration_s"], abs=slack)
    durations = [c["duration_s"] for c in clips]
    if case.clips_s is None:  # truncated: one clip up to where the data really ends
        assert len(clips) == 1 and clips[0]["start_s"] == 0.25
        assert clips[0]["end_s"] == pytest.approx(decode["decoded_s"], abs=1e-6)
    else:
        assert durations == pytest.approx(list(case.clips_s), abs=0.01)


def test_truncated_file_is_admitted_with_what_it_holds(ran: Ran) -> None:
    video = ran.video(ran.cases["truncated_readable"].name)
    assert video["truncated"] and video["declared_duration_s"] == pytest.approx(8.0, abs=0.01)
    assert 4.0 < video["duration_s"] < 7.0


def test_variable_frame_rate_clip_ends_where_the_last_frame_ends(ran: Ran) -> None:
    name = ran.cases["variable_frame_rate"].name
    (clip,) = ran.clips(name)
    # frames every 41 ms up to 3 s: the first at or after the 0.25 s trim is 7 x 41 ms
    assert (clip["start_s"], clip["end_s"]) == (0.287, pytest.approx(6.0, abs=1e-6))
    decode = ran.one("decode_passes", name)
    # every 41 ms up to 3 s (74 frames, the last one 7 ms long), then 3 s at 8 fps
    assert decode["frames"] == 74 + 24


def test_damaged_stretch_is_skipped_and_no_clip_spans_it(ran: Ran) -> None:
    name = ran.cases["damaged_middle"].name
    shots = ran.store.query(
        "SELECT s.start_s, s.end_s, s.reason FROM shots s JOIN videos v USING (video_id) "
        "WHERE v.file_name = ? ORDER BY s.shot_index",
        [name],
    ).rows()
    # good footage 0-3.33 s (too short for a clip), then from the keyframe at 4 s to the end
    assert shots == [
        (0.0, pytest.approx(40 / 12), "shot_too_short"),
        (4.0, pytest.approx(10.0), None),
    ]
    (clip,) = ran.clips(name)
    assert (clip["start_s"], clip["end_s"]) == (4.25, pytest.approx(10.0))
    decode = ran.one("decode_passes", name)
    assert decode["frames"] == 40 + 72  # frames 40-47 dropped: damaged or built on damage


def test_rotated_video_samples_are_upright(ran: Ran) -> None:
    decode = ran.one("decode_passes", ran.cases["rotation"].name)
    samples = load_samples(Path(decode["samples_path"]))
    height, width = samples.grey.shape[1:]
    assert height > width  # coded 192x128, displayed 128x192
    assert samples.rgb(0).shape[0] > samples.rgb(0).shape[1]


def test_links_out_of_the_upload_root_are_never_read(ran: Ran) -> None:
    for kind in ("symlink_outside", "symlink_fifo"):
        video = ran.video(ran.cases[kind].name)
        # no probe ran: no size, no hash (the FIFO would have blocked a reader until timeout)
        assert video["bytes"] is None and video["content_sha256"] is None
        assert video["uri"].startswith((ran.folder.as_uri() + "/").replace(" ", "%20"))


def test_deleted_file_is_recorded_in_its_decode_pass(ran: Ran) -> None:
    decode = ran.one("decode_passes", DELETED)
    assert decode["frames"] == 0 and "No such file" in decode["detail"]


def test_huge_declared_size_is_refused_cheaply(ran: Ran) -> None:
    """Probed in a fresh process: no gigabyte allocations (peak RSS), no hang (the timeout)."""
    # VmHWM: the peak RSS of this process image (ru_maxrss would carry pytest's over the fork)
    code = (
        "import re, sys\n"
        "from curation_assets.media.probe import probe_file\n"
        "p = probe_file(sys.argv[1])\n"
        "status = open('/proc/self/status').read()\n"
        "rss = int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) / 1024\n"
        "print(p.readable, p.error, rss, sep='|')\n"
    )
    for kind in ("huge_declared_size", "large_declared_size"):
        path = ran.folder / ran.cases[kind].name
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=120,  # a hang fails here
            check=True,
        ).stdout.strip()
        readable, error, rss_mb = out.split("|")
        assert readable == "False" and ("60000x60000" in error or "16000x16000" in error)
        assert float(rss_mb) < 400, out  # one 60000x60000 frame alone would be ~5 GB


@pytest.mark.parametrize("kind", KINDS)
def test_curate_explain_answers_for_every_file(
    ran: Ran, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = ran.cases[kind]
    names = {case.name, case.name.rsplit("/", 1)[-1]}  # the path in the shard, or just the name
    for name in names:
        assert main(["explain", name]) == 0
        text = capsys.readouterr().out
        if case.status == "rejected":
            assert f"REJECTED - {case.reason}" in text
        else:
            assert "ADMITTED" in text
            state = "failed" if case.decode_reason else "ok"
            assert f"decode pass: {state}" in text
        assert main(["explain", name, "--json"]) == 0
        (item,) = json.loads(capsys.readouterr().out)["videos"]
        assert item["video"]["file_name"] == case.name
        assert item["video"]["reason"] == case.reason
