"""Dagster metadata for the per-shard assets (what the UI shows for each materialization).

Counts are numeric metadata (the UI plots them across materializations); tables and pictures are
markdown with embedded ``data:`` images. Building a picture must never fail the asset: a problem
becomes a note in the metadata instead.

A shard may mix videos and still images: each asset also counts per media kind, as numeric
``<count>_video`` / ``<count>_image`` and a ``funnel`` table with a column per kind.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import numpy as np

from curation_assets import reports
from curation_assets.config import CurationConfig, Layout
from curation_assets.media.stored_samples import StoredSamples, load_samples
from curation_assets.steps import ClipRows
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.vocabulary import NOT_APPLICABLE_TO_IMAGES, Media, VideoStatus

log = logging.getLogger(__name__)

SHEET_MAX_TILES = 48
SHEET_COLUMNS = 6
SHEET_TILE_WIDTH = 192
DETAIL_CHARS = 120


def _float(value: float, digits: int = 3) -> dg.FloatMetadataValue:
    """Dagster insists on a real float (``sum([])`` is the int 0)."""
    return dg.MetadataValue.float(round(float(value), digits))


def _safe(key: str, build: Callable[[], dict]) -> dict:
    """Metadata that must not take the asset down with it: on error, a note under ``key``."""
    try:
        return build()
    except Exception as exc:  # a picture is never worth a failed materialization
        log.warning("metadata %s failed", key, exc_info=True)
        return {key: dg.MetadataValue.text(f"could not build: {type(exc).__name__}: {exc}")}


def _short(text: object, limit: int = DETAIL_CHARS) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reasons(rows: list[dict], example: Callable[[dict], str], empty: str) -> str:
    """Reason counts with the first row's example (and its detail) per reason."""
    counts = Counter(r["reason"] for r in rows if r.get("reason"))
    examples: dict[str, str] = {}
    for r in rows:
        reason = r.get("reason")
        if reason and reason not in examples:
            detail = _short(r.get("detail"))
            examples[reason] = example(r) + (f" ({detail})" if detail else "")
    return reports.reasons_table(counts, examples, empty=empty)


# -- per media kind ----------------------------------------------------------------------------

MEDIA_KINDS = tuple(m.value for m in Media)  # video, image: always a column each
UNOPENED = "not opened"  # a file refused before it was opened: no media kind known


def _media(row: dict, default: str | None = Media.VIDEO.value) -> str | None:
    return row.get("media") or default


def _media_columns(counts: dict[str, Counter]) -> list[str]:
    """video, image, then any other kind present (e.g. files never opened)."""
    extra = sorted({k for c in counts.values() for k in c if k not in MEDIA_KINDS})
    return [*MEDIA_KINDS, *extra]


def _media_table(first: str, counts: dict[str, Counter], empty: str = "nothing") -> str:
    """One row per key of ``counts`` (in order), one column per media kind."""
    if not counts:
        return empty
    columns = _media_columns(counts)
    rows = [{first: key, **{m: c.get(m, 0) for m in columns}} for key, c in counts.items()]
    return reports.markdown_table(rows, [first, *columns])


def _media_ints(prefix: str, counts: Counter) -> dict:
    """``<prefix>_video`` and ``<prefix>_image`` (0 when none), numeric for the UI's plots."""
    return {f"{prefix}_{m}": dg.MetadataValue.int(int(counts.get(m, 0))) for m in MEDIA_KINDS}


def _histogram(key: str, values: list[float], title: str, xlabel: str) -> dict:
    def build() -> dict:
        bins = max(5, min(24, len(values)))
        png = reports.histogram_png(values, bins=bins, title=title, xlabel=xlabel)
        return {key: dg.MetadataValue.md(reports.png_markdown(png, title))}

    return _safe(key, build)


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
    return reports.reasons_table(
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


def _tile_label(clip: dict) -> str:
    if _media(clip) == Media.IMAGE:
        return f"{clip['video_id'][:9]}\nstill image"
    return (
        f"{clip['video_id'][:9]} @{clip['start_s']:.2f}s\n"
        f"{clip['duration_s']:.1f} s  (shot {clip.get('shot_index', '?')})"
    )


def _pick(count: int, cap: int) -> list[int]:
    """At most ``cap`` indices spread evenly over ``range(count)``."""
    if count <= cap:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, cap)})


