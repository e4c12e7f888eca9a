"""How every asset check reports: Great Expectations results and failing rows as check
metadata, and the blocking, shard-partitioned check that the per-shard assets use."""

import warnings

import dagster as dg

from curation_assets.partitions import shard_partitions
from curation_assets.quality import expectations as gxq

EXAMPLES = 10  # failing rows listed in metadata


def md_rows(df, columns: list[str], limit: int = EXAMPLES) -> str:
    """The first ``limit`` rows of a pandas frame as a Markdown table."""
    if df.empty:
        return "none"
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in df[columns].head(limit).itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    if len(df) > limit:
        lines.append(f"\n... and {len(df) - limit} more")
    return "\n".join(lines)


def gx_metadata(result: gxq.ValidationResult) -> dict:
    stats = result.statistics
    return {
        "expectations_evaluated": dg.MetadataValue.int(int(stats.get("evaluated_expectations", 0))),
        "expectations_failed": dg.MetadataValue.int(int(stats.get("unsuccessful_expectations", 0))),
        "failed_expectations": dg.MetadataValue.md(result.markdown()),
        "gx_failures": dg.MetadataValue.json(result.failures),
    }


def blocking_shard_check(**kwargs):
    """``@asset_check`` partitioned by shard like the assets, blocking, failing with ERROR."""

    def wrap(fn):
        with warnings.catch_warnings():
            # partitions_def on an asset check is a preview feature in dagster 1.13
            warnings.simplefilter("ignore", category=dg.PreviewWarning)
            return dg.asset_check(partitions_def=shard_partitions, blocking=True, **kwargs)(fn)

    return wrap
