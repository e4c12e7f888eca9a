"""A backfill of many shards started from the Dagster UI, end to end.

The webserver's "Materialize" dialog starts a backfill with the GraphQL mutation
``launchPartitionBackfill``; these tests send that mutation with the variables the dialog sends,
to the GraphQL schema the webserver serves, over a workspace that loads ``workspace.yaml`` in a
code server process as ``dagster dev`` does. The backfill daemon's own iteration then turns the
backfill into runs, and the default run launcher starts each as a ``dagster api execute_run``
process of that code server: the production path minus the HTTP server and the daemon's loop.

The dialog sends one of two backfills, depending on where it is opened:

- from the asset graph or the ``per_shard`` group page it targets the first job all selected
  assets share, ``__ASSET_JOB``: a pure asset backfill (asset selection + partition names, no
  partition-set selector), split into runs by the assets' backfill policy;
- from the ``shard_job`` page: a job backfill of ``shard_job_partition_set``.

Only the per-shard assets are selected: the dialog refuses one partition backfill over assets of
different partitionings, and the unpartitioned global assets follow by their own sensor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARENT_BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.workspace.context import WorkspaceRequestContext
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.daemon import get_default_daemon_logger
from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
from dagster_graphql.test.utils import (
    define_out_of_process_context,
    execute_dagster_graphql,
    infer_repository_selector,
)

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.lineage.schema import TABLES
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.partitions import SHARD_PARTITIONS
from curation_assets.resources import store_for
from curation_assets_tests.deploy.conftest import REPO, failure_messages

SHARDS = ["ui-a", "ui-b", "ui-c"]
PER_SHARD_KEYS = sorted(a.key.to_user_string() for a in PER_SHARD_ASSETS)
SHARD_STAGES = {"shot_clips", "visual_filter", "motion_filter", "content_filter", "captions"}
BACKFILL_TIMEOUT_S = 300

ADD_DYNAMIC_PARTITION = """
mutation ($repositorySelector: RepositorySelector!, $partitionsDefName: String!,
          $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $repositorySelector,
                      partitionsDefName: $partitionsDefName, partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on PythonError { message stack }
  }
}
"""

# the backfill page's "Re-execute" menu
REEXECUTE_BACKFILL = """
mutation ($reexecutionParams: ReexecutionParams!) {
  reexecutePartitionBackfill(reexecutionParams: $reexecutionParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL_STATUS = """
query ($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      isAssetBackfill
      numPartitions
      partitionSetName
      assetSelection { path }
      tags { key value }
      partitionStatuses { results { partitionName runStatus } }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
    }
    ... on PythonError { message stack }
    ... on BackfillNotFoundError { message }
  }
}
"""


@pytest.fixture
def ui(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WorkspaceRequestContext]:
    """The webserver's GraphQL context over workspace.yaml, on a fresh instance, with 3 shards."""
    _ingest_shards(tmp_path / "incoming")
    # read by the code server and the run workers it starts (they inherit the environment):
    # shard_job and the asset job run their steps in the run's process, which 2 cores afford
    monkeypatch.setenv("CURATION_EXECUTOR", "in_process")
    monkeypatch.chdir(REPO)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    # DefaultRunCoordinator: a submitted run is launched at once (``dagster dev`` queues it for
    # the run-queue daemon first; the queue is tested in test_postgres_instance.py)
    coordinator = {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}
    with dg.instance_for_test(
        temp_dir=str(dagster_home), overrides={"run_coordinator": coordinator}
    ) as instance:
        with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as ctx:
            entries = ctx.get_code_location_entries()
            errors = [e.load_error for e in entries.values() if e.load_error]
            assert not errors, errors
            _add_partitions(ctx)
            yield ctx


def _ingest_shards(incoming: Path) -> None:
    """Per shard: one admitted video (one 5 s shot) and one too small (160x90) to be admitted."""
    for n, shard in enumerate(SHARDS):
        folder = incoming / shard
        write_video(
            VideoSpec("take.mp4", (Shot(5, "pan_right", seed=20 + n),), width=256, height=144),
            folder / "take.mp4",
        )
        write_video(
            VideoSpec("thumb.mp4", (Shot(5, seed=30 + n),), width=160, height=90),
            folder / "thumb.mp4",
        )
        assert main(["ingest", str(folder), "--shard", shard]) == 0


def _gql(ctx: WorkspaceRequestContext, query: str, variables: dict) -> dict:
    result = execute_dagster_graphql(ctx, query, variables)
    assert not result.errors, result.errors
    return result.data


def _add_partitions(ctx: WorkspaceRequestContext) -> None:
    """The partitions page's "Add partition" (in production the uploads sensor adds them)."""
    for shard in SHARDS:
        variables = {
            "repositorySelector": infer_repository_selector(ctx),
            "partitionsDefName": SHARD_PARTITIONS,
            "partitionKey": shard,
        }
        added = _gql(ctx, ADD_DYNAMIC_PARTITION, variables)["addDynamicPartition"]
        assert added == {"__typename": "AddDynamicPartitionSuccess", "partitionKey": shard}
    assert ctx.instance.get_dynamic_partitions(SHARD_PARTITIONS) == SHARDS


def _launch(ctx: WorkspaceRequestContext, from_job_page: bool) -> str:
    """``launchPartitionBackfill`` with the dialog's variables for the per-shard assets."""
    params: dict = {
        "tags": [],
        "assetSelection": [{"path": key.split("/")} for key in PER_SHARD_KEYS],
        "partitionNames": SHARDS,
        "fromFailure": False,
    }
    if from_job_page:
        params["selector"] = {
            "partitionSetName": "shard_job_partition_set",
            "repositorySelector": infer_repository_selector(ctx),
        }
    data = _gql(ctx, LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params})
    launched = data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    assert launched["backfillId"]
    return launched["backfillId"]


def _drive(ctx: WorkspaceRequestContext, backfill_id: str) -> list[dg.DagsterRun]:
    """The backfill daemon's iterations, as ``dagster-daemon`` runs them, until it is done."""
    instance = ctx.instance
    logger = get_default_daemon_logger("BackfillDaemon")
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        errors = [e for e in execute_backfill_iteration(ctx.process_context, logger) if e]
        assert not errors, "\n".join(e.to_string() for e in errors)
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        if backfill.status != BulkActionStatus.REQUESTED:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"backfill {backfill_id}: {backfill.status} after {BACKFILL_TIMEOUT_S} s")
        time.sleep(1)
    runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    if any(r.status != dg.DagsterRunStatus.SUCCESS for r in runs):
        pytest.fail(f"backfill {backfill.status}, runs failed:\n{failure_messages(instance, runs)}")
    return sorted(runs, key=_shard_of)


