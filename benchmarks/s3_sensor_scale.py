"""How long is one uploads_sensor tick when the shards live on S3 and there are many of them?

Usage: .venv/bin/python benchmarks/s3_sensor_scale.py [--shards 10000] [--new 5] [--repeat 3]
       [--first-sweep]

Starts moto's S3 server on a free loopback port, puts ``--shards`` complete shards (a ``_READY``
marker each) under ``s3://bench/up/`` that the Dagster instance already knows as
``source_shard`` partitions, then per round ``--new`` complete shards it does not know and 3 still
being written (no marker). Times, on a real Dagster instance through ``build_sensor_context``:

  full sweep      a tick without a cursor: lists every shard prefix (10 pages for 10,000)
  tick (new)      a tick with the cursor of the previous one that finds the new shards (lists
                  only after the highest name seen, HEADs the new and still-writing shards)
  tick (steady)   a later tick with nothing new (what the daemon runs every 30 s)
  baseline        the floor a sweeping design pays: the paginated Delimiter listing of all shard
                  prefixes (1000 per page) plus one query of the known partitions
  first sweep     (--first-sweep, informative) a fresh instance that knows none of the shards:
                  every shard's marker is checked (parallel HEADs)

Target (issue 8): a tick with 10,000 shards under 5 s. Note that moto answers each listing page
in time proportional to the whole bucket, so the full sweep here costs far more than on S3.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ[_name] = _value

import boto3  # noqa: E402
import dagster as dg  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from curation_assets.definitions import defs  # noqa: E402
from curation_assets.partitions import SHARD_PARTITIONS  # noqa: E402
from curation_assets.resources import CurationResource  # noqa: E402

BUCKET = "bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _put(client, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=BUCKET, Key=k, Body=b""), keys))


def _shards(client, names: list[str], ready: bool) -> None:
    _put(client, [f"up/{n}/{'_READY' if ready else 'clip.mp4'}" for n in names])


def _tick(instance, resource, cursor: str | None) -> tuple[float, dg.SensorResult]:
    sensor = defs.resolve_sensor_def("uploads_sensor")
    start = time.perf_counter()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"curation": resource}
    )
    result = sensor(context)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--first-sweep", action="store_true")
    args = parser.parse_args()

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            (home / "curation.yaml").write_text(
                json.dumps({"storage": {"uploads": f"s3://{BUCKET}/up"}}), encoding="utf-8"
            )
            resource = CurationResource(home=str(home), s3_endpoint_url=endpoint)
            t0 = time.perf_counter()
            known = [f"batch-{i:06d}" for i in range(args.shards)]
            _shards(client, known, ready=True)
            print(f"setup: {args.shards} shards on S3 in {time.perf_counter() - t0:.1f} s")

            first = None
            if args.first_sweep:
                with dg.instance_for_test() as fresh:
                    first, result = _tick(fresh, resource, None)
                    if len(result.run_requests) != args.shards:
                        print(f"FAIL: first sweep requested {len(result.run_requests)} runs")
                        return 1

            with dg.instance_for_test() as instance:
                instance.add_dynamic_partitions(SHARD_PARTITIONS, known)
                sweeps, new_ticks, steady_ticks, baselines = [], [], [], []
                seconds, result = _tick(instance, resource, None)
                cursor = result.cursor
                for round_ in range(args.repeat):
                    # names sort after everything before them, as dated or numbered batches do
                    new = [f"z{round_}-new-{i:03d}" for i in range(args.new)]
                    _shards(client, new, ready=True)
                    _shards(client, [f"z{round_}-writing-{i}" for i in range(3)], ready=False)

                    seconds, result = _tick(instance, resource, cursor)
                    requested = sorted(r.partition_key for r in result.run_requests)
                    if requested != new:
                        print(f"FAIL: tick requested {requested[:10]}, expected {new}")
                        return 1
                    new_ticks.append(seconds)
                    for request in result.dynamic_partitions_requests or []:
                        instance.add_dynamic_partitions(
                            SHARD_PARTITIONS, list(request.partition_keys)
                        )

                    seconds, result = _tick(instance, resource, result.cursor)
                    if result.run_requests:
                        print(f"FAIL: steady tick requested {len(result.run_requests)} run(s)")
                        return 1
                    steady_ticks.append(seconds)
                    cursor = result.cursor

                    seconds, result = _tick(instance, resource, None)  # a full sweep
                    if result.run_requests:
                        print(f"FAIL: full sweep requested {len(result.run_requests)} run(s)")
                        return 1
                    sweeps.append(seconds)

                    start = time.perf_counter()
                    prefixes = [
                        p["Prefix"]
                        for page in client.get_paginator("list_objects_v2").paginate(
                            Bucket=BUCKET, Prefix="up/", Delimiter="/"
                        )
                        for p in page.get("CommonPrefixes", [])
                    ]
                    partitions = instance.get_dynamic_partitions(SHARD_PARTITIONS)
                    baselines.append(time.perf_counter() - start)
                    assert len(prefixes) >= len(partitions)

                base = statistics.median(baselines)
                print(f"{'measure':<16}{'median s':>10}{'max s':>10}{'x baseline':>12}")
                rows = [
                    ("tick (new)", new_ticks),
                    ("tick (steady)", steady_ticks),
                    ("full sweep", sweeps),
                    ("baseline", baselines),
                ]
                if first is not None:
                    rows.append(("first sweep", [first]))
                for label, values in rows:
                    med = statistics.median(values)
                    print(f"{label:<16}{med:>10.3f}{max(values):>10.3f}{med / base:>12.2f}")
                worst = max(new_ticks + steady_ticks)
                verdict = "PASS" if worst < 5.0 else "FAIL"
                print(
                    f"target: every incremental tick < 5 s with {args.shards} S3 shards: "
                    f"{verdict} (worst {worst:.3f} s); full sweeps (every "
                    f"storage.sensor_full_sweep_s) took up to {max(sweeps):.3f} s here"
                )
                return 0 if worst < 5.0 else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
