"""export_subset: shards and manifest that match; idempotent, resumable, failures recorded."""

from __future__ import annotations

import io
import json
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import polars as pl
import pytest
import webdataset as wds  # the loader training jobs use (dev dependency)

from curation_assets.exports import (
    FAILED_JSONL,
    MANIFEST_JSONL,
    MANIFEST_PARQUET,
    ExportSpec,
    export_subset,
    read_manifest,
)
from curation_assets.media import synthetic
from curation_assets.vocabulary import ExportFailure
from curation_assets_tests.exports.pattern import (
    decoded_indices,
    member,
    members_frame,
    write_pattern_video,
)

SPEC = ExportSpec("pretrain_test", clips_per_tar=2, short_side=90, fps=24)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    phone = synthetic.VideoSpec("phone.mp4", (synthetic.Shot(4.0, "pan_right"),), 180, 320, 24)
    return {
        "wide": write_pattern_video(root / "wide.mp4", 150, 320, 180, 30),
        "turned": write_pattern_video(root / "turned.mp4", 96, 320, 180, 24, rotation=90),
        "phone": synthetic.write_video(phone, root / "phone.mp4"),
    }


def _rows(sources: dict[str, Path]) -> list[dict]:
    wide, turned, phone = sources["wide"], sources["turned"], sources["phone"]
    return [
        member(wide, 0, 60, 30, 320, 180, "16:9"),
        member(wide, 37, 121, 30, 320, 180, "16:9"),
        member(wide, 90, 150, 30, 320, 180, "16:9"),
        member(turned, 10, 70, 24, 320, 180, "16:9", caption=None),
        member(phone, 0, 48, 24, 180, 320, "9:16"),
        member(phone, 48, 96, 24, 180, 320, "9:16", duration_bucket="4-6s"),
    ]


def _tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(out.iterdir())}


