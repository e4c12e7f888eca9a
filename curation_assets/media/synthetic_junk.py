"""Junk and damaged files with known truth: every kind must get one admission row with the right
reason (``write_junk``); ``write_truncated`` cuts a video's data short under a complete header.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from curation_assets.media.synthetic import Shot, VideoSpec, write_audio_only, write_video
from curation_assets.media.synthetic_frames import make_texture

JUNK_REASONS = {
    "empty.mp4": "unreadable",
    "random bytes.mp4": "unreadable",
    "truncated.mp4": "unreadable",
    "notes.txt": "unreadable",
    "tone only.m4a": "no_video_stream",
    "still.png": "too_small",  # an image (Pillow), under admission.image_min_short_side_px
    "two seconds.mp4": "too_short",
    "tiny 96x64.mp4": "too_small",
    "overlong.mp4": "too_long",
}

# More kinds, written only when asked (``write_junk(folder, extra=True)``) so that shards built
# with the default keep their file count.
EXTRA_JUNK_REASONS = {
    "image inside.mp4": "too_small",  # a PNG with a video extension: the content decides
    "cut in half.mp4": "too_short",  # index first, data cut at 50%: only ~2.9 of 6 s readable
}


def write_junk(folder: Path, extra: bool = False) -> dict[str, str]:
    """Write one file of every junk kind; returns file name -> expected admission reason.

    ``extra`` adds the kinds of ``EXTRA_JUNK_REASONS``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "random bytes.mp4").write_bytes(np.random.default_rng(7).bytes(64 * 1024))
    full = write_video(VideoSpec("t", (Shot(6.0),), 160, 96, 12), folder / "_full.tmp.mp4")
    data = full.read_bytes()
    os.remove(full)
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "notes.txt").write_text("not a video\n" * 20, encoding="utf-8")
    write_audio_only(folder / "tone only.m4a")
    still = make_texture(5, 160, 120)[:120, :160]
    png = cv2.imencode(".png", cv2.cvtColor(still, cv2.COLOR_RGB2BGR))[1].tobytes()
    (folder / "still.png").write_bytes(png)
    write_video(VideoSpec("s", (Shot(2.0),), 160, 96, 12), folder / "two seconds.mp4")
    write_video(VideoSpec("x", (Shot(6.0),), 96, 64, 12), folder / "tiny 96x64.mp4")
    write_video(VideoSpec("l", (Shot(125.0, "static"),), 160, 128, 4), folder / "overlong.mp4")
    if not extra:
        return dict(JUNK_REASONS)
    (folder / "image inside.mp4").write_bytes(png)
    write_truncated(VideoSpec("h", (Shot(6.0),), 160, 128, 24), folder / "cut in half.mp4", 0.5)
    return {**JUNK_REASONS, **EXTRA_JUNK_REASONS}


def write_truncated(spec: VideoSpec, path: Path, keep: float) -> Path:
    """A video whose header declares all of ``spec`` but whose data stops after ``keep`` of it."""
    tmp = path.with_name(f"_{path.stem}.full.tmp{path.suffix}")
    full = write_video(spec, tmp, {"movflags": "faststart"})
    data = full.read_bytes()
    os.remove(full)
    path.write_bytes(data[: int(len(data) * keep)])
    return path
