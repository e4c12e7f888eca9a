"""The uploads sensor: only complete shards, each once, fast with many shards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg

from curation_assets.definitions import defs
from curation_assets.partitions import SHARD_PARTITIONS
from curation_assets.resources import CurationResource


def _tick(instance: dg.DagsterInstance, home: Path, cursor: str | None = None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("uploads_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"curation": CurationResource(home=str(home))}
    )
    return sensor(context)


def _folder(home: Path, name: str, ready: bool) -> Path:
    folder = home / "uploads" / name
    folder.mkdir(parents=True)
    (folder / "a.mp4").write_bytes(b"x")
    if ready:
        (folder / "_READY").write_text("")
    return folder


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def test_sensor_takes_only_complete_shards_once(home: Path) -> None:
    _folder(home, "ready-1", ready=True)
    _folder(home, "still-writing", ready=False)
    _folder(home, "Bad Name", ready=True)
    with dg.instance_for_test() as instance:
        first = _tick(instance, home)
        assert [r.partition_key for r in first.run_requests] == ["ready-1"]
        assert first.run_requests[0].run_key == "shard:ready-1"
        assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [["ready-1"]]
        _apply(instance, first)
        assert json.loads(first.cursor)["known_shards"] == 1

        # nothing new: no run, and the shard being written is still left alone
        second = _tick(instance, home, first.cursor)
        assert not second.run_requests
        assert second.skip_reason is not None

        # the writer finishes: now it is picked up, and only it
        (home / "uploads" / "still-writing" / "_READY").write_text("")
        third = _tick(instance, home, second.cursor)
        assert [r.partition_key for r in third.run_requests] == ["still-writing"]
        _apply(instance, third)
        assert sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS)) == [
            "ready-1",
            "still-writing",
        ]


def test_sensor_with_ten_thousand_known_shards_only_requests_the_new_one(home: Path) -> None:
    uploads = home / "uploads"
    names = [f"shard-{i:05d}" for i in range(10_000)]
    for name in names:
        (uploads / name).mkdir(parents=True)
        (uploads / name / "_READY").write_text("")
    _folder(home, "zz-new", ready=True)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARD_PARTITIONS, names)
        started = time.perf_counter()
        result = _tick(instance, home)
        elapsed = time.perf_counter() - started
    assert [r.partition_key for r in result.run_requests] == ["zz-new"]
    print(f"sensor tick with 10,000 known shards: {elapsed:.3f} s")