def _decoded(data: bytes) -> tuple[int, float, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        rate = float(stream.average_rate)
        duration = frames[-1].time + 1 / rate - frames[0].time
        return len(frames), rate, frames[0].width, frames[0].height, duration


def test_shards_decode_and_match_their_manifest(tmp_path: Path, sources) -> None:
    out = tmp_path / "export"
    report = export_subset(members_frame(_rows(sources)), out, SPEC)
    assert (report.clips_total, report.exported, report.skipped, report.failed) == (6, 6, 0, [])
    names = [p.name for p in report.tar_paths]
    # buckets sorted, each cut into shards of 2; a shard never mixes buckets
    assert names == [f"pretrain_test-{i:06d}.tar" for i in range(4)]
    assert report.per_bucket == {"2-4s|16:9": 4, "2-4s|9:16": 1, "4-6s|9:16": 1}
    manifest = read_manifest(out)
    jsonl = pl.read_ndjson(out / MANIFEST_JSONL)
    assert jsonl.select(manifest.columns).equals(manifest)
    assert (
        manifest["clip_id"].to_list() == manifest.sort(["bucket", "clip_id"])["clip_id"].to_list()
    )
    assert set(manifest["status"]) == {"ok"}
    assert (out / FAILED_JSONL).read_bytes() == b""
    assert {"score_aesthetic", "score_motion_mean", "caption", "weight"} <= set(manifest.columns)
    for row in manifest.iter_rows(named=True):
        members = _tar_members(out / row["tar"])
        key = row["key"]
        assert "." not in key
        frames, fps, width, height, duration = _decoded(members[f"{key}.mp4"])
        assert frames == row["out_frames"]
        assert fps == pytest.approx(row["out_fps"]) == 24.0
        assert (width, height) == (row["out_width"], row["out_height"])
        assert duration == pytest.approx(row["out_duration_s"], abs=1e-3)
        assert len(members[f"{key}.mp4"]) == row["out_bytes"]
        meta = json.loads(members[f"{key}.json"])
        assert meta["clip_id"] == row["clip_id"] and meta["key"] == key
        assert meta["output"]["frames"] == row["out_frames"]
        assert meta["scores"] == {"aesthetic": 0.5, "motion_mean": 0.05}
        assert meta["fields"] == {"camera": "static"}
        if row["caption"] is None:
            assert f"{key}.txt" not in members
        else:
            assert members[f"{key}.txt"].decode() == row["caption"]
        # one bucket per shard
        assert {json.loads(v)["bucket"] for k, v in members.items() if k.endswith(".json")} == {
            row["bucket"]
        }
    by_source = {Path(r["uri"]).stem: r for r in manifest.iter_rows(named=True)}
    assert (by_source["phone"]["out_width"], by_source["phone"]["out_height"]) == (90, 160)
    assert (by_source["turned"]["out_width"], by_source["turned"]["out_height"]) == (160, 90)
    # 60 source frames at 24 fps stay 60; 84 at 30 fps become ceil(2.8 * 24) = 68
    frames = {(r["start_frame"], r["uri"]): r["out_frames"] for r in manifest.iter_rows(named=True)}
    assert frames[(37, str(sources["wide"]))] == 68
    assert frames[(10, str(sources["turned"]))] == 60
    turned = manifest.filter(pl.col("uri") == str(sources["turned"])).row(0, named=True)
    data = _tar_members(out / turned["tar"])[f"{turned['key']}.mp4"]
    assert decoded_indices(data) == list(range(10, 70))  # upright, frame-accurate in the shard


def test_failures_are_recorded_with_reasons_and_the_rest_exported(tmp_path: Path, sources) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 1000)
    short = tmp_path / "short.mp4"
    write_pattern_video(short, 30, 320, 180, 30)  # 1 s, but the clip claims 2 s
    rows = [
        member(sources["wide"], 0, 60, 30, 320, 180, "16:9"),
        member(tmp_path / "gone.mp4", 0, 60, 30, 320, 180, "16:9"),
        member(junk, 0, 60, 30, 320, 180, "16:9"),
        member(short, 0, 60, 30, 320, 180, "16:9"),
    ]
    out = tmp_path / "export"
    report = export_subset(members_frame(rows), out, ExportSpec("with-failures"))
    reasons = {Path(f.clip_id.split("-")[0]).name: f.reason for f in report.failed}
    assert reasons == {
        "gone": ExportFailure.SOURCE_MISSING,
        "junk": ExportFailure.UNREADABLE,
        "short": ExportFailure.CUT_SHORT,
    }
    assert report.ok == 1 and report.per_bucket == {"2-4s|16:9": 1}
    manifest = read_manifest(out)
    assert manifest.height == 4  # nothing silently dropped
    failed_rows = manifest.filter(pl.col("status") == "failed")
    assert failed_rows["tar"].null_count() == 3 and failed_rows["detail"].null_count() == 0
    failed = pl.read_ndjson(out / FAILED_JSONL)
    assert sorted(failed["reason"]) == ["cut_short", "source_missing", "unreadable"]
    (tar,) = report.tar_paths
    assert sorted(_tar_members(tar)) == sorted(
        f"{manifest.filter(pl.col('status') == 'ok')['key'][0]}.{ext}"
        for ext in ("json", "mp4", "txt")
    )
    # a re-run does not retry an unchanged failure; a source that appears is picked up
    again = export_subset(members_frame(rows), out, ExportSpec("with-failures"))
    assert (again.exported, again.tars_written, len(again.failed)) == (0, [], 3)
    write_pattern_video(tmp_path / "gone.mp4", 60, 320, 180, 30)
    healed = export_subset(members_frame(rows), out, ExportSpec("with-failures"))
    assert (healed.exported, healed.reused, len(healed.failed)) == (1, 3, 2)