def _middle_frame(samples: StoredSamples, start_s: float, end_s: float) -> np.ndarray | None:
    """The middle stored RGB sample inside [start_s, end_s) (as ``rgb_between`` picks them);
    for an image clip (no time span, start = end) its single sample."""
    times = samples.rgb_times
    if end_s <= start_s:
        inside = np.flatnonzero(times == start_s)
        if inside.size == 0 and len(times):
            inside = np.asarray([int(np.argmin(np.abs(times - start_s)))])
    else:
        inside = np.flatnonzero((times >= start_s) & (times < end_s))
    if inside.size == 0:
        return None
    return samples.rgb(int(inside[inside.size // 2]))


def _contact_sheet(rows: ClipRows, sheet: Path) -> dict:
    samples_paths = {p["video_id"]: p.get("samples_path") for p in rows.decode_passes}
    # one video's samples at a time (clips are ordered by clip id, which starts with the video)
    cache: dict[str, StoredSamples | None] = {}

    def samples_for(video_id: str) -> StoredSamples | None:
        if video_id not in cache:
            cache.clear()
            path = samples_paths.get(video_id)
            try:
                cache[video_id] = load_samples(Path(path)) if path else None
            except Exception:  # missing or broken samples: skip its tiles
                log.warning("samples for %s unreadable: %s", video_id, path, exc_info=True)
                cache[video_id] = None
        return cache[video_id]

    chosen = [rows.clips[i] for i in _pick(len(rows.clips), SHEET_MAX_TILES)]
    tiles, missing = [], 0
    for clip in chosen:
        try:
            samples = samples_for(clip["video_id"])
            frame = _middle_frame(samples, clip["start_s"], clip["end_s"]) if samples else None
        except Exception:
            log.warning("no frame for clip %s", clip["clip_id"], exc_info=True)
            frame = None
        if frame is None:
            missing += 1
            continue
        tiles.append((frame, _tile_label(clip)))

    image = reports.contact_sheet(tiles, columns=SHEET_COLUMNS, tile_width=SHEET_TILE_WIDTH)
    atomic_write_bytes(sheet, reports.jpeg_bytes(image, quality=85))
    note = f"{len(tiles)} of {len(rows.clips)} clips, one middle frame each"
    if len(chosen) < len(rows.clips):
        note += f"; capped at {SHEET_MAX_TILES}, spread evenly over the clips (ordered by clip id)"
    if missing:
        note += f"; {missing} without a stored frame (samples missing)"
    return {
        "contact_sheet": dg.MetadataValue.path(str(sheet)),
        "contact_sheet_preview": dg.MetadataValue.md(
            reports.jpeg_markdown(image, f"contact sheet: {note}")
        ),
        "contact_sheet_tiles": dg.MetadataValue.int(len(tiles)),
        "contact_sheet_missing_frames": dg.MetadataValue.int(missing),
        "contact_sheet_capped": dg.MetadataValue.bool(len(chosen) < len(rows.clips)),
        "contact_sheet_note": dg.MetadataValue.text(note),
    }


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


# -- visual_filter / motion_filter --------------------------------------------------------------

FILTER_SHEET_TILES = 12


def _filter_table(margins: list[dict]) -> str:
    by_filter: dict[str, Counter] = {}
    for row in margins:
        outcome = {True: "passed", False: "failed", None: "not scored"}[row["passed"]]
        by_filter.setdefault(row["filter"], Counter())[outcome] += 1
    rows = [
        {
            "filter": name,
            "passed": c["passed"],
            "failed": c["failed"],
            "not scored": c["not scored"],
        }
        for name, c in by_filter.items()
    ]
    return reports.markdown_table(rows, ["filter", "passed", "failed", "not scored"])


def _frames_sheet(
    picks: list[dict],
    samples_paths: dict[str, str],
    keyframes: Path | None,
    target: Path,
    title: str,
) -> dict:
    """A sheet of the given clips: the kept sharpest frame if any, else the middle sample."""
    tiles = []
    for row in picks:
        frame = None
        keyframe = keyframes / f"{row['clip_id']}.jpg" if keyframes else None
        if keyframe is not None and keyframe.exists():
            frame = reports.read_rgb(keyframe)
        elif row["video_id"] in samples_paths:
            samples = load_samples(Path(samples_paths[row["video_id"]]))
            frame = _middle_frame(samples, row["start_s"], row["end_s"])
        if frame is not None:
            value = "n/a" if row["value"] is None else f"{row['value']:.3g}"
            tiles.append((frame, f"{row['filter']} = {value}\n{row['clip_id'][:22]}"))
    image = reports.contact_sheet(tiles, columns=4, tile_width=SHEET_TILE_WIDTH)
    atomic_write_bytes(target, reports.jpeg_bytes(image, quality=85))
    return {
        f"{title}_sheet": dg.MetadataValue.path(str(target)),
        f"{title}_preview": dg.MetadataValue.md(reports.jpeg_markdown(image, title)),
    }


def _filter_media(rows, inputs) -> dict:
    """Clips in, passing and failing per media kind, and every gate's outcomes per media kind
    (an image's motion gates: not applicable, never passed)."""
    kind_of = {c["clip_id"]: _media(c) for c in inputs.clips}
    failed = {r["clip_id"] for r in rows.decisions if r["passed"] is False}
    clips = Counter(kind_of.values())
    failing = Counter(kind_of.get(c, Media.VIDEO.value) for c in failed)
    passing = clips - failing
    outcomes: dict[tuple[str, str], Counter] = {}
    for r in rows.decisions:
        if r["passed"] is not None:
            outcome = "passed" if r["passed"] else "failed"
        elif r.get("reason") == NOT_APPLICABLE_TO_IMAGES:
            outcome = "not applicable"
        else:
            outcome = "not scored"
        key = (r["filter"], kind_of.get(r["clip_id"], Media.VIDEO.value))
        outcomes.setdefault(key, Counter())[outcome] += 1
    columns = ["passed", "failed", "not scored", "not applicable"]
    table = [
        {"filter": f, "media": m, **{c: n.get(c, 0) for c in columns}}
        for (f, m), n in sorted(outcomes.items(), key=lambda kv: (kv[0][1] != "video", kv[0]))
    ]
    return {
        **_media_ints("clips", clips),
        **_media_ints("clips_passing", passing),
        **_media_ints("clips_failing", failing),
        "funnel": dg.MetadataValue.md(
            _media_table("step", {"clips": clips, "passing": passing, "failing": failing})
        ),
        "filters_by_media": dg.MetadataValue.md(
            reports.markdown_table(table, ["filter", "media", *columns]) if table else "no gates"
        ),
    }


def filter_metadata(family: str, rows, inputs, layout: Layout, shard: str) -> dict:
    """Counts, a pass/fail table per filter, a histogram per score, and two contact sheets:
    the clips each filter rejects most clearly, and the borderline ones (closest to a limit).
    Counts and outcomes also per media kind (``_filter_media``)."""
    failed = {r["clip_id"] for r in rows.decisions if r["passed"] is False}
    metadata = {
        "clips": dg.MetadataValue.int(rows.clips),
        "clips_passing": dg.MetadataValue.int(rows.clips - len(failed)),
        "clips_failing": dg.MetadataValue.int(len(failed)),
        "score_rows": dg.MetadataValue.int(len(rows.scores)),
        "filters": dg.MetadataValue.md(_filter_table(rows.margins)),
        **_filter_media(rows, inputs),
    }
    by_signal: dict[str, list[float]] = {}
    for row in rows.scores:
        by_signal.setdefault(row["signal"], []).append(row["value"])
    for signal, values in sorted(by_signal.items()):
        metadata |= _histogram(f"histogram_{signal}", values, signal, signal)
    labels = Counter((r["kind"], r["label"]) for r in rows.clip_labels)
    if labels:
        label_rows = [
            {"kind": k, "label": lab, "clips": n} for (k, lab), n in sorted(labels.items())
        ]
        metadata["labels"] = dg.MetadataValue.md(
            reports.markdown_table(label_rows, ["kind", "label", "clips"])
        )
    scored = [m for m in rows.margins if m["margin"] is not None]
    clearest, seen = [], set()
    for row in sorted((m for m in scored if m["passed"] is False), key=lambda m: m["margin"]):
        if row["clip_id"] not in seen:  # one tile per clip, its most decisive failure
            clearest.append(row)
            seen.add(row["clip_id"])
    borderline = sorted(scored, key=lambda m: abs(m["margin"]))[:FILTER_SHEET_TILES]
    keyframes = layout.shard_warehouse(shard) / "keyframes" if family == "visual_filter" else None
    folder = layout.shard_warehouse(shard) / "contact_sheets"
    for title, picks in (("rejected", clearest[:FILTER_SHEET_TILES]), ("borderline", borderline)):
        metadata |= _safe(
            f"{title}_note",
            lambda picks=picks, title=title: _frames_sheet(
                picks, inputs.samples_paths, keyframes, folder / f"{family}_{title}.jpg", title
            ),
        )
    return metadata


# -- captions ----------------------------------------------------------------------------------


def captions_metadata(rows, keyframes: Path) -> dict:
    failed = [d for d in rows.decisions if not d["passed"]]
    words = [float(c["words"]) for c in rows.captions]
    tokens_per_s = rows.generated_tokens / rows.elapsed_s if rows.elapsed_s else 0.0
    metadata = {
        "eligible_clips": dg.MetadataValue.int(rows.eligible),
        "captioned_now": dg.MetadataValue.int(rows.captioned_now),
        "reused_from_journal": dg.MetadataValue.int(rows.reused),
        "retried": dg.MetadataValue.int(rows.retried),
        "qc_failed": dg.MetadataValue.int(len(failed)),
        "generated_tokens": dg.MetadataValue.int(rows.generated_tokens),
        "clips_per_s": _float(rows.captioned_now / rows.elapsed_s if rows.elapsed_s else 0.0),
        "tokens_per_s": _float(tokens_per_s),
        "qc_reasons": dg.MetadataValue.md(
            reports.reasons_table(
                Counter(d["reason"] for d in failed), {}, what="clips", empty="all passed"
            )
        ),
    }
    metadata |= _histogram("caption_words_histogram", words, "caption length", "words")

    def samples() -> dict:
        lines = ["| frame | caption |", "| --- | --- |"]
        for row in rows.samples:
            frame = reports.read_rgb(keyframes / f"{row['clip_id']}.jpg")
            thumb = ""
            if frame is not None:
                small = reports.letterbox(frame, 160, 90)
                thumb = reports.jpeg_markdown(small, row["clip_id"], max_bytes=12_000)
            lines.append(f"| {thumb} | {reports.md_escape(row['caption'])} |")
        return {"sample_captions": dg.MetadataValue.md("\n".join(lines))}

    metadata |= _safe("sample_captions", samples)
    return metadata


# -- global: near_duplicates, concepts ----------------------------------------------------------


def near_duplicates_metadata(result, layout: Layout) -> dict:
    groups = result.groups
    dup_groups = groups["group_id"].n_unique() if groups is not None and len(groups) else 0
    dropped = sum(1 for d in result.decisions if not d["passed"])
    metadata = {
        "clips_indexed": dg.MetadataValue.int(result.clips_indexed),
        "duplicate_groups": dg.MetadataValue.int(dup_groups),
        "clips_dropped_as_duplicates": dg.MetadataValue.int(dropped),
        "images_frame_of_videos": dg.MetadataValue.int(getattr(result, "frames_of_videos", 0)),
        "embedding_search": dg.MetadataValue.text(result.embedding_search),
        "shards": dg.MetadataValue.md(
            reports.markdown_table(
                result.reports,
                ["shard", "media", "status", "new_clips", "new_vs_old", "new_vs_new", "new_edges"],
            )
        ),
        **{
            f"counter_{k}": dg.MetadataValue.int(int(v)) for k, v in sorted(result.counters.items())
        },
    }

    def sheet() -> dict:
        tiles = []
        if groups is None or not len(groups):
            return {}
        shard_of = {d["clip_id"]: d["shard"] for d in result.decisions}
        for row in (
            groups.sort(["group_id", "is_representative"], descending=[False, True])
            .head(24)
            .iter_rows(named=True)
        ):
            shard = shard_of.get(row["clip_id"], "")
            path = layout.shard_warehouse(shard) / "keyframes" / f"{row['clip_id']}.jpg"
            frame = reports.read_rgb(path)
            if frame is not None:
                mark = "KEEP" if row["is_representative"] else "drop"
                tiles.append((frame, f"{row['group_id'][:22]}\n{mark} {row['clip_id'][:18]}"))
        image = reports.contact_sheet(tiles, columns=4, tile_width=SHEET_TILE_WIDTH)
        return {
            "duplicate_groups_preview": dg.MetadataValue.md(
                reports.jpeg_markdown(image, "duplicate groups")
            )
        }

    metadata |= _safe("duplicate_groups_preview", sheet)
    return metadata


def concepts_metadata(result) -> dict:
    metadata = {
        "clips": dg.MetadataValue.int(result.clips),
        "k": dg.MetadataValue.int(result.k),
        "embedding": dg.MetadataValue.text(result.embedding),
        "non_empty_clusters": dg.MetadataValue.int(sum(1 for s in result.sizes if s)),
        "largest_cluster": dg.MetadataValue.int(max(result.sizes, default=0)),
    }
    metadata |= _histogram(
        "cluster_size_histogram", [float(s) for s in result.sizes if s], "cluster sizes", "clips"
    )
    return metadata