def _shard_of(run: dg.DagsterRun) -> str:
    """A run's one shard: runs split by a backfill policy name it as a one-key range."""
    if PARTITION_NAME_TAG in run.tags:
        return run.tags[PARTITION_NAME_TAG]
    start, end = run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]
    assert start == end, (start, end)
    return start


def _assert_runs(ctx: WorkspaceRequestContext, runs: list[dg.DagsterRun], backfill_id: str) -> None:
    """One run per shard, each materializing every per-shard asset of it, every check passed."""
    assert [_shard_of(r) for r in runs] == SHARDS
    for run in runs:
        shard = _shard_of(run)
        assert run.tags[BACKFILL_ID_TAG] == backfill_id
        assert run.status == dg.DagsterRunStatus.SUCCESS
        done = ctx.instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        events = [r.event_log_entry.dagster_event for r in done]
        materialized = sorted((e.asset_key.to_user_string(), e.partition) for e in events)
        assert materialized == [(key, shard) for key in PER_SHARD_KEYS]
        checks = ctx.instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in checks]
        assert evaluations and all(e.passed for e in evaluations), [
            (e.check_name, e.passed) for e in evaluations
        ]


def _ran_in_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the run's executor ran its steps in the run's process (no process per step)."""
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
    ).records
    messages = [r.event_log_entry.message or "" for r in records]
    assert any(m.startswith("Executing steps") for m in messages), messages
    return any(m.startswith("Executing steps in process") for m in messages)


def _backfill_page(ctx: WorkspaceRequestContext, backfill_id: str) -> dict:
    """What the backfill page shows: done, every shard of every asset materialized."""
    data = _gql(ctx, BACKFILL_STATUS, {"backfillId": backfill_id})["partitionBackfillOrError"]
    assert data["__typename"] == "PartitionBackfill", data
    assert data["id"] == backfill_id
    assert data["status"] == "COMPLETED_SUCCESS", data["status"]
    assert data["numPartitions"] == len(SHARDS)
    assert sorted("/".join(k["path"]) for k in data["assetSelection"]) == PER_SHARD_KEYS
    if data["isAssetBackfill"]:
        counts = {
            "/".join(s["assetKey"]["path"]): (
                s["numPartitionsTargeted"],
                s["numPartitionsInProgress"],
                s["numPartitionsMaterialized"],
                s["numPartitionsFailed"],
            )
            for s in data["assetBackfillData"]["assetBackfillStatuses"]
        }
        assert counts == {key: (len(SHARDS), 0, len(SHARDS), 0) for key in PER_SHARD_KEYS}
    else:
        results = data["partitionStatuses"]["results"]
        assert sorted((p["partitionName"], p["runStatus"]) for p in results) == [
            (shard, "SUCCESS") for shard in SHARDS
        ]
    return data


def _assert_lineage(home: Path) -> None:
    """One ``videos`` row per file of every shard, clips of the admitted ones, no row twice."""
    store = store_for(Layout(home))
    videos = store.query(
        "SELECT shard, file_name, status, reason FROM videos ORDER BY shard, file_name"
    ).rows()
    assert videos == [
        row
        for shard in SHARDS
        for row in [
            (shard, "take.mp4", "admitted", None),
            (shard, "thumb.mp4", "rejected", "too_small"),
        ]
    ]
    clips = store.query(
        "SELECT c.shard, v.file_name, count(*), count(DISTINCT c.clip_id) FROM clips c "
        "JOIN videos v USING (video_id) GROUP BY ALL ORDER BY ALL"
    ).rows()
    assert clips == [(shard, "take.mp4", 1, 1) for shard in SHARDS]
    stages = store.query("SELECT DISTINCT shard, stage FROM decisions").rows()
    for shard in SHARDS:  # every per-shard stage wrote its decisions for every shard
        assert SHARD_STAGES <= {stage for s, stage in stages if s == shard}, stages
    for table in TABLES:
        total, distinct = store.query(
            f"SELECT (SELECT count(*) FROM {table}), "
            f"(SELECT count(*) FROM (SELECT DISTINCT * FROM {table}))"
        ).row(0)
        assert total == distinct, table


def _lineage(home: Path) -> dict[str, list[tuple]]:
    store = store_for(Layout(home))
    snapshot = {}
    for table in TABLES:
        rows = store.query(f"SELECT * FROM {table}")
        snapshot[table] = rows.sort(rows.columns, nulls_last=True).rows()
    return snapshot


@pytest.mark.slow
def test_asset_backfill_from_the_ui_then_reexecuted(
    home: Path, ui: WorkspaceRequestContext
) -> None:
    backfill_id = _launch(ui, from_job_page=False)
    runs = _drive(ui, backfill_id)
    # SHARD_BACKFILL (multi_run, max 1 partition per run): a run per shard
    _assert_runs(ui, runs, backfill_id)
    assert all(r.job_name == "__ASSET_JOB" for r in runs)
    assert all(
        sorted(k.to_user_string() for k in r.asset_selection) == PER_SHARD_KEYS for r in runs
    )
    # the code location's executor (shard_executor(): $CURATION_EXECUTOR), as for shard_job;
    # Dagster's per-step default would start one interpreter per step (~3 min a tiny shard here)
    assert all(_ran_in_process(ui.instance, r) for r in runs)
    page = _backfill_page(ui, backfill_id)
    assert page["isAssetBackfill"] and page["partitionSetName"] is None
    _assert_lineage(home)
    first = _lineage(home)

    # the backfill page's "Re-execute": the same backfill again, new runs, the same lineage
    again = _gql(
        ui,
        REEXECUTE_BACKFILL,
        {"reexecutionParams": {"parentRunId": backfill_id, "strategy": "ALL_STEPS"}},
    )["reexecutePartitionBackfill"]
    assert again["__typename"] == "LaunchBackfillSuccess", again
    rerun = _drive(ui, again["backfillId"])
    _assert_runs(ui, rerun, again["backfillId"])
    assert not {r.run_id for r in rerun} & {r.run_id for r in runs}
    tags = {t["key"]: t["value"] for t in _backfill_page(ui, again["backfillId"])["tags"]}
    assert tags[PARENT_BACKFILL_ID_TAG] == backfill_id
    assert _lineage(home) == first


@pytest.mark.slow
def test_job_backfill_from_the_shard_job_page(home: Path, ui: WorkspaceRequestContext) -> None:
    backfill_id = _launch(ui, from_job_page=True)
    runs = _drive(ui, backfill_id)
    _assert_runs(ui, runs, backfill_id)
    # shard_job's runs: its tags (run-queue scope, ECS task size) and its executor
    for run in runs:
        assert run.job_name == "shard_job"
        assert run.tags["curation/scope"] == "shard" and run.tags["ecs/cpu"] == "2048"
        assert _ran_in_process(ui.instance, run)  # shard_executor(): $CURATION_EXECUTOR
    page = _backfill_page(ui, backfill_id)
    assert not page["isAssetBackfill"]
    assert page["partitionSetName"] == "shard_job_partition_set"
    _assert_lineage(home)
