"""Asset checks of the filter families: every clip scored, every score in its declared range."""

import warnings

import dagster as dg

from curation_assets.assets.checks import _gx_metadata, _md_rows
from curation_assets.assets.per_shard import content_filter, motion_filter, visual_filter
from curation_assets.partitions import shard_partitions
from curation_assets.quality import filter_suites
from curation_assets.resources import CurationResource
from curation_assets.shards import check_shard_name
from curation_assets.signals.registry import build_analyzers
from curation_assets.vocabulary import ANALYSIS_ERROR, Media

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
                        _md_rows(incomplete, ["clip_id", "signals", "decisions"])
                    ),
                    **_gx_metadata(result),
                },
            )

    return _check


FILTER_CHECKS = [
    build_filter_check(visual_filter, "visual_filter"),
    build_filter_check(motion_filter, "motion_filter"),
    build_filter_check(content_filter, "content_filter"),
]
