"""One shard through the real assets, as the tests do it again and again."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
from curation_assets.resources import CurationResource


def materialize_shard(
    home: Path, shard: str, with_global: bool = False
) -> dg.ExecuteInProcessResult:
    """The per-shard assets of ``shard`` (then, ``with_global``, the global ones); asserts that
    every run succeeded and returns the last."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [shard])
        resources = {"curation": CurationResource(home=str(home))}
        result = dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key=shard, resources=resources
        )
        assert result.success
        if with_global:
            result = dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources)
            assert result.success
        return result