def test_rerun_with_the_same_members_rewrites_nothing(tmp_path: Path, sources) -> None:
    out = tmp_path / "export"
    members = members_frame(_rows(sources))
    export_subset(members, out, SPEC)
    before = _mtimes(out)
    report = export_subset(members, out, SPEC)
    assert _mtimes(out) == before
    assert (report.exported, report.reused, report.skipped) == (0, 0, 6)
    assert report.tars_written == [] and not report.manifest_written
    assert len(report.tar_paths) == 4 and report.bytes == sum(
        p.stat().st_size for p in report.tar_paths
    )


class _Crash(RuntimeError):
    pass


def test_crash_mid_export_then_rerun_equals_a_clean_run(tmp_path: Path, sources) -> None:
    members = members_frame(_rows(sources))
    clean = tmp_path / "clean"
    export_subset(members, clean, SPEC)

    crashed = tmp_path / "crashed"

    def crash_after_three(done: int, total: int) -> None:
        if done == 3:
            raise _Crash("killed")

    with pytest.raises(_Crash):
        export_subset(members, crashed, SPEC, progress=crash_after_three)
    assert not (crashed / MANIFEST_PARQUET).exists()  # never a manifest for half an export
    finished = sorted(p.name for p in crashed.glob("*.tar"))
    assert finished == ["pretrain_test-000000.tar"]  # clips 1-2; clip 3's shard was not kept
    assert not list(crashed.glob(".*.tmp"))
    first_mtime = (crashed / finished[0]).stat().st_mtime_ns
    # what a killed process (no exception handlers run) would leave behind
    (crashed / ".pretrain_test-000001.tar.tmp").write_bytes(b"half a shard")
    (crashed / ".transcode-abc.mp4.tmp").write_bytes(b"half a clip")

    seen: list[tuple[int, int]] = []
    report = export_subset(members, crashed, SPEC, progress=lambda d, t: seen.append((d, t)))
    assert (report.exported, report.skipped) == (4, 2)
    assert seen[-1] == (6, 6)
    assert (crashed / finished[0]).stat().st_mtime_ns == first_mtime
    assert read_manifest(crashed).equals(read_manifest(clean))
    assert not list(crashed.glob(".*.tmp"))
    for tar in sorted(clean.glob("*.tar")):
        assert _tar_members(crashed / tar.name) == _tar_members(tar)


def test_changed_membership_rebuilds_only_what_changed(tmp_path: Path, sources) -> None:
    rows = _rows(sources)
    out = tmp_path / "export"
    export_subset(members_frame(rows), out, SPEC)
    before = _mtimes(out)
    # drop the 4-6s clip (its shard goes away), add one 9:16 clip (its bucket's shard changes)
    changed = [r for r in rows if r["duration_bucket"] != "4-6s"]
    changed.append(member(sources["phone"], 24, 72, 24, 180, 320, "9:16"))
    report = export_subset(members_frame(changed), out, SPEC)
    assert [p.name for p in report.tars_written] == ["pretrain_test-000002.tar"]
    assert [p.name for p in report.tars_removed] == ["pretrain_test-000003.tar"]
    assert (report.exported, report.reused, report.skipped) == (1, 1, 4)
    after = _mtimes(out)
    for name in ("pretrain_test-000000.tar", "pretrain_test-000001.tar"):
        assert after[name] == before[name]
    manifest = read_manifest(out)
    assert manifest.height == 6 and report.per_bucket == {"2-4s|16:9": 4, "2-4s|9:16": 2}
    assert set(manifest["tar"]) == {f"pretrain_test-00000{i}.tar" for i in range(3)}
    keys = _tar_members(out / "pretrain_test-000002.tar")
    assert sorted(k for k in keys if k.endswith(".mp4")) == sorted(
        f"{k}.mp4" for k in manifest.filter(pl.col("aspect_bucket") == "9:16")["key"]
    )


