"""The code location: assets, checks, jobs, sensors and resources."""

import dagster as dg

from curation_assets.assets.captions import captions, captions_complete
from curation_assets.assets.concepts import concept_weights_valid, concepts
from curation_assets.assets.filters import (
    FILTER_CHECKS,
    content_filter,
    motion_filter,
    visual_filter,
)
from curation_assets.assets.finetune import (
    FINETUNE_ASSETS,
    FINETUNE_CHECKS,
    finetune_set,
    finetune_variants,
)
from curation_assets.assets.groups import GLOBAL_GROUP, PER_SHARD_GROUP, SUBSET_GROUP
from curation_assets.assets.ingest import source_videos, source_videos_integrity
from curation_assets.assets.near_duplicates import near_duplicates, one_representative_per_group
from curation_assets.assets.shots import shot_clips, shot_clips_integrity
from curation_assets.assets.subsets import build_subsets
from curation_assets.executors import shard_executor
from curation_assets.resources import CurationResource
from curation_assets.sensors import build_reviews_sensor, build_uploads_sensor

PER_SHARD_ASSETS = [
    source_videos,
    shot_clips,
    visual_filter,
    motion_filter,
    content_filter,
    captions,
]

shard_job = dg.define_asset_job(
    "shard_job",
    selection=dg.AssetSelection.groups(PER_SHARD_GROUP),
    description="Every per-shard asset for one source shard.",
    # scope: run-queue limits (deploy/dagster.yaml); ecs/*: the run's task size on ECS
    tags={"curation/scope": "shard", "ecs/cpu": "2048", "ecs/memory": "8192"},
    executor_def=shard_executor(),  # $CURATION_EXECUTOR: multiprocess | in_process | ecs
)

PER_SHARD_CHECKS = [
    source_videos_integrity,
    shot_clips_integrity,
    *FILTER_CHECKS,
    captions_complete,
]

GLOBAL_ASSETS = [near_duplicates, concepts]
GLOBAL_CHECKS = [one_representative_per_group, concept_weights_valid]
# One asset per subset stage in curation.yaml (+ its export); stages are read when the code
# location loads, so a new stage appears after a reload.
SUBSET_ASSETS, EXPORT_ASSETS, SUBSET_CHECKS = build_subsets()
# One global run at a time (they update one shared index): a tag limit in deploy/dagster.yaml.
GLOBAL_RUN_TAGS = {"curation/scope": "global"}

global_job = dg.define_asset_job(
    "global_job",
    selection=dg.AssetSelection.groups(GLOBAL_GROUP, SUBSET_GROUP),
    description="Every global (all-shard) asset: near-duplicates, concepts, subset stages.",
    tags=GLOBAL_RUN_TAGS,
)

# Re-materializes the global assets after new shard outputs (their eager automation condition),
# on by default so a `dagster dev` deployment keeps duplicates and concepts current.
global_automation = dg.AutomationConditionSensorDefinition(
    "global_automation",
    target=dg.AssetSelection.groups(GLOBAL_GROUP, SUBSET_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    run_tags=GLOBAL_RUN_TAGS,
)

# Reviews landing from `curate review` re-materialize the fine-tune set (reviews_sensor).
finetune_job = dg.define_asset_job(
    "finetune_job",
    selection=dg.AssetSelection.assets(finetune_set, finetune_variants),
    description="The human-reviewed fine-tune set, rebuilt from the stored reviews, and its "
    "seeded variants.",
)

defs = dg.Definitions(
    assets=[*PER_SHARD_ASSETS, *GLOBAL_ASSETS, *SUBSET_ASSETS, *EXPORT_ASSETS, *FINETUNE_ASSETS],
    asset_checks=[*PER_SHARD_CHECKS, *GLOBAL_CHECKS, *SUBSET_CHECKS, *FINETUNE_CHECKS],
    jobs=[shard_job, global_job, finetune_job],
    sensors=[
        build_uploads_sensor(shard_job),
        global_automation,
        build_reviews_sensor(finetune_job),
    ],
    resources={"curation": CurationResource()},
    # The implicit asset job (UI "Materialize", asset backfills from the graph or a group page)
    # runs like shard_job, not with Dagster's per-step default: $CURATION_EXECUTOR decides.
    executor=shard_executor(),
)
