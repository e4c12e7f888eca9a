"""Global assets: one materialization over all shards (near-duplicates, concepts)."""

import dagster as dg

from curation_assets import dedup_steps, global_steps
from curation_assets.assets.global_metadata import concepts_metadata, near_duplicates_metadata
from curation_assets.assets.per_shard import content_filter, visual_filter
from curation_assets.resources import CurationResource

GLOBAL_GROUP = "global"
ALL = global_steps.WRITER_PARTITION


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[content_filter, visual_filter],  # visual failures rank the copies of a group
    kinds={"faiss"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Duplicate groups across all shards from perceptual hashes (and open_clip "
    "embeddings when configured); a new shard is compared with what is indexed, old pairs never "
    "again. Videos are grouped with videos, still images with images (also against centred "
    "crops). One representative per group is kept: fewest failing visual filters (watermark, "
    "text overlay, borders, sharpness, exposure), then highest resolution, then best quality, "
    "then longest, then smallest clip id. An image that is a frame of a video clip is labelled "
    "frame_of (dropped only with dedup.drop_frames_of_videos).",
)
def near_duplicates(context: dg.AssetExecutionContext, curation: CurationResource):
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    result = dedup_steps.update_duplicates(layout, store, cfg)
    store.replace(
        "near_duplicates", ALL, {"clip_labels": result.clip_labels, "decisions": result.decisions}
    )
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=near_duplicates_metadata(result, layout))


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[content_filter],
    kinds={"faiss"},
    automation_condition=dg.AutomationCondition.eager(),
    description="k-means concepts over clip embeddings and a resampling weight of "
    "1/sqrt(cluster size) per clip (Movie Gen), normalised to a mean of 1; videos and still "
    "images are clustered and weighted apart (image concepts are labelled image:c...).",
)
def concepts(context: dg.AssetExecutionContext, curation: CurationResource):
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    result = global_steps.assign_concepts(layout, store, cfg)
    store.replace("concepts", ALL, {"clip_labels": result.clip_labels, "scores": result.scores})
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=concepts_metadata(result))
