"""Great Expectations checks of captions and of the global assets."""

import json
import warnings

import dagster as dg
import pandas as pd

from curation_assets.assets.checks import _gx_metadata, _md_rows
from curation_assets.assets.global_assets import concepts, near_duplicates
from curation_assets.assets.per_shard import captions
from curation_assets.captioning.base import FIELDS
from curation_assets.captioning.run import eligible_clips
from curation_assets.partitions import shard_partitions
from curation_assets.quality import expectations as gxq
from curation_assets.quality.expectations import expect
from curation_assets.resources import CurationResource
from curation_assets.shards import check_shard_name

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
                    _md_rows(bad, ["clip_id", "captions", "eligible"])
                ),
                **_gx_metadata(result),
            },
        )


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
        metadata={"groups": dg.MetadataValue.int(len(groups)), **_gx_metadata(result)},
    )


@dg.asset_check(
    asset=concepts,
    name="concept_weights_valid",
    blocking=True,
    description="Great Expectations: one concept and one positive, finite concept_weight per "
    "clip; weights average to 1.",
)
def concept_weights_valid(curation: CurationResource) -> dg.AssetCheckResult:
    store = curation.store()
    weights = store.query(
        "SELECT clip_id, value, isfinite(value) AS finite FROM scores "
        "WHERE signal = 'concept_weight'"
    ).to_pandas()
    labels = store.query("SELECT clip_id FROM clip_labels WHERE kind = 'concept'").to_pandas()
    specs = [
        expect("expect_column_values_to_be_unique", column="clip_id"),
        expect("expect_column_values_to_be_in_set", column="finite", value_set=[True]),
        expect("expect_column_values_to_be_between", column="value", min_value=1e-12),
    ]
    if len(weights):
        specs.append(
            expect(
                "expect_column_mean_to_be_between",
                "weights average to 1",
                column="value",
                min_value=0.999,
                max_value=1.001,
            )
        )
    result = gxq.combine(
        "concepts",
        [
            gxq.validate_frame(weights, "concept_weights", specs),
            gxq.validate_frame(
                labels,
                "concept_labels",
                [
                    expect("expect_column_values_to_be_unique", column="clip_id"),
                    expect(
                        "expect_table_row_count_to_equal",
                        "a concept for every weighted clip",
                        value=len(weights),
                    ),
                ],
            ),
        ],
    )
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"clips": dg.MetadataValue.int(len(weights)), **_gx_metadata(result)},
    )


LATE_CHECKS = [captions_complete, one_representative_per_group, concept_weights_valid]
