"""``concepts``: k-means concepts over every shard's embeddings and a resampling weight per
clip (``steps/concepts.py``), and its check ``concept_weights_valid``."""

import dagster as dg

from curation_assets.assets.check_results import gx_metadata
from curation_assets.assets.filters import content_filter
from curation_assets.assets.groups import GLOBAL_GROUP
from curation_assets.assets.metadata.concepts import concepts_metadata
from curation_assets.quality import expectations as gxq
from curation_assets.quality.expectations import expect
from curation_assets.resources import CurationResource
from curation_assets.steps.concepts import assign_concepts
from curation_assets.storage.vectors import WRITER_PARTITION


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
    result = assign_concepts(layout, store, cfg)
    store.replace(
        "concepts", WRITER_PARTITION, {"clip_labels": result.clip_labels, "scores": result.scores}
    )
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=concepts_metadata(result))


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
        metadata={"clips": dg.MetadataValue.int(len(weights)), **gx_metadata(result)},
    )