def test_changed_media_settings_rebuild_every_shard(tmp_path: Path, sources) -> None:
    members = members_frame(_rows(sources)[:2])
    out = tmp_path / "export"
    export_subset(members, out, SPEC)
    report = export_subset(members, out, ExportSpec("pretrain_test", 2, short_side=60, fps=24))
    assert (report.exported, report.reused) == (2, 0)
    assert set(read_manifest(out)["out_height"]) == {60}


def test_manifest_only_export_predicts_what_the_media_export_gives(tmp_path: Path, sources) -> None:
    members = members_frame(_rows(sources))
    media = export_subset(members, tmp_path / "media", SPEC)
    spec = ExportSpec("pretrain_test", 2, short_side=90, fps=24, write_media=False)
    only = export_subset(members, tmp_path / "media", spec)
    assert only.tar_paths == [] and len(only.tars_removed) == len(media.tar_paths)
    assert not list((tmp_path / "media").glob("*.tar"))
    manifest = read_manifest(tmp_path / "media")
    assert manifest["tar"].null_count() == manifest.height
    fresh = export_subset(members, tmp_path / "fresh", SPEC)
    real = read_manifest(tmp_path / "fresh")
    cols = ["clip_id", "out_frames", "out_fps", "out_width", "out_height"]
    assert manifest.select(cols).equals(real.select(cols))
    assert fresh.ok == 6


def test_bad_specs_and_members_are_refused_clearly(tmp_path: Path, sources) -> None:
    with pytest.raises(ValueError, match="subset name"):
        ExportSpec("Bad Name!")
    with pytest.raises(ValueError, match="clips_per_tar"):
        ExportSpec("ok", clips_per_tar=0)
    with pytest.raises(ValueError, match="no encoder"):
        ExportSpec("ok", codec="no-such-codec")
    with pytest.raises(ValueError, match="aspect ratio"):
        ExportSpec("ok", aspect_ratios={"16:9": 0.0})
    rows = _rows(sources)[:2]
    with pytest.raises(ValueError, match="lack columns: caption"):
        export_subset(members_frame(rows).drop("caption"), tmp_path / "x", SPEC)
    with pytest.raises(ValueError, match="more than once"):
        export_subset(members_frame([rows[0], rows[0]]), tmp_path / "x", SPEC)
    backwards = {**rows[1], "end_s": rows[1]["start_s"]}
    with pytest.raises(ValueError, match="empty range"):
        export_subset(members_frame([rows[0], backwards]), tmp_path / "x", SPEC)


def test_nan_scores_are_written_as_null(tmp_path: Path, sources) -> None:
    row = {**_rows(sources)[0], "score_aesthetic": float("nan")}
    out = tmp_path / "export"
    report = export_subset(members_frame([row]), out, SPEC)
    (tar,) = report.tar_paths
    meta = next(v for k, v in _tar_members(tar).items() if k.endswith(".json"))
    assert json.loads(meta)["scores"]["aesthetic"] is None  # strict JSON, no NaN token
    assert b"NaN" not in meta


def test_caption_change_repacks_without_re_encoding(tmp_path: Path, sources) -> None:
    rows = _rows(sources)[:3]
    out = tmp_path / "export"
    export_subset(members_frame(rows), out, SPEC)
    rows[2] = {**rows[2], "caption": "a better caption"}
    report = export_subset(members_frame(rows), out, SPEC)
    assert (report.exported, report.reused, report.skipped) == (0, 1, 2)
    assert [p.name for p in report.tars_written] == ["pretrain_test-000001.tar"]
    key = read_manifest(out).filter(pl.col("caption") == "a better caption")["key"][0]
    assert _tar_members(out / "pretrain_test-000001.tar")[f"{key}.txt"] == b"a better caption"


def test_empty_selection_gives_an_empty_manifest_and_no_shards(tmp_path: Path, sources) -> None:
    out = tmp_path / "export"
    export_subset(members_frame(_rows(sources)[:1]), out, SPEC)
    empty = members_frame(_rows(sources)[:1]).clear()
    report = export_subset(empty, out, SPEC)
    assert report.clips_total == 0 and report.tar_paths == [] and len(report.tars_removed) == 1
    assert read_manifest(out).height == 0 and not list(out.glob("*.tar"))


