"""Dagster metadata of the ingest assets, per shard: ``source_videos`` (files admitted and
rejected, why) and ``shot_clips`` (decoding, shots, clips, a contact sheet of the clips)."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

import dagster as dg

from curation_assets.assets.metadata import render
from curation_assets.assets.metadata.contact_sheets import _contact_sheet
from curation_assets.assets.metadata.values import (
    UNOPENED,
    _float,
    _histogram,
    _media,
    _media_ints,
    _media_table,
    _reasons,
    _safe,
    _short,
)
from curation_assets.config import CurationConfig, Layout
from curation_assets.steps.shots import ClipRows
from curation_assets.vocabulary import Media, VideoStatus

# -- source_videos -----------------------------------------------------------------------------


def source_videos_metadata(rows: list[dict], cfg: CurationConfig) -> dict:
    admitted = [r for r in rows if r["status"] == VideoStatus.ADMITTED]
    rejected = [r for r in rows if r["status"] != VideoStatus.ADMITTED]
    adm = cfg.admission
    durations = [float(r["duration_s"]) for r in admitted if r.get("duration_s") is not None]
    metadata = {
        "files": dg.MetadataValue.int(len(rows)),
        "admitted": dg.MetadataValue.int(len(admitted)),
        "rejected": dg.MetadataValue.int(len(rejected)),
        "admitted_seconds": _float(sum(durations)),
        "rejected_seconds": _float(sum(float(r.get("duration_s") or 0) for r in rejected)),
        "rejection_reasons": dg.MetadataValue.md(
            _reasons(rows, lambda r: r["file_name"], "no rejections")
        ),
        "admission_rules": dg.MetadataValue.text(
            f"videos: duration {adm.min_duration_s:g}-{adm.max_duration_s:g} s, "
            f"short side >= {adm.min_short_side_px} px, a readable video stream; "
            f"images: short side >= {adm.image_min_short_side_px} px, at most "
            f"{adm.image_max_pixels:,} pixels"
        ),
    }
    metadata |= _source_media(rows)
    metadata.update(
        _histogram("admitted_duration_histogram", durations, "admitted video durations", "seconds")
    )
    return metadata


def _source_media(rows: list[dict]) -> dict:
    """Files, admitted and rejected per media kind; rejections by reason per media kind."""
    kind = [_media(r, UNOPENED) for r in rows]
    files = Counter(kind)
    admitted = Counter(k for k, r in zip(kind, rows, strict=True) if r["status"] == "admitted")
    rejected = files - admitted
    by_reason: dict[str, Counter] = {}
    for k, r in zip(kind, rows, strict=True):
        if r["status"] != VideoStatus.ADMITTED and r.get("reason"):
            by_reason.setdefault(r["reason"], Counter())[k] += 1
    by_reason = dict(sorted(by_reason.items(), key=lambda kv: (-kv[1].total(), kv[0])))
    return {
        **_media_ints("files", files),
        **_media_ints("admitted", admitted),
        **_media_ints("rejected", rejected),
        "funnel": dg.MetadataValue.md(
            _media_table("step", {"files": files, "admitted": admitted, "rejected": rejected})
        ),
        "rejection_reasons_by_media": dg.MetadataValue.md(
            _media_table("reason", by_reason, empty="no rejections")
        ),
    }


# -- shot_clips --------------------------------------------------------------------------------


def _shot_outcomes(shots: list[dict]) -> str:
    """Every shot's outcome: fully clipped, or the reason it gave fewer clips than it could."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for s in shots:
        outcome = s.get("reason") or ("clipped" if s.get("clips") else "no_clip")
        counts[outcome] += 1
        if outcome not in examples:
            span = f"{s['start_s']:.2f}-{s['end_s']:.2f} s"
            detail = _short(s.get("detail"))
            examples[outcome] = f"{s['video_id']} shot {s['shot_index']}, {span}" + (
                f" ({detail})" if detail else ""
            )
    return render.reasons_table(
        counts,
        examples,
        what="shots",
        example_header="example shot",
        empty="no shots",
        reason_header="outcome",
    )


def _decode_stats(passes: list[dict]) -> dict:
    fps = [float(p["decode_fps"]) for p in passes if p.get("decode_fps")]
    metadata = {
        "decoded_frames": dg.MetadataValue.int(sum(int(p.get("frames") or 0) for p in passes)),
        "decoded_seconds": _float(sum(float(p.get("decoded_s") or 0) for p in passes)),
    }
    if fps:
        metadata |= {
            "decode_fps_median": _float(statistics.median(fps), 1),
            "decode_fps_min": _float(min(fps), 1),
            "decode_fps_max": _float(max(fps), 1),
        }
    return metadata


def _shot_clips_media(rows: ClipRows, videos: list[dict] | None) -> dict:
    """Decoded, failed, clips per media kind (a file's kind from ``videos``, else its clips)."""
    kind_of = {c["video_id"]: _media(c) for c in rows.clips}
    kind_of |= {v["video_id"]: _media(v) for v in videos or []}
    decoded = Counter(
        kind_of.get(p["video_id"], Media.VIDEO.value)
        for p in rows.decode_passes
        if p["status"] == "ok"
    )
    failed = Counter(
        kind_of.get(p["video_id"], Media.VIDEO.value)
        for p in rows.decode_passes
        if p["status"] != "ok"
    )
    clips = Counter(_media(c) for c in rows.clips)
    return {
        **_media_ints("decoded", decoded),
        **_media_ints("clips", clips),
        "funnel": dg.MetadataValue.md(
            _media_table("step", {"decoded": decoded, "decode failures": failed, "clips": clips})
        ),
    }


def shot_clips_metadata(
    rows: ClipRows, layout: Layout, shard: str, sheet: Path, videos: list[dict] | None = None
) -> dict:
    """``videos``: the shard's ``videos`` rows (each file's media kind), when at hand."""
    failed = [p for p in rows.decode_passes if p["status"] != "ok"]
    durations = [float(c["duration_s"]) for c in rows.clips if _media(c) == Media.VIDEO]
    metadata = {
        "videos_decoded": dg.MetadataValue.int(len(rows.decode_passes) - len(failed)),
        "decode_failures": dg.MetadataValue.int(len(failed)),
        "shots": dg.MetadataValue.int(len(rows.shots)),
        "clips": dg.MetadataValue.int(len(rows.clips)),
        "clip_seconds": _float(sum(durations)),
        "shot_outcomes": dg.MetadataValue.md(_shot_outcomes(rows.shots)),
        "decode_problems": dg.MetadataValue.md(
            _reasons(rows.decode_passes, lambda p: p["video_id"], "no decode problems")
        ),
    }
    metadata |= _decode_stats(rows.decode_passes)
    metadata |= _shot_clips_media(rows, videos)
    metadata |= _histogram("clip_duration_histogram", durations, "clip durations", "seconds")
    metadata |= _safe("contact_sheet_note", lambda: _contact_sheet(rows, sheet))
    return metadata
