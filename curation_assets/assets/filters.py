"""The filter families ``visual_filter``, ``motion_filter`` and ``content_filter``: every clip
scored from the stored samples by the family's analyzers (``signals/``), the loose gates of
curation.yaml applied, and each family's check ``<family>_scores_valid``: every clip scored,
every score in the range its signal declares."""

import warnings

import dagster as dg

from curation_assets.assets.check_results import gx_metadata, md_rows
from curation_assets.assets.groups import PER_SHARD_GROUP
from curation_assets.assets.metadata.filters import filter_metadata
from curation_assets.assets.per_shard import (
    MODEL_TAGS,
    SHARD_BACKFILL,
    require_stage_models,
    shard_progress,
    stage_models_metadata,
)
from curation_assets.assets.shots import shot_clips
from curation_assets.partitions import shard_partitions
from curation_assets.quality import filter_suites
from curation_assets.resources import CurationResource
from curation_assets.signals.registry import build_analyzers
from curation_assets.signals.runner import score_shard
from curation_assets.steps import filters
from curation_assets.storage.shards import check_shard_name
from curation_assets.storage.vectors import save_vectors
from curation_assets.vocabulary import ANALYSIS_ERROR, Media


def build_filter_asset(
    family: str, description: str, kinds: set[str], pool: str | None = None, op_tags=None
) -> dg.AssetsDefinition:
    """visual_filter and motion_filter differ only in their analyzers (``signals.registry``)."""

    @dg.asset(
        name=family,
        partitions_def=shard_partitions,
        group_name=PER_SHARD_GROUP,
        deps=[shot_clips],
        kinds=kinds,
        pool=pool,
        op_tags=op_tags,
        backfill_policy=SHARD_BACKFILL,
        description=description,
    )
    def _filter(
        context: dg.AssetExecutionContext, curation: CurationResource
    ) -> dg.MaterializeResult:
        shard = check_shard_name(context.partition_key)
        layout, cfg, store = curation.layout, curation.config(), curation.store()
        models = require_stage_models(cfg, family)
        inputs = filters.filter_inputs(store, shard)
        keyframes = layout.shard_warehouse(shard) / "keyframes"
        rows = score_shard(
            family,
            shard,
            inputs.videos,
            inputs.clips,
            inputs.samples_paths,
            cfg,
            keyframe_dir=keyframes if family == "visual_filter" else None,
            progress=shard_progress(context, "scored"),
        )
        if family == "content_filter":  # hashes and embeddings for the global assets
            save_vectors(layout.shard_warehouse(shard) / "vectors", rows.vectors)
        store.replace(
            family,
            shard,
            {"scores": rows.scores, "clip_labels": rows.clip_labels, "decisions": rows.decisions},
        )
        store.ensure_catalog()
        return dg.MaterializeResult(
            metadata={
                **filter_metadata(family, rows, inputs, layout, shard, cfg.signal_modules),
                **stage_models_metadata(family, models),
            }
        )

    return _filter


visual_filter = build_filter_asset(
    "visual_filter",
    "Per clip, from the stored samples: resolution tier, orientation, borders, burned-in text "
    "(PP-OCR), sharpness, exposure, aesthetic or technical quality; the sharpest frame is kept.",
    {"opencv", "onnx"},
)
motion_filter = build_filter_asset(
    "motion_filter",
    "Per clip, optical flow on the stored grey samples: motion amount, camera shake, shots per "
    "second, slideshow score and a camera-motion class with confidence.",
    {"opencv"},
)
content_filter = build_filter_asset(
    "content_filter",
    "Per clip: perceptual hashes and embeddings (open_clip when configured, else thumbnail "
    "embeddings named as such), people and faces (OpenCV offline; CLIP zero-shot with weights), "
    "unsafe content (CLIP zero-shot; not scored offline). Vectors are kept per shard for the "
    "global near_duplicates and concepts assets.",
    {"opencv", "open_clip"},
    pool="gpu",  # open_clip embeddings and zero-shot share the accelerator with captioning
    op_tags=MODEL_TAGS,
)


