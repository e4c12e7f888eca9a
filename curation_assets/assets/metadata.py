"""Dagster metadata for the per-shard assets (what the UI shows for each materialization)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg

from curation_assets.config import CurationConfig, Layout
from curation_assets.steps import ClipRows


def _reasons_table(rows: list[dict]) -> str:
    counts = Counter(r["reason"] for r in rows if r.get("reason"))
    lines = ["| reason | files |", "| --- | ---: |"]
    lines += [f"| {reason} | {n} |" for reason, n in counts.most_common()]
    return "\n".join(lines) if counts else "no rejections"


def source_videos_metadata(rows: list[dict], cfg: CurationConfig) -> dict:
    admitted = [r for r in rows if r["status"] == "admitted"]
    return {
        "files": dg.MetadataValue.int(len(rows)),
        "admitted": dg.MetadataValue.int(len(admitted)),
        "rejected": dg.MetadataValue.int(len(rows) - len(admitted)),
        "admitted_seconds": dg.MetadataValue.float(
            round(sum(r["duration_s"] or 0 for r in admitted), 3)
        ),
        "rejection_reasons": dg.MetadataValue.md(_reasons_table(rows)),
    }


def shot_clips_metadata(rows: ClipRows, layout: Layout, shard: str, sheet: Path) -> dict:
    failed = [p for p in rows.decode_passes if p["status"] != "ok"]
    return {
        "videos_decoded": dg.MetadataValue.int(len(rows.decode_passes) - len(failed)),
        "decode_failures": dg.MetadataValue.int(len(failed)),
        "shots": dg.MetadataValue.int(len(rows.shots)),
        "clips": dg.MetadataValue.int(len(rows.clips)),
        "clip_seconds": dg.MetadataValue.float(round(sum(c["duration_s"] for c in rows.clips), 3)),
        "shot_outcomes": dg.MetadataValue.md(_reasons_table(rows.shots)),
    }
