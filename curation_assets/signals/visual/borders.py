"""Letterbox and pillarbox bars of a clip, measured once and cut away before every quality
measure (``image_quality.py``), so a letterboxed clip is not called dark.

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").
Measured on the synthetic clips of ``curation_assets_tests/signals/test_visual.py`` (4.5 s,
320x180; samples of 2 fps, short side <= 256):

==================  ===============  =========  ===================================================
signal              scorer           range      meaning; measured
==================  ===============  =========  ===================================================
border_top/bottom   borders          0-0.9      black bar height / frame height; letterbox:0.125
                                                -> 0.122 (22 of 180 rows), clean and dark:0.3 -> 0
border_left/right   borders          0-0.9      black bar width / frame width; pillarbox:0.1 -> 0.1
border_area         borders          0-1        share of the frame in bars; letterbox 0.244,
                                                pillarbox 0.20 (artifact "crop": content x,y,w,h)
==================  ===============  =========  ===================================================

A clip with no rgb samples gets no scores (stored as "not scored", never as a pass).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal

# A pixel is "black" while its brightest channel is <= this (0-255); H.264 + JPEG ringing on a
# true black bar stays well under it, and a dark scene rarely keeps a whole line under it.
BLACK_LEVEL = 24
# A line (row or column) is bar-like in a frame when at most this share of its pixels is brighter.
LINE_BRIGHT_SHARE = 0.02
# ... and it is a bar when it is bar-like in at least this share of the sampled frames.
BAR_FRAME_SHARE = 0.9
# Bars covering more than this of a dimension are a black (faded-out) frame, not a letterbox;
# the exposure signals deal with those.
MAX_BARS = 0.9
# Sample pixels dropped next to a bar before measuring quality (compression rings at the edge).
BAR_INSET = 2


@dataclass(frozen=True)
class Borders:
    """Bar sizes as fractions of the frame height (top, bottom) and width (left, right)."""

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0

    @property
    def area(self) -> float:
        return 1.0 - (1.0 - self.top - self.bottom) * (1.0 - self.left - self.right)

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The content box (x, y, w, h) in a ``width`` x ``height`` image."""
        x, y = int(round(self.left * width)), int(round(self.top * height))
        x1 = width - int(round(self.right * width))
        y1 = height - int(round(self.bottom * height))
        return x, y, max(1, x1 - x), max(1, y1 - y)

    def crop(self, image: np.ndarray, inset: int = 0) -> np.ndarray:
        """The content of ``image``; ``inset`` more pixels off each side that has a bar (the
        bar's edge rings after compression and would read as detail)."""
        x, y, w, h = self.box(image.shape[1], image.shape[0])
        x0, y0 = x + (inset if self.left else 0), y + (inset if self.top else 0)
        x1, y1 = x + w - (inset if self.right else 0), y + h - (inset if self.bottom else 0)
        if x1 - x0 < 8 or y1 - y0 < 8:  # nothing sensible left: keep the plain box
            return image[y : y + h, x : x + w]
        return image[y0:y1, x0:x1]


def _run_length(flags: np.ndarray) -> int:
    """How many leading entries are True."""
    off = np.flatnonzero(~flags)
    return int(off[0]) if len(off) else len(flags)


def _brightest_channel(rgb: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def _brightest_stack(images: Sequence[np.ndarray]) -> np.ndarray:
    """(n, h, w) brightest channel of every image, resized to the first image's size."""
    h, w = images[0].shape[:2]
    return np.stack(
        [
            _brightest_channel(im if im.shape[:2] == (h, w) else cv2.resize(im, (w, h)))
            for im in images
        ]
    )


_last_borders = threading.local()  # one-entry memo: BorderAnalyzer and quality_stats share


def measure_borders(rgb: Sequence[np.ndarray]) -> Borders:
    """Letterbox/pillarbox bars: near-black lines in (almost) all frames, contiguous from an edge.

    The line where a bar meets the picture is a blend of both after chroma subsampling and
    compression; a bar absorbs that one line when its mean is still dark (<= 2 x BLACK_LEVEL).
    Measured once per clip: the last result is reused for the same frames (the memo keeps the
    frames alive, so their ids cannot be reused meanwhile).
    """
    key = tuple(id(im) for im in rgb)
    memo = getattr(_last_borders, "entry", None)
    if memo is not None and memo[0] == key:
        return memo[2]
    borders = _measure_borders(rgb)
    _last_borders.entry = (key, list(rgb), borders)
    return borders


def _measure_borders(rgb: Sequence[np.ndarray]) -> Borders:
    if not rgb:
        return Borders()
    brightest = _brightest_stack(rgb)  # (n, h, w)
    bright = brightest > BLACK_LEVEL
    rows = (bright.mean(axis=2) <= LINE_BRIGHT_SHARE).mean(axis=0) >= BAR_FRAME_SHARE
    cols = (bright.mean(axis=1) <= LINE_BRIGHT_SHARE).mean(axis=0) >= BAR_FRAME_SHARE
    dim_rows = (brightest.mean(axis=2) <= 2 * BLACK_LEVEL).mean(axis=0) >= BAR_FRAME_SHARE
    dim_cols = (brightest.mean(axis=1) <= 2 * BLACK_LEVEL).mean(axis=0) >= BAR_FRAME_SHARE

    def bar(lines: np.ndarray, dim: np.ndarray) -> int:
        n = _run_length(lines)
        return n + 1 if 0 < n < len(lines) and dim[n] else n

    def sides(lines: np.ndarray, dim: np.ndarray) -> tuple[float, float]:
        first, last = bar(lines, dim), bar(lines[::-1], dim[::-1])
        if first + last >= MAX_BARS * len(lines):
            return 0.0, 0.0
        return first / len(lines), last / len(lines)

    top, bottom = sides(rows, dim_rows)
    left, right = sides(cols, dim_cols)
    return Borders(top, bottom, left, right)


class BorderAnalyzer(ClipAnalyzer):
    name = "borders"
    version = "1"
    order = 20
    declares = (
        *(
            Signal(
                f"border_{side}",
                f"share of the frame's {'height' if side in ('top', 'bottom') else 'width'} "
                f"taken by a uniform bar at the {side} (letterbox, pillarbox)",
                unit="share of frame",
                better="lower",
                range=(0.0, 1.0),
            )
            for side in ("top", "bottom", "left", "right")
        ),
        Signal(
            "border_area",
            "share of the frame's area inside bars; the export crops them off",
            unit="share of frame",
            better="lower",
            range=(0.0, 1.0),
            gate=(None, 0.4),
        ),
    )

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        b = measure_borders(clip.rgb)
        return Measurement(
            scores={
                "border_top": b.top,
                "border_bottom": b.bottom,
                "border_left": b.left,
                "border_right": b.right,
                "border_area": b.area,
            },
            artifacts={"crop": b.box(clip.width, clip.height)},
        )
