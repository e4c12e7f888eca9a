"""The production instance configs in deploy/, for real: Postgres, the run queue, pools, ECS.

The concurrency test is the production path on one machine: shards backfilled from the CLI
(``dagster job backfill``), queued in Postgres, launched by ``dagster-daemon`` no more than
``max_concurrent_runs`` at a time, with the ``gpu`` pool holding one step at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import store_for
from curation_assets_tests.deploy.conftest import (
    DEPLOY,
    REPO,
    Postgres,
    failure_messages,
    render_instance,
)

SHARDS = ["pg-a", "pg-b", "pg-c", "pg-d"]
GPU_STEPS = {"content_filter", "captions"}
LINEAGE = ["videos", "decode_passes", "shots", "clips", "decisions", "scores", "clip_labels"]


def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DAGSTER_ECS_TASK_DEFINITION": "curation-run",
        "DAGSTER_ECS_CLUSTER": "curation",
        "DAGSTER_COMPUTE_LOGS_BUCKET": "curation-logs",
        "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster/compute-logs",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_production_config_builds_every_component(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.yaml as the webserver loads it: Postgres, queue, ECS launcher, S3 logs."""
    import boto3
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
    from moto import mock_aws

    for key, value in postgres.env.items():
        monkeypatch.setenv(key, value)
    _aws_env(monkeypatch)
    home = render_instance(DEPLOY / "dagster.yaml", tmp_path / "dagster_home").parent
    with mock_aws():
        ecs = boto3.client("ecs")
        ecs.create_cluster(clusterName="curation")
        registered = ecs.register_task_definition(
            family="curation-run",
            containerDefinitions=[{"name": "run", "image": "curation:latest", "memory": 8192}],
        )
        boto3.client("s3").create_bucket(Bucket="curation-logs")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
            launcher = instance.run_launcher
            assert isinstance(launcher, EcsRunLauncher)
            assert launcher.task_definition == registered["taskDefinition"]["taskDefinitionArn"]
            assert launcher.run_task_kwargs["cluster"] == "curation"
            assert "DAGSTER_PG_HOST" in launcher.env_vars and "CURATION_HOME" in launcher.env_vars
            assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
            queue = instance.get_concurrency_config().run_queue_config
            assert queue.max_concurrent_runs == 16
            limits = {
                (t["key"], str(t.get("value"))): t["limit"] for t in queue.tag_concurrency_limits
            }
            assert limits[("curation/scope", "global")] == 1
            assert instance.run_monitoring_enabled
            assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300
            pools = instance.get_concurrency_config().pool_config
            assert pools.pool_granularity.value == "op" and pools.default_pool_limit == 4
            # the storage is really there: a partition written is read back by a new instance
            instance.add_dynamic_partitions("source_shard", ["prod-check"])
        with dg.DagsterInstance.from_config(str(home)) as again:
            assert "prod-check" in again.get_dynamic_partitions("source_shard")
            again.delete_dynamic_partition("source_shard", "prod-check")


def _ingest_shards(root: Path) -> None:
    for n, shard in enumerate(SHARDS):
        folder = root / shard
        write_video(
            VideoSpec(
                "two shots.mp4", (Shot(5, seed=10 * n), Shot(6, "pan_right", seed=10 * n + 1))
            ),
            folder / "two shots.mp4",
        )
        (folder / "notes.txt").write_text("not a video\n", encoding="utf-8")
        assert main(["ingest", str(folder), "--shard", shard]) == 0


def _dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), *args, "-w", str(REPO / "workspace.yaml")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"dagster {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    live = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        live += step
        peak = max(peak, live)
    return peak


def _step_intervals(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    from dagster._core.events import DagsterEventType

    types = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id, of_type=types):
        spans.setdefault(entry.step_key, []).append(entry.timestamp)
    return {k: (min(v), max(v)) for k, v in spans.items() if len(v) == 2}


