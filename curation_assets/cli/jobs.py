"""Dagster jobs run in process by ``curate run``, ``demo`` and ``export``: one shard's assets,
the global assets, one subset's export; each says whether it (and its checks) passed."""

from __future__ import annotations

from curation_assets.cli.data_root import dagster_home, uploads_source
from curation_assets.config import Layout
from curation_assets.storage.shards import ShardError, check_shard_name


def run_shard(shard: str, layout: Layout) -> bool:
    """Materialize every per-shard asset (and its checks) for one shard; True when all passed."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.partitions import SHARD_PARTITIONS
    from curation_assets.resources import CurationResource

    check_shard_name(shard)
    source = uploads_source(layout)
    if not source.exists(shard):
        raise ShardError(
            f"no shard {shard!r} under {source.uploads_uri} (use `curate ingest` first)"
        )
    if not source.is_ready(shard):
        raise ShardError(f"shard {shard!r} is not complete yet: {source.marker(shard)} is missing")
    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(SHARD_PARTITIONS, [shard])
        job = defs.resolve_job_def("shard_job")
        result = job.execute_in_process(
            instance=instance,
            partition_key=shard,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate run"},
        )
        checks_ok = all(e.passed for e in result.get_asset_check_evaluations())
        return result.success and checks_ok


def run_global(layout: Layout) -> bool:
    """Materialize the global assets (near-duplicates, concepts, every subset stage) and their
    checks over all shards; True when all passed."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.resources import CurationResource

    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("global_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate run"},
        )
        checks_ok = all(
            e.passed or e.severity == dg.AssetCheckSeverity.WARN
            for e in result.get_asset_check_evaluations()
        )
        return result.success and checks_ok


def export_subset_cli(subset: str, layout: Layout) -> bool:
    """Materialize ``<subset>_export`` (manifest + WebDataset shards)."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.resources import CurationResource

    key = dg.AssetKey(f"{subset}_export")
    if key not in {a.key for a in defs.resolve_all_asset_specs()}:
        raise ShardError(f"no subset stage {subset!r} (see subsets: in curation.yaml)")
    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={key})
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate export"},
        )
        return result.success
