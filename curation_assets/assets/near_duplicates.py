"""``near_duplicates``: duplicate groups across all shards and one representative each
(``steps/near_duplicates.py``), and its check ``one_representative_per_group``."""

import dagster as dg

from curation_assets.assets.check_results import gx_metadata
from curation_assets.assets.filters import content_filter, visual_filter
from curation_assets.assets.groups import GLOBAL_GROUP
from curation_assets.assets.metadata.near_duplicates import near_duplicates_metadata
from curation_assets.quality import expectations as gxq
from curation_assets.quality.expectations import expect
from curation_assets.resources import CurationResource
from curation_assets.steps import near_duplicates as duplicates
from curation_assets.storage.vectors import WRITER_PARTITION


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
    result = duplicates.update_duplicates(layout, store, cfg)
    store.replace(
        "near_duplicates",
        WRITER_PARTITION,
        {"clip_labels": result.clip_labels, "decisions": result.decisions},
    )
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=near_duplicates_metadata(result, layout))


@dg.asset_check(
    asset=near_duplicates,
    name="one_representative_per_group",
    blocking=True,
    description="Great Expectations: every duplicate group has exactly one representative, no "
    "clip is in two groups, and only known clips are grouped.",
)
def one_representative_per_group(curation: CurationResource) -> dg.AssetCheckResult:
    store = curation.store()
    groups = store.query(
        "SELECT l.label AS group_id, count(*) AS members, "
        "sum(CASE WHEN d.passed THEN 1 ELSE 0 END) AS representatives, "
        "bool_and(c.clip_id IS NOT NULL) AS known "
        "FROM clip_labels l LEFT JOIN decisions d ON d.clip_id = l.clip_id "
        "AND d.stage = 'near_duplicates' AND d.filter = 'near_duplicate' "
        "LEFT JOIN clips c ON c.clip_id = l.clip_id "
        "WHERE l.kind = 'duplicate_group' GROUP BY l.label"
    ).to_pandas()
    members = store.query(
        "SELECT clip_id FROM clip_labels WHERE kind = 'duplicate_group'"
    ).to_pandas()
    result = gxq.combine(
        "near_duplicates",
        [
            gxq.validate_frame(
                groups,
                "duplicate_groups",
                [
                    expect(
                        "expect_column_values_to_be_between",
                        "exactly one representative per group",
                        column="representatives",
                        min_value=1,
                        max_value=1,
                    ),
                    expect(
                        "expect_column_values_to_be_between",
                        "a group has at least two clips",
                        column="members",
                        min_value=2,
                    ),
                    expect(
                        "expect_column_values_to_be_in_set",
                        "grouped clips exist",
                        column="known",
                        value_set=[True],
                    ),
                ],
            ),
            gxq.validate_frame(
                members,
                "duplicate_members",
                [
                    expect(
                        "expect_column_values_to_be_unique",
                        "no clip in two groups",
                        column="clip_id",
                    ),
                ],
            ),
        ],
    )
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"groups": dg.MetadataValue.int(len(groups)), **gx_metadata(result)},
    )
