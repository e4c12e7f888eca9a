"""Source videos whose every frame shows its own index, so a cut can be checked frame by frame.

The display image is 9 horizontal bands: band 0 is white on its left half only (an orientation
mark: a flipped or sideways output fails to read), bands 1-8 are the bits of the frame index
(white = 1). Bands span the full width, so width-only crops keep them readable. Rotated sources
store the image turned the other way with display-rotation metadata, as phones do.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import polars as pl

from curation_assets.media.encoding import reproducible_options

BANDS = 9


def pattern(index: int, width: int, height: int) -> np.ndarray:
    img = np.full((height, width), 16, np.uint8)
    band = height // BANDS
    img[:band, : width // 2] = 235
    for bit in range(8):
        if (index >> bit) & 1:
            img[(bit + 1) * band : (bit + 2) * band] = 235
    return img


def write_pattern_video(
    path: Path,
    frames: int,
    width: int,
    height: int,
    fps: int,
    rotation: int = 0,
    *,
    pix_fmt: str = "yuv420p",
    preset: str = "ultrafast",
) -> Path:
    """``width`` x ``height`` is the display size; the coded size is turned by ``rotation``.

    ``preset="medium"`` gives B-frames (reordered, non-zero first pts), as camera files have."""
    k = (rotation // 90) % 4
    coded_w, coded_h = (height, width) if k % 2 else (width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = coded_w, coded_h, pix_fmt
        # keyframes 1 s apart: a cut must seek and drop frames, not start on a keyframe
        options = {"crf": "12", "preset": preset, "g": str(fps)}
        stream.options = reproducible_options("libx264", options)
        if rotation:
            stream.set_display_rotation(rotation)
        chroma = np.full((coded_h // 2, coded_w), 128, np.uint8)
        for i in range(frames):
            luma = np.rot90(pattern(i, width, height), k=-k)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(np.concatenate([luma, chroma])), format="yuv420p"
            )
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def read_index(luma: np.ndarray) -> int:
    """The frame index a pattern frame shows; raises if the orientation mark is wrong."""
    height, width = luma.shape
    band = height // BANDS
    pad = max(1, band // 4)

    def mean(r0: int, r1: int, c0: int, c1: int) -> float:
        return float(luma[r0 + pad : r1 - pad, c0:c1].mean())

    left, right = mean(0, band, 0, width // 2 - 4), mean(0, band, width // 2 + 4, width)
    if not (left > 128 > right):
        raise AssertionError(f"orientation mark wrong: left {left:.0f}, right {right:.0f}")
    return sum(1 << b for b in range(8) if mean((b + 1) * band, (b + 2) * band, 0, width) > 128)


def decoded_indices(data_or_path) -> list[int]:
    import io

    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    with av.open(source) as container:
        return [read_index(f.to_ndarray(format="gray")) for f in container.decode(video=0)]


def member(
    uri: Path | str,
    start_frame: int,
    end_frame: int,
    fps: float,
    width: int,
    height: int,
    aspect_bucket: str,
    *,
    clip_id: str | None = None,
    duration_bucket: str = "2-4s",
    caption: str | None = "a test clip",
    crop: tuple[int, int, int, int] | None = None,
    score: float = 0.5,
) -> dict:
    """One row of ``members`` as stage selection hands it over (times on the pass axis)."""
    video_id = Path(uri).stem.replace(" ", "_")
    start_s, end_s = start_frame / fps, end_frame / fps
    row = {
        "clip_id": clip_id or f"{video_id}-{int(start_s * 1000):07d}-{int(end_s * 1000):07d}",
        "video_id": video_id,
        "uri": str(uri),
        "start_s": start_s,
        "end_s": end_s,
        "duration_s": end_s - start_s,
        "start_frame": start_frame,
        "end_frame": end_frame,
        "fps": float(fps),
        "width": width,
        "height": height,
        "bucket": f"{duration_bucket}|{aspect_bucket}",
        "duration_bucket": duration_bucket,
        "aspect_bucket": aspect_bucket,
        "weight": 1.0,
        "caption": caption,
        "fields_json": '{"camera": "static"}',
        "score_aesthetic": score,
        "score_motion_mean": score / 10,
    }
    if crop is not None:
        row.update(zip(("crop_x", "crop_y", "crop_w", "crop_h"), crop, strict=True))
    return row


def members_frame(rows: list[dict]) -> pl.DataFrame:
    crop_cols = ("crop_x", "crop_y", "crop_w", "crop_h")
    if any("crop_x" in r for r in rows):
        rows = [{**{c: None for c in crop_cols}, **r} for r in rows]
    schema = {c: pl.Int64 for c in crop_cols} if any("crop_x" in r for r in rows) else {}
    return pl.DataFrame(rows, schema_overrides={"caption": pl.String, **schema})
