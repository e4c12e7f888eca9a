"""How long is one uploads_sensor tick when the data root already holds many shards?

Usage: .venv/bin/python benchmarks/sensor_scale.py [--shards 10000] [--new 5] [--repeat 3]

Builds a temporary data root with ``--shards`` complete shards (a folder with one file and a
``_READY`` marker each) that the Dagster instance already knows as ``source_shard`` partitions,
plus ``--new`` complete shards it does not know and 3 still being written (no marker). Then it
times, on a real (SQLite) Dagster instance through ``build_sensor_context``:

  tick (new)      the tick that finds the new shards: run requests + partition requests
  tick (steady)   a later tick with nothing new (what the daemon runs every 30 s)
  baseline        the floor any design pays: one directory listing of uploads/ plus one query
                  of the known partitions; the tick's ratio to it is the sensor's own overhead

Target (issue 8): a tick with 10,000 shards under 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import dagster as dg  # noqa: E402

from curation_assets.definitions import defs  # noqa: E402
from curation_assets.partitions import SHARD_PARTITIONS  # noqa: E402
from curation_assets.resources import CurationResource  # noqa: E402


def _shard(uploads: Path, name: str, ready: bool) -> None:
    folder = uploads / name
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"\0" * 16)
    if ready:
        (folder / "_READY").write_bytes(b"")


def _tick(instance: dg.DagsterInstance, home: Path, cursor: str | None) -> tuple[float, object]:
    sensor = defs.resolve_sensor_def("uploads_sensor")
    start = time.perf_counter()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"curation": CurationResource(home=str(home))}
    )
    result = sensor(context)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        home = Path(tmp)
        uploads = home / "uploads"
        t0 = time.perf_counter()
        known = [f"batch-{i:06d}" for i in range(args.shards)]
        for name in known:
            _shard(uploads, name, ready=True)
        instance.add_dynamic_partitions(SHARD_PARTITIONS, known)
        print(f"setup: {args.shards} known shards in {time.perf_counter() - t0:.1f} s")

        new_ticks, steady_ticks, baselines = [], [], []
        for round_ in range(args.repeat):
            new = [f"new-{round_}-{i:03d}" for i in range(args.new)]
            for name in new:
                _shard(uploads, name, ready=True)
            for i in range(3):
                _shard(uploads, f"writing-{round_}-{i}", ready=False)

            seconds, result = _tick(instance, home, None)
            requested = sorted(r.partition_key for r in result.run_requests)
            if requested != new:
                print(f"FAIL: tick requested {requested[:10]}, expected {new}")
                return 1
            new_ticks.append(seconds)
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(SHARD_PARTITIONS, list(request.partition_keys))

            seconds, result = _tick(instance, home, result.cursor)
            if result.run_requests:
                print(f"FAIL: steady tick requested {len(result.run_requests)} run(s)")
                return 1
            steady_ticks.append(seconds)

            start = time.perf_counter()
            with os.scandir(uploads) as entries:
                names = [e.name for e in entries]
            partitions = instance.get_dynamic_partitions(SHARD_PARTITIONS)
            baselines.append(time.perf_counter() - start)
            assert len(names) >= len(partitions)

        total = len(instance.get_dynamic_partitions(SHARD_PARTITIONS))
        base = statistics.median(baselines)
        print(f"shards known at the end: {total} (+3 per round still being written)")
        print(f"{'measure':<16}{'median s':>10}{'max s':>10}{'x baseline':>12}")
        for label, values in (
            ("tick (new)", new_ticks),
            ("tick (steady)", steady_ticks),
            ("baseline", baselines),
        ):
            med = statistics.median(values)
            print(f"{label:<16}{med:>10.3f}{max(values):>10.3f}{med / base:>12.1f}")
        worst = max(new_ticks + steady_ticks)
        verdict = "PASS" if worst < 5.0 else "FAIL"
        print(
            f"target: every tick < 5 s with {args.shards} shards: {verdict} (worst {worst:.3f} s)"
        )
        return 0 if worst < 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
