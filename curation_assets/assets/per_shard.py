"""What every per-shard asset shares: one shard per run (backfills too), task sizes, model
checks, progress lines. The assets themselves are in ``ingest``, ``shots``, ``filters`` and
``captions``, each beside its checks."""

import warnings

import dagster as dg

from curation_assets.models import ModelNotAvailable, require
from curation_assets.models.report import markdown

# One shard per run, also in backfills: a shard is the unit of parallelism, its failure stays its
# own, its run is one ECS task, and every asset and check reads ``context.partition_key``.
SHARD_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
warnings.filterwarnings("ignore", "Parameter `backfill_policy`", dg.BetaWarning)  # stable enough
# Task sizes for ``dagster_aws.ecs.ecs_executor`` (one task per step, see deploy/dagster.yaml).
DECODE_TAGS = {"ecs/cpu": "4096", "ecs/memory": "8192"}
MODEL_TAGS = {"ecs/cpu": "4096", "ecs/memory": "16384"}


MODEL_STAGES = ("visual_filter", "content_filter", "captions")


def require_stage_models(cfg, stage: str) -> list[dict]:
    """The stage's configured models, all in the local cache; one that is not fails the step
    with what is missing and the command that fixes it (curation_assets.models.report)."""
    if stage not in MODEL_STAGES:
        return []
    try:
        return require(cfg, stage)
    except ModelNotAvailable as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def stage_models_metadata(stage: str, rows: list[dict]) -> dict:
    """Which models (hub id, commit, size, licence) or offline scorers made this stage."""
    return {"models": dg.MetadataValue.md(markdown(rows))} if stage in MODEL_STAGES else {}


def shard_progress(context: dg.AssetExecutionContext, verb: str):
    def log(done: int, total: int, what: str) -> None:
        context.log.info(f"{verb} {done}/{total}: {what}")

    return log
