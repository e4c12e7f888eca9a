"""``captions``: the clips that pass every filter, captioned (a VLM when configured, else the
offline signals captioner; ``captioning/``), and its blocking check ``captions_complete``."""

import json
import warnings

import dagster as dg
import pandas as pd

from curation_assets.assets.check_results import gx_metadata, md_rows
from curation_assets.assets.filters import content_filter, motion_filter, visual_filter
from curation_assets.assets.groups import PER_SHARD_GROUP
from curation_assets.assets.metadata.captions import captions_metadata
from curation_assets.assets.per_shard import (
    MODEL_TAGS,
    SHARD_BACKFILL,
    require_stage_models,
    shard_progress,
    stage_models_metadata,
)
from curation_assets.captioning.base import FIELDS
from curation_assets.captioning.run import caption_shard, eligible_clips
from curation_assets.partitions import shard_partitions
from curation_assets.quality import expectations as gxq
from curation_assets.quality.expectations import expect
from curation_assets.resources import CurationResource
from curation_assets.storage.shards import check_shard_name


@dg.asset(
    partitions_def=shard_partitions,
    group_name=PER_SHARD_GROUP,
    deps=[visual_filter, motion_filter, content_filter],
    kinds={"transformers"},
    pool="gpu",
    op_tags=MODEL_TAGS,
    backfill_policy=SHARD_BACKFILL,
    description="Detailed and structured captions for the clips that still pass every filter "
    "(a VLM when configured, else the offline signals captioner); resumable, QC'd.",
)
def captions(context: dg.AssetExecutionContext, curation: CurationResource) -> dg.MaterializeResult:
    shard = check_shard_name(context.partition_key)
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    models = require_stage_models(cfg, "captions")
    rows = caption_shard(
        store,
        shard,
        layout.shard_warehouse(shard) / "captions",
        cfg,
        progress=shard_progress(context, "captioned"),
    )
    store.replace("captions", shard, {"captions": rows.captions, "decisions": rows.decisions})
    store.ensure_catalog()
    keyframes = layout.shard_warehouse(shard) / "keyframes"
    return dg.MaterializeResult(
        metadata={
            **captions_metadata(rows, keyframes),
            **stage_models_metadata("captions", models),
        }
    )


with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.PreviewWarning)

    @dg.asset_check(
        asset=captions,
        name="captions_complete",
        partitions_def=shard_partitions,
        blocking=True,
        description="Great Expectations: exactly one caption per eligible clip and none for "
        "clips a filter dropped, every structured field present, word counts consistent and "
        "within the QC bounds for captions that passed QC.",
    )
    def captions_complete(
        context: dg.AssetCheckExecutionContext, curation: CurationResource
    ) -> dg.AssetCheckResult:
        shard = check_shard_name(context.partition_key)
        cfg, store = curation.config(), curation.store()
        eligible = {
            c["clip_id"] for c in eligible_clips(store, shard, cfg.captioning.eligible_after)
        }
        rows = store.query(
            "SELECT c.clip_id, c.caption, c.fields_json, c.words, d.passed AS qc_passed "
            "FROM captions c LEFT JOIN decisions d ON d.clip_id = c.clip_id "
            "AND d.stage = 'captions' WHERE c.shard = ?",
            [shard],
        ).to_pandas()
        counts = rows.groupby("clip_id").size().to_dict()
        coverage = pd.DataFrame({"clip_id": sorted(eligible | set(counts))}).assign(
            captions=lambda df: df["clip_id"].map(counts).fillna(0).astype(int),
            eligible=lambda df: df["clip_id"].isin(eligible),
        )

        def fields_ok(text: str) -> bool:
            try:
                fields = json.loads(text)
            except (TypeError, json.JSONDecodeError):
                return False
            return isinstance(fields, dict) and all(k in fields for k in FIELDS)

        rows = rows.assign(
            fields_ok=rows["fields_json"].map(fields_ok),
            words_consistent=rows["caption"].str.split().str.len().fillna(0) == rows["words"],
        )
        max_words = cfg.captioning.qc.max_words + 10  # + the camera-motion prefix
        result = gxq.combine(
            "captions",
            [
                gxq.validate_frame(
                    coverage,
                    "captions_coverage",
                    [
                        expect(
                            "expect_column_values_to_be_between",
                            "one caption per eligible clip",
                            column="captions",
                            min_value=1,
                            max_value=1,
                        ),
                        expect(
                            "expect_column_values_to_be_in_set",
                            "no caption for a dropped clip",
                            column="eligible",
                            value_set=[True],
                        ),
                    ],
                ),
                gxq.validate_frame(
                    rows,
                    "captions_rows",
                    [
                        expect(
                            "expect_column_values_to_be_in_set",
                            "every structured field present",
                            column="fields_ok",
                            value_set=[True],
                        ),
                        expect(
                            "expect_column_values_to_be_in_set",
                            "words = tokens of the caption",
                            column="words_consistent",
                            value_set=[True],
                        ),
                        expect(
                            "expect_column_values_to_be_between",
                            "QC-passed captions within bounds",
                            column="words",
                            min_value=1,
                            max_value=max_words,
                            where={"qc_passed": True},
                        ),
                    ],
                ),
            ],
        )
        bad = coverage[(coverage["captions"] != 1) | ~coverage["eligible"]]
        return dg.AssetCheckResult(
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "eligible_clips": dg.MetadataValue.int(len(eligible)),
                "captions": dg.MetadataValue.int(len(rows)),
                "coverage_problems": dg.MetadataValue.md(
                    md_rows(bad, ["clip_id", "captions", "eligible"])
                ),
                **gx_metadata(result),
            },
        )