def test_two_exports_of_one_directory_at_once_end_consistent(tmp_path: Path, sources) -> None:
    members = members_frame(_rows(sources)[:3])
    out = tmp_path / "export"
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: export_subset(members, out, SPEC), range(2)))
    # the lock serialises them: one encodes everything, the other finds it done
    assert sorted(r.exported for r in reports) == [0, 3]
    manifest = read_manifest(out)
    assert manifest.height == 3 and set(manifest["status"]) == {"ok"}


def test_the_webdataset_loader_reads_the_shards_as_samples(tmp_path: Path, sources) -> None:
    out = tmp_path / "export"
    report = export_subset(members_frame(_rows(sources)), out, SPEC)
    urls = [str(p) for p in report.tar_paths]
    samples = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    manifest = read_manifest(out)
    assert [s["__key__"] for s in samples] == manifest["key"].to_list()
    for sample, row in zip(samples, manifest.iter_rows(named=True), strict=True):
        assert json.loads(sample["json"])["clip_id"] == row["clip_id"]
        assert _decoded(sample["mp4"])[0] == row["out_frames"]
        assert ("txt" in sample) == (row["caption"] is not None)


def test_a_new_bucket_early_in_the_order_renames_later_shards(tmp_path: Path, sources) -> None:
    rows = _rows(sources)
    out = tmp_path / "export"
    export_subset(members_frame(rows), out, SPEC)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.tar")}
    # "0-2s|16:9" sorts first: a new shard 000000, every other shard's number moves up by one
    early = member(sources["wide"], 0, 30, 30, 320, 180, "16:9", duration_bucket="0-2s")
    report = export_subset(members_frame([*rows, early]), out, SPEC)
    assert (report.exported, report.reused, report.skipped) == (1, 0, 6)
    assert [p.name for p in report.tars_written] == ["pretrain_test-000000.tar"]
    assert len(report.tars_moved) == 4 and report.tars_removed == []
    for i in range(4):
        moved = out / f"pretrain_test-{i + 1:06d}.tar"
        assert (moved.stat().st_mtime_ns, moved.read_bytes()) == before[
            f"pretrain_test-{i:06d}.tar"
        ]
    manifest = read_manifest(out)
    for row in manifest.iter_rows(named=True):
        assert f"{row['key']}.mp4" in _tar_members(out / row["tar"])
    again = export_subset(members_frame([*rows, early]), out, SPEC)
    assert (again.exported, again.skipped, again.tars_moved, again.tars_written) == (0, 7, [], [])


def test_dropping_the_first_shard_moves_the_rest_down(tmp_path: Path, sources) -> None:
    rows = _rows(sources)
    out = tmp_path / "export"
    export_subset(members_frame(rows), out, SPEC)
    first = {r["clip_id"] for r in read_manifest(out).head(2).iter_rows(named=True)}
    before = {p.name: p.read_bytes() for p in out.glob("*.tar")}
    kept = [r for r in rows if r["clip_id"] not in first]
    report = export_subset(members_frame(kept), out, SPEC)
    assert (report.exported, report.reused, report.skipped) == (0, 0, 4)
    # 000001-000003 move down a number; the old 000000 is replaced, nothing is left to delete
    assert len(report.tars_moved) == 3 and report.tars_removed == []
    assert sorted(p.name for p in out.glob("*.tar")) == [
        f"pretrain_test-{i:06d}.tar" for i in range(3)
    ]
    for i in range(3):
        assert (out / f"pretrain_test-{i:06d}.tar").read_bytes() == before[
            f"pretrain_test-{i + 1:06d}.tar"
        ]
    assert read_manifest(out).height == 4
