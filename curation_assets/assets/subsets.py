"""Subset stages (one global asset per stage in curation.yaml) and their training exports.

A stage asset is a query over stored scores: re-materializing it after a threshold change in
curation.yaml takes seconds and decodes nothing. Exports transcode only the selected clips.
"""

import json
import warnings

import dagster as dg
import pandas as pd

from curation_assets.assets.captions import captions
from curation_assets.assets.check_results import gx_metadata, md_rows
from curation_assets.assets.concepts import concepts
from curation_assets.assets.groups import EXPORT_GROUP, SUBSET_GROUP
from curation_assets.assets.metadata.subsets import subset_metadata
from curation_assets.assets.near_duplicates import near_duplicates
from curation_assets.config import CurationConfig, load_config
from curation_assets.config.subsets import StageConfig
from curation_assets.exports import ExportSpec, export_subset
from curation_assets.quality import expectations as gxq
from curation_assets.quality.expectations import expect
from curation_assets.resources import CurationResource
from curation_assets.selection.buckets import bucket_edges
from curation_assets.signals.catalogue import check_config
from curation_assets.steps import subsets as subset_steps
from curation_assets.storage.access import SourceAccess
from curation_assets.vocabulary import Media


def _stage_asset(name: str, stage: StageConfig) -> dg.AssetsDefinition:
    deps = [near_duplicates, concepts, captions]
    if stage.parent:
        deps.append(dg.AssetKey(stage.parent))

    @dg.asset(
        name=name,
        group_name=SUBSET_GROUP,
        deps=deps,
        kinds={"duckdb", "polars"},
        automation_condition=dg.AutomationCondition.eager(),
        description=(stage.description or f"Subset stage {name}.")
        + f" A selection over stored scores (no decoding) of {stage.media} clips: the filters' "
        "gates with this stage's thresholds, near-duplicate representatives, captioned clips, "
        "composition targets and caps; members carry a duration x aspect bucket (images: an "
        "aspect bucket) and a concept weight.",
        metadata={"parent": stage.parent or "", "seed": stage.seed, "media": stage.media},
    )
    def _subset(context: dg.AssetExecutionContext, curation: CurationResource):
        cfg, store = curation.config(), curation.store()
        selection, pool = subset_steps.run_stage(store, cfg, name)
        store.ensure_catalog()
        for note in selection.notes:
            context.log.info(f"{name}: {note}")
        return dg.MaterializeResult(
            metadata=subset_metadata(selection, pool, stage.parent, cfg.signal_modules)
        )

    return _subset