COVERAGE_SQL = """
WITH s AS (
    SELECT clip_id, count(DISTINCT signal) AS n,
           count(DISTINCT signal) FILTER (WHERE signal IN (SELECT unnest($still))) AS n_still
    FROM scores
    WHERE shard = $shard AND signal IN (SELECT unnest($signals)) GROUP BY clip_id
),
d AS (
    SELECT clip_id, count(*) AS n, bool_or(filter = $error) AS failed FROM decisions
    WHERE shard = $shard AND stage = $family GROUP BY clip_id
)
SELECT c.clip_id, coalesce(s.n, 0) AS signals, coalesce(d.n, 0) AS decisions,
       coalesce(d.n, 0) - CASE WHEN i.still THEN $image_filters ELSE $filters END
           AS extra_decisions,
       (CASE WHEN i.still THEN coalesce(s.n_still, 0) = $still_n
             ELSE coalesce(s.n, 0) = len($signals) END
        OR coalesce(d.failed, false)) AS complete
FROM clips c LEFT JOIN s USING (clip_id) LEFT JOIN d USING (clip_id)
CROSS JOIN LATERAL (SELECT coalesce(c.media, 'video') = 'image' AS still) i
WHERE c.shard = $shard ORDER BY c.clip_id
"""

SCORES_SQL = """
SELECT clip_id, signal, value, isfinite(value) AS finite FROM scores
WHERE shard = $shard AND signal IN (SELECT unnest($signals)) ORDER BY clip_id, signal
"""


def build_filter_check(asset: dg.AssetsDefinition, family: str) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)

        @dg.asset_check(
            asset=asset,
            name=f"{family}_scores_valid",
            partitions_def=shard_partitions,
            blocking=True,
            description=(
                "Great Expectations: every clip of the shard has every signal of this family "
                "(or a recorded analysis_error), one decision per configured filter, and every "
                "score is finite and within the range its analyzer declares."
            ),
        )
        def _check(
            context: dg.AssetCheckExecutionContext, curation: CurationResource
        ) -> dg.AssetCheckResult:
            shard = check_shard_name(context.partition_key)
            cfg, store = curation.config(), curation.store()
            analyzers = build_analyzers(family, cfg)
            signals = sorted({s for a in analyzers for s in a.signals})
            # an image is scored by the analyzers one picture is enough for
            still = sorted({s for a in analyzers if a.still_images for s in a.signals})
            ranges = {s: r for a in analyzers for s, r in a.ranges.items()}
            params = {"shard": shard, "signals": signals}
            filters = {
                "filters": len(cfg.stage_filters(family)),
                "image_filters": len(cfg.stage_filters(family, Media.IMAGE.value)),
            }
            with store.connect() as con:
                scores = con.sql(SCORES_SQL, params=params).pl().to_pandas()
                coverage = (
                    con.sql(
                        COVERAGE_SQL,
                        params={
                            **params,
                            **filters,
                            "still": still or [""],  # a typed list, never empty
                            "still_n": len(still),
                            "family": family,
                            "error": ANALYSIS_ERROR,
                        },
                    )
                    .pl()
                    .to_pandas()
                )
            result = filter_suites.validate_filter_scores(
                family, scores, coverage, ranges, len(signals)
            )
            incomplete = coverage[coverage["complete"] != True]  # noqa: E712
            return dg.AssetCheckResult(
                passed=result.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "clips": dg.MetadataValue.int(len(coverage)),
                    "score_rows": dg.MetadataValue.int(len(scores)),
                    "signals": dg.MetadataValue.text(", ".join(signals)),
                    "clips_not_fully_scored": dg.MetadataValue.int(len(incomplete)),
                    "incomplete_examples": dg.MetadataValue.md(
                        md_rows(incomplete, ["clip_id", "signals", "decisions"])
                    ),
                    **gx_metadata(result),
                },
            )

    return _check


FILTER_CHECKS = [
    build_filter_check(visual_filter, "visual_filter"),
    build_filter_check(motion_filter, "motion_filter"),
    build_filter_check(content_filter, "content_filter"),
]