def test_four_shards_through_the_queue_on_postgres(
    postgres: Postgres, home: Path, tmp_path: Path
) -> None:
    dagster_home = render_instance(DEPLOY / "dagster.local-postgres.yaml", tmp_path / "dh").parent
    env = {
        **os.environ,
        **postgres.env,
        "CURATION_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "GX_ANALYTICS_ENABLED": "false",
        # one process per run (not per step): this tests the queue and pools, not the executor,
        # and 2 cores cannot afford ~20 interpreter starts per run
        "CURATION_EXECUTOR": "in_process",
    }
    _ingest_shards(tmp_path / "incoming")
    os.environ.update(postgres.env)  # the test's own instance reads the same variables
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            instance.add_dynamic_partitions("source_shard", SHARDS)
        # only the backfill below launches runs: no sensor may add its own
        _dagster(env, "sensor", "stop", "uploads_sensor")
        _dagster(env, "sensor", "stop", "global_automation")
        _dagster(env, "job", "backfill", "-j", "shard_job", "--partitions", ",".join(SHARDS),
                 "--noprompt")  # fmt: skip

        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run",
             "-w", str(REPO / "workspace.yaml")],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            runs = _wait_for_runs(dagster_home, daemon, tmp_path / "daemon.log", timeout=1500)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
            log.close()

        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            records = instance.get_run_records(dg.RunsFilter(job_name="shard_job"))
            assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == SHARDS
            assert all("dagster/backfill" in r.dagster_run.tags for r in records)
            # every run waited in the queue and was launched by the daemon
            for r in records:
                first = {}
                for e in instance.all_logs(r.dagster_run.run_id):
                    if e.dagster_event_type:
                        first.setdefault(e.dagster_event_type.value, e.timestamp)
                assert first["PIPELINE_ENQUEUED"] < first["PIPELINE_STARTING"], first
            spans = [(r.start_time, r.end_time) for r in records]
            assert _max_overlap(spans) == 2, spans  # max_concurrent_runs: 2, and it was used
            gpu = [
                span
                for r in records
                for step, span in _step_intervals(instance, r.dagster_run.run_id).items()
                if step in GPU_STEPS
            ]
            assert len(gpu) == 2 * len(SHARDS)
            assert _max_overlap(gpu) == 1, gpu  # the gpu pool: one step at a time
    finally:
        for key in postgres.env:
            os.environ.pop(key, None)
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 4

    store = store_for(Layout(home))
    videos = store.query(
        "SELECT shard, count(*), count(DISTINCT video_id), count(*) FILTER (status = 'admitted') "
        "FROM videos GROUP BY shard ORDER BY shard"
    ).rows()
    assert videos == [(s, 2, 2, 1) for s in SHARDS]
    clips = store.query(
        "SELECT shard, count(*), count(DISTINCT clip_id) FROM clips GROUP BY shard ORDER BY shard"
    ).rows()
    assert clips == [(s, 2, 2) for s in SHARDS]
    for table in LINEAGE:  # no row twice in any table
        total, distinct = store.query(
            f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM (SELECT DISTINCT * "
            f"FROM {table}))"
        ).row(0)
        assert total == distinct, table
    stages = store.query("SELECT DISTINCT shard, stage FROM decisions ORDER BY shard, stage").rows()
    per_shard = {s: {st for sh, st in stages if sh == s} for s in SHARDS}
    for shard in SHARDS:  # every stage wrote for every shard
        assert {"shot_clips", "visual_filter", "motion_filter"} <= per_shard[shard], per_shard


def _wait_for_runs(dagster_home: Path, daemon: subprocess.Popen, log: Path, timeout: float):
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        while True:
            runs = instance.get_runs(dg.RunsFilter(job_name="shard_job"))
            if len(runs) == len(SHARDS) and all(r.is_finished for r in runs):
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                states = [(r.tags.get("dagster/partition"), r.status.value) for r in runs]
                pytest.fail(
                    f"runs did not finish (daemon exit {daemon.poll()}): {states}\n"
                    + log.read_text(errors="replace")[-4000:]
                )
            time.sleep(2)
        if any(r.status != dg.DagsterRunStatus.SUCCESS for r in runs):
            pytest.fail(f"shard runs failed:\n{failure_messages(instance, runs)}")
        return sorted(runs, key=lambda r: r.tags["dagster/partition"])
