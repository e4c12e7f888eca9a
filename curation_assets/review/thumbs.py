"""Thumbnails along a clip's segment, decoded on demand with PyAV and cached as JPEG.

The pipeline keeps one keyframe per clip; a reviewer judging motion and action integrity wants
to see the segment's course at a glance, so the page shows a strip of frames across it. Each is
decoded once (seek to the keyframe before, decode up to the time) and cached under
``warehouse/review_cache/``.
"""

from __future__ import annotations

import io
from pathlib import Path

import av

from curation_assets.storage.files import atomic_write_bytes

STRIP = 4  # thumbnails per clip
HEIGHT = 96


def strip_times(start_s: float, end_s: float, count: int = STRIP) -> list[float]:
    """Evenly spaced, centred in equal parts of the segment (never on a cut at either end)."""
    step = (end_s - start_s) / count
    return [start_s + (k + 0.5) * step for k in range(count)]


def frame_jpeg(path: Path, t: float, height: int = HEIGHT) -> bytes:
    """The first frame at or after ``t`` seconds (from the stream's start), as a small JPEG."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        t0 = stream.start_time or 0
        container.seek(t0 + int(t / tb), stream=stream, backward=True)
        chosen = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            chosen = frame
            if float((frame.pts - t0) * tb) >= t - 1e-3:
                break
        if chosen is None:
            raise ValueError(f"no frame at {t:.2f} s in {path.name}")
        width = max(2, round(chosen.width * height / chosen.height / 2) * 2)
        image = chosen.to_image().resize((width, height))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def cached_thumbnail(cache_dir: Path, key: str, path: Path, t: float) -> Path:
    target = cache_dir / f"{key}.jpg"
    if not target.exists():
        atomic_write_bytes(target, frame_jpeg(path, t), unique=True)
    return target