def _export_asset(name: str, stage: StageConfig) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{name}_export",
        group_name=EXPORT_GROUP,
        deps=[dg.AssetKey(name)],
        kinds={"pyav", "webdataset"},
        description=f"Training export of {name}: manifest (Parquet + JSONL) and WebDataset tar "
        "shards of the selected clips, cut frame-accurately and transcoded per bucket. "
        "Idempotent and resumable: finished shards are kept, only what changed is rewritten.",
    )
    def _export(context: dg.AssetExecutionContext, curation: CurationResource):
        cfg, store, layout = curation.config(), curation.store(), curation.layout
        settings = cfg.subsets.resolved()[name]
        members = subset_steps.export_members(store, name, cfg.signal_modules)
        spec = ExportSpec(
            subset=name,
            clips_per_tar=settings.export.clips_per_tar,
            short_side=settings.export.short_side,
            fps=settings.export.fps,
            crf=settings.export.crf,
            aspect_ratios=dict(settings.aspect_buckets),
        )
        step = max(1, members.height // 20)

        def progress(done: int, total: int) -> None:
            if done == total or done % step == 0:
                context.log.info(f"{name}: exported {done}/{total} clips")

        report = export_subset(
            members,
            layout.exports / name,
            spec,
            progress=progress,
            sources=SourceAccess(curation.s3_client),  # s3:// sources: ranged reads
        )
        # storage.outputs: the finished export is mirrored to s3://.../exports/<name>/
        out_uri = curation.publish(layout.exports / name, f"exports/{name}")
        failed = [
            {"clip_id": f.clip_id, "reason": str(f.reason), "detail": f.detail}
            for f in report.failed
        ]
        return dg.MaterializeResult(
            metadata={
                "clips": dg.MetadataValue.int(report.clips_total),
                "exported": dg.MetadataValue.int(report.exported),
                "reused": dg.MetadataValue.int(report.reused),
                "failed": dg.MetadataValue.int(len(report.failed)),
                "failures": dg.MetadataValue.md(
                    md_rows(pd.DataFrame(failed), ["clip_id", "reason", "detail"])
                    if failed
                    else "none"
                ),
                "tars": dg.MetadataValue.int(len(report.tar_paths)),
                "bytes": dg.MetadataValue.int(report.bytes),
                "seconds": dg.MetadataValue.float(round(report.seconds, 2)),
                "per_bucket": dg.MetadataValue.json(report.per_bucket),
                "out_dir": dg.MetadataValue.path(str(layout.exports / name)),
                **({"out_uri": dg.MetadataValue.url(out_uri)} if out_uri else {}),
            }
        )

    return _export


# -- checks ------------------------------------------------------------------------------------

MEMBERS_SQL = """
WITH grp AS (
    SELECT clip_id, any_value(label) AS duplicate_group FROM clip_labels
    WHERE kind = 'duplicate_group' GROUP BY clip_id
),
cap AS (
    SELECT DISTINCT c.clip_id FROM captions c
    WHERE c.clip_id NOT IN (
        SELECT clip_id FROM decisions WHERE stage = 'captions' AND passed = false)
)
SELECT m.clip_id, m.bucket, m.duration_bucket, c.duration_s, v.status AS video_status,
       grp.duplicate_group, cap.clip_id IS NOT NULL AS captioned,
       coalesce(c.media, 'video') AS media
FROM subset_members m
LEFT JOIN clips c ON c.clip_id = m.clip_id
LEFT JOIN videos v ON v.video_id = c.video_id
LEFT JOIN grp ON grp.clip_id = m.clip_id
LEFT JOIN cap ON cap.clip_id = m.clip_id
WHERE m.subset = ?
"""


def _in_bucket(label: str | None, duration: float | None, media: str = "video") -> bool:
    """A video clip's duration lies in its duration bucket; an image has none (no bucket)."""
    if media == Media.IMAGE:
        return label is None or pd.isna(label)
    edges = bucket_edges(label or "")
    if edges is None or duration is None:
        return False
    return edges[0] - 1e-6 <= duration <= edges[1] + 1e-6


def _composition_frame(store, name: str, stage: StageConfig) -> pd.DataFrame:
    """Per target: the achieved share measured in lineage and the band it must fall in."""
    members = store.query(
        "SELECT l.kind, l.label, count(DISTINCT m.clip_id) AS n FROM subset_members m "
        "JOIN clip_labels l ON l.clip_id = m.clip_id WHERE m.subset = ? GROUP BY ALL",
        [name],
    )
    total = int(
        store.query("SELECT count(*) AS n FROM subset_members WHERE subset = ?", [name])["n"][0]
    )
    run = store.query("SELECT composition_json FROM subset_runs WHERE subset = ?", [name])
    dropped = set()
    if run.height:
        for o in json.loads(run["composition_json"][0] or "[]"):
            if o.get("note", "").startswith("cannot be met"):
                dropped.add((o["kind"], o["label"]))
    counts = {(r["kind"], r["label"]): r["n"] for r in members.iter_rows(named=True)}
    rows = []
    slack = stage.tolerance + (1.0 / total if total else 0.0) + 1e-9
    for kind, targets in stage.composition.items():
        for label, t in targets.items():
            share = counts.get((kind, label), 0) / total if total else 0.0
            lo = (t.share if t.share is not None else (t.min or 0.0)) - slack
            hi = (t.share if t.share is not None else (1.0 if t.max is None else t.max)) + slack
            rows.append(
                {
                    "target": f"{kind}={label}",
                    "achieved": round(share, 4),
                    "within": bool(lo <= share <= hi),
                    "pool_cannot_meet": (kind, label) in dropped,
                }
            )
    return pd.DataFrame(rows, columns=["target", "achieved", "within", "pool_cannot_meet"])


def _stage_check(name: str, stage: StageConfig) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(name),
        name="subset_integrity",
        blocking=True,
        description="Great Expectations: no clip twice and no two clips of one duplicate group, "
        "every member captioned (when the stage requires it), every duration inside its "
        "bucket (an image has no duration bucket), no clip of a rejected video, only clips of "
        "the stage's media, composition targets within tolerance (a target the pool cannot "
        "meet is a warning).",
    )
    def _check(curation: CurationResource) -> dg.AssetCheckResult:
        store = curation.store()
        rows = store.query(MEMBERS_SQL, [name]).to_pandas()
        rows["in_bucket"] = [
            _in_bucket(b, d, m)
            for b, d, m in zip(
                rows["duration_bucket"], rows["duration_s"], rows["media"], strict=True
            )
        ]
        rules = [
            expect("expect_column_values_to_be_unique", "no clip twice", column="clip_id"),
            expect(
                "expect_column_values_to_be_unique",
                "one clip per duplicate group",
                column="duplicate_group",
            ),
            expect(
                "expect_column_values_to_be_in_set",
                "duration inside its bucket",
                column="in_bucket",
                value_set=[True],
            ),
            expect(
                "expect_column_values_to_be_in_set",
                "no clip of a rejected video",
                column="video_status",
                value_set=["admitted"],
            ),
            expect(
                "expect_column_values_to_be_in_set",
                f"only {stage.media} clips",
                column="media",
                value_set=[stage.media],
            ),
        ]
        if stage.require_caption:
            rules.append(
                expect(
                    "expect_column_values_to_be_in_set",
                    "every member captioned",
                    column="captioned",
                    value_set=[True],
                )
            )
        results = [gxq.validate_frame(rows, f"{name}_members", rules)]
        comp = _composition_frame(store, name, stage)
        meetable = comp[~comp["pool_cannot_meet"]]
        if len(meetable):
            results.append(
                gxq.validate_frame(
                    meetable.reset_index(drop=True),
                    f"{name}_composition",
                    [
                        expect(
                            "expect_column_values_to_be_in_set",
                            "composition within tolerance",
                            column="within",
                            value_set=[True],
                        )
                    ],
                )
            )
        result = gxq.combine(name, results)
        short = comp[comp["pool_cannot_meet"]]
        passed = result.passed and short.empty
        severity = dg.AssetCheckSeverity.ERROR if not result.passed else dg.AssetCheckSeverity.WARN
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            metadata={
                "members": dg.MetadataValue.int(len(rows)),
                "composition": dg.MetadataValue.md(
                    md_rows(comp, ["target", "achieved", "within", "pool_cannot_meet"])
                ),
                **gx_metadata(result),
            },
        )

    return _check


def build_subsets(cfg: CurationConfig | None = None):
    """(stage assets, export assets, checks) for the stages configured in curation.yaml."""
    cfg = cfg or check_config(load_config())
    stages = cfg.subsets.resolved()
    order = subset_steps.stage_names(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        assets = [_stage_asset(n, stages[n]) for n in order]
        exports = [_export_asset(n, stages[n]) for n in order]
        checks = [_stage_check(n, stages[n]) for n in order]
    return assets, exports, checks
