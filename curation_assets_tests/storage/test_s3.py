"""Shards on S3 (moto's server on loopback): sensor, pagination, scratch area, s3:// lineage."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from curation_assets.config import Layout
from curation_assets.definitions import defs
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.partitions import SHARD_PARTITIONS
from curation_assets.resources import CurationResource, store_for
from curation_assets.storage.scratch import Scratch
from curation_assets.storage.sources import S3ShardSource
from curation_assets_tests.storage.conftest import REGION, S3Env


def _settings(home: Path, s3: S3Env, **storage) -> CurationResource:
    lines = [f"  {k}: {json.dumps(v)}" for k, v in storage.items()]
    (home / "curation.yaml").write_text("storage:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return CurationResource(home=str(home), s3_endpoint_url=s3.endpoint, s3_region_name=REGION)


def _put_many(s3: S3Env, keys: list[str], body: bytes = b"") -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.client.put_object(Bucket=s3.bucket, Key=k, Body=body), keys))


def _tick(
    instance: dg.DagsterInstance, resource: CurationResource, cursor: str | None = None
) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("uploads_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"curation": resource}
    )
    return sensor(context)


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def _count_heads(client) -> list[str]:
    heads: list[str] = []
    client.meta.events.register(
        "before-call.s3.HeadObject", lambda params, **_: heads.append(params["url_path"])
    )
    return heads


def test_sensor_to_s3_lineage_end_to_end(home: Path, s3: S3Env, tmp_path: Path) -> None:
    resource = _settings(
        home,
        s3,
        uploads=f"s3://{s3.bucket}/raw",
        outputs=f"s3://{s3.bucket}/curated",
        scratch_max_mb=1,  # forces several download batches
    )
    local = tmp_path / "videos"
    specs = [
        VideoSpec("two shots.mp4", (Shot(6), Shot(5, "pan_right"))),
        VideoSpec("café take.mp4", (Shot(9, "pan_left"),), fps=12),
    ]
    for spec in specs:
        write_video(spec, local / spec.name)
    (local / "empty.mp4").write_bytes(b"")
    for path in sorted(local.iterdir()):
        s3.client.upload_file(str(path), s3.bucket, f"raw/s3-shard/{path.name}")
    s3.client.put_object(Bucket=s3.bucket, Key="raw/still-writing/a.mp4", Body=b"x")
    # the marker comes last: only now is the shard complete
    s3.client.put_object(Bucket=s3.bucket, Key="raw/s3-shard/_READY", Body=b"")

    with dg.instance_for_test() as instance:
        tick = _tick(instance, resource)
        assert [r.partition_key for r in tick.run_requests] == ["s3-shard"]
        assert tick.run_requests[0].run_key == "shard:s3-shard"
        _apply(instance, tick)
        request = tick.run_requests[0]
        # the run the sensor asked for: its job, partition and tags (as the daemon launches it)
        job = defs.resolve_job_def(request.job_name or "shard_job")
        result = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags=request.tags,
            resources={"curation": resource},
        )
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks), [
            (c.check_name, c.metadata) for c in checks if not c.passed
        ]

    store = store_for(Layout(home))
    videos = store.query("SELECT file_name, uri, status, reason FROM videos ORDER BY file_name")
    assert videos["file_name"].to_list() == ["café take.mp4", "empty.mp4", "two shots.mp4"]
    assert videos["uri"].to_list() == [
        f"s3://{s3.bucket}/raw/s3-shard/{name}" for name in videos["file_name"]
    ]
    status = dict(zip(videos["file_name"], videos["reason"], strict=True))
    assert status == {"café take.mp4": None, "empty.mp4": "unreadable", "two shots.mp4": None}
    clips = store.query(
        "SELECT v.file_name, c.start_s, c.end_s FROM clips c JOIN videos v USING (video_id) "
        "ORDER BY v.file_name, c.start_s"
    )
    assert clips.filter(pl.col("file_name") == "two shots.mp4")["start_s"].to_list() == [
        0.25,
        6.25,
    ]
    assert len(clips.filter(pl.col("file_name") == "café take.mp4")) == 1
    passes = store.query("SELECT status FROM decode_passes")["status"].to_list()
    assert passes == ["ok", "ok"]

    # the scratch area was used and is empty again
    scratch = home / "scratch"
    assert scratch.is_dir() and list(scratch.iterdir()) == []

    # outputs: the lineage parts are on S3 too, and they point at s3://
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="curated/lineage/")
    keys = {o["Key"] for o in listed["Contents"]}
    assert "curated/lineage/videos/source_videos__s3-shard.parquet" in keys
    assert "curated/lineage/clips/shot_clips__s3-shard.parquet" in keys
    assert "curated/lineage/videos/_empty.parquet" in keys
    body = s3.client.get_object(
        Bucket=s3.bucket, Key="curated/lineage/videos/source_videos__s3-shard.parquet"
    )["Body"].read()
    remote = pl.read_parquet(io.BytesIO(body))
    assert sorted(remote["uri"].to_list()) == sorted(videos["uri"].to_list())


def test_shard_without_ready_is_left_until_its_marker_lands(home: Path, s3: S3Env) -> None:
    resource = _settings(home, s3, uploads=f"s3://{s3.bucket}/up")
    _put_many(s3, ["up/done/a.mp4", "up/done/_READY", "up/writing/a.mp4", "up/Bad Name/_READY"])
    with dg.instance_for_test() as instance:
        first = _tick(instance, resource)
        assert [r.partition_key for r in first.run_requests] == ["done"]
        _apply(instance, first)
        second = _tick(instance, resource, first.cursor)
        assert not second.run_requests and second.skip_reason
        s3.client.put_object(Bucket=s3.bucket, Key="up/writing/_READY", Body=b"")
        third = _tick(instance, resource, second.cursor)
        assert [r.partition_key for r in third.run_requests] == ["writing"]
        _apply(instance, third)
        assert sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS)) == ["done", "writing"]


def test_sensor_pages_through_more_than_1000_shards_with_its_cursor(home: Path, s3: S3Env) -> None:
    resource = _settings(home, s3, uploads=f"s3://{s3.bucket}/up", sensor_max_pages=1)
    names = [f"shard-{i:04d}" for i in range(1005)]
    _put_many(s3, [f"up/{n}/_READY" for n in names])
    lists = []
    resource.s3_client().meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: lists.append(params["query_string"])
    )
    with dg.instance_for_test() as instance:
        first = _tick(instance, resource)
        got = [r.partition_key for r in first.run_requests]
        assert got == names[:1000]  # one page of 1000 prefixes, then the tick stops
        assert json.loads(first.cursor)["listing"]["sweep_after"] == "shard-0999"
        _apply(instance, first)
        second = _tick(instance, resource, first.cursor)
        assert [r.partition_key for r in second.run_requests] == names[1000:]
        listing = json.loads(second.cursor)["listing"]
        assert listing["sweep_after"] is None and listing["high"] == "shard-1004"  # swept
        _apply(instance, second)

        # steady ticks list only after the highest name: one request, whatever the shard count
        s3.client.put_object(Bucket=s3.bucket, Key="up/zzz-new/_READY", Body=b"")
        s3.client.put_object(Bucket=s3.bucket, Key="up/aaa-late/_READY", Body=b"")
        lists.clear()
        third = _tick(instance, resource, second.cursor)
        assert [r.partition_key for r in third.run_requests] == ["zzz-new"]
        assert len(lists) == 1 and lists[0]["start-after"] == "up/shard-10040"
        _apply(instance, third)

        # a name sorting before those seen is found by the next full sweep
        _settings(home, s3, uploads=f"s3://{s3.bucket}/up", sensor_full_sweep_s=0)
        fourth = _tick(instance, resource, third.cursor)
        assert [r.partition_key for r in fourth.run_requests] == ["aaa-late"]


def test_known_shards_are_never_checked_again(s3: S3Env, tmp_path: Path) -> None:
    names = [f"old-{i:03d}" for i in range(300)]
    _put_many(s3, [f"p/{n}/_READY" for n in names] + ["p/new-1/_READY", "p/new-2/x.mp4"])
    source = S3ShardSource(s3.client, f"s3://{s3.bucket}/p", Scratch(tmp_path, 1 << 20))
    heads = _count_heads(s3.client)
    ready, state = source.ready_shards(skip=set(names))
    assert ready == ["new-1"] and state["sweep_after"] is None and state["high"] == "old-299"
    assert sorted(heads) == ["/p/new-1/_READY", "/p/new-2/_READY"]
    # between full sweeps, only names after the highest seen are listed
    ready, _ = source.ready_shards(skip=set(), state={**state, "high": "old-298"})
    assert ready == ["old-299"]


def test_shard_with_more_than_1000_files_is_listed_whole(s3: S3Env, tmp_path: Path) -> None:
    keys = [f"big/many/clip {i:04d}.mp4" for i in range(1203)]
    _put_many(s3, [*keys, "big/many/_READY", "big/many/sub/"], body=b"v")
    source = S3ShardSource(s3.client, f"s3://{s3.bucket}/big/", Scratch(tmp_path, 1 << 20))
    files = source.list_files("many")
    assert len(files) == 1203  # neither the marker nor the folder placeholder
    assert files[0].uri == f"s3://{s3.bucket}/big/many/clip 0000.mp4"
    assert {f.size for f in files} == {1}


def test_scratch_is_bounded_and_refuses_what_cannot_fit(s3: S3Env, tmp_path: Path) -> None:
    _put_many(s3, [f"s/x/{i}.mp4" for i in range(5)], body=b"a" * 400)
    s3.client.put_object(Bucket=s3.bucket, Key="s/x/huge.mp4", Body=b"b" * 5000)
    s3.client.put_object(Bucket=s3.bucket, Key="s/x/gone.mp4", Body=b"c")
    source = S3ShardSource(s3.client, f"s3://{s3.bucket}/s", Scratch(tmp_path / "scr", 1000))
    files = source.list_files("x")
    s3.client.delete_object(Bucket=s3.bucket, Key="s/x/gone.mp4")  # deleted mid-run
    seen: dict[str, str | None] = {}
    with source.staged(files) as batches:
        for batch in batches:
            on_disk = [p for p in (tmp_path / "scr").rglob("*") if p.is_file()]
            assert sum(p.stat().st_size for p in on_disk) <= 1000
            for staged in batch:
                if staged.path is not None:
                    assert staged.path.read_bytes() == b"a" * 400
                seen[staged.file.rel] = staged.problem
    assert set(seen) == {"0.mp4", "1.mp4", "2.mp4", "3.mp4", "4.mp4", "huge.mp4", "gone.mp4"}
    assert seen["huge.mp4"] is not None and "scratch area" in seen["huge.mp4"]
    assert seen["gone.mp4"] is not None and seen["gone.mp4"].startswith("download failed")
    assert all(seen[f"{i}.mp4"] is None for i in range(5))
    assert list((tmp_path / "scr").iterdir()) == []


def test_scratch_is_removed_when_the_reader_fails(s3: S3Env, tmp_path: Path) -> None:
    s3.client.put_object(Bucket=s3.bucket, Key="f/y/a.mp4", Body=b"a")
    source = S3ShardSource(s3.client, f"s3://{s3.bucket}/f", Scratch(tmp_path / "scr", 1000))
    with pytest.raises(RuntimeError, match="reader broke"):
        with source.staged(source.list_files("y")) as batches:
            for _ in batches:
                raise RuntimeError("reader broke")
    assert list((tmp_path / "scr").iterdir()) == []


def test_output_folder_sync_uploads_changes_and_removes_stale_files(
    home: Path, s3: S3Env, tmp_path: Path
) -> None:
    resource = _settings(home, s3, outputs=f"s3://{s3.bucket}/out/")
    export = tmp_path / "pretrain_720p"
    (export / "shards").mkdir(parents=True)
    (export / "shards" / "000000.tar").write_bytes(b"t0")
    (export / "shards" / "000001.tar").write_bytes(b"t1")
    (export / "manifest.parquet").write_bytes(b"m1")
    (export / ".lock").write_text("")
    uri = resource.publish(export, "exports/pretrain_720p")
    assert uri == f"s3://{s3.bucket}/out/exports/pretrain_720p/"

    def remote() -> dict[str, bytes]:
        listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="out/exports/")
        return {
            o["Key"].removeprefix("out/exports/pretrain_720p/"): s3.client.get_object(
                Bucket=s3.bucket, Key=o["Key"]
            )["Body"].read()
            for o in listed.get("Contents", [])
        }

    assert remote() == {
        "shards/000000.tar": b"t0",
        "shards/000001.tar": b"t1",
        "manifest.parquet": b"m1",
    }
    # a re-export drops a tar and rewrites the manifest: S3 follows
    (export / "shards" / "000001.tar").unlink()
    (export / "manifest.parquet").write_bytes(b"m2-longer")
    resource.publish(export, "exports/pretrain_720p")
    assert remote() == {"shards/000000.tar": b"t0", "manifest.parquet": b"m2-longer"}
    # without storage.outputs nothing leaves the machine
    local_only = _settings(home, s3)
    assert local_only.publish(export, "exports/pretrain_720p") is None


def test_curate_ingest_and_run_checks_on_s3(
    home: Path, s3: S3Env, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from curation_assets.cli import main

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)  # the CLI uses boto3's own settings
    _settings(home, s3, uploads=f"s3://{s3.bucket}/in")
    batch = tmp_path / "batch"
    (batch / "day 1").mkdir(parents=True)
    (batch / "a.mp4").write_bytes(b"aaaa")
    (batch / "day 1" / "b.mp4").write_bytes(b"bb")
    (batch / "_READY").write_text("")  # a finished folder's own marker is not copied

    assert main(["run", "--shard", "b1"]) == 2
    assert f"no shard 'b1' under s3://{s3.bucket}/in/" in capsys.readouterr().err
    s3.client.put_object(Bucket=s3.bucket, Key="in/b1/partial.mp4", Body=b"x")
    assert main(["run", "--shard", "b1"]) == 2
    assert f"s3://{s3.bucket}/in/b1/_READY is missing" in capsys.readouterr().err

    assert main(["ingest", str(batch), "--shard", "b2"]) == 0
    assert f"ingested 2 file(s) into s3://{s3.bucket}/in/b2/" in capsys.readouterr().out
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="in/b2/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "in/b2/_READY",
        "in/b2/a.mp4",
        "in/b2/day 1/b.mp4",
    ]
    # again: nothing to copy; changed content: refused, the complete shard is left alone
    assert main(["ingest", str(batch), "--shard", "b2"]) == 0
    assert "already complete" in capsys.readouterr().out
    (batch / "a.mp4").write_bytes(b"changed!")
    assert main(["ingest", str(batch), "--shard", "b2"]) == 2
    assert "1 file(s) differ" in capsys.readouterr().err


def test_scratch_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    import subprocess
    import sys

    scratch = Scratch(tmp_path / "scr", 1000)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    orphan = tmp_path / "scr" / f"{dead.stdout.strip()}-0123abcd"
    (orphan / "sub").mkdir(parents=True)
    (orphan / "sub" / "video.mp4").write_bytes(b"left behind by kill -9")
    with scratch.area() as mine:
        # a parallel live run (this process) keeps its area; the dead run's is gone
        with scratch.area() as other:
            assert other.is_dir() and mine.is_dir()
        assert not orphan.exists()
    assert list((tmp_path / "scr").iterdir()) == []


def test_subset_export_reads_s3_sources_and_publishes_to_s3(
    home: Path, s3: S3Env, tmp_path: Path
) -> None:
    """A subset of an S3 shard exports: sources read through ranged GETs (nothing staged whole),
    manifest uris stay s3://, the shards decode, the export lands under the outputs prefix, and
    a second export rewrites nothing (fingerprints use the objects' size and LastModified)."""
    import tarfile

    import av

    from curation_assets.assets.subsets import build_subsets
    from curation_assets.config import CurationConfig
    from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
    from curation_assets.exports import read_manifest

    resource = _settings(
        home, s3, uploads=f"s3://{s3.bucket}/raw", outputs=f"s3://{s3.bucket}/curated"
    )
    with open(home / "curation.yaml", "a", encoding="utf-8") as fh:
        fh.write(
            "subsets:\n  presets: []\n  stages:\n    s3_all:\n"
            "      export: {short_side: 96, fps: 12, clips_per_tar: 2}\n"
        )
    local = tmp_path / "videos"
    write_video(VideoSpec("a.mp4", (Shot(6, "pan_right", seed=3),)), local / "a.mp4")
    write_video(VideoSpec("b.mp4", (Shot(6, "tilt_down", seed=4),)), local / "b.mp4")
    for path in sorted(local.iterdir()):
        s3.client.upload_file(str(path), s3.bucket, f"raw/exp/{path.name}")
    s3.client.put_object(Bucket=s3.bucket, Key="raw/exp/_READY", Body=b"")
    cfg = CurationConfig.from_yaml(home / "curation.yaml")
    assets, exports, _ = build_subsets(cfg)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARD_PARTITIONS, ["exp"])
        resources = {"curation": resource}
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key="exp", resources=resources
        ).success
        assert dg.materialize(
            [*GLOBAL_ASSETS, *assets], instance=instance, resources=resources
        ).success
        assert dg.materialize(exports, instance=instance, resources=resources).success
    out = Layout(home).exports / "s3_all"
    manifest = read_manifest(out)
    assert manifest.height >= 2 and (manifest["status"] == "ok").all()
    assert manifest["uri"].str.starts_with(f"s3://{s3.bucket}/raw/exp/").all()
    assert "local_path" not in manifest.columns
    frames = 0
    for tar_path in out.glob("*.tar"):
        with tarfile.open(tar_path) as tar:
            for name in (n for n in tar.getnames() if n.endswith(".mp4")):
                with av.open(tar.extractfile(name)) as container:
                    frames += sum(1 for _ in container.decode(video=0))
    assert frames == manifest["out_frames"].sum()
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="curated/exports/s3_all/")
    assert "curated/exports/s3_all/manifest.parquet" in {o["Key"] for o in listed["Contents"]}
    assert not (Layout(home).warehouse / "export_sources").exists()
    tars = {p: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    with dg.instance_for_test() as instance:
        again = dg.materialize(exports, instance=instance, resources={"curation": resource})
    assert again.success
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.tar")} == tars
