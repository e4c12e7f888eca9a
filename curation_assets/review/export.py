"""The fine-tune set -> the shared subset exporter (WebDataset shards + manifest).

Members carry the reviewer's trimmed range: frames are re-derived from the clip's own frame
index and the source fps, so the exporter cuts exactly the segment the reviewer kept, with the
edited caption beside it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curation_assets.exports import DEFAULT_ASPECT_RATIOS, ExportReport, ExportSpec, export_subset
from curation_assets.lineage.store import LineageStore
from curation_assets.selection.buckets import aspect_bucket_expr, duration_bucket_expr
from curation_assets.storage.access import SourceAccess

SUBSET = "finetune_set"
DURATION_EDGES = (0.0, 4.0, 6.0, 8.0, 11.0, 14.0, 16.0)


def export_members(lineage: LineageStore, members: pl.DataFrame) -> pl.DataFrame:
    """Reviewed members with the columns the exporter needs (frames, geometry, buckets)."""
    facts = lineage.query(
        "SELECT c.clip_id, coalesce(c.media, 'video') AS media, c.start_s AS clip_start_s, "
        "c.start_frame AS clip_start_frame, "
        "v.fps, v.width, v.height, cap.fields_json FROM clips c JOIN videos v USING (video_id) "
        "LEFT JOIN (SELECT clip_id, any_value(fields_json) AS fields_json FROM captions "
        "GROUP BY clip_id) cap USING (clip_id)"
    )
    base = pl.col("clip_start_frame").fill_null((pl.col("clip_start_s") * pl.col("fps")).round())
    return (
        members.join(facts, on="clip_id", how="left")
        .with_columns(
            (base + ((pl.col("start_s") - pl.col("clip_start_s")) * pl.col("fps")).round())
            .cast(pl.Int64)
            .alias("start_frame"),
            (base + ((pl.col("end_s") - pl.col("clip_start_s")) * pl.col("fps")).round())
            .cast(pl.Int64)
            .alias("end_frame"),
            pl.lit(1.0).alias("weight"),
            duration_bucket_expr(pl.col("duration_s"), DURATION_EDGES).alias("duration_bucket"),
            aspect_bucket_expr(
                pl.col("width") / pl.col("height"), dict(DEFAULT_ASPECT_RATIOS)
            ).alias("aspect_bucket"),
        )
        .with_columns(pl.format("{}|{}", "duration_bucket", "aspect_bucket").alias("bucket"))
        .drop("clip_start_s", "clip_start_frame")
    )


def export_finetune_set(
    lineage: LineageStore,
    members: pl.DataFrame,
    out_dir: Path,
    write_media: bool,
    sources: SourceAccess | None = None,
) -> ExportReport:
    spec = ExportSpec(subset=SUBSET, write_media=write_media)
    return export_subset(export_members(lineage, members), out_dir, spec, sources=sources)
