"""How long is one uploads_sensor tick when the shards live on S3 and there are many of them?

Usage: .venv/bin/python benchmarks/s3_sensor_scale.py [--shards 10000] [--new 5] [--repeat 3]

Starts moto's S3 server on a free loopback port, puts ``--shards`` complete shards (one file and
a ``_READY`` marker each) under ``s3://bench/up/`` that the Dagster instance already knows as
``source_shard`` partitions, then per round ``--new`` complete shards it does not know and 3 still
being written (no marker). Times, on a real Dagster instance through ``build_sensor_context``:

  tick (new)      the tick that finds the new shards (a full sweep: listing + one HEAD per
                  unknown shard, i.e. the new and the still-writing ones)
  tick (steady)   a later tick with nothing new (what the daemon runs every 30 s)
  baseline        the floor any design pays: the paginated Delimiter listing of the shard
                  prefixes alone (1000 per page) plus one query of the known partitions
  first sweep     (once, informative) a fresh instance that knows none of the shards: every
                  shard's marker is checked (parallel HEADs)

Target (issue 8): a tick with 10,000 shards under 5 s. A loopback server is faster per request
than real S3 (~20-50 ms a LIST page there), so steady ticks on S3 add roughly pages x latency.
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
    keys = [f"up/{n}/clip.mp4" for n in names]
    if ready:
        keys += [f"up/{n}/_READY" for n in names]
    _put(client, keys)


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

            with dg.instance_for_test() as fresh:
                first, result = _tick(fresh, resource, None)
                if len(result.run_requests) != args.shards:
                    print(f"FAIL: first sweep requested {len(result.run_requests)} runs")
                    return 1

            with dg.instance_for_test() as instance:
                instance.add_dynamic_partitions(SHARD_PARTITIONS, known)
                new_ticks, steady_ticks, baselines = [], [], []
                for round_ in range(args.repeat):
                    new = [f"new-{round_}-{i:03d}" for i in range(args.new)]
                    _shards(client, new, ready=True)
                    _shards(client, [f"writing-{round_}-{i}" for i in range(3)], ready=False)

                    seconds, result = _tick(instance, resource, None)
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
                for label, values in (
                    ("tick (new)", new_ticks),
                    ("tick (steady)", steady_ticks),
                    ("baseline", baselines),
                ):
                    med = statistics.median(values)
                    print(f"{label:<16}{med:>10.3f}{max(values):>10.3f}{med / base:>12.1f}")
                print(f"{'first sweep':<16}{first:>10.3f}{first:>10.3f}{first / base:>12.1f}")
                worst = max(new_ticks + steady_ticks)
                verdict = "PASS" if worst < 5.0 else "FAIL"
                print(
                    f"target: every tick < 5 s with {args.shards} S3 shards: {verdict} "
                    f"(worst {worst:.3f} s)"
                )
                return 0 if worst < 5.0 else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
