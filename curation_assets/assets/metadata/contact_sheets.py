"""Contact sheets for the per-shard assets' metadata: one stored frame per clip, tiled.

``shot_clips`` shows a sheet of its clips (the middle stored sample of each, at most
``SHEET_MAX_TILES`` spread evenly); the filters show sheets of the clips they reject most clearly
and of the borderline ones (the kept sharpest frame if any, else the middle sample).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import numpy as np

from curation_assets.assets.metadata import render
from curation_assets.assets.metadata.values import _media
from curation_assets.media.stored_samples import StoredSamples, load_samples
from curation_assets.steps.shots import ClipRows
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.vocabulary import Media

log = logging.getLogger(__name__)

SHEET_MAX_TILES = 48
SHEET_COLUMNS = 6
SHEET_TILE_WIDTH = 192


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

    image = render.contact_sheet(tiles, columns=SHEET_COLUMNS, tile_width=SHEET_TILE_WIDTH)
    atomic_write_bytes(sheet, render.jpeg_bytes(image, quality=85))
    note = f"{len(tiles)} of {len(rows.clips)} clips, one middle frame each"
    if len(chosen) < len(rows.clips):
        note += f"; capped at {SHEET_MAX_TILES}, spread evenly over the clips (ordered by clip id)"
    if missing:
        note += f"; {missing} without a stored frame (samples missing)"
    return {
        "contact_sheet": dg.MetadataValue.path(str(sheet)),
        "contact_sheet_preview": dg.MetadataValue.md(
            render.jpeg_markdown(image, f"contact sheet: {note}")
        ),
        "contact_sheet_tiles": dg.MetadataValue.int(len(tiles)),
        "contact_sheet_missing_frames": dg.MetadataValue.int(missing),
        "contact_sheet_capped": dg.MetadataValue.bool(len(chosen) < len(rows.clips)),
        "contact_sheet_note": dg.MetadataValue.text(note),
    }


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
            frame = render.read_rgb(keyframe)
        elif row["video_id"] in samples_paths:
            samples = load_samples(Path(samples_paths[row["video_id"]]))
            frame = _middle_frame(samples, row["start_s"], row["end_s"])
        if frame is not None:
            value = "n/a" if row["value"] is None else f"{row['value']:.3g}"
            tiles.append((frame, f"{row['filter']} = {value}\n{row['clip_id'][:22]}"))
    image = render.contact_sheet(tiles, columns=4, tile_width=SHEET_TILE_WIDTH)
    atomic_write_bytes(target, render.jpeg_bytes(image, quality=85))
    return {
        f"{title}_sheet": dg.MetadataValue.path(str(target)),
        f"{title}_preview": dg.MetadataValue.md(render.jpeg_markdown(image, title)),
    }
